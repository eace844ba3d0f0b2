-- Holders are typed (issue 16, finding 2): an owner whose name equals a
-- provider's node id is a different holder -- its own account, its own
-- inbox.  In 0.2 that owner read the provider's balance and notices, its
-- tasks were escrowed from the provider's earnings, and its refunds were
-- paid into them.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT cp(1, 'eu') AS victim, cp(2, 'eu') AS other_provider;
SELECT lagbid.deposit('alice', 1000, 'holders-1');

-- the victim earns 25: alice's task, its ask 5 for 5 hours
SELECT lagbid.publish_task('alice', '{}', 1, 10, 5, bid_limit => 1) AS t1;
SELECT lagbid.place_bid(1, 1, 5) AS b1;
SELECT lagbid.submit_result(1, 's3://out/1', 'sha256:aaa');
SELECT lagbid.finalize(1) AS leader;
SELECT lagbid.balance(node(1), holder_kind => 'provider') AS victim_earned,
       lagbid.balance(node(1)) AS owner_named_like_it;

-- the attacker: an owner named node(1).  Its publish is not paid from the
-- victim's 25: its own account is empty.
SELECT try(format($$SELECT lagbid.publish_task(%L, '{}', 1, 10, 1)$$, node(1))) = format(
    'LB501: insufficient funds in account "%s" [The owner account "%s" holds 0; 10 is needed.]', node(1), node(1))
    AS refused_from_its_own_empty_account;
SELECT lagbid.deposit(node(1), 30, 'holders-2') AS owner_deposit;
-- the same reference again: the same deposit; for the provider's account: another one, refused
SELECT lagbid.deposit(node(1), 30, 'holders-2') AS same_deposit;
SELECT try(format($$SELECT lagbid.deposit(%L, 30, 'holders-2', holder_kind => 'provider')$$, node(1)))
    LIKE 'LB312: deposit reference "holders-2" was used for another account or amount%' AS reused_for_the_provider;
SELECT kind, name = node(1) AS named_node1, balance FROM lagbid.account
 WHERE kind IN ('owner', 'provider') ORDER BY id;

-- publish escrows from the owner's own 30; provider 2 wins, is paid, the owner refunded
SELECT lagbid.publish_task(node(1), '{}', 1, 10, 1, bid_limit => 1) AS t2;
SELECT lagbid.balance(node(1)) AS owner_after_escrow, lagbid.balance(node(1), 'provider') AS victim_untouched;
SELECT lagbid.place_bid(2, 2, 4) AS b2;
SELECT lagbid.submit_result(2, 's3://out/2', 'sha256:bbb');
SELECT lagbid.finalize(2) AS leader;
SELECT lagbid.balance(node(1)) AS owner_refunded, lagbid.balance(node(1), 'provider') AS victim_still,
       lagbid.balance(node(2), 'provider') AS provider2_paid, lagbid.balance(node(2)) AS no_owner_node2;
-- the ledger: escrows from owners, payments to providers, refunds to owners
SELECT tx_id, kind, account_kind, account = node(1) AS named_node1, account = node(2) AS named_node2, amount
  FROM lagbid.ledger WHERE kind <> 'deposit' AND account_kind <> 'escrow' ORDER BY tx_id, amount;

-- the inboxes: the victim's notices are the provider's, the attacker's the owner's
SELECT id, recipient_kind, recipient = node(1) AS named_node1, recipient = node(2) AS named_node2,
       kind, task_id, payload->>'recipient_kind' AS in_payload
  FROM lagbid.notification ORDER BY id;
SELECT recipient_kind, recipient = node(1) AS named_node1, pending
  FROM lagbid.notification_backlog WHERE recipient = node(1) ORDER BY recipient_kind;

-- the kind is an argument like any other
SELECT try($$SELECT lagbid.balance('alice', NULL)$$) AS null_kind;
SELECT try($$SELECT lagbid.balance('alice', 'escrow')$$) AS escrow_is_no_holder;
SELECT try($$SELECT lagbid.deposit('alice', 1, 'holders-9', NULL)$$) AS null_deposit_kind;
SELECT try($$SELECT lagbid.deposit('alice', 1, 'holders-9', 'external')$$) AS external_is_no_holder;
-- a provider is named by its node id
SELECT try($$SELECT lagbid.deposit('alice', 1, 'holders-9', holder_kind => 'provider')$$) AS provider_named_alice;
SELECT count(*) AS no_partial_write FROM lagbid.ledger_tx WHERE reference = 'holders-9';

-- the invariants see a mistyped holder: a task funded by a provider's
-- account, a payment to an owner's, a notice to the wrong kind
SELECT * FROM lagbid.check_invariants();
BEGIN;
UPDATE lagbid.task SET funding_account_id = (SELECT id FROM lagbid.account WHERE kind = 'provider' AND name = node(1))
 WHERE id = 2;
UPDATE lagbid.ledger_entry SET account_id = (SELECT id FROM lagbid.account WHERE kind = 'owner' AND name = node(1))
 WHERE tx_id = (SELECT id FROM lagbid.ledger_tx WHERE kind = 'payment' AND job_id = 1) AND amount > 0;
UPDATE lagbid.notification SET recipient_kind = 'owner' WHERE kind = 'bid_won' AND task_id = 1;
UPDATE lagbid.notification SET recipient_kind = 'provider' WHERE kind = 'task_completed' AND task_id = 2;
SELECT invariant, replace(replace(detail, node(1), 'node(1)'), node(2), 'node(2)') AS detail
  FROM lagbid.check_invariants()
 WHERE invariant NOT IN ('account_balance')
 ORDER BY 1, 2;
ROLLBACK;
SELECT * FROM lagbid.check_invariants();
