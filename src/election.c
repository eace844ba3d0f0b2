/*-------------------------------------------------------------------------
 *
 * election.c
 *	  Results and the leading node (market rule 6, as 0.4 binds it): bidders
 *	  submit or give up their jobs; when every job has reported or the
 *	  processing deadline has passed, the election counts the results:
 *
 *	  - a hash the database computed (upload_result) is one vote; a hash
 *	    only claimed (submit_result) is a vote only where no computed hash
 *	    disagrees with it;
 *	  - a hash wins with a STRICT majority of the task's replicas (never by
 *	    being first: a 1-1 tie of two replicas is no majority);
 *	  - without a majority the market never guesses: it adds the fewest
 *	    replicas (paid by the owner, at most lagbid.max_extra_replicas over
 *	    the task's life) that could make one, and the task gathers them
 *	    (processing -> accepting_bids); when none can, the task fails with
 *	    no_consensus, the owner is refunded and nobody is paid.
 *
 *	  Each job's outcome (agree, disagree, no_show, pending, no_consensus)
 *	  and a readable evidence string are decided in one function,
 *	  decide_outcomes(), and announced in one, job_settled(); fail_job's
 *	  outcome (failed) is announced there too.  The agreeing jobs are
 *	  completed and paid ask x duration_hours from the escrow exactly once;
 *	  the rest of the escrow is refunded.  docs/0.4/election.md.
 *
 *	  When a task's last job reports, its owner is told (results_ready).
 *
 *	  lagbid.submit_result, lagbid.fail_job, lagbid.finalize.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "leases.h"
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
	"UPDATE lagbid.task SET jobs_pending = jobs_pending - 1 WHERE id = $1 RETURNING jobs_pending",
	1, {INT8OID}
};

static LagbidPlan reported_plan = {
	"SELECT count(*) FILTER (WHERE state = 'submitted')::int, "
	"       count(*) FILTER (WHERE state = 'failed')::int "
	"FROM lagbid.job WHERE task_id = $1",
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

/*
 * A job of locked task t has reported (submitted, or failed while
 * processing): count it; when it was the last, tell the owner the results
 * are ready (a durable notice, in this transaction) unless the task has
 * ended.  Caller is inside SPI.
 */
