"""GraphQL for the social graph: the same selectors and services as the REST API.

Queries raise our ApplicationError (rendered as a GraphQL error whose
`extensions.code` is the error code, e.g. "not_found", "private_account"); mutations
return a typed `errors` list (DairaMutation). Ids are GraphQL `ID`s (strings).
"""

from __future__ import annotations

import graphene

from daira.lib.errors import Invalid, NotFound
from daira.lib.graphql import DairaMutation, require_user
from daira.lib.pagination import parse_limit
from social import policy, selectors, services

MAX_ID = (1 << 63) - 1


class SocialUser(graphene.ObjectType):
    """A person as lists show them (the full profile is accounts' `user` query)."""

    id = graphene.ID(required=True)
    handle = graphene.String(required=True)
    display_name = graphene.String(required=True)
    is_private = graphene.Boolean(required=True)
    avatar = graphene.JSONString(required=True)

    @staticmethod
    def resolve_display_name(user, info):
        profile = getattr(user, "profile", None)
        return profile.display_name if profile else ""

    @staticmethod
    def resolve_avatar(user, info):
        profile = getattr(user, "profile", None)
        return profile.avatar if profile else {}


class PersonRow(graphene.ObjectType):
    id = graphene.ID(required=True, description="Relation row id (the cursor key)")
    user = graphene.Field(SocialUser, required=True)
    since = graphene.DateTime(required=True)
    is_following = graphene.Boolean(required=True)
    requested = graphene.Boolean(required=True)
    posts = graphene.Boolean(description="Mutes only: posts muted")
    stories = graphene.Boolean(description="Mutes only: stories muted")


class PersonPage(graphene.ObjectType):
    results = graphene.List(graphene.NonNull(PersonRow), required=True)
    next_cursor = graphene.String()


class Circle(graphene.ObjectType):
    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    member_count = graphene.Int(required=True)
    created_at = graphene.DateTime(required=True)


class CirclePage(graphene.ObjectType):
    results = graphene.List(graphene.NonNull(Circle), required=True)
    next_cursor = graphene.String()


class Relationship(graphene.ObjectType):
    is_following = graphene.Boolean(required=True)
    follows_you = graphene.Boolean(required=True)
    requested = graphene.Boolean(required=True)
    is_friend = graphene.Boolean(required=True)
    friend_requested = graphene.Boolean(required=True)
    friend_request_received = graphene.Boolean(required=True)
    is_blocking = graphene.Boolean(required=True)
    is_muting_posts = graphene.Boolean(required=True)
    is_muting_stories = graphene.Boolean(required=True)
    is_close_friend = graphene.Boolean(required=True)


class PeopleSuggestion(graphene.ObjectType):
    user = graphene.Field(SocialUser, required=True)
    mutual_count = graphene.Int(required=True)


def _people(info, page, user_attr: str) -> PersonPage:
    rows = selectors.person_rows(viewer=info.context.user, rows=page.items, user_attr=user_attr)
    return PersonPage(results=rows, next_cursor=page.next_cursor)


def _page_args(cursor, limit) -> dict:
    return {"cursor": cursor, "limit": parse_limit(limit)}


def _parse_id(raw, *, field: str) -> int:
    try:
        value = int(str(raw))
    except (TypeError, ValueError):
        raise Invalid("Not a valid id.", field=field) from None
    if not 0 < value <= MAX_ID:
        raise Invalid("Not a valid id.", field=field)
    return value


def _circle_id(raw) -> int:
    try:
        return _parse_id(raw, field="circle_id")
    except Invalid:
        raise NotFound("Circle not found.") from None


def _target(info, handle: str):
    return selectors.user_get_visible(viewer=info.context.user, handle=handle)


PAGE_ARGS = {"cursor": graphene.String(), "limit": graphene.Int()}


