\echo Use "ALTER EXTENSION lagbid UPDATE" to load this file. \quit
-- lagbid 0.2 -> 0.3.  The changes below bring a 0.2 database to the catalog
-- of a fresh 0.3 install (test/t/004_upgrade.pl compares the two) and
-- migrate its rows.

-- ---------------------------------------------------------------------------
-- Holders are typed (issue 16, finding 2): an owner and a provider are
-- different holders even when their names are equal.  Account kind 'holder'
-- becomes 'owner' or 'provider'; every notification names its recipient's
-- kind; NOTIFY lagbid carries only the notification id (src/notify.c).
--
-- Data: a 0.2 holder account named like a registered provider's node id
-- becomes that provider's account (payments went there), every other one an
-- owner's.  A notification naming a bid or a job was a provider's, except
-- task_completed (it names the leader's job); all others were owners'.
-- ---------------------------------------------------------------------------

CREATE TYPE lagbid.holder_kind AS ENUM ('owner', 'provider');
COMMENT ON TYPE lagbid.holder_kind IS
    'who holds money and receives notifications: an owner (named by owner name) or a provider (named by node id); the kind is part of the holder''s identity';

-- what depends on account.kind or on the old signatures, re-created below
DROP VIEW lagbid.ledger;
DROP VIEW lagbid.market_overview;
DROP FUNCTION lagbid.check_invariants();
DROP FUNCTION lagbid_api.balance();
DROP FUNCTION lagbid.balance(text);
DROP FUNCTION lagbid.deposit(text, numeric, text);
ALTER TABLE lagbid.account DROP CONSTRAINT account_never_negative;

-- account kinds: a new type (the values of a type created in this
-- transaction may be used in it; ALTER TYPE ... ADD VALUE's may not)
CREATE TYPE lagbid.account_kind_0_3 AS ENUM ('owner', 'provider', 'escrow', 'external');
ALTER TABLE lagbid.account ALTER COLUMN kind TYPE lagbid.account_kind_0_3
    USING (CASE kind WHEN 'holder' THEN 'owner' ELSE kind::text END)::lagbid.account_kind_0_3;
UPDATE lagbid.account a SET kind = 'provider'
 WHERE a.kind = 'owner' AND EXISTS (SELECT 1 FROM lagbid.provider p WHERE p.node_id = a.name);
DROP TYPE lagbid.account_kind;
ALTER TYPE lagbid.account_kind_0_3 RENAME TO account_kind;
COMMENT ON TYPE lagbid.account_kind IS
    'owner: an owner''s account (named by owner name); provider: a provider''s account (named by node id); escrow: one per task or space; external: the outside world (deposits)';
ALTER TABLE lagbid.account ADD CONSTRAINT account_never_negative CHECK (kind = 'external' OR balance >= 0);
COMMENT ON TABLE lagbid.account IS 'ledger accounts, one per (kind, name); balances of owners, providers and escrows never go negative';

-- the recipient's kind of every notification
ALTER TABLE lagbid.notification ADD COLUMN recipient_kind lagbid.holder_kind;
UPDATE lagbid.notification n
   SET recipient_kind = k.kind, payload = n.payload || jsonb_build_object('recipient_kind', k.kind)
  FROM (SELECT id, CASE WHEN kind = 'task_completed' OR (bid_id IS NULL AND job_id IS NULL)
                        THEN 'owner' ELSE 'provider' END::lagbid.holder_kind AS kind
          FROM lagbid.notification) AS k
 WHERE k.id = n.id;
ALTER TABLE lagbid.notification ALTER COLUMN recipient_kind SET NOT NULL;
DROP INDEX lagbid.notification_pending;
CREATE INDEX notification_pending ON lagbid.notification (recipient_kind, recipient, id) WHERE acked_at IS NULL;
COMMENT ON TABLE lagbid.notification IS
    'durable outbox: the recipient (recipient_kind and recipient: an owner name or a node id) fetches and acknowledges; NOTIFY lagbid carries only the id';

-- money: deposit and balance take the holder's kind
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
ALTER FUNCTION lagbid.deposit(text, numeric, text, lagbid.holder_kind) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.balance(text, lagbid.holder_kind) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION lagbid.deposit(text, numeric, text, lagbid.holder_kind),
    lagbid.balance(text, lagbid.holder_kind) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.deposit(text, numeric, text, lagbid.holder_kind),
    lagbid.balance(text, lagbid.holder_kind) TO lagbid_platform;

CREATE VIEW lagbid.ledger AS
    SELECT t.id AS tx_id, t.kind, t.reference, t.task_id, t.space_id, t.job_id, t.at,
           a.kind AS account_kind, a.name AS account, e.amount
    FROM lagbid.ledger_tx t
    JOIN lagbid.ledger_entry e ON e.tx_id = t.id
    JOIN lagbid.account a ON a.id = e.account_id;
COMMENT ON VIEW lagbid.ledger IS 'every ledger entry with its transaction and account, for operators';
GRANT SELECT ON lagbid.ledger TO lagbid_platform;

-- the API: the caller is a typed holder
CREATE FUNCTION lagbid.api_holder(OUT kind lagbid.holder_kind, OUT name text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r text := lagbid.api_role();
BEGIN
    kind := CASE WHEN r = 'lagbid_provider' THEN 'provider' ELSE 'owner' END;
    name := lagbid.api_identity(r);
END $$;
COMMENT ON FUNCTION lagbid.api_holder() IS
    'the calling owner or provider as a typed holder (kind, name): what its balance and notifications belong to';
REVOKE ALL ON FUNCTION lagbid.api_holder() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.api_holder() TO lagbid_platform;

CREATE OR REPLACE FUNCTION lagbid.api_subject() RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    RETURN (SELECT h.name FROM lagbid.api_holder() h);
COMMENT ON FUNCTION lagbid.api_subject() IS 'the sub of a calling owner or provider';

CREATE FUNCTION lagbid_api.balance() RETURNS numeric
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN (SELECT lagbid.balance(h.name, h.kind) FROM lagbid.api_holder() h);
COMMENT ON FUNCTION lagbid_api.balance() IS 'The caller''s balance.';
REVOKE ALL ON FUNCTION lagbid_api.balance() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid_api.balance() TO lagbid_owner, lagbid_provider;

CREATE OR REPLACE FUNCTION lagbid_api.notifications(pending_only boolean DEFAULT true, max_rows integer DEFAULT 100)
    RETURNS TABLE (id bigint, kind text, task_id bigint, bid_id bigint, job_id bigint,
                   payload jsonb, created_at timestamptz, acked_at timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
DECLARE
    -- the caller first: a refused identity is refused even with no rows
    me record := lagbid.api_holder();
BEGIN
    RETURN QUERY
    SELECT n.id, n.kind, n.task_id, n.bid_id, n.job_id, n.payload, n.created_at, n.acked_at
      FROM lagbid.notification n
     WHERE n.recipient_kind = me.kind AND n.recipient = me.name
       AND (n.acked_at IS NULL OR NOT coalesce(pending_only, true))
     ORDER BY n.id
     LIMIT least(greatest(coalesce(max_rows, 100), 1), 1000);
END $$;
COMMENT ON FUNCTION lagbid_api.notifications(boolean, integer) IS
    'The caller''s notifications (bid won or lost, task cancelled, job paid, ...), oldest first; pending ones by default.';

CREATE OR REPLACE FUNCTION lagbid_api.acknowledge(ids bigint[]) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
DECLARE
    me lagbid.holder_kind;
    my_name text;
    n integer;
BEGIN
    SELECT h.kind, h.name INTO me, my_name FROM lagbid.api_holder() h;
    IF ids IS NULL OR cardinality(ids) > 1000 THEN
        PERFORM lagbid.raise('LB001', 'ids must be an array of at most 1000 notification ids');
    END IF;
    UPDATE lagbid.notification SET acked_at = clock_timestamp()
     WHERE id = ANY (ids) AND recipient_kind = me AND recipient = my_name AND acked_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION lagbid_api.acknowledge(bigint[]) IS 'Marks the caller''s notifications as read; returns how many.';

-- the invariants that would have caught the shared namespace
CREATE FUNCTION lagbid.check_invariants()
    RETURNS TABLE (invariant text, detail text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    -- money: every ledger transaction sums to zero
    SELECT 'ledger_tx_balanced', format('ledger tx %s sums to %s', e.tx_id, sum(e.amount))
      FROM lagbid.ledger_entry e GROUP BY e.tx_id HAVING sum(e.amount) <> 0
    UNION ALL
    -- money: each ledger tx has entries matching its amount
    SELECT 'ledger_tx_amount', format('ledger tx %s of %s has entries crediting %s', t.id, t.amount,
                                      coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0))
      FROM lagbid.ledger_tx t LEFT JOIN lagbid.ledger_entry e ON e.tx_id = t.id
     GROUP BY t.id, t.amount
    HAVING coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0) <> t.amount
    UNION ALL
    -- money: balances are the sum of their entries
    SELECT 'account_balance', format('account %s (%s %s) has balance %s, entries sum to %s',
                                     a.id, a.kind, a.name, a.balance, coalesce(s.total, 0))
      FROM lagbid.account a
      LEFT JOIN (SELECT account_id, sum(amount) AS total FROM lagbid.ledger_entry GROUP BY account_id) s
        ON s.account_id = a.id
     WHERE a.balance <> coalesce(s.total, 0)
    UNION ALL
    -- money: holders and escrows never negative
    SELECT 'balance_never_negative', format('account %s (%s %s) holds %s', a.id, a.kind, a.name, a.balance)
      FROM lagbid.account a WHERE a.kind <> 'external' AND a.balance < 0
    UNION ALL
    -- money: no money created or lost (all accounts together sum to zero)
    SELECT 'money_conserved', format('all balances sum to %s', sum(a.balance))
      FROM lagbid.account a HAVING sum(a.balance) <> 0
    UNION ALL
    -- money: a finished task's escrow is empty, a live task's holds its budget
    SELECT 'task_escrow', format('task %s (%s) escrow holds %s, expected %s', t.id, t.state, a.balance,
                                 CASE WHEN t.state IN ('completed', 'failed', 'cancelled') THEN 0
                                      ELSE t.price_max * t.duration_hours * t.replicas END)
      FROM lagbid.task t JOIN lagbid.account a ON a.id = t.escrow_account_id
     WHERE a.balance <> CASE WHEN t.state IN ('completed', 'failed', 'cancelled') THEN 0
                             ELSE t.price_max * t.duration_hours * t.replicas END
    UNION ALL
    -- money: each completed job paid exactly once, ask x duration_hours
    SELECT 'job_paid_once', format('job %s (%s) paid %s in %s payments, expected %s', j.id, j.state,
                                   coalesce(sum(x.amount), 0), count(x.id),
                                   CASE WHEN j.state = 'completed' THEN j.price * t.duration_hours ELSE 0 END)
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
      LEFT JOIN lagbid.ledger_tx x ON x.job_id = j.id AND x.kind = 'payment'
     GROUP BY j.id, j.state, j.price, t.duration_hours
    HAVING count(x.id) <> CASE WHEN j.state = 'completed' AND j.price * t.duration_hours > 0 THEN 1 ELSE 0 END
        OR coalesce(sum(x.amount), 0) <> CASE WHEN j.state = 'completed' THEN j.price * t.duration_hours ELSE 0 END
    UNION ALL
    -- holders are typed: a task is funded by its owner's own account (kind
    -- owner), or by its space's escrow
    SELECT 'task_funding_account', format('task %s of owner %s is funded by account %s (%s %s)',
                                          t.id, t.owner, a.id, a.kind, a.name)
      FROM lagbid.task t
      JOIN lagbid.account a ON a.id = t.funding_account_id
      LEFT JOIN lagbid.space s ON s.id = t.space_id
     WHERE NOT CASE WHEN t.space_id IS NULL THEN a.kind = 'owner' AND a.name = t.owner
                    ELSE a.id = s.escrow_account_id END
    UNION ALL
    -- holders are typed: an escrow is paid by, and a refund returns to, the
    -- payer: a task's funding account, a space's owner (kind owner)
    SELECT 'escrow_refund_payer', format('%s %s of %s %s account %s (%s %s)', x.kind, x.id,
                                         coalesce('task ' || x.task_id, 'space ' || x.space_id),
                                         CASE x.kind WHEN 'escrow' THEN 'debits' ELSE 'credits' END,
                                         a.id, a.kind, a.name)
      FROM lagbid.ledger_tx x
      JOIN lagbid.ledger_entry e ON e.tx_id = x.id AND (e.amount < 0) = (x.kind = 'escrow')
      JOIN lagbid.account a ON a.id = e.account_id
      LEFT JOIN lagbid.task t ON t.id = x.task_id
      LEFT JOIN lagbid.space s ON s.id = x.space_id
     WHERE x.kind IN ('escrow', 'refund')
       AND NOT CASE WHEN x.task_id IS NOT NULL THEN a.id = t.funding_account_id
                    ELSE a.kind = 'owner' AND a.name = s.owner END
    UNION ALL
    -- holders are typed: a job's payment goes to its provider (kind provider)
    SELECT 'payment_to_provider', format('payment %s for job %s credits account %s (%s %s), not provider %s',
                                         x.id, x.job_id, a.id, a.kind, a.name, p.node_id)
      FROM lagbid.ledger_tx x
      JOIN lagbid.ledger_entry e ON e.tx_id = x.id AND e.amount > 0
      JOIN lagbid.account a ON a.id = e.account_id
      LEFT JOIN lagbid.job j ON j.id = x.job_id
      LEFT JOIN lagbid.provider p ON p.id = j.provider_id
     WHERE x.kind = 'payment' AND (a.kind <> 'provider' OR a.name IS DISTINCT FROM p.node_id)
    UNION ALL
    -- holders are typed: a notice about a bid or job goes to its provider
    -- (kind provider); an owner's notice about a task to the task's owner
    SELECT 'notification_recipient', format('notification %s (%s) is addressed to %s %s', n.id, n.kind,
                                            n.recipient_kind, n.recipient)
      FROM lagbid.notification n
      LEFT JOIN lagbid.bid b ON b.id = n.bid_id
      LEFT JOIN lagbid.job j ON j.id = n.job_id
      LEFT JOIN lagbid.task t ON t.id = n.task_id
     WHERE CASE n.recipient_kind
               WHEN 'provider' THEN coalesce(b.provider_id, j.provider_id) IS NOT NULL
                   AND n.recipient IS DISTINCT FROM
                       (SELECT p.node_id FROM lagbid.provider p WHERE p.id = coalesce(b.provider_id, j.provider_id))
               ELSE n.task_id IS NOT NULL AND n.recipient IS DISTINCT FROM t.owner
           END
    UNION ALL
    -- rule 1: the slot counter equals open bids plus live jobs
    SELECT 'provider_slots', format('provider %s counts %s slots, holds %s', p.id, p.slots_used,
                                    coalesce(b.n, 0) + coalesce(j.n, 0))
      FROM lagbid.provider p
      LEFT JOIN (SELECT provider_id, count(*) AS n FROM lagbid.bid WHERE state = 'open' GROUP BY provider_id) b
        ON b.provider_id = p.id
      LEFT JOIN (SELECT provider_id, count(*) AS n FROM lagbid.job
                  WHERE state IN ('processing', 'submitted') GROUP BY provider_id) j
        ON j.provider_id = p.id
     WHERE p.slots_used <> coalesce(b.n, 0) + coalesce(j.n, 0)
    UNION ALL
    -- rule 2: the bid counter equals open plus won bids, never above the limit
    SELECT 'task_bid_count', format('task %s counts %s bids, holds %s (limit %s)', t.id, t.bid_count,
                                    coalesce(b.n, 0), t.bid_limit)
      FROM lagbid.task t
      LEFT JOIN (SELECT task_id, count(*) AS n FROM lagbid.bid WHERE state IN ('open', 'won') GROUP BY task_id) b
        ON b.task_id = t.id
     WHERE t.bid_count <> coalesce(b.n, 0) OR coalesce(b.n, 0) > t.bid_limit
    UNION ALL
    -- rule 6: a processing task counts its processing jobs
    SELECT 'task_jobs_pending', format('task %s counts %s pending jobs, has %s', t.id, t.jobs_pending, coalesce(j.n, 0))
      FROM lagbid.task t
      LEFT JOIN (SELECT task_id, count(*) AS n FROM lagbid.job WHERE state = 'processing' GROUP BY task_id) j
        ON j.task_id = t.id
     WHERE t.state = 'processing' AND t.jobs_pending <> coalesce(j.n, 0)
    UNION ALL
    -- allocation: won bids have exactly one job; at most replicas won
    SELECT 'bid_won_has_job', format('bid %s is %s and has %s jobs', b.id, b.state, count(j.id))
      FROM lagbid.bid b LEFT JOIN lagbid.job j ON j.bid_id = b.id
     GROUP BY b.id, b.state
    HAVING (b.state = 'won') <> (count(j.id) = 1) OR count(j.id) > 1
    UNION ALL
    SELECT 'task_replicas', format('task %s has %s jobs for %s replicas', t.id, count(j.id), t.replicas)
      FROM lagbid.task t JOIN lagbid.job j ON j.task_id = t.id
     GROUP BY t.id, t.replicas HAVING count(j.id) > t.replicas
    UNION ALL
    -- rule 6: a completed task has exactly one leader, completed, and it is its leader_job_id
    SELECT 'task_leader', format('task %s is %s with leader %s', t.id, t.state, t.leader_job_id)
      FROM lagbid.task t LEFT JOIN lagbid.job j ON j.id = t.leader_job_id
     WHERE (t.state = 'completed') <> (j.id IS NOT NULL AND j.is_leader AND j.state = 'completed' AND j.task_id = t.id)
    UNION ALL
    -- rule 5: one live bid per provider per task (also a unique index)
    SELECT 'one_bid_per_provider', format('provider %s has %s live bids on task %s', provider_id, count(*), task_id)
      FROM lagbid.bid WHERE state IN ('open', 'won') GROUP BY task_id, provider_id HAVING count(*) > 1
    UNION ALL
    -- rule 3: every bid lies in its task's price range
    SELECT 'bid_price_in_range', format('bid %s asks %s outside [%s, %s] of task %s', b.id, b.price,
                                        t.price_min, t.price_max, t.id)
      FROM lagbid.bid b JOIN lagbid.task t ON t.id = b.task_id
     WHERE b.price < t.price_min OR b.price > t.price_max
    UNION ALL
    -- states agree: open bids only on tasks before processing, live jobs only on processing tasks
    SELECT 'open_bid_task_state', format('bid %s is open on task %s which is %s', b.id, t.id, t.state)
      FROM lagbid.bid b JOIN lagbid.task t ON t.id = b.task_id
     WHERE b.state = 'open' AND t.state NOT IN ('accepting_bids', 'bid_closed')
    UNION ALL
    SELECT 'live_job_task_state', format('job %s is %s on task %s which is %s', j.id, j.state, t.id, t.state)
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
     WHERE j.state IN ('processing', 'submitted') AND t.state <> 'processing';
END;
COMMENT ON FUNCTION lagbid.check_invariants() IS
    'one row per broken market rule (money, limits, counters, allocation, election); no row when the market is consistent';
ALTER FUNCTION lagbid.check_invariants() SECURITY DEFINER;
REVOKE ALL ON FUNCTION lagbid.check_invariants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.check_invariants() TO lagbid_platform;

-- administration
CREATE VIEW lagbid.market_overview AS
SELECT lagbid.now() AS as_of,
       t.tasks_created, t.tasks_accepting_bids, t.tasks_bid_closed, t.tasks_processing,
       t.tasks_completed, t.tasks_failed, t.tasks_cancelled,
       (SELECT count(*) FROM lagbid.bid b WHERE b.state = 'open') AS open_bids,
       (SELECT count(*) FROM lagbid.job j WHERE j.state IN ('processing', 'submitted')) AS live_jobs,
       p.providers_active, p.providers_suspended,
       m.money_deposited, m.money_escrowed, m.money_in_escrow, m.money_paid, m.money_refunded
  FROM (SELECT count(*) FILTER (WHERE state = 'created') AS tasks_created,
               count(*) FILTER (WHERE state = 'accepting_bids') AS tasks_accepting_bids,
               count(*) FILTER (WHERE state = 'bid_closed') AS tasks_bid_closed,
               count(*) FILTER (WHERE state = 'processing') AS tasks_processing,
               count(*) FILTER (WHERE state = 'completed') AS tasks_completed,
               count(*) FILTER (WHERE state = 'failed') AS tasks_failed,
               count(*) FILTER (WHERE state = 'cancelled') AS tasks_cancelled
          FROM lagbid.task) AS t,
       (SELECT count(*) FILTER (WHERE state = 'active') AS providers_active,
               count(*) FILTER (WHERE state = 'suspended') AS providers_suspended
          FROM lagbid.provider) AS p,
       (SELECT coalesce(sum(e.amount) FILTER (WHERE x.kind = 'deposit' AND a.kind IN ('owner', 'provider')), 0) AS money_deposited,
               coalesce(-sum(e.amount) FILTER (WHERE x.kind = 'escrow' AND a.kind IN ('owner', 'provider')), 0) AS money_escrowed,
               (SELECT coalesce(sum(balance), 0) FROM lagbid.account WHERE kind = 'escrow') AS money_in_escrow,
               coalesce(sum(e.amount) FILTER (WHERE x.kind = 'payment' AND a.kind IN ('owner', 'provider')), 0) AS money_paid,
               coalesce(sum(e.amount) FILTER (WHERE x.kind = 'refund' AND a.kind IN ('owner', 'provider')), 0) AS money_refunded
          FROM lagbid.ledger_tx x
          JOIN lagbid.ledger_entry e ON e.tx_id = x.id
          JOIN lagbid.account a ON a.id = e.account_id) AS m;
COMMENT ON VIEW lagbid.market_overview IS
    'one row: tasks by state, open bids, live jobs (processing or submitted), providers active and suspended, and money: deposited from outside, escrowed by holders (owners), held in escrow now, paid to providers, refunded to holders';
REVOKE ALL ON lagbid.market_overview FROM PUBLIC;
GRANT SELECT ON lagbid.market_overview TO lagbid_platform;

CREATE OR REPLACE VIEW lagbid.notification_backlog AS
SELECT n.recipient,
       count(*) AS pending,
       min(n.created_at) AS oldest,
       pg_catalog.now() - min(n.created_at) AS oldest_age,
       n.recipient_kind
  FROM lagbid.notification n
 WHERE n.acked_at IS NULL
 GROUP BY n.recipient_kind, n.recipient;
COMMENT ON VIEW lagbid.notification_backlog IS
    'unacknowledged notifications per recipient (recipient_kind provider: a node id; owner: an owner name), with the oldest one''s age on the wall clock';

-- ---------------------------------------------------------------------------
-- 0.3 identity (docs/0.3/identity.md): signed registration and who may speak
-- for whom.  The new table and bind functions are install part
-- 72_identity.sql (next in the list); here, what changed of 0.2's objects.
-- ---------------------------------------------------------------------------

-- the provider's proof of key (10_schema.sql)
ALTER TABLE lagbid.provider
    ADD COLUMN verified boolean NOT NULL DEFAULT false,
    ADD COLUMN registration_seq bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN lagbid.provider.verified IS 'the last registration carried a valid signature of the node''s key over its addresses';
COMMENT ON COLUMN lagbid.provider.registration_seq IS 'signed registrations so far; part of the challenge, so a signature serves once';

-- register_provider gains a trailing signature (50_market.sql); the API
-- function depends on it, so both are dropped and made again
DROP FUNCTION lagbid_api.register_provider(text[], text, jsonb, integer);
DROP FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text);

CREATE FUNCTION lagbid.register_provider(
    node_id text, multiaddrs text[], region text, resources jsonb,
    max_concurrent integer DEFAULT 1, chain_id text DEFAULT NULL, chain_tx text DEFAULT NULL,
    signature bytea DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_register_provider';
COMMENT ON FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text, bytea) IS
    'registers a computing provider by its libp2p node id (idempotent: registering again updates addresses, region, resources and limit); with a signature of registration_challenge() by the node''s key it is verified; returns the provider id';

CREATE FUNCTION lagbid.registration_challenge(node_id text, multiaddrs text[]) RETURNS bytea
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_registration_challenge';
COMMENT ON FUNCTION lagbid.registration_challenge(text, text[]) IS
    'the bytes a provider signs with its node''s ed25519 key to register these addresses now (valid for 5 to 10 minutes, once, for the calling login, on this market)';

ALTER FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text, bytea) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.registration_challenge(text, text[]) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- identity resolution (70_api.sql)
COMMENT ON FUNCTION lagbid.api_identity(text) IS
    'the caller''s identity: its login''s binding, or the sub of request.jwt.claims from one of lagbid.authenticators under exactly the claimed role; refused with LB101/LB105/LB106';

