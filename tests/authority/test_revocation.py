"""Revocation records (SPEC §4): R-REV-1..7."""

import datetime as dt
import json

import pytest
from cryptography import x509
from myna_testing import issue_registered, issue_request, table_counts
from sqlalchemy import select

from myna.authority.ceremony import run_ceremony
from myna.authority.crls import CrlService
from myna.authority.records import Records
from myna.authority.revoking import RevocationService
from myna.errors import AlreadyRevoked, Conflict, InvalidInput, NotFound
from myna.pki.kinds import AuthorityKind
from myna.pki.revocation import RevocationReason
from myna.store import models as m


def _issue(platform, kind="card-sign", **over):
    return issue_registered(platform, issue_request(kind, **over), "t")


@pytest.mark.parametrize(
    "reason,x509_reason",
    [
        (RevocationReason.REQUEST, x509.ReasonFlags.cessation_of_operation),  # R-REV-1
        (RevocationReason.RESIDENT_CHANGE, x509.ReasonFlags.affiliation_changed),  # R-REV-2/3
        (RevocationReason.RECORD_ERROR, x509.ReasonFlags.superseded),  # R-REV-4
    ],
)
def test_r_rev_1_to_4_revocation_is_effective_at_the_moment_of_recording(platform, clock, reason, x509_reason):
    issued = _issue(platform)
    clock.advance(dt.timedelta(hours=5))
    done = RevocationService(platform).revoke(issued.serial, reason, "clerk")
    assert done.revoked_at == clock.now()
    rec = Records(platform).get(issued.serial)
    assert (rec.status, rec.revoked_at, rec.revocation_reason) == ("revoked", clock.now(), reason.value)
    crl = x509.load_der_x509_crl(CrlService(platform).publish("card-sign").der)
    entry = crl.get_revoked_certificate_by_serial_number(issued.serial)
    assert entry.revocation_date_utc == clock.now()
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509_reason


def test_r_rev_4_record_error_queues_a_notice_to_the_holder(platform):
    issued = _issue(platform, resident_code="11122233344")
    RevocationService(platform).revoke(issued.serial, RevocationReason.RECORD_ERROR, "operator")
    notices = Records(platform).notices("holder-notice")
    assert len(notices) == 1
    assert notices[0]["resident_code"] == "11122233344" and notices[0]["type"] == "revocation-record-error"
    RevocationService(platform).revoke(_issue(platform).serial, RevocationReason.REQUEST, "operator")
    assert len(Records(platform).notices("holder-notice")) == 1  # only record errors notify


def test_repeated_revocation_is_refused_and_changes_nothing(platform):
    issued = _issue(platform)
    RevocationService(platform).revoke(issued.serial, RevocationReason.REQUEST, "t")
    before = table_counts(platform)
    with pytest.raises(AlreadyRevoked, match="already revoked"):
        RevocationService(platform).revoke(issued.serial, RevocationReason.RECORD_ERROR, "t")
    assert table_counts(platform) == before


def test_r_rev_7_expiry_is_derived_not_recorded(platform, clock):
    issued = _issue(platform, "card-auth")
    clock.set(issued.certificate.not_valid_after_utc + dt.timedelta(seconds=1))
    assert Records(platform).get(issued.serial).status == "expired"
    with pytest.raises(Conflict, match="R-REV-7"):
        RevocationService(platform).revoke(issued.serial, RevocationReason.REQUEST, "t")
    with platform.db.session() as s:
        assert s.scalar(select(m.Revocation).where(m.Revocation.serial.is_not(None))) is None


def test_r_rev_6_linked_card_reason_only_for_mobile_certificates(platform):
    card = _issue(platform, "card-sign")
    with pytest.raises(InvalidInput, match="mobile"):
        RevocationService(platform).revoke(card.serial, RevocationReason.LINKED_CARD_REVOKED, "t")
    mobile = _issue(platform, "mobile-sign")
    RevocationService(platform).revoke(mobile.serial, RevocationReason.LINKED_CARD_REVOKED, "t")
    assert Records(platform).get(mobile.serial).revocation_reason == "linked-card-revoked"


