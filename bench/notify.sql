-- Workload 6: each transaction pair publishes a one-bid task and bids on it;
-- the bid reaches the limit, closes bidding and allocates: a bid_won NOTIFY.
SELECT lagbid.publish_task(owner => 'owner-' || :client_id, resources => '{}',
                           price_min => 1, price_max => 10, duration_hours => 1, region => 'eu',
                           bid_limit => 1, replicas => 1) AS task \gset
\set p random(1, :nproviders)
SELECT lagbid.place_bid(:task, :p, 5);
