"""Looking an application up: by receipt number for anyone holding it (no personal data),
and in full for J-LIS and the municipality it belongs to."""

from __future__ import annotations

import json

from myna.authority.platform import Platform
from myna.cards.receipts import receipt_of
from myna.clock import JST
from myna.errors import InvalidInput, NotFound
from myna.store.models_card_management import CardApplication


def status(platform: Platform, application_id: str) -> dict:
    """What anyone holding the receipt number may see: no personal data."""
    if not application_id or len(application_id) > 20:
        raise InvalidInput("a receipt number is 17 characters")
    with platform.db.session() as s:
        row = s.get(CardApplication, application_id.strip().upper())
        if row is None:
            raise NotFound(f"no application with receipt number {application_id}")
        return {
            "application_id": row.application_id,
            "status": row.status,
            "received_on": row.received_on.isoformat(),
            "due_on": row.due_on.isoformat(),
            "express": row.express is not None,
            "defects": [x["code"] for x in json.loads(row.defects)],
            "shipped_on": row.shipped_at.astimezone(JST).date().isoformat() if row.shipped_at else None,
        }


def get(platform: Platform, application_id: str, municipality_code: str | None = None) -> dict:
    with platform.db.session() as s:
        row = s.get(CardApplication, application_id)
        if row is None or (municipality_code is not None and row.municipality_code != municipality_code):
            raise NotFound(f"no application {application_id}")
        return {
            **receipt_of(row, False).to_json(),
            "resident_code": row.resident_code,
            "municipality_code": row.municipality_code,
            "reason": row.reason,
            "replaces_card_id": row.replaces_card_id,
            "batch_id": row.batch_id,
            "card_id": row.card_id,
            "shipment_id": row.shipment_id,
            "lead_days": row.lead_days,
        }
