"""The resident registry service: applies change events exactly once, in order per
resident, issues Individual Numbers, and records the revocations the rules call for —
all in one transaction per event, so an event and its effects commit or vanish together.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from myna import logs
from myna.access.roles import Principal, Role, in_own_name
from myna.authority.platform import Platform
from myna.authority.revoking import RevocationService
from myna.clock import JST
from myna.errors import Conflict, Forbidden, IdempotencyMismatch, InvalidInput, NotFound
from myna.numbering.codes import check_municipality_code, check_resident_code
from myna.numbering.individual_number import NumberGenerator
from myna.numbering.keyfile import load_or_create
from myna.pki import serials
from myna.pki.basic4 import Basic4, Sex
from myna.pki.kinds import CertKind
from myna.pki.revocation import RevocationReason
from myna.residents.events import (
    MOVE_IN_DEADLINE_DAYS,
    ChangeEvent,
    EventType,
    Resident,
    Revoke,
    Status,
    apply,
    move_in_deadline_passed,
)
from myna.residents.new_records import creates_a_record, refuse_code_in_use
from myna.store import models as m
from myna.store.journal import audit

log = logs.get("myna.residents")
_EVENT_ID = re.compile(r"^[A-Za-z0-9._:@/+-]{1,200}$")
MAX_GENERATIONS = 100
_KINDS = {Revoke.SIGNATURE: CertKind.CARD_SIGN, Revoke.USER_AUTH: CertKind.CARD_AUTH}


@dataclass(frozen=True)
class EventResult:
    event_id: str
    resident_code: str
    applied: bool  # False: a duplicate, acknowledged and not re-applied
    status: str
    number: str | None
    revoked: list[dict]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class DueReport:
    """What a run of the 30-day rule did: residents done, and residents that failed (by
    log reference and error type only)."""

    done: list[dict] = dataclasses.field(default_factory=list)
    failures: list[dict] = dataclasses.field(default_factory=list)


def event_digest(event: ChangeEvent) -> str:
    return hashlib.sha256(json.dumps(_event_json(event), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _event_json(event: ChangeEvent) -> dict:
    out = {}
    for f in dataclasses.fields(event):
        v = getattr(event, f.name)
        if isinstance(v, Basic4):
            v = {
                k: (x.value if isinstance(x, Sex) else x.isoformat() if isinstance(x, dt.date) else x)
                for k, x in dataclasses.asdict(v).items()
            }
        elif isinstance(v, (EventType, Sex)):
            v = v.value
        elif isinstance(v, dt.date):
            v = v.isoformat()
        out[f.name] = v
    return out


def _state(row: m.ResidentRecord) -> Resident:
    return Resident(
        resident_code=row.resident_code,
        municipality_code=row.municipality_code,
        basic4=Basic4(row.name, row.date_of_birth, Sex(row.sex), row.address, row.name_alt, row.address_alt),
        status=Status(row.status),
        planned_move_out=row.planned_move_out,
        ua_lapsed=row.ua_lapsed,
        last_effective=row.last_effective,
    )


def _store(row: m.ResidentRecord, state: Resident, now: dt.datetime) -> None:
    b4 = state.basic4
    row.municipality_code = state.municipality_code
    row.name, row.name_alt, row.date_of_birth, row.sex = b4.name, b4.name_alt, b4.date_of_birth, b4.sex.value
    row.address, row.address_alt = b4.address, b4.address_alt
    row.status = state.status.value
    row.planned_move_out = state.planned_move_out
    row.ua_lapsed = state.ua_lapsed
    row.last_effective = state.last_effective
    row.updated_at = now  # the version goes up with the UPDATE (version_id_col), checked against the one read


def reporting_municipality(who: Principal, given: str | None) -> str:
    """The municipality an event is reported by: a municipality's token acts for its own
    (another one stated is refused); an operator must say which."""
    if who.role is Role.MUNICIPALITY:
        return in_own_name(who.municipality_code, given)
    if given is None:
        raise InvalidInput("municipality_code is required for an operator")
    return given


class Registry:
    def __init__(self, platform: Platform, *, revocation: RevocationService):
        self.platform = platform
        self.revocation = revocation  # an event's revocations commit with the event (R-REV-5, R-REV-6)
        key = load_or_create(platform.settings.home)
        self._numbers = NumberGenerator(key)
        # A key of its own for log references, derived so the numbering key is used for nothing else.
        self._log_key = hmac.new(key, b"myna resident log reference", hashlib.sha256).digest()

    # -- municipalities -------------------------------------------------------------

    def register_municipality(self, code: str, name: str, actor: str) -> None:
        check_municipality_code(code)
        if not name or len(name) > 100:
            raise InvalidInput("municipality name must be 1-100 characters")
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            if s.get(m.Municipality, code) is not None:
                raise Conflict(f"municipality {code} is already registered")
            s.add(m.Municipality(code=code, name=name, registered_at=now))
            audit(s, now, actor, "municipality.registered", code, name=name)

    def ensure_municipality(self, code: str, name: str) -> None:
        with self.platform.db.session() as s:
            if s.get(m.Municipality, code) is None:
                s.add(m.Municipality(code=code, name=name, registered_at=self.platform.clock.now()))

    # -- events ---------------------------------------------------------------------

    def submit_as(self, who: Principal, event: ChangeEvent) -> EventResult:
        """Apply an event reported by a caller of the platform: a municipality reports for
        itself only; J-LIS's operator names the municipality that reported it."""
        return self.submit(dataclasses.replace(event, municipality_code=reporting_municipality(who, event.municipality_code)), who.actor)

    def submit(self, event: ChangeEvent, actor: str) -> EventResult:
        """Apply one change event reported by ``event.municipality_code``."""
        if not _EVENT_ID.match(event.event_id or ""):
            raise InvalidInput("event_id must be 1-200 characters of letters, digits and ._:@/+-")
        check_resident_code(event.resident_code)
        check_municipality_code(event.municipality_code)
        digest = event_digest(event)
        now = self.platform.clock.now()
        if event.effective_date > now.astimezone(JST).date():
            raise InvalidInput(f"effective_date {event.effective_date.isoformat()} is in the future: report a change once it has happened")
        try:
            # R-RA-4: one event at a time per resident. The state is read inside the write
            # transaction, under the write lock (SQLite) or the row lock (PostgreSQL), so an
            # event that arrives together with another is checked against the other's result.
            with self.platform.db.write_session() as s:
                row = s.get(m.ResidentRecord, event.resident_code, with_for_update=True)
                # After the lock: a retry that waited for its first copy finds it here.
                dup = s.scalar(
                    select(m.ResidentEvent).where(
                        m.ResidentEvent.municipality_code == event.municipality_code, m.ResidentEvent.event_id == event.event_id
                    )
                )
                if dup is not None:
                    return self._duplicate(dup, digest)
                if s.get(m.Municipality, event.municipality_code) is None:
                    raise Forbidden(f"municipality {event.municipality_code} is not registered")
                state = _state(row) if row is not None else None
                self._authorise(state, event)
                outcome = apply(state, event)
                number = None
                if row is None:
                    number = self._issue_number(s, event.resident_code, event.municipality_code, now, "new")
                    row = m.ResidentRecord(resident_code=event.resident_code, number=number)
                    s.add(row)
                _store(row, outcome.resident, now)
                revoked = self._revoke(s, event.resident_code, outcome.revoke, now, actor, f"{event.type.value} {event.event_id}")
                result = EventResult(event.event_id, event.resident_code, True, outcome.resident.status.value, number, revoked)
                s.add(
                    m.ResidentEvent(
                        municipality_code=event.municipality_code,
                        event_id=event.event_id,
                        resident_code=event.resident_code,
                        type=event.type.value,
                        effective_date=event.effective_date,
                        payload=json.dumps(_event_json(event), ensure_ascii=False),
                        digest=digest,
                        outcome=json.dumps(result.to_json(), ensure_ascii=False),
                        recorded_at=now,
                        recorded_by=actor,
                    )
                )
                audit(
                    s,
                    now,
                    actor,
                    f"resident.{event.type.value}",
                    event.resident_code,
                    event_id=event.event_id,
                    revoked=[r["serial"] for r in revoked],
                )
                return result
        except StaleDataError:
            # The version check behind the lock: the record changed after it was read (a
            # writer that did not take the lock). Nothing was written; the caller may retry.
            raise Conflict("a concurrent change to this resident won; retry") from None
        except IntegrityError:
            # The same event raced in twice (or two first events of a resident not yet on
            # the register, where there is no row to lock): the one that committed is the answer.
            with self.platform.db.session() as s:
                dup = s.scalar(
                    select(m.ResidentEvent).where(
                        m.ResidentEvent.municipality_code == event.municipality_code, m.ResidentEvent.event_id == event.event_id
                    )
                )
                if dup is None:
                    raise Conflict("a concurrent change to this resident won; retry") from None
                return self._duplicate(dup, digest)

    @staticmethod
    def _duplicate(dup: m.ResidentEvent, digest: str) -> EventResult:
        if dup.digest != digest:
            raise IdempotencyMismatch(f"event_id {dup.event_id!r} was already used for a different event")
        data = json.loads(dup.outcome)
        data["applied"] = False
        return EventResult(**data)

    @staticmethod
    def _authorise(state: Resident | None, event: ChangeEvent) -> None:
        """A municipality acts only on its own residents; the destination of a move may
        complete it with a move-in. An unknown resident and another municipality's get
        the same answer, so nothing is learnt about which resident codes exist elsewhere."""
        if state is None:
            if event.type in (EventType.BIRTH, EventType.MOVE_IN):
                return
            raise NotFound(f"no resident {event.resident_code} in municipality {event.municipality_code}")
        if state.municipality_code == event.municipality_code:
            return
        if creates_a_record(state, event):
            refuse_code_in_use(event)  # one answer, whoever's resident it is elsewhere (R-RA-2)
        if event.type is EventType.MOVE_IN and state.status in (Status.MOVING_OUT, Status.MOVED_OUT):
            return
        # Same answer as for an unknown resident: nothing is learnt about others' residents.
        raise NotFound(f"no resident {event.resident_code} in municipality {event.municipality_code}")

    def _revoke(self, s, resident_code: str, revoke: tuple[Revoke, ...], now: dt.datetime, actor: str, note: str) -> list[dict]:
        done = []
        for r in revoke:
            for row in self.revocation.revoke_for_resident(
                s, resident_code, {_KINDS[r]}, RevocationReason.RESIDENT_CHANGE, now, actor, f"{r.value}: {note}"
            ):
                done.append(
                    {
                        "serial": serials.to_display(int(row.serial, 16)),
                        "kind": row.kind,
                        "rule": r.value if row.kind.startswith("card") else "R-REV-6",
                    }
                )
        return done

    def _issue_number(self, s, resident_code: str, municipality_code: str, now: dt.datetime, reason: str, start_generation: int = 0) -> str:
        for generation in range(start_generation, start_generation + MAX_GENERATIONS):
            number = self._numbers.number_for(resident_code, generation)
            if s.get(m.IssuedNumber, number) is None:  # never collide with any number ever issued
                s.add(m.IssuedNumber(number=number, resident_code=resident_code, generation=generation, issued_at=now))
                s.add(
                    m.NumberNotice(
                        municipality_code=municipality_code, resident_code=resident_code, number=number, reason=reason, created_at=now
                    )
                )
                return number
        raise Conflict(f"no free number for resident {resident_code} within {MAX_GENERATIONS} generations")

    def reissue_number(self, resident_code: str, municipality_code: str, reason: str, actor: str) -> str:
        """A new number after a leak (R-NUM-1): the old one is retired, never reused."""
        now = self.platform.clock.now()
        with self.platform.db.write_session() as s:
            row = s.get(m.ResidentRecord, resident_code, with_for_update=True)
            if row is None or row.municipality_code != municipality_code:
                raise NotFound(f"no resident {resident_code} in municipality {municipality_code}")
            old = s.get(m.IssuedNumber, row.number)
            old.retired_at, old.retired_reason = now, reason[:200]
            number = self._issue_number(s, resident_code, municipality_code, now, "reissue", old.generation + 1)
            row.number = number
            audit(s, now, actor, "number.reissued", resident_code, reason=reason)
            return number

    # -- the 30-day rule -------------------------------------------------------------

    def run_due(self, actor: str = "schedule") -> list[dict]:
        """R-REV-3 (二): revoke the user-auth certificate of everyone whose move-out was not
        followed by a move-in within 30 days of the planned date. Run by the schedule.
        The residents done; failures are logged (see ``apply_due``)."""
        return self.apply_due(actor).done

    def apply_due(self, actor: str = "schedule") -> DueReport:
        """The 30-day rule for every resident due, each in a transaction of its own (R-RA-5):
        one resident's bad data fails that resident only; it is logged without personal
        data (a keyed reference, see ``log_ref``), recorded in the journal under the resident
        code, and counted, and the others are done all the same."""
        now = self.platform.clock.now()
        today = now.astimezone(JST).date()
        # Only the codes: a row whose other columns cannot be read must not stop the query.
        # "planned + 30 < today" written as "planned < today - 30": no arithmetic on stored dates.
        horizon = today - dt.timedelta(days=MOVE_IN_DEADLINE_DAYS)
        with self.platform.db.session() as s:
            codes = list(
                s.scalars(
                    select(m.ResidentRecord.resident_code)
                    .where(
                        m.ResidentRecord.status.in_([Status.MOVING_OUT.value, Status.MOVED_OUT.value]),
                        m.ResidentRecord.ua_lapsed.is_(False),
                        m.ResidentRecord.planned_move_out.is_not(None),
                        m.ResidentRecord.planned_move_out < horizon,
                    )
                    .order_by(m.ResidentRecord.resident_code)
                )
            )
        report = DueReport()
        for code in codes:
            try:
                revoked = self._lapse_one(code, today, now, actor)
            except Exception as exc:  # noqa: BLE001 — isolate the resident, report, go on
                ref = self.log_ref(code)
                log.error("move-in deadline rule failed for a resident", resident_ref=ref, error=type(exc).__name__)
                report.failures.append({"resident_ref": ref, "error": type(exc).__name__})
                self._journal_failure(code, now, actor, exc)
                continue
            if revoked is not None:
                report.done.append({"resident_code": code, "resident_ref": self.log_ref(code), "revoked": revoked})
        return report

    def _lapse_one(self, code: str, today: dt.date, now: dt.datetime, actor: str) -> list[dict] | None:
        with self.platform.db.write_session() as s:
            row = s.get(m.ResidentRecord, code, with_for_update=True)
            # Read again under the lock: a move-in or a withdrawal may have come in between.
            if row is None or not move_in_deadline_passed(_state(row), today):
                return None
            row.ua_lapsed = True
            row.updated_at = now
            revoked = self._revoke(s, code, (Revoke.USER_AUTH,), now, actor, "no move-in within 30 days of the planned move-out")
            audit(s, now, actor, "resident.move-in-deadline", code, revoked=[r["serial"] for r in revoked])
            return revoked

    def _journal_failure(self, code: str, now: dt.datetime, actor: str, exc: Exception) -> None:
        try:
            with self.platform.db.session() as s:
                audit(s, now, actor, "resident.move-in-deadline-failed", code, error=type(exc).__name__, detail=str(exc)[:200])
        except Exception as again:  # noqa: BLE001 — the log line above already reports the failure
            log.error("could not journal the failure", resident_ref=self.log_ref(code), error=type(again).__name__)

    def log_ref(self, resident_code: str) -> str:
        """A reference to a resident for log lines: a keyed hash of the resident code (a
        plain hash of an 11-digit code is reversed by trying them all). An operator finds
        the resident through the journal entry written with it, or by computing it."""
        return hmac.new(self._log_key, resident_code.encode(), hashlib.sha256).hexdigest()[:16]

    # -- reading ----------------------------------------------------------------------

    def get(self, resident_code: str, municipality_code: str | None) -> dict:
        with self.platform.db.session() as s:
            row = s.get(m.ResidentRecord, resident_code)
            if row is None or (municipality_code is not None and row.municipality_code != municipality_code):
                raise NotFound(f"no resident {resident_code}" + (f" in municipality {municipality_code}" if municipality_code else ""))
            history = [
                {
                    "event_id": e.event_id,
                    "type": e.type,
                    "effective_date": e.effective_date.isoformat(),
                    "municipality_code": e.municipality_code,
                    "recorded_at": e.recorded_at.isoformat(),
                    "outcome": json.loads(e.outcome),
                }
                for e in s.scalars(
                    select(m.ResidentEvent).where(m.ResidentEvent.resident_code == resident_code).order_by(m.ResidentEvent.id)
                )
            ]
            return {
                "resident_code": row.resident_code,
                "number": row.number,
                "municipality_code": row.municipality_code,
                "name": row.name,
                "date_of_birth": row.date_of_birth.isoformat(),
                "sex": row.sex,
                "address": row.address,
                "status": row.status,
                "planned_move_out": row.planned_move_out.isoformat() if row.planned_move_out else None,
                "version": row.version,
                "history": history,
            }

    def list(self, municipality_code: str | None, after: str | None = None, limit: int = 100) -> tuple[list[dict], str | None]:
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")
        q = select(m.ResidentRecord).order_by(m.ResidentRecord.resident_code).limit(limit + 1)
        if municipality_code is not None:
            q = q.where(m.ResidentRecord.municipality_code == municipality_code)
        if after:
            q = q.where(m.ResidentRecord.resident_code > after)
        with self.platform.db.session() as s:
            rows = list(s.scalars(q))
        items = [
            {"resident_code": r.resident_code, "name": r.name, "status": r.status, "municipality_code": r.municipality_code}
            for r in rows[:limit]
        ]
        return items, (items[-1]["resident_code"] if len(rows) > limit else None)

    def fetch_notices(self, municipality_code: str) -> list[dict]:
        """The number notices not yet fetched by this municipality; marks them fetched."""
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            rows = list(
                s.scalars(
                    select(m.NumberNotice)
                    .where(m.NumberNotice.municipality_code == municipality_code, m.NumberNotice.fetched_at.is_(None))
                    .order_by(m.NumberNotice.id)
                )
            )
            for r in rows:
                r.fetched_at = now
            return [
                {"resident_code": r.resident_code, "number": r.number, "reason": r.reason, "created_at": r.created_at.isoformat()}
                for r in rows
            ]
