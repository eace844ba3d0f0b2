/*-------------------------------------------------------------------------
 *
 * market.h
 *	  Internal interfaces between the market modules.
 *
 * LOCK ORDER (every function follows it, so no interleaving deadlocks):
 *
 *	  0. the space row             (FOR NO KEY UPDATE; spaces.c only)
 *	  1. the task row              (FOR NO KEY UPDATE; place_bid takes it with
 *	                               the UPDATE that counts the bid)
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
 *	  A bid that closes a task with auto_allocate locks every bidder's
 *	  provider row (step 4, in id order) before taking its own slot, since
 *	  the allocation releases the losers' slots.  The tick never waits: it
 *	  skips locked tasks and spaces (SKIP LOCKED) and takes provider and
 *	  account rows with NOWAIT (tick.c).
 *
 *	  Row locks are FOR NO KEY UPDATE, never FOR UPDATE: the foreign-key
 *	  checks of bids, jobs and tasks take KEY SHARE on the rows they
 *	  reference, which FOR UPDATE would block (a deadlock the torture test
 *	  found between trigger_space and a bid closing the space's task).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_MARKET_H
#define LAGBID_MARKET_H

#include "postgres.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/jsonb.h"

#include "rules/regions.h"

/*
 * The node id of the provider of row ALIAS (a bid or a job), as a scalar
 * subquery: one primary-key probe per row whatever the statistics say.  A
 * join let the generic plan hash the whole provider table once the bid
 * table's statistics promised hundreds of bids per task (the lifecycle
 * benchmark spent half its time there).
 */
#define LAGBID_NODE_OF(alias) \
	"(SELECT p.node_id FROM lagbid.provider p WHERE p.id = " alias ".provider_id)"

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

/* lagbid_region_matches (a task region matches a provider region equal to it
 * or starting "<region>-") and the region rule: src/rules/regions.h */

/*
 * Validate a positive/non-negative finite numeric argument (NaN and
 * infinities refused) and return it; raises LB_INVALID_ARGUMENT naming arg.
 */
extern Datum lagbid_check_numeric(Datum value, bool isnull, const char *arg,
								  bool allow_zero);

/*
 * A task's or space's price range (per hour): price_max at most 10^12 and
 * price_min <= price_max; raises LB_INVALID_PRICE_RANGE.  The prices are
 * already checked with lagbid_check_numeric.
 */
extern void lagbid_check_price_range(Datum price_min, Datum price_max);

/* An owner or account name: 1..128 bytes, no control characters */
extern void lagbid_check_name(const char *name, const char *what);

/* ---- workload.c: what a task runs (issue 13) ---- */

/*
 * Validate a workload object (caps in workload.c and docs/0.3/work.md):
 * LB_INPUT_TOO_LARGE over 4 MiB, LB_INVALID_WORKLOAD naming the field.
 */
extern void lagbid_check_workload(Jsonb *jb);

/* whether a (validated) workload has the "service" object of a service */
extern bool lagbid_workload_is_service(Jsonb *jb);

/* argument n as a validated workload; NULL when absent (PG_NARGS) or NULL */
extern Jsonb *lagbid_workload_arg(FunctionCallInfo fcinfo, int n);

/* ---- workload_store.c: workload bodies stored once, by content ---- */

/* the hex SHA-256 of the workload's text rendering (workload::text) and its length */
extern void lagbid_workload_digest(Jsonb *jb, char **sha256, int32 *bytes);

/* store a validated workload's body in lagbid.workload_body (once per digest) */
extern void lagbid_store_workload(Jsonb *jb, char **sha256, int32 *bytes);

/* ---- digest.c ---- */

/* the SHA-256 of data as 64 lower-case hex digits (palloc'd) */
extern char *lagbid_sha256_hex(const unsigned char *data, size_t len);

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

/*
 * Holders are typed (lagbid.holder_kind): an owner and a provider are
 * different holders even when their names are equal, for money as for
 * notifications.  A holder's account kind has the same number.
 */
typedef enum LagbidHolderKind
{
	HOLDER_OWNER,
	HOLDER_PROVIDER
} LagbidHolderKind;

