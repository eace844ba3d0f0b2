/*-------------------------------------------------------------------------
 *
 * workload.c
 *	  What a task runs: validation of the workload JSON object that tasks
 *	  and spaces carry (issue 13).  This file walks the jsonb; every rule on
 *	  a key, a string or a number is in src/rules/workload_rules.c, which
 *	  lagbid-agent compiles too, so that both sides give the same verdict
 *	  (docs/0.3/work.md and docs/0.4/agent-input.md list the rules):
 *
 *	  {"command": ["argv0", "arg", ...],	1..64 strings of 1..4096 bytes
 *	   "env": {"NAME": "value"},			<= 64; NAME ^[A-Za-z_][A-Za-z0-9_]{0,127}$,
 *											not LD_*, MALLOC_* or another name the
 *											loader or libc reads; value <= 4096 bytes
 *	   "inputs": [{"path": P, "content_base64": B} or
 *				  {"path": P, "uri": U, "sha256": H}],	<= 64, paths unique
 *	   "timeout_s": 1..86400,				default 600
 *	   "output": "stdout" or a path P}		default "stdout"
 *
 *	  A path P is 1..255 bytes, relative, with no empty, "." or ".."
 *	  component, no backslash and no control character.  B is canonical
 *	  padded standard base64 (RFC 4648 sections 4 and 3.5: no whitespace,
 *	  the unused bits before "=" zero) of at most 1 MiB;
 *	  U is 1..2048 bytes starting file://, http:// or https://, without
 *	  spaces or control characters; H is 64 lower-case hex digits.  Unknown
 *	  keys are refused, JSON null included.  The whole workload, as
 *	  jsonb::text, is at most 4 MiB (LB007 beyond; everything else LB009
 *	  with a message naming the field).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "rules/workload_rules.h"

#define WL_MAX_BYTES		LAGBID_WL_MAX_BYTES

#define WL_HINT "docs/0.3/work.md describes the workload object and its caps."

/* refuse naming the field: "workload.inputs[2].path must be relative" */
static void
refuse(const char *field, const char *rule)
{
	lagbid_raise(LB_INVALID_WORKLOAD, NULL, WL_HINT, "workload%s %s", field, rule);
}

static const char *
type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "of another type";
	}
}

static void
refuse_type(const char *field, const char *wanted, JsonbValue *v)
{
	refuse(field, psprintf("must be %s, not %s", wanted, type_name(v)));
}

/* a string of 1..maxlen bytes with no NUL (workload_rules.c) */
static void
check_string(const char *field, JsonbValue *v, int maxlen, bool allow_empty)
{
	const char *rule;

	if (v->type != jbvString)
		refuse_type(field, "a string", v);
	rule = lagbid_wl_string_rule(v->val.string.val, v->val.string.len, maxlen, allow_empty);
	if (rule)
		refuse(field, rule);
}

/* the rules shared by input paths and the output path (workload_rules.c) */
static void
check_path(const char *field, JsonbValue *v)
{
	const char *rule;

	if (v->type != jbvString)
		refuse_type(field, "a string", v);
	rule = lagbid_wl_path_rule(v->val.string.val, v->val.string.len);
	if (rule)
		refuse(field, rule);
}

/* canonical padded standard base64 of at most 1 MiB (workload_rules.c) */
static void
check_base64(const char *field, JsonbValue *v)
{
	const char *rule;

	if (v->type != jbvString)
		refuse_type(field, "a string", v);
	rule = lagbid_wl_base64_rule(v->val.string.val, v->val.string.len, NULL);
	if (rule)
		refuse(field, rule);
}

static void
check_uri(const char *field, JsonbValue *v)
{
	const char *rule;

	if (v->type != jbvString)
		refuse_type(field, "a string", v);
	rule = lagbid_wl_uri_rule(v->val.string.val, v->val.string.len);
	if (rule)
		refuse(field, rule);
}

static void
check_sha256(const char *field, JsonbValue *v)
{
	const char *rule;

	if (v->type != jbvString)
		refuse_type(field, "a string", v);
	rule = lagbid_wl_sha256_rule(v->val.string.val, v->val.string.len);
	if (rule)
		refuse(field, rule);
}

