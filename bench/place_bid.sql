-- Workload 1: one bid per transaction, a random open task and a random
-- provider (bench/setup.sql: tasks 1..ntasks, providers 1..nproviders).  The
-- price is a function of the pair, so a pair drawn twice is a safe retry
-- (market rule 5 returns the same bid id) rather than a refused re-bid.
\set task random(1, :ntasks)
\set provider random(1, :nproviders)
\set price 10 + (:task + :provider) % 11
SELECT lagbid.place_bid(:task, :provider, :price);
