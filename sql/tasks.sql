-- Tasks: publishing with escrow, the bidding window, cancellation with refunds.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT lagbid.deposit('alice', 1000, 'tasks-1');
-- escrow is price_max x duration_hours x replicas
SELECT lagbid.publish_task('alice', '{"cpu": 2}', 3, 10, 4, replicas => 2, bid_limit => 4) AS t1;
SELECT id, owner, state, price_min, price_max, duration_hours, bid_limit, replicas, region,
       opened_at, bidding_deadline, auto_allocate FROM lagbid.task;
SELECT lagbid.balance('alice') AS alice, lagbid.balance('task:1') AS escrow_never_a_holder;
SELECT account_kind, account, amount, kind FROM lagbid.ledger WHERE task_id = 1 ORDER BY tx_id, amount;
-- refusals: nothing written, no money moved
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 10, 3, 1)$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', -1, 3, 1)$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 'NaN', 1)$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 3, 0)$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 3, 1, bid_limit => 0)$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 3, 1, bid_limit => 2, replicas => 3)$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 3, 1, replicas => 0)$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 3, 1, bidding_window => '0 seconds')$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 3, 1, bidding_window => '1 year')$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 3, 1, region => 'Europe!')$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{"disk": 1}', 1, 3, 1)$$);
SELECT try($$SELECT lagbid.publish_task('alice', NULL, 1, 3, 1)$$);
SELECT try($$SELECT lagbid.publish_task(NULL, '{}', 1, 3, 1)$$);
SELECT try($$SELECT lagbid.publish_task('', '{}', 1, 3, 1)$$);
SELECT try($$SELECT lagbid.publish_task(E'al\nice', '{}', 1, 3, 1)$$);
-- not enough money: LB501 names the account
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 1000, 1)$$);
SELECT try($$SELECT lagbid.publish_task('bob', '{}', 1, 3, 1)$$);
SELECT (SELECT count(*) FROM lagbid.task) AS tasks, lagbid.balance('alice') AS alice,
       (SELECT count(*) FROM lagbid.ledger_tx) AS ledger_txs;

-- publish without opening, then open
SELECT lagbid.publish_task('alice', '{}', 1, 5, 2, open => false, auto_allocate => false) AS t2;
SELECT state, opened_at FROM lagbid.task WHERE id = 2;
SELECT try('SELECT lagbid.close_bidding(2)');
SELECT lagbid.open_bidding(2);
SELECT state, opened_at, bidding_deadline FROM lagbid.task WHERE id = 2;
SELECT try('SELECT lagbid.open_bidding(2)');
SELECT try('SELECT lagbid.open_bidding(99)');
SELECT try('SELECT lagbid.open_bidding(NULL)');

-- bids, then the owner closes: with auto_allocate false the bids wait
SELECT cp(1, 'eu') AS p1, cp(2, 'eu') AS p2;
SELECT lagbid.place_bid(2, 1, 4) AS b1, lagbid.place_bid(2, 2, 3) AS b2;
SELECT lagbid.close_bidding(2);
SELECT state, closed_at, bid_count FROM lagbid.task WHERE id = 2;
SELECT try('SELECT lagbid.close_bidding(2)');
-- reopening declines the open bids (no acceptable bid): lost, slots released
SELECT lagbid.open_bidding(2);
SELECT id, state, reason FROM lagbid.bid ORDER BY id;
SELECT id, slots_used FROM lagbid.provider ORDER BY id;
SELECT state, bid_count FROM lagbid.task WHERE id = 2;

-- cancel: open bids lost, slots released, escrow refunded, bidders told
SELECT lagbid.place_bid(2, 1, 5) AS b3;
SELECT lagbid.cancel_task(2, 'changed my mind');
SELECT id, state, reason, bid_count FROM lagbid.task WHERE id = 2;
SELECT id, state, reason FROM lagbid.bid ORDER BY id;
SELECT id, slots_used FROM lagbid.provider ORDER BY id;
SELECT lagbid.balance('alice') AS alice_after_refund;
SELECT recipient = node(1) AS to_p1, recipient, kind, task_id, bid_id, payload->>'reason' AS reason
  FROM lagbid.notification ORDER BY id;
-- a cancelled task cannot be cancelled, opened or bid on
SELECT try('SELECT lagbid.cancel_task(2)');
SELECT try('SELECT lagbid.open_bidding(2)');
SELECT try('SELECT lagbid.place_bid(2, 2, 3)');
SELECT try('SELECT lagbid.cancel_task(99)');
-- the task's life
SELECT from_state, to_state, reason FROM lagbid.event WHERE entity = 'task' AND entity_id = 2 ORDER BY id;
SELECT * FROM lagbid.check_invariants();
-- the terms fixed at publish are validated in C, not by CHECKs (a CHECK of
-- lagbid.task is compiled again by every bid); check_invariants() reports a
-- task whose terms were changed behind the market's back (each undone)
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 5, 4, 1)$$) AS inverted_range;
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 4, 0)$$) AS zero_hours;
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 4, 1, bid_limit => 2, replicas => 3)$$) AS replicas_over_limit;
BEGIN;
UPDATE lagbid.task SET price_min = price_max + 1 WHERE id = 1;
SELECT invariant FROM lagbid.check_invariants() ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE lagbid.task SET duration_hours = 0 WHERE id = 1;
SELECT invariant FROM lagbid.check_invariants() ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE lagbid.task SET replicas = bid_limit + 1 WHERE id = 1;
SELECT DISTINCT invariant FROM lagbid.check_invariants() ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE lagbid.task SET bidding_window = '0 s' WHERE id = 1;
SELECT invariant FROM lagbid.check_invariants() ORDER BY 1;
ROLLBACK;
SELECT * FROM lagbid.check_invariants();