static void
count_reported(LagbidTask *t)
{
	Datum		args[1];
	bool		isnull;
	int			pending,
				submitted,
				failed;

	args[0] = Int64GetDatum(t->id);
	lagbid_exec(&pending_plan, args, NULL, false, 1);
	pending = DatumGetInt32(lagbid_result_datum(0, 1, &isnull));
	t->jobs_pending = pending;
	if (pending > 0 || t->state != TASK_PROCESSING)
		return;
	lagbid_exec(&reported_plan, args, NULL, false, 1);
	submitted = DatumGetInt32(lagbid_result_datum(0, 1, &isnull));
	failed = DatumGetInt32(lagbid_result_datum(0, 2, &isnull));
	if (submitted == 0)
		return;					/* every job failed: the task fails instead */
	lagbid_notify(HOLDER_OWNER, t->owner, "results_ready", t->id, 0, 0,
				  psprintf("{\"replicas\": %d, \"submitted\": %d, \"failed\": %d}",
						   t->replicas, submitted, failed));
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
	if (t.service)
		lagbid_raise(LB_NOT_A_SERVICE, NULL,
					 "A service's job reports its endpoint (report_endpoint); it is paid per probe window.",
					 "job %lld runs a service: it takes no result", (long long) job_id);
	if (content)
		lagbid_store_result(job_id, content, sha256_hex);
	args[0] = Int64GetDatum(job_id);
	args[1] = CStringGetTextDatum(uri);
	args[2] = CStringGetTextDatum(hash);
	args[3] = TimestampTzGetDatum(lagbid_clock_now());
	lagbid_event_reason("result_submitted");
	lagbid_exec(&submit_plan, args, NULL, false, 0);
	count_reported(&t);
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

/* ---- each job's outcome ---- */

/*
 * What the market decided about one job.  The election decides agree,
 * disagree, no_show, pending and no_consensus (decide_outcomes); fail_job
 * decides failed (the provider gave up after allocation).
 */
typedef enum JobOutcome
{
	OUTCOME_AGREE,				/* its result is the elected one: completed, paid */
	OUTCOME_DISAGREE,			/* another result was elected: failed, unpaid */
	OUTCOME_NO_SHOW,			/* no result by the deadline: failed, unpaid */
	OUTCOME_PENDING,			/* no majority yet: more replicas are gathered */
	OUTCOME_NO_CONSENSUS,		/* no majority at all: failed, unpaid */
	OUTCOME_FAILED				/* the provider gave up (fail_job) */
} JobOutcome;

/*
 * A job's outcome is final (or, pending, announced): THE place that acts
 * on it, once per job and outcome, after the job's state and the task's
 * money have moved (lock-order steps 3 to 5 done).  It tells the provider
 * (job_paid, job_failed, election_extended) with the evidence; the
 * provider's own fail_job is not echoed back.  Whatever else keys on a
 * job's outcome (collateral, reputation) belongs here.
 */
static void
job_settled(LagbidTask *t, int64 job_id, const char *node_id, JobOutcome outcome,
			const char *evidence, Datum amount, bool leader)
{
	switch (outcome)
	{
		case OUTCOME_AGREE:
			{
				StringInfoData buf;

				initStringInfo(&buf);
				appendStringInfo(&buf, "{\"amount\": %s, \"leader\": %s, \"evidence\": ",
								 lagbid_num_text(amount), leader ? "true" : "false");
				escape_json(&buf, evidence);
				appendStringInfoChar(&buf, '}');
				lagbid_notify(HOLDER_PROVIDER, node_id, "job_paid", t->id, 0, job_id, buf.data);
				break;
			}
		case OUTCOME_DISAGREE:
			lagbid_notify(HOLDER_PROVIDER, node_id, "job_failed", t->id, 0, job_id,
						  lagbid_json_object2("reason", "result_disagrees", "evidence", evidence));
			break;
		case OUTCOME_NO_SHOW:
			lagbid_notify(HOLDER_PROVIDER, node_id, "job_failed", t->id, 0, job_id,
						  lagbid_json_object2("reason", "deadline_passed", "evidence", evidence));
			break;
		case OUTCOME_NO_CONSENSUS:
			lagbid_notify(HOLDER_PROVIDER, node_id, "job_failed", t->id, 0, job_id,
						  lagbid_json_object2("reason", "no_consensus", "evidence", evidence));
			break;
		case OUTCOME_PENDING:
			lagbid_notify(HOLDER_PROVIDER, node_id, "election_extended", t->id, 0, job_id,
						  lagbid_json_object1("evidence", evidence));
			break;
		case OUTCOME_FAILED:
			/* the provider's own call: nothing to tell it */
			break;
	}
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
	/* a service's job is given up only while its lease starts (leases.c) */
	if (t.service)
		lagbid_lease_job_failed(job_id, reason);
	args[0] = Int64GetDatum(job_id);
	args[1] = CStringGetTextDatum(reason);
	args[2] = TimestampTzGetDatum(lagbid_clock_now());
	lagbid_event_reason(reason);
	lagbid_exec(&fail_plan, args, NULL, false, 0);
	if (state == JOB_PROCESSING)
		count_reported(&t);
	lagbid_release_slots(&provider_id, 1);
	job_settled(&t, job_id, NULL, OUTCOME_FAILED, reason, (Datum) 0, false);
	/* the provider gave up after allocation: its bond and score (outcome.c) */
	lagbid_job_outcome(&t, job_id, JOB_OUTCOME_FAILED, reason, NULL);

	args[0] = Int64GetDatum(t.id);
	lagbid_exec(&any_alive_plan, args, NULL, false, 1);
	if (SPI_processed == 0)
		lagbid_end_task_locked(&t, TASK_FAILED, "all_jobs_failed");
	lagbid_finish();
	PG_RETURN_VOID();
}

/* ---- the election ---- */

/* upload_result names the results it stores, and only those, this way */
#define COMPUTED_URI_PREFIX "lagbid:result/"

/* the most replicas a task may ask for (task.c) */
#define ELECTION_MAX_REPLICAS	100

typedef struct ElectJob
{
	int64		id;
	int			state;			/* JOB_PROCESSING or JOB_SUBMITTED */
	int64		provider_id;
	Datum		price;
	char	   *hash;			/* NULL while processing */
	bool		computed;		/* the database computed the hash */
	TimestampTz submitted_at;
	char	   *node_id;
	int			group;			/* its hash's HashGroup, -1 while processing */
	JobOutcome	outcome;
	char	   *evidence;
} ElectJob;

/* the submissions of one result hash */
typedef struct HashGroup
{
	const char *hash;
	int			computed;		/* submissions whose hash the database computed */
	int			claimed;		/* submissions that only claim it */
	bool		claims_count;	/* no computed hash disagrees with it */
	int			votes;			/* computed, plus claimed when claims count */
} HashGroup;

typedef struct Election
{
	LagbidTask *t;
	ElectJob   *jobs;			/* the live jobs: processing and submitted */
	int			njobs;
	int			nsubmitted;
	HashGroup  *groups;
	int			ngroups;
	int			computed_hashes;	/* distinct hashes computed by the database */
	int			needed;			/* a strict majority of the replicas */
	int			winner;			/* the group holding it, -1 when none */
	ElectJob   *leader;
	TimestampTz now;
} Election;

static LagbidPlan live_jobs_plan = {
	"SELECT j.id, j.state::text, j.provider_id, j.price, j.result_hash, j.submitted_at, "
	LAGBID_NODE_OF("j") ", coalesce(starts_with(j.result_uri, '" COMPUTED_URI_PREFIX "'), false) "
	"FROM lagbid.job j "
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

/*
 * The extra replicas a task added so far (NULL on a schema from before 0.4,
 * read through to_jsonb so that it still runs there) and the jobs it holds.
 */
static LagbidPlan extra_plan = {
	"SELECT (to_jsonb(t) ->> 'extra_replicas')::int, "
	"       (SELECT count(*) FROM lagbid.job j WHERE j.task_id = t.id)::int "
	"FROM lagbid.task t WHERE t.id = $1",
	1, {INT8OID}
};

static LagbidPlan more_replicas_plan = {
	"UPDATE lagbid.task SET replicas = replicas + $2, extra_replicas = extra_replicas + $2, "
	"       bid_limit = greatest(bid_limit, replicas + $2), jobs_pending = 0 "
	"WHERE id = $1",
	2, {INT8OID, INT4OID}
};

/*
 * A hash as evidence shows it: at most 15 bytes, then "..." (ASCII, so that
 * the evidence is valid text in a database of any encoding).
 */
static char *
short_hash(const char *hash)
{
	int			len = strlen(hash);

	if (len <= 18)
		return pstrdup(hash);
	return psprintf("%.*s...", pg_mbcliplen(hash, len, 15), hash);
}

/* "computed sha256:084c799c..." / "claimed sha256:00000000..." */
static char *
describe(ElectJob *j)
{
	return psprintf("%s %s", j->computed ? "computed" : "claimed", short_hash(j->hash));
}

/* read the task's live jobs (lock-order step 3) */
static void
load_jobs(Election *e, LagbidTask *t)
{
	Datum		args[1];
	int			i;

	memset(e, 0, sizeof(*e));
	e->t = t;
	e->now = lagbid_clock_now();
	e->winner = -1;
	args[0] = Int64GetDatum(t->id);
	lagbid_exec(&live_jobs_plan, args, NULL, false, 0);
	e->njobs = SPI_processed;
	e->jobs = palloc0(sizeof(ElectJob) * (e->njobs + 1));
	e->groups = palloc0(sizeof(HashGroup) * (e->njobs + 1));
	for (i = 0; i < e->njobs; i++)
	{
		ElectJob   *j = &e->jobs[i];
		bool		isnull;

		j->id = DatumGetInt64(lagbid_result_datum(i, 1, &isnull));
		j->state = lagbid_state_from_name(MACHINE_JOB,
										  SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		j->provider_id = DatumGetInt64(lagbid_result_datum(i, 3, &isnull));
		j->price = SPI_datumTransfer(lagbid_result_datum(i, 4, &isnull), false, -1);
		j->hash = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 5);
		j->submitted_at = DatumGetTimestampTz(lagbid_result_datum(i, 6, &isnull));
		j->node_id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 7);
		j->computed = DatumGetBool(lagbid_result_datum(i, 8, &isnull));
		j->group = -1;
	}
}

/* the leader within the elected group: a computed result, then the earliest */
static bool
leads_before(ElectJob *a, ElectJob *b)
{
	if (a->computed != b->computed)
		return a->computed;
	if (a->submitted_at != b->submitted_at)
		return a->submitted_at < b->submitted_at;
	return a->id < b->id;
}

/*
 * Count the votes.  A computed hash is a vote; a claimed one only while
 * no computed hash disagrees with it.  A group wins with a strict majority
 * of the task's replicas (there is at most one such group).
 */
static void
tally(Election *e)
{
	int			i,
				g;

	for (i = 0; i < e->njobs; i++)
	{
		ElectJob   *j = &e->jobs[i];

		if (j->state != JOB_SUBMITTED)
			continue;
		e->nsubmitted++;
		for (g = 0; g < e->ngroups; g++)
			if (strcmp(e->groups[g].hash, j->hash) == 0)
				break;
		if (g == e->ngroups)
			e->groups[e->ngroups++].hash = j->hash;
		j->group = g;
		if (j->computed)
			e->groups[g].computed++;
		else
			e->groups[g].claimed++;
	}
	for (g = 0; g < e->ngroups; g++)
		if (e->groups[g].computed > 0)
			e->computed_hashes++;

	e->needed = e->t->replicas / 2 + 1;
	for (g = 0; g < e->ngroups; g++)
	{
		HashGroup  *h = &e->groups[g];

		h->claims_count = e->computed_hashes == 0 ||
			(e->computed_hashes == 1 && h->computed > 0);
		h->votes = h->computed + (h->claims_count ? h->claimed : 0);
		if (h->votes >= e->needed)
			e->winner = g;
	}
	if (e->winner < 0)
		return;
	for (i = 0; i < e->njobs; i++)
		if (e->jobs[i].group == e->winner &&
			(e->leader == NULL || leads_before(&e->jobs[i], e->leader)))
			e->leader = &e->jobs[i];
}

/* "counted 1 of 3 replicas (2 needed)", and why a claim did not count */
static char *
count_text(Election *e, ElectJob *j)
{
	HashGroup  *h = &e->groups[j->group];

	return psprintf("%d of %d replicas counted for it (%d needed)%s",
					h->votes, e->t->replicas, e->needed,
					!j->computed && !h->claims_count ?
					"; a claimed hash does not count against a computed one" : "");
}

/*
 * Each live job's outcome and its evidence: THE place where the election
 * decides about a job.  With a winner: agree or disagree; without one, the
 * submitted jobs get `undecided` (pending while more replicas are
 * gathered, no_consensus when the task fails) and `why` says what
 * happened.  A job still processing is a no-show either way.
 */
static void
decide_outcomes(Election *e, JobOutcome undecided, const char *why)
{
	int			i;

	for (i = 0; i < e->njobs; i++)
	{
		ElectJob   *j = &e->jobs[i];

		if (j->state == JOB_PROCESSING)
		{
			j->outcome = OUTCOME_NO_SHOW;
			j->evidence = psprintf("no result by the processing deadline %s",
								   timestamptz_to_str(e->t->processing_deadline));
		}
		else if (e->winner >= 0 && j->group == e->winner)
		{
			j->outcome = OUTCOME_AGREE;
			j->evidence = psprintf("your %s is the elected result%s: %s",
								   describe(j), j == e->leader ? " (leader)" : "",
								   count_text(e, j));
		}
		else if (e->winner >= 0)
		{
			j->outcome = OUTCOME_DISAGREE;
			j->evidence = psprintf("your %s vs leader %s: %d of %d replicas agreed with the leader (%d needed)%s",
								   describe(j), describe(e->leader),
								   e->groups[e->winner].votes, e->t->replicas, e->needed,
								   !j->computed && !e->groups[j->group].claims_count ?
								   "; a claimed hash does not count against a computed one" : "");
		}
		else
		{
			j->outcome = undecided;
			j->evidence = psprintf("your %s: %s; no result holds a majority: %s",
								   describe(j), count_text(e, j), why);
		}
	}
}

/* the owner's summary: each hash with its counts */
static char *
summary(Election *e, const char *why)
{
	StringInfoData buf;
	int			g;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%d result%s for %d replicas, %d needed for a majority:",
					 e->nsubmitted, e->nsubmitted == 1 ? "" : "s", e->t->replicas, e->needed);
	for (g = 0; g < e->ngroups; g++)
		appendStringInfo(&buf, "%s %s counted %d (%d computed, %d claimed)",
						 g ? ";" : "", short_hash(e->groups[g].hash), e->groups[g].votes,
						 e->groups[g].computed, e->groups[g].claimed);
	if (why)
		appendStringInfo(&buf, "; %s", why);
	return buf.data;
}

