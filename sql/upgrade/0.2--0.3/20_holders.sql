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
