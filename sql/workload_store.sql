-- Workload bodies stored once, by content (issue 19, defect 6): tasks and
-- spaces name a workload by the SHA-256 of its text and carry its size;
-- discovery never carries the body; task_workload reads it by id, only
-- where the task is open to the caller; one owner's live workload bytes are
-- capped (LB320).
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
DO $$ BEGIN PERFORM set_config('lagbid.authenticators', 'authenticator, ' || quote_ident(session_user), false); END $$;
SELECT lagbid.deposit('alice', 100000, 'ws-a'), lagbid.deposit('bob', 100000, 'ws-b');
SELECT cp(1, 'eu-west') AS p1, cp(2, 'us') AS p2, cp(3, 'eu', '{"cpu": 1}') AS p3;
-- as(role, sub, sql): one API call as that caller, "ok"/the result, or the refusal
CREATE FUNCTION pg_temp.as_(r text, sub text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    res text;
BEGIN
    PERFORM set_config('request.jwt.claims', json_build_object('role', r, 'sub', sub)::text, true);
    EXECUTE format('SET LOCAL ROLE %I', r);
    EXECUTE q INTO res;
    RESET ROLE;
    RETURN coalesce(res, 'NULL');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.as_(text, text, text) TO PUBLIC;

-- 1. the digest is SHA-256 of workload::text and the size its octet length,
--    stored when published; equal bodies are stored once
SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, workload => '{"command": ["echo", "café"]}') AS t1,
       lagbid.publish_task('alice', '{}', 1, 2, 1, workload => '{"command":["echo","café"]}') AS t2,
       lagbid.publish_task('bob', '{"cpu": 2}', 1, 2, 1, region => 'eu', workload => '{"command": ["true"]}') AS t3,
       lagbid.publish_task('bob', '{}', 1, 2, 1) AS t4;
SELECT t.id, t.workload_bytes, t.workload_sha256 = encode(sha256(convert_to(w.body::text, 'UTF8')), 'hex') AS digest_ok,
       t.workload_bytes = octet_length(w.body::text) AS size_ok
  FROM lagbid.task t LEFT JOIN lagbid.workload_body w ON w.sha256 = t.workload_sha256 ORDER BY t.id;
SELECT count(*) AS bodies, sum(bytes) AS bytes FROM lagbid.workload_body;
-- the digest is the one sha256sum prints for the text (fixed here)
SELECT workload_sha256 FROM lagbid.task WHERE id = 3;

-- 2. discovery: terms, size and digest, never the body; task_ids asks for
--    those tasks only, under the same rules (p1 is eu-west: t3 is eu and
--    needs 2 cpus; p3 is eu with 1 cpu)
BEGIN;
SELECT pg_temp.as_('lagbid_provider', node(1),
    $$SELECT string_agg(task_id || ':' || coalesce(workload_bytes::text, '-') || ':' || coalesce(left(workload_sha256, 8), '-'), ' ' ORDER BY task_id) FROM lagbid_api.open_tasks()$$) AS p1_all,
       pg_temp.as_('lagbid_provider', node(1),
    $$SELECT string_agg(task_id::text, ' ' ORDER BY task_id) FROM lagbid_api.open_tasks(task_ids => ARRAY[3, 2, 99])$$) AS p1_ids,
       pg_temp.as_('lagbid_provider', node(3),
    $$SELECT coalesce(string_agg(task_id::text, ' ' ORDER BY task_id), 'none') FROM lagbid_api.open_tasks(task_ids => ARRAY[3])$$) AS p3_t3,
       pg_temp.as_('lagbid_provider', node(1),
    $$SELECT count(*) FROM lagbid_api.open_tasks(max_rows => 1, task_ids => ARRAY[1, 2, 3])$$) AS capped_rows,
       pg_temp.as_('lagbid_provider', node(1),
    $$SELECT count(*) FROM lagbid_api.open_tasks(task_ids => array(SELECT generate_series(1, 1001)::bigint))$$) AS too_many;
