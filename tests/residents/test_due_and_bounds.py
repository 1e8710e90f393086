"""R-RA-5, R-REV-3a and R-REV-2 at the edges found by outside probes.

- R-RA-5: dates in events are bounded (a planned move-out at most one year after the
  notice, no event before 1868-01-01, no date of birth after the event); the 30-day rule
  of R-REV-3 is applied to every resident due, and one resident's bad data (written into
  the store before dates were bounded, or by hand) is reported without personal data and
  never stops the others, from the registry, the schedule and ``myna residents run-due``.
- R-REV-3a: a planned move-out can be withdrawn (``planned-move-out-withdrawn``, 転出取消)
  by the municipality that recorded it; the resident is active again and the 30-day clock
  stops.
- R-REV-2: a minor correction (which revokes nothing) may touch the name or the address,
  never the date of birth or the sex; a change to the values the record already holds is
  refused (it would revoke a certificate whose contents are still true).
"""

from __future__ import annotations

import datetime as dt

import pytest
from myna_testing import T0, table_counts
from residents_support import CHIYODA, basic4_json, issue_holder, post_event, register, registry, states
from sqlalchemy import update
from structlog.testing import capture_logs
from typer.testing import CliRunner

from myna.clock import JST
from myna.store import models as m

R = "23000000001"
TODAY = T0.astimezone(JST).date()  # 2026-04-01


def record(api, code: str = R) -> dict:
    return api.get(f"/api/v1/residents/{code}", headers=api.headers_for("operator")).json()


@pytest.fixture
def holder(api, platform):
    """R on Chiyoda's register since 2026-01-05, with card-sign and card-auth."""
    assert (
        post_event(api, "chiyoda", "reg-1", "move-in", R, "2026-01-05", basic4=basic4_json(), address="東京都千代田区千代田1-1").status_code
        == 201
    )
    return issue_holder(platform, R, kinds=("card-sign", "card-auth"))


def refused(api, platform, r, status: int, code: str, *needles: str, before) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code, body
    for n in needles:
        assert n in body["message"], body["message"]
    assert (table_counts(platform), record(api)) == before


# -- R-RA-5: bounded dates -----------------------------------------------------------------


def test_R_RA_5_a_planned_move_out_at_most_one_year_ahead(api, platform, holder):
    before = (table_counts(platform), record(api))
    r = post_event(api, "chiyoda", "pmo-far", "planned-move-out", R, "2026-03-01", planned_date="9999-12-31")
    refused(api, platform, r, 422, "invalid-input", "planned_date", "9999-12-31", "one year", before=before)
    r = post_event(api, "chiyoda", "pmo-far", "planned-move-out", R, "2026-03-01", planned_date="2027-03-02")
    refused(api, platform, r, 422, "invalid-input", "one year", before=before)
    r = post_event(api, "chiyoda", "pmo-far", "planned-move-out", R, "2026-03-01", planned_date="2027-03-01")
    assert r.status_code == 201, r.text
    assert record(api)["planned_move_out"] == "2027-03-01"


@pytest.mark.parametrize(
    "type_, code, effective, fields, needles",
    [
        pytest.param(
            "move-in",
            "23000000009",
            "1867-12-31",
            {"basic4": basic4_json(dob="1990-06-15")},
            ["1867-12-31", "1868-01-01"],
            id="event-before-1868",
        ),
        pytest.param(
            "move-in",
            "23000000009",
            "2026-03-01",
            {"basic4": basic4_json(dob="2026-03-02")},
            ["date_of_birth", "after"],
            id="born-after-the-move-in",
        ),
        pytest.param(
            "correction", R, "2026-03-01", {"date_of_birth": "2026-03-02"}, ["date_of_birth", "after"], id="corrected-birth-after-the-event"
        ),
        pytest.param(
            "correction", R, "2026-03-01", {"date_of_birth": "1850-01-01"}, ["date_of_birth", "Meiji"], id="corrected-birth-before-meiji"
        ),
    ],
)
def test_R_RA_5_event_dates_out_of_bounds_are_422(api, platform, holder, type_, code, effective, fields, needles):
    before = (table_counts(platform), record(api))
    r = post_event(
        api,
        "chiyoda",
        "bounds-1",
        type_,
        code,
        effective,
        **({"address": "東京都千代田区千代田1-1"} if type_ == "move-in" else {}),
        **fields,
    )
    refused(api, platform, r, 422, "invalid-input", *needles, before=before)
    assert states(platform, holder) == {"card-sign": "valid", "card-auth": "valid"}


