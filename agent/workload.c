/*-------------------------------------------------------------------------
 *
 * workload.c
 *	  The workload contract (DESIGN.md, 0.3), checked again by the agent
 *	  before every bid and before every run.
 *
 * The database validates a workload when it is published, but the agent
 * runs it on the provider's machine: it trusts nothing it did not check
 * itself.  The rules are not written here: every rule on a key, a string
 * or a number is src/rules/workload_rules.c, compiled into the extension
 * too, so that both sides give the same verdict on the same bytes (the
 * corpus in test/vectors/workloads.txt is run through both).  This file
 * walks the jansson value and builds the Workload the sandbox runs.
 * Pure C, no libpq: the unit tests and the fuzzer (fuzz/) call
 * workload_parse() directly on hostile bytes.
 *
 *	{"command": ["argv0", ...],				1..64 strings of 1..4096 bytes
 *	 "env": {"NAME": "value"},				<= 64, a name the loader does not read
 *	 "inputs": [{"path": "rel/name", "content_base64": "..."}
 *			  | {"path": ..., "uri": "file://...|http(s)://...", "sha256": "<64 hex>"}],
 *	 "timeout_s": 1..86400 (600),
 *	 "output": "stdout" | "rel/path"}
 *
 * Unknown keys are an error, at every level.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR(...) do { snprintf(err, errlen, __VA_ARGS__); goto bad; } while (0)

/* agent.h: the shared path rule, with the reason */
bool
workload_path_ok(const char *path, size_t len, char *why, size_t whylen)
{
	const char *rule = path ? lagbid_wl_path_rule(path, len) : "must not be empty";

	if (rule && why && whylen)
		snprintf(why, whylen, "%s", rule);
	return rule == NULL;
}

static int
parse_input(const json_t *o, WorkloadInput *in, int idx, char *err, size_t errlen)
{
	const json_t *path,
			   *content,
			   *uri,
			   *sha;
	const char *k;
	json_t	   *val;
	const char *rule;

	if (!json_is_object(o))
		ERR("inputs[%d] is not an object", idx);
	json_object_foreach((json_t *) o, k, val)
	{
		if (!lagbid_wl_input_key_ok(k, strlen(k)))
			ERR("inputs[%d] has an unknown key (path, content_base64, uri, sha256)", idx);
	}
	path = json_object_get(o, "path");
	content = json_object_get(o, "content_base64");
	uri = json_object_get(o, "uri");
	sha = json_object_get(o, "sha256");
	if (!json_is_string(path))
		ERR("inputs[%d] needs a path string", idx);
	if ((rule = lagbid_wl_path_rule(json_string_value(path), json_string_length(path))) != NULL)
		ERR("inputs[%d].path %s", idx, rule);
	in->path = xstrndup(json_string_value(path), json_string_length(path));
	/* each member is checked before the combination, as the market does */
	if (content && !json_is_string(content))
		ERR("inputs[%d].content_base64 is not a string", idx);
	if (content &&
		(rule = lagbid_wl_base64_rule(json_string_value(content), json_string_length(content), NULL)) != NULL)
		ERR("inputs[%d].content_base64 %s", idx, rule);
	if (uri && !json_is_string(uri))
		ERR("inputs[%d].uri is not a string", idx);
	if (uri && (rule = lagbid_wl_uri_rule(json_string_value(uri), json_string_length(uri))) != NULL)
		ERR("inputs[%d].uri %s", idx, rule);
	if (sha && !json_is_string(sha))
		ERR("inputs[%d].sha256 is not a string", idx);
	if (sha && (rule = lagbid_wl_sha256_rule(json_string_value(sha), json_string_length(sha))) != NULL)
		ERR("inputs[%d].sha256 %s", idx, rule);
	if (content && (uri || sha))
		ERR("inputs[%d] has both content_base64 and uri", idx);
	if (content)
	{
		size_t		n;
		long		got;

		lagbid_wl_base64_rule(json_string_value(content), json_string_length(content), &n);
		in->content = xmalloc(n + 1);
		got = lagbid_wl_base64_decode(json_string_value(content), json_string_length(content),
									  in->content, n);
		if (got < 0 || (size_t) got != n)
			ERR("inputs[%d].content_base64 is not valid base64", idx);
		in->content_len = n;
	}
	else if (uri && sha)
	{
		in->uri = xstrndup(json_string_value(uri), json_string_length(uri));
		memcpy(in->sha256, json_string_value(sha), 64);
		in->sha256[64] = '\0';
	}
	else if (uri)
		ERR("inputs[%d] with a uri needs its sha256", idx);
	else if (sha)
		ERR("inputs[%d] with a sha256 needs its uri", idx);
	else
		ERR("inputs[%d] needs content_base64 or uri", idx);
	return 0;
bad:
	return -1;
}

int
workload_parse(const char *json, size_t len, Workload *wl, char *err, size_t errlen)
{
	json_t	   *root;
	int			rc;

	memset(wl, 0, sizeof(*wl));
	wl->timeout_s = WL_DEFAULT_TIMEOUT;
	/* the market's cap on workload::text; a document over it is refused unread */
	root = json_read(json, len, LAGBID_WL_MAX_BYTES, err, errlen);
	if (root == NULL)
		return -1;
	rc = workload_from_value(root, wl, err, errlen);
	json_decref(root);
	return rc;
}

