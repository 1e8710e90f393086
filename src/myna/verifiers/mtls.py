"""Mutual TLS for the verifier endpoint: uvicorn with the client certificate in the scope.

uvicorn verifies a client certificate against ``ssl_ca_certs`` but does not hand it to the
application (encode/uvicorn#745; the ASGI ``tls`` extension is not implemented there).
This HTTP/1.1 protocol is uvicorn's own h11 protocol with one addition: when the
connection is TLS, each request's scope carries the ASGI TLS extension
(``scope["extensions"]["tls"]["client_cert_chain"]``, PEM strings, as asgiref specifies),
filled from the verified peer certificate of that connection. uvicorn's ``http`` option
takes such a class, so nothing else of the server changes.

The listener asks for a client certificate but does not require one
(``CERT_OPTIONAL``): a certificate that does not chain to the verifier CA fails the
handshake; no certificate at all reaches the app, which then wants a bearer token.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from uvicorn.protocols.http.h11_impl import H11Protocol

if TYPE_CHECKING:
    from myna.verifiers.credentials import VerifierCa


class PeerCertificateH11Protocol(H11Protocol):
    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if ssl_object is None:
            return
        chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
        inner = self.app

        async def with_tls(scope, receive, send):
            if scope["type"] in ("http", "websocket"):
                scope = dict(scope)
                scope["extensions"] = {**scope.get("extensions", {}), "tls": {"client_cert_chain": chain, "server_cert": None}}
            await inner(scope, receive, send)

        self.app = with_tls


def client_certificate_der(scope) -> bytes | None:
    """The verified client certificate of the request, if it came over mutual TLS."""
    chain = ((scope.get("extensions") or {}).get("tls") or {}).get("client_cert_chain") or []
    return ssl.PEM_cert_to_DER_cert(chain[0]) if chain else None


def server_config(app, host: str, port: int, certfile: Path, keyfile: Path, ca_certs: Path, **kw):
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=PeerCertificateH11Protocol,
        ssl_certfile=str(certfile),
        ssl_keyfile=str(keyfile),
        ssl_ca_certs=str(ca_certs),
        ssl_cert_reqs=ssl.CERT_OPTIONAL,
        **kw,
    )


def write_server_files(ca: VerifierCa, host: str) -> tuple[Path, Path, Path]:
    """A fresh server key and certificate from the verifier CA, and the CA file that
    client certificates must chain to; under the data home's ``verifier-tls``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    directory = ca.platform.settings.home / "verifier-tls"
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue_server_certificate([host], key.public_key())
    key_file, cert_file, ca_file = directory / "server.key", directory / "server.crt", directory / "clients-ca.crt"
    key_file.touch(mode=0o600)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca.certificate_pem())
    ca_file.write_bytes(ca.certificate_pem())
    return cert_file, key_file, ca_file
