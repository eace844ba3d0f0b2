-- The baseline of bench/upload.sql: the same task, bid and job, then a
-- result kept elsewhere, its hash claimed (submit_result).
SELECT lagbid.publish_task(owner => 'owner-' || :client_id, resources => '{}',
                           price_min => 1, price_max => 10, duration_hours => 1, region => 'eu',
                           bid_limit => 1, replicas => 1) AS task \gset
\set p random(1, :nproviders)
SELECT lagbid.place_bid(:task, :p, 5) AS bid \gset
SELECT lagbid.submit_result((SELECT id FROM lagbid.job WHERE bid_id = :bid),
                            's3://bench/' || :bid, 'sha256:' || repeat('0', 64));
