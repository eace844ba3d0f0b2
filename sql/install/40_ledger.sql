-- ---------------------------------------------------------------------------
-- Money: deposits from outside and balances (src/ledger.c).  Escrow,
-- payments and refunds are moved by the market functions themselves.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.deposit(account text, amount numeric, reference text)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_deposit';
COMMENT ON FUNCTION lagbid.deposit(text, numeric, text) IS
    'credits an owner''s or provider''s account from outside; idempotent on the external reference; returns the ledger transaction id';

CREATE FUNCTION lagbid.balance(account text) RETURNS numeric
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_balance';
COMMENT ON FUNCTION lagbid.balance(text) IS
    'the balance of an account: an owner''s is its owner name, a provider''s its node id; 0 if it never held money';

CREATE VIEW lagbid.ledger AS
    SELECT t.id AS tx_id, t.kind, t.reference, t.task_id, t.space_id, t.job_id, t.at,
           a.kind AS account_kind, a.name AS account, e.amount
    FROM lagbid.ledger_tx t
    JOIN lagbid.ledger_entry e ON e.tx_id = t.id
    JOIN lagbid.account a ON a.id = e.account_id;
COMMENT ON VIEW lagbid.ledger IS 'every ledger entry with its transaction and account, for operators';