/* a short, printable rendering of a key for messages */
static char *
key_text(JsonbValue *k)
{
	int			i;

	if (k->val.string.len > 64)
		return "(a long key)";
	for (i = 0; i < k->val.string.len; i++)
		if ((unsigned char) k->val.string.val[i] < 0x20 || k->val.string.val[i] == '"')
			return "(a key with control characters)";
	return pnstrdup(k->val.string.val, k->val.string.len);
}

static bool
key_is(JsonbValue *k, const char *name)
{
	return k->val.string.len == (int) strlen(name) &&
		memcmp(k->val.string.val, name, k->val.string.len) == 0;
}

static void
check_command(JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	int			n = 0;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		refuse_type(".command", "an array of strings", v);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (n >= LAGBID_WL_MAX_ARGS)
			refuse(".command", psprintf("must have at most %d items", LAGBID_WL_MAX_ARGS));
		check_string(psprintf(".command[%d]", n), &e, LAGBID_WL_MAX_ARG_BYTES, false);
		n++;
	}
	if (n == 0)
		refuse(".command", "must not be empty");
}

static void
check_env(JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	int			n = 0;
	char	   *name = NULL;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		refuse_type(".env", "an object of strings", v);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			const char *rule;

			if (++n > LAGBID_WL_MAX_ENV)
				refuse(".env", psprintf("must have at most %d entries", LAGBID_WL_MAX_ENV));
			name = key_text(&e);
			rule = lagbid_wl_env_name_rule(e.val.string.val, e.val.string.len);
			if (rule)
				refuse(psprintf(".env.\"%s\"", name), rule);
			continue;
		}
		if (tok == WJB_VALUE)
			check_string(psprintf(".env.%s", name), &e, LAGBID_WL_MAX_ENV_VALUE, true);
	}
}

/* one element of inputs: exactly {path, content_base64} or {path, uri, sha256} */
static char *
check_input(int idx, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	char	   *field = psprintf(".inputs[%d]", idx);
	JsonbValue	key;
	bool		has_path = false,
				has_content = false,
				has_uri = false,
				has_sha = false;
	char	   *path = NULL;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		refuse_type(field, "an object", v);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = e;
			if (!lagbid_wl_input_key_ok(key.val.string.val, key.val.string.len))
				refuse(field, psprintf("has an unknown key \"%s\" (path, content_base64, uri, sha256)",
									   key_text(&key)));
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (key_is(&key, "path"))
		{
			check_path(psprintf("%s.path", field), &e);
			path = pnstrdup(e.val.string.val, e.val.string.len);
			has_path = true;
		}
		else if (key_is(&key, "content_base64"))
		{
			check_base64(psprintf("%s.content_base64", field), &e);
			has_content = true;
		}
		else if (key_is(&key, "uri"))
		{
			check_uri(psprintf("%s.uri", field), &e);
			has_uri = true;
		}
		else
		{
			check_sha256(psprintf("%s.sha256", field), &e);
			has_sha = true;
		}
	}
	if (!has_path)
		refuse(field, "must have a path");
	if (has_content && (has_uri || has_sha))
		refuse(field, "must have either content_base64 or uri and sha256, not both");
	if (!has_content && !(has_uri && has_sha))
		refuse(field, has_uri ? "must have a sha256 with its uri"
			   : has_sha ? "must have a uri with its sha256"
			   : "must have content_base64, or uri and sha256");
	return path;
}

static void
check_inputs(JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	char	   *paths[LAGBID_WL_MAX_INPUTS];
	int			n = 0,
				i;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		refuse_type(".inputs", "an array of objects", v);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (n >= LAGBID_WL_MAX_INPUTS)
			refuse(".inputs", psprintf("must have at most %d items", LAGBID_WL_MAX_INPUTS));
		paths[n] = check_input(n, &e);
		for (i = 0; i < n; i++)
			if (strcmp(paths[i], paths[n]) == 0)
				refuse(psprintf(".inputs[%d].path", n),
					   psprintf("repeats the path of inputs[%d]", i));
		n++;
	}
}

/* compared as a double, as the agent's JSON library reads it (workload_rules.c) */
static void
check_timeout(JsonbValue *v)
{
	const char *rule;

	if (v->type != jbvNumeric)
		refuse_type(".timeout_s", "a whole number of seconds", v);
	rule = lagbid_wl_timeout_rule(DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
																	 NumericGetDatum(v->val.numeric))));
	if (rule)
		refuse(".timeout_s", rule);
}

static void
check_output(JsonbValue *v)
{
	if (v->type == jbvString && v->val.string.len == 6 &&
		memcmp(v->val.string.val, "stdout", 6) == 0)
		return;
	check_path(".output", v);
}

