/*-------------------------------------------------------------------------
 *
 * market.c
 *	  What the agent says to the market: discovery (the scan, and the task
 *	  ids that pushes hint at), the decision on each task (policy.c) and
 *	  the bid, the notifications, and the reconciliation of my_jobs() with
 *	  what runs here.
 *
 * The market is the source of truth, and a push is not the market: any
 * login may NOTIFY lagbid_tasks.  A push only names task ids (rows.c);
 * the ids of one turn of the main loop are read back with ONE query, and
 * the decision is taken on the terms the market returns, never on the
 * payload's (issue 19, defect 3).
 *
 * Discovery carries terms and the workload's size and digest, not its
 * body.  A task that passes the cheap checks (policy_screen) and whose
 * workload is within max_workload_bytes has its body read by id, its size
 * and SHA-256 verified against the discovery row, and its rules checked
 * (the rules the extension applies, src/rules/) before every bid, by
 * whatever path the task came.  Bodies are cached by digest (wlcache.c).
 *
 * Every answer is untrusted (defect 10): rows are read through rows.c,
 * which refuses what does not parse; no market value is copied into a
 * fixed buffer unchecked; result sizes are bounded.
 *
 * Against a 0.3 market (no lagbid_api.task_workload) the same columns are
 * computed from the workload itself: the agent works with both.
 *
 *-------------------------------------------------------------------------
 */
#include "daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* at most this many tasks per discovery query, ids per push batch */
#define DISCOVERY_MAX_ROWS 1000
#define PUSH_MAX_IDS 1000
#define NOTICE_MAX_ROWS 100

/* discovery: task_id, resources, region, price_min, price_max, duration_hours, owner, workload_bytes, workload_sha256 */
static const char *const discovery_sql_04 =
"SELECT task_id, resources::text, region, price_min::text, price_max::text, "
"duration_hours::float8, owner, workload_bytes, workload_sha256 "
"FROM lagbid_api.open_tasks($2::int, $1::bigint[])";
static const char *const discovery_sql_03 =
"SELECT task_id, resources::text, region, price_min::text, price_max::text, "
"duration_hours::float8, owner, octet_length(workload::text), "
"encode(sha256(convert_to(workload::text, 'UTF8')), 'hex') "
"FROM lagbid_api.open_tasks($2::int) WHERE $1::bigint[] IS NULL OR task_id::text = ANY ($1::text[])";

/*
 * A body by task id (one row, one column).  The 0.3 forms compare ids as
 * text so that a market that answers text ids is read the same way (the
 * hostile-market test serves such columns).
 */
static const char *const body_sql_04 = "SELECT lagbid_api.task_workload($1::bigint)::text";
static const char *const body_sql_03 =
"(SELECT workload::text FROM lagbid_api.my_jobs() WHERE task_id::text = $1 "
"UNION ALL SELECT workload::text FROM lagbid_api.open_tasks(1000) WHERE task_id::text = $1) LIMIT 1";

/* reconcile: job_id, task_id, workload_bytes, workload_sha256, resources, seconds left */
static const char *const jobs_sql_04 =
"SELECT job_id, task_id, workload_bytes, workload_sha256, resources::text, "
"extract(epoch FROM deadline - now())::float8 "
"FROM lagbid_api.my_jobs() WHERE state = 'processing' ORDER BY job_id";
static const char *const jobs_sql_03 =
"SELECT job_id, task_id, octet_length(workload::text), "
"encode(sha256(convert_to(workload::text, 'UTF8')), 'hex'), resources::text, "
"extract(epoch FROM deadline - now())::float8 "
"FROM lagbid_api.my_jobs() WHERE state = 'processing' ORDER BY job_id";

/* ---- a PGresult seen through rows.c's interface (daemon.h: market_rows) ---- */

static int
pg_get(const void *ctx, int row, int col, const char **value)
{
	const PGresult *res = ctx;

	if (PQgetisnull(res, row, col))
		return -1;
	*value = PQgetvalue(res, row, col);
	return PQgetlength(res, row, col);
}

Rows
market_rows(const PGresult *res)
{
	Rows		r;

	r.nrows = PQntuples(res);
	r.ncols = PQnfields(res);
	r.get = pg_get;
	r.ctx = res;
	return r;
}

