/*-------------------------------------------------------------------------
 *
 * rows.c
 *	  The market's answers, read as untrusted input (issue 19, defect 10).
 *
 * A market database may be hostile or broken: any column may be NULL, of
 * the wrong type, huge, or a number that is not one; rows may repeat and
 * there may be thousands of them.  Nothing here copies a value into a
 * fixed buffer without checking that it fits, and a row that does not
 * read cleanly is refused whole (the caller logs and skips it).  Result
 * sets are abstracted (Rows) so that the unit tests and the libFuzzer
 * target (fuzz/fuzz_rows.c) feed these functions from bytes, with no
 * libpq; market.c wraps a PGresult in the same interface.
 *
 * Also the push payload on lagbid_tasks, which any login can send: only
 * {"task_id": N} or {"task_ids": [N, ...]} is read, and only the ids; the
 * terms are read back from the market (market.c).
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
rows_raw(const Rows *r, int row, int col, size_t *len)
{
	const char *v = NULL;
	int			l;

	if (len)
		*len = 0;
	if (r == NULL || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
		return NULL;
	l = r->get(r->ctx, row, col, &v);
	if (l < 0 || v == NULL)
		return NULL;
	if (len)
		*len = (size_t) l;
	return v;
}

/* a positive bigint written as plain decimal digits, nothing else */
bool
parse_id(const char *s, size_t len, long long *out)
{
	unsigned long long v = 0;

	if (s == NULL || len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long long) (s[i] - '0');
	}
	if (v == 0 || v > 9223372036854775807ULL)
		return false;
	*out = (long long) v;
	return true;
}

bool
rows_id(const Rows *r, int row, int col, long long *out)
{
	size_t		len;
	const char *v = rows_raw(r, row, col, &len);

	return parse_id(v, len, out);
}

/* a finite number, the whole value (no trailing garbage) */
bool
rows_num(const Rows *r, int row, int col, double *out)
{
	size_t		len;
	const char *v = rows_raw(r, row, col, &len);
	char		buf[64];
	char	   *end;
	double		d;

	if (v == NULL || len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, v, len);
	buf[len] = '\0';
	errno = 0;
	d = strtod(buf, &end);
	if (errno != 0 || end != buf + len || !isfinite(d))
		return false;
	*out = d;
	return true;
}

/* text that fits in cap with its NUL, with no NUL or control byte */
bool
rows_text(const Rows *r, int row, int col, char *dst, size_t cap)
{
	size_t		len;
	const char *v = rows_raw(r, row, col, &len);

	if (cap == 0)
		return false;
	dst[0] = '\0';
	if (v == NULL || len >= cap)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) v[i] < 0x20 || v[i] == 0x7f)
			return false;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return true;
}

/* for log lines only: at most cap-1 bytes, control bytes shown as '?', NULL as "-" */
void
rows_printable(const Rows *r, int row, int col, char *dst, size_t cap)
{
	size_t		len;
	const char *v = rows_raw(r, row, col, &len);
	size_t		n = 0;

	if (cap == 0)
		return;
	if (v == NULL)
	{
		v = "-";
		len = 1;
	}
	for (size_t i = 0; i < len && n + 1 < cap; i++)
		dst[n++] = ((unsigned char) v[i] < 0x20 || v[i] == 0x7f) ? '?' : v[i];
	dst[n] = '\0';
}

/* a price as the market writes numeric: digits with at most one point */
static bool
price_text_ok(const char *s)
{
	int			points = 0,
				digits = 0;

	for (; *s; s++)
	{
		if (*s == '.')
			points++;
		else if (*s >= '0' && *s <= '9')
			digits++;
		else
			return false;
	}
	return digits > 0 && points <= 1;
}

static bool
hex64_ok(const char *s)
{
	return lagbid_wl_sha256_rule(s, strlen(s)) == NULL;
}

#define BAD(...) do { snprintf(why, whylen, __VA_ARGS__); return false; } while (0)

/*
 * One row of the discovery query (market.c, DISCOVERY_COLUMNS):
 * task_id, resources, region, price_min, price_max, duration_hours, owner,
 * workload_bytes, workload_sha256.
 */
