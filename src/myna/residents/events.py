"""Change events (異動等情報) and the resident state machine. Pure: no store, no web.

States:
- ``active``: on the register of ``municipality``;
- ``moving-out``: a move-out notice (転出届) was filed with a planned date; the
  municipality that recorded it may withdraw it (転出取消, R-REV-3a) and the resident is
  ``active`` again;
- ``moved-out``: the record was deleted by the move-out; a move-in elsewhere completes it;
- ``deleted``: deleted for another reason (death, …); final.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from dataclasses import dataclass

from myna.errors import Conflict, InvalidInput
from myna.pki.basic4 import EARLIEST_BIRTH, Basic4, Sex


class EventType(str, enum.Enum):
    BIRTH = "birth"  # 出生
    MOVE_IN = "move-in"  # 転入 (from another municipality, completing a move, or from abroad)
    PLANNED_MOVE_OUT = "planned-move-out"  # 転出届 with 転出の予定年月日
    PLANNED_MOVE_OUT_WITHDRAWN = "planned-move-out-withdrawn"  # 転出取消 (R-REV-3a)
    MOVE_OUT = "move-out"  # 転出による消除
    NAME_CHANGE = "name-change"  # 氏名の変更
    ADDRESS_CHANGE = "address-change"  # 転居 (inside the municipality)
    CORRECTION = "correction"  # 記載の修正 (minor or not)
    DEATH = "death"  # 死亡による消除
    DELETION = "deletion"  # その他の消除


class Status(str, enum.Enum):
    ACTIVE = "active"
    MOVING_OUT = "moving-out"
    MOVED_OUT = "moved-out"
    DELETED = "deleted"


class OutOfOrder(Conflict):
    code = "out-of-order"


class InvalidTransition(Conflict):
    code = "invalid-transition"


@dataclass(frozen=True)
class Resident:
    resident_code: str
    municipality_code: str
    basic4: Basic4
    status: Status
    planned_move_out: dt.date | None = None
    ua_lapsed: bool = False  # R-REV-3 (二) already applied
    last_effective: dt.date | None = None


@dataclass(frozen=True)
class ChangeEvent:
    event_id: str
    type: EventType
    resident_code: str
    municipality_code: str  # who reports it
    effective_date: dt.date
    basic4: Basic4 | None = None  # birth; move-in from abroad
    name: str | None = None  # name change, correction
    name_alt: str | None = None
    address: str | None = None  # address change, move-in, correction
    address_alt: str | None = None
    date_of_birth: dt.date | None = None  # correction
    sex: Sex | None = None  # correction
    minor: bool = False  # correction of name or address: a minor correction (軽微な修正) revokes nothing
    planned_date: dt.date | None = None  # planned move-out
    reason: str | None = None  # deletion


class Revoke(str, enum.Enum):
    """What an event does to the holder's card certificates."""

    SIGNATURE = "R-REV-2"  # card signature certificate (Art. 12)
    USER_AUTH = "R-REV-3"  # card user-auth certificate (Art. 31)


@dataclass(frozen=True)
class Outcome:
    resident: Resident
    revoke: tuple[Revoke, ...]
    new_record: bool = False


def _need(value, what: str, event: ChangeEvent):
    if value is None:
        raise InvalidInput(f"a {event.type.value} event needs {what}")
    return value


def _require(state: Resident | None, allowed: set[Status], event: ChangeEvent) -> Resident:
    if state is None:
        raise InvalidTransition(f"resident {event.resident_code} is not on the register: {event.type.value} needs an existing record")
    if state.status not in allowed:
        raise InvalidTransition(f"resident {event.resident_code} is {state.status.value}: {event.type.value} is not possible")
    return state


# Bounds on the dates an event carries (R-RA-5): a date far off is a typing error, and one
# near dt.date.max overflows the date arithmetic of the 30-day rule. The register has no
# event before the Meiji era's first year; "not in the future" needs the clock and is
# checked where the event is received.
EARLIEST_EVENT_DATE = dt.date(1868, 1, 1)
# (choice, SPEC R-RA-5) a planned move-out at most one year after the notice.
MAX_PLANNED_MOVE_OUT_YEARS = 1
# Fields a minor correction (軽微な修正, which revokes nothing) may touch. The ordinance's
# list is not in the sources; the date of birth and the sex are facts about the person, not
# the way a name or address is written, so correcting either is never minor (R-REV-2).
MINOR_CORRECTION_FIELDS = frozenset({"name", "address"})