/* which API the market speaks, asked once per connection */
void
market_detect_api(Agent *a)
{
	PGresult   *res = market_query(&a->m,
								   "SELECT to_regprocedure('lagbid_api.task_workload(bigint)') IS NOT NULL",
								   0, NULL, NULL, NULL);

	a->api_04 = res && market_ok(res) && PQntuples(res) == 1 && PQnfields(res) == 1 &&
		strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	log_debug("start", "the market %s lagbid_api.task_workload", a->api_04 ? "has" : "lacks");
	res = market_query(&a->m, "SELECT to_regprocedure('lagbid_api.my_leases()') IS NOT NULL",
					   0, NULL, NULL, NULL);
	a->api_leases = res && market_ok(res) && PQntuples(res) == 1 && PQnfields(res) == 1 &&
		strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	log_debug("start", "the market %s service leases", a->api_leases ? "has" : "lacks");
}

/* ---- the decision cache: a task is decided once (capacity aside) ---- */

static Decided *
decided_slot(Agent *a, long long task_id, bool insert)
{
	unsigned long long h = (unsigned long long) task_id * 0x9E3779B97F4A7C15ULL;

	if (insert && a->ndecided > DECIDED_SLOTS * 3 / 4)
	{
		/* forget everything: at worst a task is decided again */
		memset(a->decided, 0, sizeof(a->decided));
		a->ndecided = 0;
	}
	for (int i = 0; i < DECIDED_SLOTS; i++)
	{
		Decided    *d = &a->decided[(h + i) % DECIDED_SLOTS];

		if (d->task_id == task_id)
			return d;
		if (d->task_id == 0)
		{
			if (!insert)
				return NULL;
			d->task_id = task_id;
			a->ndecided++;
			return d;
		}
	}
	return NULL;
}

static void
remember(Agent *a, long long task_id, Decision d)
{
	Decided    *slot = decided_slot(a, task_id, true);

	if (slot)
	{
		slot->decision = d;
		slot->at = now_seconds();
	}
}

static void
decline(Agent *a, long long task_id, Decision d, const char *why)
{
	remember(a, task_id, d);
	agent_note_decline(a, d);
	log_info("decline", "task %lld declined (%s): %s", task_id, decision_name(d), why);
}

/*
 * The workload of task_id whose discovery row said (bytes, sha256): from
 * the cache, or read by id and verified.  Returns a malloc'd NUL-terminated
 * copy, or NULL with why.
 */
static char *
fetch_workload(Agent *a, long long task_id, long long bytes, const char *sha256,
			   long cap, size_t *len_out, char *why, size_t whylen)
{
	const char *cached;
	size_t		len;
	char		tid[32];
	const char *vals[1] = {tid};
	PGresult   *res;
	char		hex[65];
	char	   *body;

	if ((cached = wlcache_get(sha256, &len)) != NULL)
	{
		/* the body of that digest; the market's size must agree with it too */
		if ((long long) len != bytes)
		{
			snprintf(why, whylen, "the workload read is %zu bytes, the market announced %lld", len, bytes);
			return NULL;
		}
		*len_out = len;
		return xstrndup(cached, len);
	}
	if (bytes < 0 || bytes > cap)
	{
		snprintf(why, whylen, "the workload is %lld bytes, over the limit of %ld", bytes, cap);
		return NULL;
	}
	snprintf(tid, sizeof(tid), "%lld", task_id);
	res = market_query(&a->m, a->api_04 ? body_sql_04 : body_sql_03, 1, vals, NULL, NULL);
	if (res == NULL || !market_ok(res))
	{
		char		msg[512] = "no connection";

		if (res)
			market_error_text(res, a->m.conn, msg, sizeof(msg));
		snprintf(why, whylen, "the workload could not be read: %s", msg);
		PQclear(res);
		return NULL;
	}
	if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0))
	{
		snprintf(why, whylen, "the market answered %d rows of %d columns for the workload",
				 PQntuples(res), PQnfields(res));
		PQclear(res);
		return NULL;
	}
	len = (size_t) PQgetlength(res, 0, 0);
	if ((long long) len != bytes)
	{
		snprintf(why, whylen, "the workload read is %zu bytes, the market announced %lld", len, bytes);
		PQclear(res);
		return NULL;
	}
	if (sha256_hex((const unsigned char *) PQgetvalue(res, 0, 0), len, hex) != 0 ||
		strcmp(hex, sha256) != 0)
	{
		snprintf(why, whylen, "the workload read does not have the announced SHA-256");
		PQclear(res);
		return NULL;
	}
	body = xstrndup(PQgetvalue(res, 0, 0), len);
	PQclear(res);
	wlcache_put(sha256, body, len);
	*len_out = len;
	return body;
}

