"""Helpers for the validity-centre tests (import as ``centre_support``; fixtures are in
this directory's conftest.py). A module name of its own, so it never collides with
another test directory's helpers.

OCSP requests are built with cryptography's OCSPRequestBuilder (or, for what it will not
build, with asn1crypto), never with myna's own code: the centre is judged by requests
it did not write.
"""

from __future__ import annotations

import datetime as dt
import os

from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from myna.authority.platform import Platform

OCSP_STATUS = ocsp.OCSPResponseStatus


def issue(platform: Platform, kind: str = "card-auth", **over) -> x509.Certificate:
    """Issue one holder certificate in-process (EC P-256 holder key: cheap)."""
    from myna_testing import issue_registered, issue_request

    return issue_registered(platform, issue_request(kind, **over), actor="test").certificate


def ca_cert(platform: Platform, kind: str) -> x509.Certificate:
    return platform.authority(kind).cert


def request_der(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    algorithm: hashes.HashAlgorithm | None = None,
    nonce: bytes | None = None,
    serial: int | None = None,
) -> bytes:
    """A DER OCSPRequest for ``cert`` (or, with ``serial``, for that serial under the
    same issuer: the issuer hashes are taken from a request cryptography built for
    ``cert``, so they never come from the code under test)."""
    algorithm = algorithm or hashes.SHA1()
    builder = ocsp.OCSPRequestBuilder()
    if serial is None:
        builder = builder.add_certificate(cert, issuer, algorithm)
    else:
        base = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm).build()
        builder = builder.add_certificate_by_hash(base.issuer_name_hash, base.issuer_key_hash, serial, algorithm)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def asn1_request_der(hash_name: str, name_hash: bytes, key_hash: bytes, serials: list[int], nonce: bytes | None = None) -> bytes:
    """An OCSPRequest built field by field with asn1crypto: for what cryptography refuses
    to build (an MD5 CertID, two CertIDs, a negative serial)."""
    tbs = {
        "request_list": [
            {
                "req_cert": {
                    "hash_algorithm": {"algorithm": hash_name},
                    "issuer_name_hash": name_hash,
                    "issuer_key_hash": key_hash,
                    "serial_number": s,
                }
            }
            for s in serials
        ]
    }
    if nonce is not None:
        tbs["request_extensions"] = [{"extn_id": "nonce", "critical": False, "extn_value": nonce}]
    return asn1_ocsp.OCSPRequest({"tbs_request": tbs}).dump()


def parse(der: bytes) -> ocsp.OCSPResponse:
    return ocsp.load_der_ocsp_response(der)


def outcome(der: bytes) -> str:
    """ "good" / "revoked" / "unknown" for a successful response, else the unsuccessful
    status name in lower case ("trylater", "unauthorized", "malformedrequest", ...)."""
    resp = parse(der)
    if resp.response_status is not OCSP_STATUS.SUCCESSFUL:
        return resp.response_status.name.replace("_", "").lower()
    return resp.certificate_status.name.lower()


def random_serial() -> int:
    return int.from_bytes(os.urandom(19), "big") | 1 << 150


def utc(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.timezone.utc)
