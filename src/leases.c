/*-------------------------------------------------------------------------
 *
 * leases.c
 *	  The lease of a service job (issue 21): created with the job at
 *	  allocation, ready when its provider reports the endpoint, settled
 *	  window by window (settlement.c), expired when its reserved time ends,
 *	  torn down by its provider or by the tick after a grace.  The job and
 *	  the task end with it: completed after a normal expiry, failed after a
 *	  failure or instability.
 *
 *	  lagbid.report_endpoint, lagbid.report_teardown, lagbid.lease_name,
 *	  the tick's visit to a lease, and extend_space's part for a live lease.
 *
 *	  Money: at allocation the task's escrow holds price_max x hours (the
 *	  lease "takes" it).  Each settled window pays the provider and refunds
 *	  the task's funding account out of it; what is left when the lease
 *	  ends (expiry, failure, instability) "returns" to the funding account,
 *	  so paid + refunded + returned = taken, to the unit.
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
#include "leases.h"
#include "market.h"
#include "states.h"
#include "trust.h"

#define LEASE_COLUMNS \
	"SELECT l.id, l.job_id, l.task_id, l.space_id, l.provider_id, j.bid_id, p.node_id, " \
	"       l.owner, l.name, l.state::text, l.reserved_until, l.startup_deadline, l.ready_at, " \
	"       l.settled_until, l.probes_until, l.ended_at, l.window_s, l.down_streak, l.price, " \
	"       l.price_max, l.near_expiry_told, t.escrow_account_id, t.funding_account_id, " \
	"       t.collateral_ratio, t.duration_hours " \
	"FROM lagbid.lease l JOIN lagbid.job j ON j.id = l.job_id " \
	"     JOIN lagbid.provider p ON p.id = l.provider_id " \
	"     JOIN lagbid.task t ON t.id = l.task_id "

static LagbidPlan lock_plan = {
	LEASE_COLUMNS "WHERE l.id = $1 FOR NO KEY UPDATE OF l",
	1, {INT8OID}
};

static LagbidPlan lock_skip_plan = {
	LEASE_COLUMNS "WHERE l.id = $1 FOR NO KEY UPDATE OF l SKIP LOCKED",
	1, {INT8OID}
};

static LagbidPlan of_job_plan = {
	"SELECT id FROM lagbid.lease WHERE job_id = $1",
	1, {INT8OID}
};

static TimestampTz
ts_col(int col)
{
	bool		isnull;
	Datum		d = lagbid_result_datum(0, col, &isnull);

	return isnull ? 0 : DatumGetTimestampTz(d);
}

static char *
str_col(int col)
{
	char	   *s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col);

	return s ? strcpy(SPI_palloc(strlen(s) + 1), s) : NULL;
}

bool
lagbid_lock_lease(int64 lease_id, bool skip_locked, LagbidLease *l)
{
	Datum		arg = Int64GetDatum(lease_id);
	bool		isnull;
	char	   *state;

	lagbid_connect();
	lagbid_exec(skip_locked ? &lock_skip_plan : &lock_plan, &arg, NULL, false, 1);
	if (SPI_processed == 0)
	{
		lagbid_finish();
		if (skip_locked)
			return false;
		lagbid_raise(LB_LEASE_NOT_FOUND, NULL, NULL, "lease %lld does not exist", (long long) lease_id);
	}
	memset(l, 0, sizeof(*l));
	l->id = DatumGetInt64(lagbid_result_datum(0, 1, &isnull));
	l->job_id = DatumGetInt64(lagbid_result_datum(0, 2, &isnull));
	l->task_id = DatumGetInt64(lagbid_result_datum(0, 3, &isnull));
	l->space_id = DatumGetInt64(lagbid_result_datum(0, 4, &isnull));
	if (isnull)
		l->space_id = 0;
	l->provider_id = DatumGetInt64(lagbid_result_datum(0, 5, &isnull));
	l->bid_id = DatumGetInt64(lagbid_result_datum(0, 6, &isnull));
	l->node_id = str_col(7);
	l->owner = str_col(8);
	l->name = str_col(9);
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 10);
	l->state = lagbid_state_from_name(MACHINE_LEASE, state);
	l->reserved_until = ts_col(11);
	l->startup_deadline = ts_col(12);
	l->ready_at = ts_col(13);
	l->settled_until = ts_col(14);
	l->probes_until = ts_col(15);
	l->ended_at = ts_col(16);
	l->window_s = DatumGetInt32(lagbid_result_datum(0, 17, &isnull));
	l->down_streak = DatumGetInt32(lagbid_result_datum(0, 18, &isnull));
	l->price = SPI_datumTransfer(lagbid_result_datum(0, 19, &isnull), false, -1);
	l->price_max = SPI_datumTransfer(lagbid_result_datum(0, 20, &isnull), false, -1);
	l->near_expiry_told = DatumGetBool(lagbid_result_datum(0, 21, &isnull));
	l->escrow_account_id = DatumGetInt64(lagbid_result_datum(0, 22, &isnull));
	l->funding_account_id = DatumGetInt64(lagbid_result_datum(0, 23, &isnull));
	l->collateral_ratio = SPI_datumTransfer(lagbid_result_datum(0, 24, &isnull), false, -1);
	l->duration_hours = SPI_datumTransfer(lagbid_result_datum(0, 25, &isnull), false, -1);
	lagbid_finish();
	return true;
}

int64
lagbid_lease_of_job(int64 job_id)
{
	Datum		arg = Int64GetDatum(job_id);
	int64		id = 0;

	lagbid_connect();
	lagbid_exec(&of_job_plan, &arg, NULL, false, 1);
	if (!lagbid_result_int64(1, &id))
		id = 0;
	lagbid_finish();
	return id;
}

void
lagbid_lock_lease_of_job(int64 job_id, LagbidLease *l)
{
	int64		id = lagbid_lease_of_job(job_id);

	if (id == 0)
		lagbid_raise(LB_LEASE_NOT_FOUND, NULL,
					 "Only a job of a service task (kind 'service') has a lease.",
					 "job %lld has no lease", (long long) job_id);
	lagbid_lock_lease(id, false, l);
}

/* ---- birth ---- */

