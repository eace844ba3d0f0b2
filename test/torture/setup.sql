-- lagbid torture: the market and the helpers the pgbench scripts call.
-- Loaded once into a fresh database by test/torture/run.sh.
--
-- Every torture.<fn>() picks arguments (mostly live rows in the state the
-- call wants, sometimes garbage ids or out-of-range values) and calls
-- lagbid.<fn> through torture.attempt(), which records the outcome in
-- torture.outcome: 'ok', or the SQLSTATE of an expected refusal (class LB,
-- or P0001).  Anything else (XX000, 40P01 deadlock, 55P03, 23xxx, ...)
-- propagates, so that pgbench counts the transaction as failed.
--
-- The helpers read lagbid's tables without locking them: every row lock is
-- taken by lagbid itself, so a deadlock is lagbid's and not the harness's.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE EXTENSION lagbid;
CREATE SCHEMA torture;

-- one row per call; unlogged and insert-only, so it never blocks anybody
CREATE UNLOGGED TABLE torture.outcome (
    fn       text NOT NULL,
    sqlstate text NOT NULL      -- 'ok' or the refusal's SQLSTATE
);


-- node(n): a valid libp2p peer id (identity multihash of an ed25519 key)
CREATE FUNCTION torture.node(n int) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN lagbid.peer_id_from_ed25519(sha256(n::text::bytea));

-- rnd(lo, hi): a uniform integer in [lo, hi]
CREATE FUNCTION torture.rnd(lo bigint, hi bigint) RETURNS bigint LANGUAGE sql VOLATILE
    RETURN lo + floor(random() * (hi - lo + 1))::bigint;

CREATE FUNCTION torture.chance(p float8) RETURNS boolean LANGUAGE sql VOLATILE
    RETURN random() < p;

