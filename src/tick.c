/*-------------------------------------------------------------------------
 *
 * tick.c
 *	  The minutely hook, lagbid.tick(): expires reservations, publishes
 *	  changed spaces, closes (or fails) tasks whose bidding window passed,
 *	  and elects the winners that are due.  Returns a JSON count per action.
 *
 *	  Bounded: each action takes at most lagbid.tick_batch_size rows, found
 *	  through partial indexes on exactly the rows that are due, so an idle
 *	  tick costs a few index probes whatever the size of the tables.
 *
 *	  Fair: each work list goes round the owners that have due rows (an
 *	  equal share of the batch each, earliest first within an owner), so
 *	  one owner's backlog cannot delay another owner's rows.
 *
 *	  Safe alongside everything else: one tick at a time (the row of
 *	  lagbid.tick_state, which only the extension may lock; a second
 *	  concurrent tick returns at once and the skip is recorded in
 *	  lagbid.tick_skip, with a WARNING from the third in a row), rows locked
 *	  by others are skipped (SKIP LOCKED) and provider and account rows are
 *	  taken with NOWAIT, each row in a subtransaction, so the tick never
 *	  waits on a user's transaction and can never be part of a deadlock.
 *	  What it skipped is counted as "deferred" and done by the next tick.
 *	  On a standby it does nothing.
 *
 *	  One row never stops the tick: a row whose action fails rolls back
 *	  alone, is counted as "failed", logged (WARNING, an event for a task)
 *	  and recorded in lagbid.tick_failure, and is left alone until its
 *	  next_retry_at (1, 2, 4 ... minutes, at most a day); every other row
 *	  proceeds.  Only cancellation, shutdown and resource exhaustion
 *	  (classes 57 and 53) abort the tick.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "leases.h"
#include "push.h"
#include "states.h"
#include "trust.h"

/* a WARNING from this many consecutive skipped ticks on */
#define TICK_SKIP_WARN	3
/* longest wait before a failing row is tried again: a day, in minutes */
#define TICK_MAX_BACKOFF_MINUTES	"1440"

typedef struct TickCounts
{
	int			spaces_published;
	int			tasks_superseded;
	int			spaces_unfunded;
	int			spaces_expired;
	int			bidding_closed;
	int			allocated;
	int			failed_no_bids;
	int			finalized;
	int			failed_no_result;
	int			replicas_added;
	int			deferred;
	int			failed;
	LeaseTickCounts lease;		/* service leases (leases.c) */
} TickCounts;

/* ---- locks taken without waiting ---- */

static LagbidPlan prelock_providers_plan = {
	"SELECT id FROM lagbid.provider WHERE id = ANY (ARRAY "
	"  (SELECT provider_id FROM lagbid.bid WHERE task_id = $1 AND state = 'open' "
	"   UNION ALL "
	"   SELECT provider_id FROM lagbid.job WHERE task_id = $1 AND state IN ('processing', 'submitted'))) "
	"ORDER BY id FOR NO KEY UPDATE NOWAIT",
	1, {INT8OID}
};

static LagbidPlan prelock_accounts_plan = {
	"SELECT id FROM lagbid.account WHERE id = ANY (ARRAY[$2, $3] || ARRAY "
	"  (SELECT (SELECT a.id FROM lagbid.account a "
	"            WHERE a.kind = $4::lagbid.account_kind AND a.name = " LAGBID_NODE_OF("j") ") "
	"     FROM lagbid.job j "
	"    WHERE j.task_id = $1 AND j.state IN ('processing', 'submitted'))) "
	"ORDER BY id FOR NO KEY UPDATE NOWAIT",
	4, {INT8OID, INT8OID, INT8OID, TEXTOID}
};

