"""The signer (the CA proper): turns builders into signed certificates with a key it
reaches only through a :class:`~myna.pki.keys.SigningKey`. It never reads the database.

``cryptography`` signs builders only with its own in-memory keys. For file-backend keys
that is the fast path. For keys inside a PKCS#11 token we let ``cryptography`` produce
the exact to-be-signed bytes by signing once with a cheap throwaway key of the same
algorithm family (the signatureAlgorithm field depends only on the family and hash, not
on the key), then have the token sign those bytes and assemble the certificate. No
library offers an external-signer hook for X.509 building, which is why this is here.
"""

from __future__ import annotations

import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from myna.pki.crl_der import SignatureAlgorithm, assemble
from myna.pki.keys import SigningKey


@functools.cache
def _throwaway(is_rsa: bool):
    # 1024 bits is the smallest RSA key cryptography will make; its signature is
    # discarded, only the TBS bytes are kept.
    if is_rsa:
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return ec.generate_private_key(ec.SECP256R1())


def signature_algorithm(key: SigningKey) -> SignatureAlgorithm:
    return SignatureAlgorithm.SHA256_WITH_RSA if key.algorithm.is_rsa else SignatureAlgorithm.ECDSA_WITH_SHA256


def sign_certificate(builder: x509.CertificateBuilder, key: SigningKey) -> x509.Certificate:
    direct = getattr(key, "_cryptography_key", None)
    if direct is not None:
        return builder.sign(direct(), hashes.SHA256())
    draft = builder.sign(_throwaway(key.algorithm.is_rsa), hashes.SHA256())
    tbs = draft.tbs_certificate_bytes
    # A Certificate has the same outer shape as a CertificateList: SEQUENCE {tbs, alg, BIT STRING}.
    signed = assemble(tbs, signature_algorithm(key), key.sign(tbs))
    return x509.load_der_x509_certificate(signed)


def sign_bytes(key: SigningKey):
    """A ``signer(data) -> signature`` callable for CRL building."""
    direct = getattr(key, "_cryptography_key", None)
    if direct is not None:
        private = direct()
        if isinstance(private, rsa.RSAPrivateKey):
            return lambda data: private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return lambda data: private.sign(data, ec.ECDSA(hashes.SHA256()))
    return key.sign
