-- The benchmark market (bench/run.sh loads it once per run into a fresh database).
--
--   psql -v nproviders=10000 -v ntasks=2000 -v nowners=300 -v nhot=200 -f bench/setup.sql
--
-- Providers 1..nproviders bid in the place_bid, lifecycle, notify and memory
-- workloads (max_concurrent high, so slots never run out); providers
-- nproviders+1 .. nproviders+nhot are the hot-task bidders.  Tasks 1..ntasks
-- stay open for the whole run (bid_limit 10000, no auto_allocate, 30-day
-- window).  Owners owner-0 .. owner-(nowners-1) each hold plenty of money, so
-- that each pgbench client (owner-<client_id>) pays from its own account.
-- The schema app.* holds plain tables of the same shape for the "app-side"
-- baseline (bench/app_bid.sql).
\set ON_ERROR_STOP on
\set QUIET on
SET client_min_messages = warning;

CREATE EXTENSION lagbid;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

CREATE SCHEMA bench;

CREATE FUNCTION bench.node(n int) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN lagbid.peer_id_from_ed25519(sha256(n::text::bytea));

-- region_prefixes('eu-west-1') = {eu, eu-west, eu-west-1}: the task regions a
-- provider of that region may bid on (besides tasks with no region)
CREATE FUNCTION bench.region_prefixes(region text) RETURNS text[] LANGUAGE sql IMMUTABLE
    RETURN (SELECT array_agg(array_to_string(p[1:i], '-') ORDER BY i)
              FROM (SELECT string_to_array(region, '-') AS p) s,
                   generate_series(1, cardinality(p)) i);

-- hot task: one bid that records its outcome (SQLSTATE) instead of aborting
-- the pgbench client; each call takes the next hot provider from seq (or
-- first_provider itself when seq is NULL)
CREATE SEQUENCE bench.hot_seq;
CREATE TABLE bench.hot_result (
    task_id bigint, provider_id bigint, outcome text, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION bench.try_bid(task bigint, first_provider bigint, price numeric, seq regclass) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    p bigint := first_provider + coalesce(nextval(seq) - 1, 0);
BEGIN
    PERFORM lagbid.place_bid(task, p, price);
    INSERT INTO bench.hot_result (task_id, provider_id, outcome) VALUES (task, p, 'ok');
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    INSERT INTO bench.hot_result (task_id, provider_id, outcome) VALUES (task, p, SQLSTATE);
    RETURN SQLSTATE;
END $$;

-- memory: samples of one backend's memory (bench/memory.sql)
CREATE TABLE bench.memory_sample (
    calls int, context_bytes bigint, rss_anon_kb bigint, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION bench.rss_anon_kb() RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1]::bigint $$;

-- scale: "the tasks I can bid on", timed inside the server (bench/run.sh,
-- BENCH_SCALE=1).  With lagbid_api.open_tasks present, each call is made as
-- PostgREST would: claims of a random scale provider, SET LOCAL ROLE
-- lagbid_provider, SELECT * FROM lagbid_api.open_tasks(50).  Otherwise the
-- plain query below.  Returns the latency of each call in milliseconds
-- (at most `calls` calls, and none started after max_seconds).
CREATE TABLE bench.scale_provider (id bigint PRIMARY KEY);

-- the plain query, with the semantics of lagbid_api.open_tasks (region
-- match, resources, window open, no live bid of this provider yet; best
-- paying first): for each region the provider matches (its region and each
-- prefix) one ordered, limited scan of task_open_by_region (region,
-- price_max), plus one for the tasks with no region, then the best 50 of
-- those.  The no-region branch orders by "region DESC, price_max DESC":
-- region IS NULL is not an equality, so only the index's full order lets
-- the planner read it backwards and stop after 50 rows.  (Ties on price_max
-- at a branch's cut are broken arbitrarily; an index (region, price_max
-- DESC, id) would make "price_max DESC, id" exact in every branch.)
CREATE FUNCTION bench.open_tasks_plain(p lagbid.provider, lim int DEFAULT 50)
RETURNS TABLE (id bigint, region text, price_max numeric) LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT o.id, o.region, o.price_max
      FROM (SELECT t.*
              FROM unnest(bench.region_prefixes(p.region)) AS r (region)
             CROSS JOIN LATERAL (
                   SELECT k.id, k.region, k.price_max FROM lagbid.task k
                    WHERE k.state = 'accepting_bids' AND k.region = r.region
                      AND k.bidding_deadline > lagbid.now()
                      AND k.cpu <= p.cpu AND k.memory_gb <= p.memory_gb AND k.storage_gb <= p.storage_gb
                      AND k.gpu_count <= p.gpu_count AND (k.gpu IS NULL OR lower(k.gpu) = lower(p.gpu))
                      AND NOT EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = k.id AND b.provider_id = p.id
                                                                   AND b.state IN ('open', 'won'))
                    ORDER BY k.price_max DESC LIMIT lim) t
            UNION ALL
            (SELECT k.id, k.region, k.price_max FROM lagbid.task k
              WHERE k.state = 'accepting_bids' AND k.region IS NULL
                AND k.bidding_deadline > lagbid.now()
                AND k.cpu <= p.cpu AND k.memory_gb <= p.memory_gb AND k.storage_gb <= p.storage_gb
                AND k.gpu_count <= p.gpu_count AND (k.gpu IS NULL OR lower(k.gpu) = lower(p.gpu))
                AND NOT EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = k.id AND b.provider_id = p.id
                                                             AND b.state IN ('open', 'won'))
              ORDER BY k.region DESC, k.price_max DESC LIMIT lim)) o
     ORDER BY o.price_max DESC, o.id
     LIMIT lim;
