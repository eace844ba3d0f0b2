/*-------------------------------------------------------------------------
 *
 * outcome.c
 *	  What a finished job does to its provider (issue 20), decided in one
 *	  place and applied once, in the transaction that finishes the job:
 *
 *	  outcome      bond         score        count
 *	  agreed       released     +1 (r > 1)   completed (+ agreed when r > 1)
 *	  disagreed    slashed      x 2/3        disagreed
 *	  no_show      slashed      x 2/3        no_show
 *	  failed       slashed      x 2/3        failed
 *	  undecided    released     unchanged    -
 *
 *	  A slash goes to the task's owner as compensation, as one ledger
 *	  transaction, and the provider is told with a job_slashed notification
 *	  that says why (reason) and what the market saw (evidence).  A slash
 *	  without both is refused (elog: a bug, never a user's doing).
 *
 *	  Gentler: a provider that gives up with reason "input_unreachable" on
 *	  a task that fetches inputs by URI is judged when the task ends.  The
 *	  owner controls those URIs, and slashes are paid to the owner: an owner
 *	  who takes an input down after allocation must not collect bonds.  If
 *	  the task completes, the inputs were reachable to the replicas that
 *	  agreed, and the bond is slashed like any failure; if it does not, the
 *	  bond is released and the score left alone ("excused").  Any other
 *	  reason is a failure at once: the market cannot check a reason, and the
 *	  provider could have withdrawn before allocation.
 *
 *	  A task without a leader (no consensus) settles its submitted jobs as
 *	  undecided: nobody can be shown to disagree with anything, so nothing
 *	  is slashed; a job that never reported is a no-show all the same.
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

#define INPUT_UNREACHABLE	"input_unreachable"
#define MAX_EVIDENCE		512

static const char *const outcome_labels[] = {
	[JOB_OUTCOME_AGREED] = "agreed",
	[JOB_OUTCOME_DISAGREED] = "disagreed",
	[JOB_OUTCOME_NO_SHOW] = "no_show",
	[JOB_OUTCOME_FAILED] = "failed",
	[JOB_OUTCOME_UNDECIDED] = "undecided",
};

/* the job's outcome, set once; returns its bid, provider and node */
static LagbidPlan mark_plan = {
	"UPDATE lagbid.job j SET outcome = $2 FROM lagbid.provider p "
	"WHERE j.id = $1 AND j.outcome IS NULL AND p.id = j.provider_id "
	"RETURNING j.bid_id, j.provider_id, p.node_id",
	2, {INT8OID, TEXTOID}
};

/* whether the task fetches an input by URI (workload.inputs[].uri) */
static LagbidPlan uri_inputs_plan = {
	"SELECT EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(w.body -> 'inputs') "
	"                    WHEN 'array' THEN w.body -> 'inputs' ELSE '[]' END) i "
	"                WHERE i ? 'uri') "
	"FROM lagbid.task t LEFT JOIN lagbid.workload_body w ON w.sha256 = t.workload_sha256 WHERE t.id = $1",
	1, {INT8OID}
};

static bool
fetches_uri_inputs(int64 task_id)
{
	Datum		args[1];
	bool		isnull;

	args[0] = Int64GetDatum(task_id);
	lagbid_exec(&uri_inputs_plan, args, NULL, true, 1);
	return SPI_processed == 1 && DatumGetBool(lagbid_result_datum(0, 1, &isnull));
}

char *
lagbid_evidence_disagree(const char *hash, const char *leader_hash, int agreeing, int replicas)
{
	return psprintf("your %.100s vs leader %.100s, %d of %d agreed",
					hash ? hash : "(none)", leader_hash ? leader_hash : "(none)",
					agreeing, replicas);
}

/* the reason and evidence of an outcome, where the caller gave none */
static void
explain(LagbidTask *t, LagbidJobOutcome outcome, const char **reason, const char **evidence)
{
	switch (outcome)
	{
		case JOB_OUTCOME_DISAGREED:
			if (*reason == NULL)
				*reason = "result_disagrees";
			if (*evidence == NULL)
				*evidence = "your result differs from the elected leader's";
			break;
		case JOB_OUTCOME_NO_SHOW:
			if (*reason == NULL)
				*reason = "deadline_passed";
			if (*evidence == NULL)
				*evidence = t->has_processing_deadline ?
					psprintf("no result by the processing deadline %s",
							 timestamptz_to_str(t->processing_deadline)) :
					"no result by the processing deadline";
			break;
		case JOB_OUTCOME_FAILED:
			if (*evidence == NULL)
				*evidence = psprintf("the provider gave the job up after allocation (fail_job: %.200s)",
									 *reason ? *reason : "no reason");
			*reason = "provider_failed";
			break;
		default:
			break;
	}
}

