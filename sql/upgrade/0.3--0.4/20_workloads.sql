-- 0.3 -> 0.4, issue 19 defect 6: workload bodies stored once, by content.
--
-- 0.3 kept each workload's body in lagbid.task.workload and
-- lagbid.space.workload, copied into every task a space published.  0.4
-- stores each distinct body once in lagbid.workload_body under the hex
-- SHA-256 of its text; the workload columns become workload_sha256 (renamed
-- and converted in place, so the columns keep their positions) beside a new
-- workload_bytes, and lagbid.owner_load counts each owner's live workload
-- bytes.  open_tasks and my_jobs return the size and digest instead of the
-- body (DROP + CREATE: their result types changed); task_workload reads
-- the body.  The same objects as sql/install/76_workloads.sql and the
-- changed parts of 10_schema.sql, 70_api.sql and 86_tick_safety.sql.

CREATE TABLE lagbid.workload_body (
    sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    body        jsonb NOT NULL,
    bytes       integer NOT NULL CHECK (bytes >= 0),
    stored_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE lagbid.workload_body IS
    'workload bodies, one row per distinct workload: sha256 is the hex SHA-256 of body::text and bytes its length; tasks and spaces name a body by workload_sha256';

-- the bodies of live and past rows, once each (digest of the text, as C computes it)
INSERT INTO lagbid.workload_body (sha256, body, bytes)
SELECT DISTINCT ON (w.sha256) w.sha256, w.body, octet_length(w.body::text)
  FROM (SELECT encode(pg_catalog.sha256(convert_to(t.workload::text, pg_catalog.getdatabaseencoding())), 'hex') AS sha256,
               t.workload AS body
          FROM lagbid.task t WHERE t.workload IS NOT NULL
        UNION ALL
        SELECT encode(pg_catalog.sha256(convert_to(s.workload::text, pg_catalog.getdatabaseencoding())), 'hex'),
               s.workload
          FROM lagbid.space s WHERE s.workload IS NOT NULL) AS w;

-- my_jobs' body names task.workload; both change their result type below
DROP FUNCTION lagbid_api.my_jobs();
DROP FUNCTION lagbid_api.open_tasks(integer);

ALTER TABLE lagbid.task RENAME COLUMN workload TO workload_sha256;
ALTER TABLE lagbid.task ALTER COLUMN workload_sha256 TYPE text
    USING encode(pg_catalog.sha256(convert_to(workload_sha256::text, pg_catalog.getdatabaseencoding())), 'hex');
ALTER TABLE lagbid.task ADD COLUMN workload_bytes integer;
UPDATE lagbid.task t SET workload_bytes = w.bytes
  FROM lagbid.workload_body w WHERE w.sha256 = t.workload_sha256;
COMMENT ON COLUMN lagbid.task.workload_sha256 IS 'what the task runs: the hex SHA-256 of its workload''s text (command, env, inputs, timeout_s, output: docs/0.3/work.md), the key of lagbid.workload_body; NULL when the task does not say';
COMMENT ON COLUMN lagbid.task.workload_bytes IS 'the length in bytes of the workload''s text (workload::text), stored with the digest at publish';

ALTER TABLE lagbid.space RENAME COLUMN workload TO workload_sha256;
ALTER TABLE lagbid.space ALTER COLUMN workload_sha256 TYPE text
    USING encode(pg_catalog.sha256(convert_to(workload_sha256::text, pg_catalog.getdatabaseencoding())), 'hex');
ALTER TABLE lagbid.space ADD COLUMN workload_bytes integer;
UPDATE lagbid.space s SET workload_bytes = w.bytes
  FROM lagbid.workload_body w WHERE w.sha256 = s.workload_sha256;
COMMENT ON COLUMN lagbid.space.workload_sha256 IS 'what each task of the space runs: the hex SHA-256 of its workload''s text, the key of lagbid.workload_body (each task of the space names the same digest; the body is never copied)';
COMMENT ON COLUMN lagbid.space.workload_bytes IS 'the length in bytes of the workload''s text (workload::text), counted against lagbid.max_workload_bytes_per_owner while the space is active';

-- each owner's live workload bytes: its live tasks published directly and its active spaces
ALTER TABLE lagbid.owner_load ADD COLUMN workload_bytes bigint NOT NULL DEFAULT 0;
COMMENT ON TABLE lagbid.owner_load IS
    'per owner: live tasks (created, accepting_bids, bid_closed, processing) published with publish_task, capped by lagbid.max_open_tasks_per_owner, and the workload bytes of those tasks and of its active spaces, capped by lagbid.max_workload_bytes_per_owner';
INSERT INTO lagbid.owner_load AS o (owner, workload_bytes)
SELECT x.owner, sum(x.bytes)
  FROM (SELECT t.owner, t.workload_bytes AS bytes FROM lagbid.task t
         WHERE t.space_id IS NULL AND t.workload_bytes IS NOT NULL
           AND t.state IN ('created', 'accepting_bids', 'bid_closed', 'processing')
        UNION ALL
        SELECT s.owner, s.workload_bytes FROM lagbid.space s
         WHERE s.state = 'active' AND s.workload_bytes IS NOT NULL) AS x
 GROUP BY x.owner
ON CONFLICT (owner) DO UPDATE SET workload_bytes = excluded.workload_bytes;

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

-- one limited index scan per matching region (the provider's region and each
-- of its prefixes) and one for tasks with no region; with task_ids (a push's
-- ids), those tasks by primary key under the same filters.  Terms, the
-- workload's size and digest, never its body (lagbid_api.task_workload).
CREATE FUNCTION lagbid_api.open_tasks(max_rows integer DEFAULT 100, task_ids bigint[] DEFAULT NULL)
    RETURNS TABLE (task_id bigint, resources jsonb, region text, price_min numeric, price_max numeric,
                   duration_hours numeric, replicas integer, bid_limit integer, bid_count integer,
                   bidding_deadline timestamptz, owner text, workload_bytes integer, workload_sha256 text)
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
    IF task_ids IS NOT NULL THEN
        IF cardinality(task_ids) > 1000 THEN
            PERFORM lagbid.raise('LB007', format('task_ids has %s ids, more than the limit of 1000', cardinality(task_ids)),
                                 NULL, 'Ask for at most 1000 tasks at a time.');
        END IF;
        RETURN QUERY
        SELECT t.id, t.resources, t.region, t.price_min, t.price_max, t.duration_hours, t.replicas,
               t.bid_limit, t.bid_count, t.bidding_deadline, t.owner, t.workload_bytes, t.workload_sha256
          FROM lagbid.task t
         WHERE t.id = ANY (task_ids)
           AND t.state = 'accepting_bids' AND (t.region IS NULL OR t.region = ANY (prefixes))
           AND t.bidding_deadline > now
           AND t.cpu <= p.cpu AND t.memory_gb <= p.memory_gb AND t.storage_gb <= p.storage_gb
           AND t.gpu_count <= p.gpu_count AND (t.gpu IS NULL OR lower(t.gpu) = lower(p.gpu))
           AND NOT EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = t.id
                              AND b.provider_id = p.id AND b.state IN ('open', 'won'))
         ORDER BY t.price_max DESC, t.id
         LIMIT lim;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT t.id, t.resources, t.region, t.price_min, t.price_max, t.duration_hours, t.replicas,
           t.bid_limit, t.bid_count, t.bidding_deadline, t.owner, t.workload_bytes, t.workload_sha256
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
COMMENT ON FUNCTION lagbid_api.open_tasks(integer, bigint[]) IS
    'The tasks the calling provider may bid on now (its region, resources, not yet bid on), best paying first, with their owner and the size and SHA-256 of the workload they run (the body: lagbid_api.task_workload); task_ids (at most 1000) asks for those tasks only, under the same rules; at most max_rows (1 to 1000) rows; other bidders'' asks are never shown.';

CREATE FUNCTION lagbid_api.my_jobs()
    RETURNS TABLE (job_id bigint, task_id bigint, bid_id bigint, state lagbid.job_state, price numeric,
                   is_leader boolean, deadline timestamptz, result_uri text, result_hash text, paid numeric,
                   workload_bytes integer, workload_sha256 text, resources jsonb, duration_hours numeric)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT j.id, j.task_id, j.bid_id, j.state, j.price, j.is_leader, j.deadline, j.result_uri,
           j.result_hash, j.paid, t.workload_bytes, t.workload_sha256, t.resources, t.duration_hours
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
     WHERE j.provider_id = lagbid.api_provider() ORDER BY j.id DESC LIMIT 1000;
END;
COMMENT ON FUNCTION lagbid_api.my_jobs() IS 'The calling provider''s jobs, newest first, with what each runs: the size and SHA-256 of its workload (the body: lagbid_api.task_workload), resources, duration_hours.';

REVOKE ALL ON FUNCTION lagbid_api.open_tasks(integer, bigint[]), lagbid_api.my_jobs() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid_api.open_tasks(integer, bigint[]), lagbid_api.my_jobs() TO lagbid_provider;
