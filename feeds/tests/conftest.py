"""Feeds test fixtures: active users, posts published through content's real service, and
a worker that runs the feeds routes of daira/lib/events.py inline as events are sent."""

from __future__ import annotations

import importlib

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from daira.lib import events


@pytest.fixture(autouse=True)
def _generous_velocity(settings):
    """Tests create many posts quickly; velocity caps are moderation's own tests."""
    settings.MODERATION_VELOCITY_CAPS = {
        action: {"established": (1000, 10000), "new": (1000, 10000)}
        for action in ("posts", "comments", "dms", "follows", "reports")
    }


@pytest.fixture(autouse=True)
def _no_meilisearch(settings):
    settings.MEILISEARCH_URL = ""


@pytest.fixture
def feeds_worker():
    """Run every `feeds.tasks.*` route of each event sent after commit, inline, the way a
    fanout worker would (other apps' routes still go to the broker, unconsumed).
    Returns the list of (task, payload) it ran."""
    ran: list[tuple[str, dict]] = []

    def run_routes(name, payload):
        for task_name in events.ROUTES.get(name, []):
            module_name, _, func = task_name.rpartition(".")
            if not module_name.startswith("feeds."):
                continue
            task = getattr(importlib.import_module(module_name), func)
            task(**payload)
            ran.append((task_name, dict(payload)))

    events.add_observer(run_routes)
    yield ran
    events.remove_observer(run_routes)


@pytest.fixture
def make_user(db):
    """`make_user(active=True, **fields)`: a user seen just now (or never, active=False)."""

    def make(active: bool = True, **fields):
        if active:
            fields.setdefault("last_active_at", timezone.now())
        return UserFactory(**fields)

    return make


@pytest.fixture
def publish(django_capture_on_commit_callbacks, feeds_worker):
    """`publish(author, body="...", **post_create kwargs)`: a post created by content's
    service, with its after-commit events delivered (feeds routes run inline)."""
    from content import services as content_services

    def make(author, body: str = "hello", **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return content_services.post_create(author=author, body=body, **kwargs)

    return make


@pytest.fixture
def committed(django_capture_on_commit_callbacks, feeds_worker):
    """`committed(fn, **kwargs)`: call a service and deliver its after-commit events."""

    def call(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return call


@pytest.fixture
def video(db):
    """`video(owner)`: a ready video asset row, as media leaves it (content's test helper)."""
    from content.tests.conftest import make_asset
    from media.models import Kind

    return lambda owner, **kw: make_asset(owner, kind=Kind.VIDEO, **kw)
