#!/usr/bin/env python
"""Benchmark: OCSP responders on one population, one load generator, one run:
myna's validity centre (``myna validity serve``, and the centre inside ``myna serve``)
against ``openssl ocsp`` (index file) and ``cfssl ocspserve`` (pre-signed responses);
plus the revocation-to-visible latency at two centres.

    python bench/ocsp.py                   # 1,000,000 certificates, 10 % revoked (~25 min)
    python bench/ocsp.py --quick           # 20,000 certificates, short runs (~5 min)
    python bench/ocsp.py --write           # also write docs/benchmarks-ocsp.md
    python bench/ocsp.py --quick --skip asgi,workers,inproc   # leave parts out

Needs ``openssl`` (3.x, for ``ocsp -multi``), ``wrk`` and ``cfssl`` (Debian packages
openssl, wrk, golang-cfssl) on the PATH, and myna installed.

Method (the report repeats it with the numbers):

1. A real platform in a temporary MYNA_HOME: ``myna init`` (RSA-2048 CAs), a ``centre``
   token and an ``operator`` token, ``myna validity provision`` for centres tokyo and
   osaka (their delegated EC P-256 responders).
2. The population: N random 159-bit serials under card-auth, every tenth revoked, written
   straight into the platform's status feed (``status_feed``: N "issued" events, then
   N/10 "revoked" events). No certificate is signed for them: a responder never sees a
   certificate, only the CertID, and signing N RSA-2048 certificates would take most of
   the run. The centres build their replicas the normal way, by pulling that feed.
3. The same N entries as an ``openssl ca`` index.txt (V and R lines, same revocation times
   and reasons) for ``openssl ocsp``, and as N pre-signed responses (base64 DER, one a
   line, as ``cfssl ocspdump`` writes them) for ``cfssl ocspserve``. The cfssl responses
   are built by myna's own ``Responder.respond`` (same DER layout as myna's: EC P-256
   delegated responder, its certificate included, responderID by key hash, SHA-1 CertID,
   4 h validity). openssl gets its own delegated responder certificates from the same
   card-auth CA, one EC P-256 and one RSA-2048, and ``-resp_key_id``.
4. Requests: RFC 5019 style (one SHA-1 CertID, no nonce), DER, POSTed. A working set of
   W serials (10 % revoked) drawn from the population; and, for myna's cold path, C more
   serials never asked before.
5. myna, started as an operator would: ``myna serve`` (the platform; its in-process centre
   syncs from the store), then ``myna validity serve --source`` for tokyo and osaka (sync
   over HTTP from the platform, --interval 0.2), one after the other. Initial sync time =
   process start to the first "good" answer for the newest serial of the feed (a centre
   answers tryLater until its first complete sync).
6. Revocation-to-visible, with the platform, tokyo and osaka running: R real
   certificates issued through ``IssuanceService``, each asked of both centres once (so
   that a "good" answer sits in their caches), then revoked through the API
   (``POST /api/v1/certificates/{serial}/revocation``) at random moments, while a poller
   asks both centres about each revoked serial every 10 ms until the answer is
   "revoked". Latency = from the moment the revocation request was sent (an upper bound:
   it includes the API call) to the first "revoked" answer.
7. Load, one server at a time on 127.0.0.1 (osaka stopped; the platform stays up while a
   myna centre is measured, since centres pull its feed every 0.2 s):
   ``myna validity serve`` (tokyo; its bare uvloop + httptools server); two what-ifs on
   tokyo's bundle and replica, not product commands: bench/ocsp_app.py under uvicorn
   (the same Centre and SyncLoop behind uvicorn's ASGI server and ValidityApp, as
   ``myna validity serve`` ran before) and bench/ocsp_workers.py (two processes of the
   product server on one port with SO_REUSEPORT); the centre inside ``myna serve``; then \
``openssl ocsp -index`` (EC and RSA responder; one process and
   ``-multi 2``), restarted before every wrk run (it hangs for good once a client closes
   a connection without sending a request, as wrk does at the end of a run: OpenSSL issues
   #23934 and #31129); and ``cfssl ocspserve`` (once it has loaded the N responses).
8. For every server: a sample of answers is parsed and checked (status, serial, signature
   by the responder certificate, responder certificate issued by the CA); then wrk with
   bench/ocsp_wrk.lua: for myna first a cold run (every request a serial not asked before:
   a replica lookup and an EC signature each), then a warm-up, then peak (closed loop,
   ``-t2 -c64``, the median of 3 runs), then half of that server's own peak at a fixed
   rate (same wrk, requests paced by the script's delay(); see ocsp_wrk.lua for why its
   latencies are open-loop ones when ``late`` is 0).

The load generator runs on the same 2 cores as the server it measures: every number is
"server + wrk on one small machine", and the CPU each used is reported beside it, with
the CPU everything else on the machine used meanwhile (a shared machine is noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import multiprocessing
import os
import platform as pyplatform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks-ocsp.md"
LUA = ROOT / "bench" / "ocsp_wrk.lua"
KEEP_MARKER = "<!-- Below this line: written by hand; bench/ocsp.py --write keeps it. -->"
UTC = dt.timezone.utc
SLUG = "card-auth"
REASONS = ["request", "resident-change", "record-error"]  # myna reasons, cycled over revoked entries


def openssl_ready(multi: int | None):
    """`openssl ocsp` loads the index, then (one process) logs "waiting for OCSP client
    connections" or (-multi N) forks N children, which log that to syslog instead."""
    if multi:
        return lambda proc: len(group_pids(proc.popen.pid)) >= multi + 1
    return lambda proc: "waiting for OCSP client connections" in proc.log_tail(50)


VALIDITY = dt.timedelta(hours=4)  # nextUpdate - thisUpdate, as myna's CentreConfig.response_validity_s


@dataclass
class Plan:
    n: int = 1_000_000  # population
    revoked_every: int = 10  # every tenth revoked: 10 %
    work: int = 20_000  # working set of the load
    cold: int = 150_000  # serials for myna's cold run
    threads: int = 2
    conns: int = 64
    warm_s: int = 5
    cold_s: int = 8
    peak_s: int = 10
    peak_runs: int = 3  # peak is the median of these (the machine may be shared)
    half_s: int = 20
    sample: int = 400  # answers checked per server
    revocations: int = 200
    revocation_gap_s: float = 0.25  # mean gap between revocations (uniform 0..2x)
    poll_s: float = 0.01
    skip: set = field(default_factory=set)  # parts left out (--skip)


def quick_plan() -> Plan:
    return Plan(
        n=20_000,
        work=2_000,
        cold=12_000,
        warm_s=2,
        cold_s=4,
        peak_s=4,
        peak_runs=2,
        half_s=5,
        sample=100,
        revocations=40,
        revocation_gap_s=0.15,
    )


