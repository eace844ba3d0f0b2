/*-------------------------------------------------------------------------
 *
 * election.c
 *	  Results and the leading node (market rule 6): bidders submit or give
 *	  up their jobs; finalize elects the winner — the earliest submission
 *	  whose result hash agrees with the most submissions (ties between
 *	  hashes go to the hash submitted first) — completes the agreeing jobs,
 *	  fails the others, pays every completed job ask x duration_hours from
 *	  the task's escrow exactly once and refunds the rest.
 *
 *	  Uploaded results (results.c) and claimed ones take the same submit
 *	  path and count alike: the election compares result_hash strings only.
 *
 *	  lagbid.submit_result, lagbid.fail_job, lagbid.finalize.
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
#include "states.h"
#include "trust.h"

#define MAX_URI_LEN		2048
#define MAX_HASH_LEN	256

static LagbidPlan job_task_plan = {
	"SELECT task_id FROM lagbid.job WHERE id = $1",
	1, {INT8OID}
};

static LagbidPlan lock_job_plan = {
	"SELECT state::text, provider_id FROM lagbid.job WHERE id = $1 FOR NO KEY UPDATE",
	1, {INT8OID}
};

static LagbidPlan submit_plan = {
	"UPDATE lagbid.job SET state = 'submitted', result_uri = $2, result_hash = $3, "
	"       submitted_at = $4 WHERE id = $1",
	4, {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

static LagbidPlan pending_plan = {
	"UPDATE lagbid.task SET jobs_pending = jobs_pending - 1 WHERE id = $1",
	1, {INT8OID}
};

static LagbidPlan fail_plan = {
	"UPDATE lagbid.job SET state = 'failed', reason = $2, finished_at = $3 WHERE id = $1",
	3, {INT8OID, TEXTOID, TIMESTAMPTZOID}
};

static LagbidPlan any_alive_plan = {
	"SELECT 1 FROM lagbid.job WHERE task_id = $1 AND state <> 'failed' LIMIT 1",
	1, {INT8OID}
};

/*
 * Lock the task of a job and then the job (lock order), check that the job
 * is in one of the wanted states; returns its state and provider.
 */
static int
lock_job(int64 job_id, LagbidTask *t, int64 *provider_id, bool allow_submitted)
{
	Datum		args[1];
	int64		task_id;
	char	   *state;
	bool		isnull;
	int			s;

	args[0] = Int64GetDatum(job_id);
	lagbid_exec(&job_task_plan, args, NULL, false, 1);
	if (!lagbid_result_int64(1, &task_id))
		lagbid_raise(LB_JOB_NOT_FOUND, NULL, NULL, "job %lld does not exist", (long long) job_id);
	lagbid_lock_task(task_id, false, t);
	lagbid_exec(&lock_job_plan, args, NULL, false, 1);
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	*provider_id = DatumGetInt64(lagbid_result_datum(0, 2, &isnull));
	s = lagbid_state_from_name(MACHINE_JOB, state);
	if (!(s == JOB_PROCESSING || (allow_submitted && s == JOB_SUBMITTED)) ||
		t->state != TASK_PROCESSING)
		lagbid_raise(LB_JOB_NOT_ACTIVE, NULL, NULL,
					 "job %lld is %s%s", (long long) job_id, state,
					 allow_submitted ? "" : "; only a processing job takes a result");
	return s;
}

static char *
checked_text(FunctionCallInfo fcinfo, int n, const char *name, int maxlen)
{
	char	   *s;
	const char *p;

	if (PG_ARGISNULL(n))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "%s must not be NULL", name);
	s = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(n), maxlen, name);
	if (s[0] == '\0')
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "%s must not be empty", name);
	for (p = s; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
						 "%s must not contain control characters", name);
	return s;
}

/* market.h: the submit path of submit_result and upload_result */
void
lagbid_submit_job(int64 job_id, const char *uri, const char *hash,
				  bytea *content, const char *sha256_hex)
{
	int64		provider_id;
	LagbidTask	t;
	Datum		args[4];

	lock_job(job_id, &t, &provider_id, false);
	if (content)
		lagbid_store_result(job_id, content, sha256_hex);
	args[0] = Int64GetDatum(job_id);
	args[1] = CStringGetTextDatum(uri);
	args[2] = CStringGetTextDatum(hash);
	args[3] = TimestampTzGetDatum(lagbid_clock_now());
	lagbid_event_reason("result_submitted");
	lagbid_exec(&submit_plan, args, NULL, false, 0);
	args[0] = Int64GetDatum(t.id);
	lagbid_exec(&pending_plan, args, NULL, false, 0);
}

