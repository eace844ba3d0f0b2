/*-------------------------------------------------------------------------
 *
 * workload_rules.c
 *	  Every rule of the workload contract that looks at one value, written
 *	  once and compiled into both the extension and lagbid-agent, so that
 *	  the market refuses at publish exactly what the agent refuses before
 *	  a bid (issue 19, defect 9).  Plain C: no PostgreSQL header, no libpq,
 *	  no allocation.  The callers walk their own JSON (jsonb, jansson) and
 *	  ask these predicates about keys, strings and numbers.
 *
 *-------------------------------------------------------------------------
 */
#include "workload_rules.h"
#include "env_names.h"

#include <math.h>
#include <string.h>
#include <strings.h>

static bool
key_in(const char *key, size_t len, const char *const *names)
{
	int			i;

	for (i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == len && memcmp(names[i], key, len) == 0)
			return true;
	return false;
}

bool
lagbid_wl_top_key_ok(const char *key, size_t len)
{
	static const char *const names[] = {"command", "env", "inputs", "timeout_s", "output",
	"service", NULL};

	return key_in(key, len, names);
}

bool
lagbid_wl_service_key_ok(const char *key, size_t len)
{
	static const char *const names[] = {"port", "health_path", "expected_status",
	"startup_timeout_s", NULL};

	return key_in(key, len, names);
}

static bool
whole_in(double v, double lo, double hi)
{
	return isfinite(v) && v == floor(v) && v >= lo && v <= hi;
}

const char *
lagbid_wl_port_rule(double port)
{
	return whole_in(port, 1, 65535) ? NULL : "must be a whole number from 1 to 65535";
}

const char *
lagbid_wl_health_path_rule(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || s[0] != '/')
		return "must start with \"/\"";
	if (len > LAGBID_WL_MAX_HEALTH_PATH)
		return "is longer than 256 bytes";
	for (i = 0; i < len; i++)
		if ((unsigned char) s[i] < 0x21 || (unsigned char) s[i] > 0x7e)
			return "must be printable ASCII without spaces";
	return NULL;
}

const char *
lagbid_wl_expected_status_rule(double status)
{
	return whole_in(status, 100, 599) ? NULL : "must be a whole number from 100 to 599";
}

const char *
lagbid_wl_startup_timeout_rule(double seconds)
{
	return whole_in(seconds, 1, LAGBID_WL_MAX_TIMEOUT) ? NULL :
		"must be a whole number from 1 to 86400";
}

bool
lagbid_wl_input_key_ok(const char *key, size_t len)
{
	static const char *const names[] = {"path", "content_base64", "uri", "sha256", NULL};

	return key_in(key, len, names);
}

const char *
lagbid_wl_string_rule(const char *s, size_t len, size_t max, bool allow_empty)
{
	if (len == 0 && !allow_empty)
		return "must not be empty";
	if (len > max)
		return max == 4096 ? "is longer than 4096 bytes" : "is longer than its cap";
	if (len > 0 && memchr(s, '\0', len) != NULL)
		return "must not contain NUL";
	return NULL;
}

/*
 * Names the dynamic loader or the C library reads from the environment of
 * any process: glibc's UNSECURE_ENVVARS (sysdeps/generic/unsecvars.h, the
 * list it drops for set-user-id programs), GLIBC_TUNABLES, GMON_OUT_PREFIX
 * (where a profiled program writes), and the LD_ and MALLOC_ families whole
 * (the same list as the sandbox helper's src/rules/env_names.c).  The agent starts bubblewrap on the host, so a
 * workload's variable must never be one of these whatever the sandbox
 * does with the environment.
 */
/*
 * The names that configure the dynamic loader or the C library: one list,
 * in env_names.c, which the sandbox checks again just before bubblewrap
 * starts.  A name longer than any variable name is refused by the name rule
 * before it gets here.
 */
bool
lagbid_wl_env_name_dangerous(const char *name, size_t len)
{
	char		buf[LAGBID_WL_MAX_ENV_NAME + 1];

	if (len > LAGBID_WL_MAX_ENV_NAME || memchr(name, '\0', len) != NULL)
		return true;
	memcpy(buf, name, len);
	buf[len] = '\0';
	return lagbid_env_name_dangerous(buf);
}

