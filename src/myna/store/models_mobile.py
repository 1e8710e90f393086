"""Tables of smartphone certificates (myna.mobile): applications signed with the card's
SIG key and the card-mobile links the R-REV-6 cascade follows (SPEC §5)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from myna.store.models import Base, UtcDateTime, one_of

# myna.mobile.application_status.MobileApplicationStatus
MOBILE_APPLICATION_STATUSES = ("accepted", "issued")


class MobileApplication(Base):
    """A smartphone certificate application (R-CERT-5), signed with the card SIG key."""

    __tablename__ = "mobile_applications"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    card_serial: Mapped[str] = mapped_column(ForeignKey("certificates.serial"))  # the linked card certificate
    signer_serial: Mapped[str] = mapped_column(ForeignKey("certificates.serial"))  # the card SIG that signed
    document_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    challenge: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # MOBILE_APPLICATION_STATUSES
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    issued_serial: Mapped[str | None] = mapped_column(String(40), nullable=True)
    __table_args__ = (one_of("status", MOBILE_APPLICATION_STATUSES, "ck_mobile_applications_status"),)


class MobileLink(Base):
    """The card certificate a mobile certificate was issued on (R-CERT-5); the R-REV-6
    cascade follows it."""

    __tablename__ = "mobile_links"
    mobile_serial: Mapped[str] = mapped_column(ForeignKey("certificates.serial"), primary_key=True)
    card_serial: Mapped[str] = mapped_column(ForeignKey("certificates.serial"), index=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("mobile_applications.id"))
    linked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
