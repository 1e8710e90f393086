"""Smartphone certificates (R-CERT-5): the application signed with the card, then the
phone's public key with its proof of possession; issued directly to the applicant.
No bearer token: the card signature and the application's challenge are the credentials."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from myna.errors import Conflict, InvalidInput, NotFound
from myna.pki import serials
from myna.verifiers import card_signed
from myna.web.deps import services
from myna.web.openapi import raises
from myna.web.types import Base64, base64_length
from myna.wiring import Services

router = APIRouter(prefix="/api/v1/mobile", tags=["mobile"])


def _b64(field: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{field} is not base64") from None


class ApplicationIn(BaseModel):
    document: Base64 = Field(max_length=base64_length(card_signed.MAX_DOCUMENT), description="the application document, base64")
    signature: Base64 = Field(
        max_length=base64_length(card_signed.MAX_SIGNATURE),
        description="detached CMS SignedData over it, made with the card's signature key, base64",
    )


class KeyIn(BaseModel):
    public_key: str = Field(max_length=10_000, description="the phone key's SubjectPublicKeyInfo, PEM")
    proof: Base64 = Field(max_length=2_000, description="the phone key's signature over the possession message, base64")


@router.post("/applications", status_code=201, responses=raises(Conflict, NotFound))
def apply(body: ApplicationIn, sv: Services = Depends(services)) -> dict:
    return sv.mobile.apply(_b64("document", body.document), _b64("signature", body.signature)).to_json()


@router.post("/applications/{application_id}/certificate", status_code=201, responses=raises(Conflict))
def issue(application_id: str, body: KeyIn, sv: Services = Depends(services)) -> dict:
    issued = sv.mobile.issue(application_id, body.public_key, _b64("proof", body.proof))
    return {
        "serial": serials.to_display(issued.serial),
        "kind": issued.kind.value,
        "pem": issued.pem,
        "not_after": issued.certificate.not_valid_after_utc.isoformat(),
        "created": issued.created,
    }
