"""Interop fixtures: a REAL myna server in a subprocess, driven by the real CLI.

``live`` runs ``myna init`` and ``myna demo --residents 3`` as subprocesses against a
fresh data home and the per-test store of the ``database_url`` fixture (SQLite, or
PostgreSQL when MYNA_TEST_DATABASE_URL is set), then starts ``myna serve --no-schedule``
on a free port and waits for /healthz. MYNA_PUBLIC_URL is the server's own address, so
the URLs written into certificates and CRLs (CRL distribution points, freshestCRL,
caIssuers) really resolve, and the external tools fetch from them.

Helpers shared by the test modules live in ``interop_support.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from interop_support import Live, free_port
from myna_testing import require_tool

SERVER_START_TIMEOUT_S = 30


def _wait_healthy(live: Live, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"myna serve exited with {proc.returncode} before it was healthy:\n{live.server_output()}")
        try:
            with urllib.request.urlopen(live.url("/healthz"), timeout=2) as r:
                if r.status == 200 and json.loads(r.read()).get("status") == "ok":
                    return
        except (OSError, ValueError) as e:  # connection refused while starting, etc.
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"myna serve not healthy after {SERVER_START_TIMEOUT_S}s ({last!r}):\n{live.server_output()}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def live(tmp_path: Path, database_url: str):
    """A real ``myna serve`` subprocess over a store prepared by ``myna init`` and
    ``myna demo --residents 3`` (3 card-sign + 3 card-auth certificates).

    Function-scoped because its store is the per-test ``database_url``; each use costs
    three CLI runs and a server start (a few seconds), so tests that need it do several
    checks each. The server is terminated at teardown (killed if it does not stop)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    home = tmp_path / "myna-home"
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYNA_")}
    env.update(
        MYNA_HOME=str(home),
        MYNA_PUBLIC_URL=base_url,
        MYNA_DATABASE_URL=database_url,
        MYNA_LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
        COLUMNS="200",  # rich tables in CLI output stay on one line
    )
    lv = Live(base_url=base_url, port=port, env=env, home=home, tmp=work, server_log=tmp_path / "server.log")
    lv.run("init", "--operator", "interop")
    lv.run("demo", "--residents", "3")
    with open(lv.server_log, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "myna.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-schedule"],
            env=env,
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal goes to pytest, not straight to the server
        )
    lv.process = proc
    try:
        _wait_healthy(lv, proc)
        yield lv
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def openssl_bin() -> str:
    return require_tool("openssl")
