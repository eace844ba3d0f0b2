/*-------------------------------------------------------------------------
 *
 * reputation.c
 *	  Reputation earned (issue 20): each provider's score and the counts
 *	  beside it, updated once per finished job in the transaction that
 *	  finishes it, and what the market does with the score.
 *
 *	  The score follows iExec's rule: +1 for each result that agrees with
 *	  the elected one on a task of more than one replica (a single replica
 *	  is never checked against anybody, so it proves nothing), and x 2/3
 *	  for each result that disagrees, each job that never reports by its
 *	  deadline and each job its provider gives up after allocation (a
 *	  missing contribution, as iExec counts it).  The product is rounded to
 *	  six decimals, half away from zero.  A job without a leader to agree
 *	  with (no consensus) leaves the score alone.
 *
 *	  The market uses the score three ways: min_reputation on a task keeps
 *	  lower scores out (LB404); the default allocation (lowest ask) breaks
 *	  ties of asks by the higher score; allocation => 'reliability' ranks
 *	  by ask / reliability with reliability = (score + 1) / (score + 2): a
 *	  fresh key counts as 1/2, a score of 1 as 2/3, of 8 as 9/10, of 98 as
 *	  99/100.  A fresh key must ask less than half of what a provider with
 *	  a long record asks to win under it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "trust.h"

static LagbidPlan score_plan = {
	"SELECT score FROM lagbid.provider WHERE id = $1",
	1, {INT8OID}
};

void
lagbid_check_reputation(LagbidTask *t, int64 provider_id)
{
	Datum		args[1];
	Datum		score;
	bool		isnull;

	if (!lagbid_num_positive(t->min_reputation))
		return;
	args[0] = Int64GetDatum(provider_id);
	lagbid_connect();
	lagbid_exec(&score_plan, args, NULL, true, 1);
	if (SPI_processed == 0)
		lagbid_raise(LB_PROVIDER_NOT_FOUND, NULL, NULL,
					 "provider %lld does not exist", (long long) provider_id);
	score = lagbid_result_datum(0, 1, &isnull);
	if (lagbid_num_cmp(score, t->min_reputation) < 0)
		lagbid_raise(LB_REPUTATION_TOO_LOW,
					 psprintf("The provider's score is %s; the task asks for %s.",
							  lagbid_num_text(score), lagbid_num_text(t->min_reputation)),
					 "The score grows by one for each result that agrees with the elected one on a task of several replicas; lagbid_api.my_profile() shows it.",
					 "provider %lld may not bid on task %lld: reputation too low",
					 (long long) provider_id, (long long) t->id);
	lagbid_finish();
}

/*
 * One statement per finished job: the score and the counts of its
 * provider.  $2 is the job.outcome label, $3 the task's replicas, $4 what
 * was slashed.
 */
static LagbidPlan count_plan = {
	"UPDATE lagbid.provider SET "
	"  score = CASE WHEN $2 = 'agreed' AND $3 > 1 THEN score + 1 "
	"               WHEN $2 IN ('disagreed', 'no_show', 'failed') THEN trim_scale(round(score * 2 / 3, 6)) "
	"               ELSE score END, "
	"  jobs_completed = jobs_completed + ($2 = 'agreed')::int, "
	"  jobs_agreed = jobs_agreed + ($2 = 'agreed' AND $3 > 1)::int, "
	"  jobs_disagreed = jobs_disagreed + ($2 = 'disagreed')::int, "
	"  jobs_no_show = jobs_no_show + ($2 = 'no_show')::int, "
	"  jobs_failed = jobs_failed + ($2 = 'failed')::int, "
	"  slashed_total = slashed_total + $4 "
	"WHERE id = $1",
	4, {INT8OID, TEXTOID, INT4OID, NUMERICOID}
};

void
lagbid_reputation_count(int64 provider_id, const char *outcome, int32 replicas, Datum slashed)
{
	Datum		args[4];

	args[0] = Int64GetDatum(provider_id);
	args[1] = CStringGetTextDatum(outcome);
	args[2] = Int32GetDatum(replicas);
	args[3] = slashed;
	lagbid_connect();
	lagbid_exec(&count_plan, args, NULL, false, 0);
	lagbid_finish();
}

/*
 * ask_a / ((s_a + 1) / (s_a + 2)) against ask_b / ((s_b + 1) / (s_b + 2)),
 * that is ask_a (s_a + 2) (s_b + 1) against ask_b (s_b + 2) (s_a + 1):
 * positive factors, no division, no rounding.
 */
int
lagbid_reliability_cmp(Datum ask_a, Datum score_a, Datum ask_b, Datum score_b)
{
	Datum		one = lagbid_num_int(1),
				two = lagbid_num_int(2);
	Datum		a = lagbid_num_mul(lagbid_num_mul(ask_a, lagbid_num_add(score_a, two)),
								   lagbid_num_add(score_b, one));
	Datum		b = lagbid_num_mul(lagbid_num_mul(ask_b, lagbid_num_add(score_b, two)),
								   lagbid_num_add(score_a, one));

	return lagbid_num_cmp(a, b);
}