static LagbidPlan create_plan = {
	"INSERT INTO lagbid.lease (job_id, task_id, space_id, provider_id, owner, name, "
	"    reserved_until, started_at, startup_deadline, window_s, price, price_max, taken, due_at) "
	"SELECT $1, t.id, t.space_id, $2, t.owner, $3, "
	"       $4 + t.duration_hours * interval '1 hour', $4, "
	"       $4 + make_interval(secs => coalesce((w.body -> 'service' ->> 'startup_timeout_s')::int, 1800)), "
	"       $5, $6, t.price_max, a.balance, "
	"       least($4 + make_interval(secs => coalesce((w.body -> 'service' ->> 'startup_timeout_s')::int, 1800)), "
	"             $4 + t.duration_hours * interval '1 hour') "
	"FROM lagbid.task t JOIN lagbid.account a ON a.id = t.escrow_account_id "
	"     LEFT JOIN lagbid.workload_body w ON w.sha256 = t.workload_sha256 "
	"WHERE t.id = $7 RETURNING id, reserved_until",
	7, {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, INT4OID, NUMERICOID, INT8OID}
};

/* the election never runs on a service task: no processing deadline */
static LagbidPlan no_deadline_plan = {
	"UPDATE lagbid.task SET processing_deadline = NULL WHERE id = $1",
	1, {INT8OID}
};

