-- ---------------------------------------------------------------------------
-- Owners see their work (issue 23): lagbid_api.task_jobs(task_id) shows the
-- owner of a task each replica's job -- its state, the bidder's reason when
-- it failed ("exit status 3: oops"), its result hash, whether the database
-- computed that hash (upload_result) or the bidder only claimed it
-- (submit_result), and its timing.
--
-- Sealed bids: the only price a row carries is the job's ask, which the
-- owner already sees in task_bids (the same bid, the same price); nothing
-- about the bidder's other bids, balance or limits.
--
-- 0.4 adds this part whole: the upgrade reads it through a symbolic link
-- (sql/upgrade/0.3--0.4/60_task_jobs.sql), so it grants its own objects
-- (70_api.sql's bulk grants ran before it).
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid_api.task_jobs(task_id bigint)
    RETURNS TABLE (job_id bigint, bid_id bigint, provider_id bigint, node_id text,
                   state lagbid.job_state, is_leader boolean, reason text,
                   result_hash text, result_uri text, result_verified boolean,
                   price numeric, paid numeric,
                   allocated_at timestamptz, submitted_at timestamptz,
                   finished_at timestamptz, deadline timestamptz, run_seconds numeric)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    RETURN QUERY
    SELECT j.id, j.bid_id, j.provider_id, p.node_id, j.state, j.is_leader, j.reason,
           j.result_hash, j.result_uri, (r.job_id IS NOT NULL), j.price, j.paid,
           j.created_at, j.submitted_at, j.finished_at, j.deadline,
           round(EXTRACT(epoch FROM coalesce(j.submitted_at, j.finished_at) - j.created_at), 3)
      FROM lagbid.job j
      JOIN lagbid.provider p ON p.id = j.provider_id
      LEFT JOIN lagbid.result r ON r.job_id = j.id
     WHERE j.task_id = task_jobs.task_id
     ORDER BY j.id;
END $$;
COMMENT ON FUNCTION lagbid_api.task_jobs(bigint) IS
    'The jobs (one per allocated replica) of one of the caller''s tasks: state, the bidder''s failure reason, result hash (result_verified: computed by the database), timing; the only price shown is the ask that task_bids shows.';

REVOKE ALL ON FUNCTION lagbid_api.task_jobs(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid_api.task_jobs(bigint) TO lagbid_owner;
