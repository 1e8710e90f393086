"""R-VER-2: the latest basic 4 information only with the holder's consent, given or
withdrawn by a document signed with the card's signature key; withdrawal at once; the
holder of a revoked certificate is not disclosed."""

from __future__ import annotations

import datetime as dt

import pytest
from myna_testing import table_counts
from ver_support import b64, bearer, make_holder

from myna.authority.revoking import RevocationService
from myna.errors import Conflict
from myna.pki.revocation import RevocationReason
from myna.verifiers.card_signed import CardCertificateNotValid, InvalidSignature
from myna.verifiers.consent import Consents, consent_document


def _submit(http, holder, action, verifier, content=None, signature=None):
    content = content or consent_document(action, verifier)
    signature = signature or holder.sign(content)
    return http.post("/api/v1/consents", json={"document": b64(content), "signature": b64(signature)})


def test_r_ver_2_no_basic4_without_consent_then_with_it_then_withdrawn(platform, cards, http, enrol):
    h = make_holder(platform, cards)
    token = enrol("SIG1", "signature")
    url = f"/api/v1/verifier/basic4/{h.sign_hex}"
    r = http.get(url, headers=bearer(token))
    assert r.status_code == 403 and r.json()["error"] == "no-consent"
    assert "name" not in r.text and h.basic4.name not in r.text

    r = _submit(http, h, "grant", "SIG1")
    assert r.status_code == 200 and r.json()["action"] == "granted" and r.json()["consented"]
    r = http.get(url, headers=bearer(token))
    assert r.status_code == 200
    body = r.json()
    assert body["basic4"] == {
        "name": h.basic4.name,
        "name_alt": h.basic4.name,
        "date_of_birth": h.basic4.date_of_birth.isoformat(),
        "sex": h.basic4.sex.value,
        "address": h.basic4.address,
        "address_alt": h.basic4.address,
    }
    assert body["serial"] == h.sign_hex and body["renewed"] is False

    # consent is per verifier: another signature verifier still gets nothing
    other = enrol("SIG2", "signature")
    assert http.get(url, headers=bearer(other)).json()["error"] == "no-consent"

    r = _submit(http, h, "withdraw", "SIG1")
    assert r.status_code == 200 and r.json()["action"] == "withdrawn"
    r = http.get(url, headers=bearer(token))  # at once: the very next request
    assert r.status_code == 403 and r.json()["error"] == "no-consent"


def test_r_ver_2_replayed_grant_after_withdrawal_changes_nothing(platform, cards, http, enrol):
    h = make_holder(platform, cards)
    enrol("SIG1", "signature")
    grant = consent_document("grant", "SIG1")
    grant_sig = h.sign(grant)
    assert _submit(http, h, "grant", "SIG1", grant, grant_sig).status_code == 200
    assert _submit(http, h, "withdraw", "SIG1").status_code == 200
    r = _submit(http, h, "grant", "SIG1", grant, grant_sig)
    assert r.status_code == 409 and "already submitted" in r.json()["message"]
    assert Consents(platform).state(h.resident_code, "SIG1").consented is False


def test_r_ver_2_revoked_certificate_holder_is_not_disclosed(platform, cards, http, enrol):
    h = make_holder(platform, cards)
    token = enrol("SIG1", "signature")
    Consents(platform).grant_via_portal(h.resident_code, "SIG1", "portal")
    url = f"/api/v1/verifier/basic4/{h.sign_hex}"
    assert http.get(url, headers=bearer(token)).status_code == 200
    RevocationService(platform).revoke(h.sign_serial, RevocationReason.REQUEST, "test")
    r = http.get(url, headers=bearer(token))
    assert r.status_code == 410 and r.json()["error"] == "no-valid-certificate"
    assert h.basic4.name not in r.text and h.basic4.address not in r.text


def test_r_ver_2_expired_certificate_holder_is_not_disclosed(platform, cards, http, enrol, clock):
    h = make_holder(platform, cards)
    token = enrol("SIG1", "signature")
    Consents(platform).grant_via_portal(h.resident_code, "SIG1", "portal")
    with platform.db.session() as s:
        from myna.store import models as m

        not_after = s.get(m.Certificate, format(h.sign_serial, "040x")).not_after
    clock.set(not_after + dt.timedelta(seconds=1))
    r = http.get(f"/api/v1/verifier/basic4/{h.sign_hex}", headers=bearer(token))
    assert r.status_code == 410


def test_consent_document_checks(platform, cards, http, enrol, clock):
    """Bad documents are refused with a specific error and leave no record."""
    h = make_holder(platform, cards)
    other = make_holder(platform, cards, name="佐藤 一郎")
    enrol("SIG1", "signature")
    before = table_counts(platform)
    doc = consent_document("grant", "SIG1")
    sig = h.sign(doc)
    cases = [
        (doc + b" ", sig, "invalid-signature", "messageDigest"),  # a different document
        (doc, other.sign(consent_document("grant", "SIG1")), "invalid-signature", "messageDigest"),
        (doc, b"\x30\x03\x02\x01\x01", "invalid-signature", "well-formed"),
        (b"not json", h.sign(b"not json"), "invalid-input", "JSON"),
        (consent_document("maybe", "SIG1"), None, "invalid-input", "action"),
        (consent_document("grant", "NOPE"), None, "not-found", "NOPE"),
        (doc, h.sign(doc, at=clock.now() - dt.timedelta(hours=1)), "invalid-signature", "minutes"),
    ]
    for content, signature, code, text in cases:
        r = _submit(http, h, "grant", "SIG1", content, signature or h.sign(content))
        assert r.status_code in (404, 422) and r.json()["error"] == code and text in r.json()["message"], (code, r.text)
    r = http.post("/api/v1/consents", json={"document": "%%%", "signature": b64(sig)})
    assert r.status_code == 422 and "base64" in r.json()["message"]
    assert table_counts(platform) == before


def test_consent_by_a_revoked_card_is_refused(platform, cards, enrol):
    h = make_holder(platform, cards)
    enrol("SIG1", "signature")
    doc = consent_document("grant", "SIG1")
    sig = h.sign(doc)
    RevocationService(platform).revoke(h.sign_serial, RevocationReason.REQUEST, "test")
    with pytest.raises(CardCertificateNotValid, match="revoked"):
        Consents(platform).submit(doc, sig)
    with pytest.raises(InvalidSignature):
        Consents(platform).submit(consent_document("grant", "SIG1"), sig)


def test_no_consent_for_a_suspended_verifier(platform, cards, enrol):
    from myna.verifiers.registry import VerifierRegistry

    h = make_holder(platform, cards)
    enrol("SIG1", "signature")
    VerifierRegistry(platform).set_status("SIG1", "suspended", "test")
    doc = consent_document("grant", "SIG1")
    with pytest.raises(Conflict, match="suspended"):
        Consents(platform).submit(doc, h.sign(doc))
