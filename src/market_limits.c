/*-------------------------------------------------------------------------
 *
 * market_limits.c
 *	  What one owner may put on the market (issue 16): every task and space
 *	  escrows at least lagbid.min_task_budget (no free publishing), and an
 *	  owner holds at most lagbid.max_open_tasks_per_owner live tasks and
 *	  lagbid.max_spaces_per_owner active spaces.
 *
 *	  Open tasks are counted in lagbid.owner_load (one row per owner: the
 *	  owner's live tasks published with publish_task), raised after the
 *	  task's escrow is paid and lowered when the task completes, fails or is
 *	  cancelled, after its payouts: the row is the last lock a market
 *	  function takes (after lock-order step 5), so it adds no deadlock.  Two
 *	  concurrent publishes of one owner at the cap serialize on the row; the
 *	  second sees the first's count and is refused.  Counting rows instead
 *	  cost O(live tasks) per publish (16 ms at 5,000).
 *
 *	  Active spaces are counted (they are few and each escrows money) under
 *	  the owner's holder account row lock (lock-order step 5, FOR NO KEY
 *	  UPDATE before counting), which serializes two concurrent creations at
 *	  the cap the same way; the count stops at the cap (LIMIT).
 *
 *	  Live workload bytes (issue 19) are counted in lagbid.owner_load too:
 *	  the workload_bytes of the owner's live tasks published with
 *	  publish_task plus those of its active spaces (a space's tasks carry the
 *	  space's workload and are not counted again), at most
 *	  lagbid.max_workload_bytes_per_owner (LB320).  Raised with the task
 *	  count, or by create_space, update_space (the difference) and
 *	  extend_space of an expired space; lowered when such a task ends, a
 *	  space's workload shrinks or the space expires.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"

/* the parsed lagbid.min_task_budget */
static Datum
min_budget(void)
{
	const char *setting = lagbid_min_task_budget_setting;

	if (setting == NULL || setting[0] == '\0')
		return lagbid_num_int(0);
	return DirectFunctionCall3(numeric_in, CStringGetDatum(setting),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/*
 * GUC check hook: a plain decimal >= 0 ("0.01", "5", ".5"), checked by hand
 * so that a bad value in postgresql.conf is reported, never raised.
 */
bool
lagbid_check_min_task_budget(char **newval, void **extra, GucSource source)
{
	const char *p = *newval;
	int			digits = 0;

	if (p == NULL || *p == '\0')
		return true;
	if (*p == '+')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (*p == '\0' && digits > 0 && digits <= 1000)
		return true;
	GUC_check_errdetail("lagbid.min_task_budget must be a decimal number of at least 0, such as 0.01.");
	return false;
}

/* a zero budget is free publishing: refused unless the minimum is 0 */
static bool
budget_allowed(Datum budget, Datum min)
{
	Datum		zero = lagbid_num_int(0);

	return lagbid_num_cmp(budget, min) >= 0 &&
		(lagbid_num_cmp(budget, zero) > 0 || lagbid_num_cmp(min, zero) == 0);
}

bool
lagbid_budget_allowed(Datum budget)
{
	return budget_allowed(budget, min_budget());
}

void
lagbid_check_budget(Datum budget, const char *what, const char *owner)
{
	Datum		min = min_budget();

	if (budget_allowed(budget, min))
		return;
	lagbid_raise(LB_BUDGET_TOO_SMALL,
				 psprintf("The %s's budget (price_max x hours x replicas) is %s; lagbid.min_task_budget is %s.",
						  what, lagbid_num_text(budget), lagbid_num_text(min)),
				 "Raise price_max or the hours.",
				 "%s budget of owner \"%s\" is below the minimum", what, owner);
}

static LagbidPlan lock_owner_plan = {
	"SELECT 1 FROM lagbid.account WHERE id = $1 FOR NO KEY UPDATE",
	1, {INT8OID}
};

static LagbidPlan active_spaces_plan = {
	"SELECT count(*)::int FROM (SELECT 1 FROM lagbid.space "
	"  WHERE owner = $1 AND state = 'active' LIMIT $2) AS active",
	2, {TEXTOID, INT4OID}
};

/* lock the owner's account and count up to limit rows of plan */
static int32
count_under_owner_lock(LagbidPlan *plan, const char *owner, int64 owner_account, int limit)
{
	Datum		args[2];
	bool		isnull;
	int32		n;

	lagbid_connect();
	args[0] = Int64GetDatum(owner_account);
	lagbid_exec(&lock_owner_plan, args, NULL, false, 0);
	args[0] = CStringGetTextDatum(owner);
	args[1] = Int32GetDatum(limit);
	lagbid_exec(plan, args, NULL, false, 0);
	n = DatumGetInt32(lagbid_result_datum(0, 1, &isnull));
	lagbid_finish();
	return n;
}

/*
 * Whether lagbid.owner_load exists: not under 0.2's SQL objects, which the
 * 0.3 library serves until ALTER EXTENSION lagbid UPDATE (two syscache
 * probes).
 */
static bool
owner_load_exists(void)
{
	Oid			nsp = get_namespace_oid("lagbid", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("owner_load", nsp));
}

/*
 * Whether lagbid.owner_load counts workload bytes: not before ALTER
 * EXTENSION lagbid UPDATE to 0.4 (three syscache probes).
 */
static bool
owner_load_counts_bytes(void)
{
	Oid			nsp = get_namespace_oid("lagbid", true);
	Oid			rel;

	if (!OidIsValid(nsp))
		return false;
	rel = get_relname_relid("owner_load", nsp);
	return OidIsValid(rel) && get_attnum(rel, "workload_bytes") != InvalidAttrNumber;
}

static LagbidPlan task_added_plan = {
	"INSERT INTO lagbid.owner_load AS o (owner, live_tasks) VALUES ($1, 1) "
	"ON CONFLICT (owner) DO UPDATE SET live_tasks = o.live_tasks + 1 "
	"RETURNING live_tasks",
	1, {TEXTOID}
};

static LagbidPlan task_done_plan = {
	"UPDATE lagbid.owner_load SET live_tasks = greatest(live_tasks - 1, 0) WHERE owner = $1",
	1, {TEXTOID}
};

/* a task ends: its workload no longer counts (0.4's schema) */
static LagbidPlan task_done_bytes_plan = {
	"UPDATE lagbid.owner_load SET live_tasks = greatest(live_tasks - 1, 0), "
	"       workload_bytes = greatest(workload_bytes - coalesce( "
	"           (SELECT t.workload_bytes FROM lagbid.task t WHERE t.id = $2), 0), 0) "
	"WHERE owner = $1",
	2, {TEXTOID, INT8OID}
};

static LagbidPlan workload_changed_plan = {
	"INSERT INTO lagbid.owner_load AS o (owner, workload_bytes) VALUES ($1, greatest($2, 0)) "
	"ON CONFLICT (owner) DO UPDATE SET workload_bytes = greatest(o.workload_bytes + $2, 0) "
	"RETURNING workload_bytes",
	2, {TEXTOID, INT8OID}
};

static LagbidPlan prelock_owner_plan = {
	"SELECT 1 FROM lagbid.owner_load WHERE owner = $1 FOR NO KEY UPDATE NOWAIT",
	1, {TEXTOID}
};

void
lagbid_owner_task_added(const char *owner)
{
	Datum		args[1];
	bool		isnull;
	int32		live;
	int			limit = lagbid_max_open_tasks_per_owner;

	if (!owner_load_exists())
		return;
	args[0] = CStringGetTextDatum(owner);
	lagbid_connect();
	lagbid_exec(&task_added_plan, args, NULL, false, 0);
	live = DatumGetInt32(lagbid_result_datum(0, 1, &isnull));
	lagbid_finish();
	if (live > limit)
		lagbid_raise(LB_OWNER_LIMIT_REACHED,
					 psprintf("Owner \"%s\" has %d live tasks (created, accepting bids, bid closed or processing).",
							  owner, live - 1),
					 "Wait for tasks to finish, or cancel some; the limit is lagbid.max_open_tasks_per_owner.",
					 "owner \"%s\" has reached the limit of %d open tasks", owner, limit);
}

void
lagbid_owner_task_done(LagbidTask *t)
{
	Datum		args[1];

	Datum		args2[2];

	if (t->space_id != 0 || !owner_load_exists())
		return;
	args2[0] = args[0] = CStringGetTextDatum(t->owner);
	args2[1] = Int64GetDatum(t->id);
	lagbid_connect();
	if (owner_load_counts_bytes())
		lagbid_exec(&task_done_bytes_plan, args2, NULL, false, 0);
	else
		lagbid_exec(&task_done_plan, args, NULL, false, 0);
	lagbid_finish();
}

void
lagbid_owner_workload_changed(const char *owner, int64 delta)
{
	Datum		args[2];
	bool		isnull;
	int64		total;
	int			limit = lagbid_max_workload_bytes_per_owner;

	if (delta == 0 || !owner_load_counts_bytes())
		return;
	args[0] = CStringGetTextDatum(owner);
	args[1] = Int64GetDatum(delta);
	lagbid_connect();
	lagbid_exec(&workload_changed_plan, args, NULL, false, 0);
	total = DatumGetInt64(lagbid_result_datum(0, 1, &isnull));
	lagbid_finish();
	if (delta > 0 && total > limit)
		lagbid_raise(LB_OWNER_WORKLOAD_LIMIT,
					 psprintf("Owner \"%s\"'s live tasks and active spaces would carry %lld bytes of workload, %lld of them new.",
							  owner, (long long) total, (long long) delta),
					 "Let tasks finish or cancel some, remove a space's workload, or pass large inputs by uri and sha256; "
					 "the limit is lagbid.max_workload_bytes_per_owner.",
					 "owner \"%s\" has reached the limit of %d bytes of live workloads", owner, limit);
}

void
lagbid_prelock_owner_name_nowait(const char *owner)
{
	Datum		args[1];

	if (!owner_load_counts_bytes())
		return;
	args[0] = CStringGetTextDatum(owner);
	lagbid_connect();
	lagbid_exec(&prelock_owner_plan, args, NULL, false, 0);
	lagbid_finish();
}

void
lagbid_prelock_owner_nowait(LagbidTask *t)
{
	Datum		args[1];

	if (t->space_id != 0 || !owner_load_exists())
		return;
	args[0] = CStringGetTextDatum(t->owner);
	lagbid_connect();
	lagbid_exec(&prelock_owner_plan, args, NULL, false, 0);
	lagbid_finish();
}

void
lagbid_check_owner_spaces(const char *owner, int64 owner_account)
{
	int			limit = lagbid_max_spaces_per_owner;

	if (count_under_owner_lock(&active_spaces_plan, owner, owner_account, limit) >= limit)
		lagbid_raise(LB_OWNER_LIMIT_REACHED,
					 psprintf("Owner \"%s\" has %d active spaces.", owner, limit),
					 "Let a space expire first; the limit is lagbid.max_spaces_per_owner.",
					 "owner \"%s\" has reached the limit of %d active spaces", owner, limit);
}
