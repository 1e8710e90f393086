"""The standalone centre's HTTP server (``myna.validation.server``, what ``myna validity
serve`` runs), spoken to over real sockets (R-REV-10: status handed out over the network
to anyone, so to whatever bytes anyone sends; R-VER-1: the access-controlled mode).

The server runs in a thread of this process on its own uvloop loop, in front of a centre
of the ``make_centre`` fixture (the test decides when it syncs). Raw sockets, not an HTTP
client library, so that the tests control the bytes: pipelining, split packets, bad
framing. Responses are read with httptools' response parser (not the server's code).
One test starts the real ``myna validity serve`` command and stops it with SIGTERM.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httptools
import pytest
from centre_support import ca_cert, issue, outcome, parse, request_der
from cryptography.x509 import ocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from myna_testing import verifier_token

from myna.access.roles import Role
from myna.authority.platform import Platform
from myna.authority.revoking import RevocationService
from myna.pki.ocsp import MAX_REQUEST_BYTES
from myna.pki.revocation import RevocationReason
from myna.validation.centre import Centre
from myna.validation.http import MAX_GET_CHARS
from myna.validation.server import ValidityServer

# --------------------------------------------------------------------------- harness


class Running:
    """A ValidityServer on a loop in a background thread."""

    def __init__(self, centre: Centre, idle_timeout: float = 30.0):
        import uvloop

        self.loop = uvloop.new_event_loop()
        self.server = ValidityServer(centre, idle_timeout=idle_timeout)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.server.start("127.0.0.1", 0), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s


@dataclass
class Resp:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    version: str = ""


class Reader:
    """Parses the responses arriving on a socket with httptools' response parser."""

    def __init__(self, sock: socket.socket, head: bool = False):
        self.sock = sock
        self.done: list[Resp] = []
        self.cur = Resp()
        self.parser = httptools.HttpResponseParser(self)
        self.eof = False

    def on_message_begin(self):
        self.cur = Resp()

    def on_status(self, status: bytes):
        pass

    def on_header(self, name: bytes, value: bytes):
        self.cur.headers[name.decode().lower()] = value.decode()

    def on_headers_complete(self):
        self.cur.status = self.parser.get_status_code()
        self.cur.version = self.parser.get_http_version()

    def on_body(self, body: bytes):
        self.cur.body += body

    def on_message_complete(self):
        self.done.append(self.cur)

    def read(self, n: int = 1, timeout: float = 5) -> list[Resp]:
        """The next ``n`` responses (fewer if the server closes first)."""
        deadline = time.monotonic() + timeout
        while len(self.done) < n and not self.eof:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                self.eof = True
                break
            self.parser.feed_data(data)
        out, self.done = self.done[:n], self.done[n:]
        return out

    def closed(self, timeout: float = 5) -> bool:
        """True if the server closes the connection (EOF) within ``timeout``, no bytes first."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False


def post(path: str, der: bytes, extra: str = "", version: str = "1.1") -> bytes:
    head = (
        f"POST {path} HTTP/{version}\r\nHost: centre.test\r\nContent-Type: application/ocsp-request\r\n"
        f"Content-Length: {len(der)}\r\n{extra}\r\n"
    )
    return head.encode() + der


def get(path: str, extra: str = "", version: str = "1.1", method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/{version}\r\nHost: centre.test\r\n{extra}\r\n".encode()


def exchange(running: Running, data: bytes, n: int = 1) -> list[Resp]:
    with running.connect() as s:
        s.sendall(data)
        return Reader(s).read(n)


def ocsp_outcome(r: Resp) -> str:
    assert r.status == 200, (r.status, r.body[:200])
    assert r.headers["content-type"] == "application/ocsp-response"
    assert int(r.headers["content-length"]) == len(r.body)
    return outcome(r.body)


# --------------------------------------------------------------------------- fixtures


@dataclass
class World:
    centre: Centre
    running: Running
    good: bytes  # DER requests
    revoked: bytes
    issuer: object
    certs: dict


@pytest.fixture
def world(platform: Platform, make_centre, feed):
    issuer = ca_cert(platform, "card-auth")
    good, bad = issue(platform, "card-auth"), issue(platform, "card-auth")
    RevocationService(platform).revoke(bad.serial_number, RevocationReason.REQUEST, actor="test")
    from myna.authority.crls import CrlService

    CrlService(platform).publish("card-auth")
    CrlService(platform).publish("card-auth", delta=True)
    c = make_centre(max_lag_s=3600.0)
    c.sync_once(feed)
    c.refresh_crls(feed)
    running = Running(c)
    try:
        yield World(c, running, request_der(good, issuer), request_der(bad, issuer), issuer, {"good": good, "revoked": bad})
    finally:
        running.stop()


# --------------------------------------------------------------------------- OCSP over HTTP


def test_post_and_get_answer_good_and_revoked_R_REV_10(world: World):
    """R-REV-10: POST /ocsp/{ca}, POST /ocsp and GET /ocsp/{ca}/{base64} (percent-encoded,
    raw, unpadded) each give the right status for a good and a revoked certificate."""
    for der, want in ((world.good, "good"), (world.revoked, "revoked")):
        b64 = base64.b64encode(der).decode()
        for req in (
            post("/ocsp/card-auth", der),
            post("/ocsp", der),
            get("/ocsp/card-auth/" + quote(b64, safe="")),
            get("/ocsp/card-auth/" + b64),
            get("/ocsp/card-auth/" + quote(b64.rstrip("="), safe="")),
        ):
            [r] = exchange(world.running, req)
            assert ocsp_outcome(r) == want, req[:60]
            resp = parse(r.body)
            assert resp.serial_number == world.certs[want].serial_number


def test_same_answers_as_centre_answer(world: World):
    """The server adds nothing to the decision: for the cached (nonce-less) request the
    bytes are exactly what Centre.answer returns."""
    [r] = exchange(world.running, post("/ocsp/card-auth", world.good))
    assert r.body == world.centre.answer(world.good, None, "card-auth")


def test_wrong_ca_in_path_is_unauthorized_R_REV_10(world: World):
    [r] = exchange(world.running, post("/ocsp/card-sign", world.good))
    assert ocsp_outcome(r) == "unauthorized"


def test_keep_alive_and_pipelining_answer_in_order(world: World):
    """HTTP/1.1 keep-alive: many requests on one connection, sent all at once
    (pipelined), are answered in order on that connection."""
    order = [world.good, world.revoked, world.good, world.revoked, world.revoked] * 4
    with world.running.connect() as s:
        s.sendall(b"".join(post("/ocsp/card-auth", d) for d in order))
        got = Reader(s).read(len(order))
        assert [ocsp_outcome(r) for r in got] == ["good" if d == world.good else "revoked" for d in order]
        assert all("connection" not in r.headers for r in got)
        # still open after them
        s.sendall(get("/healthz"))
        [h] = Reader(s).read(1)
        assert h.status == 200


def test_request_split_into_small_packets(world: World):
    """A request arriving a few bytes at a time (head and body split anywhere) is
    answered once it is complete, and the connection serves the next one."""
    data = post("/ocsp/card-auth", world.revoked) + post("/ocsp/card-auth", world.good)
    with world.running.connect() as s:
        for i in range(0, len(data), 7):
            s.sendall(data[i : i + 7])
            time.sleep(0.001)
        assert [ocsp_outcome(r) for r in Reader(s).read(2)] == ["revoked", "good"]


def test_chunked_body(world: World):
    der = world.good
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (der[:10], der[10:50], der[50:])) + b"0\r\n\r\n"
    req = b"POST /ocsp/card-auth HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    [r] = exchange(world.running, req)
    assert ocsp_outcome(r) == "good"


def test_connection_close_is_honoured(world: World):
    """Connection: close: the answer says so and the server closes; a request pipelined
    after it is not answered."""
    with world.running.connect() as s:
        s.sendall(post("/ocsp/card-auth", world.good, "Connection: close\r\n") + post("/ocsp/card-auth", world.good))
        rd = Reader(s)
        [r] = rd.read(1)
        assert ocsp_outcome(r) == "good" and r.headers["connection"] == "close"
        assert rd.read(1) == [] and rd.eof


def test_http_10_closes_unless_keep_alive(world: World):
    with world.running.connect() as s:
        s.sendall(post("/ocsp/card-auth", world.good, version="1.0"))
        rd = Reader(s)
        [r] = rd.read(1)
        assert ocsp_outcome(r) == "good" and r.headers["connection"] == "close"
        assert rd.closed()
    with world.running.connect() as s:
        s.sendall(post("/ocsp/card-auth", world.good, "Connection: keep-alive\r\n", version="1.0"))
        rd = Reader(s)
        [r] = rd.read(1)
        assert ocsp_outcome(r) == "good" and r.headers["connection"] == "keep-alive"
        s.sendall(post("/ocsp/card-auth", world.revoked, "Connection: keep-alive\r\n", version="1.0"))
        assert ocsp_outcome(rd.read(1)[0]) == "revoked"


def test_oversized_declared_body_is_413_and_closed(world: World):
    """A Content-Length over 8 KiB is refused with 413 before the body is read, and the
    connection is closed (the body would otherwise be read as the next request)."""
    with world.running.connect() as s:
        s.sendall(f"POST /ocsp/card-auth HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_REQUEST_BYTES + 1}\r\n\r\n".encode())
        rd = Reader(s)
        [r] = rd.read(1)
        assert r.status == 413 and r.headers["connection"] == "close"
        assert rd.closed()


def test_oversized_streamed_body_is_413_while_it_arrives(world: World):
    """A chunked body (no length to trust) is cut off with 413 as soon as it passes
    8 KiB, while the client is still sending."""
    with world.running.connect() as s:
        s.sendall(b"POST /ocsp/card-auth HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(9):
            s.sendall(b"400\r\n" + b"\x30" * 1024 + b"\r\n")
        rd = Reader(s)
        [r] = rd.read(1)
        assert r.status == 413
        assert rd.closed()


def test_body_of_exactly_the_limit_is_read(world: World):
    """8 KiB exactly is within the limit: answered (malformedRequest: not a request)."""
    [r] = exchange(world.running, post("/ocsp/card-auth", b"\x30" * MAX_REQUEST_BYTES))
    assert ocsp_outcome(r) == "malformedrequest"


def test_empty_and_bad_get_are_malformed_request(world: World):
    for req in (
        post("/ocsp/card-auth", b""),
        get("/ocsp/card-auth/"),
        get("/ocsp/card-auth/%%%"),
        get("/ocsp/card-auth/" + "A" * (3 * MAX_GET_CHARS + 300)),  # over the GET bound, under the target limit
    ):
        [r] = exchange(world.running, req)
        assert ocsp_outcome(r) == "malformedrequest", req[:50]


def test_overlong_target_and_headers_refused(world: World):
    [r] = exchange(world.running, get("/ocsp/card-auth/" + "A" * (MAX_REQUEST_BYTES * 4 + 10)))
    assert r.status == 414
    [r] = exchange(world.running, get("/healthz", "X-Pad: " + "a" * 17000 + "\r\n"))
    assert r.status == 431


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)),  # a TLS ClientHello
        b"GET /healthz HTTP/9.9\r\n\r\n",
        b"POST /ocsp HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST /ocsp HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"\r\n\r\n\x00\x00\x00",
    ],
)
def test_malformed_http_is_400_and_closed(world: World, garbage: bytes):
    with world.running.connect() as s:
        s.sendall(garbage)
        rd = Reader(s)
        [r] = rd.read(1)
        assert r.status == 400 and r.headers["connection"] == "close"
        assert rd.closed()
    [h] = exchange(world.running, get("/healthz"))  # the server is still there
    assert h.status == 200


def test_upgrade_request_is_answered_without_upgrading_then_closed(world: World):
    """Upgrade (WebSocket, h2c) is ignored (RFC 9110 §7.8): the request gets its normal
    answer, then the connection closes (what follows would be another protocol)."""
    with world.running.connect() as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x85junk")
        rd = Reader(s)
        [r] = rd.read(1)
        assert r.status == 200 and json.loads(r.body)["fresh"] is True
        assert rd.closed()


def test_not_found_and_methods(world: World):
    [r] = exchange(world.running, get("/nope"))
    assert r.status == 404 and json.loads(r.body) == {"error": "not-found"}
    for method in ("PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"):
        [r] = exchange(world.running, get("/ocsp/card-auth", method=method))
        assert r.status == 405 and r.headers["allow"] == "GET, POST", method
    [r] = exchange(world.running, post("/healthz", b"x"))
    assert r.status == 405 and r.headers["allow"] == "GET, HEAD"


def test_expect_100_continue(world: World):
    with world.running.connect() as s:
        s.sendall(f"POST /ocsp/card-auth HTTP/1.1\r\nHost: x\r\nContent-Length: {len(world.good)}\r\nExpect: 100-continue\r\n\r\n".encode())
        s.settimeout(5)
        first = s.recv(64)
        assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(world.good)
        rd = Reader(s)
        if len(first) > 25:
            rd.parser.feed_data(first[25:])
        assert ocsp_outcome(rd.read(1)[0]) == "good"


# --------------------------------------------------------------------------- CRLs and health


def test_crls_and_health_R_REV_10(world: World, platform: Platform):
    """/crl/{ca}.crl and /crl/{ca}-delta.crl serve the CRLs the centre fetched; an
    unknown CA is 404; HEAD gives the length without the body; /healthz reports the lag
    and answers 503 past the bound."""
    [full] = exchange(world.running, get("/crl/card-auth.crl"))
    assert full.status == 200 and full.headers["content-type"] == "application/pkix-crl"
    assert full.body == world.centre.crl("card-auth", False)
    from cryptography import x509

    crl = x509.load_der_x509_crl(full.body)
    assert crl.get_revoked_certificate_by_serial_number(world.certs["revoked"].serial_number) is not None
    [delta] = exchange(world.running, get("/crl/card-auth-delta.crl"))
    assert delta.status == 200 and delta.body == world.centre.crl("card-auth", True)
    [missing] = exchange(world.running, get("/crl/nope.crl"))
    assert missing.status == 404
    with world.running.connect() as s:
        s.sendall(get("/crl/card-auth.crl", method="HEAD"))
        s.settimeout(5)
        head = s.recv(65536)
        assert head.endswith(b"\r\n\r\n") and f"content-length: {len(full.body)}".encode() in head
    [h] = exchange(world.running, get("/healthz"))
    body = json.loads(h.body)
    assert h.status == 200 and body["fresh"] is True and body["centre"] == "test" and body["max_lag_seconds"] == 3600.0
    world.centre.config.max_lag_s = -1.0  # past the bound
    [h] = exchange(world.running, get("/healthz"))
    assert h.status == 503 and json.loads(h.body)["fresh"] is False


# --------------------------------------------------------------------------- access control


def test_access_controlled_mode_over_http_R_VER_1(platform: Platform, make_centre, feed):
    """R-VER-1 over the wire: without a token, with a signature-only token, or with a
    non-bearer Authorization the card-auth status is unauthorized; a verifier-auth bearer
    token gets it; the root's answer (issuing CA status) is open."""
    issuer = ca_cert(platform, "card-auth")
    cert = issue(platform, "card-auth")
    tok_auth = verifier_token(platform, Role.VERIFIER_AUTH)
    tok_sign = verifier_token(platform, Role.VERIFIER_SIGN)
    c = make_centre(open_access=False, max_lag_s=3600.0)
    c.sync_once(feed)
    running = Running(c)
    try:
        der = request_der(cert, issuer)

        def ask(extra: str) -> str:
            [r] = exchange(running, post("/ocsp/card-auth", der, extra))
            return ocsp_outcome(r)

        assert ask("") == "unauthorized"
        assert ask(f"Authorization: Bearer {tok_sign}\r\n") == "unauthorized"
        assert ask(f"Authorization: Basic {tok_auth}\r\n") == "unauthorized"
        assert ask(f"Authorization: Bearer {tok_auth}\r\n") == "good"
        assert ask(f"authorization: bearer {tok_auth}\r\n") == "good"
        assert ask("") == "unauthorized", "the cached answer is not handed out without a token"
        root_q = request_der(issuer, ca_cert(platform, "root"))
        [r] = exchange(running, post("/ocsp/root", root_q))
        assert ocsp_outcome(r) == "good"
    finally:
        running.stop()


