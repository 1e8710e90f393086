"""Bad change events through the HTTP API: each is refused with a specific error, and a
refused event changes nothing (``table_counts`` equal, record unchanged, no certificate
revoked). Exactly once: a duplicate is acknowledged (200, applied=false, the original
outcome) and not re-applied; an event id reused for different content is 409
request-id-reused. In order per resident: an event dated before the last applied one is
409 out-of-order. Impossible events are 409 invalid-transition (R-RES-1, R-REV-2/3).
"""

from __future__ import annotations

import datetime as dt

import pytest
from myna_testing import T0, table_counts
from residents_support import EVENTS, basic4_json, issue_holder, post_event, states

from myna.clock import JST

R = "22000000001"
DEAD = "22000000002"
LAST = "2026-02-01"  # R's last applied event


@pytest.fixture
def world(api, platform):
    """R: on Chiyoda's register, renamed on 2026-02-01, holding card-sign and card-auth.
    DEAD: died on 2026-02-01."""
    assert (
        post_event(api, "chiyoda", "reg-1", "move-in", R, "2026-01-05", basic4=basic4_json(), address="東京都千代田区千代田1-1").status_code
        == 201
    )
    assert post_event(api, "chiyoda", "nc-1", "name-change", R, LAST, name="鈴木 花子").status_code == 201
    certs = issue_holder(platform, R, kinds=("card-sign", "card-auth"))
    assert (
        post_event(
            api,
            "chiyoda",
            "reg-2",
            "move-in",
            DEAD,
            "2026-01-05",
            basic4=basic4_json("田中 太郎", sex="1"),
            address="東京都千代田区千代田1-2",
        ).status_code
        == 201
    )
    assert post_event(api, "chiyoda", "death-2", "death", DEAD, LAST).status_code == 201
    return certs


def snapshot(api, platform) -> tuple:
    record = api.get(f"/api/v1/residents/{R}", headers=api.headers_for("operator")).json()
    return table_counts(platform), record


def refused(api, platform, certs, response, status: int, code: str, *needles: str, before) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    for needle in needles:
        assert needle in body["message"], body["message"]
    assert snapshot(api, platform) == before
    assert states(platform, certs) == {"card-sign": "valid", "card-auth": "valid"}


def raw(**fields) -> dict:
    return {
        "event_id": "bad-1",
        "type": "address-change",
        "resident_code": R,
        "effective_date": "2026-03-01",
        "address": "東京都千代田区永田町1-7-1",
        **fields,
    }


MALFORMED = [
    # (id, body, needles in the message)
    ("unknown-type", raw(type="marriage"), ["type"]),
    ("type-missing", {k: v for k, v in raw().items() if k != "type"}, ["type"]),
    ("event-id-missing", {k: v for k, v in raw().items() if k != "event_id"}, ["event_id"]),
    ("event-id-bad-characters", raw(event_id="has space"), ["event_id"]),
    ("event-id-too-long", raw(event_id="e" * 201), ["event_id"]),
    ("resident-code-short", raw(resident_code="2200000000"), ["resident code", "11 digits"]),
    ("resident-code-letter", raw(resident_code="2200000000a"), ["resident code", "11 digits"]),
    ("resident-code-full-width-digits", raw(resident_code="２２０００００００１"), ["resident code", "11 digits"]),
    ("resident-code-missing", {k: v for k, v in raw().items() if k != "resident_code"}, ["resident_code"]),
    ("effective-date-missing", {k: v for k, v in raw().items() if k != "effective_date"}, ["effective_date"]),
    ("effective-date-impossible", raw(effective_date="2026-02-30"), ["effective_date"]),
    ("effective-date-not-a-date", raw(effective_date="yesterday"), ["effective_date"]),
    ("address-change-without-address", raw(address=None), ["address"]),
    ("name-change-without-name", raw(type="name-change", address=None), ["name"]),
    ("planned-move-out-without-date", raw(type="planned-move-out"), ["planned_date"]),
    ("planned-date-before-the-notice", raw(type="planned-move-out", planned_date="2026-02-28"), ["planned_date", "before"]),
    ("planned-date-impossible", raw(type="planned-move-out", planned_date="2026-13-01"), ["planned_date"]),
    ("correction-of-nothing", raw(type="correction", address=None), ["at least one"]),
    ("correction-bad-sex-code", raw(type="correction", address=None, sex="9"), ["sex"]),
    ("deletion-without-reason", raw(type="deletion"), ["reason"]),
    ("birth-without-basic4", raw(type="birth", resident_code="22000000077", effective_date="2026-03-01"), ["basic4"]),
    (
        "birth-dated-not-on-the-birthday",
        raw(type="birth", resident_code="22000000077", basic4=basic4_json(dob="2026-02-28")),
        ["date of birth"],
    ),
    ("move-in-from-abroad-without-basic4", raw(type="move-in", resident_code="22000000077"), ["basic4"]),
    (
        "basic4-born-before-meiji",
        raw(type="move-in", resident_code="22000000077", basic4=basic4_json(dob="1850-01-01")),
        ["Meiji", "impossible-date"],
    ),
    ("basic4-empty-name", raw(type="move-in", resident_code="22000000077", basic4=basic4_json(name=" ")), ["name"]),
    ("name-too-long", raw(type="name-change", address=None, name="あ" * 257), ["name"]),
    ("not-an-object", ["death"], []),
]