typedef enum LagbidAccountKind
{
	ACCOUNT_OWNER = HOLDER_OWNER,	/* named by owner name */
	ACCOUNT_PROVIDER = HOLDER_PROVIDER, /* named by node id */
	ACCOUNT_ESCROW,
	ACCOUNT_EXTERNAL
} LagbidAccountKind;

/* "owner" / "provider" (the labels of lagbid.holder_kind) */
extern const char *lagbid_holder_kind_name(LagbidHolderKind kind);

/* the holder_kind argument argno: 'owner' when absent (a 0.2 definition), NULL refused */
extern LagbidHolderKind lagbid_holder_kind_arg(FunctionCallInfo fcinfo, int argno);

/*
 * The lagbid.account_kind label of kind in the installed schema ("holder"
 * for owners and providers alike before ALTER EXTENSION UPDATE to 0.3),
 * and whether that schema has typed holders (holders.c).
 */
extern const char *lagbid_account_kind_label(LagbidAccountKind kind);
extern bool lagbid_holders_typed(void);

/* id of the account (kind, name); creates it (balance 0) when create */
extern int64 lagbid_account_id(LagbidAccountKind kind, const char *name, bool create);

/*
 * Move amount (numeric > 0) from one account to another as one ledger
 * transaction of two entries.  Locks the two accounts in id order; raises
 * LB_INSUFFICIENT_FUNDS (naming the account) if `from` would go negative.
 * kind is one of deposit, escrow, payment, refund, transfer (and, from
 * 0.4, bond, release, slash: collateral.c).  Returns the
 * ledger_tx id.  An amount of zero moves nothing and returns 0.
 */
extern int64 lagbid_transfer(const char *kind, int64 from_account, int64 to_account,
							 Datum amount, int64 task_id, int64 space_id,
							 const char *memo);

