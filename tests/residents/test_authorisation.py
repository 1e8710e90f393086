"""Who may read and change identity records (R-RES-1) through the HTTP API.

A municipality token reads and changes only its own residents: another municipality's
resident answers 404 exactly like an unknown one, and nothing changes (``table_counts``).
The one exception is the destination of a move, which completes it with a move-in
(R-REV-2/R-REV-3 then apply). The operator reads everything; the auditor only reads;
other roles get 403; no token 401.
"""

from __future__ import annotations

import pytest
from myna_testing import table_counts
from residents_support import CHIYODA, SHINJUKU, basic4_json, issue_holder, post_event, states

R = "21000000001"
UNKNOWN = "21000000099"


@pytest.fixture
def resident(api, platform):
    """R on Chiyoda's register (with a number) holding card-sign and card-auth."""
    r = post_event(api, "chiyoda", "reg-1", "move-in", R, "2026-01-05", basic4=basic4_json(), address="東京都千代田区千代田1-1")
    assert r.status_code == 201, r.text
    return issue_holder(platform, R, kinds=("card-sign", "card-auth"))


def test_R_RES_1_municipality_reads_only_its_own_residents(api, resident):
    own = api.get(f"/api/v1/residents/{R}", headers=api.headers_for("chiyoda"))
    assert own.status_code == 200
    assert own.json()["municipality_code"] == CHIYODA and [h["event_id"] for h in own.json()["history"]] == ["reg-1"]

    foreign = api.get(f"/api/v1/residents/{R}", headers=api.headers_for("shinjuku"))
    unknown = api.get(f"/api/v1/residents/{UNKNOWN}", headers=api.headers_for("shinjuku"))
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["error"] == unknown.json()["error"] == "not-found"
    assert foreign.json()["message"].replace(R, "X") == unknown.json()["message"].replace(UNKNOWN, "X")  # nothing learnt

    assert [i["resident_code"] for i in api.get("/api/v1/residents", headers=api.headers_for("chiyoda")).json()["items"]] == [R]
    assert api.get("/api/v1/residents", headers=api.headers_for("shinjuku")).json() == {"items": [], "next": None}


@pytest.mark.parametrize("who", ["operator", "auditor"])
def test_R_RES_1_operator_and_auditor_read_every_municipality(api, resident, who):
    r2 = post_event(api, "shinjuku", "reg-2", "birth", "21000000002", "2026-03-30", basic4=basic4_json("山田 陽菜", "2026-03-30"))
    assert r2.status_code == 201
    assert api.get(f"/api/v1/residents/{R}", headers=api.headers_for(who)).json()["municipality_code"] == CHIYODA
    assert api.get("/api/v1/residents/21000000002", headers=api.headers_for(who)).json()["municipality_code"] == SHINJUKU
    listing = api.get("/api/v1/residents", headers=api.headers_for(who)).json()
    assert [(i["resident_code"], i["municipality_code"]) for i in listing["items"]] == [(R, CHIYODA), ("21000000002", SHINJUKU)]


EVENTS_BY_ANOTHER_MUNICIPALITY = [
    ("name-change", {"name": "鈴木 花子"}),
    ("address-change", {"address": "東京都新宿区西新宿2-8-1"}),
    ("correction", {"sex": "3"}),
    ("correction", {"name": "山田 華子", "minor": True}),
    ("planned-move-out", {"planned_date": "2026-03-10"}),
    ("move-out", {}),
    ("move-in", {"address": "東京都新宿区西新宿2-8-1"}),  # R never moved out
    ("death", {}),
    ("deletion", {"reason": "職権消除"}),
    ("birth", {"basic4": basic4_json(dob="2026-03-01")}),
]


