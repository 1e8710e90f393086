"""R-CERT-5 smartphone certificates and the R-REV-6 cascade by the explicit card link."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from mob_support import phone_apply_and_issue
from myna_testing import issue_request, register_resident, table_counts
from ver_support import b64, make_holder

from myna.authority.issuance import IssuanceService
from myna.authority.records import Records
from myna.authority.revoking import RevocationService
from myna.errors import Conflict, InvalidInput, NotEligible
from myna.mobile.issuance import ApplicationExpired, BadProof, application_document, proof_message
from myna.mobile.secure_element import SoftwareSecureElement
from myna.pki import serials
from myna.pki.basic4 import Basic4
from myna.pki.keys import KeyAlgorithm
from myna.pki.kinds import CertKind
from myna.pki.revocation import RevocationReason
from myna.store import models as m
from myna.verifiers.card_signed import CardCertificateNotValid, InvalidSignature
from myna.wiring import build


def _row(platform, serial: int) -> m.Certificate:
    with platform.db.session() as s:
        return s.get(m.Certificate, serials.to_store(serial))


def test_r_cert_5_mobile_sign_issued_on_a_valid_card_signature(platform, cards, clock):
    from myna.pki import validity

    h = make_holder(platform, cards)
    clock.advance(dt.timedelta(days=400))  # a year later: the birthday rule alone would reach past the card
    assert validity.certificate_not_after(h.basic4.date_of_birth, clock.now()) > _row(platform, h.sign_serial).not_after
    app, issued, se = phone_apply_and_issue(platform, h, "mobile-sign", algorithm=KeyAlgorithm.RSA_2048)
    assert issued.kind is CertKind.MOBILE_SIGN and issued.created
    cert = issued.certificate
    # issued to the key made in the phone's secure element, with the card's basic 4 information
    assert cert.public_key().public_numbers() == se._key(app.id).public_key().public_numbers()
    assert Basic4.from_certificate(cert) == Basic4.from_certificate(_cert(platform, h.sign_serial))
    assert cert.issuer == platform.authority("mobile-sign").cert.subject
    # linked to the card certificate and never outliving it
    assert build(platform).mobile.link_of(issued.serial) == h.sign_hex
    assert _row(platform, issued.serial).not_after == _row(platform, h.sign_serial).not_after
    assert cert.not_valid_after_utc == _row(platform, h.sign_serial).not_after


def _cert(platform, serial):
    from cryptography import x509

    return x509.load_der_x509_certificate(_row(platform, serial).der)


def test_r_cert_5_mobile_auth_links_to_the_card_user_auth_certificate(platform, cards):
    h = make_holder(platform, cards)
    _, issued, _ = phone_apply_and_issue(platform, h, "mobile-auth")
    assert issued.kind is CertKind.MOBILE_AUTH
    assert build(platform).mobile.link_of(issued.serial) == h.auth_hex
    from cryptography import x509

    with pytest.raises(x509.ExtensionNotFound):
        issued.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)  # no personal data


def test_r_cert_5_refused_with_a_revoked_card_signature_certificate(platform, cards):
    h = make_holder(platform, cards)
    doc = application_document("mobile-sign", h.basic4)
    sig = h.sign(doc)
    RevocationService(platform).revoke(h.sign_serial, RevocationReason.REQUEST, "test")
    before = table_counts(platform)
    with pytest.raises(CardCertificateNotValid, match="revoked"):
        build(platform).mobile.apply(doc, sig)
    assert table_counts(platform) == before


def test_r_cert_5_refused_when_the_card_is_revoked_between_application_and_key(platform, cards):
    h = make_holder(platform, cards)
    service, se = build(platform).mobile, SoftwareSecureElement()
    doc = application_document("mobile-sign", h.basic4)
    app = service.apply(doc, h.sign(doc))
    RevocationService(platform).revoke(h.sign_serial, RevocationReason.REQUEST, "test")
    public = se.generate(app.id, KeyAlgorithm.EC_P256)
    with pytest.raises(CardCertificateNotValid):
        service.issue(app.id, public, se.sign(app.id, proof_message(app.id, app.challenge)))


def test_r_cert_5_refused_without_a_correct_signature(platform, cards):
    h = make_holder(platform, cards)
    other = make_holder(platform, cards, name="佐藤 一郎")
    doc = application_document("mobile-sign", h.basic4)
    before = table_counts(platform)
    with pytest.raises(InvalidSignature, match="messageDigest"):
        build(platform).mobile.apply(doc, other.sign(application_document("mobile-sign", other.basic4)))
    with pytest.raises(InvalidSignature):
        build(platform).mobile.apply(doc, h.sign(doc)[:-10])
    # someone else's basic 4 information, signed by this card
    wrong = application_document("mobile-sign", dataclasses.replace(h.basic4, name="佐藤 一郎"))
    with pytest.raises(InvalidInput, match="differs from the card signature certificate: name"):
        build(platform).mobile.apply(wrong, h.sign(wrong))
    bad_kind = application_document("card-sign", h.basic4)
    with pytest.raises(InvalidInput, match="mobile-sign or mobile-auth"):
        build(platform).mobile.apply(bad_kind, h.sign(bad_kind))
    assert table_counts(platform) == before


def test_r_cert_5_proof_of_possession_and_application_lifetime(platform, cards, clock):
    h = make_holder(platform, cards)
    service, se = build(platform).mobile, SoftwareSecureElement()
    doc = application_document("mobile-sign", h.basic4)
    app = service.apply(doc, h.sign(doc))
    with pytest.raises(Conflict, match="already submitted"):
        service.apply(doc, h.sign(doc))
    public = se.generate(app.id, KeyAlgorithm.EC_P256)
    se.generate("other", KeyAlgorithm.EC_P256)
    with pytest.raises(BadProof):
        service.issue(app.id, public, se.sign("other", proof_message(app.id, app.challenge)))
    with pytest.raises(BadProof):
        service.issue(app.id, public, se.sign(app.id, proof_message(app.id, "00" * 32)))
    clock.advance(dt.timedelta(minutes=31))
    with pytest.raises(ApplicationExpired):
        service.issue(app.id, public, se.sign(app.id, proof_message(app.id, app.challenge)))


def test_r_cert_5_issue_is_idempotent_for_the_same_key_only(platform, cards):
    h = make_holder(platform, cards)
    app, issued, se = phone_apply_and_issue(platform, h)
    proof = se.sign(app.id, proof_message(app.id, app.challenge))
    again = build(platform).mobile.issue(app.id, se.public_key_pem(app.id), proof)
    assert again.serial == issued.serial and not again.created
    other = se.generate("k2", KeyAlgorithm.EC_P256)
    with pytest.raises(Conflict, match="already used"):
        build(platform).mobile.issue(app.id, other, se.sign("k2", proof_message(app.id, app.challenge)))


def test_r_cert_5_mobile_auth_needs_a_valid_card_user_auth(platform, cards):
    h = make_holder(platform, cards)
    RevocationService(platform).revoke(h.auth_serial, RevocationReason.REQUEST, "test")
    doc = application_document("mobile-auth", h.basic4)
    with pytest.raises(NotEligible, match="card user-auth"):
        build(platform).mobile.apply(doc, h.sign(doc))


@pytest.mark.parametrize("reason", [RevocationReason.REQUEST, RevocationReason.RECORD_ERROR, RevocationReason.RESIDENT_CHANGE])
def test_r_rev_6_revoking_the_card_certificate_revokes_the_phone_at_once(platform, cards, reason):
    h = make_holder(platform, cards)
    _, mobile_sign, _ = phone_apply_and_issue(platform, h, "mobile-sign")
    _, mobile_auth, _ = phone_apply_and_issue(platform, h, "mobile-auth")
    RevocationService(platform).revoke(h.sign_serial, reason, "test")
    rec = Records(platform).get(mobile_sign.serial)
    assert rec.status == "revoked" and rec.revocation_reason == "linked-card-revoked"
    assert Records(platform).get(h.sign_serial).revoked_at == rec.revoked_at  # the same moment
    assert Records(platform).get(mobile_auth.serial).status == "valid"  # other purpose untouched
    RevocationService(platform).revoke(h.auth_serial, reason, "test")
    assert Records(platform).get(mobile_auth.serial).revocation_reason == "linked-card-revoked"


def test_r_rev_6_cascade_follows_the_link_not_the_holder(platform, cards):
    """A holder with two cards: revoking one card's SIG revokes only the phone issued on it."""
    from ver_support import new_card

    h = make_holder(platform, cards)
    second = new_card(platform, cards, h.resident_code, h.basic4)
    _, on_first, _ = phone_apply_and_issue(platform, h)
    _, on_second, _ = phone_apply_and_issue(platform, second)
    RevocationService(platform).revoke(h.sign_serial, RevocationReason.REQUEST, "test")
    assert Records(platform).get(on_first.serial).status == "revoked"
    assert Records(platform).get(on_second.serial).status == "valid"


