"""CA signing keys and the backends that hold them (発行者署名符号).

The CA never handles a private key directly: it asks a :class:`KeyBackend` for a
:class:`SigningKey` by reference and asks that key to sign bytes. The file backend
keeps PEM files under the data home (development); the PKCS#11 backend keeps the
keys inside a token (SoftHSM2 in tests, an HSM in production) and the private key
never leaves it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa


class KeyAlgorithm(str, enum.Enum):
    """Key algorithms a CA or holder key may use (R-CERT-1)."""

    RSA_2048 = "rsa2048"  # current cards
    RSA_3072 = "rsa3072"
    EC_P256 = "ecp256"  # next-generation option (choice)

    @property
    def is_rsa(self) -> bool:
        return self in (KeyAlgorithm.RSA_2048, KeyAlgorithm.RSA_3072)

    @property
    def rsa_bits(self) -> int:
        return {KeyAlgorithm.RSA_2048: 2048, KeyAlgorithm.RSA_3072: 3072}[self]


PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@runtime_checkable
class SigningKey(Protocol):
    """A private key that can only sign. Its private part is never exposed."""

    @property
    def ref(self) -> str:
        """Backend-specific reference, stored in the database to find the key again."""

    @property
    def algorithm(self) -> KeyAlgorithm: ...

    def public_key(self) -> PublicKey: ...

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` with SHA-256: PKCS#1 v1.5 for RSA, DER-encoded ECDSA for EC."""


class KeyBackend(Protocol):
    """Creates and finds CA keys. ``name`` is stored with each CA (``file`` or ``pkcs11``)."""

    name: str

    def generate(self, label: str, algorithm: KeyAlgorithm) -> SigningKey:
        """Create a new key pair labelled ``label`` and return it."""

    def load(self, ref: str) -> SigningKey:
        """Find a key created earlier by its ``ref``. Raises KeyNotFound."""


class KeyNotFound(LookupError):
    """The backend holds no key with the given reference."""


HASH = hashes.SHA256()


@dataclass(frozen=True)
class KeyInfo:
    ref: str
    algorithm: KeyAlgorithm
