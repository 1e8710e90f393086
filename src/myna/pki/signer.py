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
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from myna.pki.crl_der import SignatureAlgorithm, assemble
from myna.pki.keys import SigningKey

# A throwaway RSA key whose signatures are discarded: only the TBS bytes of a draft are
# kept, and a TBS does not depend on the signing key's size. 512 bits makes the draft
# cheap (about 40 us); cryptography refuses to *generate* keys under 1024 bits, so this
# one was made once with `openssl genrsa 512` and is not a secret of any kind.
_THROWAWAY_RSA_PEM = b"""\
-----BEGIN PRIVATE KEY-----
MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAzQ8/YQXT9zHgWoVJ
QvY3h59yJrX97LgVn9SinG94PY06DhNroBatfsf2c8ciLhCWwynFaKMCC1b3lBuZ
PU/h0wIDAQABAkEAwQQxLCpIMs4H2CzNoPIRot86m6WCtmcwM5n61jU2gPfVlX1W
TehQpsKeMgnRcpFG6ge+MdHZ0v7Gjbc4/UgBwQIhAPgG5Icr0MCOYgp7D/0SZ66W
2OqgLA8bpz6vPHOSRYaPAiEA06bCnRhqlWVyBNoKB3neQIk2j1CD6i9LOLFbBOo2
8n0CIQD0q4gAt/5kFZEtmZx6IA/bsL8nJP6RoMvpEGDn+WFQjQIgX6upnMlEpHNO
rtLAZdC4ngNoHjAO8PSf0+iXdAlK/SECIHijybLPAsosu4ohXMqIQTJY8UzMwJRL
FoTOU3xrNXM0
-----END PRIVATE KEY-----
"""


@functools.cache
def _throwaway(is_rsa: bool):
    if is_rsa:
        return serialization.load_pem_private_key(_THROWAWAY_RSA_PEM, password=None)
    return ec.generate_private_key(ec.SECP256R1())


def tbs_of(builder: x509.CertificateBuilder, is_rsa: bool = True) -> bytes:
    """The exact to-be-signed bytes of a certificate, without the real key."""
    return builder.sign(_throwaway(is_rsa), hashes.SHA256()).tbs_certificate_bytes


def signature_algorithm(key: SigningKey) -> SignatureAlgorithm:
    return SignatureAlgorithm.SHA256_WITH_RSA if key.algorithm.is_rsa else SignatureAlgorithm.ECDSA_WITH_SHA256


def sign_certificate(builder: x509.CertificateBuilder, key: SigningKey) -> x509.Certificate:
    direct = getattr(key, "_cryptography_key", None)
    if direct is not None:
        return builder.sign(direct(), hashes.SHA256())
    tbs = tbs_of(builder, key.algorithm.is_rsa)
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


# -- signing in worker processes -------------------------------------------------------
#
# cryptography holds the GIL while it signs, so threads do not sign in parallel. For big
# batches with a file-backend key, the parent builds every TBS (cheap, see tbs_of) and
# worker processes make the RSA signatures. Opt-in: MYNA_SIGNING_PROCESSES (0 = off).

_POOL = None
_POOL_SIZE = 0
_WORKER_KEYS: dict[str, object] = {}
PARALLEL_FROM = 32


def _worker_sign(key_id: str, key_der: bytes, tbs_list: list[bytes]) -> list[bytes]:
    key = _WORKER_KEYS.get(key_id)
    if key is None:
        key = _WORKER_KEYS[key_id] = serialization.load_der_private_key(key_der, password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        return [key.sign(t, padding.PKCS1v15(), hashes.SHA256()) for t in tbs_list]
    return [key.sign(t, ec.ECDSA(hashes.SHA256())) for t in tbs_list]


def _pool(processes: int):
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE != processes:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # forkserver: the platform process runs threads (uvicorn, sync loops); forking it is unsafe.
        _POOL = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("forkserver"))
        _POOL_SIZE = processes
    return _POOL


def sign_certificates(builders: list[x509.CertificateBuilder], key: SigningKey, processes: int = 0) -> list[x509.Certificate]:
    """Sign many certificates with one key; in ``processes`` worker processes when the key
    is a file-backend key and the batch is big enough, else one by one."""
    direct = getattr(key, "_cryptography_key", None)
    if processes < 2 or direct is None or len(builders) < PARALLEL_FROM:
        return [sign_certificate(b, key) for b in builders]
    private = direct()
    key_der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tbs_list = [tbs_of(b, key.algorithm.is_rsa) for b in builders]
    step = -(-len(tbs_list) // processes)
    chunks = [tbs_list[i : i + step] for i in range(0, len(tbs_list), step)]
    pool = _pool(processes)
    signatures = [sig for part in pool.map(_worker_sign, [key.ref] * len(chunks), [key_der] * len(chunks), chunks) for sig in part]
    algorithm = signature_algorithm(key)
    return [x509.load_der_x509_certificate(assemble(t, algorithm, sig)) for t, sig in zip(tbs_list, signatures)]
