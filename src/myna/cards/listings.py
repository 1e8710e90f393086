"""What the counter terminal and the resident portal list of card management: the cards
that arrived at a municipality and its latest applications, a resident's cards and
applications. Read-only queries, each in a transaction of its own; the screens only
render what these return."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from myna.authority.platform import Platform
from myna.cards.card_status import CardStatus
from myna.store.models_card_management import CardApplication
from myna.store.models_cards import ChipRecord

ARRIVED_MAX = 100  # cards listed as arrived (and printed in one batch of pickup notices)
RECENT_MAX = 20


@dataclass(frozen=True)
class CardLine:
    card_id: str
    resident_code: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class ApplicationLine:
    application_id: str
    resident_code: str
    status: str
    received_on: dt.date
    due_on: dt.date
    reason: str
    express: str | None
    card_id: str | None


def _card(row: ChipRecord) -> CardLine:
    return CardLine(row.card_id, row.resident_code, row.status, row.created_at, row.updated_at)


def _application(row: CardApplication) -> ApplicationLine:
    return ApplicationLine(
        row.application_id, row.resident_code, row.status, row.received_on, row.due_on, row.reason, row.express, row.card_id
    )


class CardListings:
    def __init__(self, platform: Platform):
        self.platform = platform

    def arrived(self, municipality_code: str, limit: int = ARRIVED_MAX) -> list[CardLine]:
        """Cards shipped to the municipality and not yet handed over, newest first."""
        with self.platform.db.session() as s:
            rows = s.scalars(
                select(ChipRecord)
                .where(ChipRecord.municipality_code == municipality_code, ChipRecord.status == CardStatus.SHIPPED.value)
                .order_by(ChipRecord.updated_at.desc(), ChipRecord.card_id)
                .limit(limit)
            ).all()
            return [_card(r) for r in rows]

    def recent_applications(self, municipality_code: str, limit: int = RECENT_MAX) -> list[ApplicationLine]:
        """The municipality's latest applications, newest first."""
        with self.platform.db.session() as s:
            rows = s.scalars(
                select(CardApplication)
                .where(CardApplication.municipality_code == municipality_code)
                .order_by(CardApplication.received_at.desc())
                .limit(limit)
            ).all()
            return [_application(a) for a in rows]

    def cards_of(self, resident_code: str, newest_first: bool = True) -> list[CardLine]:
        """A resident's cards (newest first, or in the store's order)."""
        q = select(ChipRecord).where(ChipRecord.resident_code == resident_code)
        if newest_first:
            q = q.order_by(ChipRecord.created_at.desc())
        with self.platform.db.session() as s:
            return [_card(r) for r in s.scalars(q)]

    def applications_of(self, resident_code: str) -> list[ApplicationLine]:
        """A resident's applications, newest first."""
        with self.platform.db.session() as s:
            rows = s.scalars(
                select(CardApplication).where(CardApplication.resident_code == resident_code).order_by(CardApplication.received_at.desc())
            )
            return [_application(a) for a in rows]
