"""Content routes under /api/v1/."""

from django.urls import path, register_converter

from content import api


class SnowflakeConverter:
    """A 64-bit id in the path; anything else (or too large) is a plain 404, never a 500."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number >= 1 << 63:
            raise ValueError("out of range")
        return number

    def to_url(self, value) -> str:
        return str(value)


register_converter(SnowflakeConverter, "content_id")

urlpatterns = [
    path("posts", api.PostCreateApi.as_view(), name="content-posts"),
    path("posts/<content_id:post_id>", api.PostDetailApi.as_view(), name="content-post"),
    path("posts/<content_id:post_id>/edits", api.PostEditsApi.as_view(), name="content-post-edits"),
    path("posts/<content_id:post_id>/pin", api.PostPinApi.as_view(), name="content-post-pin"),
    path("posts/<content_id:post_id>/thread", api.PostThreadApi.as_view(), name="content-post-thread"),
    path("posts/<content_id:post_id>/replies", api.PostRepliesApi.as_view(), name="content-post-replies"),
    path("posts/<content_id:post_id>/quotes", api.PostQuotesApi.as_view(), name="content-post-quotes"),
    path("posts/<content_id:post_id>/view", api.PostViewApi.as_view(), name="content-post-view"),
    path("posts/<content_id:post_id>/reaction", api.PostReactionApi.as_view(), name="content-post-reaction"),
    path("posts/<content_id:post_id>/reactions", api.PostReactionsListApi.as_view(), name="content-post-reactions"),
    path("posts/<content_id:post_id>/repost", api.PostRepostApi.as_view(), name="content-post-repost"),
    path("posts/<content_id:post_id>/reposts", api.PostRepostersApi.as_view(), name="content-post-reposters"),
    path("posts/<content_id:post_id>/bookmark", api.PostBookmarkApi.as_view(), name="content-post-bookmark"),
    path("posts/<content_id:post_id>/comments", api.PostCommentsApi.as_view(), name="content-post-comments"),
    path("comments/<content_id:comment_id>", api.CommentDetailApi.as_view(), name="content-comment"),
    path("comments/<content_id:comment_id>/replies", api.CommentRepliesApi.as_view(), name="content-comment-replies"),
    path("comments/<content_id:comment_id>/reaction", api.CommentReactionApi.as_view(), name="content-comment-reaction"),
    path("comments/<content_id:comment_id>/pin", api.CommentPinApi.as_view(), name="content-comment-pin"),
    path("me/bookmarks", api.BookmarkListApi.as_view(), name="content-bookmarks"),
    path("me/collections", api.CollectionListApi.as_view(), name="content-collections"),
    path("me/collections/<content_id:collection_id>", api.CollectionDetailApi.as_view(), name="content-collection"),
    path("users/<str:handle>/posts", api.ProfilePostsApi.as_view(), name="content-profile-posts"),
    path("users/<str:handle>/stories", api.UserStoriesApi.as_view(), name="content-user-stories"),
    path("hashtags/<str:name>", api.HashtagPostsApi.as_view(), name="content-hashtag"),
    path("sounds", api.SoundCreateApi.as_view(), name="content-sounds"),
    path("sounds/<content_id:sound_id>", api.SoundDetailApi.as_view(), name="content-sound"),
    path("sounds/<content_id:sound_id>/videos", api.SoundVideosApi.as_view(), name="content-sound-videos"),
    path("stories", api.StoryCreateApi.as_view(), name="content-stories"),
    path("stories/rings", api.StoryRingsApi.as_view(), name="content-story-rings"),
    path("stories/<content_id:story_id>", api.StoryDetailApi.as_view(), name="content-story"),
    path("stories/<content_id:story_id>/view", api.StoryViewApi.as_view(), name="content-story-view"),
    path("stories/<content_id:story_id>/viewers", api.StoryViewersApi.as_view(), name="content-story-viewers"),
    path("stories/<content_id:story_id>/reaction", api.StoryReactionApi.as_view(), name="content-story-reaction"),
    path("stories/<content_id:story_id>/replies", api.StoryReplyApi.as_view(), name="content-story-replies"),
]
