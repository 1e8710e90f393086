"""A software stand-in for the phone's secure element (セキュアエレメント): key pairs are
made inside it and only public keys and signatures leave it.

Real phones keep the JPKI smartphone keys in a hardware element behind the JPKI
applet; the interface here is the part the platform relies on: generate a key pair,
export the public key, sign with SHA-256. Used by tests, the demo and the CLI.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from myna.errors import Conflict, InvalidInput, NotFound
from myna.pki.keys import KeyAlgorithm


class SoftwareSecureElement:
    def __init__(self, keygen=None):
        self._keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey] = {}
        self._keygen = keygen  # tests may hand in pooled RSA keys (key generation is slow)

    def generate(self, label: str, algorithm: KeyAlgorithm = KeyAlgorithm.RSA_2048) -> bytes:
        """Make a key pair labelled ``label``; returns the SubjectPublicKeyInfo PEM."""
        if label in self._keys:
            raise Conflict(f"the secure element already holds a key {label!r}")
        if algorithm is KeyAlgorithm.EC_P256:
            key = ec.generate_private_key(ec.SECP256R1())
        elif algorithm.is_rsa:
            key = (
                self._keygen()
                if self._keygen and algorithm is KeyAlgorithm.RSA_2048
                else rsa.generate_private_key(65537, algorithm.rsa_bits)
            )
        else:
            raise InvalidInput(f"unsupported key algorithm {algorithm}")
        self._keys[label] = key
        return self.public_key_pem(label)

    def public_key_pem(self, label: str) -> bytes:
        return self._key(label).public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, label: str, data: bytes) -> bytes:
        key = self._key(label)
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    def _key(self, label: str):
        try:
            return self._keys[label]
        except KeyError:
            raise NotFound(f"the secure element holds no key {label!r}") from None
