"""Receipt numbers and the receipt an application's sender gets back (R-CARD-2)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field

from myna.store.models_card_management import CardApplication


def new_id(prefix: str) -> str:
    """Receipt numbers and other ids: random, so a receipt number reveals nothing and
    cannot be guessed from another (anyone may look a status up with it)."""
    return prefix + secrets.token_hex(8).upper()


@dataclass(frozen=True)
class Receipt:
    application_id: str
    status: str
    channel: str
    received_on: dt.date
    due_on: dt.date
    express: str | None
    defects: list[dict] = field(default_factory=list)
    created: bool = True

    def to_json(self) -> dict:
        return {
            "application_id": self.application_id,
            "status": self.status,
            "channel": self.channel,
            "received_on": self.received_on.isoformat(),
            "due_on": self.due_on.isoformat(),
            "express": self.express,
            "defects": self.defects,
            "created": self.created,
        }


def receipt_of(row: CardApplication, created: bool = True) -> Receipt:
    return Receipt(row.application_id, row.status, row.channel, row.received_on, row.due_on, row.express, json.loads(row.defects), created)