PG_FUNCTION_INFO_V1(lagbid_submit_result);

/*
 * lagbid.submit_result(job_id bigint, result_uri text, result_hash text):
 * a result kept elsewhere, its hash claimed by the bidder.  The lagbid:
 * scheme is refused: it names results stored by upload_result.
 */
Datum
lagbid_submit_result(PG_FUNCTION_ARGS)
{
	int64		job_id;
	char	   *uri,
			   *hash;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "job_id must not be NULL");
	job_id = PG_GETARG_INT64(0);
	uri = checked_text(fcinfo, 1, "result_uri", MAX_URI_LEN);
	hash = checked_text(fcinfo, 2, "result_hash", MAX_HASH_LEN);
	if (pg_strncasecmp(uri, "lagbid:", 7) == 0)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL,
					 "Upload the content with lagbid.upload_result() instead.",
					 "result_uri must not use the lagbid: scheme, which names results stored by upload_result");

	lagbid_connect();
	lagbid_submit_job(job_id, uri, hash, NULL, NULL);
	lagbid_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(lagbid_fail_job);

/*
 * lagbid.fail_job(job_id bigint, reason text) — the bidder gives up; its
 * slot is released; when every job of the task failed the task fails and
 * its escrow is refunded.
 */
Datum
lagbid_fail_job(PG_FUNCTION_ARGS)
{
	int64		job_id,
				provider_id;
	char	   *reason;
	LagbidTask	t;
	Datum		args[3];
	int			state;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "job_id must not be NULL");
	job_id = PG_GETARG_INT64(0);
	reason = checked_text(fcinfo, 1, "reason", 200);

	lagbid_connect();
	state = lock_job(job_id, &t, &provider_id, true);
	args[0] = Int64GetDatum(job_id);
	args[1] = CStringGetTextDatum(reason);
	args[2] = TimestampTzGetDatum(lagbid_clock_now());
	lagbid_event_reason(reason);
	lagbid_exec(&fail_plan, args, NULL, false, 0);
	args[0] = Int64GetDatum(t.id);
	if (state == JOB_PROCESSING)
		lagbid_exec(&pending_plan, args, NULL, false, 0);
	lagbid_release_slots(&provider_id, 1);
	/* the provider gave up after allocation: its bond and score (outcome.c) */
	lagbid_job_outcome(&t, job_id, JOB_OUTCOME_FAILED, reason, NULL);

	lagbid_exec(&any_alive_plan, args, NULL, false, 1);
	if (SPI_processed == 0)
		lagbid_end_task_locked(&t, TASK_FAILED, "all_jobs_failed");
	lagbid_finish();
	PG_RETURN_VOID();
}

/* ---- the election ---- */

typedef struct LiveJob
{
	int64		id;
	int			state;
	int64		provider_id;
	Datum		price;
	char	   *hash;
	TimestampTz submitted_at;
	char	   *node_id;
	int			votes;			/* submissions agreeing with this one */
	bool		agrees;
} LiveJob;

static LagbidPlan live_jobs_plan = {
	"SELECT j.id, j.state::text, j.provider_id, j.price, j.result_hash, j.submitted_at, "
	LAGBID_NODE_OF("j") " FROM lagbid.job j "
	"WHERE j.task_id = $1 AND j.state IN ('processing', 'submitted') "
	"ORDER BY j.id FOR NO KEY UPDATE OF j",
	1, {INT8OID}
};

static LagbidPlan complete_plan = {
	"UPDATE lagbid.job SET state = 'completed', is_leader = $2, paid = $3, finished_at = $4 "
	"WHERE id = $1",
	4, {INT8OID, BOOLOID, NUMERICOID, TIMESTAMPTZOID}
};

static LagbidPlan task_done_plan = {
	"UPDATE lagbid.task SET state = 'completed', leader_job_id = $2, finished_at = $3, "
	"       jobs_pending = 0 WHERE id = $1",
	3, {INT8OID, INT8OID, TIMESTAMPTZOID}
};

/* earlier submission first, then lower id */
static bool
submitted_before(LiveJob *a, LiveJob *b)
{
	if (a->submitted_at != b->submitted_at)
		return a->submitted_at < b->submitted_at;
	return a->id < b->id;
}

