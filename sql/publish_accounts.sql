-- Publish sets a task's escrow and funding accounts in the statement that
-- opens it (issue 15): every way a task is published or reopened leaves both
-- accounts set, the escrow holding the budget, and the same events.
SELECT fresh_market();
SELECT lagbid.deposit('pa-owner', 1000, 'publish-accounts-1') IS NOT NULL AS deposited;
SELECT cp(1) IS NOT NULL AS provider;
-- published and open; published closed (open => false), then opened
SELECT lagbid.publish_task('pa-owner', '{"cpu": 2}', 1, 10, 2, bid_limit => 2) AS t_open \gset
SELECT lagbid.publish_task('pa-owner', '{"cpu": 2}', 1, 10, 3, open => false, auto_allocate => false) AS t_closed \gset
SELECT t.id = :t_open AS is_open_task, t.state, e.kind AS escrow_kind, e.name = 'task:' || t.id AS escrow_named,
       e.balance AS escrow_balance, f.name AS funding
  FROM lagbid.task t JOIN lagbid.account e ON e.id = t.escrow_account_id
  JOIN lagbid.account f ON f.id = t.funding_account_id
 WHERE t.id IN (:t_open, :t_closed) ORDER BY t.id;
SELECT lagbid.open_bidding(:t_closed);
-- a bid, bidding closed by the owner, reopened: the accounts stay
SELECT lagbid.place_bid(:t_closed, 1, 5) IS NOT NULL AS bid;
SELECT lagbid.close_bidding(:t_closed);
SELECT lagbid.open_bidding(:t_closed);
SELECT t.state, e.name = 'task:' || t.id AS escrow_kept, f.name AS funding_kept
  FROM lagbid.task t JOIN lagbid.account e ON e.id = t.escrow_account_id
  JOIN lagbid.account f ON f.id = t.funding_account_id
 WHERE t.id = :t_closed;
-- the events of each: created, opened (and closed, reopened)
SELECT entity_id = :t_open AS is_open_task, string_agg(coalesce(from_state, '-') || '>' || to_state || ' ' || reason, ', ' ORDER BY id)
  FROM lagbid.event WHERE entity = 'task' AND entity_id IN (:t_open, :t_closed) GROUP BY entity_id ORDER BY entity_id;
SELECT * FROM lagbid.check_invariants();
