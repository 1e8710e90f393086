"""Helpers shared by the interop tests (imported by conftest.py and the test modules;
a module name of its own, so it never collides with another directory's conftest)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID

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

    @property
    def operator_token(self) -> str:
        """The demo operator's API token (written by ``myna demo`` to MYNA_HOME/demo/tokens.json)."""
        return json.loads((self.home / "demo" / "tokens.json").read_text())["operator"]

    def api(self, path: str) -> dict | list:
        """GET /api/v1/<path> as the demo operator; returns the decoded JSON."""
        return json.loads(http_get(self.url(f"/api/v1/{path.lstrip('/')}"), headers={"Authorization": f"Bearer {self.operator_token}"}))

    def certs(self, kind: str | None = None) -> list[dict]:
        """Holder certificate records (the demo's), through the API."""
        return self.api("certificates?limit=1000" + (f"&kind={kind}" if kind else ""))["items"]

    def cert(self, serial: str) -> x509.Certificate:
        """One holder certificate, through the API (an HTTP request is much cheaper than
        starting ``myna cert get --pem``; both read the same issuance record)."""
        return x509.load_pem_x509_certificate(self.api(f"certificates/{serial}")["pem"].encode())

    def ca_cert(self, kind: str) -> x509.Certificate:
        """The active CA certificate of ``kind``, from ``myna ca get KIND --pem``."""
        return x509.load_pem_x509_certificate(self.run("ca", "get", kind, "--pem").stdout.encode())

    def server_output(self) -> str:
        try:
            return self.server_log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def http_get(url: str, timeout: float = 10, headers: dict[str, str] | None = None) -> bytes:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        raise AssertionError(f"GET {url} -> {e.code}: {e.read()[:500]!r}") from None


def crl_dp_url(cert: x509.Certificate) -> str:
    """The (single) HTTP URL of the certificate's CRL distribution point extension."""
    dps = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    urls = [n.value for dp in dps for n in (dp.full_name or []) if isinstance(n, x509.UniformResourceIdentifier)]
    assert len(urls) == 1, f"expected one CRLDP URI, got {urls}"
    return urls[0]


def ca_issuers_url(cert: x509.Certificate) -> str:
    """The (single) caIssuers URL of the certificate's authorityInfoAccess: its issuer's certificate."""
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    urls = [d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS]
    assert len(urls) == 1, f"expected one caIssuers URI, got {urls}"
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
