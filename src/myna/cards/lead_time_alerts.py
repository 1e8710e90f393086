"""The lead-time clock's reports (R-CARD-4): applications near or past their deadline,
and the lead times of the cards shipped, by day or month. The counting rules are
:mod:`myna.cards.lead_time`."""

from __future__ import annotations

from sqlalchemy import select

from myna.authority.platform import Platform
from myna.cards import lead_time
from myna.cards.application_status import OPEN
from myna.clock import JST
from myna.errors import InvalidInput
from myna.store.models_card_management import CardApplication


def alerts(platform: Platform, within: int = lead_time.ALERT_DAYS) -> list[dict]:
    """Applications not yet shipped whose deadline is ``within`` counted days or
    fewer away, or already missed (days_left < 0)."""
    if not 0 <= within <= 30:
        raise InvalidInput("within must be 0-30 days")
    today = platform.clock.now().astimezone(JST).date()
    horizon = lead_time.add_days(today, within)
    with platform.db.session() as s:
        rows = s.execute(
            select(
                CardApplication.application_id,
                CardApplication.status,
                CardApplication.due_on,
                CardApplication.express,
                CardApplication.municipality_code,
            )
            .where(CardApplication.status.in_(OPEN), CardApplication.due_on <= horizon)
            .order_by(CardApplication.due_on, CardApplication.application_id)
        ).all()
    return [
        {
            "application_id": r.application_id,
            "status": r.status,
            "due_on": r.due_on.isoformat(),
            "days_left": lead_time.days_left(today, r.due_on),
            "express": r.express is not None,
            "municipality_code": r.municipality_code,
        }
        for r in rows
    ]


def lead_time_report(platform: Platform, by: str = "day") -> list[dict]:
    if by not in ("day", "month"):
        raise InvalidInput("by must be day or month")
    with platform.db.session() as s:
        rows = s.execute(
            select(CardApplication.shipped_at, CardApplication.lead_days, CardApplication.express).where(
                CardApplication.shipped_at.is_not(None)
            )
        ).all()
    return [
        x.to_json() for x in lead_time.report([(r.shipped_at.astimezone(JST).date(), r.lead_days, r.express is not None) for r in rows], by)
    ]
