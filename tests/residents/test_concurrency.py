"""R-RA-4: change events for one resident are applied one at a time, on every store (SQLite
included). Events are posted from threads at the same moment to a live server (uvicorn in
a thread, the sync endpoints on its thread pool), so they really overlap in the store:

- ``death`` and ``planned-move-out`` together: the result is that of the two in sequence
  (the record ends ``deleted``), or one of them is refused; never ``moving-out`` after a
  death, and a later move-in never brings the dead back;
- N events together: the record's version goes up by exactly the number applied;
- two events with different dates together: the later-dated one may be applied first,
  the earlier one is then refused as out-of-order; the applied history is in date order;
- R-RA-3 for events under concurrency: one event id with different bodies gives one 201
  and 409 request-id-reused for the rest; with the same body, one 201 and the original
  answer (200, applied=false) for the rest, applied once.

The store is SQLite, or PostgreSQL when MYNA_TEST_DATABASE_URL is set (tests/conftest.py).
"""

from __future__ import annotations

import httpx
import pytest
from race_support import together
from residents_support import EVENTS, basic4_json

TRIALS = 15


def post_together(base: str, headers: dict, bodies: list[dict]) -> list[httpx.Response]:
    """Post every body from its own thread and connection, released together."""
    return together(base, [lambda c, body=body: c.post(EVENTS, json=body, headers=headers) for body in bodies])


def event(event_id: str, type_: str, code: str, effective: str, **fields) -> dict:
    return {"event_id": event_id, "type": type_, "resident_code": code, "effective_date": effective, **fields}


