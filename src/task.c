/*-------------------------------------------------------------------------
 *
 * task.c
 *	  Tasks: publishing with escrow, the bidding window (open, close,
 *	  reopen), cancellation and failure with refunds.
 *
 *	  lagbid.publish_task, lagbid.open_bidding, lagbid.close_bidding,
 *	  lagbid.cancel_task.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "leases.h"
#include "push.h"
#include "states.h"
#include "trust.h"

#define MAX_BID_LIMIT		10000
#define MAX_REPLICAS		100
#define MAX_DURATION_HOURS	87600	/* ten years */

#define TASK_COLUMNS \
	"owner, state::text, price_min, price_max, duration_hours, region, " \
	"cpu, memory_gb, storage_gb, gpu, gpu_count, bid_limit, replicas, " \
	"bid_count, jobs_pending, auto_allocate, escrow_account_id, " \
	"funding_account_id, space_id, leader_job_id, bidding_deadline, " \
	"processing_deadline, allocated_at "

/* 0.4's trust columns (trust.h), read only from a schema that has them */
#define TASK_TRUST_COLUMNS \
	", collateral_ratio, min_reputation, allocation = 'reliability', kind = 'service' "

static LagbidPlan lock_plan = {
	"SELECT " TASK_COLUMNS "FROM lagbid.task WHERE id = $1 FOR NO KEY UPDATE",
	1, {INT8OID}
};

static LagbidPlan lock_skip_plan = {
	"SELECT " TASK_COLUMNS "FROM lagbid.task WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED",
	1, {INT8OID}
};

static LagbidPlan lock_trust_plan = {
	"SELECT " TASK_COLUMNS TASK_TRUST_COLUMNS "FROM lagbid.task WHERE id = $1 FOR NO KEY UPDATE",
	1, {INT8OID}
};

static LagbidPlan lock_skip_trust_plan = {
	"SELECT " TASK_COLUMNS TASK_TRUST_COLUMNS
	"FROM lagbid.task WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED",
	1, {INT8OID}
};

/*
 * place_bid's lock: the row lock and rule 2's counter in one statement.  The
 * count goes up only while the task accepts bids below its limit; a refused
 * bid rolls it back with everything else.
 */
static LagbidPlan lock_count_plan = {
	"UPDATE lagbid.task SET bid_count = CASE WHEN state = 'accepting_bids' AND bid_count < bid_limit "
	"                                        THEN bid_count + 1 ELSE bid_count END "
	"WHERE id = $1 RETURNING " TASK_COLUMNS,
	1, {INT8OID}
};

static LagbidPlan lock_count_trust_plan = {
	"UPDATE lagbid.task SET bid_count = CASE WHEN state = 'accepting_bids' AND bid_count < bid_limit "
	"                                        THEN bid_count + 1 ELSE bid_count END "
	"WHERE id = $1 RETURNING " TASK_COLUMNS TASK_TRUST_COLUMNS,
	1, {INT8OID}
};

static Datum
col_datum(int col, bool *isnull)
{
	return SPI_datumTransfer(lagbid_result_datum(0, col, isnull), false, -1);
}

static char *
col_string(int col)
{
	char	   *s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col);

	if (s == NULL)
		return NULL;
	return strcpy(SPI_palloc(strlen(s) + 1), s);
}

