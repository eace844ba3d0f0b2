-- ---------------------------------------------------------------------------
-- Administration: what an operator looks at from psql.
--
--   lagbid.market_overview        one row: the market at a glance
--   lagbid.provider_utilization   per provider: slots against its limit, earnings
--   lagbid.task_timeline(task)    the life of a task, its bids and its jobs
--   lagbid.stuck_tasks            what the minutely tick should have handled
--   lagbid.notification_backlog   unacknowledged notifications per recipient
--
-- For the platform role only.  The views run with their owner's rights (the
-- extension's owner), so they see every row whatever the caller's row-level
-- security; task_timeline reads lagbid.event, which the platform may read.
-- Deadlines are compared with lagbid.now(), the market clock.
-- ---------------------------------------------------------------------------

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

CREATE VIEW lagbid.provider_utilization AS
SELECT p.id AS provider_id, p.node_id, p.region, p.state, p.max_concurrent, p.slots_used,
       round(100.0 * p.slots_used / p.max_concurrent, 1) AS utilization_pct,
       coalesce(b.open_bids, 0) AS open_bids,
       coalesce(b.bids_won, 0) AS bids_won,
       coalesce(b.bids_lost, 0) AS bids_lost,
       coalesce(j.live_jobs, 0) AS live_jobs,
       coalesce(j.jobs_completed, 0) AS jobs_completed,
       coalesce(j.jobs_failed, 0) AS jobs_failed,
       coalesce(j.jobs_led, 0) AS jobs_led,
       coalesce(j.earned, 0) AS earned
  FROM lagbid.provider p
  LEFT JOIN (SELECT provider_id,
                    count(*) FILTER (WHERE state = 'open') AS open_bids,
                    count(*) FILTER (WHERE state = 'won') AS bids_won,
                    count(*) FILTER (WHERE state = 'lost') AS bids_lost
               FROM lagbid.bid GROUP BY provider_id) AS b ON b.provider_id = p.id
  LEFT JOIN (SELECT jb.provider_id,
                    count(*) FILTER (WHERE jb.state IN ('processing', 'submitted')) AS live_jobs,
                    count(*) FILTER (WHERE jb.state = 'completed') AS jobs_completed,
                    count(*) FILTER (WHERE jb.state = 'failed') AS jobs_failed,
                    count(*) FILTER (WHERE jb.is_leader) AS jobs_led,
                    sum(pay.amount) AS earned
               FROM lagbid.job jb
               LEFT JOIN (SELECT x.job_id, sum(x.amount) AS amount FROM lagbid.ledger_tx x
                           WHERE x.kind = 'payment' GROUP BY x.job_id) AS pay ON pay.job_id = jb.id
              GROUP BY jb.provider_id) AS j ON j.provider_id = p.id;
COMMENT ON VIEW lagbid.provider_utilization IS
    'per provider: slots in use against its max_concurrent (utilization_pct above 100 after the limit was lowered), open bids, bids won and lost, live jobs (processing or submitted), jobs completed, failed and led, money earned';

CREATE FUNCTION lagbid.task_timeline(task_id bigint)
    RETURNS TABLE (at timestamptz, entity text, entity_id bigint, from_state text,
                   to_state text, actor text, reason text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT e.at, e.entity, e.entity_id, e.from_state, e.to_state, e.actor, e.reason
      FROM lagbid.event e
     WHERE (e.entity = 'task' AND e.entity_id = task_timeline.task_id)
        OR (e.entity = 'bid' AND e.entity_id IN (SELECT b.id FROM lagbid.bid b
                                                 WHERE b.task_id = task_timeline.task_id))
        OR (e.entity = 'job' AND e.entity_id IN (SELECT j.id FROM lagbid.job j
                                                 WHERE j.task_id = task_timeline.task_id))
     ORDER BY e.id;
END;
COMMENT ON FUNCTION lagbid.task_timeline(bigint) IS
    'every state transition of a task, its bids and its jobs from lagbid.event, in the order they happened (from_state NULL at birth)';

CREATE VIEW lagbid.stuck_tasks AS
SELECT s.task_id, s.owner, s.state, s.problem, s.due_at, lagbid.now() - s.due_at AS overdue,
       s.bid_count, s.jobs_pending, s.space_id
  FROM (SELECT t.id AS task_id, t.owner, t.state, 'bidding_deadline_passed' AS problem,
               t.bidding_deadline AS due_at, t.bid_count, t.jobs_pending, t.space_id
          FROM lagbid.task t
         WHERE t.state = 'accepting_bids' AND t.bidding_deadline <= lagbid.now()
        UNION ALL
        -- every job reported: due since the last report
        SELECT t.id, t.owner, t.state, 'all_jobs_reported',
               coalesce((SELECT max(greatest(j.submitted_at, j.finished_at)) FROM lagbid.job j
                          WHERE j.task_id = t.id), t.allocated_at),
               t.bid_count, t.jobs_pending, t.space_id
          FROM lagbid.task t
         WHERE t.state = 'processing' AND t.jobs_pending = 0
        UNION ALL
        SELECT t.id, t.owner, t.state, 'processing_deadline_passed',
               t.processing_deadline, t.bid_count, t.jobs_pending, t.space_id
          FROM lagbid.task t
         WHERE t.state = 'processing' AND t.jobs_pending > 0
           AND t.processing_deadline <= lagbid.now()) AS s;
COMMENT ON VIEW lagbid.stuck_tasks IS
    'tasks the minutely tick should already have handled: accepting bids past their bidding deadline, processing with every job reported, or processing past their processing deadline; overdue is measured on the market clock (a minute or less is normal between ticks)';

CREATE VIEW lagbid.notification_backlog AS
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

REVOKE ALL ON lagbid.market_overview, lagbid.provider_utilization, lagbid.stuck_tasks,
    lagbid.notification_backlog FROM PUBLIC;
REVOKE ALL ON FUNCTION lagbid.task_timeline(bigint) FROM PUBLIC;
GRANT SELECT ON lagbid.market_overview, lagbid.provider_utilization, lagbid.stuck_tasks,
    lagbid.notification_backlog TO lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid.task_timeline(bigint) TO lagbid_platform;
