"""REST adapters: the tus 1.0.0 server, presigned uploads, asset status/playback, signed files.

tus (https://tus.io/protocols/resumable-upload): core + creation, creation-with-upload,
termination, expiration and checksum. Works with tuspy, tus-js-client and TUSKit.

    OPTIONS /api/v1/uploads/        versions, extensions, max size (no auth)
    POST    /api/v1/uploads/        create (Upload-Length, Upload-Metadata), maybe with a body
    HEAD    /api/v1/uploads/{id}    current Upload-Offset, to resume after a dropped connection
    PATCH   /api/v1/uploads/{id}    append at Upload-Offset (application/offset+octet-stream)
    DELETE  /api/v1/uploads/{id}    cancel

The body-size middleware exempts /api/v1/uploads; limits are enforced here, from
Upload-Length before any byte is stored, and from the sniffed type on the first bytes.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from email.utils import format_datetime

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from daira.lib.drf import error_body
from daira.lib.errors import ApplicationError, Invalid, PayloadTooLarge
from daira.views import media_serve
from media import selectors, services, storage
from media.models import Purpose, Upload
from media.serializers import MediaAssetOutputSerializer

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,termination,expiration,checksum"
TUS_CHECKSUMS = "sha1,sha256,md5"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
EXPOSED_HEADERS = (
    "Location, Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata, Tus-Resumable, "
    "Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm"
)


def _max_size() -> int:
    return max(settings.MEDIA_IMAGE_MAX_BYTES, settings.MEDIA_VIDEO_MAX_BYTES)


def _parse_metadata(header: str) -> dict[str, str]:
    """`key base64value,key2 ...` → dict; Invalid when malformed."""
    metadata: dict[str, str] = {}
    for pair in filter(None, (item.strip() for item in header.split(","))):
        key, _, encoded = pair.partition(" ")
        try:
            metadata[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8") if encoded else ""
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise Invalid(
                f"Upload-Metadata value for {key!r} is not base64 UTF-8.", code="metadata_malformed"
            ) from None
    return metadata


def _int_header(request, name: str) -> int:
    raw = request.headers.get(name)
    if raw is None or not raw.strip().isdigit():
        raise Invalid(f"{name} must be a non-negative integer.", code="invalid_header", field=name)
    return int(raw)


def _content_length(request) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    return int(raw) if raw and raw.isdigit() else None


class TusApiView(APIView):
    """Adds the tus headers to every response and checks Tus-Resumable on requests."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise TusVersionMismatch()

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = TUS_VERSION
        response["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if response.status_code == 412:
            response["Tus-Version"] = TUS_VERSION
        return response


class TusVersionMismatch(ApplicationError):
    status_code = 412
    default_code = "tus_version_unsupported"

    def __init__(self):
        super().__init__(f"This server speaks tus {TUS_VERSION}; send Tus-Resumable: {TUS_VERSION}.")


def _upload_headers(response, upload: Upload) -> None:
    response["Upload-Offset"] = str(upload.offset)
    response["Upload-Length"] = str(upload.length)
    if upload.completed_at is None:
        response["Upload-Expires"] = format_datetime(upload.expires_at, usegmt=True)
    response["Cache-Control"] = "no-store"


class UploadCollectionApi(TusApiView):
    """OPTIONS (discovery) and POST (creation, creation-with-upload)."""

    def get_permissions(self):
        if self.request.method == "OPTIONS":
            return [AllowAny()]
        return [IsAuthenticated()]

    @extend_schema(exclude=True)
    def options(self, request, *args, **kwargs):
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["Tus-Version"] = TUS_VERSION
        response["Tus-Extension"] = TUS_EXTENSIONS
        response["Tus-Max-Size"] = str(_max_size())
        response["Tus-Checksum-Algorithm"] = TUS_CHECKSUMS
        return response

    @extend_schema(
        summary="Create a tus upload",
        description="tus creation: headers Tus-Resumable, Upload-Length, Upload-Metadata (filename, filetype, "
        "purpose). 201 with Location. A body (application/offset+octet-stream) is appended at once.",
        request=None,
        responses={201: OpenApiResponse(description="Created; see Location")},
    )
    def post(self, request):
        length = _int_header(request, "Upload-Length")
        if length > _max_size():
            raise PayloadTooLarge(f"Uploads are limited to {_max_size()} bytes.", code="upload_too_large")
        metadata = _parse_metadata(request.headers.get("Upload-Metadata", ""))
        upload = services.upload_create(
            owner=request.user,
            length=length,
            filename=metadata.get("filename", "") or metadata.get("name", ""),
            declared_type=metadata.get("filetype", "") or metadata.get("type", ""),
            purpose=metadata.get("purpose", Purpose.POST) or Purpose.POST,
            metadata=metadata,
        )
        content_length = _content_length(request)
        if content_length and request.content_type == OFFSET_CONTENT_TYPE:
            upload = services.upload_append(
                upload=upload,
                offset=0,
                stream=request._request,
                content_length=content_length,
                checksum=request.headers.get("Upload-Checksum"),
            )
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(f"/api/v1/uploads/{upload.pk}")
        _upload_headers(response, upload)
        if upload.asset_id:
            response["X-Media-Asset-Id"] = str(upload.asset_id)
        return response


class UploadDetailApi(TusApiView):
    """HEAD (offset), PATCH (append), DELETE (terminate) on one upload."""

    permission_classes = [IsAuthenticated]

    def _upload(self, request, upload_id: int) -> Upload:
        return selectors.upload_get_owned(owner=request.user, upload_id=upload_id)

    @extend_schema(exclude=True)
    def head(self, request, upload_id: int):
        upload = self._upload(request, upload_id)
        response = Response(status=status.HTTP_200_OK)
        _upload_headers(response, upload)
        if upload.metadata:
            response["Upload-Metadata"] = ",".join(
                f"{k} {base64.b64encode(v.encode()).decode()}" if v else k for k, v in upload.metadata.items()
            )
        return response

    @extend_schema(exclude=True)
    def patch(self, request, upload_id: int):
        if request.content_type != OFFSET_CONTENT_TYPE:
            raise services.UnsupportedMediaType(f"PATCH bodies must be {OFFSET_CONTENT_TYPE}.", code="content_type")
        offset = _int_header(request, "Upload-Offset")
        upload = self._upload(request, upload_id)
        upload = services.upload_append(
            upload=upload,
            offset=offset,
            stream=request._request,
            content_length=_content_length(request),
            checksum=request.headers.get("Upload-Checksum"),
        )
        response = Response(status=status.HTTP_204_NO_CONTENT)
        _upload_headers(response, upload)
        if upload.asset_id:
            response["X-Media-Asset-Id"] = str(upload.asset_id)
        return response

    @extend_schema(exclude=True)
    def delete(self, request, upload_id: int):
        services.upload_delete(upload=self._upload(request, upload_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(exclude=True)
    def post(self, request, upload_id: int):
        # tus: clients behind proxies that drop PATCH/DELETE send POST + X-HTTP-Method-Override.
        override = request.headers.get("X-HTTP-Method-Override", "").upper()
        if override == "PATCH":
            return self.patch(request, upload_id)
        if override == "DELETE":
            return self.delete(request, upload_id)
        return Response(
            {"error": {"code": "method_not_allowed", "message": "Use PATCH, HEAD or DELETE.", "fields": {}}},
            status=status.HTTP_405_METHOD_NOT_ALLOWED,
        )


class SmallBodyApiView(APIView):
    """JSON endpoints under /api/v1/uploads: the global body limit skips this prefix (for tus),
    so these apply it themselves before DRF parses anything."""

    def initial(self, request, *args, **kwargs):
        length = _content_length(request) or 0
        if length > settings.DAIRA_MAX_BODY_BYTES:
            raise PayloadTooLarge("The request body is too large.")
        super().initial(request, *args, **kwargs)


class UploadPresignApi(SmallBodyApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        filename = serializers.CharField(max_length=255, allow_blank=True, default="")
        filetype = serializers.CharField(max_length=100)
        size = serializers.IntegerField(min_value=1)
        purpose = serializers.ChoiceField(choices=Purpose.choices, default=Purpose.POST)

    class OutputSerializer(serializers.Serializer):
        upload_id = serializers.CharField()
        url = serializers.URLField()
        method = serializers.CharField()
        headers = serializers.DictField(child=serializers.CharField())
        expires_at = serializers.DateTimeField()
        complete_url = serializers.CharField()

    @extend_schema(
        summary="Presigned direct-to-bucket upload (S3 storage only)",
        request=InputSerializer,
        responses={201: OutputSerializer},
    )
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        result = services.upload_presign(
            owner=request.user,
            filename=data["filename"],
            declared_type=data["filetype"],
            length=data["size"],
            purpose=data["purpose"],
        )
        upload = result["upload"]
        body = {
            "upload_id": str(upload.pk),
            "url": result["url"],
            "method": result["method"],
            "headers": result["headers"],
            "expires_at": result["expires_at"],
            "complete_url": request.build_absolute_uri(f"/api/v1/uploads/{upload.pk}/complete"),
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)


class UploadCompleteApi(SmallBodyApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Finish a presigned upload", request=None, responses={201: MediaAssetOutputSerializer})
    def post(self, request, upload_id: int):
        upload = selectors.upload_get_owned(owner=request.user, upload_id=upload_id)
        asset = services.upload_presigned_complete(upload=upload)
        return Response(
            MediaAssetOutputSerializer(asset, context={"viewer": request.user}).data, status=status.HTTP_201_CREATED
        )


class MediaAssetDetailApi(APIView):
    """An asset's status, progress and (when ready) URLs and playback for the viewer."""

    @extend_schema(summary="Media asset status and playback", responses={200: MediaAssetOutputSerializer})
    def get(self, request, asset_id: int):
        asset = selectors.asset_get_for_viewer(viewer=request.user, asset_id=asset_id)
        return Response(MediaAssetOutputSerializer(asset, context={"viewer": request.user}).data)


def _not_found() -> JsonResponse:
    # A plain 404 body: an expired link and a forged one look the same.
    return JsonResponse(error_body("not_found", "This link is invalid or has expired."), status=404)


@require_GET
def signed_file(request, token: str, relative: str):
    """Serve a private asset's file under a signed, expiring path prefix.

    Local storage: streamed with Range support. S3: playlists are rewritten so every
    segment URI is a presigned GET (nested playlists stay under this signed prefix), and
    other files redirect to a presigned GET.
    """
    prefix = storage.unsign_prefix(token)
    normalized = posixpath.normpath(relative)
    if prefix is None or normalized.startswith(("..", "/")) or normalized == ".":
        return _not_found()
    name = f"{prefix}/{normalized}"
    if not storage.is_s3():
        try:
            response = media_serve(request, name)
        except Http404:
            return _not_found()
        response["Cache-Control"] = "private, max-age=60"
        return response
    if normalized.endswith(".m3u8"):
        try:
            with storage.default_storage.open(name, "rb") as handle:
                playlist = handle.read().decode("utf-8")
        except OSError:
            return _not_found()
        base = posixpath.dirname(normalized)
        lines = []
        for line in playlist.splitlines():
            if line and not line.startswith("#") and not line.endswith(".m3u8"):
                line = storage.presigned_get(f"{prefix}/{posixpath.normpath(posixpath.join(base, line))}")
            lines.append(line)
        response = HttpResponse("\n".join(lines) + "\n", content_type="application/vnd.apple.mpegurl")
        response["Cache-Control"] = "private, max-age=60"
        return response
    return HttpResponseRedirect(storage.presigned_get(name))
