"""Recommendations test helpers: posts through content's real services, item vectors set from
known unit vectors (so most tests need no encoder), and eager Celery for on-commit tasks."""

from __future__ import annotations

import numpy as np
import pytest
from django.utils import timezone

from content import services as content_services
from daira.celery import app as celery_app
from recommendations.models import ItemVector

DIM = 384


@pytest.fixture(autouse=True)
def _generous_velocity(settings):
    settings.MODERATION_VELOCITY_CAPS = {
        action: {"established": (1000, 10000), "new": (1000, 10000)}
        for action in ("posts", "comments", "dms", "follows", "reports")
    }


@pytest.fixture
def eager_tasks():
    """Run tasks enqueued with .delay() inline (they are still enqueued only on commit)."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def unit(*weights: tuple[int, float]) -> np.ndarray:
    """A unit vector with the given (axis, weight) components."""
    vector = np.zeros(DIM, dtype=np.float32)
    for axis, weight in weights:
        vector[axis] = weight
    return vector / np.linalg.norm(vector)


def make_post(author, body: str = "a post", *, vector: np.ndarray | None = None, sound=None, audience: str = "public"):
    """A published post made through content's service, with an ItemVector when `vector` is given."""
    post = content_services.post_create(author=author, body=body, audience=audience)
    if sound is not None:
        post.sound = sound
        post.save(update_fields=["sound"])
    if vector is not None:
        ItemVector.objects.update_or_create(
            post_id=post.pk,
            defaults={"author_id": author.pk, "sound_id": getattr(sound, "pk", None), "embedding": vector,
                      "source": "text", "encoder": "test", "eligible": audience == "public",
                      "published_at": post.published_at or timezone.now()},
        )
    return post


def event(client_event_id: str, type_: str, target_id, *, target_type: str = "post", source: str = "DISCOVER",
          at=None, **extra):
    body = {"client_event_id": client_event_id, "type": type_, "target_type": target_type,
            "target_id": str(target_id) if target_id is not None else None, "source": source,
            "at": (at or timezone.now()).isoformat()}
    body.update(extra)
    return body
