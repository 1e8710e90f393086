"""R-RA-2: a birth or a first move-in naming a resident code registered elsewhere gets one
refusal (409 resident-code-in-use) that names no municipality and shows nothing of the
record, and a malformed event answers the same 422 as with an unused code. It used to answer 404 "no resident", while an unused code
answered 201: the 404 told that the code belonged to someone elsewhere."""

from __future__ import annotations

UNUSED = "40000000009"
THEIRS = "40000000001"  # Shinjuku's resident
GONE = "40000000002"  # Shinjuku's resident, deceased
B4 = {"name": "山田 花子", "date_of_birth": "2026-03-01", "sex": "2", "address": "東京都千代田区千代田1-1"}


def event(n: str, kind: str, code: str, **over) -> dict:
    body = {
        "event_id": f"{kind}-{code}-{n}",
        "type": kind,
        "resident_code": code,
        "effective_date": "2026-03-01",
        "basic4": B4,
        "address": B4["address"],
    }
    body.update(over)
    return body


def post(api, who: str, body: dict):
    return api.post("/api/v1/residents/events", json=body, headers=api.headers_for(who))


def test_r_ra_2_a_birth_or_move_in_with_a_code_in_use_elsewhere_answers_as_for_ones_own(api):
    assert post(api, "shinjuku", event("0", "birth", THEIRS)).status_code == 201
    assert post(api, "shinjuku", event("0", "birth", GONE)).status_code == 201
    assert (
        post(api, "shinjuku", {"event_id": "death-0", "type": "death", "resident_code": GONE, "effective_date": "2026-03-02"}).status_code
        == 201
    )
    for kind in ("birth", "move-in"):
        theirs = post(api, "chiyoda", event("1", kind, THEIRS))
        assert theirs.status_code == 409 and theirs.json()["error"] == "resident-code-in-use", theirs.text
        assert "131041" not in theirs.text and "131016" not in theirs.text
        # The same for a resident elsewhere who died: nothing of the record shows through.
        dead = post(api, "chiyoda", event("1", kind, GONE))
        assert (dead.status_code, dead.json()["message"].replace(GONE, "<code>")) == (
            409,
            theirs.json()["message"].replace(THEIRS, "<code>"),
        )
        # A malformed event: the same 422 as for an unused code, before anything about the code.
        bad = {"basic4": {**B4, "date_of_birth": "2026-02-01"}} if kind == "birth" else {"basic4": None}
        unused, used = post(api, "chiyoda", event("2", kind, UNUSED, **bad)), post(api, "chiyoda", event("2", kind, THEIRS, **bad))
        assert unused.status_code == used.status_code == 422, (unused.text, used.text)
        assert unused.json()["message"].replace(UNUSED, "<code>") == used.json()["message"].replace(THEIRS, "<code>")
    # Nothing was written about Shinjuku's resident.
    record = api.get(f"/api/v1/residents/{THEIRS}", headers=api.headers_for("shinjuku")).json()
    assert record["municipality_code"] == "131041" and len(record["history"]) == 1
