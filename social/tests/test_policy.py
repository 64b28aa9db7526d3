"""Policy predicates beyond content visibility, the other Q builders, and the accounts hooks."""

from __future__ import annotations

import pytest
from django.db.models import CharField, Value

from accounts import registry
from accounts.models import User, UserSettings
from accounts.tests.factories import UserFactory
from social import hooks, policy, services
from social.models import AccountFlag, Follow
from social.tests.factories import add_close_friend, block, make_friends, mute

pytestmark = pytest.mark.django_db


def set_setting(user, **values) -> None:
    UserSettings.objects.filter(user=user).update(**values)
    user.refresh_from_db()
    user.settings.refresh_from_db()


# --- messaging and mentions -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("setting", "relation", "expected"),
    [
        ("everyone", "none", True),
        ("everyone", "blocked_by_recipient", False),
        ("everyone", "sender_blocks", False),
        ("following", "none", False),
        ("following", "sender_follows_recipient", False),
        ("following", "recipient_follows_sender", True),
        ("following", "friends", True),
        ("nobody", "recipient_follows_sender", False),
        ("nobody", "friends", False),
    ],
)
def test_can_message_and_can_mention(setting, relation, expected):
    # given
    sender, recipient = UserFactory(), UserFactory()
    set_setting(recipient, who_can_message=setting, who_can_mention=setting)
    relations = {
        "none": lambda: None,
        "blocked_by_recipient": lambda: block(recipient, sender),
        "sender_blocks": lambda: block(sender, recipient),
        "sender_follows_recipient": lambda: Follow.objects.create(follower=sender, followee=recipient),
        "recipient_follows_sender": lambda: Follow.objects.create(follower=recipient, followee=sender),
        "friends": lambda: make_friends(sender, recipient),
    }
    relations[relation]()

    # then
    assert policy.can_message(sender, recipient) is expected
    assert policy.can_mention(sender, recipient) is expected


def test_cannot_message_inactive_or_self_or_as_anonymous():
    sender, gone = UserFactory(), UserFactory(status=User.Status.SUSPENDED)

    assert policy.can_message(sender, gone) is False
    assert policy.can_message(sender, sender) is False
    assert policy.can_message(None, sender) is False
    assert policy.can_mention(sender, sender) is True


# --- comments ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("comment_policy", "relation", "expected"),
    [
        ("everyone", "none", True),
        ("everyone", "blocked", False),
        ("followers", "none", False),
        ("followers", "viewer_follows", True),
        ("following", "viewer_follows", False),
        ("following", "author_follows", True),
        ("friends", "author_follows", False),
        ("friends", "friends", True),
        ("off", "friends", False),
        ("bogus", "friends", False),
    ],
)
def test_can_comment(comment_policy, relation, expected):
    viewer, author = UserFactory(), UserFactory()
    relations = {
        "none": lambda: None,
        "blocked": lambda: block(author, viewer),
        "viewer_follows": lambda: Follow.objects.create(follower=viewer, followee=author),
        "author_follows": lambda: Follow.objects.create(follower=author, followee=viewer),
        "friends": lambda: make_friends(viewer, author),
    }
    relations[relation]()

    assert policy.can_comment(viewer, author, comment_policy) is expected


def test_author_may_always_comment_and_anonymous_never():
    author = UserFactory()

    assert policy.can_comment(author, author, policy.COMMENTS_OFF) is True
    assert policy.can_comment(None, author, policy.COMMENTS_EVERYONE) is False


# --- follow / profile --------------------------------------------------------------------------
def test_can_follow_and_can_view_profile():
    alice, bob, gone = UserFactory(), UserFactory(), UserFactory(status=User.Status.DEACTIVATED)
    private = UserFactory(is_private=True)

    assert policy.can_follow(alice, bob) is True
    assert policy.can_follow(alice, alice) is False
    assert policy.can_follow(None, bob) is False
    assert policy.can_follow(alice, gone) is False
    assert policy.can_view_profile(None, private) is True  # header and counts
    assert policy.can_view_account_content(None, private) is False
    assert policy.can_view_profile(alice, gone) is False
    assert policy.can_view_profile(gone, gone) is True

    block(bob, alice)
    assert policy.can_follow(alice, bob) is False
    assert policy.can_view_profile(alice, bob) is False
    assert policy.is_blocked_either_way(alice.pk, bob.pk) is True
    assert policy.is_blocked_either_way(bob.pk, alice.pk) is True
    assert policy.is_blocked_either_way(None, bob.pk) is False


