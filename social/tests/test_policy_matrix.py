"""The policy matrix: every audience × relationship × modifier, through BOTH forms of the
policy (the predicate `can_view_content` and the SQL `content_visible_q`), which must
agree with each other and with the expected table below.

The SQL form is evaluated on the author's User row annotated with an `audience` and a
`circle` column (author_field=""), exactly as content will use it on posts and stories.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db.models import BigIntegerField, CharField, Value

from accounts.models import User
from accounts.tests.factories import UserFactory
from social import policy
from social.models import AccountFlag, Follow
from social.tests.factories import CircleFactory, add_close_friend, add_to_circle, block, make_friends, mute

pytestmark = pytest.mark.django_db

AUDIENCES = (policy.PUBLIC, policy.FOLLOWERS, policy.FRIENDS, policy.CLOSE_FRIENDS, policy.CIRCLE)
ALL = frozenset(AUDIENCES)
NONE = frozenset()

RELATIONSHIPS = (
    "anonymous",
    "stranger",
    "follower",
    "friend",  # friends, but does not follow
    "friend_follower",
    "close_friend",  # follows, and is on the author's close-friends list
    "circle_member",  # follows, and is in the author's circle
    "self",
)

BASE = {
    "anonymous": frozenset({"public"}),
    "stranger": frozenset({"public"}),
    "follower": frozenset({"public", "followers"}),
    "friend": frozenset({"public", "friends"}),
    "friend_follower": frozenset({"public", "followers", "friends"}),
    "close_friend": frozenset({"public", "followers", "close_friends"}),
    "circle_member": frozenset({"public", "followers", "circle"}),
    "self": ALL,
}
ONLY_SELF = {relationship: NONE for relationship in RELATIONSHIPS} | {"self": ALL}
BLOCKED = ONLY_SELF | {"anonymous": frozenset({"public"})}  # a logged-out viewer cannot be blocked
EXPECTED = {
    "none": BASE,
    "muted_by_viewer": BASE,  # mutes only filter feeds (exclude_muted_q), never visibility
    "private": BASE | {"anonymous": NONE, "stranger": NONE, "friend": NONE},
    "author_blocks_viewer": BLOCKED,
    "viewer_blocks_author": BLOCKED,
    "shadowbanned": BASE | {"anonymous": NONE, "stranger": NONE, "friend": NONE},
    "suspended": ONLY_SELF,
    "deactivated": ONLY_SELF,
}


def _setup(relationship: str, modifier: str):
    author = UserFactory()
    circle = CircleFactory(owner=author)
    if relationship == "self":
        viewer = author
    elif relationship == "anonymous":
        viewer = None
    else:
        viewer = UserFactory()
    if relationship in ("follower", "friend_follower", "close_friend", "circle_member"):
        Follow.objects.create(follower=viewer, followee=author)
    if relationship in ("friend", "friend_follower"):
        make_friends(author, viewer)
    if relationship == "close_friend":
        add_close_friend(author, viewer)
    if relationship == "circle_member":
        add_to_circle(circle, viewer)
    other = viewer if isinstance(viewer, User) and viewer.pk != author.pk else None
    if modifier == "private":
        User.objects.filter(pk=author.pk).update(is_private=True)
    if modifier == "suspended":
        User.objects.filter(pk=author.pk).update(status=User.Status.SUSPENDED)
    if modifier == "deactivated":
        User.objects.filter(pk=author.pk).update(status=User.Status.DEACTIVATED)
    if modifier == "shadowbanned":
        AccountFlag.objects.create(user=author, shadowbanned=True)
    if modifier == "author_blocks_viewer" and other:
        block(author, other)
    if modifier == "viewer_blocks_author" and other:
        block(other, author)
    if modifier == "muted_by_viewer" and other:
        mute(other, author)
    author.refresh_from_db()
    return viewer, author, circle


def _visible_by_predicate(viewer, author, circle) -> frozenset:
    return frozenset(a for a in AUDIENCES if policy.can_view_content(viewer, author, a, circle_id=circle.pk))


def _visible_by_batch(viewer, author, circle, assert_queries) -> frozenset:
    # the ids-first form (feeds, search): facts for a page in one query + one for circles,
    # then no query per row
    with assert_queries(2 if policy.viewer_id(viewer) is not None else 1):
        rels = policy.content_relationships(viewer, [author.pk], [circle.pk])
    with assert_queries(0):
        return frozenset(
            a for a in AUDIENCES if policy.can_view_content(viewer, author, a, circle.pk, rel=rels[author.pk])
        )


def _visible_by_sql(viewer, author, circle) -> frozenset:
    rows = User.objects.filter(pk=author.pk).annotate(
        circle=Value(circle.pk, output_field=BigIntegerField())
    )
    return frozenset(
        audience
        for audience in AUDIENCES
        if rows.annotate(audience=Value(audience, output_field=CharField()))
        .filter(policy.content_visible_q(viewer, author_field="", audience_field="audience", circle_field="circle"))
        .exists()
    )


@pytest.mark.parametrize("modifier", list(EXPECTED))
@pytest.mark.parametrize("relationship", RELATIONSHIPS)
def test_content_visibility_matrix(relationship, modifier, django_assert_num_queries):
    # given
    viewer, author, circle = _setup(relationship, modifier)

    # when
    by_predicate = _visible_by_predicate(viewer, author, circle)
    by_sql = _visible_by_sql(viewer, author, circle)
    by_batch = _visible_by_batch(viewer, author, circle, django_assert_num_queries)
    public_by_author = author.pk in policy.authors_with_visible_public_posts(viewer, [author.pk])

    # then
    expected = EXPECTED[modifier][relationship]
    assert by_predicate == expected
    assert by_sql == expected
    assert by_batch == expected
    assert public_by_author == (policy.PUBLIC in expected)


def test_anonymous_user_object_is_the_same_as_none():
    # given
    viewer, author, circle = _setup("stranger", "none")

    # then
    assert _visible_by_predicate(AnonymousUser(), author, circle) == frozenset({"public"})
    assert _visible_by_sql(AnonymousUser(), author, circle) == frozenset({"public"})


def test_circle_audience_needs_the_authors_own_circle():
    # given: the viewer is in a circle of someone else, and the post names that circle
    author = UserFactory()
    viewer = UserFactory()
    Follow.objects.create(follower=viewer, followee=author)
    foreign_circle = CircleFactory()
    add_to_circle(foreign_circle, viewer)

    # then
    assert policy.can_view_content(viewer, author, policy.CIRCLE, circle_id=foreign_circle.pk) is False
    assert _visible_by_sql(viewer, author, foreign_circle) == frozenset({"public", "followers"})
    rels = policy.content_relationships(viewer, [author.pk], [foreign_circle.pk])
    assert policy.can_view_content(viewer, author, policy.CIRCLE, foreign_circle.pk, rel=rels[author.pk]) is False


def test_unknown_audience_is_visible_to_the_author_only():
    author = UserFactory()
    viewer = UserFactory()
    Follow.objects.create(follower=viewer, followee=author)

    assert policy.can_view_content(viewer, author, "mystery") is False
    assert policy.can_view_content(author, author, "mystery") is True


def test_registered_audience_rule_applies_in_both_forms():
    # given: a higher app registers an audience (here: people the author follows back).
    # A test-only name, so the real rules registered by installed apps stay untouched.
    from django.db.models import Q

    def predicate(viewer, author):
        return Follow.objects.filter(follower=author, followee=viewer).exists()

    def q_builder(viewer_id, author_field):
        return Q(**{f"{author_field or 'pk'}__in": Follow.objects.filter(followee_id=viewer_id).values("follower_id")})

    policy.register_audience_rule("test_followed_back", predicate, q_builder)
    try:
        author, insider, outsider = UserFactory(), UserFactory(), UserFactory()
        Follow.objects.create(follower=author, followee=insider)
        rows = User.objects.filter(pk=author.pk).annotate(
            audience=Value("test_followed_back", output_field=CharField()), circle=Value(None, output_field=BigIntegerField())
        )

        # then
        assert "test_followed_back" in policy.audience_names()
        assert policy.can_view_content(insider, author, "test_followed_back") is True
        assert policy.can_view_content(outsider, author, "test_followed_back") is False
        assert rows.filter(policy.content_visible_q(insider, "", "audience", "circle")).exists() is True
        assert rows.filter(policy.content_visible_q(outsider, "", "audience", "circle")).exists() is False
    finally:
        policy._AUDIENCE_RULES.pop("test_followed_back", None)


def test_register_audience_rule_refuses_builtin_names():
    with pytest.raises(ValueError):
        policy.register_audience_rule("public", lambda v, a: True, lambda v, f: None)
