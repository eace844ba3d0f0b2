-- make demo: a simulated market on a throwaway cluster (scripts/demo.sh).
--
-- Five owners, three dozen computing providers in four regions, a few spaces
-- and a stream of tasks.  Time is simulated: each minute sets lagbid.clock
-- (a superuser setting) one minute further and calls lagbid.tick(), as
-- pg_cron would every real minute; then the owners and providers act.  The
-- simulation's helpers live in schema demo; the market itself is only ever
-- touched through lagbid.* calls.
\pset footer off
\set QUIET on
\set VERBOSITY terse
\echo '== lagbid demo: a simulated market =='
CREATE EXTENSION lagbid;
SELECT 'lagbid ' || lagbid.version() AS "extension";

-- pg_cron drives lagbid.tick() every minute in production; the demo moves
-- its own clock instead, so it registers the job only to show how.
SELECT count(*) > 0 AS have_cron FROM pg_available_extensions WHERE name = 'pg_cron' \gset
\if :have_cron
CREATE EXTENSION pg_cron;
SELECT lagbid.schedule_tick() AS cron_job \gset
SELECT jobname, schedule, command FROM cron.job WHERE jobid = :cron_job;
SELECT cron.unschedule(:cron_job) AS "unscheduled (the demo ticks by hand)";
\endif

-- ---------------------------------------------------------------------------
-- The simulation's helpers (schema demo)
-- ---------------------------------------------------------------------------
CREATE SCHEMA demo;


-- provider n's node id: the peer id of an ed25519 key ("12D3KooW...")
CREATE FUNCTION demo.node(n int) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN lagbid.peer_id_from_ed25519(sha256(('demo-cp-' || n)::bytea));

-- a refusal as "SQLSTATE: message", for the tour of the rules
CREATE FUNCTION demo.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- how each provider behaves
CREATE TABLE demo.cp (
    n           int PRIMARY KEY,
    id          bigint,           -- lagbid.provider.id
    greed       numeric,          -- where in the price range it asks (0 = price_min)
    eagerness   float8,           -- chance per minute to bid when it has a free slot
    speed       float8,           -- chance per minute to deliver a job
    habit       text,             -- honest | odd (its results disagree) | flaky (gives up) | silent (never delivers)
    peak_slots  int NOT NULL DEFAULT 0
);

-- counters of one simulated minute
CREATE TABLE demo.minute_log (
    minute int PRIMARY KEY, published int, bids int, refused int, withdrawn int,
    results int, gave_up int, allocated_by_owner int, cancelled int, tick jsonb);

-- a refusal of lagbid (SQLSTATE class LB) is part of the game; anything else is a bug
CREATE FUNCTION demo.is_refusal(state text) RETURNS boolean LANGUAGE sql IMMUTABLE
    RETURN left(state, 2) = 'LB';

CREATE FUNCTION demo.hhmm(m int) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN to_char(timestamp '2030-01-01 09:00' + m * interval '1 minute', 'HH24:MI');

-- the progress table: one line per simulated minute, in fixed-width columns
CREATE FUNCTION demo.line(cols text[]) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN (SELECT string_agg(lpad(c, w) || CASE WHEN i IN (1, 4, 9, 13, 17) THEN '  |' ELSE '' END, ' ' ORDER BY i)
              FROM unnest(cols, ARRAY[5, 4, 6, 7, 5, 7, 6, 7, 7, 6, 5, 7, 6, 4, 7, 4, 6, 8, 8]) WITH ORDINALITY AS u(c, w, i));

CREATE FUNCTION demo.header() RETURNS text LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
    WITH h(line) AS (
        SELECT demo.line(ARRAY['time', 'new', 'cancel', 'by_hand', 'bids', 'refused', 'wdrawn', 'results',
                               'gave_up', 'closed', 'alloc', 'elected', 'failed', 'open', 'running', 'done',
                               'failed', 'escrow', 'paid']))
    SELECT string_agg(rpad(lpad(g.label, (length(seg.s) + length(g.label)) / 2), length(seg.s)), '|'
                      ORDER BY seg.i) || E'\n' || h.line
      FROM h, unnest(string_to_array(h.line, '|')) WITH ORDINALITY AS seg(s, i)
      JOIN unnest(ARRAY['', '-- owners --', '------ providers ------', '------ the tick ------',
                        '---- tasks now ----', '---- money ----']) WITH ORDINALITY AS g(label, i) ON g.i = seg.i
     GROUP BY h.line;