const char *
lagbid_wl_env_name_rule(const char *name, size_t len)
{
	size_t		i;

	if (len < 1 || len > LAGBID_WL_MAX_ENV_NAME)
		return "is not a variable name (a letter or _, then letters, digits or _, at most 128)";
	for (i = 0; i < len; i++)
	{
		char		c = name[i];
		bool		alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';

		if (!(alpha || (i > 0 && c >= '0' && c <= '9')))
			return "is not a variable name (a letter or _, then letters, digits or _, at most 128)";
	}
	if (lagbid_wl_env_name_dangerous(name, len))
		return "is refused: the dynamic loader or the C library reads it (LD_*, MALLOC_*, GCONV_PATH, LOCPATH and the like)";
	return NULL;
}

const char *
lagbid_wl_path_rule(const char *path, size_t len)
{
	size_t		i,
				start = 0;

	if (len == 0)
		return "must not be empty";
	if (len > LAGBID_WL_MAX_PATH)
		return "is longer than 255 bytes";
	if (path[0] == '/')
		return "must be relative";
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) path[i];

		if (c < 0x20 || c == 0x7f)
			return "must not contain control characters";
		if (c == '\\')
			return "must not contain a backslash";
	}
	for (i = 0; i <= len; i++)
	{
		if (i < len && path[i] != '/')
			continue;
		if (i == start)
			return "must not have an empty component";
		if ((i - start == 1 && path[start] == '.') ||
			(i - start == 2 && path[start] == '.' && path[start + 1] == '.'))
			return "must not have a \".\" or \"..\" component";
		start = i + 1;
	}
	return NULL;
}

static int
b64_value(unsigned char c)
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

const char *
lagbid_wl_base64_rule(const char *s, size_t len, size_t *decoded_len)
{
	size_t		pad = 0,
				i;

	if (decoded_len)
		*decoded_len = 0;
	if (len % 4 != 0)
		return "must be padded base64 (its length a multiple of 4)";
	if (len > 0 && s[len - 1] == '=')
		pad = (s[len - 2] == '=') ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (b64_value((unsigned char) s[i]) < 0)
			return "must be base64 (A-Z, a-z, 0-9, +, / and = padding only)";
	/* canonical: the bits that padding leaves over are zero (RFC 4648 3.5) */
	if (pad == 1 && (b64_value((unsigned char) s[len - 2]) & 0x3) != 0)
		return "must be canonical base64 (the unused bits before = are zero)";
	if (pad == 2 && (b64_value((unsigned char) s[len - 3]) & 0xf) != 0)
		return "must be canonical base64 (the unused bits before = are zero)";
	if (len / 4 * 3 - pad > LAGBID_WL_MAX_CONTENT)
		return "decodes to more than 1048576 bytes";
	if (decoded_len)
		*decoded_len = len / 4 * 3 - pad;
	return NULL;
}

long
lagbid_wl_base64_decode(const char *s, size_t len, unsigned char *out, size_t outcap)
{
	size_t		n,
				i,
				o = 0;

	if (lagbid_wl_base64_rule(s, len, &n) != NULL || n > outcap)
		return -1;
	for (i = 0; i < len; i += 4)
	{
		unsigned long v = 0;
		int			k;

		for (k = 0; k < 4; k++)
			v = (v << 6) | (unsigned long) (s[i + k] == '=' ? 0 : b64_value((unsigned char) s[i + k]));
		if (o < n)
			out[o++] = (unsigned char) (v >> 16);
		if (o < n)
			out[o++] = (unsigned char) (v >> 8);
		if (o < n)
			out[o++] = (unsigned char) v;
	}
	return (long) n;
}

const char *
lagbid_wl_uri_rule(const char *uri, size_t len)
{
	size_t		i;

	if (len == 0)
		return "must not be empty";
	if (len > LAGBID_WL_MAX_URI)
		return "is longer than 2048 bytes";
	if (!(len >= 7 && strncmp(uri, "file://", 7) == 0) &&
		!(len >= 7 && strncmp(uri, "http://", 7) == 0) &&
		!(len >= 8 && strncmp(uri, "https://", 8) == 0))
		return "must start with file://, http:// or https://";
	for (i = 0; i < len; i++)
		if ((unsigned char) uri[i] <= 0x20 || uri[i] == 0x7f)
			return "must not contain spaces or control characters";
	return NULL;
}

const char *
lagbid_wl_sha256_rule(const char *s, size_t len)
{
	size_t		i;

	if (len != 64)
		return "must be 64 lower-case hex digits";
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return "must be 64 lower-case hex digits";
	return NULL;
}

const char *
lagbid_wl_timeout_rule(double seconds)
{
	if (!isfinite(seconds) || seconds != floor(seconds) ||
		seconds < 1 || seconds > LAGBID_WL_MAX_TIMEOUT)
		return "must be a whole number from 1 to 86400";
	return NULL;
}
