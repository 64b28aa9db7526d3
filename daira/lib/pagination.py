"""Cursor pagination by snowflake id, shared by REST and GraphQL.

Ids are time-ordered, so "newest first" is `ORDER BY id DESC` on the primary key
index and the cursor is simply the last id seen: every page costs the same however
deep it is (no OFFSET). Cursors are opaque to clients (urlsafe base64) so we can
change them later.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db.models import QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from daira.lib.errors import Invalid

T = TypeVar("T")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def encode_cursor(value: int | str) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id inside `cursor`, or None for the first page. Raises Invalid on garbage."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Invalid("The cursor is not valid.", field="cursor") from None
    if value < 0 or value >= 1 << 63:
        raise Invalid("The cursor is not valid.", field="cursor")
    return value


def parse_limit(raw: Any, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise Invalid("limit must be a whole number.", field="limit") from None
    if value < 1:
        raise Invalid("limit must be at least 1.", field="limit")
    return min(value, maximum)


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def paginate_by_id(
    queryset: QuerySet, *, cursor: str | None, limit: int, field: str = "id", descending: bool = True
) -> Page:
    """One page of `queryset` ordered by `field` (an increasing unique bigint), and the next cursor."""
    after = decode_cursor(cursor)
    if after is not None:
        queryset = queryset.filter(**{f"{field}__lt" if descending else f"{field}__gt": after})
    queryset = queryset.order_by(f"-{field}" if descending else field)
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(_get_attr(rows[-1], field)) if has_more and rows else None
    return Page(items=rows, next_cursor=next_cursor)


def page_from_sequence(items: Sequence[T], *, limit: int, key) -> Page:
    """Build a Page from items fetched with limit+1 (for selectors that paginate themselves)."""
    has_more = len(items) > limit
    items = list(items[:limit])
    return Page(items=items, next_cursor=encode_cursor(key(items[-1])) if has_more and items else None)


def _get_attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("__"):
        obj = getattr(obj, part)
    return obj


class IdCursorPagination(BasePagination):
    """DRF pagination: `?cursor=&limit=`, response `{"results": [...], "next_cursor": ...}`."""

    cursor_query_param = "cursor"
    limit_query_param = "limit"
    field = "id"

    def paginate_queryset(self, queryset, request, view=None):
        self.page = paginate_by_id(
            queryset,
            cursor=request.query_params.get(self.cursor_query_param),
            limit=parse_limit(request.query_params.get(self.limit_query_param)),
            field=getattr(view, "cursor_field", self.field),
        )
        return self.page.items

    def get_paginated_response(self, data):
        return Response({"results": data, "next_cursor": self.page.next_cursor})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next_cursor"],
            "properties": {
                "results": schema,
                "next_cursor": {"type": "string", "nullable": True, "example": "MTIzNDU2Nzg5"},
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": "cursor", "required": False, "in": "query", "schema": {"type": "string"},
             "description": "Opaque cursor from the previous page's next_cursor."},
            {"name": "limit", "required": False, "in": "query", "schema": {"type": "integer", "maximum": MAX_LIMIT},
             "description": f"Page size (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})."},
        ]


def paginated_response(page: Page, serializer_class, *, context: dict | None = None) -> Response:
    """Render a Page the same way IdCursorPagination does, for views that paginate in a selector."""
    data = serializer_class(page.items, many=True, context=context or {}).data
    return Response({"results": data, "next_cursor": page.next_cursor})
