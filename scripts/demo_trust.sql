-- Trust between strangers (issue 20), after scripts/demo_work.sql: three
-- providers stake collateral on a task of three replicas; two agree, one
-- does not and is slashed, with a reason it can read; anybody reads the
-- providers' profiles.
\pset footer off
\echo
\echo '== trust: collateral at stake, a slash with its reason, reputation earned'
SELECT lagbid.deposit('erin', 100, 'demo-trust-erin') \g /dev/null
SELECT lagbid.register_provider(lagbid.peer_id_from_ed25519(sha256(('demo-trust-' || n)::bytea)),
                                ARRAY['/ip4/10.8.0.' || n || '/tcp/4001'], 'eu', '{"cpu": 2}') AS trust_cp
  FROM generate_series(1, 3) AS n \g /dev/null
SELECT id AS cp1 FROM lagbid.provider WHERE node_id = lagbid.peer_id_from_ed25519(sha256('demo-trust-1')) \gset
SELECT id AS cp2 FROM lagbid.provider WHERE node_id = lagbid.peer_id_from_ed25519(sha256('demo-trust-2')) \gset
SELECT id AS cp3 FROM lagbid.provider WHERE node_id = lagbid.peer_id_from_ed25519(sha256('demo-trust-3')) \gset

\echo
\echo '-- the providers fund their collateral as owners fund tasks'
SELECT count(lagbid.deposit(lagbid.peer_id_from_ed25519(sha256(('demo-trust-' || n)::bytea)), 20,
                            'demo-trust-cp' || n, holder_kind => 'provider')) AS funded
  FROM generate_series(1, 3) AS n;

\echo
\echo '-- erin asks for three replicas; each bid stakes half its total ask (collateral_ratio 0.5)'
SELECT lagbid.publish_task('erin', '{"cpu": 1}', 1, 10, 2, bid_limit => 3, replicas => 3,
                           collateral_ratio => 0.5) AS trust_task \gset
SELECT lagbid.place_bid(:trust_task, :cp1, 4) \g /dev/null
SELECT lagbid.place_bid(:trust_task, :cp2, 5) \g /dev/null
SELECT lagbid.place_bid(:trust_task, :cp3, 6) \g /dev/null
SELECT b.provider_id, b.price AS ask, b.bond, b.bond_state,
       lagbid.balance(p.node_id, 'provider') AS available
  FROM lagbid.bid b JOIN lagbid.provider p ON p.id = b.provider_id
 WHERE b.task_id = :trust_task ORDER BY b.id;

\echo
\echo '-- two replicas upload the same output, the third another; the election slashes the third'
SELECT lagbid.upload_result(j.id, convert_to(CASE WHEN j.provider_id = :cp3 THEN 'forty-one' ELSE 'forty-two' END, 'UTF8'))
  FROM lagbid.job j WHERE j.task_id = :trust_task ORDER BY j.id \g /dev/null
SELECT lagbid.finalize(:trust_task) AS leader_job \g /dev/null
SELECT j.provider_id, j.state, j.outcome, b.bond_state
  FROM lagbid.job j JOIN lagbid.bid b ON b.id = j.bid_id WHERE j.task_id = :trust_task ORDER BY j.id;

\echo
\echo '-- the slashed provider is told why, and what the market saw'
SELECT payload ->> 'amount' AS amount, payload ->> 'reason' AS reason, payload ->> 'evidence' AS evidence
  FROM lagbid.notification WHERE kind = 'job_slashed' AND task_id = :trust_task;
SELECT kind, amount, memo FROM lagbid.ledger_tx WHERE task_id = :trust_task AND kind IN ('bond', 'release', 'slash') ORDER BY id;

\echo
\echo '-- anybody reads a provider''s profile (here through the API, as lagbid_anon)'
SELECT lagbid.peer_id_from_ed25519(sha256('demo-trust-1')) AS node1,
       lagbid.peer_id_from_ed25519(sha256('demo-trust-3')) AS node3 \gset
BEGIN;
SET LOCAL ROLE lagbid_anon;
SELECT 'cp1' AS provider, score, reliability, jobs_completed, jobs_agreed, jobs_disagreed, slashed_total
  FROM lagbid_api.provider_profile(:'node1')
UNION ALL
SELECT 'cp3', score, reliability, jobs_completed, jobs_agreed, jobs_disagreed, slashed_total
  FROM lagbid_api.provider_profile(:'node3');
ROLLBACK;
SELECT count(*) AS broken_invariants FROM lagbid.check_invariants();
