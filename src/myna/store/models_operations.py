"""Tables of the operations console (myna.operations): the outage log availability is
computed from, and the validity centres' traffic counts; and the resident portal's
sign-in challenges and sessions (myna.portal)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from myna.store.models import Base, BigId, UtcDateTime


class OutageRecord(Base):
    """One outage of one service (planned maintenance or an incident), as operators log it."""

    __tablename__ = "outages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(40), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    planned: Mapped[bool] = mapped_column(Boolean)
    cause: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class CentreTraffic(Base):
    """Requests a validity centre answered in one minute, as the centre reports them."""

    __tablename__ = "centre_traffic"
    centre: Mapped[str] = mapped_column(String(40), primary_key=True)
    minute: Mapped[dt.datetime] = mapped_column(UtcDateTime, primary_key=True)
    ocsp: Mapped[int] = mapped_column(Integer, default=0)
    crl: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)


class PortalChallenge(Base):
    """A one-time login challenge of the resident portal, answered with the card's auth key."""

    __tablename__ = "portal_challenges"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex; not secret, single use
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class PortalSession(Base):
    """A resident signed in to the portal with a user-authentication certificate."""

    __tablename__ = "portal_sessions"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    serial: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