int64
lagbid_finalize_locked(LagbidTask *t)
{
	Datum		args[4];
	LiveJob    *jobs;
	int			n,
				i,
				k,
				npaid = 0;
	LiveJob    *leader = NULL;
	int64	   *providers;
	LagbidPayout *legs;
	Datum		paid_total = lagbid_num_int(0);
	TimestampTz now = lagbid_clock_now();
	int64		leader_id;

	lagbid_connect();
	args[0] = Int64GetDatum(t->id);
	lagbid_exec(&live_jobs_plan, args, NULL, false, 0);
	n = SPI_processed;
	jobs = palloc0(sizeof(LiveJob) * (n + 1));
	providers = palloc(sizeof(int64) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		jobs[i].id = DatumGetInt64(lagbid_result_datum(i, 1, &isnull));
		jobs[i].state = lagbid_state_from_name(MACHINE_JOB,
											   SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		jobs[i].provider_id = DatumGetInt64(lagbid_result_datum(i, 3, &isnull));
		providers[i] = jobs[i].provider_id;
		jobs[i].price = lagbid_result_datum(i, 4, &isnull);
		jobs[i].hash = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 5);
		jobs[i].submitted_at = DatumGetTimestampTz(lagbid_result_datum(i, 6, &isnull));
		jobs[i].node_id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 7);
	}

	/* votes: how many submissions share each submission's hash */
	for (i = 0; i < n; i++)
	{
		if (jobs[i].state != JOB_SUBMITTED)
			continue;
		for (k = 0; k < n; k++)
			if (jobs[k].state == JOB_SUBMITTED && strcmp(jobs[i].hash, jobs[k].hash) == 0)
				jobs[i].votes++;
	}
	/* the leader: most votes, then the earliest submission */
	for (i = 0; i < n; i++)
	{
		if (jobs[i].state != JOB_SUBMITTED)
			continue;
		if (leader == NULL || jobs[i].votes > leader->votes ||
			(jobs[i].votes == leader->votes && submitted_before(&jobs[i], leader)))
			leader = &jobs[i];
	}

	/* jobs still processing are past their deadline; disagreeing ones lose */
	for (i = 0; i < n; i++)
	{
		jobs[i].agrees = leader && jobs[i].state == JOB_SUBMITTED &&
			strcmp(jobs[i].hash, leader->hash) == 0;
		if (!jobs[i].agrees)
		{
			const char *why = jobs[i].state == JOB_PROCESSING ?
				"deadline_passed" : "result_disagrees";

			args[0] = Int64GetDatum(jobs[i].id);
			args[1] = CStringGetTextDatum(why);
			args[2] = TimestampTzGetDatum(now);
			lagbid_event_reason(why);
			lagbid_exec(&fail_plan, args, NULL, false, 0);
		}
	}

	if (leader == NULL)
	{
		/* no valid result at all: the task fails, everything is refunded */
		lagbid_release_slots(providers, n);
		/* nobody to agree with: no-shows are slashed, the others released */
		for (i = 0; i < n; i++)
			lagbid_job_outcome(t, jobs[i].id, jobs[i].state == JOB_PROCESSING ?
							   JOB_OUTCOME_NO_SHOW : JOB_OUTCOME_UNDECIDED, NULL, NULL);
		lagbid_end_task_locked(t, TASK_FAILED, "no_valid_result");
		lagbid_finish();
		return 0;
	}

	/* completed jobs are paid ask x duration_hours; the rest is refunded */
	legs = palloc0(sizeof(LagbidPayout) * (n + 1));
	lagbid_event_reason("elected");
	for (i = 0; i < n; i++)
	{
		Datum		pay;

		if (!jobs[i].agrees)
			continue;
		pay = lagbid_num_mul(jobs[i].price, t->duration_hours);
		args[0] = Int64GetDatum(jobs[i].id);
		args[1] = BoolGetDatum(&jobs[i] == leader);
		args[2] = pay;
		args[3] = TimestampTzGetDatum(now);
		lagbid_exec(&complete_plan, args, NULL, false, 0);
		legs[npaid].to_account = lagbid_account_id(ACCOUNT_PROVIDER, jobs[i].node_id, true);
		legs[npaid].amount = pay;
		legs[npaid].kind = "payment";
		legs[npaid].job_id = jobs[i].id;
		npaid++;
		paid_total = lagbid_num_add(paid_total, pay);
	}
	leader_id = leader->id;
	args[0] = Int64GetDatum(t->id);
	args[1] = Int64GetDatum(leader_id);
	args[2] = TimestampTzGetDatum(now);
	lagbid_event_reason("winner_elected");
	lagbid_exec(&task_done_plan, args, NULL, false, 0);
	t->state = TASK_COMPLETED;

	/* lock-order step 4: providers; step 5: accounts */
	lagbid_release_slots(providers, n);
	/* each job's outcome: bonds released or slashed, reputation (outcome.c) */
	for (i = 0; i < n; i++)
		lagbid_job_outcome(t, jobs[i].id,
						   jobs[i].agrees ? JOB_OUTCOME_AGREED :
						   jobs[i].state == JOB_PROCESSING ? JOB_OUTCOME_NO_SHOW :
						   JOB_OUTCOME_DISAGREED, NULL,
						   jobs[i].agrees || jobs[i].state == JOB_PROCESSING ? NULL :
						   lagbid_evidence_disagree(jobs[i].hash, leader->hash,
													leader->votes, t->replicas));
	lagbid_trust_task_ended(t);
	legs[npaid].to_account = t->funding_account_id;
	legs[npaid].amount = lagbid_num_sub(lagbid_account_balance(t->escrow_account_id), paid_total);
	legs[npaid].kind = "refund";
	legs[npaid].job_id = 0;
	lagbid_payout(t->escrow_account_id, legs, npaid + 1, t->id, t->space_id);
	/* after the accounts: the owner's live task count */
	lagbid_owner_task_done(t);

	for (i = 0; i < n; i++)
	{
		if (jobs[i].agrees)
			lagbid_notify(HOLDER_PROVIDER, jobs[i].node_id, "job_paid", t->id, 0, jobs[i].id,
						  psprintf("{\"amount\": %s, \"leader\": %s}",
								   lagbid_num_text(lagbid_num_mul(jobs[i].price, t->duration_hours)),
								   &jobs[i] == leader ? "true" : "false"));
		else
			lagbid_notify(HOLDER_PROVIDER, jobs[i].node_id, "job_failed", t->id, 0, jobs[i].id,
						  jobs[i].state == JOB_PROCESSING ?
						  "{\"reason\": \"deadline_passed\"}" : "{\"reason\": \"result_disagrees\"}");
	}
	lagbid_notify(HOLDER_OWNER, t->owner, "task_completed", t->id, 0, leader_id, NULL);
	lagbid_finish();
	return leader_id;
}

