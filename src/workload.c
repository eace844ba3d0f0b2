/*-------------------------------------------------------------------------
 *
 * workload.c
 *	  What a task runs: validation of the workload JSON object that tasks
 *	  and spaces carry (issue 13).  Providers' daemons re-validate with the
 *	  same rules before running anything, so the caps below are part of the
 *	  contract (docs/0.3/work.md lists them):
 *
 *	  {"command": ["argv0", "arg", ...],	1..64 strings of 1..4096 bytes
 *	   "env": {"NAME": "value"},			<= 64; NAME ^[A-Za-z_][A-Za-z0-9_]{0,127}$,
 *											value <= 4096 bytes
 *	   "inputs": [{"path": P, "content_base64": B} or
 *				  {"path": P, "uri": U, "sha256": H}],	<= 64, paths unique
 *	   "timeout_s": 1..86400,				default 600
 *	   "output": "stdout" or a path P}		default "stdout"
 *
 *	  A path P is 1..255 bytes, relative, with no empty, "." or ".."
 *	  component, no backslash and no control character.  B is padded
 *	  standard base64 (RFC 4648 section 4, no whitespace) of at most 1 MiB;
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

#define WL_MAX_BYTES		(4 * 1024 * 1024)
#define WL_MAX_ARGS			64
#define WL_MAX_ARG_BYTES	4096
#define WL_MAX_ENV			64
#define WL_MAX_ENV_NAME		128
#define WL_MAX_ENV_VALUE	4096
#define WL_MAX_INPUTS		64
#define WL_MAX_PATH			255
#define WL_MAX_CONTENT		(1024 * 1024)
#define WL_MAX_URI			2048
#define WL_MAX_TIMEOUT		86400

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

/* a string of 1..maxlen bytes with no NUL (jsonb never has one; belt and braces) */
static void
check_string(const char *field, JsonbValue *v, int maxlen, bool allow_empty)
{
	if (v->type != jbvString)
		refuse_type(field, "a string", v);
	if (v->val.string.len == 0 && !allow_empty)
		refuse(field, "must not be empty");
	if (v->val.string.len > maxlen)
		refuse(field, psprintf("is longer than %d bytes", maxlen));
	if (memchr(v->val.string.val, '\0', v->val.string.len) != NULL)
		refuse(field, "must not contain NUL");
}

/* the rules shared by input paths and the output path */
static void
check_path(const char *field, JsonbValue *v)
{
	const char *s;
	int			len,
				i,
				start = 0;

	check_string(field, v, WL_MAX_PATH, false);
	s = v->val.string.val;
	len = v->val.string.len;
	if (s[0] == '/')
		refuse(field, "must be relative");
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == 0x7f)
			refuse(field, "must not contain control characters");
		if (c == '\\')
			refuse(field, "must not contain a backslash");
	}
	for (i = 0; i <= len; i++)
	{
		if (i < len && s[i] != '/')
			continue;
		if (i == start)
			refuse(field, "must not have an empty component");
		if ((i - start == 1 && s[start] == '.') ||
			(i - start == 2 && s[start] == '.' && s[start + 1] == '.'))
			refuse(field, "must not have a \".\" or \"..\" component");
		start = i + 1;
	}
}

static bool
is_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* padded standard base64, no whitespace, decoding to at most 1 MiB */
static void
check_base64(const char *field, JsonbValue *v)
{
	const char *s;
	int			len,
				pad = 0,
				i;

	if (v->type != jbvString)
		refuse_type(field, "a string", v);
	s = v->val.string.val;
	len = v->val.string.len;
	if (len % 4 != 0)
		refuse(field, "must be padded base64 (its length a multiple of 4)");
	if (len > 0 && s[len - 1] == '=')
		pad = (len > 1 && s[len - 2] == '=') ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (!is_b64_char(s[i]))
			refuse(field, "must be base64 (A-Z, a-z, 0-9, +, / and = padding only)");
	if ((int64) len / 4 * 3 - pad > WL_MAX_CONTENT)
		refuse(field, psprintf("decodes to more than %d bytes", WL_MAX_CONTENT));
}

