"""Tables of card management (myna.cards): notices, applications, production batches,
shipments, handover, card status history, expiry notices and fees (SPEC §6).

A card's lifecycle status lives in ``cards.status`` (models_cards), so the chip side and
card management read one value; ``managed_cards`` holds what card management adds to a
card (its application, expiry, printed face, shipment, handover).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from myna.store.models import Base, BigId, UtcDateTime, one_of
from myna.store.models_cards import CARD_STATUSES

# myna.cards.application_status.ApplicationStatus and BatchStatus
APPLICATION_STATUSES = ("defective", "accepted", "in-production", "produced", "shipped", "handed-over", "cancelled")
BATCH_STATUSES = ("open", "complete")


class MailedNotice(Base):
    """A number notice (個人番号通知書) with its application form, printed and mailed (R-CARD-1)."""

    __tablename__ = "mailed_notices"
    notice_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    number_notice_id: Mapped[int] = mapped_column(ForeignKey("number_notices.id"), unique=True)
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    municipality_code: Mapped[str] = mapped_column(String(6))
    form_token: Mapped[str] = mapped_column(String(64))  # printed in the QR: proves the form is this one
    prefill: Mapped[str] = mapped_column(Text)  # JSON: the basic 4 information printed on the form
    mailed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    returned_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    returned_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class CardApplication(Base):
    """An application for a card (交付申請, R-CARD-2). Its id is the receipt number."""

    __tablename__ = "card_applications"
    # The sender's id is unique per sender only (R-RA-3): another municipality's id is
    # never an answer to this one, nor a sign that it exists.
    __table_args__ = (
        UniqueConstraint("requester", "source_ref", name="uq_card_applications_requester_source_ref"),
        one_of("status", APPLICATION_STATUSES, "ck_card_applications_status"),
    )
    application_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))  # online, paper, qr, counter
    # Who sent it, as the scope of source_ref: municipality:<code>, jlis (J-LIS's staff:
    # paper import, operators) or form:<form id> (the public QR path, the form's token being the credential).
    requester: Mapped[str] = mapped_column(String(32))
    source_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the sender's id: a retry is not a new application
    digest: Mapped[str] = mapped_column(String(64))
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    municipality_code: Mapped[str | None] = mapped_column(String(6), nullable=True, index=True)
    reason: Mapped[str] = mapped_column(String(16))  # new, reissue, renewal
    express: Mapped[str | None] = mapped_column(String(16), nullable=True)  # newborn, loss, abroad
    replaces_card_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    notice_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    name: Mapped[str] = mapped_column(String(256))
    date_of_birth: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    address: Mapped[str] = mapped_column(String(256))
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    defects: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of {code, message}
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    received_on: Mapped[dt.date] = mapped_column(Date)  # the JST day the lead-time clock starts
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)  # ship by this JST day (R-CARD-4)
    batch_id: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    card_id: Mapped[str | None] = mapped_column(String(16), nullable=True, unique=True)
    produced_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    shipment_id: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    shipped_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lead_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ProductionBatch(Base):
    """A production batch (製造): applications personalised together (R-CARD-3)."""

    __tablename__ = "production_batches"
    batch_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open until every card in it is produced
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    __table_args__ = (one_of("status", BATCH_STATUSES, "ck_production_batches_status"),)


class CardShipment(Base):
    """Produced cards sent to one municipality, with the manifest that travels with them."""

    __tablename__ = "card_shipments"
    shipment_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(String(6), index=True)
    shipped_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    cards: Mapped[int] = mapped_column(Integer)
    manifest: Mapped[str] = mapped_column(Text)  # JSON
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ManagedCard(Base):
    """What card management knows about a card beyond its chip: the application it was
    made for, the card's own expiry (R-CERT-2), the printed face, handover."""

    __tablename__ = "managed_cards"
    card_id: Mapped[str] = mapped_column(ForeignKey("cards.card_id"), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("card_applications.application_id"), unique=True)
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    municipality_code: Mapped[str | None] = mapped_column(String(6), nullable=True)
    card_expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    printed_face: Mapped[str] = mapped_column(Text)  # JSON: what is printed on the card
    photo_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    produced_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    handed_over_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(16), nullable=True)


class CardHandover(Base):
    """The counter flow at handover (交付, R-CARD-6): each check, who did it, when."""

    __tablename__ = "card_handovers"
    card_id: Mapped[str] = mapped_column(ForeignKey("cards.card_id"), primary_key=True)
    identity_document: Mapped[str] = mapped_column(String(64))
    face_matches_photo: Mapped[bool] = mapped_column(Boolean)
    chip_face_matches: Mapped[bool] = mapped_column(Boolean)
    pins_set_by: Mapped[str] = mapped_column(String(16))
    clerk: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class CardStatusChange(Base):
    """Every status change of a card, with the certificates it revoked (append-only)."""

    __tablename__ = "card_status_changes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    card_id: Mapped[str] = mapped_column(String(16), index=True)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    revoked: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of serials
    __table_args__ = (
        one_of("from_status", CARD_STATUSES, "ck_card_status_changes_from_status"),
        one_of("to_status", CARD_STATUSES, "ck_card_status_changes_to_status"),
    )


class CertificateRenewal(Base):
    """Old-to-new linkage (新旧紐付け, R-VER-4): the certificate that replaced another on
    the same card at renewal. Verifier services look a new serial up by the old one."""

    __tablename__ = "certificate_renewals"
    old_serial: Mapped[str] = mapped_column(ForeignKey("certificates.serial"), primary_key=True)
    new_serial: Mapped[str] = mapped_column(ForeignKey("certificates.serial"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    card_id: Mapped[str] = mapped_column(String(16), index=True)
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ExpiryNotice(Base):
    """An expiry notice (有効期限通知書, R-CARD-8), once per card, target and expiry date."""

    __tablename__ = "expiry_notices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    card_id: Mapped[str] = mapped_column(String(16), index=True)
    resident_code: Mapped[str] = mapped_column(String(11))
    renew: Mapped[str] = mapped_column(String(16))  # card, certificates, both
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    __table_args__ = (UniqueConstraint("card_id", "renew", "expires_at"),)


class CardFee(Base):
    """A fee due (and later collected by the municipality) for an application (R-CARD-9)."""

    __tablename__ = "card_fees"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    card_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    municipality_code: Mapped[str | None] = mapped_column(String(6), nullable=True, index=True)
    item: Mapped[str] = mapped_column(String(32))
    amount_yen: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    collected_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    collected_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    __table_args__ = (UniqueConstraint("application_id", "item"),)
