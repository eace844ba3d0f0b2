/*-------------------------------------------------------------------------
 *
 * settlement.c
 *	  Settlement of a lease's probe windows (issue 21): a deterministic
 *	  function of (lease, window) and the market clock, done once per
 *	  window (lagbid.lease_window's primary key), in window order.
 *
 *	  A prober (a provider, or the owner) "says up" when at least 80 % of
 *	  its reported probes of the window succeeded.  The window is
 *	  - up when more than half of the probers that reported say up: the
 *	    provider is paid price x seconds / 3600, and the funding account
 *	    gets (price_max - price) x seconds / 3600 back;
 *	  - down otherwise (at least one prober reported): the funding account
 *	    is refunded price_max x seconds / 3600 at once; the down streak
 *	    grows; ready -> degraded; the third in a row -> unstable (payment
 *	    stops, the rest of the escrow returns so that the space can be
 *	    re-auctioned); with collateral the bond is slashed (reason
 *	    service_down_window, the window as evidence) at the first one;
 *	  - unprobed when no prober reported (none assigned, the tick did not
 *	    run, nobody answered): paid as up, never counted against the
 *	    provider, the streak unchanged.
 *	  Assigned providers that did not report count against themselves
 *	  (lagbid.provider.probes_missed).  Amounts are truncated to 10^-6 and
 *	  capped by the escrow, so the escrow never goes negative.
 *
 *	  lagbid.settle_window(lease_id, window_start).
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

/* a timestamp as text, copied (timestamptz_to_str's buffer is static) */
static char *
ts_text(TimestampTz t)
{
	return pstrdup(timestamptz_to_str(t));
}

TimestampTz
lagbid_window_end(LagbidLease *l, TimestampTz ws)
{
	TimestampTz we = ws + (int64) l->window_s * USECS_PER_SEC;

	return Min(we, l->reserved_until);
}

/*
 * The window's verdict and its money in one statement: per prober, its
 * reported and successful probes; the amounts for (we - ws) seconds,
 * truncated to 10^-6 and capped by the escrow's balance.
 */
static LagbidPlan verdict_plan = {
	"WITH p AS (SELECT count(*) FILTER (WHERE reported_at IS NOT NULL) AS n, "
	"                  count(*) FILTER (WHERE ok) AS up "
	"             FROM lagbid.probe WHERE lease_id = $1 AND window_start = $2 "
	"            GROUP BY prober_kind, prober), "
	"v AS (SELECT count(*) AS probers, count(*) FILTER (WHERE n > 0) AS reported, "
	"             count(*) FILTER (WHERE n > 0 AND up * 5 >= n * 4) AS says_up FROM p), "
	"m AS (SELECT a.balance AS bal, "
	"             trunc($3 * extract(epoch FROM $6 - $2) / 3600, 6) AS pay, "
	"             trunc($4 * extract(epoch FROM $6 - $2) / 3600, 6) AS full "
	"        FROM lagbid.account a WHERE a.id = $5) "
	"SELECT v.probers, v.reported, v.says_up, "
	"       least(m.pay, m.bal), least(m.full, m.bal) FROM v, m",
	6, {INT8OID, TIMESTAMPTZOID, NUMERICOID, NUMERICOID, INT8OID, TIMESTAMPTZOID}
};

/*
 * The silent probers of the windows settled since the last count, counted
 * once (lagbid.provider.probes_missed): one update per provider, not one
 * per window (the tick settles thousands of windows in one transaction,
 * and a provider row updated once per window would grow a version chain
 * that every later read walks).  The provider rows are taken first, with
 * NOWAIT from the tick: busy, they are counted at the next tick.
 */
#define MISSED_WINDOWS \
	"SELECT pr.provider_id, count(*) AS n FROM lagbid.lease_window w " \
	"  JOIN lagbid.probe pr ON pr.lease_id = w.lease_id AND pr.window_start = w.window_start " \
	" WHERE NOT w.misses_counted AND pr.reported_at IS NULL AND pr.provider_id IS NOT NULL " \
	" GROUP BY pr.provider_id"

