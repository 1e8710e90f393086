"""The revocation rules of SPEC §4 for resident changes, one scenario per rule and event
type: R-REV-2 (card signature, Art. 12), R-REV-3 (card user-auth, Art. 31, including the
30-day rule), R-REV-6 (cascade to the mobile certificate of the same purpose), R-REV-8
(name and address changes spare the user-auth certificate).

Every scenario starts from the same world, on the ``platform`` fixture (clock
2026-04-01 12:00 JST): resident R on Chiyoda's register since 2026-01-05 holding
card-sign, card-auth, mobile-sign and mobile-auth certificates, and a neighbour N with
the same four. The steps run through ``Registry`` (and ``RevocationService`` for the
R-REV-1/4 cascade rows); then EXACTLY the listed certificates of R are revoked with the
listed reason, every other certificate of R and all of N's stay valid, and the serials the
registry reported (event outcomes, run_due) are exactly the resident-change revocations
found in the store, each with its rule (card-sign R-REV-2, card-auth R-REV-3, mobile R-REV-6).

The last rows are regressions for bugs found with these tests (fixed in 70a4044): a
move-in dated after the 30 days must revoke the card-auth even when run_due has not run
yet, and a completed move starts a new episode (a card-auth issued afterwards is revoked
by death and by a second lapse).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from residents_support import CHIYODA, SHINJUKU, basic4, ev, issue, issue_holder, register, registry, states

from myna.authority.revoking import RevocationService
from myna.clock import JST
from myna.numbering.individual_number import check_number
from myna.pki.basic4 import Sex
from myna.pki.revocation import RevocationReason

R = "20000000001"
N = "20000000002"
NEW = "20000000003"
RC = "resident-change"
LINKED = "linked-card-revoked"
D = dt.date


# -- steps ----------------------------------------------------------------------------


@dataclass(frozen=True)
class E:
    """A change event for R (or ``code``), reported by ``by``."""

    type: str
    date: dt.date
    by: str = CHIYODA
    code: str = R
    fields: dict = field(default_factory=dict)


def e(type_: str, date: dt.date, by: str = CHIYODA, code: str = R, **fields) -> E:
    return E(type_, date, by, code, fields)


@dataclass(frozen=True)
class Today:
    """Move the platform clock to noon JST of ``day``."""

    day: dt.date


@dataclass(frozen=True)
class RunDue:
    pass


@dataclass(frozen=True)
class Issue:
    label: str
    kind: str
    by: str


@dataclass(frozen=True)
class Revoke:
    label: str
    reason: RevocationReason


# -- the table ------------------------------------------------------------------------


def row(id_: str, steps: list, expect: dict[str, str]):
    return pytest.param(steps, expect, id=id_)


SCENARIOS = [
    row("R-RES-1-birth-revokes-nothing", [e("birth", D(2026, 3, 30), code=NEW, basic4=basic4("山田 陽菜", D(2026, 3, 30)))], {}),
    row(
        "R-RES-1-move-in-new-record-revokes-nothing",
        [e("move-in", D(2026, 3, 30), code=NEW, basic4=basic4("佐藤 蓮"), address="東京都千代田区丸の内1-1")],
        {},
    ),
    row(
        "R-REV-2-R-REV-8-move-in-completing-a-move-revokes-sign-not-auth",
        [
            e("planned-move-out", D(2026, 3, 1), planned_date=D(2026, 3, 10)),
            e("move-in", D(2026, 3, 12), by=SHINJUKU, address="東京都新宿区西新宿2-8-1"),
            Today(D(2026, 6, 1)),
            RunDue(),
        ],
        {"card-sign": RC, "mobile-sign": LINKED},
    ),
    row(
        "R-REV-2-move-in-after-the-move-out-deletion-keeps-auth",
        [
            e("planned-move-out", D(2026, 3, 1), planned_date=D(2026, 3, 10)),
            e("move-out", D(2026, 3, 10)),
            e("move-in", D(2026, 3, 20), by=SHINJUKU, address="東京都新宿区西新宿2-8-1"),
            Today(D(2026, 6, 1)),
            RunDue(),
        ],
        {"card-sign": RC, "mobile-sign": LINKED},
    ),
    row(
        "R-REV-2-planned-move-out-notice-revokes-nothing",
        [e("planned-move-out", D(2026, 3, 20), planned_date=D(2026, 3, 25)), RunDue()],
        {},
    ),
    row(
        "R-REV-2-move-out-deletion-revokes-sign-R-REV-3-spares-auth",
        [e("planned-move-out", D(2026, 3, 20), planned_date=D(2026, 3, 25)), e("move-out", D(2026, 3, 25)), RunDue()],
        {"card-sign": RC, "mobile-sign": LINKED},
    ),
    row(
        "R-REV-2-R-REV-8-name-change-revokes-sign-not-auth",
        [e("name-change", D(2026, 3, 1), name="鈴木 花子")],
        {"card-sign": RC, "mobile-sign": LINKED},
    ),
    row(
        "R-REV-2-R-REV-8-address-change-revokes-sign-not-auth",
        [e("address-change", D(2026, 3, 1), address="東京都千代田区永田町1-7-1")],
        {"card-sign": RC, "mobile-sign": LINKED},
    ),
    row("R-REV-2-minor-correction-revokes-nothing", [e("correction", D(2026, 3, 1), name="山田 華子", minor=True)], {}),
    row(
        "R-REV-2-non-minor-correction-revokes-sign-not-auth",
        [e("correction", D(2026, 3, 1), sex=Sex.UNKNOWN)],
        {"card-sign": RC, "mobile-sign": LINKED},
    ),
    row(
        "R-REV-2-R-REV-3-death-revokes-all-four",
        [e("death", D(2026, 3, 31))],
        {"card-sign": RC, "card-auth": RC, "mobile-sign": LINKED, "mobile-auth": LINKED},
    ),
    row(
        "R-REV-2-R-REV-3-deletion-revokes-all-four",
        [e("deletion", D(2026, 3, 31), reason="職権消除")],
        {"card-sign": RC, "card-auth": RC, "mobile-sign": LINKED, "mobile-auth": LINKED},
    ),
    row(
        "R-REV-3-30-day-lapse-after-planned-move-out-revokes-auth",
        [e("planned-move-out", D(2026, 2, 20), planned_date=D(2026, 3, 1)), RunDue()],  # today 04-01 > 03-01 + 30 days
        {"card-auth": RC, "mobile-auth": LINKED},
    ),
    row(
        "R-REV-3-30-day-lapse-after-move-out-revokes-auth-too",
        [e("move-out", D(2026, 3, 1)), RunDue()],
        {"card-sign": RC, "mobile-sign": LINKED, "card-auth": RC, "mobile-auth": LINKED},
    ),
    row(
        "R-REV-3-30-day-not-lapsed-move-in-on-day-30",
        [
            e("planned-move-out", D(2026, 2, 20), planned_date=D(2026, 3, 1)),
            e("move-in", D(2026, 3, 31), by=SHINJUKU, address="東京都新宿区西新宿2-8-1"),
            RunDue(),
        ],
        {"card-sign": RC, "mobile-sign": LINKED},
    ),
    row("R-REV-3-30-day-not-lapsed-on-day-30-itself", [e("planned-move-out", D(2026, 2, 20), planned_date=D(2026, 3, 2)), RunDue()], {}),
    row(
        "R-REV-6-cascade-from-card-auth-revoked-on-request",
        [Revoke("card-auth", RevocationReason.REQUEST)],
        {"card-auth": "request", "mobile-auth": LINKED},
    ),
    row(
        "R-REV-6-cascade-from-card-sign-record-error",
        [Revoke("card-sign", RevocationReason.RECORD_ERROR)],
        {"card-sign": "record-error", "mobile-sign": LINKED},
    ),
    row("R-REV-6-no-cascade-from-mobile-to-card", [Revoke("mobile-sign", RevocationReason.REQUEST)], {"mobile-sign": "request"}),
    row(
        "R-REV-3-late-move-in-after-the-deadline-revokes-auth",
        [
            e("planned-move-out", D(2026, 2, 1), planned_date=D(2026, 2, 1)),
            e("move-in", D(2026, 3, 10), by=SHINJUKU, address="東京都新宿区西新宿2-8-1"),
            RunDue(),
        ],
        {"card-sign": RC, "mobile-sign": LINKED, "card-auth": RC, "mobile-auth": LINKED},
    ),
    row(
        "R-REV-3-death-after-an-earlier-lapse-revokes-the-new-card-auth",
        [
            e("planned-move-out", D(2026, 2, 1), planned_date=D(2026, 2, 1)),
            RunDue(),
            e("move-in", D(2026, 3, 20), by=SHINJUKU, address="東京都新宿区西新宿2-8-1"),
            Issue("card-auth#2", "card-auth", SHINJUKU),
            e("death", D(2026, 3, 25), by=SHINJUKU),
        ],
        {"card-sign": RC, "mobile-sign": LINKED, "card-auth": RC, "mobile-auth": LINKED, "card-auth#2": RC},
    ),
    row(
        "R-REV-3-second-move-out-without-move-in-lapses-the-new-card-auth",
        [
            e("planned-move-out", D(2026, 1, 10), planned_date=D(2026, 1, 10)),
            RunDue(),
            e("move-in", D(2026, 2, 20), by=SHINJUKU, address="東京都新宿区西新宿2-8-1"),
            Issue("card-auth#2", "card-auth", SHINJUKU),
            e("planned-move-out", D(2026, 2, 25), by=SHINJUKU, planned_date=D(2026, 2, 28)),
            RunDue(),
        ],
        {"card-sign": RC, "mobile-sign": LINKED, "card-auth": RC, "mobile-auth": LINKED, "card-auth#2": RC},
    ),
]

RULE_OF_KIND = {"card-sign": "R-REV-2", "card-auth": "R-REV-3", "mobile-sign": "R-REV-6", "mobile-auth": "R-REV-6"}


@pytest.fixture
def world(platform):
    reg = registry(platform)
    neighbour = basic4("田中 太郎", sex=Sex.MALE)
    register(reg, R)
    register(reg, N, b4=neighbour)
    return reg, issue_holder(platform, R), issue_holder(platform, N, b4=neighbour)


@pytest.mark.parametrize("steps, expect", SCENARIOS)
def test_resident_change_revokes_exactly(platform, clock, world, steps, expect):
    reg, certs, neighbour = world
    reported: list[dict] = []
    for i, step in enumerate(steps):
        if isinstance(step, E):
            result = reg.submit(ev(f"step-{i}", step.type, step.code, step.by, step.date, **step.fields), actor="test")
            assert result.applied
            if step.type in ("birth", "move-in") and step.code == NEW:
                assert result.number is not None and check_number(result.number)  # R-NUM-1, R-NUM-2
            reported += result.revoked
        elif isinstance(step, Today):
            clock.set(dt.datetime.combine(step.day, dt.time(12), JST))
        elif isinstance(step, RunDue):
            for lapsed in reg.run_due(actor="test"):
                assert lapsed["resident_code"] == R
                reported += lapsed["revoked"]
        elif isinstance(step, Issue):
            certs[step.label] = issue(platform, step.kind, R, step.by)
        elif isinstance(step, Revoke):
            RevocationService(platform).revoke(certs[step.label], step.reason, actor="test")

    assert states(platform, certs) == {label: expect.get(label, "valid") for label in certs}
    assert states(platform, neighbour) == {label: "valid" for label in neighbour}

    # What the registry reported is what the store holds, with the rule of each kind
    # (R-REV-1/4 revocations through RevocationService are not the registry's to report).
    by_serial = {serial: label for label, serial in certs.items()}
    got = {(by_serial[int(r["serial"], 16)], r["kind"], r["rule"]) for r in reported}
    assert len(got) == len(reported), "a certificate was reported revoked twice"
    registry_made = not any(isinstance(step, Revoke) for step in steps)
    want = {
        (label, label.split("#")[0], RULE_OF_KIND[label.split("#")[0]])
        for label, reason in expect.items()
        if registry_made and reason in (RC, LINKED)
    }
    assert got == want


@pytest.mark.parametrize(
    "utc, lapsed",
    [
        (dt.datetime(2026, 3, 31, 14, 59, 59, tzinfo=dt.timezone.utc), False),  # 03-31 23:59:59 JST: day 30 after 03-01
        (dt.datetime(2026, 3, 31, 15, 0, 0, tzinfo=dt.timezone.utc), True),  # 04-01 00:00 JST: day 31
    ],
)
def test_R_REV_3_thirty_days_are_counted_in_JST(platform, clock, world, utc, lapsed):
    reg, certs, _ = world
    reg.submit(ev("pmo", "planned-move-out", R, CHIYODA, D(2026, 2, 20), planned_date=D(2026, 3, 1)), actor="test")
    clock.set(utc)
    done = reg.run_due(actor="test")
    assert [d["resident_code"] for d in done] == ([R] if lapsed else [])
    expect = {"card-auth": RC, "mobile-auth": LINKED} if lapsed else {}
    assert states(platform, certs) == {label: expect.get(label, "valid") for label in certs}


def test_R_REV_3_run_due_applies_the_rule_once(platform, clock, world):
    reg, certs, _ = world
    reg.submit(ev("pmo", "planned-move-out", R, CHIYODA, D(2026, 2, 20), planned_date=D(2026, 3, 1)), actor="test")
    assert len(reg.run_due(actor="test")) == 1
    clock.advance(dt.timedelta(days=3))
    assert reg.run_due(actor="test") == []


def test_R_REV_6_R_REV_7_expiry_is_not_revocation_and_not_a_cascade_trigger(platform, clock):
    """An expired card certificate gets no revocation record (R-REV-7), so a later change
    revokes nothing for it and does not cascade (R-REV-6 excludes expiry): the mobile
    certificate, issued later and so valid longer, stays valid."""
    reg = registry(platform)
    register(reg, R)
    card = issue(platform, "card-sign", R)  # to 2031-06-15 (5th birthday after issuance)
    clock.set(dt.datetime(2029, 1, 10, 3, tzinfo=dt.timezone.utc))
    mobile = issue(platform, "mobile-sign", R)  # to 2034-06-15
    clock.set(dt.datetime(2031, 7, 1, 3, tzinfo=dt.timezone.utc))
    result = reg.submit(ev("nc", "name-change", R, CHIYODA, D(2031, 7, 1), name="鈴木 花子"), actor="test")
    assert result.revoked == []
    assert states(platform, {"card": card, "mobile": mobile}) == {"card": "expired", "mobile": "valid"}


def test_event_outcome_serials_are_displayed_like_the_records_api(platform, monkeypatch):
    from myna.authority.records import Records
    from myna.pki import serials

    chosen = 0xABCDEF0123456789ABCDEF0123456789ABCDEF1  # 39 hex digits: to_display pads it to 40
    assert len(format(chosen, "X")) == 39
    monkeypatch.setattr(serials, "new_serial", lambda: chosen)
    reg = registry(platform)
    register(reg, R)
    assert issue(platform, "card-sign", R) == chosen
    result = reg.submit(ev("nc", "name-change", R, CHIYODA, D(2026, 3, 1), name="鈴木 花子"), actor="test")
    shown = Records(platform).get(chosen).to_json()["serial"]
    assert [r["serial"] for r in result.revoked] == [shown]
