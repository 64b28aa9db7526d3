"""The application error hierarchy.

Services raise these; adapters map them: DRF through `daira.lib.drf.exception_handler`,
GraphQL through `daira.lib.graphql.DairaMutation`, WebSocket consumers by sending an
error event. Each carries a stable machine-readable `code`, a human `message`, optional
per-field messages and the HTTP status it maps to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApplicationError(Exception):
    status_code = 400
    default_code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        fields: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields: dict[str, list[str]] = {}
        for name, value in (fields or {}).items():
            self.fields[name] = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
        if field:
            self.fields.setdefault(field, []).append(message)
        self.extra = dict(extra or {})

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "fields": self.fields}
        body.update(self.extra)
        return body


class Invalid(ApplicationError):
    status_code = 400
    default_code = "invalid"


class NotAuthenticated(ApplicationError):
    status_code = 401
    default_code = "not_authenticated"


class PermissionDenied(ApplicationError):
    status_code = 403
    default_code = "permission_denied"


class NotFound(ApplicationError):
    status_code = 404
    default_code = "not_found"


class Conflict(ApplicationError):
    status_code = 409
    default_code = "conflict"


class Gone(ApplicationError):
    status_code = 410
    default_code = "gone"


class PayloadTooLarge(ApplicationError):
    status_code = 413
    default_code = "payload_too_large"


class Unprocessable(ApplicationError):
    status_code = 422
    default_code = "unprocessable"


class RateLimited(ApplicationError):
    """Too many requests; `retry_after` (seconds) becomes the Retry-After header."""

    status_code = 429
    default_code = "rate_limited"

    def __init__(self, message: str = "Too many requests. Try again later.", *, retry_after: int, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))
        self.extra.setdefault("retry_after", self.retry_after)


class ServiceUnavailable(ApplicationError):
    status_code = 503
    default_code = "unavailable"
