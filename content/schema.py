"""Content GraphQL: the same selectors and services as the REST API.

List fields resolve per-post viewer state, media and quotes through the request's
DataLoaders (content/loaders.py), primed by the list resolvers: a page of N posts costs a
fixed number of queries.
"""

from __future__ import annotations

import graphene
from graphene.types.generic import GenericScalar

from accounts.serializers import avatar_urls
from content import selectors, services
from content.loaders import loaders_for
from content.models import Post
from content.serializers import _playback
from daira.lib.errors import NotFound
from daira.lib.graphql import DairaMutation, require_user
from daira.lib.pagination import parse_limit
from social import selectors as social_selectors



class PostAuthorType(graphene.ObjectType):
    id = graphene.ID(required=True)
    handle = graphene.String(required=True)
    display_name = graphene.String(required=True)
    avatar = GenericScalar()
    is_private = graphene.Boolean(required=True)

    @staticmethod
    def resolve_id(user, info):
        return str(user.pk)

    @staticmethod
    def resolve_display_name(user, info):
        return user.profile.display_name

    @staticmethod
    def resolve_avatar(user, info):
        return avatar_urls(user.profile)


class PostMediaType(graphene.ObjectType):
    id = graphene.ID(required=True)
    position = graphene.Int(required=True)
    kind = graphene.String(required=True)
    status = graphene.String(required=True)
    alt_text = graphene.String(required=True)
    playback = GenericScalar(description="Player info for the viewer (data saver aware); null until ready")

    @staticmethod
    def resolve_id(item, info):
        return str(item.asset_id)

    @staticmethod
    def resolve_kind(item, info):
        return item.asset.kind

    @staticmethod
    def resolve_status(item, info):
        return item.asset.status

    @staticmethod
    def resolve_playback(item, info):
        loaders = loaders_for(info)
        return _playback(info.context.user, item.asset, loaders.data_saver.load("viewer"))


class SoundType(graphene.ObjectType):
    id = graphene.ID(required=True)
    title = graphene.String(required=True)
    artist = graphene.String(required=True)
    is_original = graphene.Boolean(required=True)
    uses_count = graphene.Int(required=True)

    @staticmethod
    def resolve_id(sound, info):
        return str(sound.pk)


class PostCountsType(graphene.ObjectType):
    reactions = graphene.Int(required=True)
    reactions_by_type = GenericScalar(required=True)
    comments = graphene.Int(required=True)
    replies = graphene.Int(required=True)
    reposts = graphene.Int(required=True)
    quotes = graphene.Int(required=True)
    views = graphene.Int(required=True)
    saves = graphene.Int(required=True)


class PostType(graphene.ObjectType):
    id = graphene.ID(required=True)
    author = graphene.Field(PostAuthorType, required=True)
    body = graphene.String(required=True)
    kind = graphene.String(required=True)
    status = graphene.String(required=True)
    audience = graphene.String(required=True)
    comments_policy = graphene.String(required=True)
    media = graphene.List(graphene.NonNull(PostMediaType), required=True)
    sound = graphene.Field(SoundType)
    parent_id = graphene.ID()
    root_id = graphene.ID()
    quote = graphene.Field(lambda: PostType, description="The quoted post; null when gone or not visible")
    counts = graphene.Field(PostCountsType, required=True)
    viewer_reaction = graphene.String()
    saved = graphene.Boolean(required=True)
    reposted = graphene.Boolean(required=True)
    is_edited = graphene.Boolean(required=True)
    pinned = graphene.Boolean(required=True)
    created_at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_id(post, info):
        return str(post.pk)

    @staticmethod
    def resolve_media(post, info):
        if "media_items" in getattr(post, "_prefetched_objects_cache", {}):
            return list(post.media_items.all())
        return loaders_for(info).media.load(post.pk)

    @staticmethod
    def resolve_parent_id(post, info):
        return str(post.parent_id) if post.parent_id else None

    @staticmethod
    def resolve_root_id(post, info):
        return str(post.root_id) if post.root_id else None

    @staticmethod
    def resolve_quote(post, info):
        if not post.quote_of_id:
            return None
        quoted = loaders_for(info).quote.load(post.quote_of_id)
        return quoted

    @staticmethod
    def resolve_counts(post, info):
        return PostCountsType(
            reactions=post.reactions_count, reactions_by_type=post.reaction_counts, comments=post.comments_count,
            replies=post.replies_count, reposts=post.reposts_count, quotes=post.quotes_count,
            views=post.views_count, saves=post.saves_count,
        )

    @staticmethod
    def resolve_viewer_reaction(post, info):
        return loaders_for(info).viewer_reaction.load(post.pk)

    @staticmethod
    def resolve_saved(post, info):
        return loaders_for(info).saved.load(post.pk)

    @staticmethod
    def resolve_reposted(post, info):
        return loaders_for(info).reposted.load(post.pk)

    @staticmethod
    def resolve_pinned(post, info):
        return post.pinned_at is not None