void
lagbid_lease_create(LagbidTask *t, int64 job_id, int64 provider_id, const char *node_id,
					Datum price)
{
	Datum		args[7];
	int64		lease_id;
	bool		isnull;
	TimestampTz until;

	args[0] = Int64GetDatum(job_id);
	args[1] = Int64GetDatum(provider_id);
	args[2] = CStringGetTextDatum(lagbid_lease_name(job_id));
	args[3] = TimestampTzGetDatum(lagbid_clock_now());
	args[4] = Int32GetDatum(lagbid_probe_window);
	args[5] = price;
	args[6] = Int64GetDatum(t->id);
	lagbid_connect();
	lagbid_event_reason("allocated");
	lagbid_exec(&create_plan, args, NULL, false, 1);
	lease_id = DatumGetInt64(lagbid_result_datum(0, 1, &isnull));
	until = DatumGetTimestampTz(lagbid_result_datum(0, 2, &isnull));
	lagbid_exec(&no_deadline_plan, &args[6], NULL, false, 0);
	lagbid_finish();
	lagbid_notify(HOLDER_PROVIDER, node_id, "lease_started", t->id, 0, job_id,
				  psprintf("{\"lease_id\": %lld, \"reserved_until\": \"%s\"}",
						   (long long) lease_id, timestamptz_to_str(until)));
}

/* ---- states and money ---- */

static LagbidPlan set_state_plan = {
	"UPDATE lagbid.lease SET state = $2::lagbid.lease_state, reason = coalesce($3, reason), "
	"       ended_at = CASE WHEN $2 IN ('expired', 'failed') THEN $4 ELSE ended_at END, "
	"       torn_down_at = CASE WHEN $2 = 'torn_down' THEN $4 ELSE torn_down_at END, "
	"       due_at = CASE WHEN $2 IN ('expired', 'failed') THEN $4 + make_interval(secs => $5) "
	"                     WHEN $2 = 'torn_down' THEN NULL ELSE due_at END "
	"WHERE id = $1",
	5, {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID}
};

void
lagbid_lease_set_state(LagbidLease *l, int to, const char *reason, TimestampTz now)
{
	Datum		args[5];
	char		nulls[5] = {' ', ' ', reason ? ' ' : 'n', ' ', ' '};

	args[0] = Int64GetDatum(l->id);
	args[1] = CStringGetTextDatum(lagbid_state_name(MACHINE_LEASE, to));
	args[2] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	args[3] = TimestampTzGetDatum(now);
	args[4] = Int32GetDatum(LEASE_TEARDOWN_GRACE_S);
	lagbid_event_reason(reason);
	lagbid_connect();
	lagbid_exec(&set_state_plan, args, nulls, false, 0);
	lagbid_finish();
	l->state = to;
	if (to == LEASE_EXPIRED || to == LEASE_FAILED)
		l->ended_at = now;
}

static LagbidPlan returned_plan = {
	"UPDATE lagbid.lease SET returned = returned + $2 WHERE id = $1",
	2, {INT8OID, NUMERICOID}
};

void
lagbid_lease_return_rest(LagbidLease *l, const char *memo)
{
	Datum		rest = lagbid_account_balance(l->escrow_account_id);
	Datum		args[2];

	if (lagbid_num_cmp(rest, lagbid_num_int(0)) <= 0)
		return;
	lagbid_transfer_job("refund", l->escrow_account_id, l->funding_account_id, rest,
						l->task_id, l->space_id, l->job_id, memo);
	args[0] = Int64GetDatum(l->id);
	args[1] = rest;
	lagbid_connect();
	lagbid_exec(&returned_plan, args, NULL, false, 0);
	lagbid_finish();
}

/* ---- the end: the job and the task end with the lease ---- */

