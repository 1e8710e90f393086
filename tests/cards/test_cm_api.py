"""The card-management API: who may do what, the public status lookup and QR path,
every refusal a specific 4xx that leaves nothing half-written (R-CARD-1..9)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cm_support import born, moved_in, pdf_qr_codes, photo
from myna_testing import table_counts

ADULT = "30000000001"
OTHER = "30000000002"
ADULT_DOB = dt.date(1990, 6, 15)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def form(code: str = ADULT, **over) -> dict:
    body = {
        "resident_code": code, "name": "佐藤 太郎", "date_of_birth": ADULT_DOB.isoformat(), "sex": "1",
        "address": "東京都千代田区千代田2-2", "photo_base64": b64(photo()),
    }  # fmt: skip
    body.update(over)
    return body


@pytest.fixture
def adult(platform, cm_api):
    moved_in(platform, ADULT, "佐藤 太郎", ADULT_DOB, dt.date(2026, 3, 1))
    return ADULT


def produced_card(cm_api, code: str = ADULT) -> tuple[str, str]:
    """Apply, produce, ship: returns (application id, card id)."""
    op = cm_api.headers_for("operator")
    r = cm_api.post("/api/v1/card-applications", json=form(code), headers=cm_api.headers_for("chiyoda"))
    assert r.status_code == 201 and r.json()["status"] == "accepted", r.text
    app_id = r.json()["application_id"]
    made = cm_api.post("/api/v1/production/batches", headers=op)
    assert made.status_code == 200 and made.json()[0]["produced"] == 1, made.text
    card_id = cm_api.get(f"/api/v1/card-applications/{app_id}", headers=op).json()["card_id"]
    return app_id, card_id


HANDOVER = {"identity_document": "driving-licence", "face_matches_photo": True, "pins": {"auth": "1234", "sign": "ABC123"}, "pins_entered_by": "holder"}


def test_public_status_lookup_needs_no_token_and_shows_no_personal_data(cm_api, adult):
    r = cm_api.post("/api/v1/card-applications", json=form(), headers=cm_api.headers_for("chiyoda"))
    receipt = r.json()["application_id"]
    status = cm_api.get(f"/api/v1/card-applications/{receipt}/status")
    assert status.status_code == 200
    body = status.json()
    assert body["status"] == "accepted" and body["due_on"] == "2026-04-15"  # 14 counted days (R-CARD-4)
    assert "佐藤" not in json.dumps(body, ensure_ascii=False) and ADULT not in json.dumps(body)
    assert cm_api.get("/api/v1/card-applications/AFFFFFFFFFFFFFFFF/status").status_code == 404
    assert cm_api.get("/api/v1/card-applications/" + "A" * 30 + "/status").status_code == 422
    # The full record needs a token, and a municipality sees only its own residents'.
    assert cm_api.get(f"/api/v1/card-applications/{receipt}").status_code == 401
    assert cm_api.get(f"/api/v1/card-applications/{receipt}", headers=cm_api.headers_for("shinjuku")).status_code == 404
    assert cm_api.get(f"/api/v1/card-applications/{receipt}", headers=cm_api.headers_for("chiyoda")).json()["resident_code"] == ADULT


def test_qr_path_through_the_api(platform, cm_api, tmp_path):
    """R-CARD-1/2: the mailed PDF's QR code applies, pre-filled; a forged token does not."""
    born(platform, "30000000005", "鈴木 一郎", dt.date(2026, 3, 25), sex=__import__("myna.pki.basic4", fromlist=["Sex"]).Sex.MALE)
    op = cm_api.headers_for("operator")
    assert cm_api.post("/api/v1/number-notices/mail", headers=cm_api.headers_for("chiyoda")).status_code == 403
    pdf = cm_api.post("/api/v1/number-notices/mail", headers=op)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    [code] = pdf_qr_codes(pdf.content, tmp_path)
    assert cm_api.post("/api/v1/number-notices/mail", headers=op).status_code == 204
    forged = code[:-4] + ("0000" if not code.endswith("0000") else "1111")
    before = table_counts(platform)
    assert cm_api.post("/api/v1/card-applications/qr", json={"qr": forged, "photo_base64": b64(photo())}).status_code == 404
    assert cm_api.post("/api/v1/card-applications/qr", json={"qr": "https://example.com/x", "photo_base64": b64(photo())}).status_code == 422
    assert cm_api.post("/api/v1/card-applications/qr", json={"qr": code, "photo_base64": "***"}).status_code == 422
    assert table_counts(platform) == before
    r = cm_api.post("/api/v1/card-applications/qr", json={"qr": code, "photo_base64": b64(photo()), "express": "newborn", "source_ref": "app-42"})
    assert r.status_code == 201 and r.json()["status"] == "accepted" and r.json()["express"] == "newborn", r.text
    again = cm_api.post("/api/v1/card-applications/qr", json={"qr": code, "photo_base64": b64(photo()), "express": "newborn", "source_ref": "app-42"})
    assert again.status_code == 200 and again.json()["application_id"] == r.json()["application_id"]
    changed = cm_api.post("/api/v1/card-applications/qr", json={"qr": code, "photo_base64": b64(photo(fmt="JPEG")), "source_ref": "app-42"})
    assert changed.status_code == 409 and changed.json()["error"] == "request-id-reused"
    notice_id = code.split("/")[2]
    assert cm_api.post(f"/api/v1/mailed-notices/{notice_id}/returned", json={"reason": "宛所に尋ねあたりません"}, headers=op).status_code == 200
    assert cm_api.post(f"/api/v1/mailed-notices/{notice_id}/returned", json={"reason": "again"}, headers=op).status_code == 409