def one_year_after(day: dt.date) -> dt.date:
    """The same day a year later; 29 February goes to 28 February."""
    try:
        return day.replace(year=day.year + MAX_PLANNED_MOVE_OUT_YEARS)
    except ValueError:
        return day.replace(year=day.year + MAX_PLANNED_MOVE_OUT_YEARS, day=28)


def _check_dates(event: ChangeEvent) -> None:
    if event.effective_date < EARLIEST_EVENT_DATE:
        raise InvalidInput(
            f"effective_date {event.effective_date.isoformat()} is before {EARLIEST_EVENT_DATE.isoformat()}: no register event is that old"
        )
    if event.planned_date is not None:
        if event.planned_date < event.effective_date:
            raise InvalidInput("planned_date is before the notice's effective date")
        if event.planned_date > one_year_after(event.effective_date):
            raise InvalidInput(
                f"planned_date {event.planned_date.isoformat()} is more than {MAX_PLANNED_MOVE_OUT_YEARS} year after the notice's "
                f"effective date {event.effective_date.isoformat()}: a planned move-out is at most one year ahead (R-RA-5)"
            )
    births = [("date_of_birth", event.date_of_birth)] + ([("basic4.date_of_birth", event.basic4.date_of_birth)] if event.basic4 else [])
    for what, day in births:
        if day is None:
            continue
        if day < EARLIEST_BIRTH:
            raise InvalidInput(f"{what} {day.isoformat()} is before the Meiji era ({EARLIEST_BIRTH.isoformat()})")
        if day > event.effective_date:
            raise InvalidInput(f"{what} {day.isoformat()} is after the event's effective date {event.effective_date.isoformat()}")


def _changed(prev: Resident, b4: Basic4, event: ChangeEvent) -> Basic4:
    """A change that changes nothing is refused: it would revoke a certificate whose
    contents are still true."""
    if b4 == prev.basic4:
        raise InvalidInput(f"a {event.type.value} event must change the record: the resident's record already has these values")
    return b4


