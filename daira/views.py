"""Project-level views: JSON error handlers and local media serving with byte ranges."""

from __future__ import annotations

import mimetypes
import os
import re

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.utils._os import safe_join

from daira.logs import request_id_var

mimetypes.add_type("application/vnd.apple.mpegurl", ".m3u8")
mimetypes.add_type("video/mp2t", ".ts")
mimetypes.add_type("video/iso.segment", ".m4s")
mimetypes.add_type("image/webp", ".webp")
mimetypes.add_type("video/mp4", ".mp4")

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def not_found(request, exception=None):
    return JsonResponse({"error": {"code": "not_found", "message": "No such endpoint.", "fields": {}}}, status=404)


def server_error(request):
    return JsonResponse(
        {"error": {"code": "internal_error", "message": "Something went wrong on our side.", "fields": {},
                   "request_id": request_id_var.get()}},
        status=500,
    )


def media_serve(request, path: str):
    """Serve a file from MEDIA_ROOT honouring `Range: bytes=a-b` (206) for players that seek.

    Access control for private media is by unguessable signed paths issued by the media
    app; this view only refuses paths that escape MEDIA_ROOT.
    """
    try:
        full_path = safe_join(str(settings.MEDIA_ROOT), path)
    except Exception:
        raise Http404 from None
    if not os.path.isfile(full_path):
        raise Http404
    size = os.path.getsize(full_path)
    content_type = mimetypes.guess_type(full_path)[0] or "application/octet-stream"
    header = request.headers.get("Range", "")
    match = _RANGE.match(header.strip()) if header else None
    if match and (match.group(1) or match.group(2)):
        first, last = match.group(1), match.group(2)
        if first == "":
            length = min(int(last), size)
            start, end = size - length, size - 1
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        if start >= size or start > end:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        handle = open(full_path, "rb")
        handle.seek(start)
        length = end - start + 1
        response = FileResponse(_limited(handle, length), status=206, content_type=content_type)
        response["Content-Length"] = str(length)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        response = FileResponse(open(full_path, "rb"), content_type=content_type)
        response["Content-Length"] = str(size)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def _limited(handle, length: int, chunk: int = 64 * 1024):
    try:
        remaining = length
        while remaining > 0:
            data = handle.read(min(chunk, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        handle.close()


def public_media_serve(request, path: str):
    """The /media/ route: public files only.

    Private media (close-friends stories, DM attachments) lives under `private/` and is
    reachable only through the media app's short-lived signed URLs, which call
    `media_serve` themselves after checking the signature. A signed token's payload is
    readable, so the raw path must not work on its own."""
    import posixpath

    normalised = posixpath.normpath("/" + path).lstrip("/")
    if normalised == "private" or normalised.startswith("private/"):
        raise Http404
    return media_serve(request, path)