void
lagbid_prelock_task_nowait(LagbidTask *t)
{
	Datum		args[4];

	args[0] = Int64GetDatum(t->id);
	args[1] = Int64GetDatum(t->escrow_account_id);
	args[2] = Int64GetDatum(t->funding_account_id);
	/* the jobs' providers' accounts, which finalize pays */
	args[3] = CStringGetTextDatum(lagbid_account_kind_label(ACCOUNT_PROVIDER));
	lagbid_connect();
	lagbid_exec(&prelock_providers_plan, args, NULL, false, 0);
	lagbid_exec(&prelock_accounts_plan, args, NULL, false, 0);
	lagbid_finish();
	/* bonds: the owner's and the bidders' accounts (collateral.c) */
	lagbid_trust_prelock_nowait(t);
	lagbid_prelock_owner_nowait(t);
}

void
lagbid_prelock_accounts_nowait(int64 a, int64 b)
{
	Datum		args[3];

	args[0] = Int64GetDatum(0);
	args[1] = Int64GetDatum(a);
	args[2] = Int64GetDatum(b);
	lagbid_connect();
	lagbid_exec(&prelock_accounts_plan, args, NULL, false, 0);
	lagbid_finish();
}

/* ---- one action on one row, in a subtransaction ---- */

typedef bool (*TickAction) (int64 id, TimestampTz now, TickCounts *c);

static LagbidPlan record_failure_plan = {
	"INSERT INTO lagbid.tick_failure AS f (entity, entity_id, action, failures, sqlstate, "
	"    error, first_failed_at, last_failed_at, next_retry_at) "
	"VALUES ($1, $2, $3, 1, $4, $5, $6, $6, $6 + interval '1 minute') "
	"ON CONFLICT (entity, entity_id) DO UPDATE SET action = EXCLUDED.action, "
	"    failures = f.failures + 1, sqlstate = EXCLUDED.sqlstate, error = EXCLUDED.error, "
	"    last_failed_at = EXCLUDED.last_failed_at, "
	"    next_retry_at = EXCLUDED.last_failed_at "
	"        + least(power(2, f.failures), " TICK_MAX_BACKOFF_MINUTES ") * interval '1 minute' "
	"RETURNING failures, next_retry_at",
	6, {TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

/* the task's log says the tick could not handle it (no transition: from = to) */
static LagbidPlan failure_event_plan = {
	"INSERT INTO lagbid.event (entity, entity_id, from_state, to_state, actor, reason, at) "
	"SELECT 'task', t.id, t.state::text, t.state::text, 'lagbid.tick', $2, $3 "
	"FROM lagbid.task t WHERE t.id = $1",
	3, {INT8OID, TEXTOID, TIMESTAMPTZOID}
};

static LagbidPlan clear_failure_plan = {
	"DELETE FROM lagbid.tick_failure WHERE entity = $1 AND entity_id = $2",
	2, {TEXTOID, INT8OID}
};

/* whether lagbid.tick_failure had rows when this tick started (or has now) */
static bool tick_has_failures = false;

/* errors that are about the session or the server, not about the row */
static bool
aborts_tick(int sqlerrcode)
{
	int			class = ERRCODE_TO_CATEGORY(sqlerrcode);

	return class == ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION) ||
		class == ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES);
}

/*
 * A row's action failed: record it (lagbid.tick_failure, the task's event
 * log) and say so, in the tick's own transaction.
 */