static LagbidPlan missed_lock_plan = {
	"SELECT p.id FROM lagbid.provider p WHERE p.id IN (SELECT m.provider_id FROM (" MISSED_WINDOWS ") m) "
	"ORDER BY p.id FOR NO KEY UPDATE",
	0, {InvalidOid}
};

static LagbidPlan missed_lock_nowait_plan = {
	"SELECT p.id FROM lagbid.provider p WHERE p.id IN (SELECT m.provider_id FROM (" MISSED_WINDOWS ") m) "
	"ORDER BY p.id FOR NO KEY UPDATE NOWAIT",
	0, {InvalidOid}
};

static LagbidPlan missed_plan = {
	"WITH m AS (" MISSED_WINDOWS "), "
	"counted AS (UPDATE lagbid.lease_window SET misses_counted = true WHERE NOT misses_counted) "
	"UPDATE lagbid.provider p SET probes_missed = p.probes_missed + m.n FROM m WHERE p.id = m.provider_id",
	0, {InvalidOid}
};

void
lagbid_count_missed_probes(bool nowait)
{
	lagbid_connect();
	lagbid_exec(nowait ? &missed_lock_nowait_plan : &missed_lock_plan, NULL, NULL, false, 0);
	lagbid_exec(&missed_plan, NULL, NULL, false, 0);
	lagbid_finish();
}

static LagbidPlan window_plan = {
	"INSERT INTO lagbid.lease_window (lease_id, window_start, window_end, outcome, paid, "
	"    refunded, probers, reported, settled_at) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
	9, {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, NUMERICOID, NUMERICOID, INT4OID,
	INT4OID, TIMESTAMPTZOID}
};

static LagbidPlan lease_after_plan = {
	"UPDATE lagbid.lease SET settled_until = $2, paid = paid + $3, refunded = refunded + $4, "
	"       windows_up = windows_up + ($5 = 'up')::int, "
	"       windows_down = windows_down + ($5 = 'down')::int, "
	"       windows_unprobed = windows_unprobed + ($5 = 'unprobed')::int, "
	"       down_streak = CASE $5 WHEN 'down' THEN down_streak + 1 WHEN 'up' THEN 0 "
	"                     ELSE down_streak END "
	"WHERE id = $1",
	5, {INT8OID, TIMESTAMPTZOID, NUMERICOID, NUMERICOID, TEXTOID}
};

static const char *const outcome_names[] = {"up", "down", "unprobed"};

/* the bond of the lease's bid slashed whole at its first down window */
static void
slash_bond(LagbidLease *l, TimestampTz ws, TimestampTz we, int says_up, int reported)
{
	LagbidTask	t;
	Datum		slashed;
	char	   *evidence;

	if (l->collateral_ratio == (Datum) 0 || !lagbid_num_positive(l->collateral_ratio))
		return;
	memset(&t, 0, sizeof(t));
	t.id = l->task_id;
	t.owner = l->owner;
	t.space_id = l->space_id;
	t.escrow_account_id = l->escrow_account_id;
	t.funding_account_id = l->funding_account_id;
	t.collateral_ratio = l->collateral_ratio;
	t.duration_hours = l->duration_hours;
	t.replicas = 1;
	t.state = TASK_PROCESSING;
	evidence = psprintf("lease %s window %s .. %s: %d of %d probers reported it up",
						l->name, ts_text(ws), ts_text(we), says_up, reported);
	slashed = lagbid_bond_settle(&t, l->bid_id, l->job_id, l->node_id, true,
								 "service_down_window", evidence);
	if (lagbid_num_positive(slashed))
	{
		/* the provider's slashed total, as a finished job's slash counts (outcome.c) */
		Datum		args[2];
		static LagbidPlan slashed_plan = {
			"UPDATE lagbid.provider SET slashed_total = slashed_total + $2 WHERE id = $1",
			2, {INT8OID, NUMERICOID}
		};

		args[0] = Int64GetDatum(l->provider_id);
		args[1] = slashed;
		lagbid_connect();
		lagbid_exec(&slashed_plan, args, NULL, false, 0);
		lagbid_finish();
	}
}

