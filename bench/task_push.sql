-- NOTIFY lagbid_tasks (issue 13): every transaction publishes an open task,
-- whose public terms are pushed to listening providers at commit.
SELECT lagbid.publish_task(owner => 'owner-' || :client_id, resources => '{"cpu": 2}',
                           price_min => 1, price_max => 10, duration_hours => 1, region => 'eu',
                           bid_limit => 10, replicas => 1);