-- attempt(fn, q): run q; record 'ok' or an expected refusal; re-raise the rest
CREATE FUNCTION torture.attempt(fn text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    BEGIN
        EXECUTE q;
        r := 'ok';
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE LIKE 'LB%' OR SQLSTATE = 'P0001' THEN
            r := SQLSTATE;
        ELSE
            RAISE;
        END IF;
    END;
    INSERT INTO torture.outcome VALUES (fn, r);
    RETURN r;
END $$;

-- ---------------------------------------------------------------------------
-- pickers: a random live row in the wanted state (scan forward from a random
-- id, wrap around), or now and then an id that does not exist
-- ---------------------------------------------------------------------------

-- reported: only tasks whose jobs have all reported; with_bids: only tasks holding bids
CREATE FUNCTION torture.pick_task(want text DEFAULT NULL, reported boolean DEFAULT false,
                                  with_bids boolean DEFAULT false)
    RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    mx bigint;
    start bigint;
    r bigint;
BEGIN
    SELECT max(id) INTO mx FROM lagbid.task;
    IF mx IS NULL OR torture.chance(0.03) THEN
        RETURN torture.rnd(-1, coalesce(mx, 0) + 3);
    END IF;
    start := torture.rnd(1, mx);
    SELECT id INTO r FROM lagbid.task
     WHERE id >= start AND (want IS NULL OR state::text = want)
       AND (NOT reported OR jobs_pending = 0) AND (NOT with_bids OR bid_count > 0)
     ORDER BY id LIMIT 1;
    IF r IS NULL THEN
        SELECT id INTO r FROM lagbid.task
         WHERE id < start AND (want IS NULL OR state::text = want)
           AND (NOT reported OR jobs_pending = 0) AND (NOT with_bids OR bid_count > 0)
         ORDER BY id LIMIT 1;
    END IF;
    RETURN coalesce(r, start);
END $$;

CREATE FUNCTION torture.pick_bid(want text DEFAULT 'open') RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    mx bigint;
    start bigint;
    r bigint;
BEGIN
    SELECT max(id) INTO mx FROM lagbid.bid;
    IF mx IS NULL OR torture.chance(0.03) THEN
        RETURN torture.rnd(-1, coalesce(mx, 0) + 3);
    END IF;
    start := torture.rnd(1, mx);
    SELECT id INTO r FROM lagbid.bid WHERE id >= start AND state::text = want ORDER BY id LIMIT 1;
    IF r IS NULL THEN
        SELECT id INTO r FROM lagbid.bid WHERE id < start AND state::text = want ORDER BY id LIMIT 1;
    END IF;
    RETURN coalesce(r, start);
END $$;

CREATE FUNCTION torture.pick_job(want text DEFAULT 'processing') RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    mx bigint;
    start bigint;
    r bigint;
BEGIN
    SELECT max(id) INTO mx FROM lagbid.job;
    IF mx IS NULL OR torture.chance(0.03) THEN
        RETURN torture.rnd(-1, coalesce(mx, 0) + 3);
    END IF;
    start := torture.rnd(1, mx);
    SELECT id INTO r FROM lagbid.job WHERE id >= start AND state::text = want ORDER BY id LIMIT 1;
    IF r IS NULL THEN
        SELECT id INTO r FROM lagbid.job WHERE id < start AND state::text = want ORDER BY id LIMIT 1;
    END IF;
    RETURN coalesce(r, start);
END $$;

-- provider ids have gaps (a re-registration burns an identity value)
CREATE FUNCTION torture.pick_provider() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    mx bigint;
    start bigint;
    r bigint;
BEGIN
    SELECT max(id) INTO mx FROM lagbid.provider;
    IF mx IS NULL OR torture.chance(0.02) THEN
        RETURN torture.rnd(-1, coalesce(mx, 0) + 3);
    END IF;
    start := torture.rnd(1, mx);
    SELECT id INTO r FROM lagbid.provider WHERE id >= start ORDER BY id LIMIT 1;
    RETURN coalesce(r, start);
END $$;

CREATE FUNCTION torture.pick_space() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    mx bigint;
BEGIN
    SELECT max(id) INTO mx FROM lagbid.space;
    RETURN torture.rnd(CASE WHEN torture.chance(0.05) THEN -1 ELSE 1 END, coalesce(mx, 0) + 1);
END $$;

CREATE FUNCTION torture.owner() RETURNS text LANGUAGE sql VOLATILE
    -- owner0 never has money: its publishes are refused (LB501)
    RETURN 'owner' || torture.rnd(0, 9);

CREATE FUNCTION torture.resources() RETURNS jsonb LANGUAGE sql VOLATILE
    RETURN CASE torture.rnd(0, 5)
        WHEN 0 THEN '{}'::jsonb
        WHEN 1 THEN jsonb_build_object('cpu', torture.rnd(1, 4))
        WHEN 2 THEN jsonb_build_object('cpu', torture.rnd(1, 8), 'memory_gb', torture.rnd(1, 64))
        WHEN 3 THEN jsonb_build_object('gpu', 'a100', 'gpu_count', torture.rnd(1, 2))
        WHEN 4 THEN jsonb_build_object('storage_gb', torture.rnd(1, 200))
        ELSE jsonb_build_object('cpu', 2, 'memory_gb', 4)
    END;

CREATE FUNCTION torture.task_region() RETURNS text LANGUAGE sql VOLATILE
    RETURN (ARRAY[NULL, NULL, NULL, 'eu', 'us', 'eu-west'])[torture.rnd(1, 6)];

-- ---------------------------------------------------------------------------
-- one function per pgbench script
-- ---------------------------------------------------------------------------

CREATE FUNCTION torture.publish_task() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    lim int := torture.rnd(1, 4);
    pmin numeric := torture.rnd(0, 5);
BEGIN
    RETURN torture.attempt('publish_task', format(
        'SELECT lagbid.publish_task(owner => %L, resources => %L, price_min => %s, price_max => %s,
             duration_hours => %s, region => %L, bid_limit => %s, replicas => %s,
             bidding_window => %L, auto_allocate => %L, open => %L, collateral_ratio => %s)',
        torture.owner(), torture.resources(), pmin, pmin + torture.rnd(0, 5),
        torture.rnd(1, 3), torture.task_region(), lim,
        -- now and then more replicas than the bid limit (refused)
        CASE WHEN torture.chance(0.05) THEN lim + 1 ELSE torture.rnd(1, least(lim, 2)) END,
        '1 day', torture.chance(0.5), torture.chance(0.85),
        -- half the tasks stake collateral (issue 20): bonds locked, released, slashed
        CASE WHEN torture.chance(0.5) THEN 0 ELSE torture.rnd(1, 10) / 10.0 END));
END $$;

CREATE FUNCTION torture.open_bidding() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('open_bidding', format('SELECT lagbid.open_bidding(%s)',
        torture.pick_task(CASE WHEN torture.chance(0.6) THEN 'created' ELSE 'bid_closed' END)));
$$;

CREATE FUNCTION torture.place_bid() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t bigint := torture.pick_task('accepting_bids');
    pmin numeric;
    pmax numeric;
    price numeric;
BEGIN
    SELECT price_min, price_max INTO pmin, pmax FROM lagbid.task WHERE id = t;
    price := CASE WHEN pmin IS NULL OR torture.chance(0.05) THEN torture.rnd(0, 12)
                  ELSE pmin + round((random() * (pmax - pmin))::numeric, 2) END;
    RETURN torture.attempt('place_bid', format('SELECT lagbid.place_bid(%s, %s, %s)',
        t, torture.pick_provider(), price));
