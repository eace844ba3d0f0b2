SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
-- Malformed input for every lagbid.* function that takes arguments: NULLs,
-- NaN and infinities, negative and zero values, 10 MB strings, control
-- characters and odd Unicode, JSON of the wrong shape, integer limits,
-- min > max.  Each call must be refused with an LB SQLSTATE and a message
-- naming the argument (never XX000, never a crash, never 'ok'), and leave
-- nothing behind.  Values past the int4/int8 limits never reach lagbid:
-- PostgreSQL itself finds no function for them (42883).
--
-- A small market whose ids the calls use, so that the garbage argument is
-- the only thing wrong: provider 1 and 2, task 1 accepting bids with bid 1,
-- task 2 processing with job 1, task 3 created, task 4 closed with open
-- bid 3, space 1.
SELECT lagbid.deposit('alice', 100000, 'malformed-seed') AS tx;
SELECT cp(1) AS p1, cp(2) AS p2;
SELECT lagbid.publish_task('alice', '{"cpu": 1}', 1, 2, 1, bid_limit => 5, auto_allocate => false) AS t1,
       lagbid.publish_task('alice', '{"cpu": 1}', 1, 2, 1, bid_limit => 5, auto_allocate => false) AS t2,
       lagbid.publish_task('alice', '{"cpu": 1}', 1, 2, 1, open => false) AS t3,
       lagbid.publish_task('alice', '{"cpu": 1}', 1, 2, 1, auto_allocate => false) AS t4;
SELECT lagbid.place_bid(1, 1, 1.5) AS b1, lagbid.place_bid(2, 2, 1.5) AS b2, lagbid.place_bid(4, 1, 1.5) AS b3;
SELECT lagbid.close_bidding(2), lagbid.close_bidding(4);
SELECT lagbid.allocate(2) AS j1;
SELECT lagbid.create_space('alice', 'app', '{"cpu": 1}', 1, 2, 10) AS s1;
SELECT 'task' AS what, id, state::text FROM lagbid.task
UNION ALL SELECT 'bid', id, state::text FROM lagbid.bid
UNION ALL SELECT 'job', id, state::text FROM lagbid.job ORDER BY 1, 2;
-- fingerprint of every lagbid table: its row count and the md5 of its rows
-- (but the push worker's queue and its own row, which it changes on its own
-- after every commit: lagbid.push_queue, lagbid.push_worker)
CREATE FUNCTION pg_temp.fingerprint() RETURNS TABLE (tbl text, n bigint, digest text)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
              WHERE s.nspname = 'lagbid' AND c.relkind = 'r'
                AND c.relname NOT IN ('push_queue', 'push_worker') ORDER BY c.relname LOOP
        tbl := r.relname;
        EXECUTE format('SELECT count(*), md5(coalesce(string_agg(t::text, %L ORDER BY t::text), %L)) FROM lagbid.%I t',
                       E'\n', '', r.relname) INTO n, digest;
        RETURN NEXT;
    END LOOP;
END $$;
-- clip(s): a long outcome is cut, with its length (an error must not echo 10 MB)
CREATE FUNCTION pg_temp.clip(s text) RETURNS text LANGUAGE sql
    RETURN CASE WHEN length(s) > 300 THEN left(s, 300) || '... (' || length(s) || ' characters)' ELSE s END;
