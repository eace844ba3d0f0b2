-- Results stored in the database (issue 13): each transaction group
-- publishes a one-bid task, bids (the bid allocates a job) and uploads a
-- 1 MB result with upload_result, which stores it and hashes it in C.
-- bench/submit.sql is the same with a claimed hash (submit_result).
SELECT lagbid.publish_task(owner => 'owner-' || :client_id, resources => '{}',
                           price_min => 1, price_max => 10, duration_hours => 1, region => 'eu',
                           bid_limit => 1, replicas => 1) AS task \gset
\set p random(1, :nproviders)
SELECT lagbid.place_bid(:task, :p, 5) AS bid \gset
SELECT lagbid.upload_result((SELECT id FROM lagbid.job WHERE bid_id = :bid),
                            (SELECT content FROM bench.blob)) AS hash \gset
