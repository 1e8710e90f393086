"""Suspending a lost card from the resident portal (一時利用停止, R-CARD-7).

Someone who has lost their card cannot sign in with it, so the portal asks what the call
centre asks on the phone: the Individual Number and the date of birth. A wrong pair gets
the same answer whether the number exists or not, so the form cannot be used to test
numbers. Suspension is cheap to undo (lifted at the counter) and stops misuse at once (the
card's certificates are revoked), which is why it is open around the clock without an
appointment, like the call centre. A resident signed in with a phone's user-auth
certificate can suspend a card from their own page as well.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from myna.authority.platform import Platform
from myna.cards.card_status import CardStatus
from myna.cards.management import CardManagement
from myna.errors import InvalidInput, NotFound
from myna.numbering.individual_number import check_number
from myna.store import models as m
from myna.store.models_cards import CardRecord


@dataclass(frozen=True)
class Suspended:
    card_id: str
    revoked: list[str]


def holder_by_number(platform: Platform, number: str, date_of_birth: dt.date) -> str:
    number = check_number(number.strip())  # malformed: a specific error (no secret in that)
    with platform.db.session() as s:
        row = s.scalar(select(m.ResidentRecord).where(m.ResidentRecord.number == number))
        if row is None or row.date_of_birth != date_of_birth:
            raise NotFound("no card holder with this Individual Number and date of birth")
        return row.resident_code


def suspend_cards(platform: Platform, resident_code: str, actor: str, card_id: str | None = None) -> list[Suspended]:
    """Suspend the holder's active cards (or the one named). Nothing active: NotFound."""
    with platform.db.session() as s:
        q = select(CardRecord.card_id).where(CardRecord.resident_code == resident_code, CardRecord.status == CardStatus.ACTIVE.value)
        if card_id is not None:
            q = q.where(CardRecord.card_id == card_id)
        ids = list(s.scalars(q))
    if not ids:
        raise NotFound("no card in use to suspend" if card_id is None else f"card {card_id} is not a card of yours in use")
    service = CardManagement(platform)
    out = []
    for cid in ids:
        done = service.suspend(cid, actor, "lost: reported on the resident portal")
        out.append(Suspended(cid, done["revoked"]))
    return out


def suspend_lost(platform: Platform, number: str, date_of_birth: str, actor: str) -> list[Suspended]:
    try:
        dob = dt.date.fromisoformat(date_of_birth.strip())
    except ValueError:
        raise InvalidInput("the date of birth is a date like 1990-06-15") from None
    return suspend_cards(platform, holder_by_number(platform, number, dob), actor)
