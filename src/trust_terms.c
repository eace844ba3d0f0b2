/*-------------------------------------------------------------------------
 *
 * trust_terms.c
 *	  The trust terms of tasks and spaces (issue 20): collateral_ratio,
 *	  min_reputation and allocation as publish_task, create_space and
 *	  update_space take them, and the one place that knows whether the
 *	  installed schema has them.
 *
 *	  After a package upgrade the 0.4 library runs the 0.3 (or older) SQL
 *	  definitions until ALTER EXTENSION lagbid UPDATE: their tables have no
 *	  trust columns, their functions no trust arguments.  Then every task is
 *	  a plain one.  The answer is looked up once (two syscache probes) and
 *	  kept until the bid table's relcache entry is invalidated, as the
 *	  update's ALTER TABLE does (the pattern of holders.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/attnum.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "trust.h"

static int	trust_state = -1;	/* -1 unknown, else 0/1 */
static Oid	bid_relid = InvalidOid;
static bool callback_registered = false;

static void
forget_schema(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == bid_relid || !OidIsValid(bid_relid))
		trust_state = -1;
}

bool
lagbid_trust_schema(void)
{
	if (trust_state < 0)
	{
		Oid			nsp = get_namespace_oid("lagbid", true);

		if (!callback_registered)
		{
			CacheRegisterRelcacheCallback(forget_schema, (Datum) 0);
			callback_registered = true;
		}
		bid_relid = OidIsValid(nsp) ? get_relname_relid("bid", nsp) : InvalidOid;
		trust_state = OidIsValid(bid_relid)
			&& get_attnum(bid_relid, "bond") != InvalidAttrNumber;
	}
	return trust_state == 1;
}

/* a numeric datum that is set and above zero */
bool
lagbid_num_positive(Datum n)
{
	return n != (Datum) 0 && lagbid_num_cmp(n, lagbid_num_int(0)) > 0;
}

/*
 * publish_task's min_reputation (>= 0, finite; NULL or absent: 0) and
 * allocation ('lowest_ask' or 'reliability'; NULL or absent: lowest_ask)
 */
void
lagbid_task_trust_args(FunctionCallInfo fcinfo, LagbidTaskSpec *spec)
{
	int			n;
	bool		given;

	spec->collateral_ratio = lagbid_collateral_ratio_arg(fcinfo, true, &given);
	n = lagbid_named_arg(fcinfo, "min_reputation");
	if (n >= 0 && !PG_ARGISNULL(n))
	{
		spec->min_reputation = lagbid_check_numeric(PG_GETARG_DATUM(n), false, "min_reputation", true);
		if (lagbid_num_cmp(spec->min_reputation, lagbid_num_int(1000000000)) > 0)
			lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
						 "min_reputation %s is above the limit of 1000000000",
						 lagbid_num_text(spec->min_reputation));
	}
	n = lagbid_named_arg(fcinfo, "allocation");
	if (n >= 0 && !PG_ARGISNULL(n))
	{
		char	   *a = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(n), 32, "allocation");

		if (strcmp(a, "reliability") == 0)
			spec->reliability = true;
		else if (strcmp(a, "lowest_ask") != 0)
			lagbid_raise(LB_INVALID_ARGUMENT, NULL,
						 "Allocation is \"lowest_ask\" (the default) or \"reliability\".",
						 "unknown allocation \"%s\"", a);
	}
}

static LagbidPlan task_terms_plan = {
	"UPDATE lagbid.task SET collateral_ratio = $2, min_reputation = $3, allocation = $4 "
	"WHERE id = $1",
	4, {INT8OID, NUMERICOID, NUMERICOID, TEXTOID}
};

/*
 * Store a new task's trust terms; a task with the defaults (no collateral,
 * no minimum, lowest ask) is not written again.
 */
void
lagbid_task_trust_store(int64 task_id, LagbidTaskSpec *spec)
{
	Datum		args[4];

	/* a 0.3 schema has no such terms (nor arguments: only the default ratio) */
	if (!lagbid_trust_schema() ||
		(!lagbid_num_positive(spec->collateral_ratio) &&
		 !lagbid_num_positive(spec->min_reputation) && !spec->reliability))
		return;
	args[0] = Int64GetDatum(task_id);
	args[1] = spec->collateral_ratio ? spec->collateral_ratio : lagbid_num_int(0);
	args[2] = spec->min_reputation ? spec->min_reputation : lagbid_num_int(0);
	args[3] = CStringGetTextDatum(spec->reliability ? "reliability" : "lowest_ask");
	lagbid_connect();
	lagbid_exec(&task_terms_plan, args, NULL, false, 0);
	lagbid_finish();
}

static LagbidPlan space_ratio_plan = {
	"SELECT collateral_ratio FROM lagbid.space WHERE id = $1",
	1, {INT8OID}
};

/* a new space keeps the ratio; the version is not bumped (it is not yet published) */
static LagbidPlan space_set_ratio_plan = {
	"UPDATE lagbid.space SET collateral_ratio = $2 WHERE id = $1",
	2, {INT8OID, NUMERICOID}
};

/* a changed ratio is a change of the space's terms: the next tick republishes */
static LagbidPlan space_change_ratio_plan = {
	"UPDATE lagbid.space SET collateral_ratio = $2, version = version + 1, changed = true, "
	"       updated_at = now() WHERE id = $1 AND collateral_ratio <> $2",
	2, {INT8OID, NUMERICOID}
};

/* the collateral_ratio of a space (0 on a schema without it) */
Datum
lagbid_space_collateral_ratio(int64 space_id)
{
	Datum		args[1];
	Datum		r;
	bool		isnull;

	if (!lagbid_trust_schema())
		return lagbid_num_int(0);
	args[0] = Int64GetDatum(space_id);
	lagbid_connect();
	/*
	 * Not read-only: a fresh snapshot.  The caller has the space locked, and
	 * a space created by a transaction that committed after this
	 * statement's snapshot was taken is locked but not in that snapshot
	 * (the torture run found "space 7 does not exist" that way).
	 */
	lagbid_exec(&space_ratio_plan, args, NULL, false, 1);
	if (SPI_processed == 0)
		elog(ERROR, "lagbid: space %lld does not exist", (long long) space_id);
	r = SPI_datumTransfer(lagbid_result_datum(0, 1, &isnull), false, -1);
	lagbid_finish();
	return r;
}

/*
 * Set a space's collateral_ratio: at creation (is_change false: nothing is
 * published yet) or by update_space (the next tick republishes it when the
 * ratio differs).  Returns whether a row changed.
 */
bool
lagbid_space_set_collateral_ratio(int64 space_id, Datum ratio, bool is_change)
{
	Datum		args[2];
	bool		changed;

	if (!lagbid_trust_schema() || (!is_change && !lagbid_num_positive(ratio)))
		return false;
	args[0] = Int64GetDatum(space_id);
	args[1] = ratio;
	lagbid_connect();
	lagbid_exec(is_change ? &space_change_ratio_plan : &space_set_ratio_plan, args, NULL, false, 0);
	changed = SPI_processed > 0;
	lagbid_finish();
	return changed;
}
