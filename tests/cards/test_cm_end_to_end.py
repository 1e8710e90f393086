"""End to end (SPEC §6): a resident is born, receives a number notice, applies through
the QR code on it, the card is produced and shipped, handed over with PINs set,
suspended after a loss, reissued by express, and renewed before expiry; every state
and certificate is checked along the way, from the store and the chip itself."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from cm_support import CHIYODA, born, pdf_qr_codes, pdf_text, photo
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from myna.authority.records import Records
from myna.cards import lead_time
from myna.cards.applications import ApplicationIn, Applications
from myna.cards.handover import Handover
from myna.cards.notices import parse_qr
from myna.chip.chips import CardPins, ChipService
from myna.chip.image import KeyRef
from myna.clock import JST, UTC
from myna.errors import Conflict, Forbidden
from myna.pki import serials, validity
from myna.store import models as m
from myna.store.models_card_management import CertificateRenewal
from myna.wiring import build

BABY = "20000000001"
DOB = dt.date(2026, 3, 20)
NAME = "山田 ひかり"


def cert(platform, serial: int):
    return Records(platform).get(serial)


def revocation_reason(platform, serial: int) -> str | None:
    with platform.db.session() as s:
        return s.scalar(select(m.Revocation.reason).where(m.Revocation.serial == serials.to_store(serial)))


def chip_matches_certificate(cards: ChipService, card_id: str, serial: int) -> bool:
    image = cards.load_image(card_id)
    pem = (
        cert(cards.platform, serial)
        .certificate.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return image.public_key_pem(KeyRef.AUTH) == pem


def produce_and_ship(platform, keygen, days: int) -> tuple[str, dict]:
    made = build(platform, keygen=keygen).production.produce("factory")
    assert sum(r.produced for r in made) == 1
    platform.clock.advance(dt.timedelta(days=days))
    shipped = build(platform, keygen=keygen).production.ship("factory")
    assert len(shipped) == 1 and shipped[0]["cards"] == 1 and shipped[0]["municipality_code"] == CHIYODA
    return shipped[0]["shipment_id"], shipped[0]


def hand_over(platform, card_id: str, **over):
    h = dict(identity_document="passport", face_matches_photo=True, pins=CardPins(auth="4711", face="4711"), pins_entered_by="holder")
    h.update(over)
    return build(platform).counter.hand_over(card_id, Handover(**h), "clerk@chiyoda", CHIYODA)


def test_born_notice_qr_application_production_handover_loss_express_reissue_and_renewal(platform, keygen, tmp_path):
    """R-CARD-1..9, R-CERT-2, R-REV-1, R-VER-4 in one life."""
    apps, counter, mgmt = Applications(platform), build(platform).counter, build(platform, keygen=keygen).card_management
    cards = build(platform, keygen=keygen).chips

    # 1. Born: the municipality reports the birth; J-LIS numbers the child and mails the notice (R-CARD-1).
    number = born(platform, BABY, NAME, DOB).number
    mailed, pdf = apps.mail_notices("jlis-print")
    assert [x["resident_code"] for x in mailed] == [BABY]
    text = pdf_text(pdf, tmp_path)
    assert "個人番号通知書" in text and "個人番号カード交付申請書" in text and NAME in text
    assert f"{number[:4]} {number[4:8]} {number[8:]}" in text
    assert "令和8年3月20日" in text  # the date of birth in the era calendar
    codes = pdf_qr_codes(pdf, tmp_path)
    assert codes == [f"MYNA-APPLY/1/{mailed[0]['notice_id']}/" + codes[0].rsplit("/", 1)[1]]
    assert NAME not in codes[0] and number not in codes[0]  # the QR carries no personal data
    assert apps.mail_notices("jlis-print") == ([], None)  # mailed once

    # 2. The parent scans the QR code and sends a photo: pre-filled, express for a newborn (R-CARD-2, R-CARD-4).
    receipt = apps.submit_qr(codes[0], photo(), actor="online", express="newborn")
    assert receipt.status == "accepted" and receipt.defects == [] and receipt.express == "newborn"
    assert receipt.due_on == lead_time.add_days(dt.date(2026, 4, 1), 5) == dt.date(2026, 4, 6)
    assert apps.status(receipt.application_id)["status"] == "accepted"

    # 3. Production: keys made on the chip, one certificate (no signature certificate under 15), card "produced" (R-CARD-3).
    platform.clock.advance(dt.timedelta(days=1))
    shipment_id, _ = produce_and_ship(platform, keygen, days=1)
    app = apps.get(receipt.application_id)
    card_id = app["card_id"]
    assert app["status"] == "shipped" and app["lead_days"] == 2 and app["shipment_id"] == shipment_id
    first = cards.get(card_id)
    assert first.status == "shipped" and first.sign_serial is None and first.pins == {}
    auth = cert(platform, first.auth_serial)
    assert auth.kind == "card-auth" and auth.status == "valid" and auth.resident_code == BABY
    issued_at = dt.datetime(2026, 4, 2, 3, 0, tzinfo=UTC)
    assert auth.not_after == validity.certificate_not_after(DOB, issued_at) == dt.datetime(2031, 3, 20, 14, 59, 59, tzinfo=UTC)
    assert chip_matches_certificate(cards, card_id, first.auth_serial)
    manifest = build(platform).production.manifest(shipment_id)["manifest"]
    assert manifest["items"] == [{"card_id": card_id, "application_id": receipt.application_id}]

    # 4. Handover (R-CARD-6): a clerk may not set the PINs; the holder does, then the card is active.
    pickup = pdf_text(counter.pickup_notice(card_id, CHIYODA), tmp_path)
    assert "交付通知書" in pickup and card_id in pickup and "千代田区" in pickup
    with pytest.raises(Forbidden, match="holder in person"):
        hand_over(platform, card_id, pins_entered_by="clerk")
    assert cards.get(card_id).status == "shipped" and cards.get(card_id).pins == {}
    done = hand_over(platform, card_id)
    assert done["status"] == "active" and done["pins_set"] == ["auth", "face"] and done["within_deadline"]
    card = mgmt.card(card_id, CHIYODA)
    assert card["status"] == "active" and card["card_expires_at"] == "2031-03-20T14:59:59+00:00"  # under 18: 5th birthday
    assert [h["to"] for h in card["history"]] == ["produced", "shipped", "active"]
    assert apps.status(receipt.application_id)["status"] == "handed-over"

    # 5. A year later the card is lost: the call centre suspends it at night; its certificate is revoked at once (R-CARD-7, R-REV-1).
    platform.clock.set(dt.datetime(2027, 5, 1, 14, 30, tzinfo=UTC))  # 23:30 JST
    suspended = mgmt.suspend(card_id, "call-centre:night", note="lost on the train")
    assert suspended["status"] == "suspended" and len(suspended["revoked"]) == 1
    assert cert(platform, first.auth_serial).status == "revoked" and revocation_reason(platform, first.auth_serial) == "request"
    assert mgmt.lose(card_id, "clerk@chiyoda", municipality_code=CHIYODA)["status"] == "lost"

    # 6. Reissue only through an application; express after loss; fees due (R-CARD-7, R-CARD-9).
    with pytest.raises(Conflict, match="needs a new application"):
        mgmt.reissue(card_id, None, "clerk@chiyoda", municipality_code=CHIYODA)
    form = ApplicationIn(BABY, NAME, DOB, "2", "東京都千代田区千代田1-1", photo(), express="loss")
    again = mgmt.reissue(card_id, form, "clerk@chiyoda", municipality_code=CHIYODA)
    assert again.status == "accepted" and again.express == "loss" and again.due_on == dt.date(2027, 5, 6)  # received 1 May JST
    assert sorted((f["item"], f["amount_yen"]) for f in mgmt.fees(CHIYODA, outstanding=True)) == [
        ("card-reissue", 800),
        ("certificates-reissue", 200),
    ]
    produce_and_ship(platform, keygen, days=3)
    reissued = apps.get(again.application_id)
    second_id = reissued["card_id"]
    assert reissued["lead_days"] == 3 == lead_time.days_between(dt.date(2027, 5, 1), platform.clock.now().astimezone(JST).date())
    assert lead_time.allowed_days(express=True) == 5  # R-CARD-4: express, not the 14 days
    given = hand_over(platform, second_id)
    assert given["replaced_card"] == card_id and given["lead_days"] == 3 and given["within_deadline"] is True
    second = cards.get(second_id)
    assert second.status == "active" and cert(platform, second.auth_serial).status == "valid"
    assert cards.get(card_id).status == "abolished"
    assert mgmt.fees(CHIYODA, outstanding=True) == []  # collected at the counter
    assert chip_matches_certificate(cards, second_id, second.auth_serial)
    assert mgmt.renewal_of(first.auth_serial)["newest"] == serials.to_display(second.auth_serial)  # R-VER-4

    # 7. Expiry (R-CARD-8, R-CERT-2): the card and its certificate both run to the 5th birthday after issuance.
    second_card = mgmt.card(second_id)
    assert second_card["card_expires_at"] == "2032-03-20T14:59:59+00:00"
    platform.clock.set(dt.datetime(2031, 12, 1, 3, 0, tzinfo=UTC))
    assert mgmt.expiry_notices("schedule")[0] == []  # more than three months ahead
    platform.clock.set(dt.datetime(2032, 1, 5, 3, 0, tzinfo=UTC))
    notices, letters = mgmt.expiry_notices("schedule", pdf=True)
    assert [(n["card_id"], n["renew"]) for n in notices] == [(second_id, "both")]
    notice_text = pdf_text(letters, tmp_path)
    assert "有効期限通知書" in notice_text and "令和14年3月20日" in notice_text
    # A child's card and certificate end together: both named, one new card applied for with the form below.
    assert re.search(r"^\s*更新が必要なもの\s+マイナンバーカードと電子証明書\s*$", notice_text, re.M), notice_text
    assert (
        "下の交付申請書(更新)で" in notice_text
        and "個人番号カード交付申請書(更新)" in notice_text
        and "電子証明書の更新は" not in notice_text
    )
    [renewal_qr] = pdf_qr_codes(letters, tmp_path)
    assert parse_qr(renewal_qr)[0] == notices[0]["renewal_form_id"] and NAME not in renewal_qr
    assert mgmt.expiry_notices("schedule")[0] == []  # once

    # 8. Renewal before expiry: a renewal application, a new card; the old card abolished, its certificate revoked and linked.
    renewal = apps.submit(
        ApplicationIn(BABY, NAME, DOB, "2", "東京都千代田区千代田1-1", photo(), reason="renewal"), "online", "clerk@chiyoda"
    )
    assert renewal.status == "accepted", renewal.defects
    produce_and_ship(platform, keygen, days=6)
    third_id = apps.get(renewal.application_id)["card_id"]
    assert hand_over(platform, third_id)["replaced_card"] == second_id
    third = cards.get(third_id)
    assert third.status == "active" and cards.get(second_id).status == "abolished"
    assert cert(platform, second.auth_serial).status == "revoked" and cert(platform, third.auth_serial).status == "valid"
    assert cert(platform, third.auth_serial).not_after == validity.certificate_not_after(DOB, platform.clock.now() - dt.timedelta(days=6))
    with platform.db.session() as s:
        links = {(r.old_serial, r.new_serial) for r in s.scalars(select(CertificateRenewal))}
    assert (serials.to_store(second.auth_serial), serials.to_store(third.auth_serial)) in links
    chain = mgmt.renewal_of(first.auth_serial)
    assert [c["new"] for c in chain["chain"]] == [serials.to_display(second.auth_serial), serials.to_display(third.auth_serial)]
    assert lead_time.days_between(dt.date(2032, 1, 5), platform.clock.now().astimezone(JST).date()) == 6
