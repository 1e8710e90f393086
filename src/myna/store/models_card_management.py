"""Tables of card management (myna.cards): notices, applications, production batches,
shipments, handover, card status history, expiry notices and fees (SPEC §6)."""

from __future__ import annotations
