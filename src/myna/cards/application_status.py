"""An application's status (R-CARD-2..R-CARD-6), from receipt to handover. Pure.

::

    defective                      (final: a new application replaces it)
    accepted -> in-production -> produced -> shipped -> handed-over
    in-production -> cancelled     (the holder left the register before production)

A defect-free application is ``accepted`` and waits for production with its lead-time
deadline (R-CARD-4); the card's own status once made is :mod:`myna.cards.card_status`.
"""

from __future__ import annotations

import enum


class ApplicationStatus(str, enum.Enum):
    DEFECTIVE = "defective"  # 不備: a defect found at receipt
    ACCEPTED = "accepted"  # 受付済: waits for production
    IN_PRODUCTION = "in-production"  # 製造中: in a production batch
    PRODUCED = "produced"  # 製造済: the card made, not yet shipped
    SHIPPED = "shipped"  # 発送済: at the municipality
    HANDED_OVER = "handed-over"  # 交付済
    CANCELLED = "cancelled"  # 取消: the holder left the register before production


_A = ApplicationStatus
# Counted as "in progress" for duplicates (R-CARD-2) and the lead-time alerts (R-CARD-4).
OPEN = (_A.ACCEPTED.value, _A.IN_PRODUCTION.value, _A.PRODUCED.value)


class BatchStatus(str, enum.Enum):
    """A production batch (R-CARD-3): open until every application in it is produced or cancelled."""

    OPEN = "open"
    COMPLETE = "complete"
