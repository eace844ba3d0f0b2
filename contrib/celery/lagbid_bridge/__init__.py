"""lagbid_bridge: puts lagbid's notifications on a Celery task queue and lets
Celery workers call lagbid's API the way the platform (and PostgREST) does.

    lagbid_bridge.listener  LISTEN lagbid + outbox drain -> deliver_notification tasks
    lagbid_bridge.tasks     the Celery app and its tasks
    lagbid_bridge.config    settings from environment variables
"""

__version__ = "0.1"
