"""Demo cards: every demo resident holds a virtual My Number Card whose keys were made
on the card and whose two certificates myna issued for them. Their PINs are public
(docs/card.md) and shown by ``myna chip list``: auth 1234, signature ABC123, card-face
input support 1234."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from myna.chip.chips import ACTIVE, DEMO_PINS, ChipService, demo_card_id
from myna.store import models as m
from myna.store.models_cards import ChipRecord


@dataclass(frozen=True)
class DemoCard:
    card_id: str | None
    created: int  # certificates issued now
    existing: int  # certificates already there


def ensure_demo_card(service: ChipService, resident_code: str) -> DemoCard:
    """The resident's demo card, made if missing (idempotent). Its certificates are the
    requests ``demo:{resident_code}:card-auth`` and ``…:card-sign``."""
    platform = service.platform
    prefix = f"demo:{resident_code}:"
    card_id = demo_card_id(resident_code)
    with platform.db.session() as s:
        row = s.get(ChipRecord, card_id)
        if row is not None and row.status == ACTIVE:
            return DemoCard(card_id, 0, sum(1 for x in (row.auth_serial, row.sign_serial) if x))
        if row is None:
            # A data home from before demo cards: the certificates exist, their keys are
            # not on any card. Leave them as they are.
            older = s.scalar(
                select(func.count()).select_from(m.Certificate).where(m.Certificate.request_id.startswith(prefix, autoescape=True))
            )
            if older:
                return DemoCard(None, 0, older)
    info = service.create_card(resident_code, DEMO_PINS, actor="demo", card_id=card_id, demo=True, request_prefix=prefix)
    return DemoCard(info.card_id, sum(1 for x in (info.auth_serial, info.sign_serial) if x is not None), 0)
