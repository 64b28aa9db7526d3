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
}

app.autodiscover_tasks()