class Query(graphene.ObjectType):
    followers = graphene.Field(PersonPage, required=True, handle=graphene.String(required=True), **PAGE_ARGS)
    following = graphene.Field(PersonPage, required=True, handle=graphene.String(required=True), **PAGE_ARGS)
    friends = graphene.Field(PersonPage, required=True, handle=graphene.String(required=True), **PAGE_ARGS)
    relationship = graphene.Field(Relationship, required=True, handle=graphene.String(required=True))
    follow_requests = graphene.Field(PersonPage, required=True, **PAGE_ARGS)
    sent_follow_requests = graphene.Field(PersonPage, required=True, **PAGE_ARGS)
    friend_requests = graphene.Field(PersonPage, required=True, **PAGE_ARGS)
    sent_friend_requests = graphene.Field(PersonPage, required=True, **PAGE_ARGS)
    blocked_users = graphene.Field(PersonPage, required=True, **PAGE_ARGS)
    muted_users = graphene.Field(PersonPage, required=True, **PAGE_ARGS)
    close_friends = graphene.Field(PersonPage, required=True, **PAGE_ARGS)
    circles = graphene.Field(CirclePage, required=True, **PAGE_ARGS)
    circle = graphene.Field(Circle, required=True, id=graphene.ID(required=True))
    circle_members = graphene.Field(PersonPage, required=True, circle_id=graphene.ID(required=True), **PAGE_ARGS)
    people_you_may_know = graphene.List(graphene.NonNull(PeopleSuggestion), required=True, limit=graphene.Int())

    @staticmethod
    def resolve_followers(root, info, handle, cursor=None, limit=None):
        page = selectors.follower_list(viewer=info.context.user, user=_target(info, handle), **_page_args(cursor, limit))
        return _people(info, page, "follower")

    @staticmethod
    def resolve_following(root, info, handle, cursor=None, limit=None):
        page = selectors.following_list(viewer=info.context.user, user=_target(info, handle), **_page_args(cursor, limit))
        return _people(info, page, "followee")

    @staticmethod
    def resolve_friends(root, info, handle, cursor=None, limit=None):
        page = selectors.friend_list(viewer=info.context.user, user=_target(info, handle), **_page_args(cursor, limit))
        return _people(info, page, "friend")

    @staticmethod
    def resolve_relationship(root, info, handle):
        rel = policy.relationship(require_user(info), _target(info, handle))
        return Relationship(
            is_following=rel.following,
            follows_you=rel.followed_by,
            requested=rel.requested,
            is_friend=rel.friends,
            friend_requested=rel.friend_requested,
            friend_request_received=rel.friend_requested_by,
            is_blocking=rel.blocking,
            is_muting_posts=rel.muting_posts,
            is_muting_stories=rel.muting_stories,
            is_close_friend=rel.in_close_friends,
        )

    @staticmethod
    def resolve_follow_requests(root, info, cursor=None, limit=None):
        page = selectors.follow_request_list_incoming(actor=require_user(info), **_page_args(cursor, limit))
        return _people(info, page, "requester")

    @staticmethod
    def resolve_sent_follow_requests(root, info, cursor=None, limit=None):
        page = selectors.follow_request_list_outgoing(actor=require_user(info), **_page_args(cursor, limit))
        return _people(info, page, "target")

    @staticmethod
    def resolve_friend_requests(root, info, cursor=None, limit=None):
        page = selectors.friend_request_list_incoming(actor=require_user(info), **_page_args(cursor, limit))
        return _people(info, page, "from_user")

    @staticmethod
    def resolve_sent_friend_requests(root, info, cursor=None, limit=None):
        page = selectors.friend_request_list_outgoing(actor=require_user(info), **_page_args(cursor, limit))
        return _people(info, page, "to_user")

    @staticmethod
    def resolve_blocked_users(root, info, cursor=None, limit=None):
        page = selectors.block_list(actor=require_user(info), **_page_args(cursor, limit))
        return _people(info, page, "blocked")

    @staticmethod
    def resolve_muted_users(root, info, cursor=None, limit=None):
        page = selectors.mute_list(actor=require_user(info), **_page_args(cursor, limit))
        return _people(info, page, "muted")

    @staticmethod
    def resolve_close_friends(root, info, cursor=None, limit=None):
        page = selectors.close_friend_list(actor=require_user(info), **_page_args(cursor, limit))
        return _people(info, page, "member")

    @staticmethod
    def resolve_circles(root, info, cursor=None, limit=None):
        page = selectors.circle_list(actor=require_user(info), **_page_args(cursor, limit))
        return CirclePage(results=page.items, next_cursor=page.next_cursor)

    @staticmethod
    def resolve_circle(root, info, id):
        return selectors.circle_get_owned(actor=require_user(info), circle_id=_circle_id(id))

    @staticmethod
    def resolve_circle_members(root, info, circle_id, cursor=None, limit=None):
        page = selectors.circle_member_list(
            actor=require_user(info), circle_id=_circle_id(circle_id), **_page_args(cursor, limit)
        )
        return _people(info, page, "member")

    @staticmethod
    def resolve_people_you_may_know(root, info, limit=None):
        return selectors.people_you_may_know(viewer=require_user(info), limit=parse_limit(limit))