def apply(state: Resident | None, event: ChangeEvent) -> Outcome:
    """The next state and the revocations an event causes. Raises for impossible events;
    the state is never changed in place."""
    _check_dates(event)
    if state is not None and state.last_effective is not None and event.effective_date < state.last_effective:
        raise OutOfOrder(
            f"event {event.event_id} is dated {event.effective_date.isoformat()}, before the last applied event "
            f"({state.last_effective.isoformat()}) of resident {event.resident_code}"
        )
    t = event.type
    if t is EventType.BIRTH:
        if state is not None:
            raise InvalidTransition(f"resident {event.resident_code} already exists")
        b4 = _need(event.basic4, "basic4", event)
        if b4.date_of_birth != event.effective_date:
            raise InvalidInput("a birth event's effective date is the date of birth")
        return Outcome(
            Resident(event.resident_code, event.municipality_code, b4, Status.ACTIVE, last_effective=event.effective_date), (), True
        )

    if t is EventType.MOVE_IN:
        address = _need(event.address or (event.basic4.address if event.basic4 else None), "address", event)
        if state is None:  # from abroad, or first registration
            b4 = _need(event.basic4, "basic4 (a move-in of someone not on the register)", event)
            return Outcome(
                Resident(event.resident_code, event.municipality_code, b4, Status.ACTIVE, last_effective=event.effective_date), (), True
            )
        prev = _require(state, {Status.MOVING_OUT, Status.MOVED_OUT}, event)
        if prev.municipality_code == event.municipality_code and prev.status is Status.MOVING_OUT:
            raise InvalidTransition("a move inside the municipality is an address change")
        b4 = dataclasses.replace(prev.basic4, address=address, address_alt=event.address_alt)
        late = not prev.ua_lapsed and move_in_deadline_passed(prev, event.effective_date)
        # A new episode: a user-auth certificate issued after this move is watched afresh.
        nxt = dataclasses.replace(
            prev,
            municipality_code=event.municipality_code,
            basic4=b4,
            status=Status.ACTIVE,
            planned_move_out=None,
            ua_lapsed=False,
            last_effective=event.effective_date,
        )
        # The address changed (R-REV-2). A move completed in time does not touch the user-auth
        # certificate; one completed after the 30 days does, if the schedule has not yet (R-REV-3).
        return Outcome(nxt, (Revoke.SIGNATURE, Revoke.USER_AUTH) if late else (Revoke.SIGNATURE,))

    if t is EventType.PLANNED_MOVE_OUT:
        prev = _require(state, {Status.ACTIVE}, event)
        planned = _need(event.planned_date, "planned_date", event)  # bounded by _check_dates
        return Outcome(
            dataclasses.replace(prev, status=Status.MOVING_OUT, planned_move_out=planned, last_effective=event.effective_date), ()
        )

    if t is EventType.PLANNED_MOVE_OUT_WITHDRAWN:
        # R-REV-3a: the person stays; the 30-day clock of R-REV-3 stops with the move-out.
        # Also after the deletion by move-out, as long as no move-in completed the move.
        prev = _require(state, {Status.MOVING_OUT, Status.MOVED_OUT}, event)
        late = not prev.ua_lapsed and move_in_deadline_passed(prev, event.effective_date)
        nxt = dataclasses.replace(prev, status=Status.ACTIVE, planned_move_out=None, ua_lapsed=False, last_effective=event.effective_date)
        # Basic 4 unchanged: nothing for R-REV-2. A withdrawal after the 30 days does not
        # undo them: the user-auth certificate lapses as with a late move-in (R-REV-3).
        return Outcome(nxt, (Revoke.USER_AUTH,) if late else ())

    if t is EventType.MOVE_OUT:
        prev = _require(state, {Status.ACTIVE, Status.MOVING_OUT}, event)
        planned = prev.planned_move_out or event.effective_date
        nxt = dataclasses.replace(prev, status=Status.MOVED_OUT, planned_move_out=planned, last_effective=event.effective_date)
        # The record is deleted (R-REV-2 for the signature certificate); a deletion by
        # move-out spares the user-auth certificate, which the 30-day rule then watches.
        return Outcome(nxt, (Revoke.SIGNATURE,))

    if t is EventType.NAME_CHANGE:
        prev = _require(state, {Status.ACTIVE, Status.MOVING_OUT}, event)
        name = _need(event.name, "name", event)
        b4 = _changed(prev, dataclasses.replace(prev.basic4, name=name, name_alt=event.name_alt), event)
        return Outcome(dataclasses.replace(prev, basic4=b4, last_effective=event.effective_date), (Revoke.SIGNATURE,))  # R-REV-8: not UA

    if t is EventType.ADDRESS_CHANGE:
        prev = _require(state, {Status.ACTIVE}, event)
        address = _need(event.address, "address", event)
        b4 = _changed(prev, dataclasses.replace(prev.basic4, address=address, address_alt=event.address_alt), event)
        return Outcome(dataclasses.replace(prev, basic4=b4, last_effective=event.effective_date), (Revoke.SIGNATURE,))  # R-REV-8: not UA

    if t is EventType.CORRECTION:
        prev = _require(state, {Status.ACTIVE, Status.MOVING_OUT}, event)
        changes = {
            k: v
            for k, v in (("name", event.name), ("address", event.address), ("date_of_birth", event.date_of_birth), ("sex", event.sex))
            if v is not None
        }
        if not changes:
            raise InvalidInput("a correction event must correct at least one of name, address, date_of_birth, sex")
        if event.minor and not changes.keys() <= MINOR_CORRECTION_FIELDS:
            raise InvalidInput(
                f"a minor correction (軽微な修正) may correct only {sorted(MINOR_CORRECTION_FIELDS)}: "
                f"correcting {sorted(changes.keys() - MINOR_CORRECTION_FIELDS)} is never minor (R-REV-2)"
            )
        b4 = _changed(prev, dataclasses.replace(prev.basic4, **changes), event)
        revoke = () if event.minor else (Revoke.SIGNATURE,)
        return Outcome(dataclasses.replace(prev, basic4=b4, last_effective=event.effective_date), revoke)

    if t in (EventType.DEATH, EventType.DELETION):
        prev = _require(state, {Status.ACTIVE, Status.MOVING_OUT, Status.MOVED_OUT}, event)
        if t is EventType.DELETION and not event.reason:
            raise InvalidInput("a deletion event needs a reason")
        nxt = dataclasses.replace(prev, status=Status.DELETED, last_effective=event.effective_date)
        # Both kinds, always: certificates already revoked (e.g. by the 30-day rule) are skipped.
        return Outcome(nxt, (Revoke.SIGNATURE, Revoke.USER_AUTH))

    raise InvalidInput(f"unknown event type {t!r}")


MOVE_IN_DEADLINE_DAYS = 30


def move_in_deadline_passed(state: Resident, today: dt.date) -> bool:
    """R-REV-3 (二): a move-out notice and no move-in within 30 days of the planned date."""
    # today - planned, not planned + 30: a subtraction of two dates never overflows, so a
    # planned date near dt.date.max (stored before dates were bounded) is simply not due.
    return (
        state.status in (Status.MOVING_OUT, Status.MOVED_OUT)
        and not state.ua_lapsed
        and state.planned_move_out is not None
        and (today - state.planned_move_out).days > MOVE_IN_DEADLINE_DAYS
    )
