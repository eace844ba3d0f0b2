-- Per-step cost of a task's life, one client (bench/versions.sh; docs/benchmarks.md).
--
--   CALL bench.step_costs(1000);  SELECT * FROM bench.step_cost;
--
-- Runs n lifecycles as bench/lifecycle.sql does (publish with 3 replicas and
-- bid limit 3, two ordinary bids, the closing bid that allocates 3 jobs, three
-- submit_result, finalize), each step timed with clock_timestamp() around the
-- one call, and leaves the mean microseconds per call of each step in
-- bench.step_cost.  Each lifecycle commits (untimed): in one transaction the
-- owner's account and counters would collect one row version per update,
-- all of them live until the end, and every later lookup would walk them
-- (measured: 200 us per account lookup after 300 lifecycles instead of 10).
-- No commit cost is in the steps; the lifecycle workload pays 8 commits on
-- top.  Works on 0.2 and 0.3.
\set ON_ERROR_STOP on
CREATE TABLE IF NOT EXISTS bench.step_cost (step text, calls int, us_per_call numeric);
CREATE OR REPLACE PROCEDURE bench.step_costs(n int, owner text DEFAULT 'owner-1', nproviders int DEFAULT 10000)
LANGUAGE plpgsql AS $$
DECLARE
    names text[] := ARRAY['publish', 'ordinary bid', 'closing bid + allocation (3 jobs)',
                          'submit_result', 'finalize (election, payment)', 'lifecycle (sum)'];
    per int[] := ARRAY[1, 2, 1, 3, 1, 1];
    acc float8[] := ARRAY[0, 0, 0, 0, 0, 0];
    t bigint; p int; j bigint; s timestamptz;
BEGIN
    FOR i IN 1..n LOOP
        p := 1 + (i * 7) % (nproviders - 3);
        s := clock_timestamp();
        t := lagbid.publish_task(owner => owner, resources => '{"cpu": 2, "memory_gb": 4}',
                                 price_min => 1, price_max => 10, duration_hours => 1, region => 'eu',
                                 bid_limit => 3, replicas => 3);
        acc[1] := acc[1] + extract(epoch FROM clock_timestamp() - s);
        s := clock_timestamp();
        PERFORM lagbid.place_bid(t, p, 5);
        PERFORM lagbid.place_bid(t, p + 1, 6);
        acc[2] := acc[2] + extract(epoch FROM clock_timestamp() - s);
        s := clock_timestamp();
        PERFORM lagbid.place_bid(t, p + 2, 7);
        acc[3] := acc[3] + extract(epoch FROM clock_timestamp() - s);
        FOR j IN SELECT id FROM lagbid.job WHERE task_id = t ORDER BY id LOOP
            s := clock_timestamp();
            PERFORM lagbid.submit_result(j, 'ipfs://bench/result', 'bench-result-hash');
            acc[4] := acc[4] + extract(epoch FROM clock_timestamp() - s);
        END LOOP;
        s := clock_timestamp();
        PERFORM lagbid.finalize(t);
        acc[5] := acc[5] + extract(epoch FROM clock_timestamp() - s);
        COMMIT;
    END LOOP;
    acc[6] := acc[1] + acc[2] + acc[3] + acc[4] + acc[5];
    DELETE FROM bench.step_cost;
    FOR k IN 1..6 LOOP
        INSERT INTO bench.step_cost VALUES (names[k], n * per[k], round((acc[k] * 1e6 / (n * per[k]))::numeric, 1));
    END LOOP;
END $$;

-- Republishing a changed space (issue 15 item 3), one client:
--   CALL bench.space_costs(200);  SELECT * FROM bench.step_cost;
-- creates n spaces, lets one tick publish them, changes each (update_space:
-- a new price_min, nothing to pay), then times the one tick that republishes
-- them all (close the old task, refund, publish, escrow) and records the mean
-- microseconds per republished space in bench.step_cost.  republish => false
-- stops before that tick.
CREATE OR REPLACE PROCEDURE bench.space_costs(n int, owner text DEFAULT 'owner-2', republish boolean DEFAULT true)
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    tag text := md5(clock_timestamp()::text);
    s timestamptz;
    us float8;
BEGIN
    SELECT array_agg(lagbid.create_space(owner => owner, name => 'steps-' || tag || '-' || g,
                                         resources => '{"cpu": 2, "memory_gb": 4}', price_min => 1,
                                         price_max => 10, hours => 24, region => 'eu'))
      INTO ids FROM generate_series(1, n) g;
    PERFORM set_config('lagbid.tick_batch_size', '1000000', false);
    PERFORM lagbid.tick();
    COMMIT;
    PERFORM lagbid.update_space(id, price_min => 2) FROM unnest(ids) id;
    COMMIT;
    IF NOT republish THEN   -- everything but the timed tick (bench/instructions.sh subtracts it)
        RETURN;
    END IF;
    s := clock_timestamp();
    PERFORM lagbid.tick();
    us := extract(epoch FROM clock_timestamp() - s) * 1e6 / n;
    COMMIT;
    DELETE FROM bench.step_cost WHERE step = 'space republished (tick)';
    INSERT INTO bench.step_cost VALUES ('space republished (tick)', n, round(us::numeric, 1));
END $$;

-- n bids, each committed, on the open tasks 1..ntasks by providers
-- 1..nproviders; the pairs follow a fixed sequence, so that two builds do
-- the same bids (bench/instructions.sh)
CREATE OR REPLACE PROCEDURE bench.bid_loop(n int, ntasks int DEFAULT 200, nproviders int DEFAULT 2000,
                                           first int DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    t int; p int;
BEGIN
    FOR i IN first + 1 .. first + n LOOP
        t := 1 + (i * 7919) % ntasks;
        p := 1 + (i * 104729) % nproviders;
        PERFORM lagbid.place_bid(t, p, 10 + (t + p) % 11);
        COMMIT;
    END LOOP;
END $$;