@pytest.mark.parametrize("body, needles", [pytest.param(b, n, id=i) for i, b, n in MALFORMED])
def test_malformed_events_are_422_and_change_nothing(api, platform, world, body, needles):
    code = "impossible-date" if "impossible-date" in needles else "invalid-input"  # a subclass of invalid-input
    before = snapshot(api, platform)
    r = api.post(EVENTS, json=body, headers=api.headers_for("chiyoda"))
    refused(api, platform, world, r, 422, code, *[n for n in needles if n != code], before=before)


@pytest.mark.parametrize("payload", ["not json", "{", "{" * 5000, '{"event_id": 5}'])
def test_garbage_bodies_are_4xx_never_500(api, platform, world, payload):
    before = snapshot(api, platform)
    r = api.post(EVENTS, content=payload, headers={**api.headers_for("chiyoda"), "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert snapshot(api, platform) == before


def test_operator_with_a_bad_municipality_code_is_422(api, platform, world):
    before = snapshot(api, platform)
    r = post_event(api, "operator", "bad-m", "death", R, "2026-03-01", municipality_code="131017")
    refused(api, platform, world, r, 422, "invalid-input", "131017", "check digit", before=before)
    r = post_event(api, "operator", "bad-m", "death", R, "2026-03-01", municipality_code="011011")  # valid, never registered
    refused(api, platform, world, r, 403, "forbidden", "011011", "not registered", before=before)


def test_event_id_reused_with_different_content_is_409_request_id_reused(api, platform, world):
    before = snapshot(api, platform)
    r = post_event(api, "chiyoda", "nc-1", "name-change", R, LAST, name="高橋 花子")  # nc-1 was 鈴木 花子
    refused(api, platform, world, r, 409, "request-id-reused", "nc-1", before=before)
    r = post_event(api, "chiyoda", "reg-1", "death", R, "2026-03-01")  # another resident's event id, reused
    refused(api, platform, world, r, 409, "request-id-reused", "reg-1", before=before)


@pytest.mark.parametrize("type_, fields", [("name-change", {"name": "高橋 花子"}), ("death", {}), ("address-change", {"address": "x"})])
def test_event_dated_before_the_last_applied_one_is_409_out_of_order(api, platform, world, type_, fields):
    before = snapshot(api, platform)
    r = post_event(api, "chiyoda", "late-1", type_, R, "2026-01-31", **fields)
    refused(api, platform, world, r, 409, "out-of-order", "2026-01-31", LAST, R, before=before)
    # Same day as the last event is in order.
    assert post_event(api, "chiyoda", "same-day", type_, R, LAST, **fields).status_code == 201


INVALID_TRANSITIONS = [
    # (id, who, code, type, fields, needles)
    ("birth-of-an-existing-resident", "chiyoda", R, "birth", {"basic4": basic4_json(dob="2026-03-01")}, ["already exists"]),
    ("move-in-without-a-move-out", "chiyoda", R, "move-in", {"address": "x"}, ["active"]),
    ("name-change-of-the-dead", "chiyoda", DEAD, "name-change", {"name": "x"}, ["deleted"]),
    ("death-of-the-dead", "chiyoda", DEAD, "death", {}, ["deleted"]),
    ("move-in-of-the-dead", "chiyoda", DEAD, "move-in", {"address": "x"}, ["deleted"]),
    ("planned-move-out-of-the-dead", "chiyoda", DEAD, "planned-move-out", {"planned_date": "2026-03-09"}, ["deleted"]),
    ("correction-of-the-dead", "chiyoda", DEAD, "correction", {"sex": "3"}, ["deleted"]),
]


@pytest.mark.parametrize("who, code, type_, fields, needles", [pytest.param(*x[1:], id=x[0]) for x in INVALID_TRANSITIONS])
def test_impossible_events_are_409_invalid_transition(api, platform, world, who, code, type_, fields, needles):
    before = snapshot(api, platform)
    r = post_event(api, who, "bad-t", type_, code, "2026-03-01", **fields)
    refused(api, platform, world, r, 409, "invalid-transition", code, *needles, before=before)


def test_impossible_events_while_moving_out_are_409_invalid_transition(api, platform, world):
    assert post_event(api, "chiyoda", "pmo", "planned-move-out", R, "2026-03-01", planned_date="2026-03-10").status_code == 201
    before = snapshot(api, platform)
    for type_, fields in [
        ("planned-move-out", {"planned_date": "2026-03-12"}),
        ("address-change", {"address": "x"}),
        ("move-in", {"address": "x"}),
    ]:
        r = post_event(api, "chiyoda", f"bad-{type_}", type_, R, "2026-03-02", **fields)
        assert r.status_code == 409 and r.json()["error"] == "invalid-transition", r.text
    assert "municipality is an address change" in r.json()["message"]  # a move-in from where R is moving out
    assert snapshot(api, platform) == before
    assert post_event(api, "chiyoda", "mo", "move-out", R, "2026-03-10").status_code == 201
    before = snapshot(api, platform)
    for type_, fields in [("name-change", {"name": "x"}), ("correction", {"sex": "3"}), ("move-out", {})]:
        r = post_event(api, "chiyoda", f"bad2-{type_}", type_, R, "2026-03-11", **fields)
        assert r.status_code == 409 and r.json()["error"] == "invalid-transition" and "moved-out" in r.json()["message"], r.text
    assert snapshot(api, platform) == before


def test_duplicate_is_acknowledged_with_200_and_not_reapplied(api, platform, world):
    first = post_event(api, "chiyoda", "death-1", "death", R, "2026-03-01")
    assert first.status_code == 201 and first.json()["applied"] is True
    assert {x["kind"] for x in first.json()["revoked"]} == {"card-sign", "card-auth"}
    before = snapshot(api, platform)
    for _ in range(2):
        again = post_event(api, "chiyoda", "death-1", "death", R, "2026-03-01")
        assert again.status_code == 200
        assert again.json() == {**first.json(), "applied": False}  # the original outcome
        assert snapshot(api, platform) == before  # no new rows, no new version
    assert states(platform, world) == {"card-sign": "resident-change", "card-auth": "resident-change"}


def test_duplicate_of_an_older_event_is_acknowledged_not_out_of_order(api, platform, world):
    before = snapshot(api, platform)
    again = post_event(api, "chiyoda", "reg-1", "move-in", R, "2026-01-05", basic4=basic4_json(), address="東京都千代田区千代田1-1")
    assert again.status_code == 200 and again.json()["applied"] is False and again.json()["number"]
    assert snapshot(api, platform) == before


def test_event_ids_are_scoped_per_municipality_and_refusals_do_not_burn_them(api, platform, world):
    # Shinjuku's own "nc-1" is a different event from Chiyoda's "nc-1".
    r = post_event(api, "shinjuku", "nc-1", "birth", "22000000003", "2026-03-01", basic4=basic4_json("山田 陽菜", "2026-03-01"))
    assert r.status_code == 201 and r.json()["applied"] is True
    # A refused event is not recorded: the same id may be used once the event is right.
    assert post_event(api, "chiyoda", "fix-1", "name-change", R, "2026-01-10", name="x").status_code == 409
    r = post_event(api, "chiyoda", "fix-1", "name-change", R, "2026-03-01", name="x")
    assert r.status_code == 201 and r.json()["applied"] is True


def test_a_refused_event_inside_a_sequence_leaves_the_next_ones_unaffected(api, platform, world):
    assert post_event(api, "chiyoda", "a", "address-change", R, "2026-03-01", address="東京都千代田区永田町1-7-1").status_code == 201
    before = snapshot(api, platform)
    assert post_event(api, "chiyoda", "b", "planned-move-out", R, "2026-03-02", planned_date="2026-03-01").status_code == 422
    assert snapshot(api, platform) == before
    assert post_event(api, "chiyoda", "c", "planned-move-out", R, "2026-03-02", planned_date="2026-03-05").status_code == 201
    rec = api.get(f"/api/v1/residents/{R}", headers=api.headers_for("chiyoda")).json()
    assert [h["event_id"] for h in rec["history"]] == ["reg-1", "nc-1", "a", "c"]
    assert rec["status"] == "moving-out" and rec["planned_move_out"] == "2026-03-05"


@pytest.mark.parametrize("type_, fields", [("name-change", {"name": "x"}), ("death", {}), ("birth", {"basic4": None})])
def test_event_dated_after_today_in_JST_is_422_and_today_is_fine(api, platform, clock, world, type_, fields):
    """Regression (fixed in 70a4044): a future-dated event used to be applied, and every real
    event for the resident dated before it was then refused as out-of-order."""
    code = "22000000050" if type_ == "birth" else R
    today = T0.astimezone(JST).date()  # 2026-04-01 (12:00 JST)
    tomorrow = today + dt.timedelta(days=1)
    if type_ == "birth":
        fields = {"basic4": basic4_json(dob=tomorrow.isoformat())}
    before = snapshot(api, platform)
    r = post_event(api, "chiyoda", "future-1", type_, code, tomorrow.isoformat(), **fields)
    refused(api, platform, world, r, 422, "invalid-input", tomorrow.isoformat(), "future", before=before)
    if type_ == "birth":
        fields = {"basic4": basic4_json(dob=today.isoformat())}
    assert post_event(api, "chiyoda", "future-1", type_, code, today.isoformat(), **fields).status_code == 201


def test_today_is_the_JST_date(api, platform, clock, world):
    clock.set(dt.datetime(2026, 4, 1, 15, 30, tzinfo=dt.timezone.utc))  # 2026-04-02 00:30 JST
    assert post_event(api, "chiyoda", "jst-1", "name-change", R, "2026-04-02", name="x").status_code == 201
    r = post_event(api, "chiyoda", "jst-2", "name-change", R, "2026-04-03", name="y")
    assert r.status_code == 422 and "future" in r.json()["message"]
