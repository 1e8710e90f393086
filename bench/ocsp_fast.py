"""What-if for bench/ocsp.py, not a product entry point: the same validity centre
(``Centre`` + ``SyncLoop`` over HTTP, as ``myna validity serve --source`` builds them)
behind a bare asyncio protocol (uvloop + httptools) instead of uvicorn's ASGI server.

It measures what the ASGI layer costs on the OCSP hot path: uvicorn answers each request
with two socket writes (status line and headers, then the body) and runs the ASGI
machinery (scope dict, receive/send coroutines, a task per request); this writes one
buffer per response and calls ``Centre.answer`` straight from the parser's callback.
POST /ocsp[/{ca}] and GET /ocsp/{ca}/{base64} only (enough for the benchmark).

    python bench/ocsp_fast.py --centre tokyo --port 8002 --source URL --token T [--reuse-port]

Several copies with --reuse-port share one port (SO_REUSEPORT), each its own centre.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import gc
import sys
import time
from urllib.parse import unquote

import httptools

from myna.settings import Settings
from myna.validation.centre import Centre, CentreConfig
from myna.validation.feeds import HttpFeed
from myna.validation.http import INTERNAL, MALFORMED, SyncLoop

HEAD_200 = b"HTTP/1.1 200 OK\r\ncontent-type: application/ocsp-response\r\ncontent-length: "
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 21\r\n\r\n{\"error\":\"not-found\"}"
LIMIT = 8 * 1024


class OcspProtocol(asyncio.Protocol):
    __slots__ = ("centre", "transport", "parser", "url", "body", "auth", "header")

    def __init__(self, centre: Centre):
        self.centre = centre
        self.parser = httptools.HttpRequestParser(self)
        self.transport = None
        self.url = b""
        self.body: list[bytes] = []
        self.auth = None
        self.header = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url, self.body, self.auth = b"", [], None

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"authorization" and value[:7].lower() == b"bearer ":
            self.auth = value[7:].strip().decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        url = self.url
        if not (url == b"/ocsp" or url.startswith(b"/ocsp/")):
            self._write(NOT_FOUND)
            return
        rest = url[6:].decode("latin-1")
        slug, _, encoded = rest.partition("/")
        method = self.parser.get_method()
        if method == b"POST":
            der = b"".join(self.body)
            if len(der) > LIMIT:
                return self._answer(MALFORMED)
        elif method == b"GET":
            try:
                text = unquote(encoded)
                der = base64.b64decode(text + "=" * (-len(text) % 4))
            except (binascii.Error, ValueError):
                return self._answer(MALFORMED)
        else:
            self._write(b"HTTP/1.1 405 Method Not Allowed\r\nallow: GET, POST\r\ncontent-length: 0\r\n\r\n")
            return
        try:
            response = self.centre.answer(der, self.auth, slug or None)
        except Exception:  # noqa: BLE001 - as ValidityApp: internalError, never a 500 page
            response = INTERNAL
        self._answer(response)

    def _answer(self, response: bytes) -> None:
        self._write(b"%s%d\r\n\r\n%s" % (HEAD_200, len(response), response))

    def _write(self, data: bytes) -> None:
        self.transport.write(data)
        if not self.parser.should_keep_alive():
            self.transport.close()


def _gc_logger():
    started = [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        if ms > 2 or info["generation"] == 2:
            print(f"gc generation {info['generation']}: {ms:.1f} ms, {len(gc.get_objects())} objects tracked", file=sys.stderr, flush=True)

    return callback


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--centre", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--reuse-port", action="store_true")
    ap.add_argument("--gc", choices=("on", "log", "off"), default="on",
                    help="log: print every collection over 2 ms (and every full one) to stderr; off: gc.disable() (a bound, not a fix)")
    args = ap.parse_args()
    if args.gc == "off":
        gc.disable()
    elif args.gc == "log":
        gc.callbacks.append(_gc_logger())
    import uvloop

    settings = Settings.from_env()
    centre = Centre.from_bundle(settings.home / "centres" / args.centre, CentreConfig(name=args.centre))
    SyncLoop(centre, HttpFeed(args.source, args.token), interval=0.2).start()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: OcspProtocol(centre), "127.0.0.1", args.port, reuse_port=args.reuse_port, backlog=2048)
        async with server:
            await server.serve_forever()

    uvloop.run(serve())


if __name__ == "__main__":
    main()