LeaseOutcome
lagbid_settle_next_window(LagbidLease *l, TimestampTz now, bool nowait)
{
	TimestampTz ws = l->settled_until;
	TimestampTz we = lagbid_window_end(l, ws);
	Datum		args[9];
	bool		isnull;
	int			probers,
				reported,
				says_up;
	Datum		pay,
				full,
				paid,
				refunded;
	LeaseOutcome outcome;
	int64		provider_account;

	if (we > now)
		elog(ERROR, "lagbid: window %s of lease %lld has not closed",
			 ts_text(ws), (long long) l->id);

	args[0] = Int64GetDatum(l->id);
	args[1] = TimestampTzGetDatum(ws);
	args[2] = l->price;
	args[3] = l->price_max;
	args[4] = Int64GetDatum(l->escrow_account_id);
	args[5] = TimestampTzGetDatum(we);
	lagbid_connect();
	lagbid_exec(&verdict_plan, args, NULL, false, 1);	/* a fresh snapshot: reports that committed while we waited for the lease count */
	probers = (int) DatumGetInt64(lagbid_result_datum(0, 1, &isnull));
	reported = (int) DatumGetInt64(lagbid_result_datum(0, 2, &isnull));
	says_up = (int) DatumGetInt64(lagbid_result_datum(0, 3, &isnull));
	pay = SPI_datumTransfer(lagbid_result_datum(0, 4, &isnull), false, -1);
	full = SPI_datumTransfer(lagbid_result_datum(0, 5, &isnull), false, -1);

	if (reported == 0)
		outcome = OUTCOME_UNPROBED;
	else if (says_up * 2 > reported)
		outcome = OUTCOME_UP;
	else
		outcome = OUTCOME_DOWN;

	/* probers that were assigned and did not report: lagbid_count_missed_probes */
	lagbid_finish();

	provider_account = lagbid_account_id(ACCOUNT_PROVIDER, l->node_id, true);
	if (nowait)
		lagbid_prelock_accounts_nowait(l->escrow_account_id, provider_account);
	if (outcome == OUTCOME_DOWN)
	{
		paid = lagbid_num_int(0);
		refunded = full;
		lagbid_transfer_job("refund", l->escrow_account_id, l->funding_account_id, refunded,
							l->task_id, l->space_id, l->job_id,
							psprintf("lease %s: window down, refunded", l->name));
	}
	else
	{
		paid = pay;
		refunded = lagbid_num_sub(full, pay);
		lagbid_transfer_job("payment", l->escrow_account_id, provider_account, paid,
							l->task_id, l->space_id, l->job_id,
							psprintf("lease %s: window %s, paid", l->name, outcome_names[outcome]));
		lagbid_transfer_job("refund", l->escrow_account_id, l->funding_account_id, refunded,
							l->task_id, l->space_id, l->job_id,
							psprintf("lease %s: window %s, the share above the ask", l->name,
									 outcome_names[outcome]));
	}

	args[2] = TimestampTzGetDatum(we);
	args[3] = CStringGetTextDatum(outcome_names[outcome]);
	args[4] = paid;
	args[5] = refunded;
	args[6] = Int32GetDatum(probers);
	args[7] = Int32GetDatum(reported);
	args[8] = TimestampTzGetDatum(now);
	lagbid_connect();
	lagbid_exec(&window_plan, args, NULL, false, 0);
	args[1] = TimestampTzGetDatum(we);
	args[2] = paid;
	args[3] = refunded;
	args[4] = CStringGetTextDatum(outcome_names[outcome]);
	lagbid_exec(&lease_after_plan, args, NULL, false, 0);
	lagbid_finish();
	l->settled_until = we;

	if (outcome == OUTCOME_UP)
	{
		l->down_streak = 0;
		if (l->state == LEASE_DEGRADED)
			lagbid_lease_set_state(l, LEASE_READY, "window_up", now);
	}
	else if (outcome == OUTCOME_DOWN)
	{
		char	   *payload = psprintf("{\"lease_id\": %lld, \"space_id\": %lld, \"window_start\": \"%s\"}",
									   (long long) l->id, (long long) l->space_id,
									   ts_text(ws));

		l->down_streak++;
		slash_bond(l, ws, we, says_up, reported);
		if (l->state == LEASE_READY)
		{
			lagbid_lease_set_state(l, LEASE_DEGRADED, "window_down", now);
			lagbid_notify(HOLDER_OWNER, l->owner, "lease_degraded", l->task_id, 0, 0, payload);
		}
		else if (l->state == LEASE_DEGRADED && l->down_streak >= LEASE_UNSTABLE_STREAK)
		{
			lagbid_lease_set_state(l, LEASE_UNSTABLE, "down_streak", now);
			lagbid_lease_return_rest(l, psprintf("lease %s unstable: the rest returns for a re-auction",
												 l->name));
			lagbid_notify(HOLDER_OWNER, l->owner, "lease_unstable", l->task_id, 0, 0, payload);
		}
	}
	return outcome;
}