/* a number of the service object, as a double (workload_rules.c) */
static double
service_number(const char *field, JsonbValue *v, const char *wanted)
{
	if (v->type != jbvNumeric)
		refuse_type(field, wanted, v);
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(v->val.numeric)));
}

/*
 * The "service" object of a service workload (issue 21): port (required),
 * health_path, expected_status, startup_timeout_s; the rules are in
 * workload_rules.c, shared with the agent.
 */
static void
check_service(JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbValue	key;
	JsonbIteratorToken tok;
	bool		has_port = false;
	const char *rule = NULL;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		refuse_type(".service", "an object such as {\"port\": 8000}", v);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = e;
			if (!lagbid_wl_service_key_ok(key.val.string.val, key.val.string.len))
				lagbid_raise(LB_INVALID_WORKLOAD, NULL,
							 "The keys are port, health_path, expected_status and startup_timeout_s.",
							 "workload.service has an unknown key \"%s\"", key_text(&key));
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (key_is(&key, "port"))
		{
			rule = lagbid_wl_port_rule(service_number(".service.port", &e, "a port number"));
			if (rule)
				refuse(".service.port", rule);
			has_port = true;
		}
		else if (key_is(&key, "health_path"))
		{
			if (e.type != jbvString)
				refuse_type(".service.health_path", "a string", &e);
			rule = lagbid_wl_health_path_rule(e.val.string.val, e.val.string.len);
			if (rule)
				refuse(".service.health_path", rule);
		}
		else if (key_is(&key, "expected_status"))
		{
			rule = lagbid_wl_expected_status_rule(service_number(".service.expected_status", &e,
																 "an HTTP status"));
			if (rule)
				refuse(".service.expected_status", rule);
		}
		else
		{
			rule = lagbid_wl_startup_timeout_rule(service_number(".service.startup_timeout_s", &e,
																 "a whole number of seconds"));
			if (rule)
				refuse(".service.startup_timeout_s", rule);
		}
	}
	if (!has_port)
		refuse(".service.port", "is required");
}

/* market.h */
bool
lagbid_workload_is_service(Jsonb *jb)
{
	JsonbValue	k;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		return false;
	k.type = jbvString;
	k.val.string.val = "service";
	k.val.string.len = 7;
	return findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &k) != NULL;
}

/* market.h */
void
lagbid_check_workload(Jsonb *jb)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonbValue	key;
	bool		has_command = false;
	Size		size = VARSIZE(jb);

	/* the size first: nothing else is looked at in a huge value */
	if (size > (Size) WL_MAX_BYTES * 4 ||
		strlen(JsonbToCString(NULL, &jb->root, size)) > WL_MAX_BYTES)
		lagbid_raise(LB_INPUT_TOO_LARGE, NULL,
					 "Pass large inputs by uri and sha256 instead of content_base64.",
					 "workload is longer than the limit of %d bytes", WL_MAX_BYTES);
	if (!JB_ROOT_IS_OBJECT(jb))
		lagbid_raise(LB_INVALID_WORKLOAD, NULL, WL_HINT,
					 "workload must be a JSON object such as {\"command\": [\"echo\", \"hello\"]}");

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = v;
			if (!lagbid_wl_top_key_ok(key.val.string.val, key.val.string.len))
				lagbid_raise(LB_INVALID_WORKLOAD, NULL,
							 "The keys are command, env, inputs, timeout_s, output and (a service) service.",
							 "workload has an unknown key \"%s\"", key_text(&key));
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (key_is(&key, "command"))
		{
			check_command(&v);
			has_command = true;
		}
		else if (key_is(&key, "env"))
			check_env(&v);
		else if (key_is(&key, "inputs"))
			check_inputs(&v);
		else if (key_is(&key, "timeout_s"))
			check_timeout(&v);
		else if (key_is(&key, "service"))
			check_service(&v);
		else
			check_output(&v);
	}
	if (!has_command)
		refuse(".command", "is required");
}

/* market.h */
Jsonb *
lagbid_workload_arg(FunctionCallInfo fcinfo, int n)
{
	Jsonb	   *jb;

	if (PG_NARGS() <= n || PG_ARGISNULL(n))
		return NULL;
	jb = PG_GETARG_JSONB_P(n);
	lagbid_check_workload(jb);
	return jb;
}
