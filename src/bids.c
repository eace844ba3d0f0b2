/*-------------------------------------------------------------------------
 *
 * bids.c
 *	  Placing and withdrawing bids: every market rule checked under the
 *	  task's row lock, in one transaction.
 *
 *	  lagbid.place_bid checks, in this order: the task exists; a live bid
 *	  of this provider on the task (rule 5: the same price returns its id,
 *	  another price is refused); the task accepts bids and its window is
 *	  open; the provider exists, its region and resources match (rule 4);
 *	  it has a free slot (rule 1, slots.c); the ask lies in [price_min,
 *	  price_max] (rule 3: after rule 4, so that a provider the task is not
 *	  open to cannot probe its price range).  Refusals say no more about
 *	  the task than lagbid_api.open_tasks() shows that provider.  Then the bid is inserted, the task's bid count
 *	  goes up, and the bid that reaches bid_limit closes bidding (rule 2),
 *	  allocating at once when the task has auto_allocate.  On a task with
 *	  collateral the bid's bond is held on the provider's account by the
 *	  same statement that inserts the bid (collateral.c).
 *
 *	  The bid herd (issue 22): when hundreds of agents bid on one task at
 *	  once, all but bid_limit of them are refused.  Before taking the task's
 *	  row lock, place_bid reads the task in a fresh snapshot (task_glance.c,
 *	  an index fetch without SPI: every bid pays for it): when that shows
 *	  the task closed (the bid that reaches the limit closes bidding in its
 *	  own transaction) or its window over, and shows no live bid of this
 *	  provider on it (whose retry must get its id back), the bid is refused
 *	  (LB302) at once, without queueing on the lock or leaving a row
 *	  version.  A task that still looks open goes to the locked checks,
 *	  which decide every race as before.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "rules/resource_rules.h"
#include "states.h"
#include "trust.h"

static LagbidPlan live_bid_plan = {
	"SELECT id, price FROM lagbid.bid "
	"WHERE task_id = $1 AND provider_id = $2 AND state IN ('open', 'won')",
	2, {INT8OID, INT8OID}
};

/* rule 1 and the provider's row for rule 4 in one statement (the hot path) */
static LagbidPlan take_match_plan = {
	"UPDATE lagbid.provider SET slots_used = slots_used + 1 "
	"WHERE id = $1 AND state = 'active' AND slots_used < max_concurrent "
	"RETURNING region, cpu, memory_gb, storage_gb, gpu, gpu_count, node_id",
	1, {INT8OID}
};

static LagbidPlan provider_plan = {
	"SELECT region, cpu, memory_gb, storage_gb, gpu, gpu_count, node_id FROM lagbid.provider WHERE id = $1",
	1, {INT8OID}
};

static LagbidPlan insert_bid_plan = {
	"INSERT INTO lagbid.bid (task_id, provider_id, price, placed_at) "
	"VALUES ($1, $2, $3, $4) RETURNING id",
	4, {INT8OID, INT8OID, NUMERICOID, TIMESTAMPTZOID}
};

static LagbidPlan count_plan = {
	"UPDATE lagbid.task SET bid_count = bid_count + $2 WHERE id = $1",
	2, {INT8OID, INT4OID}
};

/*
 * Rule 4 on the provider row in SPI_tuptable (region, cpu, memory_gb,
 * storage_gb, gpu, gpu_count, node_id): raises LB402 or LB403.
 */
static void
check_match(LagbidTask *t, int64 provider_id)
{
	bool		isnull;
	char	   *region;
	LagbidResText need,
				have;
	const char *missing;
	char	   *detail;

	region = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (!lagbid_region_matches(t->region, region))
		lagbid_raise(LB_REGION_MISMATCH,
					 psprintf("The provider is in region \"%s\".", region),
					 "lagbid_api.open_tasks() lists the tasks this provider may bid on.",
					 "provider %lld may not bid on task %lld: region mismatch",
					 (long long) provider_id, (long long) t->id);

	/* the resource part of rule 4 is src/rules/resource_rules.c, the agent's too */
	need.cpu = lagbid_num_text(t->cpu);
	need.memory_gb = lagbid_num_text(t->memory_gb);
	need.storage_gb = lagbid_num_text(t->storage_gb);
	need.gpu = t->gpu;
	need.gpu_count = t->gpu_count;
	have.cpu = lagbid_num_text(lagbid_result_datum(0, 2, &isnull));
	have.memory_gb = lagbid_num_text(lagbid_result_datum(0, 3, &isnull));
	have.storage_gb = lagbid_num_text(lagbid_result_datum(0, 4, &isnull));
	have.gpu = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	have.gpu_count = DatumGetInt32(lagbid_result_datum(0, 6, &isnull));
	missing = lagbid_res_shortfall(&need, &have);
	if (missing == NULL)
		return;
	if (strcmp(missing, "gpu") == 0)
		detail = psprintf("The provider has gpu %s%s%s.", have.gpu ? "\"" : "",
						  have.gpu ? have.gpu : "none", have.gpu ? "\"" : "");
	else if (strcmp(missing, "gpu_count") == 0)
		detail = psprintf("The provider has %d gpus.", have.gpu_count);
	else
		detail = psprintf("The provider has %s %s.", missing,
						  strcmp(missing, "cpu") == 0 ? have.cpu :
						  strcmp(missing, "memory_gb") == 0 ? have.memory_gb : have.storage_gb);
	lagbid_raise(LB_RESOURCES_INSUFFICIENT, detail,
				 "lagbid_api.open_tasks() lists the tasks this provider may bid on.",
				 "provider %lld may not bid on task %lld: %s %s",
				 (long long) provider_id, (long long) t->id,
				 strcmp(missing, "gpu") == 0 ? "wrong" : "not enough", missing);
}

