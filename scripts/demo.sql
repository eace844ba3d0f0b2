-- A small market, end to end, on a throwaway cluster (make demo).
\pset footer off
\set QUIET on
\echo '== lagbid demo =='
CREATE EXTENSION lagbid;
SELECT 'lagbid ' || lagbid.version() AS "extension";

\echo
\echo '-- an owner deposits money; three computing providers sign up'
SELECT lagbid.deposit('alice', 500, 'bank-transfer-0001') AS deposit_tx \gset
SELECT lagbid.register_provider(
    node_id => '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
    multiaddrs => ARRAY['/ip4/198.51.100.7/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'],
    region => 'eu-west-1',
    resources => '{"cpu": 16, "memory_gb": 64, "gpu": "A100", "gpu_count": 2}',
    max_concurrent => 2) AS p1 \gset
SELECT lagbid.register_provider(
    node_id => 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N',
    multiaddrs => ARRAY['/dns4/cp2.example.net/udp/4001/quic-v1'],
    region => 'eu-central',
    resources => '{"cpu": 8, "memory_gb": 32, "gpu": "A100", "gpu_count": 1}',
    max_concurrent => 1) AS p2 \gset
SELECT lagbid.register_provider(
    node_id => '12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE',
    multiaddrs => ARRAY['/ip6/2001:db8::1/tcp/4001/ws'],
    region => 'eu-north',
    resources => '{"cpu": 32, "memory_gb": 128, "gpu": "A100", "gpu_count": 4}',
    max_concurrent => 3) AS p3 \gset
SELECT id, node_id, region, max_concurrent FROM lagbid.provider ORDER BY id;

\echo
\echo '-- alice publishes a task: 2 replicas, 3 bids at most, 4 to 10 per hour for 5 hours'
SELECT lagbid.publish_task(owner => 'alice',
    resources => '{"cpu": 8, "memory_gb": 32, "gpu": "A100"}',
    price_min => 4, price_max => 10, duration_hours => 5,
    region => 'eu', bid_limit => 3, replicas => 2) AS task \gset
SELECT id, state, price_min, price_max, bid_limit, replicas FROM lagbid.task WHERE id = :task;
SELECT lagbid.balance('alice') AS "alice's balance after escrow (500 - 10 x 5 x 2)";

\echo
\echo '-- the providers bid; the third bid reaches the bid limit, which closes bidding and allocates'
SELECT lagbid.place_bid(task_id => :task, provider_id => :p1, price => 7) AS b1 \gset
SELECT lagbid.place_bid(task_id => :task, provider_id => :p2, price => 5) AS b2 \gset
SELECT lagbid.place_bid(task_id => :task, provider_id => :p3, price => 9) AS b3 \gset
SELECT b.id AS bidder_id, p.node_id, b.price, b.state
  FROM lagbid.bid b JOIN lagbid.provider p ON p.id = b.provider_id
 WHERE b.task_id = :task ORDER BY b.id;
SELECT id, state FROM lagbid.task WHERE id = :task;

\echo
\echo '-- the allocated bidders process the task and upload their results'
SELECT j.id AS job_id, j.provider_id, j.price, j.state
  FROM lagbid.job j WHERE j.task_id = :task ORDER BY j.id;
SELECT lagbid.submit_result(job_id => j.id,
           result_uri => 'ipfs://bafy-result-' || j.id,
           result_hash => 'sha256:5f3c0ffee')
  FROM lagbid.job j WHERE j.task_id = :task ORDER BY j.id \g /dev/null

\echo
\echo '-- the winner is elected as the leading node and everybody is paid'
SELECT lagbid.finalize(:task) AS leader_job;
SELECT j.id AS job_id, p.node_id, j.state, j.is_leader, j.paid
  FROM lagbid.job j JOIN lagbid.provider p ON p.id = j.provider_id
 WHERE j.task_id = :task ORDER BY j.id;
SELECT name AS account, balance FROM lagbid.account WHERE kind = 'holder' ORDER BY name;

\echo
\echo '-- what the bidders were told (outbox; also sent with NOTIFY lagbid)'
SELECT recipient, kind, task_id, job_id FROM lagbid.notification ORDER BY id;

\echo
\echo '-- the task''s life, from the event log'
SELECT entity, entity_id, from_state, to_state, reason FROM lagbid.event
 WHERE entity = 'task' AND entity_id = :task ORDER BY id;

\echo
\echo '-- invariants (no row = consistent)'
SELECT count(*) AS broken_invariants FROM lagbid.check_invariants();
