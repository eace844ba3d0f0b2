/*-------------------------------------------------------------------------
 *
 * json_io.c
 *	  JSON in and out for lagbid-agent.  In: jansson (Debian's libjansson,
 *	  a parser kept by others and fuzzed upstream) with the agent's bounds:
 *	  a size cap checked before parsing, nesting bounded by jansson's own
 *	  JSON_PARSER_MAX_DEPTH, \u0000 refused (as jsonb refuses it), the last
 *	  duplicate member winning (as in jsonb).  Out: one string literal for
 *	  a log line, escaping quotes, backslashes and control bytes and
 *	  passing every other byte through (log text may not be UTF-8, which a
 *	  JSON encoder would refuse).
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <stdio.h>
#include <string.h>

json_t *
json_read(const char *text, size_t len, size_t max, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t	   *v;

	if (text == NULL)
	{
		if (err && errlen)
			snprintf(err, errlen, "invalid JSON: no document");
		return NULL;
	}
	if (len > max)
	{
		if (err && errlen)
			snprintf(err, errlen, "invalid JSON: %zu bytes, over the limit of %zu", len, max);
		return NULL;
	}
	v = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	if (v == NULL && err && errlen)
		snprintf(err, errlen, "invalid JSON at byte %d: %s", jerr.position, jerr.text);
	return v;
}

const char *
json_member_str(const json_t *obj, const char *key)
{
	json_t	   *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

bool
json_member_num(const json_t *obj, const char *key, double *out)
{
	json_t	   *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (!json_is_number(v))
		return false;
	*out = json_number_value(v);
	return true;
}

void
json_escape(const char *s, char *buf, size_t cap)
{
	size_t		n = 0;

	if (cap < 3)
	{
		if (cap)
			buf[0] = '\0';
		return;
	}
	buf[n++] = '"';
	for (; s && *s && n + 8 < cap; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
		{
			buf[n++] = '\\';
			buf[n++] = (char) c;
		}
		else if (c < 0x20)
			n += snprintf(buf + n, cap - n, "\\u%04x", c);
		else
			buf[n++] = (char) c;
	}
	buf[n++] = '"';
	buf[n] = '\0';
}
