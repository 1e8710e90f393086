"""Certificate renewal at the counter (R-CARD-8, R-CERT-2): an adult's certificates run
out five years before the card; the expiry notice says "certificates"; renewal puts new
keys on the chip, new certificates, revokes the old ones and links old to new so the
verifier services can answer R-VER-4."""

from __future__ import annotations

import datetime as dt

import pytest
from cm_support import CHIYODA, moved_in, pdf_text, photo
from cryptography.hazmat.primitives import serialization

from myna.authority.records import Records
from myna.cards.applications import ApplicationIn, Applications
from myna.cards.handover import Counter, Handover
from myna.cards.management import CardManagement
from myna.cards.production import Production
from myna.chip.cards import CardPins, CardService
from myna.chip.image import KeyRef
from myna.clock import UTC
from myna.errors import Conflict
from myna.pki import serials

CODE = "50000000001"
DOB = dt.date(1990, 6, 15)


def pem_of(platform, serial: int) -> bytes:
    return Records(platform).get(serial).certificate.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_r_card_8_certificates_renewed_in_their_window_with_new_keys_and_links(platform, keygen, tmp_path):
    moved_in(platform, CODE, "高橋 誠", DOB, dt.date(2026, 3, 1))
    r = Applications(platform).submit(ApplicationIn(CODE, "高橋 誠", DOB, "1", "東京都千代田区千代田2-2", photo()), "online", "clerk")
    Production(platform, keygen).produce("factory")
    Production(platform, keygen).ship("factory")
    card_id = Applications(platform).get(r.application_id)["card_id"]
    Counter(platform).hand_over(card_id, Handover("passport", True, CardPins("1234", "SECRET1"), "holder"), "clerk", CHIYODA)
    cards, mgmt = CardService(platform, keygen=keygen), CardManagement(platform, keygen)
    old = cards.get(card_id)
    assert Records(platform).get(old.sign_serial).not_after == dt.datetime(2030, 6, 15, 14, 59, 59, tzinfo=UTC)  # 5th birthday after issuance (1st: 2026-06-15)
    assert mgmt.card(card_id)["card_expires_at"] == "2035-06-15T14:59:59+00:00"  # 10th birthday

    platform.clock.set(dt.datetime(2030, 3, 1, 3, 0, tzinfo=UTC))  # 3.5 months before: not yet
    with pytest.raises(Conflict, match="renewal opens three months before"):
        mgmt.renew_certificates(card_id, "clerk", CHIYODA)
    assert mgmt.expiry_notices("schedule")[0] == []
    platform.clock.set(dt.datetime(2030, 4, 1, 3, 0, tzinfo=UTC))
    notices, pdf = mgmt.expiry_notices("schedule", pdf=True)
    assert [(n["card_id"], n["renew"]) for n in notices] == [(card_id, "certificates")]
    text = pdf_text(pdf, tmp_path)
    assert "有効期限通知書" in text and "更新が必要なもの" in text and "電子証明書" in text and "令和12年6月15日" in text

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
