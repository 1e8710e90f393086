"""Helpers for the verifier and mobile tests (import as ``ver_support``).

Residents get real virtual cards (tests/chip's card service, in-process, no PC/SC);
documents are signed by the card's signature key through the JPKI client, as a
resident's software would.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "chip"))

from chip_support import SIGN_PIN, KeyPool, register_resident  # noqa: E402

from myna.chip.chips import CardPins, ChipService  # noqa: E402
from myna.chip.client import JpkiClient  # noqa: E402
from myna.chip.cms import detached_signature  # noqa: E402
from myna.chip.image import KeyRef  # noqa: E402
from myna.chip.pins import PinRef  # noqa: E402
from myna.pki import serials  # noqa: E402
from myna.wiring import build

PINS = CardPins(auth="1234", sign="ABC123", face="1234")
_card_ids = itertools.count(1)


@dataclass
class Holder:
    platform: object
    cards: ChipService
    resident_code: str
    basic4: object
    card_id: str
    sign_serial: int
    auth_serial: int

    def client(self) -> JpkiClient:
        client = JpkiClient(self.cards.open_card(self.card_id).transmit)
        client.verify(PinRef.SIGN, SIGN_PIN)
        return client

    def sign(self, content: bytes, at: dt.datetime | None = None) -> bytes:
        """A detached CMS signature made by this holder's card signature key."""
        client = self.client()
        signer, ca = client.read_certificate("sign"), client.read_certificate("sign-ca")
        return detached_signature(content, signer, [ca], lambda di: client.sign(KeyRef.SIGN, di), at or self.platform.clock.now())

    @property
    def sign_hex(self) -> str:
        return serials.to_display(self.sign_serial)

    @property
    def auth_hex(self) -> str:
        return serials.to_display(self.auth_serial)


def card_service(platform) -> ChipService:
    return build(platform, keygen=KeyPool()).chips


def new_card(platform, cards: ChipService, resident_code: str, basic4) -> Holder:
    card_id = f"{0xA7000000 + next(_card_ids) * 7:016X}"
    info = cards.create_card(resident_code, PINS, actor="test", card_id=card_id)
    return Holder(platform, cards, resident_code, basic4, info.card_id, info.sign_serial, info.auth_serial)


def make_holder(platform, cards: ChipService, name: str = "山田 花子") -> Holder:
    person = register_resident(platform, name=name)
    return new_card(platform, cards, person.resident_code, person.basic4)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