static int64
col_int64(int col)
{
	bool		isnull;
	Datum		d = lagbid_result_datum(0, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

static int32
col_int32(int col)
{
	bool		isnull;
	Datum		d = lagbid_result_datum(0, col, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

static bool
read_task(LagbidPlan *plan, int64 task_id, bool may_skip, LagbidTask *t)
{
	Datum		args[1];
	bool		isnull;
	char	   *state;

	args[0] = Int64GetDatum(task_id);
	lagbid_connect();
	lagbid_exec(plan, args, NULL, false, 1);
	if (SPI_processed == 0)
	{
		lagbid_finish();
		if (may_skip)
			return false;
		lagbid_raise(LB_TASK_NOT_FOUND, NULL, NULL,
					 "task %lld does not exist", (long long) task_id);
	}
	memset(t, 0, sizeof(*t));
	t->id = task_id;
	t->owner = col_string(1);
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	t->state = lagbid_state_from_name(MACHINE_TASK, state);
	t->price_min = col_datum(3, &isnull);
	t->price_max = col_datum(4, &isnull);
	t->duration_hours = col_datum(5, &isnull);
	t->region = col_string(6);
	t->cpu = col_datum(7, &isnull);
	t->memory_gb = col_datum(8, &isnull);
	t->storage_gb = col_datum(9, &isnull);
	t->gpu = col_string(10);
	t->gpu_count = col_int32(11);
	t->bid_limit = col_int32(12);
	t->replicas = col_int32(13);
	t->bid_count = col_int32(14);
	t->jobs_pending = col_int32(15);
	t->auto_allocate = DatumGetBool(lagbid_result_datum(0, 16, &isnull));
	t->escrow_account_id = col_int64(17);
	t->funding_account_id = col_int64(18);
	t->space_id = col_int64(19);
	t->leader_job_id = col_int64(20);
	t->bidding_deadline = DatumGetTimestampTz(lagbid_result_datum(0, 21, &isnull));
	t->has_bidding_deadline = !isnull;
	t->processing_deadline = DatumGetTimestampTz(lagbid_result_datum(0, 22, &isnull));
	t->has_processing_deadline = !isnull;
	(void) lagbid_result_datum(0, 23, &isnull);
	t->allocated = !isnull;
	if (SPI_tuptable->tupdesc->natts >= 26)
	{
		t->collateral_ratio = col_datum(24, &isnull);
		t->min_reputation = col_datum(25, &isnull);
		t->reliability = DatumGetBool(lagbid_result_datum(0, 26, &isnull));
	}
	/* 0.4: a service task (leases.c) */
	if (SPI_tuptable->tupdesc->natts >= 27)
		t->service = DatumGetBool(lagbid_result_datum(0, 27, &isnull));
	lagbid_finish();
	return true;
}

bool
lagbid_lock_task(int64 task_id, bool skip_locked, LagbidTask *t)
{
	if (lagbid_trust_schema())
		return read_task(skip_locked ? &lock_skip_trust_plan : &lock_trust_plan,
						 task_id, skip_locked, t);
	return read_task(skip_locked ? &lock_skip_plan : &lock_plan, task_id, skip_locked, t);
}

bool
lagbid_lock_task_counting_bid(int64 task_id, LagbidTask *t)
{
	read_task(lagbid_trust_schema() ? &lock_count_trust_plan : &lock_count_plan,
			  task_id, false, t);
	return t->state == TASK_ACCEPTING_BIDS;
}

/* ---- publishing ---- */

void
lagbid_check_task_spec(LagbidTaskSpec *spec)
{
	lagbid_check_price_range(spec->price_min, spec->price_max);
	if (lagbid_num_cmp(spec->duration_hours, lagbid_num_int(MAX_DURATION_HOURS)) > 0)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "duration_hours %s is above the limit of %d",
					 lagbid_num_text(spec->duration_hours), MAX_DURATION_HOURS);
	if (spec->bid_limit < 1 || spec->bid_limit > MAX_BID_LIMIT)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "bid_limit must be between 1 and %d, not %d",
					 MAX_BID_LIMIT, spec->bid_limit);
	if (spec->replicas < 1 || spec->replicas > MAX_REPLICAS)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "replicas must be between 1 and %d, not %d",
					 MAX_REPLICAS, spec->replicas);
	if (spec->replicas > spec->bid_limit)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL,
					 "Raise bid_limit to at least replicas.",
					 "replicas (%d) must not exceed bid_limit (%d)",
					 spec->replicas, spec->bid_limit);
	lagbid_check_region(spec->region, true);
}

#define INSERT_TASK \
	"INSERT INTO lagbid.task (owner, resources, cpu, memory_gb, storage_gb, gpu, " \
	"    gpu_count, region, price_min, price_max, duration_hours, bid_limit, " \
	"    replicas, bidding_window, auto_allocate, space_id, space_version, created_at"
