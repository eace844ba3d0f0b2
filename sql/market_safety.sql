-- Market safety (issue 16): one row never stops the tick, budgets never
-- exceed escrows, no free publishing, owner caps, fair batches, quiet
-- refusals, the outbox retention.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';

-- ---------------------------------------------------------------------------
-- 1. The review's reproduction: escrow left exactly 20, then a price_max of
--    10.0000000000000001.  In 0.2 every tick failed with LB501 from then on.
-- ---------------------------------------------------------------------------
SELECT lagbid.deposit('eve', 100.0005, 'safety-eve');
SELECT cp(1, 'eu') AS eve_provider;
SELECT lagbid.create_space('eve', 'app', '{}', 0, 10, 10.00005) AS space;
SELECT lagbid.trigger_space(1) AS task;
SELECT lagbid.place_bid(1, 1, 8.00005);
SELECT lagbid.close_bidding(1);
SELECT lagbid.submit_result(1, 's3://r', 'h');
SELECT lagbid.finalize(1) AS leader;
SELECT balance AS escrow_left FROM lagbid.account WHERE name = 'space:1';
SELECT lagbid.update_space(1, price_max => 10.0000000000000001);
-- another owner's task, due at the same tick
SELECT lagbid.deposit('bob', 100, 'safety-bob');
SELECT lagbid.publish_task('bob', '{}', 1, 10, 1) AS bob_task;
SET lagbid.clock = '2030-01-01 00:10:00+00';
SELECT lagbid.tick() - 'deferred' AS tick;
-- the space's task: its budget is within the escrow (duration rounded down)
SELECT id, state, duration_hours, price_max * duration_hours * replicas <= 20 AS within_escrow
  FROM lagbid.task WHERE space_id = 1 AND id > 1;
SELECT id, state, reason FROM lagbid.task WHERE owner = 'bob';
SELECT lagbid.tick() ->> 'failed' AS failed_next_tick;
SELECT * FROM lagbid.check_invariants();

-- ---------------------------------------------------------------------------
-- 2. A row that fails rolls back alone, is recorded, and backs off.
--    (A trigger of the test makes task "doomed" fail when it is closed.)
-- ---------------------------------------------------------------------------
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT lagbid.deposit('alice', 1000, 'safety-a');
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1) AS t1,
       lagbid.publish_task('alice', '{}', 1, 10, 1) AS t2,
       lagbid.publish_task('alice', '{}', 1, 10, 1) AS t3;
CREATE FUNCTION public.doom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 2 AND NEW.state <> OLD.state THEN
        RAISE EXCEPTION 'task 2 is doomed' USING ERRCODE = 'XX001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER doom BEFORE UPDATE ON lagbid.task FOR EACH ROW EXECUTE FUNCTION public.doom();
SET lagbid.clock = '2030-01-01 00:10:00+00';
SELECT t ->> 'failed_no_bids' AS failed_no_bids, t ->> 'failed' AS failed FROM lagbid.tick() AS t;
SELECT id, state FROM lagbid.task ORDER BY id;
SELECT entity, entity_id, owner, action, failures, sqlstate, error, first_failed_at, next_retry_at
  FROM lagbid.tick_failures;
SELECT entity_id, from_state, to_state, actor, reason FROM lagbid.event
 WHERE reason LIKE 'tick_failed%';
-- backoff: not tried again before next_retry_at (00:11), then 2 minutes
SELECT lagbid.tick() ->> 'failed' AS failed_at_10;
SET lagbid.clock = '2030-01-01 00:11:00+00';
SELECT lagbid.tick() ->> 'failed' AS failed_at_11;
SELECT failures, last_failed_at, next_retry_at FROM lagbid.tick_failures;
SELECT failing_rows, oldest_failure_at FROM lagbid.tick_status;
-- the admin views show it: stuck_tasks (still past its deadline) and tick_failures
SELECT task_id, problem FROM lagbid.stuck_tasks;
-- fixed: the next try succeeds and the record goes
DROP TRIGGER doom ON lagbid.task;
SET lagbid.clock = '2030-01-01 00:13:00+00';
SELECT t ->> 'failed_no_bids' AS failed_no_bids, t ->> 'failed' AS failed FROM lagbid.tick() AS t;
SELECT count(*) AS failing FROM lagbid.tick_failures;
SELECT * FROM lagbid.check_invariants();

