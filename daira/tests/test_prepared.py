"""daira.lib.prepared: compiled-once querysets run as prepared statements must give exactly
what iterating the queryset gives, in the caller's transaction, counted like any query."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import DataError, connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.tests.factories import UserFactory
from content import selectors as content_selectors
from content import services as content_services
from content.models import Post
from daira.lib.prepared import PreparedQuery, execute_prepared
from social.tests.factories import CircleFactory, FollowFactory, add_to_circle, block, mute

pytestmark = pytest.mark.django_db


def _state(obj, seen=()) -> dict:
    """The loaded field values of an instance and of what select_related cached on it (a
    profile caches its user back: each instance is walked once)."""
    values = {k: v for k, v in obj.__dict__.items() if not k.startswith("_")}
    cached = {name: rel for name, rel in obj._state.fields_cache.items() if id(rel) not in seen}
    seen = (*seen, id(obj))
    return {**values, **{f"rel:{name}": None if rel is None else _state(rel, seen) for name, rel in cached.items()},
            "cached": sorted(obj._state.fields_cache)}


@pytest.fixture
def world(settings):
    settings.MODERATION_VELOCITY_CAPS = {
        action: {"established": (1000, 10000), "new": (1000, 10000)}
        for action in ("posts", "comments", "dms", "follows", "reports")
    }
    viewer, friend, blocked, muted, stranger = UserFactory.create_batch(5)
    FollowFactory(follower=viewer, followee=friend)
    block(viewer, blocked)
    mute(viewer, muted)
    circle = CircleFactory(owner=friend)
    add_to_circle(circle, viewer)
    posts = [
        content_services.post_create(author=friend, body="سلام 7elw", audience="public"),
        content_services.post_create(author=friend, body="followers", audience="followers"),
        content_services.post_create(author=friend, body="circle", audience="circle", circle_id=circle.pk),
        content_services.post_create(author=blocked, body="blocked", audience="public"),
        content_services.post_create(author=muted, body="muted", audience="public"),
        content_services.post_create(author=stranger, body="stranger", audience="followers"),
        content_services.post_create(author=viewer, body="mine", audience="public"),
    ]
    deleted = content_services.post_create(author=friend, body="gone", audience="public")
    Post.objects.filter(pk=deleted.pk).update(deleted_at=deleted.created_at)
    return viewer, [p.pk for p in posts] + [deleted.pk, 10**15]


@pytest.mark.parametrize("query", ["_RENDER_ROWS_WITH_FACTS", "_RENDER_ROWS"])
@pytest.mark.parametrize("signed_in", [True, False])
def test_prepared_rows_equal_the_querysets_rows(world, query, signed_in):
    viewer, ids = world
    prepared: PreparedQuery = getattr(content_selectors, query)
    vid = viewer.pk if signed_in else None

    for _ in range(3):  # the first run compiles and prepares, later ones reuse the statement
        got = sorted(prepared.run(signed_in, viewer=vid, ids=ids), key=lambda p: p.pk)
        expected = sorted(prepared.queryset(signed_in, viewer=vid, ids=ids), key=lambda p: p.pk)
        assert [p.pk for p in got] == [p.pk for p in expected]
        assert len(got) == 7 if signed_in else 5  # the deleted and unknown ids never come back
        assert [_state(p) for p in got] == [_state(p) for p in expected]
        if query == "_RENDER_ROWS_WITH_FACTS":
            assert all(isinstance(p.policy_facts, list) and len(p.policy_facts) == 9 for p in got)


def test_posts_visible_by_ids_still_applies_the_policy(world):
    viewer, ids = world
    bodies = {p.body for p in content_selectors.posts_visible_by_ids(viewer=viewer, post_ids=ids, exclude_muted=True)}
    assert bodies == {"سلام 7elw", "followers", "circle", "mine"}
    anonymous = {p.body for p in content_selectors.posts_visible_by_ids(viewer=AnonymousUser(), post_ids=ids)}
    assert anonymous == {"سلام 7elw", "blocked", "muted", "mine"}


def test_posts_visible_by_ids_drops_ids_outside_bigint(world):
    viewer, ids = world
    posts = content_selectors.posts_visible_by_ids(viewer=viewer, post_ids=[ids[0], 1 << 63, 1 << 70, -4, 0])
    assert [p.pk for p in posts] == [ids[0]]


def test_runs_in_the_callers_transaction_and_is_counted(world):
    viewer, ids = world
    # pytest-django wraps the test in a transaction: rows written above are not committed, so
    # finding them proves the statement ran on Django's connection, in that transaction.
    with CaptureQueriesContext(connection) as ctx:
        rows = content_selectors._RENDER_ROWS.run(True, viewer=viewer.pk, ids=ids)
    assert len(rows) == 7
    assert len(ctx.captured_queries) == 1 and ctx.captured_queries[0]["sql"].startswith("/* prepared */")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       [f'%FROM "{Post._meta.db_table}"%'])
        assert cursor.fetchone()[0] >= 1


def test_database_errors_are_djangos():
    with pytest.raises(DataError):
        content_selectors._RENDER_ROWS.run(True, viewer=1, ids=["not a number"])


def test_compile_refuses_values_not_bound_as_slots():
    # An array slot given to `__in` would be expanded by Django, fixing the statement's shape.
    expanded = PreparedQuery(lambda variant, slots: User.objects.filter(pk__in=slots.value("ids", array=True)))
    with pytest.raises(ValueError, match="array"):
        expanded.compile("v")

    unused = PreparedQuery(lambda variant, slots: (slots.value("lost"), User.objects.filter(pk=1))[1])
    with pytest.raises(ValueError, match="lost"):
        unused.compile("v")


def test_array_and_int_slots_bind_new_values_each_run():
    users = UserFactory.create_batch(3)
    query = PreparedQuery(lambda variant, slots: User.objects.filter(
        RawSQL('"accounts_user"."id" = ANY(%s::bigint[])', [slots.value("ids", array=True)],
               output_field=BooleanField())).exclude(pk=slots.value("not")).order_by("pk"))

    assert [u.pk for u in query.run("v", ids=[u.pk for u in users], **{"not": users[0].pk})] == sorted(
        u.pk for u in users[1:])
    assert [u.pk for u in query.run("v", ids=[users[0].pk], **{"not": users[1].pk})] == [users[0].pk]


def test_small_integer_columns_take_small_slots():
    # given: accounts on shards 0..2 of one owner (`shard` is a PositiveSmallIntegerField)
    from wallet.models import Account

    owner = UserFactory()
    for shard in range(3):
        Account.objects.create(owner=owner, kind="earnings", shard=shard, currency="EGP")

    # then: a plain slot is out of the column's range, which Django compiles to nothing
    plain = PreparedQuery(lambda variant, slots: Account.objects.filter(owner_id=slots.value("o"), shard=slots.value("s")))
    with pytest.raises(ValueError, match="small=True"):
        plain.compile("v")

    # and a small slot binds each run's value
    small = PreparedQuery(lambda variant, slots: Account.objects.filter(
        owner_id=slots.value("o"), shard=slots.value("s", small=True)))
    assert [a.shard for a in small.run("v", o=owner.pk, s=2)] == [2]
    assert [a.shard for a in small.run("v", o=owner.pk, s=0)] == [0]
    assert small.run("v", o=owner.pk, s=7) == []


def test_execute_prepared_returns_rows_only_for_statements_that_produce_them(django_assert_num_queries):
    with django_assert_num_queries(3):
        assert execute_prepared("SELECT %s::bigint + 1, 'x'", [41]) == [(42, "x")]
        assert execute_prepared("SELECT 1 WHERE %s::bigint < 0", [5]) == []  # tuples, none of them
        # a statement without a result set (no RETURNING) gives [], not an error
        assert execute_prepared("UPDATE accounts_user SET handle = handle WHERE id = %s::bigint", [-1]) == []
