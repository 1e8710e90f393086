"""Helpers for the screen tests (fixtures are in conftest.py)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from myna.wiring import build

SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"
CHIYODA = "131016"
SHINJUKU = "131041"


def challenge_of(html: str) -> str:
    return re.search(r'id="challenge">([0-9a-f]{64})<', html).group(1)


def answer(key, nonce: str) -> str:
    return base64.b64encode(key.sign(bytes.fromhex(nonce), ec.ECDSA(hashes.SHA256()))).decode()


def sign_in(portal, key, serial, **over):
    nonce = challenge_of(portal.get("/ui/portal/login").text)
    data = {"nonce": nonce, "serial": serial, "signature": answer(key, nonce)} | over
    return portal.post("/ui/portal/login", data=data, follow_redirects=False, headers={"accept-language": "en"})


def pdf_text(pdf: bytes, tmp: Path) -> str:
    """The text of a PDF as poppler's pdftotext reads it (pages separated by form feeds)."""
    import subprocess

    from myna_testing import require_tool

    require_tool("pdftotext", "Debian package poppler-utils")
    path = tmp / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def screenshot(page, name: str, selector: str | None = None) -> Path:
    """docs/screens/NAME.png: the whole page, or only the element ``selector`` finds.
    Every name must be listed in docs/screens.md (test_ui_docs checks)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    if selector:
        page.locator(selector).screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    return path


def resident_with_card(platform, code: str = "31000000007", pins: tuple[str, str] = ("4321", "SIGN99")):
    """A resident on the register (moved in from abroad) holding an active virtual card."""
    import datetime as dt

    from myna.chip.chips import CardPins
    from myna.numbering.codes import municipality_check_digit
    from myna.pki.basic4 import Basic4, Sex
    from myna.residents.events import ChangeEvent, EventType

    municipality = "13101" + str(municipality_check_digit("13101"))
    registry = build(platform).registry
    registry.ensure_municipality(municipality, "Chiyoda")
    b4 = Basic4("鈴木 一郎", dt.date(1985, 2, 3), Sex.MALE, "東京都千代田区霞が関2-1-2")
    registry.submit(
        ChangeEvent(f"ui-{code}", EventType.MOVE_IN, code, municipality, dt.date(2020, 4, 1), basic4=b4, address=b4.address), actor="test"
    )
    card = build(platform).chips.create_card(code, CardPins(auth=pins[0], sign=pins[1]), "test")
    return registry.get(code, None), card


def card_and_verifier_figures(platform, clock) -> None:
    """Three applications on day 0, two produced and shipped on day 3; two status answers
    to a user-auth verifier: the figures the console tests look for."""
    import datetime as dt

    from myna_testing import issue_many_registered, issue_request

    from myna.access.entitlements import VerifierType
    from myna.cards.applications import ApplicationIn, Applications
    from myna.pki.basic4 import Basic4, Sex
    from myna.residents.events import ChangeEvent, EventType
    from myna.verifiers.credentials import Caller
    from myna.verifiers.registry import VerifierRegistry

    registry = build(platform).registry
    registry.ensure_municipality(CHIYODA, "千代田区")
    for i, code in enumerate(("50000000001", "50000000002", "50000000003")):
        b4 = Basic4(f"住民 {i}", dt.date(1990, 1, 1 + i), Sex.MALE, "東京都千代田区1-1")
        registry.submit(
            ChangeEvent(f"c-{code}", EventType.MOVE_IN, code, CHIYODA, dt.date(2020, 4, 1), basic4=b4, address=b4.address), "test"
        )
        Applications(platform).submit(ApplicationIn(code, b4.name, b4.date_of_birth, "1", b4.address, photo()), "online", "test")
    clock.advance(dt.timedelta(days=3))
    build(platform).production.produce("jlis", size=2)  # two of the three produced and shipped
    build(platform).production.ship("jlis")
    shop = VerifierRegistry(platform).register("SHOP01", "ショップ", VerifierType.USER_AUTH, "test")
    issued = issue_many_registered(platform, [issue_request("card-auth")], "test")[0]
    build(platform).provision.status(Caller(shop, "token", "1"), "auth", issued.serial)
    build(platform).provision.status(Caller(shop, "token", "1"), "auth", issued.serial)


def photo() -> bytes:
    """A portrait 'photograph' the defect checks accept: a gradient and a face-like oval."""
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGB", (350, 450), (128, 128, 128))
    draw = ImageDraw.Draw(img)
    for y in range(450):
        draw.line([(0, y), (350, y)], fill=(200 - y * 100 // 450, 210, 230))
    draw.ellipse([90, 90, 260, 310], fill=(220, 180, 150))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
