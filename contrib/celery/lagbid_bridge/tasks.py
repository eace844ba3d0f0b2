"""The Celery app of the bridge and its tasks.

    deliver_notification(payload)         one lagbid notification to its recipient
    run_tick()                            SELECT lagbid.tick() as the platform
    place_bid(node_id, task_id, price)    lagbid_api.place_bid as the provider node_id

Run a worker with:
    python3 -m celery -A lagbid_bridge.tasks worker --pool=solo
"""

import datetime
import fcntl
import json
import logging
import os
import urllib.parse
import urllib.request
from decimal import Decimal

import psycopg
import redis
from celery import Celery
from psycopg import sql

from . import config

log = logging.getLogger("lagbid_bridge.tasks")

app = Celery("lagbid_bridge", broker=config.BROKER_URL, backend=config.RESULT_BACKEND)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=24 * 3600,
    # at-least-once: a message is acknowledged only after its task ran, and a
    # worker killed mid-task gets it redelivered
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={"visibility_timeout": 3600},
    task_routes={"lagbid_bridge.tasks.deliver_notification": {"queue": config.NOTIFY_QUEUE}},
)


class LagbidError(Exception):
    """A refusal by lagbid: "CODE: message" (e.g. "LB401: bid on task 1 is
    outside its price range"), with lagbid's own code even when the API raised
    it in PostgREST's PGRST form."""


# ---------------------------------------------------------------------------
# notifications
# ---------------------------------------------------------------------------

_redis = None


def _dedup():
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(config.DEDUP_URL)
    return _redis


def _post_webhook(payload):
    url = config.WEBHOOK_URL.replace(
        "{recipient_kind}", urllib.parse.quote(str(payload.get("recipient_kind", "")), safe="")).replace(
        "{recipient}", urllib.parse.quote(str(payload.get("recipient", "")), safe=""))
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "Idempotency-Key": "lagbid-notification-%s" % payload["id"]})
    with urllib.request.urlopen(req, timeout=config.WEBHOOK_TIMEOUT) as resp:
        resp.read()


def _append_log(line):
    path = config.DELIVERY_LOG
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


@app.task(bind=True, name="lagbid_bridge.tasks.deliver_notification", max_retries=None)
def deliver_notification(self, payload):
    """Delivers one notification (the outbox row's payload, with its "id"):
    POSTs it to LAGBID_WEBHOOK_URL when set, then appends it as one JSON line
    to LAGBID_DELIVERY_LOG.  Idempotent by notification id: a notification
    that was already delivered is skipped.  Returns the notification id."""
    nid = int(payload["id"])
    r = _dedup()
    done = "lagbid_bridge:delivered:%d" % nid
    if r.exists(done):
        log.info("notification %d already delivered: skipped", nid)
        return nid
    # two copies of the same message running at once: one waits for the other
    lock = r.lock("lagbid_bridge:delivering:%d" % nid, timeout=300)
    if not lock.acquire(blocking=False):
        raise self.retry(countdown=2)
    try:
        if r.exists(done):
            return nid
        if config.WEBHOOK_URL:
            try:
                _post_webhook(payload)
            except Exception as exc:  # the receiver is down: try again later
                raise self.retry(exc=exc, countdown=min(300, 2 ** min(self.request.retries, 8)))
        _append_log(json.dumps({
            "id": nid,
            "recipient": payload.get("recipient"),
            "recipient_kind": payload.get("recipient_kind"),
            "kind": payload.get("kind"),
            "payload": payload,
            "delivered_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "celery_task_id": self.request.id,
        }, sort_keys=True))
        r.set(done, "1", ex=config.DEDUP_TTL)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass
    return nid


# ---------------------------------------------------------------------------
# lagbid's API, called as the platform would
# ---------------------------------------------------------------------------

def _connect():
    # autocommit: each call below is one explicit BEGIN ... COMMIT, as PostgREST does
    return psycopg.connect(config.DSN, autocommit=True)


def _refusal(exc):
    code, message = exc.sqlstate or "?", exc.diag.message_primary or str(exc)
    if code == "PGRST":
        # lagbid_api functions raise {"code": "LB401", "message": ...} for PostgREST
        try:
            body = json.loads(message)
            code, message = body.get("code", code), body.get("message", message)
        except (ValueError, AttributeError):
            pass
    return LagbidError("%s: %s" % (code, message))


def _as(conn, role, sub):
    """The PostgREST prologue: SET LOCAL ROLE and the JWT claims, for this transaction."""
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    conn.execute("SELECT pg_catalog.set_config('request.jwt.claims', %s, true)",
                 [json.dumps({"role": role, "sub": sub})])


_retryable = dict(autoretry_for=(psycopg.OperationalError,), retry_backoff=True, max_retries=5)


@app.task(name="lagbid_bridge.tasks.run_tick", **_retryable)
def run_tick():
    """The minutely hook (lagbid.tick() is idempotent): returns its JSON summary."""
    try:
        with _connect() as conn:
            with conn.transaction():
                if config.PLATFORM_ROLE:
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(
                        sql.Identifier(config.PLATFORM_ROLE)))
                return conn.execute("SELECT lagbid.tick()").fetchone()[0]
    except psycopg.OperationalError:
        raise
    except psycopg.Error as exc:
        raise _refusal(exc) from None


@app.task(name="lagbid_bridge.tasks.place_bid", **_retryable)
def place_bid(node_id, task_id, price):
    """lagbid_api.place_bid as provider node_id (JWT sub).  Returns the bid id
    (the bidder id).  Retrying is safe: the identical bid returns the same id."""
    try:
        with _connect() as conn:
            with conn.transaction():
                _as(conn, "lagbid_provider", node_id)
                return conn.execute(
                    "SELECT lagbid_api.place_bid(task_id => %s::bigint, price => %s::numeric)",
                    [int(task_id), Decimal(str(price))]).fetchone()[0]
    except psycopg.OperationalError:
        raise
    except psycopg.Error as exc:
        raise _refusal(exc) from None
