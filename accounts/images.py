"""Avatar image processing with Pillow: content sniffing, square crops, metadata stripped."""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from daira.lib.errors import Invalid

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
RENDITION_SIZES = (200, 400)
# Refuse decompression bombs early: a 10 MB file may still claim 100k x 100k pixels.
MAX_PIXELS = 40_000_000


def avatar_renditions(data: bytes) -> dict[int, bytes]:
    """Square JPEG renditions of an uploaded JPEG/PNG/WebP (decided by content, not name).

    The image is rotated per its EXIF orientation, centre-cropped to a square and
    re-encoded without any EXIF/ICC/XMP metadata (GPS positions must never leak).
    Raises Invalid for anything that is not one of the allowed image types."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            width, height = probe.size
            probe.verify()  # structural check of the whole file
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise Invalid("The file is not a JPEG, PNG or WebP image.", field="avatar", code="invalid_image") from None
    if fmt not in ALLOWED_FORMATS:
        raise Invalid("The file is not a JPEG, PNG or WebP image.", field="avatar", code="invalid_image")
    if width * height > MAX_PIXELS or min(width, height) < 1:
        raise Invalid("The image dimensions are not supported.", field="avatar", code="invalid_image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "P"):
                image = image.convert("RGBA")
                background = Image.new("RGB", image.size, (255, 255, 255))
                background.paste(image, mask=image.getchannel("A"))
                image = background
            else:
                image = image.convert("RGB")
            renditions = {}
            for size in RENDITION_SIZES:
                square = ImageOps.fit(image, (size, size), method=Image.Resampling.LANCZOS)
                out = io.BytesIO()
                # A fresh image carries no info dict: no EXIF, ICC or XMP is written.
                clean = Image.new("RGB", square.size)
                clean.paste(square)
                clean.save(out, format="JPEG", quality=85, optimize=True, progressive=True)
                renditions[size] = out.getvalue()
            return renditions
    except (OSError, ValueError, Image.DecompressionBombError):
        raise Invalid("The image could not be read.", field="avatar", code="invalid_image") from None