def record(base: str, headers: dict, code: str) -> dict:
    r = httpx.get(f"{base}/api/v1/residents/{code}", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def register(base: str, headers: dict, code: str) -> dict:
    r = httpx.post(
        base + EVENTS,
        json=event(f"reg-{code}", "move-in", code, "2026-01-05", basic4=basic4_json(), address="東京都千代田区千代田1-1"),
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return record(base, headers, code)


def test_R_RA_4_death_and_planned_move_out_together_never_leave_the_dead_moving_out(live_api):
    base, headers_for = live_api
    chiyoda, shinjuku, operator = headers_for("chiyoda"), headers_for("shinjuku"), headers_for("operator")
    outcomes = []
    for trial in range(TRIALS):
        code = f"3100000{trial:04d}"
        before = register(base, chiyoda, code)
        death, pmo = post_together(
            base,
            chiyoda,
            [
                event(f"death-{trial}", "death", code, "2026-03-01"),
                event(f"pmo-{trial}", "planned-move-out", code, "2026-03-01", planned_date="2026-03-20"),
            ],
        )
        outcomes.append((death.status_code, pmo.status_code))
        after = record(base, operator, code)
        # In sequence: planned-move-out then death gives deleted (both applied); death then
        # planned-move-out refuses the second (the resident is deleted).
        assert death.status_code == 201, death.text
        assert pmo.status_code in (201, 409), pmo.text
        if pmo.status_code == 409:
            assert pmo.json()["error"] == "invalid-transition", pmo.text
        assert after["status"] == "deleted", f"trial {trial}: the record ends {after['status']} after a death ({outcomes[-1]})"
        applied = sum(r.status_code == 201 for r in (death, pmo))
        assert after["version"] == before["version"] + applied, (
            f"trial {trial}: version {before['version']} -> {after['version']} for {applied} events"
        )
        assert [h["type"] for h in after["history"]][1:] == (["planned-move-out", "death"] if applied == 2 else ["death"])
        # The destination's move-in never reactivates the dead.
        late = httpx.post(
            base + EVENTS,
            json=event(f"in-{trial}", "move-in", code, "2026-03-25", basic4=basic4_json(), address="東京都新宿区西新宿2-8-1"),
            headers=shinjuku,
            timeout=30,
        )
        assert late.status_code in (404, 409), late.text
        assert record(base, operator, code)["status"] == "deleted"


def test_R_RA_4_n_events_together_raise_the_version_by_exactly_the_number_applied(live_api):
    base, headers_for = live_api
    chiyoda = headers_for("chiyoda")
    n = 8
    for trial in range(3):
        code = f"3200000{trial:04d}"
        before = register(base, chiyoda, code)
        names = [f"改名 {trial}-{i}" for i in range(n)]
        answers = post_together(
            base, chiyoda, [event(f"nc-{trial}-{i}", "name-change", code, "2026-03-01", name=names[i]) for i in range(n)]
        )
        assert all(a.status_code == 201 for a in answers), [a.text for a in answers if a.status_code != 201]
        after = record(base, chiyoda, code)
        assert after["version"] == before["version"] + n
        applied = [h for h in after["history"] if h["type"] == "name-change"]
        assert len(applied) == n
        # The record holds the name of the event applied last: nothing was overwritten by a stale read.
        assert after["name"] == names[int(applied[-1]["event_id"].rsplit("-", 1)[1])]


def test_R_RA_4_events_with_different_dates_together_apply_in_date_order_or_are_refused(live_api):
    base, headers_for = live_api
    chiyoda = headers_for("chiyoda")
    for trial in range(TRIALS):
        code = f"3300000{trial:04d}"
        before = register(base, chiyoda, code)
        later, earlier = post_together(
            base,
            chiyoda,
            [
                event(f"late-{trial}", "name-change", code, "2026-03-10", name="鈴木 花子"),
                event(f"early-{trial}", "address-change", code, "2026-03-01", address="東京都千代田区永田町1-7-1"),
            ],
        )
        assert later.status_code == 201, later.text
        assert earlier.status_code in (201, 409), earlier.text
        if earlier.status_code == 409:
            assert earlier.json()["error"] == "out-of-order", earlier.text
        after = record(base, chiyoda, code)
        dates = [h["effective_date"] for h in after["history"]]
        assert dates == sorted(dates), f"trial {trial}: applied out of date order: {dates}"
        applied = sum(r.status_code == 201 for r in (later, earlier))
        assert after["version"] == before["version"] + applied
        assert after["name"] == "鈴木 花子"
        assert after["address"] == ("東京都千代田区永田町1-7-1" if earlier.status_code == 201 else "東京都千代田区千代田1-1")


@pytest.mark.parametrize("same_body", [True, False], ids=["same-body", "different-bodies"])
def test_R_RA_3_one_event_id_posted_together_is_applied_once(live_api, same_body):
    base, headers_for = live_api
    chiyoda = headers_for("chiyoda")
    n = 6
    for trial in range(5):
        code = f"34{int(same_body)}0000{trial:04d}"
        before = register(base, chiyoda, code)
        bodies = [
            event(f"same-{trial}", "name-change", code, "2026-03-01", name="鈴木 花子" if same_body else f"改名 {i}") for i in range(n)
        ]
        answers = post_together(base, chiyoda, bodies)
        statuses = sorted(a.status_code for a in answers)
        assert statuses.count(201) == 1, statuses
        winner = next(a for a in answers if a.status_code == 201).json()
        others = [a for a in answers if a.status_code != 201]
        if same_body:
            assert all(a.status_code == 200 for a in others), [a.text for a in others]
            assert all(a.json() == {**winner, "applied": False} for a in others)
        else:
            assert all(a.status_code == 409 and a.json()["error"] == "request-id-reused" for a in others), [a.text for a in others]
        after = record(base, chiyoda, code)
        assert after["version"] == before["version"] + 1
        assert [h["event_id"] for h in after["history"]].count(f"same-{trial}") == 1
        if not same_body:
            won = bodies[[a.status_code for a in answers].index(201)]["name"]
            assert after["name"] == won


def test_R_RA_4_the_version_check_refuses_a_record_changed_after_it_was_read(platform, monkeypatch):
    """The belt behind the lock: a record changed between the read and the write (by a
    writer that did not take the lock; simulated here from inside the unit of work) makes
    the UPDATE ... WHERE version = <read> match nothing: the event is refused, nothing of
    it is written."""
    import datetime as dt
    from contextlib import contextmanager

    from myna_testing import table_counts
    from residents_support import CHIYODA, ev, register, registry
    from sqlalchemy import update

    from myna.errors import Conflict
    from myna.residents import registry as registry_module
    from myna.store import models as m

    reg = registry(platform)
    code = "35000000001"
    register(reg, code)
    sessions: list = []
    real_apply, real_write_session = registry_module.apply, platform.db.write_session

    @contextmanager
    def write_session():
        with real_write_session() as s:
            sessions.append(s)
            yield s

    def apply_then_someone_else_writes(state, event):
        outcome = real_apply(state, event)
        bump = update(m.ResidentRecord).where(m.ResidentRecord.resident_code == code).values(version=m.ResidentRecord.version + 1)
        sessions[-1].execute(bump, execution_options={"synchronize_session": False})
        return outcome

    monkeypatch.setattr(platform.db, "write_session", write_session)
    monkeypatch.setattr(registry_module, "apply", apply_then_someone_else_writes)
    before = table_counts(platform), reg.get(code, None)
    with pytest.raises(Conflict, match="concurrent change"):
        reg.submit(ev("nc-1", "name-change", code, CHIYODA, dt.date(2026, 3, 1), name="鈴木 花子"), actor="test")
    assert (table_counts(platform), reg.get(code, None)) == before
