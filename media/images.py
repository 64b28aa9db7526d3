"""Image renditions: WebP at 320/640/1080 px wide (never upscaled), a JPEG fallback and a BlurHash.

Orientation from EXIF is applied to the pixels, then every rendition is written without
any metadata (no EXIF, no GPS, no XMP): Pillow only writes EXIF when asked to.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import blurhash
from django.conf import settings
from PIL import Image, ImageOps

from media import validation  # noqa: F401 - registers the HEIC opener

WEBP_WIDTHS = (320, 640, 1080)
JPEG_MAX_WIDTH = 1080
WEBP_QUALITY = 80
JPEG_QUALITY = 82


@dataclass
class Rendition:
    name: str  # file name inside the output folder
    width: int
    height: int
    mime_type: str


@dataclass
class ImageOutputs:
    width: int
    height: int
    blurhash: str
    webp: list[Rendition]
    jpeg: Rendition


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white for formats without alpha (the JPEG fallback)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _resized(image: Image.Image, width: int) -> Image.Image:
    if width >= image.width:
        return image.copy()
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def render_image(source: str, out_dir: str) -> ImageOutputs:
    """Write the renditions of the (already validated) image at `source` into `out_dir`."""
    Image.MAX_IMAGE_PIXELS = settings.MEDIA_IMAGE_MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked by inspect_image
        with Image.open(source) as opened:
            opened.seek(0)  # GIF and animated WebP: the first frame is the still
            image = ImageOps.exif_transpose(opened.copy())
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")

    webp: list[Rendition] = []
    widths = sorted({min(w, image.width) for w in WEBP_WIDTHS})
    for width in widths:
        resized = _resized(image, width)
        name = f"w{resized.width}.webp"
        resized.save(os.path.join(out_dir, name), "WEBP", quality=WEBP_QUALITY, method=4)
        webp.append(Rendition(name=name, width=resized.width, height=resized.height, mime_type="image/webp"))

    fallback = _flatten(_resized(image, min(JPEG_MAX_WIDTH, image.width)))
    jpeg_name = f"w{fallback.width}.jpg"
    fallback.save(os.path.join(out_dir, jpeg_name), "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    jpeg = Rendition(name=jpeg_name, width=fallback.width, height=fallback.height, mime_type="image/jpeg")

    return ImageOutputs(
        width=image.width,
        height=image.height,
        blurhash=image_blurhash(image),
        webp=webp,
        jpeg=jpeg,
    )


def image_blurhash(image: Image.Image) -> str:
    """A ~30-character placeholder (4x3 components) computed on a 64 px thumbnail."""
    thumb = _flatten(image)
    thumb.thumbnail((64, 64))
    x, y = (4, 3) if thumb.width >= thumb.height else (3, 4)
    return blurhash.encode(thumb, x_components=x, y_components=y)
