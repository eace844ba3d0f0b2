-- ---------------------------------------------------------------------------
-- The tick's own state (src/tick.c): its lock, the ticks it skipped, and the
-- rows it could not handle.  Only the extension's owner writes or locks
-- these tables (the market functions run as it); the platform reads them,
-- best through lagbid.tick_status and lagbid.tick_failures.
-- ---------------------------------------------------------------------------

-- One row: the lock that keeps ticks one at a time (FOR NO KEY UPDATE SKIP
-- LOCKED of row 1).  Locking a row needs UPDATE on the table, which no role
-- is granted: unlike an advisory lock, no login can take it to pause the
-- market.
CREATE TABLE lagbid.tick_state (
    id          integer PRIMARY KEY CHECK (id = 1),
    last_run_at timestamptz,
    last_result jsonb
);
INSERT INTO lagbid.tick_state (id) VALUES (1);
COMMENT ON TABLE lagbid.tick_state IS
    'one row, the lock of lagbid.tick() (one tick at a time) and what the last completed tick did (market clock)';

-- One row per tick that found the lock taken, since the last completed tick
-- (which deletes them): plain inserts, so a skipped tick never waits.
CREATE TABLE lagbid.tick_skip (
    at  timestamptz NOT NULL
);
COMMENT ON TABLE lagbid.tick_skip IS
    'ticks skipped because another transaction held the tick lock, since the last completed tick (market clock)';

-- A row (task or space) whose action failed in the tick: rolled back alone,
-- left alone until next_retry_at (1, 2, 4 ... minutes, at most a day),
-- deleted once the tick handles it.
CREATE TABLE lagbid.tick_failure (
    entity          text NOT NULL CHECK (entity IN ('task', 'space')),
    entity_id       bigint NOT NULL,
    action          text NOT NULL,
    failures        integer NOT NULL CHECK (failures >= 1),
    sqlstate        text NOT NULL,
    error           text NOT NULL,
    first_failed_at timestamptz NOT NULL,
    last_failed_at  timestamptz NOT NULL,
    next_retry_at   timestamptz NOT NULL,
    PRIMARY KEY (entity, entity_id)
);
COMMENT ON TABLE lagbid.tick_failure IS
    'tasks and spaces whose tick action failed: the last error, how often, and when the tick tries again (market clock)';

-- The live tasks each owner published with publish_task (not from spaces),
-- for lagbid.max_open_tasks_per_owner (src/market_limits.c): raised by
-- publish_task, lowered when such a task completes, fails or is cancelled.
-- Since 0.4 also the bytes of workload those tasks and the owner's active
-- spaces carry, for lagbid.max_workload_bytes_per_owner.
CREATE TABLE lagbid.owner_load (
    owner           text PRIMARY KEY,
    live_tasks      integer NOT NULL DEFAULT 0,
    workload_bytes  bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE lagbid.owner_load IS
    'per owner: live tasks (created, accepting_bids, bid_closed, processing) published with publish_task, capped by lagbid.max_open_tasks_per_owner, and the workload bytes of those tasks and of its active spaces, capped by lagbid.max_workload_bytes_per_owner';

-- the fair work lists of the tick: per owner, earliest first (tick.c)
CREATE INDEX task_owner_bidding_deadline ON lagbid.task (owner, bidding_deadline, id)
    WHERE state = 'accepting_bids';
CREATE INDEX task_owner_processing_deadline ON lagbid.task (owner, processing_deadline, id)
    WHERE state = 'processing';
CREATE INDEX space_owner_reserved_until ON lagbid.space (owner, reserved_until, id)
    WHERE state = 'active';
CREATE INDEX space_owner_changed ON lagbid.space (owner, id)
    WHERE changed AND state = 'active';

CREATE VIEW lagbid.tick_status AS
SELECT s.last_run_at,
       s.last_result,
       k.consecutive_skips,
       k.first_skip_at,
       k.last_skip_at,
       f.failing_rows,
       f.oldest_failure_at
  FROM (SELECT count(*)::int AS consecutive_skips, min(at) AS first_skip_at, max(at) AS last_skip_at
          FROM lagbid.tick_skip) AS k
  CROSS JOIN (SELECT count(*)::int AS failing_rows, min(first_failed_at) AS oldest_failure_at
                FROM lagbid.tick_failure) AS f
  LEFT JOIN lagbid.tick_state s ON s.id = 1;
COMMENT ON VIEW lagbid.tick_status IS
    'one row: when the last tick completed and what it did, how many ticks were skipped since (another transaction held the tick lock), and how many rows the tick could not handle';

CREATE VIEW lagbid.tick_failures AS
SELECT f.entity, f.entity_id, coalesce(t.owner, s.owner) AS owner, f.action, f.failures,
       f.sqlstate, f.error, f.first_failed_at, f.last_failed_at, f.next_retry_at
  FROM lagbid.tick_failure f
  LEFT JOIN lagbid.task t ON f.entity = 'task' AND t.id = f.entity_id
  LEFT JOIN lagbid.space s ON f.entity = 'space' AND s.id = f.entity_id;
COMMENT ON VIEW lagbid.tick_failures IS
    'tasks and spaces whose tick action failed (rolled back alone): the owner, the last error and its SQLSTATE, how many failures, and when the tick tries again';

-- nobody but the extension's owner writes or locks; the platform reads
REVOKE ALL ON lagbid.tick_state, lagbid.tick_skip, lagbid.tick_failure, lagbid.owner_load,
    lagbid.tick_status, lagbid.tick_failures FROM PUBLIC;
GRANT SELECT ON lagbid.tick_state, lagbid.tick_skip, lagbid.tick_failure, lagbid.owner_load,
    lagbid.tick_status, lagbid.tick_failures TO lagbid_platform;
ALTER TABLE lagbid.tick_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE lagbid.tick_skip ENABLE ROW LEVEL SECURITY;
ALTER TABLE lagbid.tick_failure ENABLE ROW LEVEL SECURITY;
ALTER TABLE lagbid.owner_load ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_reads ON lagbid.tick_state FOR SELECT TO lagbid_platform USING (true);
CREATE POLICY platform_reads ON lagbid.tick_skip FOR SELECT TO lagbid_platform USING (true);
CREATE POLICY platform_reads ON lagbid.tick_failure FOR SELECT TO lagbid_platform USING (true);
CREATE POLICY platform_reads ON lagbid.owner_load FOR SELECT TO lagbid_platform USING (true);

-- the counts are market data: a dump and restore keeps them with the tasks
SELECT pg_catalog.pg_extension_config_dump('lagbid.owner_load', '');