/* decide on one task (terms from the market) and bid */
static void
consider(Agent *a, TaskTerms *t, const char *source)
{
	Decided    *prev = decided_slot(a, t->task_id, false);
	char		price[64],
				why[512];
	double		cost;
	Decision	d;
	double		t0 = now_seconds();
	char	   *body = NULL;

	if (a->stopping || a->no_bids || a->m.conn == NULL)
		return;
	if (prev && prev->decision != DECLINE_CAPACITY)
		return;
	d = policy_screen(&a->cfg, t, a->slots_used, &cost, why, sizeof(why));
	if (d == DECLINE_CAPACITY && prev)
		return;					/* already said so */
	if (d != DECIDE_BID)
	{
		decline(a, t->task_id, d, why);
		return;
	}
	body = fetch_workload(a, t->task_id, t->workload_bytes, t->workload_sha256,
						  a->cfg.max_workload_bytes, &t->workload_len, why, sizeof(why));
	if (body == NULL)
	{
		if (a->m.conn == NULL)
			return;				/* lost the connection: decide later */
		decline(a, t->task_id, DECLINE_WORKLOAD, why);
		return;
	}
	t->workload_json = body;
	d = policy_decide(&a->cfg, t, a->slots_used, price, sizeof(price), &cost, why, sizeof(why));
	/* a service runs here as long as its lease: only up to max_services of them */
	if (d == DECIDE_BID && workload_is_service(body, t->workload_len) &&
		(!a->proxy_up || a->nsvcs >= a->cfg.max_services))
	{
		d = DECLINE_CAPACITY;
		snprintf(why, sizeof(why), a->proxy_up ? "a service, and %d of service.max_services = %d run here" :
				 "a service, and the front proxy is not running (service.max_services = %d)",
				 a->proxy_up ? a->nsvcs : a->cfg.max_services, a->cfg.max_services);
	}
	t->workload_json = NULL;
	free(body);
	if (d != DECIDE_BID)
	{
		if (!(d == DECLINE_CAPACITY && prev))
			decline(a, t->task_id, d, why);
		return;
	}
	{
		char		tid[32];
		const char *vals[2] = {tid, price};
		PGresult   *res;
		char		bid[24];

		snprintf(tid, sizeof(tid), "%lld", t->task_id);
		res = market_query(&a->m, "SELECT lagbid_api.place_bid($1::bigint, $2::numeric)",
						   2, vals, NULL, NULL);
		if (res == NULL)
			return;				/* no connection: the next scan tries again */
		if (!market_ok(res))
		{
			char		msg[512];
			const char *state = market_sqlstate(res);

			market_error_text(res, a->m.conn, msg, sizeof(msg));
			/* slots full at the market: our count was stale */
			d = strcmp(state, "LB303") == 0 ? DECLINE_CAPACITY : DECLINE_MARKET;
			remember(a, t->task_id, d);
			agent_note_decline(a, d);
			if (d == DECLINE_CAPACITY)
				a->want_reconcile = true;
			log_info("decline", "task %lld declined (%s): the market refused the bid at %s/h: %s (SQLSTATE %s)",
					 t->task_id, decision_name(d), price, msg, state);
			PQclear(res);
			/* a surprise (not a race lost to other bidders): ask the market why */
			if (strcmp(state, "LB302") != 0 && strcmp(state, "LB303") != 0 &&
				strcmp(state, "LB305") != 0 && a->m.conn)
			{
				res = market_query(&a->m, "SELECT string_agg(rule || ': ' || coalesce(detail, ''), '; ') "
								   "FROM lagbid_api.why_not($1::bigint)", 1, vals, NULL, NULL);
				if (res && market_ok(res) && PQntuples(res) == 1 && PQnfields(res) == 1)
				{
					Rows		r = market_rows(res);
					char		text[800];

					rows_printable(&r, 0, 0, text, sizeof(text));
					log_info("decline", "task %lld: why_not says %s", t->task_id, text);
				}
				PQclear(res);
			}
			return;
		}
		remember(a, t->task_id, DECIDE_BID);
		a->slots_used++;
		a->bids_placed++;
		{
			Rows		r = market_rows(res);

			rows_printable(&r, 0, 0, bid, sizeof(bid));
		}
		log_info("bid", "bid %s placed on task %lld at %s/h (cost %.4f/h, from %s, %.1f ms)",
				 bid, t->task_id, price, cost, source, (now_seconds() - t0) * 1000.0);
		PQclear(res);
	}
}