/*
 * Move the jobs to their outcome's state (lock-order step 3) and release
 * the slots of those that are done (step 4).  Pending jobs stay submitted.
 */
static void
apply_outcomes(Election *e, Datum *pay)
{
	Datum		args[4];
	int64	   *providers = palloc(sizeof(int64) * (e->njobs + 1));
	int			nfree = 0,
				i;

	for (i = 0; i < e->njobs; i++)
	{
		ElectJob   *j = &e->jobs[i];
		const char *reason = NULL;

		switch (j->outcome)
		{
			case OUTCOME_AGREE:
				args[0] = Int64GetDatum(j->id);
				args[1] = BoolGetDatum(j == e->leader);
				args[2] = pay[i];
				args[3] = TimestampTzGetDatum(e->now);
				lagbid_event_reason("elected");
				lagbid_exec(&complete_plan, args, NULL, false, 0);
				break;
			case OUTCOME_DISAGREE:
				reason = "result_disagrees";
				break;
			case OUTCOME_NO_SHOW:
				reason = "deadline_passed";
				break;
			case OUTCOME_NO_CONSENSUS:
				reason = "no_consensus";
				break;
			case OUTCOME_PENDING:
			case OUTCOME_FAILED:
				continue;
		}
		if (reason)
		{
			args[0] = Int64GetDatum(j->id);
			args[1] = CStringGetTextDatum(reason);
			args[2] = TimestampTzGetDatum(e->now);
			lagbid_event_reason(reason);
			lagbid_exec(&fail_plan, args, NULL, false, 0);
		}
		providers[nfree++] = j->provider_id;
	}
	lagbid_release_slots(providers, nfree);
}

