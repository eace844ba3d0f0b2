-- Workload 3: one whole task life per pgbench transaction.  The client's own
-- owner account publishes a task (3 replicas, bid limit 3); three distinct
-- providers bid, the third bid closes bidding and allocates all three; each
-- job submits its result; finalize elects the leader and pays.
\set p random(1, :nproviders - 2)
SELECT lagbid.publish_task(owner => 'owner-' || :client_id, resources => '{"cpu": 2, "memory_gb": 4}',
                           price_min => 1, price_max => 10, duration_hours => 1, region => 'eu',
                           bid_limit => 3, replicas => 3) AS task \gset
SELECT lagbid.place_bid(:task, :p, 5);
SELECT lagbid.place_bid(:task, :p + 1, 6);
SELECT lagbid.place_bid(:task, :p + 2, 7);
SELECT j[1] AS j1, j[2] AS j2, j[3] AS j3
  FROM (SELECT array_agg(id ORDER BY id) AS j FROM lagbid.job WHERE task_id = :task) s \gset
SELECT lagbid.submit_result(:j1, 'ipfs://bench/result', 'bench-result-hash');
SELECT lagbid.submit_result(:j2, 'ipfs://bench/result', 'bench-result-hash');
SELECT lagbid.submit_result(:j3, 'ipfs://bench/result', 'bench-result-hash');
SELECT lagbid.finalize(:task);