# --- mutations ----------------------------------------------------------------------------
class _HandleMutation(DairaMutation):
    class Meta:
        abstract = True

    class Arguments:
        handle = graphene.String(required=True)


class FollowCreate(_HandleMutation):
    """Follow a user, or ask to when the account is private. status: following | requested."""

    status = graphene.String()

    @classmethod
    def perform(cls, root, info, *, handle):
        return cls(status=services.follow_create(actor=info.context.user, target=_target(info, handle)))


class FollowDelete(_HandleMutation):
    """Unfollow (also cancels a pending request)."""

    status = graphene.String()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.follow_delete(actor=info.context.user, target=_target(info, handle))
        return cls(status=services.NONE)


class FollowerRemove(_HandleMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.follower_remove(actor=info.context.user, follower=_target(info, handle))
        return cls(ok=True)


class FollowRequestAccept(_HandleMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.follow_request_accept(actor=info.context.user, requester=_target(info, handle))
        return cls(ok=True)


class FollowRequestReject(_HandleMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.follow_request_reject(actor=info.context.user, requester=_target(info, handle))
        return cls(ok=True)


class FollowRequestCancel(_HandleMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.follow_request_cancel(actor=info.context.user, target=_target(info, handle))
        return cls(ok=True)


class FriendRequestCreate(_HandleMutation):
    """Send a friend request. status: requested | friends (when they had asked you)."""

    status = graphene.String()

    @classmethod
    def perform(cls, root, info, *, handle):
        return cls(status=services.friend_request_create(actor=info.context.user, target=_target(info, handle)))


class FriendRequestAccept(_HandleMutation):
    status = graphene.String()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.friend_request_accept(actor=info.context.user, from_user=_target(info, handle))
        return cls(status=services.FRIENDS)


class FriendRequestReject(_HandleMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.friend_request_reject(actor=info.context.user, from_user=_target(info, handle))
        return cls(ok=True)


class FriendRequestCancel(_HandleMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.friend_request_cancel(actor=info.context.user, target=_target(info, handle))
        return cls(ok=True)


class FriendshipDelete(_HandleMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.friendship_delete(actor=info.context.user, friend=_target(info, handle))
        return cls(ok=True)


class CloseFriendAdd(_HandleMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.close_friend_add(actor=info.context.user, member=_target(info, handle))
        return cls(ok=True)


class CloseFriendRemove(_HandleMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.close_friend_remove(actor=info.context.user, member=_target(info, handle))
        return cls(ok=True)


class BlockCreate(_HandleMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.block_create(actor=info.context.user, target=selectors.user_get_for_blocking(handle=handle))
        return cls(ok=True)


class BlockDelete(_HandleMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.block_delete(actor=info.context.user, target=selectors.user_get_for_blocking(handle=handle))
        return cls(ok=True)


class MuteCreate(DairaMutation):
    class Arguments:
        handle = graphene.String(required=True)
        posts = graphene.Boolean()
        stories = graphene.Boolean()

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle, posts=None, stories=None):
        services.mute_create(
            actor=info.context.user,
            target=_target(info, handle),
            posts=True if posts is None else posts,
            stories=True if stories is None else stories,
        )
        return cls(ok=True)


class MuteDelete(_HandleMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, handle):
        services.mute_delete(actor=info.context.user, target=selectors.user_get_for_blocking(handle=handle))
        return cls(ok=True)


class CircleCreate(DairaMutation):
    class Arguments:
        name = graphene.String(required=True)

    circle = graphene.Field(Circle)

    @classmethod
    def perform(cls, root, info, *, name):
        return cls(circle=services.circle_create(actor=info.context.user, name=name))


class CircleRename(DairaMutation):
    class Arguments:
        id = graphene.ID(required=True)
        name = graphene.String(required=True)

    circle = graphene.Field(Circle)

    @classmethod
    def perform(cls, root, info, *, id, name):
        return cls(circle=services.circle_rename(actor=info.context.user, circle_id=_circle_id(id), name=name))


class CircleDelete(DairaMutation):
    class Arguments:
        id = graphene.ID(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, id):
        services.circle_delete(actor=info.context.user, circle_id=_circle_id(id))
        return cls(ok=True)


class CircleMembersAdd(DairaMutation):
    class Arguments:
        circle_id = graphene.ID(required=True)
        # No default_value for lists (shared object; see STYLE.md example (c)).
        user_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)

    circle = graphene.Field(Circle)

    @classmethod
    def perform(cls, root, info, *, circle_id, user_ids):
        if len(user_ids) > services.CIRCLE_MEMBERS_MAX:
            raise Invalid(f"A circle holds at most {services.CIRCLE_MEMBERS_MAX:,} members.", field="user_ids")
        circle = services.circle_members_add(
            actor=info.context.user,
            circle_id=_circle_id(circle_id),
            user_ids=[_parse_id(u, field="user_ids") for u in user_ids],
        )
        return cls(circle=circle)


class CircleMembersRemove(DairaMutation):
    class Arguments:
        circle_id = graphene.ID(required=True)
        user_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)

    circle = graphene.Field(Circle)

    @classmethod
    def perform(cls, root, info, *, circle_id, user_ids):
        circle = services.circle_members_remove(
            actor=info.context.user,
            circle_id=_circle_id(circle_id),
            user_ids=[_parse_id(u, field="user_ids") for u in user_ids],
        )
        return cls(circle=circle)


class Mutation(graphene.ObjectType):
    follow_create = FollowCreate.Field()
    follow_delete = FollowDelete.Field()
    follower_remove = FollowerRemove.Field()
    follow_request_accept = FollowRequestAccept.Field()
    follow_request_reject = FollowRequestReject.Field()
    follow_request_cancel = FollowRequestCancel.Field()
    friend_request_create = FriendRequestCreate.Field()
    friend_request_accept = FriendRequestAccept.Field()
    friend_request_reject = FriendRequestReject.Field()
    friend_request_cancel = FriendRequestCancel.Field()
    friendship_delete = FriendshipDelete.Field()
    close_friend_add = CloseFriendAdd.Field()
    close_friend_remove = CloseFriendRemove.Field()
    circle_create = CircleCreate.Field()
    circle_rename = CircleRename.Field()
    circle_delete = CircleDelete.Field()
    circle_members_add = CircleMembersAdd.Field()
    circle_members_remove = CircleMembersRemove.Field()
    block_create = BlockCreate.Field()
    block_delete = BlockDelete.Field()
    mute_create = MuteCreate.Field()
    mute_delete = MuteDelete.Field()
