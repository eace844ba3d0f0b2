/*-------------------------------------------------------------------------
 *
 * json.c
 *	  A small strict JSON reader for what the market sends the agent: task
 *	  terms, workloads, notification payloads.  Pure C (no libpq, no
 *	  PostgreSQL headers) so that it can be unit-tested and fuzzed.
 *
 * Everything from the network is hostile until proven otherwise: nesting
 * is bounded (JSON_MAX_DEPTH), input size is bounded (JSON_MAX_INPUT), and
 * every error returns NULL with a message instead of crashing.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Parser
{
	const char *s;
	size_t		len;
	size_t		pos;
	char	   *err;
	size_t		errlen;
	bool		failed;
} Parser;

static JsonValue *parse_value(Parser *p, int depth);

static void
fail(Parser *p, const char *what)
{
	if (!p->failed && p->err && p->errlen)
		snprintf(p->err, p->errlen, "invalid JSON at byte %zu: %s", p->pos, what);
	p->failed = true;
}

static void
skip_ws(Parser *p)
{
	while (p->pos < p->len &&
		   (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
			p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static void
put_utf8(char *out, size_t *n, unsigned cp)
{
	if (cp < 0x80)
		out[(*n)++] = (char) cp;
	else if (cp < 0x800)
	{
		out[(*n)++] = (char) (0xC0 | (cp >> 6));
		out[(*n)++] = (char) (0x80 | (cp & 0x3F));
	}
	else if (cp < 0x10000)
	{
		out[(*n)++] = (char) (0xE0 | (cp >> 12));
		out[(*n)++] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[(*n)++] = (char) (0x80 | (cp & 0x3F));
	}
	else
	{
		out[(*n)++] = (char) (0xF0 | (cp >> 18));
		out[(*n)++] = (char) (0x80 | ((cp >> 12) & 0x3F));
		out[(*n)++] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[(*n)++] = (char) (0x80 | (cp & 0x3F));
	}
}

static int
hex4(Parser *p, unsigned *out)
{
	unsigned	v = 0;

	if (p->len - p->pos < 4)
		return -1;
	for (int i = 0; i < 4; i++)
	{
		char		c = p->s[p->pos + i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	p->pos += 4;
	*out = v;
	return 0;
}

/* p->pos at the opening quote; returns a malloc'd decoded string */
static char *
parse_string(Parser *p, size_t *len_out)
{
	size_t		start = ++p->pos;
	size_t		end = start;
	char	   *out;
	size_t		n = 0;

	/* find the closing quote first: the decoded string is never longer */
	while (end < p->len && p->s[end] != '"')
	{
		if (p->s[end] == '\\')
			end++;
		end++;
	}
	if (end >= p->len)
	{
		fail(p, "unterminated string");
		return NULL;
	}
	out = xmalloc(end - start + 1);
	while (p->pos < end)
	{
		unsigned char c = (unsigned char) p->s[p->pos];

		if (c < 0x20)
		{
			fail(p, "control character in string");
			free(out);
			return NULL;
		}
		if (c != '\\')
		{
			out[n++] = (char) c;
			p->pos++;
			continue;
		}
		p->pos++;
		c = (unsigned char) p->s[p->pos++];
		switch (c)
		{
			case '"':
				out[n++] = '"';
				break;
			case '\\':
				out[n++] = '\\';
				break;
			case '/':
				out[n++] = '/';
				break;
			case 'b':
				out[n++] = '\b';
				break;
			case 'f':
				out[n++] = '\f';
				break;
			case 'n':
				out[n++] = '\n';
				break;
			case 'r':
				out[n++] = '\r';
				break;
			case 't':
				out[n++] = '\t';
				break;
			case 'u':
				{
					unsigned	cp,
								lo;

					if (hex4(p, &cp) != 0)
					{
						fail(p, "bad \\u escape");
						free(out);
						return NULL;
					}
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						if (p->pos + 2 > end || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
						{
							fail(p, "lone surrogate");
							free(out);
							return NULL;
						}
						p->pos += 2;
						if (hex4(p, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
						{
							fail(p, "bad surrogate pair");
							free(out);
							return NULL;
						}
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					}
					else if (cp >= 0xDC00 && cp <= 0xDFFF)
					{
						fail(p, "lone surrogate");
						free(out);
						return NULL;
					}
					/* \uXXXX is 6 bytes in, at most 4 out: always fits */
					put_utf8(out, &n, cp);
					break;
				}
			default:
				fail(p, "bad escape");
				free(out);
				return NULL;
		}
		if (p->pos > end)
		{
			fail(p, "bad escape");
			free(out);
			return NULL;
		}
	}
	p->pos = end + 1;
	out[n] = '\0';
	*len_out = n;
	return out;
}

static JsonValue *
new_value(JsonType t)
{
	JsonValue  *v = xcalloc(1, sizeof(JsonValue));

	v->type = t;
	return v;
}

static bool
push(JsonValue *v, size_t *cap, JsonValue *item, char *key, size_t keylen)
{
	if (v->count == *cap)
	{
		size_t		ncap = *cap ? *cap * 2 : 4;

		JsonValue **items = realloc(v->items, ncap * sizeof(JsonValue *));

		if (items == NULL)
			abort();			/* out of memory: as xmalloc does */
		v->items = items;
		if (v->type == JV_OBJECT)
		{
			char	  **keys = realloc(v->keys, ncap * sizeof(char *));
			size_t	   *lens;

			if (keys == NULL)
				abort();
			v->keys = keys;
			lens = realloc(v->key_lens, ncap * sizeof(size_t));
			if (lens == NULL)
				abort();
			v->key_lens = lens;
		}
		*cap = ncap;
	}
	v->items[v->count] = item;
	if (v->type == JV_OBJECT)
	{
		v->keys[v->count] = key;
		v->key_lens[v->count] = keylen;
	}
	v->count++;
	return true;
}

static JsonValue *
parse_number(Parser *p)
{
	size_t		start = p->pos;
	JsonValue  *v;

	if (p->pos < p->len && p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '0')
		p->pos++;
	else if (p->pos < p->len && p->s[p->pos] >= '1' && p->s[p->pos] <= '9')
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	else
	{
		fail(p, "bad number");
		return NULL;
	}
	if (p->pos < p->len && p->s[p->pos] == '.')
	{
		p->pos++;
		if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
		{
			fail(p, "bad number");
			return NULL;
		}
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E'))
	{
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
		{
			fail(p, "bad number");
			return NULL;
		}
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	}
	if (p->pos - start > 400)
	{
		fail(p, "number too long");
		return NULL;
	}
	v = new_value(JV_NUMBER);
	v->num_text = xstrndup(p->s + start, p->pos - start);
	v->number = strtod(v->num_text, NULL);
	return v;
}

static bool
literal(Parser *p, const char *word)
{
	size_t		n = strlen(word);

	if (p->len - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0)
	{
		p->pos += n;
		return true;
	}
	return false;
}

static JsonValue *
parse_value(Parser *p, int depth)
{
	JsonValue  *v;
	size_t		cap = 0;

	if (depth > JSON_MAX_DEPTH)
	{
		fail(p, "nested too deeply");
		return NULL;
	}
	skip_ws(p);
	if (p->pos >= p->len)
	{
		fail(p, "unexpected end");
		return NULL;
	}
	switch (p->s[p->pos])
	{
		case '{':
			v = new_value(JV_OBJECT);
			p->pos++;
			skip_ws(p);
			if (p->pos < p->len && p->s[p->pos] == '}')
			{
				p->pos++;
				return v;
			}
			for (;;)
			{
				char	   *key;
				size_t		keylen;
				JsonValue  *item;

				skip_ws(p);
				if (p->pos >= p->len || p->s[p->pos] != '"')
				{
					fail(p, "expected a member name");
					json_free(v);
					return NULL;
				}
				key = parse_string(p, &keylen);
				if (key == NULL)
				{
					json_free(v);
					return NULL;
				}
				skip_ws(p);
				if (p->pos >= p->len || p->s[p->pos] != ':')
				{
					fail(p, "expected ':'");
					free(key);
					json_free(v);
					return NULL;
				}
				p->pos++;
				item = parse_value(p, depth + 1);
				if (item == NULL)
				{
					free(key);
					json_free(v);
					return NULL;
				}
				push(v, &cap, item, key, keylen);
				skip_ws(p);
				if (p->pos < p->len && p->s[p->pos] == ',')
				{
					p->pos++;
					continue;
				}
				if (p->pos < p->len && p->s[p->pos] == '}')
				{
					p->pos++;
					return v;
				}
				fail(p, "expected ',' or '}'");
				json_free(v);
				return NULL;
			}
		case '[':
			v = new_value(JV_ARRAY);
			p->pos++;
			skip_ws(p);
			if (p->pos < p->len && p->s[p->pos] == ']')
			{
				p->pos++;
				return v;
			}
			for (;;)
			{
				JsonValue  *item = parse_value(p, depth + 1);

				if (item == NULL)
				{
					json_free(v);
					return NULL;
				}
				push(v, &cap, item, NULL, 0);
				skip_ws(p);
				if (p->pos < p->len && p->s[p->pos] == ',')
				{
					p->pos++;
					continue;
				}
				if (p->pos < p->len && p->s[p->pos] == ']')
				{
					p->pos++;
					return v;
				}
				fail(p, "expected ',' or ']'");
				json_free(v);
				return NULL;
			}
		case '"':
			{
				size_t		n;
				char	   *s = parse_string(p, &n);

				if (s == NULL)
					return NULL;
				v = new_value(JV_STRING);
				v->str = s;
				v->str_len = n;
				return v;
			}
		case 't':
			if (literal(p, "true"))
			{
				v = new_value(JV_BOOL);
				v->boolean = true;
				return v;
			}
			break;
		case 'f':
			if (literal(p, "false"))
				return new_value(JV_BOOL);
			break;
		case 'n':
			if (literal(p, "null"))
				return new_value(JV_NULL);
			break;
		default:
			if (p->s[p->pos] == '-' || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
				return parse_number(p);
			break;
	}
	fail(p, "unexpected character");
	return NULL;
}

JsonValue *
json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	Parser		p = {text, len, 0, err, errlen, false};
	JsonValue  *v;

	if (err && errlen)
		err[0] = '\0';
	if (text == NULL)
	{
		fail(&p, "no input");
		return NULL;
	}
	if (len > JSON_MAX_INPUT)
	{
		fail(&p, "input too large");
		return NULL;
	}
	v = parse_value(&p, 0);
	if (v == NULL)
		return NULL;
	skip_ws(&p);
	if (p.pos != p.len)
	{
		fail(&p, "trailing characters");
		json_free(v);
		return NULL;
	}
	return v;
}

void
json_free(JsonValue *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->count; i++)
	{
		json_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->key_lens);
	free(v->str);
	free(v->num_text);
	free(v);
}

/* the last member named key (as jsonb keeps the last duplicate) */
const JsonValue *
json_get(const JsonValue *obj, const char *key)
{
	size_t		klen = strlen(key);

	if (obj == NULL || obj->type != JV_OBJECT)
		return NULL;
	for (size_t i = obj->count; i-- > 0;)
		if (obj->key_lens[i] == klen && memcmp(obj->keys[i], key, klen) == 0)
			return obj->items[i];
	return NULL;
}

const char *
json_get_str(const JsonValue *obj, const char *key)
{
	const JsonValue *v = json_get(obj, key);

	return (v && v->type == JV_STRING) ? v->str : NULL;
}

bool
json_get_num(const JsonValue *obj, const char *key, double *out)
{
	const JsonValue *v = json_get(obj, key);

	if (v == NULL || v->type != JV_NUMBER || !isfinite(v->number))
		return false;
	*out = v->number;
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
