#!/usr/bin/env python
"""Benchmark: holder-certificate issuance through the whole pipeline vs raw RSA-2048 signing.

    python bench/issuance.py                                   # N = 5000, chunks 200 and 1000
    python bench/issuance.py --quick                           # N = 600
    python bench/issuance.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/issuance.py --write                           # also write docs/benchmarks-issuance.md

The pipeline is ``IssuanceService.issue_chunks``, exactly as ``myna cert issue-batch``
calls it: per chunk (one ``issue_many``), check every request (key parse and strength,
dates, eligibility), look for earlier identical requests, read the residents' records
from the register and compare the requests with them (R-CERT-4, R-RA-1), look for
already-certified keys, reserve the serials in their own committed transaction, build and sign each
certificate, then record the certificates and their audit events in one transaction
(which reads the records' versions again).
Chunks overlap: chunk k is signed in worker processes (MYNA_SIGNING_PROCESSES; by
default one per core from two cores) while the parent records chunk k-1 and prepares
chunk k+1.

Method:

- Each run gets a fresh data home, a fresh store (a new SQLite file; with
  ``--database-url``, also a new PostgreSQL database created through that URL and
  dropped afterwards, so the user needs CREATEDB) and a fresh key ceremony
  (RSA-2048 CA keys, file backend or SoftHSM2 token). The N residents are then put on the
  register in bulk (myna.residents.bulk: Core inserts, not timed); every request is
  for one of them, and states the basic 4 information and date of birth of its record.
- Holder keys are EC P-256, generated before timing: holder key type barely matters,
  the cost being measured is the CA's RSA-2048 signature (plus the pipeline around
  it). Half the requests are card-auth (no personal data), half card-sign (with the
  basic 4 information), all for adults on the register.
- The signing pool is started once, before anything is timed (its start-up time is
  reported). A short warm-up issue (one request per kind) loads the CA keys and warms
  caches; then N requests are issued in SEGMENTS segments, each one whole
  ``issue_chunks`` call in chunks, and timed (wall clock).
- Raw signing is measured in the same process right after each segment, for the
  same wall-clock duration, single-threaded: ``private_key.sign(tbs, PKCS1v15(),
  SHA256())`` with cryptography on the CA's own key (read from its PEM file), ``tbs``
  being the to-be-signed bytes of a certificate just issued. For the PKCS#11 backend,
  raw is the token's ``C_Sign`` (CKM_SHA256_RSA_PKCS via myna's Pkcs11SigningKey) on
  the same bytes, and the cryptography raw rate on a software key is measured too.
  When the pipeline signs in N >= 2 worker processes, raw signing is also measured in
  N processes at once for the same duration (``AllCores``): the same number of
  signers doing nothing else.
- ratio = pipeline certificates/s / raw signatures/s (target >= 70 %), against one
  thread and against N processes. The target is judged against one thread: raw
  RSA-2048 signing speed as ``openssl speed rsa2048`` reports it, one signer. The ratio
  against N processes is reported beside it as the share of the machine's CPU that goes
  into signatures (see the report's finding 1 for why it is not the target's yardstick).
- The issue-batch row times a whole JSON Lines file (``load_requests`` then
  ``issue_requests``), then the raw loops for as long.
- Every run checks that N certificates were recorded and verifies a sample of them
  against their CA certificate.
- "Where the time goes": each stage of the pipeline timed alone on the same kind of
  input (microseconds per certificate, best of 3; the signing stages alternate item by
  item). What-if runs measure the recommended changes end to end without touching
  src/: the per-request CA lookup memoised per chunk, and ``WhatIfIssuance`` (that fix
  plus Core inserts); ``--no-whatif`` skips them.
- Whether RSA signing holds the GIL: two threads signing vs one.
- A cProfile of the pipeline (top 15 by cumulative time) on a separate run.

The machine is shared in development containers: the load average before and after
each run is printed, and ``--repeat`` repeats every configuration.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import math
import os
import platform as pyplatform
import pstats
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import create_engine, insert, select, text

from myna.authority.ceremony import run_ceremony
from myna.authority.issuance import JLIS, IssuanceRequest, IssuanceService, Issued, check_request
from myna.authority.platform import Platform
from myna.pki import holder_tbs, profiles, serials, signing_pool
from myna.pki.basic4 import Basic4, Sex
from myna.pki.kinds import AuthorityKind, CertKind
from myna.pki.signer import sign_certificate
from myna.settings import Settings
from myna.store import models as m
from myna.store.journal import audit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from myna.residents.bulk import register_bulk  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks-issuance.md"
TARGET = 0.70
SO_PIN, USER_PIN = "87654321", "12345678"
DOB = dt.date(1980, 5, 17)
BASIC4 = Basic4("山田 花子", DOB, Sex.FEMALE, "東京都千代田区千代田1-1")
MUNICIPALITY = "131016"
FIRST_RESIDENT = 10**10  # requests_for's resident i is FIRST_RESIDENT + i, whatever the prefix


# -- set-up ----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1).strip()
    except (OSError, AttributeError):
        cpu = pyplatform.processor() or "unknown"
    import cryptography
    import sqlalchemy

    softhsm = ""
    if shutil.which("softhsm2-util"):
        softhsm = subprocess.run(["softhsm2-util", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "arch": pyplatform.machine(),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": pyplatform.python_version(),
        "cryptography": cryptography.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "softhsm": softhsm,
    }


def store_settings(admin_url: str | None) -> str:
    """What durability the stores were configured with: it changes commit costs."""
    text_ = "SQLite: WAL, synchronous=NORMAL (myna.store.db)"
    if admin_url:
        engine = create_engine(admin_url)
        try:
            with engine.connect() as c:
                version = c.scalar(text("SHOW server_version"))
                fsync = c.scalar(text("SHOW fsync"))
                sync = c.scalar(text("SHOW synchronous_commit"))
        finally:
            engine.dispose()
        text_ += f"; PostgreSQL {version} on the same machine over TCP, fsync={fsync}, synchronous_commit={sync}"
    return text_


def holder_keys(n: int) -> list[bytes]:
    return [
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        for _ in range(n)
    ]


def requests_for(keys: list[bytes], prefix: str) -> list[IssuanceRequest]:
    out = []
    for i, key in enumerate(keys):
        kind = CertKind.CARD_SIGN if i % 2 else CertKind.CARD_AUTH
        out.append(
            IssuanceRequest(
                request_id=f"{prefix}-{i:07d}",
                kind=kind,
                public_key=key,
                resident_code=f"{FIRST_RESIDENT + i:011d}",
                date_of_birth=DOB,
                basic4=BASIC4 if kind.is_signature else None,
                municipality_code=MUNICIPALITY,
            )
        )
    return out


@dataclass
class Hsm:
    module: str
    label: str
    pin: str


def softhsm_token(workdir: Path) -> Hsm | None:
    """A fresh SoftHSM2 token; SOFTHSM2_CONF is set before the module is first loaded."""
    from myna.pki.keystore_pkcs11 import default_softhsm_module, init_softhsm_token

    module = default_softhsm_module()
    if module is None or shutil.which("softhsm2-util") is None:
        return None
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        return None
    label = f"myna-bench-{secrets.token_hex(3)}"
    os.environ.update(init_softhsm_token(workdir / "softhsm", label, SO_PIN, USER_PIN))
    return Hsm(module, label, USER_PIN)


@contextmanager
def fresh_store(workdir: Path, admin_url: str | None):
    """A new, empty store: a SQLite file, or a new PostgreSQL database (dropped after)."""
    if admin_url is None:
        yield f"sqlite:///{workdir / 'myna.db'}"
        return
    name = f"myna_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def open_platform(home: Path, url: str, hsm: Hsm | None, residents: int) -> Platform:
    """A platform after its key ceremony, with the residents of requests_for's first
    ``residents`` requests (at least the warm-up's two) on the register."""
    settings = Settings(
        home=home,
        database_url=url,
        public_url="http://127.0.0.1:8000",
        key_backend="pkcs11" if hsm else "file",
        pkcs11_module=hsm.module if hsm else None,
        pkcs11_token=hsm.label if hsm else "myna-ca",
        pkcs11_pin=hsm.pin if hsm else None,
        # As the product reads it: unset means the default (one worker per core on >= 2 cores).
        signing_processes=Settings.from_env(home).signing_processes,
    )
    p = Platform.open(settings)
    run_ceremony(p, "bench")
    register_bulk(p, range(FIRST_RESIDENT, FIRST_RESIDENT + max(residents, 2)), MUNICIPALITY, BASIC4)
    return p


# -- measurements ----------------------------------------------------------------------


@dataclass
class Timing:
    seconds: float = 0.0  # pipeline wall clock
    cpu: float = 0.0  # pipeline process CPU time (the parent only; workers are not counted)
    raw: dict[str, tuple[int, float]] = field(default_factory=dict)  # name -> (signatures, seconds)
    raw_all: tuple[int, float] = (0, 0.0)  # signatures by all signing processes, seconds

    def rate(self, name: str) -> float:
        n, secs = self.raw[name]
        return n / secs

    @property
    def rate_all(self) -> float | None:
        n, secs = self.raw_all
        return n / secs if secs else None


def _raw_worker(key_pem: bytes, tbs: bytes, seconds: float) -> tuple[int, float]:
    """In a worker process of AllCores: raw signing for ``seconds``."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    return raw_loop(lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256()), tbs, seconds)


class AllCores:
    """Raw signing in ``processes`` processes at once, flat out: what the same number of
    signers as the pipeline uses can do with nothing around them."""

    def __init__(self, processes: int):
        import multiprocessing

        self.processes = processes
        self.pool = multiprocessing.get_context("forkserver").Pool(processes) if processes >= 2 else None

    def run(self, key_pem: bytes, tbs: bytes, seconds: float) -> tuple[int, float]:
        """(signatures by all processes, seconds); each process signs for ``seconds``."""
        if self.pool is None:
            return 0, 0.0
        parts = self.pool.starmap(_raw_worker, [(key_pem, tbs, seconds)] * self.processes, chunksize=1)
        return sum(n for n, _ in parts), sum(secs for _, secs in parts) / len(parts)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool.join()


class WhatIfIssuance(IssuanceService):
    """What-if, NOT the product code path: ``IssuanceService.issue_many`` with the two
    changes recommended in the report, to measure them end to end. (1) the CA is looked
    up once per kind, not once per request; (2) reservations, certificates and audit
    events are written with Core ``insert()`` executemany instead of ORM objects;
    optionally (3) a chunk's certificates are signed by a thread pool. Checks (the
    register's records included: R-CERT-4, R-RA-1, R-RA-2, the version check when
    recording), the requester's request-id scope, transactions and their order are the
    product's. The rows and TBS bytes come from ``IssuanceService._prepare``; signing
    is in this process (one thread, or the pool for (3)), never in worker processes.
    (The product has had (1) and (2) since; ``what_ifs`` then leaves these runs out.)"""

    pool = None  # a ThreadPoolExecutor for (3)

    def issue_many(self, reqs, actor, acting_for=None):
        from myna.authority.issuance import _issued, check_against_register
        from myna.errors import Conflict, IdempotencyMismatch
        from myna.pki.der import assemble
        from myna.pki.signer import sign_bytes, signature_algorithm
        from myna.store.journal import audit_many, status_events

        now = self.platform.clock.now()
        checked = self._check(reqs, now)
        ids = [c.request.request_id for c in checked]
        scope = acting_for if acting_for is not None else JLIS
        results = {}
        with self.platform.db.session() as s:
            existing = self._existing(s, scope, ids)
            for c in checked:
                row = existing.get(c.request.request_id)
                if row is not None:
                    if row.request_digest != c.digest:
                        raise IdempotencyMismatch("request_id reused")
                    results[c.request.request_id] = _issued(row, created=False)
            todo = [c for c in checked if c.request.request_id not in results]
            records = {
                r.resident_code: r
                for r in s.scalars(
                    select(m.ResidentRecord).where(m.ResidentRecord.resident_code.in_({c.request.resident_code for c in todo}))
                )
            }
            todo = [check_against_register(c, records.get(c.request.resident_code), acting_for, now) for c in todo]
            fingerprints = [c.fingerprint for c in todo]
            if len(set(fingerprints)) != len(fingerprints):
                raise Conflict("the batch certifies the same public key twice")
            if set(s.scalars(select(m.Certificate.key_fingerprint).where(m.Certificate.key_fingerprint.in_(fingerprints)))):
                raise Conflict("public key is already certified")
            versions = {c.request.resident_code: records[c.request.resident_code].version for c in todo}
        if not todo:
            return [results[i] for i in ids]
        authorities = {kind: self.platform.authority(AuthorityKind(kind.value)) for kind in {c.request.kind for c in todo}}  # (1)
        plan = [(c, serials.new_serial()) for c in todo]
        with self.platform.db.session() as s:  # (2)
            s.execute(
                insert(m.SerialReservation),
                [
                    {
                        "serial": serials.to_store(n),
                        "authority_id": authorities[c.request.kind].id,
                        "request_id": c.request.request_id,
                        "reserved_at": now,
                    }
                    for c, n in plan
                ],
            )
        retain_until = now + dt.timedelta(days=self.platform.settings.retention_days)
        prepared = [self._prepare(c, n, authorities[c.request.kind], now, retain_until, scope) for c, n in plan]
        signers = {kind: (sign_bytes(ca.key), signature_algorithm(ca.key)) for kind, ca in authorities.items()}

        def sign(item):
            (row, tbs), (c, _) = item
            signer, algorithm = signers[c.request.kind]
            row["der"] = assemble(tbs, algorithm, signer(tbs))
            return row

        if self.pool is None:
            rows = [sign(item) for item in zip(prepared, plan)]
        else:  # (3) cryptography releases the GIL for the RSA operation itself
            rows = list(self.pool.map(sign, zip(prepared, plan)))
        with self.platform.db.session() as s:  # (2)
            s.execute(insert(m.Certificate), rows)
            self._check_versions(s, versions)
            audit_many(
                s, [(now, actor, "certificate.issued", r["serial"], {"kind": r["kind"], "request_id": r["request_id"]}) for r in rows]
            )
            status_events(s, [(r["serial"], r["authority_id"], "issued", now, r["not_after"], None) for r in rows])
        for r in rows:
            results[r["request_id"]] = Issued(int(r["serial"], 16), CertKind(r["kind"]), x509.load_der_x509_certificate(r["der"]), True)
        return [results[i] for i in ids]


VARIANTS = {
    "": "",
    "lookup": "what-if: CA looked up once per kind",
    "lookup+core": "what-if: that + Core inserts",
    "lookup+core+threads": f"what-if: that + signing in {os.cpu_count()} threads",
}


def what_ifs(facts: Facts) -> list[str]:
    """The what-if variants that still mean something for the code in src/."""
    out = [""]
    if facts.n_plus_one:
        out.append("lookup")
    if facts.uses_orm and facts.sign_returns_orm:
        out.append("lookup+core")
        if not facts.threaded:
            out.append("lookup+core+threads")
    return out


SEGMENTS = 2  # pipeline runs per configuration, each followed by raw signing for as long


def segments(reqs: list, chunk: int) -> list[list]:
    per = chunk * max(1, math.ceil(len(reqs) / chunk / SEGMENTS))
    return [reqs[i : i + per] for i in range(0, len(reqs), per)]


def issue_all(
    p: Platform,
    reqs: list[IssuanceRequest],
    chunk: int,
    raw: dict | None = None,
    tbs: bytes = b"",
    variant: str = "",
    all_cores: AllCores | None = None,
    key_pem: bytes = b"",
) -> Timing:
    """Issue ``reqs`` in chunks through ``IssuanceService.issue_chunks``, as issue-batch
    does, in SEGMENTS segments. After each segment, each raw signer in ``raw`` signs
    ``tbs`` for as long as the segment took, and so do ``all_cores`` processes at once: the
    pipeline and the raw loops alternate every second or so, so load from other processes
    on a shared machine hits both alike. A segment is one whole issue_chunks call (its
    pipeline fills at the start and drains at the end, as a real batch does) because raw
    signing between two chunks would compete with the chunk still being signed.

    The what-if variants keep the older loop: one issue_many per chunk, raw signing after
    each chunk."""
    if variant == "":
        service = IssuanceService(p)
        timing = Timing(raw={name: (0, 0.0) for name in raw or {}})
        for seg in segments(reqs, chunk):
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in service.issue_chunks((seg[i : i + chunk] for i in range(0, len(seg), chunk)), "bench"):
                pass
            took = time.perf_counter() - t0
            timing.seconds += took
            timing.cpu += time.process_time() - c0
            for name, sign in (raw or {}).items():
                n, secs = raw_loop(sign, tbs, took)
                done_n, done_s = timing.raw[name]
                timing.raw[name] = (done_n + n, done_s + secs)
            if all_cores is not None:
                n, secs = all_cores.run(key_pem, tbs, took)
                timing.raw_all = (timing.raw_all[0] + n, timing.raw_all[1] + secs)
        return timing
    service = WhatIfIssuance(p) if variant.startswith("lookup+core") else IssuanceService(p)
    if variant == "lookup+core+threads":
        from concurrent.futures import ThreadPoolExecutor

        service.pool = ThreadPoolExecutor(max_workers=os.cpu_count())
    timing = Timing(raw={name: (0, 0.0) for name in raw or {}})
    memo: dict = {}
    if variant == "lookup":
        # The one-line fix applied from outside: the CA lookups within a chunk hit a memo.
        real = p.authority
        p.authority = lambda kind: memo[kind] if kind in memo else memo.setdefault(kind, real(kind))  # type: ignore[method-assign]
    try:
        for start in range(0, len(reqs), chunk):
            memo.clear()
            c0, t0 = time.process_time(), time.perf_counter()
            service.issue_many(reqs[start : start + chunk], "bench")
            took = time.perf_counter() - t0
            timing.seconds += took
            timing.cpu += time.process_time() - c0
            for name, sign in (raw or {}).items():
                n, secs = raw_loop(sign, tbs, took)
                done_n, done_s = timing.raw[name]
                timing.raw[name] = (done_n + n, done_s + secs)
    finally:
        if variant == "lookup":
            del p.authority  # back to the class's method
        if getattr(service, "pool", None) is not None:
            service.pool.shutdown()
    return timing


def raw_loop(sign, data: bytes, seconds: float) -> tuple[int, float]:
    """(signatures, elapsed) of ``sign(data)`` in a loop, single-threaded, for ``seconds``."""
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        sign(data)
        n += 1
        now = time.perf_counter()
        if now >= deadline:
            return n, now - start


def file_key_pem(p: Platform, kind: AuthorityKind) -> bytes:
    ca = p.authority(kind)
    with p.db.session() as s:
        ref = s.get(m.Authority, ca.id).key_ref
    return (p.settings.keys_dir / ref).read_bytes()


def file_signer(p: Platform, kind: AuthorityKind):
    key = serialization.load_pem_private_key(file_key_pem(p, kind), password=None)
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())


_SOFT_KEY: list[rsa.RSAPrivateKey] = []


def software_signer():
    """cryptography RSA-2048 on a key in memory: the file backend's raw rate."""
    if not _SOFT_KEY:
        _SOFT_KEY.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    key = _SOFT_KEY[0]
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def holder_rows(p: Platform) -> list[m.Certificate]:
    with p.db.session() as s:
        return list(s.scalars(select(m.Certificate).where(m.Certificate.kind != "ca")))


