-- The market of the HA test (test/ha/run.sh), run on the primary in database
-- market.  psql variables: providers, tasks.
\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION IF NOT EXISTS lagbid;
SELECT lagbid.schedule_tick() AS tick_job;

-- node(n): a valid libp2p peer id (identity multihash of an ed25519 key,
-- "12D3KooW..."), as public.node in sql/setup.sql
CREATE SCHEMA ha;
CREATE FUNCTION ha.node(n int) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN lagbid.peer_id_from_ed25519(sha256(n::text::bytea));

SELECT lagbid.deposit(account => 'ha-owner', amount => 1000000, reference => 'ha-seed') IS NOT NULL AS funded;

SELECT count(lagbid.register_provider(node_id => ha.node(n),
                                      multiaddrs => ARRAY['/ip4/127.0.0.1/tcp/' || (4000 + n)],
                                      region => 'eu-west',
                                      resources => '{"cpu": 8, "memory_gb": 32}',
                                      max_concurrent => 1000)) AS providers
  FROM generate_series(1, :providers) AS n;

-- price range [1, 10]; bid_limit above the number of providers, a long
-- bidding window: no task closes during the test, every pair may bid
SELECT count(lagbid.publish_task(owner => 'ha-owner', resources => '{"cpu": 1, "memory_gb": 1}',
                                 price_min => 1, price_max => 10, duration_hours => 1,
                                 bid_limit => :providers + 10, replicas => 1,
                                 bidding_window => '2 hours')) AS tasks
  FROM generate_series(1, :tasks);
