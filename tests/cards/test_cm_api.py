"""The card-management API: who may do what, the public status lookup and QR path,
every refusal a specific 4xx that leaves nothing half-written (R-CARD-1..9)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest
from cm_support import CHIYODA, born, moved_in, pdf_qr_codes, photo
from myna_testing import table_counts
from sqlalchemy import select

from myna.residents.events import ChangeEvent, EventType
from myna.wiring import build

ADULT = "30000000001"
OTHER = "30000000002"
ADULT_DOB = dt.date(1990, 6, 15)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def form(code: str = ADULT, **over) -> dict:
    body = {
        "resident_code": code,
        "name": "佐藤 太郎",
        "date_of_birth": ADULT_DOB.isoformat(),
        "sex": "1",
        "address": "東京都千代田区千代田2-2",
        "photo_base64": b64(photo()),
    }
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


HANDOVER = {
    "identity_document": "driving-licence",
    "face_matches_photo": True,
    "pins": {"auth": "1234", "sign": "ABC123"},
    "pins_entered_by": "holder",
}


def active_card(cm_api, code: str = ADULT) -> tuple[str, str, dict]:
    """Apply, produce, ship, hand over: returns (application id, card id, {"auth": serial, "sign": serial})."""
    h = cm_api.headers_for("chiyoda")
    app_id, card_id = produced_card(cm_api, code)
    assert cm_api.post("/api/v1/shipments", headers=cm_api.headers_for("operator")).status_code == 200
    r = cm_api.post(f"/api/v1/cards/{card_id}/handover", json=HANDOVER, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    return app_id, card_id, cm_api.get(f"/api/v1/cards/{card_id}/management", headers=h).json()["certificates"]


def certificate(cm_api, serial: str) -> dict:
    r = cm_api.get(f"/api/v1/certificates/{serial}", headers=cm_api.headers_for("operator"))
    assert r.status_code == 200, r.text
    return r.json()


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
    assert (
        cm_api.post("/api/v1/card-applications/qr", json={"qr": "https://example.com/x", "photo_base64": b64(photo())}).status_code == 422
    )
    assert cm_api.post("/api/v1/card-applications/qr", json={"qr": code, "photo_base64": "***"}).status_code == 422
    assert table_counts(platform) == before
    r = cm_api.post(
        "/api/v1/card-applications/qr", json={"qr": code, "photo_base64": b64(photo()), "express": "newborn", "source_ref": "app-42"}
    )
    assert r.status_code == 201 and r.json()["status"] == "accepted" and r.json()["express"] == "newborn", r.text
    again = cm_api.post(
        "/api/v1/card-applications/qr", json={"qr": code, "photo_base64": b64(photo()), "express": "newborn", "source_ref": "app-42"}
    )
    assert again.status_code == 200 and again.json()["application_id"] == r.json()["application_id"]
    changed = cm_api.post("/api/v1/card-applications/qr", json={"qr": code, "photo_base64": b64(photo(fmt="JPEG")), "source_ref": "app-42"})
    assert changed.status_code == 409 and changed.json()["error"] == "request-id-reused"
    notice_id = code.split("/")[2]
    assert (
        cm_api.post(f"/api/v1/mailed-notices/{notice_id}/returned", json={"reason": "宛所に尋ねあたりません"}, headers=op).status_code
        == 200
    )
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
    assert defects(form(address="東京都千代田区千代田3-3")) == ("defective", ["address-mismatch"])
    assert defects(form(address="東京都千代田区千代田2-22")) == ("defective", ["address-mismatch"])  # a prefix is no match
    assert defects(form(date_of_birth="1990-06-16", sex="2")) == ("defective", ["date-of-birth-mismatch", "sex-mismatch"])
    assert defects(form(photo_base64=None)) == ("defective", ["photo-missing"])
    assert defects(form(photo_base64=b64(photo(flat=True)))) == ("defective", ["photo-unusable"])
    assert defects(form(photo_base64=b64(photo(400, 300)))) == ("defective", ["photo-unusable"])  # landscape
    assert defects(form(photo_base64=b64(b"GIF89a not really"))) == ("defective", ["photo-unusable"])
    assert defects(form(OTHER), op) == ("defective", ["not-resident"])
    assert defects(form(express="abroad")) == ("accepted", [])  # moved in on 1 March: within 90 days
    assert defects(form(address="東京都千代田区千代田２－２")) == (
        "defective",
        ["duplicate"],
    )  # full-width digits match; the duplicate does not
    assert defects(form(express="newborn")) == ("defective", ["duplicate", "express-not-eligible"])


def test_paper_import_refuses_a_bad_file_whole_and_imports_a_good_one_once(platform, cm_api, adult):
    op = cm_api.headers_for("operator")
    good = [dict(form(), form_id="scan-1"), dict(form(OTHER), form_id="scan-2")]
    for g in good:
        g.pop("photo_base64") if g["form_id"] == "scan-2" else None
    bad = good + [
        '{"form_id": "scan-3", ',
        dict(form(), form_id="scan-1"),
        dict(form(), form_id="scan-4", date_of_birth="1990-02-30"),
        dict(form(), form_id="scan-5", colour="red"),
    ]
    text = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in bad)
    before = table_counts(platform)
    r = cm_api.post("/api/v1/card-applications/paper", files={"file": ("forms.jsonl", text.encode())}, headers=op)
    assert r.status_code == 422, r.text
    lines = {x["line"]: x["message"] for x in r.json()["details"]["lines"]}
    assert lines == {
        3: "not valid JSON",
        4: "form_id repeats line 1",
        5: "date_of_birth '1990-02-30' is not a date YYYY-MM-DD",
        6: "unknown field 'colour'",
    }
    assert table_counts(platform) == before
    payload = "\n".join(json.dumps(x, ensure_ascii=False) for x in good).encode()
    assert (
        cm_api.post(
            "/api/v1/card-applications/paper", files={"file": ("f.jsonl", payload)}, headers=cm_api.headers_for("chiyoda")
        ).status_code
        == 403
    )
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
    assert manifest["manifest"]["items"] == [{"card_id": card_id, "application_id": app_id}]
    assert (manifest["manifest"]["cards"], manifest["manifest"]["municipality_code"]) == (1, CHIYODA)
    # The digest is the SHA-256 of the manifest's canonical JSON (sorted keys, UTF-8): recomputed here.
    canonical = json.dumps(manifest["manifest"], ensure_ascii=False, sort_keys=True).encode()
    assert hashlib.sha256(canonical).hexdigest() == manifest["manifest_sha256"] == shipped[0]["manifest_sha256"]
    tampered = json.dumps({**manifest["manifest"], "cards": 2}, ensure_ascii=False, sort_keys=True).encode()
    assert hashlib.sha256(tampered).hexdigest() != manifest["manifest_sha256"]
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
    # R-CARD-6: the handover is the municipality's counter: J-LIS operators and the call centre may not.
    for who in ("operator", "call-centre", "auditor"):
        r = cm_api.post(f"/api/v1/cards/{card_id}/handover", json=HANDOVER, headers=cm_api.headers_for(who))
        assert (r.status_code, r.json()["error"]) == (403, "forbidden"), (who, r.text)
    assert cm_api.post(f"/api/v1/cards/{card_id}/handover", json=HANDOVER).status_code == 401
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
        r = getattr(cm_api, method)(
            url, headers=op if "lead-time" in url or "mailed" in url else h, **({"json": body} if body is not None else {})
        )
        assert 400 <= r.status_code < 500, (url, r.status_code, r.text)
    assert cm_api.get("/api/v1/card-fees/schedule").json()[2] == {
        "item": "card-reissue",
        "amount_yen": 800,
        "description": "card reissued for the holder's reasons (loss, damage) (再交付手数料)",
    }


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
    card = cm_api.get(f"/api/v1/cards/{card_id}/management", headers=h).json()
    assert card["status"] == "shipped"
    # R-CARD-7: the returned card (返納) takes both certificates with it: revoked at once (R-REV-1).
    r = cm_api.post(f"/api/v1/cards/{card_id}/return", json={"note": "misprint"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "returned" and r.json()["previous"] == "shipped"
    assert sorted(r.json()["revoked"]) == sorted(card["certificates"].values()) and len(r.json()["revoked"]) == 2
    for serial in card["certificates"].values():
        c = certificate(cm_api, serial)
        assert (c["status"], c["revocation_reason"]) == ("revoked", "request") and c["revoked_at"] is not None
    assert cm_api.get(f"/api/v1/cards/{card_id}/management", headers=h).json()["history"][-1]["revoked"] == r.json()["revoked"]
    assert cm_api.post(f"/api/v1/cards/{card_id}/return", json={}, headers=h).status_code == 409  # once


def test_r_card_7_loss_from_active_revokes_both_certificates_and_abolition_revokes_nothing_twice(platform, cm_api, adult):
    """R-CARD-7: a card reported lost (紛失届) while active has both certificates revoked at
    once (R-REV-1, reason request); abolishing it afterwards finds nothing left to revoke."""
    h = cm_api.headers_for("chiyoda")
    _, card_id, certs = active_card(cm_api)
    assert {certificate(cm_api, s)["status"] for s in certs.values()} == {"valid"}
    assert cm_api.post(f"/api/v1/cards/{card_id}/loss", json={}, headers=cm_api.headers_for("shinjuku")).status_code == 404
    assert cm_api.post(f"/api/v1/cards/{card_id}/loss", json={}, headers=cm_api.headers_for("auditor")).status_code == 403
    r = cm_api.post(f"/api/v1/cards/{card_id}/loss", json={"note": "紛失届"}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["previous"], r.json()["status"]) == ("active", "lost")
    assert sorted(r.json()["revoked"]) == sorted(certs.values()) and len(certs) == 2
    for serial in certs.values():
        c = certificate(cm_api, serial)
        assert (c["status"], c["revocation_reason"]) == ("revoked", "request")
    again = cm_api.post(f"/api/v1/cards/{card_id}/loss", json={}, headers=h)
    assert again.status_code == 409 and again.json()["error"] == "illegal-transition" and "lost" in again.json()["message"]
    done = cm_api.post(f"/api/v1/cards/{card_id}/abolish", json={"note": "not found"}, headers=h).json()
    assert (done["previous"], done["status"], done["revoked"]) == ("lost", "abolished", [])
    history = cm_api.get(f"/api/v1/cards/{card_id}/management", headers=h).json()["history"]
    assert [(x["from"], x["to"]) for x in history[-2:]] == [("active", "lost"), ("lost", "abolished")]
    assert sorted(history[-2]["revoked"]) == sorted(certs.values()) and history[-1]["revoked"] == []


def test_r_card_7_abolish_by_endpoint_and_by_card_management_revokes_the_certificates(platform, cm_api, adult, keygen):
    """R-CARD-7: abolition (廃止) through the API (the municipality, or J-LIS) and through
    CardManagement.abolish revokes the card's certificates still in effect; a card
    abolished stays so."""
    from myna.cards.card_status import IllegalTransition
    from myna.errors import NotFound

    h = cm_api.headers_for("chiyoda")
    _, card_id, certs = active_card(cm_api)
    for who, status in (("call-centre", 403), ("auditor", 403), ("shinjuku", 404)):
        assert cm_api.post(f"/api/v1/cards/{card_id}/abolish", json={}, headers=cm_api.headers_for(who)).status_code == status, who
    r = cm_api.post(f"/api/v1/cards/{card_id}/abolish", json={"note": "damaged"}, headers=h)
    assert r.status_code == 200 and (r.json()["previous"], r.json()["status"]) == ("active", "abolished")
    assert sorted(r.json()["revoked"]) == sorted(certs.values())
    assert {certificate(cm_api, s)["status"] for s in certs.values()} == {"revoked"}
    again = cm_api.post(f"/api/v1/cards/{card_id}/abolish", json={}, headers=cm_api.headers_for("operator"))
    assert again.status_code == 409 and again.json()["error"] == "illegal-transition"

    # A card still at the factory (produced, never shipped), abolished by J-LIS in Python.
    moved_in(platform, OTHER, "佐藤 太郎", ADULT_DOB, dt.date(2026, 3, 1))
    _, second = produced_card(cm_api, OTHER)
    serials_ = build(platform).chips.get(second).to_json()["certificates"]
    assert set(serials_) == {"auth", "sign"}
    done = build(platform, keygen=keygen).card_management.abolish(second, "jlis-factory", note="chip fault")
    assert (done["previous"], done["status"]) == ("produced", "abolished")
    assert sorted(done["revoked"]) == sorted(serials_.values())
    for serial in serials_.values():
        c = certificate(cm_api, serial)
        assert (c["status"], c["revocation_reason"]) == ("revoked", "request")
    assert build(platform).chips.get(second).status == "abolished"
    with pytest.raises(IllegalTransition, match="abolished"):
        build(platform, keygen=keygen).card_management.abolish(second, "jlis-factory")
    with pytest.raises(NotFound, match="no such card|no card"):
        build(platform, keygen=keygen).card_management.abolish(card_id, "clerk", municipality_code="131041")  # another municipality's card


def test_r_card_4_express_from_abroad_within_90_days_has_a_5_day_deadline_and_is_refused_after(platform, cm_api):
    """R-CARD-4: express issuance (特急発行) for people moving in from abroad: 5 counted days
    instead of 14. Eligible (a choice, defects.ABROAD_DAYS) within 90 days of the move-in
    that put them on the register; the 91st day is too late, and a resident whose first
    register event is a birth never moved in from abroad."""
    h = cm_api.headers_for("chiyoda")
    received = dt.date(2026, 4, 1)  # the tests' clock: 2026-04-01 JST
    cases = (
        ("30000000011", received - dt.timedelta(days=90), "accepted", [], "abroad", "2026-04-06"),
        ("30000000012", received - dt.timedelta(days=91), "defective", ["express-not-eligible"], None, "2026-04-15"),
    )
    for code, moved, status, found, express, due in cases:
        moved_in(platform, code, "佐藤 太郎", ADULT_DOB, moved)
        r = cm_api.post("/api/v1/card-applications", json=form(code, express="abroad"), headers=h)
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["status"], [d["code"] for d in body["defects"]], body["express"], body["due_on"]) == (status, found, express, due), (
            code
        )
    born(platform, "30000000013", "佐藤 花子", dt.date(2026, 3, 20))
    r = cm_api.post(
        "/api/v1/card-applications",
        json=form(
            "30000000013", name="佐藤 花子", date_of_birth="2026-03-20", sex="2", address="東京都千代田区千代田1-1", express="abroad"
        ),
        headers=h,
    )
    assert [d["code"] for d in r.json()["defects"]] == ["express-not-eligible"] and r.json()["due_on"] == "2026-04-15"

    # The 5-day deadline is the one the clock runs against: produced and shipped on day 5, within it.
    [accepted] = cm_api.get("/api/v1/lead-time/alerts?within=30", headers=cm_api.headers_for("operator")).json()  # the only one accepted
    assert (accepted["express"], accepted["due_on"], accepted["days_left"]) == (True, "2026-04-06", 5)
    platform.clock.advance(dt.timedelta(days=5))
    cm_api.post("/api/v1/production/batches", headers=cm_api.headers_for("operator"))
    cm_api.post("/api/v1/shipments", headers=cm_api.headers_for("operator"))
    shipped = cm_api.get(f"/api/v1/card-applications/{accepted['application_id']}", headers=h).json()
    assert (shipped["status"], shipped["lead_days"]) == ("shipped", 5)
    report = cm_api.get("/api/v1/lead-time/report", headers=cm_api.headers_for("operator")).json()
    assert [(x["period"], x["shipped"], x["max_days"], x["over_deadline"]) for x in report] == [("2026-04-06", 1, 5, 0)]


def test_r_card_9_a_cancelled_applications_fees_are_waived_not_deleted(platform, cm_api, adult):
    """R-CARD-9: a reissue application brings 800 + 200 yen; the holder dies before
    production, the application is cancelled (R-CERT-4) and its unpaid fees are waived:
    still on record with their amounts, no longer outstanding, not collectable, and the
    waiver is an audit event."""
    from myna.store import models as m
    from myna.store.models_card_management import CardFee

    h, op = cm_api.headers_for("chiyoda"), cm_api.headers_for("operator")
    _, card_id, _ = active_card(cm_api)
    assert cm_api.post(f"/api/v1/cards/{card_id}/loss", json={}, headers=h).status_code == 200
    r = cm_api.post(f"/api/v1/cards/{card_id}/reissue", json={"application": form(express="loss")}, headers=h)
    assert r.status_code == 201 and r.json()["status"] == "accepted", r.text
    reissue = r.json()["application_id"]
    due = [f for f in cm_api.get("/api/v1/card-fees?outstanding=true", headers=h).json()]
    assert sorted((f["item"], f["amount_yen"], f["status"]) for f in due) == [
        ("card-reissue", 800, "outstanding"),
        ("certificates-reissue", 200, "outstanding"),
    ]
    build(platform).registry.submit(ChangeEvent("death-adult", EventType.DEATH, ADULT, CHIYODA, dt.date(2026, 4, 1)), actor="test")
    made = cm_api.post("/api/v1/production/batches", headers=op).json()
    assert [(b["produced"], b["cancelled"]) for b in made] == [(0, 1)]
    assert cm_api.get(f"/api/v1/card-applications/{reissue}/status").json()["status"] == "cancelled"
    assert cm_api.get("/api/v1/card-fees?outstanding=true", headers=h).json() == []
    mine = [f for f in cm_api.get("/api/v1/card-fees", headers=h).json() if f["application_id"] == reissue]
    assert sorted((f["item"], f["amount_yen"], f["status"], f["collected_at"]) for f in mine) == [
        ("card-reissue", 800, "waived", None),
        ("certificates-reissue", 200, "waived", None),
    ]
    before = table_counts(platform)
    for f in mine:
        r = cm_api.post(f"/api/v1/card-fees/{f['id']}/collect", headers=h)
        assert r.status_code == 409 and "waived" in r.json()["message"], r.text
    assert table_counts(platform) == before
    with platform.db.session() as s:
        assert s.scalar(select(CardFee.collected_at).where(CardFee.id == mine[0]["id"])) is None  # kept, not collected
        waived = {e.subject: json.loads(e.detail) for e in s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "fee.waived"))}
    assert set(waived) == {str(f["id"]) for f in mine}
    assert all(d["application_id"] == reissue and "cancelled" in d["reason"] for d in waived.values())
    assert sum(d["amount_yen"] for d in waived.values()) == 1000