/* the same, from a parsed value */
int
workload_from_value(const json_t *root, Workload *wl, char *err, size_t errlen)
{
	const json_t *cmd,
			   *env,
			   *inputs,
			   *timeout,
			   *output;
	const char *k;
	json_t	   *val;
	const char *rule;
	size_t		i;

	memset(wl, 0, sizeof(*wl));
	wl->timeout_s = WL_DEFAULT_TIMEOUT;
	if (!json_is_object(root))
		ERR("workload is not a JSON object");
	json_object_foreach((json_t *) root, k, val)
	{
		if (!lagbid_wl_top_key_ok(k, strlen(k)))
			ERR("workload has an unknown key (command, env, inputs, timeout_s, output)");
	}

	cmd = json_object_get(root, "command");
	if (!json_is_array(cmd))
		ERR("workload needs a command array");
	if (json_array_size(cmd) < 1 || json_array_size(cmd) > WL_MAX_ARGS)
		ERR("command must have 1 to %d elements", WL_MAX_ARGS);
	wl->argv = xcalloc(json_array_size(cmd) + 1, sizeof(char *));
	for (i = 0; i < json_array_size(cmd); i++)
	{
		const json_t *a = json_array_get(cmd, i);

		if (!json_is_string(a))
			ERR("command[%zu] is not a string", i);
		if ((rule = lagbid_wl_string_rule(json_string_value(a), json_string_length(a),
										  LAGBID_WL_MAX_ARG_BYTES, false)) != NULL)
			ERR("command[%zu] %s", i, rule);
		wl->argv[i] = xstrndup(json_string_value(a), json_string_length(a));
		wl->argc++;
	}

	env = json_object_get(root, "env");
	if (env != NULL)
	{
		if (!json_is_object(env))
			ERR("env is not an object");
		if (json_object_size(env) > WL_MAX_ENV)
			ERR("env has more than %d variables", WL_MAX_ENV);
		wl->env_names = xcalloc(json_object_size(env) + 1, sizeof(char *));
		wl->env_values = xcalloc(json_object_size(env) + 1, sizeof(char *));
		json_object_foreach((json_t *) env, k, val)
		{
			if ((rule = lagbid_wl_env_name_rule(k, strlen(k))) != NULL)
			{
				char		name[40];

				json_escape(k, name, sizeof(name));
				ERR("env %s %s", name, rule);
			}
			if (!json_is_string(val) ||
				lagbid_wl_string_rule(json_string_value(val), json_string_length(val),
									  LAGBID_WL_MAX_ENV_VALUE, true) != NULL)
				ERR("env value of %s must be a string of at most %d bytes", k, WL_MAX_ENV_VALUE);
			wl->env_names[wl->nenv] = xstrdup(k);
			wl->env_values[wl->nenv] = xstrndup(json_string_value(val), json_string_length(val));
			wl->nenv++;
		}
	}

	inputs = json_object_get(root, "inputs");
	if (inputs != NULL)
	{
		if (!json_is_array(inputs))
			ERR("inputs is not an array");
		if (json_array_size(inputs) > WL_MAX_INPUTS)
			ERR("more than %d inputs", WL_MAX_INPUTS);
		wl->inputs = xcalloc(json_array_size(inputs) + 1, sizeof(WorkloadInput));
		for (i = 0; i < json_array_size(inputs); i++)
		{
			wl->ninputs++;
			if (parse_input(json_array_get(inputs, i), &wl->inputs[i], (int) i, err, errlen) != 0)
				goto bad;
			for (size_t j = 0; j < i; j++)
				if (strcmp(wl->inputs[j].path, wl->inputs[i].path) == 0)
					ERR("inputs[%zu] repeats path \"%s\"", i, wl->inputs[i].path);
		}
	}

	timeout = json_object_get(root, "timeout_s");
	if (timeout != NULL)
	{
		if (!json_is_number(timeout) ||
			lagbid_wl_timeout_rule(json_number_value(timeout)) != NULL)
			ERR("timeout_s must be a whole number from 1 to %d", WL_MAX_TIMEOUT);
		wl->timeout_s = (int) json_number_value(timeout);
	}

	output = json_object_get(root, "output");
	if (output != NULL)
	{
		if (!json_is_string(output))
			ERR("output is not a string");
		if (strcmp(json_string_value(output), "stdout") != 0 ||
			json_string_length(output) != 6)
		{
			if ((rule = lagbid_wl_path_rule(json_string_value(output), json_string_length(output))) != NULL)
				ERR("output path %s", rule);
			wl->output = xstrndup(json_string_value(output), json_string_length(output));
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

/* the workload has a "service" object: a lease's app, not a batch job */
bool
workload_is_service(const char *json, size_t len)
{
	char		err[64];
	json_t	   *v = json_read(json, len, LAGBID_WL_MAX_BYTES, err, sizeof(err));
	bool		is = v && json_is_object(v) && json_is_object(json_object_get(v, "service"));

	json_decref(v);
	return is;
}