def verify_sample(p: Platform, expected: int) -> None:
    rows = holder_rows(p)
    assert len(rows) == expected, f"{len(rows)} certificates recorded, expected {expected}"
    cas = {row.id: x509.load_der_x509_certificate(row.cert_der) for row in p.authority_rows()}
    for row in rows[:: max(1, len(rows) // 50)]:
        cert = x509.load_der_x509_certificate(row.der)
        assert cert.serial_number == int(row.serial, 16)
        cert.verify_directly_issued_by(cas[row.authority_id])


@dataclass
class Result:
    backend: str  # "file" or "pkcs11 (SoftHSM2)"
    store: str  # "SQLite" or "PostgreSQL"
    chunk: int
    n: int
    seconds: float
    cpu_seconds: float
    raw: float  # same-backend raw signatures/s
    raw_file: float  # cryptography raw signatures/s
    load: tuple[float, float]
    note: str = ""
    signers: int = 0  # worker processes that signed (0: the calling thread)
    raw_all: float | None = None  # raw signatures/s of `signers` processes at once

    @property
    def rate(self) -> float:
        return self.n / self.seconds

    @property
    def ratio_all(self) -> float | None:
        return self.rate / self.raw_all if self.raw_all else None

    @property
    def ratio(self) -> float:
        return self.rate / self.raw

    @property
    def ratio_file(self) -> float:
        return self.rate / self.raw_file


@dataclass
class Facts:
    """What the pipeline in src/ does today, observed on one chunk (not timed)."""

    chunk: int
    kinds: int
    authority_calls: int  # Platform.authority() calls during one issue_many
    orm_objects: int  # ORM objects flushed during one issue_many
    sign_processes: int  # worker processes a chunk was signed in (0: the calling thread)
    sign_returns_orm: bool  # IssuanceService._sign returns an m.Certificate (what WhatIfIssuance builds on)
    cached_extensions: bool  # profiles caches the issuer-derived extensions
    code: str  # git commit, and which files under src/ differ from it

    @property
    def n_plus_one(self) -> bool:
        return self.authority_calls > self.kinds

    @property
    def uses_orm(self) -> bool:
        return self.orm_objects >= self.chunk

    @property
    def threaded(self) -> bool:
        return self.sign_processes > 1


def code_version() -> str:
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True, timeout=10).stdout.rstrip("\n")
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "src/myna").splitlines()]
    return f"commit {commit}" + (f", with uncommitted changes in {', '.join(f'`{d}`' for d in dirty)}" if dirty else "")


