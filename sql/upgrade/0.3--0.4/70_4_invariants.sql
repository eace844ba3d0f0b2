-- 0.4's check_invariants(), the only definition in this upgrade (exactly
-- sql/install/58_invariants.sql's): issue 20's bond and reputation rules, issue 21's lease rules
-- (lease_money, lease_windows), and the escrow and payment rules of batch
-- tasks leave service tasks to them.  CREATE OR REPLACE resets SECURITY
-- DEFINER: set again as 70_api.sql sets it.
CREATE OR REPLACE FUNCTION lagbid.check_invariants()
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
    -- (a service task's escrow pays its lease window by window: lease_money)
    SELECT 'task_escrow', format('task %s (%s) escrow holds %s, expected %s', t.id, t.state, a.balance,
                                 CASE WHEN t.state IN ('completed', 'failed', 'cancelled') THEN 0
                                      ELSE t.price_max * t.duration_hours * t.replicas END)
      FROM lagbid.task t JOIN lagbid.account a ON a.id = t.escrow_account_id
     WHERE a.balance <> CASE WHEN t.state IN ('completed', 'failed', 'cancelled') THEN 0
                             ELSE t.price_max * t.duration_hours * t.replicas END
       AND NOT (t.kind = 'service' AND t.state = 'processing')
    UNION ALL
    -- money (issue 21): what a lease took from its task's escrow is paid, refunded,
    -- returned or still there, to the unit; the lease's counters are its ledger's
    SELECT 'lease_money', format('lease %s (%s) took %s: paid %s, refunded %s, returned %s, escrow holds %s; '
                                 'its ledger pays %s and refunds %s', l.id, l.state, l.taken, l.paid,
                                 l.refunded, l.returned, a.balance, coalesce(x.paid, 0), coalesce(x.refunded, 0))
      FROM lagbid.lease l
      JOIN lagbid.task t ON t.id = l.task_id
      JOIN lagbid.account a ON a.id = t.escrow_account_id
      LEFT JOIN LATERAL (SELECT sum(x.amount) FILTER (WHERE x.kind = 'payment') AS paid,
                                sum(x.amount) FILTER (WHERE x.kind = 'refund') AS refunded
                           FROM lagbid.ledger_tx x WHERE x.job_id = l.job_id) x ON true
     WHERE l.paid + l.refunded + l.returned + a.balance <> l.taken
        OR l.paid <> coalesce(x.paid, 0)
        OR l.refunded + l.returned <> coalesce(x.refunded, 0)
        OR (l.state = 'torn_down' AND a.balance <> 0)
    UNION ALL
    -- leases: each settled window once, in the lease's counters and money
    SELECT 'lease_windows', format('lease %s counts %s up, %s down, %s unprobed, paid %s, refunded %s; '
                                   'its windows say %s, %s, %s, %s, %s', l.id, l.windows_up, l.windows_down,
                                   l.windows_unprobed, l.paid, l.refunded, coalesce(w.up, 0), coalesce(w.down, 0),
                                   coalesce(w.unprobed, 0), coalesce(w.paid, 0), coalesce(w.refunded, 0))
      FROM lagbid.lease l
      LEFT JOIN LATERAL (SELECT count(*) FILTER (WHERE w.outcome = 'up') AS up,
                                count(*) FILTER (WHERE w.outcome = 'down') AS down,
                                count(*) FILTER (WHERE w.outcome = 'unprobed') AS unprobed,
                                sum(w.paid) AS paid, sum(w.refunded) AS refunded
                           FROM lagbid.lease_window w WHERE w.lease_id = l.id) w ON true
     WHERE l.windows_up <> coalesce(w.up, 0) OR l.windows_down <> coalesce(w.down, 0)
        OR l.windows_unprobed <> coalesce(w.unprobed, 0) OR l.paid <> coalesce(w.paid, 0)
        OR l.refunded <> coalesce(w.refunded, 0)
    UNION ALL
    -- money: each completed job paid exactly once, ask x duration_hours
    SELECT 'job_paid_once', format('job %s (%s) paid %s in %s payments, expected %s', j.id, j.state,
                                   coalesce(sum(x.amount), 0), count(x.id),
                                   CASE WHEN j.state = 'completed' THEN j.price * t.duration_hours ELSE 0 END)
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
      LEFT JOIN lagbid.ledger_tx x ON x.job_id = j.id AND x.kind = 'payment'
     -- (a service's job is paid per window: lease_money)
     WHERE t.kind = 'batch'
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
    -- the terms fixed at publish (CHECKs up to 0.3: 10_schema.sql)
    SELECT 'task_terms', format('task %s: price %s..%s, replicas %s of bid_limit %s, %s h, window %s',
                                t.id, t.price_min, t.price_max, t.replicas, t.bid_limit,
                                t.duration_hours, t.bidding_window)
      FROM lagbid.task t
     WHERE NOT (t.price_min >= 0 AND t.price_min <= t.price_max AND t.replicas >= 1
                AND t.replicas <= t.bid_limit AND t.duration_hours > 0
                AND t.bidding_window > interval '0')
    UNION ALL
    SELECT 'task_replicas', format('task %s has %s jobs for %s replicas', t.id, count(j.id), t.replicas)
      FROM lagbid.task t JOIN lagbid.job j ON j.task_id = t.id
     GROUP BY t.id, t.replicas HAVING count(j.id) > t.replicas
    UNION ALL
    -- rule 6: every completed job of a task carries the one elected result hash
    -- (0.4 also needs a strict majority of replicas; tasks completed under 0.3's
    -- rule may hold less, so that is tested by the election's own tests)
    SELECT 'election_agreement', format('task %s completed %s jobs with %s distinct result hashes',
                                        j.task_id, count(*), count(DISTINCT j.result_hash))
      FROM lagbid.job j WHERE j.state = 'completed'
       -- (a service's job has no result: its lease is its proof, lease_windows)
       AND (SELECT t.kind FROM lagbid.task t WHERE t.id = j.task_id) = 'batch'
     GROUP BY j.task_id HAVING count(DISTINCT j.result_hash) <> 1 OR count(j.result_hash) <> count(*)
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
    -- (a submitted job also waits while its task gathers extra replicas: allocated
    -- once, accepting bids or closed again)
    SELECT 'live_job_task_state', format('job %s is %s on task %s which is %s', j.id, j.state, t.id, t.state)
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
     WHERE (j.state = 'processing' AND t.state <> 'processing')
        OR (j.state = 'submitted' AND t.state <> 'processing'
            AND NOT (t.state IN ('accepting_bids', 'bid_closed') AND t.allocated_at IS NOT NULL))
    UNION ALL
    -- collateral (issue 20): a bid's bond is collateral_ratio x ask x
    -- duration_hours of its task, has a state exactly when it is above 0, and
    -- is locked only while the bid is open or its task is processing
    SELECT 'bid_bond', format('bid %s (%s) of task %s (%s) has bond %s (%s), expected %s', b.id, b.state, t.id,
                              t.state, b.bond, coalesce(b.bond_state, 'none'),
                              t.collateral_ratio * b.price * t.duration_hours)
      FROM lagbid.bid b JOIN lagbid.task t ON t.id = b.task_id
     WHERE (b.bond > 0 AND b.bond <> t.collateral_ratio * b.price * t.duration_hours)
        OR b.bond < 0 OR (b.bond_state IS NULL) <> (b.bond = 0)
        OR b.bond_state NOT IN ('locked', 'released', 'slashed')
        OR (b.bond_state = 'locked'
            AND NOT (b.state = 'open' OR (b.state = 'won' AND t.state = 'processing')
                     -- a won bid's job waits while its task gathers extra replicas
                     OR (b.state = 'won' AND t.state IN ('accepting_bids', 'bid_closed')
                         AND t.allocated_at IS NOT NULL)))
    UNION ALL
    -- collateral: a provider's account holds (bonded) exactly the locked bonds of
    -- its bids, never more than its balance; no other account holds anything
    SELECT 'account_bonded', format('account %s (%s %s) holds %s of its balance %s, its locked bonds are %s',
                                    a.id, a.kind, a.name, a.bonded, a.balance, coalesce(l.total, 0))
      FROM lagbid.account a
      LEFT JOIN (SELECT p.node_id, sum(b.bond) AS total
                   FROM lagbid.bid b JOIN lagbid.provider p ON p.id = b.provider_id
                  WHERE b.bond_state = 'locked' GROUP BY p.node_id) l
        ON a.kind = 'provider' AND l.node_id = a.name
     WHERE a.bonded <> coalesce(l.total, 0) OR a.bonded < 0 OR (a.kind <> 'external' AND a.balance < a.bonded)
    UNION ALL
    -- collateral: no bond is locked in a provider's name that has no account to hold it
    SELECT 'account_bonded', format('provider %s has %s locked in bonds and no account', p.node_id, sum(b.bond))
      FROM lagbid.bid b JOIN lagbid.provider p ON p.id = b.provider_id
     WHERE b.bond_state = 'locked'
       AND NOT EXISTS (SELECT 1 FROM lagbid.account a WHERE a.kind = 'provider' AND a.name = p.node_id)
     GROUP BY p.node_id
    UNION ALL
    -- collateral: a bond leaves its hold at most once, and money moves only for a
    -- slash: one slash transaction, for the bid's job, when slashed, none otherwise
    SELECT 'bond_settled_once', format('bid %s (%s) has %s slash transactions', b.id, b.bond_state, count(x.id))
      FROM lagbid.bid b
      LEFT JOIN lagbid.job j ON j.bid_id = b.id
      LEFT JOIN lagbid.ledger_tx x ON x.job_id = j.id AND x.kind = 'slash'
     WHERE b.bond > 0
     GROUP BY b.id, b.bond_state
    HAVING count(x.id) <> (b.bond_state = 'slashed')::int
    UNION ALL
    -- collateral: a slash pays the task's owner (kind owner) for one job of that task, and its
    -- provider was told why (job_slashed with a reason and evidence)
    SELECT 'slash_to_owner', format('slash %s for job %s of task %s credits account %s (%s %s)%s', x.id, x.job_id,
                                    x.task_id, a.id, a.kind, a.name,
                                    CASE WHEN n.id IS NULL THEN ', and its provider was never told why' ELSE '' END)
      FROM lagbid.ledger_tx x
      JOIN lagbid.ledger_entry e ON e.tx_id = x.id AND e.amount > 0
      JOIN lagbid.account a ON a.id = e.account_id
      LEFT JOIN lagbid.task t ON t.id = x.task_id
      LEFT JOIN lagbid.job j ON j.id = x.job_id AND j.task_id = x.task_id
      LEFT JOIN LATERAL (SELECT n.id FROM lagbid.notification n
                          WHERE n.kind = 'job_slashed' AND n.job_id = x.job_id
                            AND n.recipient_kind = 'provider'
                            AND (n.payload ->> 'amount')::numeric = x.amount
                            AND coalesce(n.payload ->> 'reason', '') <> ''
                            AND coalesce(n.payload ->> 'evidence', '') <> '' LIMIT 1) n ON true
     WHERE x.kind = 'slash'
       AND (a.kind <> 'owner' OR a.name IS DISTINCT FROM t.owner OR j.id IS NULL OR n.id IS NULL)
    UNION ALL
    -- collateral: a slash takes the bond from the account of the job's provider
    SELECT 'slash_from_provider', format('slash %s for job %s debits account %s (%s %s), not provider %s',
                                         x.id, x.job_id, a.id, a.kind, a.name, p.node_id)
      FROM lagbid.ledger_tx x
      JOIN lagbid.ledger_entry e ON e.tx_id = x.id AND e.amount < 0
      JOIN lagbid.account a ON a.id = e.account_id
      LEFT JOIN lagbid.job j ON j.id = x.job_id
      LEFT JOIN lagbid.provider p ON p.id = j.provider_id
     WHERE x.kind = 'slash' AND (a.kind <> 'provider' OR a.name IS DISTINCT FROM p.node_id)
    UNION ALL
    -- reputation: each finished job counted once, in its provider's counts
    SELECT 'provider_counts', format('provider %s counts %s completed, %s agreed, %s disagreed, %s no-show, %s failed, '
                                     '%s slashed; its jobs say %s, %s, %s, %s, %s, %s', p.id, p.jobs_completed,
                                     p.jobs_agreed, p.jobs_disagreed, p.jobs_no_show, p.jobs_failed, p.slashed_total,
                                     coalesce(c.completed, 0), coalesce(c.agreed, 0), coalesce(c.disagreed, 0),
                                     coalesce(c.no_show, 0), coalesce(c.failed, 0), coalesce(c.slashed, 0))
      FROM lagbid.provider p
      LEFT JOIN (SELECT j.provider_id,
                        count(*) FILTER (WHERE j.outcome = 'agreed') AS completed,
                        count(*) FILTER (WHERE j.outcome = 'agreed' AND t.replicas > 1) AS agreed,
                        count(*) FILTER (WHERE j.outcome = 'disagreed') AS disagreed,
                        count(*) FILTER (WHERE j.outcome = 'no_show') AS no_show,
                        count(*) FILTER (WHERE j.outcome = 'failed') AS failed,
                        sum((SELECT sum(x.amount) FROM lagbid.ledger_tx x
                              WHERE x.kind = 'slash' AND x.job_id = j.id)) AS slashed
                   FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
                  GROUP BY j.provider_id) c ON c.provider_id = p.id
     WHERE p.jobs_completed <> coalesce(c.completed, 0) OR p.jobs_agreed <> coalesce(c.agreed, 0)
        OR p.jobs_disagreed <> coalesce(c.disagreed, 0) OR p.jobs_no_show <> coalesce(c.no_show, 0)
        OR p.jobs_failed <> coalesce(c.failed, 0) OR p.slashed_total <> coalesce(c.slashed, 0)
    UNION ALL
    -- reputation: every finished job has its outcome (set once, when it finished), a live job none;
    -- input_unreachable waits only while its task is processing
    SELECT 'job_outcome', format('job %s (%s) of task %s (%s) has outcome %s', j.id, j.state, t.id, t.state,
                                 coalesce(j.outcome, 'none'))
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
     WHERE (j.state IN ('processing', 'submitted') AND j.outcome IS NOT NULL)
        OR (j.state IN ('completed', 'failed') AND j.outcome IS NULL)
        OR (j.outcome = 'input_unreachable'
            AND (j.state <> 'failed'
                 OR NOT (t.state = 'processing'
                         -- or gathering extra replicas (allocated once)
                         OR (t.state IN ('accepting_bids', 'bid_closed') AND t.allocated_at IS NOT NULL))))
        OR (j.outcome = 'agreed' AND j.state <> 'completed')
        OR (j.state = 'completed' AND j.outcome NOT IN ('agreed', 'legacy'));
END;
COMMENT ON FUNCTION lagbid.check_invariants() IS
    'one row per broken market rule (money, limits, counters, allocation, election); no row when the market is consistent';
ALTER FUNCTION lagbid.check_invariants() SECURITY DEFINER;
