"""Search backends behind one interface, and the documents they index.

Documents and queries both go through `daira.lib.text.search_variants` (Arabic
normalised, Arabizi transliterated, Latin folded, repeats collapsed, plus the vowel-blind
Arabic skeleton), so "حبيبى", "حبيبي" and "7abibi" meet, diacritics never matter and
"mohammed" is stored as "mohamed".

- `PostgresSearchBackend` (default): `feeds.SearchDocument` with a 'simple' tsvector
  (prefix queries: "moha" → "mohamed"), and typos corrected against the index's
  vocabulary (`feeds.SearchTerm`, pg_trgm GIN: "mohamad" → "mohamed") before a second
  full-text pass; ranked by match tier (exact name > full text > corrected), then
  popularity.
- `MeilisearchBackend` when `MEILISEARCH_URL` is set: one index `daira` over the same
  documents through Meilisearch's documented HTTP API (typo tolerance and prefix search
  are built into the engine; popularity is a custom ranking rule). The server cannot be
  installed on this machine; it is tested at the HTTP boundary only.

Backends return candidate object ids best first; `feeds.search_selectors` applies the
visibility policy to them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import httpx
from django.conf import settings
from django.contrib.postgres.search import SearchVector, TrigramSimilarity
from django.db import connection, transaction
from django.utils import timezone

from daira.lib.text import normalize_for_match, search_variants
from feeds.models import SearchDocument, SearchKind, SearchTerm

logger = logging.getLogger(__name__)

MAX_VARIANTS = 4
TYPO_SUGGESTIONS = 3
MATCH_CAP = 2_000
TYPO_MIN_LENGTH = 4  # shorter words have too few trigrams to correct safely
MAX_QUERY_LENGTH = 200
MEILI_INDEX = "daira"


@dataclass(frozen=True)
class Doc:
    kind: str
    object_id: int
    owner_id: int | None
    key: str
    text: str
    popularity: float


def index_text(*parts: str) -> str:
    """Every search form of `parts`, space-joined (what is stored and matched)."""
    forms: list[str] = []
    for part in parts:
        if not part:
            continue
        for form in search_variants(part.replace("_", " ")):
            if form and form not in forms:
                forms.append(form)
    return " ".join(forms)


def query_variants(query: str) -> list[str]:
    """The normalised forms of a query, primary first (empty list for a query with no words)."""
    query = (query or "")[:MAX_QUERY_LENGTH].replace("_", " ").lstrip("#@＃")
    return [v for v in search_variants(query) if v][:MAX_VARIANTS]


def _tsquery(variants: list[str]) -> str:
    """A raw tsquery: each variant's words ANDed with prefix matching, variants ORed.
    Words are [^\\W_]+ tokens from the normaliser; quotes and backslashes are dropped anyway."""
    groups = []
    for variant in variants:
        words = [w.replace("'", "").replace("\\", "") for w in variant.split()]
        words = [w for w in words if w]
        if words:
            groups.append("(" + " & ".join(f"'{w}':*" for w in words) + ")")
    return " | ".join(groups)


class SearchBackend:
    name = "base"

    def upsert(self, docs: list[Doc]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def delete(self, *, kind: str, object_ids: list[int]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def candidates(self, *, kind: str, query: str, limit: int) -> list[int]:  # pragma: no cover - interface
        raise NotImplementedError


class PostgresSearchBackend(SearchBackend):
    name = "postgres"

    @transaction.atomic
    def upsert(self, docs: list[Doc]) -> None:
        if not docs:
            return
        now = timezone.now()
        rows = [SearchDocument(**asdict(doc), updated_at=now) for doc in docs]
        SearchDocument.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["kind", "object_id"],
            update_fields=["owner_id", "key", "text", "popularity", "updated_at"],
        )
        by_kind: dict[str, list[int]] = {}
        for doc in docs:
            by_kind.setdefault(doc.kind, []).append(doc.object_id)
        for kind, object_ids in by_kind.items():
            SearchDocument.objects.filter(kind=kind, object_id__in=object_ids).update(
                tsv=SearchVector("key", "text", config="simple")
            )
        words = {word[:100] for doc in docs for word in f"{doc.key} {doc.text}".split() if word}
        SearchTerm.objects.bulk_create([SearchTerm(word=w) for w in sorted(words)], ignore_conflicts=True)

    def delete(self, *, kind: str, object_ids: list[int]) -> None:
        SearchDocument.objects.filter(kind=kind, object_id__in=list(object_ids)).delete()

    def candidates(self, *, kind: str, query: str, limit: int) -> list[int]:
        """Three index-friendly passes, best tier first, each by popularity: the exact name
        (btree on kind, key); full text with prefixes (GIN tsvector); and, only while the page
        is not full, full text again with each query word widened to its closest spellings
        in the vocabulary (`SearchTerm`, pg_trgm similarity): the typo pass."""
        variants = query_variants(query)
        if not variants:
            return []
        docs = SearchDocument.objects.filter(kind=kind)
        found: list[int] = []
        if kind != SearchKind.POST:  # posts have no name (`key` is empty): no exact tier
            found = list(
                docs.filter(key__in=variants)
                .order_by("-popularity", "-object_id")
                .values_list("object_id", flat=True)[:limit]
            )

        def full_text(tsquery: str) -> None:
            if not tsquery or len(found) >= limit:
                return
            # Bounded work at any index size: the GIN index yields at most MATCH_CAP matches,
            # which are then ordered by popularity (a word in a third of all posts must not
            # sort a third of the table; its first MATCH_CAP hits are plenty to rank a page).
            # One pass over the GIN hits: the capped matches carry their own popularity, so
            # ranking them needs no second lookup by primary key per match.
            with connection.cursor() as cursor:
                cursor.execute(_FULL_TEXT_SQL, [kind, tsquery, MATCH_CAP, limit + len(found)])
                rows = [row[0] for row in cursor.fetchall()]
            seen = set(found)
            found.extend(object_id for object_id in rows if object_id not in seen)

        full_text(_tsquery(variants))
        if len(found) < limit:
            full_text(_tsquery_with_corrections(variants[0]))
        return found[:limit]


_FULL_TEXT_SQL = f"""
    SELECT object_id FROM (
        SELECT object_id, popularity FROM "{SearchDocument._meta.db_table}"
        WHERE kind = %s AND tsv @@ to_tsquery('simple'::regconfig, %s) LIMIT %s
    ) AS hits ORDER BY popularity DESC, object_id DESC LIMIT %s
