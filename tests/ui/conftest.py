"""Browser fixtures: the platform's app served by uvicorn in a thread, and Debian's Chromium
driven by Playwright. Screenshots go to docs/screens/ (kept in the repository)."""

from __future__ import annotations

import pytest
import race_support
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from myna_testing import issue_many_registered, issue_request, require_tool

from myna.pki import serials
from myna.web.app import create_app
from myna.wiring import build


@pytest.fixture
def live_server(platform):
    with race_support.live_server(platform) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    chromium = require_tool("chromium", "apt install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def portal(platform):
    return TestClient(create_app(platform, schedule=False), raise_server_exceptions=False)


@pytest.fixture
def counter(platform):
    """A test client for the counter terminal, with clerks' tokens of two municipalities
    (Chiyoda and Shinjuku) and an operator's; ``as_clerk`` in test_ui_counter signs in."""
    from ui_support import CHIYODA, SHINJUKU

    from myna.access.roles import Role
    from myna.access.tokens import Tokens

    registry = build(platform).registry
    registry.ensure_municipality(CHIYODA, "千代田区")
    registry.ensure_municipality(SHINJUKU, "新宿区")
    tokens = Tokens(platform)
    client = TestClient(create_app(platform, schedule=False), raise_server_exceptions=False)
    client.tokens = {
        "chiyoda": tokens.create(Role.MUNICIPALITY, "clerk", CHIYODA),
        "shinjuku": tokens.create(Role.MUNICIPALITY, "clerk", SHINJUKU),
        "operator": tokens.create(Role.OPERATOR, "ops"),
    }
    return client


@pytest.fixture
def holder(platform):
    """A resident's user-auth key and certificate (EC, as on a phone: cheap to make)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    issued = issue_many_registered(platform, [issue_request("card-auth", public_key=pem, resident_code="55555555555")], "test")[0]
    return key, serials.to_display(issued.serial)
