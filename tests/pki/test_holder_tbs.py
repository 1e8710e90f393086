"""Holder TBS from the per-CA template (R-CERT-1/2): byte for byte what the reference
profile (``profiles.holder_builder`` through cryptography's CertificateBuilder) encodes,
for every kind, both holder key types, any serial, times on both sides of 2050 (UTCTime /
GeneralizedTime) and basic 4 texts long enough to need long-form DER lengths; and signed,
it is a certificate cryptography and its verifier accept."""

import datetime as dt
import functools

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signing_support import tbs_of

from myna.pki import holder_tbs, profiles
from myna.pki.basic4 import Basic4, Sex
from myna.pki.der import SignatureAlgorithm, assemble
from myna.pki.holder_keys import spki_der
from myna.pki.kinds import AuthorityKind, CertKind

UTC = dt.timezone.utc
URLS = profiles.Urls("http://127.0.0.1:8000")
NOW = dt.datetime(2026, 4, 1, 3, 4, 5, 678901, tzinfo=UTC)


@functools.cache
def _ca():
    key = rsa.generate_private_key(65537, 2048)
    name = profiles.authority_name(AuthorityKind.CARD_SIGN, 1)
    return key, profiles.root_builder(name, key.public_key(), NOW, 77).sign(key, hashes.SHA256())


@functools.cache
def _holder_keys():
    return (ec.generate_private_key(ec.SECP256R1()).public_key(), rsa.generate_private_key(65537, 2048).public_key())


def _reference(kind, key, subject_id, serial, not_before, not_after, basic4) -> bytes:
    _, ca = _ca()
    return tbs_of(profiles.holder_builder(kind, ca, key, subject_id, serial, not_before, not_after, URLS, "card-sign", basic4))


def _templated(kind, key, subject_id, serial, not_before, not_after, basic4) -> bytes:
    _, ca = _ca()
    return holder_tbs.template(kind, ca, URLS.base, "card-sign").tbs(serial, not_before, not_after, subject_id, spki_der(key), basic4)


texts = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x9FFF, exclude_categories=("Cs",)), min_size=1, max_size=120).filter(
    str.strip
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(list(CertKind)),
    rsa_holder=st.booleans(),
    serial=st.integers(min_value=1, max_value=2**159 - 1),
    not_before=st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2080, 1, 1), timezones=st.just(UTC)),
    days=st.integers(min_value=1, max_value=365 * 30),
    subject_id=st.text("0123456789ABCDEF", min_size=24, max_size=24),
    name=texts,
    address=texts,
    alt=st.booleans(),
    dob=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2026, 1, 1)),
    sex=st.sampled_from(list(Sex)),
)
def test_template_equals_the_reference_profile_byte_for_byte_R_CERT_1(
    kind, rsa_holder, serial, not_before, days, subject_id, name, address, alt, dob, sex
):
    key = _holder_keys()[rsa_holder]
    basic4 = (
        Basic4(name * 3, dob, sex, address * 3, name_alt=name if alt else None, address_alt=address if alt else None)
        if kind.is_signature
        else None
    )
    not_after = not_before + dt.timedelta(days=days)
    args = (kind, key, subject_id, serial, not_before, not_after, basic4)
    assert _templated(*args) == _reference(*args)


def test_the_signed_template_is_a_valid_certificate_with_the_profile():
    ca_key, ca = _ca()
    key = _holder_keys()[0]
    b4 = Basic4("山田 花子", dt.date(1990, 1, 2), Sex.FEMALE, "東京都千代田区千代田1-1")
    tbs = holder_tbs.template(CertKind.CARD_SIGN, ca, URLS.base, "card-sign").tbs(
        123456789, NOW, NOW + dt.timedelta(days=100), "0" * 24, spki_der(key), b4
    )
    der = assemble(tbs, SignatureAlgorithm.SHA256_WITH_RSA, ca_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256()))
    cert = x509.load_der_x509_certificate(der)
    cert.verify_directly_issued_by(ca)
    assert cert.serial_number == 123456789 and cert.public_key() == key
    assert cert.not_valid_before_utc == NOW.replace(microsecond=0)  # seconds only, as RFC 5280 wants
    read = Basic4.from_certificate(cert)  # the alternates default to the plain texts
    assert (read.name, read.date_of_birth, read.sex, read.address, read.name_alt) == (
        b4.name,
        b4.date_of_birth,
        b4.sex,
        b4.address,
        b4.name,
    )
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key)


def test_basic4_only_where_the_profile_allows_R_CERT_1():
    _, ca = _ca()
    spki = spki_der(_holder_keys()[0])
    b4 = Basic4("山田 花子", dt.date(1990, 1, 2), Sex.FEMALE, "東京都")
    with pytest.raises(ValueError, match="R-CERT-1"):
        holder_tbs.template(CertKind.CARD_AUTH, ca, URLS.base, "card-auth").tbs(1, NOW, NOW, "0" * 24, spki, b4)
    with pytest.raises(ValueError, match="R-CERT-1"):
        holder_tbs.template(CertKind.CARD_SIGN, ca, URLS.base, "card-sign").tbs(1, NOW, NOW, "0" * 24, spki, None)


def test_subject_key_id_refuses_what_is_not_a_key():
    with pytest.raises(ValueError):
        holder_tbs.subject_key_id(b"\x04\x03abc")
