/*-------------------------------------------------------------------------
 *
 * leases.h
 *	  Service spaces (issue 21): kinds, leases, probes and their settlement,
 *	  between kinds.c, leases.c, endpoints.c, probes.c, settlement.c and
 *	  the tick.
 *
 * LOCK ORDER (market.h's, with the lease row after the task row):
 *
 *	  0. space, 1. task, 1b. the lease row (FOR NO KEY UPDATE), 2-3. bids
 *	  and jobs, 4. providers, 5. accounts.
 *
 *	  report_endpoint, report_probe, probe_my_lease and settle_window lock
 *	  the lease row only (then accounts and, for a slash, provider rows);
 *	  report_teardown and cancel lock the task first.  The tick never
 *	  waits: it takes the lease with SKIP LOCKED and everything after it
 *	  with NOWAIT, retrying at its next run.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_LEASES_H
#define LAGBID_LEASES_H

#include "postgres.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/jsonb.h"

#include "market.h"

/* lease states, in lagbid.lease_state's order (states.c) */
typedef enum LeaseState
{
	LEASE_STARTING = 0,
	LEASE_READY,
	LEASE_DEGRADED,
	LEASE_UNSTABLE,
	LEASE_EXPIRED,
	LEASE_FAILED,
	LEASE_TORN_DOWN
} LeaseState;

/* after expiry or failure, the tick tears a lease down itself after this */
#define LEASE_TEARDOWN_GRACE_S	600
/* down windows in a row that make a lease unstable */
#define LEASE_UNSTABLE_STREAK	3

/* settings (lagbid.c) */
extern int	lagbid_probe_window;	/* lagbid.probe_window, seconds */
extern int	lagbid_probers_per_window;	/* lagbid.probers_per_window */

/* ---- kinds.c ---- */

/* the "kind" argument of the calling function: true for 'service' (LB601) */
extern bool lagbid_kind_arg(FunctionCallInfo fcinfo);

/*
 * A service needs a workload with "service", a batch must not have it
 * (LB009); a service has replicas 1 (LB602).  workload NULL: the workload
 * is stored already and workload_known_service says whether it is one.
 */
extern void lagbid_check_kind(bool service, Jsonb *workload, bool workload_known_service,
							  int32 replicas, const char *what);

/* mark a new space (is_space) or task as a service */
extern void lagbid_store_kind(bool is_space, int64 id);

/* ---- leases.c ---- */

/* a lease row as the lease functions see it (read under its row lock) */
typedef struct LagbidLease
{
	int64		id;
	int64		job_id;
	int64		task_id;
	int64		space_id;		/* 0: none */
	int64		provider_id;
	int64		bid_id;
	char	   *node_id;		/* the provider's */
	char	   *owner;
	char	   *name;
	int			state;			/* LeaseState */
	TimestampTz reserved_until;
	TimestampTz startup_deadline;
	TimestampTz ready_at;		/* 0 when not ready yet */
	TimestampTz settled_until;	/* end of the last settled window; 0: none */
	TimestampTz probes_until;	/* end of the window probers were assigned for */
	TimestampTz ended_at;		/* expired or failed at; 0: live */
	int32		window_s;
	int32		down_streak;
	Datum		price;
	Datum		price_max;
	bool		near_expiry_told;
	/* the task's money, read with the lease (the task row is not locked) */
	int64		escrow_account_id;
	int64		funding_account_id;
	Datum		collateral_ratio;	/* (Datum) 0: none */
	Datum		duration_hours;
} LagbidLease;

/*
 * Lock the lease row (lock-order step 1b) and read it; by id or by job.
 * skip_locked: false when another transaction holds it.  Raises LB605
 * when there is no such lease.
 */
extern bool lagbid_lock_lease(int64 lease_id, bool skip_locked, LagbidLease *l);
extern void lagbid_lock_lease_of_job(int64 job_id, LagbidLease *l);

/* lease id of a job, 0 when it has none (no lock) */
extern int64 lagbid_lease_of_job(int64 job_id);

/*
 * At allocation of a service task (allocation.c, task locked): the job's
 * lease, starting; the task waits in processing without a processing
 * deadline (the election never runs on it); the provider is told.
 */
