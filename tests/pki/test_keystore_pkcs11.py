"""Pkcs11KeyBackend against SoftHSM2.

Skipped when SoftHSM2 is not installed, unless MYNA_REQUIRE_PKCS11=1 (CI), in
which case the tests fail instead of silently not running.
"""

from __future__ import annotations

import copy
import datetime as dt
import secrets
import threading

import pytest
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from myna.pki.keys import HASH, KeyAlgorithm, KeyNotFound, SigningKey
from myna.pki.keystore_pkcs11 import KeyNotExtractable, Pkcs11EcKey, Pkcs11KeyBackend, Pkcs11RsaKey, Pkcs11SigningKey
from myna.pki.signer import sign_certificate

pytestmark = pytest.mark.pkcs11

DATA = "発行者署名 test data".encode()
NAME = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, "token CA 署名用")])
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@pytest.fixture
def backend(softhsm):
    with softhsm.backend() as b:
        yield b


def verify(public, data: bytes, signature: bytes) -> None:
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, data, padding.PKCS1v15(), HASH)
    else:
        public.verify(signature, data, ec.ECDSA(HASH))  # also proves the signature is DER


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256])
def test_generate_sign_verify_and_reload(softhsm, backend, algorithm):
    key = backend.generate("Test CA 署名用", algorithm)
    assert isinstance(key, SigningKey)
    assert key.algorithm is algorithm
    assert len(bytes.fromhex(key.ref)) == 16
    public = key.public_key()
    if algorithm.is_rsa:
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.key_size == 2048 and public.public_numbers().e == 65537
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        assert isinstance(public.curve, ec.SECP256R1)
    verify(public, DATA, key.sign(DATA))

    # A new backend instance has its own session; the first one is still open, so
    # this also covers the shared-login case (a second C_Login would fail).
    other = softhsm.backend()
    try:
        loaded = other.load(key.ref)
        assert loaded.algorithm is algorithm
        assert loaded.public_key().public_numbers() == public.public_numbers()
        verify(public, DATA, loaded.sign(DATA))
        # Closing the first backend must not log out the second one.
        backend.close()
        verify(public, b"after close", loaded.sign(b"after close"))
    finally:
        other.close()
    # ...and the closed backend reopens lazily.
    verify(public, DATA, backend.load(key.ref).sign(DATA))


@pytest.mark.parametrize(
    ("algorithm", "secret"),
    [("rsa2048", "PRIVATE_EXPONENT"), ("ecp256", "VALUE")],
)
def test_private_key_cannot_be_extracted(softhsm, backend, algorithm, secret):
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    key = backend.generate("non-extractable", KeyAlgorithm(algorithm))
    token = pkcs11.lib(softhsm.module).get_token(token_label=softhsm.label)
    # No PIN: the session inherits the login held for `backend` (login is per
    # process), and closing it does not C_Logout.
    session = token.open()
    try:
        private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=bytes.fromhex(key.ref))
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.ALWAYS_SENSITIVE] is True
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        assert private[Attribute.TOKEN] is True
        assert private[Attribute.SIGN] is True
        assert private[Attribute.DECRYPT] is False
        assert private[Attribute.LABEL] == "non-extractable"
        with pytest.raises(pkcs11.PKCS11Error):
            private[getattr(Attribute, secret)]
        with pytest.raises(pkcs11.PKCS11Error):  # the flags are one-way
            private[Attribute.SENSITIVE] = False
        with pytest.raises(pkcs11.PKCS11Error):
            private[Attribute.EXTRACTABLE] = True
    finally:
        session.close()


def test_unknown_and_malformed_refs(backend):
    with pytest.raises(KeyNotFound):
        backend.load(secrets.token_hex(16))
    for bad in ("not-hex", "", "../x"):
        with pytest.raises(ValueError):
            backend.load(bad)


def test_concurrent_signing_on_one_backend(backend):
    key = backend.generate("threads", KeyAlgorithm.EC_P256)
    public = key.public_key()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                data = f"{n}-{i}".encode()
                verify(public, data, key.sign(data))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_wrong_token_label_is_explained(softhsm):
    import pkcs11

    with pytest.raises(pkcs11.NoSuchToken, match="SOFTHSM2_CONF"):
        Pkcs11KeyBackend(softhsm.module, "no-such-token", softhsm.pin).load("00")


