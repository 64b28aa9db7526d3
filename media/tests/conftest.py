"""Media test fixtures: a private media root per test, and small real files made with ffmpeg/Pillow."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from media import ffmpeg, services
from media.models import MediaAsset


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


def stored_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg.ffmpeg_binary(), "-hide_banner", "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Tiny real media, made once per session (about a second in all)."""
    folder = tmp_path_factory.mktemp("clips")
    made: dict[str, Path] = {}

    def video(name: str, size: str, seconds: float, *, audio: bool, codec: str = "libx264") -> None:
        path = folder / name
        inputs = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate=30:duration={seconds}"]
        if audio:
            inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        speed = ["-preset", "ultrafast"] if codec == "libx264" else ["-deadline", "realtime", "-cpu-used", "8"]
        _ffmpeg(
            *inputs,
            "-c:v",
            codec,
            *speed,
            "-pix_fmt",
            "yuv420p",
            *(["-c:a", "aac", "-shortest"] if audio else []),
            str(path),
        )
        made[name] = path

    video("portrait.mp4", "480x854", 2, audio=True)  # 9:16 → 360p + 480p rungs
    video("silent.mp4", "320x568", 2, audio=False)  # below 360p: one 320p rung, silent AAC added
    video("uhd.mp4", "4096x2160", 0.04, audio=False)  # one frame above 4K
    video("clip.webm", "320x180", 1, audio=False, codec="libvpx-vp9")
    empty = folder / "empty.mp4"  # a valid MP4 with no frames at all
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x180:rate=30", "-frames:v", "0", "-c:v", "libx264", str(empty))
    made["empty.mp4"] = empty
    sound = folder / "sound.mp4"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(sound))
    made["audio_only.mp4"] = sound
    data = (folder / "portrait.mp4").read_bytes()
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])  # the moov atom sits at the end: now missing
    made["truncated.mp4"] = truncated
    corrupt = folder / "corrupt.mp4"
    corrupt.write_bytes(data[:32] + os.urandom(4000))
    made["corrupt.mp4"] = corrupt
    return made


def jpeg_with_exif(width: int = 1600, height: int = 900, orientation: int = 6) -> bytes:
    """A JPEG with an EXIF orientation tag and GPS coordinates (to be stripped)."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, width // 2, height // 2))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation: rotate 90° CW to display
    exif[0x010F] = "DairaCam"  # Make
    gps = {1: "N", 2: (30.0, 2.0, 40.0), 3: "E", 4: (31.0, 14.0, 9.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=85)
    return out.getvalue()


def png_bytes(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, "PNG", optimize=False)
    return out.getvalue()


def upload_bytes(owner, data: bytes, *, filetype: str = "", purpose: str = "post") -> MediaAsset:
    """Run the real upload services (create + one PATCH) and return the new asset."""
    upload = services.upload_create(owner=owner, length=len(data), declared_type=filetype, purpose=purpose)
    upload = services.upload_append(upload=upload, offset=0, stream=io.BytesIO(data), content_length=len(data))
    return MediaAsset.objects.get(pk=upload.asset_id)
