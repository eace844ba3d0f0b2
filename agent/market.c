/*-------------------------------------------------------------------------
 *
 * market.c
 *	  What the agent says to the market: the scan of open_tasks(), the
 *	  decision on each task (policy.c) and the bid, the notifications, and
 *	  the reconciliation of my_bids()/my_jobs() with what runs here.
 *
 * The market is the source of truth: the slot count is read back from it
 * (open bids plus processing or submitted jobs) at every reconcile, and a
 * processing job that does not run here is started (or failed when its
 * deadline has passed).  Every decision is one log line with its reason.
 *
 *-------------------------------------------------------------------------
 */
#include "daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* decide on one task and bid; terms are complete */
static void
consider(Agent *a, const TaskTerms *t, const char *source)
{
	Decided    *prev = decided_slot(a, t->task_id, false);
	char		price[64],
				why[512];
	double		cost;
	Decision	d;
	double		t0 = now_seconds();

	if (a->stopping || a->no_bids)
		return;
	if (prev && prev->decision != DECLINE_CAPACITY)
		return;
	d = policy_decide(&a->cfg, t, a->slots_used, price, sizeof(price), &cost, why, sizeof(why));
	if (d == DECLINE_CAPACITY && prev)
		return;					/* already said so */
	if (d != DECIDE_BID)
	{
		remember(a, t->task_id, d);
		agent_note_decline(a, d);
		log_info("decline", "task %lld declined (%s): %s", t->task_id, decision_name(d), why);
		return;
	}
	{
		char		tid[32];
		const char *vals[2] = {tid, price};
		PGresult   *res;

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
				if (res && market_ok(res) && !PQgetisnull(res, 0, 0))
					log_info("decline", "task %lld: why_not says %.800s", t->task_id, PQgetvalue(res, 0, 0));
				PQclear(res);
			}
			return;
		}
		remember(a, t->task_id, DECIDE_BID);
		a->slots_used++;
		a->bids_placed++;
		log_info("bid", "bid %s placed on task %lld at %s/h (cost %.4f/h, from %s, %.1f ms)",
				 PQgetvalue(res, 0, 0), t->task_id, price, cost, source,
				 (now_seconds() - t0) * 1000.0);
		PQclear(res);
	}
}

static void
copy_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
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

void
market_scan(Agent *a)
{
	PGresult   *res;
	int			n;

	res = market_query(&a->m,
					   "SELECT task_id, resources::text, region, price_min::text, price_max::text, "
					   "duration_hours::float8, owner, workload::text, workload IS NULL "
					   "FROM lagbid_api.open_tasks(1000)", 0, NULL, NULL, NULL);
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
	log_debug("scan", "%d open tasks", n);
	for (int i = 0; i < n && a->m.conn; i++)
	{
		TaskTerms	t;

		memset(&t, 0, sizeof(t));
		t.task_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		terms_from_resources(&t, PQgetvalue(res, i, 1), PQgetlength(res, i, 1));
		copy_text(t.region, sizeof(t.region), PQgetvalue(res, i, 2));
		copy_text(t.price_min_text, sizeof(t.price_min_text), PQgetvalue(res, i, 3));
		copy_text(t.price_max_text, sizeof(t.price_max_text), PQgetvalue(res, i, 4));
		t.price_min = strtod(t.price_min_text, NULL);
		t.price_max = strtod(t.price_max_text, NULL);
		t.duration_hours = strtod(PQgetvalue(res, i, 5), NULL);
		copy_text(t.owner, sizeof(t.owner), PQgetvalue(res, i, 6));
		if (!PQgetisnull(res, i, 7))
		{
			t.workload_json = PQgetvalue(res, i, 7);
			t.workload_len = PQgetlength(res, i, 7);
		}
		t.workload_null = strcmp(PQgetvalue(res, i, 8), "t") == 0;
		consider(a, &t, "scan");
	}
	PQclear(res);
}

/*
 * NOTIFY lagbid_tasks: a 0.3 market sent the terms in the payload (bid
 * without a query); a 0.4 market sends the task's id, or a batch of ids,
 * only: then the terms come from open_tasks()
 */
void
market_on_task_notify(Agent *a, const char *payload)
{
	char		err[256];
	JsonValue  *v = json_parse(payload, strlen(payload), err, sizeof(err));
	const JsonValue *f;
	TaskTerms	t;
	double		d;

	if (v != NULL && v->type == JV_OBJECT && (f = json_get(v, "task_ids")) != NULL &&
		f->type == JV_ARRAY)
	{
		/* the market's push worker batches ids (0.4): a hint to look */
		log_debug("notify", "tasks opened (a batch): scanning");
		json_free(v);
		a->want_scan = true;
		return;
	}
	if (v == NULL || v->type != JV_OBJECT || !json_get_num(v, "task_id", &d) || d < 1)
	{
		log_warning("notify", "ignored a malformed lagbid_tasks payload: %s",
					v == NULL ? err : "no task_id");
		json_free(v);
		a->want_scan = true;
		return;
	}
	memset(&t, 0, sizeof(t));
	t.task_id = (long long) d;
	copy_text(t.owner, sizeof(t.owner), json_get_str(v, "owner"));
	copy_text(t.region, sizeof(t.region), json_get_str(v, "region"));
	terms_from_value(&t, json_get(v, "resources"));
	if ((f = json_get(v, "price_min")) == NULL || f->type != JV_NUMBER ||
		json_get(v, "price_max") == NULL || json_get(v, "price_max")->type != JV_NUMBER)
	{
		/* not the terms we expected: let open_tasks() say */
		json_free(v);
		a->want_scan = true;
		return;
	}
	copy_text(t.price_min_text, sizeof(t.price_min_text), f->num_text);
	t.price_min = f->number;
	f = json_get(v, "price_max");
	copy_text(t.price_max_text, sizeof(t.price_max_text), f->num_text);
	t.price_max = f->number;
	if (json_get_num(v, "duration_hours", &d))
		t.duration_hours = d;
	f = json_get(v, "workload");
	if (f != NULL && f->type == JV_NULL)
		t.workload_null = true;
	else if (f != NULL)
		t.workload_value = f;
	consider(a, &t, "notify");
	json_free(v);
}

