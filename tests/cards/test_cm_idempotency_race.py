"""R-RA-3 for card applications, under concurrency, against a live server: a request
repeated with the same idempotency key (``source_ref``; a paper form's ``form_id``) gets
the original answer only if its content is the same, else 409; no caller ever receives an
application made for another request. Keys are scoped to who sends them (a municipality,
J-LIS's operators, the form a QR code belongs to), so a municipality reusing another's key
gets its own application and learns nothing of the other's.

Every test runs several trials of callers released together by a barrier, on SQLite and
(with MYNA_TEST_DATABASE_URL) on PostgreSQL.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid

import pytest
from cm_support import CHIYODA, SHINJUKU, moved_in, photo
from race_support import live_server, together
from sqlalchemy import func, select

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.cards.applications import Applications
from myna.cards.notices import qr_payload
from myna.store.models_card_management import CardApplication, MailedNotice
from myna.wiring import build

TRIALS = 4
THREADS = 12
DOB = dt.date(1990, 6, 15)
# Two residents of Chiyoda, two of Shinjuku (the resident code decides whose an application is).
C1, C2, S1, S2 = "31000000001", "31000000002", "32000000001", "32000000002"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def body(code: str, source_ref: str, **over) -> dict:
    out = {
        "resident_code": code,
        "name": f"住民 {code[-1]}",
        "date_of_birth": DOB.isoformat(),
        "sex": "1",
        "address": "東京都千代田区千代田2-2" if code.startswith("31") else "東京都新宿区西新宿2-8-1",
        "photo_base64": b64(photo()),
        "source_ref": source_ref,
    }
    out.update(over)
    return out


@pytest.fixture
def town(platform, cm_api):
    """Residents of two municipalities and a token for each municipality and J-LIS."""
    for code in (C1, C2):
        moved_in(platform, code, f"住民 {code[-1]}", DOB, dt.date(2026, 3, 1))
    for code in (S1, S2):
        moved_in(platform, code, f"住民 {code[-1]}", DOB, dt.date(2026, 3, 1), municipality=SHINJUKU, address="東京都新宿区西新宿2-8-1")
    tokens = Tokens(platform)
    return {
        "chiyoda": {"Authorization": f"Bearer {tokens.create(Role.MUNICIPALITY, 'race', CHIYODA)}"},
        "shinjuku": {"Authorization": f"Bearer {tokens.create(Role.MUNICIPALITY, 'race', SHINJUKU)}"},
        "operator": {"Authorization": f"Bearer {tokens.create(Role.OPERATOR, 'race')}"},
    }


def resident_of(platform, application_id: str) -> str:
    with platform.db.session() as s:
        return s.get(CardApplication, application_id).resident_code


def rows_with(platform, source_ref: str) -> list[CardApplication]:
    with platform.db.session() as s:
        return list(s.scalars(select(CardApplication).where(CardApplication.source_ref == source_ref)))


def test_r_ra_3_online_same_key_from_two_municipalities_each_gets_its_own_application(platform, town):
    """Chiyoda and Shinjuku send the same source_ref at the same moment, each for its own
    resident: every answer is the caller's own application (201 once, then 200), never the
    other's and never a 409 that would tell one municipality the other used the key."""
    with live_server(platform) as url:
        for _ in range(TRIALS):
            ref = f"race-{uuid.uuid4().hex[:8]}"
            who = ["chiyoda", "shinjuku"] * (THREADS // 2)
            sent = {"chiyoda": body(C1, ref), "shinjuku": body(S1, ref)}
            got = together(url, [lambda c, w=w: c.post("/api/v1/card-applications", json=sent[w], headers=town[w]) for w in who])
            ids: dict[str, set[str]] = {"chiyoda": set(), "shinjuku": set()}
            for w, r in zip(who, got, strict=True):
                assert r.status_code in (200, 201), (w, r.status_code, r.text)
                ids[w].add(r.json()["application_id"])
            for w, code in (("chiyoda", C1), ("shinjuku", S1)):
                assert len(ids[w]) == 1, ids
                assert resident_of(platform, next(iter(ids[w]))) == code
            assert sorted(r.resident_code for r in rows_with(platform, ref)) == [C1, S1]
            assert sorted(r.status_code for r in got).count(201) == 2


def test_r_ra_3_online_same_key_different_bodies_one_municipality_own_or_409(platform, town):
    """One municipality, one source_ref, two different applications (for two residents)
    at once: exactly one is recorded; each caller gets it only if it is what they sent,
    the others 409 request-id-reused."""
    with live_server(platform) as url:
        for _ in range(TRIALS):
            ref = f"race-{uuid.uuid4().hex[:8]}"
            mine = [C1, C2] * (THREADS // 2)
            got = together(
                url,
                [lambda c, code=code: c.post("/api/v1/card-applications", json=body(code, ref), headers=town["chiyoda"]) for code in mine],
            )
            [row] = rows_with(platform, ref)
            for code, r in zip(mine, got, strict=True):
                if r.status_code == 409:
                    assert r.json()["error"] == "request-id-reused", r.text
                    assert code != row.resident_code
                else:
                    assert r.status_code in (200, 201), r.text
                    assert r.json()["application_id"] == row.application_id and code == row.resident_code
            assert [r.status_code for r in got].count(201) == 1


def test_r_ra_3_online_same_key_same_body_all_get_the_one_application(platform, town):
    with live_server(platform) as url:
        for _ in range(TRIALS):
            ref = f"race-{uuid.uuid4().hex[:8]}"
            sent = body(C1, ref)
            got = together(url, [lambda c: c.post("/api/v1/card-applications", json=sent, headers=town["chiyoda"]) for _ in range(THREADS)])
            [row] = rows_with(platform, ref)
            assert sorted(r.status_code for r in got) == [200] * (THREADS - 1) + [201], [r.text for r in got]
            assert {r.json()["application_id"] for r in got} == {row.application_id}


def test_r_ra_3_a_municipality_reusing_anothers_key_learns_nothing(platform, town, cm_api):
    """Without a race: Shinjuku reusing Chiyoda's source_ref gets its own new application;
    Chiyoda's retry still answers Chiyoda's, and a changed retry is a 409 to Chiyoda only."""
    first = cm_api.post("/api/v1/card-applications", json=body(C1, "shared-ref"), headers=town["chiyoda"])
    assert first.status_code == 201, first.text
    other = cm_api.post("/api/v1/card-applications", json=body(S1, "shared-ref"), headers=town["shinjuku"])
    assert other.status_code == 201 and other.json()["application_id"] != first.json()["application_id"], other.text
    again = cm_api.post("/api/v1/card-applications", json=body(C1, "shared-ref"), headers=town["chiyoda"])
    assert again.status_code == 200 and again.json()["application_id"] == first.json()["application_id"]
    changed = cm_api.post("/api/v1/card-applications", json=body(C2, "shared-ref"), headers=town["chiyoda"])
    assert changed.status_code == 409 and changed.json()["error"] == "request-id-reused"
    # J-LIS's operators have a scope of their own as well.
    op = cm_api.post("/api/v1/card-applications", json=body(C2, "shared-ref"), headers=town["operator"])
    assert op.status_code == 201 and resident_of(platform, op.json()["application_id"]) == C2


def _forms(platform) -> dict[str, str]:
    """The QR text of every mailed notice, by resident code."""
    Applications(platform).mail_notices("test")
    with platform.db.session() as s:
        return {n.resident_code: qr_payload(n.notice_id, n.form_token) for n in s.scalars(select(MailedNotice))}


def test_r_ra_3_qr_same_key_two_forms_each_gets_its_own_and_one_form_own_or_409(platform, town):
    """The public QR path: the key is scoped to the form (whose token is the credential).
    Two holders' forms with one source_ref at once: each its own application. One form,
    one source_ref, two different photos at once: one recorded, the other caller 409."""
    from myna.pki.basic4 import Basic4, Sex
    from myna.residents.events import ChangeEvent, EventType

    reg = build(platform).registry
    for code in ("31000000011", "31000000012"):
        reg.submit(
            ChangeEvent(
                event_id=f"birth-{code}",
                type=EventType.BIRTH,
                resident_code=code,
                municipality_code=CHIYODA,
                effective_date=dt.date(2026, 3, 25),
                basic4=Basic4(f"赤子 {code[-1]}", dt.date(2026, 3, 25), Sex.MALE, "東京都千代田区千代田1-1"),
            ),
            actor="test",
        )
    forms = _forms(platform)
    qr_a, qr_b = forms["31000000011"], forms["31000000012"]
    with live_server(platform) as url:
        for trial in range(TRIALS):
            ref = f"app-{trial}"
            sent = [{"qr": qr_a if i % 2 else qr_b, "photo_base64": b64(photo()), "source_ref": ref} for i in range(THREADS)]
            got = together(url, [lambda c, b=b: c.post("/api/v1/card-applications/qr", json=b) for b in sent])
            by_form: dict[str, set[str]] = {qr_a: set(), qr_b: set()}
            for b, r in zip(sent, got, strict=True):
                assert r.status_code in (200, 201), r.text
                by_form[b["qr"]].add(r.json()["application_id"])
            assert all(len(v) == 1 for v in by_form.values()) and by_form[qr_a] != by_form[qr_b]
            assert resident_of(platform, next(iter(by_form[qr_a]))) == "31000000011"
        for trial in range(TRIALS):
            ref = f"photo-{trial}"
            photos = [photo() if i % 2 else photo(fmt="JPEG") for i in range(THREADS)]
            got = together(
                url,
                [
                    lambda c, p=p: c.post("/api/v1/card-applications/qr", json={"qr": qr_a, "photo_base64": b64(p), "source_ref": ref})
                    for p in photos
                ],
            )
            [row] = rows_with(platform, ref)
            for p, r in zip(photos, got, strict=True):
                if r.status_code == 409:
                    assert r.json()["error"] == "request-id-reused" and p != row.photo
                else:
                    assert r.status_code in (200, 201) and r.json()["application_id"] == row.application_id and p == row.photo, r.text


def test_r_ra_3_paper_imports_at_once_record_each_form_once_and_refuse_a_changed_form(platform, town):
    """Paper forms (key: the scan's form_id): the same file imported by several operators
    at once records each form once; a file whose form has other content under the same
    form_id, sent at the same moment, gets 409 or the application it sent, never another."""
    with live_server(platform) as url:
        for trial in range(TRIALS):
            forms = [dict(body(code, "x"), form_id=f"scan-{trial}-{code}") for code in (C1, C2)]
            for f in forms:
                f.pop("source_ref")
            same = "\n".join(json.dumps(f, ensure_ascii=False) for f in forms).encode()
            changed = json.dumps(dict(forms[0], name="別人 花子"), ensure_ascii=False).encode()
            files = [same if i % 3 else changed for i in range(THREADS)]
            got = together(
                url,
                [
                    lambda c, f=f: c.post("/api/v1/card-applications/paper", files={"file": ("f.jsonl", f)}, headers=town["operator"])
                    for f in files
                ],
            )
            [first] = rows_with(platform, f"paper:scan-{trial}-{C1}")
            second = rows_with(platform, f"paper:scan-{trial}-{C2}")  # none if the changed file won the first form
            original = first.name == forms[0]["name"]
            for f, r in zip(files, got, strict=True):
                if r.status_code == 409:
                    assert r.json()["error"] == "request-id-reused"
                    assert (f == same) != original, "a 409 only for the file that lost"
                    continue
                assert r.status_code == 200, r.text
                ids = [x["application_id"] for x in r.json()["receipts"]]
                assert ids[0] == first.application_id and (f == same) == original
                if f == same:
                    assert [ids[1]] == [x.application_id for x in second]


def _counter_post(client, cookie: str, code: str, ref: str):
    b = body(code, ref)
    data = {k: b[k] for k in ("resident_code", "name", "date_of_birth", "sex", "address")} | {"source_ref": ref, "reason": "new"}
    return client.post(
        "/ui/counter/applications",
        data=data,
        files={"photo": ("p.png", photo(), "image/png")},
        headers={"Cookie": f"myna_session={cookie}"},
    )


def test_r_ra_3_counter_same_key_from_two_municipalities_each_gets_its_own(platform, town):
    """The counter screen (窓口): clerks of two municipalities submitting one source_ref
    at once each get a receipt for their own resident."""
    from myna.web.ui.frame import SESSION_COOKIE

    tokens = Tokens(platform)
    cookies = {
        "chiyoda": tokens.create(Role.MUNICIPALITY, "clerk-c", CHIYODA),
        "shinjuku": tokens.create(Role.MUNICIPALITY, "clerk-s", SHINJUKU),
    }
    assert SESSION_COOKIE == "myna_session"
    receipt = re.compile(r"A[0-9A-F]{16}")
    with live_server(platform) as url:
        for _ in range(TRIALS):
            ref = f"counter-{uuid.uuid4().hex}"
            who = ["chiyoda", "shinjuku"] * (THREADS // 2)
            code = {"chiyoda": C1, "shinjuku": S1}
            got = together(url, [lambda c, w=w: _counter_post(c, cookies[w], code[w], ref) for w in who])
            for w, r in zip(who, got, strict=True):
                assert r.status_code == 200, (w, r.status_code, r.text[-2000:])
                [app_id] = set(receipt.findall(r.text))
                assert resident_of(platform, app_id) == code[w]
            with platform.db.session() as s:
                assert s.scalar(select(func.count()).select_from(CardApplication).where(CardApplication.source_ref == ref)) == 2
