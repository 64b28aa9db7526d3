"""Never trust the client: the type comes from the bytes, the facts from the decoder.

`sniff(head)` names the type from the first bytes (magic numbers); the file name and
the declared type are ignored. `inspect_image` / `inspect_video` open the whole file
with Pillow / ffprobe and raise `Rejected` with a stable code for each reason:

    unsupported_type       not one of the allowed formats (by its bytes)
    image_too_large        over MEDIA_IMAGE_MAX_BYTES        (413)
    video_too_large        over MEDIA_VIDEO_MAX_BYTES        (413)
    corrupt_file           the decoder cannot read it
    truncated_file         the file ends early (cut-off upload)
    pixel_flood            an image over MEDIA_IMAGE_MAX_PIXELS (checked from the header,
                           before any pixel is decoded)
    decompression_bomb     a huge image (16 MP+) from very few bytes (1000:1 and more),
                           also checked from the header
    audio_only             a video container with no video stream
    zero_duration          a video with no measurable duration
    video_too_long         over MEDIA_VIDEO_MAX_SECONDS
    video_resolution_too_high   above 4K (MEDIA_VIDEO_MAX_LONG_SIDE x MEDIA_VIDEO_MAX_SHORT_SIDE)
    probe_timeout          ffprobe did not finish in time (a hostile file)
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field

from django.conf import settings
from PIL import Image

from media import ffmpeg
from media.models import Kind

try:  # HEIC/HEIF (iPhones) when the optional decoder is installed
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the platform's wheels
    HEIC_SUPPORTED = False

HEAD_BYTES = 64  # enough for every signature below

IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif", "image/heic"}
VIDEO_TYPES = {"video/mp4", "video/quicktime", "video/webm", "video/3gpp"}
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/heic": "heic",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "video/3gpp": "3gp",
}

_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_3GP_BRANDS = {b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3ge6", b"3ge7", b"3gg6", b"3g2a", b"3g2b", b"3g2c"}
_MP4_BRANDS = {
    b"isom",
    b"iso2",
    b"iso3",
    b"iso4",
    b"iso5",
    b"iso6",
    b"mp41",
    b"mp42",
    b"avc1",
    b"M4V ",
    b"M4VH",
    b"M4VP",
    b"dash",
    b"f4v ",
    b"mmp4",
    b"MSNV",
    b"NDAS",
    b"XAVC",
}


class Rejected(Exception):
    """The file breaks a rule; `code` is stable and shown to the client."""

    def __init__(self, code: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def sniff(head: bytes) -> str | None:
    """The MIME type named by the first bytes, or None when it is not an allowed format."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML: Matroska and WebM share it; the DocType says which. Only WebM is allowed.
        return "video/webm" if b"webm" in head[:64] else None
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIC_BRANDS:
            return "image/heic" if HEIC_SUPPORTED else None
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in _3GP_BRANDS:
            return "video/3gpp"
        if brand in _MP4_BRANDS:
            return "video/mp4"
        return None
    return None


def kind_of(mime_type: str) -> str:
    return Kind.IMAGE if mime_type in IMAGE_TYPES else Kind.VIDEO


def check_size(*, kind: str, size: int) -> None:
    """Raise Rejected (413) when `size` bytes is over the limit for `kind`."""
    if kind == Kind.IMAGE and size > settings.MEDIA_IMAGE_MAX_BYTES:
        raise Rejected(
            "image_too_large",
            f"Images are limited to {settings.MEDIA_IMAGE_MAX_BYTES // (1024 * 1024)} MB.",
            status=413,
        )
    if kind == Kind.VIDEO and size > settings.MEDIA_VIDEO_MAX_BYTES:
        raise Rejected(
            "video_too_large",
            f"Videos are limited to {settings.MEDIA_VIDEO_MAX_BYTES // (1024 * 1024)} MB.",
            status=413,
        )


@dataclass
class ImageInfo:
    width: int
    height: int
    format: str


# A decompression bomb: many pixels from very few bytes (a 40 MP blank PNG of 30 KB).
# Real photos and screenshots stay far below this ratio of decoded to stored bytes.
BOMB_MIN_PIXELS = 16_000_000
BOMB_RATIO = 1_000


