/*-------------------------------------------------------------------------
 *
 * spaces.c
 *	  Spaces: a user's long-lived app, paid for by reserved hours and
 *	  converted to a task by the minutely tick whenever it changes.
 *
 *	  Money: creating or extending a space moves hours x price_max x
 *	  replicas from the owner into the space's escrow; raising price_max
 *	  tops the escrow up for the hours left.  A task published from a space
 *	  is funded by that escrow (its duration is the reserved time left, cut
 *	  to what the escrow can pay at price_max) and refunds into it; when the
 *	  reservation expires the escrow's balance returns to the owner.
 *
 *	  lagbid.create_space, lagbid.update_space, lagbid.extend_space,
 *	  lagbid.trigger_space, and the trigger that marks a space changed.
 *
 *	  Lock order: the space row comes before everything of market.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "leases.h"
#include "states.h"
#include "trust.h"

#define MAX_HOURS		87600
#define MAX_REPLICAS	100

#define SPACE_COLUMNS \
	"SELECT s.owner, s.resources, s.price_min, s.price_max, s.region, s.replicas, " \
	"       s.state::text, s.version, s.current_task_id, s.escrow_account_id, " \
	"       s.reserved_until, trim_scale(extract(epoch FROM s.reserved_until - $2) / 3600), " \
	"       a.balance, j.row ->> 'workload_sha256', (j.row ->> 'workload_bytes')::int, " \
	"       coalesce(j.row -> 'workload', 'null') <> 'null', " \
	"       coalesce(j.row ->> 'kind', 'batch') = 'service' " \
	"FROM lagbid.space s JOIN lagbid.account a ON a.id = s.escrow_account_id " \
	"     CROSS JOIN LATERAL to_jsonb(s) AS j(row) " \
	"WHERE s.id = $1 "

static LagbidPlan lock_space_plan = {
	SPACE_COLUMNS "FOR NO KEY UPDATE OF s",
	2, {INT8OID, TIMESTAMPTZOID}
};

static LagbidPlan lock_space_skip_plan = {
	SPACE_COLUMNS "FOR NO KEY UPDATE OF s SKIP LOCKED",
	2, {INT8OID, TIMESTAMPTZOID}
};

bool
lagbid_lock_space(int64 space_id, bool skip_locked, LagbidSpace *s)
{
	Datum		args[2];
	bool		isnull;
	char	   *state;

	args[0] = Int64GetDatum(space_id);
	args[1] = TimestampTzGetDatum(lagbid_clock_now());
	lagbid_connect();
	lagbid_exec(skip_locked ? &lock_space_skip_plan : &lock_space_plan, args, NULL, false, 1);
	if (SPI_processed == 0)
	{
		lagbid_finish();
		if (skip_locked)
			return false;
		lagbid_raise(LB_SPACE_NOT_FOUND, NULL, NULL,
					 "space %lld does not exist", (long long) space_id);
	}
	memset(s, 0, sizeof(*s));
	s->id = space_id;
	s->owner = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	s->owner = strcpy(SPI_palloc(strlen(s->owner) + 1), s->owner);
	/* copied as is: detoasting here would allocate in SPI's memory */
	s->resources = SPI_datumTransfer(lagbid_result_datum(0, 2, &isnull), false, -1);
	s->price_min = SPI_datumTransfer(lagbid_result_datum(0, 3, &isnull), false, -1);
	s->price_max = SPI_datumTransfer(lagbid_result_datum(0, 4, &isnull), false, -1);
	s->region = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	if (s->region)
		s->region = strcpy(SPI_palloc(strlen(s->region) + 1), s->region);
	s->replicas = DatumGetInt32(lagbid_result_datum(0, 6, &isnull));
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7);
	s->expired = strcmp(state, "expired") == 0;
	s->version = DatumGetInt32(lagbid_result_datum(0, 8, &isnull));
	s->current_task_id = DatumGetInt64(lagbid_result_datum(0, 9, &isnull));
	if (isnull)
		s->current_task_id = 0;
	s->escrow_account_id = DatumGetInt64(lagbid_result_datum(0, 10, &isnull));
	s->reserved_until = DatumGetTimestampTz(lagbid_result_datum(0, 11, &isnull));
	s->remaining_hours = SPI_datumTransfer(lagbid_result_datum(0, 12, &isnull), false, -1);
	s->escrow_balance = SPI_datumTransfer(lagbid_result_datum(0, 13, &isnull), false, -1);
	/* the workload by digest (read through to_jsonb: absent before 0.4) */
	s->workload_sha256 = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 14);
	if (s->workload_sha256)
		s->workload_sha256 = strcpy(SPI_palloc(strlen(s->workload_sha256) + 1), s->workload_sha256);
	s->workload_bytes = DatumGetInt32(lagbid_result_datum(0, 15, &isnull));
	if (isnull)
		s->workload_bytes = 0;
	s->workload_in_row = DatumGetBool(lagbid_result_datum(0, 16, &isnull));
	s->service = DatumGetBool(lagbid_result_datum(0, 17, &isnull));
	lagbid_finish();
	return true;
}

