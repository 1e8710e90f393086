"""/api/v1/feed: what validity centres at other sites replicate (role ``centre``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from myna.access.roles import Principal, Role
from myna.authority.feed import MAX_FEED_PAGE, read_feed
from myna.errors import InvalidInput
from myna.verifiers.credentials import verifier_credentials
from myna.web.deps import require, services
from myna.web.types import BIGINT_MAX
from myna.wiring import Services

router = APIRouter(prefix="/api/v1/feed", tags=["validity centres"])


class EventOut(BaseModel):
    seq: int
    serial: str
    authority: str
    event: str
    at: str
    not_after: str
    reason: str | None


class FeedPage(BaseModel):
    events: list[EventOut]
    head: int


@router.get("/status", response_model=FeedPage, summary="Status changes after a position, in feed order")
def status_feed(
    after: int = Query(ge=0, le=BIGINT_MAX),
    limit: int = Query(default=5000, ge=1, le=MAX_FEED_PAGE),
    # Each seq at most 18 digits, so every schema-valid value is below BIGINT_MAX (and below
    # Python's limit on digits converted to an int).
    also: str | None = Query(
        default=None,
        max_length=20_000,
        pattern=r"^,*([0-9]{1,18},+)*([0-9]{1,18})?$",
        description="Comma-separated seqs still awaited (gaps)",
    ),
    sv: Services = Depends(services),
    _who: Principal = Depends(require(Role.CENTRE, Role.OPERATOR)),
) -> FeedPage:
    wanted: list[int] = []
    if also:
        try:
            wanted = [int(x) for x in also.split(",") if x]
        except ValueError:
            raise InvalidInput("also must be comma-separated integers") from None
        if any(not 0 <= x <= BIGINT_MAX for x in wanted):
            raise InvalidInput(f"also's seqs are between 0 and {BIGINT_MAX}")
    events, head = read_feed(sv.platform, after, limit, wanted)
    return FeedPage(
        events=[
            EventOut(
                seq=e.seq,
                serial=e.serial,
                authority=e.authority,
                event=e.event,
                at=e.at.isoformat(),
                not_after=e.not_after.isoformat(),
                reason=e.reason,
            )
            for e in events
        ],
        head=head,
    )


@router.get("/verifiers", response_model=dict[str, str], summary="Verifier credential hashes and roles (R-VER-1)")
def verifiers(sv: Services = Depends(services), _who: Principal = Depends(require(Role.CENTRE, Role.OPERATOR))) -> dict[str, str]:
    return verifier_credentials(sv.platform)
