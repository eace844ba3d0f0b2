-- place_bid on a task that locks a bond (issue 20): the same draw as
-- bench/place_bid.sql (a random task and provider, the price a function of
-- the pair, so a repeated pair is a retry), on the collateral tasks
-- ntasks+1 .. 2 ntasks of bench/collateral.sh (collateral_ratio 0.3).
\set task :ntasks + random(1, :ntasks)
\set provider random(1, :nproviders)
\set price 10 + (:task + :provider) % 11
SELECT lagbid.place_bid(:task, :provider, :price);
