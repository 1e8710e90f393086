"""Concurrency helpers (import as ``race_support``): the platform's app served by uvicorn
on a local port in a thread of the test process, and callers released together by a
barrier, each with its own HTTP connection.

A real server rather than TestClient: the store's locking (SQLite's single writer,
PostgreSQL's row locks and unique indexes) is what is under test, so requests must reach
it through the server's own worker threads, as a client's would.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Callable, Iterator

import httpx
import uvicorn

from myna.web.app import create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(platform) -> Iterator[str]:
    """The app on http://127.0.0.1:<port> for the duration of the block."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(platform, schedule=False), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def together(base_url: str, calls: list[Callable[[httpx.Client], httpx.Response]]) -> list[httpx.Response]:
    """Run every call at once (one thread and one connection each, released by a
    barrier); the responses in the order of ``calls``. A call that raised re-raises here."""
    barrier = threading.Barrier(len(calls))
    out: list[httpx.Response | BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            try:
                barrier.wait()
                out[i] = calls[i](client)
            except BaseException as exc:  # noqa: BLE001 - reported to the test below
                out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    for r in out:
        if isinstance(r, BaseException):
            raise r
    return out  # type: ignore[return-value]