#define INSERT_TASK_VALUES \
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, " \
	"        $16, $17, $18"

/*
 * Two statements: a task without a workload never names its columns, so
 * that older schemas keep working with this library until ALTER EXTENSION
 * UPDATE.  A task names its workload by digest (workload_store.c): the
 * body is stored once, and a space's republication copies only the digest.
 */
static LagbidPlan insert_task_plan = {
	INSERT_TASK ") " INSERT_TASK_VALUES ") RETURNING id",
	18, {TEXTOID, JSONBOID, NUMERICOID, NUMERICOID, NUMERICOID, TEXTOID,
		INT4OID, TEXTOID, NUMERICOID, NUMERICOID, NUMERICOID, INT4OID, INT4OID,
		INTERVALOID, BOOLOID, INT8OID, INT4OID, TIMESTAMPTZOID}
};

static LagbidPlan insert_task_workload_plan = {
	INSERT_TASK ", workload_sha256, workload_bytes) " INSERT_TASK_VALUES ", $19, $20) RETURNING id",
	20, {TEXTOID, JSONBOID, NUMERICOID, NUMERICOID, NUMERICOID, TEXTOID,
		INT4OID, TEXTOID, NUMERICOID, NUMERICOID, NUMERICOID, INT4OID, INT4OID,
		INTERVALOID, BOOLOID, INT8OID, INT4OID, TIMESTAMPTZOID, TEXTOID, INT4OID}
};

static LagbidPlan set_accounts_plan = {
	"UPDATE lagbid.task SET escrow_account_id = $2, funding_account_id = $3 WHERE id = $1",
	3, {INT8OID, INT8OID, INT8OID}
};

/*
 * The one statement that puts a task in accepting_bids (publish, open,
 * reopen, a space's republication); providers are told on channel
 * lagbid_tasks.  Publish also sets the task's accounts here ($3, $4; NULL
 * keeps them): one update of the new row instead of two, each of which
 * re-checked both account foreign keys (issue 15).  The same statement
 * queues the task's id for the push worker (push.c): the push names the
 * task only, and providers read its terms from the market (issue 19).
 */
#define OPEN_TASK \
	"UPDATE lagbid.task SET state = 'accepting_bids', opened_at = $2, " \
	"       bidding_deadline = $2 + bidding_window, closed_at = NULL, " \
	"       escrow_account_id = coalesce($3, escrow_account_id), " \
	"       funding_account_id = coalesce($4, funding_account_id) " \
	"WHERE id = $1"

static LagbidPlan open_queued_plan = {
	"WITH t AS (" OPEN_TASK " RETURNING id) "
	"INSERT INTO lagbid.push_queue (channel, id) SELECT '" LAGBID_CHANNEL_TASKS "', id FROM t",
	4, {INT8OID, TIMESTAMPTZOID, INT8OID, INT8OID}
};

/* a schema from before 0.4 (no push queue): NOTIFY at our own commit */
static LagbidPlan open_plan = {
	OPEN_TASK,
	4, {INT8OID, TIMESTAMPTZOID, INT8OID, INT8OID}
};

/*
 * Open bidding on a task (caller inside SPI, row locked) and have providers
 * told on channel lagbid_tasks after the commit, with the task's id only.
 */
static void
open_task(int64 task_id, TimestampTz now, int64 escrow, int64 funding)
{
	Datum		args[4];
	char		nulls[4] = {' ', ' ', escrow ? ' ' : 'n', funding ? ' ' : 'n'};
	bool		queued = lagbid_push_queued();

	args[0] = Int64GetDatum(task_id);
	args[1] = TimestampTzGetDatum(now);
	args[2] = Int64GetDatum(escrow);
	args[3] = Int64GetDatum(funding);
	lagbid_exec(queued ? &open_queued_plan : &open_plan, args, nulls, false, 0);
	if (queued)
		lagbid_push_note();
	else
		Async_Notify(LAGBID_CHANNEL_TASKS,
					 psprintf("{\"task_id\": %lld}", (long long) task_id));
}

/* market.h */
void
lagbid_open_locked(int64 task_id)
{
	lagbid_connect();
	open_task(task_id, lagbid_clock_now(), 0, 0);
	lagbid_finish();
}

