/*-------------------------------------------------------------------------
 *
 * allocation.c
 *	  Allocating the bidders of a closed task (market rule 3): the owner's
 *	  chosen bids, or the best `replicas` open bids — lowest ask, then the
 *	  higher reputation score (0.4), then the earliest bid; or, on a task
 *	  with allocation => 'reliability', the lowest ask / reliability
 *	  (reputation.c).  Winners get a job each; every other open bid is
 *	  lost, its slot and bond released; all bidders are told.
 *
 *	  lagbid.allocate.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "leases.h"
#include "states.h"
#include "trust.h"

/*
 * the bid_won notice's run terms (a JSON object; its "{" is spliced off):
 * the workload's digest and size, never its body (the winner reads it with
 * lagbid_api.task_workload).  Read through to_jsonb so that older schemas,
 * which have no such columns, work with this library until ALTER EXTENSION
 * UPDATE.
 */
static LagbidPlan run_terms_plan = {
	"SELECT jsonb_build_object('workload_sha256', j.row -> 'workload_sha256', "
	"                          'workload_bytes', j.row -> 'workload_bytes', "
	"                          'resources', t.resources, 'duration_hours', t.duration_hours)::text "
	"FROM lagbid.task t CROSS JOIN LATERAL to_jsonb(t) AS j(row) WHERE t.id = $1",
	1, {INT8OID}
};

typedef struct OpenBid
{
	int64		id;
	int64		provider_id;
	Datum		price;
	TimestampTz placed_at;
	char	   *node_id;
	bool		won;
	Datum		score;			/* the provider's reputation (0 before 0.4's schema) */
} OpenBid;

static LagbidPlan lock_bidders_plan = {
	"SELECT id FROM lagbid.provider WHERE id = ANY (ARRAY "
	"    (SELECT provider_id FROM lagbid.bid WHERE task_id = $1 AND state = 'open') || $2) "
	"ORDER BY id FOR NO KEY UPDATE",
	2, {INT8OID, INT8OID}
};

void
lagbid_lock_bidders(int64 task_id, int64 extra_provider)
{
	Datum		args[2];

	args[0] = Int64GetDatum(task_id);
	args[1] = Int64GetDatum(extra_provider);
	lagbid_connect();
	lagbid_exec(&lock_bidders_plan, args, NULL, false, 0);
	lagbid_finish();
}

static LagbidPlan win_plan = {
	"UPDATE lagbid.bid SET state = 'won', decided_at = $2, reason = 'allocated' "
	"WHERE id = ANY ($1)",
	2, {INT8ARRAYOID, TIMESTAMPTZOID}
};

static LagbidPlan lose_plan = {
	"UPDATE lagbid.bid SET state = 'lost', decided_at = $2, reason = 'not_allocated' "
	"WHERE id = ANY ($1)",
	2, {INT8ARRAYOID, TIMESTAMPTZOID}
};

