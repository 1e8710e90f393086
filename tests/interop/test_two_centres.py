"""Two validity centres at two "sites", replicating from a live platform over HTTP, with
a verifier-side FailoverClient in front of them (R-REV-10: revocation status handed out
over the network, promptly and without a gap when a centre dies; the lag bound
``max_lag``: no centre answers "good" for a certificate more than max_lag after its
revocation was recorded).

Real processes throughout: ``myna serve`` (the ``live`` fixture), ``myna token create
--role centre``, ``myna validity provision`` and two ``myna validity serve --source
<platform> --max-lag 3 --interval 0.1`` subprocesses (tokyo, osaka), each with a data
home of its own (the bundle copied over, no access to the platform's store). One centre
is killed with SIGKILL mid-stream. A third centre reaches the platform through a TCP
proxy in this process, which the test cuts to leave the centre on its own.

Subprocesses are killed by pid in the fixtures' teardown, whatever happens.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from interop_support import Live, api_post, free_port, ocsp_request, ocsp_status

from myna.validation.client import FailoverClient, ValidityUnavailable

pytestmark = [pytest.mark.slow, pytest.mark.interop]

MAX_LAG = 3.0
INTERVAL = 0.1
CENTRE_START_TIMEOUT_S = 30
SLACK = 0.25  # request round trip and scheduling
# revoked_at is recorded in whole seconds (floored) while the commit that makes the
# revocation visible to the feed comes later: "max_lag after the revocation was recorded"
# can only be checked against revoked_at to within this.
REVOKED_AT_RESOLUTION = 1.0

REASON_FLAGS = {
    "request": x509.ReasonFlags.cessation_of_operation,
    "resident-change": x509.ReasonFlags.affiliation_changed,
    "record-error": x509.ReasonFlags.superseded,
}


# --------------------------------------------------------------------------- centre processes


@dataclass
class Centre:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    def ocsp(self, slug: str = "card-auth") -> str:
        return f"http://127.0.0.1:{self.port}/ocsp/{slug}"

    def health(self) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)  # by pid, never by name
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


@pytest.fixture
def centres(live: Live, tmp_path: Path):
    """``start(name, source)`` -> a running, fresh ``myna validity serve`` for ``name``:
    a centre token made with the CLI, the bundle provisioned with the CLI and copied to
    a data home of the centre's own. Every process started is killed at teardown."""
    started: list[Centre] = []

    def start(name: str, source: str | None = None) -> Centre:
        token = live.run("token", "create", "--role", "centre", "--label", f"centre {name}").stdout.strip()
        assert token.startswith("myna_"), token
        live.run("validity", "provision", "--centre", name)
        site = tmp_path / f"site-{name}"
        shutil.copytree(live.home / "centres" / name, site / "centres" / name)
        env = {k: v for k, v in live.env.items() if k != "MYNA_DATABASE_URL"}  # a remote site: no store access
        env["MYNA_HOME"] = str(site)
        env["MYNA_CENTRE_TOKEN"] = token
        port = free_port()
        log = tmp_path / f"centre-{name}.log"
        with open(log, "wb") as f:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "myna.cli",
                    "validity",
                    "serve",
                    "--centre",
                    name,
                    "--port",
                    str(port),
                    "--source",
                    source or live.base_url,
                    "--max-lag",
                    str(MAX_LAG),
                    "--interval",
                    str(INTERVAL),
                ],
                env=env,
                cwd=site,
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        c = Centre(name, port, proc, log)
        started.append(c)
        deadline = time.monotonic() + CENTRE_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"centre {name} exited with {proc.returncode}:\n{c.output()}")
            try:
                status, body = c.health()
                if status == 200 and body.get("fresh"):
                    return c
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"centre {name} not fresh after {CENTRE_START_TIMEOUT_S}s:\n{c.output()}")
            time.sleep(0.05)

    try:
        yield start
    finally:
        for c in started:
            _kill(c.proc)


def issue_card_auth(live: Live, n: int) -> list[str]:
    """Issue ``n`` more card-auth certificates through the API; returns their serials.
    Their holders are put on the register first (R-CERT-4)."""
    import datetime as dt

    from myna_testing import adult_basic4, register_residents

    from myna.authority.platform import Platform
    from myna.settings import Settings

    registrar = Platform.open(Settings(home=live.home, database_url=live.env["MYNA_DATABASE_URL"], public_url=live.base_url), migrate=False)
    dob = adult_basic4(date_of_birth=dt.date(1985, 5, 5))
    register_residents(registrar, [(f"{31415926500 + i:011d}", "131016", dob) for i in range(n)])
    registrar.close()
    out = []
    for i in range(n):
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        body = {
            "request_id": f"two-centres-{i}-{os.urandom(4).hex()}",
            "kind": "card-auth",
            "public_key_pem": pem,
            "resident_code": f"{31415926500 + i:011d}",
            "date_of_birth": "1985-05-05",
            "municipality_code": "131016",
        }
        out.append(api_post(live, "certificates", body)["serial"])
    return out


