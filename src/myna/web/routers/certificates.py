"""/api/v1: issuance, revocation and records for municipalities and J-LIS operators."""

from __future__ import annotations

from typing import Literal

from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from myna.access.roles import Principal, Role
from myna.authority.issuance import IssuanceRequest, Issued
from myna.authority.records import MAX_PAGE, scope_of
from myna.errors import Conflict, NotFound
from myna.pki import serials
from myna.pki.basic4 import Basic4, Sex
from myna.pki.kinds import CertKind
from myna.pki.revocation import RevocationReason
from myna.web.deps import require, services
from myna.web.openapi import raises, retried
from myna.web.types import IsoDate, MunicipalityCode, RequestId, ResidentCode, Serial
from myna.wiring import Services

router = APIRouter(prefix="/api/v1", tags=["certificates"])

ANY_ROLE = (Role.OPERATOR, Role.MUNICIPALITY, Role.AUDITOR)


class Basic4In(BaseModel):
    name: str = Field(max_length=256, examples=["山田 花子"])
    name_alt: str | None = Field(default=None, max_length=256)
    date_of_birth: IsoDate
    sex: Literal["1", "2", "3"] = Field(description="1 male, 2 female, 3 not known")
    address: str = Field(max_length=256, examples=["東京都千代田区千代田1-1"])
    address_alt: str | None = Field(default=None, max_length=256)

    def domain(self) -> Basic4:
        return Basic4(self.name, self.date_of_birth, Sex(self.sex), self.address, self.name_alt, self.address_alt)


class IssueIn(BaseModel):
    request_id: RequestId = Field(description="Your idempotency key: a retry with the same id returns the same certificate")
    kind: CertKind
    public_key_pem: str = Field(max_length=20_000, description="SubjectPublicKeyInfo in PEM (RSA-2048 or EC P-256)")
    resident_code: ResidentCode = Field(description="11-digit resident-record code (住民票コード) of a resident on the register")
    date_of_birth: IsoDate | None = Field(
        default=None, description="Optional: the register's is used; if given it must be the register's (R-RA-1)"
    )
    basic4: Basic4In | None = Field(
        default=None,
        description="Signature kinds: optional, the register's is written into the certificate; if given, every field"
        " must be the register's or the request is refused (409, R-RA-1). Forbidden for user-auth kinds",
    )
    municipality_code: MunicipalityCode | None = Field(
        default=None, description="6-digit local-government code of the resident's municipality; a municipality token fills in its own"
    )
    allow_minor_signature: bool = False


class CertificateOut(BaseModel):
    serial: str
    kind: str
    status: str
    subject_id: str
    not_before: str
    not_after: str
    issued_at: str
    municipality_code: str | None
    revoked_at: str | None
    revocation_reason: str | None
    pem: str | None = None
    created: bool | None = None


class CertificatePage(BaseModel):
    items: list[CertificateOut]
    next: str | None = Field(description="Pass as ?after= for the next page; null on the last page")


class RevokeIn(BaseModel):
    # key-compromise revokes a whole CA, through /authorities/{kind}/compromise (R-REV-5)
    reason: Literal["request", "resident-change", "record-error", "linked-card-revoked"]
    note: str | None = Field(default=None, max_length=1000)


class RevokedOut(BaseModel):
    serial: str
    reason: str
    rule: str
    revoked_at: str


def _issued_out(sv: Services, issued: Issued) -> CertificateOut:
    rec = sv.records.get(issued.serial)
    return CertificateOut(**rec.to_json(), pem=issued.pem, created=issued.created)


@router.post(
    "/certificates",
    response_model=CertificateOut,
    status_code=201,
    summary="Issue a holder certificate",
    responses={**retried(CertificateOut), **raises(Conflict, NotFound)},
)
def issue(
    body: IssueIn,
    response: Response,
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.OPERATOR, Role.MUNICIPALITY)),
) -> CertificateOut:
    req = IssuanceRequest(
        request_id=body.request_id,
        kind=body.kind,
        public_key=body.public_key_pem,
        resident_code=body.resident_code,
        date_of_birth=body.date_of_birth,
        basic4=body.basic4.domain() if body.basic4 else None,
        municipality_code=body.municipality_code,
        allow_minor_signature=body.allow_minor_signature,
    )
    # Who may ask for what (R-CERT-5, R-RA-2) is the service's to decide, for every caller.
    issued = sv.issuance.issue_as(who, req)
    if not issued.created:
        response.status_code = 200
    return _issued_out(sv, issued)


@router.get("/certificates", response_model=CertificatePage, summary="List certificates, a page at a time")
def list_certificates(
    kind: CertKind | None = None,
    status: Literal["valid", "revoked", "expired"] | None = None,
    after: Serial | None = Query(default=None, description="cursor: the `next` of the previous page"),
    limit: int = Query(default=100, ge=1, le=MAX_PAGE),
    sv: Services = Depends(services),
    who: Principal = Depends(require(*ANY_ROLE)),
) -> CertificatePage:
    page, cursor = sv.records.list(
        kind=kind.value if kind else None, status=status, municipality_code=scope_of(who), after=after, limit=limit
    )
    return CertificatePage(items=[CertificateOut(**r.to_json()) for r in page], next=cursor)


@router.get("/certificates/{serial}", response_model=CertificateOut, summary="One certificate with its status")
def get_certificate(serial: Serial, sv: Services = Depends(services), who: Principal = Depends(require(*ANY_ROLE))) -> CertificateOut:
    rec = sv.records.get(serials.parse(serial), municipality_code=scope_of(who))
    return CertificateOut(**rec.to_json(), pem=rec.certificate.public_bytes(Encoding.PEM).decode())


@router.post(
    "/certificates/{serial}/revocation",
    response_model=RevokedOut,
    status_code=201,
    summary="Revoke a certificate",
    responses=raises(Conflict),
)
def revoke(
    serial: Serial,
    body: RevokeIn,
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.OPERATOR, Role.MUNICIPALITY)),
) -> RevokedOut:
    done = sv.revocation.revoke(serials.parse(serial), RevocationReason(body.reason), who.actor, body.note, municipality_code=scope_of(who))
    return RevokedOut(
        serial=serials.to_display(done.serial), reason=done.reason.value, rule=done.reason.rule, revoked_at=done.revoked_at.isoformat()
    )
