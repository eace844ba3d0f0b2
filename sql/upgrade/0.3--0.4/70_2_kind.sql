-- issue 21 (docs/0.4/spaces.md): kind, the last argument of publish_task
-- and create_space (and their lagbid_api forms); the C symbols are the same
-- (they find kind by name).  The tables, types and functions of leases
-- are 70_3_leases.sql (the install part 88_leases.sql).
DROP FUNCTION lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text);
DROP FUNCTION lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric);
DROP FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text);
DROP FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric);
CREATE FUNCTION lagbid.publish_task(
    owner text, resources jsonb, price_min numeric, price_max numeric,
    duration_hours numeric, region text DEFAULT NULL, bid_limit integer DEFAULT 10,
    replicas integer DEFAULT 1, bidding_window interval DEFAULT '10 minutes',
    auto_allocate boolean DEFAULT true, open boolean DEFAULT true, workload jsonb DEFAULT NULL,
    collateral_ratio numeric DEFAULT NULL, min_reputation numeric DEFAULT NULL, allocation text DEFAULT NULL,
    kind text DEFAULT 'batch')
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_publish_task';
COMMENT ON FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text, text) IS
    'publishes a task (with the workload it runs, validated): escrows price_max x duration_hours x replicas from the owner''s balance and opens bidding (unless open => false), telling providers on channel lagbid_tasks; each bid locks collateral_ratio x ask x duration_hours as its bond (NULL: lagbid.default_collateral_ratio), only providers scoring min_reputation may bid, allocation is lowest_ask (default) or reliability; kind service runs the workload''s app behind a lease paid per probe window (replicas 1); returns the task id';

CREATE FUNCTION lagbid.create_space(
    owner text, name text, resources jsonb, price_min numeric, price_max numeric,
    hours numeric, region text DEFAULT NULL, replicas integer DEFAULT 1, workload jsonb DEFAULT NULL,
    collateral_ratio numeric DEFAULT NULL, kind text DEFAULT 'batch')
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_create_space';
COMMENT ON FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric, text) IS
    'creates a space (with the workload its tasks run) and pays hours x price_max x replicas into its escrow; its tasks take collateral_ratio (NULL: lagbid.default_collateral_ratio); the next tick publishes a task for it; kind service (replicas 1, a workload with service) runs an app behind a lease; returns the space id';

ALTER FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text, text), lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text, text), lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric, text) TO lagbid_platform;

CREATE FUNCTION lagbid_api.publish_task(
    resources jsonb, price_min numeric, price_max numeric, duration_hours numeric,
    region text DEFAULT NULL, bid_limit integer DEFAULT 10, replicas integer DEFAULT 1,
    bidding_window interval DEFAULT '10 minutes', auto_allocate boolean DEFAULT true,
    open boolean DEFAULT true, workload jsonb DEFAULT NULL, collateral_ratio numeric DEFAULT NULL,
    min_reputation numeric DEFAULT NULL, allocation text DEFAULT NULL, kind text DEFAULT 'batch')
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.publish_task(lagbid.api_identity('lagbid_owner'), resources, price_min, price_max,
                               duration_hours, region, bid_limit, replicas, bidding_window,
                               auto_allocate, open, workload, collateral_ratio => collateral_ratio,
                               min_reputation => min_reputation, allocation => allocation,
                               kind => kind);
COMMENT ON FUNCTION lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text, text) IS
    'Publishes a task of the caller, with the workload it runs: escrows price_max x duration_hours x replicas from its balance and opens bidding. Each bid locks collateral_ratio x ask x duration_hours of its provider''s balance as its bond; only providers scoring at least min_reputation may bid; allocation is lowest_ask (default) or reliability; kind => ''service'' runs the workload''s app behind a lease. Returns the task id.';

CREATE FUNCTION lagbid_api.create_space(name text, resources jsonb, price_min numeric, price_max numeric,
                                        hours numeric, region text DEFAULT NULL, replicas integer DEFAULT 1,
                                        workload jsonb DEFAULT NULL, collateral_ratio numeric DEFAULT NULL,
                                        kind text DEFAULT 'batch')
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.create_space(lagbid.api_identity('lagbid_owner'), name, resources, price_min,
                               price_max, hours, region, replicas, workload,
                               collateral_ratio => collateral_ratio, kind => kind);
COMMENT ON FUNCTION lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric, text) IS
    'Creates a space of the caller (with the workload its tasks run, and the collateral_ratio each of its bids stakes) and pays for its reserved hours; the next tick publishes it; kind => ''service'' runs its app behind a lease. Returns the space id.';

REVOKE ALL ON FUNCTION lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text, text), lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text, text), lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric, text) TO lagbid_owner;
