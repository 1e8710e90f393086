"""The whole CA on SoftHSM2: key ceremony, holder issuance and CRLs with every CA key
inside a PKCS#11 token, none on disk.

Skipped when SoftHSM2 is not installed, unless MYNA_REQUIRE_PKCS11=1 (CI), in which
case the tests fail instead of silently not running (as tests/pki/test_keystore_pkcs11.py).
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from myna_testing import ec_public_pem, register_for, rsa_keypair

from myna.authority.ceremony import run_ceremony
from myna.authority.crls import CrlService
from myna.authority.issuance import IssuanceRequest, IssuanceService
from myna.authority.platform import Platform
from myna.authority.revoking import RevocationService
from myna.pki.basic4 import Basic4, Sex
from myna.pki.kinds import AuthorityKind, CertKind
from myna.pki.revocation import RevocationReason
from myna.settings import Settings

pytestmark = pytest.mark.pkcs11


@pytest.fixture
def hsm_settings(softhsm, tmp_path, database_url) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        public_url="http://127.0.0.1:8000",
        key_backend="pkcs11",
        pkcs11_module=softhsm.module,
        pkcs11_token=softhsm.label,
        pkcs11_pin=softhsm.pin,
    )


@pytest.fixture
def hsm_platform(hsm_settings, clock):
    p = Platform.open(hsm_settings, clock)
    yield p
    p.close()


def request(kind: CertKind, public_pem: bytes, request_id: str) -> IssuanceRequest:
    dob = dt.date(1985, 3, 9)
    basic4 = Basic4("鈴木 一郎", dob, Sex.MALE, "大阪府大阪市北区梅田1-1") if kind.is_signature else None
    return IssuanceRequest(request_id, kind, public_pem, "98765432109", dob, basic4, "131016")


def test_ceremony_issuance_and_crls_with_keys_in_softhsm(hsm_platform, hsm_settings, clock):
    from myna.pki.keystore_pkcs11 import Pkcs11SigningKey

    p = hsm_platform
    steps = run_ceremony(p, "hsm-operator")
    assert sorted(st.kind for st in steps) == sorted(k.value for k in AuthorityKind)

    # Every CA key is a token object: PKCS#11 references (hex CKA_IDs), no key file anywhere.
    rows = p.authority_rows()
    assert len(rows) == len(AuthorityKind)
    for row in rows:
        assert row.key_backend == "pkcs11"
        assert len(bytes.fromhex(row.key_ref)) == 16
        loaded = p.authority_by_id(row.id)
        assert isinstance(loaded.key, Pkcs11SigningKey)
        assert loaded.key.public_key().public_numbers() == loaded.cert.public_key().public_numbers()
    assert not hsm_settings.keys_dir.exists() or not any(hsm_settings.keys_dir.iterdir())
    assert not [f for f in hsm_settings.home.rglob("*") if f.suffix in (".pem", ".key", ".der")]

    root = p.authority(AuthorityKind.ROOT)
    for kind in AuthorityKind.issuing():
        p.authority(kind).cert.verify_directly_issued_by(root.cert)

    # Holder certificates with RSA holder keys, signed inside the token.
    register_for(p, request(CertKind.CARD_SIGN, ec_public_pem(), "resident"))
    service = IssuanceService(p)
    issued, requests = {}, {}
    for kind in (CertKind.CARD_SIGN, CertKind.CARD_AUTH):
        _key, public_pem = rsa_keypair()
        requests[kind] = request(kind, public_pem, f"hsm-{kind.value}")
        one = service.issue(requests[kind], actor="test")
        assert one.created
        ca = p.authority(AuthorityKind(kind.value))
        one.certificate.verify_directly_issued_by(ca.cert)
        assert (
            one.certificate.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            == public_pem
        )
        assert one.certificate.signature_hash_algorithm.name == "sha256"
        issued[kind] = one
    assert Basic4.from_certificate(issued[CertKind.CARD_SIGN].certificate).name == "鈴木 一郎"
    with pytest.raises(x509.ExtensionNotFound):
        issued[CertKind.CARD_AUTH].certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)

    # CRLs signed by the token: an empty one, then one listing a revoked certificate.
    crls = CrlService(p)
    ca = p.authority(AuthorityKind.CARD_AUTH)
    empty = x509.load_der_x509_crl(crls.publish(AuthorityKind.CARD_AUTH, actor="test").der)
    assert empty.is_signature_valid(ca.cert.public_key()) and len(empty) == 0
    serial = issued[CertKind.CARD_AUTH].serial
    RevocationService(p).revoke(serial, RevocationReason.REQUEST, actor="test")
    crl = x509.load_der_x509_crl(crls.publish(AuthorityKind.CARD_AUTH, actor="test").der)
    assert crl.is_signature_valid(ca.cert.public_key())
    assert crl.issuer == ca.cert.subject
    assert [e.serial_number for e in crl] == [serial]
    root_crl = x509.load_der_x509_crl(crls.publish(AuthorityKind.ROOT, actor="test").der)
    assert root_crl.is_signature_valid(root.cert.public_key())

    # A second platform (as after a restart) finds the keys on the token by reference.
    again = Platform.open(hsm_settings, clock)
    try:
        _key, public_pem = rsa_keypair()
        later = IssuanceService(again).issue(request(CertKind.CARD_SIGN, public_pem, "hsm-after-restart"), actor="test")
        later.certificate.verify_directly_issued_by(p.authority(AuthorityKind.CARD_SIGN).cert)
        # ...and an earlier request is answered from the store, not signed again.
        repeat = IssuanceService(again).issue(requests[CertKind.CARD_SIGN], actor="test")
        assert not repeat.created and repeat.certificate == issued[CertKind.CARD_SIGN].certificate
    finally:
        again.close()
