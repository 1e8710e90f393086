"""/api/v1/operations: the outage log, availability by the sources' formula, and the traffic
counts validity centres report (what the operations console shows)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AfterValidator, BaseModel, Field

from myna.access.roles import Principal, Role
from myna.errors import Conflict, InvalidInput
from myna.operations.service import SERVICES
from myna.validation.provision import CENTRE_NAME
from myna.web import deps
from myna.web.deps import require
from myna.web.openapi import raises
from myna.web.types import IsoAwareDatetime, RowId
from myna.wiring import Services

router = APIRouter(prefix="/api/v1/operations", tags=["operations"])
READERS = (Role.OPERATOR, Role.AUDITOR)
SERVICE_PATTERN = "^(" + "|".join(SERVICES) + ")$"  # the keys are lower-case words and '-'


def _centre(name: str) -> str:
    if not CENTRE_NAME.match(name):
        raise ValueError("a centre name is lower-case letters, digits and '-', starting with a letter, at most 32 characters")
    return name


class OutageIn(BaseModel):
    service: str = Field(pattern=SERVICE_PATTERN, description=f"one of: {', '.join(SERVICES)}")
    started_at: IsoAwareDatetime
    ended_at: IsoAwareDatetime | None = None
    planned: bool = Field(default=False, description="maintenance and other planned stops: excluded from availability")
    cause: str = Field(min_length=1, max_length=2000, pattern=r"\S")


class OutageEnd(BaseModel):
    ended_at: IsoAwareDatetime


class TrafficIn(BaseModel):
    centre: Annotated[str, AfterValidator(_centre)]
    minute: IsoAwareDatetime = Field(description="the minute counted (seconds are dropped)")
    ocsp: int = Field(ge=0, le=10**9)
    crl: int = Field(ge=0, le=10**9)
    errors: int = Field(default=0, ge=0, le=10**9)


@router.get("/services", summary="The services whose availability is reported")
def services() -> dict[str, dict[str, str]]:
    return {k: {"ja": ja, "en": en} for k, (ja, en) in SERVICES.items()}


@router.get("/outages", summary="Outage log, newest first")
def outages(
    service: str | None = Query(default=None, pattern=SERVICE_PATTERN),
    limit: int = Query(default=100, ge=1, le=1000),
    sv: Services = Depends(deps.services),
    _who: Principal = Depends(require(*READERS)),
) -> list[dict]:
    if service is not None and service not in SERVICES:
        raise InvalidInput(f"unknown service {service!r}; one of: {', '.join(SERVICES)}")
    return [o.to_json() for o in sv.operations.outages(service, limit)]


@router.post("/outages", status_code=201, summary="Record an outage (planned or not)")
def record_outage(body: OutageIn, sv: Services = Depends(deps.services), who: Principal = Depends(require(Role.OPERATOR))) -> dict:
    return sv.operations.record_outage(body.service, body.started_at, body.ended_at, body.planned, body.cause, who.actor).to_json()


@router.post("/outages/{outage_id}/end", summary="Close an ongoing outage", responses=raises(Conflict))
def end_outage(
    outage_id: RowId, body: OutageEnd, sv: Services = Depends(deps.services), who: Principal = Depends(require(Role.OPERATOR))
) -> dict:
    return sv.operations.end_outage(outage_id, body.ended_at, who.actor).to_json()


@router.get("/availability", summary="Availability per service: (service time − outage time) ÷ service time, planned outages excluded")
def availability(
    start: IsoAwareDatetime | None = Query(default=None, description="default: the start of this fiscal year (1 April, JST)"),
    end: IsoAwareDatetime | None = Query(default=None, description="default: now"),
    sv: Services = Depends(deps.services),
    _who: Principal = Depends(require(*READERS)),
) -> dict:
    start, end = sv.operations.window(start, end)
    return {
        svc: {
            "ratio": a.ratio,
            "meets_target": a.meets_target,
            "service_seconds": a.service_seconds,
            "outage_seconds": a.outage_seconds,
            "planned_seconds": a.planned_seconds,
        }
        for svc, a in sv.operations.availability(start, end).items()
    } | {"window": {"start": start.isoformat(), "end": end.isoformat()}}


@router.post("/traffic", status_code=204, summary="A validity centre reports one minute of traffic (role centre)")
def report_traffic(body: TrafficIn, sv: Services = Depends(deps.services), _who: Principal = Depends(require(Role.CENTRE))) -> None:
    sv.operations.report_traffic(body.centre, body.minute, body.ocsp, body.crl, body.errors)
