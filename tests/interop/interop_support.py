"""Helpers shared by the interop tests (imported by conftest.py and the test modules;
a module name of its own, so it never collides with another directory's conftest)."""

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


def free_port() -> int:
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