/* ---- publishing a space as a task ---- */

static LagbidPlan published_plan = {
	"UPDATE lagbid.space SET current_task_id = $2, published_version = version, "
	"       changed = false, updated_at = now() WHERE id = $1",
	2, {INT8OID, INT8OID}
};

static LagbidPlan unchanged_plan = {
	"UPDATE lagbid.space SET changed = false WHERE id = $1",
	1, {INT8OID}
};

static Datum
numeric_trunc4(Datum n)
{
	return DirectFunctionCall1(numeric_trim_scale, DirectFunctionCall2(numeric_trunc, n, Int32GetDatum(4)));
}

int64
lagbid_publish_space_locked(LagbidSpace *s, bool skip_locked, bool *superseded)
{
	LagbidTaskSpec spec;
	Datum		duration;
	Datum		zero = lagbid_num_int(0);
	Datum		args[2];
	Datum		per_hour;
	int64		task_id;
	Interval	window = {10 * 60 * USECS_PER_SEC, 0, 0};

	*superseded = false;

	/*
	 * A 0.3 schema (this library before ALTER EXTENSION lagbid UPDATE) keeps
	 * the body in the space's row, where a task cannot name it: refuse
	 * rather than publish the space's task without its workload (the tick
	 * records the failure and retries).
	 */
	if (s->workload_in_row)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("space %lld keeps its workload as lagbid 0.3 did", (long long) s->id),
				 errhint("Run ALTER EXTENSION lagbid UPDATE: 0.4 stores workloads by digest.")));

	/* supersede the previous version's task while it is still open */
	if (s->current_task_id)
	{
		LagbidTask	old;

		if (!lagbid_lock_task(s->current_task_id, skip_locked, &old))
			return 0;			/* busy: the next tick retries */
		if (old.state == TASK_CREATED || old.state == TASK_ACCEPTING_BIDS ||
			old.state == TASK_BID_CLOSED)
		{
			if (skip_locked)
				lagbid_prelock_task_nowait(&old);
			lagbid_end_task_locked(&old, TASK_CANCELLED, "superseded");
			*superseded = true;
			s->escrow_balance = lagbid_account_balance(s->escrow_account_id);
		}
	}

	/* duration: the reserved time left, cut to what the escrow can pay */
	duration = numeric_trunc4(s->remaining_hours);
	per_hour = lagbid_num_mul(s->price_max, lagbid_num_int(s->replicas));
	if (lagbid_num_cmp(per_hour, zero) > 0)
	{
		/* rounded down, exactly: the budget never exceeds the escrow (issue 16) */
		Datum		affordable = lagbid_num_div_floor(s->escrow_balance, per_hour, 4);

		if (lagbid_num_cmp(affordable, duration) < 0)
			duration = affordable;
	}
	args[0] = Int64GetDatum(s->id);
	if (lagbid_num_cmp(duration, zero) <= 0 ||
		!lagbid_budget_allowed(lagbid_num_mul(per_hour, duration)))
	{
		/* nothing left to run on: wait for extend_space */
		lagbid_connect();
		lagbid_exec(&unchanged_plan, args, NULL, false, 0);
		lagbid_finish();
		lagbid_notify(HOLDER_OWNER, s->owner, "space_unfunded", 0, 0, 0,
					  psprintf("{\"space_id\": %lld}", (long long) s->id));
		return -1;
	}

	memset(&spec, 0, sizeof(spec));
	spec.owner = s->owner;
	spec.resources = DatumGetJsonbP(s->resources);
	lagbid_parse_resources(spec.resources, "space resources", &spec.res);
	spec.price_min = s->price_min;
	spec.price_max = s->price_max;
	spec.duration_hours = duration;
	spec.region = s->region;
	spec.replicas = s->replicas;
	spec.bid_limit = Max(10, s->replicas);
	spec.bidding_window = IntervalPGetDatum(&window);
	spec.auto_allocate = true;
	spec.open = true;
	spec.funding_account = s->escrow_account_id;
	spec.space_id = s->id;
	spec.space_version = s->version;
	/*
	 * the space's workload, validated and stored when it was set, runs in
	 * each of its tasks: the task names it by digest, the body is not copied
	 */
	spec.workload_sha256 = s->workload_sha256;
	spec.workload_bytes = s->workload_bytes;
	/* and under its collateral terms (issue 20) */
	spec.collateral_ratio = lagbid_space_collateral_ratio(s->id);
	/* and as the kind of work it is (issue 21) */
	spec.service = s->service;
	task_id = lagbid_publish(&spec);

	args[1] = Int64GetDatum(task_id);
	lagbid_connect();
	lagbid_exec(&published_plan, args, NULL, false, 0);
	lagbid_finish();
	s->current_task_id = task_id;
	return task_id;
}