CREATE TEMP TABLE before AS SELECT * FROM pg_temp.fingerprint();
SELECT tbl, n FROM before ORDER BY tbl;
-- ---------------------------------------------------------------------------
-- A. garbage: every call must be refused (class LB)
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE calls (n serial, q text NOT NULL);
INSERT INTO calls (q) VALUES
-- register_provider(node_id, multiaddrs, region, resources, max_concurrent, chain_id, chain_tx)
($c$SELECT lagbid.register_provider(NULL, '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider('', '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(repeat('x', 10000000), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9) || chr(1), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(E'\u200b' || node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider('12D3KooW', '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), NULL, 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{}', 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{NULL}', 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{{/ip4/10.0.0.9/tcp/1},{/ip4/10.0.0.8/tcp/1}}', 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), array_fill('/ip4/10.0.0.9/tcp/1'::text, '{33}'), 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), ARRAY[repeat('x', 10000000)], 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), ARRAY['/ip4/10.0.0.9/tcp/1' || chr(1)], 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/999.0.0.9/tcp/1}', 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/65536}', 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/-1}', 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), ARRAY['/ip4/10.0.0.9/tcp/1/p2p/' || node(8)], 'eu', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', NULL, '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', '', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'EU', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', repeat('x', 10000000), '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu' || chr(1), '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', E'eu\u200b', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu-', '{}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', NULL)$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '[]')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '"x"')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', 'null')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{"cpu": {"a": 1}}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{"gpu_count": 1e400}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{"gpu_count": 2147483648}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{"gpu_count": -1}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{"cpu": 1e400}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{"cpu": -1}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{"cpu": "NaN"}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{"memory_gb": true}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{"gpu": ""}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', jsonb_build_object('gpu', repeat('x', 10000000)))$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{"gpu": "a100\u0001"}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{"ram": 1}')$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}', 0)$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}', -1)$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}', 2147483647)$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}', 2147483648)$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}', 1, repeat('x', 10000000))$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}', 1, 'filecoin', repeat('x', 10000000))$c$),
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}', 1, 'filecoin' || chr(1))$c$),
-- set_bid_limit(provider_id, max_concurrent)
($c$SELECT lagbid.set_bid_limit(NULL, 1)$c$),
($c$SELECT lagbid.set_bid_limit(1, NULL)$c$),
($c$SELECT lagbid.set_bid_limit(1, 0)$c$),
($c$SELECT lagbid.set_bid_limit(1, -1)$c$),
($c$SELECT lagbid.set_bid_limit(1, 2147483647)$c$),
($c$SELECT lagbid.set_bid_limit(1, 2147483648)$c$),
($c$SELECT lagbid.set_bid_limit(-1, 1)$c$),
($c$SELECT lagbid.set_bid_limit(0, 1)$c$),
($c$SELECT lagbid.set_bid_limit(9223372036854775807, 1)$c$),
($c$SELECT lagbid.set_bid_limit(9223372036854775808, 1)$c$),
-- set_provider_state(provider_id, state)
($c$SELECT lagbid.set_provider_state(NULL, 'active')$c$),
($c$SELECT lagbid.set_provider_state(1, NULL)$c$),
($c$SELECT lagbid.set_provider_state(1, '')$c$),
($c$SELECT lagbid.set_provider_state(1, 'ACTIVE')$c$),
($c$SELECT lagbid.set_provider_state(1, 'active' || chr(1))$c$),
($c$SELECT lagbid.set_provider_state(1, repeat('x', 10000000))$c$),
($c$SELECT lagbid.set_provider_state(-1, 'active')$c$),
($c$SELECT lagbid.set_provider_state(9223372036854775807, 'active')$c$),
-- publish_task(owner, resources, price_min, price_max, duration_hours, region,
--              bid_limit, replicas, bidding_window, auto_allocate, open)
($c$SELECT lagbid.publish_task(NULL, '{}', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('', '{}', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task(repeat('x', 10000000), '{}', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice' || chr(1), '{}', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task(E'alice\u200b', '{}', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', NULL, 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '[]', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '"x"', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{"cpu": {"a": 1}}', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{"gpu_count": 1e400}', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{"gpu_count": 1.5}', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{"cpu": 1e400}', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{"storage_gb": -0.5}', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{"gpu": null}', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{"ram": 1}', 1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', NULL, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 'NaN', 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', '-Infinity', 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', -1, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, NULL, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 'NaN', 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 'Infinity', 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, -1, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 1e400, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 3, 2, 1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, NULL)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 0)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, -1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 'NaN')$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 'Infinity')$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1e400)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, region => '')$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, region => 'EU')$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, region => repeat('x', 10000000))$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, region => 'eu' || chr(1))$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, region => E'eu\u200b')$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, region => 'eu--west')$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bid_limit => 0)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bid_limit => -1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bid_limit => 2147483647)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bid_limit => 2147483648)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, replicas => 0)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, replicas => -1)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, replicas => 2147483647)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bid_limit => 1, replicas => 2)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bidding_window => NULL)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bidding_window => '0')$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bidding_window => '-1 hour')$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bidding_window => '32 days')$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bidding_window => '1 mon -100 days')$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bidding_window => '178000000 years')$c$),
($c$SELECT lagbid.publish_task('nobody', '{}', 1, 2, 1)$c$),
-- open_bidding(task_id), close_bidding(task_id), cancel_task(task_id, reason)
($c$SELECT lagbid.open_bidding(NULL)$c$),
($c$SELECT lagbid.open_bidding(-1)$c$),
($c$SELECT lagbid.open_bidding(9223372036854775807)$c$),
($c$SELECT lagbid.open_bidding(9223372036854775808)$c$),
($c$SELECT lagbid.close_bidding(NULL)$c$),
($c$SELECT lagbid.close_bidding(0)$c$),
($c$SELECT lagbid.close_bidding(9223372036854775807)$c$),
($c$SELECT lagbid.cancel_task(NULL)$c$),
($c$SELECT lagbid.cancel_task(-1)$c$),
($c$SELECT lagbid.cancel_task(9223372036854775807, 'why')$c$),
($c$SELECT lagbid.cancel_task(1, '')$c$),
($c$SELECT lagbid.cancel_task(1, repeat('x', 10000000))$c$),
($c$SELECT lagbid.cancel_task(1, 'why' || chr(1))$c$),
($c$SELECT lagbid.cancel_task(1, repeat('x', 150))$c$),
-- place_bid(task_id, provider_id, price)
($c$SELECT lagbid.place_bid(NULL, 2, 1.5)$c$),
($c$SELECT lagbid.place_bid(1, NULL, 1.5)$c$),
($c$SELECT lagbid.place_bid(1, 2, NULL)$c$),
($c$SELECT lagbid.place_bid(1, 2, 'NaN')$c$),
($c$SELECT lagbid.place_bid(1, 2, 'Infinity')$c$),
($c$SELECT lagbid.place_bid(1, 2, '-Infinity')$c$),
($c$SELECT lagbid.place_bid(1, 2, -1)$c$),
($c$SELECT lagbid.place_bid(1, 2, 0)$c$),
($c$SELECT lagbid.place_bid(1, 2, 1e400)$c$),
($c$SELECT lagbid.place_bid(1, 2, 1.5e-400)$c$),
($c$SELECT lagbid.place_bid(1, 2, 1e100000)$c$),
($c$SELECT lagbid.place_bid(-1, 2, 1.5)$c$),
($c$SELECT lagbid.place_bid(9223372036854775807, 2, 1.5)$c$),
($c$SELECT lagbid.place_bid(1, -1, 1.5)$c$),
($c$SELECT lagbid.place_bid(1, 9223372036854775807, 1.5)$c$),
-- withdraw_bid(bid_id)
($c$SELECT lagbid.withdraw_bid(NULL)$c$),
($c$SELECT lagbid.withdraw_bid(-1)$c$),
($c$SELECT lagbid.withdraw_bid(0)$c$),
($c$SELECT lagbid.withdraw_bid(9223372036854775807)$c$),
-- allocate(task_id, bid_ids): task 4 is closed with open bid 3
($c$SELECT lagbid.allocate(NULL)$c$),
($c$SELECT lagbid.allocate(NULL, '{3}')$c$),
($c$SELECT lagbid.allocate(-1)$c$),
($c$SELECT lagbid.allocate(9223372036854775807)$c$),
($c$SELECT lagbid.allocate(4, '{}')$c$),
($c$SELECT lagbid.allocate(4, '{NULL}')$c$),
($c$SELECT lagbid.allocate(4, '{3,NULL}')$c$),
($c$SELECT lagbid.allocate(4, '{{3},{3}}')$c$),
($c$SELECT lagbid.allocate(4, '{3,3}')$c$),
($c$SELECT lagbid.allocate(4, '{1}')$c$),
($c$SELECT lagbid.allocate(4, '{-1}')$c$),
($c$SELECT lagbid.allocate(4, '{9223372036854775807}')$c$),
($c$SELECT lagbid.allocate(4, array_fill(3::bigint, '{1001}'))$c$),
($c$SELECT lagbid.allocate(4, array_fill(3::bigint, '{1250000}'))$c$),
($c$SELECT lagbid.allocate(1, '{3}')$c$),
-- submit_result(job_id, result_uri, result_hash): job 1 is processing
($c$SELECT lagbid.submit_result(NULL, 's3://r/1', 'h')$c$),
($c$SELECT lagbid.submit_result(1, NULL, 'h')$c$),
($c$SELECT lagbid.submit_result(1, 's3://r/1', NULL)$c$),
($c$SELECT lagbid.submit_result(1, '', 'h')$c$),
($c$SELECT lagbid.submit_result(1, 's3://r/1', '')$c$),
($c$SELECT lagbid.submit_result(1, repeat('x', 10000000), 'h')$c$),
($c$SELECT lagbid.submit_result(1, 's3://r/1', repeat('x', 10000000))$c$),
($c$SELECT lagbid.submit_result(1, repeat('x', 2049), 'h')$c$),
($c$SELECT lagbid.submit_result(1, 's3://r/1', repeat('x', 257))$c$),
($c$SELECT lagbid.submit_result(1, 's3://r/1' || chr(1), 'h')$c$),
($c$SELECT lagbid.submit_result(1, 's3://r/1', 'h' || chr(127))$c$),
($c$SELECT lagbid.submit_result(-1, 's3://r/1', 'h')$c$),
($c$SELECT lagbid.submit_result(9223372036854775807, 's3://r/1', 'h')$c$),
-- fail_job(job_id, reason)
($c$SELECT lagbid.fail_job(NULL, 'why')$c$),
($c$SELECT lagbid.fail_job(1, NULL)$c$),
($c$SELECT lagbid.fail_job(1, '')$c$),
($c$SELECT lagbid.fail_job(1, repeat('x', 10000000))$c$),
($c$SELECT lagbid.fail_job(1, 'why' || chr(1))$c$),
($c$SELECT lagbid.fail_job(-1, 'why')$c$),
($c$SELECT lagbid.fail_job(9223372036854775807, 'why')$c$),
-- finalize(task_id)
($c$SELECT lagbid.finalize(NULL)$c$),
($c$SELECT lagbid.finalize(-1)$c$),
($c$SELECT lagbid.finalize(9223372036854775807)$c$),
-- create_space(owner, name, resources, price_min, price_max, hours, region, replicas)
($c$SELECT lagbid.create_space(NULL, 'web', '{}', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('', 'web', '{}', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space(repeat('x', 10000000), 'web', '{}', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice' || chr(1), 'web', '{}', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', NULL, '{}', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', '', '{}', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', repeat('x', 10000000), '{}', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web' || chr(1), '{}', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', NULL, 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '[]', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '"x"', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{"cpu": {"a": 1}}', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{"gpu_count": 1e400}', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', NULL, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 'NaN', 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, NULL, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 'Infinity', 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', -1, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 3, 2, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 1e400, 10)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, NULL)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, 0)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, -1)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, 'NaN')$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, '-Infinity')$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, 87601)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, 10, region => '')$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, 10, region => 'EU')$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, 10, region => repeat('x', 10000000))$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, 10, replicas => 0)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, 10, replicas => -1)$c$),
($c$SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, 10, replicas => 2147483647)$c$),
($c$SELECT lagbid.create_space('alice', 'app', '{}', 1, 2, 10)$c$),
($c$SELECT lagbid.create_space('nobody', 'web', '{}', 1, 2, 10)$c$),
-- update_space(space_id, resources, price_min, price_max, region): space 1 has [1, 2]
($c$SELECT lagbid.update_space(NULL, '{}')$c$),
($c$SELECT lagbid.update_space(1)$c$),
($c$SELECT lagbid.update_space(-1, '{}')$c$),
($c$SELECT lagbid.update_space(9223372036854775807, '{}')$c$),
($c$SELECT lagbid.update_space(1, resources => '[]')$c$),
($c$SELECT lagbid.update_space(1, resources => '{"cpu": {"a": 1}}')$c$),
($c$SELECT lagbid.update_space(1, resources => '{"gpu_count": 1e400}')$c$),
($c$SELECT lagbid.update_space(1, price_min => 'NaN')$c$),
($c$SELECT lagbid.update_space(1, price_min => -1)$c$),
($c$SELECT lagbid.update_space(1, price_min => 3)$c$),
($c$SELECT lagbid.update_space(1, price_max => 'Infinity')$c$),
($c$SELECT lagbid.update_space(1, price_max => 0.5)$c$),
($c$SELECT lagbid.update_space(1, price_max => 1e400)$c$),
($c$SELECT lagbid.update_space(1, price_min => 5, price_max => 4)$c$),
($c$SELECT lagbid.update_space(1, region => '')$c$),
($c$SELECT lagbid.update_space(1, region => 'EU')$c$),
($c$SELECT lagbid.update_space(1, region => repeat('x', 10000000))$c$),
($c$SELECT lagbid.update_space(1, region => 'eu' || chr(1))$c$),
-- extend_space(space_id, hours)
($c$SELECT lagbid.extend_space(NULL, 1)$c$),
($c$SELECT lagbid.extend_space(1, NULL)$c$),
($c$SELECT lagbid.extend_space(1, 0)$c$),
($c$SELECT lagbid.extend_space(1, -1)$c$),
($c$SELECT lagbid.extend_space(1, 'NaN')$c$),
($c$SELECT lagbid.extend_space(1, 'Infinity')$c$),
($c$SELECT lagbid.extend_space(1, 87601)$c$),
($c$SELECT lagbid.extend_space(1, 1e400)$c$),
($c$SELECT lagbid.extend_space(-1, 1)$c$),
($c$SELECT lagbid.extend_space(9223372036854775807, 1)$c$),
-- trigger_space(space_id)
($c$SELECT lagbid.trigger_space(NULL)$c$),
($c$SELECT lagbid.trigger_space(-1)$c$),
($c$SELECT lagbid.trigger_space(9223372036854775807)$c$),
-- deposit(account, amount, reference), balance(account)
($c$SELECT lagbid.deposit(NULL, 1, 'ref-x')$c$),
($c$SELECT lagbid.deposit('', 1, 'ref-x')$c$),
($c$SELECT lagbid.deposit(repeat('x', 10000000), 1, 'ref-x')$c$),
($c$SELECT lagbid.deposit('bob' || chr(1), 1, 'ref-x')$c$),
($c$SELECT lagbid.deposit('bob', NULL, 'ref-x')$c$),
($c$SELECT lagbid.deposit('bob', 0, 'ref-x')$c$),
($c$SELECT lagbid.deposit('bob', -1, 'ref-x')$c$),
($c$SELECT lagbid.deposit('bob', 'NaN', 'ref-x')$c$),
($c$SELECT lagbid.deposit('bob', 'Infinity', 'ref-x')$c$),
($c$SELECT lagbid.deposit('bob', 1e400, 'ref-x')$c$),
($c$SELECT lagbid.deposit('bob', 1e100000, 'ref-y')$c$),
($c$SELECT lagbid.deposit('bob', 1, NULL)$c$),
($c$SELECT lagbid.deposit('bob', 1, '')$c$),
($c$SELECT lagbid.deposit('bob', 1, repeat('x', 10000000))$c$),
($c$SELECT lagbid.deposit('bob', 1, 'ref' || chr(1))$c$),
($c$SELECT lagbid.deposit('bob', 1, repeat('r', 200))$c$),
($c$SELECT lagbid.deposit('bob', 1, 'malformed-seed')$c$),
($c$SELECT lagbid.balance(NULL)$c$),
-- schedule_tick(database, schedule); state_diagram(machine)
($c$SELECT lagbid.schedule_tick(NULL)$c$),
($c$SELECT lagbid.schedule_tick(current_database(), NULL)$c$),
($c$SELECT lagbid.schedule_tick(current_database(), 'every full moon')$c$),
($c$SELECT lagbid.state_diagram('nope')$c$),
($c$SELECT lagbid.state_diagram(repeat('x', 10000000))$c$),
-- the API layer's helpers: raise(sqlstate, message, detail, hint) takes
-- only lagbid's codes; api_identity(expected_role) and the ownership
-- checks refuse garbage claims (request.jwt.claims, set for the call only)
($c$SELECT lagbid.raise(NULL, 'x')$c$),
($c$SELECT lagbid.raise('LB001', NULL)$c$),
($c$SELECT lagbid.raise('XX000', 'x')$c$),
($c$SELECT lagbid.raise('LB999', 'x')$c$),
($c$SELECT lagbid.raise('lb001', 'x')$c$),
($c$SELECT lagbid.raise(repeat('x', 10000000), 'x')$c$),
($c$SELECT lagbid.api_identity(NULL)$c$),
($c$SELECT lagbid.api_identity('lagbid_owner')$c$),
($c$SELECT lagbid.api_identity('lagbid_owner') FROM (SELECT set_config('request.jwt.claims', 'garbage', true)) c$c$),
($c$SELECT lagbid.api_identity('lagbid_owner') FROM (SELECT set_config('request.jwt.claims', '[]', true)) c$c$),
($c$SELECT lagbid.api_identity('lagbid_owner') FROM (SELECT set_config('request.jwt.claims', '{"role": "lagbid_owner"}', true)) c$c$),
($c$SELECT lagbid.api_identity('lagbid_owner') FROM (SELECT set_config('request.jwt.claims', '{"role": "lagbid_owner", "sub": {"a": 1}}', true)) c$c$),
($c$SELECT lagbid.api_identity('lagbid_owner') FROM (SELECT set_config('request.jwt.claims', '{"role": "lagbid_owner", "sub": ""}', true)) c$c$),
($c$SELECT lagbid.api_identity('lagbid_owner') FROM (SELECT set_config('request.jwt.claims', json_build_object('role', 'lagbid_owner', 'sub', repeat('x', 10000000))::text, true)) c$c$),
($c$SELECT lagbid.api_identity('lagbid_owner') FROM (SELECT set_config('request.jwt.claims', json_build_object('role', 'lagbid_owner', 'sub', 'al' || chr(1))::text, true)) c$c$),
($c$SELECT lagbid.api_own_task(NULL)$c$),
($c$SELECT lagbid.api_own_space(1)$c$),
($c$SELECT lagbid.api_own_bid(1)$c$),
($c$SELECT lagbid.api_own_job(NULL)$c$),
($c$SELECT lagbid.api_provider()$c$),
($c$SELECT lagbid.api_subject()$c$);
-- this session plays the API gateway (lagbid.authenticators), so that the
-- garbage claims above are parsed and refused rather than distrusted
DO $$ BEGIN PERFORM set_config('lagbid.authenticators', session_user, false); END $$;
CREATE TEMP TABLE outcome AS SELECT n, q, try(q) AS r FROM calls ORDER BY n;
RESET lagbid.authenticators;
\pset format unaligned
\pset fieldsep ' => '
SELECT q, pg_temp.clip(r) FROM outcome ORDER BY n;
\pset format aligned
\pset fieldsep '|'
-- every refusal is lagbid's (class LB) or PostgreSQL's own "no such function"
-- for a value past the int4/int8 limits; never ok, never an internal error
SELECT left(r, 5) AS sqlstate, count(*) FROM outcome GROUP BY 1 ORDER BY 1;
SELECT n, q, pg_temp.clip(r) AS outcome FROM outcome WHERE r NOT LIKE 'LB%' AND r NOT LIKE '42883:%' ORDER BY n;
-- nothing was written: every lagbid table has the same rows as before
SELECT b.tbl, b.n AS rows_before, a.n AS rows_after
  FROM before b FULL JOIN pg_temp.fingerprint() a USING (tbl)
 WHERE a.digest IS DISTINCT FROM b.digest;
