"""Mutual TLS: a verifier's client certificate from the myna verifier CA identifies it; a
request without one, or with a certificate of another CA, is refused.

A real HTTPS server (uvicorn with myna's peer-certificate protocol) on a local port; a
real client (httpx) presenting certificates.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ver_support import make_holder

from myna.store import models_verifiers as mv
from myna.verifiers.mtls import server_config, write_server_files
from myna.verifiers.registry import VerifierRegistry
from myna.web.app import create_app
from myna.wiring import build


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(platform, clock):
    # TLS checks validity against the wall clock: issue every certificate at wall-clock time
    clock.set(dt.datetime.now(dt.timezone.utc))
    cert, key, ca = write_server_files(build(platform).verifier_ca, "127.0.0.1")
    port = _free_port()
    srv = uvicorn.Server(server_config(create_app(platform, schedule=False), "127.0.0.1", port, cert, key, ca, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started, "the TLS server did not start"
    yield f"https://127.0.0.1:{port}", ca
    srv.should_exit = True
    thread.join(timeout=10)


def _key_files(tmp_path, name, cert_pem: bytes, key) -> tuple[str, str]:
    (tmp_path / f"{name}.crt").write_bytes(cert_pem)
    (tmp_path / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(tmp_path / f"{name}.crt"), str(tmp_path / f"{name}.key")


def _client(ca, cert=None) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert:
        ctx.load_cert_chain(*cert)
    return httpx.Client(verify=ctx, timeout=10)


def test_client_certificate_identifies_the_verifier_and_attributes_the_request(platform, cards, server, tmp_path):
    url, ca = server
    VerifierRegistry(platform).register("SIG1", "Sig One", "signature", "test")
    key = ec.generate_private_key(ec.SECP256R1())
    issued = build(platform).verifier_ca.issue_client_certificate(
        "SIG1", key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), "test"
    )
    files = _key_files(tmp_path, "sig1", issued.pem.encode(), key)
    h = make_holder(platform, cards)
    with _client(ca, files) as c:
        r = c.get(f"{url}/api/v1/verifier/whoami")
        assert r.status_code == 200 and r.json() == {"verifier": "SIG1", "type": "signature", "via": "tls", "credential": issued.serial}
        r = c.get(f"{url}/api/v1/verifier/status/sign/{h.sign_hex}")
        assert r.status_code == 200 and r.json()["status"] == "good"
    with platform.db.session() as s:
        row = s.query(mv.Provision).one()
        assert row.verifier_id == VerifierRegistry(platform).get("SIG1").id and json.loads(row.detail)["via"] == "tls"
        assert json.loads(row.detail)["credential"] == issued.serial

    # termination revokes the client certificate: the same TLS credential is refused
    VerifierRegistry(platform).set_status("SIG1", "terminated", "test")
    with _client(ca, files) as c:
        r = c.get(f"{url}/api/v1/verifier/whoami")
        assert r.status_code == 401 and "revoked" in r.json()["message"]


def test_no_client_certificate_is_refused(platform, server):
    url, ca = server
    with _client(ca) as c:
        r = c.get(f"{url}/api/v1/verifier/whoami")
    assert r.status_code == 401 and "client certificate" in r.json()["message"]


def test_certificate_of_another_ca_fails_the_handshake(platform, server, tmp_path):
    url, ca = server
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SIG1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    files = _key_files(tmp_path, "rogue", cert.public_bytes(serialization.Encoding.PEM), key)
    with _client(ca, files) as c:
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            c.get(f"{url}/api/v1/verifier/whoami")


def test_verifier_ca_certificate_not_recorded_is_refused(platform, server, tmp_path):
    """Signed by the verifier CA but never issued to a verifier (no credential record)."""
    url, ca = server
    VerifierRegistry(platform).register("SIG1", "Sig One", "signature", "test")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SIG1")])
    cert = build(platform).verifier_ca._leaf(subject, key.public_key(), 30, ExtendedKeyUsageOID.CLIENT_AUTH)
    files = _key_files(tmp_path, "unrecorded", cert.public_bytes(serialization.Encoding.PEM), key)
    with _client(ca, files) as c:
        r = c.get(f"{url}/api/v1/verifier/whoami")
    assert r.status_code == 401 and "not a registered verifier credential" in r.json()["message"]
