"""The signer (the CA proper): signs certificates and CRLs with a key it reaches only
through a :class:`~myna.pki.keys.SigningKey`. It never reads the database.

Single certificates (CA, OCSP responder and verifier certificates) are signed by
``cryptography``'s own builder with the key as a ``cryptography`` private-key object.
That holds for token keys too: the builder's sign path calls the key object's
``sign()``, and :mod:`myna.pki.keystore_pkcs11`'s keys are ``RSAPrivateKey`` /
``EllipticCurvePrivateKey`` subclasses whose ``sign()`` is the token's ``C_Sign``.
(This module used to get the to-be-signed bytes from a draft signed by a throwaway key,
have the token sign them and assemble the certificate by hand; the builder is faster,
see docs/pki.md "Signing with a token key", measured by bench/token_signing.py.)

Batches of holder certificates take another path, for speed: their TBS bytes are written
from a per-CA template (:mod:`myna.pki.holder_tbs`), signed in worker processes
(:mod:`myna.pki.signing_pool`) or here, and each certificate assembled around its
signature (:func:`myna.pki.der.assemble`). CRLs are written by :mod:`myna.pki.crl_der`
and signed with :func:`sign_bytes`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from myna import logs
from myna.pki import signing_pool
from myna.pki.der import SignatureAlgorithm, assemble
from myna.pki.keys import SigningKey
from myna.pki.signing_pool import resolve_processes

__all__ = [
    "PARALLEL_FROM",
    "SigningJob",
    "builder_key",
    "resolve_processes",
    "sign_bytes",
    "sign_certificate",
    "signature_algorithm",
    "submit_tbs",
]

_log = logs.get(__name__)
PARALLEL_FROM = 32  # fewer certificates than this are signed in the calling thread


def builder_key(key: SigningKey) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """``key`` as the private-key object ``cryptography``'s builders sign with: a token key
    is one itself (its ``sign()`` goes to the token), a file key hands over the key it
    holds in memory."""
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        return key
    direct = getattr(key, "_cryptography_key", None)
    if direct is None:
        raise TypeError(f"{type(key).__name__} is neither a cryptography private key nor a file key")
    return direct()


def signature_algorithm(key: SigningKey) -> SignatureAlgorithm:
    return SignatureAlgorithm.SHA256_WITH_RSA if key.algorithm.is_rsa else SignatureAlgorithm.ECDSA_WITH_SHA256


def sign_certificate(builder: x509.CertificateBuilder, key: SigningKey) -> x509.Certificate:
    return builder.sign(builder_key(key), hashes.SHA256())


def sign_bytes(key: SigningKey):
    """A ``signer(data) -> signature`` callable for CRLs and template-written TBS."""
    direct = getattr(key, "_cryptography_key", None)
    if direct is not None:
        private = direct()
        if isinstance(private, rsa.RSAPrivateKey):
            return lambda data: private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return lambda data: private.sign(data, ec.ECDSA(hashes.SHA256()))
    return key.sign


_WARNED: set[str] = set()


def _warn_once(event: str, reason: str) -> None:
    if reason in _WARNED:
        return
    _WARNED.add(reason)
    try:
        _log.warning(event, reason=reason)
    except (OSError, ValueError):  # stderr closed: the log line must not stop the issuance
        pass


class SigningJob:
    """Certificates being signed; :meth:`result` waits for them (in the order given)."""

    def __init__(self, key: SigningKey, done: list[tuple[x509.Certificate, bytes]] | None = None):
        self._key = key
        self._done = done
        self._pool: signing_pool.Pool | None = None
        self._slices: list[tuple[int | None, list[bytes]]] = []  # (task, TBS); task None: sign here

    def result(self) -> list[tuple[x509.Certificate, bytes]]:
        """``(certificate, DER)`` per TBS, in order."""
        if self._done is None:
            algorithm = signature_algorithm(self._key)
            done = []
            for task, tbs in self._slices:
                try:
                    if task is None:
                        raise BrokenPipeError
                    signatures = self._pool.collect(task)
                except (signing_pool.WorkerRefused, BrokenPipeError) as exc:
                    # A worker died (OOM killer, a signal; the next batch starts a fresh
                    # pool) or could not reach a token key (its own login, the module's
                    # configuration): the TBS are still here, so this process signs them.
                    if isinstance(exc, signing_pool.WorkerRefused):
                        _warn_once("signing.worker-refused", str(exc))
                    sign = sign_bytes(self._key)
                    signatures = [sign(t) for t in tbs]
                for t, sig in zip(tbs, signatures):
                    der = assemble(t, algorithm, sig)
                    done.append((x509.load_der_x509_certificate(der), der))
            self._done, self._slices = done, []
        return self._done

    def cancel(self) -> None:
        """Drop the signatures still to come (the caller will not record them)."""
        for task, _ in self._slices:
            if task is not None:
                self._pool.forget(task)
        self._slices = []
        self._done = []


def submit_tbs(tbs: Iterable[bytes], key: SigningKey, processes: int = 0) -> SigningJob:
    """Start signing certificates given by their TBS bytes (e.g. from ``holder_tbs``), in
    order. With ``processes`` >= 2 the TBS go to worker processes slice by slice as ``tbs``
    yields them (a file key sent to them, a token key reached by each through its own
    session), and this returns while they sign; otherwise (or with no worker to be had)
    each is signed here, with the key's own ``sign``, before this returns."""
    wanted = signing_pool.worker_key(key) if processes >= 2 else None
    pool = None
    if wanted is not None:
        try:
            pool = signing_pool.signing_pool(processes)
        except (BrokenPipeError, OSError) as exc:
            # No workers to be had (they keep dying, or cannot be started): sign here.
            _warn_once("signing.in-process", str(exc))
    if pool is None:
        sign, algorithm, done = sign_bytes(key), signature_algorithm(key), []
        for t in tbs:
            der = assemble(t, algorithm, sign(t))
            done.append((x509.load_der_x509_certificate(der), der))
        return SigningJob(key, done)
    job = SigningJob(key)
    job._pool = pool
    items = iter(tbs)
    while part := list(itertools.islice(items, signing_pool.SLICE)):
        try:
            task = pool.submit(wanted, part)
        except BrokenPipeError:
            task = None
        job._slices.append((task, part))
    return job
