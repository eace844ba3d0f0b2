-- The minutely hook: deadlines, failures, elections, bounds, pg_cron.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT lagbid.deposit('alice', 10000, 'tick-1');
SELECT cp(1, 'eu') AS p1, cp(2, 'eu') AS p2, cp(3, 'eu') AS p3;
-- an idle tick does nothing
SELECT lagbid.tick();
-- t1: no bid by the deadline -> failed (no_bids), refunded
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1) AS t1;
-- t2: a bid, auto_allocate -> closed and allocated at the deadline
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5) AS t2;
SELECT lagbid.place_bid(2, 1, 4);
-- t3: bids, no auto_allocate -> closed only
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, auto_allocate => false) AS t3;
SELECT lagbid.place_bid(3, 2, 4);
-- t4: longer window -> untouched
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bidding_window => '1 hour') AS t4;
SELECT lagbid.tick();
SET lagbid.clock = '2030-01-01 00:10:00+00';
SELECT lagbid.tick();
SELECT id, state, reason, bid_count FROM lagbid.task ORDER BY id;
SELECT lagbid.balance('alice') AS alice;
-- idempotent
SELECT lagbid.tick();

-- the election is due when every job reported, or at the deadline
SELECT lagbid.submit_result(1, 's3://r', 'h');
SELECT lagbid.tick();
SELECT id, state, leader_job_id FROM lagbid.task WHERE id = 2;
SELECT lagbid.allocate(3);
SET lagbid.clock = '2030-01-01 01:20:00+00';
SELECT lagbid.tick();
SELECT id, state, reason FROM lagbid.task ORDER BY id;
SELECT id, state, reason FROM lagbid.job ORDER BY id;

-- bounded: lagbid.tick_batch_size rows per action
SET lagbid.tick_batch_size = 2;
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1) FROM generate_series(1, 5);
SET lagbid.clock = '2030-01-01 01:40:00+00';
SELECT lagbid.tick() ->> 'failed_no_bids' AS first, lagbid.tick() ->> 'failed_no_bids' AS second,
       lagbid.tick() ->> 'failed_no_bids' AS third;
RESET lagbid.tick_batch_size;

-- the tick's queries use the partial indexes (no scan of the whole tables)
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM lagbid.task WHERE state = 'accepting_bids' AND bidding_deadline <= now() ORDER BY bidding_deadline LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM lagbid.space WHERE changed AND state = 'active' ORDER BY id LIMIT 10;
RESET enable_seqscan;

-- pg_cron is not in this database: a clear refusal
SELECT try('SELECT lagbid.schedule_tick()');
SELECT * FROM lagbid.check_invariants();