static void
record_failure(const char *entity, const char *action, int64 id,
			   ErrorData *edata, TimestampTz now)
{
	Datum		args[6];
	const char *sqlstate = unpack_sql_state(edata->sqlerrcode);
	const char *message = edata->message ? edata->message : "(no message)";
	int32		failures;
	TimestampTz next_retry;
	bool		isnull;

	args[0] = CStringGetTextDatum(entity);
	args[1] = Int64GetDatum(id);
	args[2] = CStringGetTextDatum(action);
	args[3] = CStringGetTextDatum(sqlstate);
	args[4] = CStringGetTextDatum(message);
	args[5] = TimestampTzGetDatum(now);
	lagbid_connect();
	lagbid_exec(&record_failure_plan, args, NULL, false, 0);
	failures = DatumGetInt32(lagbid_result_datum(0, 1, &isnull));
	next_retry = DatumGetTimestampTz(lagbid_result_datum(0, 2, &isnull));
	if (strcmp(entity, "task") == 0)
	{
		args[0] = Int64GetDatum(id);
		args[1] = CStringGetTextDatum(psprintf("tick_failed: %s: %s", sqlstate, message));
		args[2] = TimestampTzGetDatum(now);
		lagbid_exec(&failure_event_plan, args, NULL, false, 0);
	}
	lagbid_finish();
	ereport(WARNING,
			(errmsg("lagbid.tick could not %s %s %lld: %s", action, entity,
					(long long) id, message),
			 errdetail("SQLSTATE %s; failure %d of this row; the tick leaves it until %s.",
					   sqlstate, failures, timestamptz_to_str(next_retry)),
			 errhint("lagbid.tick_failures lists the rows the tick could not handle.")));
}

/*
 * Run fn in a subtransaction.  A lock that is not available (NOWAIT) or a
 * serialization failure rolls the subtransaction back and counts the row
 * as deferred; any other error rolls back this row alone, counts it as
 * failed and records it (record_failure); only errors about the session
 * or the server (aborts_tick) are raised again.
 */
static void
run_guarded(TickAction fn, const char *entity, const char *action, int64 id,
			TimestampTz now, TickCounts *total)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	TickCounts	c;
	ErrorData  *edata = NULL;

	memset(&c, 0, sizeof(c));
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		bool		done = fn(id, now, &c);

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (!done)
			c.deferred++;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (aborts_tick(edata->sqlerrcode))
			ReThrowError(edata);
		memset(&c, 0, sizeof(c));
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
			ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_TRANSACTION_ROLLBACK)
			c.deferred = 1;
		else
		{
			c.failed = 1;
			record_failure(entity, action, id, edata, now);
			tick_has_failures = true;
		}
		FreeErrorData(edata);
		edata = NULL;
	}
	PG_END_TRY();

	if (c.failed == 0 && c.deferred == 0 && tick_has_failures)
	{
		Datum		args[2];

		/* handled: whatever failed before is forgiven */
		args[0] = CStringGetTextDatum(entity);
		args[1] = Int64GetDatum(id);
		lagbid_connect();
		lagbid_exec(&clear_failure_plan, args, NULL, false, 0);
		lagbid_finish();
	}

	total->spaces_published += c.spaces_published;
	total->tasks_superseded += c.tasks_superseded;
	total->spaces_unfunded += c.spaces_unfunded;
	total->spaces_expired += c.spaces_expired;
	total->bidding_closed += c.bidding_closed;
	total->allocated += c.allocated;
	total->failed_no_bids += c.failed_no_bids;
	total->finalized += c.finalized;
	total->failed_no_result += c.failed_no_result;
	total->replicas_added += c.replicas_added;
	total->deferred += c.deferred;
	total->failed += c.failed;
	total->lease.windows_settled += c.lease.windows_settled;
	total->lease.probes_assigned += c.lease.probes_assigned;
	total->lease.leases_expired += c.lease.leases_expired;
	total->lease.leases_failed += c.lease.leases_failed;
	total->lease.leases_torn_down += c.lease.leases_torn_down;
}

static bool
expire_space(int64 id, TimestampTz now, TickCounts *c)
{
	LagbidSpace s;

	if (!lagbid_lock_space(id, true, &s))
		return false;
	if (s.expired || s.reserved_until > now)
		return true;			/* someone else handled it */
	if (!lagbid_expire_space_locked(&s, true))
		return false;
	c->spaces_expired++;
	return true;
}

static bool
publish_space(int64 id, TimestampTz now, TickCounts *c)
{
	LagbidSpace s;
	bool		superseded;
	int64		task_id;

	if (!lagbid_lock_space(id, true, &s))
		return false;
	if (s.expired || s.reserved_until <= now)
		return true;			/* the expiry handles it */
	lagbid_prelock_accounts_nowait(s.escrow_account_id, 0);
	task_id = lagbid_publish_space_locked(&s, true, &superseded);
	if (task_id == 0)
		return false;
	if (superseded)
		c->tasks_superseded++;
	if (task_id < 0)
		c->spaces_unfunded++;
	else
		c->spaces_published++;
	return true;
}

