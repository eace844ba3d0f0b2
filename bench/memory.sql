-- Workload 7: many place_bid calls in ONE session (pgbench -c 1 -t CALLS, -D i=0);
-- every sample_every calls the backend records its memory
-- (pg_backend_memory_contexts total and /proc/self/status RssAnon).
\set i :i + 1
\if :i % :sample_every = 1 or :i = :calls
INSERT INTO bench.memory_sample (calls, context_bytes, rss_anon_kb)
SELECT :i - 1, (SELECT sum(total_bytes) FROM pg_backend_memory_contexts), bench.rss_anon_kb();
\endif
\set task random(1, :ntasks)
\set provider random(1, :nproviders)
\set price 10 + (:task + :provider) % 11
SELECT lagbid.place_bid(:task, :provider, :price);