def ask(url: str, cert: x509.Certificate, issuer: x509.Certificate, timeout: float = 2) -> str:
    """One direct POST to one centre (no failover): the status it answers."""
    r = httpx.post(url, content=ocsp_request(cert, issuer), headers={"Content-Type": "application/ocsp-request"}, timeout=timeout)
    assert r.status_code == 200, (url, r.status_code)
    return ocsp_status(r.content)


@dataclass(frozen=True)
class Rec:
    sent: float  # wall clock (time.time), request start
    received: float
    serial: int
    status: str
    centre: str
    client: int
    revoked_at: dt.datetime | None
    reason: x509.ReasonFlags | None


@dataclass
class Revocation:
    serial: int
    reason: str
    sent: float
    returned: float
    revoked_at: dt.datetime  # as the API returned it (whole seconds)
    visible: dict[str, float]  # centre -> wall time of its first "revoked" answer


# --------------------------------------------------------------------------- the stream


def test_two_centres_failover_and_lag_bound_under_a_stream_R_REV_10(live: Live, centres):
    """R-REV-10 with two centres: a stream of card-auth checks (two FailoverClients, one
    preferring each centre) runs for ~15 s while certificates are revoked through the API
    and tokyo is SIGKILLed mid-stream. Every check is answered (no ValidityUnavailable);
    both centres answer before the kill, only osaka after it; no certificate is answered
    "good" later than max_lag after its revocation was committed (the API call returned)
    nor after its recorded revoked_at + max_lag (to revoked_at's whole-second
    resolution; the latest "good" is printed); revoked answers carry the recorded time
    and reason; never-revoked certificates are always "good". The revocation-to-visible
    latency at each centre is measured and printed."""
    serials = [r["serial"] for r in live.certs(kind="card-auth")] + issue_card_auth(live, 17)
    certs = [live.cert(s) for s in serials]
    issuer = live.ca_cert("card-auth")
    assert len(certs) == 20

    tokyo = centres("tokyo")
    osaka = centres("osaka")
    names = {tokyo.ocsp(): "tokyo", osaka.ocsp(): "osaka"}
    clients = [FailoverClient([tokyo.ocsp(), osaka.ocsp()]), FailoverClient([osaka.ocsp(), tokyo.ocsp()])]

    records: list[Rec] = []
    errors: list[tuple[float, int, str]] = []
    stop = threading.Event()

    def stream():
        i = 0
        while not stop.is_set():
            which = i % 2
            cert = certs[(i // 2) % len(certs)]
            sent = time.time()
            try:
                a = clients[which].check(cert, issuer)
            except ValidityUnavailable as e:
                errors.append((sent, cert.serial_number, f"ValidityUnavailable: {e}"))
            except Exception as e:  # noqa: BLE001 - anything else is a failure too, recorded not lost
                errors.append((sent, cert.serial_number, f"{type(e).__name__}: {e}"))
            else:
                records.append(Rec(sent, time.time(), cert.serial_number, a.status, names[a.centre], which, a.revoked_at, a.reason))
            i += 1

    revocations: list[Revocation] = []

    def revoke(index: int, reason: str, alive: list[Centre]) -> None:
        cert = certs[index]
        sent = time.time()
        done = api_post(live, f"certificates/{serials[index]}/revocation", {"reason": reason})
        rev = Revocation(cert.serial_number, reason, sent, time.time(), dt.datetime.fromisoformat(done["revoked_at"]), {})
        revocations.append(rev)
        deadline = time.time() + 10
        while len(rev.visible) < len(alive) and time.time() < deadline:
            for c in alive:
                if c.name not in rev.visible and ask(c.ocsp(), cert, issuer) == "revoked":
                    rev.visible[c.name] = time.time()
            time.sleep(0.01)
        assert len(rev.visible) == len(alive), f"revocation of {serials[index]} not visible at {[c.name for c in alive]} within 10 s"

    worker = threading.Thread(target=stream, name="ocsp-stream", daemon=True)
    t0 = time.time()
    worker.start()
    try:
        time.sleep(1.5)
        revoke(0, "request", [tokyo, osaka])
        revoke(5, "resident-change", [tokyo, osaka])
        time.sleep(max(0.0, t0 + 5 - time.time()))
        failures_before_kill = [list(c.failures) for c in clients]
        os.kill(tokyo.proc.pid, signal.SIGKILL)
        tokyo.proc.wait(timeout=10)
        t_kill = time.time()
        time.sleep(1.5)
        revoke(10, "record-error", [osaka])
        revoke(15, "request", [osaka])
        time.sleep(max(0.0, t0 + 10 - time.time()))
        revoke(19, "resident-change", [osaka])
        time.sleep(max(0.0, t0 + 15 - time.time()))
    finally:
        stop.set()
        worker.join(timeout=10)
        for c in clients:
            c.close()

    # -- report
    print(f"\n{len(records)} answers in {records[-1].received - t0:.1f} s; errors: {len(errors)}")
    for name in ("tokyo", "osaka"):
        print(f"  {name}: {sum(r.centre == name for r in records)} answers")
    print("revocation -> first 'revoked' answer (from API revoked_at [whole s] | from API call return | from API call start):")
    for rev in revocations:
        for name, seen in rev.visible.items():
            print(
                f"  {rev.serial:040x} {rev.reason:16} {name:6} "
                f"{seen - rev.revoked_at.timestamp():6.3f} s | {seen - rev.returned:6.3f} s | {seen - rev.sent:6.3f} s"
            )

    # -- every check answered
    assert not errors, f"{len(errors)} checks unanswered, first: {errors[:3]}"
    assert len(records) > 200, f"only {len(records)} checks in 15 s"
    assert tokyo.proc.returncode == -signal.SIGKILL

    # -- both centres before the kill, only the survivor after it
    before = [r for r in records if r.received < t_kill]
    after = [r for r in records if r.sent > t_kill]
    assert {r.centre for r in before} == {"tokyo", "osaka"}, {r.centre for r in before}
    assert after and {r.centre for r in after} == {"osaka"}, {r.centre for r in after}
    assert {r.client for r in after} == {0, 1}, "the client that preferred tokyo failed over to osaka"
    assert failures_before_kill == [[], []], f"a fresh centre failed to answer: {failures_before_kill}"
    assert any(f":{tokyo.port}/" in url for url, _ in clients[0].failures), "the tokyo-first client met the dead centre"
    assert all(f":{tokyo.port}/" in url for c in clients for url, _ in c.failures), "osaka never failed"

    # -- the lag bound, per revoked certificate, and consistent revoked answers
    by_serial = {rev.serial: rev for rev in revocations}
    for r in records:
        rev = by_serial.get(r.serial)
        if rev is None:
            assert r.status == "good", r
            continue
        if r.status == "good":
            # The commit of the revocation happened before the API call returned, and its
            # revoked_at (whole seconds, floored) at most REVOKED_AT_RESOLUTION before that.
            assert r.sent <= rev.returned + MAX_LAG, f"good {r.sent - rev.returned:.3f} s after the revocation was committed: {r}"
            assert r.sent <= rev.revoked_at.timestamp() + REVOKED_AT_RESOLUTION + MAX_LAG, (
                f"good {r.sent - rev.revoked_at.timestamp():.3f} s after the recorded revoked_at: {r}"
            )
        else:
            assert r.status == "revoked", r
            assert r.received >= rev.sent, f"revoked before it was revoked: {r}"
            assert r.revoked_at == rev.revoked_at and r.reason is REASON_FLAGS[rev.reason], r
    latest_good = {
        rev.serial: max(
            (r.sent - rev.revoked_at.timestamp() for r in records if r.serial == rev.serial and r.status == "good"), default=None
        )
        for rev in revocations
    }
    print(
        "latest 'good' answer after each revocation (s, from revoked_at):",
        {f"{s:x}"[:8]: (round(v, 3) if v is not None else None) for s, v in latest_good.items()},
    )
    # and each revoked certificate was answered "revoked" by the stream itself after the kill
    for rev in revocations:
        assert any(r.serial == rev.serial and r.status == "revoked" and r.sent > max(t_kill, rev.returned) for r in records), (
            f"{rev.serial:x}"
        )


# --------------------------------------------------------------------------- cut off


class Proxy:
    """A TCP forwarder 127.0.0.1:port -> 127.0.0.1:target, in this process. ``cut()``
    closes the listener and every connection: the platform looks dead to whoever came
    through it (connection reset, then connection refused)."""

    def __init__(self, target_port: int, port: int = 0):
        self.target = target_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name=f"proxy-{self.port}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while self._open.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if not self._open.is_set():
                    client.close()
                    upstream.close()
                    return
                self._socks |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            src.settimeout(None)
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self._open.clear()
        self._thread.join(timeout=5)
        self.listener.close()
        with self._lock:
            for s in self._socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._socks.clear()


@pytest.fixture
def proxies():
    made: list[Proxy] = []

    def make(target: int, port: int = 0) -> Proxy:
        p = Proxy(target, port)
        made.append(p)
        return p

    yield make
    for p in made:
        p.cut()


def test_centre_cut_off_from_platform_stops_good_after_max_lag_keeps_revoked_R_REV_10(live: Live, centres, proxies):
    """R-REV-10, the lag bound when the feed dies: a centre (kyoto) that synced through a
    proxy which is then cut answers "good" no longer than max_lag after the cut (its last
    completed sync began before it), then tryLater, while it still answers "revoked" for
    what it knew to be revoked; a revocation recorded during the outage is never
    answered "good" more than max_lag after it was recorded, and /healthz turns 503.
    When the feed comes back the centre is fresh again and answers the outage's
    revocation."""
    recs = live.certs(kind="card-auth")
    known_revoked, steady, revoked_during = (live.cert(r["serial"]) for r in recs)
    issuer = live.ca_cert("card-auth")
    proxy = proxies(live.port)
    kyoto = centres("kyoto", source=f"http://127.0.0.1:{proxy.port}")
    url = kyoto.ocsp()

    api_post(live, f"certificates/{recs[0]['serial']}/revocation", {"reason": "request"})
    deadline = time.time() + 10
    while ask(url, known_revoked, issuer) != "revoked":
        assert time.time() < deadline, "kyoto never saw the revocation"
        time.sleep(0.02)
    assert ask(url, steady, issuer) == "good" and ask(url, revoked_during, issuer) == "good"

    proxy.cut()
    t_cut = time.time()
    rev_sent = time.time()  # the revocation is recorded after this
    done = api_post(live, f"certificates/{recs[2]['serial']}/revocation", {"reason": "record-error"})
    revoked_at = dt.datetime.fromisoformat(done["revoked_at"]).timestamp()
    answers: list[tuple[float, str, str]] = []  # (sent, which, status)
    targets = {"known_revoked": known_revoked, "steady": steady, "revoked_during": revoked_during}
    health_during = None
    while time.time() < t_cut + MAX_LAG + 1.5:
        for label, cert in targets.items():
            sent = time.time()
            answers.append((sent, label, ask(url, cert, issuer)))
        if health_during is None and time.time() > t_cut + MAX_LAG + 0.5:
            health_during = kyoto.health()
        time.sleep(0.02)

    def of(label: str) -> list[tuple[float, str]]:
        return [(t, s) for t, which, s in answers if which == label]

    assert {s for _, s in of("known_revoked")} == {"revoked"}, "a known revocation is answered throughout the outage"
    for label in ("steady", "revoked_during"):
        seq = of(label)
        assert {s for _, s in seq} <= {"good", "trylater"}, (label, {s for _, s in seq})
        goods = [t for t, s in seq if s == "good"]
        assert goods, f"{label}: answered good right after the cut (within the bound)"
        last_good = max(goods) - t_cut
        print(f"\n{label}: last 'good' {last_good:.3f} s after the cut (max_lag {MAX_LAG})")
        assert last_good <= MAX_LAG + SLACK, f"{label}: good {last_good:.3f} s after the feed was cut"
        assert seq[-1][1] == "trylater" and all(s == "trylater" for t, s in seq if t > max(goods)), label
    last_good_revoked = max(t for t, s in of("revoked_during") if s == "good")
    assert last_good_revoked <= rev_sent + MAX_LAG + SLACK
    assert last_good_revoked <= revoked_at + REVOKED_AT_RESOLUTION + MAX_LAG + SLACK
    status, body = health_during
    assert status == 503 and body["fresh"] is False and body["lag_seconds"] > MAX_LAG, (status, body)

    # the feed comes back on the same address: fresh again, and the outage's revocation arrives
    proxies(live.port, port=proxy.port)
    deadline = time.time() + 10
    while ask(url, revoked_during, issuer) != "revoked":
        assert time.time() < deadline, f"kyoto did not catch up after the feed returned:\n{kyoto.output()}"
        time.sleep(0.02)
    # The revoked answer can come a moment before the sync completes (a revocation needs no
    # freshness); "good" follows once the sync that brought it has finished.
    deadline = time.time() + 5
    while ask(url, steady, issuer) != "good":
        assert time.time() < deadline, f"kyoto did not become fresh after the feed returned:\n{kyoto.output()}"
        time.sleep(0.02)
    assert kyoto.health()[0] == 200
