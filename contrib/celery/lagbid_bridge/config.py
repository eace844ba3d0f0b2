"""Settings, all from environment variables (see README.md)."""

import os


def _env(name, default=None):
    value = os.environ.get(name)
    return value if value not in (None, "") else default


# libpq connection string of the lagbid database (listener and API tasks)
DSN = _env("LAGBID_DSN", "dbname=lagbid")

# Celery broker and result backend
BROKER_URL = _env("LAGBID_BROKER_URL", "redis://localhost:6390/0")
RESULT_BACKEND = _env("LAGBID_RESULT_BACKEND", "redis://localhost:6390/1")

# queue of deliver_notification (the API tasks stay on Celery's default queue)
NOTIFY_QUEUE = _env("LAGBID_NOTIFY_QUEUE", "celery")

# where deliver_notification appends one JSON line per delivered notification
DELIVERY_LOG = _env("LAGBID_DELIVERY_LOG", "lagbid-deliveries.jsonl")

# optional webhook: each notification is POSTed there as JSON before it is
# logged; "{recipient}" and "{recipient_kind}" ("provider" or "owner") in the
# URL are replaced by the (URL-quoted) recipient and its kind
WEBHOOK_URL = _env("LAGBID_WEBHOOK_URL")
WEBHOOK_TIMEOUT = float(_env("LAGBID_WEBHOOK_TIMEOUT", "10"))

# worker-side idempotency: the redis that remembers delivered notification ids,
# and for how long (seconds)
DEDUP_URL = _env("LAGBID_DEDUP_URL", RESULT_BACKEND)
DEDUP_TTL = int(_env("LAGBID_DEDUP_TTL", str(30 * 24 * 3600)))

# the role that platform tasks (run_tick) take with SET LOCAL ROLE; "" for none
PLATFORM_ROLE = os.environ.get("LAGBID_PLATFORM_ROLE", "lagbid_platform")

# listener: seconds between safety sweeps of the outbox (needs psycopg >= 3.2,
# whose notifies() takes a timeout; with older psycopg the listener sweeps only
# on start and on reconnect, which is all that correctness needs)
SWEEP_INTERVAL = float(_env("LAGBID_BRIDGE_SWEEP", "60"))

LOG_LEVEL = _env("LAGBID_BRIDGE_LOG_LEVEL", "INFO")