int64
lagbid_publish(LagbidTaskSpec *spec)
{
	Datum		values[20];
	char		nulls[20];
	int64		task_id;
	int64		escrow;
	int64		funding;
	Datum		budget;
	TimestampTz now = lagbid_clock_now();

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(spec->owner);
	values[1] = JsonbPGetDatum(spec->resources);
	values[2] = spec->res.cpu;
	values[3] = spec->res.memory_gb;
	values[4] = spec->res.storage_gb;
	if (spec->res.gpu)
		values[5] = CStringGetTextDatum(spec->res.gpu);
	else
		nulls[5] = 'n';
	values[6] = Int32GetDatum(spec->res.gpu_count);
	if (spec->region)
		values[7] = CStringGetTextDatum(spec->region);
	else
		nulls[7] = 'n';
	values[8] = spec->price_min;
	values[9] = spec->price_max;
	values[10] = spec->duration_hours;
	values[11] = Int32GetDatum(spec->bid_limit);
	values[12] = Int32GetDatum(spec->replicas);
	values[13] = spec->bidding_window;
	values[14] = BoolGetDatum(spec->auto_allocate);
	values[15] = Int64GetDatum(spec->space_id);
	nulls[15] = spec->space_id ? ' ' : 'n';
	values[16] = Int32GetDatum(spec->space_version);
	nulls[16] = spec->space_id ? ' ' : 'n';
	values[17] = TimestampTzGetDatum(now);

	/* refuse a budget the funding account cannot pay before writing anything */
	funding = spec->funding_account ? spec->funding_account
		: lagbid_account_id(ACCOUNT_OWNER, spec->owner, true);
	budget = lagbid_num_mul(lagbid_num_mul(spec->price_max, spec->duration_hours),
							lagbid_num_int(spec->replicas));
	lagbid_require_funds(funding, budget);

	/* the body once, by digest; the task row holds the digest and the size */
	if (spec->workload && spec->workload_sha256 == NULL)
		lagbid_store_workload(spec->workload, &spec->workload_sha256, &spec->workload_bytes);
	if (spec->workload_sha256)
	{
		values[18] = CStringGetTextDatum(spec->workload_sha256);
		values[19] = Int32GetDatum(spec->workload_bytes);
	}

	lagbid_event_reason(spec->space_id ? "published from space" : "published");
	lagbid_connect();
	lagbid_exec(spec->workload_sha256 ? &insert_task_workload_plan : &insert_task_plan,
				values, nulls, false, 0);
	if (!lagbid_result_int64(1, &task_id))
		elog(ERROR, "lagbid: task not created");
	lagbid_task_trust_store(task_id, spec);
	if (spec->service)
		lagbid_store_kind(false, task_id);

	/* escrow: price_max x duration_hours x replicas */
	escrow = lagbid_account_id(ACCOUNT_ESCROW, psprintf("task:%lld", (long long) task_id), true);
	lagbid_transfer("escrow", funding, escrow, budget, task_id, spec->space_id,
					"task budget: price_max x duration_hours x replicas");
	if (spec->open)
	{
		lagbid_event_reason("opened");
		open_task(task_id, now, escrow, funding);
	}
	else
	{
		values[0] = Int64GetDatum(task_id);
		values[1] = Int64GetDatum(escrow);
		values[2] = Int64GetDatum(funding);
		lagbid_exec(&set_accounts_plan, values, NULL, false, 0);
	}
	lagbid_finish();
	return task_id;
}

/* ---- closing, cancelling, failing ---- */

static LagbidPlan close_plan = {
	"UPDATE lagbid.task SET state = 'bid_closed', closed_at = $2 WHERE id = $1",
	2, {INT8OID, TIMESTAMPTZOID}
};

static LagbidPlan count_open_bids_plan = {
	"SELECT count(*)::int FROM lagbid.bid WHERE task_id = $1 AND state = 'open'",
	1, {INT8OID}
};

