"""Bounds on what one HTTP request may cost ``myna serve`` before any route runs.

Two pieces, because uvicorn bounds neither:

- ``BodyLimit``, an ASGI middleware: a request body larger than its route's limit is
  answered ``413 body-too-large`` without being read further. A declared
  ``Content-Length`` over the limit is refused before a byte of the body is read; a
  chunked body, or one whose declared length is a lie, is counted as it streams in and
  refused once past the limit. Nothing past the limit is ever handed to the application,
  so memory stays bounded by the limit, not by what the client sends (FastAPI reads a JSON
  body whole before the route, and so before the token is checked). A body that stops
  arriving for ``body_timeout`` seconds is answered ``408``.
- ``BoundedHttpToolsProtocol``, uvicorn's httptools protocol with a header deadline and a
  header size bound: the request line and headers must arrive within ``HEADER_TIMEOUT_S``
  of the connection opening (or of the previous answer), else ``408``, and be at most
  ``MAX_HEAD_BYTES``, else ``431``. uvicorn's own ``timeout_keep_alive`` only runs between requests and
  is cancelled by any byte received, so a client sending half a request line, or a byte of
  header every few seconds, held its connection for ever; and httptools sets no limit on
  the size of the headers (uvicorn's ``h11_max_incomplete_event_size`` applies to its h11
  protocol only).

The limits per route: the default (``MYNA_MAX_BODY_BYTES``, 1 MiB) covers every JSON call
of the API and every form of the screens, the largest of them a mobile application
(document and signature, about 150 KB). Three routes take more, sized from their own
checks (the route refuses past those with its own message; the extra megabyte here is the
room for the other fields and the multipart framing):

- ``POST /api/v1/card-applications`` and ``/card-applications/qr``: a photograph of up to
  5 MiB in base64 (``PHOTO_B64_MAX``, 7,000,000 characters);
- ``POST /ui/counter/applications``: the counter's form with a photograph of up to 5 MiB;
- ``POST /api/v1/card-applications/paper``: a JSON Lines file of scanned paper forms of up
  to 200 MiB (``PAPER_MAX_BYTES``); Starlette spools an upload over 1 MiB to a temporary
  file, so this one costs disk rather than memory.

A route's limit is never below the default, so raising ``MYNA_MAX_BODY_BYTES`` raises all.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from myna.cards.defects import PHOTO_MAX_BYTES

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Seconds a request body may pause between two chunks (nginx's client_body_timeout idea:
# between reads, not for the whole body, so a big upload on a slow line still gets in).
BODY_TIMEOUT_S = 30.0
# Seconds for the request line and headers, from the connection opening or the previous
# answer (nginx's client_header_timeout).
HEADER_TIMEOUT_S = 30.0
# Request line and headers together: real ones are a few KB (the largest carry a bearer
# token or a session cookie); the bound is loose because it is checked per chunk read.
MAX_HEAD_BYTES = 1024 * 1024

_SLACK = 1024 * 1024


def route_limits(default: int) -> dict[tuple[str, str], int]:
    """(method, path) -> the body limit of the routes that take more than ``default``."""
    from myna.web.routers.card_management import PAPER_MAX_BYTES, PHOTO_B64_MAX

    routes = {
        ("POST", "/api/v1/card-applications"): PHOTO_B64_MAX + _SLACK,
        ("POST", "/api/v1/card-applications/qr"): PHOTO_B64_MAX + _SLACK,
        ("POST", "/ui/counter/applications"): PHOTO_MAX_BYTES + _SLACK,
        ("POST", "/api/v1/card-applications/paper"): PAPER_MAX_BYTES + _SLACK,
    }
    return {route: max(limit, default) for route, limit in routes.items()}


class _Stop(Exception):
    """Raised out of the application's ``receive`` after the refusal was sent."""


class BodyLimit:
    """ASGI middleware: ``413 body-too-large`` past the route's body limit, ``408
    body-timeout`` when the body stops arriving. See the module's docstring."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        routes: dict[tuple[str, str], int] | None = None,
        body_timeout: float = BODY_TIMEOUT_S,
    ):
        self.app = app
        self.default = max_body_bytes
        self.routes = route_limits(max_body_bytes) if routes is None else routes
        self.body_timeout = body_timeout

    def limit_for(self, scope: Scope) -> int:
        return self.routes.get((scope.get("method", ""), scope.get("path", "")), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, 413, "body-too-large", _too_large(declared, limit, declared=True))
            return

        received = 0
        started = False  # the application began its answer: too late for ours
        refused = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # whatever the application answers after our refusal is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def refuse(status: int, code: str, text: str) -> None:
            nonlocal refused
            if not started:
                await _refuse(send, status, code, text)
            refused = True
            raise _Stop

        async def limited_receive() -> Message:
            nonlocal received
            if refused:
                raise _Stop
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except asyncio.TimeoutError:
                await refuse(408, "body-timeout", f"the request body stopped arriving for {self.body_timeout:g} seconds")
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Refused before the chunk that crossed the limit reaches the application.
                    await refuse(413, "body-too-large", _too_large(received, limit, declared=False))
            return message

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _Stop:
            pass
        except Exception:
            if not refused:
                raise
            # The application failed on the body it never got (e.g. a parser wrapping our
            # _Stop in its own error); the client already has its answer.


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses it before an application sees it
    return None


def _too_large(size: int, limit: int, declared: bool) -> str:
    what = f"declared as {size} bytes" if declared else f"over {limit} bytes as it arrived"
    return f"the request body is too large ({what}); this address takes at most {limit} bytes"


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": code, "message": message}).encode()
    # connection: close makes uvicorn close the connection after the answer, so the rest
    # of the body is not read off the socket either.
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size bound on each request's head.

    The deadline is armed when the connection opens and after each answer (unless a
    pipelined request is already waiting), and cleared once a request's headers are
    complete: the application's time, and the body's (``BodyLimit``), are not counted."""

    header_timeout = HEADER_TIMEOUT_S
    max_head_bytes = MAX_HEAD_BYTES

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._head_timer = None
        self._head_bytes = 0
        self._in_head = False
        self._refused = False
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._in_head:
            self._refuse_head(408, "Request header timeout")
        else:  # not a byte of a request yet: nothing to answer, as for an idle keep-alive
            self._refused = True
            self.transport.close()

    def _refuse_head(self, status: int, text: str) -> None:
        self._refused = True
        self._cancel_head_timer()
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        msg = text.encode("ascii")
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, reason, len(msg), msg)
        )
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        # httptools keeps a header's name and value until the header is complete, so the
        # bytes are counted as they arrive, not per header: a chunk after which the head
        # is still incomplete was all head (apart, at most, from the end of a pipelined
        # request before it, hence the generous bound).
        if self._in_head and not self._refused:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse_head(431, "Request line and headers too large")

    def on_message_begin(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._refused:
            return
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.pipeline and not self.transport.is_closing():
            self._arm_head_timer()