PG_FUNCTION_INFO_V1(lagbid_finalize);

/*
 * lagbid.finalize(task_id bigint) RETURNS bigint — the leader job id.
 * Due when every job has reported or the processing deadline has passed.
 * Finalizing a completed task again returns its leader (idempotent); a
 * failed task (whatever made it fail: no valid result, every job failed
 * through fail_job, no bids) returns NULL.
 */
Datum
lagbid_finalize(PG_FUNCTION_ARGS)
{
	LagbidTask	t;
	int64		task_id,
				leader;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "task_id must not be NULL");
	task_id = PG_GETARG_INT64(0);
	lagbid_lock_task(task_id, false, &t);
	if (t.state == TASK_COMPLETED)
		PG_RETURN_INT64(t.leader_job_id);
	/* a failed task has no leader, however it failed (fail_job, no bids...) */
	if (t.state == TASK_FAILED)
		PG_RETURN_NULL();
	if (t.state != TASK_PROCESSING)
		lagbid_raise(LB_INVALID_TRANSITION, NULL, NULL,
					 "task %lld cannot be finalized: it is %s",
					 (long long) task_id, lagbid_state_name(MACHINE_TASK, t.state));
	if (t.jobs_pending > 0 && lagbid_clock_now() < t.processing_deadline)
		lagbid_raise(LB_NOT_READY_TO_FINALIZE,
					 psprintf("Jobs still processing: %d; the deadline is %s.",
							  t.jobs_pending, timestamptz_to_str(t.processing_deadline)),
					 "Wait for the results or the deadline; the minutely tick finalizes it then.",
					 "task %lld is not ready to be finalized", (long long) task_id);
	leader = lagbid_finalize_locked(&t);
	if (leader == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(leader);
}
