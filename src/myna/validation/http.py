"""The centre's HTTP front inside ``myna serve``: OCSP over GET and POST (RFC 6960
Appendix A, RFC 5019 §5), CRL distribution, and a health endpoint, as an ASGI app in
front of the platform's FastAPI app.

A bare ASGI application rather than FastAPI routes: this is the hot path of the
platform (hundreds of millions of checks a year), every request is one of three fixed
shapes, and skipping the framework's routing, validation and response models roughly
triples the requests a core can answer. The management API stays in FastAPI.

A centre on its own (``myna validity serve``) does not run ASGI at all: it uses the bare
protocol in ``myna.validation.server``. The request decoding, CRL lookup and health
answer below are shared by both fronts; the OCSP decision itself is ``Centre.answer``.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import traceback
from urllib.parse import unquote

from cryptography.x509 import ocsp as x509_ocsp

from myna import logs
from myna.errors import MynaError
from myna.pki.ocsp import MAX_REQUEST_BYTES, unsuccessful
from myna.validation.centre import Centre, FeedSource
from myna.validation.feeds import TrafficRefused

log = logs.get("myna.validation")

OCSP_RESPONSE = [(b"content-type", b"application/ocsp-response")]
MALFORMED = unsuccessful(x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
INTERNAL = unsuccessful(x509_ocsp.OCSPResponseStatus.INTERNAL_ERROR)


# A GET carries the request in the URL: RFC 5019 §5 has clients use it only under 255
# bytes, POST above. Up to this many characters of base64 (about 1.5 KiB of DER) are
# taken, more answered malformedRequest: decoding is paid per character, and a bound well
# above real GETs keeps a refusal's cost near a good request's (bench/ocsp_malformed.py).
MAX_GET_CHARS = 2048
# The only characters base64 needs escaped in a path segment ('+', '/', '='), replaced
# at C speed; other escapes are legal but no client writes them (an escaped letter, an
# escaped line break from a line-wrapping encoder): a few are decoded with unquote, whose
# Python loop costs about a microsecond an escape, and a target full of them is refused.
_BASE64_ESCAPES = (("%2B", "+"), ("%2F", "/"), ("%3D", "="), ("%2b", "+"), ("%2f", "/"), ("%3d", "="))
MAX_OTHER_ESCAPES = 16


def ocsp_get_request(raw_path: str, encoded: str) -> bytes | None:
    """The DER request of an RFC 6960 A.1 / RFC 5019 §5 GET, or None if it cannot be one
    (answered malformedRequest).

    ``raw_path`` is the path as sent (percent-escapes kept), so that '%2F' stays apart from
    '/', which base64 may contain; ``encoded`` is what follows ``/ocsp/{ca}/`` in the
    decoded path, used when the raw path has nothing there."""
    parts = raw_path.split("/", 3)
    raw_rest = parts[3] if len(parts) == 4 else ""
    if raw_rest:
        encoded = _unescape(raw_rest) if len(raw_rest) <= 3 * MAX_GET_CHARS else None
    if not encoded or len(encoded) > MAX_GET_CHARS:
        return None
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=False)
    except (binascii.Error, ValueError):  # a lone trailing character; non-ASCII text
        return None


def _unescape(text: str) -> str | None:
    """``unquote(text)``, or None for a text of more than MAX_OTHER_ESCAPES escapes other
    than base64's. The same result as unquote: each replaced escape is one unquote would
    decode, and what replaces it is never a '%', so no new escape appears."""
    if "%" not in text:
        return text
    for escape, char in _BASE64_ESCAPES:
        text = text.replace(escape, char)
    if "%" not in text:
        return text
    if text.count("%") > MAX_OTHER_ESCAPES:
        return None
    return unquote(text)


# The head of a path (up to its third '/', where /ocsp/{ca}/ ends) is percent-decoded for
# routing; longer heads name no route and are left as sent.
_MAX_ROUTED_HEAD = 256


def route_path(raw_path: str) -> str:
    """The path to route on: its head (``/ocsp/{ca}``, ``/crl/{name}.crl``, ``/healthz``)
    percent-decoded, the rest as sent. An OCSP GET's request is decoded from the raw path
    by ocsp_get_request, and no other route has a fourth segment: decoding it too would
    only cost (about a microsecond an escape, in a target of up to 32 KiB)."""
    if "%" not in raw_path:
        return raw_path
    parts = raw_path.split("/", 3)
    head = "/".join(parts[:3])
    if len(head) > _MAX_ROUTED_HEAD:
        return raw_path
    head = unquote(head)
    return head + "/" + parts[3] if len(parts) == 4 else head


# Unexpected errors (a bug: every bad input is answered by Centre.answer itself) are
# logged as one line with where they were raised, at most one line a minute: a request
# that trips a bug can be sent thousands of times a second, and each traceback would cost
# the centre far more than the answer (and fill the log). The lines in between are
# counted and the count is in the next line.
_FAILURE_LOG_EVERY_S = 60.0
_failures = {"last": float("-inf"), "suppressed": 0}


def _log_failure(exc: Exception) -> None:
    now = time.monotonic()
    if now - _failures["last"] < _FAILURE_LOG_EVERY_S:
        _failures["suppressed"] += 1
        return
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    log.error(
        "ocsp answer failed",
        error=type(exc).__name__,
        message=str(exc)[:200],
        at=f"{frame.filename}:{frame.lineno}" if frame else None,
        suppressed=_failures["suppressed"],
    )
    _failures["last"], _failures["suppressed"] = now, 0


def ocsp_answer(centre: Centre, der: bytes, token: str | None, slug: str | None) -> bytes:
    """``Centre.answer``, with internalError instead of an exception: never a 500 page to
    an OCSP client, internalError is the protocol's answer (and the bug is logged, in one
    line without the request's values: the token is among the locals here)."""
    try:
        answer = centre.answer(der, token, slug)
    except Exception as exc:
        _log_failure(exc)
        answer = INTERNAL
    centre.traffic.ocsp(answer)
    return answer


