"""Media writes: uploads (tus and presigned), and one service per asset transition.

    upload_create → upload_append* → (complete) → MediaAsset "uploaded"
    asset_processing_start   uploaded → processing (takes a lease; attempt counted)
    asset_progress_update    renews the lease, sends "media.progress" live
    asset_mark_ready         processing → ready   (emits "media.ready")
    asset_mark_failed        any → failed(code)   (emits "media.failed"; deletes every file)
    asset_processing_release processing → uploaded (a transient error; the task retries)
    assets_requeue_stale     processing with a lapsed lease → uploaded, and requeued

`asset_process` runs the pipeline (validate, probe, render or transcode, store) between
those transitions; media.tasks.asset_process_task is its Celery wrapper.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from daira.lib import events, realtime
from daira.lib.errors import ApplicationError, Conflict, Invalid, NotFound, PayloadTooLarge, RateLimited
from media import ffmpeg, images, storage, tasks, validation, video
from media.models import PRIVATE_PURPOSES, Kind, MediaAsset, Purpose, Upload

logger = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024


class UnsupportedMediaType(ApplicationError):
    status_code = 415
    default_code = "unsupported_type"


class ChecksumMismatch(ApplicationError):
    """tus checksum extension: the body does not match Upload-Checksum."""

    status_code = 460
    default_code = "checksum_mismatch"


def _rejection_error(rejected: validation.Rejected) -> ApplicationError:
    if rejected.status == 413:
        return PayloadTooLarge(rejected.message, code=rejected.code)
    if rejected.code == "unsupported_type":
        return UnsupportedMediaType(rejected.message, code=rejected.code)
    error = ApplicationError(rejected.message, code=rejected.code)
    error.status_code = rejected.status
    return error


# --- uploads --------------------------------------------------------------------------


def _open_uploads_count(owner_id: int) -> int:
    return Upload.objects.filter(owner_id=owner_id, completed_at__isnull=True, expires_at__gt=timezone.now()).count()


def _check_declared(*, declared_type: str, length: int) -> None:
    """Refuse early, from what the client declares, what could never be accepted.

    The declared type only ever narrows: acceptance is decided from the bytes later.
    """
    if length > max(settings.MEDIA_IMAGE_MAX_BYTES, settings.MEDIA_VIDEO_MAX_BYTES):
        raise PayloadTooLarge(
            f"Uploads are limited to {settings.MEDIA_VIDEO_MAX_BYTES // (1024 * 1024)} MB.", code="upload_too_large"
        )
    if declared_type.startswith("image/"):
        try:
            validation.check_size(kind=Kind.IMAGE, size=length)
        except validation.Rejected as rejected:
            raise _rejection_error(rejected) from None


@transaction.atomic
def upload_create(
    *,
    owner,
    length: int,
    filename: str = "",
    declared_type: str = "",
    purpose: str = Purpose.POST,
    metadata: Mapping[str, str] | None = None,
) -> Upload:
    """Open an upload of `length` bytes for `owner` (tus creation, or the presign step).

    Raises Invalid for a bad length or purpose, PayloadTooLarge (413) when the length is
    over every limit (or over the image limit for a declared image) before any byte is
    stored, and RateLimited (429, code too_many_uploads) when the owner already has
    MEDIA_MAX_CONCURRENT_UPLOADS unfinished uploads. The upload expires after
    MEDIA_UPLOAD_EXPIRY_SECONDS.
    """
    if length < 1:
        raise Invalid("Upload-Length must be a positive number of bytes.", field="length")
    if purpose not in Purpose.values:
        raise Invalid(f"Unknown purpose {purpose!r}.", field="purpose")
    _check_declared(declared_type=declared_type, length=length)
    # Serialise concurrent creations by the same owner so the limit cannot be raced.
    type(owner).objects.select_for_update().filter(pk=owner.pk).first()
    if _open_uploads_count(owner.pk) >= settings.MEDIA_MAX_CONCURRENT_UPLOADS:
        raise RateLimited(
            f"At most {settings.MEDIA_MAX_CONCURRENT_UPLOADS} uploads may be in progress at once.",
            retry_after=30,
            code="too_many_uploads",
        )
    return Upload.objects.create(
        owner=owner,
        length=length,
        filename=filename[:255],
        declared_type=declared_type[:100],
        purpose=purpose,
        private=purpose in PRIVATE_PURPOSES,
        metadata=dict(metadata or {}),
        expires_at=timezone.now() + timedelta(seconds=settings.MEDIA_UPLOAD_EXPIRY_SECONDS),
    )


def _parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    if not header:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm.lower() not in ("sha1", "md5", "sha256"):
        raise Invalid("Upload-Checksum algorithm must be sha1, sha256 or md5.", code="checksum_algorithm")
    try:
        return algorithm.lower(), base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("Upload-Checksum is not base64.", code="checksum_malformed") from None


def _receive(stream: IO[bytes], limit: int, target: IO[bytes], digest) -> int:
    """Copy at most `limit` bytes of `stream` to `target`; a dropped connection keeps what came."""
    received = 0
    while received < limit:
        try:
            chunk = stream.read(min(READ_CHUNK, limit - received))
        except OSError:  # the client went away mid-body (3G dropped): keep what arrived
            logger.info("media.upload_body_interrupted", extra={"received": received})
            break
        if not chunk:
            break
        target.write(chunk)
        if digest is not None:
            digest.update(chunk)
        received += len(chunk)
    return received


def upload_append(
    *,
    upload: Upload,
    offset: int,
    stream: IO[bytes],
    content_length: int | None,
    checksum: str | None = None,
) -> Upload:
    """Append the body `stream` at `offset` (tus PATCH); returns the upload, maybe completed.

    Raises Conflict (409) when `offset` is not the upload's current offset (also when a
    concurrent PATCH won the race), Invalid when the body would run past Upload-Length,
    ChecksumMismatch (460) when Upload-Checksum does not match (nothing is stored), and,
    on the first bytes, UnsupportedMediaType (415) / PayloadTooLarge (413) from the
    sniffed type, in which case the whole upload is deleted. The body is streamed to a
    temporary file and stored as one part, so a dropped connection keeps what arrived.
    On the last byte the upload becomes a MediaAsset and processing is queued.
    """
    if upload.completed_at is not None:
        raise Conflict("This upload is already complete.", code="upload_complete")
    if offset != upload.offset:
        raise Conflict(
            f"Upload-Offset {offset} does not match the server's offset {upload.offset}.",
            code="offset_mismatch",
            extra={"offset": upload.offset},
        )
    remaining = upload.length - upload.offset
    if content_length is not None and content_length > remaining:
        raise Invalid("The body runs past Upload-Length.", code="length_exceeded")
    expected = _parse_checksum(checksum)
    digest = hashlib.new(expected[0]) if expected else None

    with tempfile.TemporaryFile() as body:
        received = _receive(stream, remaining if content_length is None else content_length, body, digest)
        if expected and (received != content_length or digest.digest() != expected[1]):
            raise ChecksumMismatch("The body does not match Upload-Checksum.")
        if received == 0:
            return upload
        body.seek(0)
        if offset == 0:
            _check_first_bytes(upload=upload, head=body.read(validation.HEAD_BYTES))
            body.seek(0)
        name = storage.upload_part_name(upload.pk, offset)
        stored = storage.default_storage.save(name, storage.File(body, name=os.path.basename(name)))
    try:
        return _record_part(upload_id=upload.pk, offset=offset, received=received, part=stored)
    except ApplicationError:
        storage.delete_names([stored])
        raise


def _check_first_bytes(*, upload: Upload, head: bytes) -> None:
    if len(head) < min(validation.HEAD_BYTES, upload.length):
        raise Invalid(
            f"The first chunk must hold at least {validation.HEAD_BYTES} bytes.", code="first_chunk_too_small"
        )
    detected = validation.sniff(head)
    try:
        if detected is None:
            raise validation.Rejected(
                "unsupported_type",
                "Only JPEG, PNG, WebP, GIF, HEIC, MP4, MOV, WebM and 3GP files are accepted.",
                status=415,
            )
        validation.check_size(kind=validation.kind_of(detected), size=upload.length)
    except validation.Rejected as rejected:
        upload_delete(upload=upload)
        raise _rejection_error(rejected) from None
    Upload.objects.filter(pk=upload.pk).update(detected_type=detected)
    upload.detected_type = detected


@transaction.atomic
def _record_part(*, upload_id: int, offset: int, received: int, part: str) -> Upload:
    upload = Upload.objects.select_for_update().get(pk=upload_id)
    if upload.offset != offset or upload.completed_at is not None:
        raise Conflict("Another request appended to this upload first.", code="offset_mismatch")
    upload.parts = [*upload.parts, part]
    upload.offset = offset + received
    upload.save(update_fields=["parts", "offset", "updated_at"])
    if upload.offset == upload.length:
        _upload_complete(upload=upload)
    return upload


def _upload_complete(*, upload: Upload) -> MediaAsset:
    """Turn a fully received upload into an "uploaded" asset and queue its processing."""
    kind = validation.kind_of(upload.detected_type)
    asset_id = MediaAsset._meta.get_field("id").get_default()
    asset = MediaAsset.objects.create(
        id=asset_id,
        owner_id=upload.owner_id,
        kind=kind,
        purpose=upload.purpose,
        private=upload.private,
        mime_type=upload.detected_type,
        size=upload.length,
        source_parts=list(upload.parts),
        storage_prefix=storage.asset_prefix(asset_id, private=upload.private),
    )
    upload.completed_at = timezone.now()
    upload.asset = asset
    upload.save(update_fields=["completed_at", "asset", "updated_at"])
    _broadcast_progress(asset)
    transaction.on_commit(lambda: _enqueue_processing(asset.pk))
    return asset


def _enqueue_processing(asset_id: int) -> None:
    try:
        tasks.asset_process_task.delay(asset_id)
    except Exception:
        # The upload is committed; a lost broker must not turn it into a 500. The beat task
        # (assets_requeue_stale) sends assets left "uploaded" again.
        logger.exception("media.enqueue_failed", extra={"asset_id": asset_id})


def upload_delete(*, upload: Upload) -> None:
    """Cancel an unfinished upload (tus termination): its parts and its row go.

    Raises Conflict for a completed upload (its asset lives on; delete that instead).
    """
    if upload.completed_at is not None:
        raise Conflict("This upload is complete; it cannot be cancelled.", code="upload_complete")
    storage.delete_names(upload.parts)
    storage.delete_prefix(f"uploads/{upload.pk}")
    Upload.objects.filter(pk=upload.pk, completed_at__isnull=True).delete()


def uploads_expired_delete(*, now=None) -> int:
    """Delete every unfinished upload past its expiry, with its stored parts; returns the count."""
    now = now or timezone.now()
    count = 0
    for upload in Upload.objects.filter(completed_at__isnull=True, expires_at__lte=now).iterator():
        upload_delete(upload=upload)
        count += 1
    # Completed uploads are bookkeeping only once their asset exists; keep a day for support.
    Upload.objects.filter(completed_at__lte=now - timedelta(days=1)).delete()
    return count


def upload_presign(*, owner, filename: str, declared_type: str, length: int, purpose: str = Purpose.POST) -> dict:
    """A direct-to-bucket PUT for `length` bytes (S3 only): {upload, url, method, headers, expires_at}.

    The URL lives MEDIA_PRESIGN_EXPIRY_SECONDS and is signed for exactly this
    Content-Type and Content-Length. Raises NotFound (code s3_not_configured) without
    S3 storage, and the same limit errors as upload_create. Call upload_presigned_complete
    after the PUT.
    """
    if not storage.is_s3():
        raise NotFound("Direct uploads need S3 storage; use the tus endpoint.", code="s3_not_configured")
    if declared_type not in validation.IMAGE_TYPES | validation.VIDEO_TYPES:
        raise UnsupportedMediaType("This file type is not accepted.", field="filetype")
    if declared_type.startswith("video/"):
        validation_kind = Kind.VIDEO
    else:
        validation_kind = Kind.IMAGE
    try:
        validation.check_size(kind=validation_kind, size=length)
    except validation.Rejected as rejected:
        raise _rejection_error(rejected) from None
    upload = upload_create(owner=owner, length=length, filename=filename, declared_type=declared_type, purpose=purpose)
    key = f"uploads/{upload.pk}/direct"
    Upload.objects.filter(pk=upload.pk).update(mode=Upload.Mode.PRESIGNED, parts=[key])
    upload.refresh_from_db()
    expires = settings.MEDIA_PRESIGN_EXPIRY_SECONDS
    url = storage.s3_client().generate_presigned_url(
        "put_object",
        Params={"Bucket": storage.s3_bucket(), "Key": key, "ContentType": declared_type, "ContentLength": length},
        ExpiresIn=expires,
        HttpMethod="PUT",
    )
    return {
        "upload": upload,
        "url": url,
        "method": "PUT",
        "headers": {"Content-Type": declared_type, "Content-Length": str(length)},
        "expires_at": timezone.now() + timedelta(seconds=expires),
    }


def upload_presigned_complete(*, upload: Upload) -> MediaAsset:
    """Check the object a presigned PUT stored and turn it into an asset.

    Raises NotFound without S3, Conflict (upload_incomplete) when nothing was stored yet,
    and, deleting the object and the upload, Unprocessable (size_mismatch) when its size
    differs from the declared length, UnsupportedMediaType / PayloadTooLarge from its bytes.
    """
    if not storage.is_s3():
        raise NotFound("Direct uploads need S3 storage.", code="s3_not_configured")
    if upload.mode != Upload.Mode.PRESIGNED:
        raise Conflict("This is a tus upload; finish it with PATCH.", code="not_presigned")
    if upload.completed_at is not None:
        return upload.asset
    key = upload.parts[0]
    client = storage.s3_client()
    try:
        head = client.head_object(Bucket=storage.s3_bucket(), Key=key)
    except client.exceptions.ClientError:
        raise Conflict("The file has not been uploaded yet.", code="upload_incomplete") from None
    if int(head["ContentLength"]) != upload.length:
        upload_delete(upload=upload)
        error = ApplicationError("The stored file's size differs from the declared size.", code="size_mismatch")
        error.status_code = 422
        raise error
    first = client.get_object(Bucket=storage.s3_bucket(), Key=key, Range=f"bytes=0-{validation.HEAD_BYTES - 1}")
    _check_first_bytes(upload=upload, head=first["Body"].read())
    with transaction.atomic():
        locked = Upload.objects.select_for_update().get(pk=upload.pk)
        if locked.completed_at is not None:
            return locked.asset
        locked.offset = locked.length
        locked.save(update_fields=["offset", "updated_at"])
        return _upload_complete(upload=locked)


# --- asset transitions ----------------------------------------------------------------


def _progress_payload(asset: MediaAsset) -> dict[str, Any]:
    return {
        "asset_id": asset.pk,
        "status": asset.status,
        "progress": asset.progress,
        "failure_code": asset.failure_code or None,
    }


def _broadcast_progress(asset: MediaAsset) -> None:
    realtime.broadcast_on_commit(realtime.user_group(asset.owner_id), "media.progress", _progress_payload(asset))


@transaction.atomic
def asset_processing_start(*, asset_id: int) -> MediaAsset | None:
    """uploaded → processing, taking a lease; None when there is nothing to do.

    Nothing to do: the asset is gone, ready, failed, or being processed by a live worker
    (its lease has not lapsed). An asset past MEDIA_PROCESSING_MAX_ATTEMPTS is failed
    instead (code processing_failed), so a file that kills workers cannot loop forever.
    """
    asset = MediaAsset.objects.select_for_update().filter(pk=asset_id).first()
    if asset is None:
        return None
    now = timezone.now()
    lapsed = asset.status == MediaAsset.Status.PROCESSING and (asset.lease_expires_at or now) <= now
    if asset.status != MediaAsset.Status.UPLOADED and not lapsed:
        return None
    if asset.attempts >= settings.MEDIA_PROCESSING_MAX_ATTEMPTS:
        asset_mark_failed(asset=asset, code="processing_failed", message="Processing failed repeatedly.")
        return None
    asset.status = MediaAsset.Status.PROCESSING
    asset.attempts += 1
    asset.progress = 0
    asset.lease_expires_at = now + timedelta(seconds=settings.MEDIA_PROCESSING_LEASE_SECONDS)
    asset.save(update_fields=["status", "attempts", "progress", "lease_expires_at", "updated_at"])
    _broadcast_progress(asset)
    return asset


def asset_progress_update(*, asset: MediaAsset, percent: int) -> bool:
    """Record `percent` and renew the lease (the heartbeat); send "media.progress" now.

    Runs outside any transaction, during a long task. Returns False when the asset is no
    longer processing (requeued elsewhere or failed), so the caller can stop.
    """
    percent = max(0, min(99, int(percent)))
    lease = timezone.now() + timedelta(seconds=settings.MEDIA_PROCESSING_LEASE_SECONDS)
    updated = MediaAsset.objects.filter(pk=asset.pk, status=MediaAsset.Status.PROCESSING).update(
        progress=percent, lease_expires_at=lease, updated_at=timezone.now()
    )
    if not updated:
        return False
    asset.progress = percent
    asset.lease_expires_at = lease
    realtime.send_now(realtime.user_group(asset.owner_id), "media.progress", _progress_payload(asset))
    return True


@transaction.atomic
def asset_mark_ready(*, asset: MediaAsset, fields: Mapping[str, Any]) -> MediaAsset:
    """processing → ready with the outputs in `fields`; emits "media.ready" (and
    "media.audio_extracted" when an audio track was saved) after commit."""
    locked = MediaAsset.objects.select_for_update().get(pk=asset.pk)
    if locked.status != MediaAsset.Status.PROCESSING:
        raise Conflict(f"Asset {asset.pk} is {locked.status}, not processing.", code="not_processing")
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.status = MediaAsset.Status.READY
    locked.progress = 100
    locked.lease_expires_at = None
    locked.failure_code = ""
    locked.failure_message = ""
    locked.processed_at = timezone.now()
    # The original may carry EXIF/GPS; only the cleaned renditions are kept and served.
    source_name, locked.source_name = locked.source_name, ""
    locked.save()
    transaction.on_commit(lambda: storage.delete_names([source_name]))
    payload = {"asset_id": locked.pk, "owner_id": locked.owner_id, "kind": locked.kind}
    events.emit_on_commit("media.ready", **payload)
    if locked.renditions.get("audio"):
        events.emit_on_commit("media.audio_extracted", asset_id=locked.pk, owner_id=locked.owner_id)
    _broadcast_progress(locked)
    return locked


@transaction.atomic
def asset_mark_failed(*, asset: MediaAsset, code: str, message: str) -> MediaAsset:
    """Any state → failed(code); every stored file of the asset (source, parts, outputs)
    is deleted, so a rejected file leaves nothing behind. Emits "media.failed"."""
    locked = MediaAsset.objects.select_for_update().get(pk=asset.pk)
    storage.delete_names(locked.source_parts)
    storage.delete_prefix(locked.storage_prefix)
    locked.status = MediaAsset.Status.FAILED
    locked.failure_code = code[:64]
    locked.failure_message = message[:500]
    locked.lease_expires_at = None
    locked.source_parts = []
    locked.source_name = ""
    locked.renditions = {}
    locked.save()
    events.emit_on_commit("media.failed", asset_id=locked.pk, owner_id=locked.owner_id, kind=locked.kind)
    _broadcast_progress(locked)
    logger.info("media.failed", extra={"asset_id": locked.pk, "code": code})
    return locked


@transaction.atomic
def asset_processing_release(*, asset: MediaAsset) -> None:
    """processing → uploaded after a transient error, so the retried task can claim it."""
    MediaAsset.objects.filter(pk=asset.pk, status=MediaAsset.Status.PROCESSING).update(
        status=MediaAsset.Status.UPLOADED, lease_expires_at=None, updated_at=timezone.now()
    )


def assets_requeue_stale(*, now=None) -> list[int]:
    """Requeue every processing asset whose lease lapsed (its worker died); returns their ids.

    Each goes back to "uploaded" and its processing task is sent again after commit;
    asset_processing_start fails it once it has used up its attempts. Assets left
    "uploaded" for a lease period (a lost task message) are sent again too.
    """
    now = now or timezone.now()
    requeued: list[int] = []
    with transaction.atomic():
        stale = MediaAsset.objects.select_for_update(skip_locked=True).filter(
            status=MediaAsset.Status.PROCESSING, lease_expires_at__lte=now
        )
        for asset in stale:
            asset.status = MediaAsset.Status.UPLOADED
            asset.lease_expires_at = None
            asset.save(update_fields=["status", "lease_expires_at", "updated_at"])
            requeued.append(asset.pk)
            logger.warning("media.requeued_stale", extra={"asset_id": asset.pk, "attempts": asset.attempts})
        for asset_id in requeued:
            transaction.on_commit(lambda asset_id=asset_id: _enqueue_processing(asset_id))
        # Assets still "uploaded" a lease period after their last change: their task message
        # was lost (broker down at enqueue time); send it again.
        forgotten = MediaAsset.objects.filter(
            status=MediaAsset.Status.UPLOADED,
            updated_at__lte=now - timedelta(seconds=settings.MEDIA_PROCESSING_LEASE_SECONDS),
        ).values_list("pk", flat=True)
        for asset_id in forgotten:
            transaction.on_commit(lambda asset_id=asset_id: _enqueue_processing(asset_id))
    return requeued


def asset_reprocess(*, asset: MediaAsset) -> MediaAsset:
    """Admin: send a failed-by-timeout or stuck asset through processing again (attempts reset)."""
    with transaction.atomic():
        locked = MediaAsset.objects.select_for_update().get(pk=asset.pk)
        if not locked.source_name and not locked.source_parts:
            raise Conflict("The source file is gone; the owner must upload it again.", code="source_missing")
        locked.status = MediaAsset.Status.UPLOADED
        locked.attempts = 0
        locked.lease_expires_at = None
        locked.save(update_fields=["status", "attempts", "lease_expires_at", "updated_at"])
        transaction.on_commit(lambda: _enqueue_processing(locked.pk))
    return locked


# --- the pipeline -----------------------------------------------------------------------


def _materialize_source(asset: MediaAsset, work_dir: str) -> str:
    """The source as a local file. Parts are joined once and stored as one object, so a
    retry (or another worker) starts from `source_name` without the parts."""
    extension = validation.EXTENSIONS.get(asset.mime_type, "bin")
    local = os.path.join(work_dir, f"source.{extension}")
    if asset.source_name:
        storage.assemble([asset.source_name], local)
        return local
    storage.assemble(asset.source_parts, local)
    name = storage.save_file(asset.storage_name(f"source.{extension}"), local)
    parts = list(asset.source_parts)
    MediaAsset.objects.filter(pk=asset.pk).update(source_name=name, source_parts=[])
    asset.source_name, asset.source_parts = name, []
    storage.delete_names(parts)
    return local


class _ProgressReporter:
    """Throttled heartbeat: at most one write per 5 % step or every few seconds."""

    def __init__(self, asset: MediaAsset, start: int, end: int) -> None:
        self.asset, self.start, self.end = asset, start, end
        self.last_percent = -1
        self.last_time = 0.0

    def __call__(self, fraction: float) -> None:
        percent = self.start + int((self.end - self.start) * max(0.0, min(1.0, fraction)))
        now = time.monotonic()
        if percent <= self.last_percent and now - self.last_time < 10:
            return
        if percent - self.last_percent < 5 and now - self.last_time < 10:
            return
        self.last_percent, self.last_time = max(percent, self.last_percent), now
        asset_progress_update(asset=self.asset, percent=self.last_percent)


def _process_image(asset: MediaAsset, source: str, out_dir: str) -> dict[str, Any]:
    validation.inspect_image(source)
    asset_progress_update(asset=asset, percent=30)
    outputs = images.render_image(source, out_dir)
    return {
        "width": outputs.width,
        "height": outputs.height,
        "blurhash": outputs.blurhash,
        "renditions": {
            "webp": [{"name": r.name, "width": r.width, "height": r.height} for r in outputs.webp],
            "jpeg": {"name": outputs.jpeg.name, "width": outputs.jpeg.width, "height": outputs.jpeg.height},
        },
    }


def _process_video(asset: MediaAsset, source: str, out_dir: str) -> dict[str, Any]:
    info = validation.inspect_video(source)
    asset_progress_update(asset=asset, percent=5)
    outputs = video.transcode(info, source, out_dir, on_progress=_ProgressReporter(asset, 5, 95))
    poster_hash = ""
    try:
        from PIL import Image

        with Image.open(os.path.join(out_dir, outputs.poster)) as poster:
            poster_hash = images.image_blurhash(poster.convert("RGB"))
    except OSError:
        logger.warning("media.poster_blurhash_failed", extra={"asset_id": asset.pk})
    return {
        "width": info.width,
        "height": info.height,
        "duration_ms": int(info.duration_s * 1000),
        "has_audio": info.has_audio,
        "blurhash": poster_hash,
        "probe": {
            "video_codec": info.video_codec,
            "audio_codec": info.audio_codec,
            "rotation": info.rotation,
            "fps": round(info.fps, 3),
            "format": (info.raw.get("format") or {}).get("format_name", ""),
        },
        "renditions": outputs.as_renditions(),
    }


def asset_process(*, asset_id: int) -> MediaAsset | None:
    """Process one asset end to end; safe to run twice (the lease makes it single-flight).

    A file that breaks a rule, or that ffmpeg cannot transcode, fails the asset with its
    code; a transient error (database, storage) releases it and propagates, so the task
    retries. Returns the asset in its final state, or None when there was nothing to do.
    """
    asset = asset_processing_start(asset_id=asset_id)
    if asset is None:
        return None
    try:
        with tempfile.TemporaryDirectory(prefix=f"media-{asset.pk}-") as work_dir:
            source = _materialize_source(asset, work_dir)
            out_dir = os.path.join(work_dir, "out")
            os.makedirs(out_dir)
            try:
                if asset.kind == Kind.IMAGE:
                    fields = _process_image(asset, source, out_dir)
                else:
                    fields = _process_video(asset, source, out_dir)
            except validation.Rejected as rejected:
                return asset_mark_failed(asset=asset, code=rejected.code, message=rejected.message)
            except ffmpeg.FFmpegTimeout:
                return asset_mark_failed(asset=asset, code="processing_timeout", message="Processing took too long.")
            except ffmpeg.FFmpegError as exc:
                logger.warning("media.transcode_failed", extra={"asset_id": asset.pk, "stderr": exc.stderr[-1000:]})
                return asset_mark_failed(
                    asset=asset, code="transcode_failed", message="The video could not be converted."
                )
            storage.save_tree(asset.storage_prefix, out_dir, on_progress=_ProgressReporter(asset, 95, 99))
        return asset_mark_ready(asset=asset, fields=fields)
    except BaseException:
        # Transient (or the task's time limit): leave the asset claimable by the retry.
        asset_processing_release(asset=asset)
        raise