/* tasks whose last decision was "no free slot" */
int
market_capacity_declined(Agent *a)
{
	int			n = 0;

	for (int i = 0; i < DECIDED_SLOTS; i++)
		if (a->decided[i].task_id != 0 && a->decided[i].decision == DECLINE_CAPACITY)
			n++;
	return n;
}

/*
 * One discovery query: every open task (ids NULL) or those of a push
 * batch; each row decided on as the market wrote it.
 */
static void
discover(Agent *a, const IdSet *ids, const char *source)
{
	PGresult   *res;
	char	   *literal = ids ? ids_array_literal(ids->ids, ids->n) : NULL;
	char		maxrows[16];
	const char *vals[2] = {literal, maxrows};
	IdSet		seen = {0};
	int			n;

	snprintf(maxrows, sizeof(maxrows), "%d", ids ? ids->n : DISCOVERY_MAX_ROWS);
	res = market_query(&a->m, a->api_04 ? discovery_sql_04 : discovery_sql_03,
					   2, vals, NULL, NULL);
	free(literal);
	if (res == NULL)
		return;
	if (!market_ok(res))
	{
		char		msg[512];

		market_error_text(res, a->m.conn, msg, sizeof(msg));
		log_warning("scan", "could not list open tasks: %s", msg);
		PQclear(res);
		return;
	}
	n = PQntuples(res);
	if (n > DISCOVERY_MAX_ROWS)
	{
		log_warning("scan", "the market answered %d rows, more than the %d asked: the first %d are read",
					n, DISCOVERY_MAX_ROWS, DISCOVERY_MAX_ROWS);
		n = DISCOVERY_MAX_ROWS;
	}
	log_debug("scan", "%d open tasks (%s)", n, source);
	{
		Rows		r = market_rows(res);

		for (int i = 0; i < n && a->m.conn; i++)
		{
			TaskTerms	t;
			char		why[256];

			if (!terms_from_row(&r, i, &t, why, sizeof(why)))
			{
				char		id[24];

				rows_printable(&r, i, 0, id, sizeof(id));
				log_warning("scan", "ignored a malformed open_tasks row (task %s): %s", id, why);
				continue;
			}
			/* a push names ids: a row for another task is not ours to read */
			if (ids && !idset_has(ids, t.task_id))
			{
				log_warning("scan", "ignored task %lld: not among the ids asked for", t.task_id);
				continue;
			}
			if (idset_has(&seen, t.task_id))
			{
				log_warning("scan", "ignored a repeated row for task %lld", t.task_id);
				continue;
			}
			idset_add(&seen, t.task_id, DISCOVERY_MAX_ROWS);
			consider(a, &t, source);
		}
	}
	/*
	 * Pushed ids the market does not list as open to us: its own filters
	 * (region, resources, state) said no, or the push named ids that do
	 * not exist yet.  One line per batch, and nothing remembered: a forged
	 * push naming future ids must not stop a bid when the task appears.
	 */
	if (ids)
	{
		char		list[256];
		size_t		len = 0;
		int			missing = 0;

		list[0] = '\0';
		for (int i = 0; i < ids->n; i++)
			if (!idset_has(&seen, ids->ids[i]))
			{
				if (missing++ < 10)
					len += (size_t) snprintf(list + len, sizeof(list) - len, "%s%lld",
											 len ? ", " : "", ids->ids[i]);
			}
		if (missing > 0)
			log_info("notify", "%d pushed task(s) not open to this provider in the market: %s%s",
					 missing, list, missing > 10 ? ", ..." : "");
	}
	idset_free(&seen);
	PQclear(res);
}

void
market_scan(Agent *a)
{
	discover(a, NULL, "scan");
}

/* NOTIFY lagbid_tasks: only ids are read; they are looked up at the turn's end */
void
market_on_task_notify(Agent *a, const char *payload)
{
	int			n = push_payload_ids(payload, strlen(payload), &a->pushed, PUSH_MAX_IDS);

	if (n < 0)
	{
		char		shown[120];

		json_escape(payload, shown, sizeof(shown));
		log_warning("notify", "ignored a lagbid_tasks payload without task ids: %s", shown);
		return;
	}
	if (a->pushed.n >= PUSH_MAX_IDS)
		a->want_scan = true;	/* more than a batch: the scan sees the rest */
}

