-- Real work (issue 13), after scripts/demo.sql: a task that says what to
-- run, pushed to listening providers, and a result whose hash the database
-- computes.  The SQL below stands in for the provider's daemon
-- (lagbid-agent), which runs the workload and uploads its output.
\pset footer off
\echo
\echo '== real work: a task with a workload, a result verified by the database'
SELECT lagbid.deposit('dora', 100, 'demo-work-1') \g /dev/null
SELECT lagbid.register_provider(lagbid.peer_id_from_ed25519(sha256('demo-work-cp')),
                                ARRAY['/ip4/10.9.0.1/tcp/4001'], 'eu-west',
                                '{"cpu": 2, "memory_gb": 4}') AS work_cp \gset

\echo
\echo '-- dora publishes a task that runs a shell command; a listening provider hears of it after the commit (the push worker sends its id)'
LISTEN lagbid_tasks;
SELECT lagbid.publish_task('dora', '{"cpu": 1}', 1, 2, 0.5, region => 'eu', bid_limit => 1,
                           workload => $${"command": ["sh", "-c", "echo $((6*7))"], "timeout_s": 60}$$) AS work_task \gset
SELECT pg_sleep(0.5) AS "the push worker sends it";
UNLISTEN lagbid_tasks;

\echo
\echo '-- the provider bids; it wins at once (bid_limit 1) and its bid_won notice says what to run'
SELECT lagbid.place_bid(:work_task, :work_cp, 1.5) \g /dev/null
SELECT id AS work_job FROM lagbid.job WHERE task_id = :work_task \gset
SELECT jsonb_pretty(payload - 'recipient' - 'deadline') AS bid_won
  FROM lagbid.notification WHERE kind = 'bid_won' AND task_id = :work_task;

\echo
\echo '-- it runs the command (here psql runs it: sh -c "echo $((6*7))") and uploads the output;'
\echo '-- the database computes the hash'
SELECT w.body -> 'command' ->> 2 AS work_script FROM lagbid.task t JOIN lagbid.workload_body w ON w.sha256 = t.workload_sha256 WHERE t.id = :work_task \gset
\set work_output `sh -c :'work_script'`
SELECT lagbid.upload_result(:work_job, convert_to(:'work_output' || E'\n', 'UTF8')) AS result_hash;
SELECT lagbid.finalize(:work_task) AS leader_job;

\echo
\echo '-- dora reads the leader''s result and checks it against the hash the database computed'
SELECT convert_from(lagbid.task_result(:work_task), 'UTF8') AS result,
       'sha256:' || encode(sha256(lagbid.task_result(:work_task)), 'hex') = j.result_hash AS verified,
       j.result_uri
  FROM lagbid.job j WHERE j.id = :work_job;
SELECT count(*) AS broken_invariants FROM lagbid.check_invariants();
