"""Issuance (R-CERT-1..4): profiles, validity, serials, idempotency, bad input."""

import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from myna_testing import T0, issue_registered, issue_request, register_for, rsa_keypair, table_counts

from myna.authority.issuance import IssuanceService
from myna.authority.records import Records
from myna.clock import JST
from myna.errors import Conflict, IdempotencyMismatch, ImpossibleDate, InvalidInput, MalformedKey, NotEligible, NotInitialised, WeakKey
from myna.pki.basic4 import Basic4
from myna.pki.kinds import AuthorityKind, CertKind


def _ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


def test_r_cert_1_signature_certificate_carries_basic4_and_opaque_cn(platform):
    _, pub = rsa_keypair()
    issued = IssuanceService(platform).issue(issue_request("card-sign", public_key=pub), "t")
    cert = issued.certificate
    assert Basic4.from_certificate(cert).name == "山田 花子"
    assert Basic4.from_certificate(cert).date_of_birth == dt.date(1990, 6, 15)
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert "山田" not in cn and len(cn) == 24
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_cert_sign
    assert [p.policy_identifier.dotted_string for p in _ext(cert, x509.CertificatePolicies).value] == ["1.2.392.200149.8.5.1.1.20"]
    assert cert.signature_hash_algorithm.name == "sha256"
    cert.verify_directly_issued_by(platform.authority(AuthorityKind.CARD_SIGN).cert)


def test_r_cert_1_user_auth_certificate_carries_no_personal_data(platform):
    issued = IssuanceService(platform).issue(issue_request("card-auth"), "t")
    cert = issued.certificate
    with pytest.raises(x509.ExtensionNotFound):
        _ext(cert, x509.SubjectAlternativeName)
    assert [a.oid for a in cert.subject] == [NameOID.COUNTRY_NAME, NameOID.COMMON_NAME]
    ku = _ext(cert, x509.KeyUsage).value
    assert ku.digital_signature and not ku.content_commitment
    assert [p.policy_identifier.dotted_string for p in _ext(cert, x509.CertificatePolicies).value] == ["1.2.392.200149.8.5.1.3.30"]
    der = cert.public_bytes(serialization.Encoding.DER)
    assert "山田".encode() not in der and "東京都".encode() not in der


def test_user_auth_request_with_basic4_is_refused(platform):
    from myna_testing import adult_basic4

    with pytest.raises(InvalidInput, match="no personal data"):
        IssuanceService(platform).issue(issue_request("card-auth", basic4=adult_basic4()), "t")


@pytest.mark.parametrize("kind", list(CertKind))
def test_every_kind_names_its_crl_ocsp_and_issuer(platform, kind):
    cert = IssuanceService(platform).issue(issue_request(kind.value), "t").certificate
    dp = _ext(cert, x509.CRLDistributionPoints).value[0].full_name[0].value
    assert dp == f"http://127.0.0.1:8000/crl/{kind.value}.crl"
    aia = {a.access_method: a.access_location.value for a in _ext(cert, x509.AuthorityInformationAccess).value}
    assert aia[AuthorityInformationAccessOID.OCSP] == f"http://127.0.0.1:8000/ocsp/{kind.value}"
    assert aia[AuthorityInformationAccessOID.CA_ISSUERS] == f"http://127.0.0.1:8000/ca/{kind.value}.crt"
    issuer = platform.authority(AuthorityKind(kind.value)).cert
    assert cert.issuer == issuer.subject
    assert _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == _ext(issuer, x509.SubjectKeyIdentifier).value.digest


def test_r_cert_2_validity_runs_to_fifth_birthday_after_issuance(platform):
    cert = IssuanceService(platform).issue(issue_request("card-auth"), "t").certificate
    assert cert.not_valid_before_utc == T0
    assert cert.not_valid_after_utc.astimezone(JST) == dt.datetime(2030, 6, 15, 23, 59, 59, tzinfo=JST)


def test_r_cert_2_no_signature_certificate_for_a_14_year_old_unless_asked(platform):
    from myna_testing import adult_basic4

    dob = dt.date(2012, 1, 1)
    req = issue_request("card-sign", date_of_birth=dob, basic4=adult_basic4(date_of_birth=dob), resident_code="20120101001")
    register_for(platform, req)
    with pytest.raises(NotEligible, match="under 15"):
        IssuanceService(platform).issue(req, "t")
    issued = IssuanceService(platform).issue(dataclasses.replace(req, allow_minor_signature=True), "t")
    assert issued.created


