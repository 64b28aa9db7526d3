"""Feeds and search over GraphQL: the same selectors as the REST API (feeds/api.py), posts
rendered with content's PostType (its DataLoaders primed per page)."""

from __future__ import annotations

import graphene
from graphene.types.generic import GenericScalar

from accounts.serializers import avatar_urls
from content.loaders import loaders_for
from content.schema import PostAuthorType, PostType, SoundType
from daira.lib.graphql import DairaMutation, require_user
from daira.lib.pagination import parse_limit
from feeds import selectors, services


class FeedItemType(graphene.ObjectType):
    post = graphene.Field(PostType, required=True)
    reposted_by = graphene.Field(PostAuthorType, description="Who shared it into this feed; null for a post")
    score = graphene.ID(required=True, description="The entry's snowflake (the max_id of the next page)")

    @staticmethod
    def resolve_score(item, info):
        return str(item.score)


class FeedPageType(graphene.ObjectType):
    items = graphene.List(graphene.NonNull(FeedItemType), required=True)
    next_cursor = graphene.String()


class HashtagHitType(graphene.ObjectType):
    name = graphene.String(required=True)
    posts_count = graphene.Int(required=True)
    score = graphene.Float(description="Trending score (trending lists only)")


class SoundHitType(graphene.ObjectType):
    sound = graphene.Field(SoundType, required=True)
    score = graphene.Float()


class UserHitType(graphene.ObjectType):
    id = graphene.ID(required=True)
    handle = graphene.String(required=True)
    display_name = graphene.String(required=True)
    avatar = GenericScalar()
    is_private = graphene.Boolean(required=True)
    followers_count = graphene.Int(required=True)


class SearchResultsType(graphene.ObjectType):
    users = graphene.List(graphene.NonNull(UserHitType), required=True)
    hashtags = graphene.List(graphene.NonNull(HashtagHitType), required=True)
    posts = graphene.List(graphene.NonNull(PostType), required=True)
    sounds = graphene.List(graphene.NonNull(SoundType), required=True)
    next_cursor = graphene.String()


class RecentSearchType(graphene.ObjectType):
    id = graphene.ID(required=True)
    query = graphene.String(required=True)
    type = graphene.String(required=True)
    searched_at = graphene.DateTime(required=True)


def _feed_page(page: selectors.FeedPage, info) -> FeedPageType:
    loaders_for(info).prime_posts(page.posts)
    return FeedPageType(items=page.items, next_cursor=page.next_cursor)


def _user_hit(user) -> UserHitType:
    return UserHitType(id=str(user.pk), handle=user.handle, display_name=user.profile.display_name,
                       avatar=avatar_urls(user.profile), is_private=user.is_private,
                       followers_count=user.profile.followers_count)


class Query(graphene.ObjectType):
    home_feed = graphene.Field(FeedPageType, required=True, first=graphene.Int(), after=graphene.String(),
                               max_id=graphene.ID(), ranking=graphene.String())
    circle_feed = graphene.Field(FeedPageType, required=True, circle_id=graphene.ID(required=True),
                                 first=graphene.Int(), after=graphene.String())
    trending_posts = graphene.Field(FeedPageType, required=True, kind=graphene.String(), window=graphene.String(),
                                    first=graphene.Int(), after=graphene.String())
    trending_hashtags = graphene.List(graphene.NonNull(HashtagHitType), required=True, window=graphene.String(),
                                      first=graphene.Int())
    trending_sounds = graphene.List(graphene.NonNull(SoundHitType), required=True, window=graphene.String(),
                                    first=graphene.Int())
    explore = graphene.Field(FeedPageType, required=True, first=graphene.Int(), after=graphene.String())
    search = graphene.Field(SearchResultsType, required=True, q=graphene.String(required=True),
                            type=graphene.String(), first=graphene.Int(), after=graphene.String())
    recent_searches = graphene.List(graphene.NonNull(RecentSearchType), required=True, first=graphene.Int())

    @staticmethod
    def resolve_home_feed(root, info, first=None, after=None, max_id=None, ranking=None):
        viewer = require_user(info)
        page = selectors.home_feed(viewer=viewer, cursor=after, max_id=max_id, limit=parse_limit(first),
                                   ranking=ranking or "chronological")
        return _feed_page(page, info)

    @staticmethod
    def resolve_circle_feed(root, info, circle_id, first=None, after=None):
        viewer = require_user(info)
        return _feed_page(selectors.circle_feed(viewer=viewer, circle_id=circle_id, cursor=after,
                                                limit=parse_limit(first)), info)

    @staticmethod
    def resolve_trending_posts(root, info, kind=None, window=None, first=None, after=None):
        page = selectors.trending_posts(viewer=info.context.user, kind=kind or "posts", window=window or "24h",
                                        cursor=after, limit=parse_limit(first))
        return _feed_page(page, info)

    @staticmethod
    def resolve_trending_hashtags(root, info, window=None, first=None):
        entries = selectors.trending_tags(kind="hashtags", window=window or "24h", limit=parse_limit(first))
        return [HashtagHitType(name=e.object.name, posts_count=e.object.posts_count, score=e.score) for e in entries]

    @staticmethod
    def resolve_trending_sounds(root, info, window=None, first=None):
        entries = selectors.trending_tags(kind="sounds", window=window or "24h", limit=parse_limit(first))
        return [SoundHitType(sound=e.object, score=e.score) for e in entries]

    @staticmethod
    def resolve_explore(root, info, first=None, after=None):
        return _feed_page(selectors.explore(viewer=info.context.user, cursor=after, limit=parse_limit(first)), info)

    @staticmethod
    def resolve_search(root, info, q, type=None, first=None, after=None):
        viewer = info.context.user
        results = selectors.search(viewer=viewer, query=q, type=type or "all", cursor=after, limit=parse_limit(first))
        if viewer.is_authenticated and not after:
            services.search_history_record(user=viewer, query=q, kind=type or "all")
        loaders_for(info).prime_posts(results.posts)
        return SearchResultsType(
            users=[_user_hit(u) for u in results.users],
            hashtags=[HashtagHitType(name=h.name, posts_count=h.posts_count) for h in results.hashtags],
            posts=results.posts, sounds=results.sounds, next_cursor=results.next_cursor,
        )

    @staticmethod
    def resolve_recent_searches(root, info, first=None):
        viewer = require_user(info)
        rows = selectors.search_recent(user=viewer, limit=parse_limit(first, default=10))
        return [RecentSearchType(id=str(r.pk), query=r.query, type=r.kind, searched_at=r.searched_at) for r in rows]


class SearchHistoryClear(DairaMutation):
    """Forget one recent search (`id`) or all of them."""

    class Arguments:
        id = graphene.ID()

    deleted = graphene.Int()

    @classmethod
    def perform(cls, root, info, id=None):
        return cls(deleted=services.search_history_clear(user=info.context.user, entry_id=id))


class Mutation(graphene.ObjectType):
    search_history_clear = SearchHistoryClear.Field()