SELECT count(*) AS broken_invariants FROM lagbid.check_invariants();
-- ---------------------------------------------------------------------------
-- B. NULL for an argument that has a default, and odd but printable text:
-- what lagbid does with them (in a transaction rolled back at the end)
-- ---------------------------------------------------------------------------
BEGIN;
CREATE TEMP TABLE odd (n serial, q text NOT NULL) ON COMMIT DROP;
INSERT INTO odd (q) VALUES
($c$SELECT lagbid.register_provider(node(9), '{/ip4/10.0.0.9/tcp/1}', 'eu', '{}', NULL)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, region => NULL)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bid_limit => NULL)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, replicas => NULL)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, auto_allocate => NULL)$c$),
($c$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, open => NULL)$c$),
($c$SELECT lagbid.create_space('alice', 'web2', '{}', 1, 2, 10, replicas => NULL)$c$),
($c$SELECT lagbid.cancel_task(3, NULL)$c$),
($c$SELECT lagbid.allocate(4, '[0:0]={3}')$c$),
($c$SELECT lagbid.publish_task(E'\u200b', '{}', 1, 2, 1)$c$),
($c$SELECT lagbid.deposit(E'\u200b', 1, 'ref-zwsp')$c$),
($c$SELECT lagbid.create_space('alice', E'\u200b', '{}', 1, 2, 10)$c$),
($c$SELECT lagbid.cancel_task(1, E'\u200b')$c$),
($c$SELECT lagbid.submit_result(1, E'\u200b', E'\u200b')$c$),
($c$SELECT lagbid.fail_job(1, E'\u200b')$c$),
($c$SELECT lagbid.balance(repeat('x', 10000000))$c$),
($c$SELECT lagbid.balance('bob' || chr(1))$c$),
($c$SELECT count(*) FROM lagbid.task_timeline(NULL)$c$);
\pset format unaligned
\pset fieldsep ' => '
SELECT q, pg_temp.clip(try(q)) FROM odd ORDER BY n;
\pset format aligned
\pset fieldsep '|'
ROLLBACK;
-- predicates answer false (or NULL for NULL), never an error
SELECT lagbid.node_id_is_valid(NULL) AS null_id, lagbid.node_id_is_valid('') AS empty_id,
       lagbid.node_id_is_valid(repeat('x', 10000000)) AS huge_id,
       lagbid.node_id_is_valid(node(1) || chr(1)) AS control_id,
       lagbid.node_id_is_valid(E'\u200b') AS zwsp_id;
SELECT lagbid.multiaddr_is_valid(NULL) AS null_addr, lagbid.multiaddr_is_valid('') AS empty_addr,
       lagbid.multiaddr_is_valid(repeat('/ip4', 2500000)) AS huge_addr,
       lagbid.multiaddr_is_valid('/ip4/1.2.3.4/tcp/1', repeat('x', 10000000)) AS huge_node;
SELECT pg_temp.clip(lagbid.multiaddr_problem(repeat('/ip4', 2500000))) AS huge,
       lagbid.multiaddr_problem('/ip4/1.2.3.4/tcp/1' || chr(1)) AS control,
       lagbid.multiaddr_problem(E'/dns4/\u200b/tcp/1') AS zwsp;
SELECT lagbid.state_diagram(NULL) IS NULL AS null_machine;
-- the backend is alive and the market unchanged
SELECT b.tbl FROM before b FULL JOIN pg_temp.fingerprint() a USING (tbl)
 WHERE a.digest IS DISTINCT FROM b.digest;
SELECT count(*) AS broken_invariants FROM lagbid.check_invariants();
SELECT 'alive' AS backend;
