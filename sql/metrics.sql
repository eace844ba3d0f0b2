-- lagbid.metrics(family): the market's gauges and counters for monitoring
-- (contrib/prometheus/queries.yaml reads them through postgres_exporter).
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT lagbid.deposit('alice', 1000, 'metrics-1');
SELECT cp(1) AS p1, cp(2) AS p2, cp(3) AS p3;
SELECT lagbid.set_provider_state(3, 'suspended');
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5, auto_allocate => false);
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 1);
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, open => false);
SELECT lagbid.place_bid(1, 1, 4), lagbid.place_bid(1, 2, 6), lagbid.place_bid(2, 1, 5);
SELECT lagbid.upload_result(1, 'out');
SELECT lagbid.finalize(2);
-- every family; before any tick the tick's times are absent, not zero
SELECT * FROM lagbid.metrics() WHERE metric <> 'oldest_pending_age_seconds';
SELECT value >= 0 AS has_age FROM lagbid.metrics('notifications') WHERE metric = 'oldest_pending_age_seconds';
-- after a tick: when it ran (market clock) and how long ago
SELECT lagbid.tick() IS NOT NULL AS ticked;
SET lagbid.clock = '2030-01-01 00:00:30+00';
SELECT metric, value FROM lagbid.metrics('tick') ORDER BY metric;
SELECT to_timestamp(value) AT TIME ZONE 'UTC' AS last_run FROM lagbid.metrics('TICK') WHERE metric = 'last_run_timestamp_seconds';
-- the ledger's sums agree with the ledger
SELECT m.label, m.value = (SELECT coalesce(sum(amount), 0) FROM lagbid.ledger_tx WHERE kind = m.label) AS agrees
  FROM lagbid.metrics('ledger') m WHERE m.metric = 'volume' ORDER BY m.label;
-- an unknown family is refused
SELECT try($$SELECT * FROM lagbid.metrics('nope')$$);
-- who may read it: pg_monitor and the platform, nobody else
SET ROLE pg_monitor;
SELECT count(*) > 0 AS monitor_reads FROM lagbid.metrics();
SELECT try('SELECT count(*) FROM lagbid.task');
RESET ROLE;
SET ROLE lagbid_owner;
SELECT try('SELECT * FROM lagbid.metrics()');
RESET ROLE;
SET ROLE lagbid_anon;
SELECT try('SELECT * FROM lagbid.metrics()');
RESET ROLE;
RESET lagbid.clock;
