import json
from datetime import date, timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import UserFactory
from content import services as content_services
from recommendations import services, tasks
from recommendations.models import EventReceipt, Interaction, ItemCounters, UserInterest
from recommendations.tests.conftest import event, make_post, unit
from social.tests.factories import block

pytestmark = pytest.mark.django_db


def test_batch_accepts_valid_events_and_rejects_bad_ones_individually(auth_client):
    # given
    viewer, author, blocker = UserFactory(), UserFactory(), UserFactory()
    post = make_post(author, "hello")
    hidden = make_post(blocker, "not for you")
    block(blocker, viewer)
    batch = [
        event("e1", "VIEW", post.pk),
        event("e2", "WATCH", post.pk, watch_ms=9000, duration_ms=10000),
        event("e3", "DANCE", post.pk),
        event("e4", "LIKE", hidden.pk),
        event("e5", "LIKE", post.pk, at=timezone.now() + timedelta(hours=2)),
        event("e6", "FOLLOW", author.pk, target_type="user", source="PROFILE"),
        event("e7", "VIEW", 999999999),
        event("e8", "WATCH", post.pk),
        event("e9", "SEARCH", None, target_type="query", source="SEARCH", metadata={"query": "كورة"}),
    ]

    # when
    response = auth_client(viewer).post("/api/v1/events", {"events": batch}, format="json")

    # then
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == ["e1", "e2", "e6", "e9"]
    assert body["duplicates"] == []
    assert [(r["client_event_id"], r["code"]) for r in body["rejected"]] == [
        ("e3", "unknown_type"), ("e4", "target_not_found"), ("e5", "future_timestamp"),
        ("e7", "target_not_found"), ("e8", "invalid"),
    ]
    stored = list(Interaction.objects.filter(user_id=viewer.pk).order_by("id").values_list("client_event_id", "type"))
    assert stored == [("e1", "VIEW"), ("e2", "WATCH"), ("e6", "FOLLOW"), ("e9", "SEARCH")]


def test_batch_is_idempotent_by_client_event_id(auth_client):
    # given
    viewer, author = UserFactory(), UserFactory()
    post = make_post(author)
    client = auth_client(viewer)
    batch = [event("same-1", "VIEW", post.pk), event("same-2", "SKIP", post.pk, watch_ms=500)]
    client.post("/api/v1/events", {"events": batch}, format="json")

    # when
    response = client.post("/api/v1/events", {"events": batch + [event("new-3", "VIEW", post.pk)]}, format="json")

    # then
    assert response.json() == {"accepted": ["same-1", "same-2", "new-3"], "duplicates": ["same-1", "same-2"],
                               "rejected": []}
    assert Interaction.objects.filter(user_id=viewer.pk).count() == 3
    assert EventReceipt.objects.filter(user_id=viewer.pk).count() == 3


def test_batch_over_100_events_is_refused_whole(auth_client):
    viewer, author = UserFactory(), UserFactory()
    post = make_post(author)

    response = auth_client(viewer).post(
        "/api/v1/events", {"events": [event(f"e{i}", "VIEW", post.pk) for i in range(101)]}, format="json")

    assert response.status_code == 400
    assert Interaction.objects.count() == 0


def test_batches_are_rate_limited(auth_client, settings):
    # given
    settings.RECS_EVENTS_RATE = (2, 60)
    viewer, author = UserFactory(), UserFactory()
    post = make_post(author)
    client = auth_client(viewer)
    for i in range(2):
        client.post("/api/v1/events", {"events": [event(f"r{i}", "VIEW", post.pk)]}, format="json")

    # when
    response = client.post("/api/v1/events", {"events": [event("r3", "VIEW", post.pk)]}, format="json")

    # then
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert Interaction.objects.count() == 2


def test_processing_runs_on_commit_and_updates_counters_seen_and_vectors(auth_client, eager_tasks,
                                                                      django_capture_on_commit_callbacks):
    # given
    viewer, author = UserFactory(), UserFactory()
    post = make_post(author, vector=unit((0, 1.0)))
    batch = [event("w1", "WATCH", post.pk, watch_ms=9000, duration_ms=10000), event("v1", "VIEW", post.pk)]

    # when
    with django_capture_on_commit_callbacks(execute=True):
        auth_client(viewer).post("/api/v1/events", {"events": batch}, format="json")

    # then
    counters = ItemCounters.objects.get(post_id=post.pk)
    assert (counters.views, counters.watches, counters.completions) == (1, 1, 1)
    from recommendations import cache
    assert cache.seen_ids(viewer.pk) == {post.pk}
    interest = UserInterest.objects.get(user=viewer)
    assert np.allclose(np.asarray(interest.vector), unit((0, 1.0)), atol=1e-5)