def test_user_with_block_state_reads_the_user_and_blocks_either_way_in_one_query(django_assert_num_queries):
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    block(bob, alice)

    with django_assert_num_queries(1):
        found, blocked = policy.user_with_block_state(alice.pk, bob.pk)
    assert (found.pk, blocked) == (bob.pk, True)
    assert policy.user_with_block_state(bob.pk, alice.pk)[1] is True  # the other way round
    assert policy.user_with_block_state(alice.pk, carol.pk) == (carol, False)
    assert policy.user_with_block_state(alice.pk, alice.pk) == (alice, False)
    assert policy.user_with_block_state(alice.pk, 10**15) == (None, False)


def test_relationship_and_bulk_relationships_agree():
    viewer, a, b, c = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    Follow.objects.create(follower=viewer, followee=a)
    Follow.objects.create(follower=b, followee=viewer)
    make_friends(viewer, b)
    add_close_friend(viewer, c)
    add_close_friend(a, viewer)
    mute(viewer, c, posts=False, stories=True)
    AccountFlag.objects.create(user=b, shadowbanned=True)

    bulk = policy.relationships(viewer, [a.pk, b.pk, c.pk])

    for other in (a, b, c):
        assert bulk[other.pk] == policy.relationship(viewer, other)
    assert (bulk[a.pk].following, bulk[a.pk].close_friend) == (True, True)
    assert (bulk[b.pk].followed_by, bulk[b.pk].friends, bulk[b.pk].shadowbanned) == (True, True, True)
    assert (bulk[c.pk].in_close_friends, bulk[c.pk].muting_posts, bulk[c.pk].muting_stories) == (True, False, True)


# --- Q builders on a real foreign key ---------------------------------------------------------
def test_q_builders_work_through_a_foreign_key_path():
    # given: Follow rows stand in for content rows whose author is `followee`
    viewer, public_author, private_author, muted_author, banned_author = (UserFactory() for _ in range(5))
    User.objects.filter(pk=private_author.pk).update(is_private=True)
    mute(viewer, muted_author, posts=True, stories=False)
    AccountFlag.objects.create(user=banned_author, shadowbanned=True)
    Follow.objects.create(follower=viewer, followee=banned_author)
    carrier = UserFactory()
    for author in (public_author, private_author, muted_author, banned_author):
        Follow.objects.create(follower=carrier, followee=author)
    rows = Follow.objects.filter(follower=carrier).annotate(audience=Value("public", output_field=CharField()))

    def authors(q):
        return set(rows.filter(q).values_list("followee_id", flat=True))

    # then
    assert authors(policy.content_visible_q(viewer, "followee", "audience", "followee")) == {
        public_author.pk,
        muted_author.pk,
        banned_author.pk,
    }
    assert authors(policy.exclude_muted_q(viewer, "followee", kind="posts")) == {
        public_author.pk,
        private_author.pk,
        banned_author.pk,
    }
    assert authors(policy.exclude_muted_q(viewer, "followee", kind="stories")) == {
        public_author.pk,
        private_author.pk,
        muted_author.pk,
        banned_author.pk,
    }
    assert authors(policy.discovery_q(viewer, "followee")) == {public_author.pk, private_author.pk, muted_author.pk}
    assert authors(policy.discovery_q(banned_author, "followee")) == {
        public_author.pk,
        private_author.pk,
        muted_author.pk,
        banned_author.pk,
    }
    assert authors(policy.visible_author_ids_q(None, "followee")) == {public_author.pk, muted_author.pk}


def test_visible_users_q_hides_blocked_and_inactive_but_not_private():
    viewer, blocker, gone, private = UserFactory(), UserFactory(), UserFactory(), UserFactory(is_private=True)
    block(blocker, viewer)
    User.objects.filter(pk=gone.pk).update(status=User.Status.SUSPENDED)
    candidates = User.objects.filter(pk__in=[viewer.pk, blocker.pk, gone.pk, private.pk])

    visible = set(candidates.filter(policy.visible_users_q(viewer)).values_list("pk", flat=True))

    assert visible == {viewer.pk, private.pk}


def test_exclude_muted_q_rejects_unknown_kind():
    with pytest.raises(ValueError):
        policy.exclude_muted_q(None, "author", kind="reels")


# --- accounts plug-ins -------------------------------------------------------------------------
def test_social_registers_its_accounts_plugins():
    assert hooks.profile_extra in registry.profile_extras()
    assert hooks.profile_access_check in registry.profile_access_checks()
    assert registry.export_sections()["social"] is hooks.export_section
    assert hooks.deletion_hook in registry.deletion_hooks()