/* the ids pushed since the last call: one query, the market's terms */
void
market_flush_pushes(Agent *a)
{
	IdSet		batch = a->pushed;
	IdSet		fresh = {0};

	memset(&a->pushed, 0, sizeof(a->pushed));
	/* ids already decided (other than for capacity) need no query */
	for (int i = 0; i < batch.n; i++)
	{
		Decided    *d = decided_slot(a, batch.ids[i], false);

		if (d == NULL || d->decision == DECLINE_CAPACITY)
			idset_add(&fresh, batch.ids[i], PUSH_MAX_IDS);
	}
	idset_free(&batch);
	if (fresh.n > 0 && a->m.conn && !a->stopping && !a->no_bids)
		discover(a, &fresh, "notify");
	idset_free(&fresh);
}

/* NOTIFY lagbid: fetch the pending notifications, log, acknowledge */
void
market_on_notification(Agent *a)
{
	char		limit[16];
	const char *lv[1] = {limit};
	PGresult   *res;
	IdSet		ids = {0};
	int			n;

	snprintf(limit, sizeof(limit), "%d", NOTICE_MAX_ROWS);
	res = market_query(&a->m,
					   "SELECT id, kind, task_id::text, bid_id::text, job_id::text, payload::text "
					   "FROM lagbid_api.notifications(true, $1::int)",
					   1, lv, NULL, NULL);
	if (res == NULL)
		return;
	if (!market_ok(res))
	{
		char		msg[512];

		market_error_text(res, a->m.conn, msg, sizeof(msg));
		log_warning("notify", "could not read notifications: %s", msg);
		PQclear(res);
		return;
	}
	n = PQntuples(res);
	if (n > NOTICE_MAX_ROWS)
	{
		log_warning("notify", "the market answered %d notifications, more than the %d asked: the first %d are read",
					n, NOTICE_MAX_ROWS, NOTICE_MAX_ROWS);
		n = NOTICE_MAX_ROWS;
	}
	{
		Rows		r = market_rows(res);

		for (int i = 0; i < n; i++)
		{
			NoticeRow	nr;

			if (!notice_from_row(&r, i, &nr))
			{
				char		id[24];

				rows_printable(&r, i, 0, id, sizeof(id));
				log_warning("notify", "ignored a malformed notification row (id %s)", id);
				continue;
			}
			if (idset_has(&ids, nr.id))
				continue;		/* a repeated row: logged once */
			idset_add(&ids, nr.id, NOTICE_MAX_ROWS);
			if (strcmp(nr.kind, "bid_won") == 0)
				log_info("won", "bid %s on task %s won", nr.bid, nr.task);
			else if (strcmp(nr.kind, "bid_lost") == 0)
				log_info("lost", "bid %s on task %s lost", nr.bid, nr.task);
			else if (strcmp(nr.kind, "task_cancelled") == 0)
				log_info("cancelled", "task %s was cancelled", nr.task);
			else if (strcmp(nr.kind, "job_due") == 0)
				log_warning("due", "job %s of task %s is due", nr.job, nr.task);
			else if (strcmp(nr.kind, "job_paid") == 0)
				log_info("paid", "job %s of task %s paid: %.200s", nr.job, nr.task, nr.payload);
			else if (strcmp(nr.kind, "probe_assigned") == 0)
				a->want_probes = true;	/* the assignment is read from my_probes() */
			else
				log_info("notification", "%s (task %s, bid %s, job %s): %.200s", nr.kind,
						 nr.task, nr.bid, nr.job, nr.payload);
		}
	}
	PQclear(res);
	if (ids.n > 0)
	{
		char	   *literal = ids_array_literal(ids.ids, ids.n);
		const char *vals[1] = {literal};

		res = market_query(&a->m, "SELECT lagbid_api.acknowledge($1::bigint[])", 1, vals, NULL, NULL);
		if (res && !market_ok(res))
		{
			char		msg[512];

			market_error_text(res, a->m.conn, msg, sizeof(msg));
			log_warning("notify", "could not acknowledge notifications: %s", msg);
		}
		PQclear(res);
		free(literal);
	}
	if (n > 0)
		a->want_reconcile = true;	/* a bid won, lost or cancelled changes the slots and the jobs */
	idset_free(&ids);
}

