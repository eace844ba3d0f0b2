-- Results uploaded and verified in the database (issue 13): upload_result
-- computes the SHA-256, the election counts uploads (and claims where no upload disagrees),
-- task_result gives the owner the leader's content, purge_results deletes.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
-- this session plays PostgREST's login: claims are trusted only from lagbid.authenticators
DO $$ BEGIN PERFORM set_config('lagbid.authenticators', 'authenticator, ' || quote_ident(session_user), false); END $$;
SELECT lagbid.deposit('alice', 100000, 'res-1');
SELECT lagbid.deposit('bob', 100000, 'res-2');
SELECT cp(1, 'eu') AS p1, cp(2, 'eu') AS p2, cp(3, 'eu') AS p3;

-- three replicas: two uploads that agree, one claimed different hash
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3, replicas => 3,
                           workload => '{"command": ["sh", "-c", "echo hello"]}') AS t1;
SELECT lagbid.place_bid(1, 1, 5), lagbid.place_bid(1, 2, 6), lagbid.place_bid(1, 3, 7);
SELECT id, provider_id, state FROM lagbid.job ORDER BY id;
-- the hash is computed by the database: the same as sha256() in SQL
SET lagbid.clock = '2030-01-01 00:10:00+00';
SELECT lagbid.upload_result(1, convert_to(E'hello\n', 'UTF8')) AS h1,
       'sha256:' || encode(sha256(convert_to(E'hello\n', 'UTF8')), 'hex') AS expected;
SELECT id, state, result_uri, result_hash FROM lagbid.job WHERE id = 1;
SELECT job_id, sha256, bytes, stored_at, content FROM lagbid.result;
-- one result per job: a second upload (or a submit) is refused, nothing changes
SELECT try($$SELECT lagbid.upload_result(1, 'other')$$);
SELECT try($$SELECT lagbid.submit_result(1, 's3://x', 'sha256:00')$$);
SELECT count(*), min(sha256) FROM lagbid.result;
SET lagbid.clock = '2030-01-01 00:20:00+00';
SELECT lagbid.submit_result(3, 's3://bucket/3', 'sha256:' || repeat('f', 64));
-- no leader yet: nothing to read
SELECT try('SELECT lagbid.task_result(1)');
SET lagbid.clock = '2030-01-01 00:30:00+00';
SELECT lagbid.upload_result(2, convert_to(E'hello\n', 'UTF8')) AS h2;
SELECT lagbid.finalize(1) AS leader;
SELECT id, state, is_leader, reason, result_uri FROM lagbid.job WHERE task_id = 1 ORDER BY id;
SELECT convert_from(lagbid.task_result(1), 'UTF8') AS result;
SELECT encode(sha256(lagbid.task_result(1)), 'hex') = (SELECT sha256 FROM lagbid.result WHERE job_id = 1) AS verified;

-- claims only: they count as long as no computed hash disagrees (0.4;
-- consensus.sql mixes claims and uploads); among the agreeing claims the
-- earlier submission leads
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3, replicas => 3) AS t2;
SELECT lagbid.place_bid(2, 1, 5), lagbid.place_bid(2, 2, 6), lagbid.place_bid(2, 3, 7);
SET lagbid.clock = '2030-01-01 00:40:00+00';
SELECT lagbid.submit_result(5, 's3://bucket/5', 'sha256:' || encode(sha256('42'), 'hex'));
SET lagbid.clock = '2030-01-01 00:50:00+00';
SELECT lagbid.submit_result(4, 's3://bucket/4', 'sha256:' || encode(sha256('42'), 'hex'));
SELECT lagbid.submit_result(6, 's3://bucket/6', 'sha256:' || encode(sha256('41'), 'hex'));
SELECT lagbid.finalize(2) AS leader;
SELECT id, state, is_leader, reason FROM lagbid.job WHERE task_id = 2 ORDER BY id;
-- the leader submitted a URI: the content is not here, the hint says where
SELECT try('SELECT lagbid.task_result(2)');

-- the cap: lagbid.max_result_bytes (1 MB by default)
SHOW lagbid.max_result_bytes;
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 2, replicas => 2) AS t3;
SELECT lagbid.place_bid(3, 1, 5), lagbid.place_bid(3, 2, 5);
SELECT try($$SELECT lagbid.upload_result(7, convert_to(repeat('x', 1048577), 'UTF8'))$$);
SELECT lagbid.upload_result(7, convert_to(repeat('x', 1048576), 'UTF8')) =
       'sha256:' || encode(sha256(convert_to(repeat('x', 1048576), 'UTF8')), 'hex') AS one_mb_ok;