# -- small helpers ---------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1).strip()
    except (OSError, AttributeError):
        cpu = pyplatform.processor() or "unknown"
    import cryptography
    import uvicorn

    def out(cmd: list[str]) -> str:
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip()
        except (OSError, subprocess.TimeoutExpired):
            return "n/a"

    cfssl = out(["cfssl", "version"])
    wrk = out(["wrk", "-v"]).splitlines()[0] if shutil.which("wrk") else "n/a"
    cfssl_deb = out(["dpkg-query", "-W", "-f", "${Version}", "golang-cfssl"])
    mods = []
    for name in ("uvloop", "httptools"):
        try:
            mods.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            mods.append(f"{name} absent")
    return {
        "arch": pyplatform.machine(),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "date": dt.datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": pyplatform.release(),
        "python": pyplatform.python_version(),
        "cryptography": cryptography.__version__,
        "uvicorn": f"uvicorn {uvicorn.__version__} ({', '.join(mods)})",
        "openssl": out(["openssl", "version"]),
        "cfssl": " ".join(cfssl.split()) + (f" (Debian golang-cfssl {cfssl_deb})" if cfssl_deb and "no packages" not in cfssl_deb else ""),
        "wrk": wrk,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:  # field 5 of stat: pgrp
                pids.append(int(entry))
    return pids


class Proc:
    """A server this benchmark started, in its own process group (stopped by that id)."""

    def __init__(self, name: str, cmd: list[str], env: dict, logdir: Path, cwd: Path | None = None):
        self.name, self.cmd = name, cmd
        self.logfile = logdir / f"{name}.log"
        self.started = time.perf_counter()
        # its own process group, not its own session: `openssl ocsp -multi` calls
        # setpgid(getpid(), getpid()), which a session leader may not (it then exits)
        self.popen = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=open(self.logfile, "wb"), stderr=subprocess.STDOUT, process_group=0)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def cpu_s(self) -> float:
        """User + system CPU seconds of every live process of its group."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in group_pids(self.popen.pid):
            try:
                f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(f[11]) + int(f[12])) / tick  # utime, stime
        return total

    def rss_mb(self) -> float:
        total = 0
        for pid in group_pids(self.popen.pid):
            try:
                m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
            except OSError:
                continue
            total += int(m.group(1)) if m else 0
        return total / 1024

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        for pid in group_pids(self.popen.pid):  # -multi children
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def wait_port(port: int, proc: Proc, timeout: float, ready=None) -> float:
    """Seconds until ``proc`` listens on ``port``; with ``ready`` (a callable), until that
    says so instead (no probe connection: `openssl ocsp` hangs on one, see ocsp_wrk.lua)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
        if ready is not None:
            if ready(proc):
                return time.perf_counter() - t0
            time.sleep(0.05)
            continue
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return time.perf_counter() - t0
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{proc.name} did not listen on {port} within {timeout} s:\n{proc.log_tail()}")


def fmt_ms(us: float) -> str:
    ms = us / 1000
    return f"{ms:.2f} ms" if ms < 10 else f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"


def fmt_s(s: float) -> str:
    return f"{s:.2f} s" if s < 10 else f"{s:.1f} s" if s < 100 else f"{s:.0f} s"


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]


# -- the population ---------------------------------------------------------------------


