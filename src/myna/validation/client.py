"""A verifier-side OCSP client that fails over between centres.

It tries the centres in order (the first answering one is preferred next time) and moves
on when a centre does not answer in time, answers with an HTTP error or an unsuccessful
OCSP status (tryLater, internalError, …), or gives a response that does not verify. A
verified answer is returned only after checking the responder's signature, its
delegation by the issuing CA (id-kp-OCSPSigning), the CertID and the time window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

CLOCK_SKEW = dt.timedelta(minutes=5)


class ValidityUnavailable(Exception):
    """No centre gave a verifiable answer. ``failures`` says what each one did."""

    def __init__(self, failures: list[tuple[str, str]]):
        super().__init__("; ".join(f"{url}: {why}" for url, why in failures))
        self.failures = failures


@dataclass(frozen=True)
class Answer:
    status: str  # good, revoked, unknown
    centre: str
    this_update: dt.datetime
    next_update: dt.datetime | None
    revoked_at: dt.datetime | None = None
    reason: x509.ReasonFlags | None = None


@dataclass
class FailoverClient:
    centres: list[str]  # OCSP base URLs, e.g. http://tokyo:8001/ocsp/card-sign
    timeout: float = 2.0
    token: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.centres:
            raise ValueError("at least one centre URL is needed")
        headers = {"Content-Type": "application/ocsp-request"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._http = httpx.Client(timeout=self.timeout, headers=headers)

    def check(self, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime | None = None) -> Answer:
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
        der = request.public_bytes(serialization.Encoding.DER)
        tried: list[tuple[str, str]] = []
        for url in list(self.centres):
            try:
                answer = self._ask(url, der, request, issuer, now or dt.datetime.now(dt.timezone.utc))
            except _Failed as exc:
                tried.append((url, str(exc)))
                continue
            if url != self.centres[0]:
                self.centres.remove(url)
                self.centres.insert(0, url)  # stick with the centre that answered
            self.failures.extend(tried)
            return answer
        self.failures.extend(tried)
        raise ValidityUnavailable(tried)

    def _ask(self, url: str, der: bytes, request: ocsp.OCSPRequest, issuer: x509.Certificate, now: dt.datetime) -> Answer:
        try:
            r = self._http.post(url, content=der)
        except httpx.HTTPError as exc:
            raise _Failed(f"{type(exc).__name__}: {exc}") from None
        if r.status_code != 200:
            raise _Failed(f"HTTP {r.status_code}")
        try:
            resp = ocsp.load_der_ocsp_response(r.content)
        except ValueError as exc:
            raise _Failed(f"unparsable response: {exc}") from None
        if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise _Failed(f"OCSP status {resp.response_status.name}")
        _verify(resp, request, issuer, now)
        status = resp.certificate_status
        return Answer(
            status={ocsp.OCSPCertStatus.GOOD: "good", ocsp.OCSPCertStatus.REVOKED: "revoked", ocsp.OCSPCertStatus.UNKNOWN: "unknown"}[
                status
            ],
            centre=url,
            this_update=resp.this_update_utc,
            next_update=resp.next_update_utc,
            revoked_at=resp.revocation_time_utc if status is ocsp.OCSPCertStatus.REVOKED else None,
            reason=resp.revocation_reason if status is ocsp.OCSPCertStatus.REVOKED else None,
        )

    def close(self) -> None:
        self._http.close()


class _Failed(Exception):
    pass


def _verify(resp: ocsp.OCSPResponse, request: ocsp.OCSPRequest, issuer: x509.Certificate, now: dt.datetime) -> None:
    if (resp.serial_number, resp.issuer_key_hash, resp.issuer_name_hash) != (
        request.serial_number,
        request.issuer_key_hash,
        request.issuer_name_hash,
    ):
        raise _Failed("response is for another certificate")
    signer = issuer
    for cert in resp.certificates:
        if cert.issuer == issuer.subject:
            try:
                cert.verify_directly_issued_by(issuer)
                eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound):
                continue
            if ExtendedKeyUsageOID.OCSP_SIGNING in eku and cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                signer = cert
                break
    key = signer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(), resp.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
        else:
            raise _Failed("unsupported responder key")
    except InvalidSignature:
        raise _Failed("response signature does not verify against the CA or a delegated responder") from None
    if resp.this_update_utc > now + CLOCK_SKEW:
        raise _Failed("response thisUpdate is in the future")
    if resp.next_update_utc is not None and resp.next_update_utc < now - CLOCK_SKEW:
        raise _Failed("response is stale (nextUpdate passed)")
