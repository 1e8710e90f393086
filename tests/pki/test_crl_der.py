"""Tests for myna.pki.crl_der, the hand-written DER CRL encoder.

Checked against three independent readers: cryptography (parse + signature),
asn1crypto (byte-level structure) and the openssl command line (parse, and
revocation checking in `openssl verify -crl_check`).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import pytest
from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID
from hypothesis import example, given, settings
from hypothesis import strategies as st

from myna.pki.crl_der import CrlParams, build_crl, build_tbs, encode_entry
from myna.pki.der import SignatureAlgorithm, assemble

UTC = timezone.utc
JST = timezone(timedelta(hours=9))
NOW = datetime.now(UTC).replace(microsecond=0)
IDP_URL = "http://crl.example.jp/sign/full.crl"
DELTA_URL = "http://crl.example.jp/sign/delta.crl"
R = x509.ReasonFlags

# (serial, revocation time, reason). Covers every reason plus None, the
# UTCTime/GeneralizedTime boundary (2049/2050, also reached through a non-UTC
# offset), 1-octet to 20-octet (159-bit) serials, and serials whose top bit
# needs a leading zero octet.
ENTRIES: list[tuple[int, datetime, x509.ReasonFlags | None]] = sorted(
    [
        (1, NOW - timedelta(days=1), R.key_compromise),
        (0x7F, NOW - timedelta(hours=5), None),
        (0x80, datetime(1950, 1, 1, tzinfo=UTC), R.ca_compromise),
        (0xFF00, NOW - timedelta(minutes=1), R.unspecified),
        (0x1234_5678_9ABC_DEF0, datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), R.superseded),
        (0x1234_5678_9ABC_DEF1, datetime(2050, 1, 1, 0, 0, 0, tzinfo=UTC), R.cessation_of_operation),
        # 2050-01-01 08:59:59 JST is 2049-12-31 23:59:59 UTC -> UTCTime
        (0x1234_5678_9ABC_DEF2, datetime(2050, 1, 1, 8, 59, 59, tzinfo=JST), R.affiliation_changed),
        # 2050-01-01 09:00:00 JST is 2050-01-01 00:00:00 UTC -> GeneralizedTime
        (0x1234_5678_9ABC_DEF3, datetime(2050, 1, 1, 9, 0, 0, tzinfo=JST), R.certificate_hold),
        ((1 << 158) | 0xABCDEF, datetime(2100, 6, 15, 12, 30, 45, tzinfo=UTC), R.privilege_withdrawn),
        ((1 << 159) - 1, NOW - timedelta(seconds=30), R.aa_compromise),
        ((1 << 158) + 7, NOW - timedelta(days=400), R.remove_from_crl),
    ],
    key=lambda e: e[0],
)
REVOKED_LEAF_SERIAL = 0x1234_5678_9ABC_DEF0  # listed above
GOOD_LEAF_SERIAL = 0x1234_5678_9ABC_DEFF  # not listed


@dataclass
class CA:
    name: str
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    algorithm: SignatureAlgorithm
    signer: Callable[[bytes], bytes]

    @property
    def ski(self) -> bytes:
        return self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def _make_ca(kind: str) -> CA:
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        alg = SignatureAlgorithm.SHA256_WITH_RSA

        def signer(data: bytes) -> bytes:
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    else:
        key = ec.generate_private_key(ec.SECP256R1())
        alg = SignatureAlgorithm.ECDSA_WITH_SHA256

        def signer(data: bytes) -> bytes:
            return key.sign(data, ec.ECDSA(hashes.SHA256()))

    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Myna Test CA ({kind})"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CA(kind, key, cert, alg, signer)


@pytest.fixture(scope="module", params=["rsa", "ec"])
def ca(request: pytest.FixtureRequest) -> CA:
    return _make_ca(request.param)


def _params(ca: CA, **overrides) -> CrlParams:
    p = CrlParams(
        issuer_name=ca.cert.subject,
        this_update=NOW - timedelta(hours=1),
        next_update=NOW + timedelta(days=7),
        crl_number=42,
        authority_key_identifier=ca.ski,
        distribution_point_url=IDP_URL,
        only_contains_user_certs=True,
        freshest_crl_url=DELTA_URL,
    )
    return replace(p, **overrides)


def _entries(rows=ENTRIES) -> list[bytes]:
    return [encode_entry(s, t, r) for s, t, r in rows]


def _ext(crl: x509.CertificateRevocationList, cls):
    return crl.extensions.get_extension_for_class(cls)


def _pem(der: bytes, label: str) -> bytes:
    b64 = base64.encodebytes(der).replace(b"\n", b"")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return b"".join([f"-----BEGIN {label}-----\n".encode(), *(ln + b"\n" for ln in lines), f"-----END {label}-----\n".encode()])


# --------------------------------------------------------------------------- #
# cryptography reads it back


def test_full_crl_round_trips_through_cryptography(ca: CA) -> None:
    params = _params(ca)
    der = build_crl(params, _entries(), ca.signer, ca.algorithm)
    crl = x509.load_der_x509_crl(der)

    assert crl.is_signature_valid(ca.key.public_key())
    assert crl.signature_algorithm_oid == (
        SignatureAlgorithmOID.RSA_WITH_SHA256 if ca.name == "rsa" else SignatureAlgorithmOID.ECDSA_WITH_SHA256
    )
    assert crl.issuer == ca.cert.subject
    assert crl.last_update_utc == params.this_update
    assert crl.next_update_utc == params.next_update
    assert crl.public_bytes(serialization.Encoding.DER) == der

    assert len(crl) == len(ENTRIES)
    for revoked, (serial, when, reason) in zip(crl, ENTRIES, strict=True):  # order preserved
        assert revoked.serial_number == serial
        assert revoked.revocation_date_utc == when.astimezone(UTC)
        if reason is None or reason is R.unspecified:
            assert len(revoked.extensions) == 0
        else:
            ext = revoked.extensions.get_extension_for_class(x509.CRLReason)
            assert ext.value.reason is reason
            assert not ext.critical
    looked_up = crl.get_revoked_certificate_by_serial_number((1 << 159) - 1)
    assert looked_up is not None and looked_up.revocation_date_utc == NOW - timedelta(seconds=30)
    assert crl.get_revoked_certificate_by_serial_number(GOOD_LEAF_SERIAL) is None

    number = _ext(crl, x509.CRLNumber)
    assert number.value.crl_number == 42 and not number.critical
    aki = _ext(crl, x509.AuthorityKeyIdentifier)
    assert aki.value.key_identifier == ca.ski and not aki.critical
    assert aki.value.authority_cert_issuer is None
    idp = _ext(crl, x509.IssuingDistributionPoint)
    assert idp.critical
    assert idp.value.full_name == [x509.UniformResourceIdentifier(IDP_URL)]
    assert idp.value.only_contains_user_certs and not idp.value.only_contains_ca_certs
    fresh = _ext(crl, x509.FreshestCRL)
    assert not fresh.critical
    assert fresh.value[0].full_name == [x509.UniformResourceIdentifier(DELTA_URL)]
    with pytest.raises(x509.ExtensionNotFound):
        _ext(crl, x509.DeltaCRLIndicator)


def test_delta_crl_extensions(ca: CA) -> None:
    params = _params(
        ca, crl_number=43, delta_base_crl_number=42, freshest_crl_url=None, only_contains_user_certs=False, only_contains_ca_certs=True
    )
    der = build_crl(params, _entries(ENTRIES[:3]), ca.signer, ca.algorithm)
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(ca.key.public_key())
    assert len(crl) == 3
    delta = _ext(crl, x509.DeltaCRLIndicator)
    assert delta.critical and delta.value.crl_number == 42
    assert _ext(crl, x509.CRLNumber).value.crl_number == 43
    idp = _ext(crl, x509.IssuingDistributionPoint).value
    assert idp.only_contains_ca_certs and not idp.only_contains_user_certs
    with pytest.raises(x509.ExtensionNotFound):
        _ext(crl, x509.FreshestCRL)


def test_minimal_crl_without_optional_extensions(ca: CA) -> None:
    params = _params(ca, distribution_point_url=None, only_contains_user_certs=False, freshest_crl_url=None)
    crl = x509.load_der_x509_crl(build_crl(params, _entries(), ca.signer, ca.algorithm))
    assert crl.is_signature_valid(ca.key.public_key())
    assert {type(e.value) for e in crl.extensions} == {x509.CRLNumber, x509.AuthorityKeyIdentifier}


def test_empty_crl_omits_revoked_certificates(ca: CA) -> None:
    der = build_crl(_params(ca), iter(()), ca.signer, ca.algorithm)
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(ca.key.public_key())
    assert len(crl) == 0
    tbs = asn1_crl.CertificateList.load(der)["tbs_cert_list"]
    assert isinstance(tbs["revoked_certificates"], asn1_core.Void)  # absent, not an empty SEQUENCE


def test_structure_matches_asn1crypto(ca: CA) -> None:
    entries = _entries()
    params = _params(ca)
    tbs = build_tbs(params, ca.algorithm, iter(entries))  # any iterable, not only lists
    sig = ca.signer(tbs)
    der = assemble(tbs, ca.algorithm, sig)
    cl = asn1_crl.CertificateList.load(der)
    assert cl.dump(force=True) == der  # asn1crypto re-encodes it identically (valid DER)
    assert cl["tbs_cert_list"].dump() == tbs
    assert cl["tbs_cert_list"]["version"].native == "v2"
    assert cl["signature"].native == sig
    assert cl["signature_algorithm"].dump() == ca.algorithm.der == cl["tbs_cert_list"]["signature"].dump()
    assert [rc.dump() for rc in cl["tbs_cert_list"]["revoked_certificates"]] == entries
    if ca.algorithm is SignatureAlgorithm.SHA256_WITH_RSA:
        assert ca.algorithm.der.endswith(b"\x05\x00")  # NULL parameters
    else:
        assert ca.algorithm.der == bytes.fromhex("300a06082a8648ce3d040302")  # no parameters


def test_many_entries_long_form_lengths(ca: CA) -> None:
    """20,000 entries: the revokedCertificates SEQUENCE needs a 3-octet length."""
    t = NOW - timedelta(days=2)
    rows = [(0x0100_0000_0000 + i, t, R.key_compromise if i % 2 else None) for i in range(20_000)]
    der = build_crl(_params(ca), _entries(rows), ca.signer, ca.algorithm)
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(ca.key.public_key())
    assert len(crl) == 20_000
    assert crl[-1].serial_number == 0x0100_0000_0000 + 19_999


# --------------------------------------------------------------------------- #
# Encoding details and argument checking


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(1950, 1, 1, tzinfo=UTC), b"\x17\x0d500101000000Z"),
        (datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), b"\x17\x0d491231235959Z"),
        (datetime(2050, 1, 1, tzinfo=UTC), b"\x18\x0f20500101000000Z"),
        (datetime(1949, 12, 31, 23, 59, 59, tzinfo=UTC), b"\x18\x0f19491231235959Z"),
        (datetime(2026, 4, 1, 9, 0, 0, 999_999, tzinfo=JST), b"\x17\x0d260401000000Z"),
    ],
)
def test_time_encoding(when: datetime, expected: bytes) -> None:
    der = encode_entry(5, when, None)
    assert der == b"\x30" + bytes((3 + len(expected),)) + b"\x02\x01\x05" + expected


def test_reason_extension_bytes() -> None:
    der = encode_entry(1, datetime(2030, 1, 1, tzinfo=UTC), R.key_compromise)
    # Extensions SEQUENCE { Extension SEQUENCE { OID 2.5.29.21, OCTET STRING { ENUMERATED 1 } } }
    assert der.endswith(bytes.fromhex("300c300a0603551d1504030a0101"))
    assert encode_entry(1, datetime(2030, 1, 1, tzinfo=UTC), R.unspecified) == encode_entry(1, datetime(2030, 1, 1, tzinfo=UTC), None)


def test_encode_entry_rejects_bad_input() -> None:
    t = datetime(2030, 1, 1, tzinfo=UTC)
    for bad in (0, -1, 1 << 159):
        with pytest.raises(ValueError):
            encode_entry(bad, t, None)
    with pytest.raises(ValueError, match="timezone-aware"):
        encode_entry(1, datetime(2030, 1, 1), None)
    with pytest.raises(TypeError):
        encode_entry(1, t, 1)  # type: ignore[arg-type]


def test_params_are_checked() -> None:
    ca = _make_ca("ec")
    entries = _entries(ENTRIES[:1])
    bad = [
        _params(ca, delta_base_crl_number=41),  # freshestCRL in a delta CRL
        _params(ca, freshest_crl_url=None, delta_base_crl_number=42),  # base >= number
        _params(ca, only_contains_ca_certs=True),  # both "only" flags
        _params(ca, next_update=NOW - timedelta(days=1)),
        _params(ca, this_update=datetime(2030, 1, 1)),  # naive
        _params(ca, crl_number=1 << 159),
        _params(ca, authority_key_identifier=b""),
    ]
    for p in bad:
        with pytest.raises(ValueError):
            build_crl(p, entries, ca.signer, ca.algorithm)


# --------------------------------------------------------------------------- #
# Property: encode_entry == what cryptography's builder writes for the same entry

_PROP_KEY = ec.generate_private_key(ec.SECP256R1())
_PROP_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prop")])


def _cryptography_entry(serial: int, when: datetime, reason: x509.ReasonFlags | None) -> bytes:
    rb = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
    if reason is not None and reason is not R.unspecified:  # we omit unspecified (RFC 5280 5.3.1)
        rb = rb.add_extension(x509.CRLReason(reason), critical=False)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_PROP_NAME)
        .last_update(datetime(2030, 1, 1))
        .next_update(datetime(2030, 1, 2))
        .add_revoked_certificate(rb.build())
        .sign(_PROP_KEY, hashes.SHA256())
    )
    parsed = asn1_crl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER))
    return parsed["tbs_cert_list"]["revoked_certificates"][0].dump()


@settings(max_examples=300, deadline=None)
@given(
    serial=st.integers(min_value=1, max_value=(1 << 159) - 1)
    | st.sampled_from([1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, (1 << 152) - 1, 1 << 152]),
    when=st.datetimes(
        min_value=datetime(1950, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, JST, timezone(timedelta(hours=-5, minutes=-30))]),
    ),
    reason=st.none() | st.sampled_from(list(R)),
)
@example(serial=(1 << 159) - 1, when=datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), reason=None)
@example(serial=1 << 158, when=datetime(2050, 1, 1, tzinfo=UTC), reason=R.key_compromise)
def test_encode_entry_matches_cryptography(serial: int, when: datetime, reason) -> None:
    assert encode_entry(serial, when, reason) == _cryptography_entry(serial, when, reason)


# --------------------------------------------------------------------------- #
# openssl reads it and revokes with it

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=60)


def _leaf(ca: CA, serial: int) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"leaf {serial:x}")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier(ca.ski, None, None), critical=False)
        # openssl only applies a CRL carrying an issuingDistributionPoint to
        # certificates whose cRLDistributionPoints names the same point.
        .add_extension(
            x509.CRLDistributionPoints([x509.DistributionPoint([x509.UniformResourceIdentifier(IDP_URL)], None, None, None)]),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )


def _write_pki(ca: CA, tmp_path: Path, crls: dict[str, bytes]) -> None:
    (tmp_path / "ca.pem").write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    for name, der in crls.items():
        (tmp_path / f"{name}.der").write_bytes(der)
        (tmp_path / f"{name}.pem").write_bytes(_pem(der, "X509 CRL"))
    for name, serial in (("revoked", REVOKED_LEAF_SERIAL), ("good", GOOD_LEAF_SERIAL)):
        (tmp_path / f"{name}.pem").write_bytes(_leaf(ca, serial).public_bytes(serialization.Encoding.PEM))


@pytest.mark.interop
@needs_openssl
def test_openssl_parses_crl(ca: CA, tmp_path: Path) -> None:
    der = build_crl(_params(ca), _entries(), ca.signer, ca.algorithm)
    _write_pki(ca, tmp_path, {"crl": der})
    out = _openssl("crl", "-inform", "DER", "-in", tmp_path / "crl.der", "-noout", "-text")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Version 2 (0x1)" in text
    assert "X509v3 CRL Number" in text and "42" in text
    assert "X509v3 Issuing Distribution Point: critical" in text and IDP_URL in text
    assert "Only User Certificates" in text
    assert "X509v3 Freshest CRL" in text and DELTA_URL in text
    assert "X509v3 Authority Key Identifier" in text
    assert text.count("Serial Number:") == len(ENTRIES)
    assert "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" in text  # the 159-bit serial
    assert "Key Compromise" in text and "Superseded" in text
    # ... and checks the signature against the CA certificate.
    out = _openssl("crl", "-inform", "DER", "-in", tmp_path / "crl.der", "-noout", "-CAfile", tmp_path / "ca.pem")
    assert out.returncode == 0 and "verify OK" in out.stdout + out.stderr, out.stdout + out.stderr


@pytest.mark.interop
@needs_openssl
def test_openssl_verify_uses_crl(ca: CA, tmp_path: Path) -> None:
    der = build_crl(_params(ca), _entries(), ca.signer, ca.algorithm)
    _write_pki(ca, tmp_path, {"crl": der})
    common = ["verify", "-crl_check", "-CAfile", tmp_path / "ca.pem", "-CRLfile", tmp_path / "crl.pem"]

    bad = _openssl(*common, tmp_path / "revoked.pem")
    assert bad.returncode != 0
    assert "certificate revoked" in bad.stdout + bad.stderr

    good = _openssl(*common, tmp_path / "good.pem")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "OK" in good.stdout


@pytest.mark.interop
@needs_openssl
def test_openssl_verify_uses_delta_crl(ca: CA, tmp_path: Path) -> None:
    """A serial listed only in the delta CRL is revoked once openssl is told to use deltas."""
    base_rows = [e for e in ENTRIES if e[0] != REVOKED_LEAF_SERIAL]
    full = build_crl(_params(ca), _entries(base_rows), ca.signer, ca.algorithm)
    delta_row = [(REVOKED_LEAF_SERIAL, NOW - timedelta(minutes=5), R.key_compromise)]
    delta = build_crl(
        _params(ca, crl_number=43, delta_base_crl_number=42, freshest_crl_url=None),
        _entries(delta_row),
        ca.signer,
        ca.algorithm,
    )
    _write_pki(ca, tmp_path, {"full": full, "delta": delta})
    common = ["verify", "-crl_check", "-CAfile", tmp_path / "ca.pem", "-CRLfile", tmp_path / "full.pem"]

    without = _openssl(*common, tmp_path / "revoked.pem")
    assert without.returncode == 0, without.stdout + without.stderr  # not in the full CRL

    with_delta = _openssl(*common, "-CRLfile", tmp_path / "delta.pem", "-use_deltas", tmp_path / "revoked.pem")
    assert with_delta.returncode != 0
    assert "certificate revoked" in with_delta.stdout + with_delta.stderr

    good = _openssl(*common, "-CRLfile", tmp_path / "delta.pem", "-use_deltas", tmp_path / "good.pem")
    assert good.returncode == 0, good.stdout + good.stderr