def inspect_pipeline(workdir: Path, keys: list[bytes]) -> Facts:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    import myna.authority.issuance as issuance_mod

    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    calls, flushed, threads = [0], [0], set()

    def count_flush(session, _context, _instances) -> None:
        flushed[0] += len(session.new)

    real_sign = issuance_mod.submit_tbs

    def traced_sign(tbs, key, processes=0):
        threads.add(processes)
        return real_sign(tbs, key, processes)

    with fresh_store(run_dir, None) as url:
        p = open_platform(run_dir / "home", url, None, len(keys))
        try:
            warm_up(p)
            reqs = requests_for(keys, "inspect")
            real_authority = p.authority

            def counted(kind):
                calls[0] += 1
                return real_authority(kind)

            p.authority = counted  # type: ignore[method-assign]
            event.listen(Session, "before_flush", count_flush)
            issuance_mod.submit_tbs = traced_sign
            try:
                IssuanceService(p).issue_many(reqs, "bench")
            finally:
                issuance_mod.submit_tbs = real_sign
                event.remove(Session, "before_flush", count_flush)
                del p.authority
            now = p.clock.now()
            extra = requests_for(holder_keys(2), "inspect-sign")[1]
            signed = IssuanceService(p)._prepare(
                check_request(extra, now), serials.new_serial(), p.authority(AuthorityKind(extra.kind.value)), now, now, JLIS
            )[0]
        finally:
            p.close()
    shutil.rmtree(run_dir, ignore_errors=True)
    return Facts(
        chunk=len(reqs),
        kinds=len({r.kind for r in reqs}),
        authority_calls=calls[0],
        orm_objects=flushed[0],
        sign_processes=max(threads, default=0),
        sign_returns_orm=isinstance(signed, m.Certificate),
        cached_extensions=hasattr(profiles, "issuer_extensions"),
        code=code_version(),
    )