END;

-- One simulated minute: move the clock, tick, let owners and providers act;
-- returns the progress line.
CREATE FUNCTION demo.minute(m int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    tick jsonb;
    c record;
    t record;
    j record;
    k int;
    ask numeric;
    n_pub int := 0; n_bid int := 0; n_ref int := 0; n_wd int := 0;
    n_res int := 0; n_fail int := 0; n_alloc int := 0; n_cancel int := 0;
    owners constant text[] := ARRAY['alice', 'bob', 'carol', 'dave', 'erin'];
    regions constant text[] := ARRAY['eu', 'eu-west', 'eu-central', 'us', 'us-east', 'ap', 'ap-south', NULL, NULL];
    needs constant jsonb[] := ARRAY['{}', '{"cpu": 8}', '{"cpu": 8, "memory_gb": 32}',
                                    '{"cpu": 16, "memory_gb": 64, "gpu": "RTX4090"}',
                                    '{"cpu": 32, "gpu": "A100"}', '{"gpu": "H100", "gpu_count": 2}']::jsonb[];
    durations constant numeric[] := ARRAY[0.1, 0.25, 0.25, 0.5, 1, 2];
    lo numeric;
    reps int;
    ov record;
BEGIN
    PERFORM set_config('lagbid.clock', (timestamptz '2030-01-01 09:00:00+00' + m * interval '1 minute')::text, false);
    tick := lagbid.tick();

    -- owners publish tasks during the first twenty minutes, then let the market drain
    IF m <= 20 THEN
        FOR k IN 1 .. floor(random() * 4)::int LOOP
            lo := 1 + floor(random() * 5)::int;
            reps := CASE WHEN random() < 0.25 THEN 3 WHEN random() < 0.3 THEN 2 ELSE 1 END;
            PERFORM lagbid.publish_task(
                owner => owners[1 + floor(random() * 5)::int],
                resources => needs[1 + floor(random() * 6)::int],
                price_min => lo, price_max => lo + 2 + floor(random() * 8)::int,
                duration_hours => durations[1 + floor(random() * 6)::int],
                region => regions[1 + floor(random() * 9)::int],
                bid_limit => reps + 1 + floor(random() * 4)::int,
                replicas => reps,
                bidding_window => (3 + floor(random() * 5)) * interval '1 minute',
                auto_allocate => random() < 0.85);
            n_pub := n_pub + 1;
        END LOOP;
    END IF;

    -- owners who allocate by hand do it once bidding closed; with no bid left, they reopen
    FOR t IN SELECT id, bid_count FROM lagbid.task
              WHERE state = 'bid_closed' AND NOT auto_allocate ORDER BY id LOOP
        IF t.bid_count > 0 THEN
            PERFORM lagbid.allocate(t.id);
            n_alloc := n_alloc + 1;
        ELSE
            PERFORM lagbid.open_bidding(t.id);
        END IF;
    END LOOP;

    -- now and then an owner changes its mind
    FOR t IN SELECT id FROM lagbid.task WHERE state = 'accepting_bids' AND space_id IS NULL
              ORDER BY id LOOP
        IF random() < 0.02 THEN
            PERFORM lagbid.cancel_task(t.id, 'owner changed plans');
            n_cancel := n_cancel + 1;
        END IF;
    END LOOP;

    -- providers bid on what they can run, within their concurrency limit
    FOR c IN SELECT d.n, d.greed, d.eagerness, p.*
               FROM demo.cp d JOIN lagbid.provider p ON p.id = d.id
              WHERE p.state = 'active' ORDER BY random() LOOP
        FOR k IN 1 .. c.max_concurrent - c.slots_used LOOP
            EXIT WHEN random() > c.eagerness;
            SELECT tk.id, tk.price_min, tk.price_max INTO t
              FROM lagbid.task tk
             WHERE tk.state = 'accepting_bids' AND tk.bidding_deadline > lagbid.now()
               AND (tk.region IS NULL OR c.region = tk.region OR c.region LIKE tk.region || '-%')
               AND tk.cpu <= c.cpu AND tk.memory_gb <= c.memory_gb AND tk.storage_gb <= c.storage_gb
               AND tk.gpu_count <= c.gpu_count AND (tk.gpu IS NULL OR lower(tk.gpu) = lower(c.gpu))
               AND NOT EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = tk.id AND b.provider_id = c.id)
             ORDER BY random() LIMIT 1;
            EXIT WHEN NOT FOUND;
            ask := round(t.price_min + (t.price_max - t.price_min) * least(1, greatest(0, c.greed + (random() - 0.5)::numeric * 0.2)), 2);
            -- one in twenty asks is off (a stale price list): the range rule refuses it
            IF random() < 0.05 THEN
                ask := t.price_max + 1;
            END IF;
            BEGIN
                PERFORM lagbid.place_bid(task_id => t.id, provider_id => c.id, price => ask);
                n_bid := n_bid + 1;
            EXCEPTION WHEN OTHERS THEN
                IF NOT demo.is_refusal(SQLSTATE) THEN RAISE; END IF;
                n_ref := n_ref + 1;
            END;
        END LOOP;
    END LOOP;

    -- a few bids are withdrawn while bidding is open
    FOR j IN SELECT b.id FROM lagbid.bid b JOIN lagbid.task tk ON tk.id = b.task_id
              WHERE b.state = 'open' AND tk.state = 'accepting_bids' ORDER BY b.id LOOP
        IF random() < 0.02 THEN
            PERFORM lagbid.withdraw_bid(j.id);
            n_wd := n_wd + 1;
        END IF;
    END LOOP;

    -- allocated bidders work and report: honest ones agree on the task's result hash
    FOR j IN SELECT jb.id, jb.task_id, d.habit, d.speed, d.n
               FROM lagbid.job jb JOIN demo.cp d ON d.id = jb.provider_id
              WHERE jb.state = 'processing' ORDER BY jb.id LOOP
        CONTINUE WHEN j.habit = 'silent' OR random() > j.speed;
        IF j.habit = 'flaky' AND random() < 0.5 THEN
            PERFORM lagbid.fail_job(j.id, 'out of GPU memory');
            n_fail := n_fail + 1;
        ELSE
            PERFORM lagbid.submit_result(j.id, format('ipfs://bafy-demo-%s-%s', j.task_id, j.id),
                'sha256:' || md5(CASE WHEN j.habit = 'odd' THEN 'odd-' || j.n ELSE 'task-' || j.task_id END));
            n_res := n_res + 1;
        END IF;
    END LOOP;

    UPDATE demo.cp d SET peak_slots = greatest(d.peak_slots, p.slots_used)
      FROM lagbid.provider p WHERE p.id = d.id;
    INSERT INTO demo.minute_log VALUES (m, n_pub, n_bid, n_ref, n_wd, n_res, n_fail, n_alloc, n_cancel, tick);

    SELECT * INTO ov FROM lagbid.market_overview;
    RETURN demo.line(ARRAY[demo.hhmm(m), '+' || n_pub, n_cancel::text, n_alloc::text,
                           '+' || n_bid, n_ref::text, n_wd::text, n_res::text, n_fail::text,
                           tick ->> 'bidding_closed', tick ->> 'allocated', tick ->> 'finalized',
                           ((tick ->> 'failed_no_bids')::int + (tick ->> 'failed_no_result')::int)::text,
                           ov.tasks_accepting_bids::text, ov.tasks_processing::text,
                           ov.tasks_completed::text, ov.tasks_failed::text,
                           to_char(ov.money_in_escrow, 'FM99990.00'), to_char(ov.money_paid, 'FM99990.00')]);
