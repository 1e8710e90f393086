"""Resident portal: consent to verifiers (R-VER-2) takes effect at once, and the resident
sees who received what about them (the provision log, R-VER-6)."""

import re

import pytest
from ui_support import sign_in

from myna.access.entitlements import VerifierType
from myna.errors import NotFound
from myna.pki import serials
from myna.verifiers.credentials import Caller
from myna.verifiers.registry import VerifierRegistry
from myna.wiring import build


@pytest.fixture
def verifiers(platform):
    reg = VerifierRegistry(platform)
    return {
        "bank": reg.register("BANK01", "みどり銀行", VerifierType.SIGNATURE, "test"),
        "shop": reg.register("SHOP01", "ログイン専用ショップ", VerifierType.USER_AUTH, "test"),
    }


def test_consent_listed_only_for_verifiers_that_can_receive_basic4(portal, holder, verifiers):
    key, serial = holder
    sign_in(portal, key, serial)
    html = portal.get("/ui/portal/me", headers={"accept-language": "en"}).text
    assert 'data-verifier="BANK01" data-consented="no"' in html
    assert 'data-verifier="SHOP01"' not in html.split('id="my-consents"', 1)[1].split("</table>", 1)[0]


def test_grant_and_withdraw_take_effect_at_once_and_the_disclosure_record_shows_it(platform, portal, holder, verifiers):
    """The holder's auth certificate stands in for the serial here: what matters is that the
    log rows of their certificates are shown to them and to nobody else."""
    key, serial = holder
    sign_in(portal, key, serial)
    bank = Caller(verifiers["bank"], "token", "1")
    provision = build(platform).provision
    # A status query about the holder's certificate by a verifier entitled to user-auth status.
    shop = Caller(verifiers["shop"], "token", "2")
    provision.status(shop, "auth", serials.parse(serial))
    r = portal.post("/ui/portal/consents", data={"verifier": "BANK01", "action": "grant"}, follow_redirects=False)
    assert r.status_code == 303 and "consent=grant" in r.headers["location"]
    html = portal.get("/ui/portal/me?consent=grant", headers={"accept-language": "en"}).text
    assert 'data-verifier="BANK01" data-consented="yes"' in html and 'id="consent-done"' in html
    rows = re.findall(r'<tr data-category="([a-z0-9-]+)" data-outcome="(\w+)" data-verifier="(\w+)"', html)
    assert rows == [("status-auth", "provided", "SHOP01")]
    # The bank asks for basic 4 with a user-auth serial: refused (R-VER-7), and the refusal is shown.
    with pytest.raises(NotFound):
        provision.basic4(bank, serials.parse(serial))
    portal.post("/ui/portal/consents", data={"verifier": "BANK01", "action": "withdraw"})
    html = portal.get("/ui/portal/me", headers={"accept-language": "en"}).text
    assert 'data-verifier="BANK01" data-consented="no"' in html
    rows = re.findall(r'<tr data-category="([a-z0-9-]+)" data-outcome="(\w+)" data-verifier="(\w+)"', html)
    assert rows[0] == ("basic4", "refused", "BANK01") and len(rows) == 2


def test_consent_form_errors_are_reported(portal, holder, verifiers):
    key, serial = holder
    sign_in(portal, key, serial)
    r = portal.post("/ui/portal/consents", data={"verifier": "NOPE99", "action": "grant"})
    assert r.status_code == 200 and 'id="consent-error"' in r.text
    r = portal.post("/ui/portal/consents", data={"verifier": "BANK01", "action": "sell"})
    assert 'id="consent-error"' in r.text and "grant or withdraw" in r.text


def test_consent_needs_a_portal_session(portal, verifiers):
    r = portal.post("/ui/portal/consents", data={"verifier": "BANK01", "action": "grant"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/portal/login"


def test_suspended_verifier_cannot_be_granted(platform, portal, holder, verifiers):
    key, serial = holder
    VerifierRegistry(platform).set_status("BANK01", "suspended", "test")
    sign_in(portal, key, serial)
    html = portal.get("/ui/portal/me").text
    assert 'data-verifier="BANK01"' not in html