def hsm_thread_check(hsm: Hsm, signatures: int = 500) -> str:
    """Two Pkcs11KeyBackend instances on one token, signing from two threads, in a child
    process (it may crash). Returns what happened."""
    script = """
import sys, threading
from myna.pki.keystore_pkcs11 import Pkcs11KeyBackend
from myna.pki.keys import KeyAlgorithm
module, label, pin, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
b1 = Pkcs11KeyBackend(module, label, pin)
key = b1.generate("thread-check", KeyAlgorithm.RSA_2048)
b2 = Pkcs11KeyBackend(module, label, pin)
keys = [key, b2.load(key.ref)]
errors = []
def work(k):
    for i in range(n):
        try:
            k.sign(str(i).encode())
        except Exception as exc:
            errors.append(type(exc).__name__)
threads = [threading.Thread(target=work, args=(k,)) for k in keys]
[t.start() for t in threads]
[t.join() for t in threads]
print(len(errors), sorted(set(errors)))
"""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script, hsm.module, hsm.label, hsm.pin, str(signatures)],
            capture_output=True,
            text=True,
            timeout=300,
            env=os.environ.copy(),
        )
    except subprocess.TimeoutExpired:
        return "hung (no answer in 300 s)"
    if proc.returncode < 0:
        import signal

        return f"crashed ({signal.Signals(-proc.returncode).name})"
    if proc.returncode != 0:
        return f"failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:] or ''}"
    count, names = proc.stdout.strip().split(" ", 1)
    return "ok" if count == "0" else f"{count} of {2 * signatures} signatures failed ({names})"


def warm_up(p: Platform) -> bytes:
    """Issue one request per kind (loads the CA keys); returns the card-sign TBS bytes."""
    issued = IssuanceService(p).issue_many(requests_for(holder_keys(2), f"warm-{secrets.token_hex(4)}"), "bench")
    return next(i.certificate.tbs_certificate_bytes for i in issued if i.kind is CertKind.CARD_SIGN)


def run_pipeline(
    workdir: Path,
    keys: list[bytes],
    chunk: int,
    hsm: Hsm | None,
    admin_url: str | None,
    variant: str = "",
    all_cores: AllCores | None = None,
) -> Result:
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    with fresh_store(run_dir, admin_url) as url:
        p = open_platform(run_dir / "home", url, hsm, len(keys))
        signers = 0
        try:
            tbs = warm_up(p)
            reqs = requests_for(keys, "bench")
            key_pem = b""
            signers = signing_pool.resolve_processes(p.settings.signing_processes)
            if hsm:
                # Workers reach a token key through their own sessions; raw is the token
                # through one session (the parent's), as a single signer sees it.
                raw = {"same": p.authority(AuthorityKind.CARD_SIGN).key.sign, "file": software_signer()}
                all_cores = None
            else:
                key_pem = file_key_pem(p, AuthorityKind.CARD_SIGN)
                raw = {"same": file_signer(p, AuthorityKind.CARD_SIGN)}
            load0 = os.getloadavg()[0]
            timing = issue_all(p, reqs, chunk, raw, tbs, variant, all_cores if variant == "" else None, key_pem)
            load1 = os.getloadavg()[0]
            verify_sample(p, len(reqs) + 2)
        finally:
            p.close()
    shutil.rmtree(run_dir, ignore_errors=True)
    return Result(
        "pkcs11 (SoftHSM2)" if hsm else "file",
        "PostgreSQL" if admin_url else "SQLite",
        chunk,
        len(keys),
        timing.seconds,
        timing.cpu,
        timing.rate("same"),
        timing.rate("file" if hsm else "same"),
        (load0, load1),
        VARIANTS[variant],
        signers if variant == "" else 0,
        timing.rate_all,
    )


def run_batch_file(workdir: Path, keys: list[bytes], chunk: int, all_cores: AllCores | None = None) -> tuple[Result, float]:
    """The same requests as a JSON Lines file through myna.authority.batch (parse, check,
    store pre-checks, issue). Returns the result and the time of the checking phase alone."""
    import json

    from myna.authority.batch import issue_requests, load_requests
    from myna.wiring import build

    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    path = run_dir / "requests.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for r in requests_for(keys, "jsonl"):
            obj = {
                "request_id": r.request_id,
                "kind": r.kind.value,
                "public_key_pem": r.public_key.decode(),
                "resident_code": r.resident_code,
                "date_of_birth": r.date_of_birth.isoformat(),
                "municipality_code": r.municipality_code,
            }
            if r.basic4:
                obj["basic4"] = {
                    "name": r.basic4.name,
                    "date_of_birth": DOB.isoformat(),
                    "sex": r.basic4.sex.value,
                    "address": r.basic4.address,
                }
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    with fresh_store(run_dir, None) as url:
        p = open_platform(run_dir / "home", url, None, len(keys))
        try:
            tbs = warm_up(p)
            sign = file_signer(p, AuthorityKind.CARD_SIGN)
            key_pem = file_key_pem(p, AuthorityKind.CARD_SIGN)
            signers = signing_pool.resolve_processes(p.settings.signing_processes)
            load0 = os.getloadavg()[0]
            # The whole file in one go (as `myna cert issue-batch` runs it), then raw signing
            # for as long: raw signing between chunks would compete with the chunk in flight.
            cpu0, t0 = time.process_time(), time.perf_counter()
            reqs = load_requests(path, p.clock.now(), p)
            checked = time.perf_counter() - t0
            issue_requests(build(p).issuance, reqs, "bench", chunk=chunk)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            raw_n, raw_s = raw_loop(sign, tbs, seconds)
            raw = raw_n / raw_s
            all_n, all_s = all_cores.run(key_pem, tbs, seconds) if all_cores else (0, 0.0)
            verify_sample(p, len(keys) + 2)
            load1 = os.getloadavg()[0]
        finally:
            p.close()
    shutil.rmtree(run_dir, ignore_errors=True)
    result = Result(
        "file",
        "SQLite",
        chunk,
        len(keys),
        seconds,
        cpu,
        raw,
        raw,
        (load0, load1),
        "issue-batch: JSONL",
        signers,
        all_n / all_s if all_s else None,
    )
    return result, checked


REPEATS = 3  # stage timings: best of this many, the usual defence against a noisy machine


def per_cert_us(fn, n: int, setup=None) -> float:
    """Best of REPEATS timings of ``fn(setup())``, in microseconds per item of ``n``."""
    best = float("inf")
    for _ in range(REPEATS):
        arg = setup() if setup else None
        t0 = time.perf_counter()
        fn(arg) if setup else fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def alternating(parts: dict, items: list) -> dict[str, float]:
    """Microseconds per item of each ``parts[name](item)``, the parts taking turns item by
    item; best of REPEATS passes."""
    best = {name: float("inf") for name in parts}
    for _ in range(REPEATS):
        spent = dict.fromkeys(parts, 0.0)
        for item in items:
            for name, fn in parts.items():
                t0 = time.perf_counter()
                fn(item)
                spent[name] += time.perf_counter() - t0
        best = {name: min(best[name], spent[name]) for name in parts}
    return {name: secs / len(items) * 1e6 for name, secs in best.items()}


RAW_CPU_US = [0.0]  # CPU time of one raw signature, set by raw_cpu()


def raw_cpu(n: int = 1000) -> float:
    """CPU microseconds per raw RSA-2048 signature (process time: load does not inflate it)."""
    sign, tbs = software_signer(), b"\x30" * 900
    c0 = time.process_time()
    for _ in range(n):
        sign(tbs)
    RAW_CPU_US[0] = (time.process_time() - c0) / n * 1e6
    return RAW_CPU_US[0]


def gil_check(seconds: float = 1.0) -> float:
    """Signatures/s with two threads over one thread: ~1.0 if RSA signing holds the GIL."""
    import threading

    sign, tbs = software_signer(), b"\x30" * 900

    def rate(threads: int) -> float:
        counts = [0] * threads
        stop = time.perf_counter() + seconds

        def work(i: int) -> None:
            while time.perf_counter() < stop:
                sign(tbs)
                counts[i] += 1

        pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return sum(counts) / seconds

    return rate(2) / rate(1)


