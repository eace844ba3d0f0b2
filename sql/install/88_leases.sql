-- ---------------------------------------------------------------------------
-- 0.4: service spaces (issue 21, docs/0.4/spaces.md), their functions; the
-- tables are 57_leases.sql.  The tick's failure records name leases too.
-- ---------------------------------------------------------------------------

ALTER TABLE lagbid.tick_failure DROP CONSTRAINT tick_failure_entity_check;
ALTER TABLE lagbid.tick_failure ADD CONSTRAINT tick_failure_entity_check
    CHECK (entity IN ('task', 'space', 'lease'));

-- ---------------------------------------------------------------------------
-- the market side (C)
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.lease_name(job_id bigint) RETURNS text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_lease_name_sql';
COMMENT ON FUNCTION lagbid.lease_name(bigint) IS
    'the deterministic name of the lease of a job: base32(sha256(<market> || '':'' || job_id)), 16 characters';

CREATE FUNCTION lagbid.report_endpoint(job_id bigint, url text) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_report_endpoint';
COMMENT ON FUNCTION lagbid.report_endpoint(bigint, text) IS
    'the provider''s app answers its health path: starting -> ready with the URL (ready or degraded: a new URL); the URL must name the lease by host or path on one of the provider''s registered hosts';

CREATE FUNCTION lagbid.report_teardown(job_id bigint) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_report_teardown';
COMMENT ON FUNCTION lagbid.report_teardown(bigint) IS
    'the provider stopped the app of an expired or failed lease: torn_down; the job and task end (completed after a normal expiry, else failed)';

CREATE FUNCTION lagbid.probe_message(lease_name text, nonce text, status integer) RETURNS bytea
    LANGUAGE c IMMUTABLE
    AS 'MODULE_PATHNAME', 'lagbid_probe_message';
COMMENT ON FUNCTION lagbid.probe_message(text, text, integer) IS
    'the bytes a provider''s front proxy signs for a probe: lagbid-probe-v1\nlease:<name>\nnonce:<nonce>\nstatus:<status>\n';

CREATE FUNCTION lagbid.report_probe(probe_id bigint, ok boolean, http_status integer,
                                    latency_ms numeric, signature text) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_report_probe';
COMMENT ON FUNCTION lagbid.report_probe(bigint, boolean, integer, numeric, text) IS
    'records one probe before its window closes, once; a success needs the lease provider''s Ed25519 signature (base64) of probe_message(lease, nonce, http_status)';

CREATE FUNCTION lagbid.probe_my_lease(space_id bigint)
    RETURNS TABLE (probe_id bigint, endpoint text, nonce text)
    LANGUAGE c VOLATILE ROWS 1
    AS 'MODULE_PATHNAME', 'lagbid_probe_my_lease';
COMMENT ON FUNCTION lagbid.probe_my_lease(bigint) IS
    'a probe of the space''s ready or degraded lease by its owner in the current window; report it with report_probe';

CREATE FUNCTION lagbid.settle_window(lease_id bigint, window_start timestamptz) RETURNS text
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_settle_window';
COMMENT ON FUNCTION lagbid.settle_window(bigint, timestamptz) IS
    'settles a closed probe window of a live lease (and the earlier ones first): up, down or unprobed, or already; deterministic under the market clock';

