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
