-- ---------------------------------------------------------------------------
-- Real work (issue 13): results stored in the database and verified there.
--
-- A bidder uploads its result's content with upload_result (src/results.c):
-- PostgreSQL computes its SHA-256 and submits the job with result_hash
-- 'sha256:<hex>' and result_uri 'lagbid:result/<job id>'; the election
-- counts uploaded and claimed hashes alike.  The task's owner reads the
-- leader's content with task_result; purge_results deletes stored results
-- of tasks finished long ago.  Workloads (what a task runs) are columns of
-- lagbid.task and lagbid.space, validated in C (src/workload.c).
--
-- This part is also appended whole to the 0.2 -> 0.3 upgrade, so it grants
-- and protects its own objects (70_api.sql's bulk grants ran before it).
-- ---------------------------------------------------------------------------

CREATE TABLE lagbid.result (
    job_id      bigint PRIMARY KEY REFERENCES lagbid.job (id),
    content     bytea NOT NULL,
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes       integer NOT NULL CHECK (bytes >= 0),
    stored_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE lagbid.result IS
    'results uploaded with upload_result: the content and its SHA-256 computed by PostgreSQL (job.result_hash = ''sha256:'' || sha256)';

GRANT SELECT ON lagbid.result TO lagbid_platform;
ALTER TABLE lagbid.result ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_reads ON lagbid.result FOR SELECT TO lagbid_platform USING (true);
-- the market's data: pg_dump keeps it (90_dump.sql)
SELECT pg_catalog.pg_extension_config_dump('lagbid.result', '');

CREATE FUNCTION lagbid.upload_result(job_id bigint, content bytea) RETURNS text
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'lagbid_upload_result';
COMMENT ON FUNCTION lagbid.upload_result(bigint, bytea) IS
    'the allocated bidder uploads the content of its result (at most lagbid.max_result_bytes): stored, hashed by PostgreSQL, and the job submitted with result_hash ''sha256:<hex>'' and result_uri ''lagbid:result/<job id>''; returns the hash';

CREATE FUNCTION lagbid.task_result(task_id bigint) RETURNS bytea
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st lagbid.task_state;
    leader bigint;
    uri text;
    hash text;
    c bytea;
BEGIN
    IF task_id IS NULL THEN
        PERFORM lagbid.raise('LB001', 'task_id must not be NULL');
    END IF;
    SELECT t.state, t.leader_job_id INTO st, leader FROM lagbid.task t WHERE t.id = task_result.task_id;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB201', format('task %s does not exist', task_id));
    END IF;
    IF leader IS NULL THEN
        PERFORM lagbid.raise('LB206', format('task %s has no result: no leader has been elected', task_id),
                             format('The task is %s.', st),
                             'The leader''s result is available once the task is completed.');
    END IF;
    SELECT r.content INTO c FROM lagbid.result r WHERE r.job_id = leader;
    IF FOUND THEN
        RETURN c;
    END IF;
    SELECT j.result_uri, j.result_hash INTO uri, hash FROM lagbid.job j WHERE j.id = leader;
    IF uri = 'lagbid:result/' || leader THEN
        PERFORM lagbid.raise('LB206', format('the result of task %s was purged', task_id),
                             format('Its hash was %s.', hash),
                             'lagbid.purge_results() deletes the results of tasks finished long ago.');
    END IF;
    PERFORM lagbid.raise('LB206', format('the result of task %s is not stored in the database', task_id),
                         format('The leader (job %s) submitted it by URI with result_hash %s.', leader, hash),
                         format('Fetch it from %s and check its hash.', uri));
    RETURN NULL;
END $$;
COMMENT ON FUNCTION lagbid.task_result(bigint) IS
    'the content of the task''s leading result, as uploaded; LB206 when there is no leader yet, the leader submitted a URI (submit_result), or the result was purged';

CREATE FUNCTION lagbid.purge_results(older_than interval DEFAULT '30 days') RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    IF older_than IS NULL OR older_than < interval '0' THEN
        PERFORM lagbid.raise('LB001', 'older_than must be an interval of zero or more');
    END IF;
    DELETE FROM lagbid.result r
     USING lagbid.job j, lagbid.task t
     WHERE j.id = r.job_id AND t.id = j.task_id
       AND t.state IN ('completed', 'failed', 'cancelled')
       AND t.finished_at < lagbid.now() - older_than;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION lagbid.purge_results(interval) IS
    'deletes the stored results of tasks finished (completed, failed, cancelled) longer ago than older_than on the market clock; returns how many (schedule it with pg_cron)';

CREATE FUNCTION lagbid_api.upload_result(job_id bigint, content bytea) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_job(job_id);
    RETURN lagbid.upload_result(job_id, content);
END $$;
COMMENT ON FUNCTION lagbid_api.upload_result(bigint, bytea) IS
    'Uploads the content of one of the caller''s results (at most lagbid.max_result_bytes); the database computes its SHA-256 and submits the job. Returns ''sha256:<hex>''.';

CREATE FUNCTION lagbid_api.task_result(task_id bigint) RETURNS bytea
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    RETURN lagbid.task_result(task_id);
END $$;
COMMENT ON FUNCTION lagbid_api.task_result(bigint) IS
    'The content of the leading result of one of the caller''s tasks, as uploaded by its bidder.';

REVOKE ALL ON FUNCTION lagbid.upload_result(bigint, bytea), lagbid.task_result(bigint),
    lagbid.purge_results(interval), lagbid_api.upload_result(bigint, bytea),
    lagbid_api.task_result(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.upload_result(bigint, bytea), lagbid.task_result(bigint),
    lagbid.purge_results(interval) TO lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid_api.upload_result(bigint, bytea) TO lagbid_provider;
GRANT EXECUTE ON FUNCTION lagbid_api.task_result(bigint) TO lagbid_owner;