/* ---- expiry ---- */

static LagbidPlan expire_plan = {
	"UPDATE lagbid.space SET state = 'expired', changed = false, updated_at = now() WHERE id = $1",
	1, {INT8OID}
};

bool
lagbid_expire_space_locked(LagbidSpace *s, bool skip_locked)
{
	int64		owner_account;

	if (s->current_task_id)
	{
		LagbidTask	t;

		if (!lagbid_lock_task(s->current_task_id, skip_locked, &t))
			return false;
		/* a running task finishes first: its refund comes back to the escrow */
		if (t.state == TASK_PROCESSING)
			return false;
		if (t.state == TASK_CREATED || t.state == TASK_ACCEPTING_BIDS ||
			t.state == TASK_BID_CLOSED)
		{
			if (skip_locked)
				lagbid_prelock_task_nowait(&t);
			lagbid_end_task_locked(&t, TASK_CANCELLED, "space_expired");
		}
	}
	owner_account = lagbid_account_id(ACCOUNT_OWNER, s->owner, true);
	if (skip_locked)
	{
		lagbid_prelock_accounts_nowait(s->escrow_account_id, owner_account);
		if (s->workload_bytes > 0)
			lagbid_prelock_owner_name_nowait(s->owner);
	}
	lagbid_transfer("refund", s->escrow_account_id, owner_account,
					lagbid_account_balance(s->escrow_account_id), 0, s->id,
					"space reservation expired: unearned part returned");
	{
		Datum		args[1];

		args[0] = Int64GetDatum(s->id);
		lagbid_connect();
		lagbid_exec(&expire_plan, args, NULL, false, 0);
		lagbid_finish();
	}
	/* an expired space's workload is no longer live */
	lagbid_owner_workload_changed(s->owner, -(int64) s->workload_bytes);
	lagbid_notify(HOLDER_OWNER, s->owner, "space_expired", 0, 0, 0,
				  psprintf("{\"space_id\": %lld}", (long long) s->id));
	return true;
}

/* ---- the SQL functions ---- */

static Datum
hours_arg(FunctionCallInfo fcinfo, int n)
{
	Datum		hours = lagbid_check_numeric(PG_GETARG_DATUM(n), PG_ARGISNULL(n), "hours", false);

	if (lagbid_num_cmp(hours, lagbid_num_int(MAX_HOURS)) > 0)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "hours %s is above the limit of %d", lagbid_num_text(hours), MAX_HOURS);
	return hours;
}

static int64
space_id_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "space_id must not be NULL");
	return PG_GETARG_INT64(0);
}

/*
 * The workload columns are named only when there is a workload, and read
 * through to_jsonb (SPACE_COLUMNS), so that older schemas work with this
 * library until ALTER EXTENSION UPDATE adds them.  The space names its
 * workload by digest; the body is stored once (workload_store.c).
 */
