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