class PostPageType(graphene.ObjectType):
    items = graphene.List(graphene.NonNull(PostType), required=True)
    pinned = graphene.List(graphene.NonNull(PostType), required=True)
    next_cursor = graphene.String()


class CommentType(graphene.ObjectType):
    id = graphene.ID(required=True)
    post_id = graphene.ID(required=True)
    parent_id = graphene.ID()
    author = graphene.Field(PostAuthorType, required=True)
    body = graphene.String(required=True)
    replies_count = graphene.Int(required=True)
    reactions_count = graphene.Int(required=True)
    liked_by_author = graphene.Boolean(required=True)
    pinned = graphene.Boolean(required=True)
    created_at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_id(c, info):
        return str(c.pk)

    @staticmethod
    def resolve_post_id(c, info):
        return str(c.post_id)

    @staticmethod
    def resolve_parent_id(c, info):
        return str(c.parent_id) if c.parent_id else None

    @staticmethod
    def resolve_pinned(c, info):
        return c.pinned_at is not None


class CommentPageType(graphene.ObjectType):
    items = graphene.List(graphene.NonNull(CommentType), required=True)
    pinned = graphene.List(graphene.NonNull(CommentType), required=True)
    next_cursor = graphene.String()


class StoryRingType(graphene.ObjectType):
    author = graphene.Field(PostAuthorType, required=True)
    latest_story_id = graphene.ID(required=True)
    stories_count = graphene.Int(required=True)
    unseen_count = graphene.Int(required=True)
    has_unseen = graphene.Boolean(required=True)


class StoryType(graphene.ObjectType):
    id = graphene.ID(required=True)
    author = graphene.Field(PostAuthorType, required=True)
    kind = graphene.String(required=True)
    text = graphene.String(required=True)
    overlays = GenericScalar(required=True)
    audience = graphene.String(required=True)
    media = GenericScalar(description="Player info (data saver aware); null until ready")
    seen = graphene.Boolean(required=True)
    views_count = graphene.Int(description="Only for the author")
    created_at = graphene.DateTime(required=True)
    expires_at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_id(story, info):
        return str(story.pk)

    @staticmethod
    def resolve_media(story, info):
        return _playback(info.context.user, story.asset, loaders_for(info).data_saver.load("viewer"))

    @staticmethod
    def resolve_seen(story, info):
        return bool(getattr(story, "seen", False))

    @staticmethod
    def resolve_views_count(story, info):
        return story.views_count if getattr(info.context.user, "pk", None) == story.author_id else None


class ThreadNodeType(graphene.ObjectType):
    post = graphene.Field(PostType, required=True)
    replies = graphene.List(graphene.NonNull(lambda: ThreadNodeType), required=True)
    next_cursor = graphene.String(description="Continue this level with postReplies(postId, after)")


def _page(posts_page, info, pinned=()):
    loaders_for(info).prime_posts([*posts_page.items, *pinned])
    return PostPageType(items=posts_page.items, pinned=list(pinned), next_cursor=posts_page.next_cursor)


def _limit(first):
    return parse_limit(first)