#define CREATE_SPACE(workload_column, workload_value) \
	"INSERT INTO lagbid.space (owner, name, resources, region, price_min, price_max, " \
	"    replicas, hours, reserved_from, reserved_until, created_at" workload_column ") " \
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9 + $8 * interval '1 hour', $9" \
	workload_value ") ON CONFLICT (owner, name) DO NOTHING RETURNING id"

static LagbidPlan create_plan = {
	CREATE_SPACE("", ""),
	9, {TEXTOID, TEXTOID, JSONBOID, TEXTOID, NUMERICOID, NUMERICOID, INT4OID,
	NUMERICOID, TIMESTAMPTZOID}
};

static LagbidPlan create_workload_plan = {
	CREATE_SPACE(", workload_sha256, workload_bytes", ", $10, $11"),
	11, {TEXTOID, TEXTOID, JSONBOID, TEXTOID, NUMERICOID, NUMERICOID, INT4OID,
	NUMERICOID, TIMESTAMPTZOID, TEXTOID, INT4OID}
};

static LagbidPlan set_escrow_plan = {
	"UPDATE lagbid.space SET escrow_account_id = $2 WHERE id = $1",
	2, {INT8OID, INT8OID}
};

PG_FUNCTION_INFO_V1(lagbid_create_space);

/*
 * lagbid.create_space(owner, name, resources, price_min, price_max, hours,
 *     region, replicas, workload) RETURNS bigint
 */
Datum
lagbid_create_space(PG_FUNCTION_ARGS)
{
	char	   *owner,
			   *name,
			   *region = NULL;
	Jsonb	   *resources;
	LagbidResources res;
	Datum		price_min,
				price_max,
				hours,
				cost;
	int32		replicas;
	int64		owner_account,
				escrow,
				space_id;
	Jsonb	   *workload;
	char	   *workload_sha256 = NULL;
	int32		workload_bytes = 0;
	Datum		values[11];
	char		nulls[11];
	Datum		ratio;
	bool		ratio_given;
	bool		service;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "owner must not be NULL");
	owner = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(0), 128, "owner");
	lagbid_check_name(owner, "owner");
	if (PG_ARGISNULL(1))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "name must not be NULL");
	name = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(1), 128, "name");
	lagbid_check_name(name, "name");
	if (PG_ARGISNULL(2))
		lagbid_raise(LB_INVALID_RESOURCES, NULL, NULL, "resources must not be NULL");
	resources = PG_GETARG_JSONB_P(2);
	lagbid_parse_resources(resources, "space resources", &res);
	price_min = lagbid_check_numeric(PG_GETARG_DATUM(3), PG_ARGISNULL(3), "price_min", true);
	price_max = lagbid_check_numeric(PG_GETARG_DATUM(4), PG_ARGISNULL(4), "price_max", true);
	lagbid_check_price_range(price_min, price_max);
	hours = hours_arg(fcinfo, 5);
	if (!PG_ARGISNULL(6))
	{
		region = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(6), 64, "region");
		lagbid_check_region(region, true);
	}
	replicas = PG_ARGISNULL(7) ? 1 : PG_GETARG_INT32(7);
	if (replicas < 1 || replicas > MAX_REPLICAS)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "replicas must be between 1 and %d, not %d", MAX_REPLICAS, replicas);
	workload = lagbid_workload_arg(fcinfo, 8);
	ratio = lagbid_collateral_ratio_arg(fcinfo, true, &ratio_given);
	service = lagbid_kind_arg(fcinfo);
	lagbid_check_kind(service, workload, false, replicas, "space");

	/* the reservation: hours x price_max x replicas, refused before any write */
	cost = lagbid_num_mul(lagbid_num_mul(hours, price_max), lagbid_num_int(replicas));
	lagbid_check_budget(cost, "space", owner);
	owner_account = lagbid_account_id(ACCOUNT_OWNER, owner, true);
	lagbid_check_owner_spaces(owner, owner_account);
	lagbid_require_funds(owner_account, cost);

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(owner);
	values[1] = CStringGetTextDatum(name);
	values[2] = JsonbPGetDatum(resources);
	if (region)
		values[3] = CStringGetTextDatum(region);
	else
		nulls[3] = 'n';
	values[4] = price_min;
	values[5] = price_max;
	values[6] = Int32GetDatum(replicas);
	values[7] = hours;
	values[8] = TimestampTzGetDatum(lagbid_clock_now());
	if (workload)
	{
		lagbid_store_workload(workload, &workload_sha256, &workload_bytes);
		values[9] = CStringGetTextDatum(workload_sha256);
		values[10] = Int32GetDatum(workload_bytes);
	}
	lagbid_connect();
	lagbid_exec(workload ? &create_workload_plan : &create_plan, values, nulls, false, 0);
	if (!lagbid_result_int64(1, &space_id))
		lagbid_raise(LB_SPACE_EXISTS, NULL,
					 "Update it with lagbid.update_space() or choose another name.",
					 "owner \"%s\" already has a space named \"%s\"", owner, name);
	escrow = lagbid_account_id(ACCOUNT_ESCROW, psprintf("space:%lld", (long long) space_id), true);
	values[0] = Int64GetDatum(space_id);
	values[1] = Int64GetDatum(escrow);
	lagbid_exec(&set_escrow_plan, values, NULL, false, 0);
	lagbid_space_set_collateral_ratio(space_id, ratio, false);
	if (service)
		lagbid_store_kind(true, space_id);
	lagbid_transfer("escrow", owner_account, escrow, cost, 0, space_id,
					"space reservation: hours x price_max x replicas");
	lagbid_finish();
	/* last lock: the owner's live workload bytes, capped */
	lagbid_owner_workload_changed(owner, workload_bytes);
	PG_RETURN_INT64(space_id);
}

