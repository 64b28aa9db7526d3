"""Media reads: uploads and assets scoped by owner, URLs, and playback for a viewer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from accounts.models import UserSettings
from daira.lib.errors import Gone, NotFound
from media import storage
from media.models import Kind, MediaAsset, Upload

# Segments a player should buffer ahead: one for data savers (pay per megabyte), three otherwise.
PRELOAD_DATA_SAVER = 1
PRELOAD_DEFAULT = 3


def upload_get_owned(*, owner, upload_id: int) -> Upload:
    """The upload `upload_id` of `owner`; NotFound for anyone else's (no existence leak),
    Gone (410) when it expired unfinished."""
    upload = Upload.objects.filter(pk=upload_id, owner_id=owner.pk).first()
    if upload is None:
        raise NotFound("Upload not found.")
    if upload.completed_at is None and upload.expires_at <= timezone.now():
        raise Gone("This upload expired; start a new one.", code="upload_expired")
    return upload


def asset_get_for_viewer(*, viewer, asset_id: int) -> MediaAsset:
    """One asset: its owner sees it in every state; others only ready, non-private ones.

    Which posts may show an asset is content's policy; this only hides unfinished and
    private media from everyone but the owner. Missing and hidden look the same.
    """
    asset = MediaAsset.objects.filter(pk=asset_id).first()
    viewer_id = getattr(viewer, "pk", None)
    if asset is None:
        raise NotFound("Media not found.")
    if asset.owner_id != viewer_id and (asset.status != MediaAsset.Status.READY or asset.private):
        raise NotFound("Media not found.")
    return asset


def media_list_owned_by(*, owner, media_ids: Sequence[int]) -> list[MediaAsset]:
    """`owner`'s assets among `media_ids` (not failed), in the order given, duplicates once.

    Content attaches these to posts; a caller compares the length with
    `len(set(media_ids))` to detect ids that are unknown or someone else's.
    """
    wanted = list(dict.fromkeys(int(i) for i in media_ids))
    found = {
        asset.pk: asset
        for asset in MediaAsset.objects.filter(owner_id=owner.pk, pk__in=wanted).exclude(
            status=MediaAsset.Status.FAILED
        )
    }
    return [found[i] for i in wanted if i in found]


def asset_file_url(asset: MediaAsset, relative: str) -> str:
    """A URL for one of the asset's files: public storage URL, or a short-lived signed one."""
    if asset.private or (relative.endswith(".m3u8") and storage.playlists_need_proxy()):
        return storage.signed_url(asset.storage_prefix, relative)
    return storage.public_url(asset.storage_name(relative))


def asset_urls(asset: MediaAsset) -> dict[str, Any]:
    """Every delivery URL of a ready asset (empty for others)."""
    if asset.status != MediaAsset.Status.READY:
        return {}
    renditions = asset.renditions
    if asset.kind == Kind.IMAGE:
        return {
            "webp": [
                {"url": asset_file_url(asset, r["name"]), "width": r["width"], "height": r["height"]}
                for r in renditions.get("webp", [])
            ],
            "jpeg": {
                "url": asset_file_url(asset, renditions["jpeg"]["name"]),
                "width": renditions["jpeg"]["width"],
                "height": renditions["jpeg"]["height"],
            },
        }
    urls: dict[str, Any] = {
        "hls": asset_file_url(asset, renditions["master"]),
        "variants": [
            {
                "name": v["name"],
                "width": v["width"],
                "height": v["height"],
                "bandwidth": v["bandwidth"],
                "url": asset_file_url(asset, v["playlist"]),
            }
            for v in renditions.get("variants", [])
        ],
        "poster": asset_file_url(asset, renditions["poster"]),
        "sprite": {
            "url": asset_file_url(asset, renditions["sprite"]["image"]),
            "index": asset_file_url(asset, renditions["sprite"]["index"]),
        },
        "offline_mp4": asset_file_url(asset, renditions["offline"]),
    }
    if renditions.get("audio"):
        urls["audio"] = asset_file_url(asset, renditions["audio"])
    return urls


def _data_saver(viewer) -> bool:
    if viewer is None or not getattr(viewer, "is_authenticated", False):
        return False
    row = UserSettings.objects.filter(user_id=viewer.pk).values_list("data_saver", flat=True).first()
    # No settings row yet: new accounts start with data saver on (UserSettings default).
    return True if row is None else bool(row)


def playback_for(*, viewer, asset: MediaAsset, data_saver: bool | None = None) -> dict[str, Any]:
    """What a player needs for `asset`, adapted to `viewer`'s data-saver setting.

    Video, data saver on: the lowest (360p) playlist, autoplay False, preload 1 segment.
    Video, otherwise: the master playlist (adaptive), autoplay True, preload 3.
    Images: the 640 px WebP for data savers, else the largest. Raises NotFound while the
    asset is not ready. Visibility is the caller's business (asset_get_for_viewer / content).
    """
    if asset.status != MediaAsset.Status.READY:
        raise NotFound("This media is not ready yet.", code="media_not_ready")
    # Lists pass `data_saver` (looked up once per page) so N assets cost no extra queries.
    data_saver = _data_saver(viewer) if data_saver is None else data_saver
    urls = asset_urls(asset)
    common = {
        "asset_id": asset.pk,
        "kind": asset.kind,
        "data_saver": data_saver,
        "width": asset.width,
        "height": asset.height,
        "blurhash": asset.blurhash,
    }
    if asset.kind == Kind.IMAGE:
        webp = urls["webp"]
        chosen = next((r for r in webp if r["width"] >= 640), webp[-1]) if data_saver else webp[-1]
        return {**common, "url": chosen["url"], "fallback_url": urls["jpeg"]["url"], "autoplay": False, "preload": 0}
    lowest = urls["variants"][0]
    return {
        **common,
        "url": lowest["url"] if data_saver else urls["hls"],
        "variant": lowest["name"] if data_saver else "auto",
        "autoplay": not data_saver,
        "preload": PRELOAD_DATA_SAVER if data_saver else PRELOAD_DEFAULT,
        "poster": urls["poster"],
        "duration_ms": asset.duration_ms,
        "offline_mp4": urls["offline_mp4"],
    }