def test_defects_are_recorded_with_a_receipt(platform, cm_api, adult):
    """R-CARD-2: mismatched data, photo missing or unusable, not a resident, duplicate."""
    h = cm_api.headers_for("chiyoda")
    op = cm_api.headers_for("operator")

    def defects(body, headers=h):
        r = cm_api.post("/api/v1/card-applications", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()["status"], [d["code"] for d in r.json()["defects"]]

    assert defects(form(name="佐藤 次郎")) == ("defective", ["name-mismatch"])
    assert defects(form(date_of_birth="1990-06-16", sex="2")) == ("defective", ["date-of-birth-mismatch", "sex-mismatch"])
    assert defects(form(photo_base64=None)) == ("defective", ["photo-missing"])
    assert defects(form(photo_base64=b64(photo(flat=True)))) == ("defective", ["photo-unusable"])
    assert defects(form(photo_base64=b64(photo(400, 300)))) == ("defective", ["photo-unusable"])  # landscape
    assert defects(form(photo_base64=b64(b"GIF89a not really"))) == ("defective", ["photo-unusable"])
    assert defects(form(OTHER), op) == ("defective", ["not-resident"])
    assert defects(form(express="abroad")) == ("accepted", [])  # moved in on 1 March: within 90 days
    assert defects(form(address="東京都千代田区千代田２－２")) == ("defective", ["duplicate"])  # full-width digits match; the duplicate does not
    assert defects(form(express="newborn")) == ("defective", ["duplicate", "express-not-eligible"])


def test_paper_import_refuses_a_bad_file_whole_and_imports_a_good_one_once(platform, cm_api, adult):
    op = cm_api.headers_for("operator")
    good = [dict(form(), form_id="scan-1"), dict(form(OTHER), form_id="scan-2")]
    for g in good:
        g.pop("photo_base64") if g["form_id"] == "scan-2" else None
    bad = good + ['{"form_id": "scan-3", ', dict(form(), form_id="scan-1"), dict(form(), form_id="scan-4", date_of_birth="1990-02-30"), dict(form(), form_id="scan-5", colour="red")]
    text = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in bad)
    before = table_counts(platform)
    r = cm_api.post("/api/v1/card-applications/paper", files={"file": ("forms.jsonl", text.encode())}, headers=op)
    assert r.status_code == 422, r.text
    lines = {x["line"]: x["message"] for x in r.json()["details"]["lines"]}
    assert lines == {3: "not valid JSON", 4: "form_id repeats line 1", 5: "date_of_birth '1990-02-30' is not a date YYYY-MM-DD", 6: "unknown field 'colour'"}
    assert table_counts(platform) == before
    payload = "\n".join(json.dumps(x, ensure_ascii=False) for x in good).encode()
    assert cm_api.post("/api/v1/card-applications/paper", files={"file": ("f.jsonl", payload)}, headers=cm_api.headers_for("chiyoda")).status_code == 403
    r = cm_api.post("/api/v1/card-applications/paper", files={"file": ("forms.jsonl", payload)}, headers=op)
    assert r.status_code == 200 and (r.json()["new"], r.json()["accepted"], r.json()["defective"]) == (2, 1, 1)
    again = cm_api.post("/api/v1/card-applications/paper", files={"file": ("forms.jsonl", payload)}, headers=op).json()
    assert (again["forms"], again["new"]) == (2, 0)


