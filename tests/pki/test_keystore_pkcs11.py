"""Pkcs11KeyBackend against SoftHSM2.

Skipped when SoftHSM2 is not installed, unless MYNA_REQUIRE_PKCS11=1 (CI), in
which case the tests fail instead of silently not running.
"""

from __future__ import annotations

import secrets
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from myna.pki.keys import HASH, KeyAlgorithm, KeyNotFound, SigningKey
from myna.pki.keystore_pkcs11 import (
    Pkcs11KeyBackend,
)

pytestmark = pytest.mark.pkcs11

DATA = "発行者署名 test data".encode()




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
