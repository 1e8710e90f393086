"""File key backend: PKCS#8 PEM files in a directory (development and tests).

Each key is one file whose name is its ``ref``. The private key does sit in this
process's memory, so this backend is for development only; production CAs use
:mod:`myna.pki.keystore_pkcs11`.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from myna.pki.keys import HASH, KeyAlgorithm, KeyNotFound, PublicKey

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _algorithm_of(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> KeyAlgorithm:
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size in (2048, 3072):
        return KeyAlgorithm.RSA_2048 if key.key_size == 2048 else KeyAlgorithm.RSA_3072
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return KeyAlgorithm.EC_P256
    raise ValueError(f"unsupported key type in key file: {type(key).__name__}")


class FileSigningKey:
    """A key loaded from a PEM file. Satisfies :class:`myna.pki.keys.SigningKey`."""

    __slots__ = ("_ref", "_key", "_algorithm")

    def __init__(self, ref: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> None:
        self._ref = ref
        self._key = key
        self._algorithm = _algorithm_of(key)

    @property
    def ref(self) -> str:
        return self._ref

    @property
    def algorithm(self) -> KeyAlgorithm:
        return self._algorithm

    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), HASH)
        return self._key.sign(data, ec.ECDSA(HASH))  # cryptography emits DER already

    def _cryptography_key(self) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
        """The raw private key, for ``cryptography``'s builders (``builder.sign(key, ...)``)
        and the signing workers, which are sent it (myna.pki.signer, myna.pki.signing_pool).

        Deliberately underscored and not part of the SigningKey protocol: only the signer
        may call it. A PKCS#11 key needs no such door: it is a ``cryptography`` key object
        itself, whose private part stays in the token.
        """
        return self._key

    def __repr__(self) -> str:  # never show key material
        return f"FileSigningKey(ref={self._ref!r}, algorithm={self._algorithm.value})"


class FileKeyBackend:
    """Keys as PKCS#8 PEM files under ``directory``, encrypted if ``passphrase`` is given."""

    name = "file"

    def __init__(self, directory: Path, passphrase: bytes | None = None) -> None:
        self.directory = Path(directory)
        self._passphrase = passphrase or None  # b"" means unencrypted, as on load

    def generate(self, label: str, algorithm: KeyAlgorithm) -> FileSigningKey:
        algorithm = KeyAlgorithm(algorithm)
        if algorithm.is_rsa:
            key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = rsa.generate_private_key(
                public_exponent=65537, key_size=algorithm.rsa_bits
            )
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self._passphrase) if self._passphrase is not None else serialization.NoEncryption()
        )
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Labels may be Japanese or contain '/': keep only ASCII-safe characters and
        # never a leading dot (no hidden files). The random suffix keeps two
        # CAs with the same label apart.
        # '..' is collapsed too, because load() rejects any ref containing it.
        stem = re.sub(r"\.{2,}", ".", _UNSAFE.sub("-", label)).strip(".-")[:48] or "key"
        while True:
            ref = f"{stem}-{secrets.token_hex(4)}.pem"
            if not (self.directory / ref).exists():
                break  # os.replace would silently overwrite an existing CA key
        self._write_atomically(self.directory / ref, pem)
        return FileSigningKey(ref, key)

    def load(self, ref: str) -> FileSigningKey:
        path = self._path(ref)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyNotFound(f"no key file {ref!r} in {self.directory}") from None
        # Wrong or missing passphrase raises ValueError/TypeError from cryptography.
        key = serialization.load_pem_private_key(data, password=self._passphrase)
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise ValueError(f"unsupported key type in {ref!r}: {type(key).__name__}")
        return FileSigningKey(ref, key)

    def _path(self, ref: str) -> Path:
        # refs come from the database: refuse anything that could leave the directory.
        seps = {"/", "\\", os.sep, os.altsep} - {None}
        if not ref or "\0" in ref or ".." in ref or any(s in ref for s in seps):
            raise ValueError(f"invalid key file reference: {ref!r}")
        return self.directory / ref

    @staticmethod
    def _write_atomically(path: Path, data: bytes) -> None:
        # mkstemp creates the file 0600 whatever the umask, so the key is never
        # readable by others, not even for an instant; os.replace means a crash
        # leaves either no file or a complete one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        try:  # make the rename itself durable (not supported on every platform)
            dir_fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)