class Query(graphene.ObjectType):
    post = graphene.Field(PostType, id=graphene.ID(required=True), description="Null when missing or not visible.")
    profile_posts = graphene.Field(PostPageType, required=True, handle=graphene.String(required=True),
                                   tab=graphene.String(), first=graphene.Int(), after=graphene.String())
    hashtag_posts = graphene.Field(PostPageType, required=True, name=graphene.String(required=True),
                                   sort=graphene.String(), first=graphene.Int(), after=graphene.String())
    sound_videos = graphene.Field(PostPageType, required=True, sound_id=graphene.ID(required=True),
                                  first=graphene.Int(), after=graphene.String())
    post_replies = graphene.Field(PostPageType, required=True, post_id=graphene.ID(required=True),
                                  first=graphene.Int(), after=graphene.String())
    posts_by_ids = graphene.List(graphene.NonNull(PostType), required=True,
                                 ids=graphene.List(graphene.NonNull(graphene.ID), required=True))
    comments = graphene.Field(CommentPageType, required=True, post_id=graphene.ID(required=True),
                              first=graphene.Int(), after=graphene.String())
    story_rings = graphene.List(graphene.NonNull(StoryRingType), required=True)
    user_stories = graphene.List(graphene.NonNull(StoryType), required=True, handle=graphene.String(required=True))
    comment_replies = graphene.Field(CommentPageType, required=True, comment_id=graphene.ID(required=True),
                                     first=graphene.Int(), after=graphene.String())
    post_thread = graphene.Field(ThreadNodeType, post_id=graphene.ID(required=True), depth=graphene.Int(),
                                 first=graphene.Int(), after=graphene.String(),
                                 description="A post with replies to `depth` levels (1-5); null when not visible")

    @staticmethod
    def resolve_post(root, info, id):
        try:
            post = selectors.post_get_visible(viewer=info.context.user, post_id=id)
        except NotFound:
            return None
        loaders_for(info).prime_posts([post])
        return post

    @staticmethod
    def resolve_profile_posts(root, info, handle, tab=None, first=None, after=None):
        user = social_selectors.user_get_visible(viewer=info.context.user, handle=handle)
        page = selectors.profile_posts(viewer=info.context.user, user=user, tab=tab or "posts", cursor=after,
                                       limit=_limit(first))
        return _page(page, info, page.pinned)

    @staticmethod
    def resolve_hashtag_posts(root, info, name, sort=None, first=None, after=None):
        _, page = selectors.hashtag_posts(viewer=info.context.user, name=name, sort=sort or "recent", cursor=after,
                                          limit=_limit(first))
        return _page(page, info)

    @staticmethod
    def resolve_sound_videos(root, info, sound_id, first=None, after=None):
        _, page = selectors.sound_videos(viewer=info.context.user, sound_id=sound_id, cursor=after, limit=_limit(first))
        return _page(page, info)

    @staticmethod
    def resolve_post_replies(root, info, post_id, first=None, after=None):
        page = selectors.post_replies(viewer=info.context.user, post_id=post_id, cursor=after, limit=_limit(first))
        return _page(page, info)

    @staticmethod
    def resolve_posts_by_ids(root, info, ids):
        try:
            wanted = [int(i) for i in ids[:100]]
        except ValueError:
            wanted = []
        posts = selectors.posts_visible_by_ids(viewer=info.context.user, post_ids=wanted)
        loaders_for(info).prime_posts(posts)
        return posts

    @staticmethod
    def resolve_comments(root, info, post_id, first=None, after=None):
        page = selectors.comment_list(viewer=info.context.user, post_id=post_id, cursor=after, limit=_limit(first))
        return CommentPageType(items=page.items, pinned=page.pinned, next_cursor=page.next_cursor)

    @staticmethod
    def resolve_story_rings(root, info):
        viewer = require_user(info)
        return [StoryRingType(author=r.author, latest_story_id=str(r.latest_story_id), stories_count=r.stories_count,
                              unseen_count=r.unseen_count, has_unseen=r.has_unseen)
                for r in selectors.story_rings(viewer=viewer)]

    @staticmethod
    def resolve_user_stories(root, info, handle):
        user = social_selectors.user_get_visible(viewer=info.context.user, handle=handle)
        return selectors.story_list_for_author(viewer=info.context.user, author_id=user.pk)

    @staticmethod
    def resolve_comment_replies(root, info, comment_id, first=None, after=None):
        page = selectors.comment_replies(viewer=info.context.user, comment_id=comment_id, cursor=after,
                                         limit=_limit(first))
        return CommentPageType(items=page.items, pinned=[], next_cursor=page.next_cursor)

    @staticmethod
    def resolve_post_thread(root, info, post_id, depth=None, first=None, after=None):
        from daira.lib.errors import Invalid

        depth = 2 if depth is None else depth
        if not 1 <= depth <= selectors.MAX_THREAD_DEPTH:
            raise Invalid(f"depth must be 1 to {selectors.MAX_THREAD_DEPTH}.", field="depth")
        try:
            node = selectors.post_thread(viewer=info.context.user, post_id=post_id, depth=depth,
                                         limit=min(_limit(first), 50), cursor=after)
        except NotFound:
            return None
        loaders_for(info).prime_posts(selectors.thread_posts(node))
        return node


