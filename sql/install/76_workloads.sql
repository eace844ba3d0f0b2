-- ---------------------------------------------------------------------------
-- Workload bodies, stored once by content (issue 19; src/workload_store.c).
--
-- A workload (up to 4 MiB) is stored in lagbid.workload_body under the hex
-- SHA-256 of its text (workload::text).  Tasks and spaces name it by that
-- digest (workload_sha256) and carry its length (workload_bytes), both
-- computed in C when the workload is published, created or updated.  A
-- space's republication copies the digest, never the body; discovery
-- (open_tasks, the push, bid_won, my_jobs) carries the size and the digest;
-- a provider reads the body by task id with lagbid_api.task_workload.
--
-- This part stands after 70_api.sql's bulk grants: it grants and protects
-- its own objects.  The 0.3 -> 0.4 upgrade (sql/upgrade/0.3--0.4/
-- 20_workloads.sql) makes the same objects from 0.3's workload columns.
-- ---------------------------------------------------------------------------

CREATE TABLE lagbid.workload_body (
    sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    body        jsonb NOT NULL,
    bytes       integer NOT NULL CHECK (bytes >= 0),
    stored_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE lagbid.workload_body IS
    'workload bodies, one row per distinct workload: sha256 is the hex SHA-256 of body::text and bytes its length; tasks and spaces name a body by workload_sha256';

ALTER TABLE lagbid.task ADD CONSTRAINT task_workload_body
    FOREIGN KEY (workload_sha256) REFERENCES lagbid.workload_body (sha256);
ALTER TABLE lagbid.task ADD CONSTRAINT task_workload_sized
    CHECK ((workload_sha256 IS NULL) = (workload_bytes IS NULL));
ALTER TABLE lagbid.space ADD CONSTRAINT space_workload_body
    FOREIGN KEY (workload_sha256) REFERENCES lagbid.workload_body (sha256);
ALTER TABLE lagbid.space ADD CONSTRAINT space_workload_sized
    CHECK ((workload_sha256 IS NULL) = (workload_bytes IS NULL));

REVOKE ALL ON lagbid.workload_body FROM PUBLIC;
GRANT SELECT ON lagbid.workload_body TO lagbid_platform;
ALTER TABLE lagbid.workload_body ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_reads ON lagbid.workload_body FOR SELECT TO lagbid_platform USING (true);
-- the market's data: pg_dump keeps it (90_dump.sql)
SELECT pg_catalog.pg_extension_config_dump('lagbid.workload_body', '');

-- A provider reads a workload's body when the task is open to it (what
-- open_tasks would list, its own bid aside) or when it holds a bid or a job
-- on it; the owner reads its own task's.  NULL when the task runs nothing.
CREATE FUNCTION lagbid_api.task_workload(task_id bigint) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
DECLARE
    t lagbid.task;
    p lagbid.provider;
BEGIN
    IF task_id IS NULL THEN
        PERFORM lagbid.raise('LB001', 'task_id must not be NULL');
    END IF;
    IF lagbid.api_role() = 'lagbid_owner' THEN
        PERFORM lagbid.api_own_task(task_id);
        SELECT * INTO t FROM lagbid.task x WHERE x.id = task_workload.task_id;
    ELSE
        SELECT * INTO p FROM lagbid.provider x WHERE x.id = lagbid.api_provider();
        SELECT * INTO t FROM lagbid.task x WHERE x.id = task_workload.task_id;
        IF NOT FOUND THEN
            PERFORM lagbid.raise('LB201', format('task %s does not exist', task_id));
        END IF;
        IF NOT ((t.state = 'accepting_bids' AND t.bidding_deadline > lagbid.now()
                 AND (t.region IS NULL OR p.region = t.region OR starts_with(p.region, t.region || '-'))
                 AND t.cpu <= p.cpu AND t.memory_gb <= p.memory_gb AND t.storage_gb <= p.storage_gb
                 AND t.gpu_count <= p.gpu_count AND (t.gpu IS NULL OR lower(t.gpu) = lower(p.gpu)))
                OR EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = t.id AND b.provider_id = p.id
                              AND b.state IN ('open', 'won'))
                OR EXISTS (SELECT 1 FROM lagbid.job j WHERE j.task_id = t.id AND j.provider_id = p.id)) THEN
            PERFORM lagbid.raise('LB322', format('the workload of task %s is not open to this provider', task_id),
                                 format('Task %s is %s; its workload is read by providers it is open to (accepting bids, matching their region and resources) and by those holding a bid or a job on it.',
                                        task_id, t.state),
                                 'lagbid_api.open_tasks() lists the tasks open to you; lagbid_api.why_not() says why one is not.');
        END IF;
    END IF;
    RETURN (SELECT w.body FROM lagbid.workload_body w WHERE w.sha256 = t.workload_sha256);
END $$;
COMMENT ON FUNCTION lagbid_api.task_workload(bigint) IS
    'The workload (command, env, inputs, timeout_s, output) a task runs, read by id: by a provider the task is open to (accepting bids, matching it) or that holds a bid or job on it, or by its owner; NULL when the task runs nothing; LB322 otherwise. Its SHA-256 over its text is the task''s workload_sha256.';

REVOKE ALL ON FUNCTION lagbid_api.task_workload(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid_api.task_workload(bigint) TO lagbid_provider, lagbid_owner;