static LagbidPlan update_plan = {
	"UPDATE lagbid.space SET resources = $2, price_min = $3, price_max = $4, "
	"       region = $5, updated_at = now() WHERE id = $1",
	5, {INT8OID, JSONBOID, NUMERICOID, NUMERICOID, TEXTOID}
};

/* a new workload, by digest (an unchanged one is not republished) */
static LagbidPlan update_workload_plan = {
	"UPDATE lagbid.space SET resources = $2, price_min = $3, price_max = $4, "
	"       region = $5, workload_sha256 = $6, workload_bytes = $7, updated_at = now() "
	"WHERE id = $1",
	7, {INT8OID, JSONBOID, NUMERICOID, NUMERICOID, TEXTOID, TEXTOID, INT4OID}
};

PG_FUNCTION_INFO_V1(lagbid_update_space);

/*
 * lagbid.update_space(space_id, resources, price_min, price_max, region,
 * workload): NULL keeps a value; a workload of JSON null removes it.  Raising price_max tops the escrow up from the owner
 * for the reserved hours left.  The trigger marks the space changed.
 */
Datum
lagbid_update_space(PG_FUNCTION_ARGS)
{
	int64		space_id = space_id_arg(fcinfo);
	LagbidSpace s;
	Jsonb	   *resources;
	Datum		price_min,
				price_max;
	char	   *region;
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	LagbidResources res;
	bool		new_workload = PG_NARGS() > 5 && !PG_ARGISNULL(5);
	Jsonb	   *workload = NULL;
	char	   *workload_sha256 = NULL;
	int32		workload_bytes = 0;
	bool		ratio_given;
	Datum		ratio = lagbid_collateral_ratio_arg(fcinfo, false, &ratio_given);

	if (PG_ARGISNULL(1) && PG_ARGISNULL(2) && PG_ARGISNULL(3) && PG_ARGISNULL(4) &&
		!new_workload && !ratio_given)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL,
					 "Pass at least one of resources, price_min, price_max, region, workload, collateral_ratio.",
					 "update_space was given nothing to change");
	lagbid_lock_space(space_id, false, &s);

	resources = PG_ARGISNULL(1) ? DatumGetJsonbP(s.resources) : PG_GETARG_JSONB_P(1);
	lagbid_parse_resources(resources, "space resources", &res);
	price_min = PG_ARGISNULL(2) ? s.price_min
		: lagbid_check_numeric(PG_GETARG_DATUM(2), false, "price_min", true);
	price_max = PG_ARGISNULL(3) ? s.price_max
		: lagbid_check_numeric(PG_GETARG_DATUM(3), false, "price_max", true);
	lagbid_check_price_range(price_min, price_max);
	region = PG_ARGISNULL(4) ? s.region
		: lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(4), 64, "region");
	lagbid_check_region(region, true);
	if (new_workload)
	{
		/* JSON null removes the workload */
		workload = PG_GETARG_JSONB_P(5);
		if (JB_ROOT_IS_SCALAR(workload) && JB_ROOT_COUNT(workload) == 1)
		{
			JsonbValue	v;

			if (JsonbExtractScalar(&workload->root, &v) && v.type == jbvNull)
				workload = NULL;
		}
		if (workload)
			lagbid_check_workload(workload);
		/* a service stays a service: its workload keeps "service" (issue 21) */
		lagbid_check_kind(s.service, workload, false, s.replicas, "space");
	}
	/* a space that pays nothing per hour would publish free tasks */
	if (lagbid_num_cmp(price_max, s.price_max) != 0 &&
		lagbid_num_cmp(price_max, lagbid_num_int(0)) == 0)
		lagbid_check_budget(price_max, "space", s.owner);

	/* a higher price_max is paid for the hours left */
	if (!s.expired && lagbid_num_cmp(price_max, s.price_max) > 0 &&
		lagbid_num_cmp(s.remaining_hours, lagbid_num_int(0)) > 0)
	{
		Datum		topup = lagbid_num_mul(lagbid_num_mul(lagbid_num_sub(price_max, s.price_max),
														  s.remaining_hours),
										   lagbid_num_int(s.replicas));
		int64		owner_account = lagbid_account_id(ACCOUNT_OWNER, s.owner, true);

		/* rounded down: the owner never pays more than the exact top-up */
		topup = DirectFunctionCall2(numeric_trunc, topup, Int32GetDatum(6));
		lagbid_transfer("escrow", owner_account, s.escrow_account_id, topup, 0, space_id,
						"space price_max raised: top-up for the hours left");
	}

	values[0] = Int64GetDatum(space_id);
	values[1] = JsonbPGetDatum(resources);
	values[2] = price_min;
	values[3] = price_max;
	if (region)
		values[4] = CStringGetTextDatum(region);
	else
		nulls[4] = 'n';
	if (workload)
	{
		lagbid_store_workload(workload, &workload_sha256, &workload_bytes);
		values[5] = CStringGetTextDatum(workload_sha256);
		values[6] = Int32GetDatum(workload_bytes);
	}
	else
		nulls[5] = nulls[6] = 'n';
	lagbid_connect();
	lagbid_exec(new_workload ? &update_workload_plan : &update_plan, values, nulls, false, 0);
	lagbid_finish();
	/* last lock: an active space's live workload bytes change by the difference */
	if (new_workload && !s.expired)
		lagbid_owner_workload_changed(s.owner, (int64) workload_bytes - s.workload_bytes);
	if (ratio_given)
		lagbid_space_set_collateral_ratio(space_id, ratio, true);
	PG_RETURN_VOID();
}