CREATE FUNCTION lagbid.api_role() RETURNS text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_api_role';
COMMENT ON FUNCTION lagbid.api_role() IS
    'lagbid_provider when the caller speaks as a provider (its binding or its claims), else lagbid_owner';

CREATE FUNCTION lagbid.api_node_id(node_id text DEFAULT NULL) RETURNS text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_api_node_id';
COMMENT ON FUNCTION lagbid.api_node_id(text) IS
    'the node a provider call speaks for: its binding''s or claims'' (node_id must agree: LB107/LB106), or node_id for an unbound direct login';

CREATE FUNCTION lagbid.api_signup(node_id text, signed boolean) RETURNS text
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_api_signup';
COMMENT ON FUNCTION lagbid.api_signup(text, boolean) IS
    'the node a registration speaks for; an unbound direct login (easy signup) must sign (LB109) a node no other login holds (LB107) and is bound to it';

CREATE FUNCTION lagbid.is_authenticator(login regrole) RETURNS boolean
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_is_authenticator';
COMMENT ON FUNCTION lagbid.is_authenticator(regrole) IS
    'true when login is one of lagbid.authenticators (its request.jwt.claims are trusted)';

-- (lagbid.api_subject and lagbid.api_holder take the caller's kind from
-- lagbid.api_role: see 20_holders.sql)

