"""Services to verifiers (SPEC §5).

- ``/api/v1/verifier/...``: what a registered verifier asks for, attributed to it by its
  TLS client certificate (mutual TLS, see myna.verifiers.mtls) or a verifier token.
- ``/api/v1/verifiers/...``: the registry, for J-LIS operators (auditors read).
- ``/api/v1/consents``: a resident's signed consent document (the signature is the credential).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from myna.access.entitlements import VerifierType
from myna.access.roles import Principal, Role
from myna.errors import Conflict, InvalidInput, NotFound, Unauthorised
from myna.pki import serials
from myna.verifiers import card_signed
from myna.verifiers.credentials import Caller
from myna.verifiers.mtls import client_certificate_der
from myna.verifiers.provision import NotDisclosed
from myna.verifiers.registry import Status
from myna.verifiers.report import provision_report
from myna.web.deps import require, services
from myna.web.openapi import AUTH_ERRORS, AUTH_STATUSES, binary, raises
from myna.web.types import Base64, Serial, VerifierCode, base64_length
from myna.wiring import Services

router = APIRouter(tags=["verifiers"])
_bearer = HTTPBearer(auto_error=False)
OnBehalf = Query(
    default=None,
    max_length=32,
    pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$",
    description="platform operators: the entrusting business asked for",
)


def caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Caller:
    """Mutual TLS first: the verified client certificate names the verifier; else a verifier token."""
    sv = services(request)
    der = client_certificate_der(request.scope)
    if der is not None:
        return sv.credentials.by_client_certificate(der)
    if credentials is None:
        raise Unauthorised("present a verifier client certificate (mutual TLS) or a verifier bearer token")
    return sv.credentials.by_token(sv.tokens.authenticate(credentials.credentials))


setattr(caller, AUTH_STATUSES, AUTH_ERRORS)


def _serial(text: str) -> int:
    return serials.parse(text)


def _b64(field: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{field} is not base64") from None


# -- verifier-facing -------------------------------------------------------------------


@router.get("/api/v1/verifier/whoami")
def whoami(c: Caller = Depends(caller)) -> dict:
    return {"verifier": c.verifier.code, "type": c.verifier.type.value, "via": c.via, "credential": c.credential}


@router.get("/api/v1/verifier/status/{purpose}/{serial}")
def status(
    purpose: str, serial: Serial, on_behalf_of: str | None = OnBehalf, c: Caller = Depends(caller), sv: Services = Depends(services)
) -> dict:
    """Revocation information in real time (R-REV-10, R-VER-1)."""
    return sv.provision.status(c, purpose, _serial(serial), on_behalf_of)


@router.get(
    "/api/v1/verifier/revocation-files/{slug}.crl", response_class=Response, responses=binary("application/pkix-crl", "The CRL (DER)")
)
def revocation_file(slug: str, delta: bool = False, c: Caller = Depends(caller), sv: Services = Depends(services)) -> Response:
    """Revocation files (失効情報ファイル) of a holder CA, to verifiers of its purpose."""
    return Response(sv.provision.revocation_file(c, slug, delta), media_type="application/pkix-crl")


@router.get("/api/v1/verifier/basic4/{serial}", responses=raises(NotDisclosed))
def basic4(serial: Serial, on_behalf_of: str | None = OnBehalf, c: Caller = Depends(caller), sv: Services = Depends(services)) -> dict:
    """The latest basic 4 information of a signature certificate's holder, with consent (R-VER-2)."""
    return sv.provision.basic4(c, _serial(serial), on_behalf_of)


@router.get("/api/v1/verifier/corresponding/{pair}/{serial}", responses=raises(NotDisclosed))
def corresponding(
    pair: str, serial: Serial, on_behalf_of: str | None = OnBehalf, c: Caller = Depends(caller), sv: Services = Depends(services)
) -> dict:
    """Corresponding serials (R-VER-3): pair is sign-mobile, auth-mobile or sign-auth."""
    return sv.provision.corresponding(c, pair, _serial(serial), on_behalf_of)


@router.get("/api/v1/verifier/renewal/{purpose}/{serial}", responses=raises(NotDisclosed))
def renewal(
    purpose: str, serial: Serial, on_behalf_of: str | None = OnBehalf, c: Caller = Depends(caller), sv: Services = Depends(services)
) -> dict:
    """Old-to-new linkage (R-VER-4)."""
    return sv.provision.renewal(c, purpose, _serial(serial), on_behalf_of)


@router.post("/api/v1/verifier/certification-code")
def certification_code(c: Caller = Depends(caller), sv: Services = Depends(services)) -> dict:
    """A specific user-auth verifier certification code (R-VER-5)."""
    return sv.provision.certification_code(c)


# -- consent -----------------------------------------------------------------------------


