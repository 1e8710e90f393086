"""myna.pki.der, the DER framing shared by the CRL writer and the holder TBS template:
each primitive byte for byte what asn1crypto (an independent encoder) writes, and the
signed envelope exactly cryptography's for a certificate."""

from __future__ import annotations

import datetime as dt

import pytest
from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from myna.pki import der

UTC = dt.timezone.utc


@given(st.binary(max_size=70_000), st.sampled_from([der.OCTET_STRING, der.SEQUENCE, der.SET]))
def test_tlv_lengths_short_and_long_form(contents, tag):
    value = der.tlv(tag, contents)
    parsed = core.Asn1Value.load(value, strict=True)  # strict: the shortest length form, nothing left over
    assert parsed.contents == contents and value[0] == tag


@given(st.integers(min_value=0, max_value=(1 << der.MAX_INTEGER_BITS) - 1))
def test_integer_is_minimal_twos_complement(n):
    assert der.integer(n) == core.Integer(n).dump()


def test_negative_integers_are_refused():
    with pytest.raises(ValueError):
        der.integer(-1)


@given(st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 1 << 64), max_size=8))
def test_oid_base_128(first, second, rest):
    dotted = ".".join(map(str, [first, second, *rest]))
    assert der.oid(dotted) == core.ObjectIdentifier(dotted).dump()


# From year 1000: asn1crypto writes earlier years with fewer than four digits.
@given(st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_x509_time_utctime_until_2049_then_generalized(when):
    expected = asn1_x509.Time({"utc_time" if 1950 <= when.year <= 2049 else "general_time": when.replace(microsecond=0)}).dump()
    assert der.x509_time(when) == expected


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        der.check_aware(dt.datetime(2026, 4, 1), "this_update")


@pytest.mark.parametrize("critical", [False, True])
def test_extension_writes_critical_only_when_true(critical):
    value = x509.BasicConstraints(ca=True, path_length=0).public_bytes()
    ours = der.extension("2.5.29.19", critical, value)
    parsed = asn1_x509.Extension.load(ours, strict=True)
    assert (parsed["extn_id"].dotted, parsed["critical"].native, parsed["extn_value"].contents) == ("2.5.29.19", critical, value)
    assert parsed.dump(force=True) == ours  # asn1crypto's own DER: the DEFAULT FALSE left out


@pytest.mark.parametrize("make", [lambda: rsa.generate_private_key(65537, 2048), lambda: ec.generate_private_key(ec.SECP256R1())])
def test_assemble_is_the_certificate_cryptography_writes(make):
    key = make()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "der")])
    now = dt.datetime(2026, 4, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder(issuer_name=name, subject_name=name, public_key=key.public_key(), serial_number=1234)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    algorithm = der.SignatureAlgorithm.SHA256_WITH_RSA if isinstance(key, rsa.RSAPrivateKey) else der.SignatureAlgorithm.ECDSA_WITH_SHA256
    assert algorithm.value == cert.signature_algorithm_oid.dotted_string
    assert der.assemble(cert.tbs_certificate_bytes, algorithm, cert.signature) == cert.public_bytes(Encoding.DER)
