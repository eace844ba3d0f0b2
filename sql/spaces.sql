-- Spaces: paying for reserved hours, changes published by the tick,
-- superseding, extension, expiry, trigger_space.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT lagbid.deposit('sam', 1000, 'spaces-1');
-- creating pays hours x price_max x replicas into the space's escrow
SELECT lagbid.create_space('sam', 'chat-app', '{"cpu": 2}', 1, 4, 10, region => 'eu', replicas => 2) AS s1;
SELECT id, owner, name, version, published_version, changed, state, reserved_from, reserved_until FROM lagbid.space;
SELECT lagbid.balance('sam') AS sam, (SELECT balance FROM lagbid.account WHERE name = 'space:1') AS escrow;
-- refusals: nothing written
SELECT try($$SELECT lagbid.create_space('sam', 'chat-app', '{}', 1, 4, 1)$$);
SELECT try($$SELECT lagbid.create_space('sam', 'big', '{}', 1, 4, 1000)$$);
SELECT try($$SELECT lagbid.create_space('sam', 'x', '{}', 5, 4, 1)$$);
SELECT try($$SELECT lagbid.create_space('sam', 'x', '{}', 1, 4, 0)$$);
SELECT try($$SELECT lagbid.create_space('sam', 'x', '{}', 1, 4, 'NaN')$$);
SELECT try($$SELECT lagbid.create_space('sam', NULL, '{}', 1, 4, 1)$$);
SELECT try($$SELECT lagbid.create_space('sam', 'x', '{"cpus": 1}', 1, 4, 1)$$);
SELECT try($$SELECT lagbid.create_space('sam', 'x', '{}', 1, 4, 1, replicas => 0)$$);
SELECT count(*) AS spaces, lagbid.balance('sam') AS sam FROM lagbid.space;

-- the tick publishes the changed space as a task funded by its escrow
SELECT lagbid.tick();
SELECT id, owner, state, price_min, price_max, duration_hours, replicas, bid_limit, region, space_id, space_version
  FROM lagbid.task;
SELECT version, published_version, changed, current_task_id FROM lagbid.space;
SELECT (SELECT balance FROM lagbid.account WHERE name = 'space:1') AS space_escrow,
       (SELECT balance FROM lagbid.account WHERE name = 'task:1') AS task_escrow;
-- idempotent: nothing changed, nothing done
SELECT lagbid.tick();

-- an update marks the space changed (trigger); the tick supersedes the open task
SELECT cp(1, 'eu-west') AS p1;
SELECT lagbid.place_bid(1, 1, 3) AS b1;
SET lagbid.clock = '2030-01-01 01:00:00+00';
SELECT lagbid.update_space(1, price_max => 5);
SELECT version, changed FROM lagbid.space;
SELECT lagbid.balance('sam') AS sam_after_topup;
SELECT lagbid.tick();
SELECT id, state, reason, duration_hours, price_max, space_version FROM lagbid.task ORDER BY id;
SELECT id, state, reason FROM lagbid.bid;
SELECT id, slots_used FROM lagbid.provider;
-- updating nothing, or an unknown space
SELECT try('SELECT lagbid.update_space(1)');
SELECT try('SELECT lagbid.update_space(99, price_max => 5)');
SELECT try('SELECT lagbid.update_space(1, price_min => 9)');
-- an update that changes nothing does not republish
SELECT lagbid.update_space(1, price_max => 5);
SELECT version, changed FROM lagbid.space;

-- trigger_space publishes now
SELECT lagbid.trigger_space(1) AS t3;
SELECT id, state, reason FROM lagbid.task ORDER BY id;

-- the reservation ends: the open task is cancelled, the unearned part returns to the owner
SET lagbid.clock = '2030-01-01 10:00:00+00';
SELECT lagbid.tick();
SELECT id, state, changed FROM lagbid.space;
SELECT id, state, reason FROM lagbid.task ORDER BY id;
SELECT lagbid.balance('sam') AS sam, (SELECT balance FROM lagbid.account WHERE name = 'space:1') AS escrow;
-- nothing is published for an expired space until it is extended and triggered
SELECT try('SELECT lagbid.trigger_space(1)');
SELECT lagbid.update_space(1, price_min => 2);
SELECT lagbid.tick();
SELECT lagbid.extend_space(1, 2);
SELECT state, changed, reserved_from, reserved_until, hours FROM lagbid.space;
SELECT lagbid.tick() ->> 'spaces_published' AS published_without_trigger;
SELECT lagbid.trigger_space(1) AS t4;
SELECT id, state, duration_hours, price_max FROM lagbid.task WHERE id = 4;
SELECT try('SELECT lagbid.extend_space(1, -1)');
SELECT try('SELECT lagbid.extend_space(1, 100000)');
SELECT try('SELECT lagbid.extend_space(99, 1)');
SELECT recipient, kind, task_id, payload->>'reason' AS reason FROM lagbid.notification ORDER BY id;
SELECT * FROM lagbid.check_invariants();
