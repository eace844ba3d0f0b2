/*-------------------------------------------------------------------------
 *
 * market.h
 *	  Internal interfaces between the market modules.
 *
 * LOCK ORDER (every function follows it, so no interleaving deadlocks):
 *
 *	  1. the task row              (SELECT ... FOR UPDATE)
 *	  2. bid rows of that task     in ascending id
 *	  3. job rows of that task     in ascending id
 *	  4. provider rows             in ascending id
 *	  5. ledger account rows       in ascending id (escrow of the task is
 *	                               unique to it, so only holder accounts are
 *	                               ever contended)
 *
 *	  A function that starts from a bid or a job (withdraw_bid, submit_result,
 *	  fail_job) first reads the row without a lock to learn its task, locks
 *	  the task, then locks and re-reads the bid/job.  set_bid_limit locks only
 *	  its provider row.  Notifications and events are plain inserts.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_MARKET_H
#define LAGBID_MARKET_H

#include "postgres.h"
#include "utils/jsonb.h"

/* ---- resources.c: the resources JSON object ---- */

typedef struct LagbidResources
{
	Datum		cpu;			/* numeric >= 0; 0 when absent */
	Datum		memory_gb;		/* numeric >= 0; 0 when absent */
	Datum		storage_gb;		/* numeric >= 0; 0 when absent */
	char	   *gpu;			/* gpu model, NULL when absent */
	int32		gpu_count;		/* >= 0; 0 when absent */
} LagbidResources;

/*
 * Parse and validate a resources object: keys cpu, memory_gb, storage_gb
 * (non-negative finite numbers), gpu (non-empty string of at most 64
 * bytes), gpu_count (integer 0..1024); all optional; anything else raises
 * LB_INVALID_RESOURCES naming `what` ("task resources", ...).  NULL jsonb
 * means an empty object.
 */
extern void lagbid_parse_resources(Jsonb *jb, const char *what, LagbidResources *out);

/*
 * Validate a region: NULL allowed only when allow_null; otherwise 1..64
 * bytes of lower-case letters, digits and hyphens, starting with a letter,
 * no empty part ("eu", "eu-west-1").  Raises LB_INVALID_REGION.
 */
extern void lagbid_check_region(const char *region, bool allow_null);

/* A task region matches a provider region equal to it or starting "<region>-" */
extern bool lagbid_region_matches(const char *task_region, const char *provider_region);

/*
 * Validate a positive/non-negative finite numeric argument (NaN and
 * infinities refused) and return it; raises LB_INVALID_ARGUMENT naming arg.
 */
extern Datum lagbid_check_numeric(Datum value, bool isnull, const char *arg,
								  bool allow_zero);

/* An owner or account name: 1..128 bytes, no control characters */
extern void lagbid_check_name(const char *name, const char *what);

/* ---- slots.c: market rule 1, the bidder's concurrency limit ---- */

/*
 * Take one slot of the provider (row locked here, lock-order step 4).
 * Raises LB_PROVIDER_NOT_FOUND, LB_PROVIDER_INACTIVE or
 * LB_PROVIDER_LIMIT_REACHED.  Returns the provider's node id (palloc'd in
 * the caller's context) for events and notifications.
 */
extern char *lagbid_take_slot(int64 provider_id);

/* Release one slot of each listed provider (duplicates allowed); locks in id order. */
extern void lagbid_release_slots(int64 *provider_ids, int n);

/* ---- ledger.c: money ---- */

typedef enum LagbidAccountKind
{
	ACCOUNT_HOLDER,
	ACCOUNT_ESCROW,
	ACCOUNT_EXTERNAL
} LagbidAccountKind;

/* id of the account (kind, name); creates it (balance 0) when create */
extern int64 lagbid_account_id(LagbidAccountKind kind, const char *name, bool create);

/*
 * Move amount (numeric > 0) from one account to another as one ledger
 * transaction of two entries.  Locks the two accounts in id order; raises
 * LB_INSUFFICIENT_FUNDS (naming the account) if `from` would go negative.
 * kind is one of deposit, escrow, payment, refund, transfer.  Returns the
 * ledger_tx id.  An amount of zero moves nothing and returns 0.
 */
extern int64 lagbid_transfer(const char *kind, int64 from_account, int64 to_account,
							 Datum amount, int64 task_id, int64 space_id,
							 const char *memo);

/*
 * Pay out of one account to several (payments then refund at finalize, or
 * refunds at cancel): sorts the legs by destination account id so that
 * concurrent payouts lock holder accounts in one order.
 */
typedef struct LagbidPayout
{
	int64		to_account;
	Datum		amount;			/* numeric >= 0 */
	const char *kind;			/* payment / refund */
	int64		job_id;			/* 0 when not a job's payment */
} LagbidPayout;

extern void lagbid_payout(int64 from_account, LagbidPayout *legs, int n,
						  int64 task_id, int64 space_id);

/* the balance of an account (numeric) */
extern Datum lagbid_account_balance(int64 account_id);

/* ---- notify.c: NOTIFY lagbid + the durable outbox ---- */

/*
 * Tell `recipient` (a node id or an owner name) about `kind` (bid_won,
 * bid_lost, task_cancelled, job_due, job_paid, ...).  extra_json, if not
 * NULL, is a JSON object whose keys are added to the payload.  Inserts the
 * outbox row and sends NOTIFY lagbid with the same payload (delivered at
 * commit).  Returns the outbox id.
 */
extern int64 lagbid_notify(const char *recipient, const char *kind,
						   int64 task_id, int64 bid_id, int64 job_id,
						   const char *extra_json);

/* ---- task.c: the task's bidding window ---- */

/*
 * Close bidding on a task whose row the caller has locked and which is
 * accepting bids: accepting_bids -> bid_closed with reason (bid_limit_reached,
 * closed_by_owner, deadline), and, when the task has auto_allocate and at
 * least one open bid, allocate the best bids right away (same transaction).
 */
extern void lagbid_close_bidding_locked(int64 task_id, const char *reason);

/* ---- allocation.c ---- */

/*
 * Allocate a task whose row the caller has locked and which is bid_closed:
 * bid_ids NULL = the best `replicas` open bids (lowest ask, then earliest);
 * otherwise exactly those bids.  Winning bids -> won with a job each, the
 * other open bids -> lost (slots released), task -> processing.  Returns the
 * job ids in *job_ids (palloc'd), their count as result.
 */
extern int	lagbid_allocate_locked(int64 task_id, int64 *bid_ids, int nbids,
								   int64 **job_ids);

#endif							/* LAGBID_MARKET_H */