def test_r_rev_6_expiry_does_not_cascade(platform, cards, clock):
    """R-REV-6 / R-REV-7: the card certificates' expiry is not a revocation. The mobile
    certificates end by their own notAfter (capped at the card's: valid up to the card's
    last second, then ``expired``, never ``revoked``), and nothing that could write a
    revocation does so after expiry: revoking the expired card or mobile certificate is
    refused, a resident change (R-REV-2) finds nothing in effect, the CRLs list nothing."""
    from chip_support import MUNICIPALITY
    from cryptography import x509

    from myna.authority.crls import CrlService
    from myna.residents.events import ChangeEvent, EventType

    h = make_holder(platform, cards)
    _, mobile, _ = phone_apply_and_issue(platform, h)
    _, mobile_auth, _ = phone_apply_and_issue(platform, h, "mobile-auth")
    card_end = _row(platform, h.sign_serial).not_after
    assert _row(platform, mobile.serial).not_after == card_end == _row(platform, mobile_auth.serial).not_after
    clock.set(card_end)  # the last second of validity
    assert [Records(platform).get(x).status for x in (h.sign_serial, mobile.serial, mobile_auth.serial)] == ["valid"] * 3
    clock.set(card_end + dt.timedelta(seconds=1))
    for serial in (h.sign_serial, h.auth_serial, mobile.serial, mobile_auth.serial):
        rec = Records(platform).get(serial)
        assert (rec.status, rec.revoked_at, rec.revocation_reason) == ("expired", None, None), serial
    for serial in (h.sign_serial, mobile.serial):
        with pytest.raises(Conflict, match="R-REV-7"):
            RevocationService(platform).revoke(serial, RevocationReason.REQUEST, "test")
    build(platform).registry.submit(
        ChangeEvent("nc-after-expiry", EventType.NAME_CHANGE, h.resident_code, MUNICIPALITY, card_end.date(), name="田中 花子"),
        actor="test",
    )
    CrlService(platform).publish_all()
    for slug in ("card-sign", "card-auth", "mobile-sign", "mobile-auth"):
        assert len(x509.load_der_x509_crl(CrlService(platform).latest(slug).der)) == 0, slug
    assert Records(platform).get(mobile.serial).status == "expired"
    with platform.db.session() as s:
        assert s.query(m.Revocation).count() == 0