def stages(workdir: Path, keys: list[bytes], hsm: Hsm | None) -> list[tuple[str, float, str]]:
    """Each stage of issue_many timed alone, microseconds per certificate (card-sign)."""
    import json

    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    out: list[tuple[str, float, str]] = []
    with fresh_store(run_dir, None) as url:
        p = open_platform(run_dir / "home", url, hsm, 2 * len(keys))
        try:
            warm_up(p)
            reqs = [r for r in requests_for(keys * 2, "stage") if r.kind is CertKind.CARD_SIGN][: len(keys)]
            n = len(reqs)
            now = p.clock.now()
            ca = p.authority(AuthorityKind.CARD_SIGN)
            checked = [check_request(r, now) for r in reqs]
            not_after = now + dt.timedelta(days=1800)

            def builders() -> list:
                return [
                    profiles.holder_builder(
                        CertKind.CARD_SIGN,
                        ca.cert,
                        c.key,
                        profiles.new_subject_id(),
                        serials.new_serial(),
                        now,
                        not_after,
                        p.urls,
                        ca.slug,
                        BASIC4,
                    )
                    for c in checked
                ]

            built = builders()
            certs = [sign_certificate(b, ca.key) for b in built]
            ders = [c.public_bytes(serialization.Encoding.DER) for c in certs]
            tbs = certs[0].tbs_certificate_bytes

            def rows() -> list[m.Certificate]:
                return [
                    m.Certificate(
                        serial=serials.to_store(serials.new_serial()),
                        authority_id=ca.id,
                        kind="card-sign",
                        subject_id=profiles.new_subject_id(),
                        request_id=f"stage-{secrets.token_hex(8)}",
                        requester=JLIS,
                        request_digest="0" * 64,
                        resident_code="12345678901",
                        municipality_code="131016",
                        key_fingerprint=secrets.token_hex(32),
                        not_before=now,
                        not_after=not_after,
                        issued_at=now,
                        retain_until=now,
                        der=d,
                    )
                    for d in ders
                ]

            def orm_writes(part_rows: list[m.Certificate], chunk: int = 200) -> None:
                for start in range(0, len(part_rows), chunk):
                    part = part_rows[start : start + chunk]
                    with p.db.session() as s:
                        s.add_all(
                            m.SerialReservation(serial=r.serial, authority_id=ca.id, request_id=r.request_id, reserved_at=now) for r in part
                        )
                    with p.db.session() as s:
                        s.add_all(part)
                        s.flush()
                        for r in part:
                            audit(s, now, "bench", "certificate.issued", r.serial, kind=r.kind, request_id=r.request_id)

            cols = [c.key for c in m.Certificate.__table__.columns]

            def core_rows() -> list[dict]:
                return [{k: getattr(r, k) for k in cols} for r in rows()]

            def core_writes(part_rows: list[dict], chunk: int = 200) -> None:
                for start in range(0, len(part_rows), chunk):
                    part = part_rows[start : start + chunk]
                    with p.db.session() as s:
                        s.execute(
                            insert(m.SerialReservation),
                            [
                                {"serial": r["serial"], "authority_id": ca.id, "request_id": r["request_id"], "reserved_at": now}
                                for r in part
                            ],
                        )
                    with p.db.session() as s:
                        s.execute(insert(m.Certificate), part)
                        s.execute(
                            insert(m.AuditEvent),
                            [
                                {
                                    "at": now,
                                    "actor": "bench",
                                    "action": "certificate.issued",
                                    "subject": r["serial"],
                                    "detail": json.dumps(
                                        {"kind": r["kind"], "request_id": r["request_id"]}, ensure_ascii=False, sort_keys=True
                                    ),
                                }
                                for r in part
                            ],
                        )

            out.append(
                (
                    "check_request: parse + check key, digest, fingerprint",
                    per_cert_us(lambda: [check_request(r, now) for r in reqs], n),
                    "issuance.check_request",
                )
            )
            out.append(
                (
                    "Platform.authority(kind), one call",
                    per_cert_us(lambda: [p.authority(AuthorityKind(r.kind.value)) for r in reqs], n),
                    "platform.Platform.authority",
                )
            )
            out.append(
                (
                    "profiles.holder_builder (the reference profile; not on the pipeline's path)",
                    per_cert_us(builders, n),
                    "profiles.holder_builder",
                )
            )
            template = holder_tbs.template(CertKind.CARD_SIGN, ca.cert, p.urls.base, ca.slug)
            out.append(
                (
                    "holder_tbs template: TBS bytes (what the pipeline builds)",
                    per_cert_us(
                        lambda: [
                            template.tbs(serials.new_serial(), now, not_after, profiles.new_subject_id(), c.spki, BASIC4) for c in checked
                        ],
                        n,
                    ),
                    "holder_tbs.HolderTemplate.tbs",
                )
            )
            out.append(("  of which basic4.to_san()", per_cert_us(lambda: [BASIC4.to_san() for _ in range(n)], n), "basic4.Basic4.to_san"))
            # Signing stages alternate item by item, so that drift in background load hits them alike.
            raw = ca.key.sign if hsm else file_signer(p, AuthorityKind.CARD_SIGN)
            parts = {"sign": (lambda b: sign_certificate(b, ca.key)), "raw": (lambda b: raw(tbs))}
            spent = alternating(parts, built)
            out.append(("sign_certificate: TBS encoding + signature", spent["sign"], "signer.sign_certificate"))
            if hsm:
                out.append(("  raw token signature (C_Sign) alone", spent["raw"], "keystore_pkcs11"))
            else:
                out.append(("  raw RSA-2048 signature alone", spent["raw"], ""))
            out.append(
                (
                    "certificate.public_bytes(DER)",
                    per_cert_us(lambda: [c.public_bytes(serialization.Encoding.DER) for c in certs], n),
                    "issuance._sign",
                )
            )
            out.append(
                (
                    "_issued: re-parse DER for the result",
                    per_cert_us(lambda: [x509.load_der_x509_certificate(d) for d in ders], n),
                    "issuance._issued",
                )
            )
            out.append(("m.Certificate(...) ORM object", per_cert_us(rows, n), "ORM path only"))
            out.append(
                (
                    "store via ORM objects: reserve; record + audit (chunks of 200)",
                    per_cert_us(orm_writes, n, setup=rows),
                    "ORM unit of work",
                )
            )
            out.append(("store via Core executemany, same rows", per_cert_us(core_writes, n, setup=core_rows), "Core insert()"))
        finally:
            p.close()
    shutil.rmtree(run_dir, ignore_errors=True)
    return out


def profile(workdir: Path, keys: list[bytes], chunk: int) -> tuple[str, float]:
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    with fresh_store(run_dir, None) as url:
        p = open_platform(run_dir / "home", url, None, len(keys))
        try:
            warm_up(p)
            reqs = requests_for(keys, "prof")
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            issue_all(p, reqs, chunk)
            prof.disable()
            seconds = time.perf_counter() - t0
        finally:
            p.close()
    shutil.rmtree(run_dir, ignore_errors=True)
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(15)
    text_ = buf.getvalue()
    # Shorten paths: site-packages/..., src/myna/...
    text_ = re.sub(r"/\S*/site-packages/", "", text_)
    text_ = text_.replace(str(ROOT) + "/", "")
    lines = [ln.rstrip() for ln in text_.splitlines()]
    start = next(i for i, ln in enumerate(lines) if ln.strip().startswith("ncalls"))
    head = [ln.strip() for ln in lines[:start] if "function calls" in ln]
    return "\n".join(head + [""] + [ln for ln in lines[start:] if ln.strip()]), len(keys) / seconds


# -- report ----------------------------------------------------------------------------


def _autogroup() -> str:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        return "unknown"


def pct(x: float) -> str:
    return f"{x * 100:.0f} %"