END $$;

CREATE FUNCTION bench.time_open_tasks(calls int, use_api boolean, max_seconds float8 DEFAULT 20)
RETURNS SETOF float8 LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz := clock_timestamp();
    ps lagbid.provider[];
    p lagbid.provider;
    lat float8[] := '{}';
    t0 timestamptz;
    n int;
BEGIN
    SELECT array_agg(v ORDER BY v.id) INTO ps
      FROM lagbid.provider v JOIN bench.scale_provider s ON s.id = v.id;
    FOR i IN 1 .. calls LOOP
        EXIT WHEN clock_timestamp() > started + make_interval(secs => max_seconds);
        p := ps[1 + floor(random() * cardinality(ps))::int];
        IF use_api THEN
            -- this session plays PostgREST's login (lagbid.authenticators)
            PERFORM set_config('lagbid.authenticators', session_user, true);
            PERFORM set_config('request.jwt.claims',
                               json_build_object('role', 'lagbid_provider', 'sub', p.node_id)::text, true);
            EXECUTE 'SET LOCAL ROLE lagbid_provider';
            t0 := clock_timestamp();
            SELECT count(*) INTO n FROM lagbid_api.open_tasks(50);
            lat := lat || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
            EXECUTE 'RESET ROLE';
        ELSE
            t0 := clock_timestamp();
            SELECT count(*) INTO n FROM bench.open_tasks_plain(p, 50);
            lat := lat || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
        END IF;
    END LOOP;
    RETURN QUERY SELECT unnest(lat);
END $$;

-- notify: what the listener received (bench/listener.c output)
CREATE TABLE bench.notify_recv (id bigint, received_us bigint);  -- microseconds since the epoch
-- task push (NOTIFY lagbid_tasks): the task ids the listener received
CREATE TABLE bench.task_push_recv (task_id bigint, received_us bigint);
-- upload: one 1 MB result (incompressible: 32768 SHA-256 digests)
CREATE TABLE bench.blob AS
    SELECT string_agg(sha256(i::text::bytea), ''::bytea ORDER BY i) AS content
      FROM generate_series(1, 32768) i;

-- ---------------------------------------------------------------- providers
SELECT lagbid.register_provider(
           node_id => bench.node(n),
           multiaddrs => ARRAY[format('/ip4/10.%s.%s.%s/tcp/4001', (n >> 16) & 255, (n >> 8) & 255, n & 255)],
           region => 'eu-west-1',
           resources => '{"cpu": 32, "memory_gb": 128, "storage_gb": 1000}',
           max_concurrent => 100000)
  FROM generate_series(1, :nproviders + :nhot) n
 ORDER BY n \g /dev/null
SELECT count(*) = :nproviders + :nhot AND max(id) = :nproviders + :nhot AS providers_dense
  FROM lagbid.provider \gset
\if :providers_dense
\else
\warn 'bench setup: provider ids are not 1..nproviders+nhot'
\quit 3
\endif

-- ------------------------------------------------------------------- owners
SELECT lagbid.deposit('owner-' || o, 1000000000000, 'bench-deposit-' || o)
  FROM generate_series(0, :nowners - 1) o \g /dev/null

