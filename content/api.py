"""Content REST API (thin: parse, call one service/selector, render)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.views import APIView

from content import selectors, services
from content.models import MAX_BODY_LENGTH, MAX_MEDIA_PER_POST, Post, ReactionType
from content.serializers import (
    CollectionSerializer,
    CommentOutputSerializer,
    HashtagSerializer,
    PersonRowSerializer,
    PostEditSerializer,
    PostOutputSerializer,
    SoundSerializer,
    StoryOutputSerializer,
    StoryRingSerializer,
    thread_data,
)
from daira.lib.pagination import parse_limit
from social import selectors as social_selectors

CURSOR_PARAMS = [
    OpenApiParameter("cursor", str, description="Opaque cursor from the previous page's next_cursor."),
    OpenApiParameter("limit", int, description="Page size (default 20, at most 100)."),
]


def _page_schema(name: str, item, **extra):
    return inline_serializer(
        name=name,
        fields={"results": item(many=True), "next_cursor": serializers.CharField(allow_null=True), **extra},
    )


def _ctx(request) -> dict:
    return {"viewer": request.user, "request": request}


def _page_args(request) -> dict:
    return {"cursor": request.query_params.get("cursor") or None, "limit": parse_limit(request.query_params.get("limit"))}


def _posts_page(request, page, **extra) -> Response:
    return Response({"results": PostOutputSerializer(page.items, many=True, context=_ctx(request)).data,
                     "next_cursor": page.next_cursor, **extra})


def _ok(data=None, code=status.HTTP_200_OK) -> Response:
    return Response(data if data is not None else {"ok": True}, status=code)


class _IdList(serializers.ListField):
    child = serializers.RegexField(r"^\d{1,19}$")


# --- posts ------------------------------------------------------------------------------------
class PostCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        body = serializers.CharField(allow_blank=True, required=False, default="", max_length=MAX_BODY_LENGTH,
                                     trim_whitespace=False)
        media_ids = _IdList(required=False, default=list, max_length=MAX_MEDIA_PER_POST)
        alt_texts = serializers.ListField(child=serializers.CharField(allow_blank=True, max_length=300),
                                          required=False, default=list, max_length=MAX_MEDIA_PER_POST)
        audience = serializers.CharField(required=False, max_length=32)
        circle_id = serializers.RegexField(r"^\d{1,19}$", required=False, allow_null=True)
        comments_policy = serializers.ChoiceField(choices=Post.CommentsPolicy.choices, required=False,
                                                  default=Post.CommentsPolicy.EVERYONE)
        sound_id = serializers.RegexField(r"^\d{1,19}$", required=False, allow_null=True)
        parent_id = serializers.RegexField(r"^\d{1,19}$", required=False, allow_null=True)
        quote_of_id = serializers.RegexField(r"^\d{1,19}$", required=False, allow_null=True)
        language = serializers.CharField(required=False, max_length=8, allow_blank=True)

    @extend_schema(request=InputSerializer, responses={201: PostOutputSerializer},
                   summary="Create a post, reply (parent_id) or quote (quote_of_id)",
                   description="Media still processing → status `pending` (published when ready).")
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        post = services.post_create(
            author=request.user,
            body=data["body"],
            media_ids=[int(i) for i in data["media_ids"]],
            alt_texts=data["alt_texts"],
            audience=data.get("audience"),
            circle_id=data.get("circle_id"),
            comments_policy=data["comments_policy"],
            sound_id=data.get("sound_id"),
            parent_id=data.get("parent_id"),
            quote_of_id=data.get("quote_of_id"),
            language=data.get("language") or None,
        )
        post = selectors.post_get_visible(viewer=request.user, post_id=post.pk)
        return Response(PostOutputSerializer(post, context=_ctx(request)).data, status=status.HTTP_201_CREATED)


class PostDetailApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    class UpdateSerializer(serializers.Serializer):
        body = serializers.CharField(allow_blank=True, required=False, max_length=MAX_BODY_LENGTH, trim_whitespace=False)
        audience = serializers.CharField(required=False, max_length=32)
        circle_id = serializers.RegexField(r"^\d{1,19}$", required=False, allow_null=True)
        comments_policy = serializers.ChoiceField(choices=Post.CommentsPolicy.choices, required=False)

    @extend_schema(responses=PostOutputSerializer, summary="A single post")
    def get(self, request, post_id: int):
        post = selectors.post_get_visible(viewer=request.user, post_id=post_id)
        return Response(PostOutputSerializer(post, context=_ctx(request)).data)

    @extend_schema(request=UpdateSerializer, responses=PostOutputSerializer,
                   summary="Edit text/audience (kept in the edit history) or comment controls")
    def patch(self, request, post_id: int):
        payload = self.UpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.post_update(actor=request.user, post_id=post_id, **payload.validated_data)
        post = selectors.post_get_visible(viewer=request.user, post_id=post_id)
        return Response(PostOutputSerializer(post, context=_ctx(request)).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete (soft) a post")
    def delete(self, request, post_id: int):
        services.post_delete(actor=request.user, post_id=post_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PostEditsApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses=PostEditSerializer(many=True), summary="Earlier versions of an edited post")
    def get(self, request, post_id: int):
        edits = selectors.post_edits_list(viewer=request.user, post_id=post_id)
        return Response([{"id": str(e.pk), "body": e.body, "audience": e.audience, "created_at": e.created_at}
                         for e in edits])


class PostPinApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=PostOutputSerializer, summary="Pin to my profile (at most 3)")
    def post(self, request, post_id: int):
        post = services.post_pin(actor=request.user, post_id=post_id)
        return Response(PostOutputSerializer(selectors.post_get_visible(viewer=request.user, post_id=post.pk),
                                             context=_ctx(request)).data)

    @extend_schema(request=None, responses={204: None}, summary="Unpin")
    def delete(self, request, post_id: int):
        services.post_unpin(actor=request.user, post_id=post_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PostThreadApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(
        parameters=[OpenApiParameter("depth", int, description="Levels of replies (1-5, default 2)"), *CURSOR_PARAMS],
        responses=inline_serializer("PostThread", {"post": PostOutputSerializer(), "replies": serializers.ListField(),
                                                   "next_cursor": serializers.CharField(allow_null=True)}),
        summary="A post with its replies to a depth; each level has its own cursor",
    )
    def get(self, request, post_id: int):
        try:
            depth = int(request.query_params.get("depth") or 2)
        except ValueError:
            depth = 0
        if not 1 <= depth <= selectors.MAX_THREAD_DEPTH:
            from daira.lib.errors import Invalid

            raise Invalid(f"depth must be 1 to {selectors.MAX_THREAD_DEPTH}.", field="depth")
        args = _page_args(request)
        node = selectors.post_thread(viewer=request.user, post_id=post_id, depth=depth, limit=min(args["limit"], 50),
                                     cursor=args["cursor"])
        selectors.posts_hydrate(viewer=request.user, posts=selectors.thread_posts(node))
        return Response(thread_data(node, _ctx(request)))


class PostRepliesApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(parameters=CURSOR_PARAMS, responses=_page_schema("PostRepliesPage", PostOutputSerializer),
                   summary="Direct replies to a post (oldest first)")
    def get(self, request, post_id: int):
        return _posts_page(request, selectors.post_replies(viewer=request.user, post_id=post_id, **_page_args(request)))


class PostQuotesApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(parameters=CURSOR_PARAMS, responses=_page_schema("PostQuotesPage", PostOutputSerializer),
                   summary="Posts quoting this post")
    def get(self, request, post_id: int):
        return _posts_page(request, selectors.post_quotes_list(viewer=request.user, post_id=post_id,
                                                               **_page_args(request)))


class PostViewApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(request=None, responses=inline_serializer("ViewCounted", {"counted": serializers.BooleanField()}),
                   summary="Count a view (buffered; once a day per viewer)")
    def post(self, request, post_id: int):
        return Response({"counted": services.post_view_record(viewer=request.user, post_id=post_id)})


class _ReactionInput(serializers.Serializer):
    reaction = serializers.CharField(max_length=8, help_text=f"One of {', '.join(ReactionType.values)} or its emoji")


def _reaction_views(target_type: str, id_name: str):
    class ReactionApi(APIView):
        permission_classes = [IsAuthenticated]

        @extend_schema(request=_ReactionInput,
                       responses=inline_serializer(f"{target_type.title()}ReactionSet",
                                                   {"reaction": serializers.CharField()}),
                       summary=f"Set my reaction on a {target_type} (add or change)")
        def put(self, request, **kwargs):
            payload = _ReactionInput(data=request.data)
            payload.is_valid(raise_exception=True)
            row = services.reaction_set(actor=request.user, target_type=target_type, target_id=kwargs[id_name],
                                        reaction=payload.validated_data["reaction"])
            return Response({"reaction": row.reaction})

        @extend_schema(request=None, responses={204: None}, summary=f"Remove my reaction from a {target_type}")
        def delete(self, request, **kwargs):
            services.reaction_remove(actor=request.user, target_type=target_type, target_id=kwargs[id_name])
            return Response(status=status.HTTP_204_NO_CONTENT)

    ReactionApi.__name__ = f"{target_type.title()}ReactionApi"
    ReactionApi.__qualname__ = ReactionApi.__name__
    return ReactionApi


PostReactionApi = _reaction_views("post", "post_id")
CommentReactionApi = _reaction_views("comment", "comment_id")
StoryReactionApi = _reaction_views("story", "story_id")


class PostReactionsListApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(parameters=[OpenApiParameter("reaction", str, enum=ReactionType.values), *CURSOR_PARAMS],
                   responses=_page_schema("PostReactionsPage", PersonRowSerializer),
                   summary="Who reacted (blocked and inactive people never appear)")
    def get(self, request, post_id: int):
        page = selectors.post_reactions_list(viewer=request.user, post_id=post_id,
                                             reaction=request.query_params.get("reaction") or None,
                                             **_page_args(request))
        return Response({"results": PersonRowSerializer(page.items, many=True).data, "next_cursor": page.next_cursor})


class PostRepostApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=inline_serializer("Reposted", {"reposted": serializers.BooleanField()}),
                   summary="Repost (idempotent)")
    def post(self, request, post_id: int):
        services.repost_create(actor=request.user, post_id=post_id)
        return Response({"reposted": True})

    @extend_schema(request=None, responses={204: None}, summary="Undo a repost")
    def delete(self, request, post_id: int):
        services.repost_delete(actor=request.user, post_id=post_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PostRepostersApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(parameters=CURSOR_PARAMS, responses=_page_schema("PostRepostersPage", PersonRowSerializer),
                   summary="Who reposted")
    def get(self, request, post_id: int):
        page = selectors.post_reposters_list(viewer=request.user, post_id=post_id, **_page_args(request))
        return Response({"results": PersonRowSerializer(page.items, many=True).data, "next_cursor": page.next_cursor})


class PostBookmarkApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        collection_id = serializers.RegexField(r"^\d{1,19}$", required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses=inline_serializer("Saved", {
        "saved": serializers.BooleanField(), "collection_id": serializers.CharField(allow_null=True)}),
        summary="Save a post (optionally into a collection; saving again moves it)")
    def post(self, request, post_id: int):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = services.bookmark_add(actor=request.user, post_id=post_id,
                                    collection_id=payload.validated_data.get("collection_id"))
        return Response({"saved": True, "collection_id": str(row.collection_id) if row.collection_id else None})

    @extend_schema(request=None, responses={204: None}, summary="Unsave")
    def delete(self, request, post_id: int):
        services.bookmark_remove(actor=request.user, post_id=post_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BookmarkListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("collection_id", str), *CURSOR_PARAMS],
                   responses=_page_schema("BookmarksPage", PostOutputSerializer), summary="My saved posts")
    def get(self, request):
        page = selectors.bookmark_list(actor=request.user, collection_id=request.query_params.get("collection_id"),
                                       **_page_args(request))
        return _posts_page(request, page)


class CollectionListApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=60)

    @extend_schema(responses=CollectionSerializer(many=True), summary="My collections")
    def get(self, request):
        return Response(CollectionSerializer(selectors.collection_list(actor=request.user), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CollectionSerializer}, summary="Create a collection")
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        collection = services.collection_create(actor=request.user, name=payload.validated_data["name"])
        return Response(CollectionSerializer(collection).data, status=status.HTTP_201_CREATED)


class CollectionDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, summary="Delete a collection (bookmarks stay saved)")
    def delete(self, request, collection_id: int):
        services.collection_delete(actor=request.user, collection_id=collection_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- comments ---------------------------------------------------------------------------------
def _comments_response(request, items, next_cursor, **extra) -> Response:
    reactions = selectors.comments_viewer_reactions(viewer=request.user, comments=list(items) + list(
        extra.get("pinned", [])))
    context = {"viewer": request.user, "viewer_reactions": reactions}
    body = {"results": CommentOutputSerializer(items, many=True, context=context).data, "next_cursor": next_cursor}
    if "pinned" in extra:
        body["pinned"] = CommentOutputSerializer(extra["pinned"], many=True, context=context).data
    return Response(body)


class PostCommentsApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    class InputSerializer(serializers.Serializer):
        body = serializers.CharField(max_length=MAX_BODY_LENGTH)
        parent_id = serializers.RegexField(r"^\d{1,19}$", required=False, allow_null=True)

    @extend_schema(parameters=CURSOR_PARAMS,
                   responses=_page_schema("CommentsPage", CommentOutputSerializer,
                                          pinned=CommentOutputSerializer(many=True)),
                   summary="Top-level comments (newest first; the pinned one on the first page)")
    def get(self, request, post_id: int):
        page = selectors.comment_list(viewer=request.user, post_id=post_id, **_page_args(request))
        return _comments_response(request, page.items, page.next_cursor, pinned=page.pinned)

    @extend_schema(request=InputSerializer, responses={201: CommentOutputSerializer}, summary="Comment or reply")
    def post(self, request, post_id: int):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        comment = services.comment_create(actor=request.user, post_id=post_id, **payload.validated_data)
        comment = selectors.comment_get_visible(viewer=request.user, comment_id=comment.pk)
        return Response(CommentOutputSerializer(comment, context={"viewer": request.user}).data,
                        status=status.HTTP_201_CREATED)


class CommentDetailApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    class InputSerializer(serializers.Serializer):
        body = serializers.CharField(max_length=MAX_BODY_LENGTH)

    @extend_schema(responses=CommentOutputSerializer, summary="A comment")
    def get(self, request, comment_id: int):
        comment = selectors.comment_get_visible(viewer=request.user, comment_id=comment_id)
        reactions = selectors.comments_viewer_reactions(viewer=request.user, comments=[comment])
        return Response(CommentOutputSerializer(comment, context={"viewer": request.user,
                                                                  "viewer_reactions": reactions}).data)

    @extend_schema(request=InputSerializer, responses=CommentOutputSerializer, summary="Edit my comment")
    def patch(self, request, comment_id: int):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.comment_update(actor=request.user, comment_id=comment_id, body=payload.validated_data["body"])
        comment = selectors.comment_get_visible(viewer=request.user, comment_id=comment_id)
        return Response(CommentOutputSerializer(comment, context={"viewer": request.user}).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete a comment (its author or the post's)")
    def delete(self, request, comment_id: int):
        services.comment_delete(actor=request.user, comment_id=comment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CommentRepliesApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(parameters=CURSOR_PARAMS, responses=_page_schema("CommentRepliesPage", CommentOutputSerializer),
                   summary="Replies to a comment (oldest first)")
    def get(self, request, comment_id: int):
        page = selectors.comment_replies(viewer=request.user, comment_id=comment_id, **_page_args(request))
        return _comments_response(request, page.items, page.next_cursor)


class CommentPinApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=CommentOutputSerializer, summary="Pin a comment on my post (one)")
    def post(self, request, comment_id: int):
        comment = services.comment_pin(actor=request.user, comment_id=comment_id)
        comment = selectors.comment_get_visible(viewer=request.user, comment_id=comment.pk)
        return Response(CommentOutputSerializer(comment, context={"viewer": request.user}).data)

    @extend_schema(request=None, responses={204: None}, summary="Unpin")
    def delete(self, request, comment_id: int):
        services.comment_unpin(actor=request.user, comment_id=comment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- pages ------------------------------------------------------------------------------------
class ProfilePostsApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(
        parameters=[OpenApiParameter("tab", str, enum=list(selectors.PROFILE_TABS)), *CURSOR_PARAMS],
        responses=_page_schema("ProfilePostsPage", PostOutputSerializer, pinned=PostOutputSerializer(many=True)),
        summary="A profile tab: posts (pinned first page), videos, reposts, tagged",
    )
    def get(self, request, handle: str):
        user = social_selectors.user_get_visible(viewer=request.user, handle=handle)
        page = selectors.profile_posts(viewer=request.user, user=user, tab=request.query_params.get("tab") or "posts",
                                       **_page_args(request))
        everything = page.items + page.pinned
        selectors.posts_hydrate(viewer=request.user, posts=everything)
        return _posts_page(request, page, pinned=PostOutputSerializer(page.pinned, many=True,
                                                                      context=_ctx(request)).data)


class HashtagPostsApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(parameters=[OpenApiParameter("sort", str, enum=["recent", "top"]), *CURSOR_PARAMS],
                   responses=_page_schema("HashtagPage", PostOutputSerializer, hashtag=HashtagSerializer()),
                   summary="A hashtag page (any spelling: #مَصر finds #مصر)")
    def get(self, request, name: str):
        hashtag, page = selectors.hashtag_posts(viewer=request.user, name=name,
                                                sort=request.query_params.get("sort") or "recent",
                                                **_page_args(request))
        return _posts_page(request, page, hashtag=HashtagSerializer(hashtag).data)


class SoundCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=120)
        artist = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
        audio_asset_id = serializers.RegexField(r"^\d{1,19}$", required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses={201: SoundSerializer}, summary="Create a sound")
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        sound = services.sound_create(actor=request.user, **payload.validated_data)
        return Response(SoundSerializer(sound).data, status=status.HTTP_201_CREATED)


class SoundDetailApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses=SoundSerializer, summary="A sound")
    def get(self, request, sound_id: int):
        return Response(SoundSerializer(selectors.sound_get(sound_id=sound_id)).data)


class SoundVideosApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(parameters=CURSOR_PARAMS,
                   responses=_page_schema("SoundVideosPage", PostOutputSerializer, sound=SoundSerializer()),
                   summary="Videos using a sound")
    def get(self, request, sound_id: int):
        sound, page = selectors.sound_videos(viewer=request.user, sound_id=sound_id, **_page_args(request))
        return _posts_page(request, page, sound=SoundSerializer(sound).data)


# --- stories ----------------------------------------------------------------------------------
def _story_ctx(request) -> dict:
    return {"viewer": request.user, "data_saver": selectors._data_saver(request.user)}


class StoryCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        media_id = serializers.RegexField(r"^\d{1,19}$")
        text = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_BODY_LENGTH)
        overlays = serializers.JSONField(required=False, default=list)
        audience = serializers.ChoiceField(choices=["public", "close_friends", "circle"], required=False,
                                           default="public")
        circle_id = serializers.RegexField(r"^\d{1,19}$", required=False, allow_null=True)
        sound_id = serializers.RegexField(r"^\d{1,19}$", required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses={201: StoryOutputSerializer}, summary="Post a story (24 h)")
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        story = services.story_create(author=request.user, **payload.validated_data)
        story = selectors.story_get_visible(viewer=request.user, story_id=story.pk)
        return Response(StoryOutputSerializer(story, context=_story_ctx(request)).data, status=status.HTTP_201_CREATED)


class StoryRingsApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=inline_serializer("StoryRings", {"results": StoryRingSerializer(many=True)}),
                   summary="Accounts I follow with active stories: unseen first, then newest")
    def get(self, request):
        rings = selectors.story_rings(viewer=request.user)
        return Response({"results": StoryRingSerializer(rings, many=True).data})


class UserStoriesApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses=inline_serializer("UserStories", {"results": StoryOutputSerializer(many=True)}),
                   summary="A user's active stories I may see (oldest first, with seen flags)")
    def get(self, request, handle: str):
        user = social_selectors.user_get_visible(viewer=request.user, handle=handle)
        stories = selectors.story_list_for_author(viewer=request.user, author_id=user.pk)
        return Response({"results": StoryOutputSerializer(stories, many=True, context=_story_ctx(request)).data})


class StoryDetailApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses=StoryOutputSerializer, summary="A story")
    def get(self, request, story_id: int):
        story = selectors.story_get_visible(viewer=request.user, story_id=story_id)
        return Response(StoryOutputSerializer(story, context=_story_ctx(request)).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete my story")
    def delete(self, request, story_id: int):
        services.story_delete(actor=request.user, story_id=story_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StoryViewApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=inline_serializer("StoryViewed", {"recorded": serializers.BooleanField()}),
                   summary="Mark a story seen (idempotent)")
    def post(self, request, story_id: int):
        return Response({"recorded": services.story_view_record(viewer=request.user, story_id=story_id)})


class StoryViewersApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=CURSOR_PARAMS, responses=_page_schema("StoryViewersPage", PersonRowSerializer),
                   summary="Who saw my story")
    def get(self, request, story_id: int):
        page = selectors.story_viewers(actor=request.user, story_id=story_id, **_page_args(request))
        return Response({"results": PersonRowSerializer(page.items, many=True).data, "next_cursor": page.next_cursor})


class StoryReplyApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(max_length=1000)

    @extend_schema(request=InputSerializer, responses={202: inline_serializer("StoryReplied", {
        "sent": serializers.BooleanField()})}, summary="Reply to a story (becomes a direct message)")
    def post(self, request, story_id: int):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.story_reply(actor=request.user, story_id=story_id, text=payload.validated_data["text"])
        return Response({"sent": True}, status=status.HTTP_202_ACCEPTED)


def _name_nested_inputs() -> None:
    """Give every nested InputSerializer a unique OpenAPI component name (other apps' views
    have nested InputSerializers too, and drf-spectacular names components by class name)."""
    for name, value in list(globals().items()):
        if not (name.endswith("Api") and isinstance(value, type)):
            continue
        for attr in ("InputSerializer", "UpdateSerializer"):
            nested = value.__dict__.get(attr)
            if nested is not None:
                nested.Meta = type("Meta", (), {"ref_name": f"Content{name[:-3]}{attr[:-10]}"})


_name_nested_inputs()