bool
terms_from_row(const Rows *r, int row, TaskTerms *t, char *why, size_t whylen)
{
	size_t		len;
	const char *res;
	double		d;
	bool		bytes_null,
				sha_null;

	memset(t, 0, sizeof(*t));
	t->workload_bytes = -1;
	if (r->ncols != DISCOVERY_NCOLS)
		BAD("the market answered %d columns, not %d", r->ncols, DISCOVERY_NCOLS);
	if (!rows_id(r, row, 0, &t->task_id))
		BAD("task_id is not a positive bigint");
	res = rows_raw(r, row, 1, &len);
	if (res != NULL && len > 64 * 1024)
		BAD("resources are over 64 kB");
	terms_from_resources(t, res, res ? len : 0);
	if (rows_raw(r, row, 2, NULL) != NULL &&
		!rows_text(r, row, 2, t->region, sizeof(t->region)))
		BAD("region is not a short printable text");
	if (!rows_text(r, row, 3, t->price_min_text, sizeof(t->price_min_text)) ||
		!price_text_ok(t->price_min_text) ||
		!rows_text(r, row, 4, t->price_max_text, sizeof(t->price_max_text)) ||
		!price_text_ok(t->price_max_text))
		BAD("price_min or price_max is not a decimal number");
	t->price_min = strtod(t->price_min_text, NULL);
	t->price_max = strtod(t->price_max_text, NULL);
	if (!isfinite(t->price_min) || !isfinite(t->price_max) || t->price_min > t->price_max)
		BAD("the price range is not a range");
	if (!rows_num(r, row, 5, &d) || d < 0 || d > 1e6)
		BAD("duration_hours is not a number of hours");
	t->duration_hours = d;
	if (!rows_text(r, row, 6, t->owner, sizeof(t->owner)) || t->owner[0] == '\0')
		BAD("owner is not a short printable text");
	bytes_null = rows_raw(r, row, 7, NULL) == NULL;
	sha_null = rows_raw(r, row, 8, NULL) == NULL;
	if (bytes_null && sha_null)
		t->workload_null = true;
	else
	{
		long long	b;

		if (bytes_null || sha_null || !rows_id(r, row, 7, &b) || b > 0x7fffffff)
			BAD("workload_bytes is not a size");
		t->workload_bytes = b;
		if (!rows_text(r, row, 8, t->workload_sha256, sizeof(t->workload_sha256)) ||
			!hex64_ok(t->workload_sha256))
			BAD("workload_sha256 is not 64 lower-case hex digits");
	}
	return true;
}

/*
 * One row of the reconcile query (market.c, JOB_COLUMNS): job_id, task_id,
 * workload_bytes, workload_sha256, resources, seconds left.
 */
bool
job_from_row(const Rows *r, int row, JobRow *j, char *why, size_t whylen)
{
	memset(j, 0, sizeof(*j));
	j->workload_bytes = -1;
	if (r->ncols != JOB_NCOLS)
		BAD("the market answered %d columns, not %d", r->ncols, JOB_NCOLS);
	if (!rows_id(r, row, 0, &j->job_id) || !rows_id(r, row, 1, &j->task_id))
		BAD("job_id or task_id is not a positive bigint");
	if (rows_raw(r, row, 2, NULL) == NULL && rows_raw(r, row, 3, NULL) == NULL)
		j->workload_null = true;
	else
	{
		long long	b;

		if (!rows_id(r, row, 2, &b) || b > 0x7fffffff)
			BAD("workload_bytes is not a size");
		j->workload_bytes = b;
		if (!rows_text(r, row, 3, j->workload_sha256, sizeof(j->workload_sha256)) ||
			!hex64_ok(j->workload_sha256))
			BAD("workload_sha256 is not 64 lower-case hex digits");
	}
	j->resources = rows_raw(r, row, 4, &j->resources_len);
	if (j->resources && j->resources_len > 64 * 1024)
		BAD("resources are over 64 kB");
	if (rows_raw(r, row, 5, NULL) == NULL)
		j->left_s = 1e9;
	else if (!rows_num(r, row, 5, &j->left_s))
		BAD("the deadline is not a number of seconds");
	return true;
}

/*
 * One row of lagbid_api.notifications (market.c, NOTICE_COLUMNS): id,
 * kind, task_id, bid_id, job_id, payload.  Only the id must be clean (it
 * is acknowledged); the rest is for the log.
 */
bool
notice_from_row(const Rows *r, int row, NoticeRow *n)
{
	memset(n, 0, sizeof(*n));
	if (r->ncols != NOTICE_NCOLS || !rows_id(r, row, 0, &n->id))
		return false;
	rows_printable(r, row, 1, n->kind, sizeof(n->kind));
	rows_printable(r, row, 2, n->task, sizeof(n->task));
	rows_printable(r, row, 3, n->bid, sizeof(n->bid));
	rows_printable(r, row, 4, n->job, sizeof(n->job));
	rows_printable(r, row, 5, n->payload, sizeof(n->payload));
	return true;
}

/* ---- sets of ids ---- */

