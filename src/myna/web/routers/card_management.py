"""/api/v1 card management (カード管理, SPEC §6): number notices and returned mail,
applications (online, QR, paper import) with a public status lookup by receipt number,
production batches, shipments, pickup notices and handover at the counter, suspension
by the call centre (24/7), lifting, loss, reissue, return, abolition, certificate
renewal, expiry notices, fees and the lead-time report.

Who may do what: the public only looks up a status by receipt number and applies with
the QR code of its own form (the form's token is the credential); J-LIS operators run
printing, paper import, production and shipping; a municipality acts on its own
residents' cards at the counter; the call centre suspends any card.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from pydantic import BaseModel, Field

from myna.access.roles import Principal, Role
from myna.authority.records import scope_of
from myna.cards.applications import ApplicationIn, decode_photo
from myna.cards.handover import Handover
from myna.chip.chips import CardPins
from myna.errors import Conflict, InvalidInput, NotFound
from myna.web.deps import require, services
from myna.web.openapi import binary, raises, retried
from myna.web.types import BASE64_PATTERN, CardId, IsoDate, MunicipalityCode, ResidentCode, RowId
from myna.wiring import Services

router = APIRouter(prefix="/api/v1", tags=["card management"])
PAPER_MAX_BYTES = 200 * 1024 * 1024
PHOTO_B64_MAX = 7_000_000  # 5 MiB of photo in base64


def _pdf(body: bytes, name: str, **headers: str) -> Response:
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"', **headers})


class ApplicationBody(BaseModel):
    resident_code: ResidentCode
    name: str = Field(min_length=1, max_length=256, pattern=r"\S")
    date_of_birth: IsoDate
    sex: Literal["1", "2", "3"]
    address: str = Field(min_length=1, max_length=256, pattern=r"\S")
    photo_base64: str | None = Field(
        default=None,
        max_length=PHOTO_B64_MAX,
        pattern=BASE64_PATTERN,
        description="JPEG or PNG, portrait 35x45 mm, at least 300x400 pixels",
    )
    reason: Literal["new", "reissue", "renewal"] = "new"
    express: Literal["newborn", "loss", "abroad"] | None = None
    replaces_card_id: CardId | None = None
    source_ref: str | None = Field(
        default=None, min_length=1, max_length=200, description="Your id for this application: a retry with it is not a new application"
    )

    def domain(self) -> ApplicationIn:
        return ApplicationIn(
            self.resident_code,
            self.name,
            self.date_of_birth,
            self.sex,
            self.address,
            decode_photo(self.photo_base64),
            self.reason,
            self.express,
            self.replaces_card_id,
            self.source_ref,
        )


class QrBody(BaseModel):
    qr: str = Field(
        max_length=200,
        pattern=r"^MYNA-APPLY/1/[NR][0-9A-F]{16}/[0-9a-f]{32}$",
        description="The text of the QR code on the application form",
    )
    photo_base64: str | None = Field(default=None, max_length=PHOTO_B64_MAX, pattern=BASE64_PATTERN)
    express: Literal["newborn", "loss", "abroad"] | None = None
    source_ref: str | None = Field(default=None, min_length=1, max_length=200)


class NoteBody(BaseModel):
    note: str | None = Field(default=None, max_length=500)


class ReturnedBody(BaseModel):
    reason: str = Field(min_length=1, max_length=200, examples=["宛所に尋ねあたりません"])


class PinsBody(BaseModel):
    auth: str = Field(pattern=r"^[0-9]{4}$", description="user-auth PIN, 4 digits")
    sign: str | None = Field(
        default=None, pattern=r"^[A-Z0-9]{6,16}$", description="signature PIN, 6-16 of A-Z 0-9 (cards with a signature certificate)"
    )
    face: str | None = Field(default=None, pattern=r"^[0-9]{4}$", description="card-face PIN, 4 digits (default: the auth PIN)")


class HandoverBody(BaseModel):
    identity_document: Literal["driving-licence", "passport", "residence-card", "disability-certificate", "two-documents"] = Field(
        description="the document the holder showed (two-documents: two that together identify)"
    )
    face_matches_photo: bool = Field(description="the clerk compared the holder's face with the card's photo")
    pins: PinsBody
    pins_entered_by: Literal["holder", "clerk", "proxy"] = Field(description="who keyed the PINs in: only the holder may")


class ReissueBody(BaseModel):
    application: ApplicationBody | None = Field(default=None, description="the reissue application (photo and form); required")


# -- public ------------------------------------------------------------------------------


@router.get("/card-applications/{application_id}/status", summary="Status of an application by receipt number (public, no personal data)")
def application_status(application_id: str, sv: Services = Depends(services)) -> dict:
    return sv.applications.status(application_id)


@router.post(
    "/card-applications/qr",
    status_code=201,
    summary="Apply with the QR code of the mailed form (public: the form's token is the credential)",
    responses={**retried(), **raises(Conflict, NotFound)},
)
def apply_qr(body: QrBody, response: Response, sv: Services = Depends(services)) -> dict:
    receipt = sv.applications.submit_qr(
        body.qr, decode_photo(body.photo_base64), "online:qr", express=body.express, source_ref=body.source_ref
    )
    if not receipt.created:
        response.status_code = 200
    return receipt.to_json()


@router.get("/card-fees/schedule", summary="The fee schedule (R-CARD-9)")
def fee_schedule() -> list[dict]:
    from myna.cards.fees import SCHEDULE

    return [{"item": f.item, "amount_yen": f.amount_yen, "description": f.description} for f in SCHEDULE.values()]


# -- notices and applications -----------------------------------------------------------------


@router.post(
    "/number-notices/mail",
    summary="Print the number notices not yet mailed, with application forms (PDF, R-CARD-1)",
    response_class=Response,
    responses={
        **binary("application/pdf", "The notices, one letter each", {"X-Myna-Notices": "the notice ids in the document, comma-separated"}),
        204: {"description": "Nothing to mail"},
    },
)
def mail_notices(
    municipality_code: MunicipalityCode | None = None,
    limit: int = Query(default=1000, ge=1, le=10_000),
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.OPERATOR)),
) -> Response:
    mailed, pdf = sv.applications.mail_notices(who.actor, municipality_code, limit)
    if pdf is None:
        return Response(status_code=204)
    return _pdf(pdf, "number-notices.pdf", **{"X-Myna-Notices": ",".join(x["notice_id"] for x in mailed)})


@router.post(
    "/mailed-notices/{notice_id}/returned",
    summary="Record a notice returned by the post office (never re-sent)",
    responses=raises(Conflict),
)
def notice_returned(
    notice_id: str, body: ReturnedBody, sv: Services = Depends(services), who: Principal = Depends(require(Role.OPERATOR))
) -> dict:
    return sv.applications.mark_returned(notice_id, body.reason, who.actor)


@router.post(
    "/card-applications",
    status_code=201,
    summary="An online application (R-CARD-2); the answer is the receipt",
    responses={**retried(), **raises(Conflict, NotFound)},
)
def apply_online(
    body: ApplicationBody,
    response: Response,
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.MUNICIPALITY, Role.OPERATOR)),
) -> dict:
    app = body.domain()
    receipt = sv.applications.submit_as(who, app, "online")  # a municipality's own residents only
    if not receipt.created:
        response.status_code = 200
    return receipt.to_json()


@router.post("/card-applications/paper", summary="Import scanned paper forms (JSON Lines); a file with a bad line is refused whole")
def import_paper(file: UploadFile = File(...), sv: Services = Depends(services), who: Principal = Depends(require(Role.OPERATOR))) -> dict:
    data = file.file.read(PAPER_MAX_BYTES + 1)
    if len(data) > PAPER_MAX_BYTES:
        raise InvalidInput(f"the file is larger than {PAPER_MAX_BYTES // (1024 * 1024)} MiB")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "forms.jsonl"
        path.write_bytes(data)
        return sv.applications.import_paper(path, who.actor)


@router.get("/card-applications/{application_id}", summary="One application (municipality: its own residents')")
def get_application(
    application_id: str, sv: Services = Depends(services), who: Principal = Depends(require(Role.MUNICIPALITY, Role.OPERATOR, Role.AUDITOR))
) -> dict:
    return sv.applications.get(application_id, scope_of(who))


# -- production and shipping ---------------------------------------------------------------------


@router.post("/production/batches", summary="Finish open batches, then produce up to max_batches new ones (R-CARD-3)")
def produce(
    size: int = Query(default=1000, ge=1, le=10_000),
    max_batches: int = Query(default=1, ge=0, le=100),
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.OPERATOR)),
) -> list[dict]:
    return [r.to_json() for r in sv.production.produce(who.actor, size, max_batches)]


@router.post("/shipments", summary="Ship every produced card to its municipality, with a manifest")
def ship(sv: Services = Depends(services), who: Principal = Depends(require(Role.OPERATOR))) -> list[dict]:
    return sv.production.ship(who.actor)


@router.get("/shipments/{shipment_id}/manifest", summary="The manifest of a shipment")
def manifest(
    shipment_id: str, sv: Services = Depends(services), who: Principal = Depends(require(Role.MUNICIPALITY, Role.OPERATOR, Role.AUDITOR))
) -> dict:
    return sv.production.manifest(shipment_id, scope_of(who))


# -- the counter -------------------------------------------------------------------------------------


@router.get(
    "/cards/{card_id}/pickup-notice",
    summary="交付通知書 for a shipped card (PDF, R-CARD-6)",
    response_class=Response,
    responses={**binary("application/pdf", "The pickup notice"), **raises(Conflict)},
)
def pickup_notice(card_id: CardId, sv: Services = Depends(services), who: Principal = Depends(require(Role.MUNICIPALITY))) -> Response:
    return _pdf(sv.counter.pickup_notice(card_id, who.municipality_code), f"pickup-{card_id}.pdf")


@router.post(
    "/cards/{card_id}/handover",
    summary="Hand the card over: identity, face, chip data, PINs by the holder; then active",
    responses=raises(Conflict),
)
def hand_over(
    card_id: CardId, body: HandoverBody, sv: Services = Depends(services), who: Principal = Depends(require(Role.MUNICIPALITY))
) -> dict:
    h = Handover(
        body.identity_document, body.face_matches_photo, CardPins(body.pins.auth, body.pins.sign, body.pins.face), body.pins_entered_by
    )
    return sv.counter.hand_over(card_id, h, who.actor, who.municipality_code)


@router.get("/cards/{card_id}/management", summary="A card's status, expiry and history")
def card(
    card_id: CardId,
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.MUNICIPALITY, Role.OPERATOR, Role.AUDITOR, Role.CALL_CENTRE)),
) -> dict:
    return sv.card_management.card(card_id, scope_of(who))


@router.post(
    "/cards/{card_id}/suspend",
    summary="一時利用停止: the call centre, 24/7 (R-CARD-7); revokes the card's certificates",
    responses=raises(Conflict),
)
def suspend(
    card_id: CardId,
    body: NoteBody,
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.CALL_CENTRE, Role.MUNICIPALITY, Role.OPERATOR)),
) -> dict:
    return sv.card_management.suspend(card_id, who.actor, body.note, scope_of(who))


@router.post(
    "/cards/{card_id}/lift", summary="Lift a suspension at the counter (certificates stay revoked: renew them)", responses=raises(Conflict)
)
def lift(card_id: CardId, body: NoteBody, sv: Services = Depends(services), who: Principal = Depends(require(Role.MUNICIPALITY))) -> dict:
    return sv.card_management.lift(card_id, who.actor, body.note, who.municipality_code)


@router.post("/cards/{card_id}/loss", summary="Record the loss of a card (紛失届)", responses=raises(Conflict))
def lose(
    card_id: CardId,
    body: NoteBody,
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.MUNICIPALITY, Role.CALL_CENTRE)),
) -> dict:
    return sv.card_management.lose(card_id, who.actor, body.note, scope_of(who))


@router.post(
    "/cards/{card_id}/reissue", status_code=201, summary="Reissue (再交付): only with a new application", responses=raises(Conflict)
)
def reissue(
    card_id: CardId, body: ReissueBody, sv: Services = Depends(services), who: Principal = Depends(require(Role.MUNICIPALITY))
) -> dict:
    app = body.application.domain() if body.application else None
    return sv.card_management.reissue(card_id, app, who.actor, municipality_code=who.municipality_code).to_json()


@router.post("/cards/{card_id}/return", summary="The card is returned (返納)", responses=raises(Conflict))
def return_card(
    card_id: CardId, body: NoteBody, sv: Services = Depends(services), who: Principal = Depends(require(Role.MUNICIPALITY))
) -> dict:
    return sv.card_management.return_card(card_id, who.actor, body.note, who.municipality_code)


@router.post("/cards/{card_id}/abolish", summary="Abolish the card (廃止)", responses=raises(Conflict))
def abolish(
    card_id: CardId, body: NoteBody, sv: Services = Depends(services), who: Principal = Depends(require(Role.MUNICIPALITY, Role.OPERATOR))
) -> dict:
    return sv.card_management.abolish(card_id, who.actor, body.note, scope_of(who))


@router.post(
    "/cards/{card_id}/renew-certificates",
    summary="Certificate renewal at the counter: new keys on the card, old certificates revoked and linked",
    responses=raises(Conflict),
)
def renew(card_id: CardId, sv: Services = Depends(services), who: Principal = Depends(require(Role.MUNICIPALITY))) -> dict:
    return sv.card_management.renew_certificates(card_id, who.actor, who.municipality_code)


# -- expiry, fees, lead time ---------------------------------------------------------------------------


@router.post(
    "/expiry-notices",
    summary="Expiry notices due (about three months ahead, R-CARD-8); format=pdf for the letters",
    responses={
        200: {
            "description": "format=json: the notices; format=pdf: the letters",
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        204: {"description": "format=pdf and no notice due"},
    },
)
def expiry_notices(
    format: Literal["json", "pdf"] = "json", sv: Services = Depends(services), who: Principal = Depends(require(Role.OPERATOR))
):
    notices, pdf = sv.card_management.expiry_notices(who.actor, pdf=format == "pdf")
    if format == "pdf":
        return _pdf(pdf, "expiry-notices.pdf") if pdf else Response(status_code=204)
    return notices


@router.get("/card-fees", summary="Fees due and collected (R-CARD-9)")
def card_fees(
    outstanding: bool = False,
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.MUNICIPALITY, Role.OPERATOR, Role.AUDITOR)),
) -> list[dict]:
    return sv.card_management.fees(scope_of(who), outstanding)


@router.post("/card-fees/{fee_id}/collect", summary="Record a fee collected at the counter", responses=raises(Conflict))
def collect_fee(fee_id: RowId, sv: Services = Depends(services), who: Principal = Depends(require(Role.MUNICIPALITY))) -> dict:
    return sv.card_management.collect_fee(fee_id, who.actor, who.municipality_code)  # refuses a waived fee too


@router.get("/lead-time/report", summary="Lead time from receipt to shipment: max and mean per day or month (R-CARD-4)")
def lead_time_report(
    by: Literal["day", "month"] = "day", sv: Services = Depends(services), who: Principal = Depends(require(Role.OPERATOR, Role.AUDITOR))
) -> list[dict]:
    return sv.applications.lead_time_report(by)


@router.get("/lead-time/alerts", summary="Applications about to miss (or past) their deadline")
def lead_time_alerts(
    within: int = Query(default=2, ge=0, le=30),
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.OPERATOR, Role.AUDITOR)),
) -> list[dict]:
    return sv.applications.alerts(within)
