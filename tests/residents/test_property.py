"""R-REV-2, R-REV-3, R-REV-6, R-REV-8 and R-RES-1 as a property, against an independent
reference model.

Each example: 3-5 residents (most on the register with card-sign, card-auth and often
mobile certificates), then up to 15 random steps through ``Registry`` on one platform:
change events (mostly valid for the resident's state, some not; dates mostly moving
forward, sometimes backward; fields sometimes missing; reported by the resident's
municipality, sometimes by another), re-submissions of earlier event ids (same content
or not), clock moves with or without ``run_due`` (the 30-day rule), new certificates, and
revocations on request (R-REV-1, to exercise the R-REV-6 cascade). After every step:

- the set of VALID (unrevoked, unexpired) certificates of the example's residents in the
  store equals the model's, and so do the recorded reasons of the revoked ones;
- status, municipality and planned move-out date of every record equal the model's;
- a refused event (MynaError) is refused with one of the codes the model allows and
  changes nothing (``table_counts`` and the resident's record unchanged); a duplicate is
  acknowledged with applied=False, the original outcome, and no new rows;
- the serials an applied event or run_due reports are those the model revoked.

The model (``Model``) is written from SPEC §4 and docs/residents.md as a per-resident
dict; it does not call ``myna.residents.events``. Before 70a4044 it found two bugs (a
move-in dated after the 30 days kept the card-auth; after a lapse and a completed move a
new card-auth escaped death and later lapses); test_rules_table.py keeps rows for both.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from myna_testing import T0, table_counts
from residents_support import CHIYODA, OSAKA_KITA, SHINJUKU, basic4, issue, registry

from myna.authority.records import Records
from myna.authority.revoking import RevocationService
from myna.clock import JST
from myna.errors import MynaError
from myna.numbering.individual_number import check_number
from myna.pki.basic4 import Sex
from myna.pki.revocation import RevocationReason
from myna.residents.events import ChangeEvent, EventType

MUNIS = [CHIYODA, SHINJUKU, OSAKA_KITA]
TYPES = [t.value for t in EventType]
LINKED = {"card-sign": "mobile-sign", "card-auth": "mobile-auth"}
RC, LINKED_REASON = "resident-change", "linked-card-revoked"
DEADLINE = dt.timedelta(days=30)
_examples = itertools.count(1)


# -- the reference model ----------------------------------------------------------------


@dataclass
class Cert:
    serial: int
    kind: str
    not_after: dt.datetime
    revoked: str | None = None  # the reason recorded

    def valid(self, now: dt.datetime) -> bool:
        return self.revoked is None and now <= self.not_after


@dataclass
class Person:
    code: str
    status: str | None = None  # None: never on the register; active, moving-out, moved-out, deleted
    municipality: str | None = None
    planned: dt.date | None = None
    lapsed: bool = False  # the 30-day rule already applied to this move
    last: dt.date | None = None
    dob: dt.date = dt.date(1990, 6, 15)
    # the rest of the basic 4 information: a change to what is already there is refused
    name: str = ""
    name_alt: str | None = None
    sex: Sex = Sex.FEMALE
    address: str = ""
    address_alt: str | None = None
    certs: list[Cert] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.status is not None

    def known(self, now: dt.datetime, kind: str | None = None) -> list[Cert]:
        return [c for c in self.certs if c.valid(now) and (kind is None or c.kind == kind)]


class Model:
    """SPEC §4 for one example: who is on the register, and what is revoked and why."""

    def __init__(self) -> None:
        self.people: dict[str, Person] = {}
        self.accepted: dict[tuple[str, str], tuple[ChangeEvent, list[dict]]] = {}

    def refusals(self, e: ChangeEvent, today: dt.date, p: Person | None = None) -> set[str]:
        """The error codes that may refuse ``e``; empty when it must be applied. ``p``: the
        person as the register holds them (default: the model's)."""
        if e.effective_date > today:
            return {"invalid-input"}  # a change is reported once it has happened (JST date)
        dup = self.accepted.get((e.municipality_code, e.event_id))
        if dup is not None:
            return set() if dup[0] == e else {"request-id-reused"}
        p = p if p is not None else self.people[e.resident_code]
        t = e.type.value
        moving = p.status in ("moving-out", "moved-out")
        if p.exists and p.municipality != e.municipality_code and not (t == "move-in" and moving):
            if t in ("birth", "move-in"):
                # R-RA-2: a new record under a code in use elsewhere gets the checks an unused
                # code gets, then one answer whoever's resident it is.
                return self.refusals(e, today, Person(e.resident_code)) or {"resident-code-in-use"}
            return {"not-found"}  # another municipality's resident: nothing is learnt, before any other check
        why: set[str] = set()
        if p.exists and p.last is not None and e.effective_date < p.last:
            why.add("out-of-order")
        impossible = "invalid-transition"
        if not p.exists and t not in ("birth", "move-in"):
            return {"not-found"}  # an unknown resident answers like another municipality's
        if t == "birth":
            if p.exists:
                why.add(impossible)
            if e.basic4 is None or e.basic4.date_of_birth != e.effective_date:
                why.add("invalid-input")
        elif t == "move-in":
            if e.address is None and e.basic4 is None:
                why.add("invalid-input")
            if not p.exists:
                if e.basic4 is None:
                    why.add("invalid-input")
            elif not moving or (p.status == "moving-out" and p.municipality == e.municipality_code):
                why.add(impossible)  # never moved out; or a move inside the municipality (an address change)
        elif t == "planned-move-out":
            if p.status != "active":
                why.add(impossible)
            if e.planned_date is None or e.planned_date < e.effective_date or (e.planned_date - e.effective_date).days > 366:
                why.add("invalid-input")  # R-RA-5: at most a year ahead
        elif t == "planned-move-out-withdrawn":  # R-REV-3a
            if p.status not in ("moving-out", "moved-out"):
                why.add(impossible)
        elif t == "move-out":
            if p.status not in ("active", "moving-out"):
                why.add(impossible)
        elif t in ("name-change", "correction"):
            if p.status not in ("active", "moving-out"):
                why.add(impossible)
            if t == "name-change" and e.name is None:
                why.add("invalid-input")
            if t == "correction" and all(v is None for v in (e.name, e.address, e.date_of_birth, e.sex)):
                why.add("invalid-input")
            if t == "correction" and e.minor and (e.date_of_birth is not None or e.sex is not None):
                why.add("invalid-input")  # R-REV-2: never a minor correction
            if self.unchanged(p, e):
                why.add("invalid-input")  # a change to what the record already says
        elif t == "address-change":
            if p.status != "active":
                why.add(impossible)
            if e.address is None or self.unchanged(p, e):
                why.add("invalid-input")
        elif t in ("death", "deletion"):
            if p.status not in ("active", "moving-out", "moved-out"):
                why.add(impossible)
            if t == "deletion" and not e.reason:
                why.add("invalid-input")
        return why

    @staticmethod
    def unchanged(p: Person, e: ChangeEvent) -> bool:
        t = e.type.value
        if t == "name-change":
            return (e.name, e.name_alt) == (p.name, p.name_alt)
        if t == "address-change":
            return (e.address, e.address_alt) == (p.address, p.address_alt)
        if t == "correction":
            given = {"name": e.name, "address": e.address, "dob": e.date_of_birth, "sex": e.sex}
            return all(getattr(p, k) == v for k, v in given.items() if v is not None)
        return False

    @staticmethod
    def set_basic4(p: Person, e: ChangeEvent) -> None:
        t = e.type.value
        if t in ("birth", "move-in") and e.basic4 is not None and not p.exists:
            b = e.basic4
            p.name, p.name_alt, p.dob, p.sex, p.address, p.address_alt = (
                b.name,
                b.name_alt,
                b.date_of_birth,
                b.sex,
                b.address,
                b.address_alt,
            )
        elif t == "move-in":
            p.address, p.address_alt = e.address or e.basic4.address, e.address_alt
        elif t == "name-change":
            p.name, p.name_alt = e.name, e.name_alt
        elif t == "address-change":
            p.address, p.address_alt = e.address, e.address_alt
        elif t == "correction":
            for k, v in {"name": e.name, "address": e.address, "dob": e.date_of_birth, "sex": e.sex}.items():
                if v is not None:
                    setattr(p, k, v)

    def revoke_card(self, p: Person, kind: str, reason: str, now: dt.datetime) -> list[Cert]:
        """Revoke the holder's valid ``kind`` card certificates, then R-REV-6: the holder's
        mobile certificates of the same purpose (for any reason but expiry)."""
        cards = p.known(now, kind)
        for c in cards:
            c.revoked = reason
        mobiles = p.known(now, LINKED[kind]) if cards else []
        for c in mobiles:
            c.revoked = LINKED_REASON
        return cards + mobiles

    def apply(self, e: ChangeEvent, now: dt.datetime) -> list[Cert]:
        p = self.people[e.resident_code]
        t = e.type.value
        done: list[Cert] = []
        self.set_basic4(p, e)
        if t in ("birth", "move-in") and not p.exists:
            p.status, p.municipality, p.dob = "active", e.municipality_code, e.basic4.date_of_birth
        elif t == "move-in":  # completing a move: the address changed (R-REV-2); the user-auth
            done += self.revoke_card(p, "card-sign", RC, now)  # certificate survives a completed move
            if not p.lapsed and e.effective_date > p.planned + DEADLINE:
                # R-REV-3 (二): no move-in within 30 days of the planned date, and run_due has not run yet
                done += self.revoke_card(p, "card-auth", RC, now)
            p.status, p.municipality, p.planned, p.lapsed = "active", e.municipality_code, None, False
        elif t == "planned-move-out":
            p.status, p.planned = "moving-out", e.planned_date
        elif t == "planned-move-out-withdrawn":  # R-REV-3a: the 30-day clock stops
            if not p.lapsed and e.effective_date > p.planned + DEADLINE:
                done += self.revoke_card(p, "card-auth", RC, now)  # ... unless it had already run out
            p.status, p.planned, p.lapsed = "active", None, False
        elif t == "move-out":  # deletion by move-out: R-REV-2 yes, R-REV-3 (一) no
            done += self.revoke_card(p, "card-sign", RC, now)
            p.status, p.planned = "moved-out", p.planned or e.effective_date
        elif t in ("name-change", "address-change") or (t == "correction" and not e.minor):
            done += self.revoke_card(p, "card-sign", RC, now)  # R-REV-8: never card-auth
        elif t in ("death", "deletion"):  # deletion other than by move-out
            done += self.revoke_card(p, "card-sign", RC, now)
            done += self.revoke_card(p, "card-auth", RC, now)
            p.status = "deleted"
        p.last = e.effective_date
        return done

    def run_due(self, now: dt.datetime) -> tuple[set[str], list[Cert]]:
        today = now.astimezone(JST).date()
        reported, done = set(), []
        for p in self.people.values():
            if p.status in ("moving-out", "moved-out") and not p.lapsed and p.planned is not None and today > p.planned + DEADLINE:
                p.lapsed = True
                reported.add(p.code)
                done += self.revoke_card(p, "card-auth", RC, now)
        return reported, done


# -- comparing the store with the model --------------------------------------------------


def store_certs(platform, code: str) -> dict[int, tuple[str, str | None]]:
    page, cursor = Records(platform).list(resident_code=code, limit=1000)
    assert cursor is None
    return {r.serial: (r.status, r.revocation_reason) for r in page}


def expected(c: Cert, now: dt.datetime) -> tuple[str, str | None]:
    if c.revoked:
        return "revoked", c.revoked
    return ("valid" if now <= c.not_after else "expired"), None


def check(platform, reg, model: Model, now: dt.datetime) -> None:
    for p in model.people.values():
        got = store_certs(platform, p.code)
        assert set(got) == {c.serial for c in p.certs}
        valid_in_store = {s for s, (status, _) in got.items() if status == "valid"}
        assert valid_in_store == {c.serial for c in p.certs if c.valid(now)}, f"valid certificates of {p.code}"
        assert got == {c.serial: expected(c, now) for c in p.certs}, f"certificates of {p.code}"
        if p.exists:
            rec = reg.get(p.code, None)
            assert (rec["status"], rec["municipality_code"]) == (p.status, p.municipality)
            assert rec["planned_move_out"] == (p.planned.isoformat() if p.planned else None)
            assert check_number(rec["number"])


def reported_serials(items: list[dict]) -> set[int]:
    return {int(r["serial"], 16) for r in items}


# -- drawing steps -------------------------------------------------------------------------

# The events possible in each state, moves weighted up so that the 30-day rule gets exercised.
VALID_TYPES = {
    None: ["birth", "move-in"],
    "active": ["planned-move-out"] * 3 + ["move-out", "name-change", "address-change", "correction", "death", "deletion"],
    "moving-out": ["move-in"] * 3 + ["move-out", "name-change", "correction", "death", "deletion", "planned-move-out-withdrawn"],
    "moved-out": ["move-in"] * 3 + ["death", "deletion", "planned-move-out-withdrawn"],
    "deleted": [],
}
ACTIONS = ["event"] * 7 + ["duplicate", "duplicate", "clock", "clock", "run-due", "issue", "issue", "revoke"]


def draw_event(data, model: Model, p: Person, event_id: str, base: dt.date, today: dt.date) -> ChangeEvent:
    valid = VALID_TYPES[p.status]
    t = data.draw(st.sampled_from(valid)) if valid and data.draw(st.integers(0, 9)) < 8 else data.draw(st.sampled_from(TYPES))
    if t == "move-in" and p.status in ("moving-out", "moved-out"):
        others = [m for m in MUNIS if m != p.municipality]
        by = data.draw(st.sampled_from(others if data.draw(st.integers(0, 9)) < 8 else MUNIS))
    elif p.exists:
        by = p.municipality if data.draw(st.integers(0, 9)) < 9 else data.draw(st.sampled_from(MUNIS))
    else:
        by = data.draw(st.sampled_from(MUNIS))
    jump = data.draw(st.integers(0, 7)) == 0  # now and then a long gap (a move-in after the 30 days, ...)
    date = (p.last or base) + dt.timedelta(days=data.draw(st.integers(26, 70) if jump else st.integers(-4, 25)))
    if date > today and data.draw(st.integers(0, 7)) > 0:
        date = today  # mostly reported the day it happened; now and then dated in the future (refused)
    fields: dict = {}
    if t == "birth":
        fields["basic4"] = basic4("山田 陽菜", date if data.draw(st.integers(0, 9)) else date - dt.timedelta(days=1))
    elif t == "move-in":
        fields["address"] = data.draw(
            st.sampled_from(["東京都新宿区西新宿2-8-1", "大阪府大阪市北区中之島1-3-20", "東京都千代田区丸の内1-1"])
        )
        if not p.exists:
            fields["basic4"] = basic4("佐藤 蓮", sex=Sex.MALE)
    elif t == "planned-move-out":
        fields["planned_date"] = date + dt.timedelta(days=data.draw(st.integers(-1, 20)))
    elif t == "name-change":
        fields["name"] = data.draw(st.sampled_from(["鈴木 花子", "高橋 花子"]))
    elif t == "address-change":
        fields["address"] = "東京都千代田区永田町1-7-1"
    elif t == "correction":
        what = data.draw(st.sampled_from(["name", "sex", "date_of_birth", "address"]))
        fields[what] = {
            "name": "山田 華子",
            "sex": Sex.UNKNOWN,
            "date_of_birth": dt.date(1990, 6, 16),
            "address": "東京都千代田区千代田1-2",
        }[what]
        fields["minor"] = data.draw(st.booleans())
    elif t == "deletion":
        fields["reason"] = "職権消除"
    if fields and data.draw(st.integers(0, 9)) == 0:  # a required field missing
        fields[data.draw(st.sampled_from(sorted(fields)))] = None
    fields = {k: v for k, v in fields.items() if v is not None}
    return ChangeEvent(event_id=event_id, type=EventType(t), resident_code=p.code, municipality_code=by, effective_date=date, **fields)


def submit(platform, reg, model: Model, e: ChangeEvent, now: dt.datetime) -> None:
    key = (e.municipality_code, e.event_id)
    before = table_counts(platform)
    record_before = reg.get(e.resident_code, None) if model.people[e.resident_code].exists else None
    dup = model.accepted.get(key)
    why = model.refusals(e, now.astimezone(JST).date())
    try:
        result = reg.submit(e, actor="property")
    except MynaError as exc:
        note(f"  refused: {exc.code}: {exc.message}")
        event(f"refused: {exc.code}")
        assert why, f"{e.type.value} {e.event_id} was refused ({exc.code}: {exc.message}) but the model applies it"
        assert exc.code in why, f"refused with {exc.code}, the model expects one of {sorted(why)}"
        assert table_counts(platform) == before, "a refused event changed the store"
        if record_before is not None:
            assert reg.get(e.resident_code, None) == record_before
        return
    assert not why, f"{e.type.value} {e.event_id} was applied; the model refuses it with {sorted(why)}"
    if dup is not None:
        event("duplicate acknowledged")
        assert result.applied is False and result.revoked == dup[1]
        assert table_counts(platform) == before, "a duplicate was applied again"
        return
    event(f"applied: {e.type.value}")
    assert result.applied is True
    done = model.apply(e, now)
    assert reported_serials(result.revoked) == {c.serial for c in done}
    if e.type is EventType.MOVE_IN and any(c.kind == "card-auth" for c in done):
        event("R-REV-3 (二): a late move-in revoked the card-auth")
    model.accepted[key] = (e, result.revoked)


# -- the property --------------------------------------------------------------------------


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_R_REV_2_3_6_8_valid_certificates_match_the_reference_model(platform, clock, data):
    clock.set(T0)
    reg = registry(platform)
    n = next(_examples)
    model = Model()
    now = clock.now
    base = clock.now().astimezone(JST).date() - dt.timedelta(days=20)
    submitted: list[ChangeEvent] = []
    ids = itertools.count()

    def new_id() -> str:
        return f"x{n}-e{next(ids)}"

    def issue_for(p: Person, kind: str) -> None:
        serial = issue(platform, kind, p.code, None)  # from the register's record (R-RA-1)
        rec = Records(platform).get(serial)
        p.certs.append(Cert(serial, kind, rec.not_after))

    for i in range(data.draw(st.integers(3, 5), label="residents")):
        p = model.people.setdefault(f"4{n:05d}{i:05d}", Person(f"4{n:05d}{i:05d}"))
        if data.draw(st.integers(0, 4), label=f"{p.code} registered") > 0:
            e = ChangeEvent(
                new_id(),
                EventType.MOVE_IN,
                p.code,
                data.draw(st.sampled_from(MUNIS)),
                base - dt.timedelta(days=60),
                basic4=basic4(),
                address=basic4().address,
            )
            submitted.append(e)
            submit(platform, reg, model, e, now())
            for kind in ("card-sign", "card-auth") + (("mobile-sign", "mobile-auth") if data.draw(st.booleans()) else ()):
                issue_for(p, kind)
    check(platform, reg, model, now())
    people = list(model.people.values())

    for step in range(data.draw(st.integers(4, 15), label="steps")):
        action = data.draw(st.sampled_from(ACTIONS))
        if action == "event" or (action == "duplicate" and not submitted):
            e = draw_event(data, model, data.draw(st.sampled_from(people)), new_id(), base, clock.now().astimezone(JST).date())
            note(f"step {step}: {e}")
            submitted.append(e)
            submit(platform, reg, model, e, now())
        elif action == "duplicate":
            e = data.draw(st.sampled_from(submitted))
            if data.draw(st.integers(0, 3)) == 0:
                e = dataclasses.replace(e, effective_date=e.effective_date + dt.timedelta(days=1))
            note(f"step {step}: again {e}")
            submit(platform, reg, model, e, now())
        elif action in ("clock", "run-due"):
            if action == "clock":
                clock.advance(dt.timedelta(days=data.draw(st.integers(1, 45))))
            if action == "run-due" or data.draw(st.integers(0, 3)) > 0:
                note(f"step {step}: run_due at {clock.now().astimezone(JST).date()}")
                lapsed = {d["resident_code"]: d for d in reg.run_due(actor="property") if d["resident_code"] in model.people}
                reported, done = model.run_due(clock.now())
                if reported:
                    event("30-day rule applied")
                assert set(lapsed) == reported
                got = set().union(*(reported_serials(d["revoked"]) for d in lapsed.values()))
                assert got == {c.serial for c in done}
            else:
                note(f"step {step}: clock to {clock.now().astimezone(JST).date()}")
        elif action == "issue":
            p = data.draw(st.sampled_from(people))
            if p.status != "active" or p.dob > clock.now().astimezone(JST).date():
                continue
            t = now()
            kinds = [k for k in ("card-sign", "card-auth") if not p.known(t, k)]
            if p.known(t, "card-sign") and not p.known(t, "mobile-sign"):
                kinds.append("mobile-sign")  # R-CERT-5: a holder of a valid card-sign
            if p.known(t, "card-sign") and p.known(t, "card-auth") and not p.known(t, "mobile-auth"):
                kinds.append("mobile-auth")  # ... and card-auth
            if kinds:
                kind = data.draw(st.sampled_from(kinds))
                note(f"step {step}: issue {kind} to {p.code}")
                issue_for(p, kind)
        elif action == "revoke":
            candidates = [(p, c) for p in people for c in p.known(now())]
            if candidates:
                p, c = data.draw(st.sampled_from(candidates))
                note(f"step {step}: revoke {c.kind} of {p.code} on request (R-REV-1)")
                RevocationService(platform).revoke(c.serial, RevocationReason.REQUEST, actor="property")
                c.revoked = "request"
                if c.kind in LINKED:  # R-REV-6
                    for m in p.known(now(), LINKED[c.kind]):
                        m.revoked = LINKED_REASON
        check(platform, reg, model, now())


def test_reference_model_refuses_what_the_rules_forbid():
    """A few fixed points of the model itself, so a wrong model cannot pass silently."""
    m = Model()
    p = m.people.setdefault("40000000001", Person("40000000001"))
    d = dt.date(2026, 3, 1)
    today = dt.date(2026, 4, 1)

    def e(t, **kw):
        return ChangeEvent("id", EventType(t), p.code, kw.pop("by", CHIYODA), kw.pop("date", d), **kw)

    assert m.refusals(e("name-change", name="x"), today) == {"not-found"}  # not on the register
    assert m.refusals(e("move-in", address="a"), today) == {"invalid-input"}  # not on the register: needs basic4
    assert m.refusals(e("move-in", basic4=basic4(), address="a", date=dt.date(2026, 4, 2)), today) == {"invalid-input"}  # future
    m.apply(e("move-in", basic4=basic4(), address="a"), T0)
    m.accepted[(CHIYODA, "id")] = (e("move-in", basic4=basic4(), address="a"), [])
    assert m.refusals(e("move-in", basic4=basic4(), address="a"), today) == set()  # the duplicate: acknowledged
    assert m.refusals(e("death"), today) == {"request-id-reused"}
    m.accepted.clear()
    assert m.refusals(e("name-change", name="x", by=SHINJUKU), today) == {"not-found"}
    # An active resident of Chiyoda: a move-in reported by Shinjuku would make a new record under
    # a code in use (R-RA-2): first the checks an unused code gets, then one answer for all.
    assert m.refusals(e("move-in", address="a", by=SHINJUKU), today) == {"invalid-input"}  # no basic 4
    assert m.refusals(e("move-in", basic4=basic4(), address="a", by=SHINJUKU), today) == {"resident-code-in-use"}
    assert m.refusals(e("move-in", address="a"), today) == {"invalid-transition"}  # never moved out
    assert m.refusals(e("address-change", address="b", date=d - dt.timedelta(days=1)), today) == {"out-of-order"}
    m.apply(e("planned-move-out", planned_date=d), T0)
    assert m.refusals(e("move-in", address="a"), today) == {"invalid-transition"}  # inside the municipality
    assert m.refusals(e("move-in", address="a", by=SHINJUKU), today) == set()
    assert m.run_due(dt.datetime(2026, 3, 31, 14, 59, 59, tzinfo=dt.timezone.utc))[0] == set()
    assert m.run_due(dt.datetime(2026, 3, 31, 15, tzinfo=dt.timezone.utc))[0] == {p.code}
