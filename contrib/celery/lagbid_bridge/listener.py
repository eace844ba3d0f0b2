"""The listener: lagbid's notifications onto the Celery queue.

    python3 -m lagbid_bridge.listener [--once]

It LISTENs on channel "lagbid" and, on start and after every reconnect, drains
the outbox: every lagbid.notification row that is not acknowledged and not yet
dispatched.  Each notification is sent as one Celery task
lagbid_bridge.tasks.deliver_notification(payload), with task id
"lagbid-notification-<id>".

The bridge's progress is its own table, lagbid_bridge.dispatched: the row is
inserted and the task published in one transaction, so that a crash between
the two publishes again (at-least-once; deliver_notification is idempotent by
notification id) and never loses one.  The bridge never sets acked_at: that
is the recipient's acknowledgement, not the bridge's.

A NOTIFY is only a wake-up carrying notification ids ({"id": N}, or {"ids":
[...]} when lagbid's push worker sends a batch; lagbid sends nothing else on
the channel, which any login may LISTEN to): the payload sent to Celery is
always read from the outbox row.

One listener is active at a time (a session advisory lock); a second one waits
as a hot standby and takes over when the first one's session ends.
"""

import argparse
import inspect
import json
import logging
import signal
import sys
import time

import psycopg

from . import config
from .tasks import deliver_notification

log = logging.getLogger("lagbid_bridge.listener")

CHANNEL = "lagbid"
LOCK_KEY = "lagbid_bridge.listener"

SETUP = [
    "CREATE SCHEMA IF NOT EXISTS lagbid_bridge",
    """CREATE TABLE IF NOT EXISTS lagbid_bridge.dispatched (
           notification_id bigint PRIMARY KEY,
           celery_task_id  text NOT NULL,
           dispatched_at   timestamptz NOT NULL DEFAULT clock_timestamp())""",
    """COMMENT ON TABLE lagbid_bridge.dispatched IS
           'lagbid.notification rows the Celery bridge has put on the task queue (its own progress; never acked_at)'""",
]

# the outbox rows not yet dispatched, in id order, a batch at a time
PENDING = """
SELECT n.id FROM lagbid.notification n
 WHERE n.acked_at IS NULL AND n.id > %s
   AND NOT EXISTS (SELECT 1 FROM lagbid_bridge.dispatched d WHERE d.notification_id = n.id)
 ORDER BY n.id LIMIT 500
"""

# claims one notification (the row lock of the insert keeps a second listener
# off it until we commit) and returns its payload, or nothing when it was
# dispatched already, acknowledged, or does not exist
CLAIM = """
WITH n AS (
    SELECT n.id, pg_catalog.jsonb_build_object('id', n.id) || n.payload AS payload
      FROM lagbid.notification n
     WHERE n.id = %(id)s AND n.acked_at IS NULL
), claimed AS (
    INSERT INTO lagbid_bridge.dispatched (notification_id, celery_task_id)
    SELECT n.id, %(task)s FROM n
    ON CONFLICT (notification_id) DO NOTHING
    RETURNING notification_id
)
SELECT n.payload FROM n JOIN claimed c ON c.notification_id = n.id
"""


def _notifies_takes_timeout():
    try:
        return "timeout" in inspect.signature(psycopg.Connection.notifies).parameters
    except (TypeError, ValueError):
        return False


class Listener:
    def __init__(self, dsn=config.DSN, sweep_interval=config.SWEEP_INTERVAL):
        self.dsn = dsn
        self.sweep_interval = sweep_interval
        self.work = None      # claims and reads outbox rows
        self.listen = None    # LISTEN lagbid; only waits for notifies
        self.dispatched = 0

    # -- connections ---------------------------------------------------------

    def connect(self):
        self.work = psycopg.connect(self.dsn, autocommit=True,
                                    application_name="lagbid_bridge.listener")
        for stmt in SETUP:
            try:
                self.work.execute(stmt)
            except psycopg.errors.UniqueViolation:
                pass    # a concurrent first start created it
        if not self.work.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                                 [LOCK_KEY]).fetchone()[0]:
            log.info("another listener is active: waiting for its lock")
            self.work.execute("SELECT pg_advisory_lock(hashtext(%s))", [LOCK_KEY])
        self.listen = psycopg.connect(self.dsn, autocommit=True,
                                      application_name="lagbid_bridge.listen")
        # LISTEN before the drain: whatever commits after this is notified,
        # whatever committed before is found by the drain
        self.listen.execute("LISTEN " + CHANNEL)

    def close(self):
        for conn in (self.listen, self.work):
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    pass
        self.listen = self.work = None

    # -- dispatching ---------------------------------------------------------

    def dispatch(self, nid):
        """Puts notification nid on the queue unless it is already there."""
        task_id = "lagbid-notification-%d" % nid
        with self.work.transaction():
            row = self.work.execute(CLAIM, {"id": nid, "task": task_id}).fetchone()
            if row is None:
                return False
            # published before the claim commits: a failure here rolls the
            # claim back; a crash after it publishes once more on restart
            deliver_notification.apply_async(args=[row[0]], task_id=task_id)
        self.dispatched += 1
        log.debug("dispatched notification %d", nid)
        return True

    def drain(self):
        """Dispatches every pending notification, oldest first."""
        last, n = 0, 0
        while True:
            ids = [r[0] for r in self.work.execute(PENDING, [last]).fetchall()]
            if not ids:
                break
            for nid in ids:
                n += self.dispatch(nid)
            last = ids[-1]
        log.info("outbox drained: %d notification(s) dispatched", n)
        return n

    def handle(self, notify):
        # lagbid 0.4's push worker sends {"id": N}, or {"ids": [N, ...]} for
        # the rows of a batch of commits; the ids only, read back here
        try:
            body = json.loads(notify.payload)
            ids = [int(body["id"])] if "id" in body else [int(i) for i in body["ids"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("unexpected payload on %s: %r; draining", CHANNEL, notify.payload)
            self.drain()
            return
        if len(ids) > 1:
            log.debug("a push of %d notification ids", len(ids))
        for nid in ids:
            self.dispatch(nid)

    # -- main loop -----------------------------------------------------------

    def serve(self):
        log.info("listening on channel %s", CHANNEL)
        if _notifies_takes_timeout() and self.sweep_interval > 0:
            while True:
                for notify in self.listen.notifies(timeout=self.sweep_interval):
                    self.handle(notify)
                self.drain()    # safety sweep
        else:
            for notify in self.listen.notifies():
                self.handle(notify)

    def run(self):
        delay = 1.0
        while True:
            try:
                self.connect()
                self.drain()
                delay = 1.0
                self.serve()
            except (KeyboardInterrupt, SystemExit):
                self.close()
                raise
            except Exception as exc:
                log.error("%s: %s; reconnecting in %.0fs", type(exc).__name__, exc, delay)
                self.close()
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def run_once(self):
        try:
            self.connect()
            return self.drain()
        finally:
            self.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m lagbid_bridge.listener",
                                     description="lagbid notifications -> Celery")
    parser.add_argument("--dsn", default=config.DSN, help="libpq connection string (LAGBID_DSN)")
    parser.add_argument("--once", action="store_true", help="drain the outbox and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=config.LOG_LEVEL,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = Listener(args.dsn)
    try:
        if args.once:
            listener.run_once()
        else:
            listener.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