static LagbidPlan end_job_plan = {
	"UPDATE lagbid.job SET state = $2::lagbid.job_state, is_leader = ($2 = 'completed'), "
	"       reason = $3, finished_at = $4 WHERE id = $1",
	4, {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

static LagbidPlan end_task_plan = {
	"UPDATE lagbid.task SET state = $2::lagbid.task_state, jobs_pending = 0, reason = $3, "
	"       finished_at = $4, leader_job_id = CASE WHEN $2 = 'completed' THEN $5 END "
	"WHERE id = $1",
	5, {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID}
};

static LagbidPlan lease_reason_plan = {
	"SELECT reason FROM lagbid.lease WHERE id = $1",
	1, {INT8OID}
};

/*
 * Tear a lease down (expired or failed, task locked by the caller): the
 * lease torn_down, the job completed (a normal expiry) or failed, its slot
 * and bond settled, the task ended likewise.
 */
static void
tear_down(LagbidTask *t, LagbidLease *l, const char *why, TimestampTz now)
{
	Datum		args[5];
	char	   *reason;
	bool		completed;
	bool		never_ready = (l->ready_at == 0);
	int64		provider = l->provider_id;

	lagbid_connect();
	args[0] = Int64GetDatum(l->id);
	lagbid_exec(&lease_reason_plan, args, NULL, false, 1);
	reason = str_col(1);
	lagbid_finish();
	/* a normal end: the reserved time ran out, or the owner cancelled */
	completed = reason &&
		((l->state == LEASE_EXPIRED && strcmp(reason, "reserved_until") == 0) ||
		 strcmp(reason, "cancelled") == 0);

	lagbid_lease_set_state(l, LEASE_TORN_DOWN, why, now);
	lagbid_lease_return_rest(l, "lease ended: the rest returns");

	if (t->state != TASK_PROCESSING)
		return;					/* ended otherwise already */
	args[0] = Int64GetDatum(l->job_id);
	args[1] = CStringGetTextDatum(completed ? "completed" : "failed");
	args[2] = CStringGetTextDatum(reason ? reason : why);
	args[3] = TimestampTzGetDatum(now);
	lagbid_event_reason(reason ? reason : why);
	lagbid_connect();
	lagbid_exec(&end_job_plan, args, NULL, false, 0);
	args[0] = Int64GetDatum(t->id);
	args[4] = Int64GetDatum(l->job_id);
	lagbid_exec(&end_task_plan, args, NULL, false, 0);
	lagbid_finish();
	t->state = completed ? TASK_COMPLETED : TASK_FAILED;

	lagbid_release_slots(&provider, 1);
	lagbid_job_outcome(t, l->job_id,
					   completed ? JOB_OUTCOME_AGREED :
					   never_ready ? JOB_OUTCOME_NO_SHOW : JOB_OUTCOME_FAILED,
					   completed ? NULL : (reason ? reason : why),
					   completed ? NULL :
					   psprintf("lease %s ended %s", l->name, reason ? reason : why));
	lagbid_trust_task_ended(t);
	lagbid_owner_task_done(t);
}

/* ---- the tick ---- */

static LagbidPlan near_expiry_plan = {
	"UPDATE lagbid.lease SET near_expiry_told = true WHERE id = $1",
	1, {INT8OID}
};

static void
set_ts(LagbidPlan *plan, int64 id, TimestampTz ts)
{
	Datum		args[2];

	args[0] = Int64GetDatum(id);
	args[1] = TimestampTzGetDatum(ts);
	lagbid_connect();
	lagbid_exec(plan, args, NULL, false, 0);
	lagbid_finish();
}

static void
expire(LagbidLease *l, const char *reason, TimestampTz now)
{
	lagbid_lease_set_state(l, LEASE_EXPIRED, reason, now);
	lagbid_lease_return_rest(l, psprintf("lease %s expired (%s): the rest returns", l->name, reason));
	lagbid_notify(HOLDER_PROVIDER, l->node_id, "lease_expired", l->task_id, 0, l->job_id,
				  psprintf("{\"lease_id\": %lld, \"reason\": \"%s\"}", (long long) l->id, reason));
}

static LagbidPlan prelock_plan = {
	"SELECT id FROM lagbid.account WHERE id = ANY (ARRAY[$1, $2, "
	"    (SELECT a.id FROM lagbid.account a WHERE a.kind = 'provider' AND a.name = $3)]) "
	"ORDER BY id FOR NO KEY UPDATE NOWAIT",
	3, {INT8OID, INT8OID, TEXTOID}
};

static LagbidPlan next_window_plan = {
	"UPDATE lagbid.lease SET probes_until = $2, due_at = $2 WHERE id = $1",
	2, {INT8OID, TIMESTAMPTZOID}
};

bool
lagbid_lease_tick(int64 lease_id, TimestampTz now, LeaseTickCounts *c)
{
	LagbidLease l;
	int64		window_us;

	if (!lagbid_lock_lease(lease_id, true, &l))
		return false;
	window_us = (int64) l.window_s * USECS_PER_SEC;
	/* every account a visit moves money between, without waiting */
	{
		Datum		args[3];

		args[0] = Int64GetDatum(l.escrow_account_id);
		args[1] = Int64GetDatum(l.funding_account_id);
		args[2] = CStringGetTextDatum(l.node_id);
		lagbid_connect();
		lagbid_exec(&prelock_plan, args, NULL, false, 0);
		lagbid_finish();
	}

	switch (l.state)
	{
		case LEASE_STARTING:
			if (now < l.startup_deadline && now < l.reserved_until)
				break;
			lagbid_lease_set_state(&l, LEASE_FAILED, "startup_timeout", now);
			lagbid_lease_return_rest(&l, psprintf("lease %s failed to start: the rest returns", l.name));
			lagbid_notify(HOLDER_PROVIDER, l.node_id, "lease_failed", l.task_id, 0, l.job_id,
						  psprintf("{\"lease_id\": %lld, \"reason\": \"startup_timeout\"}", (long long) l.id));
			lagbid_notify(HOLDER_OWNER, l.owner, "lease_failed", l.task_id, 0, 0,
						  psprintf("{\"lease_id\": %lld, \"reason\": \"startup_timeout\"}", (long long) l.id));
			c->leases_failed++;
			return true;
		case LEASE_READY:
		case LEASE_DEGRADED:
			while (l.state == LEASE_READY || l.state == LEASE_DEGRADED)
			{
				TimestampTz ws = l.settled_until;

				if (ws >= l.reserved_until || lagbid_window_end(&l, ws) > now)
					break;
				lagbid_settle_next_window(&l, now, false);	/* accounts locked above */
				c->windows_settled++;
			}
			if (l.state == LEASE_UNSTABLE)
			{
				expire(&l, "unstable", now);
				c->leases_expired++;
				return true;
			}
			if (now >= l.reserved_until)
			{
				expire(&l, "reserved_until", now);
				c->leases_expired++;
				return true;
			}
			/* the current window's probers, once */
			if (l.probes_until < lagbid_window_end(&l, l.settled_until))
				c->probes_assigned += lagbid_assign_probers(&l, l.settled_until,
															lagbid_window_end(&l, l.settled_until), true);
			if (!l.near_expiry_told && l.reserved_until - now <= 2 * window_us)
			{
				Datum		arg = Int64GetDatum(l.id);

				lagbid_connect();
				lagbid_exec(&near_expiry_plan, &arg, NULL, false, 0);
				lagbid_finish();
				lagbid_notify(HOLDER_OWNER, l.owner, "lease_near_expiry", l.task_id, 0, 0,
							  psprintf("{\"lease_id\": %lld, \"space_id\": %lld, \"reserved_until\": \"%s\"}",
									   (long long) l.id, (long long) l.space_id,
									   timestamptz_to_str(l.reserved_until)));
			}
			/* probers assigned up to, and the next visit at, the window's end */
			set_ts(&next_window_plan, l.id, lagbid_window_end(&l, l.settled_until));
			return true;
		case LEASE_UNSTABLE:
			expire(&l, "unstable", now);
			c->leases_expired++;
			return true;
		case LEASE_EXPIRED:
		case LEASE_FAILED:
			if (now >= l.ended_at + (int64) LEASE_TEARDOWN_GRACE_S * USECS_PER_SEC)
			{
				LagbidTask	t;

				if (!lagbid_lock_task(l.task_id, true, &t))
					return false;	/* busy: the next tick */
				lagbid_prelock_task_nowait(&t);
				tear_down(&t, &l, "teardown_grace", now);
				c->leases_torn_down++;
			}
			return true;
		default:
			break;
	}
	return true;
}

/* ---- cancellation by the owner ---- */

static LagbidPlan lease_of_task_plan = {
	"SELECT id FROM lagbid.lease WHERE task_id = $1 ORDER BY id DESC LIMIT 1",
	1, {INT8OID}
};

static LagbidPlan cut_plan = {
	"UPDATE lagbid.lease SET reserved_until = least(reserved_until, $2) WHERE id = $1",
	2, {INT8OID, TIMESTAMPTZOID}
};

void
lagbid_lease_cancel(LagbidTask *t)
{
	Datum		arg = Int64GetDatum(t->id);
	int64		lease_id = 0;
	LagbidLease l;
	TimestampTz now = lagbid_clock_now();

	lagbid_connect();
	lagbid_exec(&lease_of_task_plan, &arg, NULL, false, 1);
	if (!lagbid_result_int64(1, &lease_id))
		lease_id = 0;
	lagbid_finish();
	if (lease_id == 0)
		lagbid_raise(LB_LEASE_NOT_FOUND, NULL, NULL, "task %lld has no lease", (long long) t->id);
	lagbid_lock_lease(lease_id, false, &l);
	switch (l.state)
	{
		case LEASE_STARTING:
			lagbid_lease_set_state(&l, LEASE_FAILED, "cancelled", now);
			lagbid_lease_return_rest(&l, psprintf("lease %s cancelled by its owner: the rest returns", l.name));
			break;
		case LEASE_READY:
		case LEASE_DEGRADED:
			/* the time ends now: the windows up to now are settled, the last pro rata */
			set_ts(&cut_plan, l.id, now);
			l.reserved_until = Min(l.reserved_until, now);
			while ((l.state == LEASE_READY || l.state == LEASE_DEGRADED) &&
				   l.settled_until < l.reserved_until)
				lagbid_settle_next_window(&l, now, false);
			/* FALLTHROUGH */
		case LEASE_UNSTABLE:
			if (l.state == LEASE_UNSTABLE || l.state == LEASE_READY || l.state == LEASE_DEGRADED)
				lagbid_lease_set_state(&l, LEASE_EXPIRED, "cancelled", now);
			lagbid_lease_return_rest(&l, psprintf("lease %s cancelled by its owner: the rest returns", l.name));
			break;
		default:
			lagbid_raise(LB_LEASE_STATE, NULL, "It ends when its provider tears it down (or the grace passes).",
						 "lease %s of task %lld is %s already", l.name, (long long) t->id,
						 lagbid_state_name(MACHINE_LEASE, l.state));
	}
	lagbid_notify(HOLDER_PROVIDER, l.node_id, "lease_expired", l.task_id, 0, l.job_id,
				  psprintf("{\"lease_id\": %lld, \"reason\": \"cancelled\"}", (long long) l.id));
}

/* ---- extension ---- */

static LagbidPlan live_lease_plan = {
	"SELECT l.id FROM lagbid.lease l WHERE l.space_id = $1 "
	"   AND l.state IN ('starting', 'ready', 'degraded') ORDER BY l.id DESC LIMIT 1",
	1, {INT8OID}
};

static LagbidPlan extend_plan = {
	"UPDATE lagbid.lease SET reserved_until = reserved_until + $2 * interval '1 hour', "
	"       taken = taken + $3, near_expiry_told = false, "
	"       due_at = least(due_at, reserved_until + $2 * interval '1 hour') "
	"WHERE id = $1 RETURNING reserved_until",
	3, {INT8OID, NUMERICOID, NUMERICOID}
};

void
lagbid_lease_extend_space(int64 space_id, Datum hours, Datum price_max, int64 space_escrow)
{
	Datum		args[3];
	int64		lease_id = 0;
	LagbidLease l;
	Datum		amount;
	bool		isnull;
	TimestampTz until;

	args[0] = Int64GetDatum(space_id);
	lagbid_connect();
	lagbid_exec(&live_lease_plan, args, NULL, false, 1);
	if (!lagbid_result_int64(1, &lease_id))
		lease_id = 0;
	lagbid_finish();
	if (lease_id == 0)
		return;
	lagbid_lock_lease(lease_id, false, &l);
	if (l.state != LEASE_STARTING && l.state != LEASE_READY && l.state != LEASE_DEGRADED)
		return;					/* it ended meanwhile: the space keeps the money */

	/*
	 * the lease's price_max for the hours, from the space's escrow into the
	 * task's (the task's duration_hours stays: its bond was priced on it)
	 */
	amount = lagbid_num_mul(hours, l.price_max);
	lagbid_transfer_job("transfer", space_escrow, l.escrow_account_id, amount, l.task_id,
						space_id, l.job_id, psprintf("lease %s extended by %s hours",
													 l.name, lagbid_num_text(hours)));
	args[0] = Int64GetDatum(l.id);
	args[1] = hours;
	args[2] = amount;
	lagbid_connect();
	lagbid_exec(&extend_plan, args, NULL, false, 1);
	until = DatumGetTimestampTz(lagbid_result_datum(0, 1, &isnull));
	lagbid_finish();
	lagbid_notify(HOLDER_PROVIDER, l.node_id, "lease_extended", l.task_id, 0, l.job_id,
				  psprintf("{\"lease_id\": %lld, \"reserved_until\": \"%s\"}",
						   (long long) l.id, timestamptz_to_str(until)));
}

/* fail_job on a service's job (task locked): only while the lease starts */
void
lagbid_lease_job_failed(int64 job_id, const char *reason)
{
	LagbidLease l;
	TimestampTz now = lagbid_clock_now();

	lagbid_lock_lease_of_job(job_id, &l);
	if (l.state != LEASE_STARTING)
		lagbid_raise(LB_LEASE_STATE, NULL,
					 "A live lease ends at its reserved time; down windows are refunded to the owner.",
					 "lease %s of job %lld is %s: only a starting lease can be given up",
					 l.name, (long long) job_id, lagbid_state_name(MACHINE_LEASE, l.state));
	lagbid_lease_set_state(&l, LEASE_FAILED, reason, now);
	lagbid_lease_return_rest(&l, psprintf("lease %s given up: the rest returns", l.name));
	lagbid_notify(HOLDER_OWNER, l.owner, "lease_failed", l.task_id, 0, 0,
				  psprintf("{\"lease_id\": %lld, \"reason\": \"provider_failed\"}", (long long) l.id));
}

/* ---- the SQL functions ---- */

static int64
job_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "job_id must not be NULL");
	return PG_GETARG_INT64(0);
}

