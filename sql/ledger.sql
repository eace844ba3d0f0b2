-- Money: deposits, idempotency on the reference, balances, refusals.
SELECT fresh_market();
SELECT lagbid.balance('ledger-alice') AS never_held_money;
SELECT lagbid.deposit('ledger-alice', 100, 'ledger-ref-1') AS tx \gset
SELECT lagbid.balance('ledger-alice') AS after_deposit;
-- a retried deposit (same account, amount, reference) returns the same transaction
SELECT lagbid.deposit('ledger-alice', 100, 'ledger-ref-1') = :tx AS same_tx;
SELECT lagbid.balance('ledger-alice') AS not_credited_twice;
-- the same reference for another amount or account is refused
SELECT try($$SELECT lagbid.deposit('ledger-alice', 99, 'ledger-ref-1')$$);
SELECT try($$SELECT lagbid.deposit('ledger-bob', 100, 'ledger-ref-1')$$);
-- bad input, each with its code, nothing written
SELECT count(*) AS tx_before FROM lagbid.ledger_tx \gset
SELECT try($$SELECT lagbid.deposit(NULL, 1, 'ledger-x')$$);
SELECT try($$SELECT lagbid.deposit('ledger-alice', NULL, 'ledger-x')$$);
SELECT try($$SELECT lagbid.deposit('ledger-alice', 1, NULL)$$);
SELECT try($$SELECT lagbid.deposit('ledger-alice', 0, 'ledger-x')$$);
SELECT try($$SELECT lagbid.deposit('ledger-alice', -5, 'ledger-x')$$);
SELECT try($$SELECT lagbid.deposit('ledger-alice', 'NaN', 'ledger-x')$$);
SELECT try($$SELECT lagbid.deposit('ledger-alice', 'Infinity', 'ledger-x')$$);
SELECT try($$SELECT lagbid.deposit('', 1, 'ledger-x')$$);
SELECT try($$SELECT lagbid.deposit(E'ledger\x01', 1, 'ledger-x')$$);
SELECT try($$SELECT lagbid.deposit(repeat('a', 129), 1, 'ledger-x')$$);
SELECT try($$SELECT lagbid.deposit('ledger-alice', 1, repeat('r', 10000000))$$);
SELECT count(*) = :tx_before AS nothing_written FROM lagbid.ledger_tx;
SELECT try($$SELECT lagbid.balance(NULL)$$);
-- every transaction has two legs summing to zero; the external account mirrors the holders
SELECT tx_id, kind, account_kind, account, amount FROM lagbid.ledger
 WHERE reference LIKE 'ledger-ref-%' ORDER BY tx_id, amount;
SELECT sum(amount) AS ledger_sums_to_zero FROM lagbid.ledger_entry;