/*
 * What each job's outcome does to its provider's bond and reputation
 * (outcome.c), after the jobs' states and the providers' slots moved
 * (lock-order steps 3 and 4) and before the escrow pays out (step 5).  A
 * job that reported into a failed election had nobody to agree with: its
 * bond is released; one that never reported is a no-show.
 */
static void
trust_outcomes(Election *e)
{
	int			i;

	for (i = 0; i < e->njobs; i++)
	{
		ElectJob   *j = &e->jobs[i];

		switch (j->outcome)
		{
			case OUTCOME_AGREE:
				lagbid_job_outcome(e->t, j->id, JOB_OUTCOME_AGREED, NULL, NULL);
				break;
			case OUTCOME_DISAGREE:
				lagbid_job_outcome(e->t, j->id, JOB_OUTCOME_DISAGREED, NULL, j->evidence);
				break;
			case OUTCOME_NO_SHOW:
				lagbid_job_outcome(e->t, j->id, JOB_OUTCOME_NO_SHOW, NULL, j->evidence);
				break;
			case OUTCOME_NO_CONSENSUS:
				lagbid_job_outcome(e->t, j->id, JOB_OUTCOME_UNDECIDED, NULL, j->evidence);
				break;
			case OUTCOME_PENDING:
			case OUTCOME_FAILED:
				break;
		}
	}
}