END $$;

CREATE FUNCTION torture.withdraw_bid() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('withdraw_bid', format('SELECT lagbid.withdraw_bid(%s)',
        torture.pick_bid(CASE WHEN torture.chance(0.9) THEN 'open' ELSE 'won' END)));
$$;

CREATE FUNCTION torture.close_bidding() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('close_bidding', format('SELECT lagbid.close_bidding(%s)',
        torture.pick_task(CASE WHEN torture.chance(0.9) THEN 'accepting_bids' END)));
$$;

-- allocate(task): the best bids by policy
CREATE FUNCTION torture.allocate_auto() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('allocate(auto)', format('SELECT count(*) FROM lagbid.allocate(%s)',
        CASE WHEN torture.chance(0.8) THEN torture.pick_task('bid_closed', with_bids => true)
             ELSE torture.pick_task(CASE WHEN torture.chance(0.5) THEN 'bid_closed' END) END));
$$;

-- allocate(task, ids): a random subset of its open bids, sometimes with a
-- foreign or a repeated id or one bid too many
CREATE FUNCTION torture.allocate_ids() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t bigint := torture.pick_task('bid_closed', with_bids => torture.chance(0.8));
    n int;
    ids bigint[];
BEGIN
    SELECT replicas INTO n FROM lagbid.task WHERE id = t;
    n := coalesce(n, 1);
    IF torture.chance(0.1) THEN
        n := n + 1;
    END IF;
    SELECT array_agg(id) INTO ids FROM (
        SELECT id FROM lagbid.bid WHERE task_id = t AND state = 'open'
         ORDER BY random() LIMIT torture.rnd(1, n)) b;
    IF ids IS NULL THEN
        -- no open bid: someone else's (refused), or now and then nothing (refused)
        ids := CASE WHEN torture.chance(0.9) THEN ARRAY[torture.pick_bid('open')] ELSE '{}' END;
    ELSIF torture.chance(0.05) THEN
        ids := ids || torture.pick_bid('open');
    ELSIF torture.chance(0.05) AND cardinality(ids) > 0 THEN
        ids := ids || ids[1];
    END IF;
    RETURN torture.attempt('allocate(ids)', format('SELECT count(*) FROM lagbid.allocate(%s, %L::bigint[])',
        t, ids));
END $$;

CREATE FUNCTION torture.cancel_task() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('cancel_task', format('SELECT lagbid.cancel_task(%s, %L)',
        torture.pick_task(), 'torture'));
$$;

CREATE FUNCTION torture.submit_result() RETURNS text LANGUAGE sql AS $$
    -- two hashes, so that elections see agreeing and disagreeing results
    SELECT torture.attempt('submit_result', format('SELECT lagbid.submit_result(%s, %L, %L)',
        torture.pick_job(CASE WHEN torture.chance(0.9) THEN 'processing' ELSE 'submitted' END),
        's3://results/' || torture.rnd(1, 1000000),
        CASE WHEN torture.chance(0.8) THEN 'sha256:aaaa' ELSE 'sha256:bbbb' END));
$$;

-- 0.3: results uploaded into the database (two contents, so that elections
-- see agreeing and disagreeing uploads next to claimed hashes)
CREATE FUNCTION torture.upload_result() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('upload_result', format('SELECT lagbid.upload_result(%s, %L::bytea)',
        torture.pick_job(CASE WHEN torture.chance(0.9) THEN 'processing' ELSE 'submitted' END),
        CASE WHEN torture.chance(0.8) THEN 'result-a' ELSE 'result-b' END));
$$;

-- 0.3: what a provider is told and what an owner reads, under the same load
CREATE FUNCTION torture.why_not() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('why_not', format('SELECT count(*) FROM lagbid.why_not(%s, %s)',
        torture.pick_task('accepting_bids'), torture.pick_provider()));
$$;

CREATE FUNCTION torture.task_result() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('task_result', format('SELECT length(lagbid.task_result(%s))',
        torture.pick_task('completed')));
$$;

CREATE FUNCTION torture.fail_job() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('fail_job', format('SELECT lagbid.fail_job(%s, %L)',
        torture.pick_job(CASE WHEN torture.chance(0.8) THEN 'processing' ELSE 'submitted' END),
        CASE WHEN torture.chance(0.3) THEN 'input_unreachable' ELSE 'torture gives up' END));
$$;

CREATE FUNCTION torture.finalize() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('finalize', format('SELECT lagbid.finalize(%s)',
        CASE WHEN torture.chance(0.8) THEN torture.pick_task('processing', true)
             ELSE torture.pick_task('processing') END));
$$;

