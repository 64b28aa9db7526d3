"""Files through Django's default storage (local `var/media` or S3 via django-storages).

Names: an upload's parts live under `uploads/<upload_id>/`, an asset's files under its
`storage_prefix` (`media/<asset_id>` for public assets; private ones add a random
segment so their plain /media/ path cannot be guessed). Private files are handed out
only as short-lived signed URLs (`signed_url`): a signed path prefix for local storage,
so relative HLS URIs keep working, and presigned GETs for S3.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage

SIGNING_SALT = "media.signed-path"


def is_s3() -> bool:
    return bool(settings.S3_BUCKET)


def s3_client():
    """The boto3 client behind the default S3 storage (presigned PUT/GET, head, delete)."""
    return default_storage.connection.meta.client


def s3_bucket() -> str:
    return default_storage.bucket_name


def asset_prefix(asset_id: int, *, private: bool) -> str:
    if private:
        return f"private/{asset_id}/{secrets.token_urlsafe(18)}"
    return f"media/{asset_id}"


def upload_part_name(upload_id: int, offset: int) -> str:
    return f"uploads/{upload_id}/{offset:014d}.part"


def save_file(name: str, path: str) -> str:
    """Store the local file `path` under exactly `name` (replacing any older copy)."""
    if default_storage.exists(name):
        default_storage.delete(name)
    with open(path, "rb") as handle:
        stored = default_storage.save(name, File(handle, name=os.path.basename(name)))
    return stored


def save_tree(prefix: str, local_dir: str, *, on_progress: Callable[[float], None] | None = None) -> list[str]:
    """Store every file under `local_dir` at `prefix/<relative path>`; returns the names.

    `on_progress(fraction)` is called after each file (a long upload to S3 must keep
    renewing the asset's lease)."""
    files = sorted(
        os.path.join(root, filename) for root, _dirs, filenames in os.walk(local_dir) for filename in filenames
    )
    names = []
    for index, full in enumerate(files, start=1):
        relative = os.path.relpath(full, local_dir).replace(os.sep, "/")
        names.append(save_file(f"{prefix}/{relative}", full))
        if on_progress is not None:
            on_progress(index / len(files))
    return names


def delete_names(names: Iterable[str]) -> None:
    for name in names:
        if name:
            default_storage.delete(name)


def delete_prefix(prefix: str) -> None:
    """Delete everything stored under `prefix` (idempotent)."""
    if not prefix:
        return
    if is_s3():
        client = s3_client()
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=s3_bucket(), Prefix=prefix.rstrip("/") + "/"):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=s3_bucket(), Delete={"Objects": keys})
        return
    path = os.path.join(str(settings.MEDIA_ROOT), prefix)
    if os.path.realpath(path).startswith(os.path.realpath(str(settings.MEDIA_ROOT)) + os.sep):
        shutil.rmtree(path, ignore_errors=True)


def assemble(names: Iterable[str], target: str) -> int:
    """Concatenate the stored objects `names` into the local file `target`; returns its size."""
    size = 0
    with open(target, "wb") as out:
        for name in names:
            with default_storage.open(name, "rb") as part:
                while chunk := part.read(1024 * 1024):
                    out.write(chunk)
                    size += len(chunk)
    return size


def read_head(name: str, length: int) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read(length)


def _absolute(url: str) -> str:
    if url.startswith("/"):
        return settings.PUBLIC_BASE_URL.rstrip("/") + url
    return url


def playlists_need_proxy() -> bool:
    """On S3 without a CDN domain, object URLs are presigned one by one: an HLS playlist's
    relative segment URIs would come out unsigned, so playlists go through the signed view
    (which presigns each segment) even for public media."""
    return (
        is_s3()
        and not getattr(default_storage, "custom_domain", None)
        and bool(getattr(default_storage, "querystring_auth", True))
    )


def public_url(name: str) -> str:
    return _absolute(default_storage.url(name))


def sign_prefix(prefix: str, *, max_age: int | None = None) -> str:
    """A token that grants read access to everything under `prefix` until it expires."""
    expires_at = int(time.time()) + (max_age or settings.MEDIA_SIGNED_URL_SECONDS)
    return signing.dumps({"p": prefix, "x": expires_at}, salt=SIGNING_SALT, compress=True)


def unsign_prefix(token: str) -> str | None:
    """The prefix a token grants, or None when it is forged or expired."""
    try:
        data = signing.loads(token, salt=SIGNING_SALT)
        prefix, expires_at = str(data["p"]), int(data["x"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if expires_at < time.time():
        return None
    return prefix


def signed_url(prefix: str, relative: str) -> str:
    """A short-lived URL for `prefix/relative`, for private media.

    It points at our signed-path view for both storages: relative URIs inside HLS
    playlists resolve under the same token, and on S3 the view rewrites segment URIs
    to presigned GETs (a presigned playlist alone would leave its segments unsigned).
    """
    token = sign_prefix(prefix)
    return _absolute(f"/api/v1/media/signed/{token}/{quote(relative)}")


def presigned_get(name: str) -> str:
    return s3_client().generate_presigned_url(
        "get_object",
        Params={"Bucket": s3_bucket(), "Key": name},
        ExpiresIn=settings.MEDIA_SIGNED_URL_SECONDS,
    )