/* NOTIFY lagbid: fetch the pending notifications, log, acknowledge */
void
market_on_notification(Agent *a)
{
	PGresult   *res = market_query(&a->m,
								   "SELECT id, kind, coalesce(task_id::text, '-'), coalesce(bid_id::text, '-'), "
								   "coalesce(job_id::text, '-'), coalesce(payload::text, '{}') "
								   "FROM lagbid_api.notifications(true, 100)",
								   0, NULL, NULL, NULL);
	char		ids[100 * 24] = "{";
	int			n;

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
	for (int i = 0; i < n; i++)
	{
		const char *kind = PQgetvalue(res, i, 1);
		size_t		l = strlen(ids);

		snprintf(ids + l, sizeof(ids) - l, "%s%s", i ? "," : "", PQgetvalue(res, i, 0));
		if (strcmp(kind, "bid_won") == 0)
			log_info("won", "bid %s on task %s won", PQgetvalue(res, i, 3), PQgetvalue(res, i, 2));
		else if (strcmp(kind, "bid_lost") == 0)
			log_info("lost", "bid %s on task %s lost", PQgetvalue(res, i, 3), PQgetvalue(res, i, 2));
		else if (strcmp(kind, "task_cancelled") == 0)
			log_info("cancelled", "task %s was cancelled", PQgetvalue(res, i, 2));
		else if (strcmp(kind, "job_due") == 0)
			log_warning("due", "job %s of task %s is due", PQgetvalue(res, i, 4), PQgetvalue(res, i, 2));
		else if (strcmp(kind, "job_paid") == 0)
			log_info("paid", "job %s of task %s paid: %.200s", PQgetvalue(res, i, 4),
					 PQgetvalue(res, i, 2), PQgetvalue(res, i, 5));
		else
			log_info("notification", "%s (task %s, bid %s, job %s): %.200s", kind,
					 PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
					 PQgetvalue(res, i, 5));
	}
	PQclear(res);
	if (n > 0)
	{
		const char *vals[1] = {ids};

		strcat(ids, "}");
		res = market_query(&a->m, "SELECT lagbid_api.acknowledge($1::bigint[])", 1, vals, NULL, NULL);
		if (res && !market_ok(res))
		{
			char		msg[512];

			market_error_text(res, a->m.conn, msg, sizeof(msg));
			log_warning("notify", "could not acknowledge notifications: %s", msg);
		}
		PQclear(res);
		/* a bid won, lost or cancelled changes the slots and the jobs */
		a->want_reconcile = true;
	}
}

void
market_refresh_slots(Agent *a)
{
	PGresult   *res = market_query(&a->m,
								   "SELECT (SELECT count(*) FROM lagbid_api.my_bids() WHERE state = 'open') + "
								   "(SELECT count(*) FROM lagbid_api.my_jobs() WHERE state IN ('processing', 'submitted'))",
								   0, NULL, NULL, NULL);

	if (res && market_ok(res))
	{
		int			before = a->slots_used;

		a->slots_used = atoi(PQgetvalue(res, 0, 0));
		if (a->slots_used < before && a->slots_used < a->cfg.max_concurrent)
			a->want_scan = true;	/* a slot freed: look again at what we declined */
	}
	PQclear(res);
}

/*
 * my_jobs() against the jobs running here: start what the market says is
 * processing and does not run here; stop what runs here and the market no
 * longer wants.
 */
void
market_reconcile(Agent *a)
{
	PGresult   *res = market_query(&a->m,
								   "SELECT job_id, task_id, workload::text, resources::text, "
								   "coalesce(extract(epoch FROM deadline - now())::float8, 1e9) "
								   "FROM lagbid_api.my_jobs() WHERE state = 'processing' ORDER BY job_id",
								   0, NULL, NULL, NULL);
	int			n;

	a->want_reconcile = false;
	if (res == NULL)
		return;
	if (!market_ok(res))
	{
		char		msg[512];

		market_error_text(res, a->m.conn, msg, sizeof(msg));
		log_warning("reconcile", "could not list my jobs: %s", msg);
		PQclear(res);
		return;
	}
	n = PQntuples(res);
	/* jobs running here that the market no longer has as processing */
	for (int k = a->njobs - 1; k >= 0; k--)
	{
		Job		   *j = a->jobs[k];
		bool		found = false;

		for (int i = 0; i < n; i++)
			if (strtoll(PQgetvalue(res, i, 0), NULL, 10) == j->job_id)
				found = true;
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
	for (int i = 0; i < n; i++)
	{
		long long	job_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);

		if (runner_find(a, job_id) != NULL || a->stopping)
			continue;
		runner_start(a, job_id, strtoll(PQgetvalue(res, i, 1), NULL, 10),
					 PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
					 PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
					 PQgetisnull(res, i, 4) ? 0 : strtod(PQgetvalue(res, i, 4), NULL));
	}
	PQclear(res);
	market_refresh_slots(a);
}