# -- R-RA-5: the 30-day rule, one resident at a time -----------------------------------------


def moving_out(reg, platform, code: str, planned: dt.date = dt.date(2026, 3, 5)) -> dict[str, int]:
    """``code`` on Chiyoda's register with card-auth, moving out on ``planned``."""
    register(reg, code)
    certs = issue_holder(platform, code, kinds=("card-auth",))
    reg.submit(_ev(f"pmo-{code}", "planned-move-out", code, dt.date(2026, 3, 1), planned_date=planned), actor="test")
    return certs


def _ev(event_id, type_, code, effective, **fields):
    from residents_support import ev

    return ev(event_id, type_, code, CHIYODA, effective, **fields)


def seed(platform, code: str, **values) -> None:
    """Write into the store directly, bypassing every check (data from before the checks)."""
    with platform.db.session() as s:
        s.execute(update(m.ResidentRecord).where(m.ResidentRecord.resident_code == code).values(**values))


@pytest.fixture
def due_world(platform, clock):
    """Four residents moving out on 2026-03-05; on 2026-04-10 the 30 days have passed.
    FAR's planned date is 9999-12-31 and BAD's sex code is unreadable, both written into
    the store directly. BAD and FAR sort first, so they come before the good ones."""
    reg = registry(platform)
    codes = {"BAD": "23100000001", "FAR": "23100000002", "OK1": "23100000003", "OK2": "23100000004"}
    certs = {label: moving_out(reg, platform, code) for label, code in codes.items()}
    seed(platform, codes["FAR"], planned_move_out=dt.date(9999, 12, 31))
    seed(platform, codes["BAD"], sex="9")
    clock.set(dt.datetime(2026, 4, 10, 3, tzinfo=dt.timezone.utc))
    return reg, codes, certs


def test_R_RA_5_bad_data_of_one_resident_never_stops_the_30_day_rule_for_the_others(platform, due_world):
    reg, codes, certs = due_world
    with capture_logs() as entries:
        done = reg.run_due(actor="test")  # before: OverflowError (FAR), or ValueError (BAD), and nobody revoked
    assert {d["resident_code"] for d in done} == {codes["OK1"], codes["OK2"]}
    assert states(platform, certs["OK1"]) == states(platform, certs["OK2"]) == {"card-auth": "resident-change"}
    assert states(platform, certs["FAR"]) == {"card-auth": "valid"}  # planned for 9999: not due
    assert states(platform, certs["BAD"]) == {"card-auth": "valid"}  # could not be judged: reported
    logged = repr(entries)
    assert "move-in deadline rule failed" in logged and reg.log_ref(codes["BAD"]) in logged
    assert not any(code in logged for code in codes.values()), "a resident code in the log"
    with platform.db.session() as s:
        journal = [a for a in s.query(m.AuditEvent).filter(m.AuditEvent.action == "resident.move-in-deadline-failed")]
    assert [a.subject for a in journal] == [codes["BAD"]]
    # The report counts the failure; a second run does the same (the bad record is still bad).
    report = reg.apply_due(actor="test")
    assert report.done == [] and [f["resident_ref"] for f in report.failures] == [reg.log_ref(codes["BAD"])]