REVOKE ALL ON FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text, bytea),
    lagbid.registration_challenge(text, text[]), lagbid.api_role(), lagbid.api_node_id(text),
    lagbid.api_signup(text, boolean), lagbid.is_authenticator(regrole) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text, bytea),
    lagbid.registration_challenge(text, text[]), lagbid.api_role(), lagbid.api_node_id(text),
    lagbid.api_signup(text, boolean), lagbid.is_authenticator(regrole) TO lagbid_platform;

-- the provider's API calls (70_api.sql)
CREATE FUNCTION lagbid_api.register_provider(multiaddrs text[], region text, resources jsonb,
                                             max_concurrent integer DEFAULT 1, signature bytea DEFAULT NULL,
                                             node_id text DEFAULT NULL)
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.register_provider(lagbid.api_signup(node_id, signature IS NOT NULL), multiaddrs, region,
                                    resources, max_concurrent, signature => signature);
COMMENT ON FUNCTION lagbid_api.register_provider(text[], text, jsonb, integer, bytea, text) IS
    'Registers the calling provider (its node id is the JWT sub or its login''s binding) with its multiaddrs, region, resources and concurrency limit; again to update. A signature of registration_challenge() by the node''s key marks it verified; an unbound login signs up by passing node_id and a signature, which binds it to the node. Returns the provider id.';

