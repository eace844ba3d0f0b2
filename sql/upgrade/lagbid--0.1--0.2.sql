\echo Use "ALTER EXTENSION lagbid UPDATE" to load this file. \quit
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
       (SELECT coalesce(sum(e.amount) FILTER (WHERE x.kind = 'deposit' AND a.kind = 'holder'), 0) AS money_deposited,
               coalesce(-sum(e.amount) FILTER (WHERE x.kind = 'escrow' AND a.kind = 'holder'), 0) AS money_escrowed,
               (SELECT coalesce(sum(balance), 0) FROM lagbid.account WHERE kind = 'escrow') AS money_in_escrow,
               coalesce(sum(e.amount) FILTER (WHERE x.kind = 'payment' AND a.kind = 'holder'), 0) AS money_paid,
               coalesce(sum(e.amount) FILTER (WHERE x.kind = 'refund' AND a.kind = 'holder'), 0) AS money_refunded
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
       pg_catalog.now() - min(n.created_at) AS oldest_age
  FROM lagbid.notification n
 WHERE n.acked_at IS NULL
 GROUP BY n.recipient;
COMMENT ON VIEW lagbid.notification_backlog IS
    'unacknowledged notifications per recipient (node id or owner name), with the oldest one''s age on the wall clock';

REVOKE ALL ON lagbid.market_overview, lagbid.provider_utilization, lagbid.stuck_tasks,
    lagbid.notification_backlog FROM PUBLIC;
REVOKE ALL ON FUNCTION lagbid.task_timeline(bigint) FROM PUBLIC;
GRANT SELECT ON lagbid.market_overview, lagbid.provider_utilization, lagbid.stuck_tasks,
    lagbid.notification_backlog TO lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid.task_timeline(bigint) TO lagbid_platform;

-- ---------------------------------------------------------------------------
-- 0.2: a peer id from a public key (src/identity.c), for signup tooling,
-- tests and demos.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.peer_id_from_ed25519(public_key bytea) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_peer_id_from_ed25519';
COMMENT ON FUNCTION lagbid.peer_id_from_ed25519(bytea) IS
    'the libp2p peer id ("12D3KooW...") of a 32-byte ed25519 public key';
REVOKE ALL ON FUNCTION lagbid.peer_id_from_ed25519(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.peer_id_from_ed25519(bytea) TO lagbid_platform;

-- What 0.2 changed in objects that 0.1 already had.  Only ALTER EXTENSION
-- lagbid UPDATE runs this (it is appended to lagbid--0.1--0.2.sql after the
-- parts 0.2 added); a fresh install gets the same from sql/install/.  The
-- upgrade test (test/t/004_upgrade.pl) checks that both give one catalog.

-- nothing reads bids by (task_id, id) that the unique live-bid index does
-- not serve; every bid paid for this one
DROP INDEX lagbid.bid_task;

-- allocation sorts a task's few open bids in C; an index by price only cost
-- every bid one more index insert (about 4% of place_bid)
DROP INDEX lagbid.bid_open_by_price;

-- open tasks by region: ordered by price_max then id, plus the no-region ones
DROP INDEX lagbid.task_open_by_region;
CREATE INDEX task_open_by_region ON lagbid.task (region, price_max DESC, id)
    WHERE state = 'accepting_bids';
CREATE INDEX task_open_any_region ON lagbid.task (price_max DESC, id)
    WHERE state = 'accepting_bids' AND region IS NULL;

-- open_tasks scans one index range per region instead of sorting them all
CREATE OR REPLACE FUNCTION lagbid_api.open_tasks(max_rows integer DEFAULT 100)
    RETURNS TABLE (task_id bigint, resources jsonb, region text, price_min numeric, price_max numeric,
                   duration_hours numeric, replicas integer, bid_limit integer, bid_count integer,
                   bidding_deadline timestamptz)
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
           t.bid_limit, t.bid_count, t.bidding_deadline
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

-- schedule_tick warns when pg_cron would reach the database over libpq
CREATE OR REPLACE FUNCTION lagbid.schedule_tick(database text DEFAULT current_database(),
                                     schedule text DEFAULT '* * * * *')
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job_id bigint;
BEGIN
    IF to_regnamespace('cron') IS NULL
       OR to_regproc('cron.schedule_in_database') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'LB314',
                  DETAIL = 'pg_cron runs its jobs from the one database named by cron.database_name.',
                  HINT = 'Add pg_cron to shared_preload_libraries, CREATE EXTENSION pg_cron in that database, '
                      || 'and call lagbid.schedule_tick() there; or call lagbid.tick() from any other scheduler.';
    END IF;
    -- in libpq mode pg_cron connects to the host stored with the job: after a
    -- failover that can be a standby, where tick() does nothing (and says so)
    IF current_setting('cron.use_background_workers', true) IS DISTINCT FROM 'on' THEN
        RAISE WARNING 'pg_cron runs jobs over libpq (cron.use_background_workers is off)'
            USING DETAIL = 'After a failover the job may connect to a standby, where lagbid.tick() does nothing.',
                  HINT = 'Set cron.use_background_workers = on (docs/ha.md).';
    END IF;
    IF database IS NULL OR database = '' THEN
        RAISE EXCEPTION 'database must not be empty' USING ERRCODE = 'LB001';
    END IF;
    IF database = current_database() THEN
        -- cron.schedule(name, ...) updates the job of that name: one job however often this is called
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job_id
            USING 'lagbid-tick', schedule, 'SELECT lagbid.tick()';
    ELSE
        EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)' INTO job_id
            USING 'lagbid-tick:' || database, schedule, 'SELECT lagbid.tick()', database;
    END IF;
    RETURN job_id;
END $$;

