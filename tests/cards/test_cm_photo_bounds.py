"""Application photos are bounded by their header before any pixel is decoded (R-CARD-2):
a PNG of a few hundred KiB can declare 87 or 192 megapixels, and decoding it cost ~330 MB
a request (192 MP: Pillow's DecompressionBombError, a 500)."""

from __future__ import annotations

import base64
import datetime as dt
import struct
import zlib

import pytest
from cm_support import moved_in, photo
from PIL import Image, ImageFile

from myna.cards.defects import PHOTO_MAX_PIXELS, check_photo

ADULT = "30000000011"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of ``width`` x ``height`` white pixels, compressed to a
    few hundred KiB: rows streamed through zlib, never held as an image."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


@pytest.fixture
def no_decoding(monkeypatch):
    """Any attempt to decode pixels fails the test (Image.open reads only the header)."""

    def refuse(self, *a, **k):
        raise AssertionError("the photo's pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)


# 87 MP (the probe's 247 KiB upload), 192 MP (past Pillow's own bomb limit), and just past ours.
HUGE = [(8_100, 10_800), (12_000, 16_000), (3_500, 4_600)]


@pytest.mark.parametrize("width,height", HUGE)
def test_r_card_2_a_photo_past_the_pixel_bound_is_unusable_without_decoding(width, height, no_decoding):
    assert width * height > PHOTO_MAX_PIXELS
    data = huge_png(width, height)
    assert len(data) < 5 * 1024 * 1024  # small enough for the upload limit: only the header bound stops it
    defect = check_photo(data)
    assert defect is not None and defect.code == "photo-unusable"
    assert "megapixels" in defect.message


def test_r_card_2_a_phone_cameras_full_frame_is_still_read():
    # 3024 x 4032 (12 MP, height/width 1.33): within the bound, so decoded and judged.
    assert check_photo(huge_png(3024, 4032)).message == "photograph is blank or flat: no face can be seen"
    assert check_photo(photo()) is None


@pytest.mark.parametrize("width,height", HUGE[:2])
def test_r_card_2_the_api_answers_a_huge_photo_with_a_defect_not_a_500(platform, cm_api, width, height, no_decoding):
    moved_in(platform, ADULT, "佐藤 太郎", dt.date(1990, 6, 15), dt.date(2026, 3, 1))
    body = {
        "resident_code": ADULT,
        "name": "佐藤 太郎",
        "date_of_birth": "1990-06-15",
        "sex": "1",
        "address": "東京都千代田区千代田2-2",
        "photo_base64": base64.b64encode(huge_png(width, height)).decode(),
    }
    r = cm_api.post("/api/v1/card-applications", json=body, headers=cm_api.headers_for("chiyoda"))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "defective"
    assert [d["code"] for d in r.json()["defects"]] == ["photo-unusable"]
