"""Defect checks (不備チェック, R-CARD-2): an application against J-LIS's identity record
and the card-management state. Pure: the caller gathers the facts, this decides.

A defect is not an input error: the application is received (and gets its receipt
number) but is held as ``defective`` until a new application replaces it.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass

from myna.cards.card_status import REISSUABLE, UNUSABLE

PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MIN_W, PHOTO_MIN_H = 300, 400  # (choice) enough for the 35 x 45 mm photo printed on the card
# (choice) The most pixels a photo may have, read from its header before any decoding: a
# 35 x 45 mm print needs 1654 x 2126 even at 1200 dpi (3.5 MP), a phone camera's full frame
# is 12 MP (3024 x 4032). Decoding costs ~4 bytes a pixel whatever the file's size (an
# 87 MP PNG of 247 KiB took 330 MB), so this bound is the check's memory bound (~64 MB).
PHOTO_MAX_PIXELS = 16_000_000
PHOTO_RATIO = (1.2, 1.4)  # height / width; the printed photo is 45 / 35 = 1.29
PHOTO_MIN_STDDEV = 8.0  # a blank or flat image is no photograph
NEWBORN_DAYS = 365  # (choice) express for a child under one year old
ABROAD_DAYS = 90  # (choice) express for a move-in from abroad within this many days

EXPRESS_REASONS = ("newborn", "loss", "abroad")
REASONS = ("new", "reissue", "renewal")


@dataclass(frozen=True)
class Defect:
    code: str
    message: str

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Applied:
    """What the applicant wrote (or what the pre-filled form said)."""

    name: str
    date_of_birth: dt.date
    sex: str
    address: str
    photo: bytes | None
    reason: str = "new"
    express: str | None = None
    replaces_card_id: str | None = None


@dataclass(frozen=True)
class Record:
    """The identity record (機構保存本人確認情報) the application is checked against."""

    name: str
    date_of_birth: dt.date
    sex: str
    address: str
    on_register: bool
    moved_in_from_abroad_on: dt.date | None = None


@dataclass(frozen=True)
class Context:
    open_applications: int  # this resident's other applications not yet shipped or refused
    live_cards: int  # this resident's cards produced, shipped or active
    replaced_card_status: str | None  # status of the card a reissue replaces (None: no such card of theirs)
    expiry_notice_due: bool  # the resident's card is within its renewal window (R-CARD-8)


def normalise(text: str) -> str:
    """Compare as the form reader would: NFKC (full-width letters and digits, 全角スペース),
    runs of space collapsed, hyphen variants unified."""
    text = unicodedata.normalize("NFKC", text or "")
    text = re.sub(r"[\u2010-\u2015\u2212\u30fc\uff70-]+(?=\d)", "-", text)
    return re.sub(r"\s+", " ", text).strip()


def check_photo(photo: bytes | None) -> Defect | None:
    if not photo:
        return Defect("photo-missing", "no photograph")
    if len(photo) > PHOTO_MAX_BYTES:
        return Defect("photo-unusable", f"photograph larger than {PHOTO_MAX_BYTES // (1024 * 1024)} MiB")
    from PIL import Image, ImageStat, UnidentifiedImageError  # Pillow: reportlab's own dependency

    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check, at open: far past our bound, so an error like ours.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(photo))  # reads the header only
        with img:
            if img.format not in ("JPEG", "PNG"):
                return Defect("photo-unusable", f"photograph must be JPEG or PNG, not {img.format}")
            w, h = img.size
            if w < PHOTO_MIN_W or h < PHOTO_MIN_H:
                return Defect("photo-unusable", f"photograph is {w}x{h} pixels; at least {PHOTO_MIN_W}x{PHOTO_MIN_H} needed")
            if w * h > PHOTO_MAX_PIXELS:
                return Defect("photo-unusable", f"photograph is {w}x{h} pixels; at most {PHOTO_MAX_PIXELS // 1_000_000} megapixels")
            ratio = h / w
            if not PHOTO_RATIO[0] <= ratio <= PHOTO_RATIO[1]:
                return Defect("photo-unusable", f"photograph is not a 35 x 45 mm portrait (height/width {ratio:.2f})")
            img.draft("L", (64, 64))  # a JPEG decodes at 1/8 scale, in grey: all the flatness check needs
            grey = img.convert("L")
            grey.thumbnail((64, 64))
            if max(ImageStat.Stat(grey).stddev) < PHOTO_MIN_STDDEV:
                return Defect("photo-unusable", "photograph is blank or flat: no face can be seen")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Defect("photo-unusable", f"photograph has far more than {PHOTO_MAX_PIXELS // 1_000_000} megapixels")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return Defect("photo-unusable", f"photograph cannot be read ({type(exc).__name__})")
    return None


def check(applied: Applied, record: Record | None, ctx: Context, received_on: dt.date) -> list[Defect]:
    """Every defect of the application, in a stable order (empty: defect-free)."""
    out: list[Defect] = []
    if record is None or not record.on_register:
        out.append(Defect("not-resident", "the applicant is not on the resident register (R-CERT-4)"))
    else:
        for field, want, got in (
            ("name", record.name, applied.name),
            ("address", record.address, applied.address),
        ):
            if normalise(want) != normalise(got):
                out.append(Defect(f"{field}-mismatch", f"the {field} differs from the resident record"))
        if record.date_of_birth != applied.date_of_birth:
            out.append(Defect("date-of-birth-mismatch", "the date of birth differs from the resident record"))
        if record.sex != applied.sex:
            out.append(Defect("sex-mismatch", "the sex differs from the resident record"))
    photo = check_photo(applied.photo)
    if photo is not None:
        out.append(photo)
    if ctx.open_applications:
        out.append(Defect("duplicate", "another application of this resident is already in progress"))
    if applied.reason == "new" and ctx.live_cards:
        out.append(Defect("duplicate", "the resident already has a card: apply for a reissue or renewal instead"))
    if applied.reason == "reissue" and (ctx.replaced_card_status is None or ctx.replaced_card_status not in REISSUABLE):
        out.append(Defect("nothing-to-reissue", "a reissue names a card of the applicant that is lost, suspended, returned or active"))
    if applied.reason == "renewal" and not ctx.expiry_notice_due:
        out.append(Defect("renewal-not-due", "the card is not within three months of its expiry (R-CARD-8)"))
    if applied.express is not None and record is not None:
        if applied.express == "newborn" and (received_on - record.date_of_birth).days > NEWBORN_DAYS:
            out.append(Defect("express-not-eligible", "express for a newborn is for a child under one year old"))
        elif applied.express == "loss" and not (applied.reason == "reissue" and ctx.replaced_card_status in UNUSABLE):
            out.append(Defect("express-not-eligible", "express after loss is for the reissue of a lost or suspended card"))
        elif applied.express == "abroad" and (
            record.moved_in_from_abroad_on is None or (received_on - record.moved_in_from_abroad_on).days > ABROAD_DAYS
        ):
            out.append(Defect("express-not-eligible", f"express for a move-in from abroad is within {ABROAD_DAYS} days of it"))
    return out
