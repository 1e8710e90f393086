"""Certificate renewal at the counter (R-CARD-8, R-CERT-2): an adult's certificates run
out five years before the card; the expiry notice says "certificates"; renewal puts new
keys on the chip, new certificates, revokes the old ones and links old to new so the
verifier services can answer R-VER-4. When the card itself runs out, the notice says
"マイナンバーカード" and carries a renewal application form whose QR code applies for the
new card."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from cm_support import CHIYODA, moved_in, pdf_qr_codes, pdf_text, photo
from cryptography.hazmat.primitives import serialization
from myna_testing import table_counts

from myna.authority.records import Records
from myna.cards.applications import ApplicationIn, Applications
from myna.cards.handover import Handover
from myna.cards.notices import parse_qr, qr_payload
from myna.chip.chips import CardPins
from myna.chip.image import KeyRef
from myna.clock import UTC
from myna.errors import Conflict, NotFound
from myna.pki import serials
from myna.wiring import build

CODE = "50000000001"
DOB = dt.date(1990, 6, 15)
NAME = "高橋 誠"
ADDRESS = "東京都千代田区千代田2-2"
PINS = CardPins("1234", "SECRET1")


def pem_of(platform, serial: int) -> bytes:
    return (
        Records(platform)
        .get(serial)
        .certificate.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def active_card(platform, keygen) -> str:
    """An adult applies on 2026-04-01; the card is produced, shipped and handed over."""
    moved_in(platform, CODE, NAME, DOB, dt.date(2026, 3, 1))
    r = Applications(platform).submit(ApplicationIn(CODE, NAME, DOB, "1", ADDRESS, photo()), "online", "clerk")
    build(platform, keygen=keygen).production.produce("factory")
    build(platform, keygen=keygen).production.ship("factory")
    card_id = Applications(platform).get(r.application_id)["card_id"]
    build(platform).counter.hand_over(card_id, Handover("passport", True, PINS, "holder"), "clerk", CHIYODA)
    return card_id


def test_r_card_8_certificates_renewed_in_their_window_with_new_keys_and_links(platform, keygen, tmp_path):
    card_id = active_card(platform, keygen)
    cards, mgmt = build(platform, keygen=keygen).chips, build(platform, keygen=keygen).card_management
    old = cards.get(card_id)
    assert Records(platform).get(old.sign_serial).not_after == dt.datetime(
        2030, 6, 15, 14, 59, 59, tzinfo=UTC
    )  # 5th birthday after issuance (1st: 2026-06-15)
    assert mgmt.card(card_id)["card_expires_at"] == "2035-06-15T14:59:59+00:00"  # 10th birthday

    platform.clock.set(dt.datetime(2030, 3, 1, 3, 0, tzinfo=UTC))  # 3.5 months before: not yet
    with pytest.raises(Conflict, match="renewal opens three months before"):
        mgmt.renew_certificates(card_id, "clerk", CHIYODA)
    assert mgmt.expiry_notices("schedule")[0] == []
    platform.clock.set(dt.datetime(2030, 4, 1, 3, 0, tzinfo=UTC))
    notices, pdf = mgmt.expiry_notices("schedule", pdf=True)
    assert [(n["card_id"], n["renew"]) for n in notices] == [(card_id, "certificates")]
    text = pdf_text(pdf, tmp_path)
    assert "有効期限通知書" in text and "令和12年6月15日" in text
    # Certificates only: the line says 電子証明書 alone, the letter sends the holder to the
    # counter with the card, and there is no application form (the card stays).
    assert re.search(r"^\s*更新が必要なもの\s+電子証明書\s*$", text, re.M), text
    assert "電子証明書の更新は、住所地の市町村窓口で手続きができます(手数料無料)。カードをお持ちく" in text
    assert "マイナンバーカードと電子証明書" not in text and "交付申請" not in text and "きりとり線" not in text
    assert pdf_qr_codes(pdf, tmp_path) == []
    assert notices[0]["renewal_form_id"] is None

    done = mgmt.renew_certificates(card_id, "clerk", CHIYODA)
    new = cards.get(card_id)
    assert new.status == "active" and done["fee"] == "certificates-renewal"
    assert {new.auth_serial, new.sign_serial}.isdisjoint({old.auth_serial, old.sign_serial})
    for o, n in ((old.auth_serial, new.auth_serial), (old.sign_serial, new.sign_serial)):
        assert Records(platform).get(o).status == "revoked"
        assert Records(platform).get(n).status == "valid"
        assert Records(platform).get(n).not_after == dt.datetime(2034, 6, 15, 14, 59, 59, tzinfo=UTC)
        assert mgmt.renewal_of(o)["newest"] == serials.to_display(n)
    # New keys were made on the chip, and the chip carries the new certificates.
    image = cards.load_image(card_id)
    assert image.public_key_pem(KeyRef.AUTH) == pem_of(platform, new.auth_serial) != pem_of(platform, old.auth_serial)
    assert image.public_key_pem(KeyRef.SIGN) == pem_of(platform, new.sign_serial)
    assert cards.get(card_id).pins["sign"].tries_left == 5  # the holder's PINs stay
    # The verifier services follow the same links (R-VER-4).
    from myna.verifiers.renewals import successors

    with platform.db.session() as s:
        assert successors(s, serials.to_store(old.sign_serial)) == [serials.to_store(new.sign_serial)]
    assert mgmt.expiry_notices("schedule")[0] == []  # nothing due any more


def test_r_card_8_card_expiry_notice_carries_a_renewal_form_whose_qr_applies_for_a_new_card(platform, keygen, tmp_path):
    """R-CARD-8: the notice about the CARD says マイナンバーカード, asks for a new card's
    application and carries the form (個人番号カード交付申請書(更新)) with a QR code that
    holds only the form id and a token; scanned, it applies for the renewal, pre-filled,
    and the new card replaces the old one at handover."""
    card_id = active_card(platform, keygen)
    apps, mgmt = Applications(platform), build(platform, keygen=keygen).card_management
    # 2035-04-01: the card runs to 2035-06-15 (10th birthday); its certificates ran out in 2030, never renewed.
    platform.clock.set(dt.datetime(2035, 4, 1, 3, 0, tzinfo=UTC))
    notices, pdf = mgmt.expiry_notices("schedule", pdf=True)
    [notice] = notices
    assert (notice["card_id"], notice["renew"], notice["card_expires_at"]) == (card_id, "card", "2035-06-15T14:59:59+00:00")
    text = pdf_text(pdf, tmp_path)
    assert re.search(r"^\s*更新が必要なもの\s+マイナンバーカード\s*$", text, re.M), text
    assert "令和17年6月15日 (2035-06-15)" in text
    assert "カードの更新には新しいカードの交付申請が必要です(手数料無料)。下の交付申請書(更新)で" in text
    assert "同封" not in text and "電子証明書の更新は" not in text
    assert "きりとり線" in text and "個人番号カード交付申請書(更新)" in text and notice["renewal_form_id"] in text
    assert NAME in text and "1990-06-15" in text and ADDRESS in text
    [code] = pdf_qr_codes(pdf, tmp_path)
    form_id, token = parse_qr(code)
    assert form_id == notice["renewal_form_id"] and form_id.startswith("R")
    assert NAME not in code and CODE not in code and card_id not in code  # no personal data in the QR code
    assert mgmt.expiry_notices("schedule", pdf=True) == ([], None)  # once

    before = table_counts(platform)
    for forged in (
        qr_payload(form_id, "0" * 32),
        qr_payload("R" + "F" * 16, token),
        qr_payload(f"R{int(form_id[1:], 16) + 1:016X}", token),
        qr_payload("N" + form_id[1:], token),
    ):
        with pytest.raises(NotFound, match="no application form"):
            apps.submit_qr(forged, photo(), "online:qr")
    assert table_counts(platform) == before

    receipt = apps.submit_qr(code, photo(), "online:qr")
    assert receipt.status == "accepted" and receipt.defects == [] and receipt.channel == "qr"
    app = apps.get(receipt.application_id)
    assert (app["reason"], app["replaces_card_id"]) == ("renewal", card_id)
    assert [(f["item"], f["amount_yen"]) for f in mgmt.fees(outstanding=True)] == [("card-renewal", 0)]
    assert apps.submit_qr(code, photo(), "online:qr").defects[0]["code"] == "duplicate"  # the same form again: in progress

    build(platform, keygen=keygen).production.produce("factory")
    build(platform, keygen=keygen).production.ship("factory")
    new_id = apps.get(receipt.application_id)["card_id"]
    done = build(platform).counter.hand_over(new_id, Handover("passport", True, PINS, "holder"), "clerk", CHIYODA)
    assert done["replaced_card"] == card_id
    cards = build(platform, keygen=keygen).chips
    assert cards.get(card_id).status == "abolished" and cards.get(new_id).status == "active"
    assert mgmt.card(new_id)["card_expires_at"] == "2044-06-15T14:59:59+00:00"  # 10th birthday after issuance (1st: 2035-06-15)
