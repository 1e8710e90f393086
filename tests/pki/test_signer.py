"""The signer: certificates signed from TBS bytes (a builder's, caught without the CA's
key) in worker processes (MYNA_SIGNING_PROCESSES) are exactly what direct signing would
give, whichever key each worker last used, and a worker that dies costs no certificate."""

import datetime as dt
import os
import signal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from signing_support import sign_certificates, submit_certificates, tbs_of

from myna.pki import signer, signing_pool
from myna.pki.keys import KeyAlgorithm
from myna.pki.keystore_file import FileKeyBackend
from myna.pki.signer import PARALLEL_FROM, submit_tbs


def _builders(n: int, public_key) -> list[x509.CertificateBuilder]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer test")])
    start = dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc)
    return [
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(1000 + i)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=30))
        for i in range(n)
    ]


def test_caught_tbs_has_the_real_signature_algorithm_and_is_what_gets_signed(tmp_path):
    key = FileKeyBackend(tmp_path).generate("ca", KeyAlgorithm.RSA_2048)
    builder = _builders(1, key.public_key())[0]
    direct = builder.sign(key._cryptography_key(), hashes.SHA256())
    assert tbs_of(builder) == direct.tbs_certificate_bytes  # signing is deterministic for RSA PKCS#1 v1.5


def test_signing_in_worker_processes_gives_valid_certificates_in_order(tmp_path):
    key = FileKeyBackend(tmp_path).generate("ca", KeyAlgorithm.RSA_2048)
    builders = _builders(PARALLEL_FROM + 9, key.public_key())
    certs = sign_certificates(builders, key, processes=2)
    assert [c.serial_number for c in certs] == [1000 + i for i in range(len(builders))]
    for cert in certs:
        key.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())
    assert certs == sign_certificates(builders, key, processes=0)  # identical bytes either way


def test_workers_keep_the_keys_of_several_cas_apart(tmp_path):
    """Workers keep every key they were sent; each slice names the key to sign with."""
    a = FileKeyBackend(tmp_path / "a").generate("ca", KeyAlgorithm.RSA_2048)
    b = FileKeyBackend(tmp_path / "b").generate("ca", KeyAlgorithm.RSA_2048)
    for key in (a, b, a, b):
        certs = sign_certificates(_builders(PARALLEL_FROM * 2, key.public_key()), key, processes=2)
        for cert in certs:
            key.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())


def test_a_worker_killed_while_signing_costs_no_certificate(tmp_path, monkeypatch):
    key = FileKeyBackend(tmp_path).generate("ca", KeyAlgorithm.RSA_2048)
    builders = _builders(800, key.public_key())
    signing_pool.start_pool(2)
    victim = signing_pool.signing_pool(2).workers[0].process
    fallback = []
    real = signer.sign_bytes
    monkeypatch.setattr(signer, "sign_bytes", lambda k: fallback.append(k) or real(k))
    job = submit_certificates(builders, key, processes=2)  # about 0.1 s of signing per worker
    os.kill(victim.pid, signal.SIGKILL)
    got = [cert for cert, _ in job.result()]
    assert fallback, "the killed worker's slices were signed here"
    assert got == sign_certificates(builders, key, processes=0)
    assert signing_pool.signing_pool(2).workers[0].process is not victim  # a fresh pool next time


def test_workers_that_keep_dying_give_way_to_signing_here(tmp_path, monkeypatch):
    key = FileKeyBackend(tmp_path).generate("ca", KeyAlgorithm.RSA_2048)
    builders = _builders(PARALLEL_FROM, key.public_key())
    monkeypatch.setattr(signing_pool, "_REPLACED", signing_pool.MAX_REPLACED + 1)
    signing_pool.shutdown_pool()
    certs = sign_certificates(builders, key, processes=2)
    assert signing_pool._POOL is None
    assert certs == sign_certificates(builders, key, processes=0)


def test_tbs_signed_in_workers_or_here_give_the_builders_certificates(tmp_path):
    """submit_tbs (the issuance pipeline's path): the same certificates from TBS bytes,
    in worker processes and in the calling thread, as from the builders directly."""
    key = FileKeyBackend(tmp_path).generate("ca", KeyAlgorithm.RSA_2048)
    builders = _builders(PARALLEL_FROM + 5, key.public_key())
    tbs = [tbs_of(b) for b in builders]
    expected = sign_certificates(builders, key, processes=0)
    for processes in (2, 0):
        got = submit_tbs(iter(tbs), key, processes).result()
        assert [cert for cert, _ in got] == expected
        assert all(cert.public_bytes(Encoding.DER) == der for cert, der in got)


def test_workers_run_below_the_parents_priority(tmp_path):
    """The parent's checks and store writes are the batch's serial part: the workers take
    what it leaves (signing_pool._lower_priority)."""
    key = FileKeyBackend(tmp_path).generate("ca", KeyAlgorithm.RSA_2048)
    sign_certificates(_builders(PARALLEL_FROM, key.public_key()), key, processes=2)
    pool = signing_pool.signing_pool(2)
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    for w in pool.workers:
        assert os.getpriority(os.PRIO_PROCESS, w.process.pid) == min(19, mine + signing_pool.WORKER_NICE)