CREATE FUNCTION lagbid_api.registration_challenge(multiaddrs text[], node_id text DEFAULT NULL)
    RETURNS bytea LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.registration_challenge(lagbid.api_node_id(node_id), multiaddrs);
COMMENT ON FUNCTION lagbid_api.registration_challenge(text[], text) IS
    'The bytes to sign with the node''s ed25519 key to register these addresses now (node_id only for an unbound login signing up). Valid 5 to 10 minutes, once.';

REVOKE ALL ON FUNCTION lagbid_api.register_provider(text[], text, jsonb, integer, bytea, text),
    lagbid_api.registration_challenge(text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid_api.register_provider(text[], text, jsonb, integer, bytea, text),
    lagbid_api.registration_challenge(text[], text) TO lagbid_provider;

-- Issue 13, real work (docs/0.3/work.md): workloads on tasks and spaces,
-- the API's new columns, and (whole install part 75_work.sql, appended after
-- this file) results uploaded and verified in the database.

ALTER TABLE lagbid.space ADD COLUMN workload jsonb;
COMMENT ON COLUMN lagbid.space.workload IS 'what each task of the space runs (copied into the task when it is published)';
ALTER TABLE lagbid.task ADD COLUMN workload jsonb;
COMMENT ON COLUMN lagbid.task.workload IS 'what the task runs: command, env, inputs, timeout_s, output (docs/0.3/work.md); NULL when the task does not say';

-- functions whose arguments or result columns changed: dropped (API
-- wrappers first, they depend on the market functions) and created again
DROP FUNCTION lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean);
DROP FUNCTION lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer);
DROP FUNCTION lagbid_api.update_space(bigint, jsonb, numeric, numeric, text);
DROP FUNCTION lagbid_api.open_tasks(integer);
DROP FUNCTION lagbid_api.my_jobs();
DROP FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean);
DROP FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer);
DROP FUNCTION lagbid.update_space(bigint, jsonb, numeric, numeric, text);

CREATE FUNCTION lagbid.publish_task(
    owner text, resources jsonb, price_min numeric, price_max numeric,
    duration_hours numeric, region text DEFAULT NULL, bid_limit integer DEFAULT 10,
    replicas integer DEFAULT 1, bidding_window interval DEFAULT '10 minutes',
    auto_allocate boolean DEFAULT true, open boolean DEFAULT true, workload jsonb DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_publish_task';
COMMENT ON FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb) IS
    'publishes a task (with the workload it runs, validated): escrows price_max x duration_hours x replicas from the owner''s balance and opens bidding (unless open => false), telling providers on channel lagbid_tasks; returns the task id';

CREATE FUNCTION lagbid.create_space(
    owner text, name text, resources jsonb, price_min numeric, price_max numeric,
    hours numeric, region text DEFAULT NULL, replicas integer DEFAULT 1, workload jsonb DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_create_space';
COMMENT ON FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb) IS
    'creates a space (with the workload its tasks run) and pays hours x price_max x replicas into its escrow; the next tick publishes a task for it; returns the space id';

CREATE FUNCTION lagbid.update_space(
    space_id bigint, resources jsonb DEFAULT NULL, price_min numeric DEFAULT NULL,
    price_max numeric DEFAULT NULL, region text DEFAULT NULL, workload jsonb DEFAULT NULL)
    RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_update_space';
COMMENT ON FUNCTION lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb) IS
    'changes a space (NULL keeps a value; workload => ''null'' removes the workload); a higher price_max is paid for the hours left; the next tick republishes it';

ALTER FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION
    lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb),
    lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb),
    lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb),
    lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb),
    lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb)
    TO lagbid_platform;

