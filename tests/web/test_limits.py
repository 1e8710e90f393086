"""Bounds on one request to ``myna serve``: the body limit (413 as the body streams in,
whatever the Content-Length says), the body and header deadlines, the head size bound.

The body tests drive the ASGI app directly with a ``receive`` that hands out the body in
chunks and counts what the server side pulled: the memory a request costs is what the
application reads, so that is what is asserted (not RSS, not time)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest

from myna.settings import Settings
from myna.web.app import create_app
from myna.web.limits import DEFAULT_MAX_BODY_BYTES, BodyLimit, BoundedHttpToolsProtocol, route_limits

CHUNK = 64 * 1024
BIG = 8 * 1024 * 1024  # 8 MiB offered: eight times the default limit


class Client:
    """One request against an ASGI app, its body offered ``chunk`` bytes at a time."""

    def __init__(self, app):
        self.app = app

    def request(
        self, path: str, body_size: int, headers: list[tuple[bytes, bytes]], method: str = "POST", chunk: int = CHUNK, stall: bool = False
    ):
        pulled = 0
        messages: list[dict] = []

        async def receive():
            nonlocal pulled
            if stall and pulled >= chunk:
                await asyncio.sleep(3600)  # the client stops sending
            n = min(chunk, body_size - pulled)
            pulled += n
            return {"type": "http.request", "body": b"x" * n, "more_body": pulled < body_size}

        async def send(message):
            messages.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver"), *headers],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }
        asyncio.run(self.app(scope, receive, send))
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        return start["status"], dict(start["headers"]), body, pulled


@pytest.fixture
def app(platform):
    return create_app(platform, schedule=False)


@pytest.fixture
def client(app):
    return Client(app)


JSON = (b"content-type", b"application/json")


def test_declared_content_length_over_the_limit_is_413_before_any_body_is_read(client):
    status, headers, body, pulled = client.request("/api/v1/certificates", BIG, [JSON, (b"content-length", str(BIG).encode())])
    assert status == 413 and json.loads(body)["error"] == "body-too-large"
    assert headers[b"connection"] == b"close"
    assert pulled == 0


def test_chunked_body_without_content_length_is_cut_off_at_the_limit(client):
    """Before the limit, the whole 8 MiB was read (and parsed) before the 401."""
    status, _, body, pulled = client.request("/api/v1/certificates", BIG, [JSON, (b"transfer-encoding", b"chunked")])
    assert status == 413 and json.loads(body)["error"] == "body-too-large"
    assert pulled <= DEFAULT_MAX_BODY_BYTES + CHUNK


def test_a_lying_content_length_does_not_raise_the_limit(client):
    """The header says 100 bytes; the bytes are counted as they come, not trusted."""
    status, _, body, pulled = client.request("/api/v1/certificates", BIG, [JSON, (b"content-length", b"100")])
    assert status == 413 and json.loads(body)["error"] == "body-too-large"
    assert pulled <= DEFAULT_MAX_BODY_BYTES + CHUNK


def test_the_limit_applies_before_authentication_on_a_public_form_too(client):
    status, _, _, pulled = client.request("/ui/login", BIG, [(b"content-type", b"application/x-www-form-urlencoded")])
    assert status == 413 and pulled <= DEFAULT_MAX_BODY_BYTES + CHUNK


def test_a_body_under_the_limit_reaches_the_route(client):
    """Half a MiB of (bad) JSON without a token: the route's own answer (422 or 401), not 413."""
    status, _, _, pulled = client.request("/api/v1/certificates", DEFAULT_MAX_BODY_BYTES // 2, [JSON])
    assert status in (401, 422) and pulled == DEFAULT_MAX_BODY_BYTES // 2


def test_the_photo_and_file_routes_take_more_and_are_bounded_too(client):
    limits = route_limits(DEFAULT_MAX_BODY_BYTES)
    paper = limits[("POST", "/api/v1/card-applications/paper")]
    assert limits[("POST", "/api/v1/card-applications")] > 7_000_000  # a 5 MiB photograph in base64
    assert limits[("POST", "/ui/counter/applications")] > 5 * 1024 * 1024
    # Above the default: read on past 1 MiB (and answered by the route: 422 or 401)...
    status, _, _, pulled = client.request("/api/v1/card-applications", 3 * 1024 * 1024, [JSON])
    assert status in (401, 422) and pulled == 3 * 1024 * 1024
    # ...but still refused past the route's own limit, declared or streamed.
    status, _, _, pulled = client.request("/api/v1/card-applications/paper", paper + 1, [(b"content-length", str(paper + 1).encode())])
    assert status == 413 and pulled == 0
    status, _, _, pulled = client.request("/api/v1/card-applications", 10 * 1024 * 1024, [JSON, (b"transfer-encoding", b"chunked")])
    assert status == 413 and pulled <= limits[("POST", "/api/v1/card-applications")] + CHUNK


def test_the_limit_is_the_setting_MYNA_MAX_BODY_BYTES(platform, monkeypatch):
    monkeypatch.setenv("MYNA_MAX_BODY_BYTES", "4096")
    settings = Settings.from_env(platform.settings.home)
    assert settings.max_body_bytes == 4096
    small = Client(BodyLimit(create_app(platform, schedule=False), max_body_bytes=settings.max_body_bytes))
    status, _, _, pulled = small.request("/api/v1/certificates", 10_000, [JSON], chunk=1024)
    assert status == 413 and pulled <= 4096 + 1024
    monkeypatch.setenv("MYNA_MAX_BODY_BYTES", "0")
    with pytest.raises(SystemExit, match="MYNA_MAX_BODY_BYTES"):
        Settings.from_env(platform.settings.home)


def test_the_app_reads_its_limit_from_the_platform_settings(platform):
    from dataclasses import replace

    platform.settings = replace(platform.settings, max_body_bytes=2048)
    status, _, _, pulled = Client(create_app(platform, schedule=False)).request("/api/v1/certificates", 10_000, [JSON], chunk=1024)
    assert status == 413 and pulled <= 2048 + 1024


def test_a_body_that_stops_arriving_is_408(platform):
    app = BodyLimit(create_app(platform, schedule=False), body_timeout=0.2)
    status, _, body, _ = Client(app).request("/api/v1/certificates", 100_000, [JSON], chunk=1000, stall=True)
    assert status == 408 and json.loads(body)["error"] == "body-timeout"


# -- the head of a request, on a real uvicorn server -----------------------------------------


class _Quick(BoundedHttpToolsProtocol):
    header_timeout = 0.5
    max_head_bytes = 16 * 1024


@pytest.fixture
def server(platform):
    import uvicorn

    config = uvicorn.Config(
        create_app(platform, schedule=False), host="127.0.0.1", port=0, http=_Quick, log_level="warning", lifespan="off"
    )
    srv = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield port
    srv.should_exit = True
    thread.join(10)
    sock.close()


def _exchange(port: int, data: bytes, wait: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may close before all is sent; its answer is still there
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        return out


def test_a_half_sent_request_head_is_answered_408_and_closed(server):
    """uvicorn's keep-alive timeout is cancelled by any byte: this was held for ever."""
    out = _exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert out.startswith(b"HTTP/1.1 408 ")


def test_a_connection_that_sends_nothing_is_closed(server):
    """Closed by the server (recv sees the end) well before the client's own 10 s."""
    with socket.create_connection(("127.0.0.1", server), timeout=10) as s:
        assert s.recv(100) == b""


def test_an_oversized_head_is_431(server):
    """A header that never ends: httptools would hold all of it (it sets no bound)."""
    out = _exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 * 1024))
    assert out.startswith(b"HTTP/1.1 431 ")


def test_normal_requests_and_keep_alive_are_unaffected(server):
    out = _exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 200 OK") == 2


def test_a_streamed_body_over_the_limit_is_413_on_the_wire(server):
    head = b"POST /api/v1/certificates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    piece = b"%x\r\n%s\r\n" % (CHUNK, b"x" * CHUNK)
    out = _exchange(server, head + piece * (2 * DEFAULT_MAX_BODY_BYTES // CHUNK))
    assert out.startswith(b"HTTP/1.1 413 ") and b"body-too-large" in out
