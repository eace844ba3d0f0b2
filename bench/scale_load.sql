-- Workload 5 set-up (BENCH_SCALE=1): bulk-load open tasks (and, when the
-- lagbid.space table exists, settled spaces) straight into the tables.
--   psql -v scale_tasks=1000000 -v scale_spaces=990000 -v scale_live=10000 -f bench/scale_load.sql
-- session_replication_role = replica skips the state trigger (no event row
-- per task) and the foreign-key checks; the rows are written in their final,
-- valid state: accepting_bids with a 30-day window, no escrow account (the
-- invariants only check escrows that exist), spaces already published.
\set ON_ERROR_STOP on
\set QUIET on
SET session_replication_role = replica;
SET synchronous_commit = off;

SELECT setseed(0.42) \g /dev/null
-- most tasks are small (cpu 1..32 skewed low, 4 GB per cpu), 10% want a GPU;
-- regions: none, or one of 11 names at three levels (eu, eu-west, eu-west-1)
INSERT INTO lagbid.task (owner, state, resources, cpu, memory_gb, storage_gb, gpu, gpu_count, region,
                         price_min, price_max, duration_hours, bid_limit, replicas,
                         bidding_window, auto_allocate, created_at, opened_at, bidding_deadline)
SELECT 'scale-owner-' || (g % 5000), 'accepting_bids',
       jsonb_strip_nulls(jsonb_build_object('cpu', c, 'memory_gb', 4 * c, 'storage_gb', s,
                                            'gpu', gpu, 'gpu_count', CASE WHEN gpu IS NOT NULL THEN 1 END)),
       c, 4 * c, s, gpu, CASE WHEN gpu IS NOT NULL THEN 1 ELSE 0 END,
       (ARRAY[NULL, 'eu', 'eu-west', 'eu-west-1', 'eu-central', 'us', 'us-east', 'us-east-1',
              'us-west', 'ap', 'ap-south', 'ap-east'])[1 + floor(random() * 12)::int],
       pmin, pmin + floor(random() * 40), 1 + floor(random() * 24), 10, 1,
       '30 days', true, now(), now(), now() + interval '30 days'
  FROM (SELECT g, (2 ^ floor(random() ^ 2 * 6))::int AS c, 10 * floor(random() * 20) AS s,
               CASE WHEN random() < 0.1 THEN 'A100' END AS gpu, 1 + floor(random() * 50) AS pmin
          FROM generate_series(1, :scale_tasks) g) x;

SELECT to_regclass('lagbid.space') IS NOT NULL AS has_space \gset
\if :has_space
INSERT INTO lagbid.space (owner, name, resources, region, price_min, price_max, replicas, hours,
                          reserved_from, reserved_until, state, version, published_version, changed)
SELECT 'scale-owner-' || (g % 5000), 'space-' || g, '{"cpu": 4, "memory_gb": 16}',
       (ARRAY['eu', 'us', 'ap'])[1 + g % 3], 1, 10, 1, 24 * 30,
       now(), now() + interval '30 days', 'active', 1, 1, false
  FROM generate_series(1, :scale_spaces) g;
\endif
RESET session_replication_role;

-- and the 1% that change during the benchmark: real spaces, created and paid
-- for through lagbid.create_space (escrow, ledger, events); the first tick
-- publishes their tasks
\if :has_space
CREATE TABLE IF NOT EXISTS bench.scale_live_space (space_id bigint PRIMARY KEY);
INSERT INTO bench.scale_live_space
SELECT lagbid.create_space(owner => 'owner-0', name => 'live-' || g,
                           resources => '{"cpu": 4, "memory_gb": 16}', price_min => 1, price_max => 10,
                           hours => 720, region => (ARRAY['eu', 'us', 'ap'])[1 + g % 3])
  FROM generate_series(1, :scale_live) g;
\endif

-- 60 providers asking for work: 6 regions x 5 sizes (2..32 cpus, 4 GB per
-- cpu, 1 TB), every tenth with an A100
INSERT INTO bench.scale_provider
SELECT lagbid.register_provider(
           node_id => bench.node(1000000 + k),
           multiaddrs => ARRAY['/dns4/cp' || k || '.scale.example/tcp/4001'],
           region => (ARRAY['eu-west-1', 'eu-central', 'us-east-1', 'us-west', 'ap-south', 'ap-east'])[1 + k % 6],
           resources => jsonb_strip_nulls(jsonb_build_object(
               'cpu', 2 ^ (1 + (k / 6) % 5), 'memory_gb', 4 * 2 ^ (1 + (k / 6) % 5), 'storage_gb', 1000,
               'gpu', CASE WHEN k % 10 = 0 THEN 'A100' END, 'gpu_count', CASE WHEN k % 10 = 0 THEN 1 END)),
           max_concurrent => 10)
  FROM generate_series(1, 60) k;
VACUUM ANALYZE lagbid.task;
\if :has_space
VACUUM ANALYZE lagbid.space;
\endif