ROLLBACK;
SELECT pg_get_function_result('lagbid_api.open_tasks(integer, bigint[])'::regprocedure) AS open_tasks_returns;
SELECT pg_get_function_result('lagbid_api.my_jobs()'::regprocedure) AS my_jobs_returns;

-- 3. task_workload: the body for a provider the task is open to, for one
--    holding a bid or job on it, and for the owner; refused otherwise
BEGIN;
SELECT pg_temp.as_('lagbid_provider', node(1), 'SELECT lagbid_api.task_workload(1)::text') AS p1_open,
       pg_temp.as_('lagbid_provider', node(2), 'SELECT lagbid_api.task_workload(1)::text') AS p2_open_anywhere,
       pg_temp.as_('lagbid_provider', node(2), 'SELECT lagbid_api.task_workload(3)::text') AS p2_other_region,
       pg_temp.as_('lagbid_provider', node(3), 'SELECT lagbid_api.task_workload(3)::text') AS p3_too_small,
       pg_temp.as_('lagbid_provider', node(1), 'SELECT lagbid_api.task_workload(4)::text') AS p1_none,
       pg_temp.as_('lagbid_provider', node(1), 'SELECT lagbid_api.task_workload(99)::text') AS p1_missing;
SELECT pg_temp.as_('lagbid_owner', 'alice', 'SELECT lagbid_api.task_workload(1)::text') AS alice_own,
       pg_temp.as_('lagbid_owner', 'alice', 'SELECT lagbid_api.task_workload(3)::text') AS alice_bobs,
       pg_temp.as_('lagbid_anon', 'x', 'SELECT lagbid_api.task_workload(1)::text') AS anon;
ROLLBACK;
-- p1 wins task 1: closed to others, still readable by p1 (its bid, then its job)
SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, bid_limit => 1, workload => '{"command": ["echo", "won"]}') AS t5;
SELECT lagbid.place_bid(5, 1, 1.5);
BEGIN;
SELECT pg_temp.as_('lagbid_provider', node(1), 'SELECT lagbid_api.task_workload(5)::text') AS winner,
       pg_temp.as_('lagbid_provider', node(2), 'SELECT lagbid_api.task_workload(5)::text') AS other;
-- the notice and my_jobs name the workload by digest and size, no body
SELECT pg_temp.as_('lagbid_provider', node(1),
    $$SELECT string_agg(task_id || ' ' || workload_bytes || ' ' || left(workload_sha256, 8), ', ') FROM lagbid_api.my_jobs()$$) AS my_jobs;
ROLLBACK;
SELECT payload ? 'workload' AS has_body, payload ->> 'workload_bytes' AS bytes,
       payload ->> 'workload_sha256' = (SELECT workload_sha256 FROM lagbid.task WHERE id = 5) AS digest
  FROM lagbid.notification WHERE kind = 'bid_won';
SELECT count(*) AS notices_with_a_body FROM lagbid.notification WHERE payload::text LIKE '%command%';

-- 4. a space's republication copies the digest, never the body
SELECT lagbid.create_space('alice', 'app', '{}', 1, 2, 100, workload => '{"command": ["serve"]}') AS s1;
SELECT lagbid.tick() ->> 'spaces_published' AS published;
SELECT lagbid.update_space(1, price_min => 1.5);
SELECT lagbid.tick() ->> 'spaces_published' AS published;
SELECT lagbid.trigger_space(1) IS NOT NULL AS triggered;
SELECT id, state, space_version, workload_bytes, workload_sha256 = (SELECT workload_sha256 FROM lagbid.space WHERE id = 1) AS same
  FROM lagbid.task WHERE space_id = 1 ORDER BY id;
SELECT count(*) AS bodies FROM lagbid.workload_body;