static void
settle_all(Election *e, Datum *pay)
{
	int			i;

	for (i = 0; i < e->njobs; i++)
		job_settled(e->t, e->jobs[i].id, e->jobs[i].node_id, e->jobs[i].outcome,
					e->jobs[i].evidence, pay ? pay[i] : (Datum) 0, &e->jobs[i] == e->leader);
}

/* a winner: complete and pay the agreeing jobs, fail the others, refund the rest */
static int64
elect_winner(Election *e)
{
	LagbidTask *t = e->t;
	Datum		args[3];
	Datum	   *pay = palloc0(sizeof(Datum) * (e->njobs + 1));
	LagbidPayout *legs = palloc0(sizeof(LagbidPayout) * (e->njobs + 1));
	Datum		paid_total = lagbid_num_int(0);
	int			npaid = 0,
				i;

	decide_outcomes(e, OUTCOME_NO_CONSENSUS, NULL);
	for (i = 0; i < e->njobs; i++)
	{
		if (e->jobs[i].outcome != OUTCOME_AGREE)
			continue;
		pay[i] = lagbid_num_mul(e->jobs[i].price, t->duration_hours);
		legs[npaid].to_account = lagbid_account_id(ACCOUNT_PROVIDER, e->jobs[i].node_id, true);
		legs[npaid].amount = pay[i];
		legs[npaid].kind = "payment";
		legs[npaid].job_id = e->jobs[i].id;
		npaid++;
		paid_total = lagbid_num_add(paid_total, pay[i]);
	}
	apply_outcomes(e, pay);

	args[0] = Int64GetDatum(t->id);
	args[1] = Int64GetDatum(e->leader->id);
	args[2] = TimestampTzGetDatum(e->now);
	lagbid_event_reason("winner_elected");
	lagbid_exec(&task_done_plan, args, NULL, false, 0);
	t->state = TASK_COMPLETED;

	/* each job's outcome: bonds released or slashed, reputation (outcome.c) */
	trust_outcomes(e);
	lagbid_trust_task_ended(t);

	/* lock-order step 5: the accounts; the escrow's rest goes back */
	legs[npaid].to_account = t->funding_account_id;
	legs[npaid].amount = lagbid_num_sub(lagbid_account_balance(t->escrow_account_id), paid_total);
	legs[npaid].kind = "refund";
	legs[npaid].job_id = 0;
	lagbid_payout(t->escrow_account_id, legs, npaid + 1, t->id, t->space_id);
	/* after the accounts: the owner's live task count */
	lagbid_owner_task_done(t);

	settle_all(e, pay);
	lagbid_notify(HOLDER_OWNER, t->owner, "task_completed", t->id, 0, e->leader->id,
				  lagbid_json_object1("evidence", summary(e, NULL)));
	return e->leader->id;
}