def test_profile_extra_flags():
    viewer, owner = UserFactory(), UserFactory(is_private=True)
    services.follow_create(actor=viewer, target=owner)

    assert hooks.profile_extra(viewer, owner) == {
        "is_following": False,
        "follows_you": False,
        "is_friend": False,
        "requested": True,
        "friend_requested": False,
        "friend_request_received": False,
        "is_blocking": False,
        "is_muting_posts": False,
        "is_muting_stories": False,
        "is_close_friend": False,
        "content_visible": False,
    }
    assert hooks.profile_extra(None, owner)["content_visible"] is False


def test_profile_access_check_hides_blocked_profiles():
    viewer, owner = UserFactory(), UserFactory()
    block(owner, viewer)

    assert hooks.profile_access_check(viewer, owner) is False
    assert hooks.profile_access_check(None, owner) is True


def test_export_section_lists_the_users_graph():
    user, idol, fan = UserFactory(), UserFactory(), UserFactory()
    services.follow_create(actor=user, target=idol)
    services.follow_create(actor=fan, target=user)
    services.mute_create(actor=user, target=idol, posts=True, stories=False)
    circle = services.circle_create(actor=user, name="Fans")
    services.circle_members_add(actor=user, circle_id=circle.pk, user_ids=[fan.pk])

    data = hooks.export_section(user)

    assert [p["handle"] for p in data["following"]] == [idol.handle]
    assert [p["id"] for p in data["followers"]] == [str(fan.pk)]
    assert [(p["handle"], p["posts"], p["stories"]) for p in data["muted"]] == [(idol.handle, True, False)]
    assert [(c["name"], [m["handle"] for m in c["members"]]) for c in data["circles"]] == [("Fans", [fan.handle])]
    assert (data["friends"], data["blocked"], data["close_friends"]) == ([], [], [])


def test_list_helpers_apply_mutes_and_discovery_on_top_of_the_content_rule(django_assert_num_queries):
    # given: the viewer follows a shadowbanned author they also muted for posts
    from social.models import Mute

    author, viewer = UserFactory(), UserFactory()
    Follow.objects.create(follower=viewer, followee=author)
    AccountFlag.objects.create(user=author, shadowbanned=True)
    Mute.objects.create(muter=viewer, muted=author, posts=True, stories=False)

    # when
    with django_assert_num_queries(1):
        rel = policy.content_relationships(viewer, [author.pk])[author.pk]

    # then: visible (a follower), but not in a feed that excludes post mutes, nor on discovery
    def check(**kwargs):
        return policy.can_view_content_in_list(viewer, author, policy.PUBLIC, None, rel=rel, **kwargs)

    assert (check(), check(exclude_muted="stories"), check(exclude_muted="posts"), check(discovery=True)) == (
        True, True, False, False)
    assert policy.can_view_user_in_list(viewer, author, rel=rel) is True
    assert policy.can_view_user_in_list(viewer, author, rel=rel, discovery=True) is False
    own = policy.content_relationships(author, [author.pk])[author.pk]
    assert policy.can_view_content_in_list(author, author, policy.CIRCLE, None, rel=own, discovery=True) is True


def test_authors_with_visible_public_posts_decides_per_author_in_one_query(django_assert_num_queries):
    # given: a plain author, one the viewer muted for posts, a shadowbanned one the viewer
    # does not follow, one who blocked the viewer, a suspended one and a private stranger
    from social.models import Mute

    viewer = UserFactory()
    plain, muted, banned, blocker, suspended, private = (UserFactory() for _ in range(6))
    Mute.objects.create(muter=viewer, muted=muted, posts=True, stories=False)
    AccountFlag.objects.create(user=banned, shadowbanned=True)
    block(blocker, viewer)
    User.objects.filter(pk=suspended.pk).update(status=User.Status.SUSPENDED)
    User.objects.filter(pk=private.pk).update(is_private=True)
    everyone = [plain.pk, muted.pk, banned.pk, blocker.pk, suspended.pk, private.pk, viewer.pk]

    # when
    with django_assert_num_queries(1):
        visible = policy.authors_with_visible_public_posts(viewer, everyone)
    in_feed = policy.authors_with_visible_public_posts(viewer, everyone, exclude_muted="posts")
    discovery = policy.authors_with_visible_public_posts(viewer, everyone, exclude_muted="posts", discovery=True)
    anonymous = policy.authors_with_visible_public_posts(None, everyone, discovery=True)

    # then
    assert visible == {plain.pk, muted.pk, viewer.pk}
    assert in_feed == {plain.pk, viewer.pk}
    assert discovery == {plain.pk, viewer.pk}
    assert anonymous == {plain.pk, muted.pk, blocker.pk, viewer.pk}
    assert policy.authors_with_visible_public_posts(viewer, []) == set()
    assert policy.authors_with_visible_public_posts(viewer, [10**15, 2**64]) == set()  # unknown, out of range