static LagbidPlan ready_plan = {
	"UPDATE lagbid.lease SET state = 'ready', endpoint = $2, "
	"       ready_at = coalesce(ready_at, $3), "
	"       settled_until = coalesce(settled_until, $3), "
	"       probes_until = coalesce(probes_until, $3), "
	"       due_at = CASE WHEN ready_at IS NULL THEN $3 ELSE due_at END "
	"WHERE id = $1",
	3, {INT8OID, TEXTOID, TIMESTAMPTZOID}
};

PG_FUNCTION_INFO_V1(lagbid_report_endpoint);

/*
 * lagbid.report_endpoint(job_id bigint, url text) — the provider's app
 * answers its health path: starting -> ready with the URL; ready or
 * degraded keep their state and take the new URL (an agent restarted).
 */
Datum
lagbid_report_endpoint(PG_FUNCTION_ARGS)
{
	int64		job_id = job_arg(fcinfo);
	char	   *url;
	LagbidLease l;
	Datum		args[3];
	TimestampTz now = lagbid_clock_now();
	bool		first;

	if (PG_ARGISNULL(1))
		lagbid_raise(LB_INVALID_ENDPOINT, NULL, NULL, "url must not be NULL");
	url = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(1), 2048, "url");
	lagbid_lock_lease_of_job(job_id, &l);
	if (l.state != LEASE_STARTING && l.state != LEASE_READY && l.state != LEASE_DEGRADED)
		lagbid_raise(LB_LEASE_STATE, NULL,
					 "An endpoint is reported while the lease is starting, ready or degraded.",
					 "lease %s of job %lld is %s", l.name, (long long) job_id,
					 lagbid_state_name(MACHINE_LEASE, l.state));
	if (l.state == LEASE_STARTING && now >= l.startup_deadline)
		lagbid_raise(LB_LEASE_STATE, psprintf("Its startup timeout passed at %s.",
											  timestamptz_to_str(l.startup_deadline)),
					 NULL, "lease %s of job %lld is past its startup timeout",
					 l.name, (long long) job_id);
	lagbid_check_endpoint(url, l.name, l.provider_id);

	first = (l.state == LEASE_STARTING);
	args[0] = Int64GetDatum(l.id);
	args[1] = CStringGetTextDatum(url);
	args[2] = TimestampTzGetDatum(now);
	lagbid_event_reason(first ? "endpoint_reported" : "endpoint_changed");
	lagbid_connect();
	lagbid_exec(&ready_plan, args, NULL, false, 0);
	lagbid_finish();
	lagbid_notify(HOLDER_OWNER, l.owner, "endpoint_ready", l.task_id, 0, 0,
				  psprintf("{\"lease_id\": %lld, \"space_id\": %lld}",
						   (long long) l.id, (long long) l.space_id));
	PG_RETURN_VOID();
}