def _id(value):
    return int(value) if value not in (None, "") and str(value).isdigit() else value


class PostCreate(DairaMutation):
    class Arguments:
        body = graphene.String()
        media_ids = graphene.List(graphene.NonNull(graphene.ID))
        audience = graphene.String()
        circle_id = graphene.ID()
        comments_policy = graphene.String()
        sound_id = graphene.ID()
        parent_id = graphene.ID()
        quote_of_id = graphene.ID()

    post = graphene.Field(PostType)

    @classmethod
    def perform(cls, root, info, *, body="", media_ids=None, audience=None, circle_id=None, comments_policy=None,
                sound_id=None, parent_id=None, quote_of_id=None):
        from daira.lib.errors import Invalid

        ids = list(media_ids or [])
        if not all(str(i).isdigit() for i in ids):
            raise Invalid("Media ids must be numbers.", field="media_ids")
        post = services.post_create(
            author=info.context.user, body=body or "", media_ids=[int(i) for i in ids], audience=audience,
            circle_id=_id(circle_id), comments_policy=comments_policy or Post.CommentsPolicy.EVERYONE,
            sound_id=_id(sound_id), parent_id=_id(parent_id), quote_of_id=_id(quote_of_id),
        )
        return cls(post=selectors.post_get_visible(viewer=info.context.user, post_id=post.pk))


class PostUpdate(DairaMutation):
    class Arguments:
        id = graphene.ID(required=True)
        body = graphene.String()
        audience = graphene.String()
        circle_id = graphene.ID()
        comments_policy = graphene.String()

    post = graphene.Field(PostType)

    @classmethod
    def perform(cls, root, info, *, id, body=None, audience=None, circle_id=None, comments_policy=None):
        services.post_update(actor=info.context.user, post_id=id, body=body, audience=audience,
                             circle_id=_id(circle_id), comments_policy=comments_policy)
        return cls(post=selectors.post_get_visible(viewer=info.context.user, post_id=id))


class PostDelete(DairaMutation):
    class Arguments:
        id = graphene.ID(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, id):
        services.post_delete(actor=info.context.user, post_id=id)
        return cls(ok=True)


class ReactionSet(DairaMutation):
    class Arguments:
        target_type = graphene.String(required=True, description="post, comment or story")
        target_id = graphene.ID(required=True)
        reaction = graphene.String(required=True)

    reaction = graphene.String()

    @classmethod
    def perform(cls, root, info, *, target_type, target_id, reaction):
        row = services.reaction_set(actor=info.context.user, target_type=target_type, target_id=target_id,
                                    reaction=reaction)
        return cls(reaction=row.reaction)


class ReactionRemove(DairaMutation):
    class Arguments:
        target_type = graphene.String(required=True)
        target_id = graphene.ID(required=True)

    removed = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, target_type, target_id):
        return cls(removed=services.reaction_remove(actor=info.context.user, target_type=target_type,
                                                    target_id=target_id))


class RepostCreate(DairaMutation):
    class Arguments:
        post_id = graphene.ID(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, post_id):
        services.repost_create(actor=info.context.user, post_id=post_id)
        return cls(ok=True)


class RepostDelete(DairaMutation):
    class Arguments:
        post_id = graphene.ID(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, post_id):
        services.repost_delete(actor=info.context.user, post_id=post_id)
        return cls(ok=True)


class BookmarkAdd(DairaMutation):
    class Arguments:
        post_id = graphene.ID(required=True)
        collection_id = graphene.ID()

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, post_id, collection_id=None):
        services.bookmark_add(actor=info.context.user, post_id=post_id, collection_id=collection_id)
        return cls(ok=True)


class BookmarkRemove(DairaMutation):
    class Arguments:
        post_id = graphene.ID(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, post_id):
        services.bookmark_remove(actor=info.context.user, post_id=post_id)
        return cls(ok=True)