def test_r_cert_5_refused_with_an_expired_card_signature_certificate(platform, cards, clock):
    """R-CERT-5: only a holder of a *valid* card SIG may apply: once it has expired, the
    application (signed with the same card key, signingTime now) is refused, for either
    kind, and nothing is recorded."""
    h = make_holder(platform, cards)
    clock.set(_row(platform, h.sign_serial).not_after + dt.timedelta(seconds=1))
    before = table_counts(platform)
    for kind in ("mobile-sign", "mobile-auth"):
        doc = application_document(kind, h.basic4)
        with pytest.raises(CardCertificateNotValid, match="validity period"):
            build(platform).mobile.apply(doc, h.sign(doc))
    assert table_counts(platform) == before


def test_r_cert_5_refused_when_the_card_certificate_expires_between_application_and_key(platform, cards, clock):
    """R-CERT-5: J-LIS checks the card certificate again at issuance: an application made
    ten minutes before the card SIG expires cannot be completed after it expired."""
    h = make_holder(platform, cards)
    card_end = _row(platform, h.sign_serial).not_after
    clock.set(card_end - dt.timedelta(minutes=10))
    service, se = build(platform).mobile, SoftwareSecureElement()
    doc = application_document("mobile-sign", h.basic4)
    app = service.apply(doc, h.sign(doc))
    public = se.generate(app.id, KeyAlgorithm.EC_P256)
    clock.set(card_end + dt.timedelta(seconds=1))  # the application itself is still within its 30 minutes
    with pytest.raises(CardCertificateNotValid, match="expired"):
        service.issue(app.id, public, se.sign(app.id, proof_message(app.id, app.challenge)))
    with platform.db.session() as s:
        assert s.query(m.Certificate).filter(m.Certificate.kind == "mobile-sign").count() == 0


