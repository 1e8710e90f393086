"""Checks on the public keys municipalities and phones send for certification (R-CERT-1, R-CERT-4).

A key is refused with a specific error when it cannot be parsed, is of an unsupported
type, or is weak: RSA below 2048 bits, an exponent other than 65537, a modulus with a
small factor, or an elliptic curve other than P-256.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from myna.errors import MalformedKey, WeakKey
from myna.pki.keys import PublicKey

RSA_MIN_BITS = 2048
RSA_MAX_BITS = 4096
_SMALL_PRIMES = [p for p in range(3, 1000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]


def parse_public_key(data: bytes | str) -> PublicKey:
    """Parse a SubjectPublicKeyInfo in PEM or DER and check it is acceptable."""
    raw = data.encode() if isinstance(data, str) else data
    if not raw:
        raise MalformedKey("public key is empty")
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(raw)
        else:
            key = serialization.load_der_public_key(raw)
    except (ValueError, TypeError) as exc:
        raise MalformedKey(f"public key could not be parsed as PEM or DER SubjectPublicKeyInfo: {exc}") from None
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for odd key types
        raise MalformedKey(f"public key is of an unsupported type: {exc}") from None
    check_public_key(key)
    return key


def check_public_key(key: object) -> None:
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        if key.key_size < RSA_MIN_BITS:
            raise WeakKey(f"RSA key has {key.key_size} bits; at least {RSA_MIN_BITS} are required")
        if key.key_size > RSA_MAX_BITS:
            raise WeakKey(f"RSA key has {key.key_size} bits; at most {RSA_MAX_BITS} are accepted")
        if numbers.e != 65537:
            raise WeakKey(f"RSA public exponent {numbers.e} is not 65537")
        if numbers.n % 2 == 0 or any(numbers.n % p == 0 for p in _SMALL_PRIMES):
            raise WeakKey("RSA modulus has a small factor")
        return
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise WeakKey(f"elliptic curve {key.curve.name} is not accepted; use P-256")
        return
    raise MalformedKey(f"key type {type(key).__name__} is not accepted; use RSA-2048 or EC P-256")


def spki_der(key: PublicKey) -> bytes:
    """The key's DER SubjectPublicKeyInfo, as it goes into a certificate."""
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_fingerprint(key: PublicKey, spki: bytes | None = None) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, hex: the key's identity in our records.
    ``spki``: that DER if the caller has it already."""
    return hashlib.sha256(spki if spki is not None else spki_der(key)).hexdigest()