/* the same about one job (job_id 0: none): bonds released and slashed (collateral.c) */
extern int64 lagbid_transfer_job(const char *kind, int64 from_account, int64 to_account,
								 Datum amount, int64 task_id, int64 space_id, int64 job_id,
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

/* refuse (LB_INSUFFICIENT_FUNDS) unless the account holds amount; no lock */
extern void lagbid_require_funds(int64 account_id, Datum amount);

/* the balance of an account (numeric) */
extern Datum lagbid_account_balance(int64 account_id);

/* ---- notify.c: the durable outbox, pushed on channel lagbid ---- */

/*
 * Tell the holder (recipient_kind, recipient) -- a provider by node id or an
 * owner by owner name -- about `kind` (bid_won, bid_lost, task_cancelled,
 * job_paid, ...).  extra_json, if not NULL, is a JSON object whose keys are
 * added to the outbox row's payload.  Inserts the outbox row and queues its
 * id for the push worker, which sends NOTIFY lagbid with the id only after
 * the commit (push.c).
 * Returns the outbox id.
 */
extern int64 lagbid_notify(LagbidHolderKind recipient_kind, const char *recipient,
						   const char *kind, int64 task_id, int64 bid_id,
						   int64 job_id, const char *extra_json);

/* {"key": "value"}, JSON-escaped (notify.c) */
extern char *lagbid_json_object1(const char *key, const char *value);
/* {"key1": "value1", "key2": "value2"}, JSON-escaped (notify.c) */
extern char *lagbid_json_object2(const char *key1, const char *value1,
								 const char *key2, const char *value2);

/* ---- numeric_ops.c ---- */

extern int	lagbid_num_cmp(Datum a, Datum b);
extern Datum lagbid_num_add(Datum a, Datum b);
extern Datum lagbid_num_sub(Datum a, Datum b);
extern Datum lagbid_num_mul(Datum a, Datum b);
extern Datum lagbid_num_int(int64 v);
extern char *lagbid_num_text(Datum a);
/* a / b truncated to scale decimals, exactly (b x result <= a for a, b > 0) */
extern Datum lagbid_num_div_floor(Datum a, Datum b, int scale);

/* ---- identity.c: node ids and multiaddrs (LB002, LB003) ---- */

extern void lagbid_check_node_id(const char *node_id, const char *what);
extern void lagbid_check_multiaddr(const char *addr, const char *node_id);

/* ---- providers.c / registration.c: registration and its proof of key ---- */

/*
 * A provider's multiaddrs argument: 1..32 valid addresses (LB003, LB007),
 * returned as C strings; addrs NULL raises LB003.
 */
extern char **lagbid_parse_multiaddrs(ArrayType *addrs, const char *node_id, int *naddrs);

/*
 * Refuse (LB010) a node id whose ed25519 key is of small order or not
 * canonically encoded; ids without an ed25519 key (Qm...) pass.
 */
extern void lagbid_check_node_key(const char *node_id);

/* the provider's registration_seq, 0 when it is not registered */
extern int64 lagbid_registration_seq(const char *node_id);

/*
 * Refuse (LB108) unless signature is the node's Ed25519 signature of its
 * registration challenge for these addresses and seq, in the current or
 * the previous window.
 */
extern void lagbid_verify_registration(const char *node_id, char **addrs, int naddrs,
									   int64 seq, bytea *signature);

/* the market's name as registration challenges and lease names say it */
extern char *lagbid_market_string(void);

/* whether sig is node_id's Ed25519 signature of msg (registration.c) */
extern bool lagbid_node_signed(const char *node_id, const unsigned char *msg, size_t len,
							   const unsigned char *sig, size_t siglen);

/* ---- task.c: the task row and its bidding window ---- */

/* a task row as the market functions see it (read under the row lock) */
typedef struct LagbidTask
{
	int64		id;
	char	   *owner;
	int			state;			/* TaskState */
	Datum		price_min;
	Datum		price_max;
	Datum		duration_hours;
	char	   *region;			/* NULL: any region */
	Datum		cpu;
	Datum		memory_gb;
	Datum		storage_gb;
	char	   *gpu;			/* NULL: any or none */
	int32		gpu_count;
	int32		bid_limit;
	int32		replicas;
	int32		bid_count;
	int32		jobs_pending;
	bool		auto_allocate;
	int64		escrow_account_id;
	int64		funding_account_id;
	int64		space_id;
	int64		leader_job_id;	/* 0 when none */
	bool		has_bidding_deadline;
	TimestampTz bidding_deadline;
	bool		has_processing_deadline;
	TimestampTz processing_deadline;
	bool		allocated;		/* allocated once: back in accepting_bids or
								 * bid_closed, it gathers extra replicas */
	/* 0.4, trust.h: (Datum) 0 for none, on a schema without them too */
	Datum		collateral_ratio;	/* numeric; bonds when > 0 */
	Datum		min_reputation; /* numeric; checked when > 0 */
	bool		reliability;	/* allocation => 'reliability' */
	bool		service;		/* kind 'service': its job is a lease (leases.c) */
} LagbidTask;

/*
 * Lock the task row (lock-order step 1) and read it into *t.  With
 * skip_locked a row locked by another transaction is skipped (returns
 * false); otherwise a missing task raises LB_TASK_NOT_FOUND.
 */
extern bool lagbid_lock_task(int64 task_id, bool skip_locked, LagbidTask *t);

/*
 * place_bid's lock: locks the task and, when it accepts bids, counts one
 * more bid in the same statement (t->bid_count is then the new count).
 * Returns whether it counted.  Raises LB_TASK_NOT_FOUND.
 */
extern bool lagbid_lock_task_counting_bid(int64 task_id, LagbidTask *t);

/* what publishing needs; funding_account 0 = the owner's own (owner-kind) account */
typedef struct LagbidTaskSpec
{
	const char *owner;
	Jsonb	   *resources;
	LagbidResources res;
	Datum		price_min;
	Datum		price_max;
	Datum		duration_hours;
	const char *region;
	int32		bid_limit;
	int32		replicas;
	Datum		bidding_window; /* interval */
	bool		auto_allocate;
	bool		open;
	int64		funding_account;
	int64		space_id;		/* 0 when not from a space */
	int32		space_version;
	Jsonb	   *workload;		/* validated body to store; NULL: none, or
								 * already stored (workload_sha256 set) */
	char	   *workload_sha256;	/* the stored body's digest; NULL: nothing
									 * to run */
	int32		workload_bytes;
	/* 0.4, trust.h: (Datum) 0 for the defaults */
	Datum		collateral_ratio;
	Datum		min_reputation;
	bool		reliability;
	bool		service;		/* kind 'service' (leases.c) */
} LagbidTaskSpec;

/* validate price range, limits and hours of a spec (LB001, LB006) */
extern void lagbid_check_task_spec(LagbidTaskSpec *spec);

/* insert the task, escrow its budget, open bidding if asked; returns its id */
extern int64 lagbid_publish(LagbidTaskSpec *spec);

/*
 * Close bidding on a task whose row the caller has locked and which is
 * accepting bids: accepting_bids -> bid_closed with reason (bid_limit_reached,
 * closed_by_owner, deadline), and, when allow_auto and the task has
 * auto_allocate and at least one open bid, allocate the best bids right
 * away (same transaction).
 */
extern void lagbid_close_bidding_locked(LagbidTask *t, const char *reason, bool allow_auto);

/*
 * Lock the open bids of a locked task (lock-order step 2, id order), leaving
 * them in SPI_tuptable as (id, provider_id, node_id, price, placed_at);
 * returns how many.  Caller is inside SPI.  Allocation, reopening, cancel
 * and fail all read them through this one statement.
 */
extern int	lagbid_lock_open_bids(int64 task_id);

/*
 * Cancel (cancelled) or fail (failed) a locked task that is not finished:
 * open bids lost, live jobs failed, slots released, the escrow refunded to
 * the funding account, bidders told.
 */
extern void lagbid_end_task_locked(LagbidTask *t, int to_state, const char *reason);

/* the same, the owner's notice carrying a readable "evidence" string too */
extern void lagbid_end_task_evidence_locked(LagbidTask *t, int to_state, const char *reason,
											const char *evidence);

/* put a locked task in accepting_bids again and push it (lagbid_tasks) */
extern void lagbid_open_locked(int64 task_id);

/* ---- allocation.c ---- */

/*
 * Allocate a task whose row the caller has locked and which is bid_closed:
 * bid_ids NULL = the best `replicas` open bids (lowest ask, then earliest);
 * otherwise exactly those bids.  Winning bids -> won with a job each, the
 * other open bids -> lost (slots released), task -> processing.  Returns the
 * job ids in *job_ids (palloc'd), their count as result.
 */
extern int	lagbid_allocate_locked(LagbidTask *t, int64 *bid_ids, int nbids,
								   int64 **job_ids);

/* lock the providers (lock-order step 4) of the task's open bids, plus extra_provider */
extern void lagbid_lock_bidders(int64 task_id, int64 extra_provider);

/* ---- spaces.c ---- */

typedef struct LagbidSpace
{
	int64		id;
	char	   *owner;
	Datum		resources;		/* jsonb, possibly with a short header */
	Datum		price_min;
	Datum		price_max;
	char	   *region;
	int32		replicas;
	bool		expired;
	int32		version;
	int64		current_task_id;	/* 0 when none */
	int64		escrow_account_id;
	TimestampTz reserved_until;
	Datum		remaining_hours;	/* numeric, negative once past */
	Datum		escrow_balance;
	char	   *workload_sha256;	/* lagbid.workload_body's key; NULL: none */
	int32		workload_bytes;
	bool		workload_in_row;	/* a 0.3 schema: the body is in the row */
	bool		service;		/* kind 'service' */
} LagbidSpace;

/* lock the space row (before any task); skip_locked as for tasks */
extern bool lagbid_lock_space(int64 space_id, bool skip_locked, LagbidSpace *s);

/*
 * Publish a task for a locked space, superseding its open task.  Returns
 * the task id, 0 when skip_locked and the old task is busy, -1 when the
 * escrow cannot pay for any time (the space is marked unchanged and its
 * owner told).
 */
extern int64 lagbid_publish_space_locked(LagbidSpace *s, bool skip_locked, bool *superseded);

/* expire a locked space whose reservation ended; false when it must wait */
extern bool lagbid_expire_space_locked(LagbidSpace *s, bool skip_locked);

/* ---- market_limits.c: what one owner may put on the market ---- */

/* budget >= lagbid.min_task_budget, and > 0 unless that minimum is 0 */
extern bool lagbid_budget_allowed(Datum budget);

/* refuse (LB_BUDGET_TOO_SMALL) a task's or space's budget below the minimum */
extern void lagbid_check_budget(Datum budget, const char *what, const char *owner);

/*
 * lagbid.owner_load, the live tasks an owner published with publish_task
 * (not from spaces): count one more, refusing (LB_OWNER_LIMIT_REACHED)
 * past lagbid.max_open_tasks_per_owner; count one less when the task
 * completes, fails or is cancelled.  The row is the last lock taken (after
 * lock-order step 5); the tick takes it first with NOWAIT.
 */
extern void lagbid_owner_task_added(const char *owner);
extern void lagbid_owner_task_done(LagbidTask *t);
extern void lagbid_prelock_owner_nowait(LagbidTask *t);

/*
 * The owner's live workload bytes (lagbid.owner_load.workload_bytes) change
 * by delta; a rise past lagbid.max_workload_bytes_per_owner is refused
 * (LB_OWNER_WORKLOAD_LIMIT).  The tick takes the row first with NOWAIT.
 */
extern void lagbid_owner_workload_changed(const char *owner, int64 delta);
extern void lagbid_prelock_owner_name_nowait(const char *owner);

/*
 * Refuse (LB_OWNER_LIMIT_REACHED) one more active space of the owner;
 * locks the owner's holder account (lock-order step 5) to count.
 */
extern void lagbid_check_owner_spaces(const char *owner, int64 owner_account);

/* ---- tick.c ---- */

/*
 * The tick never waits for a provider or account row: before acting on a
 * task it locks them with NOWAIT (lock-order steps 4 and 5, in id order),
 * raising ERRCODE_LOCK_NOT_AVAILABLE which the tick catches to retry the
 * task at its next run.
 */
extern void lagbid_prelock_task_nowait(LagbidTask *t);
extern void lagbid_prelock_accounts_nowait(int64 a, int64 b);

/* ---- election.c: results, the leading node, consensus ---- */

/*
 * What an election did to a task (lagbid_elect_locked): elected a leader
 * (completed), gathered more replicas (accepting_bids again), or failed
 * it: no result at all, or no majority within lagbid.max_extra_replicas.
 */
typedef enum LagbidElection
{
	ELECTION_LEADER,
	ELECTION_MORE_REPLICAS,
	ELECTION_NO_RESULT,
	ELECTION_NO_CONSENSUS
} LagbidElection;

/*
 * Hold the election of a locked processing task that is due (every job
 * reported, or the processing deadline passed); *leader is the leader job
 * id, 0 when none.
 */
extern LagbidElection lagbid_elect_locked(LagbidTask *t, int64 *leader);

/* the same, returning the leader job id or 0 (tick.c before 0.4) */
extern int64 lagbid_finalize_locked(LagbidTask *t);

/*
 * An extra replica's round of a locked task ends without a bidder: the
 * election gives up, the task fails with no_consensus (why: evidence).
 */
extern void lagbid_election_give_up(LagbidTask *t, const char *why);

/*
 * The one submit path of submit_result and upload_result: lock the job's
 * task then the job, check the job is processing (LB_JOB_NOT_ACTIVE), store
 * content when not NULL (results.c), mark the job submitted with uri and
 * hash.  Caller is inside SPI.
 */
extern void lagbid_submit_job(int64 job_id, const char *uri, const char *hash,
							  bytea *content, const char *sha256_hex);

/* ---- results.c: results stored in the database ---- */

/* insert the lagbid.result row of a job (inside SPI, job locked) */
extern void lagbid_store_result(int64 job_id, bytea *content, const char *sha256_hex);

#endif							/* LAGBID_MARKET_H */
