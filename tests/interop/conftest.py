"""Interop fixtures: a REAL myna server in a subprocess, driven by the real CLI.

``live`` runs ``myna init`` and ``myna demo --residents 3`` as subprocesses against a
fresh data home and the per-test store of the ``database_url`` fixture (SQLite, or
PostgreSQL when MYNA_TEST_DATABASE_URL is set), then starts ``myna serve --no-schedule``
on a free port and waits for /healthz. MYNA_PUBLIC_URL is the server's own address, so
the URLs written into certificates and CRLs (CRL distribution points, freshestCRL,
caIssuers) really resolve, and the external tools fetch from them.

Also here: small helpers shared by the interop modules (HTTP download, reading the
distribution-point URLs out of certificates and CRLs with ``cryptography``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

SERVER_START_TIMEOUT_S = 30
CLI_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CliError(subprocess.CalledProcessError):
    """CalledProcessError that shows the command's output when it is reported."""

    def __str__(self) -> str:
        return f"{super().__str__()}\n--- stdout ---\n{self.output}\n--- stderr ---\n{self.stderr}"


@dataclass
class Live:
    base_url: str  # http://127.0.0.1:<port>, also MYNA_PUBLIC_URL
    port: int
    env: dict[str, str]  # the environment the CLI and the server run with
    home: Path  # MYNA_HOME
    tmp: Path  # scratch space for the test (downloads, PEM files)
    server_log: Path
    process: subprocess.Popen | None = None

    def run(self, *args: str, check: bool = True, text: bool = True, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
        """Run ``myna <args>`` with the live environment; raises (with output) on failure when ``check``."""
        cmd = [sys.executable, "-m", "myna.cli", *map(str, args)]
        proc = subprocess.run(cmd, env=self.env, cwd=self.tmp, capture_output=True, text=text, timeout=timeout)
        if check and proc.returncode != 0:
            raise CliError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def get(self, url: str) -> bytes:
        """GET an absolute URL (as written in a certificate) or a path on the server."""
        return http_get(url if "://" in url else self.url(url))

    def certs(self, kind: str | None = None, status: str | None = None) -> list[dict]:
        args = ["cert", "list", "--json"] + (["--kind", kind] if kind else []) + (["--status", status] if status else [])
        return json.loads(self.run(*args).stdout)

    def cert(self, serial: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.run("cert", "get", serial, "--pem").stdout.encode())

    def ca_cert(self, kind: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.run("ca", "get", kind, "--pem").stdout.encode())

    def server_output(self) -> str:
        try:
            return self.server_log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def http_get(url: str, timeout: float = 10) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        raise AssertionError(f"GET {url} -> {e.code}: {e.read()[:500]!r}") from None


def crl_dp_url(cert: x509.Certificate) -> str:
    """The (single) HTTP URL of the certificate's CRL distribution point extension."""
    dps = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    urls = [n.value for dp in dps for n in (dp.full_name or []) if isinstance(n, x509.UniformResourceIdentifier)]
    assert len(urls) == 1, f"expected one CRLDP URI, got {urls}"
    return urls[0]


def freshest_crl_url(crl: x509.CertificateRevocationList) -> str:
    """The (single) URL in a full CRL's freshestCRL extension: where its delta CRL is."""
    fresh = crl.extensions.get_extension_for_class(x509.FreshestCRL).value
    urls = [n.value for dp in fresh for n in (dp.full_name or []) if isinstance(n, x509.UniformResourceIdentifier)]
    assert len(urls) == 1, f"expected one freshestCRL URI, got {urls}"
    return urls[0]


def write_pem(path: Path, *objs) -> Path:
    """Write certificates and/or CRLs (cryptography objects) as one PEM file."""
    path.write_bytes(b"".join(o.public_bytes(Encoding.PEM) for o in objs))
    return path


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
    ``myna demo --residents 3`` (3 card-sign + 3 card-auth certificates)."""
    port = _free_port()
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
    path = shutil.which("openssl")
    if not path:
        pytest.skip("openssl command not found")
    return path
