"""The card-face confirmation AP's pictures: the photograph as JPEG 2000 and the
printed fields (name, address, Individual Number, security code) as PNG images.

The real card holds its photograph as JPEG 2000 (@aokiapp/mynacard's schema calls the
field ``faceJp2``; jpki/myna's ``visual photo`` writes it out as JPEG 2000) and the
printed text as PNG images (``namePng``, ``addressPng``, ``securityCodePng``,
``myNumberPng``). Pillow writes both (JPEG 2000 through OpenJPEG).

Everything here is deterministic: the same input gives the same bytes, so a card's
files read the same each time it is opened.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# The photo on the card (choice: the real card's pixel size is not public; this keeps
# the 35x45 mm proportion and a file of a few KB, like the real card's).
PHOTO_SIZE = (240, 320)
# Rate (compression ratio) of the single JPEG 2000 quality layer: about 8 KB for a photo of PHOTO_SIZE.
_JP2_RATE = 28

_FONTS = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def photo_jp2(photo: bytes | None) -> bytes:
    """The application photograph (JPEG or PNG), as the card holds it: JPEG 2000,
    PHOTO_SIZE, RGB. Without one, a neutral grey portrait stands in."""
    if not photo:
        return _stand_in_jp2()
    with Image.open(io.BytesIO(photo)) as src:
        im = _cover(src.convert("RGB"), PHOTO_SIZE)
    return _jp2(im)


@functools.lru_cache(maxsize=1)
def _stand_in_jp2() -> bytes:
    return _jp2(_stand_in())


def _jp2(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG2000", irreversible=True, quality_mode="rates", quality_layers=[_JP2_RATE], no_jp2=False)
    return out.getvalue()


def _cover(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale and centre-crop to ``size`` (the photo fills its box on the card face)."""
    w, h = im.size
    tw, th = size
    scale = max(tw / w, th / h)
    im = im.resize((max(tw, round(w * scale)), max(th, round(h * scale))), Image.Resampling.LANCZOS)
    left, top = (im.width - tw) // 2, (im.height - th) // 2
    return im.crop((left, top, left + tw, top + th))


def _stand_in() -> Image.Image:
    im = Image.new("RGB", PHOTO_SIZE, (200, 204, 208))
    d = ImageDraw.Draw(im)
    w, h = PHOTO_SIZE
    d.ellipse((w * 0.3, h * 0.15, w * 0.7, h * 0.5), fill=(150, 155, 160))
    d.pieslice((w * 0.1, h * 0.55, w * 0.9, h * 1.3), 180, 360, fill=(150, 155, 160))
    return im


@functools.lru_cache(maxsize=8)
def _font(size: int):
    for path in _FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def text_png(text: str, width: int = 640, line_height: int = 32) -> bytes:
    """``text`` as a black-on-white PNG (greyscale), wrapped to ``width`` pixels: how the
    confirmation AP holds the printed name, address, number and security code."""
    font = _font(line_height - 6)
    lines, line = [], ""
    for ch in text:
        if line and font.getlength(line + ch) > width - 8:
            lines.append(line)
            line = ""
        line += ch
    lines.append(line)
    im = Image.new("L", (width, line_height * len(lines)), 255)
    d = ImageDraw.Draw(im)
    for i, t in enumerate(lines):
        d.text((4, i * line_height + 2), t, fill=0, font=font)
    out = io.BytesIO()
    im.save(out, "PNG", optimize=False)
    return out.getvalue()