static bool
close_task(int64 id, TimestampTz now, TickCounts *c)
{
	LagbidTask	t;

	if (!lagbid_lock_task(id, true, &t))
		return false;
	if (t.state != TASK_ACCEPTING_BIDS || !t.has_bidding_deadline || t.bidding_deadline > now)
		return true;
	lagbid_prelock_task_nowait(&t);
	if (t.bid_count == 0)
	{
		lagbid_end_task_locked(&t, TASK_FAILED, "no_bids");
		c->failed_no_bids++;
		return true;
	}
	lagbid_close_bidding_locked(&t, "deadline", true);
	if (t.state == TASK_FAILED)
	{
		/* an extra replica's round that found no bidder (election.c) */
		c->failed_no_result++;
		return true;
	}
	c->bidding_closed++;
	if (t.state == TASK_PROCESSING)
		c->allocated++;
	return true;
}

static bool
finalize_task(int64 id, TimestampTz now, TickCounts *c)
{
	LagbidTask	t;
	int64		leader;

	if (!lagbid_lock_task(id, true, &t))
		return false;
	if (t.state != TASK_PROCESSING ||
		(t.jobs_pending > 0 && t.processing_deadline > now))
		return true;
	lagbid_prelock_task_nowait(&t);
	switch (lagbid_elect_locked(&t, &leader))
	{
		case ELECTION_LEADER:
			c->finalized++;
			break;
		case ELECTION_MORE_REPLICAS:
			c->replicas_added++;
			break;
		case ELECTION_NO_RESULT:
		case ELECTION_NO_CONSENSUS:
			c->failed_no_result++;
			break;
	}
	return true;
}

/*
 * The set-based pass over the due leases (settle_batch.c), in a
 * subtransaction: when it cannot finish (an account busy, any error) it
 * is rolled back whole and the per-lease visits that follow do its work.
 * Errors about the session or the server (aborts_tick) are raised again;
 * any other but a busy lock is said in a WARNING.
 */
static void
settle_leases_batch(TimestampTz now, TickCounts *total)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	LeaseTickCounts c;

	memset(&c, 0, sizeof(c));
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		lagbid_lease_settle_batch(now, lagbid_tick_batch_size, &c);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (aborts_tick(edata->sqlerrcode))
			ReThrowError(edata);
		memset(&c, 0, sizeof(c));
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE &&
			ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_TRANSACTION_ROLLBACK)
			ereport(WARNING,
					(errmsg("lagbid.tick could not settle the due leases together: %s",
							edata->message ? edata->message : "(no message)"),
					 errdetail("SQLSTATE %s; each lease is visited on its own instead.",
							   unpack_sql_state(edata->sqlerrcode))));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	total->lease.windows_settled += c.windows_settled;
	total->lease.probes_assigned += c.probes_assigned;
}

static bool
visit_lease(int64 id, TimestampTz now, TickCounts *c)
{
	return lagbid_lease_tick(id, now, &c->lease);
}

/* ---- the work lists ---- */

/*
 * A fair work list over table TBL (alias x; its rows have an owner): the
 * rows matching PRED ($1 = now), at most $2 of them, shared round the
 * owners.  The owners that have such rows are found by a skip scan (one
 * index probe per owner, at most $2 owners, in name order); each gets an
 * equal share of the batch, its rows earliest by KEY first; rows in
 * backoff after a failure (lagbid.tick_failure) are left out.  Each list
 * has a partial index on (owner, KEY, id) WHERE PRED's state part, so the
 * cost is bounded by the batch and the number of owners, not by anybody's
 * backlog.
 */