SET lagbid.max_result_bytes = 3;
SELECT try($$SELECT lagbid.upload_result(8, 'four')$$);
SELECT lagbid.upload_result(8, '');
RESET lagbid.max_result_bytes;
SELECT job_id, bytes, sha256 FROM lagbid.result WHERE job_id IN (7, 8) ORDER BY job_id;
-- bad arguments
SELECT try('SELECT lagbid.upload_result(NULL, ''x'')');
SELECT try('SELECT lagbid.upload_result(7, NULL)');
SELECT try('SELECT lagbid.upload_result(99, ''x'')');
SELECT try('SELECT lagbid.task_result(99)');
SELECT try('SELECT lagbid.task_result(NULL)');
-- the lagbid: scheme names stored results only: it cannot be claimed
SELECT try($$SELECT lagbid.submit_result(9, 'lagbid:result/1', 'sha256:00')$$);
SELECT try($$SELECT lagbid.submit_result(9, 'LAGBID:result/1', 'sha256:00')$$);

-- the API: only the job's provider uploads, only the task's owner reads
CREATE FUNCTION pg_temp.as_(r text, sub text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    out text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    PERFORM set_config('request.jwt.claims', json_build_object('role', r, 'sub', sub)::text, true);
    out := try(q);
    RESET ROLE;
    RETURN out;
END $$;
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 1) AS t4;
SELECT lagbid.place_bid(4, 3, 5);
SELECT id, provider_id FROM lagbid.job WHERE task_id = 4;
BEGIN;
SELECT pg_temp.as_('lagbid_provider', node(2), 'SELECT lagbid_api.upload_result(9, ''mine'')');
SELECT pg_temp.as_('lagbid_owner', 'alice', 'SELECT lagbid_api.upload_result(9, ''mine'')');
SELECT pg_temp.as_('lagbid_provider', node(3), 'SELECT lagbid_api.upload_result(9, ''mine'')');
SELECT pg_temp.as_('lagbid_provider', node(3), 'SELECT lagbid_api.upload_result(9, ''again'')');
COMMIT;
SELECT id, state, result_hash = 'sha256:' || encode(sha256('mine'), 'hex') AS hash_ok FROM lagbid.job WHERE id = 9;
SELECT lagbid.finalize(4);
BEGIN;
SELECT pg_temp.as_('lagbid_owner', 'alice', 'SELECT lagbid_api.task_result(4)');
SELECT pg_temp.as_('lagbid_owner', 'bob', 'SELECT lagbid_api.task_result(4)');
SELECT pg_temp.as_('lagbid_provider', node(3), 'SELECT lagbid_api.task_result(4)');
SELECT pg_temp.as_('lagbid_owner', 'alice', 'SELECT lagbid_api.task_result(2)');
SELECT pg_temp.as_('lagbid_owner', 'alice', 'SELECT lagbid.task_result(4)');
SELECT pg_temp.as_('lagbid_owner', 'alice', 'SELECT content FROM lagbid.result');
SELECT pg_temp.as_('lagbid_provider', node(3), 'SELECT lagbid.upload_result(9, ''x'')');
SELECT pg_temp.as_('lagbid_anon', NULL, 'SELECT lagbid_api.task_result(4)');
COMMIT;
SET ROLE lagbid_owner;
SELECT set_config('request.jwt.claims', '{"role": "lagbid_owner", "sub": "alice"}', false);
SELECT convert_from(lagbid_api.task_result(4), 'UTF8') AS alice_reads;
RESET ROLE;
SELECT set_config('request.jwt.claims', '', false);

-- purge: results of tasks finished longer ago than older_than (market clock)
SELECT id, state, finished_at FROM lagbid.task ORDER BY id;
SELECT lagbid.purge_results() AS purged_now;
SET lagbid.clock = '2030-01-31 00:45:00+00';
SELECT lagbid.purge_results() AS purged_30_days;
SELECT job_id FROM lagbid.result ORDER BY job_id;
SELECT try('SELECT lagbid.task_result(1)');
SELECT lagbid.purge_results('0 seconds') AS purged_all_finished;
SELECT job_id FROM lagbid.result ORDER BY job_id;
SELECT try('SELECT lagbid.purge_results(NULL)');
SELECT try($$SELECT lagbid.purge_results('-1 day')$$);
-- the job keeps its hash and URI after the purge
SELECT id, result_uri, result_hash FROM lagbid.job WHERE id = 1;
SELECT * FROM lagbid.check_invariants();