static LagbidPlan task_of_job_plan = {
	"SELECT task_id FROM lagbid.job WHERE id = $1",
	1, {INT8OID}
};

PG_FUNCTION_INFO_V1(lagbid_report_teardown);

/*
 * lagbid.report_teardown(job_id bigint) — the provider stopped the app of
 * an expired or failed lease: torn_down, and the job and task end.
 */
Datum
lagbid_report_teardown(PG_FUNCTION_ARGS)
{
	int64		job_id = job_arg(fcinfo);
	int64		lease_id = lagbid_lease_of_job(job_id);
	LagbidLease l;
	LagbidTask	t;

	if (lease_id == 0)
		lagbid_raise(LB_LEASE_NOT_FOUND, NULL, NULL, "job %lld has no lease", (long long) job_id);
	/* lock order: the task (read without a lock first), then the lease */
	{
		Datum		arg = Int64GetDatum(job_id);
		int64		task_id = 0;

		lagbid_connect();
		lagbid_exec(&task_of_job_plan, &arg, NULL, false, 1);
		if (!lagbid_result_int64(1, &task_id))
			task_id = 0;
		lagbid_finish();
		lagbid_lock_task(task_id, false, &t);
	}
	lagbid_lock_lease(lease_id, false, &l);
	if (l.state != LEASE_EXPIRED && l.state != LEASE_FAILED)
		lagbid_raise(LB_LEASE_STATE, NULL,
					 "Tear down only an expired or failed lease (my_leases says its state).",
					 "lease %s of job %lld is %s", l.name, (long long) job_id,
					 lagbid_state_name(MACHINE_LEASE, l.state));
	tear_down(&t, &l, "report_teardown", lagbid_clock_now());
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(lagbid_lease_name_sql);

/* lagbid.lease_name(job_id bigint) RETURNS text */
Datum
lagbid_lease_name_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(lagbid_lease_name(job_arg(fcinfo))));
}
