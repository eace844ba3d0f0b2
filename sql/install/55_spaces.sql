-- ---------------------------------------------------------------------------
-- Spaces (src/spaces.c): long-lived apps paid by reserved hours; a trigger
-- marks a changed space and the next tick publishes a task for it.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.space_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'lagbid_space_changed';
COMMENT ON FUNCTION lagbid.space_changed() IS
    'trigger: a change of resources, prices, region, replicas or workload bumps the space''s version and marks it changed';

CREATE TRIGGER space_changed BEFORE UPDATE ON lagbid.space
    FOR EACH ROW EXECUTE FUNCTION lagbid.space_changed();

CREATE FUNCTION lagbid.create_space(
    owner text, name text, resources jsonb, price_min numeric, price_max numeric,
    hours numeric, region text DEFAULT NULL, replicas integer DEFAULT 1, workload jsonb DEFAULT NULL,
    collateral_ratio numeric DEFAULT NULL, kind text DEFAULT 'batch')
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_create_space';
COMMENT ON FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric, text) IS
    'creates a space (with the workload its tasks run) and pays hours x price_max x replicas into its escrow; its tasks take collateral_ratio (NULL: lagbid.default_collateral_ratio); the next tick publishes a task for it; kind service (replicas 1, a workload with service) runs an app behind a lease; returns the space id';

CREATE FUNCTION lagbid.update_space(
    space_id bigint, resources jsonb DEFAULT NULL, price_min numeric DEFAULT NULL,
    price_max numeric DEFAULT NULL, region text DEFAULT NULL, workload jsonb DEFAULT NULL,
    collateral_ratio numeric DEFAULT NULL)
    RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_update_space';
COMMENT ON FUNCTION lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb, numeric) IS
    'changes a space (NULL keeps a value; workload => ''null'' removes the workload; collateral_ratio for its next tasks); a higher price_max is paid for the hours left; the next tick republishes it';

CREATE FUNCTION lagbid.extend_space(space_id bigint, hours numeric) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_extend_space';
COMMENT ON FUNCTION lagbid.extend_space(bigint, numeric) IS
    'pays for more reserved hours (hours x price_max x replicas); an expired space restarts now and waits for trigger_space';

CREATE FUNCTION lagbid.trigger_space(space_id bigint) RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_trigger_space';
COMMENT ON FUNCTION lagbid.trigger_space(bigint) IS
    'publishes a task for the space now (superseding its open task); refused when its reservation has ended; returns the task id';

-- ---------------------------------------------------------------------------
-- The minutely hook (src/tick.c) and its pg_cron schedule
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.tick() RETURNS jsonb
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_tick';
COMMENT ON FUNCTION lagbid.tick() IS
    'the minutely hook: expires reservations, publishes changed spaces, closes or fails tasks past their bidding deadline, elects due winners; idempotent and bounded (lagbid.tick_batch_size per action); returns a count per action';

CREATE FUNCTION lagbid.schedule_tick(database text DEFAULT current_database(),
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
COMMENT ON FUNCTION lagbid.schedule_tick(text, text) IS
    'registers SELECT lagbid.tick() with pg_cron (every minute by default) for the given database; calling it again keeps one job; returns the pg_cron job id';