extern void lagbid_lease_create(LagbidTask *t, int64 job_id, int64 provider_id,
								const char *node_id, Datum price);

/* the lease's state changes (the trigger checks it, the event log keeps it) */
extern void lagbid_lease_set_state(LagbidLease *l, int to, const char *reason,
								   TimestampTz now);

/* the rest of the lease's escrow back to the task's funding account */
extern void lagbid_lease_return_rest(LagbidLease *l, const char *memo);

/*
 * One visit of the tick to a lease whose due_at passed: settles its closed
 * windows, assigns probers to its current window, expires it, fails it at
 * its startup timeout, tears it down after the grace.  false when busy.
 */
typedef struct LeaseTickCounts
{
	int			windows_settled;
	int			probes_assigned;
	int			leases_expired;
	int			leases_failed;
	int			leases_torn_down;
} LeaseTickCounts;

extern bool lagbid_lease_tick(int64 lease_id, TimestampTz now, LeaseTickCounts *c);

/*
 * The tick's set-based pass before the visits (settle_batch.c): the due
 * ready leases' closed windows that are up or unprobed settled, and their
 * next window's probers assigned, for up to limit leases at once; the
 * rest stays due for lagbid_lease_tick.  Run it in a subtransaction.
 */
extern int	lagbid_lease_settle_batch(TimestampTz now, int limit, LeaseTickCounts *c);

/*
 * cancel_task on a processing service task (task locked): the lease ends
 * now -- its windows settled up to now, the last pro rata -- and expires
 * (failed while it starts), reason cancelled; the teardown ends the task.
 */
extern void lagbid_lease_cancel(LagbidTask *t);

/* fail_job on a service's job (task locked): LB607 unless starting; failed */
extern void lagbid_lease_job_failed(int64 job_id, const char *reason);

/* extend_space on a service space (space locked): the live lease's time and money */
extern void lagbid_lease_extend_space(int64 space_id, Datum hours, Datum price_max,
									  int64 space_escrow);

/* ---- endpoints.c ---- */

/* the deterministic lease name of a job (16 lower-case base32 characters) */
extern char *lagbid_lease_name(int64 job_id);

/*
 * Refuse (LB603, LB604) an endpoint URL the lease's provider does not
 * serve: http(s), no userinfo, host <name>.<domain> or path /l/<name>/,
 * the host (or domain) one of the provider's registered hosts or below one.
 */
extern void lagbid_check_endpoint(const char *url, const char *lease_name,
								  int64 provider_id);

/* ---- probes.c ---- */

/* assign up to lagbid.probers_per_window probers to the lease's window */
extern int	lagbid_assign_probers(LagbidLease *l, TimestampTz window_start,
								  TimestampTz window_end, bool nowait);

/*
 * The tick's probe round: lagbid_probers_begin() before its leases (the
 * candidate probers are read once per tick), lagbid_probers_end() after
 * them (one probe_assigned notification per prober, naming its probes).
 */
extern void lagbid_probers_begin(void);

/* probers for many leases' windows in one statement, inside the round */
extern int	lagbid_assign_probers_batch(int n, const int64 *lease_ids,
										const int64 *provider_ids,
										const TimestampTz *ws, const TimestampTz *we);
extern void lagbid_probers_end(void);

/* ---- settlement.c ---- */

typedef enum LeaseOutcome
{
	OUTCOME_UP,
	OUTCOME_DOWN,
	OUTCOME_UNPROBED
} LeaseOutcome;

/*
 * Settle the window of a locked live lease that starts at its settled_until
 * and has closed (ends at or before now): the outcome from its probes, the
 * money, the streak and the state.  nowait: take other rows with NOWAIT
 * (the tick).  Returns the outcome.
 */
extern LeaseOutcome lagbid_settle_next_window(LagbidLease *l, TimestampTz now, bool nowait);

/*
 * Count the silent probers of every window settled since the last count
 * in lagbid.provider.probes_missed (nowait: the tick's NOWAIT locks).
 */
extern void lagbid_count_missed_probes(bool nowait);

/* the end of the window starting at ws: ws + window_s, cut at reserved_until */
extern TimestampTz lagbid_window_end(LagbidLease *l, TimestampTz ws);

#endif							/* LAGBID_LEASES_H */