static LagbidPlan extend_active_plan = {
	"UPDATE lagbid.space SET hours = hours + $2, "
	"       reserved_until = reserved_until + $2 * interval '1 hour', updated_at = now() "
	"WHERE id = $1",
	2, {INT8OID, NUMERICOID}
};

static LagbidPlan extend_expired_plan = {
	"UPDATE lagbid.space SET hours = hours + $2, state = 'active', changed = false, "
	"       reserved_from = $3, reserved_until = $3 + $2 * interval '1 hour', updated_at = now() "
	"WHERE id = $1",
	3, {INT8OID, NUMERICOID, TIMESTAMPTZOID}
};

PG_FUNCTION_INFO_V1(lagbid_extend_space);

/*
 * lagbid.extend_space(space_id, hours) — pays hours x price_max x replicas
 * more.  An expired space becomes active again from now, but is not
 * republished until trigger_space (or an update) asks for it.
 */
Datum
lagbid_extend_space(PG_FUNCTION_ARGS)
{
	int64		space_id = space_id_arg(fcinfo);
	Datum		hours = hours_arg(fcinfo, 1);
	LagbidSpace s;
	Datum		cost;
	Datum		args[3];
	int64		owner_account;
	bool		lapsed;

	lagbid_lock_space(space_id, false, &s);
	cost = lagbid_num_mul(lagbid_num_mul(hours, s.price_max), lagbid_num_int(s.replicas));
	owner_account = lagbid_account_id(ACCOUNT_OWNER, s.owner, true);
	lagbid_transfer("escrow", owner_account, s.escrow_account_id, cost, 0, space_id,
					"space extended: hours x price_max x replicas");

	/* a reservation that ran out (expired, or due to expire) restarts now */
	lapsed = s.expired || lagbid_num_cmp(s.remaining_hours, lagbid_num_int(0)) <= 0;
	args[0] = Int64GetDatum(space_id);
	args[1] = hours;
	args[2] = TimestampTzGetDatum(lagbid_clock_now());
	lagbid_connect();
	lagbid_exec(lapsed ? &extend_expired_plan : &extend_active_plan, args, NULL, false, 0);
	lagbid_finish();
	/* a service's live lease runs on: its time and money move, nothing is redeployed */
	if (s.service && !lapsed)
		lagbid_lease_extend_space(space_id, hours, s.price_max, s.escrow_account_id);
	/* an expired space is live again: its workload counts */
	if (s.expired)
		lagbid_owner_workload_changed(s.owner, s.workload_bytes);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(lagbid_trigger_space);

/* lagbid.trigger_space(space_id) RETURNS bigint — publish now */
Datum
lagbid_trigger_space(PG_FUNCTION_ARGS)
{
	int64		space_id = space_id_arg(fcinfo);
	LagbidSpace s;
	bool		superseded;
	int64		task_id;

	lagbid_lock_space(space_id, false, &s);
	if (s.expired || lagbid_num_cmp(s.remaining_hours, lagbid_num_int(0)) <= 0)
		lagbid_raise(LB_SPACE_EXPIRED,
					 psprintf("Its reservation ended at %s.", timestamptz_to_str(s.reserved_until)),
					 "Extend it with lagbid.extend_space(), then trigger it.",
					 "space %lld has no reserved hours left", (long long) space_id);
	task_id = lagbid_publish_space_locked(&s, false, &superseded);
	if (task_id < 0)
		lagbid_raise(LB_INSUFFICIENT_FUNDS, NULL,
					 "Extend the space with lagbid.extend_space().",
					 "space %lld's escrow cannot pay for another task", (long long) space_id);
	PG_RETURN_INT64(task_id);
}

/* ---- the trigger ---- */

PG_FUNCTION_INFO_V1(lagbid_space_changed);

/*
 * BEFORE UPDATE trigger on lagbid.space: when what a task is made of
 * (resources, prices, region, replicas, workload) changes, bump the version and mark
 * the space changed, so that the next tick publishes it.
 */
Datum
lagbid_space_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	oldtup,
				newtup;
	static const char *const watched[] = {"resources", "price_min", "price_max", "region", "replicas", "workload", "workload_sha256"};
	bool		changed = false;
	int			i;
	int			cols[2];
	Datum		vals[2];
	bool		nulls[2] = {false, false};
	bool		isnull;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		elog(ERROR, "lagbid_space_changed: must be a BEFORE UPDATE row trigger");

	desc = RelationGetDescr(trigdata->tg_relation);
	oldtup = trigdata->tg_trigtuple;
	newtup = trigdata->tg_newtuple;
	for (i = 0; i < lengthof(watched) && !changed; i++)
	{
		int			att = SPI_fnumber(desc, watched[i]);
		bool		n1,
					n2;
		Datum		d1,
					d2;
		Form_pg_attribute a;

		if (att <= 0)
			continue;			/* workload: not in a 0.2 schema, workload_sha256
								 * not before 0.4 */
		d1 = heap_getattr(oldtup, att, desc, &n1);
		d2 = heap_getattr(newtup, att, desc, &n2);
		a = TupleDescAttr(desc, att - 1);
		if (n1 != n2 || (!n1 && !datumIsEqual(d1, d2, a->attbyval, a->attlen)))
			changed = true;
	}
	if (!changed)
		return PointerGetDatum(newtup);

	cols[0] = SPI_fnumber(desc, "version");
	cols[1] = SPI_fnumber(desc, "changed");
	vals[0] = Int32GetDatum(DatumGetInt32(heap_getattr(oldtup, cols[0], desc, &isnull)) + 1);
	vals[1] = BoolGetDatum(true);
	return PointerGetDatum(heap_modify_tuple_by_cols(newtup, desc, 2, cols, vals, nulls));
}
