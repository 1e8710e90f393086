"""The HTTP server of a centre on its own (``myna validity serve``): an asyncio protocol on
uvloop with httptools' request parser, no ASGI.

Why not uvicorn, as for ``myna serve``: every OCSP check is one small request answered
from memory, so the server around ``Centre.answer`` is most of the cost. uvicorn writes
the head and the body of each response with two ``send()`` calls and runs the ASGI
machinery (scope dict, receive/send coroutines, a task) per request; this protocol parses
with the same C parser, calls ``Centre.answer`` straight from the parser's callback and
writes each response with one ``transport.write``. Measured on the benchmark machine, the
same centre behind each: 2.3-2.6x the requests per server CPU-second
(docs/benchmarks-ocsp.md).

What it serves (the same URLs and answers as ``ValidityApp``, which stays the front of
the in-process centre in ``myna serve``; the decoding and the decision are shared):

- ``POST /ocsp`` and ``POST /ocsp/{ca}``: a DER OCSPRequest (RFC 6960 A.1);
- ``GET /ocsp/{ca}/{url-encoded base64}`` (RFC 5019 §5);
- ``GET|HEAD /crl/{ca}.crl`` and ``/crl/{ca}-delta.crl``; ``GET|HEAD /healthz``
  (200 while within the lag bound, 503 past it);
- anything else: 404; another method: 405 with ``Allow``.

HTTP handling: HTTP/1.1 keep-alive and pipelining (answers in order), ``Connection:
close``, HTTP/1.0 (closed after the answer unless it asks for keep-alive), ``Expect:
100-continue``. Limits, each answered and then the connection closed (after an error the
rest of the stream cannot be trusted to be in step): a body over 8 KiB, declared or as it
arrives, 413; a request target over 8 KiB, 414; headers over 16 KiB, 431; anything the
parser rejects, 400. A connection idle (no bytes in) for ``idle_timeout`` seconds is
closed. A client that stops reading while pipelining gets no more of its requests read
(``pause_writing`` pauses reading), so the output buffer stays bounded.
"""

from __future__ import annotations

import asyncio
import signal
import socket

import httptools

from myna import logs
from myna.pki.ocsp import MAX_REQUEST_BYTES
from myna.validation.centre import Centre
from myna.validation.http import MALFORMED, MAX_GET_CHARS, SyncLoop, crl_body, health, ocsp_answer, ocsp_get_request, route_path

log = logs.get("myna.validation")

# A GET carries at most MAX_GET_CHARS of base64 (ocsp_get_request), each character escaped
# at most, after /ocsp/{ca}/: 8 KiB holds it; a longer target is not read on.
MAX_TARGET_BYTES = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024
_MAX_OCSP_GET_TARGET = 3 * MAX_GET_CHARS + 256  # "/ocsp/{ca}/" and a query string, generously

_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Content Too Large",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}
# The hot path's head, built once: only the length varies.
_OCSP_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/ocsp-response\r\ncontent-length: "
_NOT_FOUND = b'{"error":"not-found"}'
_JSON = b"application/json"


class _Reject(Exception):
    """Raised from a parser callback to stop parsing once an error answer is written."""


_CLOSE = b"connection: close\r\n"
_KEEP_ALIVE = b"connection: keep-alive\r\n"  # said only to HTTP/1.0 clients that asked for it


def _response(
    status: int, body: bytes, content_type: bytes | None, connection: bytes, extra: bytes = b"", head_only: bool = False
) -> bytes:
    head = b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])
    if content_type is not None:
        head += b"content-type: " + content_type + b"\r\n"
    head += b"content-length: %d\r\n" % len(body) + extra + connection
    return head + b"\r\n" + (b"" if head_only else body)


