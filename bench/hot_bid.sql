-- Workload 4: many providers racing for one task (pgbench -c 50 -t 5 -D i=0).
-- Each client first bids on a task of its own (warm_base + client_id), so
-- that its backend has compiled try_bid and prepared place_bid's plans
-- before the race; then it bids on the raced task, each call taking the
-- next hot provider (bench.hot_seq) and recording its outcome (ok or the
-- SQLSTATE) in bench.hot_result instead of aborting the client.
\set i :i + 1
\if :i = 1
\set own_task :warm_base + :client_id
\set own_provider :first_provider + :client_id
SELECT bench.try_bid(:own_task, :own_provider, 5, NULL);
\else
SELECT bench.try_bid(:task, :first_provider, 5, 'bench.hot_seq');
\endif
