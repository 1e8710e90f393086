"""/api/v1/residents: change events from municipalities (異動等情報), identity records,
number notices. A municipality token acts only on its own residents."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from myna.access.roles import Principal, Role
from myna.authority.records import scope_of
from myna.errors import Conflict, NotFound
from myna.pki.basic4 import Sex
from myna.residents.events import ChangeEvent, EventType
from myna.web.deps import require, services
from myna.web.openapi import raises, retried
from myna.web.routers.certificates import Basic4In
from myna.web.types import IsoDate, MunicipalityCode, RequestId, ResidentCode
from myna.wiring import Services

router = APIRouter(prefix="/api/v1", tags=["residents"])


class EventIn(BaseModel):
    event_id: RequestId = Field(description="Your id for this event: a retry with the same id is acknowledged, not re-applied")
    type: EventType
    resident_code: ResidentCode
    effective_date: IsoDate = Field(description="The date the change took effect (異動日); events apply in date order per resident")
    municipality_code: MunicipalityCode | None = Field(default=None, description="Filled in from a municipality token")
    basic4: Basic4In | None = Field(default=None, description="birth; move-in of someone not on the register")
    name: str | None = Field(default=None, max_length=256)
    name_alt: str | None = Field(default=None, max_length=256)
    address: str | None = Field(default=None, max_length=256)
    address_alt: str | None = Field(default=None, max_length=256)
    date_of_birth: IsoDate | None = None
    sex: Literal["1", "2", "3"] | None = None
    minor: bool = Field(default=False, description="correction of name or address only: a minor correction (軽微な修正) revokes nothing")
    planned_date: IsoDate | None = Field(
        default=None, description="planned-move-out: 転出の予定年月日, at most one year after effective_date (R-RA-5)"
    )
    reason: str | None = Field(default=None, max_length=200, description="deletion: why")


class EventOut(BaseModel):
    event_id: str
    resident_code: str
    applied: bool
    status: str
    number: str | None
    revoked: list[dict]


class MunicipalityIn(BaseModel):
    code: MunicipalityCode
    name: str = Field(max_length=100)


@router.post(
    "/residents/events",
    response_model=EventOut,
    status_code=201,
    summary="Report a change event (異動等情報)",
    responses={**retried(EventOut), **raises(Conflict, NotFound)},
)
def submit_event(
    body: EventIn, response: Response, sv: Services = Depends(services), who: Principal = Depends(require(Role.MUNICIPALITY, Role.OPERATOR))
) -> EventOut:
    event = ChangeEvent(
        event_id=body.event_id,
        type=body.type,
        resident_code=body.resident_code,
        municipality_code=body.municipality_code,  # the service decides which municipality reports it
        effective_date=body.effective_date,
        basic4=body.basic4.domain() if body.basic4 else None,
        name=body.name,
        name_alt=body.name_alt,
        address=body.address,
        address_alt=body.address_alt,
        date_of_birth=body.date_of_birth,
        sex=Sex(body.sex) if body.sex else None,
        minor=body.minor,
        planned_date=body.planned_date,
        reason=body.reason,
    )
    result = sv.registry.submit_as(who, event)
    if not result.applied:
        response.status_code = 200
    return EventOut(**result.to_json())


@router.get("/residents", summary="Residents of your municipality, a page at a time")
def list_residents(
    after: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.MUNICIPALITY, Role.OPERATOR, Role.AUDITOR)),
) -> dict:
    items, cursor = sv.registry.list(scope_of(who), after, limit)
    return {"items": items, "next": cursor}


@router.get("/residents/{resident_code}", summary="One identity record with its full history (R-RES-1)")
def get_resident(
    resident_code: ResidentCode,
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.MUNICIPALITY, Role.OPERATOR, Role.AUDITOR)),
) -> dict:
    return sv.registry.get(resident_code, scope_of(who))


@router.post("/residents/{resident_code}/number", summary="Issue a new number after a leak (R-NUM-1)")
def reissue(
    resident_code: ResidentCode,
    reason: str = Query(min_length=1, max_length=200),
    sv: Services = Depends(services),
    who: Principal = Depends(require(Role.MUNICIPALITY)),
) -> dict:
    return {"resident_code": resident_code, "number": sv.registry.reissue_number(resident_code, who.municipality_code, reason, who.actor)}


@router.get("/number-notices", summary="Numbers to notify (個人番号とすべき番号の通知); fetched once")
def number_notices(sv: Services = Depends(services), who: Principal = Depends(require(Role.MUNICIPALITY))) -> list[dict]:
    return sv.registry.fetch_notices(who.municipality_code)


@router.post("/municipalities", status_code=201, summary="Register a municipality", responses=raises(Conflict))
def register_municipality(body: MunicipalityIn, sv: Services = Depends(services), who: Principal = Depends(require(Role.OPERATOR))) -> dict:
    sv.registry.register_municipality(body.code, body.name, who.actor)
    return {"code": body.code, "name": body.name}
