-- ---------------------------------------------------------------------------
-- Money: deposits from outside and balances (src/ledger.c).  Escrow,
-- payments and refunds are moved by the market functions themselves.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.deposit(account text, amount numeric, reference text,
                               holder_kind lagbid.holder_kind DEFAULT 'owner')
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_deposit';
COMMENT ON FUNCTION lagbid.deposit(text, numeric, text, lagbid.holder_kind) IS
    'credits an owner''s account (holder_kind owner, the default) or a provider''s (holder_kind provider) from outside; idempotent on the external reference; returns the ledger transaction id';

CREATE FUNCTION lagbid.balance(account text, holder_kind lagbid.holder_kind DEFAULT 'owner')
    RETURNS numeric
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_balance';
COMMENT ON FUNCTION lagbid.balance(text, lagbid.holder_kind) IS
    'the balance of an owner (holder_kind owner, the default: account is the owner name) or of a provider (holder_kind provider: account is its node id); 0 if it never held money';

CREATE VIEW lagbid.ledger AS
    SELECT t.id AS tx_id, t.kind, t.reference, t.task_id, t.space_id, t.job_id, t.at,
           a.kind AS account_kind, a.name AS account, e.amount
    FROM lagbid.ledger_tx t
    JOIN lagbid.ledger_entry e ON e.tx_id = t.id
    JOIN lagbid.account a ON a.id = e.account_id;
COMMENT ON VIEW lagbid.ledger IS 'every ledger entry with its transaction and account, for operators';
