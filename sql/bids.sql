-- Bids: every market rule and every refusal of place_bid and withdraw_bid.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT lagbid.deposit('alice', 10000, 'bids-1');
SELECT cp(1, 'eu-west', max_concurrent => 2) AS p1,              -- matches
       cp(2, 'us-east') AS p2,                                   -- wrong region
       cp(3, 'eu', '{"cpu": 2, "memory_gb": 32}') AS p3,         -- too few cpus
       cp(4, 'eu', '{"cpu": 8, "memory_gb": 32, "gpu": "A100", "gpu_count": 1}') AS p4,
       cp(5, 'eu', max_concurrent => 1) AS p5,                   -- one slot
       cp(6, 'europe') AS p6;                                    -- "eu" is not a prefix of "europe"
-- task 1: region eu, 4 cpus, 16 GB, 2..10 per hour, 3 bids at most, no auto allocation
SELECT lagbid.publish_task('alice', '{"cpu": 4, "memory_gb": 16}', 2, 10, 2, region => 'eu',
                           bid_limit => 3, auto_allocate => false) AS t1;
-- task 2: needs two A100s, any region
SELECT lagbid.publish_task('alice', '{"gpu": "a100", "gpu_count": 2}', 2, 10, 2, bid_limit => 5) AS t2;

-- rule 3: the ask must lie in [price_min, price_max]
SELECT try('SELECT lagbid.place_bid(1, 1, 1.99)');
SELECT try('SELECT lagbid.place_bid(1, 1, 10.01)');
-- rule 4: region and resources
SELECT try('SELECT lagbid.place_bid(1, 2, 5)');
SELECT try('SELECT lagbid.place_bid(1, 6, 5)');
SELECT try('SELECT lagbid.place_bid(1, 3, 5)');
SELECT try('SELECT lagbid.place_bid(2, 4, 5)');
SELECT try('SELECT lagbid.place_bid(2, 1, 5)');
-- a suspended provider cannot bid
SELECT lagbid.set_provider_state(4, 'suspended');
SELECT try('SELECT lagbid.place_bid(1, 4, 5)');
SELECT lagbid.set_provider_state(4, 'active');
-- bad arguments
SELECT try('SELECT lagbid.place_bid(NULL, 1, 5)');
SELECT try('SELECT lagbid.place_bid(1, NULL, 5)');
SELECT try('SELECT lagbid.place_bid(1, 1, NULL)');
SELECT try($$SELECT lagbid.place_bid(1, 1, 'NaN')$$);
SELECT try($$SELECT lagbid.place_bid(1, 1, 'Infinity')$$);
SELECT try('SELECT lagbid.place_bid(1, 1, -3)');
SELECT try('SELECT lagbid.place_bid(99, 1, 5)');
SELECT try('SELECT lagbid.place_bid(1, 99, 5)');
-- nothing was written by the refusals
SELECT (SELECT count(*) FROM lagbid.bid) AS bids, (SELECT sum(slots_used) FROM lagbid.provider) AS slots,
       (SELECT bid_count FROM lagbid.task WHERE id = 1) AS bid_count;

-- the boundaries of the range are in it
SELECT lagbid.place_bid(1, 1, 10) AS b1;
-- rule 5: the same bid again returns the same id; another price is refused
SELECT lagbid.place_bid(1, 1, 10) AS b1_again;
SELECT try('SELECT lagbid.place_bid(1, 1, 9)');
-- the retry took no second slot and counted nothing twice; another price,
-- even one outside the range, is a duplicate first
SELECT (SELECT slots_used FROM lagbid.provider WHERE id = 1) AS slots,
       (SELECT bid_count FROM lagbid.task WHERE id = 1) AS bid_count;
SELECT try('SELECT lagbid.place_bid(1, 1, 99)');
-- ... unless the first is withdrawn: a new bidder id
SELECT lagbid.withdraw_bid(1);
SELECT lagbid.place_bid(1, 1, 2) AS b2;
SELECT id, task_id, provider_id, price, state FROM lagbid.bid ORDER BY id;

-- rule 1: provider 5 has one slot
SELECT lagbid.place_bid(1, 5, 6) AS b3;
SELECT lagbid.publish_task('alice', '{}', 1, 9, 1) AS t3;
SELECT try('SELECT lagbid.place_bid(3, 5, 6)');
-- withdrawing frees the slot
SELECT lagbid.withdraw_bid(3);
SELECT lagbid.place_bid(3, 5, 6) AS b4;
-- provider 5's one slot is this bid's: a retry still gets its id, another
-- price is a duplicate (not "no free slot")
SELECT lagbid.place_bid(3, 5, 6) AS b4_again;
SELECT try('SELECT lagbid.place_bid(3, 5, 7)');
SELECT slots_used FROM lagbid.provider WHERE id = 5;
-- lowering the limit below the slots in use is allowed; it only blocks new bids
SELECT lagbid.place_bid(3, 1, 3) AS b5;
SELECT lagbid.set_bid_limit(1, 1);
SELECT id, max_concurrent, slots_used FROM lagbid.provider WHERE id IN (1, 5) ORDER BY id;
SELECT lagbid.publish_task('alice', '{}', 1, 9, 1) AS t4;
SELECT try('SELECT lagbid.place_bid(4, 1, 5)');

-- rule 2: the bid that reaches bid_limit closes bidding in its transaction
SELECT lagbid.set_bid_limit(1, 5);
SELECT cp(7, 'eu') AS p7, cp(8, 'eu') AS p8;
SELECT lagbid.place_bid(1, 7, 4) AS b6;
SELECT id, state, bid_count, bid_limit FROM lagbid.task WHERE id = 1;
SELECT lagbid.place_bid(1, 8, 4) AS b7;
SELECT id, state, bid_count, bid_limit FROM lagbid.task WHERE id = 1;
SELECT try('SELECT lagbid.place_bid(1, 4, 4)');
-- a retry of a bid already placed still returns its id after the close
SELECT lagbid.place_bid(1, 8, 4) AS b7_again;

-- withdraw: only open bids, only existing ones
SELECT try('SELECT lagbid.withdraw_bid(1)');
SELECT try('SELECT lagbid.withdraw_bid(99)');
SELECT try('SELECT lagbid.withdraw_bid(NULL)');

-- the bidding window: after the deadline nobody can bid (the tick then closes it)
SELECT bidding_deadline FROM lagbid.task WHERE id = 3;
SET lagbid.clock = '2030-01-01 00:10:00+00';
SELECT try('SELECT lagbid.place_bid(3, 7, 5)');
SET lagbid.clock = '2030-01-01 00:00:00+00';

-- each transition was logged
SELECT entity, entity_id, from_state, to_state, reason FROM lagbid.event WHERE entity = 'bid' ORDER BY id;
SELECT * FROM lagbid.check_invariants();