/* adds id unless present; false when the set holds limit ids already */
bool
idset_add(IdSet *s, long long id, int limit)
{
	for (int i = 0; i < s->n; i++)
		if (s->ids[i] == id)
			return true;
	if (s->n >= limit)
		return false;
	if (s->n == s->cap)
	{
		s->cap = s->cap ? s->cap * 2 : 16;
		s->ids = xrealloc(s->ids, (size_t) s->cap * sizeof(long long));
	}
	s->ids[s->n++] = id;
	return true;
}

bool
idset_has(const IdSet *s, long long id)
{
	for (int i = 0; i < s->n; i++)
		if (s->ids[i] == id)
			return true;
	return false;
}

void
idset_free(IdSet *s)
{
	free(s->ids);
	memset(s, 0, sizeof(*s));
}

/* "{1,2,3}" for a bigint[] parameter, sized to fit (xmalloc'd) */
char *
ids_array_literal(const long long *ids, int n)
{
	size_t		cap = 3 + (size_t) n * 21;
	char	   *buf = xmalloc(cap);
	size_t		len = 0;

	buf[len++] = '{';
	for (int i = 0; i < n; i++)
		len += (size_t) snprintf(buf + len, cap - len, "%s%lld", i ? "," : "", ids[i]);
	buf[len++] = '}';
	buf[len] = '\0';
	return buf;
}

/* a JSON integer >= 1 */
static bool
json_id(const json_t *v, long long *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return false;
	*out = (long long) json_integer_value(v);
	return true;
}

/*
 * The ids of a lagbid_tasks push: {"task_id": N} and/or {"task_ids": [N,
 * ...]}; every other member is ignored (terms in a push are never read).
 * Returns how many ids it carried (added to out up to limit), -1 when it
 * is not such a payload.
 */
int
push_payload_ids(const char *payload, size_t len, IdSet *out, int limit)
{
	json_t	   *v = json_read(payload, len, 64 * 1024, NULL, 0);
	json_t	   *one,
			   *many;
	long long	id;
	int			n = 0;
	bool		bad = false;

	if (!json_is_object(v))
	{
		json_decref(v);
		return -1;
	}
	one = json_object_get(v, "task_id");
	many = json_object_get(v, "task_ids");
	if (one == NULL && many == NULL)
		bad = true;
	if (one != NULL)
	{
		if (json_id(one, &id))
		{
			idset_add(out, id, limit);
			n++;
		}
		else
			bad = true;
	}
	if (many != NULL)
	{
		size_t		i;
		json_t	   *e;

		if (!json_is_array(many))
			bad = true;
		json_array_foreach(many, i, e)
		{
			if (json_id(e, &id))
			{
				idset_add(out, id, limit);
				n++;
			}
			else
				bad = true;
		}
	}
	json_decref(v);
	return (bad && n == 0) ? -1 : n;
}

/* ---- service leases and probes (lease.c, proxy.c) ---- */