def test_R_RA_5_a_stored_far_planned_date_does_not_break_the_move_in(api, platform, due_world):
    reg, codes, certs = due_world
    r = post_event(api, "shinjuku", "in-far", "move-in", codes["FAR"], "2026-04-10", address="東京都新宿区西新宿2-8-1")
    assert r.status_code == 201, r.text  # before: 500 (OverflowError in the 30-day check)
    assert r.json()["status"] == "active"
    assert states(platform, certs["FAR"]) == {"card-auth": "valid"}


def test_R_RA_5_run_due_command_processes_everyone_then_exits_non_zero_with_a_summary(platform, due_world, monkeypatch):
    reg, codes, certs = due_world
    from myna.cli import app

    monkeypatch.setenv("MYNA_HOME", str(platform.settings.home))
    monkeypatch.setenv("MYNA_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("MYNA_PUBLIC_URL", "http://127.0.0.1:8123")
    result = CliRunner().invoke(app, ["residents", "run-due"], catch_exceptions=False)  # the real clock: after 2026-04-10
    assert result.exit_code == 1, result.output
    assert "2 residents passed the move-in deadline; 2 certificates revoked" in result.output
    assert "failed for 1 residents" in result.output and reg.log_ref(codes["BAD"]) in result.output
    assert not any(code in result.output for code in codes.values())
    assert states(platform, certs["OK1"]) == states(platform, certs["OK2"]) == {"card-auth": "resident-change"}


# -- R-REV-3a: withdrawing a planned move-out ------------------------------------------------


def test_R_REV_3a_a_withdrawn_planned_move_out_stops_the_30_day_clock(api, platform, clock, holder):
    assert post_event(api, "chiyoda", "pmo-1", "planned-move-out", R, "2026-03-01", planned_date="2026-03-05").status_code == 201
    r = post_event(api, "chiyoda", "wd-1", "planned-move-out-withdrawn", R, "2026-03-20")
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "active" and r.json()["revoked"] == []
    rec = record(api)
    assert rec["status"] == "active" and rec["planned_move_out"] is None
    clock.set(dt.datetime(2026, 5, 1, 3, tzinfo=dt.timezone.utc))
    assert registry(platform).run_due(actor="test") == []
    assert states(platform, holder) == {"card-sign": "valid", "card-auth": "valid"}  # basic 4 unchanged: R-REV-2 neither
    # Active again: a new planned move-out may follow.
    assert post_event(api, "chiyoda", "pmo-2", "planned-move-out", R, "2026-05-01", planned_date="2026-05-10").status_code == 201


def test_R_REV_3a_withdrawal_after_the_deletion_by_move_out(api, platform, holder):
    assert post_event(api, "chiyoda", "pmo-1", "planned-move-out", R, "2026-03-01", planned_date="2026-03-05").status_code == 201
    assert post_event(api, "chiyoda", "mo-1", "move-out", R, "2026-03-05").status_code == 201
    r = post_event(api, "chiyoda", "wd-1", "planned-move-out-withdrawn", R, "2026-03-10")
    assert r.status_code == 201 and r.json()["status"] == "active", r.text
    assert states(platform, holder) == {"card-sign": "resident-change", "card-auth": "valid"}  # card-sign from the move-out


def test_R_REV_3a_a_withdrawal_after_the_30_days_does_not_undo_them(api, platform, holder):
    assert post_event(api, "chiyoda", "pmo-1", "planned-move-out", R, "2026-02-01", planned_date="2026-02-10").status_code == 201
    r = post_event(api, "chiyoda", "wd-1", "planned-move-out-withdrawn", R, "2026-03-20")  # 2026-03-12 was the last day
    assert r.status_code == 201, r.text
    assert [x["kind"] for x in r.json()["revoked"]] == ["card-auth"]
    assert states(platform, holder) == {"card-sign": "valid", "card-auth": "resident-change"}


@pytest.mark.parametrize(
    "who, setup, status, code",
    [
        pytest.param("shinjuku", True, 404, "not-found", id="another-municipality"),
        pytest.param("chiyoda", False, 409, "invalid-transition", id="nothing-to-withdraw"),
    ],
)
def test_R_REV_3a_only_the_recording_municipality_withdraws_a_planned_move_out(api, platform, holder, who, setup, status, code):
    if setup:
        assert post_event(api, "chiyoda", "pmo-1", "planned-move-out", R, "2026-03-01", planned_date="2026-03-05").status_code == 201
    before = (table_counts(platform), record(api))
    r = post_event(api, who, "wd-1", "planned-move-out-withdrawn", R, "2026-03-02")
    refused(api, platform, r, status, code, before=before)


# -- R-REV-2: minor corrections and changes that change nothing ----------------------------------


@pytest.mark.parametrize(
    "fields",
    [{"sex": "1"}, {"date_of_birth": "1990-06-16"}, {"name": "山田 華子", "sex": "1"}],
    ids=["sex", "date-of-birth", "name-and-sex"],
)
def test_R_REV_2_a_correction_of_sex_or_date_of_birth_is_never_minor(api, platform, holder, fields):
    before = (table_counts(platform), record(api))
    r = post_event(api, "chiyoda", "fix-1", "correction", R, "2026-03-01", minor=True, **fields)
    refused(api, platform, r, 422, "invalid-input", "minor", "never minor", before=before)
    assert states(platform, holder) == {"card-sign": "valid", "card-auth": "valid"}
    r = post_event(api, "chiyoda", "fix-1", "correction", R, "2026-03-01", **fields)  # the same, not minor
    assert r.status_code == 201 and [x["kind"] for x in r.json()["revoked"]] == ["card-sign"], r.text


def test_R_REV_2_a_minor_correction_of_the_name_revokes_nothing(api, platform, holder):
    r = post_event(api, "chiyoda", "fix-1", "correction", R, "2026-03-01", minor=True, name="山田 華子")
    assert r.status_code == 201 and r.json()["revoked"] == [], r.text
    assert record(api)["name"] == "山田 華子"


@pytest.mark.parametrize(
    "type_, fields",
    [
        pytest.param("name-change", {"name": "山田 花子"}, id="name-change-to-the-same-name"),
        pytest.param("address-change", {"address": "東京都千代田区千代田1-1"}, id="address-change-to-the-same-address"),
        pytest.param("correction", {"sex": "2"}, id="correction-to-the-same-sex"),
    ],
)
def test_R_REV_2_a_change_to_the_same_values_is_refused_and_revokes_nothing(api, platform, holder, type_, fields):
    before = (table_counts(platform), record(api))
    r = post_event(api, "chiyoda", "same-1", type_, R, "2026-03-01", **fields)
    refused(api, platform, r, 422, "invalid-input", "must change the record", before=before)
    assert states(platform, holder) == {"card-sign": "valid", "card-auth": "valid"}


def test_R_RA_5_one_year_ahead_from_a_leap_day_is_the_28th_of_february():
    """The pure rule (``events.apply``): 2028-02-29 + one year is 2029-02-28."""
    from residents_support import basic4, ev

    from myna.errors import InvalidInput
    from myna.residents.events import Resident, Status, apply

    state = Resident(R, CHIYODA, basic4(), Status.ACTIVE, last_effective=dt.date(2028, 1, 1))
    ok = apply(state, ev("p", "planned-move-out", R, CHIYODA, dt.date(2028, 2, 29), planned_date=dt.date(2029, 2, 28)))
    assert ok.resident.status is Status.MOVING_OUT and ok.resident.planned_move_out == dt.date(2029, 2, 28)
    with pytest.raises(InvalidInput, match="one year"):
        apply(state, ev("p", "planned-move-out", R, CHIYODA, dt.date(2028, 2, 29), planned_date=dt.date(2029, 3, 1)))