# --------------------------------------------------------------------------- idle and stop


def test_idle_connection_closed_after_timeout(platform: Platform, make_centre, feed):
    c = make_centre(max_lag_s=3600.0)
    c.sync_once(feed)
    running = Running(c, idle_timeout=0.5)
    try:
        with running.connect() as s:
            s.sendall(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Len")  # and then nothing
            assert Reader(s).closed(timeout=5)
    finally:
        running.stop()


def test_stop_closes_connections_and_the_listener(platform: Platform, make_centre, feed):
    c = make_centre(max_lag_s=3600.0)
    c.sync_once(feed)
    running = Running(c)
    s = running.connect()
    s.sendall(get("/healthz"))
    rd = Reader(s)
    assert rd.read(1)[0].status == 200
    port = running.port
    running.stop()
    assert rd.closed(timeout=5)
    s.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


# --------------------------------------------------------------------------- raw-socket fuzz

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _valid_requests(world: World) -> list[bytes]:
    b64 = base64.b64encode(world.good).decode()
    return [
        post("/ocsp/card-auth", world.good),
        post("/ocsp", world.revoked, "Authorization: Bearer x\r\n"),
        get("/ocsp/card-auth/" + quote(b64, safe="")),
        get("/healthz"),
        get("/crl/card-auth.crl"),
        post("/ocsp/card-auth", world.good, "Connection: close\r\n"),
        b"POST /ocsp/card-auth HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n" + world.good[:5] + b"\r\n0\r\n\r\n",
    ]


def test_raw_socket_fuzz_every_answer_is_http_and_server_survives_R_REV_10(world: World):
    """R-REV-10: random bytes, mutated and spliced valid requests, in random packet
    splits, on one connection: whatever arrives, every byte the server sends parses as
    HTTP/1.1 responses with a known status (never 500), OCSP answers parse as
    OCSPResponses, and a fresh connection is answered afterwards. Bounded: 120 examples."""
    seeds = _valid_requests(world)

    @st.composite
    def stream(draw) -> tuple[bytes, list[int]]:
        parts = []
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(["valid", "mutated", "random"]))
            if kind == "random":
                parts.append(draw(st.binary(max_size=300)))
                continue
            data = bytearray(draw(st.sampled_from(seeds)))
            if kind == "mutated":
                for _ in range(draw(st.integers(1, 3))):
                    i = draw(st.integers(0, len(data) - 1))
                    op = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
                    if op == "flip":
                        data[i] ^= 1 << draw(st.integers(0, 7))
                    elif op == "delete":
                        del data[i : i + draw(st.integers(1, 6))]
                    elif op == "insert":
                        data[i:i] = draw(st.binary(min_size=1, max_size=6))
                    else:
                        del data[i:]
                    if not data:
                        break
            parts.append(bytes(data))
        blob = b"".join(parts)
        cuts = sorted(draw(st.lists(st.integers(0, max(0, len(blob))), max_size=4)))
        return blob, cuts

    @FUZZ
    @given(stream())
    def run(case):
        blob, cuts = case
        with world.running.connect() as s:
            last = 0
            try:
                for cut in [*cuts, len(blob)]:
                    if cut > last:
                        s.sendall(blob[last:cut])
                        last = cut
                s.shutdown(socket.SHUT_WR)  # nothing more: the server answers what it can, then we read to EOF
            except OSError:
                pass  # the server closed after an error answer: fine, that answer is read below
            received = b""
            s.settimeout(5)
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                except TimeoutError:
                    break  # an incomplete request waits for more: not an error (the idle sweep ends it)
                if not chunk:
                    break
                received += chunk
        rd = Reader(socket.socket())  # a parser only
        try:
            rd.parser.feed_data(received)
        except httptools.HttpParserError as exc:
            raise AssertionError(f"not HTTP: {exc}: {received[:300]!r}") from None
        assert received == b"" or rd.done, received[:300]
        for r in rd.done:
            assert r.version == "1.1"
            assert r.status in (200, 400, 404, 405, 413, 414, 431, 503), r.status
            assert int(r.headers["content-length"]) == len(r.body)
            if r.headers.get("content-type") == "application/ocsp-response":
                resp = parse(r.body)
                assert resp.response_status is not ocsp.OCSPResponseStatus.INTERNAL_ERROR

    run()
    [h] = exchange(world.running, get("/healthz"))
    assert h.status == 200


# --------------------------------------------------------------------------- the command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_validity_serve_command_answers_and_stops_on_sigterm_R_REV_10(platform: Platform, settings, tmp_path: Path):
    """The real ``myna validity serve`` (a centre fed from the local store, its SyncLoop
    running): answers OCSP and /healthz once synced, stops on SIGTERM with exit code 0
    within a few seconds; a second one on the same port exits 1 with a clear message."""
    issuer = ca_cert(platform, "card-auth")
    cert = issue(platform, "card-auth")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYNA_")}
    env.update(MYNA_HOME=str(settings.home), MYNA_DATABASE_URL=settings.database_url, PYTHONUNBUFFERED="1")
    port = _free_port()
    cmd = [sys.executable, "-m", "myna.cli", "validity", "serve", "--centre", "cmdtest", "--port", str(port), "--interval", "0.05"]
    log = tmp_path / "centre.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                    s.sendall(get("/healthz"))
                    [h] = Reader(s).read(1)
                    if h.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(post("/ocsp/card-auth", request_der(cert, issuer)))
            assert ocsp_outcome(Reader(s).read(1)[0]) == "good"
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in second.stderr, second
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