-- one limited index scan per matching region (the provider's region and each
-- of its prefixes) and one for tasks with no region
CREATE FUNCTION lagbid_api.open_tasks(max_rows integer DEFAULT 100)
    RETURNS TABLE (task_id bigint, resources jsonb, region text, price_min numeric, price_max numeric,
                   duration_hours numeric, replicas integer, bid_limit integer, bid_count integer,
                   bidding_deadline timestamptz, owner text, workload jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
DECLARE
    p lagbid.provider;
    prefixes text[];
    lim integer := least(greatest(coalesce(max_rows, 100), 1), 1000);
    now timestamptz := lagbid.now();
BEGIN
    SELECT * INTO p FROM lagbid.provider WHERE id = lagbid.api_provider();
    SELECT array_agg(array_to_string(parts[1:i], '-'))
      INTO prefixes
      FROM (SELECT string_to_array(p.region, '-') AS parts) s,
           generate_series(1, cardinality(s.parts)) AS i;
    RETURN QUERY
    SELECT t.id, t.resources, t.region, t.price_min, t.price_max, t.duration_hours, t.replicas,
           t.bid_limit, t.bid_count, t.bidding_deadline, t.owner, t.workload
      FROM (SELECT m.*
              FROM unnest(prefixes) AS r(region)
             CROSS JOIN LATERAL (
                    SELECT * FROM lagbid.task t
                     WHERE t.state = 'accepting_bids' AND t.region = r.region
                       AND t.bidding_deadline > now
                       AND t.cpu <= p.cpu AND t.memory_gb <= p.memory_gb AND t.storage_gb <= p.storage_gb
                       AND t.gpu_count <= p.gpu_count AND (t.gpu IS NULL OR lower(t.gpu) = lower(p.gpu))
                       AND NOT EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = t.id
                                          AND b.provider_id = p.id AND b.state IN ('open', 'won'))
                     ORDER BY t.price_max DESC, t.id
                     LIMIT lim) AS m
            UNION ALL
            (SELECT * FROM lagbid.task t
              WHERE t.state = 'accepting_bids' AND t.region IS NULL
                AND t.bidding_deadline > now
                AND t.cpu <= p.cpu AND t.memory_gb <= p.memory_gb AND t.storage_gb <= p.storage_gb
                AND t.gpu_count <= p.gpu_count AND (t.gpu IS NULL OR lower(t.gpu) = lower(p.gpu))
                AND NOT EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = t.id
                                   AND b.provider_id = p.id AND b.state IN ('open', 'won'))
              ORDER BY t.price_max DESC, t.id
              LIMIT lim)) AS t
     ORDER BY t.price_max DESC, t.id
     LIMIT lim;
END $$;
COMMENT ON FUNCTION lagbid_api.open_tasks(integer) IS
    'The tasks the calling provider may bid on now (its region, resources, not yet bid on), best paying first, with their owner and the workload they run; other bidders'' asks are never shown.';

CREATE FUNCTION lagbid_api.my_jobs()
    RETURNS TABLE (job_id bigint, task_id bigint, bid_id bigint, state lagbid.job_state, price numeric,
                   is_leader boolean, deadline timestamptz, result_uri text, result_hash text, paid numeric,
                   workload jsonb, resources jsonb, duration_hours numeric)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT j.id, j.task_id, j.bid_id, j.state, j.price, j.is_leader, j.deadline, j.result_uri,
           j.result_hash, j.paid, t.workload, t.resources, t.duration_hours
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
     WHERE j.provider_id = lagbid.api_provider() ORDER BY j.id DESC LIMIT 1000;
END;
COMMENT ON FUNCTION lagbid_api.my_jobs() IS 'The calling provider''s jobs, newest first, with what each runs (workload, resources, duration_hours).';

CREATE FUNCTION lagbid_api.publish_task(
    resources jsonb, price_min numeric, price_max numeric, duration_hours numeric,
    region text DEFAULT NULL, bid_limit integer DEFAULT 10, replicas integer DEFAULT 1,
    bidding_window interval DEFAULT '10 minutes', auto_allocate boolean DEFAULT true,
    open boolean DEFAULT true, workload jsonb DEFAULT NULL)
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.publish_task(lagbid.api_identity('lagbid_owner'), resources, price_min, price_max,
                               duration_hours, region, bid_limit, replicas, bidding_window,
                               auto_allocate, open, workload);
COMMENT ON FUNCTION lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb) IS
    'Publishes a task of the caller, with the workload it runs: escrows price_max x duration_hours x replicas from its balance and opens bidding. Returns the task id.';

CREATE FUNCTION lagbid_api.create_space(name text, resources jsonb, price_min numeric, price_max numeric,
                                        hours numeric, region text DEFAULT NULL, replicas integer DEFAULT 1,
                                        workload jsonb DEFAULT NULL)
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.create_space(lagbid.api_identity('lagbid_owner'), name, resources, price_min,
                               price_max, hours, region, replicas, workload);
COMMENT ON FUNCTION lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb) IS
    'Creates a space of the caller (with the workload its tasks run) and pays for its reserved hours; the next tick publishes it. Returns the space id.';

CREATE FUNCTION lagbid_api.update_space(space_id bigint, resources jsonb DEFAULT NULL,
                                        price_min numeric DEFAULT NULL, price_max numeric DEFAULT NULL,
                                        region text DEFAULT NULL, workload jsonb DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_space(space_id);
    PERFORM lagbid.update_space(space_id, resources, price_min, price_max, region, workload);
END $$;
COMMENT ON FUNCTION lagbid_api.update_space(bigint, jsonb, numeric, numeric, text, jsonb) IS 'Changes one of the caller''s spaces (workload => ''null'' removes its workload); the next tick republishes it.';

REVOKE ALL ON FUNCTION
    lagbid_api.open_tasks(integer),
    lagbid_api.my_jobs(),
    lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb),
    lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb),
    lagbid_api.update_space(bigint, jsonb, numeric, numeric, text, jsonb)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid_api.open_tasks(integer), lagbid_api.my_jobs() TO lagbid_provider;
GRANT EXECUTE ON FUNCTION
    lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb),
    lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb),
    lagbid_api.update_space(bigint, jsonb, numeric, numeric, text, jsonb)
    TO lagbid_owner;

-- comments that now mention the workload and the lagbid_tasks channel

COMMENT ON FUNCTION lagbid.open_bidding(bigint) IS
    'opens bidding on a created task, or reopens a closed one (its open bids are declined and their slots released); providers are told on channel lagbid_tasks';

COMMENT ON FUNCTION lagbid.submit_result(bigint, text, text) IS
    'the allocated bidder submits the URI and claimed hash of a result kept elsewhere (larger than lagbid.max_result_bytes) for a processing job';

COMMENT ON FUNCTION lagbid.space_changed() IS
    'trigger: a change of resources, prices, region, replicas or workload bumps the space''s version and marks it changed';