/*
 * The open bids of a locked task: all its counted bids before its first
 * allocation; in an extra replica's round (election.c) the won bids of the
 * jobs already allocated are counted too, so they are counted apart.
 */
static int
open_bid_count(LagbidTask *t)
{
	Datum		args[1];
	bool		isnull;
	int			n;

	if (!t->allocated)
		return t->bid_count;
	args[0] = Int64GetDatum(t->id);
	lagbid_connect();
	lagbid_exec(&count_open_bids_plan, args, NULL, false, 1);
	n = DatumGetInt32(lagbid_result_datum(0, 1, &isnull));
	lagbid_finish();
	return n;
}

void
lagbid_close_bidding_locked(LagbidTask *t, const char *reason, bool allow_auto)
{
	Datum		args[2];
	int			open_bids = allow_auto ? open_bid_count(t) : 0;

	/*
	 * An extra replica's round (election.c) that closes without a bid: no
	 * majority will come, the election gives up (no_consensus).
	 */
	if (allow_auto && t->allocated && open_bids == 0)
	{
		lagbid_election_give_up(t, "no provider bid for the extra replicas");
		return;
	}

	args[0] = Int64GetDatum(t->id);
	args[1] = TimestampTzGetDatum(lagbid_clock_now());
	lagbid_event_reason(reason);
	lagbid_connect();
	lagbid_exec(&close_plan, args, NULL, false, 0);
	lagbid_finish();
	t->state = TASK_BID_CLOSED;

	/* an extra replica's round always allocates: results wait for it */
	if (allow_auto && (t->auto_allocate || t->allocated) && open_bids > 0)
	{
		int64	   *jobs;

		lagbid_allocate_locked(t, NULL, 0, &jobs);
	}
}

static LagbidPlan open_bids_plan = {
	"SELECT b.id, b.provider_id, " LAGBID_NODE_OF("b") ", b.price, b.placed_at "
	"FROM lagbid.bid b "
	"WHERE b.task_id = $1 AND b.state = 'open' ORDER BY b.id FOR NO KEY UPDATE OF b",
	1, {INT8OID}
};

/* market.h */
int
lagbid_lock_open_bids(int64 task_id)
{
	Datum		args[1];

	args[0] = Int64GetDatum(task_id);
	lagbid_exec(&open_bids_plan, args, NULL, false, 0);
	return SPI_processed;
}

/*
 * lagbid_lock_open_bids, read into palloc'd arrays: bid ids, their
 * providers, their providers' node ids.  Caller is inside SPI.
 */