#define FAIR_LIST(TBL, ENTITY, PRED, KEY) \
	"WITH RECURSIVE o(owner, n) AS ( " \
	"    (SELECT x.owner, 1 FROM " TBL " x WHERE " PRED " ORDER BY x.owner LIMIT 1) " \
	"  UNION ALL " \
	"    SELECT (SELECT x.owner FROM " TBL " x WHERE " PRED " AND x.owner > o.owner " \
	"             ORDER BY x.owner LIMIT 1), o.n + 1 " \
	"      FROM o WHERE o.owner IS NOT NULL AND o.n < $2), " \
	"share AS (SELECT (($2 + count(*) - 1) / greatest(count(*), 1))::int AS per " \
	"            FROM o WHERE o.owner IS NOT NULL) " \
	"SELECT w.id FROM o CROSS JOIN share CROSS JOIN LATERAL ( " \
	"    SELECT x.id, x." KEY " AS k, row_number() OVER (ORDER BY x." KEY ", x.id) AS rank " \
	"      FROM " TBL " x " \
	"     WHERE x.owner = o.owner AND " PRED \
	"       AND NOT EXISTS (SELECT 1 FROM lagbid.tick_failure f WHERE f.entity = '" ENTITY "' " \
	"                         AND f.entity_id = x.id AND f.next_retry_at > $1) " \
	"     ORDER BY x." KEY ", x.id LIMIT share.per) w " \
	"WHERE o.owner IS NOT NULL " \
	"ORDER BY w.rank, w.k, w.id LIMIT $2"

static LagbidPlan expiring_plan = {
	FAIR_LIST("lagbid.space", "space", "x.state = 'active' AND x.reserved_until <= $1",
			  "reserved_until"),
	2, {TIMESTAMPTZOID, INT4OID}, NULL, true
};

static LagbidPlan changed_plan = {
	FAIR_LIST("lagbid.space", "space", "x.changed AND x.state = 'active'", "id"),
	2, {TIMESTAMPTZOID, INT4OID}, NULL, true
};

static LagbidPlan deadline_plan = {
	FAIR_LIST("lagbid.task", "task", "x.state = 'accepting_bids' AND x.bidding_deadline <= $1",
			  "bidding_deadline"),
	2, {TIMESTAMPTZOID, INT4OID}, NULL, true
};

/* due: every job reported, or the processing deadline passed */
static LagbidPlan due_plan = {
	FAIR_LIST("lagbid.task", "task",
			  "x.state = 'processing' AND (x.jobs_pending = 0 OR x.processing_deadline <= $1)",
			  "processing_deadline"),
	2, {TIMESTAMPTZOID, INT4OID}, NULL, true
};

/* service leases due: a window closed, reserved_until, a startup timeout, a grace */
static LagbidPlan lease_due_plan = {
	FAIR_LIST("lagbid.lease", "lease", "x.due_at <= $1", "due_at"),
	2, {TIMESTAMPTZOID, INT4OID}, NULL, true
};

static LagbidPlan lease_schema_plan = {
	"SELECT to_regclass('lagbid.lease') IS NOT NULL",
	0, {InvalidOid}
};

/*
 * Count the silent probers (settlement.c) without waiting: a provider row
 * another transaction holds leaves them for the next tick.
 */
static void
count_misses_nowait(void)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		lagbid_count_missed_probes(true);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

static void
run_list(LagbidPlan *list, TickAction fn, const char *entity, const char *action,
		 TimestampTz now, TickCounts *c)
{
	Datum		args[2];
	int64	   *ids;
	int			n,
				i;

	args[0] = TimestampTzGetDatum(now);
	args[1] = Int32GetDatum(lagbid_tick_batch_size);
	lagbid_connect();
	lagbid_exec(list, args, NULL, false, 0);
	n = SPI_processed;
	ids = SPI_palloc(sizeof(int64) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(lagbid_result_datum(i, 1, &isnull));
	}
	lagbid_finish();

	for (i = 0; i < n; i++)
		run_guarded(fn, entity, action, ids[i], now, c);
	pfree(ids);
}