def test_counter_flow_refusals_and_call_centre_suspension(platform, cm_api, adult, tmp_path):
    """R-CARD-6: no handover before shipment, only the holder sets PINs, the face must
    match; R-CARD-7: the call centre suspends (certificates revoked), the counter lifts,
    certificates are renewed; a reissue needs an application."""
    op, h, call = cm_api.headers_for("operator"), cm_api.headers_for("chiyoda"), cm_api.headers_for("call-centre")
    app_id, card_id = produced_card(cm_api)
    before = table_counts(platform)
    r = cm_api.post(f"/api/v1/cards/{card_id}/handover", json=HANDOVER, headers=h)
    assert r.status_code == 409 and r.json()["error"] == "illegal-transition" and "shipped" in r.json()["message"]
    assert cm_api.get(f"/api/v1/cards/{card_id}/pickup-notice", headers=h).status_code == 409
    assert table_counts(platform) == before
    shipped = cm_api.post("/api/v1/shipments", headers=op).json()
    assert [s["cards"] for s in shipped] == [1]
    manifest = cm_api.get(f"/api/v1/shipments/{shipped[0]['shipment_id']}/manifest", headers=h).json()
    assert manifest["manifest"]["items"][0]["card_id"] == card_id
    assert cm_api.get(f"/api/v1/shipments/{shipped[0]['shipment_id']}/manifest", headers=cm_api.headers_for("shinjuku")).status_code == 404
    pickup = cm_api.get(f"/api/v1/cards/{card_id}/pickup-notice", headers=h)
    assert pickup.status_code == 200 and pickup.content.startswith(b"%PDF")

    before = table_counts(platform)
    for body, status, error in (
        ({**HANDOVER, "pins_entered_by": "clerk"}, 403, "forbidden"),
        ({**HANDOVER, "face_matches_photo": False}, 409, "conflict"),
        ({**HANDOVER, "identity_document": "library-card"}, 422, "invalid-input"),
        ({**HANDOVER, "pins": {"auth": "12345", "sign": "ABC123"}}, 422, "invalid-input"),
        ({**HANDOVER, "pins": {"auth": "1234"}}, 422, "invalid-input"),  # an adult's card has a signature certificate
    ):
        r = cm_api.post(f"/api/v1/cards/{card_id}/handover", json=body, headers=h)
        assert (r.status_code, r.json()["error"]) == (status, error), (body, r.text)
    assert cm_api.post(f"/api/v1/cards/{card_id}/handover", json=HANDOVER, headers=cm_api.headers_for("shinjuku")).status_code == 404
    assert table_counts(platform) == before
    r = cm_api.post(f"/api/v1/cards/{card_id}/handover", json=HANDOVER, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["pins_set"] == ["auth", "face", "sign"]
    card = cm_api.get(f"/api/v1/cards/{card_id}/management", headers=h).json()
    old = card["certificates"]
    assert card["card_expires_at"] == "2035-06-15T14:59:59+00:00"  # adult: 10th birthday after issuance (1st: 2026-06-15)

    assert cm_api.post(f"/api/v1/cards/{card_id}/suspend", json={}, headers=cm_api.headers_for("verifier")).status_code == 403
    r = cm_api.post(f"/api/v1/cards/{card_id}/suspend", json={"note": "lost at 3am"}, headers=call)
    assert r.status_code == 200 and sorted(r.json()["revoked"]) == sorted([old["auth"], old["sign"]])
    for kind in ("auth", "sign"):
        assert cm_api.get(f"/api/v1/certificates/{old[kind]}", headers=op).json()["status"] == "revoked"
    assert cm_api.post(f"/api/v1/cards/{card_id}/suspend", json={}, headers=call).status_code == 409
    assert cm_api.post(f"/api/v1/cards/{card_id}/lift", json={}, headers=call).status_code == 403
    r = cm_api.post(f"/api/v1/cards/{card_id}/reissue", json={}, headers=h)
    assert r.status_code == 409 and "application" in r.json()["message"]
    assert cm_api.post(f"/api/v1/cards/{card_id}/renew-certificates", headers=h).status_code == 409  # suspended
    assert cm_api.post(f"/api/v1/cards/{card_id}/lift", json={"note": "found"}, headers=h).json()["status"] == "active"
    r = cm_api.post(f"/api/v1/cards/{card_id}/renew-certificates", headers=h)
    assert r.status_code == 200, r.text
    new = r.json()["certificates"]
    assert new["card-auth"]["old"] == old["auth"] and new["card-auth"]["new"] != old["auth"] and r.json()["fee"] == "certificates-reissue"
    assert cm_api.get(f"/api/v1/certificates/{new['card-sign']['new']}", headers=op).json()["status"] == "valid"
    fees = cm_api.get("/api/v1/card-fees?outstanding=true", headers=h).json()
    assert [(f["item"], f["amount_yen"]) for f in fees] == [("certificates-reissue", 200)]
    assert cm_api.post(f"/api/v1/card-fees/{fees[0]['id']}/collect", headers=h).status_code == 200
    assert cm_api.post(f"/api/v1/card-fees/{fees[0]['id']}/collect", headers=h).status_code == 409


def test_bad_ids_and_bodies_are_4xx_never_500(cm_api, adult):
    h, op = cm_api.headers_for("chiyoda"), cm_api.headers_for("operator")
    for method, url, body in (
        ("post", "/api/v1/cards/zz/suspend", {}),
        ("post", "/api/v1/cards/0123456789ABCDEF/lift", {}),
        ("get", "/api/v1/cards/%00/management", None),
        ("post", "/api/v1/card-applications", {"resident_code": "1"}),
        ("post", "/api/v1/card-applications", form(resident_code="1234567890X")),
        ("post", "/api/v1/card-applications", form(reason="reissue")),
        ("post", "/api/v1/card-applications", form(date_of_birth="2026-13-01")),
        ("get", "/api/v1/lead-time/report?by=year", None),
        ("post", "/api/v1/card-fees/999/collect", None),
        ("get", "/api/v1/shipments/nope/manifest", None),
        ("post", "/api/v1/mailed-notices/N0/returned", {"reason": ""}),
    ):
        r = getattr(cm_api, method)(url, headers=op if "lead-time" in url or "mailed" in url else h, **({"json": body} if body is not None else {}))
        assert 400 <= r.status_code < 500, (url, r.status_code, r.text)
    assert cm_api.get("/api/v1/card-fees/schedule").json()[2] == {"item": "card-reissue", "amount_yen": 800, "description": "card reissued for the holder's reasons (loss, damage) (再交付手数料)"}


def test_lead_time_report_and_alerts(platform, cm_api, adult):
    op = cm_api.headers_for("operator")
    cm_api.post("/api/v1/card-applications", json=form(), headers=cm_api.headers_for("chiyoda"))
    assert cm_api.get("/api/v1/lead-time/alerts", headers=op).json() == []
    platform.clock.advance(dt.timedelta(days=13))
    [alert] = cm_api.get("/api/v1/lead-time/alerts", headers=op).json()
    assert alert["days_left"] == 1 and alert["status"] == "accepted"
    platform.clock.advance(dt.timedelta(days=2))
    assert cm_api.get("/api/v1/lead-time/alerts", headers=op).json()[0]["days_left"] == -1  # missed
    cm_api.post("/api/v1/production/batches", headers=op)
    cm_api.post("/api/v1/shipments", headers=op)
    report = cm_api.get("/api/v1/lead-time/report?by=month", headers=op).json()
    assert report == [{"period": "2026-04", "shipped": 1, "max_days": 15, "mean_days": 15.0, "over_deadline": 1}]
    assert cm_api.get("/api/v1/lead-time/report", headers=cm_api.headers_for("chiyoda")).status_code == 403


def test_chip_face_data_differing_from_the_printed_card_refuses_handover(platform, cm_api, adult):
    """R-CARD-6: the counter reads the chip's card-face data and compares it with what is
    printed; a card whose chip says something else is not handed over."""
    from myna.store.models_card_management import ManagedCard

    h = cm_api.headers_for("chiyoda")
    _, card_id = produced_card(cm_api)
    cm_api.post("/api/v1/shipments", headers=cm_api.headers_for("operator"))
    with platform.db.session() as s:
        row = s.get(ManagedCard, card_id)
        face = json.loads(row.printed_face)
        row.printed_face = json.dumps({**face, "address": "東京都千代田区千代田9-9"}, ensure_ascii=False)  # a misprinted card
    before = table_counts(platform)
    r = cm_api.post(f"/api/v1/cards/{card_id}/handover", json=HANDOVER, headers=h)
    assert r.status_code == 409 and "chip's card-face data differs from the printed card (address)" in r.json()["message"]
    assert table_counts(platform) == before
    assert cm_api.get(f"/api/v1/cards/{card_id}/management", headers=h).json()["status"] == "shipped"
    assert cm_api.post(f"/api/v1/cards/{card_id}/return", json={"note": "misprint"}, headers=h).json()["status"] == "returned"