PG_FUNCTION_INFO_V1(lagbid_place_bid);

/* lagbid.place_bid(task_id bigint, provider_id bigint, price numeric) RETURNS bigint */
Datum
lagbid_place_bid(PG_FUNCTION_ARGS)
{
	int64		task_id,
				provider_id,
				bid_id;
	Datum		price;
	LagbidTask	t;
	Datum		args[4];
	TimestampTz now;
	bool		closes;
	bool		counted;
	Datum		bond;
	char	   *node_id;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "task_id must not be NULL");
	if (PG_ARGISNULL(1))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "provider_id must not be NULL");
	task_id = PG_GETARG_INT64(0);
	provider_id = PG_GETARG_INT64(1);
	price = lagbid_check_numeric(PG_GETARG_DATUM(2), PG_ARGISNULL(2), "price", true);

	/* the herd's fast refusal, before the lock (see the head of this file) */
	now = lagbid_clock_now();
	switch (lagbid_task_glance(task_id, now))
	{
		case GLANCE_NO_TASK:
			lagbid_raise(LB_TASK_NOT_FOUND, NULL, NULL,
						 "task %lld does not exist", (long long) task_id);
			break;
		case GLANCE_CLOSED:
			/* a live bid of this provider: its retry is answered under the lock */
			lagbid_connect();
			args[0] = Int64GetDatum(task_id);
			args[1] = Int64GetDatum(provider_id);
			lagbid_exec(&live_bid_plan, args, NULL, false, 1);
			if (SPI_processed == 0)
				lagbid_raise(LB_BIDDING_NOT_OPEN, NULL,
							 "lagbid_api.open_tasks() lists the tasks this provider may bid on.",
							 "task %lld is not accepting bids", (long long) task_id);
			lagbid_finish();
			break;
		case GLANCE_OPEN:
		case GLANCE_UNKNOWN:
			break;
	}

	/* lock-order step 1, counting this bid already (rule 2); refusals roll it back */
	counted = lagbid_lock_task_counting_bid(task_id, &t);

	lagbid_connect();

	/* rule 5: one live bid per provider per task; a retry gets its id back */
	args[0] = Int64GetDatum(task_id);
	args[1] = Int64GetDatum(provider_id);
	lagbid_exec(&live_bid_plan, args, NULL, false, 1);
	if (SPI_processed > 0)
	{
		bool		isnull;
		int64		live_id = DatumGetInt64(lagbid_result_datum(0, 1, &isnull));
		Datum		live_price = lagbid_result_datum(0, 2, &isnull);

		if (lagbid_num_cmp(live_price, price) == 0)
		{
			/* a retry: the live bid is counted already */
			if (counted)
			{
				args[1] = Int32GetDatum(-1);
				lagbid_exec(&count_plan, args, NULL, false, 0);
			}
			lagbid_finish();
			PG_RETURN_INT64(live_id);
		}
		lagbid_raise(LB_DUPLICATE_BID,
					 psprintf("Bid %lld asks %s.", (long long) live_id,
							  lagbid_num_text(live_price)),
					 "Withdraw that bid first to bid another price.",
					 "provider %lld already bid on task %lld at another price",
					 (long long) provider_id, (long long) task_id);
	}

	if (t.state != TASK_ACCEPTING_BIDS)
		lagbid_raise(LB_BIDDING_NOT_OPEN, NULL,
					 "lagbid_api.open_tasks() lists the tasks this provider may bid on.",
					 "task %lld is not accepting bids", (long long) task_id);
	if (t.has_bidding_deadline && now >= t.bidding_deadline)
		lagbid_raise(LB_BIDDING_NOT_OPEN, NULL,
					 "lagbid_api.open_tasks() lists the tasks this provider may bid on.",
					 "task %lld is not accepting bids", (long long) task_id);


	/*
	 * Rule 2: this bid reaches the limit.  With auto_allocate the close
	 * allocates at once and releases the losers' slots: lock every bidder's
	 * provider row now, in id order, before taking our own slot, so that
	 * provider rows are only ever locked in ascending id by one transaction.
	 */
	closes = (t.bid_count >= t.bid_limit);
	/* a round of extra replicas (election.c) always allocates */
	if (closes && (t.auto_allocate || t.allocated))
		lagbid_lock_bidders(task_id, provider_id);

	/*
	 * Rule 1 takes a slot with a conditional UPDATE that also returns what
	 * rule 4 compares; a mismatch raises and rolls the slot back.  When no
	 * slot was taken, rule 4 is still judged first, then take_slot says why
	 * (suspended, or at its limit).
	 */
	args[0] = Int64GetDatum(provider_id);
	lagbid_exec(&take_match_plan, args, NULL, false, 0);
	if (SPI_processed == 1)
	{
		check_match(&t, provider_id);
		node_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7);
	}
	else
	{
		lagbid_exec(&provider_plan, args, NULL, false, 1);
		if (SPI_processed == 0)
			lagbid_raise(LB_PROVIDER_NOT_FOUND, NULL, NULL,
						 "provider %lld does not exist", (long long) provider_id);
		check_match(&t, provider_id);
		node_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7);
		lagbid_take_slot(provider_id);
	}
	/* the task's min_reputation (issue 20), once it is open to this provider */
	lagbid_check_reputation(&t, provider_id);

	/*
	 * Rule 3, once rule 4 has said the provider may see the task: a provider
	 * the task is not open to learns nothing of its price range (issue 16).
	 */
	if (lagbid_num_cmp(price, t.price_min) < 0 || lagbid_num_cmp(price, t.price_max) > 0)
		lagbid_raise(LB_PRICE_OUT_OF_RANGE,
					 psprintf("The ask is %s.", lagbid_num_text(price)),
					 "lagbid_api.open_tasks() shows the price range of the tasks this provider may bid on.",
					 "bid on task %lld is outside its price range",
					 (long long) task_id);
	lagbid_event_reason("placed");
	bond = lagbid_bond_of(&t, price);
	if (bond != (Datum) 0)
	{
		/* a collateral task: the bid and its bond's hold (LB502 when short) */
		bid_id = lagbid_bid_insert_bonded(&t, provider_id, node_id, price, bond, now,
										  closes && t.auto_allocate);
	}
	else
	{
		args[0] = Int64GetDatum(task_id);
		args[1] = Int64GetDatum(provider_id);
		args[2] = price;
		args[3] = TimestampTzGetDatum(now);
		lagbid_exec(&insert_bid_plan, args, NULL, false, 0);
		if (!lagbid_result_int64(1, &bid_id))
			elog(ERROR, "lagbid: bid not created");
	}

	if (closes)
		lagbid_close_bidding_locked(&t, "bid_limit_reached", true);

	lagbid_finish();
	PG_RETURN_INT64(bid_id);
}