/* no result, or no majority: every job fails, the owner is refunded, nobody is paid */
static void
fail_election(Election *e, const char *reason, const char *why)
{
	decide_outcomes(e, OUTCOME_NO_CONSENSUS, why);
	apply_outcomes(e, NULL);
	trust_outcomes(e);
	lagbid_end_task_evidence_locked(e->t, TASK_FAILED, reason,
									e->nsubmitted > 0 ? summary(e, why) : NULL);
	settle_all(e, NULL);
}

/*
 * The fewest replicas (k >= 1) to add that could give a result a majority,
 * within what lagbid.max_extra_replicas leaves and the owner can pay; 0
 * with *why when there is none.  *amount is what k more replicas cost.
 */
static int
replicas_to_add(Election *e, Datum *amount, char **why)
{
	LagbidTask *t = e->t;
	Datum		args[1];
	bool		isnull;
	int			used,
				held,
				left,
				best = 0,
				g,
				k;
	Datum		balance;

	args[0] = Int64GetDatum(t->id);
	lagbid_exec(&extra_plan, args, NULL, false, 1);
	used = DatumGetInt32(lagbid_result_datum(0, 1, &isnull));
	if (isnull)
	{
		*why = "this database's lagbid schema has no extra replicas until ALTER EXTENSION lagbid UPDATE";
		return 0;
	}
	held = DatumGetInt32(lagbid_result_datum(0, 2, &isnull));
	left = Min(lagbid_max_extra_replicas - used, ELECTION_MAX_REPLICAS - t->replicas);
	for (g = 0; g < e->ngroups; g++)
		best = Max(best, e->groups[g].votes);

	/* k more replicas bring replicas + k - held new jobs; all might agree with the best */
	for (k = 1; k <= left; k++)
		if (2 * (best + t->replicas + k - held) > t->replicas + k)
			break;
	if (left <= 0 || k > left)
	{
		*why = left <= 0 ?
			psprintf("no replica may be added (%d added already; lagbid.max_extra_replicas is %d)",
					 used, lagbid_max_extra_replicas) :
			psprintf("the %d replica%s that may still be added could not make one (lagbid.max_extra_replicas is %d)",
					 left, left == 1 ? "" : "s", lagbid_max_extra_replicas);
		return 0;
	}

	*amount = lagbid_num_mul(lagbid_num_mul(t->price_max, t->duration_hours), lagbid_num_int(k));
	balance = lagbid_account_balance(t->funding_account_id);
	if (lagbid_num_cmp(balance, *amount) < 0)
	{
		*why = psprintf("the owner's funding account holds %s, %d more replica%s cost %s",
						lagbid_num_text(balance), k, k == 1 ? "" : "s", lagbid_num_text(*amount));
		return 0;
	}
	return k;
}