-- ------------------------------------------ the open tasks place_bid targets
SELECT lagbid.publish_task(
           owner => 'owner-' || (n % :nowners),
           resources => '{"cpu": 2, "memory_gb": 4}',
           price_min => 10, price_max => 20, duration_hours => 1,
           region => 'eu', bid_limit => 10000, replicas => 1,
           bidding_window => '30 days', auto_allocate => false)
  FROM generate_series(1, :ntasks) n
 ORDER BY n \g /dev/null
SELECT count(*) = :ntasks AND max(id) = :ntasks AS tasks_dense FROM lagbid.task \gset
\if :tasks_dense
\else
\warn 'bench setup: task ids are not 1..ntasks'
\quit 3
\endif

-- ------------------------------------------------- the app-side baseline
-- Plain tables of the same shape (columns, defaults, checks, indexes, foreign
-- keys), no triggers, no functions: bench/app_bid.sql does the checks from
-- the client, in several round trips.
CREATE SCHEMA app;
CREATE TABLE app.provider (LIKE lagbid.provider INCLUDING ALL);
CREATE TABLE app.task (LIKE lagbid.task INCLUDING ALL);
CREATE TABLE app.bid (LIKE lagbid.bid INCLUDING ALL,
    FOREIGN KEY (task_id) REFERENCES app.task (id),
    FOREIGN KEY (provider_id) REFERENCES app.provider (id));
CREATE TABLE app.event (LIKE lagbid.event INCLUDING ALL);
INSERT INTO app.provider OVERRIDING SYSTEM VALUE SELECT * FROM lagbid.provider;
INSERT INTO app.task OVERRIDING SYSTEM VALUE SELECT * FROM lagbid.task;

-- ------------------------------------------- the row-work baseline (rw.*)
-- The tables a task's life writes, copied with their columns, defaults,
-- checks, indexes and foreign keys (no triggers, no functions, no policies);
-- bench/rowwork.sql writes into them the rows a lifecycle must write, in
-- plain SQL without any check (issue 15 item 1).  Accounts, providers and
-- owner counts start as the market's.
CREATE SCHEMA rw;
CREATE TABLE rw.account (LIKE lagbid.account INCLUDING ALL);
CREATE TABLE rw.provider (LIKE lagbid.provider INCLUDING ALL);
CREATE TABLE rw.owner_load (LIKE lagbid.owner_load INCLUDING ALL);
CREATE TABLE rw.task (LIKE lagbid.task INCLUDING ALL,
    FOREIGN KEY (escrow_account_id) REFERENCES rw.account (id),
    FOREIGN KEY (funding_account_id) REFERENCES rw.account (id));
CREATE TABLE rw.bid (LIKE lagbid.bid INCLUDING ALL,
    FOREIGN KEY (task_id) REFERENCES rw.task (id),
    FOREIGN KEY (provider_id) REFERENCES rw.provider (id));
CREATE TABLE rw.job (LIKE lagbid.job INCLUDING ALL,
    FOREIGN KEY (task_id) REFERENCES rw.task (id),
    FOREIGN KEY (bid_id) REFERENCES rw.bid (id),
    FOREIGN KEY (provider_id) REFERENCES rw.provider (id));
CREATE TABLE rw.ledger_tx (LIKE lagbid.ledger_tx INCLUDING ALL);
CREATE TABLE rw.ledger_entry (LIKE lagbid.ledger_entry INCLUDING ALL,
    FOREIGN KEY (tx_id) REFERENCES rw.ledger_tx (id),
    FOREIGN KEY (account_id) REFERENCES rw.account (id));
CREATE TABLE rw.event (LIKE lagbid.event INCLUDING ALL);
CREATE TABLE rw.notification (LIKE lagbid.notification INCLUDING ALL);
INSERT INTO rw.account OVERRIDING SYSTEM VALUE SELECT * FROM lagbid.account;
-- (rw task ids start at 1,000,000,000 so that the escrow names task:<id> never clash)
SELECT setval(pg_get_serial_sequence('rw.account', 'id'), (SELECT max(id) FROM rw.account)) AS rw_account_seq,
       setval(pg_get_serial_sequence('rw.task', 'id'), 1000000000) AS rw_task_seq \gset
INSERT INTO rw.provider OVERRIDING SYSTEM VALUE SELECT * FROM lagbid.provider;
INSERT INTO rw.owner_load SELECT 'owner-' || i, 0 FROM generate_series(0, :nowners - 1) i;

VACUUM ANALYZE;
