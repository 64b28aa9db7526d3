"""The Celery app, its queues and the beat schedule (all periodic tasks in one place)."""

import os

from celery import Celery
from celery.schedules import crontab  # noqa: F401 - used by entries added to the schedule
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daira.settings")

app = Celery("daira")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("default", "fanout", "media", "embeddings")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.task_default_queue = "default"
# Queue per workload (BookWyrm): a burst of fan-out never delays a password-reset OTP.
app.conf.task_routes = {
    "feeds.tasks.*": {"queue": "fanout"},
    "media.tasks.*": {"queue": "media"},
    "recommendations.tasks.*": {"queue": "embeddings"},
}

app.conf.beat_schedule = {
    # Each entry: name -> {"task": dotted name, "schedule": seconds or crontab(...)}.
    # batched event queues (gift/tip notifications) whose drain died or whose task was lost
    "events-batches-sweep": {"task": "daira.tasks.event_batches_sweep_task", "schedule": 60.0},
    "media-requeue-stale": {"task": "media.tasks.assets_requeue_stale_task", "schedule": 60.0},
    "media-expired-uploads": {"task": "media.tasks.uploads_expired_delete_task", "schedule": crontab(minute=41)},
    "accounts-suspensions-lift": {"task": "accounts.tasks.users_suspensions_lift_task", "schedule": 60.0},
    "accounts-purge-deactivated": {"task": "accounts.tasks.users_purge_deactivated_task", "schedule": crontab(minute=17)},
    "wallet-payments-reconcile": {"task": "wallet.tasks.payments_reconcile_stale_task", "schedule": 5 * 60.0},
    "wallet-subscriptions-renew": {"task": "wallet.tasks.subscriptions_renew_due_task", "schedule": 15 * 60.0},
    "accounts-housekeeping": {"task": "accounts.tasks.accounts_housekeeping_task", "schedule": 15 * 60.0},
    "messaging-changes-prune": {"task": "messaging.tasks.changes_prune_task", "schedule": crontab(minute=29, hour=3)},
    "content-views-flush": {"task": "content.tasks.post_views_flush_task", "schedule": 30.0},
    "content-stories-purge": {"task": "content.tasks.stories_purge_expired_task", "schedule": 10 * 60.0},
    # feeds: exact trending scores from Postgres (events keep them current in between)
    "feeds-trending-recompute": {"task": "feeds.tasks.trending_recompute_task", "schedule": 5 * 60.0},
    # feeds: users' search popularity (follower counts) and any missed profile update
    "feeds-search-users-reindex": {"task": "feeds.tasks.search_reindex_task", "schedule": crontab(minute=23),
                                   "kwargs": {"kind": "user"}},
    # recommendations: daily interaction partitions (create ahead, drop past retention); collaborative vectors
    "recs-partitions-maintain": {"task": "recommendations.tasks.partitions_maintain_task", "schedule": crontab(minute=7)},
    "recs-collab-factorise": {"task": "recommendations.tasks.collab_factorise_task", "schedule": crontab(minute=37)},
}

app.autodiscover_tasks()