/* ---- one tick at a time ---- */

static LagbidPlan schema_plan = {
	"SELECT pg_catalog.to_regclass('lagbid.tick_state') IS NOT NULL",
	0, {InvalidOid}
};

static LagbidPlan tick_lock_plan = {
	"SELECT 1 FROM lagbid.tick_state WHERE id = 1 FOR NO KEY UPDATE SKIP LOCKED",
	0, {InvalidOid}
};

/* the row, locked or not (a plain read never waits) */
static LagbidPlan tick_row_exists_plan = {
	"SELECT EXISTS (SELECT 1 FROM lagbid.tick_state WHERE id = 1)",
	0, {InvalidOid}
};

/* the row is gone (a TRUNCATE): make it, holding it as its inserter */
static LagbidPlan tick_row_plan = {
	"INSERT INTO lagbid.tick_state (id) VALUES (1) ON CONFLICT (id) DO NOTHING RETURNING id",
	0, {InvalidOid}
};

/* a plain insert (never waits); returns the skips in a row and the last run */
static LagbidPlan record_skip_plan = {
	"WITH s AS (INSERT INTO lagbid.tick_skip (at) VALUES ($1)) "
	"SELECT (SELECT count(*) FROM lagbid.tick_skip)::int + 1, "
	"       (SELECT last_run_at FROM lagbid.tick_state WHERE id = 1)",
	1, {TIMESTAMPTZOID}
};

static LagbidPlan any_failure_plan = {
	"SELECT EXISTS (SELECT 1 FROM lagbid.tick_failure)",
	0, {InvalidOid}
};

static LagbidPlan ran_plan = {
	"WITH gone AS (DELETE FROM lagbid.tick_skip) "
	"UPDATE lagbid.tick_state SET last_run_at = $1, last_result = $2 WHERE id = 1",
	2, {TIMESTAMPTZOID, JSONBOID}
};

static Datum
json_result(const char *json)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
}

/*
 * Take the tick's lock, the row of lagbid.tick_state (which no role but the
 * extension's owner may lock), without waiting.  When another transaction
 * holds it, record the skip and return false; from the TICK_SKIP_WARN-th
 * skip in a row on, say so with a WARNING.  Caller is inside SPI.
 */
static bool
take_tick_lock(TimestampTz now)
{
	Datum		args[1];
	int32		skips;
	bool		isnull;
	TimestampTz last_run;

	lagbid_exec(&tick_lock_plan, NULL, NULL, false, 0);
	if (SPI_processed == 1)
		return true;
	lagbid_exec(&tick_row_exists_plan, NULL, NULL, true, 0);
	if (!DatumGetBool(lagbid_result_datum(0, 1, &isnull)))
	{
		lagbid_exec(&tick_row_plan, NULL, NULL, false, 0);
		if (SPI_processed == 1)
			return true;
	}

	args[0] = TimestampTzGetDatum(now);
	lagbid_exec(&record_skip_plan, args, NULL, false, 0);
	skips = DatumGetInt32(lagbid_result_datum(0, 1, &isnull));
	last_run = DatumGetTimestampTz(lagbid_result_datum(0, 2, &isnull));
	if (skips >= TICK_SKIP_WARN)
		ereport(WARNING,
				(errmsg("lagbid.tick skipped %d times in a row: another transaction holds the tick lock",
						skips),
				 errdetail("The last completed tick ran at %s.",
						   isnull ? "(never)" : timestamptz_to_str(last_run)),
				 errhint("Look for a long transaction that called lagbid.tick() in pg_stat_activity; "
						 "lagbid.tick_status shows the skips.")));
	return false;
}

PG_FUNCTION_INFO_V1(lagbid_tick);