static int
read_open_bids(int64 task_id, int64 **bid_ids, int64 **providers, char ***nodes)
{
	int			n,
				i;

	n = lagbid_lock_open_bids(task_id);
	*bid_ids = palloc(sizeof(int64) * (n + 1));
	*providers = palloc(sizeof(int64) * (n + 1));
	*nodes = palloc(sizeof(char *) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		(*bid_ids)[i] = DatumGetInt64(lagbid_result_datum(i, 1, &isnull));
		(*providers)[i] = DatumGetInt64(lagbid_result_datum(i, 2, &isnull));
		(*nodes)[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
	}
	return n;
}

static LagbidPlan live_jobs_plan = {
	"SELECT j.id, j.provider_id, " LAGBID_NODE_OF("j") ", j.state = 'processing' "
	"FROM lagbid.job j "
	"WHERE j.task_id = $1 AND j.state IN ('processing', 'submitted') "
	"ORDER BY j.id FOR NO KEY UPDATE OF j",
	1, {INT8OID}
};

static LagbidPlan lose_bids_plan = {
	"UPDATE lagbid.bid SET state = 'lost', decided_at = $2, reason = $3 "
	"WHERE task_id = $1 AND state = 'open'",
	3, {INT8OID, TIMESTAMPTZOID, TEXTOID}
};

static LagbidPlan fail_jobs_plan = {
	"UPDATE lagbid.job SET state = 'failed', finished_at = $2, reason = $3 "
	"WHERE task_id = $1 AND state IN ('processing', 'submitted')",
	3, {INT8OID, TIMESTAMPTZOID, TEXTOID}
};

static LagbidPlan end_task_plan = {
	"UPDATE lagbid.task SET state = $2::lagbid.task_state, reason = $3, finished_at = $4, "
	"       bid_count = bid_count - $5, jobs_pending = 0 WHERE id = $1",
	5, {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID}
};

/* refund what is left in the task's escrow to whoever funded it */
static void
refund_escrow(LagbidTask *t, const char *memo)
{
	Datum		left = lagbid_account_balance(t->escrow_account_id);

	lagbid_transfer("refund", t->escrow_account_id, t->funding_account_id,
					left, t->id, t->space_id, memo);
}

void
lagbid_end_task_locked(LagbidTask *t, int to_state, const char *reason)
{
	lagbid_end_task_evidence_locked(t, to_state, reason, NULL);
}

void
lagbid_end_task_evidence_locked(LagbidTask *t, int to_state, const char *reason,
								const char *evidence)
{
	Datum		args[5];
	int64	   *providers;
	char	  **bid_nodes;
	int64	   *bid_ids;
	char	  **job_nodes;
	int64	   *job_ids;
	int			nbids,
				njobs,
				i;
	TimestampTz now = lagbid_clock_now();
	const char *kind = to_state == TASK_CANCELLED ? "task_cancelled" : "task_failed";
	char	   *extra;

	lagbid_connect();
	args[0] = Int64GetDatum(t->id);

	/* lock-order steps 2 and 3: the open bids, then the live jobs */
	nbids = read_open_bids(t->id, &bid_ids, &providers, &bid_nodes);
	lagbid_exec(&live_jobs_plan, args, NULL, false, 0);
	njobs = SPI_processed;
	providers = repalloc(providers, sizeof(int64) * (nbids + njobs + 1));
	job_nodes = palloc(sizeof(char *) * (njobs + 1));
	job_ids = palloc(sizeof(int64) * (njobs + 1));
	for (i = 0; i < njobs; i++)
	{
		bool		isnull;

		job_ids[i] = DatumGetInt64(lagbid_result_datum(i, 1, &isnull));
		providers[nbids + i] = DatumGetInt64(lagbid_result_datum(i, 2, &isnull));
		job_nodes[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
	}

	/* state changes: bids lost, jobs failed, then the task */
	/* bids and jobs say why in the task's terms; the task keeps the owner's words */
	args[1] = TimestampTzGetDatum(now);
	args[2] = CStringGetTextDatum(kind);
	lagbid_event_reason(kind);
	if (nbids > 0)
		lagbid_exec(&lose_bids_plan, args, NULL, false, 0);
	if (njobs > 0)
		lagbid_exec(&fail_jobs_plan, args, NULL, false, 0);
	lagbid_event_reason(reason);
	args[1] = CStringGetTextDatum(lagbid_state_name(MACHINE_TASK, to_state));
	args[2] = CStringGetTextDatum(reason);
	args[3] = TimestampTzGetDatum(now);
	args[4] = Int32GetDatum(nbids);
	lagbid_exec(&end_task_plan, args, NULL, false, 0);
	t->state = to_state;

	/* lock-order step 4: providers; step 5: the accounts */
	lagbid_release_slots(providers, nbids + njobs);
	/*
	 * jobs still live when the task ends this way (waiting through an extra
	 * election round that was cancelled or failed) did nothing wrong: their
	 * bonds go back, their scores stay (outcome.c)
	 */
	for (i = 0; i < njobs; i++)
		lagbid_job_outcome(t, job_ids[i], JOB_OUTCOME_UNDECIDED, NULL, NULL);
	/* the bonds still locked go back (trust.h) */
	lagbid_trust_task_ended(t);
	refund_escrow(t, psprintf("task %s: %s", lagbid_state_name(MACHINE_TASK, to_state), reason));
	/* after the accounts: the owner's live task count */
	lagbid_owner_task_done(t);

	extra = lagbid_json_object1("reason", reason);
	for (i = 0; i < nbids; i++)
		lagbid_notify(HOLDER_PROVIDER, bid_nodes[i], kind, t->id, bid_ids[i], 0, extra);
	for (i = 0; i < njobs; i++)
		lagbid_notify(HOLDER_PROVIDER, job_nodes[i], kind, t->id, 0, job_ids[i], extra);
	lagbid_notify(HOLDER_OWNER, t->owner, kind, t->id, 0, 0,
				  evidence ? lagbid_json_object2("reason", reason, "evidence", evidence) : extra);
	lagbid_finish();
}

/* ---- the SQL functions ---- */

static int64
arg_int64(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "%s must not be NULL", name);
	return PG_GETARG_INT64(n);
}

static void
refuse_state(LagbidTask *t, const char *to)
{
	lagbid_raise(LB_INVALID_TRANSITION, NULL,
				 "lagbid.transitions() lists every allowed transition.",
				 "task %lld cannot go from state \"%s\" to \"%s\"",
				 (long long) t->id, lagbid_state_name(MACHINE_TASK, t->state), to);
}

PG_FUNCTION_INFO_V1(lagbid_publish_task);

/*
 * lagbid.publish_task(owner, resources, price_min, price_max, duration_hours,
 *     region, bid_limit, replicas, bidding_window, auto_allocate, open,
 *     workload) RETURNS bigint
 */
Datum
lagbid_publish_task(PG_FUNCTION_ARGS)
{
	LagbidTaskSpec spec;
	Interval   *window;
	Interval	zero = {0};
	Interval	month = {0, 31, 0};
	int64		task_id;

	memset(&spec, 0, sizeof(spec));
	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "owner must not be NULL");
	spec.owner = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(0), 128, "owner");
	lagbid_check_name(spec.owner, "owner");
	if (PG_ARGISNULL(1))
		lagbid_raise(LB_INVALID_RESOURCES, NULL,
					 "Pass '{}' for a task that needs nothing in particular.",
					 "resources must not be NULL");
	spec.resources = PG_GETARG_JSONB_P(1);
	lagbid_parse_resources(spec.resources, "task resources", &spec.res);
	spec.price_min = lagbid_check_numeric(PG_GETARG_DATUM(2), PG_ARGISNULL(2), "price_min", true);
	spec.price_max = lagbid_check_numeric(PG_GETARG_DATUM(3), PG_ARGISNULL(3), "price_max", true);
	spec.duration_hours = lagbid_check_numeric(PG_GETARG_DATUM(4), PG_ARGISNULL(4), "duration_hours", false);
	spec.region = PG_ARGISNULL(5) ? NULL
		: lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(5), 64, "region");
	spec.bid_limit = PG_ARGISNULL(6) ? 10 : PG_GETARG_INT32(6);
	spec.replicas = PG_ARGISNULL(7) ? 1 : PG_GETARG_INT32(7);
	if (PG_ARGISNULL(8))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "bidding_window must not be NULL");
	window = PG_GETARG_INTERVAL_P(8);
	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(window),
										  IntervalPGetDatum(&zero))) <= 0 ||
		DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(window),
										  IntervalPGetDatum(&month))) > 0)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "bidding_window must be positive and at most 31 days");
	spec.bidding_window = IntervalPGetDatum(window);
	spec.auto_allocate = PG_ARGISNULL(9) ? true : PG_GETARG_BOOL(9);
	spec.open = PG_ARGISNULL(10) ? true : PG_GETARG_BOOL(10);
	spec.workload = lagbid_workload_arg(fcinfo, 11);
	lagbid_task_trust_args(fcinfo, &spec);
	spec.service = lagbid_kind_arg(fcinfo);
	lagbid_check_kind(spec.service, spec.workload, false, spec.replicas, "task");
	lagbid_check_task_spec(&spec);
	lagbid_check_budget(lagbid_num_mul(lagbid_num_mul(spec.price_max, spec.duration_hours),
									   lagbid_num_int(spec.replicas)),
						"task", spec.owner);
	task_id = lagbid_publish(&spec);
	/* after the escrow (lock-order step 5): the owner's live tasks, capped */
	lagbid_owner_task_added(spec.owner);
	lagbid_owner_workload_changed(spec.owner, spec.workload_bytes);
	PG_RETURN_INT64(task_id);
}

