"""Smartphone certificates issue through the issuance service: the applicant's basic 4
information comes from the card signature certificate and must still be the register's
(R-RA-1); a mobile certificate is J-LIS's own, never a municipality's (R-CERT-5)."""

from __future__ import annotations

import pytest
from mob_support import phone_apply_and_issue
from sqlalchemy import update
from ver_support import make_holder

from myna.authority.issuance import DiffersFromRegister
from myna.pki.basic4 import Basic4
from myna.store import models as m


def test_r_ra_1_mobile_certificate_carries_the_record(platform, cards):
    holder = make_holder(platform, cards)
    _, issued, _ = phone_apply_and_issue(platform, holder)
    with platform.db.session() as s:
        rec = s.get(m.ResidentRecord, holder.resident_code)
    assert Basic4.from_certificate(issued.certificate).name == rec.name


def test_r_ra_1_card_basic4_no_longer_the_registers_gives_no_mobile_certificate(platform, cards):
    """The register changed without the card signature certificate being revoked (here:
    the record written directly): the card's basic 4 information is not J-LIS's record
    any more, so no smartphone certificate is issued with it."""
    holder = make_holder(platform, cards)
    with platform.db.session() as s:
        s.execute(
            update(m.ResidentRecord)
            .where(m.ResidentRecord.resident_code == holder.resident_code)
            .values(address="北海道札幌市中央区北1条西2丁目", version=m.ResidentRecord.version + 1)
        )
    with pytest.raises(DiffersFromRegister, match="basic4.address"):
        phone_apply_and_issue(platform, holder)
    with platform.db.session() as s:
        kinds = set(
            s.scalars(
                m.Certificate.__table__.select()
                .with_only_columns(m.Certificate.kind)
                .where(m.Certificate.resident_code == holder.resident_code)
            )
        )
    assert "mobile-sign" not in kinds
