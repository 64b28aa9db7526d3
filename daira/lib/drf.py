"""DRF glue: one JSON error shape for every failure, and DRF's datetime output without DRF.

`{"error": {"code": "...", "message": "...", "fields": {...}}}` with the right status.
ApplicationError subclasses carry their own status and code; DRF's own exceptions
(validation, parse, auth, throttling) are mapped to the same shape.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions, serializers, status
from drf_spectacular.openapi import AutoSchema
from rest_framework.response import Response

from daira.lib.errors import ApplicationError, RateLimited


_DATETIME = serializers.DateTimeField()


def text_output(value) -> str | None:
    """DRF's CharField output (None stays None), for hand-built response dicts."""
    return None if value is None else str(value)


def datetime_output(value, tz=None) -> str | None:
    """DRF's DateTimeField output for `value`, for hand-built response dicts (cards are built
    directly where DRF's per-field loop cost more CPU than the request's queries). `tz`: the
    current time zone, when the caller already looked it up (a context-local read)."""
    if value is None:
        return None
    if tz is None or timezone.is_naive(value):
        return _DATETIME.to_representation(value)
    text = value.astimezone(tz).isoformat()  # what DRF's enforce_timezone + ISO 8601 output do
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            fields.update(_flatten(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            fields[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                fields.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        fields[prefix or "non_field_errors"] = [str(detail)]
    return fields


def error_body(code: str, message: str, fields: dict | None = None, **extra: Any) -> dict[str, Any]:
    body = {"code": code, "message": message, "fields": fields or {}}
    body.update(extra)
    return {"error": body}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Map every known exception to our error shape; unknown ones propagate (→ 500 middleware)."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        return Response({"error": exc.as_dict()}, status=exc.status_code, headers=headers)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("payload_too_large", "The request body is too large."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None

    if isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid", "The request has invalid fields.", _flatten(exc.detail))
    elif isinstance(exc, exceptions.ParseError):
        body = error_body("malformed", str(exc.detail))
    elif isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 1)
        headers["Retry-After"] = str(max(1, wait))
        body = error_body("rate_limited", "Too many requests. Try again later.", retry_after=max(1, wait))
    else:
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        message = exc.detail
        if isinstance(message, dict) and "detail" in message:
            # simplejwt raises AuthenticationFailed({"detail": ..., "code": ...}); str() of
            # that dict would send a Python repr to the client.
            code = message.get("code") or code
            message = message["detail"]
        body = error_body(str(code), str(message))
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    elif isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return Response(body, status=exc.status_code, headers=headers)


class DairaAutoSchema(AutoSchema):
    """OpenAPI generation with unique component names for nested serializers.

    House style nests `InputSerializer` inside each view; drf-spectacular would name them
    all "Input" and merge unrelated shapes. A nested serializer is named after its outer
    class instead: `PostCreateApi.InputSerializer` becomes "PostCreateInput".
    """

    def get_serializer_name(self, serializer, direction):
        # Only reached when no component_name / ref_name override is set.
        cls = serializer if isinstance(serializer, type) else serializer.__class__
        outer, _, inner = cls.__qualname__.rpartition(".")
        if not outer or "<locals>" in outer:
            return super().get_serializer_name(serializer, direction)
        return f"{outer.replace('.', '').removesuffix('Api')}{inner.removesuffix('Serializer')}"