-- ---------------------------------------------------------------------------
-- 3. The tick's lock: a table only the extension may lock; the tick records
--    when it ran.  (test/specs/tick_lock_hijack.spec: an advisory lock no
--    longer pauses it, skips are counted and warned about.)
-- ---------------------------------------------------------------------------
SELECT last_run_at, last_result ->> 'failed' AS failed, consecutive_skips FROM lagbid.tick_status;
SELECT pg_advisory_lock(x'6c616762696474'::bigint);
SELECT lagbid.tick() ? 'skipped' AS skipped;
SELECT pg_advisory_unlock(x'6c616762696474'::bigint);
CREATE ROLE safety_nobody LOGIN;
SET ROLE safety_nobody;
SELECT try('SELECT 1 FROM lagbid.tick_state FOR UPDATE');
RESET ROLE;
GRANT USAGE ON SCHEMA lagbid TO safety_nobody;
GRANT SELECT ON lagbid.tick_state TO safety_nobody;
SET ROLE safety_nobody;
-- even granted SELECT by mistake: locking needs UPDATE, and RLS shows no row
SELECT try('SELECT 1 FROM lagbid.tick_state FOR NO KEY UPDATE');
SELECT count(*) AS rows_seen FROM lagbid.tick_state;
RESET ROLE;
REVOKE ALL ON lagbid.tick_state FROM safety_nobody;
REVOKE ALL ON SCHEMA lagbid FROM safety_nobody;
DROP ROLE safety_nobody;

-- ---------------------------------------------------------------------------
-- 4. No free publishing: lagbid.min_task_budget (default 0.01), LB008
-- ---------------------------------------------------------------------------
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SHOW lagbid.min_task_budget;
SELECT try($$SELECT lagbid.publish_task('mallory', '{}', 0, 0, 0.0003)$$);
SELECT try($$SELECT lagbid.publish_task('mallory', '{}', 0, 1, 0.001)$$);
SELECT try($$SELECT lagbid.create_space('mallory', 's', '{}', 0, 0, 10)$$);
SELECT lagbid.deposit('mallory', 1, 'safety-m');
SELECT try($$SELECT lagbid.publish_task('mallory', '{}', 0, 1, 0.01)$$) AS at_minimum;
SELECT lagbid.create_space('mallory', 's', '{}', 0, 0.01, 1) AS space;
SELECT try($$SELECT lagbid.update_space(1, price_max => 0)$$);
SELECT try($$SET lagbid.min_task_budget = '-1'$$);
SELECT try($$SET lagbid.min_task_budget = '1e3'$$);
SELECT try($$SET lagbid.min_task_budget = 'NaN'$$);
-- an operator may allow free tasks again
SET lagbid.min_task_budget = 0;
SELECT try($$SELECT lagbid.publish_task('mallory', '{}', 0, 0, 1)$$) AS free_allowed;
RESET lagbid.min_task_budget;
-- nothing was written by the refusals: only the allowed task, space and free task
SELECT count(*) AS tasks FROM lagbid.task;
SELECT * FROM lagbid.check_invariants();

-- ---------------------------------------------------------------------------
-- 5. Owner caps: lagbid.max_open_tasks_per_owner, lagbid.max_spaces_per_owner (LB316)
-- ---------------------------------------------------------------------------
SELECT fresh_market();
SELECT lagbid.deposit('carol', 1000, 'safety-c');
SHOW lagbid.max_open_tasks_per_owner;
SHOW lagbid.max_spaces_per_owner;
SET lagbid.max_open_tasks_per_owner = 3;
SELECT lagbid.publish_task('carol', '{}', 1, 2, 1) FROM generate_series(1, 3);
SELECT try($$SELECT lagbid.publish_task('carol', '{}', 1, 2, 1)$$);
SELECT owner, live_tasks FROM lagbid.owner_load;
SELECT lagbid.cancel_task(1);
SELECT try($$SELECT lagbid.publish_task('carol', '{}', 1, 2, 1)$$) AS after_cancel;
-- another owner is not affected
SELECT lagbid.deposit('dave', 10, 'safety-d');
SELECT try($$SELECT lagbid.publish_task('dave', '{}', 1, 2, 1)$$) AS dave;
RESET lagbid.max_open_tasks_per_owner;
-- the counter follows the tasks: a refused publish leaves it as it was
SELECT o.owner, o.live_tasks,
       (SELECT count(*) FROM lagbid.task t WHERE t.owner = o.owner AND t.space_id IS NULL
           AND t.state IN ('created', 'accepting_bids', 'bid_closed', 'processing')) AS live
  FROM lagbid.owner_load o ORDER BY o.owner;
