"""What the defect check (cards/defects.py, R-CARD-2) needs to know from the store about
an applicant: J-LIS's identity record, open applications, live cards, the card replaced
and whether the active card is in its renewal window. Joins the caller's transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from myna.authority.issuance import ON_REGISTER
from myna.cards import defects as d
from myna.cards.application_status import OPEN
from myna.cards.card_status import LIVE, CardStatus
from myna.cards.expiry import in_window
from myna.cards.forms import ApplicationIn
from myna.residents.events import EventType
from myna.store import models as m
from myna.store.models_card_management import CardApplication, ManagedCard
from myna.store.models_cards import ChipRecord


def facts(s, app: ApplicationIn, now: dt.datetime) -> tuple[d.Record | None, d.Context]:
    # Locked: two applications of one resident are checked one after the other (duplicates).
    resident = s.get(m.ResidentRecord, app.resident_code, with_for_update=True)
    record = None
    if resident is not None:
        first = s.execute(
            select(m.ResidentEvent.type, m.ResidentEvent.effective_date)
            .where(m.ResidentEvent.resident_code == app.resident_code)
            .order_by(m.ResidentEvent.id)
            .limit(1)
        ).first()
        abroad = first.effective_date if first is not None and first.type == EventType.MOVE_IN.value else None
        record = d.Record(resident.name, resident.date_of_birth, resident.sex, resident.address, resident.status in ON_REGISTER, abroad)
    open_apps = s.scalar(
        select(func.count())
        .select_from(CardApplication)
        .where(CardApplication.resident_code == app.resident_code, CardApplication.status.in_(OPEN))
    )
    live = s.scalar(
        select(func.count()).select_from(ChipRecord).where(ChipRecord.resident_code == app.resident_code, ChipRecord.status.in_(LIVE))
    )
    replaced = None
    if app.replaces_card_id:
        card = s.get(ChipRecord, app.replaces_card_id)
        replaced = card.status if card is not None and card.resident_code == app.resident_code else None
    due = False
    for managed in s.scalars(
        select(ManagedCard)
        .join(ChipRecord, ChipRecord.card_id == ManagedCard.card_id)
        .where(ManagedCard.resident_code == app.resident_code, ChipRecord.status == CardStatus.ACTIVE.value)
    ):
        due = due or in_window(managed.card_expires_at, now)
    return record, d.Context(open_apps or 0, live or 0, replaced, due)