class _Connection(asyncio.Protocol):
    """One client connection. httptools calls the ``on_*`` methods while ``feed_data``
    runs, so every request is answered synchronously, in arrival order."""

    __slots__ = (
        "server",
        "centre",
        "parser",
        "transport",
        "url",
        "body",
        "size",
        "auth",
        "header_bytes",
        "expect_continue",
        "last_active",
        "closed",
    )

    def __init__(self, server: "ValidityServer"):
        self.server = server
        self.centre = server.centre
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []
        self.size = 0
        self.auth: str | None = None
        self.header_bytes = 0
        self.expect_continue = False
        self.last_active = 0.0
        self.closed = False

    # -- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.last_active = self.server.loop.time()
        self.server.connections.add(self)

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.last_active = self.server.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Reject) or self.closed:
                return  # answered already
            log.error("http server callback failed", error=repr(exc.__context__ or exc))
            self._fail(500)
        except httptools.HttpParserUpgrade:
            # The request itself was answered (Upgrade ignored, RFC 9110 §7.8); what follows
            # it would be another protocol's bytes: close.
            if not self.closed:
                self._close()
        except httptools.HttpParserError:
            self._fail(400)

    def pause_writing(self) -> None:
        # A client that pipelines without reading: stop reading its requests until the
        # answers already queued have drained.
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        if not self.closed:
            self.transport.resume_reading()

    # -- httptools callbacks -------------------------------------------------------

    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []
        self.size = 0
        self.auth = None
        self.header_bytes = 0
        self.expect_continue = False

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_TARGET_BYTES:
            self._reject(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value) + 4
        if self.header_bytes > MAX_HEADER_BYTES:
            self._reject(431)
        lname = name.lower()
        if lname == b"authorization":
            # As ValidityApp: the first Authorization header decides; only a bearer token counts.
            if self.auth is None:
                self.auth = value[7:].strip().decode("latin-1") if value[:7].lower() == b"bearer " else ""
        elif lname == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                return  # the parser rejects it
            if declared > MAX_REQUEST_BYTES:
                self._reject(413)  # refused before a byte of it is read
        elif lname == b"expect" and value.lower() == b"100-continue":
            self.expect_continue = True

    def on_headers_complete(self) -> None:
        if self.expect_continue:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > MAX_REQUEST_BYTES:
            self._reject(413)  # a chunked body grows past the limit as it arrives
        self.body.append(body)

    def on_message_complete(self) -> None:
        parser = self.parser
        if not parser.should_keep_alive():
            self.transport.write(self._answer(_CLOSE))
            self._close()
            raise _Reject  # whatever else was pipelined after it is not answered
        self.transport.write(self._answer(b"" if parser.get_http_version() == "1.1" else _KEEP_ALIVE))

    # -- answering -----------------------------------------------------------------

    def _answer(self, connection: bytes) -> bytes:
        """The whole response (head and body: one write) to the request just parsed;
        ``connection`` is the Connection header line to send, if any."""
        raw = self.url
        if raw[:1] != b"/":
            try:  # absolute form (a proxy's request line): the path part
                raw = httptools.parse_url(raw).path or b""
            except httptools.HttpParserInvalidURLError:
                return _response(400, b"", None, connection)
        if len(raw) > _MAX_OCSP_GET_TARGET and raw.startswith(b"/ocsp/") and self.parser.get_method() == b"GET":
            # longer than any GET ocsp_get_request takes (MAX_GET_CHARS, each character
            # escaped at most): refused before the target is copied and decoded
            return b"%s%d\r\n%s\r\n%s" % (_OCSP_HEAD, len(MALFORMED), connection, MALFORMED)
        raw = raw.partition(b"?")[0]
        raw_path = raw.decode("latin-1")
        path = route_path(raw_path)
        method = self.parser.get_method()
        if path == "/ocsp" or path.startswith("/ocsp/"):
            slug, _, encoded = path[6:].partition("/")
            if method == b"POST":
                der = b"".join(self.body)
            elif method == b"GET":
                der = ocsp_get_request(raw_path, encoded)
                if der is None:
                    return b"%s%d\r\n%s\r\n%s" % (_OCSP_HEAD, len(MALFORMED), connection, MALFORMED)
            else:
                return _response(405, b"", None, connection, b"allow: GET, POST\r\n")
            answer = ocsp_answer(self.centre, der, self.auth, slug or None)
            return b"%s%d\r\n%s\r\n%s" % (_OCSP_HEAD, len(answer), connection, answer)
        if path == "/healthz":
            if method not in (b"GET", b"HEAD"):
                return _response(405, b"", None, connection, b"allow: GET, HEAD\r\n")
            status, body = health(self.centre)
            return _response(status, body, _JSON, connection, head_only=method == b"HEAD")
        if path.startswith("/crl/") and path.endswith(".crl"):
            if method not in (b"GET", b"HEAD"):
                return _response(405, b"", None, connection, b"allow: GET, HEAD\r\n")
            data = crl_body(self.centre, path[5:-4])
            if data is None:
                return _response(404, _NOT_FOUND, _JSON, connection, head_only=method == b"HEAD")
            return _response(200, data, b"application/pkix-crl", connection, head_only=method == b"HEAD")
        return _response(404, _NOT_FOUND, _JSON, connection, head_only=method == b"HEAD")

    def _reject(self, status: int) -> None:
        self._fail(status)
        raise _Reject

    def _fail(self, status: int) -> None:
        """Answer an error and close: after it, the rest of the stream is not trusted."""
        if self.closed:
            return
        self.transport.write(_response(status, b"", None, _CLOSE))
        self._close()

    def _close(self) -> None:
        self.closed = True  # nothing more is read or answered; queued answers still go out
        self.transport.close()


