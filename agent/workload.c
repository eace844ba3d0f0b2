/*-------------------------------------------------------------------------
 *
 * workload.c
 *	  The workload contract (DESIGN.md, 0.3), checked again by the agent.
 *
 * The database validates a workload when it is published, but the agent
 * runs it on the provider's machine: it trusts nothing it did not check
 * itself.  Pure C, no libpq: the unit tests and the fuzzer (fuzz/) call
 * workload_parse() directly on hostile bytes.
 *
 *	{"command": ["argv0", ...],				1..64 strings of 1..4096 bytes
 *	 "env": {"NAME": "value"},				<= 64, NAME ^[A-Za-z_][A-Za-z0-9_]{0,127}$
 *	 "inputs": [{"path": "rel/name", "content_base64": "..."}
 *			  | {"path": ..., "uri": "file:///...|http(s)://...", "sha256": "<64 hex>"}],
 *	 "timeout_s": 1..86400 (600),
 *	 "output": "stdout" | "rel/path"}
 *
 * Unknown keys are an error, at every level.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR(...) do { snprintf(err, errlen, __VA_ARGS__); goto bad; } while (0)

static bool
has_nul(const JsonValue *s)
{
	return memchr(s->str, '\0', s->str_len) != NULL;
}

/*
 * A relative path for a file in the job's work directory: 1..255 bytes,
 * not absolute, no empty, "." or ".." component, no control characters.
 */
bool
workload_path_ok(const char *path, size_t len, char *why, size_t whylen)
{
	size_t		start = 0;

	if (path == NULL || len == 0)
	{
		snprintf(why, whylen, "empty path");
		return false;
	}
	if (len > WL_MAX_PATH)
	{
		snprintf(why, whylen, "path longer than %d bytes", WL_MAX_PATH);
		return false;
	}
	if (path[0] == '/')
	{
		snprintf(why, whylen, "absolute path");
		return false;
	}
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) path[i];

		if (c < 0x20 || c == 0x7f)
		{
			snprintf(why, whylen, "control character in path");
			return false;
		}
	}
	for (size_t i = 0; i <= len; i++)
	{
		if (i == len || path[i] == '/')
		{
			size_t		n = i - start;

			if (n == 0)
			{
				snprintf(why, whylen, "empty path component");
				return false;
			}
			if ((n == 1 && path[start] == '.') ||
				(n == 2 && path[start] == '.' && path[start + 1] == '.'))
			{
				snprintf(why, whylen, "\".\" or \"..\" in path");
				return false;
			}
			start = i + 1;
		}
	}
	return true;
}