def test_r_rev_5_issuer_key_compromise_of_the_card_ca_revokes_the_linked_mobile_certificates(platform, cards):
    """R-REV-5 then R-REV-6: when the card signature CA's key is compromised, every card SIG
    it signed is revoked (key-compromise) and, at the same moment, the mobile signature
    certificates linked to them (linked-card-revoked), although the mobile CA's key is
    sound. Certificates of the other purpose stay valid."""
    h = make_holder(platform, cards)
    other = make_holder(platform, cards, name="佐藤 一郎")
    _, h_sign, _ = phone_apply_and_issue(platform, h, "mobile-sign")
    _, h_auth, _ = phone_apply_and_issue(platform, h, "mobile-auth")
    _, other_sign, _ = phone_apply_and_issue(platform, other, "mobile-sign")
    result = RevocationService(platform).compromise_authority("card-sign", "test", note="key leaked")
    assert result.revoked == 2  # the two card SIGs the CA signed
    for card in (h.sign_serial, other.sign_serial):
        rec = Records(platform).get(card)
        assert (rec.status, rec.revocation_reason, rec.revoked_at) == ("revoked", "key-compromise", result.revoked_at)
    for mobile in (h_sign.serial, other_sign.serial):
        rec = Records(platform).get(mobile)
        assert (rec.status, rec.revocation_reason, rec.revoked_at) == ("revoked", "linked-card-revoked", result.revoked_at)
    assert Records(platform).get(h_auth.serial).status == "valid" and Records(platform).get(h.auth_serial).status == "valid"
    assert platform.authority("mobile-sign").active  # the mobile CA itself is not compromised


def test_r_rev_6_unlinked_mobile_certificates_still_cascade_by_holder(platform):
    """Mobile certificates issued outside the application flow (no link) keep the holder rule."""
    register_resident(platform)
    card, mobile = IssuanceService(platform).issue_many([issue_request("card-sign"), issue_request("mobile-sign")], "t")
    RevocationService(platform).revoke(card.serial, RevocationReason.REQUEST, "t")
    assert Records(platform).get(mobile.serial).revocation_reason == "linked-card-revoked"


def test_mobile_over_http(platform, cards, http):
    h = make_holder(platform, cards)
    se = SoftwareSecureElement()
    doc = application_document("mobile-sign", h.basic4)
    r = http.post("/api/v1/mobile/applications", json={"document": b64(doc), "signature": b64(h.sign(doc))})
    assert r.status_code == 201, r.text
    app = r.json()
    public = se.generate(app["application_id"], KeyAlgorithm.EC_P256)
    proof = se.sign(app["application_id"], proof_message(app["application_id"], app["challenge"]))
    r = http.post(
        f"/api/v1/mobile/applications/{app['application_id']}/certificate", json={"public_key": public.decode(), "proof": b64(proof)}
    )
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "mobile-sign" and "BEGIN CERTIFICATE" in r.json()["pem"]
    bad = [
        ("/api/v1/mobile/applications", {"document": "!!", "signature": "AA=="}, 422),
        ("/api/v1/mobile/applications", {"document": b64(doc)}, 422),
        ("/api/v1/mobile/applications/nope/certificate", {"public_key": public.decode(), "proof": b64(proof)}, 404),
        (f"/api/v1/mobile/applications/{app['application_id']}/certificate", {"public_key": "junk", "proof": b64(proof)}, 422),
    ]
    for url, body, status in bad:
        r = http.post(url, json=body)
        assert r.status_code == status, (url, r.text)
