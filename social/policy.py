"""The visibility policy: the ONE place that answers "may viewer V see / do this?".

Every read path in every app uses these helpers (DESIGN.md rule 3): a selector that
skips them is a security bug. Two forms of the same rules live here and are tested to
agree over the whole audience × relationship matrix (social/tests/test_policy_matrix.py):

- predicates for one object (`can_view_profile`, `can_view_content`, `can_follow`,
  `can_message`, `can_mention`, `can_comment`, `is_blocked_either_way`), and
- SQL building blocks returning Django `Q` objects parameterised by field names
  (`visible_users_q`, `visible_author_ids_q`, `content_visible_q`, `exclude_muted_q`,
  `discovery_q`), so lists filter in one query with subqueries and no N+1.

Viewers: a `User`, or `None` / `AnonymousUser` for logged-out requests. Owners and
authors: `User` instances (their `status` and `is_private` columns are read).

The rules
---------
1. Blocks hide both people from each other everywhere (either direction).
2. Suspended and deactivated accounts are invisible to everyone but themselves.
3. A private account shows its header and counts to everyone it does not block, but its
   content (posts, stories, follower/following lists) only to approved followers.
   Friends, close friends and circle members of a private account must also follow it
   to see anything: "non-followers see the profile header and counts only" (issue 4).
4. Audiences narrow further: public (anyone allowed by 1-3), followers, friends, close
   friends (members of the author's list), circle (members of that circle, which must
   belong to the author). Higher apps add audiences with `register_audience_rule`
   (e.g. wallet's "subscribers"); the policy never imports them.
5. Shadowbanned accounts: their content is visible only to themselves and their
   followers (`content_visible_q`), and on discovery surfaces (search, trending,
   explore, For-You, hashtag pages: `discovery_q`) only to themselves.
6. Authors always see their own content, whatever its audience or their state.
7. Logged-out viewers see only public content of public, active, non-shadowbanned accounts.

Mutes never hide anything by themselves: feed selectors opt in with `exclude_muted_q`.

Typical use (content, feeds, search):

    posts = Post.objects.filter(policy.content_visible_q(viewer, "author", "audience", "circle"))
    home = posts.filter(policy.exclude_muted_q(viewer, "author", kind="posts"))
    explore = posts.filter(policy.discovery_q(viewer, "author"))
    people = User.objects.filter(policy.visible_users_q(viewer)).filter(policy.discovery_q(viewer, ""))
    if not policy.can_view_content(viewer, post.author, post.audience, post.circle_id): raise NotFound
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q

from daira.lib.prepared import PreparedQuery, execute_prepared
from social.models import AccountFlag, Block, Circle, CircleMember, CloseFriend, Follow, FollowRequest, FriendRequest, Friendship, Mute

# --- Audiences ------------------------------------------------------------------------
PUBLIC = "public"
FOLLOWERS = "followers"
FRIENDS = "friends"
CLOSE_FRIENDS = "close_friends"
CIRCLE = "circle"
BUILTIN_AUDIENCES = (PUBLIC, FOLLOWERS, FRIENDS, CLOSE_FRIENDS, CIRCLE)

# --- Comment policies (content stores one per post) ----------------------------------
COMMENTS_EVERYONE = "everyone"
COMMENTS_FOLLOWERS = "followers"  # people who follow the author
COMMENTS_FOLLOWING = "following"  # people the author follows
COMMENTS_FRIENDS = "friends"
COMMENTS_OFF = "off"
COMMENT_POLICIES = (COMMENTS_EVERYONE, COMMENTS_FOLLOWERS, COMMENTS_FOLLOWING, COMMENTS_FRIENDS, COMMENTS_OFF)

# --- who_can_message / who_can_mention values (accounts.UserSettings.Audience) -------
EVERYONE = "everyone"
FOLLOWING = "following"
NOBODY = "nobody"

ACTIVE = "active"  # accounts.User.Status.ACTIVE, repeated here to keep Q builders import-light


@dataclass(frozen=True)
class AudienceRule:
    """A higher app's audience. `predicate(viewer, author) -> bool` and
    `q_builder(viewer_id, author_field) -> Q` must agree; both are only consulted for a
    logged-in viewer who is not the author and passed rules 1-3 and 5 already."""

    name: str
    predicate: Callable
    q_builder: Callable


_AUDIENCE_RULES: dict[str, AudienceRule] = {}


def register_audience_rule(name: str, predicate: Callable, q_builder: Callable) -> None:
    """Register audience `name` (call from the higher app's AppConfig.ready()).

    `predicate(viewer: User, author: User) -> bool`; `q_builder(viewer_id: int,
    author_field: str) -> Q` over the content model, where `author_field` is the path
    to the author FK ("author", or "" when filtering User rows themselves). Raises
    ValueError when `name` is a built-in audience. Re-registering a name replaces it
    (ready() may run twice in tests).
    """
    if name in BUILTIN_AUDIENCES:
        raise ValueError(f"{name!r} is a built-in audience")
    _AUDIENCE_RULES[name] = AudienceRule(name=name, predicate=predicate, q_builder=q_builder)


def audience_names() -> tuple[str, ...]:
    """Every audience a post or story may use: the built-ins, then registered ones."""
    return BUILTIN_AUDIENCES + tuple(_AUDIENCE_RULES)


# --- Viewer helpers -------------------------------------------------------------------
def viewer_id(viewer) -> int | None:
    """The viewer's user id, or None for None / AnonymousUser / unsaved users."""
    if viewer is None or not getattr(viewer, "is_authenticated", False):
        return None
    return viewer.pk


def _is_active(user) -> bool:
    return getattr(user, "status", ACTIVE) == ACTIVE


# --- Relationship (one query) ---------------------------------------------------------
@dataclass
class Relationship:
    """How `viewer` relates to `other`; every flag is False for logged-out viewers.

    following: viewer follows other · followed_by: other follows viewer ·
    requested: viewer asked to follow other (pending) · requested_by: other asked viewer ·
    friends · friend_requested (viewer → other, pending) · friend_requested_by ·
    blocking: viewer blocks other · blocked_by: other blocks viewer ·
    muting_posts / muting_stories: viewer mutes other ·
    close_friend: viewer is on other's close-friends list ·
    in_close_friends: other is on viewer's list · shadowbanned: other's flag.
    """

    is_self: bool = False
    following: bool = False
    followed_by: bool = False
    requested: bool = False
    requested_by: bool = False
    friends: bool = False
    friend_requested: bool = False
    friend_requested_by: bool = False
    blocking: bool = False
    blocked_by: bool = False
    muting_posts: bool = False
    muting_stories: bool = False
    close_friend: bool = False
    in_close_friends: bool = False
    shadowbanned: bool = False
    circle_ids: set[int] = field(default_factory=set)
    # True when `circle_ids` holds every circle of `other` that the viewer is a member of,
    # among the circles asked about (`content_relationships`): can_view_content then
    # decides circle posts without a query.
    circles_loaded: bool = False

    @property
    def blocked_either_way(self) -> bool:
        return self.blocking or self.blocked_by


def _shadowbanned_exists(user_ref) -> Exists:
    return Exists(AccountFlag.objects.filter(user_id=user_ref, shadowbanned=True))


def relationship(viewer, other) -> Relationship:
    """Every relation between `viewer` and `other` in ONE query.

    `other` is a User (or its id). Logged-out viewers get all-False except `shadowbanned`.
    Circle memberships are not loaded here (see `can_view_content`).
    """
    from accounts.models import User

    other_id = getattr(other, "pk", other)
    vid = viewer_id(viewer)
    if vid is not None and vid == other_id:
        return Relationship(is_self=True)
    pk = OuterRef("pk")
    annotations = {"shadowbanned": _shadowbanned_exists(pk)}
    if vid is not None:
        annotations.update(
            following=Exists(Follow.objects.filter(follower_id=vid, followee_id=pk)),
            followed_by=Exists(Follow.objects.filter(follower_id=pk, followee_id=vid)),
            requested=Exists(FollowRequest.objects.filter(requester_id=vid, target_id=pk)),
            requested_by=Exists(FollowRequest.objects.filter(requester_id=pk, target_id=vid)),
            friends=Exists(Friendship.objects.filter(user_id=vid, friend_id=pk)),
            friend_requested=Exists(FriendRequest.objects.filter(from_user_id=vid, to_user_id=pk)),
            friend_requested_by=Exists(FriendRequest.objects.filter(from_user_id=pk, to_user_id=vid)),
            blocking=Exists(Block.objects.filter(blocker_id=vid, blocked_id=pk)),
            blocked_by=Exists(Block.objects.filter(blocker_id=pk, blocked_id=vid)),
            muting_posts=Exists(Mute.objects.filter(muter_id=vid, muted_id=pk, posts=True)),
            muting_stories=Exists(Mute.objects.filter(muter_id=vid, muted_id=pk, stories=True)),
            close_friend=Exists(CloseFriend.objects.filter(owner_id=pk, member_id=vid)),
            in_close_friends=Exists(CloseFriend.objects.filter(owner_id=vid, member_id=pk)),
        )
    row = User.objects.filter(pk=other_id).annotate(**annotations).values(*annotations).first()
    return Relationship(**row) if row else Relationship()


def relationships(viewer, other_ids: Iterable[int]) -> dict[int, Relationship]:
    """`relationship()` for many users at once, in a fixed number of queries (lists, cards).

    Users not found still get an all-False Relationship. Use it to render "Follow /
    Following / Requested" buttons on list pages without N+1.
    """
    ids = list(dict.fromkeys(int(i) for i in other_ids))
    vid = viewer_id(viewer)
    result = {i: Relationship(is_self=(i == vid)) for i in ids}
    if not ids:
        return result
    for uid in AccountFlag.objects.filter(user_id__in=ids, shadowbanned=True).values_list("user_id", flat=True):
        result[uid].shadowbanned = True
    if vid is None:
        return result
    lookups = [
        ("following", Follow.objects.filter(follower_id=vid, followee_id__in=ids), "followee_id"),
        ("followed_by", Follow.objects.filter(followee_id=vid, follower_id__in=ids), "follower_id"),
        ("requested", FollowRequest.objects.filter(requester_id=vid, target_id__in=ids), "target_id"),
        ("requested_by", FollowRequest.objects.filter(target_id=vid, requester_id__in=ids), "requester_id"),
        ("friends", Friendship.objects.filter(user_id=vid, friend_id__in=ids), "friend_id"),
        ("friend_requested", FriendRequest.objects.filter(from_user_id=vid, to_user_id__in=ids), "to_user_id"),
        ("friend_requested_by", FriendRequest.objects.filter(to_user_id=vid, from_user_id__in=ids), "from_user_id"),
        ("blocking", Block.objects.filter(blocker_id=vid, blocked_id__in=ids), "blocked_id"),
        ("blocked_by", Block.objects.filter(blocked_id=vid, blocker_id__in=ids), "blocker_id"),
        ("close_friend", CloseFriend.objects.filter(member_id=vid, owner_id__in=ids), "owner_id"),
        ("in_close_friends", CloseFriend.objects.filter(owner_id=vid, member_id__in=ids), "member_id"),
    ]
    for attribute, queryset, column in lookups:
        for uid in queryset.values_list(column, flat=True):
            setattr(result[uid], attribute, True)
    for uid, posts, stories in Mute.objects.filter(muter_id=vid, muted_id__in=ids).values_list(
        "muted_id", "posts", "stories"
    ):
        result[uid].muting_posts, result[uid].muting_stories = posts, stories
    return result


# --- Batch facts for content (feeds, search: ids first, then the policy) -----------------
_FACT_NAMES = ("following", "friends", "close_friend", "blocking", "blocked_by", "muting_posts", "muting_stories",
               "shadowbanned")


def _fact_fragments(author: str) -> list[str]:
    """SQL booleans, one per `_FACT_NAMES`, about the user whose id is the SQL expression
    `author`, for the viewer bound as the single parameter `%s` in each fragment (the
    shadowban one has none). Each is an index probe on a unique pair (or a partial index)."""
    t = {m.__name__: m._meta.db_table for m in (Follow, Friendship, CloseFriend, Block, Mute, AccountFlag)}
    return [
        f'EXISTS (SELECT 1 FROM "{t["Follow"]}" x WHERE x.follower_id = %s AND x.followee_id = {author})',
        f'EXISTS (SELECT 1 FROM "{t["Friendship"]}" x WHERE x.user_id = %s AND x.friend_id = {author})',
        f'EXISTS (SELECT 1 FROM "{t["CloseFriend"]}" x WHERE x.owner_id = {author} AND x.member_id = %s)',
        f'EXISTS (SELECT 1 FROM "{t["Block"]}" x WHERE x.blocker_id = %s AND x.blocked_id = {author})',
        f'EXISTS (SELECT 1 FROM "{t["Block"]}" x WHERE x.blocker_id = {author} AND x.blocked_id = %s)',
        f'EXISTS (SELECT 1 FROM "{t["Mute"]}" x WHERE x.muter_id = %s AND x.muted_id = {author} AND x.posts)',
        f'EXISTS (SELECT 1 FROM "{t["Mute"]}" x WHERE x.muter_id = %s AND x.muted_id = {author} AND x.stories)',
        f'EXISTS (SELECT 1 FROM "{t["AccountFlag"]}" x WHERE x.user_id = {author} AND x.shadowbanned)',
    ]


def _circle_fragment(author: str, circle: str) -> str:
    c, cm = Circle._meta.db_table, CircleMember._meta.db_table
    return (f'EXISTS (SELECT 1 FROM "{cm}" x JOIN "{c}" c ON c.id = x.circle_id '
            f"WHERE x.circle_id = {circle} AND x.member_id = %s AND c.owner_id = {author})")


_FACTS_BY_IDS_SQL: str | None = None


def content_relationships(viewer, author_ids: Iterable[int], circle_ids: Iterable[int] = ()) -> dict[int, Relationship]:
    """{author_id: Relationship} with exactly what content visibility, mutes and discovery
    read (following, friends, close_friend, blocks both ways, mutes, shadowbanned) plus
    the viewer's memberships in the given circles (`circles_loaded`), in ONE query for the
    authors (+ one for circles, only when `circle_ids` is not empty).

    For reads that pick ids first (a Redis timeline, search candidates, trending) and then
    apply the policy to a page: `can_view_content(viewer, author, audience, circle_id,
    rel=rels[author.pk])` then decides each row in Python, with the same rules as
    `content_visible_q` (tested to agree over the policy matrix). Pass the authors as
    loaded with the rows (their `status` / `is_private` are read from them).
    Follow requests and the reverse relations are not loaded (always False here).
    To load the facts with the rows themselves instead, see `content_facts_sql`.
    """
    global _FACTS_BY_IDS_SQL
    from django.db import connection

    ids = list(dict.fromkeys(int(i) for i in author_ids))
    vid = viewer_id(viewer)
    result: dict[int, Relationship] = {}
    if not ids:
        return result
    if _FACTS_BY_IDS_SQL is None:
        _FACTS_BY_IDS_SQL = f"SELECT u.id, {', '.join(_fact_fragments('u.id'))} FROM unnest(%s::bigint[]) AS u(id)"
    with connection.cursor() as cursor:
        cursor.execute(_FACTS_BY_IDS_SQL, [vid] * (len(_FACT_NAMES) - 1) + [ids])
        for uid, *facts in cursor.fetchall():
            result[uid] = relationship_from_facts(viewer, uid, facts)
    circles = list(dict.fromkeys(int(c) for c in circle_ids if c is not None))
    if circles and vid is not None:
        for circle_id, owner_id in CircleMember.objects.filter(
            member_id=vid, circle_id__in=circles, circle__owner_id__in=ids
        ).values_list("circle_id", "circle__owner_id"):
            result[owner_id].circle_ids.add(circle_id)
    return result


def content_facts_sql(viewer, author_column: str, circle_column: str) -> tuple[str, list]:
    """(sql, params) of ONE SQL array expression holding every fact `content_relationships`
    loads, for the row's author (`author_column`, a quoted SQL column such as
    '"content_post"."author_id"') and the viewer's membership in the row's circle
    (`circle_column`, the author's own circles only): annotate the rows with it
    (`RawSQL(sql, params)`) and decide each with `relationship_from_facts`, so a page
    costs one query however its ids were chosen."""
    vid = viewer_id(viewer)
    fragments = _fact_fragments(author_column) + [_circle_fragment(author_column, circle_column)]
    return "ARRAY[" + ", ".join(fragments) + "]", [vid] * (len(_FACT_NAMES) - 1) + [vid]


def relationship_from_facts(viewer, author_id: int, facts: Sequence[bool], circle_id: int | None = None) -> Relationship:
    """The Relationship for `content_relationships` rows / `content_facts_sql` arrays
    (a 9th fact, when present, is the viewer's membership in `circle_id`)."""
    vid = viewer_id(viewer)
    if vid is not None and vid == author_id:
        return Relationship(is_self=True, circles_loaded=True)
    rel = Relationship(**dict(zip(_FACT_NAMES, (bool(f) for f in facts))), circles_loaded=True)
    if len(facts) > len(_FACT_NAMES) and facts[len(_FACT_NAMES)] and circle_id is not None and vid is not None:
        rel.circle_ids.add(circle_id)
    return rel


def can_view_content_in_list(viewer, author, audience: str, circle_id: int | None, *, rel: Relationship,
                             exclude_muted: str | None = None, discovery: bool = False) -> bool:
    """`can_view_content` with `rel` from `content_relationships`, plus the list filters
    that `exclude_muted_q(kind=exclude_muted)` and `discovery_q` apply in SQL: mutes of
    `exclude_muted` ("posts" / "stories") and, on discovery surfaces, shadowbanned
    authors (except the viewer). No query (bar a registered audience rule's predicate)."""
    if not can_view_content(viewer, author, audience, circle_id, rel=rel):
        return False
    if rel.is_self:
        return True
    if exclude_muted is not None:
        if exclude_muted not in ("posts", "stories"):
            raise ValueError("exclude_muted must be 'posts' or 'stories'")
        if rel.muting_posts if exclude_muted == "posts" else rel.muting_stories:
            return False
    return not (discovery and rel.shadowbanned)


@dataclass(frozen=True, slots=True)
class _AuthorState:
    """The author columns `can_view_content` reads for a PUBLIC post."""

    pk: int
    status: str
    is_private: bool


_AUTHORS_WITH_FACTS_SQL: str | None = None


def authors_with_visible_public_posts(viewer, author_ids: Iterable[int], *, exclude_muted: str | None = None,
                                     discovery: bool = False) -> set[int]:
    """The authors among `author_ids` whose PUBLIC posts `viewer` may see in a list: the
    decision `can_view_content_in_list(viewer, author, PUBLIC, ...)` takes for every such
    post, made once per author instead of once per row (one prepared statement: the authors'
    status and privacy with the facts `content_relationships` loads). For reads that hold
    many public candidates by few authors (For-You, trending) and only want to drop the
    invisible ones before ranking; each row's own state (deleted, moderation, audience) is
    the caller's to check. Unknown ids are dropped."""
    global _AUTHORS_WITH_FACTS_SQL
    from accounts.models import User

    ids = [i for i in dict.fromkeys(int(i) for i in author_ids) if 0 < i < 1 << 63]
    if not ids:
        return set()
    if _AUTHORS_WITH_FACTS_SQL is None:
        _AUTHORS_WITH_FACTS_SQL = (
            f"SELECT u.id, u.status, u.is_private, {', '.join(_fact_fragments('u.id'))} "
            f'FROM "{User._meta.db_table}" u WHERE u.id = ANY(%s::bigint[])'
        )
    vid = viewer_id(viewer)
    rows = execute_prepared(_AUTHORS_WITH_FACTS_SQL, [vid] * (len(_FACT_NAMES) - 1) + [ids])
    return {
        uid for uid, status, is_private, *facts in rows
        if can_view_content_in_list(viewer, _AuthorState(uid, status, is_private), PUBLIC, None,
                                    rel=relationship_from_facts(viewer, uid, facts), exclude_muted=exclude_muted,
                                    discovery=discovery)
    }


def can_view_user_in_list(viewer, user, *, rel: Relationship, discovery: bool = False) -> bool:
    """`visible_users_q` (and with `discovery`, `discovery_q`) for one loaded user with
    `rel` from `content_relationships`: active, not blocked either way, and on discovery
    surfaces not shadowbanned unless it is the viewer."""
    if rel.is_self:
        return _is_active(user)
    if not _is_active(user) or rel.blocked_either_way:
        return False
    return not (discovery and rel.shadowbanned)


# --- Predicates -----------------------------------------------------------------------
# Asked before every gift, tip and DM: compiled once, a prepared statement (daira/lib/prepared.py).
_BLOCK_EITHER_WAY = PreparedQuery(lambda variant, slots: Block.objects.filter(
    Q(blocker_id=slots.value("a"), blocked_id=slots.value("b"))
    | Q(blocker_id=slots.value("b"), blocked_id=slots.value("a"))).only("pk")[:1])


def is_blocked_either_way(a_id: int | None, b_id: int | None) -> bool:
    """True when a blocks b or b blocks a. False when either is None (logged out)."""
    if a_id is None or b_id is None or a_id == b_id:
        return False
    return bool(_BLOCK_EITHER_WAY.run("pair", a=a_id, b=b_id))


def _user_with_block_state(variant, slots):
    from accounts.models import User

    viewer = slots.value("viewer")
    return User.objects.filter(pk=slots.value("id")).annotate(blocked_either_way=Exists(Block.objects.filter(
        Q(blocker_id=viewer, blocked_id=OuterRef("pk")) | Q(blocker_id=OuterRef("pk"), blocked_id=viewer))))[:1]


# Gifts and tips to a profile load the creator and ask about blocks: one prepared statement.
_USER_WITH_BLOCK_STATE = PreparedQuery(_user_with_block_state)


def user_with_block_state(viewer_id: int, user_id: int):
    """(User `user_id` or None when there is none, whether `viewer_id` and that user block
    each other either way), in one query. The user may be inactive: callers decide."""
    found = _USER_WITH_BLOCK_STATE.run("user", viewer=viewer_id, id=user_id)
    if not found:
        return None, False
    return found[0], bool(found[0].blocked_either_way) and viewer_id != user_id


def can_view_profile(viewer, owner, *, rel: Relationship | None = None) -> bool:
    """May `viewer` see `owner`'s profile header and counts? (Rules 1, 2; private accounts: yes.)

    A False answer must look like "no such user" (404) to the client.
    """
    if viewer_id(viewer) == owner.pk:
        return True
    if not _is_active(owner):
        return False
    rel = rel or relationship(viewer, owner)
    return not rel.blocked_either_way


def can_view_account_content(viewer, owner, *, rel: Relationship | None = None) -> bool:
    """May `viewer` see what is behind a private account's wall (posts grid, follower and
    following lists)? Rules 1-3; shadowbans are not considered here (lists of people)."""
    if viewer_id(viewer) == owner.pk:
        return True
    rel = rel or relationship(viewer, owner)
    if not can_view_profile(viewer, owner, rel=rel):
        return False
    return not owner.is_private or rel.following


def can_view_content(viewer, author, audience: str, circle_id: int | None = None, *, rel: Relationship | None = None) -> bool:
    """May `viewer` see one post/story by `author` addressed to `audience` (rules 1-7)?

    `circle_id` is required for the circle audience (the circle must be the author's).
    Unknown audiences are never visible to anyone but the author (fail closed).
    Moderation state of the content itself (removed, pending) is the content app's check.
    """
    vid = viewer_id(viewer)
    if vid is not None and vid == author.pk:
        return True
    if not _is_active(author):
        return False
    rel = rel or relationship(viewer, author)
    if vid is None:
        return audience == PUBLIC and not author.is_private and not rel.shadowbanned
    if rel.blocked_either_way:
        return False
    if author.is_private and not rel.following:
        return False
    if rel.shadowbanned and not rel.following:
        return False
    if audience == PUBLIC:
        return True
    if audience == FOLLOWERS:
        return rel.following
    if audience == FRIENDS:
        return rel.friends
    if audience == CLOSE_FRIENDS:
        return rel.close_friend
    if audience == CIRCLE:
        if circle_id is None:
            return False
        if rel.circles_loaded:
            return circle_id in rel.circle_ids
        return CircleMember.objects.filter(circle_id=circle_id, circle__owner_id=author.pk, member_id=vid).exists()
    rule = _AUDIENCE_RULES.get(audience)
    return bool(rule and rule.predicate(viewer, author))


def can_follow(viewer, target, *, rel: Relationship | None = None) -> bool:
    """May `viewer` follow (or ask to follow) `target`? Not self, both active, no block."""
    vid = viewer_id(viewer)
    if vid is None or vid == target.pk or not _is_active(viewer) or not _is_active(target):
        return False
    rel = rel or relationship(viewer, target)
    return not rel.blocked_either_way


def can_friend(viewer, target, *, rel: Relationship | None = None) -> bool:
    """May `viewer` send `target` a friend request? Same rule as following."""
    return can_follow(viewer, target, rel=rel)


def _audience_setting_allows(setting: str, *, owner_follows_other: bool, friends: bool) -> bool:
    if setting == EVERYONE:
        return True
    if setting == FOLLOWING:  # "People I follow" — friends count as people I chose
        return owner_follows_other or friends
    return False  # NOBODY, and any unknown value (fail closed)


def _settings_value(user, name: str) -> str:
    from accounts.models import UserSettings

    try:
        return getattr(user.settings, name)
    except UserSettings.DoesNotExist:
        return EVERYONE


def can_message(sender, recipient, *, rel: Relationship | None = None) -> bool:
    """May `sender` start a conversation with / message `recipient`?

    Both active, not self, no block either way, and recipient's
    `UserSettings.who_can_message`: everyone; following (recipient follows sender, or
    they are friends); nobody. Existing-conversation exceptions are messaging's call.
    """
    sid = viewer_id(sender)
    if sid is None or sid == recipient.pk or not _is_active(sender) or not _is_active(recipient):
        return False
    rel = rel or relationship(sender, recipient)
    if rel.blocked_either_way:
        return False
    return _audience_setting_allows(
        _settings_value(recipient, "who_can_message"), owner_follows_other=rel.followed_by, friends=rel.friends
    )


def can_mention(author, mentioned, *, rel: Relationship | None = None) -> bool:
    """May `author` @mention `mentioned` (link + notify)? Same shape as can_message, using
    `who_can_mention`. Mentioning oneself is allowed."""
    aid = viewer_id(author)
    if aid is None or not _is_active(mentioned):
        return False
    if aid == mentioned.pk:
        return True
    rel = rel or relationship(author, mentioned)
    if rel.blocked_either_way:
        return False
    return _audience_setting_allows(
        _settings_value(mentioned, "who_can_mention"), owner_follows_other=rel.followed_by, friends=rel.friends
    )


def can_comment(viewer, author, comment_policy: str, *, rel: Relationship | None = None) -> bool:
    """May `viewer` comment on a post by `author` whose comment policy is `comment_policy`?

    The author may always comment on their own posts, even with comments off (replies
    to existing threads). Otherwise: logged in, active, no block either way, and
    everyone / followers (viewer follows author) / following (author follows viewer) /
    friends / off. Callers check `can_view_content` first; this does not repeat it.
    """
    vid = viewer_id(viewer)
    if vid is None or not _is_active(viewer):
        return False
    if vid == author.pk:
        return True
    if not _is_active(author):
        return False
    rel = rel or relationship(viewer, author)
    if rel.blocked_either_way:
        return False
    if comment_policy == COMMENTS_EVERYONE:
        return True
    if comment_policy == COMMENTS_FOLLOWERS:
        return rel.following
    if comment_policy == COMMENTS_FOLLOWING:
        return rel.followed_by
    if comment_policy == COMMENTS_FRIENDS:
        return rel.friends
    return False


# --- Q building blocks ----------------------------------------------------------------
def _path(prefix: str, name: str) -> str:
    return f"{prefix}__{name}" if prefix else name


def _in(author_field: str) -> str:
    return f"{author_field or 'pk'}__in"


def following_subquery(viewer_id_: int):
    """Ids the viewer follows, as a subquery (`.values("followee_id")`)."""
    return Follow.objects.filter(follower_id=viewer_id_).values("followee_id")


def not_blocked_q(viewer, author_field: str = "author") -> Q:
    """Rows whose user at `author_field` neither blocks nor is blocked by `viewer`.

    `author_field` is the path to a User FK ("author", "comment__author"), or "" to
    filter User rows themselves. Logged-out: no restriction.
    """
    vid = viewer_id(viewer)
    if vid is None:
        return Q()
    return ~Q(**{_in(author_field): Block.objects.filter(blocker_id=vid).values("blocked_id")}) & ~Q(
        **{_in(author_field): Block.objects.filter(blocked_id=vid).values("blocker_id")}
    )


def visible_users_q(viewer, user_field: str = "") -> Q:
    """People the viewer may see at all (search results, lists, likers, commenters):
    active and not blocked either way. Private accounts are included (their header is
    public). A logged-in viewer is active (authentication refuses others), so they pass
    their own filter without an OR that would stop Postgres walking the list index."""
    return Q(**{_path(user_field, "status"): ACTIVE}) & not_blocked_q(viewer, user_field)


def visible_author_ids_q(viewer, author_field: str = "author") -> Q:
    """Authors whose content the viewer may see at all (rules 1, 2, 3, 5, 6).

    Active, not blocked either way, public or followed by the viewer, not shadowbanned
    unless followed; the viewer's own rows always pass. Logged-out: public, active,
    non-shadowbanned authors. Combine with an audience filter (`content_visible_q` does).
    """
    vid = viewer_id(viewer)
    author_ref = OuterRef(author_field or "pk")
    shadowbanned = Exists(AccountFlag.objects.filter(user_id=author_ref, shadowbanned=True))
    active = Q(**{_path(author_field, "status"): ACTIVE})
    if vid is None:
        return active & Q(**{_path(author_field, "is_private"): False}) & ~Q(shadowbanned)
    followed = Q(**{_in(author_field): following_subquery(vid)})
    return Q(**{_path(author_field, "pk"): vid}) | (
        active
        & not_blocked_q(viewer, author_field)
        & (Q(**{_path(author_field, "is_private"): False}) | followed)
        & (~Q(shadowbanned) | followed)
    )


def audience_q(viewer, author_field: str = "author", audience_field: str = "audience", circle_field: str = "circle") -> Q:
    """The audience part alone (rule 4) for a logged-in viewer; see `content_visible_q`."""
    vid = viewer_id(viewer)
    if vid is None:
        return Q(**{audience_field: PUBLIC})
    author_in = _in(author_field)
    condition = (
        Q(**{audience_field: PUBLIC})
        | Q(**{audience_field: FOLLOWERS, author_in: following_subquery(vid)})
        | Q(**{audience_field: FRIENDS, author_in: Friendship.objects.filter(user_id=vid).values("friend_id")})
        | Q(**{audience_field: CLOSE_FRIENDS, author_in: CloseFriend.objects.filter(member_id=vid).values("owner_id")})
        | (
            Q(**{audience_field: CIRCLE})
            & Q(
                Exists(
                    CircleMember.objects.filter(
                        member_id=vid,
                        circle_id=OuterRef(circle_field),
                        circle__owner_id=OuterRef(author_field or "pk"),
                    )
                )
            )
        )
    )
    for rule in _AUDIENCE_RULES.values():
        condition |= Q(**{audience_field: rule.name}) & rule.q_builder(vid, author_field)
    return condition


def content_visible_q(
    viewer, author_field: str = "author", audience_field: str = "audience", circle_field: str = "circle"
) -> Q:
    """The full content rule (1-7) as one Q: filter posts/stories with it.

    `author_field`: path to the author FK; `audience_field`: the column holding one of
    `audience_names()`; `circle_field`: the circle FK/id column (used for "circle" rows).
    The author always sees their own rows. Moderation state is the content app's filter.
    """
    vid = viewer_id(viewer)
    visible = visible_author_ids_q(viewer, author_field) & audience_q(viewer, author_field, audience_field, circle_field)
    if vid is None:
        return visible
    return Q(**{_path(author_field, "pk"): vid}) | visible


def exclude_muted_q(viewer, author_field: str = "author", kind: str = "posts") -> Q:
    """Rows NOT by someone the viewer muted for `kind` ("posts" or "stories"); feeds only."""
    if kind not in ("posts", "stories"):
        raise ValueError("kind must be 'posts' or 'stories'")
    vid = viewer_id(viewer)
    if vid is None:
        return Q()
    return ~Q(**{_in(author_field): Mute.objects.filter(muter_id=vid, **{kind: True}).values("muted_id")})


def discovery_q(viewer, author_field: str = "author") -> Q:
    """Extra filter for discovery surfaces (search, trending, explore, For-You, hashtags):
    shadowbanned authors are dropped for everyone except themselves, so the account
    sees nothing unusual. AND it with `content_visible_q` (or `visible_users_q` for
    people search), which already applies blocks, privacy and audiences."""
    vid = viewer_id(viewer)
    not_shadowbanned = ~Q(Exists(AccountFlag.objects.filter(user_id=OuterRef(author_field or "pk"), shadowbanned=True)))
    if vid is None:
        return not_shadowbanned
    return not_shadowbanned | Q(**{_path(author_field, "pk"): vid})