def inspect_image(path: str) -> ImageInfo:
    """Open and fully decode the image at `path` (first frame), or raise Rejected.

    The pixel count and the expansion ratio are checked from the header before decoding,
    so a 100,000 x 100,000 PNG of a few kilobytes is refused without allocating its pixels.
    """
    # Pillow's own guard stays on as a backstop (an error above twice our cap).
    Image.MAX_IMAGE_PIXELS = settings.MEDIA_IMAGE_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                pixels = width * height
                if pixels > settings.MEDIA_IMAGE_MAX_PIXELS:
                    raise Rejected(
                        "pixel_flood",
                        f"Images are limited to {settings.MEDIA_IMAGE_MAX_PIXELS // 1_000_000} megapixels.",
                    )
                if pixels >= BOMB_MIN_PIXELS and pixels * 3 > BOMB_RATIO * max(1, os.path.getsize(path)):
                    raise Rejected("decompression_bomb", "The image expands to far more pixels than its size allows.")
                image.seek(0)
                image.load()
                return ImageInfo(width=width, height=height, format=image.format or "")
    except Rejected:
        raise
    except Image.DecompressionBombError:
        raise Rejected("pixel_flood", "The image has too many pixels.") from None
    except OSError as exc:
        if "image file is truncated" in str(exc):
            raise Rejected("truncated_file", "The image file is incomplete.") from None
        raise Rejected("corrupt_file", "The image cannot be read.") from None
    except (ValueError, SyntaxError, EOFError, MemoryError, Image.UnidentifiedImageError):
        raise Rejected("corrupt_file", "The image cannot be read.") from None


@dataclass
class VideoInfo:
    width: int  # as displayed (after rotation)
    height: int
    duration_s: float
    fps: float
    rotation: int
    has_audio: bool
    video_codec: str
    audio_codec: str | None
    raw: dict = field(default_factory=dict)


def _rotation(stream: dict) -> int:
    rotate = stream.get("tags", {}).get("rotate")
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            rotate = side["rotation"]
    try:
        return int(float(rotate or 0)) % 360
    except (TypeError, ValueError):
        return 0


def _fps(stream: dict) -> float:
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(stream.get(key, "0/0")).partition("/")
        try:
            value = float(num) / float(den or 1)
        except (ValueError, ZeroDivisionError):
            continue
        if value > 0 and math.isfinite(value):
            return value
    return 30.0


def _boxes_cut_short(path: str) -> bool:
    """True when the ISO-BMFF boxes (MP4/MOV/3GP) are well formed but the last one runs
    past the end of the file: an upload cut off, rather than garbage."""
    size = os.path.getsize(path)
    position = 0
    with open(path, "rb") as handle:
        while position + 8 <= size:
            handle.seek(position)
            header = handle.read(16)
            box_size = int.from_bytes(header[:4], "big")
            box_type = header[4:8]
            if not all(48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 32 for c in box_type):
                return False  # not a box: corrupt, not cut short
            if box_size == 1 and len(header) == 16:
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:
                return False  # "extends to the end of the file"
            if box_size < 8:
                return False
            if position + box_size > size:
                return True
            position += box_size
    return False


def inspect_video(path: str) -> VideoInfo:
    """Probe the video at `path` with ffprobe (guarded), or raise Rejected."""
    try:
        data = ffmpeg.probe(path)
    except ffmpeg.FFmpegTimeout:
        raise Rejected("probe_timeout", "The video took too long to inspect.") from None
    except ffmpeg.FFmpegError:
        if _boxes_cut_short(path):
            raise Rejected("truncated_file", "The video file is incomplete.") from None
        raise Rejected("corrupt_file", "The video cannot be read.") from None

    streams = data.get("streams") or []
    video = next(
        (s for s in streams if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None:
        if audio is not None:
            raise Rejected("audio_only", "The file has sound but no picture.")
        if data.get("format"):
            # A well-formed container holding nothing: a recording stopped at once.
            raise Rejected("zero_duration", "The video is empty.")
        raise Rejected("corrupt_file", "The video has no readable stream.")
    try:
        coded_w, coded_h = int(video.get("width") or 0), int(video.get("height") or 0)
    except (TypeError, ValueError):
        coded_w = coded_h = 0
    if coded_w <= 0 or coded_h <= 0:
        raise Rejected("corrupt_file", "The video has no picture size.")
    rotation = _rotation(video)
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    if (
        max(width, height) > settings.MEDIA_VIDEO_MAX_LONG_SIDE
        or min(width, height) > settings.MEDIA_VIDEO_MAX_SHORT_SIDE
    ):
        raise Rejected("video_resolution_too_high", "Videos are limited to 4K (3840x2160).")

    duration = 0.0
    for candidate in ((data.get("format") or {}).get("duration"), video.get("duration")):
        try:
            duration = max(duration, float(candidate))
        except (TypeError, ValueError):
            continue
    if not math.isfinite(duration) or duration <= 0:
        raise Rejected("zero_duration", "The video has no duration.")
    if duration > settings.MEDIA_VIDEO_MAX_SECONDS:
        raise Rejected("video_too_long", f"Videos are limited to {settings.MEDIA_VIDEO_MAX_SECONDS // 60} minutes.")
    return VideoInfo(
        width=width,
        height=height,
        duration_s=duration,
        fps=_fps(video),
        rotation=rotation,
        has_audio=audio is not None,
        video_codec=str(video.get("codec_name") or ""),
        audio_codec=str(audio.get("codec_name")) if audio else None,
        raw={"format": data.get("format", {}), "streams": streams},
    )
