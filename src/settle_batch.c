/*-------------------------------------------------------------------------
 *
 * settle_batch.c
 *	  The tick's settlement of many leases at once (issue 21's target:
 *	  10,000 leases in one tick in at most a second).  The common case of
 *	  a tick's visit to a lease — a ready lease whose closed windows are up
 *	  or unprobed, then its next window's probers — done by a few
 *	  statements over every such lease instead of a subtransaction and
 *	  some fifteen statements per lease:
 *
 *	  1. the due ready leases are locked (SKIP LOCKED, as the per-lease
 *	     visit does), then the accounts their windows move money between
 *	     (NOWAIT);
 *	  2. one statement, with a snapshot taken after those locks (so that a
 *	     probe report that committed before counts, as in settle_window),
 *	     computes each lease's next window's verdict from lagbid.probe
 *	     (the rules of settlement.c, unchanged) and, for the windows up or
 *	     unprobed, writes their ledger transactions (one payment and one
 *	     refund per window, each two entries summing to zero, as
 *	     lagbid_transfer_job writes them), the accounts' balances, the
 *	     lease_window rows and the leases' counters, and, for a lease left
 *	     with no closed window that goes on (not expiring, no near-expiry
 *	     notice due), its next visit at the current window's end (one
 *	     update of each lease row); repeated while some lease has another
 *	     closed window up or unprobed;
 *	  3. the same for the due leases that had no window to settle; then
 *	     the current windows' probers, for all of them, by one insert.
 *
 *	  Everything else stays due and gets the per-lease visit
 *	  (lagbid_lease_tick) in the same tick: a down window (slashing, a
 *	  state change, notifications), a degraded lease (up goes back to
 *	  ready), expiry, the near-expiry notice, a lease with a tick failure
 *	  on record, a provider without a ledger account yet.  The caller runs
 *	  this in a subtransaction: if anything fails (an account busy), it
 *	  is rolled back whole and the per-lease visits do all the work.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "lagbid.h"
#include "leases.h"

/* the due ready leases without a tick failure on record, locked */
static LagbidPlan batch_lock_plan = {
	"SELECT l.id FROM lagbid.lease l "
	" WHERE l.due_at <= $1 AND l.state = 'ready' "
	"   AND NOT EXISTS (SELECT 1 FROM lagbid.tick_failure f "
	"                    WHERE f.entity = 'lease' AND f.entity_id = l.id) "
	" ORDER BY l.due_at, l.id LIMIT $2 "
	"   FOR NO KEY UPDATE OF l SKIP LOCKED",
	2, {TIMESTAMPTZOID, INT4OID}
};

/* every account their windows may move money between, in id order, without waiting */
static LagbidPlan batch_accounts_plan = {
	"SELECT a.id FROM lagbid.account a "
	" WHERE a.id IN (SELECT unnest(ARRAY[t.escrow_account_id, t.funding_account_id, pa.id]) "
	"                  FROM lagbid.lease l JOIN lagbid.task t ON t.id = l.task_id "
	"                  JOIN lagbid.provider p ON p.id = l.provider_id "
	"                  LEFT JOIN lagbid.account pa ON pa.kind = 'provider' AND pa.name = p.node_id "
	"                 WHERE l.id = ANY ($1)) "
	" ORDER BY a.id FOR NO KEY UPDATE NOWAIT",
	1, {INT8ARRAYOID}
};

/*
 * Each lease's next window, if closed, and its verdict (settlement.c's
 * verdict_plan per lease); the windows up or unprobed settled: their money
 * (amounts truncated to 10^-6 and capped by the escrow), ledger, window
 * row and lease counters.  A down window is left to the per-lease visit.
 */
