"""Project-wide middleware: request ids, body size limit, JSON errors for non-DRF paths."""

from __future__ import annotations

import json
import logging
import re
import uuid

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpResponse

from daira.logs import request_id_var

logger = logging.getLogger("daira.request")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _json(status: int, code: str, message: str, **extra) -> HttpResponse:
    body = {"code": code, "message": message, "fields": {}}
    body.update(extra)
    return HttpResponse(json.dumps({"error": body}), status=status, content_type="application/json")


class RequestIdMiddleware:
    """Take a sane X-Request-ID from the client or make one; echo it on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class BodySizeLimitMiddleware:
    """413 before reading a body larger than DAIRA_MAX_BODY_BYTES (uploads are exempt)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(tuple(settings.DAIRA_BODY_LIMIT_EXEMPT_PREFIXES)):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return _json(400, "malformed", "Content-Length is not a number.")
            if length > settings.DAIRA_MAX_BODY_BYTES:
                return _json(
                    413, "payload_too_large",
                    f"The request body is larger than {settings.DAIRA_MAX_BODY_BYTES} bytes.",
                )
        return self.get_response(request)


class JsonErrorMiddleware:
    """Non-DRF failures (unknown routes, unhandled exceptions) as JSON under /api/, /graphql and /health.

    An unhandled exception becomes a 500 with the request id and no stack trace; the
    trace goes to the log with the same request id.
    """

    JSON_PREFIXES = ("/api/", "/graphql", "/health", "/ws/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path.startswith(self.JSON_PREFIXES)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return _json(404, "not_found", "No such endpoint.")
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig):
            return _json(413, "payload_too_large", "The request body is too large.")
        if isinstance(exception, (Http404, PermissionDenied, SuspiciousOperation, BadRequest)):
            # Not server errors. API paths get our JSON shape; HTML pages (the admin) get
            # Django's own 404/403/400 pages.
            if not request.path.startswith(self.JSON_PREFIXES):
                return None
            if isinstance(exception, Http404):
                return _json(404, "not_found", "Not found.")
            if isinstance(exception, PermissionDenied):
                return _json(403, "permission_denied", "You do not have permission to do this.")
            return _json(400, "malformed", "The request could not be understood.")
        request_id = getattr(request, "request_id", "-")
        logger.error(
            "request.unhandled_exception",
            exc_info=exception,
            extra={"path": request.path, "method": request.method},
        )
        if settings.DEBUG and not request.path.startswith(self.JSON_PREFIXES):
            return None  # Django's debug page for admin and other HTML pages in development
        return _json(500, "internal_error", "Something went wrong on our side.", request_id=request_id)
