"""Card production and certificate renewal issue through the issuance service, so its
register rules hold there too: R-CERT-4 (no card certificates for a resident not on the
register), R-RA-1 (the record's basic 4 information), R-RA-2 (renewal at a municipality's
counter only for its own resident: a card whose holder has since moved to another
municipality is answered as unknown there)."""

from __future__ import annotations

import datetime as dt

import pytest
from cm_support import CHIYODA, SHINJUKU, moved_in, registry
from sqlalchemy import update

from myna.authority.records import Records
from myna.clock import UTC
from myna.errors import NotEligible, NotFound
from myna.pki.basic4 import Basic4
from myna.store import models as m
from myna.store.models_cards import ChipRecord
from myna.wiring import build

CODE = "50000000002"
NAME = "高橋 誠"
DOB = dt.date(1990, 6, 15)


def test_r_cert_4_production_makes_no_card_for_a_resident_not_on_the_register(platform, keygen):
    registry(platform)
    with pytest.raises(NotEligible, match="R-CERT-4"):
        build(platform, keygen=keygen).chips.create_card("59999999999", None, "factory")


def test_r_ra_1_production_certifies_the_records_basic4_and_the_home_municipality(platform, keygen):
    moved_in(platform, CODE, NAME, DOB, dt.date(2026, 3, 1))
    info = build(platform, keygen=keygen).chips.create_card(CODE, None, "factory")
    rec = Records(platform).get(info.sign_serial)
    assert Basic4.from_certificate(rec.certificate).name == NAME and rec.municipality_code == CHIYODA


def test_r_ra_2_renewal_at_the_old_municipality_after_the_holder_moved_away_is_refused_as_unknown(platform, keygen):
    moved_in(platform, CODE, NAME, DOB, dt.date(2026, 3, 1))
    card = build(platform, keygen=keygen).chips.create_card(CODE, None, "factory")
    platform.clock.set(dt.datetime(2030, 4, 1, 3, 0, tzinfo=UTC))  # in the renewal window
    with platform.db.session() as s:  # the resident now lives in Shinjuku; the card record still names Chiyoda
        s.execute(
            update(m.ResidentRecord)
            .where(m.ResidentRecord.resident_code == CODE)
            .values(municipality_code=SHINJUKU, version=m.ResidentRecord.version + 1)
        )
        assert s.get(ChipRecord, card.card_id).municipality_code == CHIYODA
    mgmt = build(platform, keygen=keygen).card_management
    with pytest.raises(NotFound, match=f"no resident {CODE} in municipality {CHIYODA}"):
        mgmt.renew_certificates(card.card_id, "municipality@131016:clerk", CHIYODA)
    assert build(platform, keygen=keygen).chips.get(card.card_id).sign_serial == card.sign_serial  # nothing changed
    renewed = mgmt.renew_certificates(card.card_id, "operator", None)  # J-LIS may
    assert renewed["certificates"]["card-sign"]["new"] != renewed["certificates"]["card-sign"]["old"]
    new = Records(platform).get(int(renewed["certificates"]["card-sign"]["new"], 16))
    assert new.municipality_code == SHINJUKU