END $$;

-- ---------------------------------------------------------------------------
-- 09:00 — the market opens
-- ---------------------------------------------------------------------------
-- the same seed gives the same market (psql -v seed=0.7 for another)
\if :{?seed}
\else
\set seed 0.42
\endif
SELECT setseed(:seed) \g /dev/null
SET lagbid.clock = '2030-01-01 09:00:00+00';
-- jobs that overrun their hours by two minutes are failed by the tick
SET lagbid.processing_grace = '2min';

\echo
\echo '-- five owners deposit money (idempotent on the bank reference)'
SELECT lagbid.deposit(o, 20000, 'bank-' || o) FROM unnest(ARRAY['alice', 'bob', 'carol', 'dave', 'erin']) o \g /dev/null
SELECT lagbid.deposit('alice', 20000, 'bank-alice') AS "same reference again: same ledger tx";

\echo
\echo '-- 36 computing providers sign up with their libp2p node ids, regions, resources and limits'
INSERT INTO demo.cp (n, greed, eagerness, speed, habit)
SELECT n, round((0.1 + random() * 0.8)::numeric, 2), 0.5 + random() * 0.5, 0.2 + random() * 0.4,
       CASE n WHEN 7 THEN 'odd' WHEN 19 THEN 'odd' WHEN 11 THEN 'flaky' WHEN 23 THEN 'silent' ELSE 'honest' END
  FROM generate_series(1, 36) n;