class CommentCreate(DairaMutation):
    class Arguments:
        post_id = graphene.ID(required=True)
        body = graphene.String(required=True)
        parent_id = graphene.ID()

    comment = graphene.Field(CommentType)

    @classmethod
    def perform(cls, root, info, *, post_id, body, parent_id=None):
        comment = services.comment_create(actor=info.context.user, post_id=post_id, body=body, parent_id=parent_id)
        return cls(comment=selectors.comment_get_visible(viewer=info.context.user, comment_id=comment.pk))


class PostPin(DairaMutation):
    class Arguments:
        id = graphene.ID(required=True)
        pinned = graphene.Boolean(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, id, pinned):
        (services.post_pin if pinned else services.post_unpin)(actor=info.context.user, post_id=id)
        return cls(ok=True)


class StoryView(DairaMutation):
    class Arguments:
        story_id = graphene.ID(required=True)

    recorded = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, story_id):
        return cls(recorded=services.story_view_record(viewer=info.context.user, story_id=story_id))


class StoryReply(DairaMutation):
    class Arguments:
        story_id = graphene.ID(required=True)
        text = graphene.String(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, story_id, text):
        services.story_reply(actor=info.context.user, story_id=story_id, text=text)
        return cls(ok=True)


class StoryCreate(DairaMutation):
    class Arguments:
        media_id = graphene.ID(required=True)
        text = graphene.String()
        overlays = GenericScalar()
        audience = graphene.String()
        circle_id = graphene.ID()
        sound_id = graphene.ID()

    story = graphene.Field(StoryType)

    @classmethod
    def perform(cls, root, info, *, media_id, text="", overlays=None, audience=None, circle_id=None, sound_id=None):
        story = services.story_create(author=info.context.user, media_id=media_id, text=text or "", overlays=overlays,
                                      audience=audience or "public", circle_id=_id(circle_id), sound_id=_id(sound_id))
        return cls(story=selectors.story_get_visible(viewer=info.context.user, story_id=story.pk))


class CommentUpdate(DairaMutation):
    class Arguments:
        id = graphene.ID(required=True)
        body = graphene.String(required=True)

    comment = graphene.Field(CommentType)

    @classmethod
    def perform(cls, root, info, *, id, body):
        services.comment_update(actor=info.context.user, comment_id=id, body=body)
        return cls(comment=selectors.comment_get_visible(viewer=info.context.user, comment_id=id))


class CommentDelete(DairaMutation):
    class Arguments:
        id = graphene.ID(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, id):
        services.comment_delete(actor=info.context.user, comment_id=id)
        return cls(ok=True)


class CommentPin(DairaMutation):
    class Arguments:
        id = graphene.ID(required=True)
        pinned = graphene.Boolean(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, id, pinned):
        (services.comment_pin if pinned else services.comment_unpin)(actor=info.context.user, comment_id=id)
        return cls(ok=True)


class CollectionCreate(DairaMutation):
    class Arguments:
        name = graphene.String(required=True)

    id = graphene.ID()

    @classmethod
    def perform(cls, root, info, *, name):
        return cls(id=str(services.collection_create(actor=info.context.user, name=name).pk))


class PostView(DairaMutation):
    login_required = False

    class Arguments:
        post_id = graphene.ID(required=True)

    counted = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, post_id):
        return cls(counted=services.post_view_record(viewer=info.context.user, post_id=post_id))


class Mutation(graphene.ObjectType):
    post_create = PostCreate.Field()
    post_update = PostUpdate.Field()
    post_delete = PostDelete.Field()
    post_pin = PostPin.Field()
    reaction_set = ReactionSet.Field()
    reaction_remove = ReactionRemove.Field()
    repost_create = RepostCreate.Field()
    repost_delete = RepostDelete.Field()
    bookmark_add = BookmarkAdd.Field()
    bookmark_remove = BookmarkRemove.Field()
    comment_create = CommentCreate.Field()
    story_view = StoryView.Field()
    story_reply = StoryReply.Field()
    story_create = StoryCreate.Field()
    comment_update = CommentUpdate.Field()
    comment_delete = CommentDelete.Field()
    comment_pin = CommentPin.Field()
    collection_create = CollectionCreate.Field()
    post_view = PostView.Field()