static void
check_uri(const char *field, JsonbValue *v)
{
	const char *s;
	int			len,
				i;

	check_string(field, v, WL_MAX_URI, false);
	s = v->val.string.val;
	len = v->val.string.len;
	if (!(len >= 7 && strncmp(s, "file://", 7) == 0) &&
		!(len >= 7 && strncmp(s, "http://", 7) == 0) &&
		!(len >= 8 && strncmp(s, "https://", 8) == 0))
		refuse(field, "must start with file://, http:// or https://");
	for (i = 0; i < len; i++)
		if ((unsigned char) s[i] <= 0x20 || s[i] == 0x7f)
			refuse(field, "must not contain spaces or control characters");
}

static void
check_sha256(const char *field, JsonbValue *v)
{
	int			i;

	if (v->type != jbvString)
		refuse_type(field, "a string", v);
	if (v->val.string.len != 64)
		refuse(field, "must be 64 lower-case hex digits");
	for (i = 0; i < 64; i++)
	{
		char		c = v->val.string.val[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			refuse(field, "must be 64 lower-case hex digits");
	}
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
		if (n >= WL_MAX_ARGS)
			refuse(".command", psprintf("must have at most %d items", WL_MAX_ARGS));
		check_string(psprintf(".command[%d]", n), &e, WL_MAX_ARG_BYTES, false);
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
			const char *s = e.val.string.val;
			int			len = e.val.string.len,
						i;
			bool		ok = len >= 1 && len <= WL_MAX_ENV_NAME &&
				(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'));

			if (++n > WL_MAX_ENV)
				refuse(".env", psprintf("must have at most %d entries", WL_MAX_ENV));
			for (i = 1; ok && i < len; i++)
				ok = s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') ||
					(s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
			name = key_text(&e);
			if (!ok)
				refuse(psprintf(".env.\"%s\"", name),
					   "is not a variable name (a letter or _, then letters, digits or _, at most 128)");
			continue;
		}
		if (tok == WJB_VALUE)
			check_string(psprintf(".env.%s", name), &e, WL_MAX_ENV_VALUE, true);
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
			if (!key_is(&key, "path") && !key_is(&key, "content_base64") &&
				!key_is(&key, "uri") && !key_is(&key, "sha256"))
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
	char	   *paths[WL_MAX_INPUTS];
	int			n = 0,
				i;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		refuse_type(".inputs", "an array of objects", v);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (n >= WL_MAX_INPUTS)
			refuse(".inputs", psprintf("must have at most %d items", WL_MAX_INPUTS));
		paths[n] = check_input(n, &e);
		for (i = 0; i < n; i++)
			if (strcmp(paths[i], paths[n]) == 0)
				refuse(psprintf(".inputs[%d].path", n),
					   psprintf("repeats the path of inputs[%d]", i));
		n++;
	}
}

static void
check_timeout(JsonbValue *v)
{
	Datum		d;
	Datum		truncated;

	if (v->type != jbvNumeric)
		refuse_type(".timeout_s", "a whole number of seconds", v);
	d = NumericGetDatum(v->val.numeric);
	truncated = DirectFunctionCall2(numeric_trunc, d, Int32GetDatum(0));
	if (!DatumGetBool(DirectFunctionCall2(numeric_eq, d, truncated)) ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, d,
										  DirectFunctionCall1(int4_numeric, Int32GetDatum(1)))) < 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, d,
										  DirectFunctionCall1(int4_numeric, Int32GetDatum(WL_MAX_TIMEOUT)))) > 0)
		refuse(".timeout_s", psprintf("must be a whole number from 1 to %d", WL_MAX_TIMEOUT));
}

static void
check_output(JsonbValue *v)
{
	if (v->type == jbvString && v->val.string.len == 6 &&
		memcmp(v->val.string.val, "stdout", 6) == 0)
		return;
	check_path(".output", v);
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
			if (!key_is(&key, "command") && !key_is(&key, "env") && !key_is(&key, "inputs") &&
				!key_is(&key, "timeout_s") && !key_is(&key, "output"))
				lagbid_raise(LB_INVALID_WORKLOAD, NULL,
							 "The keys are command, env, inputs, timeout_s and output.",
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