SET lagbid.max_spaces_per_owner = 1;
SELECT lagbid.create_space('carol', 'one', '{}', 1, 2, 1) AS space;
SELECT try($$SELECT lagbid.create_space('carol', 'two', '{}', 1, 2, 1)$$);
RESET lagbid.max_spaces_per_owner;
SELECT try($$SET lagbid.max_spaces_per_owner = 0$$);
SELECT * FROM lagbid.check_invariants();

-- ---------------------------------------------------------------------------
-- 6. Fair batches: one owner's backlog of 5,000 due tasks does not delay
--    another owner's due task beyond the first tick.
-- ---------------------------------------------------------------------------
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT lagbid.deposit('flood', 1000, 'safety-f');
-- (a transaction per 20 tasks, as a client would: one statement updating
-- the owner's rows 5,000 times makes long chains of its own row versions)
DO $$
BEGIN
    FOR i IN 1..5000 LOOP
        PERFORM lagbid.publish_task('flood', '{}', 0, 0.01, 1, bidding_window => '1 minute');
        IF i % 20 = 0 THEN
            COMMIT;
        END IF;
    END LOOP;
END $$;
SELECT count(*) AS flood_tasks, (SELECT live_tasks FROM lagbid.owner_load WHERE owner = 'flood') AS counted
  FROM lagbid.task WHERE owner = 'flood';
SELECT lagbid.deposit('frank', 10, 'safety-fr');
SELECT lagbid.publish_task('frank', '{}', 1, 2, 1, bidding_window => '5 minutes') AS frank_task;
SET lagbid.clock = '2030-01-01 00:10:00+00';
SET lagbid.tick_batch_size = 100;
SELECT lagbid.tick() ->> 'failed_no_bids' AS first_tick;
SELECT state, reason FROM lagbid.task WHERE owner = 'frank';
SELECT count(*) FILTER (WHERE state = 'failed') AS flood_failed,
       count(*) FILTER (WHERE state = 'accepting_bids') AS flood_waiting
  FROM lagbid.task WHERE owner = 'flood';
RESET lagbid.tick_batch_size;
SELECT lagbid.tick() ->> 'failed_no_bids' AS second_tick;
SELECT count(*) AS flood_waiting FROM lagbid.task WHERE owner = 'flood' AND state = 'accepting_bids';
-- the tick's failures lowered the owner's count of live tasks
SELECT o.owner, o.live_tasks = count(t.id) AS counted_right
  FROM lagbid.owner_load o LEFT JOIN lagbid.task t ON t.owner = o.owner AND t.space_id IS NULL
       AND t.state IN ('created', 'accepting_bids', 'bid_closed', 'processing')
 GROUP BY o.owner, o.live_tasks ORDER BY o.owner;
-- the work lists use the per-owner indexes
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT x.id FROM lagbid.task x
 WHERE x.owner = 'flood' AND x.state = 'accepting_bids' AND x.bidding_deadline <= now()
 ORDER BY x.bidding_deadline, x.id LIMIT 10;
RESET enable_seqscan;
SELECT * FROM lagbid.check_invariants();

-- ---------------------------------------------------------------------------
-- 7. Refusals say no more about a task than the provider may see: a
--    provider the task is not open to cannot probe its price range.
-- ---------------------------------------------------------------------------
SELECT fresh_market();
SELECT lagbid.deposit('gina', 100, 'safety-g');
SELECT cp(1, 'eu') AS eu, cp(2, 'us') AS us;
SELECT lagbid.publish_task('gina', '{"cpu": 64}', 7, 9, 1, region => 'eu') AS task;
SELECT try('SELECT lagbid.place_bid(1, 2, 100)') AS out_of_region_and_range;
SELECT try('SELECT lagbid.place_bid(1, 1, 100)') AS too_small_and_out_of_range;
SELECT lagbid.cancel_task(1);
SELECT try('SELECT lagbid.place_bid(1, 2, 8)') AS cancelled;

-- ---------------------------------------------------------------------------
-- 8. Outbox retention: unacknowledged notifications can be purged too
-- ---------------------------------------------------------------------------
UPDATE lagbid.notification SET created_at = now() - interval '100 days';
SELECT count(*) AS unacked FROM lagbid.notification WHERE acked_at IS NULL;
SELECT lagbid.purge_notifications(unacked_older_than => NULL) AS kept_unacked;
SELECT lagbid.purge_notifications() AS purged_default_90_days;
SELECT count(*) AS left FROM lagbid.notification;
RESET lagbid.clock;
