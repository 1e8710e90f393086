"""Chromium through the resident portal, signing in with a virtual card: the chip signs the
portal's challenge with its user-auth key after the PIN, as `myna chip login-challenge`
does over PC/SC (here the card is driven in-process)."""

import base64

import pytest
from ui_support import resident_with_card, screenshot

from myna.access.entitlements import VerifierType
from myna.chip.client import JpkiClient
from myna.chip.image import KeyRef
from myna.chip.pins import PinRef
from myna.errors import NotFound
from myna.numbering.codes import municipality_check_digit
from myna.pki import serials
from myna.verifiers.credentials import Caller
from myna.verifiers.registry import VerifierRegistry
from myna.wiring import build

pytestmark = [pytest.mark.slow, pytest.mark.interop]
MUNICIPALITY = "13101" + str(municipality_check_digit("13101"))


def card_answers(platform, card_id: str, pin: str, challenge_hex: str) -> tuple[str, str]:
    client = JpkiClient(build(platform).chips.open_card(card_id).transmit)
    cert = client.read_certificate("auth")
    client.verify(PinRef.AUTH, pin)
    signature = client.sign_sha256(KeyRef.AUTH, bytes.fromhex(challenge_hex))
    return serials.to_display(cert.serial_number), base64.b64encode(signature).decode()


def test_resident_signs_in_with_the_card_and_sees_their_record(platform, live_server, page):
    _, card = resident_with_card(platform)
    # Two verifiers; the shop has asked about the card's user-auth certificate, the bank
    # asked for basic 4 information it may not have for it (refused, R-VER-7).
    registry = VerifierRegistry(platform)
    bank = registry.register("BANK01", "みどり銀行", VerifierType.SIGNATURE, "test")
    shop = registry.register("SHOP01", "ログイン専用ショップ", VerifierType.USER_AUTH, "test")
    provision = build(platform).provision
    provision.status(Caller(shop, "token", "1"), "auth", card.auth_serial)
    with pytest.raises(NotFound):
        provision.basic4(Caller(bank, "token", "2"), card.auth_serial)
    page.goto(f"{live_server}/ui/portal")
    screenshot(page, "portal-home-ja")
    page.click("#portal-login")
    challenge = page.inner_text("#challenge")
    serial, signature = card_answers(platform, card.card_id, "4321", challenge)
    screenshot(page, "portal-login-ja")
    page.fill("#serial", serial)
    page.fill("#signature", signature)
    page.click("#portal-login-form button[type=submit]")
    page.wait_for_url("**/ui/portal/me")
    assert page.inner_text("#me-name") == "鈴木 一郎"
    assert page.inner_text("#me-address") == "東京都千代田区霞が関2-1-2"
    assert page.get_attribute(f'#my-certificates tr[data-serial="{serial}"]', "data-status") == "valid"
    assert page.locator("#my-certificates tbody tr").count() == 2  # auth and signature certificates
    assert page.get_attribute(f'#my-cards tr[data-card="{card.card_id}"] td[data-col="status"]', "data-status") == "active"
    assert page.inner_text(f'#my-cards tr[data-card="{card.card_id}"] td[data-col="status"]') == "利用中"
    screenshot(page, "portal-me-ja")
    # Consent to the bank, given on the page; who received what, newest first.
    page.click("#grant-BANK01")
    assert page.is_visible("#consent-done")
    assert page.get_attribute('#my-consents tr[data-verifier="BANK01"]', "data-consented") == "yes"
    rows = page.eval_on_selector_all("#my-disclosures tbody tr", "els => els.map(e => [e.dataset.verifier, e.dataset.outcome])")
    assert rows == [["BANK01", "refused"], ["SHOP01", "provided"]]
    screenshot(page, "portal-consents-ja", "#consents")
    screenshot(page, "portal-disclosures-ja", "#disclosures")
    page.click("#portal-logout")
    page.goto(f"{live_server}/ui/portal/me")
    assert page.url.endswith("/ui/portal/login")


def test_a_wrong_card_answer_shows_the_reason_on_the_form(platform, live_server, page):
    _, card = resident_with_card(platform, "31000000015")
    page.goto(f"{live_server}/ui/portal/login?lang=en")
    stale = page.inner_text("#challenge")
    serial, signature = card_answers(platform, card.card_id, "4321", "00" * 32)  # signed something else
    page.fill("#serial", serial)
    page.fill("#signature", signature)
    page.click("#portal-login-form button[type=submit]")
    assert "signature does not match" in page.inner_text("#form-error")
    assert page.inner_text("#challenge") != stale  # a new challenge for the next try
    screenshot(page, "portal-login-error-en")