ALTER FUNCTION lagbid.report_endpoint(bigint, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.report_teardown(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.report_probe(bigint, boolean, integer, numeric, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.probe_my_lease(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.settle_window(bigint, timestamptz) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- ---------------------------------------------------------------------------
-- lagbid_api: the provider's and the owner's calls
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid_api.my_leases()
    RETURNS TABLE (lease_id bigint, job_id bigint, task_id bigint, name text, state text, endpoint text,
                   reserved_until timestamptz, port integer, health_path text, expected_status integer,
                   startup_timeout_s integer, workload_sha256 text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT l.id, l.job_id, l.task_id, l.name, l.state::text, l.endpoint, l.reserved_until,
           (w.body -> 'service' ->> 'port')::integer,
           coalesce(w.body -> 'service' ->> 'health_path', '/'),
           coalesce((w.body -> 'service' ->> 'expected_status')::integer, 200),
           coalesce((w.body -> 'service' ->> 'startup_timeout_s')::integer, 1800),
           t.workload_sha256
      FROM lagbid.lease l JOIN lagbid.task t ON t.id = l.task_id
      LEFT JOIN lagbid.workload_body w ON w.sha256 = t.workload_sha256
     WHERE l.provider_id = lagbid.api_provider() AND l.state <> 'torn_down'
     ORDER BY l.id LIMIT 1000;
END;
COMMENT ON FUNCTION lagbid_api.my_leases() IS
    'The calling provider''s leases not yet torn down, with what the agent needs to run and check each app (the workload body: lagbid_api.task_workload).';

CREATE FUNCTION lagbid_api.report_endpoint(job_id bigint, url text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_job(job_id);
    PERFORM lagbid.report_endpoint(job_id, url);
END $$;
COMMENT ON FUNCTION lagbid_api.report_endpoint(bigint, text) IS
    'Reports the URL where one of the caller''s leases answers (its host <lease>.<domain> or path /l/<lease>/ on a registered host).';

CREATE FUNCTION lagbid_api.report_teardown(job_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_job(job_id);
    PERFORM lagbid.report_teardown(job_id);
END $$;
COMMENT ON FUNCTION lagbid_api.report_teardown(bigint) IS
    'Tells the market the app of one of the caller''s expired or failed leases is gone.';

CREATE FUNCTION lagbid_api.my_probes()
    RETURNS TABLE (probe_id bigint, lease_name text, endpoint text, nonce text,
                   window_start timestamptz, window_end timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT p.id, l.name, l.endpoint, p.nonce, p.window_start, p.window_end
      FROM lagbid.probe p JOIN lagbid.lease l ON l.id = p.lease_id
     WHERE p.prober_kind = 'provider' AND p.prober = lagbid.api_identity('lagbid_provider')
       AND p.reported_at IS NULL AND p.window_end > lagbid.now()
     ORDER BY p.id LIMIT 1000;
END;
COMMENT ON FUNCTION lagbid_api.my_probes() IS
    'The probes assigned to the calling provider, not yet reported, whose window is still open.';

CREATE FUNCTION lagbid_api.report_probe(probe_id bigint, ok boolean, http_status integer DEFAULT NULL,
                                        latency_ms numeric DEFAULT NULL, signature text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
DECLARE
    me record := lagbid.api_holder();
    p lagbid.probe;
BEGIN
    SELECT * INTO p FROM lagbid.probe WHERE id = report_probe.probe_id;
    IF p.id IS NULL THEN
        PERFORM lagbid.raise('LB607', format('probe %s does not exist', probe_id));
    ELSIF p.prober_kind <> me.kind OR p.prober <> me.name THEN
        PERFORM lagbid.raise('LB608', format('probe %s is assigned to another prober', probe_id));
    END IF;
    PERFORM lagbid.report_probe(probe_id, ok, http_status, latency_ms, signature);
END $$;
COMMENT ON FUNCTION lagbid_api.report_probe(bigint, boolean, integer, numeric, text) IS
    'Reports one of the caller''s probes, once, before its window closes; ok => true needs the X-Lagbid-Probe-Signature the provider''s proxy answered with.';

CREATE FUNCTION lagbid_api.probe_my_lease(space_id bigint)
    RETURNS TABLE (probe_id bigint, endpoint text, nonce text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_space(space_id);
    RETURN QUERY SELECT * FROM lagbid.probe_my_lease(space_id);
END $$;
COMMENT ON FUNCTION lagbid_api.probe_my_lease(bigint) IS
    'A probe of the live lease of one of the caller''s spaces, by the caller, in the current window: GET the endpoint with X-Lagbid-Probe: <nonce>, then report_probe.';

CREATE FUNCTION lagbid_api.space_status(space_id bigint)
    RETURNS TABLE (lease_id bigint, task_id bigint, job_id bigint, lease_name text,
                   provider_node_id text, state text, endpoint text, reserved_until timestamptz,
                   windows_up integer, windows_down integer, windows_unprobed integer,
                   down_streak integer, paid numeric, refunded numeric)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_space(space_id);
    RETURN QUERY
    SELECT l.id, l.task_id, l.job_id, l.name, p.node_id, l.state::text, l.endpoint,
           l.reserved_until, l.windows_up, l.windows_down, l.windows_unprobed, l.down_streak,
           l.paid, l.refunded
      FROM lagbid.lease l JOIN lagbid.provider p ON p.id = l.provider_id
     WHERE l.space_id = space_status.space_id
     ORDER BY l.id DESC LIMIT 100;
END $$;
COMMENT ON FUNCTION lagbid_api.space_status(bigint) IS
    'The leases of one of the caller''s spaces, newest first: endpoint, state, windows up, down and unprobed, paid and refunded (the space is the argument: PostgreSQL forbids a result column of the same name).';

REVOKE ALL ON FUNCTION lagbid.lease_name(bigint), lagbid.report_endpoint(bigint, text),
    lagbid.report_teardown(bigint), lagbid.probe_message(text, text, integer),
    lagbid.report_probe(bigint, boolean, integer, numeric, text), lagbid.probe_my_lease(bigint),
    lagbid.settle_window(bigint, timestamptz),
    lagbid_api.my_leases(), lagbid_api.report_endpoint(bigint, text), lagbid_api.report_teardown(bigint),
    lagbid_api.my_probes(), lagbid_api.report_probe(bigint, boolean, integer, numeric, text),
    lagbid_api.probe_my_lease(bigint), lagbid_api.space_status(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.lease_name(bigint), lagbid.report_endpoint(bigint, text),
    lagbid.report_teardown(bigint), lagbid.probe_message(text, text, integer),
    lagbid.report_probe(bigint, boolean, integer, numeric, text), lagbid.probe_my_lease(bigint),
    lagbid.settle_window(bigint, timestamptz) TO lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid_api.my_leases(), lagbid_api.report_endpoint(bigint, text),
    lagbid_api.report_teardown(bigint), lagbid_api.my_probes() TO lagbid_provider;
GRANT EXECUTE ON FUNCTION lagbid_api.probe_my_lease(bigint), lagbid_api.space_status(bigint) TO lagbid_owner;
GRANT EXECUTE ON FUNCTION lagbid_api.report_probe(bigint, boolean, integer, numeric, text)
    TO lagbid_provider, lagbid_owner;

REVOKE ALL ON lagbid.lease, lagbid.probe, lagbid.lease_window FROM PUBLIC;
GRANT SELECT ON lagbid.lease, lagbid.probe, lagbid.lease_window TO lagbid_platform;
ALTER TABLE lagbid.lease ENABLE ROW LEVEL SECURITY;
ALTER TABLE lagbid.probe ENABLE ROW LEVEL SECURITY;
ALTER TABLE lagbid.lease_window ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_reads ON lagbid.lease FOR SELECT TO lagbid_platform USING (true);
CREATE POLICY platform_reads ON lagbid.probe FOR SELECT TO lagbid_platform USING (true);
CREATE POLICY platform_reads ON lagbid.lease_window FOR SELECT TO lagbid_platform USING (true);
SELECT pg_catalog.pg_extension_config_dump('lagbid.lease', '');
SELECT pg_catalog.pg_extension_config_dump('lagbid.lease_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('lagbid.probe', '');
SELECT pg_catalog.pg_extension_config_dump('lagbid.probe_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('lagbid.lease_window', '');