bool
env_name_ok(const char *name, size_t len)
{
	if (len < 1 || len > 128)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		char		c = name[i];
		bool		alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';

		if (!(alpha || (i > 0 && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Standard base64 (RFC 4648, padding optional, whitespace ignored as
 * PostgreSQL's encode() inserts newlines).  Returns the decoded length, or
 * -1 when malformed or over outcap.
 */
long
base64_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
	unsigned	acc = 0;
	int			bits = 0;
	size_t		n = 0;
	int			pad = 0;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) in[i];
		int			v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=')
		{
			pad++;
			continue;
		}
		if (pad)
			return -1;			/* data after padding */
		v = b64val(c);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			if (n >= outcap)
				return -1;
			out[n++] = (unsigned char) (acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (pad > 2 || bits >= 6 || (acc != 0))
		return -1;
	return (long) n;
}

static bool
is_hex64(const JsonValue *v)
{
	if (v == NULL || v->type != JV_STRING || v->str_len != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
	{
		char		c = v->str[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static int
parse_input(const JsonValue *o, WorkloadInput *in, int idx, char *err, size_t errlen)
{
	const JsonValue *path,
			   *content,
			   *uri,
			   *sha;
	char		why[128];

	if (o->type != JV_OBJECT)
		ERR("inputs[%d] is not an object", idx);
	for (size_t i = 0; i < o->count; i++)
	{
		const char *k = o->keys[i];

		if (strlen(k) != o->key_lens[i] ||
			(strcmp(k, "path") != 0 && strcmp(k, "content_base64") != 0 &&
			 strcmp(k, "uri") != 0 && strcmp(k, "sha256") != 0))
			ERR("inputs[%d] has an unknown key", idx);
	}
	path = json_get(o, "path");
	content = json_get(o, "content_base64");
	uri = json_get(o, "uri");
	sha = json_get(o, "sha256");
	if (path == NULL || path->type != JV_STRING)
		ERR("inputs[%d] needs a path string", idx);
	if (!workload_path_ok(path->str, path->str_len, why, sizeof(why)) || has_nul(path))
		ERR("inputs[%d] path is not allowed: %s", idx, has_nul(path) ? "NUL byte" : why);
	in->path = xstrndup(path->str, path->str_len);
	if (content != NULL)
	{
		long		n;

		if (uri != NULL || sha != NULL)
			ERR("inputs[%d] has both content_base64 and uri", idx);
		if (content->type != JV_STRING)
			ERR("inputs[%d] content_base64 is not a string", idx);
		if (content->str_len > (size_t) WL_MAX_INPUT_BYTES * 2)
			ERR("inputs[%d] content is over %d bytes", idx, WL_MAX_INPUT_BYTES);
		in->content = xmalloc(content->str_len / 4 * 3 + 3);
		n = base64_decode(content->str, content->str_len, in->content,
						  content->str_len / 4 * 3 + 3);
		if (n < 0)
			ERR("inputs[%d] content_base64 is not valid base64", idx);
		if (n > WL_MAX_INPUT_BYTES)
			ERR("inputs[%d] content is over %d bytes", idx, WL_MAX_INPUT_BYTES);
		in->content_len = (size_t) n;
	}
	else if (uri != NULL)
	{
		if (uri->type != JV_STRING || uri->str_len == 0 || uri->str_len > 4096 || has_nul(uri))
			ERR("inputs[%d] uri is not a valid string", idx);
		if (strncmp(uri->str, "file:///", 8) != 0 && strncmp(uri->str, "http://", 7) != 0 &&
			strncmp(uri->str, "https://", 8) != 0)
			ERR("inputs[%d] uri scheme is not file, http or https", idx);
		for (size_t i = 0; i < uri->str_len; i++)
			if ((unsigned char) uri->str[i] < 0x20 || uri->str[i] == 0x7f)
				ERR("inputs[%d] uri has a control character", idx);
		if (!is_hex64(sha))
			ERR("inputs[%d] with a uri needs sha256 as 64 hex digits", idx);
		in->uri = xstrndup(uri->str, uri->str_len);
		for (int i = 0; i < 64; i++)
		{
			char		c = sha->str[i];

			in->sha256[i] = (c >= 'A' && c <= 'F') ? (char) (c - 'A' + 'a') : c;
		}
		in->sha256[64] = '\0';
	}
	else
		ERR("inputs[%d] needs content_base64 or uri", idx);
	return 0;
bad:
	return -1;
}

int
workload_parse(const char *json, size_t len, Workload *wl, char *err, size_t errlen)
{
	JsonValue  *root;
	int			rc;

	root = json_parse(json, len, err, errlen);
	if (root == NULL)
	{
		memset(wl, 0, sizeof(*wl));
		return -1;
	}
	rc = workload_from_value(root, wl, err, errlen);
	json_free(root);
	return rc;
}

/* the same, from a parsed value (a NOTIFY payload's "workload" member) */
int
workload_from_value(const JsonValue *root, Workload *wl, char *err, size_t errlen)
{
	const JsonValue *cmd,
			   *env,
			   *inputs,
			   *timeout,
			   *output;
	char		why[128];

	memset(wl, 0, sizeof(*wl));
	wl->timeout_s = WL_DEFAULT_TIMEOUT;
	if (root == NULL || root->type != JV_OBJECT)
		ERR("workload is not a JSON object");
	for (size_t i = 0; i < root->count; i++)
	{
		const char *k = root->keys[i];

		if (strlen(k) != root->key_lens[i] ||
			(strcmp(k, "command") != 0 && strcmp(k, "env") != 0 &&
			 strcmp(k, "inputs") != 0 && strcmp(k, "timeout_s") != 0 &&
			 strcmp(k, "output") != 0))
			ERR("workload has an unknown key");
	}

	cmd = json_get(root, "command");
	if (cmd == NULL || cmd->type != JV_ARRAY)
		ERR("workload needs a command array");
	if (cmd->count < 1 || cmd->count > WL_MAX_ARGS)
		ERR("command must have 1 to %d elements", WL_MAX_ARGS);
	wl->argv = xcalloc(cmd->count + 1, sizeof(char *));
	for (size_t i = 0; i < cmd->count; i++)
	{
		const JsonValue *a = cmd->items[i];

		if (a->type != JV_STRING)
			ERR("command[%zu] is not a string", i);
		if (a->str_len < 1 || a->str_len > WL_MAX_ARG_LEN)
			ERR("command[%zu] must be 1 to %d bytes", i, WL_MAX_ARG_LEN);
		if (has_nul(a))
			ERR("command[%zu] holds a NUL byte", i);
		wl->argv[i] = xstrndup(a->str, a->str_len);
		wl->argc++;
	}

	env = json_get(root, "env");
	if (env != NULL)
	{
		if (env->type != JV_OBJECT)
			ERR("env is not an object");
		if (env->count > WL_MAX_ENV)
			ERR("env has more than %d variables", WL_MAX_ENV);
		wl->env_names = xcalloc(env->count + 1, sizeof(char *));
		wl->env_values = xcalloc(env->count + 1, sizeof(char *));
		for (size_t i = 0; i < env->count; i++)
		{
			const JsonValue *v = env->items[i];

			if (!env_name_ok(env->keys[i], env->key_lens[i]))
				ERR("env has an invalid variable name");
			if (v->type != JV_STRING || v->str_len > WL_MAX_ENV_VALUE || has_nul(v))
				ERR("env value of %s must be a string of at most %d bytes",
					env->keys[i], WL_MAX_ENV_VALUE);
			wl->env_names[i] = xstrndup(env->keys[i], env->key_lens[i]);
			wl->env_values[i] = xstrndup(v->str, v->str_len);
			wl->nenv++;
		}
	}

	inputs = json_get(root, "inputs");
	if (inputs != NULL)
	{
		if (inputs->type != JV_ARRAY)
			ERR("inputs is not an array");
		if (inputs->count > WL_MAX_INPUTS)
			ERR("more than %d inputs", WL_MAX_INPUTS);
		wl->inputs = xcalloc(inputs->count + 1, sizeof(WorkloadInput));
		for (size_t i = 0; i < inputs->count; i++)
		{
			wl->ninputs++;
			if (parse_input(inputs->items[i], &wl->inputs[i], (int) i, err, errlen) != 0)
				goto bad;
			for (size_t j = 0; j < i; j++)
				if (strcmp(wl->inputs[j].path, wl->inputs[i].path) == 0)
					ERR("inputs[%zu] repeats path \"%s\"", i, wl->inputs[i].path);
		}
	}

	timeout = json_get(root, "timeout_s");
	if (timeout != NULL)
	{
		if (timeout->type != JV_NUMBER || !isfinite(timeout->number) ||
			timeout->number != floor(timeout->number) ||
			timeout->number < 1 || timeout->number > WL_MAX_TIMEOUT)
			ERR("timeout_s must be an integer from 1 to %d", WL_MAX_TIMEOUT);
		wl->timeout_s = (int) timeout->number;
	}

	output = json_get(root, "output");
	if (output != NULL)
	{
		if (output->type != JV_STRING || has_nul(output))
			ERR("output is not a string");
		if (strcmp(output->str, "stdout") != 0)
		{
			if (!workload_path_ok(output->str, output->str_len, why, sizeof(why)))
				ERR("output path is not allowed: %s", why);
			wl->output = xstrndup(output->str, output->str_len);
		}
	}
	return 0;
bad:
	workload_free(wl);
	return -1;
}

void
workload_free(Workload *wl)
{
	if (wl->argv)
		for (int i = 0; i < wl->argc; i++)
			free(wl->argv[i]);
	free(wl->argv);
	for (int i = 0; i < wl->nenv; i++)
	{
		free(wl->env_names[i]);
		free(wl->env_values[i]);
	}
	free(wl->env_names);
	free(wl->env_values);
	for (int i = 0; i < wl->ninputs; i++)
	{
		free(wl->inputs[i].path);
		free(wl->inputs[i].content);
		free(wl->inputs[i].uri);
	}
	free(wl->inputs);
	free(wl->output);
	memset(wl, 0, sizeof(*wl));
	wl->timeout_s = WL_DEFAULT_TIMEOUT;
}
