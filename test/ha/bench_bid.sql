-- pgbench script of the HA test's optional measurement (HA_BENCH=1): one bid
-- per transaction on a random task and provider of test/ha/setup.sql's
-- market.  The price is a function of the pair (the same as bidder.py's),
-- so a pair drawn twice is a safe retry that returns the same bid id.
\set task random(1, :ntasks)
\set provider random(1, :nproviders)
\set price 1 + (:task * 31 + :provider) % 9
SELECT lagbid.place_bid(:task, :provider, :price);