@pytest.mark.parametrize(
    "type_, fields", EVENTS_BY_ANOTHER_MUNICIPALITY, ids=[f"{t}-{i}" for i, (t, _) in enumerate(EVENTS_BY_ANOTHER_MUNICIPALITY)]
)
def test_R_RES_1_municipality_cannot_change_another_municipalitys_resident(api, platform, resident, type_, fields):
    before = table_counts(platform)
    record = api.get(f"/api/v1/residents/{R}", headers=api.headers_for("operator")).json()
    r = post_event(api, "shinjuku", "foreign-1", type_, R, "2026-03-01", **fields)
    if type_ in ("birth", "move-in"):
        # A new record with a code in use: the one refusal given wherever it is in use, after
        # the checks an unused code gets (this move-in has no basic4: 422), naming nobody (R-RA-2).
        assert (r.status_code, r.json()["error"]) in {(409, "resident-code-in-use"), (422, "invalid-input")}, r.text
        assert CHIYODA not in r.text
    else:
        assert r.status_code == 404 and r.json()["error"] == "not-found", r.text
        assert R in r.json()["message"] and SHINJUKU in r.json()["message"]
    assert table_counts(platform) == before
    assert api.get(f"/api/v1/residents/{R}", headers=api.headers_for("operator")).json() == record
    assert states(platform, resident) == {"card-sign": "valid", "card-auth": "valid"}


def test_municipality_token_cannot_speak_for_another_municipality(api, platform, resident):
    before = table_counts(platform)
    r = post_event(api, "shinjuku", "spoof-1", "death", R, "2026-03-01", municipality_code=CHIYODA)
    assert r.status_code == 403 and r.json()["error"] == "forbidden" and SHINJUKU in r.json()["message"]
    assert table_counts(platform) == before


def test_R_REV_2_R_REV_8_destination_completes_the_move_and_takes_the_record_over(api, platform, resident):
    assert post_event(api, "chiyoda", "pmo-1", "planned-move-out", R, "2026-03-01", planned_date="2026-03-10").status_code == 201
    # While R is moving out, Shinjuku may only complete the move.
    before = table_counts(platform)
    assert post_event(api, "shinjuku", "nc-1", "name-change", R, "2026-03-05", name="鈴木 花子").status_code == 404
    assert api.get(f"/api/v1/residents/{R}", headers=api.headers_for("shinjuku")).status_code == 404
    assert table_counts(platform) == before

    r = post_event(api, "shinjuku", "mi-1", "move-in", R, "2026-03-12", address="東京都新宿区西新宿2-8-1")
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "active" and r.json()["number"] is None  # the number stays the same
    assert {x["kind"] for x in r.json()["revoked"]} == {"card-sign"}
    assert states(platform, resident) == {"card-sign": "resident-change", "card-auth": "valid"}

    record = api.get(f"/api/v1/residents/{R}", headers=api.headers_for("shinjuku")).json()
    assert record["municipality_code"] == SHINJUKU and record["address"] == "東京都新宿区西新宿2-8-1"
    assert [(h["event_id"], h["municipality_code"]) for h in record["history"]] == [
        ("reg-1", CHIYODA),
        ("pmo-1", CHIYODA),
        ("mi-1", SHINJUKU),
    ]
    # The origin has lost it: reading and changing are 404 now.
    assert api.get(f"/api/v1/residents/{R}", headers=api.headers_for("chiyoda")).status_code == 404
    before = table_counts(platform)
    assert post_event(api, "chiyoda", "death-1", "death", R, "2026-03-20").status_code == 404
    assert table_counts(platform) == before
    assert post_event(api, "shinjuku", "nc-2", "name-change", R, "2026-03-20", name="鈴木 花子").status_code == 201


def test_only_one_destination_completes_a_move(api, platform, resident):
    post_event(api, "chiyoda", "pmo-1", "planned-move-out", R, "2026-03-01", planned_date="2026-03-10")
    assert post_event(api, "shinjuku", "mi-1", "move-in", R, "2026-03-12", address="東京都新宿区西新宿2-8-1").status_code == 201
    before = table_counts(platform)
    r = post_event(api, "osaka", "mi-1", "move-in", R, "2026-03-13", address="大阪府大阪市北区中之島1-3-20")
    assert r.status_code == 422  # R is Shinjuku's active resident now: checked as a new record (no basic4), never applied
    assert table_counts(platform) == before


