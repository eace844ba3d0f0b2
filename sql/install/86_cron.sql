-- ---------------------------------------------------------------------------
-- 0.2: schedule_tick warns when pg_cron would reach the database over libpq
-- (found by the failover test, test/ha/run.sh).
-- ---------------------------------------------------------------------------

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
