"""R-RA-3 for card production and shipping, under concurrency, against a live server.

Production's idempotency keys are the applications (a card's id is fixed when its batch
is formed; its certificate requests are ``application:<id>:<kind>``); shipping's, the
produced cards. Several operators starting production, or shipping, at the same moment:
every accepted application becomes exactly one card whose certificates certify that
card's own chip keys, each card is in exactly one shipment, and every answer is a 2xx or
a 409, never a 500. Several trials, on SQLite and (with MYNA_TEST_DATABASE_URL) on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cm_support import moved_in, photo
from race_support import live_server, together
from sqlalchemy import func, select

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.cards.applications import ApplicationIn, Applications
from myna.chip.image import KeyRef
from myna.store import models as m
from myna.store.models_card_management import CardApplication, CardShipment, CardStatusChange, ManagedCard
from myna.store.models_cards import ChipRecord
from myna.wiring import build

TRIALS = 2
CALLERS = 6
PER_TRIAL = 3
DOB = dt.date(1990, 6, 15)


@pytest.fixture
def operators(platform, cm_api):
    tokens = Tokens(platform)
    return [{"Authorization": f"Bearer {tokens.create(Role.OPERATOR, f'op-{i}')}"} for i in range(CALLERS)]


def _accepted(platform, trial: int) -> list[str]:
    ids = []
    for i in range(PER_TRIAL):
        code = f"33{trial:04d}{i:05d}"
        moved_in(platform, code, "生産 太郎", DOB, dt.date(2026, 3, 1))
        app = ApplicationIn(code, "生産 太郎", DOB, "1", "東京都千代田区千代田2-2", photo())
        receipt = Applications(platform).submit(app, "online", "test")
        assert receipt.status == "accepted", receipt
        ids.append(receipt.application_id)
    return ids


def _certificate_keys(platform, card_id: str) -> dict[KeyRef, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    with platform.db.session() as s:
        card = s.get(ChipRecord, card_id)
        out = {}
        for ref, serial in ((KeyRef.AUTH, card.auth_serial), (KeyRef.SIGN, card.sign_serial)):
            cert = x509.load_der_x509_certificate(s.get(m.Certificate, serial).der)
            out[ref] = cert.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return out


def test_r_ra_3_production_and_shipping_started_at_once_make_and_ship_each_card_once(platform, operators):
    cards = build(platform).chips
    with live_server(platform) as url:
        for trial in range(TRIALS):
            apps = _accepted(platform, trial)
            made = together(url, [lambda c, h=h: c.post("/api/v1/production/batches", params={"size": 10}, headers=h) for h in operators])
            assert all(r.status_code in (200, 409) for r in made), [r.text for r in made if r.status_code not in (200, 409)]
            assert sum(b["produced"] for r in made if r.status_code == 200 for b in r.json()) == PER_TRIAL
            with platform.db.session() as s:
                rows = {a.application_id: a for a in s.scalars(select(CardApplication).where(CardApplication.application_id.in_(apps)))}
                assert {a.status for a in rows.values()} == {"produced"}
                for a in rows.values():
                    assert (
                        s.scalar(select(func.count()).select_from(ManagedCard).where(ManagedCard.application_id == a.application_id)) == 1
                    )
                    assert (
                        s.scalar(
                            select(func.count())
                            .select_from(m.Certificate)
                            .where(m.Certificate.request_id.startswith(f"application:{a.application_id}:"))
                        )
                        == 2
                    )
            for a in rows.values():
                image = cards.load_image(a.card_id)
                assert _certificate_keys(platform, a.card_id) == {ref: image.public_key_pem(ref) for ref in (KeyRef.AUTH, KeyRef.SIGN)}

            shipped = together(url, [lambda c, h=h: c.post("/api/v1/shipments", headers=h) for h in operators])
            assert all(r.status_code in (200, 409) for r in shipped), [r.text for r in shipped if r.status_code not in (200, 409)]
            card_ids = {a.card_id for a in rows.values()}
            with platform.db.session() as s:
                in_manifests = [
                    i["card_id"]
                    for sh in s.scalars(select(CardShipment))
                    for i in json.loads(sh.manifest)["items"]
                    if i["card_id"] in card_ids
                ]
                assert sorted(in_manifests) == sorted(card_ids), "each card in exactly one shipment"
                for card_id in card_ids:
                    changes = s.scalars(select(CardStatusChange.to_status).where(CardStatusChange.card_id == card_id)).all()
                    assert sorted(changes) == ["produced", "shipped"], changes
                    assert s.get(ChipRecord, card_id).status == "shipped"
                ships = {a.shipment_id for a in s.scalars(select(CardApplication).where(CardApplication.application_id.in_(apps)))}
                assert len(ships) == 1 and None not in ships