void
market_refresh_slots(Agent *a)
{
	PGresult   *res = market_query(&a->m,
								   "SELECT (SELECT count(*) FROM lagbid_api.my_bids() WHERE state = 'open') + "
								   "(SELECT count(*) FROM lagbid_api.my_jobs() WHERE state IN ('processing', 'submitted'))",
								   0, NULL, NULL, NULL);
	double		used;

	if (res && market_ok(res) && PQntuples(res) == 1 && PQnfields(res) == 1)
	{
		Rows		r = market_rows(res);

		if (rows_num(&r, 0, 0, &used) && used >= 0 && used <= 1e6)
		{
			int			before = a->slots_used;

			a->slots_used = (int) used;
			if (a->slots_used < before && a->slots_used < a->cfg.max_concurrent)
				a->want_scan = true;	/* a slot freed: look again at what we declined */
		}
		else
			log_warning("reconcile", "the market's slot count is not a count: kept %d", a->slots_used);
	}
	PQclear(res);
}

/*
 * my_jobs() against the jobs running here: start what the market says is
 * processing and does not run here (its workload read by id and checked);
 * stop what runs here and the market no longer wants.
 */
void
market_reconcile(Agent *a)
{
	PGresult   *res = market_query(&a->m, a->api_04 ? jobs_sql_04 : jobs_sql_03,
									 0, NULL, NULL, NULL);
	IdSet		listed = {0};
	int			n;
	Rows		r;

	a->want_reconcile = false;
	if (res == NULL)
		return;
	/* the leases first: a service's job is processing too, and is not a batch run */
	lease_reconcile(a);
	if (!market_ok(res))
	{
		char		msg[512];

		market_error_text(res, a->m.conn, msg, sizeof(msg));
		log_warning("reconcile", "could not list my jobs: %s", msg);
		PQclear(res);
		return;
	}
	n = PQntuples(res);
	if (n > MAX_JOBS * 4)
	{
		log_warning("reconcile", "the market lists %d processing jobs: the first %d are read", n, MAX_JOBS * 4);
		n = MAX_JOBS * 4;
	}
	r = market_rows(res);
	for (int i = 0; i < n; i++)
	{
		long long	id;

		if (rows_id(&r, i, 0, &id))
			idset_add(&listed, id, MAX_JOBS * 4);
	}
	/* jobs running here that the market no longer has as processing */
	for (int k = a->njobs - 1; k >= 0; k--)
	{
		Job		   *j = a->jobs[k];
		bool		found = idset_has(&listed, j->job_id);

		if (!found && !j->done)
		{
			log_info("stop", "job %lld of task %lld is no longer processing in the market: stopped",
					 j->job_id, j->task_id);
			sandbox_kill(&j->rs);
			j->abandoned = true;
		}
		else if (!found && j->done)
			j->abandoned = true;	/* settled meanwhile: nothing to report */
	}
	idset_free(&listed);
	for (int i = 0; i < n && a->m.conn; i++)
	{
		JobRow		jr;
		char		why[512];
		char	   *body = NULL;
		char	   *resources = NULL;
		size_t		len;

		if (!job_from_row(&r, i, &jr, why, sizeof(why)))
		{
			char		id[24];

			rows_printable(&r, i, 0, id, sizeof(id));
			log_warning("reconcile", "ignored a malformed my_jobs row (job %s): %s", id, why);
			continue;
		}
		if (runner_find(a, jr.job_id) != NULL || a->stopping || lease_owns_job(a, jr.job_id))
			continue;
		if (!jr.workload_null)
		{
			/* a job the market gives us: its workload was within the cap when we bid */
			body = fetch_workload(a, jr.task_id, jr.workload_bytes, jr.workload_sha256,
								  LAGBID_WL_MAX_BYTES, &len, why, sizeof(why));
			if (body == NULL)
			{
				log_warning("reconcile", "job %lld of task %lld not started: %s", jr.job_id, jr.task_id, why);
				continue;
			}
		}
		if (jr.resources)
			resources = xstrndup(jr.resources, jr.resources_len);
		runner_start(a, jr.job_id, jr.task_id, body, resources, jr.left_s);
		free(resources);
		free(body);
	}
	PQclear(res);
	market_refresh_slots(a);
}