UPDATE demo.cp d SET id = lagbid.register_provider(
    node_id => demo.node(d.n),
    multiaddrs => ARRAY[CASE d.n % 3
        WHEN 0 THEN format('/ip4/203.0.113.%s/tcp/4001/p2p/%s', d.n, demo.node(d.n))
        WHEN 1 THEN format('/dns4/cp-%s.example.net/udp/4001/quic-v1', d.n)
        ELSE format('/ip6/2001:db8::%s/tcp/4001/ws', d.n) END],
    region => (ARRAY['eu-west', 'eu-central', 'us-east', 'ap-south', 'eu-west', 'us-east'])[1 + d.n % 6],
    resources => (ARRAY['{"cpu": 8, "memory_gb": 32, "storage_gb": 200}',
                        '{"cpu": 16, "memory_gb": 64, "storage_gb": 500, "gpu": "RTX4090", "gpu_count": 1}',
                        '{"cpu": 32, "memory_gb": 128, "storage_gb": 1000, "gpu": "A100", "gpu_count": 2}',
                        '{"cpu": 64, "memory_gb": 256, "storage_gb": 2000, "gpu": "H100", "gpu_count": 4}'])[1 + d.n % 4]::jsonb,
    max_concurrent => 1 + (d.n * 7) % 4);
SELECT region, count(*) AS providers, sum(max_concurrent) AS slots,
       string_agg(DISTINCT coalesce(gpu, 'cpu only'), ', ') AS hardware
  FROM lagbid.provider GROUP BY region ORDER BY region;
SELECT id, node_id, multiaddrs[1] AS multiaddr, region, max_concurrent
  FROM lagbid.provider WHERE id IN (1, 5, 9) ORDER BY id;