def crl_body(centre: Centre, name: str) -> bytes | None:
    """The DER of ``/crl/{name}.crl`` (``{ca}`` or ``{ca}-delta``), or None."""
    delta = name.endswith("-delta")
    data = centre.crl(name.removesuffix("-delta"), delta)
    centre.traffic.crl(data is not None)
    return data


def health(centre: Centre) -> tuple[int, bytes]:
    """``/healthz``: 200 while within the lag bound, 503 past it (load balancers take the
    centre out of rotation), with the figures as JSON."""
    now = centre._precise_now()
    fresh = centre.fresh(now)
    body = {
        "centre": centre.config.name,
        "fresh": fresh,
        "lag_seconds": centre.lag(now),
        "max_lag_seconds": centre.config.max_lag_s,
        "last_seq": centre.last_seq,
    }
    return (200 if fresh else 503), json.dumps(body).encode()


async def _send(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive, limit: int) -> bytes | None:
    """The request body, or None once it grows past ``limit`` (the rest is not read)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _bearer(scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
    return None


class ValidityApp:
    """ASGI app for one centre. ``fallback`` (another ASGI app) gets every other path."""

    def __init__(self, centre: Centre, fallback=None, lifespan_hooks=None):
        self.centre = centre
        self.fallback = fallback
        self.lifespan_hooks = lifespan_hooks or []

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            if self.fallback is not None:
                return await self.fallback(scope, receive, send)
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == "/ocsp" or path.startswith("/ocsp/"):
            return await self._ocsp(scope, receive, send, path)
        if self.fallback is not None:
            return await self.fallback(scope, receive, send)
        if path.startswith("/crl/") and path.endswith(".crl"):
            return await self._crl(send, path)
        if path == "/healthz":
            return await self._health(send)
        await _send(send, 404, b'{"error":"not-found"}', [(b"content-type", b"application/json")])

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for hook in self.lifespan_hooks:
                    hook("startup")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in self.lifespan_hooks:
                    hook("shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _ocsp(self, scope, receive, send, path: str):
        rest = path[len("/ocsp") :].lstrip("/")
        slug, _, encoded = rest.partition("/")
        method = scope["method"]
        if method == "POST":
            body = await _read_body(receive, MAX_REQUEST_BYTES)
            if body is None:
                return await _send(send, 200, MALFORMED, OCSP_RESPONSE)
            der = body
        elif method == "GET":
            raw = scope.get("raw_path") or path.encode()
            der = ocsp_get_request(raw.decode("latin-1"), encoded)
            if der is None:
                return await _send(send, 200, MALFORMED, OCSP_RESPONSE)
        else:
            return await _send(send, 405, b"", [(b"allow", b"GET, POST")])
        await _send(send, 200, ocsp_answer(self.centre, der, _bearer(scope), slug or None), OCSP_RESPONSE)

    async def _crl(self, send, path: str):
        data = crl_body(self.centre, path[len("/crl/") : -len(".crl")])
        if data is None:
            return await _send(send, 404, b'{"error":"not-found"}', [(b"content-type", b"application/json")])
        await _send(send, 200, data, [(b"content-type", b"application/pkix-crl")])

    async def _health(self, send):
        status, body = health(self.centre)
        await _send(send, status, body, [(b"content-type", b"application/json")])


class SyncLoop:
    """Keeps a centre's replica current: pulls the feed every ``interval`` seconds and the
    CRLs every ``crl_interval`` seconds, in a background thread."""

    def __init__(
        self, centre: Centre, source: FeedSource, interval: float = 0.2, crl_interval: float = 30.0, traffic_interval: float = 20.0
    ):
        self.centre = centre
        self.source = source
        self.interval = interval
        self.crl_interval = crl_interval
        self.traffic_interval = traffic_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "SyncLoop":
        self._thread = threading.Thread(target=self._run, name=f"sync-{self.centre.config.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.report_traffic(everything=True)

    def report_traffic(self, everything: bool = False) -> int:
        """Send the counted minutes to the platform (see myna.validation.traffic): a report
        the platform refuses is dropped (sending it again would not help), one that fails
        is kept for the next report. Returns the minutes the platform took."""
        minutes = self.centre.traffic.take(everything)
        sent = 0
        for i, (minute, ocsp, crl, errors) in enumerate(minutes):
            try:
                self.source.report_traffic(self.centre.config.name, minute, ocsp, crl, errors)
                sent += 1
            except (TrafficRefused, MynaError) as exc:
                log.warning("traffic report refused", centre=self.centre.config.name, minute=minute.isoformat(), error=str(exc))
            except Exception as exc:  # the platform unreachable: keep the counts for the next report
                self.centre.traffic.put_back(minutes[i:])
                log.warning("traffic report failed", centre=self.centre.config.name, error=str(exc))
                break
        return sent

    def hook(self, phase: str) -> None:
        self.start() if phase == "startup" else self.stop()

    def _run(self) -> None:
        last_crl = 0.0
        last_traffic = time.monotonic()
        failing = False
        while not self._stop.is_set():
            try:
                self.centre.sync_once(self.source)
                if time.monotonic() - last_crl > self.crl_interval:
                    self.centre.refresh_crls(self.source)
                    last_crl = time.monotonic()
                if time.monotonic() - last_traffic > self.traffic_interval:
                    last_traffic = time.monotonic()
                    self.report_traffic()
                if failing:
                    log.info("feed reachable again", centre=self.centre.config.name)
                failing = False
            except Exception as exc:  # keep trying; the lag bound protects answers meanwhile
                if not failing:
                    log.warning("feed sync failed", centre=self.centre.config.name, error=str(exc))
                failing = True
            self._stop.wait(self.interval)
