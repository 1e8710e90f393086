"""Helpers for the screen tests (fixtures are in conftest.py)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"


def challenge_of(html: str) -> str:
    return re.search(r'id="challenge">([0-9a-f]{64})<', html).group(1)


def answer(key, nonce: str) -> str:
    return base64.b64encode(key.sign(bytes.fromhex(nonce), ec.ECDSA(hashes.SHA256()))).decode()


def sign_in(portal, key, serial, **over):
    nonce = challenge_of(portal.get("/ui/portal/login").text)
    data = {"nonce": nonce, "serial": serial, "signature": answer(key, nonce)} | over
    return portal.post("/ui/portal/login", data=data, follow_redirects=False, headers={"accept-language": "en"})


def screenshot(page, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def resident_with_card(platform, code: str = "31000000007", pins: tuple[str, str] = ("4321", "SIGN99")):
    """A resident on the register (moved in from abroad) holding an active virtual card."""
    import datetime as dt

    from myna.chip.cards import CardPins, CardService
    from myna.numbering.codes import municipality_check_digit
    from myna.pki.basic4 import Basic4, Sex
    from myna.residents.events import ChangeEvent, EventType
    from myna.residents.registry import Registry

    municipality = "13101" + str(municipality_check_digit("13101"))
    registry = Registry(platform)
    registry.ensure_municipality(municipality, "Chiyoda")
    b4 = Basic4("鈴木 一郎", dt.date(1985, 2, 3), Sex.MALE, "東京都千代田区霞が関2-1-2")
    registry.submit(ChangeEvent(f"ui-{code}", EventType.MOVE_IN, code, municipality, dt.date(2020, 4, 1), basic4=b4, address=b4.address), actor="test")
    card = CardService(platform).create_card(code, CardPins(auth=pins[0], sign=pins[1]), "test")
    return registry.get(code, None), card