def test_operator_submits_for_a_named_municipality(api, platform, resident):
    before = table_counts(platform)
    r = post_event(api, "operator", "op-1", "name-change", R, "2026-03-01", name="鈴木 花子")
    assert r.status_code == 422 and "municipality_code" in r.json()["message"]
    assert table_counts(platform) == before
    r = post_event(api, "operator", "op-1", "name-change", R, "2026-03-01", name="鈴木 花子", municipality_code=CHIYODA)
    assert r.status_code == 201
    r = post_event(api, "operator", "op-2", "address-change", R, "2026-03-02", address="x", municipality_code=SHINJUKU)
    assert r.status_code == 404  # the operator acts as the municipality it names


@pytest.mark.parametrize("who", ["auditor", "centre", "verifier"])
def test_read_only_and_other_roles_cannot_submit_or_take_notices(api, platform, resident, who):
    before = table_counts(platform)
    r = post_event(api, who, "x-1", "death", R, "2026-03-01", municipality_code=CHIYODA)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert api.post(f"/api/v1/residents/{R}/number", params={"reason": "leak"}, headers=api.headers_for(who)).status_code == 403
    assert api.get("/api/v1/number-notices", headers=api.headers_for(who)).status_code == 403
    assert api.post("/api/v1/municipalities", json={"code": "011011", "name": "Sapporo"}, headers=api.headers_for(who)).status_code == 403
    assert table_counts(platform) == before
    reading = api.get(f"/api/v1/residents/{R}", headers=api.headers_for(who)).status_code
    assert reading == (200 if who == "auditor" else 403)


def test_no_token_is_401_and_a_bad_token_is_401(api, platform, resident):
    before = table_counts(platform)
    for r in (
        api.get(f"/api/v1/residents/{R}"),
        api.get("/api/v1/residents"),
        api.post("/api/v1/residents/events", json={"event_id": "x", "type": "death", "resident_code": R, "effective_date": "2026-03-01"}),
        api.get("/api/v1/number-notices"),
        api.get(f"/api/v1/residents/{R}", headers={"Authorization": "Bearer myna_not-a-token"}),
    ):
        assert r.status_code == 401 and r.json()["error"] == "unauthenticated" and r.headers["WWW-Authenticate"] == "Bearer"
    assert table_counts(platform) == before


def test_R_NUM_1_number_notices_and_reissue_are_scoped(api, platform, resident):
    notices = api.get("/api/v1/number-notices", headers=api.headers_for("chiyoda")).json()
    assert [(n["resident_code"], n["reason"]) for n in notices] == [(R, "new")]
    assert api.get("/api/v1/number-notices", headers=api.headers_for("shinjuku")).json() == []
    before = table_counts(platform)
    assert api.post(f"/api/v1/residents/{R}/number", params={"reason": "leak"}, headers=api.headers_for("shinjuku")).status_code == 404
    assert table_counts(platform) == before
    r = api.post(f"/api/v1/residents/{R}/number", params={"reason": "leak"}, headers=api.headers_for("chiyoda"))
    assert r.status_code == 200 and r.json()["number"] != notices[0]["number"]
    assert api.get("/api/v1/number-notices", headers=api.headers_for("shinjuku")).json() == []
    assert [n["reason"] for n in api.get("/api/v1/number-notices", headers=api.headers_for("chiyoda")).json()] == ["reissue"]


CHANGES = [(t, f) for t, f in EVENTS_BY_ANOTHER_MUNICIPALITY if t not in ("move-in", "birth")]  # events that need a record


@pytest.mark.parametrize("type_, fields", CHANGES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CHANGES)])
def test_R_RES_1_events_for_unknown_and_foreign_residents_get_the_same_answer(api, platform, resident, type_, fields):
    """Regression (fixed in 70a4044): an unknown resident used to answer 409
    invalid-transition where another municipality's answers 404, which told a municipality
    which resident codes exist elsewhere."""
    before = table_counts(platform)
    foreign = post_event(api, "shinjuku", "probe-1", type_, R, "2026-03-01", **fields)
    unknown = post_event(api, "shinjuku", "probe-2", type_, UNKNOWN, "2026-03-01", **fields)
    assert (foreign.status_code, foreign.json()["error"]) == (unknown.status_code, unknown.json()["error"]) == (404, "not-found")
    assert foreign.json()["message"].replace(R, "X") == unknown.json()["message"].replace(UNKNOWN, "X")
    assert table_counts(platform) == before
