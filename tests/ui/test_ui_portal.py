"""Resident portal: sign-in with the user-authentication certificate (challenge, signature,
certificate status) and what a resident sees of themselves."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from myna_testing import issue_many_registered, issue_request
from ui_support import answer, challenge_of, sign_in

from myna.authority.revoking import RevocationService
from myna.pki import serials
from myna.pki.revocation import RevocationReason


def test_the_card_holder_signs_in_and_sees_their_certificates(portal, holder):
    key, serial = holder
    assert portal.get("/ui/portal/me", follow_redirects=False).headers["location"] == "/ui/portal/login"
    r = sign_in(portal, key, serial)
    assert r.status_code == 303 and r.headers["location"] == "/ui/portal/me"
    assert "httponly" in r.headers["set-cookie"].lower()
    me = portal.get("/ui/portal/me", headers={"accept-language": "en"}).text
    assert f'data-serial="{serial}" data-status="valid"' in me and "used for this sign-in" in me


def test_a_challenge_is_good_for_one_attempt(portal, holder):
    key, serial = holder
    nonce = challenge_of(portal.get("/ui/portal/login").text)
    data = {"nonce": nonce, "serial": serial, "signature": answer(key, nonce)}
    assert portal.post("/ui/portal/login", data=data, follow_redirects=False).status_code == 303
    r = portal.post("/ui/portal/login", data=data, follow_redirects=False, headers={"accept-language": "en"})
    assert r.status_code == 401 and "already used" in r.text


def test_a_wrong_key_or_a_revoked_certificate_is_refused(portal, platform, holder):
    key, serial = holder
    other = ec.generate_private_key(ec.SECP256R1())
    r = sign_in(portal, other, serial)
    assert r.status_code == 401 and "signature does not match" in r.text
    RevocationService(platform).revoke(serials.parse(serial), RevocationReason.REQUEST, "test")
    r = sign_in(portal, key, serial)
    assert r.status_code == 401 and "revoked" in r.text and "myna_portal" not in r.headers.get("set-cookie", "")


def test_a_signature_certificate_cannot_sign_in(portal, platform):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    serial = serials.to_display(issue_many_registered(platform, [issue_request("card-sign", public_key=pem)], "test")[0].serial)
    r = sign_in(portal, key, serial)
    assert r.status_code == 401 and "no user-authentication certificate" in r.text


@pytest.mark.parametrize(
    "over, status, where",
    [
        ({"serial": ""}, 422, 'id="serial-error"'),
        ({"signature": ""}, 422, 'id="signature-error"'),
        ({"serial": "xyz"}, 401, "not a hexadecimal"),
        ({"signature": "!!!not base64"}, 401, "must be base64"),
        ({"nonce": "00" * 32}, 401, "expired or was already used"),
        ({"nonce": "abc"}, 401, "not one this portal issued"),
    ],
)
def test_bad_sign_in_fields_get_specific_messages(portal, holder, over, status, where):
    key, serial = holder
    over = dict(over)
    r = sign_in(portal, key, over.pop("serial", serial), **over)
    assert r.status_code == status and where in r.text


def test_sign_out_ends_the_session(portal, holder):
    key, serial = holder
    sign_in(portal, key, serial)
    assert portal.get("/ui/portal/me", follow_redirects=False).status_code == 200
    portal.post("/ui/portal/logout")
    assert portal.get("/ui/portal/me", follow_redirects=False).status_code == 303
