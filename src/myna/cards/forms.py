"""The application form as received (R-CARD-2), whichever way it came in: its fields,
their checks and the digest a retry is compared by. Pure."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from myna.cards import defects as d
from myna.errors import InvalidInput
from myna.numbering.codes import check_resident_code

SOURCE_REF_MAX = 200


@dataclass(frozen=True)
class ApplicationIn:
    resident_code: str
    name: str
    date_of_birth: dt.date
    sex: str
    address: str
    photo: bytes | None
    reason: str = "new"
    express: str | None = None
    replaces_card_id: str | None = None
    source_ref: str | None = None

    def check(self) -> None:
        check_resident_code(self.resident_code)
        if self.reason not in d.REASONS:
            raise InvalidInput(f"reason must be one of {', '.join(d.REASONS)}")
        if self.express is not None and self.express not in d.EXPRESS_REASONS:
            raise InvalidInput(f"express must be one of {', '.join(d.EXPRESS_REASONS)}")
        if self.sex not in ("1", "2", "3"):
            raise InvalidInput("sex must be 1 (male), 2 (female) or 3 (not known)")
        for name, value, limit in (("name", self.name, 256), ("address", self.address, 256)):
            if not value or not value.strip() or len(value) > limit:
                raise InvalidInput(f"{name} must be 1-{limit} characters")
        if self.reason == "reissue" and not self.replaces_card_id:
            raise InvalidInput("a reissue names the card it replaces (replaces_card_id)")
        if self.source_ref is not None and not (0 < len(self.source_ref) <= SOURCE_REF_MAX):
            raise InvalidInput(f"source_ref must be 1-{SOURCE_REF_MAX} characters")

    def digest(self, channel: str) -> str:
        body = {
            "channel": channel,
            "resident_code": self.resident_code,
            "name": self.name,
            "date_of_birth": self.date_of_birth.isoformat(),
            "sex": self.sex,
            "address": self.address,
            "reason": self.reason,
            "express": self.express,
            "replaces_card_id": self.replaces_card_id,
            "photo": hashlib.sha256(self.photo or b"").hexdigest(),
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def decode_photo(text: str | None) -> bytes | None:
    if text is None or text == "":
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("photo_base64 is not valid base64") from None