/*
 * No majority yet: no-shows fail, the owner pays for k more replicas into
 * the escrow, and the task gathers them (processing -> accepting_bids,
 * pushed to providers); the submitted jobs wait, their providers told.
 */
static void
gather_replicas(Election *e, int k, Datum amount)
{
	LagbidTask *t = e->t;
	Datum		args[2];
	char	   *why = psprintf("%d more replica%s %s gathered (%d asked now)",
							   k, k == 1 ? "" : "s", k == 1 ? "is" : "are", t->replicas + k);
	char	   *owner_evidence = summary(e, why);

	decide_outcomes(e, OUTCOME_PENDING, why);
	apply_outcomes(e, NULL);
	/* no-shows are settled now (bond, score); the waiting jobs later */
	trust_outcomes(e);
	/* lock-order step 5: the owner pays for them */
	lagbid_transfer("escrow", t->funding_account_id, t->escrow_account_id, amount,
					t->id, t->space_id, psprintf("%d extra replica%s: no majority", k, k == 1 ? "" : "s"));

	args[0] = Int64GetDatum(t->id);
	args[1] = Int32GetDatum(k);
	lagbid_exec(&more_replicas_plan, args, NULL, false, 0);
	lagbid_event_reason("no_majority");
	lagbid_open_locked(t->id);
	t->state = TASK_ACCEPTING_BIDS;
	t->replicas += k;
	t->bid_limit = Max(t->bid_limit, t->replicas);
	t->jobs_pending = 0;

	settle_all(e, NULL);
	{
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfo(&buf, "{\"added\": %d, \"replicas\": %d, \"charged\": %s, \"evidence\": ",
						 k, t->replicas, lagbid_num_text(amount));
		escape_json(&buf, owner_evidence);
		appendStringInfoChar(&buf, '}');
		lagbid_notify(HOLDER_OWNER, t->owner, "election_extended", t->id, 0, 0, buf.data);
	}
}

