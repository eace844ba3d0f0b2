-- ---------------------------------------------------------------------------
-- Metrics for monitoring (issue 23): lagbid.metrics(family) gives the
-- market's gauges and counters as rows (metric, label, value), one family
-- per call, for Prometheus' postgres_exporter (contrib/prometheus/
-- queries.yaml) or any other poller.  Granted to pg_monitor, PostgreSQL's
-- role for monitoring tools, and to lagbid_platform: a monitoring login
-- needs nothing else (no table, no market function).
--
-- Families and their metrics:
--   tasks           count, label = state (every state, zeros included)
--   bids            open, won, jobs_live (processing or submitted)
--   tick            last_run_timestamp_seconds (market clock), seconds_since_last_run,
--                   skipped (consecutive skips: another transaction held the
--                   tick lock), failing_rows (tasks and spaces the tick could
--                   not handle), and from pg_cron when it runs the tick:
--                   last_duration_seconds, cron_runs_failed_last_hour
--   notifications   pending, oldest_pending_age_seconds
--   ledger          volume and transactions, label = kind (deposit, escrow,
--                   payment, refund, transfer): sums since the market began
--   providers       active, suspended, verified (active and their last
--                   registration signed by the node's key)
--
-- 0.4 adds this part whole (sql/upgrade/0.3--0.4/61_metrics.sql links here).
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.metrics(family text DEFAULT NULL)
    RETURNS TABLE (metric text, label text, value double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f text := lower(family);
BEGIN
    IF f IS NOT NULL AND f NOT IN ('tasks', 'bids', 'tick', 'notifications', 'ledger', 'providers') THEN
        RAISE EXCEPTION 'unknown metrics family "%"', f
            USING ERRCODE = 'LB001',
                  HINT = 'The families are tasks, bids, tick, notifications, ledger and providers.';
    END IF;
    IF f IS NULL OR f = 'tasks' THEN
        RETURN QUERY
        SELECT 'count'::text, s.state::text, count(t.id)::float8
          FROM unnest(enum_range(NULL::lagbid.task_state)) AS s(state)
          LEFT JOIN lagbid.task t ON t.state = s.state
         GROUP BY s.state ORDER BY s.state;
    END IF;
    IF f IS NULL OR f = 'bids' THEN
        RETURN QUERY
        SELECT m.metric, NULL::text, m.value FROM (VALUES
            ('open', (SELECT count(*)::float8 FROM lagbid.bid WHERE state = 'open')),
            ('won', (SELECT count(*)::float8 FROM lagbid.bid WHERE state = 'won')),
            ('jobs_live', (SELECT count(*)::float8 FROM lagbid.job WHERE state IN ('processing', 'submitted')))
        ) AS m(metric, value);
    END IF;
    IF f IS NULL OR f = 'tick' THEN
        RETURN QUERY
        SELECT m.metric, NULL::text, m.value
          FROM lagbid.tick_status s,
               LATERAL (VALUES
                   ('last_run_timestamp_seconds', EXTRACT(epoch FROM s.last_run_at)::float8),
                   ('seconds_since_last_run', EXTRACT(epoch FROM lagbid.now() - s.last_run_at)::float8),
                   ('skipped', s.consecutive_skips::float8),
                   ('failing_rows', s.failing_rows::float8)) AS m(metric, value)
         WHERE m.value IS NOT NULL;
        -- pg_cron, when it runs the tick here, timed it
        IF to_regclass('cron.job_run_details') IS NOT NULL AND to_regclass('cron.job') IS NOT NULL THEN
            RETURN QUERY EXECUTE $q$
                SELECT m.metric, NULL::text, m.value FROM (
                    SELECT 'last_duration_seconds' AS metric,
                           (SELECT EXTRACT(epoch FROM d.end_time - d.start_time)::float8
                              FROM cron.job_run_details d JOIN cron.job j ON j.jobid = d.jobid
                             WHERE j.jobname = 'lagbid-tick' AND j.database = current_database()
                               AND d.status = 'succeeded' AND d.end_time IS NOT NULL
                             ORDER BY d.start_time DESC LIMIT 1) AS value
                    UNION ALL
                    SELECT 'cron_runs_failed_last_hour',
                           (SELECT count(*)::float8
                              FROM cron.job_run_details d JOIN cron.job j ON j.jobid = d.jobid
                             WHERE j.jobname = 'lagbid-tick' AND j.database = current_database()
                               AND d.status = 'failed' AND d.start_time > now() - interval '1 hour')
                ) m WHERE m.value IS NOT NULL $q$;
        END IF;
    END IF;
    IF f IS NULL OR f = 'notifications' THEN
        RETURN QUERY
        SELECT m.metric, NULL::text, m.value FROM (
            SELECT count(*)::float8 AS pending,
                   coalesce(EXTRACT(epoch FROM now() - min(created_at)), 0)::float8 AS age
              FROM lagbid.notification WHERE acked_at IS NULL) n,
             LATERAL (VALUES ('pending', n.pending), ('oldest_pending_age_seconds', n.age)) AS m(metric, value);
    END IF;
    IF f IS NULL OR f = 'ledger' THEN
        RETURN QUERY
        SELECT m.metric, k.kind, m.value
          FROM unnest(ARRAY['deposit', 'escrow', 'payment', 'refund', 'transfer']) AS k(kind),
               LATERAL (SELECT coalesce(sum(x.amount), 0)::float8 AS volume, count(x.id)::float8 AS n
                          FROM lagbid.ledger_tx x WHERE x.kind = k.kind) AS v,
               LATERAL (VALUES ('volume', v.volume), ('transactions', v.n)) AS m(metric, value)
         ORDER BY m.metric, k.kind;
    END IF;
    IF f IS NULL OR f = 'providers' THEN
        RETURN QUERY
        SELECT m.metric, NULL::text, m.value FROM (
            SELECT count(*) FILTER (WHERE state = 'active')::float8 AS active,
                   count(*) FILTER (WHERE state = 'suspended')::float8 AS suspended,
                   count(*) FILTER (WHERE state = 'active' AND verified)::float8 AS verified
              FROM lagbid.provider) p,
             LATERAL (VALUES ('active', p.active), ('suspended', p.suspended), ('verified', p.verified)) AS m(metric, value);
    END IF;
END $$;
COMMENT ON FUNCTION lagbid.metrics(text) IS
    'the market''s gauges and counters for monitoring, of one family (tasks, bids, tick, notifications, ledger, providers) or of all: rows (metric, label, value); granted to pg_monitor';

REVOKE ALL ON FUNCTION lagbid.metrics(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.metrics(text) TO lagbid_platform, pg_monitor;
-- a monitoring login reaches the function through the schema
GRANT USAGE ON SCHEMA lagbid TO pg_monitor;