void
lagbid_job_outcome(LagbidTask *t, int64 job_id, LagbidJobOutcome outcome,
				   const char *reason, const char *evidence)
{
	Datum		args[2];
	int64		bid_id,
				provider_id;
	char	   *node_id;
	bool		isnull;
	const char *label = outcome_labels[outcome];
	bool		slash = (outcome == JOB_OUTCOME_DISAGREED || outcome == JOB_OUTCOME_NO_SHOW ||
						 outcome == JOB_OUTCOME_FAILED);
	Datum		slashed;

	if (!lagbid_trust_schema())
		return;

	lagbid_connect();
	/* gentler: an unreachable input is judged when the task ends */
	if (outcome == JOB_OUTCOME_FAILED && reason && strcmp(reason, INPUT_UNREACHABLE) == 0 &&
		fetches_uri_inputs(t->id))
		label = INPUT_UNREACHABLE;

	args[0] = Int64GetDatum(job_id);
	args[1] = CStringGetTextDatum(label);
	lagbid_exec(&mark_plan, args, NULL, false, 1);
	if (SPI_processed != 1)
		elog(ERROR, "lagbid: job %lld has an outcome already, or does not exist", (long long) job_id);
	bid_id = DatumGetInt64(lagbid_result_datum(0, 1, &isnull));
	provider_id = DatumGetInt64(lagbid_result_datum(0, 2, &isnull));
	node_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (strcmp(label, INPUT_UNREACHABLE) == 0)
	{
		lagbid_finish();
		return;					/* the bond stays locked until the task ends */
	}

	explain(t, outcome, &reason, &evidence);
	slashed = lagbid_bond_settle(t, bid_id, job_id, node_id, slash,
								 slash ? reason : label, evidence);
	lagbid_reputation_count(provider_id, label, t->replicas, slashed);
	lagbid_finish();
}

/* the bonds a task still holds when it ends: open bids, and jobs awaiting judgement */
static LagbidPlan still_locked_plan = {
	"SELECT b.id, j.id, j.provider_id, " LAGBID_NODE_OF("b") ", j.outcome, j.reason "
	"FROM lagbid.bid b LEFT JOIN lagbid.job j ON j.bid_id = b.id "
	"WHERE b.task_id = $1 AND b.bond_state = 'locked' ORDER BY b.id",
	1, {INT8OID}
};

static LagbidPlan judged_plan = {
	"UPDATE lagbid.job SET outcome = $2 WHERE id = $1 AND outcome = '" INPUT_UNREACHABLE "'",
	2, {INT8OID, TEXTOID}
};

void
lagbid_trust_task_ended(LagbidTask *t)
{
	Datum		args[2];
	int			n,
				i;
	int64	   *bids,
			   *jobs,
			   *providers;
	char	  **nodes,
			  **outcomes;
	const char *ended = lagbid_state_name(MACHINE_TASK, t->state);

	if (!lagbid_trust_schema() || !lagbid_num_positive(t->collateral_ratio))
		return;
	lagbid_trust_lock_accounts(t);
	lagbid_connect();
	args[0] = Int64GetDatum(t->id);
	lagbid_exec(&still_locked_plan, args, NULL, false, 0);
	n = SPI_processed;
	bids = palloc(sizeof(int64) * (n + 1));
	jobs = palloc(sizeof(int64) * (n + 1));
	providers = palloc(sizeof(int64) * (n + 1));
	nodes = palloc(sizeof(char *) * (n + 1));
	outcomes = palloc(sizeof(char *) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		bids[i] = DatumGetInt64(lagbid_result_datum(i, 1, &isnull));
		jobs[i] = DatumGetInt64(lagbid_result_datum(i, 2, &isnull));
		if (isnull)
			jobs[i] = 0;
		providers[i] = DatumGetInt64(lagbid_result_datum(i, 3, &isnull));
		nodes[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4);
		outcomes[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 5);
	}
	for (i = 0; i < n; i++)
	{
		if (jobs[i] != 0 && outcomes[i] && strcmp(outcomes[i], INPUT_UNREACHABLE) == 0)
		{
			bool		completed = (t->state == TASK_COMPLETED);
			Datum		slashed;

			args[0] = Int64GetDatum(jobs[i]);
			args[1] = CStringGetTextDatum(completed ? "failed" : "excused");
			lagbid_exec(&judged_plan, args, NULL, false, 0);
			slashed = lagbid_bond_settle(t, bids[i], jobs[i], nodes[i], completed,
										 completed ? "provider_failed" : "input_unreachable",
										 completed ?
										 "you reported the input unreachable; the replicas that agreed with the elected result fetched the same inputs" :
										 "input reported unreachable and no replica produced an elected result");
			lagbid_reputation_count(providers[i], completed ? "failed" : "excused",
									t->replicas, slashed);
		}
		else
			/* an open bid of a cancelled or failed task, or a live job's (none should be left) */
			lagbid_bond_settle(t, bids[i], jobs[i], nodes[i], false,
							   psprintf("task_%s", ended), NULL);
	}
	lagbid_finish();
}
