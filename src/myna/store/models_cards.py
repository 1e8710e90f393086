"""Tables of the virtual cards (myna.chip): card images and their PIN retry counters.

The card image's secret part (the two private keys and the card-face data) is stored
sealed under the card-image key (see myna.chip.image); the certificates on the card are
the issuance records the serial columns point to. PIN counters live in their own rows
so that a decrement is one conditional UPDATE, committed before the card answers.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from myna.store.models import Base, UtcDateTime, one_of

# myna.cards.card_status.CardStatus
CARD_STATUSES = ("manufacturing", "produced", "shipped", "active", "suspended", "lost", "returned", "abolished")


class ChipRecord(Base):
    """One My Number Card's chip (個人番号カード), by its card id: the chip side of a card
    (myna.chip). What card management adds to the card is ManagedCard (models_card_management)."""

    __tablename__ = "cards"
    card_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    municipality_code: Mapped[str | None] = mapped_column(String(6), nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # CARD_STATUSES; manufacturing until its certificates are written
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    demo_pins: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON; only for demo cards
    image: Mapped[bytes] = mapped_column(LargeBinary)  # sealed: keys and card-face data
    image_key_id: Mapped[str] = mapped_column(String(16))
    auth_serial: Mapped[str | None] = mapped_column(ForeignKey("certificates.serial"), nullable=True)
    sign_serial: Mapped[str | None] = mapped_column(ForeignKey("certificates.serial"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    __table_args__ = (one_of("status", CARD_STATUSES, "ck_cards_status"),)


class CardPin(Base):
    """A PIN of a card (auth, sign, face): its verifier and its retry counter."""

    __tablename__ = "card_pins"
    card_id: Mapped[str] = mapped_column(ForeignKey("cards.card_id"), primary_key=True)
    pin: Mapped[str] = mapped_column(String(8), primary_key=True)
    verifier: Mapped[str] = mapped_column(String(200))
    tries_left: Mapped[int] = mapped_column(Integer)
    max_tries: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