/* market.h */
LagbidElection
lagbid_elect_locked(LagbidTask *t, int64 *leader)
{
	Election	e;
	LagbidElection result;
	Datum		amount = (Datum) 0;
	char	   *why = NULL;
	int			k;

	*leader = 0;
	lagbid_connect();
	load_jobs(&e, t);
	tally(&e);
	if (e.winner >= 0)
	{
		*leader = elect_winner(&e);
		result = ELECTION_LEADER;
	}
	else if (e.nsubmitted == 0)
	{
		fail_election(&e, "no_valid_result", "no job submitted a result");
		result = ELECTION_NO_RESULT;
	}
	else if ((k = replicas_to_add(&e, &amount, &why)) > 0)
	{
		gather_replicas(&e, k, amount);
		result = ELECTION_MORE_REPLICAS;
	}
	else
	{
		fail_election(&e, "no_consensus", why);
		result = ELECTION_NO_CONSENSUS;
	}
	lagbid_finish();
	return result;
}

/* market.h */
int64
lagbid_finalize_locked(LagbidTask *t)
{
	int64		leader;

	lagbid_elect_locked(t, &leader);
	return leader;
}

/* market.h */
void
lagbid_election_give_up(LagbidTask *t, const char *why)
{
	Election	e;

	lagbid_connect();
	load_jobs(&e, t);
	tally(&e);
	fail_election(&e, "no_consensus", why);
	lagbid_finish();
}

PG_FUNCTION_INFO_V1(lagbid_finalize);

#define FINALIZE_HINT \
	"Call lagbid.finalize() again once every job has reported (the owner gets a results_ready notice) " \
	"or the deadline has passed; where lagbid.tick() runs (pg_cron: lagbid.schedule_tick()), it does so itself."

/*
 * lagbid.finalize(task_id bigint) RETURNS bigint — the leader job id.
 * Due when every job has reported or the processing deadline has passed.
 * Finalizing a completed task again returns its leader (idempotent); a
 * failed task (no majority, no valid result, every job failed through
 * fail_job, no bids) returns NULL, and so does an election that found no
 * majority and gathers more replicas (the task is accepting_bids again).
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
	if (t.service && t.state == TASK_PROCESSING)
		lagbid_raise(LB_NOT_A_SERVICE, NULL,
					 "A service task ends with its lease (docs/0.4/spaces.md).",
					 "task %lld runs a service: no election", (long long) task_id);
	/* a failed task has no leader, however it failed (fail_job, no bids...) */
	if (t.state == TASK_FAILED)
		PG_RETURN_NULL();
	/* an election that found no majority: the extra replicas come first */
	if (t.allocated && (t.state == TASK_ACCEPTING_BIDS || t.state == TASK_BID_CLOSED))
		lagbid_raise(LB_NOT_READY_TO_FINALIZE,
					 psprintf("No result holds a majority of its replicas yet: it gathers more (it asks for %d now).",
							  t.replicas),
					 FINALIZE_HINT,
					 "task %lld is not ready to be finalized", (long long) task_id);
	if (t.state != TASK_PROCESSING)
		lagbid_raise(LB_INVALID_TRANSITION, NULL, NULL,
					 "task %lld cannot be finalized: it is %s",
					 (long long) task_id, lagbid_state_name(MACHINE_TASK, t.state));
	if (t.jobs_pending > 0 && lagbid_clock_now() < t.processing_deadline)
		lagbid_raise(LB_NOT_READY_TO_FINALIZE,
					 psprintf("Jobs still processing: %d; the deadline is %s.",
							  t.jobs_pending, timestamptz_to_str(t.processing_deadline)),
					 FINALIZE_HINT,
					 "task %lld is not ready to be finalized", (long long) task_id);
	lagbid_elect_locked(&t, &leader);
	if (leader == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(leader);
}
