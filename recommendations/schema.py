"""Recommendations over GraphQL: the same selectors/services as the REST API (api.py)."""

from __future__ import annotations

import graphene

from content.loaders import loaders_for
from content.schema import PostAuthorType, PostType
from daira.lib.graphql import DairaMutation, require_user
from daira.lib.pagination import parse_limit
from recommendations import selectors, services


class RecItemType(graphene.ObjectType):
    post = graphene.Field(PostType, required=True)
    reason = graphene.String(required=True)


class RecPageType(graphene.ObjectType):
    items = graphene.List(graphene.NonNull(RecItemType), required=True)
    next_cursor = graphene.String()
    source = graphene.String(required=True)


class SuggestedUserType(graphene.ObjectType):
    user = graphene.Field(PostAuthorType, required=True)
    reason = graphene.String(required=True)


class InterestType(graphene.ObjectType):
    slot = graphene.Int(required=True)
    label = graphene.String(required=True)
    weight = graphene.Float(required=True)


def _page(page: selectors.RecPage, info) -> RecPageType:
    loaders_for(info).prime_posts([i.post for i in page.items])
    return RecPageType(items=page.items, next_cursor=page.next_cursor, source=page.source)


class Query(graphene.ObjectType):
    for_you = graphene.Field(RecPageType, required=True, first=graphene.Int(), after=graphene.String())
    similar_posts = graphene.Field(RecPageType, required=True, post_id=graphene.ID(required=True),
                                   first=graphene.Int(), after=graphene.String())
    suggested_users = graphene.List(graphene.NonNull(SuggestedUserType), required=True, first=graphene.Int())
    my_interests = graphene.List(graphene.NonNull(InterestType), required=True)

    @staticmethod
    def resolve_for_you(root, info, first=None, after=None):
        return _page(selectors.for_you(viewer=info.context.user, cursor=after, limit=parse_limit(first)), info)

    @staticmethod
    def resolve_similar_posts(root, info, post_id, first=None, after=None):
        return _page(selectors.similar_posts(viewer=info.context.user, post_id=post_id, cursor=after,
                                             limit=parse_limit(first)), info)

    @staticmethod
    def resolve_suggested_users(root, info, first=None):
        rows = selectors.suggested_users(viewer=info.context.user, limit=parse_limit(first, maximum=50))
        return [SuggestedUserType(user=row.user, reason=row.reason) for row in rows]

    @staticmethod
    def resolve_my_interests(root, info):
        user = require_user(info)
        return [InterestType(**{k: r[k] for k in ("slot", "label", "weight")})
                for r in selectors.user_interests(user_id=user.pk)]


class InterestsSeed(DairaMutation):
    class Arguments:
        topics = graphene.List(graphene.NonNull(graphene.String), required=True)

    interests = graphene.List(graphene.NonNull(InterestType))

    @classmethod
    def perform(cls, root, info, *, topics):
        rows = services.interests_seed(actor=info.context.user, topics=topics)
        return cls(interests=[InterestType(slot=r.slot, label=r.label, weight=r.weight) for r in rows])


class Mutation(graphene.ObjectType):
    interests_seed = InterestsSeed.Field()