bool
lease_name_ok(const char *s, size_t len)
{
	if (len != LEASE_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7')))
			return false;
	return true;
}

bool
probe_nonce_ok(const char *s, size_t len)
{
	if (len != 32)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int
probe_message(const char *name, const char *nonce, int status, char *out, size_t cap)
{
	return snprintf(out, cap, "lagbid-probe-v1\nlease:%s\nnonce:%s\nstatus:%d\n", name, nonce, status);
}



static bool
sha256_text_ok(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool
int_in(const Rows *r, int row, int col, int lo, int hi, int *out)
{
	double		d;

	if (!rows_num(r, row, col, &d) || d != (double) (long long) d || d < lo || d > hi)
		return false;
	*out = (int) d;
	return true;
}

/*
 * One row of my_leases(), every column checked: the name is what the
 * front proxy routes by and what a host name is made of, the health path
 * goes into a request line, the port into a connect().
 */
bool
lease_from_row(const Rows *r, int row, LeaseRow *l, char *why, size_t whylen)
{
	static const char *const states[] = {
		"starting", "ready", "degraded", "unstable", "expired", "failed", "torn_down", NULL
	};
	bool		known = false;

	memset(l, 0, sizeof(*l));
	if (r->ncols < LEASE_NCOLS)
	{
		snprintf(why, whylen, "%d columns, not %d", r->ncols, LEASE_NCOLS);
		return false;
	}
	if (!rows_id(r, row, 0, &l->lease_id) || !rows_id(r, row, 1, &l->job_id) ||
		!rows_id(r, row, 2, &l->task_id))
	{
		snprintf(why, whylen, "lease, job or task id is not an id");
		return false;
	}
	if (!rows_text(r, row, 3, l->name, sizeof(l->name)) || !lease_name_ok(l->name, strlen(l->name)))
	{
		snprintf(why, whylen, "the lease name is not 16 characters of lower-case base32");
		return false;
	}
	if (rows_text(r, row, 4, l->state, sizeof(l->state)))
		for (int i = 0; states[i]; i++)
			if (strcmp(l->state, states[i]) == 0)
				known = true;
	if (!known)
	{
		snprintf(why, whylen, "unknown lease state");
		return false;
	}
	if (rows_raw(r, row, 5, NULL) != NULL && !rows_text(r, row, 5, l->endpoint, sizeof(l->endpoint)))
	{
		snprintf(why, whylen, "the endpoint is not printable text of at most %zu bytes", sizeof(l->endpoint) - 1);
		return false;
	}
	if (!rows_num(r, row, 6, &l->reserved_until) || l->reserved_until < 0 || l->reserved_until > 1e11)
	{
		snprintf(why, whylen, "reserved_until is not a time");
		return false;
	}
	if (!int_in(r, row, 7, 1, 65535, &l->port))
	{
		snprintf(why, whylen, "the port is not in 1..65535");
		return false;
	}
	if (!rows_text(r, row, 8, l->health_path, sizeof(l->health_path)) || l->health_path[0] != '/')
	{
		snprintf(why, whylen, "the health path is not printable text starting with \"/\" of at most 256 bytes");
		return false;
	}
	for (const char *p = l->health_path; *p; p++)
		if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f)
		{
			snprintf(why, whylen, "the health path has a space or a byte outside printable ASCII");
			return false;
		}
	if (!int_in(r, row, 9, 100, 599, &l->expected_status))
	{
		snprintf(why, whylen, "the expected status is not in 100..599");
		return false;
	}
	if (!int_in(r, row, 10, 1, 86400, &l->startup_timeout_s))
	{
		snprintf(why, whylen, "the startup timeout is not in 1..86400");
		return false;
	}
	if (!rows_text(r, row, 11, l->workload_sha256, sizeof(l->workload_sha256)) ||
		!sha256_text_ok(l->workload_sha256))
	{
		snprintf(why, whylen, "the workload digest is not 64 lower-case hex characters");
		return false;
	}
	return true;
}

/*
 * A URL a probe may GET: http:// or https://, a host (no userinfo),
 * printable ASCII without spaces, at most 2048 bytes.  libcurl parses it;
 * this refuses what has no business in a probe before it gets there.
 */
bool
probe_url_ok(const char *url, char *why, size_t whylen)
{
	const char *h;
	size_t		alen;

	if (strncmp(url, "http://", 7) == 0)
		h = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		h = url + 8;
	else
	{
		snprintf(why, whylen, "not an http:// or https:// URL");
		return false;
	}
	if (strlen(url) > 2048)
	{
		snprintf(why, whylen, "longer than 2048 bytes");
		return false;
	}
	for (const char *p = url; *p; p++)
		if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f)
		{
			snprintf(why, whylen, "a space, control or non-ASCII byte");
			return false;
		}
	alen = strcspn(h, "/?#");
	if (alen == 0)
	{
		snprintf(why, whylen, "no host");
		return false;
	}
	if (memchr(h, '@', alen) != NULL)
	{
		snprintf(why, whylen, "userinfo in the URL");
		return false;
	}
	return true;
}

bool
probe_from_row(const Rows *r, int row, ProbeRow *p, char *why, size_t whylen)
{
	memset(p, 0, sizeof(*p));
	if (r->ncols < PROBE_NCOLS)
	{
		snprintf(why, whylen, "%d columns, not %d", r->ncols, PROBE_NCOLS);
		return false;
	}
	if (!rows_id(r, row, 0, &p->probe_id))
	{
		snprintf(why, whylen, "the probe id is not an id");
		return false;
	}
	if (!rows_text(r, row, 1, p->lease_name, sizeof(p->lease_name)) ||
		!lease_name_ok(p->lease_name, strlen(p->lease_name)))
	{
		snprintf(why, whylen, "the lease name is not 16 characters of lower-case base32");
		return false;
	}
	if (!rows_text(r, row, 2, p->endpoint, sizeof(p->endpoint)) ||
		!probe_url_ok(p->endpoint, why, whylen))
	{
		if (p->endpoint[0] == '\0')
			snprintf(why, whylen, "the endpoint is missing or too long");
		return false;
	}
	if (!rows_text(r, row, 3, p->nonce, sizeof(p->nonce)) || !probe_nonce_ok(p->nonce, strlen(p->nonce)))
	{
		snprintf(why, whylen, "the nonce is not 32 lower-case hex characters");
		return false;
	}
	return true;
}
