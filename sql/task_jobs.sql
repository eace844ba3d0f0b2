-- Owners see their work (issue 23): lagbid_api.task_jobs(task_id), and the
-- owner's whole workflow through lagbid_api from a login bound to the owner
-- (no claims, no superuser): publish, watch the jobs, finalize, read the
-- result, see the payments.  Providers act from their own bound logins.
SELECT fresh_market();
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['tj_alice', 'tj_bob'] LOOP
        EXECUTE format('CREATE ROLE %I LOGIN IN ROLE lagbid_owner', r);
    END LOOP;
    FOREACH r IN ARRAY ARRAY['tj_cp1', 'tj_cp2', 'tj_cp3'] LOOP
        EXECUTE format('CREATE ROLE %I LOGIN IN ROLE lagbid_provider', r);
    END LOOP;
END $$;
-- the operator: money for alice, three providers, each login bound
SELECT lagbid.deposit('alice', 100, 'tj-1');
SELECT cp(1) AS p1, cp(2) AS p2, cp(3) AS p3;
SELECT node(1) AS n1, node(2) AS n2, node(3) AS n3 \gset
SELECT lagbid.bind_owner_login('alice', 'tj_alice'), lagbid.bind_owner_login('bob', 'tj_bob');
SELECT lagbid.bind_login(node(n), format('tj_cp%s', n)::regrole) FROM generate_series(1, 3) n;

-- alice publishes a task of three replicas
SET SESSION AUTHORIZATION tj_alice;
SELECT lagbid_api.publish_task('{"cpu": 1}', 1, 10, 2, replicas => 3, bid_limit => 3,
                               workload => '{"command": ["sh", "-c", "echo hello"]}');
SELECT task_id, state, replicas FROM lagbid_api.my_tasks();
-- no job yet
SELECT count(*) FROM lagbid_api.task_jobs(1);
RESET SESSION AUTHORIZATION;

-- each provider bids from its own login; the third bid reaches the limit
-- and the task is allocated to all three
SET SESSION AUTHORIZATION tj_cp1;
SELECT lagbid_api.place_bid(1, 4);
SET SESSION AUTHORIZATION tj_cp2;
SELECT lagbid_api.place_bid(1, 5);
SET SESSION AUTHORIZATION tj_cp3;
SELECT lagbid_api.place_bid(1, 6);
RESET SESSION AUTHORIZATION;

-- alice watches: three replicas processing, nothing reported yet
SET SESSION AUTHORIZATION tj_alice;
SELECT task_id, state FROM lagbid_api.my_tasks();
SELECT job_id, bid_id, provider_id, node_id = (ARRAY[:'n1', :'n2', :'n3'])[provider_id] AS node_ok, state, is_leader,
       reason, result_hash, result_verified, price, paid, allocated_at IS NOT NULL AS allocated,
       submitted_at, finished_at, deadline > allocated_at AS has_deadline, run_seconds
  FROM lagbid_api.task_jobs(1);
RESET SESSION AUTHORIZATION;

-- two replicas upload the same output, the third gives up with a reason
SET SESSION AUTHORIZATION tj_cp1;
SELECT lagbid_api.upload_result(1, convert_to(E'hello\n', 'UTF8'));
SET SESSION AUTHORIZATION tj_cp2;
SELECT lagbid_api.upload_result(2, convert_to(E'hello\n', 'UTF8'));
SET SESSION AUTHORIZATION tj_cp3;
SELECT lagbid_api.fail_job(3, 'exit status 3: oops');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION tj_alice;
-- each replica's state, the failure's reason, the hashes the database computed
SELECT job_id, state, reason, result_hash, result_uri, result_verified,
       submitted_at IS NOT NULL AS submitted, finished_at IS NOT NULL AS finished,
       run_seconds >= 0 AS timed
  FROM lagbid_api.task_jobs(1);
-- sealed bids: the only price a job shows is its bid's ask, as task_bids shows it
SELECT count(*) AS prices_beyond_task_bids
  FROM lagbid_api.task_jobs(1) j LEFT JOIN lagbid_api.task_bids(1) b USING (bid_id)
 WHERE b.price IS DISTINCT FROM j.price;
-- finalize, read the result, see the payments
SELECT lagbid_api.finalize(1) AS leader_job;
SELECT task_id, state, leader_job_id FROM lagbid_api.my_tasks();
SELECT convert_from(lagbid_api.task_result(1), 'UTF8') AS result;
SELECT job_id, state, is_leader, price, paid FROM lagbid_api.task_jobs(1);
-- 100 - 2 h x (4 + 5): the failed replica's escrow came back
SELECT lagbid_api.balance();
-- the owner is told (other kinds may come too: only this one is checked here)
SELECT kind, task_id FROM lagbid_api.notifications() WHERE kind = 'task_completed' ORDER BY id;
RESET SESSION AUTHORIZATION;

-- the providers' side of the payments
SET SESSION AUTHORIZATION tj_cp1;
SELECT lagbid_api.balance();
SET SESSION AUTHORIZATION tj_cp3;
SELECT lagbid_api.balance();
RESET SESSION AUTHORIZATION;

-- refusals: another owner, a provider, anonymous, an unknown task, no task
SET SESSION AUTHORIZATION tj_bob;
SELECT try('SELECT * FROM lagbid_api.task_jobs(1)');
SELECT try('SELECT * FROM lagbid_api.task_jobs(99)');
SELECT try('SELECT * FROM lagbid_api.task_jobs(NULL)');
SET SESSION AUTHORIZATION tj_cp1;
SELECT try('SELECT * FROM lagbid_api.task_jobs(1)');
RESET SESSION AUTHORIZATION;
SET ROLE lagbid_anon;
SELECT try('SELECT * FROM lagbid_api.task_jobs(1)');
RESET ROLE;
-- through claims, as PostgREST sends them: alice sees it, bob does not
BEGIN;
DO $$ BEGIN PERFORM set_config('lagbid.authenticators', 'authenticator, ' || quote_ident(session_user), true); END $$;
SET LOCAL ROLE lagbid_owner;
SELECT set_config('request.jwt.claims', '{"role": "lagbid_owner", "sub": "alice"}', true) IS NOT NULL;
SELECT count(*) FROM lagbid_api.task_jobs(1);
SELECT set_config('request.jwt.claims', '{"role": "lagbid_owner", "sub": "bob"}', true) IS NOT NULL;
SELECT try('SELECT * FROM lagbid_api.task_jobs(1)');
ROLLBACK;
SELECT * FROM lagbid.check_invariants();
DROP ROLE tj_alice, tj_bob, tj_cp1, tj_cp2, tj_cp3;
