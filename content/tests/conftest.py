"""Content test fixtures: users, media assets in each lifecycle state, generous velocity caps."""

from __future__ import annotations

import pytest

from media.models import Kind, MediaAsset


@pytest.fixture(autouse=True)
def _generous_velocity(settings):
    """Tests create many posts quickly; the velocity caps themselves are tested explicitly."""
    settings.MODERATION_VELOCITY_CAPS = {
        action: {"established": (1000, 10000), "new": (1000, 10000)}
        for action in ("posts", "comments", "dms", "follows", "reports")
    }


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


IMAGE_RENDITIONS = {
    "webp": [{"name": "w320.webp", "width": 320, "height": 320}, {"name": "w640.webp", "width": 640, "height": 640},
             {"name": "w1080.webp", "width": 1080, "height": 1080}],
    "jpeg": {"name": "full.jpg", "width": 1080, "height": 1080},
}
VIDEO_RENDITIONS = {
    "master": "hls/master.m3u8",
    "variants": [{"name": "360p", "width": 360, "height": 640, "bandwidth": 800000, "playlist": "hls/360p.m3u8"},
                 {"name": "720p", "width": 720, "height": 1280, "bandwidth": 2500000, "playlist": "hls/720p.m3u8"}],
    "poster": "poster.jpg",
    "sprite": {"image": "sprite.jpg", "index": "sprite.vtt"},
    "offline": "offline.mp4",
}


def make_asset(owner, *, kind: str = Kind.IMAGE, status: str = MediaAsset.Status.READY, duration_ms=None,
               audio: bool = False) -> MediaAsset:
    """An asset row as media leaves it (the files themselves are not needed by content)."""
    renditions = {}
    if status == MediaAsset.Status.READY:
        renditions = dict(IMAGE_RENDITIONS if kind == Kind.IMAGE else VIDEO_RENDITIONS)
        if audio:
            renditions["audio"] = "audio.m4a"
    asset = MediaAsset.objects.create(
        owner=owner, kind=kind, status=status, mime_type="image/jpeg" if kind == Kind.IMAGE else "video/mp4",
        storage_prefix="public/test", renditions=renditions, width=1080, height=1920 if kind == Kind.VIDEO else 1080,
        duration_ms=duration_ms if duration_ms is not None else (15000 if kind == Kind.VIDEO else None),
    )
    asset.storage_prefix = f"public/{asset.pk}"
    asset.save(update_fields=["storage_prefix"])
    return asset


@pytest.fixture
def image(db):
    return lambda owner, **kw: make_asset(owner, kind=Kind.IMAGE, **kw)


@pytest.fixture
def video(db):
    return lambda owner, **kw: make_asset(owner, kind=Kind.VIDEO, **kw)
