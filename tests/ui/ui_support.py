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
