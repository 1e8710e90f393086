"""Helpers for the card-management tests (import as ``cm_support``).

Card keys come from a session pool of real RSA-2048 keys (key generation dominates
otherwise); each test's key pool hands out keys in order, so no key is certified twice
in one store. Photos are generated PNGs that pass (or purposely fail) the photo check.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import itertools
import shutil
import subprocess
import threading
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from myna.pki.basic4 import Basic4, Sex
from myna.residents.events import ChangeEvent, EventType
from myna.residents.registry import Registry
from myna.wiring import build

CHIYODA = "131016"
SHINJUKU = "131041"

_POOL: list[rsa.RSAPrivateKey] = []
_LOCK = threading.Lock()


def _pooled(i: int) -> rsa.RSAPrivateKey:
    with _LOCK:
        while len(_POOL) <= i:
            _POOL.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _POOL[i]


class KeyPool:
    """A keygen for the chip: the next pool key each call."""

    def __init__(self):
        self._next = itertools.count()

    def __call__(self) -> rsa.RSAPrivateKey:
        return _pooled(next(self._next))


@functools.lru_cache(maxsize=None)
def photo(width: int = 350, height: int = 450, flat: bool = False, fmt: str = "PNG") -> bytes:
    """A portrait 'photograph': a gradient with a darker oval, or a flat grey field."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), (128, 128, 128))
    if not flat:
        draw = ImageDraw.Draw(img)
        for y in range(height):
            draw.line([(0, y), (width, y)], fill=(200 - y * 100 // height, 210, 230))
        draw.ellipse([width * 0.25, height * 0.2, width * 0.75, height * 0.7], fill=(220, 180, 150))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def registry(platform) -> Registry:
    reg = build(platform).registry
    reg.ensure_municipality(CHIYODA, "千代田区")
    reg.ensure_municipality(SHINJUKU, "新宿区")
    return reg


def born(
    platform,
    code: str,
    name: str,
    dob: dt.date,
    municipality: str = CHIYODA,
    address: str = "東京都千代田区千代田1-1",
    sex: Sex = Sex.FEMALE,
):
    """A birth (出生) reported by the municipality: a new record and a number notice."""
    b4 = Basic4(name, dob, sex, address)
    return registry(platform).submit(
        ChangeEvent(
            event_id=f"birth-{code}",
            type=EventType.BIRTH,
            resident_code=code,
            municipality_code=municipality,
            effective_date=dob,
            basic4=b4,
        ),
        actor="test",
    )


def moved_in(
    platform,
    code: str,
    name: str,
    dob: dt.date,
    effective: dt.date,
    municipality: str = CHIYODA,
    address: str = "東京都千代田区千代田2-2",
    sex: Sex = Sex.MALE,
):
    """Someone not on the register moves in (from abroad, or first registration)."""
    b4 = Basic4(name, dob, sex, address)
    return registry(platform).submit(
        ChangeEvent(
            event_id=f"movein-{code}",
            type=EventType.MOVE_IN,
            resident_code=code,
            municipality_code=municipality,
            effective_date=effective,
            basic4=b4,
            address=address,
        ),
        actor="test",
    )


def pdf_text(pdf: bytes, tmp: Path) -> str:
    from myna_testing import require_tool

    require_tool("pdftotext", "Debian package poppler-utils")
    path = tmp / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def pdf_qr_codes(pdf: bytes, tmp: Path) -> list[str]:
    """Every QR code on every page: rendered by pdftoppm, decoded by zbarimg."""
    from myna_testing import require_tool

    require_tool("pdftoppm", "Debian package poppler-utils")
    require_tool("zbarimg", "Debian package zbar-tools")
    out = tmp / "pages"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    (out / "doc.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(out / "doc.pdf"), str(out / "page")], check=True)
    codes = []
    for page in sorted(out.glob("page*.png")):
        done = subprocess.run(["zbarimg", "-q", "--raw", str(page)], capture_output=True, text=True)
        codes += [line for line in done.stdout.splitlines() if line]
    return codes
