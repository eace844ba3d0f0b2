-- Allocation (market rule 3): lowest ask, then earliest; given bids; refusals.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT lagbid.deposit('alice', 10000, 'alloc-1');
SELECT cp(1, 'eu') AS p1, cp(2, 'eu') AS p2, cp(3, 'eu') AS p3, cp(4, 'eu') AS p4, cp(5, 'eu') AS p5;

-- automatic: the 4th bid reaches the limit; 2 replicas; lowest asks win, ties go to the earlier bid
SELECT lagbid.publish_task('alice', '{}', 1, 10, 3, bid_limit => 4, replicas => 2) AS t1;
SET lagbid.clock = '2030-01-01 00:01:00+00';
SELECT lagbid.place_bid(1, 1, 6) AS b1;
SET lagbid.clock = '2030-01-01 00:02:00+00';
SELECT lagbid.place_bid(1, 2, 4) AS b2;
SET lagbid.clock = '2030-01-01 00:03:00+00';
SELECT lagbid.place_bid(1, 3, 6) AS b3;
SET lagbid.clock = '2030-01-01 00:04:00+00';
SELECT lagbid.place_bid(1, 4, 9) AS b4;
SELECT id, provider_id, price, state, reason FROM lagbid.bid WHERE task_id = 1 ORDER BY id;
SELECT id, task_id, bid_id, provider_id, price, state, deadline FROM lagbid.job ORDER BY id;
SELECT state, bid_count, jobs_pending, allocated_at, processing_deadline FROM lagbid.task WHERE id = 1;
-- winners keep their slot (the job), losers got it back
SELECT id, slots_used FROM lagbid.provider ORDER BY id;
SELECT recipient = node(provider_id::int) AS right_recipient, kind, bid_id, job_id, payload->>'price' AS price
  FROM lagbid.notification n JOIN lagbid.bid b ON b.id = n.bid_id ORDER BY n.id;
SELECT try('SELECT lagbid.allocate(1)');

-- explicit: the owner picks; allocate on a task still open closes it first
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5, replicas => 2, auto_allocate => false) AS t2;
SELECT lagbid.place_bid(2, 1, 2) AS b5, lagbid.place_bid(2, 2, 8) AS b6, lagbid.place_bid(2, 3, 9) AS b7;
SELECT try('SELECT lagbid.allocate(2, ARRAY[6, 7, 5])');
SELECT try('SELECT lagbid.allocate(2, ARRAY[6, 1])');
SELECT try('SELECT lagbid.allocate(2, ARRAY[6, 6])');
SELECT try('SELECT lagbid.allocate(2, ARRAY[]::bigint[])');
SELECT try('SELECT lagbid.allocate(2, ARRAY[6, NULL])');
SELECT try('SELECT lagbid.allocate(2, ARRAY[[6], [7]])');
SELECT try('SELECT lagbid.allocate(99)');
SELECT try('SELECT lagbid.allocate(NULL)');
SELECT state FROM lagbid.task WHERE id = 2;
SELECT * FROM lagbid.allocate(2, ARRAY[7, 6]) AS job_id;
SELECT id, state, reason FROM lagbid.bid WHERE task_id = 2 ORDER BY id;
SELECT from_state, to_state, reason FROM lagbid.event WHERE entity = 'task' AND entity_id = 2 ORDER BY id;

-- no bids to allocate
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, auto_allocate => false) AS t3;
SELECT lagbid.close_bidding(3);
SELECT try('SELECT lagbid.allocate(3)');
-- a cancelled task cannot be allocated
SELECT lagbid.cancel_task(3);
SELECT try('SELECT lagbid.allocate(3)');
-- close_bidding with auto_allocate allocates at once; fewer bids than replicas is fine
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, replicas => 3) AS t4;
SELECT lagbid.place_bid(4, 5, 3) AS b8;
SELECT lagbid.close_bidding(4);
SELECT state, bid_count, jobs_pending FROM lagbid.task WHERE id = 4;
SELECT * FROM lagbid.check_invariants();