def test_unknown_serial_and_other_municipality_get_not_found(platform):
    issued = _issue(platform, municipality_code="131016")
    with pytest.raises(NotFound):
        RevocationService(platform).revoke(12345, RevocationReason.REQUEST, "t")
    with pytest.raises(NotFound):
        RevocationService(platform).revoke(issued.serial, RevocationReason.REQUEST, "t", municipality_code="131041")
    assert Records(platform).get(issued.serial).status == "valid"


def test_key_compromise_for_a_single_certificate_is_refused(platform):
    with pytest.raises(InvalidInput, match="whole CA"):
        RevocationService(platform).revoke(_issue(platform).serial, RevocationReason.KEY_COMPROMISE, "t")


def test_r_rev_5_issuer_key_compromise_revokes_everything_it_signed_and_publishes_a_notice(platform, clock):
    sign_certs = [_issue(platform, "card-sign") for _ in range(4)]
    auth_cert = _issue(platform, "card-auth")
    RevocationService(platform).revoke(sign_certs[0].serial, RevocationReason.REQUEST, "t")
    old_ca = platform.authority(AuthorityKind.CARD_SIGN)
    clock.advance(dt.timedelta(minutes=1))

    done = RevocationService(platform).compromise_authority(AuthorityKind.CARD_SIGN, "operator", note="HSM stolen")
    assert done.revoked == 3  # the fourth was already revoked and keeps its first reason
    for c in sign_certs[1:]:
        rec = Records(platform).get(c.serial)
        assert (rec.status, rec.revocation_reason, rec.revoked_at) == ("revoked", "key-compromise", clock.now())
    assert Records(platform).get(sign_certs[0].serial).revocation_reason == "request"
    assert Records(platform).get(auth_cert.serial).status == "valid"  # another CA's key

    notice = Records(platform).notices("public-notice")[0]
    assert notice["rule"] == "R-REV-5" and notice["authority"] == "card-sign" and notice["revoked_certificates"] == 3

    # The compromised CA's own certificate is revoked in the root's CRL.
    arl = x509.load_der_x509_crl(CrlService(platform).publish("root").der)
    entry = arl.get_revoked_certificate_by_serial_number(old_ca.cert.serial_number)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.ca_compromise

    # The next ceremony creates generation 2 with its own URLs; the old CA still has its CRL.
    steps = run_ceremony(platform, "operator")
    assert [(s.kind, s.generation) for s in steps] == [("card-sign", 2)]
    new_ca = platform.authority(AuthorityKind.CARD_SIGN)
    assert new_ca.slug == "card-sign-g2" and new_ca.cert.public_key() != old_ca.cert.public_key()
    fresh = _issue(platform, "card-sign").certificate
    assert (
        fresh.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0].full_name[0].value.endswith("/crl/card-sign-g2.crl")
    )
    published = {p.authority for p in CrlService(platform).publish_all()}
    assert {"card-sign", "card-sign-g2"} <= published
    with platform.db.session() as s:
        ceremonies = list(s.scalars(select(m.Ceremony).order_by(m.Ceremony.id)))
    assert [c.purpose for c in ceremonies] == ["init", "rekey"]
    assert json.loads(ceremonies[1].transcript)[0]["kind"] == "card-sign"


def test_every_revocation_is_in_the_audit_log(platform):
    issued = _issue(platform)
    RevocationService(platform).revoke(issued.serial, RevocationReason.REQUEST, "clerk@131016")
    with platform.db.session() as s:
        events = [(e.actor, e.action) for e in s.scalars(select(m.AuditEvent).where(m.AuditEvent.subject == format(issued.serial, "040x")))]
    assert ("t", "certificate.issued") in events and ("clerk@131016", "certificate.revoked") in events