static LagbidPlan batch_settle_plan = {
	"WITH l AS MATERIALIZED ( "
	"  SELECT l.id, l.job_id, l.task_id, l.space_id, l.name, l.price, l.price_max, "
	"         l.provider_id, l.probes_until, l.window_s, l.reserved_until, l.near_expiry_told, "
	"         l.settled_until AS ws, "
	"         least(l.settled_until + make_interval(secs => l.window_s), l.reserved_until) AS we, "
	"         t.escrow_account_id AS escrow, t.funding_account_id AS funding, pa.id AS pacct "
	"    FROM lagbid.lease l JOIN lagbid.task t ON t.id = l.task_id "
	"    JOIN lagbid.provider p ON p.id = l.provider_id "
	"    JOIN lagbid.account pa ON pa.kind = 'provider' AND pa.name = p.node_id "
	"   WHERE l.id = ANY ($1) AND l.state = 'ready' AND l.settled_until < l.reserved_until "
	"     AND least(l.settled_until + make_interval(secs => l.window_s), l.reserved_until) <= $2), "
	"v AS MATERIALIZED ( "
	"  SELECT l.*, c.probers::int AS probers, c.reported::int AS reported, "
	"         least(trunc(l.price * extract(epoch FROM l.we - l.ws) / 3600, 6), a.balance) AS pay, "
	"         least(trunc(l.price_max * extract(epoch FROM l.we - l.ws) / 3600, 6), a.balance) AS full, "
	"         CASE WHEN c.reported = 0 THEN 'unprobed' ELSE 'up' END AS outcome, n.nwe, "
	"         n.nwe > $2 AND l.reserved_until > $2 "
	"         AND (l.near_expiry_told OR l.reserved_until - $2 > make_interval(secs => 2 * l.window_s)) "
	"         AS goes_on "
	"    FROM l JOIN lagbid.account a ON a.id = l.escrow "
	"   CROSS JOIN LATERAL (SELECT least(l.we + make_interval(secs => l.window_s), l.reserved_until) "
	"                       AS nwe) n "
	"   CROSS JOIN LATERAL ( "
	"         SELECT count(*) AS probers, count(*) FILTER (WHERE p.n > 0) AS reported, "
	"                count(*) FILTER (WHERE p.n > 0 AND p.up * 5 >= p.n * 4) AS says_up "
	"           FROM (SELECT count(*) FILTER (WHERE pr.reported_at IS NOT NULL) AS n, "
	"                        count(*) FILTER (WHERE pr.ok) AS up "
	"                   FROM lagbid.probe pr WHERE pr.lease_id = l.id AND pr.window_start = l.ws "
	"                  GROUP BY pr.prober_kind, pr.prober) p) c "
	"   WHERE c.reported = 0 OR c.says_up * 2 > c.reported), "
	/* each window's two legs, their ledger transactions' ids drawn first */
	"m AS MATERIALIZED ( "
	"  SELECT nextval(pg_get_serial_sequence('lagbid.ledger_tx', 'id')) AS tx_id, s.* "
	"    FROM (SELECT v.task_id, v.space_id, v.job_id, v.escrow, leg.kind, leg.amount, leg.account, "
	"                 leg.memo "
	"            FROM v CROSS JOIN LATERAL (VALUES "
	"                 (1, 'payment', v.pay, v.pacct, "
	"                  'lease ' || v.name || ': window ' || v.outcome || ', paid'), "
	"                 (2, 'refund', v.full - v.pay, v.funding, "
	"                  'lease ' || v.name || ': window ' || v.outcome || ', the share above the ask') "
	"                 ) AS leg(ord, kind, amount, account, memo) "
	"           WHERE leg.amount > 0 ORDER BY v.id, leg.ord) s), "
	"tx AS (INSERT INTO lagbid.ledger_tx (id, kind, amount, task_id, space_id, job_id, memo) "
	"       OVERRIDING SYSTEM VALUE "
	"       SELECT m.tx_id, m.kind, m.amount, m.task_id, m.space_id, m.job_id, m.memo FROM m), "
	"e AS (INSERT INTO lagbid.ledger_entry (tx_id, account_id, amount) "
	"      SELECT m.tx_id, x.account, x.amount "
	"        FROM m CROSS JOIN LATERAL (VALUES (1, m.escrow, -m.amount), (2, m.account, m.amount)) "
	"             AS x(ord, account, amount) "
	"       ORDER BY m.tx_id, x.ord), "
	"d AS (SELECT x.account, sum(x.amount) AS delta "
	"        FROM m CROSS JOIN LATERAL (VALUES (m.escrow, -m.amount), (m.account, m.amount)) "
	"             AS x(account, amount) "
	"       GROUP BY x.account), "
	"b AS (UPDATE lagbid.account a SET balance = a.balance + d.delta "
	"        FROM d WHERE a.id = d.account AND d.delta <> 0), "
	"w AS (INSERT INTO lagbid.lease_window (lease_id, window_start, window_end, outcome, paid, "
	"          refunded, probers, reported, settled_at) "
	"      SELECT v.id, v.ws, v.we, v.outcome, v.pay, v.full - v.pay, v.probers, v.reported, $2 "
	"        FROM v), "
	"u AS (UPDATE lagbid.lease x SET settled_until = v.we, paid = x.paid + v.pay, "
	"             refunded = x.refunded + (v.full - v.pay), "
	"             windows_up = x.windows_up + (v.outcome = 'up')::int, "
	"             windows_unprobed = x.windows_unprobed + (v.outcome = 'unprobed')::int, "
	"             down_streak = CASE WHEN v.outcome = 'up' THEN 0 ELSE x.down_streak END, "
	"             probes_until = CASE WHEN v.goes_on THEN v.nwe ELSE x.probes_until END, "
	"             due_at = CASE WHEN v.goes_on THEN v.nwe ELSE x.due_at END "
	"        FROM v WHERE x.id = v.id "
	"      RETURNING x.id, x.provider_id, x.settled_until, x.due_at, "
	"                v.goes_on AND coalesce(v.probes_until < v.nwe, true)) "
	"SELECT * FROM u",
	2, {INT8ARRAYOID, TIMESTAMPTZOID}
};

