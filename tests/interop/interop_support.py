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


# --------------------------------------------------------------------------- OCSP (validity centres)


def ocsp_url(cert: x509.Certificate) -> str:
    """The (single) OCSP URL of the certificate's authorityInfoAccess: where a relying
    party asks about it (R-REV-10)."""
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    urls = [d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP]
    assert len(urls) == 1, f"expected one OCSP URI, got {urls}"
    return urls[0]


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None = None) -> bytes:
    """A DER OCSPRequest (SHA-1 CertID) built by cryptography, with an optional nonce."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import ocsp

    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def ocsp_post(url: str, der: bytes, timeout: float = 5, token: str | None = None) -> bytes:
    """POST a DER OCSPRequest (RFC 6960 A.1.1); returns the DER response body (HTTP 200 required)."""
    headers = {"Content-Type": "application/ocsp-request"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=der, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            assert r.headers.get("Content-Type") == "application/ocsp-response", r.headers.get("Content-Type")
            return r.read()
    except urllib.error.HTTPError as e:
        raise AssertionError(f"POST {url} -> {e.code}: {e.read()[:500]!r}") from None


def ocsp_status(der_response: bytes) -> str:
    """ "good" / "revoked" / "unknown", or the unsuccessful status in lower case ("trylater", ...)."""
    from cryptography.x509 import ocsp

    resp = ocsp.load_der_ocsp_response(der_response)
    if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return resp.response_status.name.replace("_", "").lower()
    return resp.certificate_status.name.lower()


def wait_for_ocsp_status(url: str, cert: x509.Certificate, issuer: x509.Certificate, want: str, timeout: float = 15) -> float:
    """Poll ``url`` about ``cert`` until it answers ``want``; returns the seconds waited.
    (A centre sees a revocation after its next feed sync, a fraction of a second.)"""
    import time

    start = time.monotonic()
    got = None
    while time.monotonic() - start < timeout:
        got = ocsp_status(ocsp_post(url, ocsp_request(cert, issuer)))
        if got == want:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{url} still answers {got!r}, not {want!r}, after {timeout}s")


def api_post(live: Live, path: str, body: dict, timeout: float = 10) -> dict:
    """POST JSON to /api/v1/<path> as the demo operator; returns the decoded JSON (2xx required)."""
    req = urllib.request.Request(
        live.url(f"/api/v1/{path.lstrip('/')}"),
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {live.operator_token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise AssertionError(f"POST {path} -> {e.code}: {e.read()[:500]!r}") from None