static LagbidPlan job_plan = {
	"INSERT INTO lagbid.job (task_id, bid_id, provider_id, price, deadline, created_at) "
	"SELECT task_id, id, provider_id, price, $2, $3 FROM lagbid.bid "
	"WHERE id = ANY ($1) ORDER BY id RETURNING id, bid_id",
	3, {INT8ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};

static LagbidPlan processing_plan = {
	"UPDATE lagbid.task SET state = 'processing', allocated_at = $2, "
	"       processing_deadline = $3, bid_count = $4 + $5, jobs_pending = $4 "
	"WHERE id = $1",
	5, {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID, INT4OID}
};

/* the jobs a task holds already (an extra replica's round, election.c) */
static LagbidPlan jobs_held_plan = {
	"SELECT count(*)::int FROM lagbid.job WHERE task_id = $1",
	1, {INT8OID}
};

static LagbidPlan scores_plan = {
	"SELECT id, score FROM lagbid.provider WHERE id = ANY ($1)",
	1, {INT8ARRAYOID}
};

/* ties: the higher score, then earliest placed, then lowest id */
static int
cmp_ties(const OpenBid *x, const OpenBid *y)
{
	int			c = lagbid_num_cmp(y->score, x->score);

	if (c != 0)
		return c;
	if (x->placed_at != y->placed_at)
		return x->placed_at < y->placed_at ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* allocation order: lowest ask, then the ties */
static int
cmp_best(const void *a, const void *b)
{
	const OpenBid *x = a;
	const OpenBid *y = b;
	int			c = lagbid_num_cmp(x->price, y->price);

	return c != 0 ? c : cmp_ties(x, y);
}

/* allocation => 'reliability': lowest ask / reliability, then the ties */
static int
cmp_reliable(const void *a, const void *b)
{
	const OpenBid *x = a;
	const OpenBid *y = b;
	int			c = lagbid_reliability_cmp(x->price, x->score, y->price, y->score);

	return c != 0 ? c : cmp_ties(x, y);
}

static Datum
int64_array(int64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n + 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

int
lagbid_allocate_locked(LagbidTask *t, int64 *bid_ids, int nbids, int64 **job_ids)
{
	Datum		args[5];
	OpenBid    *bids;
	int			n,
				i,
				j,
				nwon = 0,
				nlost = 0;
	int64	   *won_ids,
			   *lost_ids,
			   *lost_providers,
			   *jobs;
	int64	   *job_bid;
	TimestampTz now = lagbid_clock_now();
	TimestampTz deadline;
	char	   *run_terms = "{}";
	int			held = 0,
				wanted;

	lagbid_connect();

	/*
	 * The jobs to allocate: replicas, less the jobs the task holds already
	 * when it gathers extra replicas (its won bids stay won and counted).
	 */
	if (t->allocated)
	{
		bool		isnull;

		args[0] = Int64GetDatum(t->id);
		lagbid_exec(&jobs_held_plan, args, NULL, false, 1);
		held = DatumGetInt32(lagbid_result_datum(0, 1, &isnull));
	}
	wanted = Max(t->replicas - held, 0);
	if (bid_ids != NULL && nbids > wanted)
		lagbid_raise(LB_TOO_MANY_BIDS_ALLOCATED,
					 psprintf("It holds %d jobs already.", held), NULL,
					 "task %lld asks for %d more replica%s; %d bids were given",
					 (long long) t->id, wanted, wanted == 1 ? "" : "s", nbids);

	/* lock-order step 2: every open bid of the task, in id order */
	n = lagbid_lock_open_bids(t->id);
	if (n == 0)
		lagbid_raise(LB_NO_BIDS_TO_ALLOCATE, NULL,
					 "Reopen bidding with lagbid.open_bidding() or cancel the task.",
					 "task %lld has no open bid to allocate", (long long) t->id);
	bids = palloc0(sizeof(OpenBid) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		bids[i].id = DatumGetInt64(lagbid_result_datum(i, 1, &isnull));
		bids[i].provider_id = DatumGetInt64(lagbid_result_datum(i, 2, &isnull));
		bids[i].node_id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
		bids[i].price = lagbid_result_datum(i, 4, &isnull);
		bids[i].placed_at = DatumGetTimestampTz(lagbid_result_datum(i, 5, &isnull));
		bids[i].score = lagbid_num_int(0);
	}

	if (bid_ids == NULL)
	{
		/* the bidders' scores (their rows are locked: lock_bidders or the tick) */
		if (lagbid_trust_schema() && n > 1)
		{
			int64	   *pids = palloc(sizeof(int64) * n);

			for (i = 0; i < n; i++)
				pids[i] = bids[i].provider_id;
			args[0] = int64_array(pids, n);
			lagbid_exec(&scores_plan, args, NULL, true, 0);
			for (j = 0; j < (int) SPI_processed; j++)
			{
				bool		isnull;
				int64		pid = DatumGetInt64(lagbid_result_datum(j, 1, &isnull));
				Datum		score = lagbid_result_datum(j, 2, &isnull);

				for (i = 0; i < n; i++)
					if (bids[i].provider_id == pid)
						bids[i].score = score;
			}
		}
		qsort(bids, n, sizeof(OpenBid), t->reliability ? cmp_reliable : cmp_best);
		for (i = 0; i < n && i < wanted; i++)
			bids[i].won = true;
	}
	else
	{
		for (j = 0; j < nbids; j++)
		{
			bool		found = false;

			for (i = 0; i < n; i++)
			{
				if (bids[i].id == bid_ids[j])
				{
					if (bids[i].won)
						lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
									 "bid %lld is listed twice", (long long) bid_ids[j]);
					bids[i].won = true;
					found = true;
					break;
				}
			}
			if (!found)
				lagbid_raise(LB_BID_NOT_ON_TASK, NULL,
							 "Only open bids on the task can be allocated.",
							 "bid %lld is not an open bid on task %lld",
							 (long long) bid_ids[j], (long long) t->id);
		}
	}

	won_ids = palloc(sizeof(int64) * n);
	lost_ids = palloc(sizeof(int64) * n);
	lost_providers = palloc(sizeof(int64) * n);
	for (i = 0; i < n; i++)
	{
		if (bids[i].won)
			won_ids[nwon++] = bids[i].id;
		else
		{
			lost_providers[nlost] = bids[i].provider_id;
			lost_ids[nlost++] = bids[i].id;
		}
	}

	/* deadline: duration_hours plus the grace (lagbid.processing_grace) */
	deadline = now + DatumGetInt64(DirectFunctionCall1(numeric_int8,
													   lagbid_num_mul(t->duration_hours,
																	  lagbid_num_int(USECS_PER_HOUR))));
	deadline += (TimestampTz) lagbid_processing_grace_minutes * 60 * USECS_PER_SEC;

	/* winners: won, with a job each */
	args[0] = int64_array(won_ids, nwon);
	args[1] = TimestampTzGetDatum(now);
	lagbid_event_reason("allocated");
	lagbid_exec(&win_plan, args, NULL, false, 0);
	args[1] = TimestampTzGetDatum(deadline);
	args[2] = TimestampTzGetDatum(now);
	lagbid_exec(&job_plan, args, NULL, false, 0);
	jobs = palloc(sizeof(int64) * (nwon + 1));
	job_bid = palloc(sizeof(int64) * (nwon + 1));
	for (i = 0; i < (int) SPI_processed; i++)
	{
		bool		isnull;

		jobs[i] = DatumGetInt64(lagbid_result_datum(i, 1, &isnull));
		job_bid[i] = DatumGetInt64(lagbid_result_datum(i, 2, &isnull));
	}

	/* the others: lost */
	if (nlost > 0)
	{
		args[0] = int64_array(lost_ids, nlost);
		args[1] = TimestampTzGetDatum(now);
		lagbid_event_reason("not_allocated");
		lagbid_exec(&lose_plan, args, NULL, false, 0);
	}

	args[0] = Int64GetDatum(t->id);
	args[1] = TimestampTzGetDatum(now);
	args[2] = TimestampTzGetDatum(deadline);
	args[3] = Int32GetDatum(nwon);
	args[4] = Int32GetDatum(held);
	lagbid_event_reason("allocated");
	lagbid_exec(&processing_plan, args, NULL, false, 0);
	t->state = TASK_PROCESSING;
	t->bid_count = held + nwon;
	t->jobs_pending = nwon;
	t->allocated = true;

	/* lock-order step 4: the losers' providers get their slots back */
	lagbid_release_slots(lost_providers, nlost);
	/* step 5: and their bonds (collateral.c) */
	lagbid_bonds_release(t, lost_ids, nlost, "not_allocated");

	/* what the winners need to run their job: the task's workload and terms */
	if (nwon > 0)
	{
		args[0] = Int64GetDatum(t->id);
		lagbid_exec(&run_terms_plan, args, NULL, false, 1);
		run_terms = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	}

	for (i = 0; i < n; i++)
	{
		int64		job_id = 0;

		for (j = 0; j < nwon; j++)
			if (job_bid[j] == bids[i].id)
				job_id = jobs[j];
		if (bids[i].won)
			lagbid_notify(HOLDER_PROVIDER, bids[i].node_id, "bid_won", t->id, bids[i].id, job_id,
						  psprintf("{\"price\": %s, \"deadline\": \"%s\", %s",
								   lagbid_num_text(bids[i].price),
								   timestamptz_to_str(deadline), run_terms + 1));
		else
			lagbid_notify(HOLDER_PROVIDER, bids[i].node_id, "bid_lost", t->id, bids[i].id, 0,
						  "{\"reason\": \"not_allocated\"}");
	}

	/* a service task's job runs as a lease (leases.c) */
	if (t->service)
		for (i = 0; i < n; i++)
			for (j = 0; j < nwon; j++)
				if (bids[i].won && job_bid[j] == bids[i].id)
					lagbid_lease_create(t, jobs[j], bids[i].provider_id, bids[i].node_id,
										bids[i].price);

	/* job ids in bid order of allocation, copied out of SPI's memory */
	*job_ids = SPI_palloc(sizeof(int64) * (nwon + 1));
	memcpy(*job_ids, jobs, sizeof(int64) * nwon);
	lagbid_finish();
	return nwon;
}

PG_FUNCTION_INFO_V1(lagbid_allocate);

/*
 * lagbid.allocate(task_id bigint, bid_ids bigint[] DEFAULT NULL)
 *     RETURNS SETOF bigint (the job ids)
 *
 * On a task still accepting bids, bidding is closed first (without the
 * automatic allocation, which this call replaces).
 */
Datum
lagbid_allocate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		task_id;
	int64	   *bid_ids = NULL;
	int			nbids = 0;
	int64	   *jobs;
	int			njobs,
				i;
	LagbidTask	t;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "task_id must not be NULL");
	task_id = PG_GETARG_INT64(0);

	if (!PG_ARGISNULL(1))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
		Datum	   *elems;
		bool	   *nulls;

		if (ARR_NDIM(arr) > 1)
			lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "bid_ids must be a one-dimensional array");
		if (ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) > lagbid_max_allocate_ids)
			lagbid_raise(LB_INPUT_TOO_LARGE, NULL, NULL,
						 "bid_ids holds more than %d ids (lagbid.max_allocate_ids)",
						 lagbid_max_allocate_ids);
		deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
						  &elems, &nulls, &nbids);
		if (nbids == 0)
			lagbid_raise(LB_INVALID_ARGUMENT, NULL,
						 "Pass NULL to let lagbid choose the best bids.",
						 "bid_ids must not be empty");
		bid_ids = palloc(sizeof(int64) * nbids);
		for (i = 0; i < nbids; i++)
		{
			if (nulls[i])
				lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "bid_ids must not contain NULL");
			bid_ids[i] = DatumGetInt64(elems[i]);
		}
	}

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	lagbid_lock_task(task_id, false, &t);
	if (bid_ids && nbids > t.replicas)
		lagbid_raise(LB_TOO_MANY_BIDS_ALLOCATED, NULL, NULL,
					 "task %lld asks for %d replicas; %d bids were given",
					 (long long) task_id, t.replicas, nbids);
	if (t.state == TASK_ACCEPTING_BIDS)
		lagbid_close_bidding_locked(&t, "closed_for_allocation", false);
	else if (t.state != TASK_BID_CLOSED)
		lagbid_raise(LB_INVALID_TRANSITION, NULL,
					 "Only a task whose bidding is closed (or open) can be allocated.",
					 "task %lld cannot go from state \"%s\" to \"processing\"",
					 (long long) task_id, lagbid_state_name(MACHINE_TASK, t.state));

	njobs = lagbid_allocate_locked(&t, bid_ids, nbids, &jobs);
	for (i = 0; i < njobs; i++)
	{
		Datum		v = Int64GetDatum(jobs[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &isnull);
	}
	return (Datum) 0;
}