class ValidityServer:
    """One centre's HTTP server: the listening socket, its connections, the SyncLoop."""

    def __init__(self, centre: Centre, sync: SyncLoop | None = None, idle_timeout: float = 30.0):
        self.centre = centre
        self.sync = sync
        self.idle_timeout = idle_timeout
        self.connections: set[_Connection] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._stopping: asyncio.Event | None = None
        self._sweeper: asyncio.TimerHandle | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None, reuse_port: bool = False) -> int:
        """Listen (raises OSError if the address is taken), start the SyncLoop, and
        return the port listened on."""
        self.loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if sock is not None:
            self._server = await self.loop.create_server(lambda: _Connection(self), sock=sock, backlog=2048)
        else:
            self._server = await self.loop.create_server(lambda: _Connection(self), host, port, reuse_port=reuse_port or None, backlog=2048)
        if self.sync is not None:
            self.sync.start()
        self._sweeper = self.loop.call_later(1.0, self._sweep)
        return self._server.sockets[0].getsockname()[1]

    def _sweep(self) -> None:
        # One timer for all connections rather than one per request: resetting a timer on
        # every request would cost the hot path more than this costs once a second.
        deadline = self.loop.time() - self.idle_timeout
        for conn in list(self.connections):
            if conn.last_active < deadline:
                conn._close()
        self._sweeper = self.loop.call_later(1.0, self._sweep)

    def request_stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def stopped(self) -> None:
        """Wait for ``request_stop`` (or SIGINT/SIGTERM when installed), then stop."""
        await self._stopping.wait()
        await self.stop()

    async def stop(self) -> None:
        """Stop listening, close every connection once its queued answers are written (no
        request is ever half answered: answers are written whole, synchronously), stop the
        SyncLoop and close the replica."""
        if self._server is None:
            return
        self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self.connections):
            conn._close()
        await self._server.wait_closed()
        self._server = None
        for _ in range(50):  # transports flush their buffers before connection_lost
            if not self.connections:
                break
            await asyncio.sleep(0.02)
        if self.sync is not None:
            await asyncio.to_thread(self.sync.stop)
        self.centre.replica.close()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.loop.add_signal_handler(sig, self.request_stop)


def serve(centre: Centre, sync: SyncLoop | None, host: str, port: int, reuse_port: bool = False, on_listening=None) -> None:
    """Run until SIGINT or SIGTERM (``myna validity serve``), on uvloop."""
    import uvloop

    async def main() -> None:
        server = ValidityServer(centre, sync)
        bound = await server.start(host, port, reuse_port=reuse_port)
        server.install_signal_handlers()
        if on_listening is not None:
            on_listening(bound)
        await server.stopped()

    uvloop.run(main())