/*
 * The leases still due with no closed window that go on (ready, before
 * reserved_until, no near-expiry notice due) — those that had no window
 * to settle (the settlement above does this for the others): the next
 * visit at the end of the current window, its probers assigned up to
 * there; returns those whose window has no probers yet.
 */
static LagbidPlan batch_next_plan = {
	"UPDATE lagbid.lease l SET probes_until = x.we, due_at = x.we "
	"  FROM (SELECT id, probes_until AS before, "
	"               least(settled_until + make_interval(secs => window_s), reserved_until) AS we "
	"          FROM lagbid.lease WHERE id = ANY ($1)) x "
	" WHERE l.id = x.id AND l.state = 'ready' AND l.due_at <= $2 AND x.we > $2 "
	"   AND l.reserved_until > $2 "
	"   AND (l.near_expiry_told OR l.reserved_until - $2 > make_interval(secs => 2 * l.window_s)) "
	"RETURNING l.id, l.provider_id, l.settled_until, x.we, coalesce(x.before < x.we, true)",
	2, {INT8ARRAYOID, TIMESTAMPTZOID}
};

/* the leases whose current window needs probers, gathered over the statements */
typedef struct ProbeWants
{
	int			n;
	int			cap;
	int64	   *lease_ids;
	int64	   *provider_ids;
	TimestampTz *ws;
	TimestampTz *we;
} ProbeWants;

/* rows (id, provider_id, window start, window end, wants probers) of SPI_tuptable */
static void
gather_wants(ProbeWants *w)
{
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		want = lagbid_result_datum(i, 5, &isnull);

		if (isnull || !DatumGetBool(want))
			continue;
		if (w->n == w->cap)
		{
			w->cap = Max(64, w->cap * 2);
			w->lease_ids = repalloc_huge(w->lease_ids, sizeof(int64) * w->cap);
			w->provider_ids = repalloc_huge(w->provider_ids, sizeof(int64) * w->cap);
			w->ws = repalloc_huge(w->ws, sizeof(TimestampTz) * w->cap);
			w->we = repalloc_huge(w->we, sizeof(TimestampTz) * w->cap);
		}
		w->lease_ids[w->n] = DatumGetInt64(lagbid_result_datum(i, 1, &isnull));
		w->provider_ids[w->n] = DatumGetInt64(lagbid_result_datum(i, 2, &isnull));
		w->ws[w->n] = DatumGetTimestampTz(lagbid_result_datum(i, 3, &isnull));
		w->we[w->n] = DatumGetTimestampTz(lagbid_result_datum(i, 4, &isnull));
		w->n++;
	}
}

int
lagbid_lease_settle_batch(TimestampTz now, int limit, LeaseTickCounts *c)
{
	Datum		args[2];
	Datum	   *ids;
	int			n,
				i;
	ProbeWants	w;
	MemoryContext caller = CurrentMemoryContext;

	memset(&w, 0, sizeof(w));
	lagbid_connect();
	args[0] = TimestampTzGetDatum(now);
	args[1] = Int32GetDatum(limit);
	lagbid_exec(&batch_lock_plan, args, NULL, false, 0);
	n = (int) SPI_processed;
	if (n == 0)
	{
		lagbid_finish();
		return 0;
	}
	ids = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = lagbid_result_datum(i, 1, &isnull);
	}
	args[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	lagbid_exec(&batch_accounts_plan, args, NULL, false, 0);

	/* kept after SPI_finish */
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		w.cap = 64;
		w.lease_ids = palloc(sizeof(int64) * w.cap);
		w.provider_ids = palloc(sizeof(int64) * w.cap);
		w.ws = palloc(sizeof(TimestampTz) * w.cap);
		w.we = palloc(sizeof(TimestampTz) * w.cap);
		MemoryContextSwitchTo(spi);
	}

	/* one window per lease per statement, earlier windows first */
	args[1] = TimestampTzGetDatum(now);
	for (;;)
	{
		lagbid_exec(&batch_settle_plan, args, NULL, false, 0);
		if (SPI_processed == 0)
			break;
		c->windows_settled += (int) SPI_processed;
		gather_wants(&w);
	}
	lagbid_exec(&batch_next_plan, args, NULL, false, 0);
	gather_wants(&w);
	lagbid_finish();
	if (w.n > 0)
		c->probes_assigned += lagbid_assign_probers_batch(w.n, w.lease_ids, w.provider_ids,
														  w.ws, w.we);
	return n;
}