-- 5. one owner's live workload bytes: publish_task tasks and active spaces
--    (a space's tasks count as the space), capped; ending frees them
SELECT owner, live_tasks, workload_bytes FROM lagbid.owner_load ORDER BY owner;
CREATE FUNCTION pg_temp.live_bytes(o text) RETURNS bigint LANGUAGE sql
    RETURN (SELECT coalesce(sum(b), 0) FROM (
              SELECT workload_bytes AS b FROM lagbid.task WHERE owner = o AND space_id IS NULL
                 AND state IN ('created', 'accepting_bids', 'bid_closed', 'processing')
              UNION ALL
              SELECT workload_bytes FROM lagbid.space WHERE owner = o AND state = 'active') x);
SELECT o.owner, o.workload_bytes = pg_temp.live_bytes(o.owner) AS counted_right FROM lagbid.owner_load o ORDER BY 1;
SET lagbid.max_workload_bytes_per_owner = 200;
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, workload => jsonb_build_object('command', jsonb_build_array('echo', repeat('x', 100))))$$) AS over_cap;
SELECT try($$SELECT lagbid.create_space('alice', 'big', '{}', 1, 2, 1, workload => jsonb_build_object('command', jsonb_build_array('echo', repeat('x', 100))))$$) AS space_over_cap;
SELECT try($$SELECT lagbid.update_space(1, workload => jsonb_build_object('command', jsonb_build_array('echo', repeat('x', 100))))$$) AS update_over_cap;
-- nothing of the refused calls stayed
SELECT count(*) AS tasks, (SELECT count(*) FROM lagbid.space) AS spaces, (SELECT count(*) FROM lagbid.workload_body) AS bodies FROM lagbid.task;
-- bob is far below: his calls go on; a task without a workload never counts
SELECT try($$SELECT lagbid.publish_task('bob', '{}', 1, 2, 1, workload => '{"command": ["ls"]}')$$) AS bob_ok;
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1)$$) AS alice_no_workload;
-- alice cancels a task: its bytes are freed, and a small workload fits again
SELECT lagbid.cancel_task(2);
SELECT workload_bytes FROM lagbid.owner_load WHERE owner = 'alice';
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, workload => '{"command": ["echo", "again"]}')$$) AS fits_again;
-- removing a space's workload frees its bytes; an expired space frees them too
SELECT lagbid.update_space(1, workload => 'null');
SELECT workload_bytes FROM lagbid.owner_load WHERE owner = 'alice';
SELECT lagbid.update_space(1, workload => '{"command": ["serve"]}');
SET lagbid.clock = '2030-01-05 05:00:00+00';
SELECT lagbid.tick() ->> 'spaces_expired' AS expired;
SELECT state FROM lagbid.space WHERE id = 1;
SELECT o.owner, o.workload_bytes, o.workload_bytes = pg_temp.live_bytes(o.owner) AS counted_right FROM lagbid.owner_load o ORDER BY 1;
-- extending the expired space makes its workload live again, within the cap
SET lagbid.max_workload_bytes_per_owner = 10;
SELECT try($$SELECT lagbid.extend_space(1, 10)$$) AS extend_over_cap;
RESET lagbid.max_workload_bytes_per_owner;
SELECT lagbid.extend_space(1, 10);
SELECT o.owner, o.workload_bytes = pg_temp.live_bytes(o.owner) AS counted_right FROM lagbid.owner_load o ORDER BY 1;
-- through the API the refusal is a 429 in PostgREST's form
SET lagbid.max_workload_bytes_per_owner = 10;
BEGIN;
SELECT pg_temp.as_('lagbid_owner', 'bob', $$SELECT lagbid_api.publish_task('{}', 1, 2, 1, workload => '{"command": ["echo", "api"]}')::text$$) AS api_over_cap;
ROLLBACK;
RESET lagbid.max_workload_bytes_per_owner;
SELECT sqlstate, http_status, name FROM lagbid.error_codes() WHERE sqlstate IN ('LB320', 'LB322') ORDER BY 1;
SELECT * FROM lagbid.check_invariants();
