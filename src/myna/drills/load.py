"""The steady mixed load a drill runs through both sites' front doors, and what it saw.

Each worker plays residents through a day at the counter: a birth reported (a change
event), a user-authentication certificate issued, a card application, an OCSP check, and
for some a revocation followed by another check. A checker thread re-asks the centres,
through the verifier's failover client, about every certificate issued or revoked so far.

Every write carries its own idempotency key (event id, request id, source ref) and is
retried with the same key, at one front door and then the other, until the platform
acknowledges it or the drill's patience runs out, as a careful client does. An
acknowledgement is what the drill later holds the platform to: it must still be there.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from dataclasses import dataclass, field

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from myna.validation.client import FailoverClient, ValidityUnavailable

RETRY_PAUSE_S = 0.25


@dataclass(frozen=True)
class Attempt:
    """One HTTP request as the client saw it."""

    at: float  # time.time() when sent
    took: float
    service: str  # "counter" (the platform's API) or "verifier" (OCSP)
    op: str
    door: str
    ok: bool
    detail: str = ""


@dataclass
class Seen:
    """Everything the load did and was told, shared by its threads."""

    attempts: list[Attempt] = field(default_factory=list)
    issued: dict[str, str] = field(default_factory=dict)  # request id -> serial acknowledged
    revoked: dict[str, float] = field(default_factory=dict)  # serial -> time the revocation was acknowledged
    events: dict[str, str] = field(default_factory=dict)  # event id -> resident code acknowledged
    applications: dict[str, str] = field(default_factory=dict)  # source ref -> application id acknowledged
    checks: list[tuple[float, str, str, str]] = field(default_factory=list)  # (time answered, serial, status, centre)
    given_up: list[tuple[str, str]] = field(default_factory=list)  # (op, key): no acknowledgement within the patience
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, a: Attempt) -> None:
        with self.lock:
            self.attempts.append(a)


class Doors:
    """The two sites' front doors (their load balancers), the working one first: what a
    client gets from a DNS name with two addresses, or a global balancer."""

    def __init__(self, urls: list[str], token: str, seen: Seen, timeout: float = 5.0):
        self.urls = list(urls)
        self.seen = seen
        self.http = httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {token}"})

    def call(self, op: str, method: str, path: str, json: dict | None = None) -> httpx.Response | None:
        """One round over the doors; the answer of the first that answers for itself."""
        for url in list(self.urls):
            t0 = time.time()
            try:
                r = self.http.request(method, url + path, json=json)
            except httpx.HTTPError as exc:
                self.seen.note(Attempt(t0, time.time() - t0, "counter", op, url, False, type(exc).__name__))
                self._demote(url)
                continue
            # 5xx: the balancer has no server (503), its server failed (502) or did not
            # answer in time (504), or the platform failed: not this door, try the other.
            if r.status_code >= 500:
                self.seen.note(Attempt(t0, time.time() - t0, "counter", op, url, False, f"HTTP {r.status_code}"))
                self._demote(url)
                continue
            # A 4xx is the platform answering (a refusal is not an outage); the caller decides.
            self.seen.note(
                Attempt(t0, time.time() - t0, "counter", op, url, True, "" if r.status_code < 400 else f"refused {r.status_code}")
            )
            return r
        return None

    def _demote(self, url: str) -> None:
        if len(self.urls) > 1 and self.urls[0] == url:
            self.urls.append(self.urls.pop(0))

    def until_acknowledged(self, op: str, method: str, path: str, body: dict | None, patience: float) -> httpx.Response | None:
        """Retry the same (idempotent) request until the platform answers it, 2xx or a 4xx
        refusal, or ``patience`` seconds pass."""
        deadline = time.monotonic() + patience
        while True:
            r = self.call(op, method, path, body)
            if r is not None:
                return r
            if time.monotonic() > deadline:
                return None
            time.sleep(RETRY_PAUSE_S)

    def close(self) -> None:
        self.http.close()


def _resident_code(rnd: random.Random) -> str:
    return f"9{rnd.randrange(10**9, 10**10):010d}"


class Load:
    """``workers`` resident-playing threads and one checker, until :meth:`stop`."""

    def __init__(
        self,
        doors: list[str],
        ocsp: list[str],
        operator_token: str,
        municipality_token: str,
        municipality_code: str,
        run_id: str,
        workers: int = 3,
        revoke_share: float = 0.4,
        patience: float = 120.0,
        seed: int = 1,
    ):
        self.seen = Seen()
        self.door_urls, self.ocsp_urls = doors, ocsp
        self.operator_token, self.municipality_token = operator_token, municipality_token
        self.municipality_code = municipality_code
        self.run_id = run_id
        self.workers = workers
        self.revoke_share = revoke_share
        self.patience = patience
        self.seed = seed
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._issuer: x509.Certificate | None = None
        self._to_check: list[tuple[str, x509.Certificate]] = []

    # -- running ----------------------------------------------------------------------

    def start(self) -> None:
        self._issuer = self._fetch_issuer()
        for i in range(self.workers):
            self._threads.append(threading.Thread(target=self._worker, args=(i,), name=f"load-{i}", daemon=True))
        self._threads.append(threading.Thread(target=self._checker, name="load-checker", daemon=True))
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Stop starting new work; what is under way finishes (or gives up) first."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.patience + 30)

    def _fetch_issuer(self) -> x509.Certificate:
        deadline = time.monotonic() + 60
        while True:
            for url in self.door_urls:
                try:
                    r = httpx.get(f"{url}/ca/card-auth.crt", timeout=5)
                    if r.status_code == 200:
                        return (
                            x509.load_pem_x509_certificate(r.content)
                            if b"BEGIN" in r.content
                            else x509.load_der_x509_certificate(r.content)
                        )
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("neither site gives the card-auth CA certificate")
            time.sleep(1)

    def _ocsp_client(self) -> FailoverClient:
        return FailoverClient([f"{u}/ocsp/card-auth" for u in self.ocsp_urls], timeout=2.0)

    def _check(self, client: FailoverClient, serial: str, cert: x509.Certificate) -> None:
        t0 = time.time()
        try:
            answer = client.check(cert, self._issuer)
        except ValidityUnavailable as exc:
            self.seen.note(Attempt(t0, time.time() - t0, "verifier", "ocsp", "any", False, str(exc)[:200]))
            return
        t1 = time.time()
        self.seen.note(Attempt(t0, t1 - t0, "verifier", "ocsp", answer.centre, True, answer.status))
        with self.seen.lock:
            self.seen.checks.append((t1, serial, answer.status, answer.centre))

    def _worker(self, n: int) -> None:
        rnd = random.Random(f"{self.run_id}-{self.seed}-{n}")  # new residents every run
        counter = Doors(self.door_urls, self.municipality_token, self.seen)
        operator = Doors(self.door_urls, self.operator_token, self.seen)
        ocsp = self._ocsp_client()
        i = 0
        try:
            while not self._stop.is_set():
                i += 1
                self._resident(rnd, f"{self.run_id}-{n}-{i}", counter, operator, ocsp)
        finally:
            counter.close()
            operator.close()
            ocsp.close()

    def _resident(self, rnd: random.Random, key: str, counter: Doors, operator: Doors, ocsp: FailoverClient) -> None:
        code = _resident_code(rnd)
        born = dt.date(1960, 1, 1) + dt.timedelta(days=rnd.randrange(0, 365 * 40))
        name, address = f"訓練 太郎{rnd.randrange(1000)}", f"東京都千代田区千代田{rnd.randint(1, 9)}-{rnd.randint(1, 30)}"
        event = {
            "event_id": f"ev-{key}",
            "type": "birth",
            "resident_code": code,
            "effective_date": born.isoformat(),
            "basic4": {"name": name, "date_of_birth": born.isoformat(), "sex": "1", "address": address},
        }
        r = counter.until_acknowledged("event", "POST", "/api/v1/residents/events", event, self.patience)
        if not self._acknowledged(r, "event", event["event_id"]):
            return
        with self.seen.lock:
            self.seen.events[event["event_id"]] = code
        key_pem = (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        req = {"request_id": f"iss-{key}", "kind": "card-auth", "public_key_pem": key_pem, "resident_code": code}
        r = operator.until_acknowledged("issue", "POST", "/api/v1/certificates", req, self.patience)
        if not self._acknowledged(r, "issue", req["request_id"]):
            return
        body = r.json()
        serial = body["serial"]
        cert = x509.load_pem_x509_certificate(body["pem"].encode())
        with self.seen.lock:
            self.seen.issued[req["request_id"]] = serial
            self._to_check.append((serial, cert))
        application = {
            "resident_code": code,
            "name": name,
            "date_of_birth": born.isoformat(),
            "sex": "1",
            "address": address,
            "source_ref": f"app-{key}",
        }
        r = counter.until_acknowledged("application", "POST", "/api/v1/card-applications", application, self.patience)
        if self._acknowledged(r, "application", application["source_ref"]):
            with self.seen.lock:
                self.seen.applications[application["source_ref"]] = r.json()["application_id"]
        self._check(ocsp, serial, cert)
        if rnd.random() < self.revoke_share:
            r = operator.until_acknowledged(
                "revoke", "POST", f"/api/v1/certificates/{serial}/revocation", {"reason": "request", "note": "drill"}, self.patience
            )
            if self._acknowledged(r, "revoke", serial):
                with self.seen.lock:
                    self.seen.revoked[serial] = time.time()
                self._check(ocsp, serial, cert)

    def _acknowledged(self, r: httpx.Response | None, op: str, key: str) -> bool:
        if r is not None and r.status_code < 300:
            return True
        with self.seen.lock:
            self.seen.given_up.append((op, key if r is None else f"{key}: HTTP {r.status_code} {r.text[:200]}"))
        return False

    def _checker(self) -> None:
        """Re-check what was issued and revoked so far, a few a second."""
        client = self._ocsp_client()
        rnd = random.Random(self.seed)
        try:
            while not self._stop.wait(0.1):
                with self.seen.lock:
                    pool = list(self._to_check)
                if pool:
                    serial, cert = rnd.choice(pool)
                    self._check(client, serial, cert)
        finally:
            client.close()