PG_FUNCTION_INFO_V1(lagbid_open_bidding);

/*
 * lagbid.open_bidding(task_id) — created -> accepting_bids, or reopen a
 * bid_closed task (its open bids are declined: lost, slots released).
 */
Datum
lagbid_open_bidding(PG_FUNCTION_ARGS)
{
	int64		task_id = arg_int64(fcinfo, 0, "task_id");
	LagbidTask	t;
	Datum		args[3];

	lagbid_lock_task(task_id, false, &t);
	if (t.state != TASK_CREATED && t.state != TASK_BID_CLOSED)
		refuse_state(&t, "accepting_bids");

	lagbid_connect();
	if (t.state == TASK_BID_CLOSED && t.bid_count > 0)
	{
		int64	   *providers;
		int64	   *bid_ids;
		char	  **nodes;
		int			n,
					i;

		n = read_open_bids(task_id, &bid_ids, &providers, &nodes);
		args[0] = Int64GetDatum(task_id);
		args[1] = TimestampTzGetDatum(lagbid_clock_now());
		args[2] = CStringGetTextDatum("bidding_reopened");
		lagbid_event_reason("bidding_reopened");
		lagbid_exec(&lose_bids_plan, args, NULL, false, 0);
		lagbid_release_slots(providers, n);
		lagbid_bonds_release(&t, bid_ids, n, "bidding_reopened");
		for (i = 0; i < n; i++)
			lagbid_notify(HOLDER_PROVIDER, nodes[i], "bid_lost", task_id, bid_ids[i], 0,
						  "{\"reason\": \"bidding_reopened\"}");
	}
	args[0] = Int64GetDatum(task_id);
	lagbid_event_reason(t.state == TASK_CREATED ? "opened" : "reopened");
	open_task(task_id, lagbid_clock_now(), 0, 0);
	{
		/* the open bids are lost; won bids (an extra replica's round) stay counted */
		static LagbidPlan reset_plan = {
			"UPDATE lagbid.task SET bid_count = (SELECT count(*) FROM lagbid.bid b "
			"    WHERE b.task_id = $1 AND b.state IN ('open', 'won')) WHERE id = $1", 1, {INT8OID}
		};

		lagbid_exec(&reset_plan, args, NULL, false, 0);
	}
	lagbid_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(lagbid_close_bidding);

/* lagbid.close_bidding(task_id) — the owner closes bidding (and allocates when auto_allocate) */
Datum
lagbid_close_bidding(PG_FUNCTION_ARGS)
{
	int64		task_id = arg_int64(fcinfo, 0, "task_id");
	LagbidTask	t;

	lagbid_lock_task(task_id, false, &t);
	if (t.state != TASK_ACCEPTING_BIDS)
		lagbid_raise(LB_BIDDING_NOT_OPEN, NULL, NULL,
					 "task %lld is not accepting bids (it is %s)",
					 (long long) task_id, lagbid_state_name(MACHINE_TASK, t.state));
	lagbid_close_bidding_locked(&t, "closed_by_owner", true);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(lagbid_cancel_task);

/* lagbid.cancel_task(task_id, reason) — before processing only; refunds everything */
Datum
lagbid_cancel_task(PG_FUNCTION_ARGS)
{
	int64		task_id = arg_int64(fcinfo, 0, "task_id");
	char	   *reason = "cancelled_by_owner";
	LagbidTask	t;

	if (!PG_ARGISNULL(1))
	{
		reason = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(1), 128, "reason");
		lagbid_check_name(reason, "reason");
	}
	lagbid_lock_task(task_id, false, &t);
	/* a running service: its lease ends now, the teardown ends the task (leases.c) */
	if (t.service && t.state == TASK_PROCESSING)
	{
		lagbid_lease_cancel(&t);
		PG_RETURN_VOID();
	}
	if (t.state != TASK_CREATED && t.state != TASK_ACCEPTING_BIDS &&
		t.state != TASK_BID_CLOSED)
		refuse_state(&t, "cancelled");
	lagbid_end_task_locked(&t, TASK_CANCELLED, reason);
	PG_RETURN_VOID();
}