CREATE FUNCTION torture.set_bid_limit() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('set_bid_limit', format('SELECT lagbid.set_bid_limit(%s, %s)',
        torture.pick_provider(), torture.rnd(CASE WHEN torture.chance(0.05) THEN 0 ELSE 1 END, 3)));
$$;

CREATE FUNCTION torture.set_provider_state() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('set_provider_state', format('SELECT lagbid.set_provider_state(%s, %L)',
        torture.pick_provider(), CASE WHEN torture.chance(0.3) THEN 'suspended' ELSE 'active' END));
$$;

-- re-registering updates addresses, region, resources and limit; 51..55 are new
CREATE FUNCTION torture.register_provider() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    n int := torture.rnd(1, 55);
BEGIN
    RETURN torture.attempt('register_provider', format(
        'SELECT lagbid.register_provider(%L, %L::text[], %L, %L, %s)',
        torture.node(n), ARRAY['/ip4/10.0.' || n % 250 || '.' || torture.rnd(1, 250) || '/tcp/4001'],
        (ARRAY['eu-west', 'eu-north', 'us-east'])[n % 3 + 1],
        jsonb_build_object('cpu', 16, 'memory_gb', 128, 'storage_gb', 1000, 'gpu', 'a100', 'gpu_count', 2),
        torture.rnd(1, 3)));
END $$;

CREATE FUNCTION torture.deposit() RETURNS text LANGUAGE sql AS $$
    -- references from a small set: a reused one with another amount is refused (LB312)
    SELECT torture.attempt('deposit', format('SELECT lagbid.deposit(%L, %s, %L)',
        'owner' || torture.rnd(1, 9), torture.rnd(1, 3) * 100, 'ref-' || torture.rnd(1, 500)));
$$;

CREATE FUNCTION torture.balance() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('balance', format('SELECT lagbid.balance(%L)', torture.owner()));
$$;

CREATE FUNCTION torture.create_space() RETURNS text LANGUAGE sql AS $$
    -- names from a small set: the same owner and name again is refused (LB315)
    SELECT torture.attempt('create_space', format(
        'SELECT lagbid.create_space(%L, %L, %L, %s, %s, %s, %L, %s)',
        torture.owner(), 'space' || torture.rnd(1, 5), torture.resources(), 1, 1 + torture.rnd(0, 3),
        torture.rnd(1, 5), torture.task_region(), torture.rnd(1, 2)));
$$;

CREATE FUNCTION torture.update_space() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('update_space', format(
        'SELECT lagbid.update_space(%s, resources => %L, price_max => %s)',
        torture.pick_space(), torture.resources(), 2 + torture.rnd(0, 4)));
$$;

CREATE FUNCTION torture.extend_space() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('extend_space', format('SELECT lagbid.extend_space(%s, %s)',
        torture.pick_space(), torture.rnd(1, 3)));
$$;

CREATE FUNCTION torture.trigger_space() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('trigger_space', format('SELECT lagbid.trigger_space(%s)', torture.pick_space()));
$$;

CREATE FUNCTION torture.tick() RETURNS text LANGUAGE sql AS $$
    SELECT torture.attempt('tick', 'SELECT lagbid.tick()');
$$;

-- ---------------------------------------------------------------------------
-- the market at the start: nine owners with money (owner0 has none), ~50
-- providers with small limits, ~30 tasks with small bid limits
-- ---------------------------------------------------------------------------

SELECT count(lagbid.deposit('owner' || i, 1000000, 'seed-' || i)) AS owners FROM generate_series(1, 9) i;
-- providers fund their collateral; some little enough to be refused now and then (LB502)
SELECT count(lagbid.deposit(torture.node(n), CASE WHEN n % 7 = 0 THEN 3 ELSE 100000 END,
                            'seed-p' || n, holder_kind => 'provider')) AS funded_providers
  FROM generate_series(1, 55) n;

SELECT count(lagbid.register_provider(
           torture.node(n), ARRAY['/ip4/10.0.' || n || '.1/tcp/4001'],
           (ARRAY['eu-west', 'eu-north', 'us-east'])[n % 3 + 1],
           CASE WHEN n % 5 = 0 THEN '{"cpu": 4, "memory_gb": 8}'::jsonb
                ELSE '{"cpu": 16, "memory_gb": 128, "storage_gb": 1000, "gpu": "a100", "gpu_count": 2}' END,
           1 + n % 3)) AS providers
  FROM generate_series(1, 50) n;

DO $$
BEGIN
    FOR i IN 1 .. 30 LOOP
        PERFORM torture.publish_task();
    END LOOP;
END $$;
SELECT count(*) AS tasks FROM lagbid.task;
TRUNCATE torture.outcome;
