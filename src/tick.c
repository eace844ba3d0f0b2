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
 *	  Safe alongside everything else: one tick at a time (a transaction
 *	  advisory lock; a second concurrent tick returns at once), rows locked
 *	  by others are skipped (SKIP LOCKED) and provider and account rows are
 *	  taken with NOWAIT, each task in a subtransaction, so the tick never
 *	  waits on a user's transaction and can never be part of a deadlock.
 *	  What it skipped is counted as "deferred" and done by the next tick.
 *	  On a standby it does nothing.
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
#include "states.h"

/* "lagbid" + "tick" as a 64-bit advisory lock key */
#define TICK_LOCK_KEY	INT64CONST(0x6c616762696474)

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
	int			deferred;
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

/*
 * Run fn in a subtransaction.  A lock that is not available (NOWAIT) rolls
 * the subtransaction back and counts the row as deferred; any other error
 * is a real one and aborts the tick.
 */
static void
run_guarded(TickAction fn, int64 id, TimestampTz now, TickCounts *total)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	TickCounts	c;

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
		memset(&c, 0, sizeof(c));
		c.deferred = 1;
	}
	PG_END_TRY();

	total->spaces_published += c.spaces_published;
	total->tasks_superseded += c.tasks_superseded;
	total->spaces_unfunded += c.spaces_unfunded;
	total->spaces_expired += c.spaces_expired;
	total->bidding_closed += c.bidding_closed;
	total->allocated += c.allocated;
	total->failed_no_bids += c.failed_no_bids;
	total->finalized += c.finalized;
	total->failed_no_result += c.failed_no_result;
	total->deferred += c.deferred;
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
	c->bidding_closed++;
	if (t.state == TASK_PROCESSING)
		c->allocated++;
	return true;
}

static bool
finalize_task(int64 id, TimestampTz now, TickCounts *c)
{
	LagbidTask	t;

	if (!lagbid_lock_task(id, true, &t))
		return false;
	if (t.state != TASK_PROCESSING ||
		(t.jobs_pending > 0 && t.processing_deadline > now))
		return true;
	lagbid_prelock_task_nowait(&t);
	if (lagbid_finalize_locked(&t))
		c->finalized++;
	else
		c->failed_no_result++;
	return true;
}

/* ---- the work lists ---- */

static LagbidPlan expiring_plan = {
	"SELECT id FROM lagbid.space WHERE state = 'active' AND reserved_until <= $1 "
	"ORDER BY reserved_until LIMIT $2",
	2, {TIMESTAMPTZOID, INT4OID}, NULL, true
};

static LagbidPlan changed_plan = {
	"SELECT id FROM lagbid.space WHERE changed AND state = 'active' AND $1 IS NOT NULL "
	"ORDER BY id LIMIT $2",
	2, {TIMESTAMPTZOID, INT4OID}, NULL, true
};

static LagbidPlan deadline_plan = {
	"SELECT id FROM lagbid.task WHERE state = 'accepting_bids' AND bidding_deadline <= $1 "
	"ORDER BY bidding_deadline LIMIT $2",
	2, {TIMESTAMPTZOID, INT4OID}, NULL, true
};

static LagbidPlan due_plan = {
	"(SELECT id FROM lagbid.task WHERE state = 'processing' AND jobs_pending = 0 ORDER BY id LIMIT $2) "
	"UNION "
	"(SELECT id FROM lagbid.task WHERE state = 'processing' AND processing_deadline <= $1 "
	" ORDER BY processing_deadline LIMIT $2)",
	2, {TIMESTAMPTZOID, INT4OID}, NULL, true
};

static void
run_list(LagbidPlan *list, TickAction fn, TimestampTz now, TickCounts *c)
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
		run_guarded(fn, ids[i], now, c);
	pfree(ids);
}

PG_FUNCTION_INFO_V1(lagbid_tick);

/* lagbid.tick() RETURNS jsonb */
Datum
lagbid_tick(PG_FUNCTION_ARGS)
{
	TickCounts	c;
	TimestampTz now = lagbid_clock_now();
	char	   *json;

	if (RecoveryInProgress())
		PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in,
											CStringGetDatum("{\"standby\": true}")));
	if (!DatumGetBool(DirectFunctionCall1(pg_try_advisory_xact_lock_int8,
										  Int64GetDatum(TICK_LOCK_KEY))))
		PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in,
											CStringGetDatum("{\"skipped\": \"another tick is running\"}")));

	memset(&c, 0, sizeof(c));
	run_list(&expiring_plan, expire_space, now, &c);
	run_list(&changed_plan, publish_space, now, &c);
	run_list(&deadline_plan, close_task, now, &c);
	run_list(&due_plan, finalize_task, now, &c);

	json = psprintf("{\"spaces_expired\": %d, \"spaces_published\": %d, \"tasks_superseded\": %d, "
					"\"spaces_unfunded\": %d, \"bidding_closed\": %d, \"allocated\": %d, "
					"\"failed_no_bids\": %d, \"finalized\": %d, \"failed_no_result\": %d, "
					"\"deferred\": %d}",
					c.spaces_expired, c.spaces_published, c.tasks_superseded,
					c.spaces_unfunded, c.bidding_closed, c.allocated,
					c.failed_no_bids, c.finalized, c.failed_no_result, c.deferred);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}
