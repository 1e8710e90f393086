"""Signing helpers only the tests use: the TBS of a builder without the CA's key, and
batches signed from builders (the platform's batches start from template TBS instead,
myna.pki.holder_tbs)."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from myna.pki.keys import SigningKey
from myna.pki.signer import PARALLEL_FROM, SigningJob, sign_certificate, submit_tbs


class _TbsCatcher:
    """A private-key object whose sign() keeps the bytes cryptography asks it to sign (the
    TBS) and returns a dummy signature: cryptography's builders sign with any subclass of
    its key classes, and the TBS depends on the key's family and the hash only."""

    tbs = b""

    def sign(self, data: bytes, *args: object) -> bytes:
        self.tbs = data
        return b"\x00"

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def _none(self, *args: object) -> None:
        raise TypeError("a TBS catcher has no key")

    private_numbers = private_bytes = decrypt = exchange = _none


class _RsaCatcher(_TbsCatcher, rsa.RSAPrivateKey):
    key_size = 2048

    def public_key(self):
        raise TypeError("a TBS catcher has no key")


class _EcCatcher(_TbsCatcher, ec.EllipticCurvePrivateKey):
    key_size = 256
    curve = ec.SECP256R1()

    def public_key(self):
        raise TypeError("a TBS catcher has no key")


def tbs_of(builder: x509.CertificateBuilder, is_rsa: bool = True) -> bytes:
    """The exact to-be-signed bytes of a certificate, without the real key."""
    catcher = _RsaCatcher() if is_rsa else _EcCatcher()
    builder.sign(catcher, hashes.SHA256())
    return catcher.tbs


def submit_certificates(builders: Sequence[x509.CertificateBuilder], key: SigningKey, processes: int = 0) -> SigningJob:
    """Start signing ``builders`` with one key. With ``processes`` >= 2 the TBS are built
    and go to ``submit_tbs`` (worker processes for a key they can use, slice by slice as
    the TBS are built, and this returns while they sign); otherwise everything is signed
    here, before it returns."""
    if processes < 2 or not builders:
        done = []
        for b in builders:
            cert = sign_certificate(b, key)
            done.append((cert, cert.public_bytes(serialization.Encoding.DER)))
        return SigningJob(key, done)
    is_rsa = key.algorithm.is_rsa
    return submit_tbs((tbs_of(b, is_rsa) for b in builders), key, processes)


def sign_certificates(builders: list[x509.CertificateBuilder], key: SigningKey, processes: int = 0) -> list[x509.Certificate]:
    """Sign many certificates with one key; in ``processes`` worker processes when the key
    is a file-backend key and the batch is big enough, else one by one."""
    if len(builders) < PARALLEL_FROM:
        processes = 0
    return [cert for cert, _ in submit_certificates(builders, key, processes).result()]