/* lagbid.tick() RETURNS jsonb */
Datum
lagbid_tick(PG_FUNCTION_ARGS)
{
	TickCounts	c;
	TimestampTz now = lagbid_clock_now();
	char	   *json;
	Datum		result;
	Datum		args[2];
	bool		isnull;

	if (RecoveryInProgress())
		PG_RETURN_DATUM(json_result("{\"standby\": true}"));

	lagbid_connect();
	/* the 0.3 library under 0.2's SQL objects: wait for the update */
	lagbid_exec(&schema_plan, NULL, NULL, true, 0);
	if (!DatumGetBool(lagbid_result_datum(0, 1, &isnull)))
	{
		lagbid_finish();
		ereport(WARNING,
				(errmsg("lagbid.tick does nothing until the extension is updated"),
				 errhint("Run ALTER EXTENSION lagbid UPDATE.")));
		PG_RETURN_DATUM(json_result("{\"skipped\": \"extension not updated\"}"));
	}
	if (!take_tick_lock(now))
	{
		lagbid_finish();
		PG_RETURN_DATUM(json_result("{\"skipped\": \"another tick is running\"}"));
	}
	lagbid_exec(&any_failure_plan, NULL, NULL, true, 0);
	tick_has_failures = DatumGetBool(lagbid_result_datum(0, 1, &isnull));
	lagbid_finish();

	memset(&c, 0, sizeof(c));
	run_list(&expiring_plan, expire_space, "space", "expire", now, &c);
	run_list(&changed_plan, publish_space, "space", "publish", now, &c);
	run_list(&deadline_plan, close_task, "task", "close", now, &c);
	run_list(&due_plan, finalize_task, "task", "finalize", now, &c);
	{
		bool		has_leases;

		lagbid_connect();
		lagbid_exec(&lease_schema_plan, NULL, NULL, true, 1);
		has_leases = DatumGetBool(lagbid_result_datum(0, 1, &isnull));
		lagbid_finish();
		if (has_leases)
		{
			/* the candidate probers once, one notification per prober */
			lagbid_probers_begin();
			settle_leases_batch(now, &c);
			run_list(&lease_due_plan, visit_lease, "lease", "lease", now, &c);
			lagbid_probers_end();
			/* the silent probers of the windows settled, once per provider */
			count_misses_nowait();
		}
	}
	/* pushes left queued (no worker could start): start one */
	lagbid_push_kick();

	json = psprintf("{\"spaces_expired\": %d, \"spaces_published\": %d, \"tasks_superseded\": %d, "
					"\"spaces_unfunded\": %d, \"bidding_closed\": %d, \"allocated\": %d, "
					"\"failed_no_bids\": %d, \"finalized\": %d, \"failed_no_result\": %d, "
					"\"deferred\": %d, \"failed\": %d}",
					c.spaces_expired, c.spaces_published, c.tasks_superseded,
					c.spaces_unfunded, c.bidding_closed, c.allocated,
					c.failed_no_bids, c.finalized, c.failed_no_result, c.deferred,
					c.failed);
	/* 0.4: said when it happened, so that a tick's summary keeps its 0.3 form otherwise */
	if (c.replicas_added > 0)
		json = psprintf("%.*s, \"replicas_added\": %d}", (int) strlen(json) - 1, json,
						c.replicas_added);
	/* issue 21: said when it happened, as above */
	if (c.lease.windows_settled + c.lease.probes_assigned + c.lease.leases_expired +
		c.lease.leases_failed + c.lease.leases_torn_down > 0)
		json = psprintf("%.*s, \"windows_settled\": %d, \"probes_assigned\": %d, "
						"\"leases_expired\": %d, \"leases_failed\": %d, \"leases_torn_down\": %d}",
						(int) strlen(json) - 1, json, c.lease.windows_settled,
						c.lease.probes_assigned, c.lease.leases_expired,
						c.lease.leases_failed, c.lease.leases_torn_down);
	result = json_result(json);

	args[0] = TimestampTzGetDatum(now);
	args[1] = result;
	lagbid_connect();
	lagbid_exec(&ran_plan, args, NULL, false, 0);
	lagbid_finish();
	PG_RETURN_DATUM(result);
}
