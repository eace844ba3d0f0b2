-- ---------------------------------------------------------------------------
-- The push, off the market's commits (issue 19 defect 7b, issue 22 section 1;
-- src/push.c, src/push_worker.c).  A market transaction never sends NOTIFY:
-- it queues what is to be pushed here, in the same transaction as the rows
-- it names, and at commit sets the latch of this database's push worker (a
-- background worker of the extension), which deletes a batch of queued rows
-- and sends one NOTIFY per channel and batch in its own transaction.  A
-- NOTIFY that fails (the queue full, a listener idle in a transaction) rolls
-- the worker's transaction back: the rows stay queued and are pushed later.
-- Only the extension's owner writes these tables; the platform reads
-- lagbid.push_status.
-- ---------------------------------------------------------------------------

-- What is still to be pushed: on channel 'lagbid' the id of a
-- lagbid.notification row (the durable outbox), on channel 'lagbid_tasks'
-- the id of a task that started accepting bids.  Ids only, never terms: the
-- listener reads them back from the market.  No index and no key: rows are
-- inserted by the market and deleted in batches by the worker.
CREATE TABLE lagbid.push_queue (
    channel   text NOT NULL,
    id        bigint NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE lagbid.push_queue IS
    'ids still to be pushed by the push worker after the commit that queued them: channel lagbid (notification ids) or lagbid_tasks (ids of tasks opened for bids)';

-- One row: which process is this database's push worker (its pid, for the
-- committing backends to wake it) and what it did.
CREATE TABLE lagbid.push_worker (
    id            integer PRIMARY KEY CHECK (id = 1),
    pid           integer,
    started_at    timestamptz,
    last_push_at  timestamptz,
    pushed        bigint NOT NULL DEFAULT 0,
    notifies      bigint NOT NULL DEFAULT 0,
    failures      bigint NOT NULL DEFAULT 0,
    last_error    text,
    last_error_at timestamptz
);
INSERT INTO lagbid.push_worker (id) VALUES (1);
COMMENT ON TABLE lagbid.push_worker IS
    'one row: the process id of this database''s push worker (background worker "lagbid push"), when it started and last pushed, how many ids and NOTIFYs it sent, how often a push failed and the last error';

CREATE VIEW lagbid.push_status AS
SELECT w.pid,
       (a.pid IS NOT NULL) AS running,
       w.started_at,
       w.last_push_at,
       w.pushed,
       w.notifies,
       q.pending,
       q.oldest_queued_at,
       w.failures,
       w.last_error,
       w.last_error_at
  FROM lagbid.push_worker w
  LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = w.pid AND a.backend_type = 'lagbid push'
  CROSS JOIN (SELECT count(*) AS pending, min(queued_at) AS oldest_queued_at
                FROM lagbid.push_queue) AS q
 WHERE w.id = 1;
COMMENT ON VIEW lagbid.push_status IS
    'one row: the push worker (pid, whether it runs, when it started and last pushed, ids and NOTIFYs sent), the ids still queued and the oldest one''s age, and the pushes that failed (count, last error): pending rising with running false or last_error_at recent means providers are told only by polling';

-- nobody but the extension's owner writes; the platform reads
REVOKE ALL ON lagbid.push_queue, lagbid.push_worker, lagbid.push_status FROM PUBLIC;
GRANT SELECT ON lagbid.push_queue, lagbid.push_worker, lagbid.push_status TO lagbid_platform;
ALTER TABLE lagbid.push_queue ENABLE ROW LEVEL SECURITY;
ALTER TABLE lagbid.push_worker ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_reads ON lagbid.push_queue FOR SELECT TO lagbid_platform USING (true);
CREATE POLICY platform_reads ON lagbid.push_worker FOR SELECT TO lagbid_platform USING (true);