static LagbidPlan bid_task_plan = {
	"SELECT task_id FROM lagbid.bid WHERE id = $1",
	1, {INT8OID}
};

static LagbidPlan lock_bid_plan = {
	"SELECT state::text, provider_id FROM lagbid.bid WHERE id = $1 FOR NO KEY UPDATE",
	1, {INT8OID}
};

static LagbidPlan withdraw_plan = {
	"UPDATE lagbid.bid SET state = 'withdrawn', decided_at = $2, reason = 'withdrawn' WHERE id = $1",
	2, {INT8OID, TIMESTAMPTZOID}
};

PG_FUNCTION_INFO_V1(lagbid_withdraw_bid);

/* lagbid.withdraw_bid(bid_id bigint) — only while open; frees the slot */
Datum
lagbid_withdraw_bid(PG_FUNCTION_ARGS)
{
	int64		bid_id,
				task_id,
				provider_id;
	LagbidTask	t;
	Datum		args[2];
	bool		isnull;
	char	   *state;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "bid_id must not be NULL");
	bid_id = PG_GETARG_INT64(0);

	lagbid_connect();
	args[0] = Int64GetDatum(bid_id);
	lagbid_exec(&bid_task_plan, args, NULL, false, 1);
	if (!lagbid_result_int64(1, &task_id))
		lagbid_raise(LB_BID_NOT_FOUND, NULL, NULL,
					 "bid %lld does not exist", (long long) bid_id);

	/* lock order: the task first, then the bid */
	lagbid_lock_task(task_id, false, &t);
	lagbid_exec(&lock_bid_plan, args, NULL, false, 1);
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	provider_id = DatumGetInt64(lagbid_result_datum(0, 2, &isnull));
	if (strcmp(state, "open") != 0)
		lagbid_raise(LB_BID_NOT_OPEN, NULL,
					 strcmp(state, "won") == 0 ?
					 "A won bid has a job: give it up with lagbid.fail_job()." : NULL,
					 "bid %lld cannot be withdrawn: it is %s", (long long) bid_id, state);

	args[1] = TimestampTzGetDatum(lagbid_clock_now());
	lagbid_event_reason("withdrawn");
	lagbid_exec(&withdraw_plan, args, NULL, false, 0);
	args[0] = Int64GetDatum(task_id);
	args[1] = Int32GetDatum(-1);
	lagbid_exec(&count_plan, args, NULL, false, 0);
	lagbid_release_slots(&provider_id, 1);
	lagbid_bonds_release(&t, &bid_id, 1);
	lagbid_finish();
	PG_RETURN_VOID();
}
