/*-------------------------------------------------------------------------
 *
 * trust.h
 *	  Trust between strangers (issue 20): collateral (collateral.c), the
 *	  reputation score (reputation.c), what a finished job's outcome does to
 *	  its provider (outcome.c), and the one place that knows whether the
 *	  installed schema has them (trust_terms.c).
 *
 *	  LOCK ORDER (market.h): bonds are held on, and slashed from, ledger
 *	  accounts, lock-order step 5.  Every function below that touches a
 *	  bond runs after the caller has locked the provider rows it touches
 *	  (step 4: place_bid's slot, release_slots), and first locks, in
 *	  ascending id, every account the task's settlement may touch
 *	  (lagbid_trust_lock_accounts): the escrow, the funding account, the
 *	  owner's account (slashes) and the providers' accounts of the task's
 *	  live bids.  Later movements of the same transaction then only touch rows it
 *	  holds.  The tick takes the same set with NOWAIT first
 *	  (lagbid_trust_prelock_nowait).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_TRUST_H
#define LAGBID_TRUST_H

#include "postgres.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "market.h"

/* ---- trust_terms.c ---- */

/*
 * Whether the installed schema has 0.4's trust columns (bid.bond ...).
 * Until ALTER EXTENSION UPDATE the 0.4 library runs a 0.3 (or older)
 * schema: then there is no collateral and no reputation, and nothing here
 * touches a column that is not there.
 */
extern bool lagbid_trust_schema(void);

/* a numeric datum that is set ((Datum) 0 is not) and above zero */
extern bool lagbid_num_positive(Datum n);

/* publish_task's collateral_ratio, min_reputation, allocation, read by name */
extern void lagbid_task_trust_args(FunctionCallInfo fcinfo, LagbidTaskSpec *spec);

/* store a new task's trust terms (nothing for the defaults) */
extern void lagbid_task_trust_store(int64 task_id, LagbidTaskSpec *spec);

/* a space's collateral_ratio (0 on a schema without it) */
extern Datum lagbid_space_collateral_ratio(int64 space_id);

/* set it at creation, or change it (update_space: republished when it differs) */
extern bool lagbid_space_set_collateral_ratio(int64 space_id, Datum ratio, bool is_change);

/* ---- named_args.c ---- */

/*
 * The position of the argument called name in the SQL definition of the
 * function being called, -1 when it has none (an older definition).
 * Arguments that several branches add at the end of the same function
 * (publish_task, create_space, update_space) are read by name, so their
 * order in the SQL definition is free.
 */
extern int	lagbid_named_arg(FunctionCallInfo fcinfo, const char *name);

/* ---- collateral.c ---- */

/* lagbid.default_collateral_ratio: the text setting, its check hook */
extern char *lagbid_default_collateral_ratio_setting;
extern bool lagbid_check_collateral_ratio_setting(char **newval, void **extra, GucSource source);

/*
 * The collateral_ratio argument called "collateral_ratio" of the current
 * function: the setting's default when absent or NULL (use_default), else
 * checked (LB001: 0..100, finite).  *given says whether the caller passed
 * one.
 */
extern Datum lagbid_collateral_ratio_arg(FunctionCallInfo fcinfo, bool use_default, bool *given);

/*
 * The bond an ask stakes on the task: collateral_ratio x price x
 * duration_hours, exactly; (Datum) 0 when it stakes nothing (no collateral,
 * or an ask of 0).
 */
extern Datum lagbid_bond_of(LagbidTask *t, Datum price);

/*
 * place_bid on a collateral task: insert the bid with its bond held on its
 * provider's account (node_id), in one statement; refused with LB502 when
 * the provider's available balance (balance - bonded) is short.
 * closes_with_allocation: this bid closes the task and allocates at once
 * (then every account of the settlement is locked first, in id order).
 * Returns the bid's id.
 */
extern int64 lagbid_bid_insert_bonded(LagbidTask *t, int64 provider_id, const char *node_id,
									  Datum price, Datum bond, TimestampTz placed_at,
									  bool closes_with_allocation);

/* release the locked bonds of these bids (lost, withdrawn, reopened): their holds end */
extern void lagbid_bonds_release(LagbidTask *t, int64 *bid_ids, int n);

/* lock every account of the task's settlement in id order (see above) */
extern void lagbid_trust_lock_accounts(LagbidTask *t);

/* the same with NOWAIT, for the tick (raises ERRCODE_LOCK_NOT_AVAILABLE) */
extern void lagbid_trust_prelock_nowait(LagbidTask *t);

/*
 * Settle a bond: release it to its provider, or slash it to the task's
 * owner (reason and evidence required: a slash is never without them),
 * telling the provider (job_slashed).  Returns the amount slashed (numeric
 * 0 when released or nothing was locked).
 */
extern Datum lagbid_bond_settle(LagbidTask *t, int64 bid_id, int64 job_id,
								const char *node_id, bool slash,
								const char *reason, const char *evidence);

/* ---- reputation.c ---- */

/* refuse (LB404) a provider whose score is below the task's min_reputation */
extern void lagbid_check_reputation(LagbidTask *t, int64 provider_id);

/*
 * Count one finished job in its provider's reputation (the provider row
 * is locked by the caller): outcome is one of the job.outcome labels.
 */
extern void lagbid_reputation_count(int64 provider_id, const char *outcome,
									int32 replicas, Datum slashed);

/*
 * allocation => 'reliability': compare ask_a / reliability(score_a) with
 * ask_b / reliability(score_b), reliability(s) = (s + 1) / (s + 2),
 * exactly (cross-multiplied numerics).
 */
extern int	lagbid_reliability_cmp(Datum ask_a, Datum score_a, Datum ask_b, Datum score_b);

/* ---- outcome.c ---- */

typedef enum LagbidJobOutcome
{
	JOB_OUTCOME_AGREED,			/* completed with the elected result */
	JOB_OUTCOME_DISAGREED,		/* its result differs from the leader's */
	JOB_OUTCOME_NO_SHOW,		/* never reported by the deadline */
	JOB_OUTCOME_FAILED,			/* its provider gave up after allocation */
	JOB_OUTCOME_UNDECIDED		/* no leader (no_consensus): nobody to agree with */
} LagbidJobOutcome;

/*
 * What a finished job does to its provider, once (job.outcome): the bond
 * released (agreed, undecided) or slashed to the owner with reason and
 * evidence (disagreed, no-show, failed), the reputation counted.  Call it
 * for every job that ends on a task, after its provider's row is locked
 * (release_slots) and before the task's escrow pays out.  A failure with
 * reason "input_unreachable" on a task that fetches inputs by URI is
 * judged when the task ends (lagbid_trust_task_ended): slashed if the task
 * completed (its inputs were reachable to the others), released if not.
 */
extern void lagbid_job_outcome(LagbidTask *t, int64 job_id, LagbidJobOutcome outcome,
							   const char *reason, const char *evidence);

/*
 * The task has ended (completed, failed or cancelled; t->state is the new
 * state): the bonds still locked are settled -- open bids' released, jobs
 * that claimed input_unreachable judged.  Call after release_slots and
 * before the escrow's refund.
 */
extern void lagbid_trust_task_ended(LagbidTask *t);

/* "your <h> vs leader <h>, <k> of <n> agreed" (bounded) */
extern char *lagbid_evidence_disagree(const char *hash, const char *leader_hash,
									  int agreeing, int replicas);

#endif							/* LAGBID_TRUST_H */
