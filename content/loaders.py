"""Per-request batch loaders (DataLoaders) for GraphQL list fields.

graphql-core 3 runs our schema synchronously, so these are synchronous DataLoaders: a list
resolver registers the keys its items will ask for (`prime`), and the first `load(key)`
fetches every registered key not yet cached in ONE query. A `load` of a key nobody
registered still works (it is fetched on its own), so correctness never depends on
priming; only the query count does. Loaders live on the request (`info.context`), so
nothing leaks between requests or viewers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

from content.models import Bookmark, Post, PostMedia, Reaction, Repost
from social import policy

_MISSING = object()


class BatchLoader:
    def __init__(self, batch: Callable[[list], dict], default: Any = None) -> None:
        self._batch = batch
        self._default = default
        self._cache: dict[Hashable, Any] = {}
        self._pending: list[Hashable] = []
        self.batches = 0  # how many queries ran (tests assert on it)

    def prime(self, keys: Iterable[Hashable]) -> None:
        self._pending.extend(k for k in keys if k not in self._cache)

    def load(self, key: Hashable) -> Any:
        value = self._cache.get(key, _MISSING)
        if value is not _MISSING:
            return value
        keys = [k for k in dict.fromkeys([*self._pending, key]) if k not in self._cache]
        self._pending = []
        found = self._batch(keys)
        self.batches += 1
        for k in keys:
            self._cache[k] = found.get(k, self._default() if callable(self._default) else self._default)
        return self._cache[key]


class ContentLoaders:
    """The loaders of one request for one viewer."""

    def __init__(self, viewer) -> None:
        vid = policy.viewer_id(viewer)
        self.viewer = viewer

        def by_viewer(model, column: str):
            def batch(keys: list) -> dict:
                if vid is None:
                    return {}
                if column == "reaction":
                    return dict(model.objects.filter(user_id=vid, post_id__in=keys).values_list("post_id", "reaction"))
                return {pk: True for pk in model.objects.filter(user_id=vid, post_id__in=keys)
                        .values_list("post_id", flat=True)}
            return batch

        self.viewer_reaction = BatchLoader(by_viewer(Reaction, "reaction"))
        self.saved = BatchLoader(by_viewer(Bookmark, "saved"), default=False)
        self.reposted = BatchLoader(by_viewer(Repost, "reposted"), default=False)
        self.media = BatchLoader(self._media_batch, default=list)
        self.quote = BatchLoader(self._quote_batch)
        self.data_saver = BatchLoader(self._data_saver_batch, default=False)

    def _media_batch(self, post_ids: list) -> dict:
        grouped: dict[int, list[PostMedia]] = {}
        for item in PostMedia.objects.filter(post_id__in=post_ids).select_related("asset").order_by("post_id", "position"):
            grouped.setdefault(item.post_id, []).append(item)
        return grouped

    def _quote_batch(self, quoted_ids: list) -> dict:
        from content.selectors import posts_visible_by_ids

        return {p.pk: p for p in posts_visible_by_ids(viewer=self.viewer, post_ids=quoted_ids)}

    def _data_saver_batch(self, keys: list) -> dict:
        from content.selectors import _data_saver

        return {k: _data_saver(self.viewer) for k in keys}

    def prime_posts(self, posts: Iterable[Post]) -> None:
        posts = list(posts)
        ids = [p.pk for p in posts]
        for loader in (self.viewer_reaction, self.saved, self.reposted, self.media):
            loader.prime(ids)
        self.quote.prime(p.quote_of_id for p in posts if p.quote_of_id)


def loaders_for(info) -> ContentLoaders:
    """The request's content loaders (created on first use)."""
    context = info.context
    loaders = getattr(context, "_content_loaders", None)
    if loaders is None:
        loaders = ContentLoaders(context.user)
        context._content_loaders = loaders
    return loaders
