"""Refuses NUL characters in what a request carries before any route sees them.

Why here and not per field: PostgreSQL cannot store U+0000 in a text column (SQLite
can), so a NUL that reached the store would fail only on the production database, and in
the middle of the work. No real value of this platform (a name, an address, a code, a
date, a token) contains one, so the request is refused whole, with a 400 that says why,
before anything is read or written (400 for the address, 422 for a body). Binary uploads (multipart photos) and DER bodies
(OCSP requests) legitimately carry zero bytes and are left alone; their text fields are
checked by the store backstop in ``errors.py``.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Bodies held in memory to be checked; bigger ones are for the routes' own limits.
MAX_CHECKED_BODY = 4 * 1024 * 1024

_TEXT_BODIES = ("application/x-www-form-urlencoded", "application/json", "text/")


def _has_nul_urlencoded(raw: bytes) -> bool:
    return b"\x00" in raw or b"\x00" in unquote_to_bytes(raw.replace(b"+", b" "))


# A NUL inside a JSON string is spelled "\u0000" (JSON has no other escape for it, a lower-
# case "u" only, and the digits have no case) where the backslash is not itself escaped,
# i.e. after an odd run of backslashes; outside strings a backslash is no JSON at all. Read
# left to right, a run of backslashes is escaped pairs and perhaps one escape's start, so
# taking the pairs out leaves "\u0000" exactly where the text holds a NUL. No parse: a
# parse costs the memory and recursion the body chooses (a 100,000-deep array raised
# RecursionError here, a 500 before any token was checked).


def _has_nul_json(raw: bytes) -> bool:
    # A raw NUL byte is invalid JSON, or UTF-16/32 (which json.loads would also read).
    return b"\x00" in raw or (b"\\u0000" in raw and b"\\u0000" in raw.replace(b"\\\\", b""))


class NulGuard:
    """ASGI middleware: ``invalid-input`` for a NUL in the path or query (400) or a text body (422)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or _has_nul_urlencoded(scope.get("query_string", b"")):
            await _refuse(send, 400, "the request's address contains a NUL character")
            return
        ctype = _header(scope, b"content-type")
        if not ctype.startswith(_TEXT_BODIES):
            await self.app(scope, receive, send)
            return
        body, more, messages = b"", True, []
        while more and len(body) <= MAX_CHECKED_BODY:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if len(body) <= MAX_CHECKED_BODY:
            nul = _has_nul_json(body) if ctype.startswith("application/json") else _has_nul_urlencoded(body)
            if nul:
                await _refuse(send, 422, "the request's body contains a NUL character")
                return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1").strip().lower()
    return ""


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": "invalid-input", "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