"""


def corrections(word: str, *, limit: int = TYPO_SUGGESTIONS) -> list[str]:
    """Vocabulary words closest to `word` (pg_trgm similarity above its threshold), best first."""
    if len(word) < TYPO_MIN_LENGTH:
        return []
    return list(
        SearchTerm.objects.filter(word__trigram_similar=word)
        .annotate(similarity=TrigramSimilarity("word", word))
        .order_by("-similarity", "word")
        .values_list("word", flat=True)[:limit]
    )


def _quoted(word: str) -> str:
    return word.replace("'", "").replace("\\", "")


def _tsquery_with_corrections(variant: str) -> str:
    """Each word of `variant` ORed with its corrections (`(mohamad:* | mohamed | mohammad)`),
    the words ANDed; empty when no word has a correction (nothing new to try)."""
    groups = []
    corrected = False
    for word in (_quoted(w) for w in variant.split()):
        if not word:
            continue
        options = [f"'{word}':*"] + [f"'{_quoted(c)}'" for c in corrections(word) if _quoted(c) and c != word]
        corrected = corrected or len(options) > 1
        groups.append("(" + " | ".join(options) + ")")
    return " & ".join(groups) if corrected else ""


class MeilisearchBackend(SearchBackend):
    """Meilisearch over HTTP (https://www.meilisearch.com/docs/reference/api). Documents
    get `uid` = "<kind>-<object_id>"; queries filter on `kind`. `transport` lets tests
    talk to an httpx.MockTransport instead of a server."""

    name = "meilisearch"

    def __init__(self, url: str, api_key: str = "", *, transport: httpx.BaseTransport | None = None):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=5.0, transport=transport)

    def _call(self, method: str, path: str, **kwargs) -> dict:
        response = self.client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else {}

    def setup(self) -> None:
        """Create the index and its settings (idempotent: Meilisearch enqueues tasks)."""
        self._call("POST", "/indexes", json={"uid": MEILI_INDEX, "primaryKey": "uid"})
        self._call(
            "PATCH", f"/indexes/{MEILI_INDEX}/settings",
            json={
                "searchableAttributes": ["key", "text"],
                "filterableAttributes": ["kind"],
                "sortableAttributes": ["popularity"],
                "rankingRules": ["words", "typo", "proximity", "attribute", "exactness", "popularity:desc"],
            },
        )

    def upsert(self, docs: list[Doc]) -> None:
        if not docs:
            return
        payload = [{"uid": f"{d.kind}-{d.object_id}", **asdict(d)} for d in docs]
        self._call("POST", f"/indexes/{MEILI_INDEX}/documents", json=payload)

    def delete(self, *, kind: str, object_ids: list[int]) -> None:
        ids = [f"{kind}-{i}" for i in object_ids]
        if ids:
            self._call("POST", f"/indexes/{MEILI_INDEX}/documents/delete-batch", json=ids)

    def candidates(self, *, kind: str, query: str, limit: int) -> list[int]:
        variants = query_variants(query)
        if not variants:
            return []
        found: list[int] = []
        # Meilisearch has no OR across query strings: ask once per variant (primary first)
        # in one multi-search call, and keep the first appearance of each hit.
        body = {
            "queries": [
                {"indexUid": MEILI_INDEX, "q": v, "filter": f'kind = "{kind}"', "limit": limit,
                 "attributesToRetrieve": ["object_id"]}
                for v in variants
            ]
        }
        for result in self._call("POST", "/multi-search", json=body).get("results", []):
            for hit in result.get("hits", []):
                object_id = int(hit["object_id"])
                if object_id not in found:
                    found.append(object_id)
        return found[:limit]


def get_backend() -> SearchBackend:
    if settings.MEILISEARCH_URL:
        return MeilisearchBackend(settings.MEILISEARCH_URL, settings.MEILISEARCH_API_KEY)
    return PostgresSearchBackend()


# --- documents from the source tables --------------------------------------------------------------
def user_docs(user_ids) -> list[Doc]:
    from accounts.models import User

    users = User.objects.filter(pk__in=list(user_ids), status=User.Status.ACTIVE).select_related("profile")
    return [
        Doc(
            kind=SearchKind.USER, object_id=u.pk, owner_id=u.pk, key=normalize_for_match(u.handle.replace("_", " ")),
            text=index_text(u.handle, u.profile.display_name, u.profile.bio),
            popularity=float(u.profile.followers_count),
        )
        for u in users
    ]


def post_docs(post_ids) -> list[Doc]:
    """Only public, published, visible, alive posts are indexed (private accounts' posts
    are also dropped at read, since privacy can change after indexing)."""
    from content.models import ModerationState, Post

    posts = Post.objects.filter(
        pk__in=list(post_ids), status=Post.Status.PUBLISHED, moderation_state=ModerationState.VISIBLE,
        deleted_at__isnull=True, audience="public",
    ).only("id", "author_id", "body", "reactions_count", "comments_count", "reposts_count", "quotes_count")
    return [
        Doc(
            kind=SearchKind.POST, object_id=p.pk, owner_id=p.author_id, key="", text=index_text(p.body),
            popularity=float(p.reactions_count + 2 * p.comments_count + 3 * p.reposts_count + p.quotes_count),
        )
        for p in posts
        if p.body.strip()
    ]


def hashtag_docs(hashtag_ids) -> list[Doc]:
    from content.models import Hashtag

    return [
        Doc(kind=SearchKind.HASHTAG, object_id=h.pk, owner_id=None, key=normalize_for_match(h.name.replace("_", " ")),
            text=index_text(h.name), popularity=float(h.posts_count))
        for h in Hashtag.objects.filter(pk__in=list(hashtag_ids))
    ]


def sound_docs(sound_ids) -> list[Doc]:
    from content.models import Sound

    return [
        Doc(kind=SearchKind.SOUND, object_id=s.pk, owner_id=s.owner_id, key=normalize_for_match(s.title),
            text=index_text(s.title, s.artist), popularity=float(s.uses_count))
        for s in Sound.objects.filter(pk__in=list(sound_ids))
    ]


DOC_BUILDERS = {
    SearchKind.USER: user_docs,
    SearchKind.POST: post_docs,
    SearchKind.HASHTAG: hashtag_docs,
    SearchKind.SOUND: sound_docs,
}
