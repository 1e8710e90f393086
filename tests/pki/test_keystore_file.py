"""FileKeyBackend: PEM files on disk (development backend)."""

from __future__ import annotations

import os
import stat
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from myna.pki.keys import HASH, KeyAlgorithm, KeyNotFound, SigningKey
from myna.pki.keystore_file import FileKeyBackend, FileSigningKey

DATA = "発行者署名 test data".encode()


def verify(key: SigningKey, data: bytes, signature: bytes) -> None:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, data, padding.PKCS1v15(), HASH)
    else:
        public.verify(signature, data, ec.ECDSA(HASH))


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256])
def test_round_trip(tmp_path, algorithm):
    backend = FileKeyBackend(tmp_path / "keys")
    key = backend.generate("Test CA", algorithm)
    assert isinstance(key, SigningKey)
    assert key.algorithm is algorithm
    assert (tmp_path / "keys" / key.ref).is_file()
    verify(key, DATA, key.sign(DATA))

    loaded = FileKeyBackend(tmp_path / "keys").load(key.ref)
    assert loaded.ref == key.ref
    assert loaded.algorithm is algorithm
    assert loaded.public_key().public_numbers() == key.public_key().public_numbers()
    verify(key, DATA, loaded.sign(DATA))
    # The CA's fast path gets the cryptography key, matching the public key.
    private = loaded._cryptography_key()
    assert private.public_key().public_numbers() == key.public_key().public_numbers()
    if algorithm.is_rsa:
        assert key.public_key().key_size == 2048
        assert key.public_key().public_numbers().e == 65537
    else:
        assert isinstance(key.public_key().curve, ec.SECP256R1)


def test_unencrypted_pem_is_pkcs8(tmp_path):
    key = FileKeyBackend(tmp_path).generate("dev", KeyAlgorithm.EC_P256)
    assert (tmp_path / key.ref).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_passphrase(tmp_path):
    backend = FileKeyBackend(tmp_path, passphrase=b"correct horse")
    key = backend.generate("Encrypted CA", KeyAlgorithm.EC_P256)
    pem = (tmp_path / key.ref).read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")

    loaded = FileKeyBackend(tmp_path, passphrase=b"correct horse").load(key.ref)
    verify(key, DATA, loaded.sign(DATA))
    with pytest.raises(ValueError):
        FileKeyBackend(tmp_path, passphrase=b"wrong").load(key.ref)
    with pytest.raises(TypeError):  # encrypted file, no passphrase given
        FileKeyBackend(tmp_path).load(key.ref)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_file_mode_0600_and_no_temp_files_left(tmp_path):
    old = os.umask(0o022)  # a permissive umask must not leak into the key file
    try:
        key = FileKeyBackend(tmp_path / "keys").generate("CA", KeyAlgorithm.EC_P256)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "keys" / key.ref).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert [p.name for p in (tmp_path / "keys").iterdir()] == [key.ref]


def test_label_is_made_safe_and_unique(tmp_path):
    backend = FileKeyBackend(tmp_path)
    a = backend.generate("../../etc/署名用CA", KeyAlgorithm.EC_P256)
    b = backend.generate("../../etc/署名用CA", KeyAlgorithm.EC_P256)
    for key in (a, b):
        assert "/" not in key.ref and ".." not in key.ref and not key.ref.startswith(".")
        assert (tmp_path / key.ref).parent == tmp_path
        assert key.ref.startswith("etc-CA-") and key.ref.endswith(".pem")
    assert a.ref != b.ref
    assert FileKeyBackend(tmp_path).generate("日本語", KeyAlgorithm.EC_P256).ref.startswith("key-")
    dotted = backend.generate("v1..2", KeyAlgorithm.EC_P256)
    assert dotted.ref.startswith("v1.2-")
    assert backend.load(dotted.ref).ref == dotted.ref


@pytest.mark.parametrize("ref", ["../x.pem", "a/b.pem", "..", "x..pem", "a\\b.pem", "", "a\0b"])
def test_bad_ref_rejected(tmp_path, ref):
    with pytest.raises(ValueError):
        FileKeyBackend(tmp_path).load(ref)


def test_unknown_ref(tmp_path):
    with pytest.raises(KeyNotFound):
        FileKeyBackend(tmp_path).load("nothing-here-0000.pem")
    with pytest.raises(KeyNotFound):  # directory not even created yet
        FileKeyBackend(tmp_path / "missing").load("nothing-here-0000.pem")


def test_repr_hides_key(tmp_path):
    key = FileKeyBackend(tmp_path).generate("CA", KeyAlgorithm.EC_P256)
    assert isinstance(key, FileSigningKey)
    assert repr(key) == f"FileSigningKey(ref={key.ref!r}, algorithm=ecp256)"
