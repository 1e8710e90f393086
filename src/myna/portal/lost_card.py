"""Suspending a lost card from the resident portal (一時利用停止, R-CARD-7).

Someone who has lost their card cannot sign in with it, so the portal confirms who they
are against the identity record, as the call centre does on the phone: the Individual
Number, and the name, date of birth and address as registered. Anything wrong gets the
same answer whether the number exists or not, so the form cannot be used to test numbers.

Suspension revokes the card's certificates, so the form is limited: failed attempts are
counted in the store (so the limit holds across server processes) per source address and
per Individual Number within a window of the platform's clock; past the limit the form
refuses even a right answer until the window has passed (the call centre is still there).
The holder is told by a notice in the outbox whenever the form suspends their card.
Suspension is cheap to undo (lifted at the counter) and stops misuse at once, which is why
it is open around the clock without an appointment, like the call centre. A resident
signed in with a phone's user-auth certificate can suspend a card from their own page too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select

from myna.authority.platform import Platform
from myna.cards.card_status import CardStatus
from myna.cards.management import CardManagement
from myna.errors import InvalidInput, MynaError, NotFound
from myna.numbering.individual_number import check_number
from myna.store import models as m
from myna.store.journal import audit, enqueue
from myna.store.models_cards import ChipRecord

WINDOW = dt.timedelta(hours=24)
MAX_FAILURES_PER_NUMBER = 5
MAX_FAILURES_PER_SOURCE = 20
FAILED = "lost-card.identity-not-confirmed"
FIELD_MAX = 256


class TooManyAttempts(MynaError):
    code = "too-many-attempts"


def _key(kind: str, value: str) -> str:
    # The audit row names the number and the source only by a digest: no personal data.
    return f"{kind}:" + hashlib.sha256(f"myna lost-card {kind} {value}".encode()).hexdigest()[:32]


def _same(a: str | None, b: str) -> bool:
    """Compared as the call centre would hear them: width, case and spaces aside."""
    norm = lambda text: "".join(unicodedata.normalize("NFKC", text or "").split()).casefold()  # noqa: E731
    return norm(a) == norm(b) and bool(norm(b))


@dataclass(frozen=True)
class Suspended:
    card_id: str
    revoked: list[str]


def holder_by_number(platform: Platform, number: str, date_of_birth: dt.date, name: str | None = None, address: str | None = None) -> str:
    """The resident whose record has this number, date of birth and (when given) name and
    address; anything else is NotFound, one answer whatever was wrong."""
    number = check_number(number.strip())  # malformed: a specific error (no secret in that)
    with platform.db.session() as s:
        row = s.scalar(select(m.ResidentRecord).where(m.ResidentRecord.number == number))
        if (
            row is None
            or row.date_of_birth != date_of_birth
            or (name is not None and not _same(row.name, name))
            or (address is not None and not _same(row.address, address))
        ):
            raise NotFound("no card holder with this Individual Number, name, date of birth and address")
        return row.resident_code


def _failures(s, subject: str, since: dt.datetime) -> int:
    return s.scalar(
        select(func.count())
        .select_from(m.AuditEvent)
        .where(m.AuditEvent.action == FAILED, m.AuditEvent.subject == subject, m.AuditEvent.at > since)
    )


def suspend_cards(management: CardManagement, resident_code: str, actor: str, card_id: str | None = None) -> list[Suspended]:
    """Suspend the holder's active cards (or the one named). Nothing active: NotFound."""
    with management.platform.db.session() as s:
        q = select(ChipRecord.card_id).where(ChipRecord.resident_code == resident_code, ChipRecord.status == CardStatus.ACTIVE.value)
        if card_id is not None:
            q = q.where(ChipRecord.card_id == card_id)
        ids = list(s.scalars(q))
    if not ids:
        raise NotFound("no card in use to suspend" if card_id is None else f"card {card_id} is not a card of yours in use")
    out = []
    for cid in ids:
        done = management.suspend(cid, actor, "lost: reported on the resident portal")
        out.append(Suspended(cid, done["revoked"]))
    return out


def suspend_lost(
    management: CardManagement, number: str, date_of_birth: str, actor: str, name: str = "", address: str = "", source: str = "unknown"
) -> list[Suspended]:
    """The public form: confirm the holder against the record, within the attempt limits,
    then suspend their cards in use and tell them (R-CARD-7)."""
    for field, value in (("name", name), ("address", address)):
        if not value.strip():
            raise InvalidInput(f"the {field} as registered is needed to confirm who you are")
        if len(value) > FIELD_MAX:
            raise InvalidInput(f"the {field} is longer than {FIELD_MAX} characters")
    try:
        dob = dt.date.fromisoformat(date_of_birth.strip())
    except ValueError:
        raise InvalidInput("the date of birth is a date like 1990-06-15") from None
    number = check_number(number.strip())
    platform = management.platform
    by_number, by_source = _key("number", number), _key("source", source)
    now = platform.clock.now()
    with platform.db.session() as s:
        if (
            _failures(s, by_number, now - WINDOW) >= MAX_FAILURES_PER_NUMBER
            or _failures(s, by_source, now - WINDOW) >= MAX_FAILURES_PER_SOURCE
        ):
            raise TooManyAttempts(
                f"too many attempts: try again after {int(WINDOW.total_seconds() // 3600)} hours, or phone the call centre (24/7)"
            )
    try:
        resident_code = holder_by_number(platform, number, dob, name, address)
    except NotFound:
        with platform.db.session() as s:
            for subject in (by_number, by_source):
                audit(s, now, actor, FAILED, subject)
        raise
    done = suspend_cards(management, resident_code, actor)
    with platform.db.session() as s:
        for card in done:
            # The holder is told: if it was not them, they go to the counter at once.
            enqueue(
                s,
                now,
                "holder-notice",
                {
                    "type": "card-suspended",
                    "channel": "portal-lost-card-form",
                    "card_id": card.card_id,
                    "resident_code": resident_code,
                    "revoked": card.revoked,
                    "at": now.isoformat(),
                },
            )
    return done