class SignedDocumentIn(BaseModel):
    document: Base64 = Field(max_length=base64_length(card_signed.MAX_DOCUMENT), description="the signed document, base64")
    signature: Base64 = Field(
        max_length=base64_length(card_signed.MAX_SIGNATURE),
        description="detached CMS SignedData (DER), base64, made with the card's signature key",
    )


@router.post("/api/v1/consents", responses=raises(Conflict, NotFound))
def submit_consent(body: SignedDocumentIn, sv: Services = Depends(services)) -> dict:
    """Grant or withdraw consent (R-VER-2) by a document signed with the card."""
    return sv.consents.submit(_b64("document", body.document), _b64("signature", body.signature)).to_json()


# -- registry (J-LIS operators) ---------------------------------------------------------

READ = (Role.OPERATOR, Role.AUDITOR)


class VerifierIn(BaseModel):
    code: VerifierCode
    name: str = Field(
        min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]*[^\s\x00-\x1f][^\x00-\x1f]*$", description="1-200 printable characters"
    )
    type: VerifierType
    operator: VerifierCode | None = Field(default=None, description="for an entrusting business: its platform operator")


class StatusIn(BaseModel):
    status: Status
    note: str | None = Field(default=None, max_length=1000)


class AgreementIn(BaseModel):
    reference: str = Field(min_length=1, max_length=200)


class PublicKeyIn(BaseModel):
    public_key: str = Field(max_length=10_000, description="SubjectPublicKeyInfo, PEM")


class RenewalIn(BaseModel):
    old_serial: Serial
    new_serial: Serial


@router.post("/api/v1/verifiers", status_code=201, responses=raises(Conflict, NotFound))
def register(body: VerifierIn, who: Principal = Depends(require(Role.OPERATOR)), sv: Services = Depends(services)) -> dict:
    return sv.verifiers.register(body.code, body.name, body.type, who.actor, body.operator).to_json()


@router.get("/api/v1/verifiers")
def list_verifiers(_who: Principal = Depends(require(*READ)), sv: Services = Depends(services)) -> list[dict]:
    return [v.to_json() for v in sv.verifiers.list()]


@router.get("/api/v1/verifiers/report/{year}.csv", response_class=Response, responses=binary("text/csv", "The report (UTF-8 CSV)"))
def report_csv(
    year: Annotated[int, Path(ge=2000, le=2200)], _who: Principal = Depends(require(*READ)), sv: Services = Depends(services)
) -> Response:
    """The provision report (R-VER-6) of a year, as CSV."""
    return Response(provision_report(sv.platform, year).csv(), media_type="text/csv; charset=utf-8")


@router.get("/api/v1/verifiers/{code}")
def get_verifier(code: VerifierCode, _who: Principal = Depends(require(*READ)), sv: Services = Depends(services)) -> dict:
    return sv.verifiers.get(code).to_json()


@router.post("/api/v1/verifiers/{code}/status", responses=raises(Conflict))
def set_status(
    code: VerifierCode, body: StatusIn, who: Principal = Depends(require(Role.OPERATOR)), sv: Services = Depends(services)
) -> dict:
    return sv.verifiers.set_status(code, body.status, who.actor, body.note).to_json()


@router.post("/api/v1/verifiers/{code}/agreement", responses=raises(Conflict))
def agreement(
    code: VerifierCode, body: AgreementIn, who: Principal = Depends(require(Role.OPERATOR)), sv: Services = Depends(services)
) -> dict:
    return sv.verifiers.record_agreement(code, body.reference, who.actor).to_json()


@router.post("/api/v1/verifiers/{code}/client-certificates", status_code=201, responses=raises(Conflict))
def client_certificate(
    code: VerifierCode, body: PublicKeyIn, who: Principal = Depends(require(Role.OPERATOR)), sv: Services = Depends(services)
) -> dict:
    issued = sv.verifier_ca.issue_client_certificate(code, body.public_key, who.actor)
    return {"verifier": code, "serial": issued.serial, "pem": issued.pem, "not_after": issued.certificate.not_valid_after_utc.isoformat()}


@router.post("/api/v1/renewals", status_code=201, responses=raises(Conflict, NotFound))
def renewal_link(body: RenewalIn, who: Principal = Depends(require(Role.OPERATOR)), sv: Services = Depends(services)) -> dict:
    """Record that a certificate replaced another (R-VER-4)."""
    old, new = _serial(body.old_serial), _serial(body.new_serial)
    sv.renewals.link(old, new, who.actor)
    return {"old_serial": serials.to_display(old), "new_serial": serials.to_display(new)}


@router.get(
    "/verifier-ca.crt",
    response_class=Response,
    tags=["distribution"],
    responses=binary("application/x-pem-file", "The CA certificate (PEM)"),
)
def verifier_ca(sv: Services = Depends(services)) -> Response:
    """The CA of verifiers' TLS client certificates (and of the verifier endpoint's server certificate)."""
    return Response(sv.verifier_ca.certificate_pem(), media_type="application/x-pem-file")