def test_r_cert_3_issuance_record_keeps_certificate_and_resident_code(platform):
    issued = issue_registered(platform, issue_request("card-sign", resident_code="98765432109"), "t")
    rec = Records(platform).get(issued.serial)
    assert rec.resident_code == "98765432109"
    assert rec.certificate == issued.certificate  # the certificate with J-LIS's signature
    assert rec.status == "valid"


def test_serials_are_unique_and_unpredictable(platform):
    reqs = [issue_request("card-auth") for _ in range(60)]
    issued = IssuanceService(platform).issue_many(reqs, "t")
    numbers = [i.serial for i in issued]
    assert len(set(numbers)) == 60
    assert all(n.bit_length() > 100 for n in numbers)  # random, not a counter
    assert sorted(numbers) != numbers or len(set(n >> 150 for n in numbers)) > 1


def test_issuance_is_idempotent_per_request_id(platform):
    req = issue_request("card-sign", request_id="muni-131016-0001")
    first = IssuanceService(platform).issue(req, "t")
    before = table_counts(platform)
    again = IssuanceService(platform).issue(req, "t")
    assert first.created and not again.created
    assert again.serial == first.serial and again.certificate == first.certificate
    assert table_counts(platform) == before


def test_reusing_a_request_id_for_a_different_request_is_refused(platform):
    IssuanceService(platform).issue(issue_request("card-auth", request_id="r-1"), "t")
    with pytest.raises(IdempotencyMismatch, match="r-1"):
        IssuanceService(platform).issue(issue_request("card-auth", request_id="r-1"), "t")


def test_a_key_is_certified_once(platform):
    _, pub = rsa_keypair()
    IssuanceService(platform).issue(issue_request("card-auth", public_key=pub), "t")
    with pytest.raises(Conflict, match="already certified"):
        IssuanceService(platform).issue(issue_request("card-sign", public_key=pub), "t")


def test_issuance_before_the_ceremony_is_refused(bare_platform):
    with pytest.raises(NotInitialised, match="myna init"):
        issue_registered(bare_platform, issue_request("card-auth"), "t")


@pytest.mark.parametrize(
    "over,error,match",
    [
        (dict(public_key=b"not a key"), MalformedKey, "could not be parsed"),
        (dict(resident_code="123"), InvalidInput, "11 digits"),
        (dict(municipality_code="131017"), InvalidInput, "check digit"),
        (dict(request_id=""), InvalidInput, "request_id"),
        (dict(request_id="ceremony:x"), InvalidInput, "reserved"),
        (dict(date_of_birth=dt.date(2030, 1, 1)), ImpossibleDate, "future"),
    ],
)
def test_bad_input_is_refused_specifically_and_changes_nothing(platform, over, error, match):
    before = table_counts(platform)
    with pytest.raises(error, match=match):
        IssuanceService(platform).issue(issue_request("card-auth", **over), "t")
    assert table_counts(platform) == before


def test_weak_key_is_refused_and_changes_nothing(platform):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = (
        rsa.generate_private_key(65537, 1024)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    before = table_counts(platform)
    with pytest.raises(WeakKey):
        IssuanceService(platform).issue(issue_request("card-auth", public_key=weak), "t")
    assert table_counts(platform) == before


def test_one_bad_request_fails_the_whole_batch_before_anything_is_signed(platform):
    before = table_counts(platform)
    reqs = [issue_request("card-auth") for _ in range(3)] + [issue_request("card-auth", resident_code="x")]
    with pytest.raises(InvalidInput):
        IssuanceService(platform).issue_many(reqs, "t")
    assert table_counts(platform) == before


def test_signature_basic4_must_agree_with_date_of_birth(platform):
    with pytest.raises(InvalidInput, match="differs"):
        IssuanceService(platform).issue(issue_request("card-sign", date_of_birth=dt.date(1991, 1, 1)), "t")


def test_request_digest_is_the_stored_formula():
    """Digests are stored with every certificate to tell a retry from a different request:
    the formula (SHA-256 of sorted-key JSON) must not drift between versions, or retries of
    requests recorded before an upgrade would be refused as different."""
    import hashlib
    import json

    for req in (issue_request("card-sign", request_id="d-1"), issue_request("card-auth", request_id="d-2")):
        body = {
            "kind": req.kind.value,
            "key": hashlib.sha256(req.public_key.strip()).hexdigest(),  # PEM bytes here
            "resident_code": req.resident_code,
            "dob": req.date_of_birth.isoformat(),
            "basic4": None if req.basic4 is None else json.dumps(req.basic4.__dict__, default=str, sort_keys=True, ensure_ascii=False),
            "municipality": req.municipality_code,
            "minor": req.allow_minor_signature,
        }
        assert req.digest() == hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
