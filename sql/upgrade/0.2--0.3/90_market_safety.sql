-- Market safety (issue 16, docs/0.3/market-safety.md): the changes to what
-- 0.2 had.  The tick's new tables, views and indexes are the install part
-- sql/install/86_tick_safety.sql (before this file in the list).

-- the live tasks each owner published with publish_task, counted once
INSERT INTO lagbid.owner_load (owner, live_tasks)
SELECT owner, count(*) FROM lagbid.task
 WHERE space_id IS NULL AND state IN ('created', 'accepting_bids', 'bid_closed', 'processing')
 GROUP BY owner;

-- the outbox retention gains a period for unacknowledged notifications
DROP FUNCTION lagbid.purge_notifications(interval);
CREATE FUNCTION lagbid.purge_notifications(older_than interval DEFAULT '30 days',
                                           unacked_older_than interval DEFAULT '90 days')
    RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH gone AS (
        DELETE FROM lagbid.notification
         WHERE (acked_at IS NOT NULL AND acked_at < clock_timestamp() - older_than)
            OR (acked_at IS NULL AND created_at < clock_timestamp() - unacked_older_than)
        RETURNING 1)
    SELECT count(*) FROM gone;
END;
COMMENT ON FUNCTION lagbid.purge_notifications(interval, interval) IS
    'deletes notifications acknowledged longer ago than older_than, and unacknowledged ones created longer ago than unacked_older_than (NULL keeps them); returns how many (schedule it with pg_cron)';
REVOKE ALL ON FUNCTION lagbid.purge_notifications(interval, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.purge_notifications(interval, interval) TO lagbid_platform;