\echo
\echo '-- the rules at work: each refusal is an ERROR with its own SQLSTATE'
SELECT lagbid.publish_task('alice', '{"cpu": 8}', 2, 6, 1, region => 'eu', bid_limit => 2) AS tour \gset
SELECT rule, demo.try(q) AS outcome FROM (VALUES
    ('bad node id',        $q$SELECT lagbid.register_provider('12D3KooWnotAPeerId', ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu-west', '{}')$q$),
    ('bad multiaddr',      format($q$SELECT lagbid.register_provider(%L, ARRAY['/ip4/999.1.1.1/tcp/1'], 'eu-west', '{}')$q$, demo.node(99))),
    ('ask above the range', format('SELECT lagbid.place_bid(%s, %s, 9)', :tour, (SELECT id FROM demo.cp WHERE n = 6))),
    ('region mismatch',    format('SELECT lagbid.place_bid(%s, %s, 4)', :tour, (SELECT id FROM demo.cp WHERE n = 2))),
    ('a valid bid',        format('SELECT lagbid.place_bid(%s, %s, 4)', :tour, (SELECT id FROM demo.cp WHERE n = 6))),
    ('same bid again',     format('SELECT lagbid.place_bid(%s, %s, 4)', :tour, (SELECT id FROM demo.cp WHERE n = 6))),
    ('another price',      format('SELECT lagbid.place_bid(%s, %s, 5)', :tour, (SELECT id FROM demo.cp WHERE n = 6))),
    ('the limit-th bid',   format('SELECT lagbid.place_bid(%s, %s, 3)', :tour, (SELECT id FROM demo.cp WHERE n = 12))),
    ('bid after closing',  format('SELECT lagbid.place_bid(%s, %s, 3)', :tour, (SELECT id FROM demo.cp WHERE n = 18)))
  ) AS r(rule, q);
SELECT id, state, bid_count, bid_limit FROM lagbid.task WHERE id = :tour;

\echo
\echo '-- bob wants three independent results: the bid limit (3) closes bidding and allocates all three'
SELECT lagbid.publish_task('bob', '{"cpu": 16, "memory_gb": 64}', 8, 12, 1, region => 'eu-central',
                           bid_limit => 3, replicas => 3) AS triple \gset
SELECT d.n AS cp, lagbid.place_bid(:triple, d.id, CASE d.n WHEN 7 THEN 9 WHEN 13 THEN 11 ELSE 10 END) AS bidder_id
  FROM demo.cp d WHERE d.n IN (7, 13, 31) ORDER BY d.n;
SELECT j.id AS job_id, j.bid_id AS bidder_id, j.provider_id, j.price, j.state FROM lagbid.job j
 WHERE j.task_id = :triple ORDER BY j.id;

\echo
\echo '-- three owners create spaces (long-lived apps): paid for their hours, published by the next tick'
SELECT lagbid.create_space('carol', 'chatbot', '{"cpu": 8, "memory_gb": 32}', 2, 5, 2, region => 'eu') AS s1,
       lagbid.create_space('dave', 'render-farm', '{"gpu": "A100"}', 6, 12, 1, region => 'us', replicas => 2) AS s2,
       lagbid.create_space('erin', 'notebook', '{}', 1, 3, 3) AS s3 \gset
SELECT id, owner, name, region, replicas, hours, changed AS "waiting for the tick" FROM lagbid.space ORDER BY id;

\echo
\echo '-- 30 simulated minutes: tick, then owners publish and allocate, providers bid and deliver'
\pset tuples_only on
\pset format unaligned
SELECT demo.header();
SELECT format('SELECT demo.minute(%s)', m) FROM generate_series(1, 12) m \gexec
\pset tuples_only off
\pset format aligned
\echo
\echo '-- 09:12: dave raises the render-farm''s price (the next tick republishes it), bob creates a space,'
\echo '--        the platform suspends provider 19, whose results disagree with everybody else''s'
SELECT lagbid.update_space(:s2, price_max => 15) \g /dev/null
SELECT lagbid.create_space('bob', 'ci-runners', '{"cpu": 16, "memory_gb": 64}', 2, 4, 1, region => 'us-east') AS s4 \gset
SELECT lagbid.set_provider_state(id, 'suspended') FROM demo.cp WHERE n = 19 \g /dev/null
SELECT s.id AS space, s.name, s.version, s.changed AS "waiting for the tick" FROM lagbid.space s WHERE s.id IN (:s2, :s4) ORDER BY s.id;
SELECT p.id AS provider, p.state FROM lagbid.provider p JOIN demo.cp d ON d.id = p.id WHERE d.n = 19;
\echo
\pset tuples_only on
\pset format unaligned
SELECT format('SELECT demo.minute(%s)', m) FROM generate_series(13, 30) m \gexec
\pset tuples_only off
\pset format aligned

-- ---------------------------------------------------------------------------
-- Summary
-- ---------------------------------------------------------------------------
\echo
\echo '== after 30 minutes =='
\echo
\echo '-- tasks by state'
SELECT state, count(*) AS tasks, count(*) FILTER (WHERE space_id IS NOT NULL) AS from_spaces,
       string_agg(DISTINCT reason, ', ') AS reasons
  FROM lagbid.task GROUP BY state ORDER BY state;

\echo
\echo '-- what the ticks did'
SELECT key AS action, sum(value::int) AS total
  FROM demo.minute_log, jsonb_each_text(tick) GROUP BY key HAVING sum(value::int) > 0 ORDER BY key;

\echo
\echo '-- bids'
SELECT state, count(*) AS bids, round(avg(price), 2) AS avg_ask FROM lagbid.bid GROUP BY state ORDER BY state;
SELECT sum(bids) AS placed, sum(refused) AS refused_by_rules, sum(withdrawn) AS withdrawn FROM demo.minute_log;

\echo
\echo '-- the spaces, converted to tasks by the tick (an update supersedes the open task)'
SELECT s.id, s.owner, s.name, s.version, s.state, s.current_task_id, t.state AS task_state,
       (SELECT count(*) FROM lagbid.task x WHERE x.space_id = s.id) AS tasks_published
  FROM lagbid.space s LEFT JOIN lagbid.task t ON t.id = s.current_task_id ORDER BY s.id;

\echo
\echo '-- replicas that disagreed: the majority hash wins, the odd one out fails unpaid'
SELECT j.task_id, j.id AS job_id, left(p.node_id, 16) || '…' AS node, d.habit, j.state,
       j.is_leader AS leader, j.reason, round(j.paid, 2) AS paid
  FROM lagbid.job j JOIN lagbid.provider p ON p.id = j.provider_id JOIN demo.cp d ON d.id = p.id
 WHERE j.task_id IN (SELECT task_id FROM lagbid.job WHERE reason = 'result_disagrees'
                      ORDER BY task_id LIMIT 3)
 ORDER BY j.task_id, j.id;
SELECT reason, count(*) AS failed_jobs FROM lagbid.job WHERE state = 'failed' GROUP BY reason ORDER BY reason;

\echo
\echo '-- provider utilization against its limit: slots now and at the busiest minute (top 10)'
SELECT left(u.node_id, 16) || '…' AS node, u.region, u.max_concurrent AS "limit", u.slots_used AS now,
       d.peak_slots AS peak, round(100.0 * d.peak_slots / u.max_concurrent) || '%' AS peak_use,
       u.bids_won AS won, u.bids_lost AS lost, u.jobs_completed AS done, u.jobs_led AS led,
       round(u.earned, 2) AS earned
  FROM lagbid.provider_utilization u JOIN demo.cp d ON d.id = u.provider_id
 ORDER BY d.peak_slots::numeric / u.max_concurrent DESC, u.earned DESC, u.provider_id LIMIT 10;
SELECT count(*) FILTER (WHERE d.peak_slots >= u.max_concurrent) AS providers_at_their_limit,
       count(*) FILTER (WHERE d.peak_slots > u.max_concurrent) AS providers_above_their_limit
  FROM lagbid.provider_utilization u JOIN demo.cp d ON d.id = u.provider_id;

\echo
\echo '-- money moved'
SELECT round(money_deposited, 2) AS deposited, round(money_escrowed, 2) AS "escrowed by owners",
       round(money_paid, 2) AS "paid to providers", round(money_refunded, 2) AS "refunded to owners",
       round(money_in_escrow, 2) AS "still in escrow"
  FROM lagbid.market_overview;
\echo '(ledger transactions, including moves between a space''s escrow and its tasks'' escrows)'
SELECT kind, count(*) AS transactions, round(sum(amount), 2) AS amount FROM lagbid.ledger_tx GROUP BY kind ORDER BY kind;

\echo
\echo '-- the market at a glance (lagbid.market_overview)'
\x on
SELECT * FROM lagbid.market_overview;
\x off

\echo
\echo '-- the life of bob''s three-replica task (lagbid.task_timeline)'
SELECT entity, entity_id, from_state, to_state, reason FROM lagbid.task_timeline(:triple);

\echo
\echo '-- what a provider sees through the PostgREST API (lagbid_api, identity from the JWT claims)'
SELECT node_id AS api_node FROM lagbid.provider p JOIN demo.cp d ON d.id = p.id WHERE d.n = 7 \gset
-- this psql session plays PostgREST's login (lagbid.authenticators)
SELECT set_config('lagbid.authenticators', session_user, false) \g /dev/null
SELECT set_config('request.jwt.claims', json_build_object('role', 'lagbid_provider', 'sub', :'api_node')::text, false) \g /dev/null
SET ROLE lagbid_provider;
SELECT job_id, task_id, state, is_leader, round(paid, 2) AS paid FROM lagbid_api.my_jobs() ORDER BY job_id LIMIT 5;
SELECT kind, count(*) AS notifications FROM lagbid_api.notifications(max_rows => 1000) GROUP BY kind ORDER BY kind;
SELECT round(lagbid_api.balance(), 2) AS "its balance";
RESET ROLE;
RESET request.jwt.claims;
RESET lagbid.authenticators;

\echo
\echo '-- tasks the tick should have handled, and invariants (0 = consistent)'
SELECT count(*) AS stuck_tasks FROM lagbid.stuck_tasks WHERE overdue > interval '1 minute';
SELECT count(*) AS broken_invariants FROM lagbid.check_invariants();