PG_FUNCTION_INFO_V1(lagbid_settle_window);

/*
 * lagbid.settle_window(lease_id bigint, window_start timestamptz)
 *     RETURNS text: 'up', 'down', 'unprobed', or 'already' when it was
 * settled before.  Windows are settled in order: the earlier ones first.
 */
Datum
lagbid_settle_window(PG_FUNCTION_ARGS)
{
	int64		lease_id;
	TimestampTz ws;
	TimestampTz now = lagbid_clock_now();
	LagbidLease l;
	LeaseOutcome outcome = OUTCOME_UNPROBED;
	int64		window_us;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "lease_id and window_start must not be NULL");
	lease_id = PG_GETARG_INT64(0);
	ws = PG_GETARG_TIMESTAMPTZ(1);
	lagbid_lock_lease(lease_id, false, &l);
	window_us = (int64) l.window_s * USECS_PER_SEC;
	if (l.ready_at == 0 || ws < l.ready_at || (ws - l.ready_at) % window_us != 0 ||
		ws >= l.reserved_until)
		lagbid_raise(LB_INVALID_ARGUMENT,
					 l.ready_at ? psprintf("Its windows start at %s, every %d s, until %s.",
										   ts_text(l.ready_at), l.window_s,
										   ts_text(l.reserved_until)) : NULL,
					 NULL, "%s is not the start of a probe window of lease %lld",
					 ts_text(ws), (long long) lease_id);
	if (ws < l.settled_until)
		PG_RETURN_TEXT_P(cstring_to_text("already"));
	if (l.state != LEASE_READY && l.state != LEASE_DEGRADED)
		lagbid_raise(LB_LEASE_STATE, NULL, NULL,
					 "lease %lld is %s: its windows from %s on are not settled",
					 (long long) lease_id, lagbid_state_name(MACHINE_LEASE, l.state),
					 ts_text(l.settled_until));
	if (lagbid_window_end(&l, ws) > now)
		lagbid_raise(LB_WINDOW_NOT_CLOSED, NULL, "Settle it after its end (the tick does).",
					 "window %s of lease %lld closes at %s", ts_text(ws),
					 (long long) lease_id, ts_text(lagbid_window_end(&l, ws)));
	while (l.settled_until <= ws && (l.state == LEASE_READY || l.state == LEASE_DEGRADED))
		outcome = lagbid_settle_next_window(&l, now, false);
	/* its silent probers count against them now (the tick counts once per tick) */
	lagbid_count_missed_probes(false);
	PG_RETURN_TEXT_P(cstring_to_text(outcome_names[outcome]));
}
