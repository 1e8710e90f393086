"""CRLs per CA (R-REV-9, R-REV-10): numbering, deltas, retention, schedule."""

import dataclasses
import datetime as dt

from cryptography import x509
from myna_testing import issue_request

from myna.authority.crls import CrlService
from myna.authority.issuance import IssuanceService
from myna.authority.revoking import RevocationService
from myna.pki.kinds import AuthorityKind
from myna.pki.revocation import RevocationReason


def _revoked(platform, kind="card-auth"):
    issued = IssuanceService(platform).issue(issue_request(kind), "t")
    RevocationService(platform).revoke(issued.serial, RevocationReason.REQUEST, "t")
    return issued.serial


def _load(published):
    return x509.load_der_x509_crl(published.der)


def test_r_rev_9_crl_per_ca_signed_by_that_ca_with_monotonic_numbers(platform, clock):
    service = CrlService(platform)
    numbers = []
    for kind in AuthorityKind:
        crl = _load(service.publish(kind))
        ca = platform.authority(kind)
        assert crl.issuer == ca.cert.subject and crl.is_signature_valid(ca.cert.public_key())
    for _ in range(3):
        clock.advance(dt.timedelta(minutes=1))
        numbers.append(service.publish("card-auth").number)
        numbers.append(service.publish("card-auth", delta=True).number)
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_r_rev_9_full_crl_lists_every_revocation_and_names_its_scope(platform):
    serials = {_revoked(platform) for _ in range(5)}
    crl = _load(CrlService(platform).publish("card-auth"))
    assert {r.serial_number for r in crl} == serials
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical and idp.value.only_contains_user_certs
    assert idp.value.full_name[0].value == "http://127.0.0.1:8000/crl/card-auth.crl"
    fresh = crl.extensions.get_extension_for_class(x509.FreshestCRL).value[0].full_name[0].value
    assert fresh == "http://127.0.0.1:8000/crl/card-auth-delta.crl"
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=1)  # daily by default


def test_delta_crl_holds_only_revocations_after_its_base(platform, clock):
    before = {_revoked(platform) for _ in range(3)}
    base = CrlService(platform).publish("card-auth")
    clock.advance(dt.timedelta(minutes=5))
    after = {_revoked(platform) for _ in range(2)}
    delta = _load(CrlService(platform).publish("card-auth", delta=True))
    assert {r.serial_number for r in delta} == after
    assert not before & {r.serial_number for r in delta}
    assert delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value.crl_number == base.number
    assert delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator).critical


def test_delta_without_a_base_publishes_a_full_crl(platform):
    published = CrlService(platform).publish("card-sign", delta=True)
    assert not published.is_delta


def test_r_rev_10_entries_beyond_the_retention_period_are_dropped(platform, clock):
    platform.settings = dataclasses.replace(platform.settings, retention_days=365)
    old = _revoked(platform)
    clock.advance(dt.timedelta(days=366))
    recent = _revoked(platform)
    crl = _load(CrlService(platform).publish("card-auth"))
    assert crl.get_revoked_certificate_by_serial_number(old) is None
    assert crl.get_revoked_certificate_by_serial_number(recent) is not None


def test_schedule_publishes_what_is_due(platform, clock):
    service = CrlService(platform)
    due = service.due()
    assert sorted((ca.slug, d) for ca, d in due) == sorted((k.value, False) for k in AuthorityKind)  # nothing yet: full CRLs
    for ca, delta in due:
        assert not service.publish_for(ca, delta=delta).is_delta
    assert service.due() == []  # each full CRL came with its delta
    clock.advance(dt.timedelta(minutes=14))  # 90 % of the 15-minute delta life
    assert {(ca.slug, delta) for ca, delta in service.due()} == {(k.value, True) for k in AuthorityKind}
    clock.advance(dt.timedelta(hours=22))
    assert (AuthorityKind.ROOT.value, False) in {(ca.slug, delta) for ca, delta in service.due()}