@dataclass
class Population:
    serials: list[int]
    revoked_every: int
    base: dt.datetime  # issued_at of entry 0
    not_after: dt.datetime

    def revoked(self, i: int) -> bool:
        return i % self.revoked_every == 0

    def issued_at(self, i: int) -> dt.datetime:
        return self.base + dt.timedelta(seconds=i * 20)

    def revoked_at(self, i: int) -> dt.datetime:
        return self.issued_at(i) + dt.timedelta(days=30)

    def reason(self, i: int) -> str:
        return REASONS[(i // self.revoked_every) % len(REASONS)]


def make_population(n: int, revoked_every: int, seed: int = 20260601) -> Population:
    from myna.pki import serials as serials_mod  # noqa: F401  (same width rules: 159 random bits)

    rng = random.Random(seed)
    seen: set[int] = set()
    out: list[int] = []
    while len(out) < n:
        s = rng.getrandbits(159)
        if s and s not in seen:
            seen.add(s)
            out.append(s)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    # issued over the past ~8 months at most (20 s apart), all valid for years to come
    base = now - dt.timedelta(seconds=20 * n) - dt.timedelta(days=31)
    return Population(out, revoked_every, base, now + dt.timedelta(days=4 * 365))


def fill_feed(p, pop: Population, authority_id: int) -> None:
    """N "issued" events, then one "revoked" event per revoked entry, as IssuanceService
    and RevocationService would have appended them (Core executemany, 50,000 a batch)."""
    from sqlalchemy import insert

    from myna.pki import serials
    from myna.store import models as m

    def batches(rows, size=50_000):
        chunk = []
        for r in rows:
            chunk.append(r)
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    issued = (
        {
            "serial": serials.to_store(s),
            "authority_id": authority_id,
            "event": "issued",
            "at": pop.issued_at(i),
            "not_after": pop.not_after,
            "reason": None,
        }
        for i, s in enumerate(pop.serials)
    )
    revoked = (
        {
            "serial": serials.to_store(s),
            "authority_id": authority_id,
            "event": "revoked",
            "at": pop.revoked_at(i),
            "not_after": pop.not_after,
            "reason": pop.reason(i),
        }
        for i, s in enumerate(pop.serials)
        if pop.revoked(i)
    )
    for rows in (issued, revoked):
        for chunk in batches(rows):
            with p.db.session() as s:
                s.execute(insert(m.StatusEvent), chunk)


def feed_head(p) -> int:
    from sqlalchemy import func, select

    from myna.store import models as m

    with p.db.session() as s:
        return s.scalar(select(func.max(m.StatusEvent.seq))) or 0


# -- the other responders' material ------------------------------------------------------


def make_responder(ca, name: str, algorithm: str, workdir: Path) -> tuple[Path, Path]:
    """A delegated OCSP responder certificate from the card-auth CA (myna's own profile)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from myna.pki import ocsp, serials
    from myna.pki.signer import sign_certificate

    key = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ec" else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = sign_certificate(
        ocsp.responder_builder(ca.cert, key.public_key(), name, ca.slug, serials.new_serial(), dt.datetime.now(UTC)), ca.key
    )
    cert_path, key_path = workdir / f"{name}.pem", workdir / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def write_index(pop: Population, path: Path) -> None:
    """``openssl ca`` database: V/R, expiry, revocation time[,reason], serial (as BN_bn2hex
    prints it: upper case, whole bytes; ``openssl ocsp`` looks serials up as text), file, DN."""
    from myna.pki import serials
    from myna.pki.revocation import RevocationReason

    names = {r: "".join(w.capitalize() if k else w for k, w in enumerate(RevocationReason(r).x509_reason.name.split("_"))) for r in REASONS}
    exp = pop.not_after.strftime("%y%m%d%H%M%SZ")
    with open(path, "w", newline="\n") as f:
        for i, s in enumerate(pop.serials):
            h = serials.to_display(s)
            if pop.revoked(i):
                f.write(f"R\t{exp}\t{pop.revoked_at(i).strftime('%y%m%d%H%M%SZ')},{names[pop.reason(i)]}\t{h}\tunknown\t/CN=s{h}\n")
            else:
                f.write(f"V\t{exp}\t\t{h}\tunknown\t/CN=s{h}\n")
    Path(f"{path}.attr").write_text("unique_subject = no\n")


_CFSSL_JOB: dict = {}


def _cfssl_part(args: tuple[int, int, str]) -> int:
    """Child process: pre-sign responses for entries [start, stop) into one part file."""
    start, stop, out = args
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from myna.pki.ocsp import CertStatus, OcspQuery, Responder
    from myna.pki.revocation import RevocationReason

    job = _CFSSL_JOB
    pop: Population = job["pop"]
    r = Responder(
        slug=SLUG,
        issuer=x509.load_pem_x509_certificate(job["issuer"]),
        cert=x509.load_pem_x509_certificate(job["cert"]),
        key=serialization.load_pem_private_key(job["key"], password=None),
    )
    nh, kh = r._hashes["sha1"]
    this_update = job["this_update"]
    next_update = this_update + VALIDITY
    with open(out, "w") as f:
        for i in range(start, stop):
            q = OcspQuery("sha1", nh, kh, pop.serials[i], None)
            if pop.revoked(i):
                der = r.respond(
                    q, CertStatus.REVOKED, this_update, next_update, pop.revoked_at(i), RevocationReason(pop.reason(i)).x509_reason
                )
            else:
                der = r.respond(q, CertStatus.GOOD, this_update, next_update)
            f.write(base64.b64encode(der).decode() + "\n")
    return stop - start


def write_cfssl_responses(pop: Population, issuer_pem: bytes, cert: Path, key: Path, path: Path, procs: int = 2) -> None:
    _CFSSL_JOB.update(
        pop=pop, issuer=issuer_pem, cert=cert.read_bytes(), key=key.read_bytes(), this_update=dt.datetime.now(UTC).replace(microsecond=0)
    )
    n = len(pop.serials)
    step = 50_000
    parts = [(a, min(n, a + step), f"{path}.part{a:09d}") for a in range(0, n, step)]
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        pool.map(_cfssl_part, parts)
    with open(path, "wb") as out:
        for _, _, part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
            os.unlink(part)


@dataclass
class RequestSet:
    path: Path
    serials: list[int]
    expected: list[str]  # "good" / "revoked"
    ders: list[bytes]


def ocsp_request(name_hash: bytes, key_hash: bytes, serial: int) -> bytes:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp as x509_ocsp

    return (
        x509_ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(name_hash, key_hash, serial, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )


def make_request_sets(pop: Population, issuer, plan: Plan, workdir: Path, seed: int = 7) -> tuple[RequestSet, RequestSet]:
    """A working set (10 % revoked) and a disjoint cold set (same mix), DER in files for wrk."""
    from myna.pki.ocsp import issuer_hashes

    nh, kh = issuer_hashes(issuer, "sha1")
    rng = random.Random(seed)
    n = len(pop.serials)
    revoked = [i for i in range(n) if pop.revoked(i)]
    good = [i for i in range(n) if not pop.revoked(i)]
    sets = []
    for name, size in (("work", plan.work), ("cold", plan.cold)):
        k_rev = size // plan.revoked_every
        chosen = rng.sample(revoked, k_rev) + rng.sample(good, size - k_rev)
        taken = set(chosen)
        revoked = [i for i in revoked if i not in taken]
        good = [i for i in good if i not in taken]
        rng.shuffle(chosen)
        ders = [ocsp_request(nh, kh, pop.serials[i]) for i in chosen]
        path = workdir / f"requests-{name}.bin"  # for ocsp_wrk.lua: 2-byte length, DER, ...
        path.write_bytes(b"".join(len(d).to_bytes(2, "big") + d for d in ders))
        sets.append(RequestSet(path, [pop.serials[i] for i in chosen], ["revoked" if pop.revoked(i) else "good" for i in chosen], ders))
    return sets[0], sets[1]


# -- checking answers ---------------------------------------------------------------------


def check_answers(url: str, rs: RequestSet, k: int, issuer, expected_responder=None) -> dict:
    """POST k requests of the set; parse and check every answer."""
    import httpx
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509 import ocsp as x509_ocsp

    ok, problems, sizes = 0, [], []
    responder_cn = None
    with httpx.Client(timeout=10) as c:
        for i in range(min(k, len(rs.ders))):
            r = c.post(url, content=rs.ders[i], headers={"Content-Type": "application/ocsp-request"})
            try:
                resp = x509_ocsp.load_der_ocsp_response(r.content)
                if resp.response_status is not x509_ocsp.OCSPResponseStatus.SUCCESSFUL:
                    raise ValueError(f"status {resp.response_status.name}")
                if resp.serial_number != rs.serials[i]:
                    raise ValueError("serial differs")
                got = resp.certificate_status.name.lower()
                if got != rs.expected[i]:
                    raise ValueError(f"{got}, expected {rs.expected[i]}")
                signer = resp.certificates[0]
                signer.verify_directly_issued_by(issuer)
                pub = signer.public_key()
                if isinstance(pub, ec.EllipticCurvePublicKey):
                    pub.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
                elif isinstance(pub, rsa.RSAPublicKey):
                    pub.verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(), resp.signature_hash_algorithm)
                if resp.next_update_utc is None:
                    raise ValueError("no nextUpdate")
                responder_cn = signer.subject.rfc4514_string()
                ok += 1
                sizes.append(len(r.content))
            except Exception as exc:  # noqa: BLE001 - reported
                problems.append(f"{rs.serials[i]:x}: {exc}")
    return {
        "checked": min(k, len(rs.ders)),
        "ok": ok,
        "problems": problems[:5],
        "size": statistics.mean(sizes) if sizes else 0,
        "responder": responder_cn,
    }


def ocsp_status(content: bytes) -> str:
    from cryptography.x509 import ocsp as x509_ocsp

    resp = x509_ocsp.load_der_ocsp_response(content)
    if resp.response_status is not x509_ocsp.OCSPResponseStatus.SUCCESSFUL:
        return resp.response_status.name.lower()
    return resp.certificate_status.name.lower()


# -- wrk ------------------------------------------------------------------------------------


def busy_cpu_s() -> float:
    """CPU seconds spent busy by the whole machine so far (all processes, /proc/stat)."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, rs: RequestSet, mode: str, seconds: int, plan: Plan, rate: float | None = None, server: Proc | None = None) -> dict:
    cmd = [
        "wrk",
        f"-t{plan.threads}",
        f"-c{plan.conns}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA),
        url,
        "--",
        str(rs.path),
        mode,
        str(plan.threads),
    ]
    env = dict(os.environ)
    if rate:
        env["OCSPBENCH_RATE"] = f"{rate:.0f}"
    cpu0 = server.cpu_s() if server else 0.0
    busy0 = busy_cpu_s()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 120)
    wall = time.perf_counter() - w0  # the CPU figures are averages over the whole wrk process
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1 = busy_cpu_s()
    m = re.search(r"^OCSPBENCH (\{.*\})$", res.stdout, re.M)
    if not m:
        raise RuntimeError(f"wrk failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    out = json.loads(m.group(1))
    secs = out["duration_us"] / 1e6
    out["rps"] = out["requests"] / secs
    out["errors"] = sum(out[k] for k in ("connect", "read", "write", "status", "timeout"))
    out["mean_bytes"] = out["bytes"] / max(1, out["requests"])
    out["server_cpu"] = ((server.cpu_s() - cpu0) / wall) if server else None  # cores
    out["wrk_cpu"] = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / wall
    out["wall"] = wall
    # everything else the machine did meanwhile (other users' processes, the kernel's
    # softirq work for the loopback traffic is mostly charged to server and wrk)
    out["other_cpu"] = max(0.0, (busy1 - busy0) / wall - (out["server_cpu"] or 0) - out["wrk_cpu"])
    # requests per CPU-second of the server: less sensitive than req/s to what else runs
    out["per_cpu_s"] = out["requests"] / max(1e-9, server.cpu_s() - cpu0) if server else None
    out["rate"] = rate
    out["mode"] = mode
    out["seconds"] = seconds
    out["cmd"] = ("OCSPBENCH_RATE=%.0f " % rate if rate else "") + " ".join(cmd)
    return out


@dataclass
class ServerResult:
    name: str
    what: str
    command: str
    check: dict
    runs: dict = field(default_factory=dict)  # "cold", "warm-up", "peak", "half"
    notes: list[str] = field(default_factory=list)
    start_s: float | None = None
    rss_mb: float | None = None


def load_server(
    name: str,
    what: str,
    command: str,
    url: str,
    proc: Proc,
    work: RequestSet,
    plan: Plan,
    issuer,
    cold: RequestSet | None = None,
    restart=None,
) -> ServerResult:
    """Check answers, then: [cold run], warm-up, peak, half of peak at a fixed rate.
    ``restart`` (openssl): a callable that stops the server and returns a fresh one, called
    before each wrk run (see ``openssl_server``)."""

    def fresh() -> Proc:
        nonlocal proc
        if restart is not None:
            proc = restart()
        return proc

    log(f"{name}: checking {plan.sample} answers")
    res = ServerResult(name, what, command, check_answers(url, work, plan.sample, issuer))
    if res.check["ok"] != res.check["checked"]:
        log(f"{name}: answer problems: {res.check['problems']}")
    if cold is not None:
        log(f"{name}: cold run {plan.cold_s} s (serials never asked before)")
        res.runs["cold"] = wrk(url, cold, "seq", plan.cold_s, plan, server=fresh())
        if res.runs["cold"]["requests"] > len(cold.ders):
            res.notes.append(
                f"the cold run asked {res.runs['cold']['requests']:,} times for {len(cold.ders):,} serials: "
                "the part past the first pass was warm"
            )
    log(f"{name}: warm-up {plan.warm_s} s")
    res.runs["warm-up"] = wrk(url, work, "random", plan.warm_s, plan, server=fresh())
    log(f"{name}: peak, {plan.peak_runs} x {plan.peak_s} s")
    peaks = sorted((wrk(url, work, "random", plan.peak_s, plan, server=fresh()) for _ in range(plan.peak_runs)), key=lambda r: r["rps"])
    res.runs["peak"] = dict(peaks[(len(peaks) - 1) // 2], all_rps=[r["rps"] for r in peaks], all_other_cpu=[r["other_cpu"] for r in peaks])
    half = res.runs["peak"]["rps"] / 2
    log(
        f"{name}: peak {res.runs['peak']['rps']:,.0f} req/s, p50 {fmt_ms(res.runs['peak']['p50_us'])}, "
        f"p99 {fmt_ms(res.runs['peak']['p99_us'])}; "
        f"half rate {half:,.0f} req/s for {plan.half_s} s"
    )
    res.runs["half"] = wrk(url, work, "random", plan.half_s, plan, rate=half, server=fresh())
    res.rss_mb = proc.rss_mb()
    r = res.runs["half"]
    log(f"{name}: at {half:,.0f} req/s: p50 {fmt_ms(r['p50_us'])} p99 {fmt_ms(r['p99_us'])} late {r['late']} errors {r['errors']}")
    return res


# -- myna processes ----------------------------------------------------------------------


def wait_good(url: str, der: bytes, proc: Proc, timeout: float) -> float:
    """Seconds until ``url`` answers "good" for ``der`` (tryLater until a centre's first complete sync)."""
    import httpx

    t0 = time.perf_counter()
    with httpx.Client(timeout=30) as c:
        while time.perf_counter() - t0 < timeout:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
            try:
                r = c.post(url, content=der, headers={"Content-Type": "application/ocsp-request"})
                if r.status_code == 200 and ocsp_status(r.content) == "good":
                    return time.perf_counter() - proc.started
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
    raise RuntimeError(f"{proc.name}: no 'good' answer within {timeout} s:\n{proc.log_tail()}")


def issue_real(p, count: int) -> list[int]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from myna.authority.issuance import IssuanceRequest, IssuanceService
    from myna.pki.basic4 import Basic4, Sex
    from myna.pki.kinds import CertKind
    from myna.residents.bulk import register_bulk

    # Issuance is for residents on the register only (R-CERT-4): these residents are put
    # there first, in bulk (Core inserts; not part of what is measured).
    first, municipality = 20**7, "131016"
    register_bulk(
        p, range(first, first + count), municipality, Basic4("山田 花子", dt.date(1980, 5, 17), Sex.FEMALE, "東京都千代田区千代田1-1")
    )
    reqs = []
    for i in range(count):
        pub = (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        reqs.append(
            IssuanceRequest(
                request_id=f"ocsp-bench-{i:05d}",
                kind=CertKind.CARD_AUTH,
                public_key=pub,
                resident_code=f"{first + i:011d}",
                date_of_birth=dt.date(1980, 5, 17),
                municipality_code=municipality,
            )
        )
    return [x.serial for x in IssuanceService(p).issue_many(reqs, "bench")]


async def revocation_to_visible(platform_url: str, op_token: str, centres: dict[str, str], serials_: list[int], issuer, plan: Plan) -> dict:
    """Revoke each serial through the API at random moments; poll every centre until it says revoked."""
    import httpx

    from myna.pki import serials
    from myna.pki.ocsp import issuer_hashes

    nh, kh = issuer_hashes(issuer, "sha1")
    ders = {s: ocsp_request(nh, kh, s) for s in serials_}
    headers = {"Content-Type": "application/ocsp-request"}
    rng = random.Random(99)
    out: dict[str, list[float]] = {c: [] for c in centres}
    api_s: list[float] = []
    polls = {c: 0 for c in centres}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        # every serial answered "good" by every centre first: the good answer is cached
        for s in serials_:
            for url in centres.values():
                while True:
                    r = await client.post(url, content=ders[s], headers=headers)
                    if ocsp_status(r.content) == "good":
                        break
                    await asyncio.sleep(0.05)

        async def watch(centre: str, url: str, s: int, t0: float) -> None:
            deadline = t0 + 30
            while time.perf_counter() < deadline:
                r = await client.post(url, content=ders[s], headers=headers)
                polls[centre] += 1
                if ocsp_status(r.content) == "revoked":
                    out[centre].append(time.perf_counter() - t0)
                    return
                await asyncio.sleep(plan.poll_s)
            out[centre].append(float("inf"))

        tasks = []
        for s in serials_:
            await asyncio.sleep(rng.uniform(0, 2 * plan.revocation_gap_s))
            t0 = time.perf_counter()
            r = await client.post(
                f"{platform_url}/api/v1/certificates/{serials.to_display(s)}/revocation",
                json={"reason": "request"},
                headers={"Authorization": f"Bearer {op_token}"},
            )
            api_s.append(time.perf_counter() - t0)
            if r.status_code != 201:
                raise RuntimeError(f"revocation failed: {r.status_code} {r.text}")
            tasks += [asyncio.create_task(watch(c, u, s, t0)) for c, u in centres.items()]
        await asyncio.gather(*tasks)
    return {"latencies": out, "api_s": api_s, "polls": polls}


# -- the run ---------------------------------------------------------------------------------


def run(plan: Plan, workdir: Path) -> dict:
    from cryptography.hazmat.primitives import serialization

    import myna.authority.issuance  # noqa: F401  (imported now: the tree may be edited while this runs)
    from myna.authority.platform import Platform
    from myna.pki.ocsp import issuer_hashes
    from myna.settings import Settings

    report: dict = {"plan": plan, "machine": machine(), "steps": {}, "servers": [], "notes": []}
    steps = report["steps"]
    logdir = workdir / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    platform_port = free_port()
    platform_url = f"http://127.0.0.1:{platform_port}"
    env = dict(os.environ, MYNA_HOME=str(home), MYNA_PUBLIC_URL=platform_url)
    env.pop("MYNA_DATABASE_URL", None)
    myna = [sys.executable, "-m", "myna.cli"]

    def cli(*args: str) -> str:
        r = subprocess.run([*myna, *args], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"myna {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
        return r.stdout

    # 1. platform
    t0 = time.perf_counter()
    cli("init", "--operator", "bench")
    centre_token = cli("token", "create", "--role", "centre", "--label", "ocsp-bench centres").strip()
    op_token = cli("token", "create", "--role", "operator", "--label", "ocsp-bench revoker").strip()
    for c in ("tokyo", "osaka"):
        cli("validity", "provision", "--centre", c)
    steps["platform: myna init, tokens, validity provision tokyo + osaka"] = time.perf_counter() - t0
    p = Platform.open(Settings.from_env(home))
    ca = p.authority(SLUG)
    issuer = ca.cert
    issuer_pem = issuer.public_bytes(serialization.Encoding.PEM)
    (workdir / "ca.pem").write_bytes(issuer_pem)

    # 2. population
    log(f"population: {plan.n:,} serials, 1 in {plan.revoked_every} revoked")
    t0 = time.perf_counter()
    pop = make_population(plan.n, plan.revoked_every)
    steps["population: serials (Python)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fill_feed(p, pop, ca.id)
    steps[f"population: {plan.n + plan.n // plan.revoked_every:,} events into status_feed (SQLAlchemy Core)"] = time.perf_counter() - t0
    head = feed_head(p)
    report["head"] = head

    # 3. the others' material, and the requests
    t0 = time.perf_counter()
    responders = {alg: make_responder(ca, f"openssl-{alg}", alg, workdir) for alg in ("ec", "rsa")}
    cfssl_cert, cfssl_key = make_responder(ca, "cfssl-ec", "ec", workdir)
    write_index(pop, workdir / "index.txt")
    steps["openssl: index.txt + responder certificates"] = time.perf_counter() - t0
    log("cfssl: pre-signing responses")
    t0 = time.perf_counter()
    write_cfssl_responses(pop, issuer_pem, cfssl_cert, cfssl_key, workdir / "responses.txt")
    steps[f"cfssl: {plan.n:,} pre-signed responses (myna Responder.respond, 2 processes)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    work, cold = make_request_sets(pop, issuer, plan, workdir)
    steps["requests: working set + cold set (DER)"] = time.perf_counter() - t0
    report["sizes"] = {
        "index.txt": (workdir / "index.txt").stat().st_size,
        "responses.txt": (workdir / "responses.txt").stat().st_size,
    }
    nh, kh = issuer_hashes(issuer, "sha1")
    newest = ocsp_request(nh, kh, pop.serials[-1])  # last "issued" event: good when synced
    if pop.revoked(len(pop.serials) - 1):
        newest = ocsp_request(nh, kh, pop.serials[-2])
    del pop

    procs: list[Proc] = []

    def start(name: str, cmd: list[str], **kw) -> Proc:
        pr = Proc(name, cmd, env, logdir, **kw)
        procs.append(pr)
        return pr

    try:
        # 4. myna: the platform with its in-process centre, then tokyo and osaka over HTTP
        log("myna serve: starting; its in-process centre syncs from the store")
        plat = start("myna-serve", [*myna, "serve", "--port", str(platform_port)])
        wait_port(platform_port, plat, 120)
        inproc_url = f"{platform_url}/ocsp/{SLUG}"
        steps["sync: myna serve's in-process centre (DbFeed), process start to synced"] = wait_good(inproc_url, newest, plat, 3600)
        centre_urls = {}
        centre_procs = {}
        for c in ("tokyo", "osaka"):
            port = free_port()
            log(f"{c}: myna validity serve --source {platform_url}")
            pr = start(
                c,
                [
                    *myna,
                    "validity",
                    "serve",
                    "--centre",
                    c,
                    "--port",
                    str(port),
                    "--source",
                    platform_url,
                    "--token",
                    centre_token,
                    "--interval",
                    "0.2",
                ],
            )
            centre_urls[c] = f"http://127.0.0.1:{port}/ocsp/{SLUG}"
            centre_procs[c] = pr
            wait_port(port, pr, 120)
            cpu0 = pr.cpu_s()
            steps[f"sync: {c} (myna validity serve --source, HttpFeed), process start to synced"] = wait_good(
                centre_urls[c], newest, pr, 3600
            )
            report.setdefault("sync_cpu", {})[c] = pr.cpu_s() - cpu0
            report.setdefault("replica_mb", {})[c] = (home / "centres" / c / "status.db").stat().st_size / 2**20
        report["platform_sync_cpu"] = plat.cpu_s()

        # 5. revocation-to-visible at both centres
        if "revocation" not in plan.skip:
            log(f"revocation-to-visible: issuing {plan.revocations} certificates")
            real = issue_real(p, plan.revocations)
            log("revocation-to-visible: revoking through the API, polling tokyo and osaka")
            t0 = time.perf_counter()
            report["visible"] = asyncio.run(revocation_to_visible(platform_url, op_token, centre_urls, real, issuer, plan))
            steps["revocation-to-visible run"] = time.perf_counter() - t0

        # 6. load: tokyo alone (osaka stopped; the platform stays up: tokyo pulls its feed)
        centre_procs["osaka"].stop()
        tokyo = centre_procs["tokyo"]
        cmd_tokyo = (
            f"myna validity serve --centre tokyo --port PORT --source {platform_url.replace(str(platform_port), 'PLATFORM_PORT')} "
            "--token TOKEN --interval 0.2"
        )
        if "tokyo" not in plan.skip:
            report["servers"].append(
                load_server(
                    "myna validity serve",
                    "myna, own process, synced over HTTP; 1 process",
                    cmd_tokyo,
                    centre_urls["tokyo"],
                    tokyo,
                    work,
                    plan,
                    issuer,
                    cold,
                )
            )
        tokyo.stop()
        if "asgi" not in plan.skip:
            # The previous server of `myna validity serve` (uvicorn + ValidityApp, with
            # today's Centre): what the bare protocol changes, measured in the same run.
            port = free_port()
            wenv = dict(env, OCSPBENCH_CENTRE="tokyo", OCSPBENCH_SOURCE=platform_url, OCSPBENCH_TOKEN=centre_token)
            wcmd = [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "--app-dir",
                str(ROOT / "bench"),
                "ocsp_app:make",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ]
            log("what-if: tokyo's centre behind uvicorn + ValidityApp (the previous server)")
            pr = Proc("myna-asgi", wcmd, wenv, logdir)
            procs.append(pr)
            wait_port(port, pr, 120)
            url = f"http://127.0.0.1:{port}/ocsp/{SLUG}"
            wait_good(url, newest, pr, 300)
            report["servers"].append(
                load_server(
                    "myna centre under uvicorn (ASGI, the previous server; what-if)",
                    "what-if, not a product command: the same Centre + SyncLoop (tokyo's bundle and replica) behind uvicorn's ASGI server "
                    "and ValidityApp, as `myna validity serve` ran before (bench/ocsp_app.py)",
                    "uvicorn --factory --app-dir bench ocsp_app:make --port PORT --no-access-log",
                    url,
                    pr,
                    work,
                    plan,
                    issuer,
                    cold,
                )
            )
            pr.stop()
        if "inproc" not in plan.skip:
            report["servers"].append(
                load_server(
                    "myna serve (in-process centre)",
                    "myna platform process, centre fed from the store; 1 process",
                    "myna serve --port PORT",
                    inproc_url,
                    plat,
                    work,
                    plan,
                    issuer,
                    cold,
                )
            )
        if "workers" not in plan.skip:
            port = free_port()
            wcmd = [
                sys.executable,
                str(ROOT / "bench" / "ocsp_workers.py"),
                "--workers",
                "2",
                "--centre",
                "tokyo",
                "--port",
                str(port),
                "--source",
                platform_url,
                "--token",
                centre_token,
            ]
            log("what-if: two processes of the product server on one port (SO_REUSEPORT), tokyo's replica")
            pr = start("myna-2-workers", wcmd)
            wait_port(port, pr, 120)
            url = f"http://127.0.0.1:{port}/ocsp/{SLUG}"
            # both workers must be synced: ask until several answers in a row are good
            for _ in range(8):
                wait_good(url, newest, pr, 300)
            report["servers"].append(
                load_server(
                    "myna validity server, 2 processes (what-if)",
                    "what-if, not a product command: two processes of myna.validation.server on one port (SO_REUSEPORT), "
                    "each its own Centre + SyncLoop on tokyo's replica (bench/ocsp_workers.py)",
                    "python bench/ocsp_workers.py --workers 2 --centre tokyo --port PORT --source PLATFORM --token TOKEN",
                    url,
                    pr,
                    work,
                    plan,
                    issuer,
                    cold,
                )
            )
            pr.stop()
        plat.stop()

        # 7. openssl ocsp: a fresh process for every wrk run. When a client closes a
        # connection without sending a request (wrk does so to the connections it has
        # open at the end of a run), `openssl ocsp` spins on it and never answers again
        # (OpenSSL issues #23934, #31129; a -multi child likewise).
        for alg in () if "openssl" in plan.skip else ("ec", "rsa"):
            cert, key = responders[alg]
            for multi in (None, 2):
                port = free_port()
                cmd = [
                    "openssl",
                    "ocsp",
                    "-index",
                    str(workdir / "index.txt"),
                    "-port",
                    str(port),
                    "-rsigner",
                    str(cert),
                    "-rkey",
                    str(key),
                    "-CA",
                    str(workdir / "ca.pem"),
                    "-ndays",
                    "1",
                    "-resp_key_id",
                    "-ignore_err",
                ] + (["-multi", str(multi)] if multi else [])
                name = f"openssl ocsp, {'EC P-256' if alg == 'ec' else 'RSA-2048'} responder" + (f", -multi {multi}" if multi else "")
                tag = f"openssl-{alg}-{multi or 1}"
                log(f"{name}: starting (loads index.txt)")
                holder = {"proc": start(tag, cmd, cwd=workdir), "starts": []}
                holder["starts"].append(wait_port(port, holder["proc"], 600, openssl_ready(multi)))

                def restart(holder=holder, cmd=cmd, tag=tag, port=port, multi=multi) -> Proc:
                    holder["proc"].stop()
                    holder["proc"] = start(tag, cmd, cwd=workdir)
                    holder["starts"].append(wait_port(port, holder["proc"], 600, openssl_ready(multi)))
                    return holder["proc"]

                res = load_server(
                    name,
                    "openssl ocsp -index (signs every response; HTTP/1.0, one connection per request)",
                    " ".join(cmd).replace(str(workdir) + "/", "").replace(str(port), "PORT"),
                    f"http://127.0.0.1:{port}/",
                    holder["proc"],
                    work,
                    plan,
                    issuer,
                    restart=restart,
                )
                res.start_s = max(holder["starts"])
                report["servers"].append(res)
                holder["proc"].stop()

        # 8. cfssl ocspserve
        if "cfssl" in plan.skip:
            return report
        port = free_port()
        cmd = ["cfssl", "ocspserve", "-port", str(port), "-responses", str(workdir / "responses.txt")]
        log("cfssl ocspserve: starting (loads responses.txt)")
        pr = start("cfssl", cmd, cwd=workdir)
        started = wait_port(port, pr, 1800)
        res = load_server(
            "cfssl ocspserve",
            "cfssl ocspserve -responses (pre-signed, in memory)",
            " ".join(cmd).replace(str(workdir) + "/", "").replace(str(port), "PORT"),
            f"http://127.0.0.1:{port}/",
            pr,
            work,
            plan,
            issuer,
        )
        res.start_s = started
        m = re.search(r"Read (\d+) OCSP responses", pr.log_tail(200))
        res.notes.append(f"cfssl log: {m.group(0)}" if m else "cfssl did not log how many responses it read")
        report["servers"].append(res)
        pr.stop()
    finally:
        for pr in procs:
            pr.stop()
        p.close()
    return report


# -- the report --------------------------------------------------------------------------------


def markdown(report: dict, command: str) -> str:
    plan: Plan = report["plan"]
    mc = report["machine"]
    servers: list[ServerResult] = report["servers"]
    myna = next((s for s in servers if s.name == "myna validity serve"), None)
    fast = next((s for s in servers if "2 processes" in s.name), None)
    L = []
    L.append("# OCSP responder benchmark: myna vs openssl ocsp vs cfssl ocspserve\n")
    L.append(
        "Generated by `bench/ocsp.py` (its docstring has the method; the wrk script is `bench/ocsp_wrk.lua`; "
        "the two what-if servers are `bench/ocsp_app.py` and `bench/ocsp_workers.py`).\n"
    )
    L.append(f"Command: `{command}`\n")
    L.append(f"- machine: {mc['arch']}, nproc {mc['nproc']}, {mc['cpu']}, kernel {mc['kernel']}; {mc['date']}")
    L.append(f"- {mc['openssl']}; {mc['cfssl']}; {mc['wrk']}")
    L.append(f"- Python {mc['python']}, cryptography {mc['cryptography']}, {mc['uvicorn']}")
    L.append(
        f"- population: {plan.n:,} certificates under card-auth, {plan.n // plan.revoked_every:,} revoked (1 in {plan.revoked_every}); "
        f"working set {plan.work:,} serials ({plan.work // plan.revoked_every:,} revoked), cold set {plan.cold:,} other serials"
    )
    L.append(
        f"- load: wrk `-t{plan.threads} -c{plan.conns}`, POST of a DER OCSPRequest (one SHA-1 CertID, no nonce) "
        "picked at random from the working set; "
        f"peak = closed loop, the median of {plan.peak_runs} runs of {plan.peak_s} s (all {plan.peak_runs} in brackets) "
        f"after a {plan.warm_s} s warm-up; "
        f"half = a fixed rate of half that server's own peak for {plan.half_s} s"
    )
    L.append(
        '- wrk runs on the same 2 cores as the server. "CPU" columns are cores used during the run (2.0 = the whole machine): '
        "the server's processes, wrk, and everything else (other users of this shared machine; /proc/stat minus the other two)\n"
    )
    L.append("## Throughput and latency\n")
    L.append(
        "| server | req/s at peak | p50 / p99 at peak | fixed rate (half peak) | p50 / p99 / p99.9 at that rate | late sends | errors "
        "| CPU at peak: server / wrk / others | requests per server CPU-second (peak) | response bytes | answers checked |"
    )
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in servers:
        pk, hf = s.runs["peak"], s.runs["half"]
        runs = ", ".join(f"{x / 1000:.1f}k" for x in pk.get("all_rps", [pk["rps"]]))
        star = " ¹" if s.name.startswith("openssl") else ""
        L.append(
            f"| {s.name} | **{pk['rps']:,.0f}** ({runs}) | {fmt_ms(pk['p50_us'])} / {fmt_ms(pk['p99_us'])} | {hf['rps']:,.0f} req/s "
            f"| {fmt_ms(hf['p50_us'])} / **{fmt_ms(hf['p99_us'])}** / {fmt_ms(hf['p999_us'])}{star} "
            f"| {hf['late']:,} (worst {hf['late_max_ms']:.0f} ms) "
            f"| {pk['errors'] + hf['errors']:,} | {pk['server_cpu']:.2f} / {pk['wrk_cpu']:.2f} / {pk['other_cpu']:.2f} "
            f"| {pk['per_cpu_s']:,.0f} | {pk['mean_bytes']:.0f} | {s.check['ok']}/{s.check['checked']} |"
        )
    L.append("")
    L.append(
        '"requests per server CPU-second": requests answered divided by the CPU time the server\'s processes used meanwhile '
        "(the kernel's work for loopback TCP is partly charged to them, partly to wrk): the figure least disturbed by other load. "
        '"response bytes" is wrk\'s bytes read per response, HTTP headers included. "late sends": requests of the fixed-rate run '
        "that could not leave on schedule because every connection of their wrk thread was still waiting (0: open-loop latencies).\n"
    )
    if any(s.name.startswith("openssl") for s in servers):
        L.append(
            "¹ `openssl ocsp` answers HTTP/1.0 and closes each connection; wrk reconnects at once and, at a fixed rate, holds the new "
            "connection idle until the request's slot. One `openssl ocsp` process serves one connection at a time, "
            "in accept order, and waits "
            "on such an idle connection: its fixed-rate latencies are inflated by the load generator (a real client connects when it has a "
            "request). Its peak figures are not affected (every connection sends at once).\n"
        )
    colds = [s for s in servers if "cold" in s.runs]
    if colds:
        L.append("myna cold path (every request a serial not asked before: a replica lookup and an EC P-256 signature, then cached):\n")
        L.append("| server | req/s | p50 / p99 | CPU: server / wrk / others | requests per server CPU-second |")
        L.append("|---|---|---|---|---|")
        for s in colds:
            c = s.runs["cold"]
            L.append(
                f"| {s.name} | {c['rps']:,.0f} | {fmt_ms(c['p50_us'])} / {fmt_ms(c['p99_us'])} "
                f"| {c['server_cpu']:.2f} / {c['wrk_cpu']:.2f} / {c['other_cpu']:.2f} | {c['per_cpu_s']:,.0f} |"
            )
        L.append("")
    # targets
    if myna is None:
        return "\n".join(L)
    L.append("## Targets\n")
    subjects = [x for x in (myna, fast) if x is not None]
    o_all = [s for s in servers if s.name.startswith("openssl")]
    cf = [s for s in servers if s.name.startswith("cfssl")]
    rows = []

    def cell(value: str, ok: bool) -> str:
        return f"{value} ({'met' if ok else '**not met**'})"

    for o in o_all:
        cells = []
        for x in subjects:
            ratio = x.runs["peak"]["rps"] / o.runs["peak"]["rps"]
            cells.append(cell(f"{ratio:.1f}×", ratio >= 10))
        rows.append((f"≥ 10× {o.name} ({o.runs['peak']['rps']:,.0f} req/s)", cells))
    for c in cf:
        cells = []
        for x in subjects:
            ratio = x.runs["peak"]["rps"] / c.runs["peak"]["rps"]
            cells.append(cell(f"{ratio:.2f}×", ratio >= 1))
        rows.append((f"≥ {c.name} ({c.runs['peak']['rps']:,.0f} req/s)", cells))
    rows.append(
        (
            "p99 < 10 ms at half of own peak",
            [
                cell(f"{fmt_ms(x.runs['half']['p99_us'])} at {x.runs['half']['rps']:,.0f} req/s", x.runs["half"]["p99_us"] < 10_000)
                for x in subjects
            ],
        )
    )
    vis = report.get("visible")
    if vis:
        for c, lat in vis["latencies"].items():
            rows.append(
                (f"revocation-to-visible p99 ≤ 1 s at {c}", [cell(fmt_s(pct(lat, 99)), pct(lat, 99) <= 1.0)] + [""] * (len(subjects) - 1))
            )
    L.append("| target | " + " | ".join(x.name for x in subjects) + " |")
    L.append("|---|" + "---|" * len(subjects))
    for t, cells in rows:
        L.append(f"| {t} | " + " | ".join(cells) + " |")
    L.append("")
    # sync
    L.append("## Replication\n")
    L.append(f"Feed head after the population: seq {report['head']:,}.\n")
    L.append("| step | time |")
    L.append("|---|---|")
    for k, v in report["steps"].items():
        if k.startswith("sync"):
            L.append(f"| {k} | {fmt_s(v)} |")
    L.append("")
    if report.get("sync_cpu"):
        L.append(
            "CPU used by the platform process until both centres had synced (its own in-process centre's sync included): "
            f"{fmt_s(report['platform_sync_cpu'])}. "
            "CPU used by each centre process for its initial sync: "
            + ", ".join(f"{c} {fmt_s(v)}" for c, v in report["sync_cpu"].items())
            + "; replica size: "
            + ", ".join(f"{c} {v:.0f} MiB" for c, v in report["replica_mb"].items())
            + ".\n"
        )
    if vis:
        L.append("## Revocation-to-visible\n")
        L.append(
            f"{plan.revocations} real card-auth certificates, revoked through the API one at a time at random moments "
            f"(gaps uniform 0–{2 * plan.revocation_gap_s:g} s); "
            f"both centres polled every {plan.poll_s * 1000:.0f} ms per revoked serial. "
            'Time from sending the revocation request to the first "revoked" answer '
            f"(the API call itself: p50 {fmt_s(statistics.median(vis['api_s']))}, max {fmt_s(max(vis['api_s']))}).\n"
        )
        L.append("| centre | p50 | p99 | max | answers seen |")
        L.append("|---|---|---|---|---|")
        for c, lat in vis["latencies"].items():
            L.append(
                f"| {c} | {fmt_s(pct(lat, 50))} | {fmt_s(pct(lat, 99))} | {fmt_s(max(lat))} "
                f"| {sum(1 for x in lat if x != float('inf'))}/{len(lat)} |"
            )
        L.append("")
    # commands and details
    L.append("## Servers and commands\n")
    for s in servers:
        L.append(
            f"- **{s.name}** — {s.what}. `{s.command}`"
            + (f"; listening {fmt_s(s.start_s)} after start" if s.start_s is not None else "")
            + (f"; RSS {s.rss_mb:.0f} MiB at the end" if s.rss_mb else "")
        )
        for n in s.notes:
            L.append(f"  - {n}")
        if s.check["problems"]:
            L.append(f"  - answer problems: {s.check['problems']}")
    L.append("")
    L.append("wrk commands (URL and paths vary):\n")
    L.append("```")
    for key in ("cold", "peak", "half"):
        if key in myna.runs:
            L.append(myna.runs[key]["cmd"].replace(str(LUA), "bench/ocsp_wrk.lua"))
    L.append("```\n")
    L.append("## Set-up timings\n")
    for k, v in report["steps"].items():
        if not k.startswith("sync"):
            L.append(f"- {k}: {fmt_s(v)}")
    L.append(
        f"- files: index.txt {report['sizes']['index.txt'] / 2**20:.0f} MiB, "
        f"responses.txt {report['sizes']['responses.txt'] / 2**20:.0f} MiB"
    )
    for n in report["notes"]:
        L.append(f"- {n}")
    L.append("")
    return "\n".join(L)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="20,000 certificates, short runs")
    ap.add_argument("-n", "--certificates", type=int, help="population size (default 1,000,000)")
    ap.add_argument(
        "--skip", default="", help="comma-separated parts to leave out: tokyo, asgi, inproc, workers, openssl, cfssl, revocation"
    )
    ap.add_argument(
        "--write", nargs="?", const=str(DOC), metavar="PATH", help=f"write the Markdown report (default {DOC.relative_to(ROOT)})"
    )
    ap.add_argument("--json", type=Path, help="also dump the raw results as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()
    for tool in ("openssl", "wrk", "cfssl"):
        if shutil.which(tool) is None:
            print(f"{tool} not found (apt-get install openssl wrk golang-cfssl)", file=sys.stderr)
            return 2
    plan = quick_plan() if args.quick else Plan()
    if args.certificates:
        plan.n = args.certificates
    plan.skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    workdir = Path(tempfile.mkdtemp(prefix="ocsp-bench-"))
    log(f"working in {workdir}")
    t0 = time.perf_counter()
    try:
        report = run(plan, workdir)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report["notes"].append(f"whole run: {fmt_s(time.perf_counter() - t0)}")
    command = "python bench/ocsp.py " + " ".join(sys.argv[1:])
    report["command"] = command
    md = markdown(report, command)
    print(md)
    if args.json:
        args.json.write_text(json.dumps(report, default=lambda o: o.__dict__ if hasattr(o, "__dict__") else str(o), indent=1))
    if args.write:
        target = Path(args.write)
        kept = ""
        if target.exists():  # the hand-written analysis below the marker survives a re-run
            old = target.read_text(encoding="utf-8")
            if KEEP_MARKER in old:
                kept = old[old.index(KEEP_MARKER) :]
        target.write_text(md + "\n" + (kept or KEEP_MARKER + "\n"), encoding="utf-8")
        log(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