-- ---------------------------------------------------------------------------
-- 0.3: who may speak for whom.  request.jwt.claims are trusted only from the
-- logins of lagbid.authenticators (PostgREST's); any other login acts as the
-- provider or owner it is bound to here (src/api.c resolves it on every API
-- call with one probe of the primary key).  The platform binds logins; an
-- unbound login that proves a node's key at registration binds itself
-- (easy signup, lagbid.api_signup).  docs/0.3/identity.md.
-- ---------------------------------------------------------------------------

CREATE TABLE lagbid.login_binding (
    login       regrole PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('provider', 'owner')),
    subject     text NOT NULL,
    how         text NOT NULL CHECK (how IN ('platform', 'signup')),
    bound_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_binding_subject ON lagbid.login_binding (kind, subject);
COMMENT ON TABLE lagbid.login_binding IS
    'logins bound to one provider (subject = node id) or owner (subject = owner name): such a login''s API calls speak for it and nothing else';
COMMENT ON COLUMN lagbid.login_binding.how IS
    'platform: bound by lagbid.bind_login/bind_owner_login; signup: bound by a signed registration of an unbound login';

ALTER TABLE lagbid.login_binding ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_reads ON lagbid.login_binding FOR SELECT TO lagbid_platform USING (true);
REVOKE ALL ON lagbid.login_binding FROM PUBLIC;
GRANT SELECT ON lagbid.login_binding TO lagbid_platform;
-- bindings are data: pg_dump keeps them (90_dump.sql does the same for the market's tables)
SELECT pg_catalog.pg_extension_config_dump('lagbid.login_binding', '');

-- bind one login (shared by bind_login and bind_owner_login)
CREATE FUNCTION lagbid.bind(kind text, subject text, login regrole) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b lagbid.login_binding;
BEGIN
    IF login IS NULL OR subject IS NULL THEN
        PERFORM lagbid.raise('LB001', format('%s and login must not be NULL',
                                             CASE kind WHEN 'provider' THEN 'node_id' ELSE 'owner' END));
    END IF;
    IF kind = 'provider' AND NOT lagbid.node_id_is_valid(subject) THEN
        PERFORM lagbid.raise('LB002', 'node_id is not a valid libp2p peer id', NULL,
                             'A node id is a libp2p peer id such as 12D3KooW... or Qm....');
    END IF;
    IF kind = 'owner' AND (octet_length(subject) NOT BETWEEN 1 AND 128 OR subject ~ '[[:cntrl:]]') THEN
        PERFORM lagbid.raise('LB001', 'owner must be 1 to 128 bytes without control characters');
    END IF;
    IF lagbid.is_authenticator(login) THEN
        PERFORM lagbid.raise('LB001', format('login %s is one of lagbid.authenticators and cannot be bound', login),
                             'Its requests speak for whoever their claims name.',
                             'Bind the provider''s or owner''s own login.');
    END IF;
    SELECT * INTO b FROM lagbid.login_binding lb WHERE lb.login = bind.login FOR UPDATE;
    IF FOUND AND b.kind = bind.kind AND b.subject = bind.subject THEN
        RETURN;
    ELSIF FOUND THEN
        PERFORM lagbid.raise('LB107', format('login %s is already bound to %s %s', login, b.kind, b.subject),
                             NULL, 'Unbind it first with lagbid.unbind_login().');
    END IF;
    INSERT INTO lagbid.login_binding (login, kind, subject, how)
    VALUES (bind.login, bind.kind, bind.subject, 'platform')
    ON CONFLICT ON CONSTRAINT login_binding_pkey DO NOTHING;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB107', format('login %s was bound concurrently', login));
    END IF;
END $$;
COMMENT ON FUNCTION lagbid.bind(text, text, regrole) IS
    'binds login to the provider or owner subject (internal: bind_login, bind_owner_login)';

CREATE FUNCTION lagbid.bind_login(node_id text, login regrole) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN lagbid.bind('provider', node_id, login);
COMMENT ON FUNCTION lagbid.bind_login(text, regrole) IS
    'binds a login (e.g. a provider daemon''s) to the provider of node_id: its API calls then speak for that node only; LB107 when the login is bound to another identity';

CREATE FUNCTION lagbid.bind_owner_login(owner text, login regrole) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN lagbid.bind('owner', owner, login);
COMMENT ON FUNCTION lagbid.bind_owner_login(text, regrole) IS
    'binds a login to an owner: its API calls then speak for that owner only; LB107 when the login is bound to another identity';

CREATE FUNCTION lagbid.unbind_login(login regrole) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM lagbid.login_binding lb WHERE lb.login = unbind_login.login;
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION lagbid.unbind_login(regrole) IS
    'removes the binding of a login (do it before dropping the login); returns whether there was one';

REVOKE ALL ON FUNCTION lagbid.bind(text, text, regrole), lagbid.bind_login(text, regrole),
    lagbid.bind_owner_login(text, regrole), lagbid.unbind_login(regrole) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.bind_login(text, regrole), lagbid.bind_owner_login(text, regrole),
    lagbid.unbind_login(regrole) TO lagbid_platform;

-- ---------------------------------------------------------------------------
-- Why not? (issue 13, item 6)
--
-- Providers' first question is "why do I receive no tasks?".  lagbid.why_not
-- answers it for one provider and one task: one row per market rule that
-- stops the provider from bidding now, none when place_bid would accept a
-- bid at any price in the task's range.  It reads the same columns that
-- place_bid (src/bids.c) and rule 1 (src/slots.c) check, and a test
-- (sql/whynot.sql) tries place_bid at price_min for many random pairs to
-- prove that the two agree.
--
-- A provider must not learn what it may not see: a task that was never open
-- to bids (or does not exist) is one row, task_not_found; a task that was
-- open (so its terms were public) says its state; nothing ever names another
-- provider or shows another provider's ask.
--
-- lagbid.eligible_providers answers the owner's question: how many active
-- providers could bid on the task at all (region and resources), and how
-- many of them have a free slot now.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.why_not(task_id bigint, provider_id bigint)
    RETURNS TABLE (rule text, detail text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t lagbid.task;
    p lagbid.provider;
    live record;
BEGIN
    IF why_not.task_id IS NULL OR why_not.provider_id IS NULL THEN
        PERFORM lagbid.raise('LB001', 'task_id and provider_id must not be NULL');
    END IF;
    SELECT * INTO p FROM lagbid.provider pr WHERE pr.id = why_not.provider_id;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB204', format('provider %s does not exist', why_not.provider_id));
    END IF;

    -- a task never opened to bids is as unknown as one that does not exist
    SELECT * INTO t FROM lagbid.task tk WHERE tk.id = why_not.task_id;
    IF NOT FOUND OR t.opened_at IS NULL THEN
        rule := 'task_not_found';
        detail := format('task %s does not exist or was never open to bids', why_not.task_id);
        RETURN NEXT;
        RETURN;
    END IF;

    -- the task: its state, then its bidding window
    IF t.state <> 'accepting_bids' THEN
        rule := 'not_accepting_bids';
        detail := format('task %s is %s', t.id, t.state);
        RETURN NEXT;
    ELSIF t.bidding_deadline IS NOT NULL AND lagbid.now() >= t.bidding_deadline THEN
        rule := 'bidding_window_closed';
        detail := format('bidding on task %s ended at %s', t.id,
                         to_char(t.bidding_deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
        RETURN NEXT;
    END IF;

    -- the provider: active, then market rule 4 (region, each resource)
    IF p.state <> 'active' THEN
        rule := 'provider_inactive';
        detail := format('provider %s is %s', p.id, p.state);
        RETURN NEXT;
    END IF;
    IF NOT (t.region IS NULL OR p.region = t.region OR starts_with(p.region, t.region || '-')) THEN
        rule := 'region_mismatch';
        detail := format('the task runs in region "%s"; the provider is in "%s"', t.region, p.region);
        RETURN NEXT;
    END IF;
    -- each resource, in the order place_bid compares them; place_bid
    -- compares gpu models with pg_strcasecmp: ASCII case folding, which is
    -- what lower() does under the "C" collation
    RETURN QUERY
    SELECT v.rule, v.detail
      FROM (VALUES
            (1, 'cpu', p.cpu < t.cpu, format('the task needs %s; the provider has %s', t.cpu, p.cpu)),
            (2, 'memory_gb', p.memory_gb < t.memory_gb,
             format('the task needs %s; the provider has %s', t.memory_gb, p.memory_gb)),
            (3, 'storage_gb', p.storage_gb < t.storage_gb,
             format('the task needs %s; the provider has %s', t.storage_gb, p.storage_gb)),
            (4, 'gpu', t.gpu IS NOT NULL AND (p.gpu IS NULL OR lower(p.gpu COLLATE "C") <> lower(t.gpu COLLATE "C")),
             format('the task needs "%s"; the provider has %s', t.gpu, coalesce('"' || p.gpu || '"', 'none'))),
            (5, 'gpu_count', p.gpu_count < t.gpu_count,
             format('the task needs %s; the provider has %s', t.gpu_count, p.gpu_count)))
           AS v(n, rule, fails, detail)
     WHERE v.fails
     ORDER BY v.n;

    -- market rule 1, then rule 5, then rule 2
    IF p.slots_used >= p.max_concurrent THEN
        rule := 'slots_full';
        detail := format('%s of %s slots in use (open bids and running jobs)', p.slots_used, p.max_concurrent);
        RETURN NEXT;
    END IF;
    SELECT b.id, b.price INTO live FROM lagbid.bid b
     WHERE b.task_id = t.id AND b.provider_id = p.id AND b.state IN ('open', 'won');
    IF FOUND THEN
        rule := 'already_bid';
        detail := format('bid %s asks %s', live.id, live.price);
        RETURN NEXT;
    END IF;
    IF t.state = 'accepting_bids' AND t.bid_count >= t.bid_limit THEN
        rule := 'bid_limit_reached';
        detail := format('task %s holds %s of its %s bids', t.id, t.bid_count, t.bid_limit);
        RETURN NEXT;
    END IF;
END $$;
COMMENT ON FUNCTION lagbid.why_not(bigint, bigint) IS
    'One row (rule, detail) per market rule that stops the provider from bidding on the task now, in the order the market checks them; empty when place_bid would accept any ask in [price_min, price_max]. Rules: task_not_found, not_accepting_bids, bidding_window_closed, provider_inactive, region_mismatch, cpu, memory_gb, storage_gb, gpu, gpu_count, slots_full, already_bid, bid_limit_reached.';

CREATE FUNCTION lagbid.eligible_providers(task_id bigint)
    RETURNS TABLE (matching_providers bigint, with_free_slot bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t lagbid.task;
BEGIN
    IF eligible_providers.task_id IS NULL THEN
        PERFORM lagbid.raise('LB001', 'task_id must not be NULL');
    END IF;
    SELECT * INTO t FROM lagbid.task tk WHERE tk.id = eligible_providers.task_id;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB201', format('task %s does not exist', eligible_providers.task_id));
    END IF;
    RETURN QUERY
    SELECT count(*), count(*) FILTER (WHERE p.slots_used < p.max_concurrent)
      FROM lagbid.provider p
     WHERE p.state = 'active'
       AND (t.region IS NULL OR p.region = t.region OR starts_with(p.region, t.region || '-'))
       AND p.cpu >= t.cpu AND p.memory_gb >= t.memory_gb AND p.storage_gb >= t.storage_gb
       AND p.gpu_count >= t.gpu_count
       AND (t.gpu IS NULL OR lower(p.gpu COLLATE "C") = lower(t.gpu COLLATE "C"));
END $$;
COMMENT ON FUNCTION lagbid.eligible_providers(bigint) IS
    'How many active providers match the task''s region and resources (matching_providers), and how many of those have a free slot now (with_free_slot).';

-- the API: the caller's provider, the caller's task

CREATE FUNCTION lagbid_api.why_not(task_id bigint)
    RETURNS TABLE (rule text, detail text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT w.rule, w.detail
      FROM lagbid.why_not(why_not.task_id, lagbid.api_provider()) WITH ORDINALITY AS w(rule, detail, n)
     ORDER BY w.n;
END;
COMMENT ON FUNCTION lagbid_api.why_not(bigint) IS
    'Why the calling provider may not bid on a task now: one row (rule, detail) per rule that stops it, none when it may bid any price in the task''s range. Never shows other providers or their asks.';

CREATE FUNCTION lagbid_api.eligible_providers(task_id bigint)
    RETURNS TABLE (matching_providers bigint, with_free_slot bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(eligible_providers.task_id);
    RETURN QUERY SELECT e.matching_providers, e.with_free_slot
                   FROM lagbid.eligible_providers(eligible_providers.task_id) e;
END $$;
COMMENT ON FUNCTION lagbid_api.eligible_providers(bigint) IS
    'For one of the caller''s tasks: how many active providers match its region and resources, and how many of them have a free slot now.';

REVOKE ALL ON FUNCTION lagbid.why_not(bigint, bigint), lagbid.eligible_providers(bigint),
    lagbid_api.why_not(bigint), lagbid_api.eligible_providers(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.why_not(bigint, bigint), lagbid.eligible_providers(bigint) TO lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid_api.why_not(bigint) TO lagbid_provider;
GRANT EXECUTE ON FUNCTION lagbid_api.eligible_providers(bigint) TO lagbid_owner;

-- ---------------------------------------------------------------------------
-- Real work (issue 13): results stored in the database and verified there.
--
-- A bidder uploads its result's content with upload_result (src/results.c):
-- PostgreSQL computes its SHA-256 and submits the job with result_hash
-- 'sha256:<hex>' and result_uri 'lagbid:result/<job id>'; the election
-- counts uploaded and claimed hashes alike.  The task's owner reads the
-- leader's content with task_result; purge_results deletes stored results
-- of tasks finished long ago.  Workloads (what a task runs) are columns of
-- lagbid.task and lagbid.space, validated in C (src/workload.c).
--
-- This part is also appended whole to the 0.2 -> 0.3 upgrade, so it grants
-- and protects its own objects (70_api.sql's bulk grants ran before it).
-- ---------------------------------------------------------------------------

CREATE TABLE lagbid.result (
    job_id      bigint PRIMARY KEY REFERENCES lagbid.job (id),
    content     bytea NOT NULL,
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes       integer NOT NULL CHECK (bytes >= 0),
    stored_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE lagbid.result IS
    'results uploaded with upload_result: the content and its SHA-256 computed by PostgreSQL (job.result_hash = ''sha256:'' || sha256)';

GRANT SELECT ON lagbid.result TO lagbid_platform;
ALTER TABLE lagbid.result ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_reads ON lagbid.result FOR SELECT TO lagbid_platform USING (true);
-- the market's data: pg_dump keeps it (90_dump.sql)
SELECT pg_catalog.pg_extension_config_dump('lagbid.result', '');

CREATE FUNCTION lagbid.upload_result(job_id bigint, content bytea) RETURNS text
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'lagbid_upload_result';
COMMENT ON FUNCTION lagbid.upload_result(bigint, bytea) IS
    'the allocated bidder uploads the content of its result (at most lagbid.max_result_bytes): stored, hashed by PostgreSQL, and the job submitted with result_hash ''sha256:<hex>'' and result_uri ''lagbid:result/<job id>''; returns the hash';

CREATE FUNCTION lagbid.task_result(task_id bigint) RETURNS bytea
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st lagbid.task_state;
    leader bigint;
    uri text;
    hash text;
    c bytea;
BEGIN
    IF task_id IS NULL THEN
        PERFORM lagbid.raise('LB001', 'task_id must not be NULL');
    END IF;
    SELECT t.state, t.leader_job_id INTO st, leader FROM lagbid.task t WHERE t.id = task_result.task_id;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB201', format('task %s does not exist', task_id));
    END IF;
    IF leader IS NULL THEN
        PERFORM lagbid.raise('LB206', format('task %s has no result: no leader has been elected', task_id),
                             format('The task is %s.', st),
                             'The leader''s result is available once the task is completed.');
    END IF;
    SELECT r.content INTO c FROM lagbid.result r WHERE r.job_id = leader;
    IF FOUND THEN
        RETURN c;
    END IF;
    SELECT j.result_uri, j.result_hash INTO uri, hash FROM lagbid.job j WHERE j.id = leader;
    IF uri = 'lagbid:result/' || leader THEN
        PERFORM lagbid.raise('LB206', format('the result of task %s was purged', task_id),
                             format('Its hash was %s.', hash),
                             'lagbid.purge_results() deletes the results of tasks finished long ago.');
    END IF;
    PERFORM lagbid.raise('LB206', format('the result of task %s is not stored in the database', task_id),
                         format('The leader (job %s) submitted it by URI with result_hash %s.', leader, hash),
                         format('Fetch it from %s and check its hash.', uri));
    RETURN NULL;
END $$;
COMMENT ON FUNCTION lagbid.task_result(bigint) IS
    'the content of the task''s leading result, as uploaded; LB206 when there is no leader yet, the leader submitted a URI (submit_result), or the result was purged';

CREATE FUNCTION lagbid.purge_results(older_than interval DEFAULT '30 days') RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    IF older_than IS NULL OR older_than < interval '0' THEN
        PERFORM lagbid.raise('LB001', 'older_than must be an interval of zero or more');
    END IF;
    DELETE FROM lagbid.result r
     USING lagbid.job j, lagbid.task t
     WHERE j.id = r.job_id AND t.id = j.task_id
       AND t.state IN ('completed', 'failed', 'cancelled')
       AND t.finished_at < lagbid.now() - older_than;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION lagbid.purge_results(interval) IS
    'deletes the stored results of tasks finished (completed, failed, cancelled) longer ago than older_than on the market clock; returns how many (schedule it with pg_cron)';

CREATE FUNCTION lagbid_api.upload_result(job_id bigint, content bytea) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_job(job_id);
    RETURN lagbid.upload_result(job_id, content);
END $$;
COMMENT ON FUNCTION lagbid_api.upload_result(bigint, bytea) IS
    'Uploads the content of one of the caller''s results (at most lagbid.max_result_bytes); the database computes its SHA-256 and submits the job. Returns ''sha256:<hex>''.';

CREATE FUNCTION lagbid_api.task_result(task_id bigint) RETURNS bytea
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    RETURN lagbid.task_result(task_id);
END $$;
COMMENT ON FUNCTION lagbid_api.task_result(bigint) IS
    'The content of the leading result of one of the caller''s tasks, as uploaded by its bidder.';

REVOKE ALL ON FUNCTION lagbid.upload_result(bigint, bytea), lagbid.task_result(bigint),
    lagbid.purge_results(interval), lagbid_api.upload_result(bigint, bytea),
    lagbid_api.task_result(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.upload_result(bigint, bytea), lagbid.task_result(bigint),
    lagbid.purge_results(interval) TO lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid_api.upload_result(bigint, bytea) TO lagbid_provider;
GRANT EXECUTE ON FUNCTION lagbid_api.task_result(bigint) TO lagbid_owner;

-- ---------------------------------------------------------------------------
-- The tick's own state (src/tick.c): its lock, the ticks it skipped, and the
-- rows it could not handle.  Only the extension's owner writes or locks
-- these tables (the market functions run as it); the platform reads them,
-- best through lagbid.tick_status and lagbid.tick_failures.
-- ---------------------------------------------------------------------------

-- One row: the lock that keeps ticks one at a time (FOR NO KEY UPDATE SKIP
-- LOCKED of row 1).  Locking a row needs UPDATE on the table, which no role
-- is granted: unlike an advisory lock, no login can take it to pause the
-- market.
CREATE TABLE lagbid.tick_state (
    id          integer PRIMARY KEY CHECK (id = 1),
    last_run_at timestamptz,
    last_result jsonb
);
INSERT INTO lagbid.tick_state (id) VALUES (1);
COMMENT ON TABLE lagbid.tick_state IS
    'one row, the lock of lagbid.tick() (one tick at a time) and what the last completed tick did (market clock)';

-- One row per tick that found the lock taken, since the last completed tick
-- (which deletes them): plain inserts, so a skipped tick never waits.
CREATE TABLE lagbid.tick_skip (
    at  timestamptz NOT NULL
);
COMMENT ON TABLE lagbid.tick_skip IS
    'ticks skipped because another transaction held the tick lock, since the last completed tick (market clock)';

-- A row (task or space) whose action failed in the tick: rolled back alone,
-- left alone until next_retry_at (1, 2, 4 ... minutes, at most a day),
-- deleted once the tick handles it.
CREATE TABLE lagbid.tick_failure (
    entity          text NOT NULL CHECK (entity IN ('task', 'space')),
    entity_id       bigint NOT NULL,
    action          text NOT NULL,
    failures        integer NOT NULL CHECK (failures >= 1),
    sqlstate        text NOT NULL,
    error           text NOT NULL,
    first_failed_at timestamptz NOT NULL,
    last_failed_at  timestamptz NOT NULL,
    next_retry_at   timestamptz NOT NULL,
    PRIMARY KEY (entity, entity_id)
);
COMMENT ON TABLE lagbid.tick_failure IS
    'tasks and spaces whose tick action failed: the last error, how often, and when the tick tries again (market clock)';

-- The live tasks each owner published with publish_task (not from spaces),
-- for lagbid.max_open_tasks_per_owner (src/market_limits.c): raised by
-- publish_task, lowered when such a task completes, fails or is cancelled.
CREATE TABLE lagbid.owner_load (
    owner       text PRIMARY KEY,
    live_tasks  integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE lagbid.owner_load IS
    'per owner: live tasks (created, accepting_bids, bid_closed, processing) published with publish_task, capped by lagbid.max_open_tasks_per_owner';

-- the fair work lists of the tick: per owner, earliest first (tick.c)
CREATE INDEX task_owner_bidding_deadline ON lagbid.task (owner, bidding_deadline, id)
    WHERE state = 'accepting_bids';
CREATE INDEX task_owner_processing_deadline ON lagbid.task (owner, processing_deadline, id)
    WHERE state = 'processing';
CREATE INDEX space_owner_reserved_until ON lagbid.space (owner, reserved_until, id)
    WHERE state = 'active';
CREATE INDEX space_owner_changed ON lagbid.space (owner, id)
    WHERE changed AND state = 'active';

CREATE VIEW lagbid.tick_status AS
SELECT s.last_run_at,
       s.last_result,
       k.consecutive_skips,
       k.first_skip_at,
       k.last_skip_at,
       f.failing_rows,
       f.oldest_failure_at
  FROM (SELECT count(*)::int AS consecutive_skips, min(at) AS first_skip_at, max(at) AS last_skip_at
          FROM lagbid.tick_skip) AS k
  CROSS JOIN (SELECT count(*)::int AS failing_rows, min(first_failed_at) AS oldest_failure_at
                FROM lagbid.tick_failure) AS f
  LEFT JOIN lagbid.tick_state s ON s.id = 1;
COMMENT ON VIEW lagbid.tick_status IS
    'one row: when the last tick completed and what it did, how many ticks were skipped since (another transaction held the tick lock), and how many rows the tick could not handle';

CREATE VIEW lagbid.tick_failures AS
SELECT f.entity, f.entity_id, coalesce(t.owner, s.owner) AS owner, f.action, f.failures,
       f.sqlstate, f.error, f.first_failed_at, f.last_failed_at, f.next_retry_at
  FROM lagbid.tick_failure f
  LEFT JOIN lagbid.task t ON f.entity = 'task' AND t.id = f.entity_id
  LEFT JOIN lagbid.space s ON f.entity = 'space' AND s.id = f.entity_id;
COMMENT ON VIEW lagbid.tick_failures IS
    'tasks and spaces whose tick action failed (rolled back alone): the owner, the last error and its SQLSTATE, how many failures, and when the tick tries again';

-- nobody but the extension's owner writes or locks; the platform reads
REVOKE ALL ON lagbid.tick_state, lagbid.tick_skip, lagbid.tick_failure, lagbid.owner_load,
    lagbid.tick_status, lagbid.tick_failures FROM PUBLIC;
GRANT SELECT ON lagbid.tick_state, lagbid.tick_skip, lagbid.tick_failure, lagbid.owner_load,
    lagbid.tick_status, lagbid.tick_failures TO lagbid_platform;
ALTER TABLE lagbid.tick_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE lagbid.tick_skip ENABLE ROW LEVEL SECURITY;
ALTER TABLE lagbid.tick_failure ENABLE ROW LEVEL SECURITY;
ALTER TABLE lagbid.owner_load ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_reads ON lagbid.tick_state FOR SELECT TO lagbid_platform USING (true);
CREATE POLICY platform_reads ON lagbid.tick_skip FOR SELECT TO lagbid_platform USING (true);
CREATE POLICY platform_reads ON lagbid.tick_failure FOR SELECT TO lagbid_platform USING (true);
CREATE POLICY platform_reads ON lagbid.owner_load FOR SELECT TO lagbid_platform USING (true);

-- the counts are market data: a dump and restore keeps them with the tasks
SELECT pg_catalog.pg_extension_config_dump('lagbid.owner_load', '');

-- Market safety (issue 16, docs/0.3/market-safety.md): the changes to what
-- 0.2 had.  The tick's new tables, views and indexes are the install part
-- sql/install/86_tick_safety.sql (before this file in the list).

-- the live tasks each owner published with publish_task, counted once
INSERT INTO lagbid.owner_load (owner, live_tasks)
SELECT owner, count(*) FROM lagbid.task
 WHERE space_id IS NULL AND state IN ('created', 'accepting_bids', 'bid_closed', 'processing')
 GROUP BY owner;

-- the outbox retention gains a period for unacknowledged notifications
DROP FUNCTION lagbid.purge_notifications(interval);
CREATE FUNCTION lagbid.purge_notifications(older_than interval DEFAULT '30 days',
                                           unacked_older_than interval DEFAULT '90 days')
    RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH gone AS (
        DELETE FROM lagbid.notification
         WHERE (acked_at IS NOT NULL AND acked_at < clock_timestamp() - older_than)
            OR (acked_at IS NULL AND created_at < clock_timestamp() - unacked_older_than)
        RETURNING 1)
    SELECT count(*) FROM gone;
END;
COMMENT ON FUNCTION lagbid.purge_notifications(interval, interval) IS
    'deletes notifications acknowledged longer ago than older_than, and unacknowledged ones created longer ago than unacked_older_than (NULL keeps them); returns how many (schedule it with pg_cron)';
REVOKE ALL ON FUNCTION lagbid.purge_notifications(interval, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.purge_notifications(interval, interval) TO lagbid_platform;

-- finalize returns NULL for a failed task (the API's comment says so too)
COMMENT ON FUNCTION lagbid_api.finalize(bigint) IS
    'Elects the leading node of one of the caller''s tasks and pays; returns the leader job id, or NULL when the task failed (no valid result).';