@pytest.mark.parametrize(
    ("algorithm", "kind", "oid"),
    [
        (KeyAlgorithm.RSA_2048, Pkcs11RsaKey, SignatureAlgorithmOID.RSA_WITH_SHA256),
        (KeyAlgorithm.EC_P256, Pkcs11EcKey, SignatureAlgorithmOID.ECDSA_WITH_SHA256),
    ],
)
def test_cryptographys_own_builders_sign_a_certificate_and_a_crl_with_a_token_key(backend, algorithm, kind, oid):
    """A token key is a cryptography private-key object: CertificateBuilder and
    CertificateRevocationListBuilder sign with it, the token makes the signature
    (calls counted), and the results verify against the token's public key."""
    key = backend.load(backend.generate("builder CA", algorithm).ref)
    assert isinstance(key, kind) and isinstance(key, Pkcs11SigningKey)
    assert isinstance(key, rsa.RSAPrivateKey if algorithm.is_rsa else ec.EllipticCurvePrivateKey)
    public = key.public_key()
    token_signs = []
    real = backend._sign
    backend._sign = lambda *a: token_signs.append(a[0]) or real(*a)
    try:
        cert = (
            x509.CertificateBuilder()
            .subject_name(NAME)
            .issuer_name(NAME)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW)
            .not_valid_after(NOW + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(4242)
            .revocation_date(NOW)
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(NAME)
            .last_update(NOW)
            .next_update(NOW + dt.timedelta(days=1))
            .add_revoked_certificate(revoked)
            .add_extension(x509.CRLNumber(7), critical=False)
            .sign(key, hashes.SHA256())
        )
    finally:
        backend._sign = real
    assert token_signs == [bytes.fromhex(key.ref)] * 2  # one token operation each, nothing signed elsewhere
    assert cert.signature_algorithm_oid == oid and crl.signature_algorithm_oid == oid
    cert.verify_directly_issued_by(cert)  # self-signed: checks the token's signature with its public key
    verify(public, cert.tbs_certificate_bytes, cert.signature)
    assert crl.is_signature_valid(public)
    assert crl.get_revoked_certificate_by_serial_number(4242).revocation_date_utc == NOW
    # The signer's single-certificate path is that builder too.
    assert (
        sign_certificate(
            x509.CertificateBuilder(
                issuer_name=NAME,
                subject_name=NAME,
                public_key=public,
                serial_number=7,
                not_valid_before=NOW,
                not_valid_after=NOW + dt.timedelta(days=1),
            ),
            key,
        ).signature_algorithm_oid
        == oid
    )


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256])
def test_a_token_key_object_gives_out_nothing_private_and_signs_only_sha256(backend, algorithm):
    key = backend.generate("closed", algorithm)
    with pytest.raises(KeyNotExtractable):
        key.private_numbers()
    with pytest.raises(KeyNotExtractable):
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert copy.copy(key) is key and copy.deepcopy(key) is key
    assert key.key_size == (2048 if algorithm.is_rsa else 256)
    assert key.public_key().public_numbers() == backend.load(key.ref).public_key().public_numbers()
    if algorithm.is_rsa:
        verify(key.public_key(), DATA, key.sign(DATA, padding.PKCS1v15(), hashes.SHA256()))
        with pytest.raises(UnsupportedAlgorithm):
            key.sign(DATA, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        with pytest.raises(UnsupportedAlgorithm):
            key.sign(DATA, padding.PKCS1v15(), hashes.SHA1())
        with pytest.raises(UnsupportedAlgorithm):
            key.decrypt(b"x" * 256, padding.PKCS1v15())
    else:
        assert isinstance(key.curve, ec.SECP256R1)
        verify(key.public_key(), DATA, key.sign(DATA, ec.ECDSA(hashes.SHA256())))
        with pytest.raises(UnsupportedAlgorithm):
            key.sign(DATA, ec.ECDSA(hashes.SHA384()))
        with pytest.raises(UnsupportedAlgorithm):
            key.exchange(ec.ECDH(), ec.generate_private_key(ec.SECP256R1()).public_key())
    assert "PRIVATE" not in repr(key) and key.ref in repr(key)