def test_server_side_like_and_client_like_count_once(auth_client, eager_tasks, django_capture_on_commit_callbacks):
    # given: the like goes through content's service; its "reaction.added" reaches our task
    viewer, author = UserFactory(), UserFactory()
    post = make_post(author, vector=unit((1, 1.0)))
    content_services.reaction_set(actor=viewer, target_type="post", target_id=post.pk, reaction="like")
    tasks.reaction_record_task(target_type="post", target_id=post.pk, user_id=viewer.pk, owner_id=author.pk,
                               reaction="like")

    # when: the client reports the same like too
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client(viewer).post("/api/v1/events", {"events": [event("l1", "LIKE", post.pk)]}, format="json")

    # then: stored (append-only log) but counted once
    assert response.json()["accepted"] == ["l1"]
    assert ItemCounters.objects.get(post_id=post.pk).likes == 1
    rows = list(Interaction.objects.filter(user_id=viewer.pk).order_by("id").values_list("origin", "metadata"))
    assert rows == [("server", {}), ("client", {"counted": False})]


def test_server_side_follow_comment_and_repost_enter_the_stream():
    viewer, author = UserFactory(), UserFactory()
    post = make_post(author)

    tasks.follow_record_task(follower_id=viewer.pk, followee_id=author.pk)
    tasks.comment_record_task(comment_id=1, post_id=post.pk, author_id=viewer.pk, post_author_id=author.pk)
    tasks.repost_record_task(post_id=post.pk, user_id=viewer.pk, author_id=author.pk)
    tasks.repost_record_task(post_id=post.pk, user_id=viewer.pk, author_id=author.pk)  # redelivered

    assert list(Interaction.objects.order_by("id").values_list("type", "target_id")) == [
        ("FOLLOW", author.pk), ("COMMENT", post.pk), ("SHARE", post.pk)]
    counters = ItemCounters.objects.get(post_id=post.pk)
    assert (counters.comments, counters.shares) == (1, 1)


def _partitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'recommendations_interaction'")
        return {row[0] for row in cursor.fetchall()}


def test_partitions_are_created_ahead_and_dropped_after_retention(settings):
    # given
    settings.RECS_EVENTS_RETENTION_DAYS = 30
    settings.RECS_EVENTS_PARTITIONS_AHEAD = 2
    services.partitions_maintain(today=date(2026, 1, 1))
    assert {"recommendations_interaction_p20260101", "recommendations_interaction_p20260103"} <= _partitions()

    # when: 40 days later
    result = services.partitions_maintain(today=date(2026, 2, 10))

    # then
    assert "recommendations_interaction_p20260101" in result["dropped"]
    assert "recommendations_interaction_p20260212" in result["created"]
    assert "recommendations_interaction_p20260101" not in _partitions()
    assert "recommendations_interaction_p20260212" in _partitions()


@pytest.mark.parametrize("payload", [
    {"events": "abc"}, {"events": [1, "x", None]}, {}, {"events": [{"type": "VIEW"}]},
    {"events": [{"client_event_id": "a", "type": "VIEW", "target_type": "post", "target_id": "99999999999999999999",
                 "source": "DISCOVER", "at": "2026-01-01T00:00:00Z"}]},
    {"events": [{"client_event_id": "b", "type": "VIEW", "target_type": "post", "target_id": "1",
                 "source": "DISCOVER", "at": "2026-99-99T00:00:00Z", "metadata": [1]}]},
    {"events": [{"client_event_id": ["x"], "type": "WATCH", "target_type": "post", "target_id": True,
                 "source": "X", "at": 5, "watch_ms": "fast"}]},
    {"events": [{"client_event_id": "\ud800", "type": "VIEW", "target_type": "post", "target_id": "1",
                 "source": "DISCOVER", "at": "2026-01-01T00:00:00Z"}]},
    {"events": [{"client_event_id": "d", "type": "SEARCH", "target_type": "query", "target_id": None,
                 "source": "SEARCH", "at": "2026-01-01T00:00:00Z", "metadata": {"query": "\udfff x"}}]},
    {"events": [{"client_event_id": "c\x00", "type": ["VIEW"], "target_type": {"a": 1}, "target_id": "1",
                 "source": ["DISCOVER"], "at": "2026-01-01T00:00:00Z", "metadata": {"k": "v\x00"}}]},
])
def test_malformed_batches_are_client_errors_never_500(auth_client, payload):
    viewer = UserFactory()

    # raw JSON text: clients may send escapes (lone surrogates) that Python cannot encode
    response = auth_client(viewer).post("/api/v1/events", json.dumps(payload), content_type="application/json")

    assert response.status_code in (202, 400)
    assert Interaction.objects.count() == 0


def test_malformed_reads_are_client_errors(auth_client):
    viewer = UserFactory()
    client = auth_client(viewer)

    assert client.get("/api/v1/feeds/for-you?limit=abc").status_code == 400
    assert client.get("/api/v1/posts/99999999999999999999/similar").status_code == 404
    assert client.post("/api/v1/me/interests", {"topics": "football"}, format="json").status_code == 400
    assert client.get("/api/v1/users/suggested?limit=-1").status_code == 400