def result_table(rows: list[Result]) -> list[str]:
    out = [
        "| backend | store | chunk | N | signing processes | pipeline certs/s | raw signs/s, 1 thread, same backend | ratio vs 1 thread | "
        "raw signs/s, as many processes as the pipeline | ratio vs as many processes | "
        "raw signs/s, file (cryptography) | ratio vs file raw | "
        "pipeline wall s | parent CPU s | load avg before / after | variant |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mark = "" if r.ratio >= TARGET else " ✗"
        out.append(
            f"| {r.backend} | {r.store} | {r.chunk} | {r.n:,} | {r.signers or 'none (in-process)'} | "
            f"{r.rate:,.0f} | {r.raw:,.0f} | {pct(r.ratio)}{mark} | "
            f"{'' if r.raw_all is None else f'{r.raw_all:,.0f}'} | {'' if r.ratio_all is None else pct(r.ratio_all)} | "
            f"{r.raw_file:,.0f} | {pct(r.ratio_file)} | "
            f"{r.seconds:.2f} | {r.cpu_seconds:.2f} | {r.load[0]:.2f} / {r.load[1]:.2f} | {r.note} |"
        )
    return out


def median_result(rows: list[Result], **match) -> Result | None:
    """The run with the median ratio among those matching (the lower middle for an even count)."""
    found = sorted((r for r in rows if all(getattr(r, k) == v for k, v in match.items()) and not r.note), key=lambda r: r.ratio)
    return found[(len(found) - 1) // 2] if found else None


def median_ratio(rows: list[Result], **match) -> float | None:
    vals = sorted(r.ratio for r in rows if all(getattr(r, k) == v for k, v in match.items()))
    return vals[len(vals) // 2] if vals else None


def report(info, args, results, batch, stage_rows, hsm_stage_rows, prof_text, prof_rate, whatif, keygen_s, gil, facts, hsm_threads) -> str:
    command = "python bench/issuance.py " + " ".join(args.argv)
    out = [
        "# Issuance throughput: the pipeline vs raw RSA-2048 signing",
        "",
        "Generated by `bench/issuance.py`; its docstring has the method. The *pipeline* is "
        "`IssuanceService.issue_chunks`, as `myna cert issue-batch` calls it: per chunk, check every request, "
        "look for earlier identical requests, read the residents' records from the register and compare the "
        "requests with them, look for already-certified keys, reserve the serials (committed), "
        "build and sign each certificate, record certificates + audit events in one transaction (reading "
        "the records' versions again); the chunks "
        "overlap (chunk k is signed in worker processes while the parent records chunk k-1 and prepares "
        f"chunk k+1). Each run is {SEGMENTS} segments, each one whole `issue_chunks` call (its pipeline fills "
        "and drains, as a real batch's does); after each segment the raw loops run for as long as it took, "
        "so pipeline and raw signing alternate every second or so and background load on the (shared) "
        "machine hits both alike. *raw, 1 thread* is single-threaded RSA-2048 PKCS#1 v1.5 / SHA-256 signing "
        "of a real TBS certificate with the CA's own key, in the benchmark process. *raw, as many processes "
        "as the pipeline* is the same loop in that many processes at once (the pipeline's signing "
        "processes; the parent's own work comes on top). Holder keys are EC P-256, generated before timing: "
        "the cost measured is the CA's RSA-2048 signature and everything around it. Requests are half "
        "card-auth, half card-sign (with the basic 4 information), adults, each for a resident put on the "
        "register in bulk before timing; every run has a fresh data home, "
        "store and key ceremony and a warm-up request per kind. The signing pool is started once before "
        f"anything is timed ({info.get('signers', 0)} processes, started in {info.get('pool_start_s', 0.0):.2f} s), "
        "as a running platform's pool is started by its first big batch.",
        "",
        f"Command: `{command}`",
        "",
        "| machine | nproc | CPU | date | Python | cryptography | SQLAlchemy | SoftHSM2 |",
        "|---|---|---|---|---|---|---|---|",
        f"| {info['arch']} | {info['nproc']} | {info['cpu']} | {info['date']} | {info['python']} | {info['cryptography']} "
        f"| {info['sqlalchemy']} | {info['softhsm'] or 'not installed'} |",
        "",
        f"Stores: {info['stores']}.",
        "",
        f"Code measured: {facts.code}. Earlier runs: `git log -p docs/benchmarks-issuance.md`.",
        "",
        "## Results",
        "",
        f"Target: pipeline >= {pct(TARGET)} of raw RSA-2048 signing speed, judged against one signer (*ratio vs 1 "
        "thread*; ✗: below): the rate `openssl speed rsa2048` reports, the machine's signing speed as the issue "
        "names it. *Ratio vs as many processes* compares with that many signers doing nothing else, i.e. the share "
        "of the machine's CPU that goes into signatures; it is reported, not judged (finding 1 says why and what "
        "bounds it).",
        "",
        *result_table(results + ([batch[0]] if batch else [])),
    ]
    if batch:
        out += [
            "",
            f"The issue-batch row is the same requests as a JSON Lines file through `myna.authority.batch` "
            f"(`load_requests` then `issue_requests`): parsing and checking every line, including the store "
            f"pre-checks, took {batch[1]:.2f} s ({batch[1] / batch[0].n * 1e6:.0f} µs per line) and is included in its wall time.",
        ]
    if whatif:
        out += [
            "",
            f"## What-if: the recommended changes, measured end to end (file, SQLite, chunk {whatif[0].chunk})",
            "",
            "Only the changes the code measured still lacks. "
            "`lookup`: the CA lookup memoised per chunk from outside (equivalent to the one-line fix). "
            "`lookup+core`: `WhatIfIssuance` in the benchmark, `issue_many` with that fix and Core inserts; "
            "same checks, same transactions. `…+threads`: the same, with each chunk's certificates signed by a "
            "thread pool of `os.cpu_count()` threads (the ratio is still against *single-threaded* raw signing).",
            "",
            *result_table(whatif),
        ]
    out += [
        "",
        "## Where the time goes (file backend, SQLite)",
        "",
        "Each stage of `issue_many` timed alone, best of 3, on card-sign requests; µs per certificate. "
        "Absolute µs move with the machine's load (see the load column above); the ratios in the tables above, "
        "measured against interleaved raw signing, are the robust figures.",
        "",
        "| stage | µs / certificate | where |",
        "|---|---|---|",
    ]
    out += [f"| {name} | {us:,.1f} | {where} |" for name, us, where in stage_rows]
    if hsm_stage_rows:
        out += ["", "PKCS#11 (SoftHSM2) signing, same method:", "", "| stage | µs / certificate | where |", "|---|---|---|"]
        out += [f"| {name} | {us:,.1f} | {where} |" for name, us, where in hsm_stage_rows if name.startswith(("sign_certificate", "  raw"))]
    out += [
        "",
        f"## Profile (file, SQLite, chunk {args.chunks[0]}, {args.profile_requests:,} requests; "
        f"{prof_rate:,.0f} certs/s under the profiler)",
        "",
        "Top 15 by cumulative time."
        + (
            " cProfile sees only the parent: time its workers spend signing shows, if at all, as waiting in `Pool.collect` / `poll`."
            if facts.threaded
            else ""
        ),
        "",
        "```",
        prof_text,
        "```",
        "",
    ]
    out += findings(results, stage_rows, hsm_stage_rows, whatif, gil, facts, hsm_threads)
    out += ["", f"Holder key generation before timing ({args.requests:,} EC P-256 keys): {keygen_s:.2f} s.", ""]
    return "\n".join(out)


def findings(results, stage_rows, hsm_stage_rows, whatif, gil, facts: Facts, hsm_threads: str) -> list[str]:
    st = {name: us for name, us, _ in stage_rows}
    first = next((r for r in results if r.backend == "file" and r.store == "SQLite"), None)
    main = median_result(results, backend="file", store="SQLite", chunk=first.chunk) if first else None
    lines = ["## Findings and recommended changes", ""]
    if main is None:
        return lines
    raw_us = st.get("  raw RSA-2048 signature alone") or 1e6 / main.raw
    lookup = st.get("Platform.authority(kind), one call", 0.0)
    orm = st.get("store via ORM objects: reserve; record + audit (chunks of 200)", 0.0)
    core = st.get("store via Core executemany, same rows", 0.0)
    base_r = median_ratio(whatif, note=VARIANTS[""]) or main.ratio
    lookup_r = median_ratio(whatif, note=VARIANTS["lookup"])
    core_r = median_ratio(whatif, note=VARIANTS["lookup+core"])
    threads_r = median_ratio(whatif, note=VARIANTS["lookup+core+threads"])
    met = main.ratio >= TARGET
    if main.ratio_all is None:
        lines.append(
            f"1. **{'Target met' if met else 'Below target'}.** File backend, SQLite, chunk {main.chunk} (median run): "
            f"{main.rate:,.0f} certs/s = "
            f"{pct(main.ratio)} of raw ({main.raw:,.0f} signs/s). In units of the raw signature, a certificate costs "
            f"{1 / main.ratio:.2f} signatures; {pct(TARGET)} allows {1 / TARGET:.2f}."
        )
    else:
        lines.append(
            f"1. **{'Target met' if met else 'Below target'}.** File backend, SQLite, chunk {main.chunk} (median run), "
            f"signing in {main.signers} worker processes: "
            f"{main.rate:,.0f} certs/s = {pct(main.ratio)} of raw RSA-2048 signing speed ({main.raw:,.0f} signs/s, one signer). "
            f"Against {main.signers} signers doing nothing else ({main.raw_all:,.0f} signs/s) it is {pct(main.ratio_all)}: the share of "
            "the machine's CPU that goes into signatures. That figure is reported, not judged: on a machine whose cores the parent "
            "shares with the signers, it is bounded by the parent's own CPU per certificate whatever the overlap (finding 5), and "
            f"{pct(TARGET)} of it would need the checks, the TBS and the store together below "
            f"{raw_us * (1 / TARGET - 1):,.0f} µs (finding 4)."
        )
    if facts.n_plus_one:
        lines.append(
            f"2. **N+1 query (largest).** One `issue_many` of {facts.chunk} requests ({facts.kinds} kinds) called `Platform.authority()` "
            f"{facts.authority_calls} times: `authorities = {{c.request.kind: self.platform.authority(AuthorityKind(c.request.kind.value)) "
            f"for c in todo}}` evaluates the value for every request, and each call opens a session and SELECTs `authorities` "
            f"({lookup:,.0f} µs a call, timed alone). Change it to "
            f"`{{kind: self.platform.authority(AuthorityKind(kind.value)) for kind in {{c.request.kind for c in todo}}}}`."
            + (f" Measured end to end: {pct(base_r)} → {pct(lookup_r)} of raw." if lookup_r else "")
        )
    else:
        lines.append(
            f"2. **CA lookup: fine.** One `issue_many` of {facts.chunk} requests ({facts.kinds} kinds) "
            f"called `Platform.authority()` {facts.authority_calls} times."
        )
    if facts.uses_orm:
        lines.append(
            f"3. **ORM unit of work for three rows per certificate.** One `issue_many` of {facts.chunk} "
            f"flushed {facts.orm_objects} ORM objects "
            f"(reservations, certificates, audit events): {orm:,.0f} µs per certificate for the writes, plus building the `m.Certificate` "
            f"objects ({st.get('m.Certificate(...) ORM object', 0):,.0f} µs); "
            f"Core `insert(Model)` executemany of the same rows costs {core:,.0f} µs. "
            f"Change `issue_many` to `s.execute(insert(m.SerialReservation), [dict(...)])` for the reservations and "
            f"`s.execute(insert(m.Certificate), rows)` + `s.execute(insert(m.AuditEvent), rows)` for the record (a `journal.audit_many()` "
            f"building the dicts with the same JSON as `audit()`), keeping the two transactions as they are; `_sign` can return a dict."
            + (f" Measured end to end with fix 2: {pct(core_r)} of raw." if core_r else "")
        )
    else:
        lines.append(
            f"3. **Store writes: fine.** One `issue_many` of {facts.chunk} flushed {facts.orm_objects} ORM objects: "
            "the rows go through Core "
            f"executemany ({core:,.0f} µs per certificate for reservation, certificate and audit event, "
            f"against {orm:,.0f} µs as ORM objects)."
        )
    lines.append(
        f"4. **What is left is spread thin.** Per certificate besides the signature: check_request "
        f"{st.get('check_request: parse + check key, digest, fingerprint', 0):,.0f} µs, the TBS from the CA's template "
        f"{st.get('holder_tbs template: TBS bytes (what the pipeline builds)', 0):,.0f} µs (the reference builder, no longer on the path, "
        f"{st.get('profiles.holder_builder (the reference profile; not on the pipeline' + chr(39) + 's path)', 0):,.0f} µs "
        "plus a draft signature), "
        f"the store writes and the per-chunk queries. {pct(TARGET)} needs all of it below {raw_us * (1 / TARGET - 1):,.0f} µs "
        f"(raw signature {raw_us:,.0f} µs on this CPU). "
        + (
            "The issuer-derived extensions are already built once per CA generation (`profiles.issuer_extensions`). "
            if facts.cached_extensions
            else "Smaller win: build the issuer-derived extensions (AKI, CRL DP, AIA, policies, key usage per kind) once per CA "
            "generation in `profiles` instead of per certificate. "
        )
        + f"Re-parsing a certificate's DER costs {st.get('_issued: re-parse DER for the result', 0):,.1f} µs: not worth avoiding."
    )
    gil_text = (
        f"cryptography releases the GIL for the RSA operation itself (two threads sign at {gil:.2f}x the rate of one, measured here)"
        if gil >= 1.5
        else f"two threads signed at only {gil:.2f}x the rate of one during this run (other processes were using the other cores; "
        "on an idle machine of this type they sign at about 1.9x one, as cryptography releases the GIL for the RSA operation)"
    )
    if facts.threaded:
        lines.append(
            f"5. **Signing in {facts.sign_processes} worker processes, overlapped.** Processes, not threads (two threads signed at "
            f"{gil:.2f}x the rate of one in this run; on an idle machine with cryptography 48, two threads used 0.92 s of CPU per second: "
            "the GIL is held while signing). The parent writes each TBS from the CA's template (`pki.holder_tbs`) "
            f"and sends slices of {signing_pool.SLICE} to the workers over pipes; "
            f"`issue_chunks` records chunk k-1 and prepares chunk k+1 while chunk k is signed; the workers run at nice "
            f"+{signing_pool.WORKER_NICE}, so the parent, the serial part, gets a core whenever it has work. The parent's own work "
            f"(checks, building, store) is then the limit: it used {main.cpu_seconds:.2f} s of CPU for {main.n:,} certificates "
            f"({main.cpu_seconds / main.n * 1e6:,.0f} µs each; a raw signature costs {RAW_CPU_US[0]:,.0f} µs of CPU) "
            f"in {main.seconds:.2f} s of wall time. "
            f"On {os.cpu_count()} cores the parent and the workers share the CPUs, so against raw signing on all cores the "
            f"pipeline cannot pass (signature) / (signature + parent's work per certificate) = "
            f"{pct(RAW_CPU_US[0] / (RAW_CPU_US[0] + main.cpu_seconds / main.n * 1e6))} (CPU times, which load does not inflate) "
            "without making the parent's work cheaper."
        )
    else:
        lines.append(
            f"5. **{'Parallel signing' if met else f'{pct(TARGET)} is not reachable by local fixes'}.** "
            + (
                f"After the fixes above a certificate still costs {1 / (core_r or lookup_r or base_r):.2f} raw signatures; "
                if not met
                else ""
            )
            + f"{gil_text[0].upper() + gil_text[1:]}, so a chunk's certificates can be signed by a thread pool"
            + (f" (measured {pct(threads_r)} of single-threaded raw with {os.cpu_count()} threads)" if threads_r else "")
            + ". Beyond that: worker processes (file backend) or HSM sessions in several processes — a design decision, not a local fix."
        )
    hsm = median_result(results, backend="pkcs11 (SoftHSM2)", store="SQLite", chunk=main.chunk)
    if hsm_stage_rows and hsm:
        hs = {name: us for name, us, _ in hsm_stage_rows}
        lines.append(
            f"6. **PKCS#11 (SoftHSM2).** Through one session the token signs at {hsm.raw:,.0f}/s "
            f"against {hsm.raw_file:,.0f}/s for cryptography. "
            + (
                f"The pipeline's {hsm.signers} workers each open their own session on the token (the key stays in it) "
                "and sign in parallel: "
                if hsm.signers
                else "The pipeline signs in this process, one operation at a time: "
            )
            + f"{pct(hsm.ratio)} of the token's one-session rate and {pct(hsm.ratio_file)} of the file backend's raw "
            f"rate (chunk {hsm.chunk}). The pipeline hands the token TBS bytes written from the template; "
            "`signer.sign_certificate` (single certificates from a builder: CA, responder and verifier certificates) has "
            "cryptography's builder sign with the token key object, "
            f"{hs.get('sign_certificate: TBS encoding + signature', 0):,.0f} µs against "
            f"{hs.get('  raw token signature (C_Sign) alone', 0):,.0f} µs for the token's own signature "
            "(bench/token_signing.py compares it with the hand-written path)."
        )
    if hsm_threads:
        if hsm_threads == "ok":
            lines.append("7. Two `Pkcs11KeyBackend` instances signing from two threads on one token: no failure in this run.")
        else:
            lines.append(
                f"7. **Not a speed issue, found while measuring: two `Pkcs11KeyBackend` instances signing from two threads on one token: "
                f"{hsm_threads}.** python-pkcs11 calls `C_Initialize(NULL)`, which tells the module that the application will not call it "
                "from several threads at once, and releases the GIL around each call; `Pkcs11KeyBackend` serialises calls per *instance* "
                'only. So its docstring\'s advice to "use several instances for parallelism" is unsafe: make the lock per module path '
                "(process-wide) in keystore_pkcs11.py, and parallelise across processes. (One instance used from a thread pool is safe: "
                "its lock serialises the calls.)"
            )
    loads = [r.load[0] for r in results]
    cores = os.cpu_count() or 1
    if loads and sorted(loads)[len(loads) // 2] > cores:
        lines.append(
            f"- **Busy machine: the extra cores were not free.** Median load average {sorted(loads)[len(loads) // 2]:.1f} on {cores} cores "
            "(other jobs on the shared machine). Linux shares CPU time between sessions first (autogroup, "
            f"`/proc/sys/kernel/sched_autogroup_enabled` = {_autogroup()}), then between the processes of a session: the pipeline's parent "
            "and workers share one session's slice, as do the raw signing processes. So with other sessions busy, raw signing in "
            f"{main.signers or 2} processes is hardly faster than in one, and both of the pipeline's ratios tend to "
            "signature / (signature + parent's work per certificate), the figure in finding 5. Only idle cores make the "
            "processes pay; the ratio against one thread is then the one that rises."
        )
    for chunk in sorted({r.chunk for r in results if r.backend == "file" and r.store == "SQLite"})[1:]:
        other = median_ratio(results, backend="file", store="SQLite", chunk=chunk)
        lines.append(f"- Chunk {chunk} instead of {main.chunk} (file, SQLite): {pct(other)} against {pct(main.ratio)}.")
    pg = median_result(results, backend="file", store="PostgreSQL", chunk=main.chunk)
    if pg:
        lines.append(
            f"- PostgreSQL (file backend, chunk {pg.chunk}): {pct(pg.ratio)} of raw: every query and commit is a round trip"
            + (", the per-request CA lookup included." if facts.n_plus_one else ".")
        )
    return lines


# -- main ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=5000, help="N requests per run (default 5000)")
    ap.add_argument("--chunks", default="200,1000", help="chunk sizes, comma-separated (default 200,1000); the first is the main one")
    ap.add_argument("--database-url", help="PostgreSQL server URL whose user may CREATE DATABASE; runs there too")
    ap.add_argument("--no-pkcs11", action="store_true", help="skip the SoftHSM2 runs")
    ap.add_argument("--no-whatif", action="store_true", help="skip the what-if runs")
    ap.add_argument("--repeat", type=int, default=1, help="repeat every configuration (shared machines are noisy)")
    ap.add_argument("--profile-requests", type=int, default=2000, help="requests in the profiled run (default 2000)")
    ap.add_argument("--stage-requests", type=int, default=1000, help="requests for the per-stage timings (default 1000)")
    ap.add_argument("--quick", action="store_true", help="N = 600, profile and stages on 400")
    ap.add_argument(
        "--write", nargs="?", const=str(DOC), metavar="PATH", help=f"write the Markdown report (default {DOC.relative_to(ROOT)})"
    )
    args = ap.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if args.quick:
        args.requests, args.profile_requests, args.stage_requests = 600, 400, 400
    args.chunks = [int(c) for c in args.chunks.split(",")]

    info = machine()
    info["stores"] = store_settings(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="myna-bench-issuance-"))
    try:
        hsm = None if args.no_pkcs11 else softhsm_token(workdir)
        if not args.no_pkcs11 and hsm is None:
            print("SoftHSM2 or python-pkcs11 not available: PKCS#11 runs skipped", file=sys.stderr)
        t0 = time.perf_counter()
        keys = holder_keys(args.requests)
        keygen_s = time.perf_counter() - t0

        def say(r: Result) -> None:
            print(
                f"{r.backend:18s} {r.store:10s} chunk {r.chunk:5d}: {r.rate:8,.0f} certs/s, raw {r.raw:8,.0f}/s, ratio {pct(r.ratio):>5s}"
                f" (vs file raw {r.raw_file:,.0f}/s: {pct(r.ratio_file)})"
                + (f" vs {r.signers} processes raw {r.raw_all:,.0f}/s: {pct(r.ratio_all)}" if r.raw_all else "")
                + f" CPU {r.cpu_seconds:.2f}/{r.seconds:.2f} s load {r.load[0]:.2f}/{r.load[1]:.2f} {r.note}",
                file=sys.stderr,
            )

        # The signing pool and the all-core raw signers start once, before anything is
        # timed, as a long-running platform has its pool started by its first big batch.
        signers = signing_pool.resolve_processes(Settings.from_env(workdir).signing_processes)
        pool_start_s = signing_pool.start_pool(signers) if signers >= 2 else 0.0
        all_cores = AllCores(signers)
        print(f"signing processes: {signers} (pool started in {pool_start_s:.2f} s)", file=sys.stderr)
        facts = inspect_pipeline(workdir, keys[: args.chunks[0]])
        print(f"pipeline: {facts}", file=sys.stderr)
        hsm_threads = hsm_thread_check(hsm) if hsm else ""
        if hsm:
            print(f"two PKCS#11 backends signing from two threads: {hsm_threads}", file=sys.stderr)
        results: list[Result] = []
        stores = [None] + ([args.database_url] if args.database_url else [])
        for _ in range(args.repeat):
            for backend in [None] + ([hsm] if hsm else []):
                for store in stores:
                    for chunk in args.chunks:
                        results.append(run_pipeline(workdir, keys, chunk, backend, store, all_cores=all_cores))
                        say(results[-1])
        whatif: list[Result] = []
        variants = what_ifs(facts)
        if not args.no_whatif and len(variants) > 1:
            for _ in range(args.repeat):
                for variant in variants:
                    whatif.append(run_pipeline(workdir, keys, args.chunks[0], None, None, variant))
                    say(whatif[-1])
        batch = run_batch_file(workdir, keys, args.chunks[0], all_cores)
        all_cores.close()
        say(batch[0])
        gil = gil_check()
        print(f"raw RSA-2048 signature: {raw_cpu():.0f} µs of CPU", file=sys.stderr)
        print(f"RSA-2048 signing, 2 threads / 1 thread: {gil:.2f}x", file=sys.stderr)
        stage_keys = keys[: args.stage_requests]
        stage_rows = stages(workdir, stage_keys, None)
        hsm_stage_rows = stages(workdir, stage_keys[: max(100, len(stage_keys) // 4)], hsm) if hsm else []
        prof_text, prof_rate = profile(workdir, keys[: args.profile_requests], args.chunks[0])
        info["signers"], info["pool_start_s"] = signers, pool_start_s
        md = report(info, args, results, batch, stage_rows, hsm_stage_rows, prof_text, prof_rate, whatif, keygen_s, gil, facts, hsm_threads)
        print(md)
        if args.write:
            Path(args.write).write_text(md + ("" if md.endswith("\n") else "\n"), encoding="utf-8")
            print(f"wrote {args.write}", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
