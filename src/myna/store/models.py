"""Tables of the store. Only ``myna.store`` imports SQLAlchemy (DESIGN: the storage authority).

Serial numbers are kept as 40-character zero-padded lowercase hex, so that text order is
numeric order on every database and 159-bit serials fit without a NUMERIC type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from myna.pki.revocation import RevocationReason
from myna.store.feed_events import FeedEventKind

_MEMO_SIZE = 256  # datetimes remembered per bind processor (cleared when full)


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite (which has no time zones) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value if value.tzinfo is dt.timezone.utc else value.astimezone(dt.timezone.utc)

    def bind_processor(self, dialect):
        """On SQLite, the text SQLAlchemy's DATETIME would store ("YYYY-MM-DD HH:MM:SS.ffffff",
        UTC), written directly. Why not the stock chain: it formats each value through a
        %-dict after our process_bind_param, and an issuance batch binds eight datetimes per
        certificate, most of them the same few objects (the batch's "now", its retention
        date), which made it a fifth of the store's CPU per certificate (bench/issuance.py).
        Recent values are remembered by identity: datetimes are immutable, and the memo
        holds a reference to each, so an id is not reused while it is in there."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        memo: dict[int, tuple[dt.datetime, str]] = {}

        def process(value):
            if value is None:
                return None
            hit = memo.get(id(value))
            if hit is not None and hit[0] is value:
                return hit[1]
            u = self.process_bind_param(value, dialect)
            text = "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond)
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[id(value)] = (value, text)
            return text

        return process

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


def one_of(column: str, values: Iterable[str], name: str) -> CheckConstraint:
    """CHECK (column IN (values)): a status column holds one of its enum's values, on every
    engine. Each status has its Python enum next to the rules that use it (cards/,
    residents/, verifiers/, mobile/); the store sits below those packages and cannot import
    them, so the allowed values are listed beside the table, and
    tests/store/test_status_checks.py holds each list equal to its enum. Migration 0011
    added these constraints to existing databases."""
    allowed = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


REVOCATION_REASONS = tuple(r.value for r in RevocationReason)
# myna.residents.events.Status
RESIDENT_STATUSES = ("active", "moving-out", "moved-out", "deleted")


# BigInteger primary keys autoincrement on PostgreSQL; on SQLite only INTEGER does.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Authority(Base):
    """A CA: the root or one of the four issuing CAs, one row per key generation."""

    __tablename__ = "authorities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    cert_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_backend: Mapped[str] = mapped_column(String(16))
    key_ref: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("authorities.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    compromised_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    __table_args__ = (UniqueConstraint("kind", "generation"),)


class Ceremony(Base):
    """The record of a key ceremony (鍵生成式): who, when, and what was created."""

    __tablename__ = "ceremonies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    performed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    performed_by: Mapped[str] = mapped_column(String(200))
    transcript: Mapped[str] = mapped_column(Text)  # JSON


class SerialReservation(Base):
    """Written and committed before a certificate is signed, so a serial is never reused
    even if the process dies between signing and recording."""

    __tablename__ = "serials"
    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    request_id: Mapped[str] = mapped_column(String(200), index=True)
    reserved_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Certificate(Base):
    """The issuance record (発行記録, R-CERT-3): the signed certificate and the holder's resident code."""

    __tablename__ = "certificates"
    serial: Mapped[str] = mapped_column(ForeignKey("serials.serial"), primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    subject_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(200))
    # Who asked: a municipality code, or "jlis" (operators, the CLI, card production,
    # smartphone certificates). Request ids are unique per requester (R-RA-3), so one
    # municipality's id never finds or reveals another's.
    requester: Mapped[str] = mapped_column(String(16))
    request_digest: Mapped[str] = mapped_column(String(64))
    resident_code: Mapped[str | None] = mapped_column(String(11), nullable=True, index=True)
    municipality_code: Mapped[str | None] = mapped_column(String(6), nullable=True, index=True)
    key_fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    not_before: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    retain_until: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    __table_args__ = (UniqueConstraint("requester", "request_id", name="uq_certificates_requester_request_id"),)


class Revocation(Base):
    """A revocation record (失効情報), effective from ``revoked_at``, the moment it was recorded.

    ``seq`` orders revocations per store; a delta CRL holds those after its base's ``seq``.
    ``crl_entry`` caches the DER of the CRL entry so a CRL build is concatenation.
    """

    __tablename__ = "revocations"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(ForeignKey("certificates.serial"), unique=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    reason: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    crl_entry: Mapped[bytes] = mapped_column(LargeBinary)
    __table_args__ = (
        Index("ix_revocations_authority_seq", "authority_id", "seq"),
        one_of("reason", REVOCATION_REASONS, "ck_revocations_reason"),
    )


class Crl(Base):
    """A published CRL or delta CRL (失効情報ファイル, R-REV-9). Numbers are monotonic per CA."""

    __tablename__ = "crls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    number: Mapped[int] = mapped_column(BigInteger)
    is_delta: Mapped[bool] = mapped_column(Boolean)
    base_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    this_update: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    next_update: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    entries: Mapped[int] = mapped_column(Integer)
    covers_seq: Mapped[int] = mapped_column(BigInteger)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    __table_args__ = (UniqueConstraint("authority_id", "number"),)


class OutboxMessage(Base):
    """Messages for the rest of the system to deliver: holder notices (R-REV-4),
    public notices (R-REV-5). Written in the same transaction as the change they report."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuditEvent(Base):
    """Append-only log of every state change, with who made it."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)  # JSON


class ApiToken(Base):
    """A bearer credential for the HTTP API. Only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    municipality_code: Mapped[str | None] = mapped_column(String(6), nullable=True)
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class StatusEvent(Base):
    """The status change feed (outbox) that validity centres replicate: one row per
    issuance and per revocation, written in the same transaction as the change.

    Centres pull it in ``seq`` order. On PostgreSQL a ``seq`` can become visible after a
    higher one (transactions commit out of order), so readers track gaps (see
    myna.validation.replica)."""

    __tablename__ = "status_feed"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(String(40), index=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    event: Mapped[str] = mapped_column(String(8))  # FeedEventKind
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    __table_args__ = (
        one_of("event", [e.value for e in FeedEventKind], "ck_status_feed_event"),
        one_of("reason", REVOCATION_REASONS, "ck_status_feed_reason"),
    )


class Municipality(Base):
    """A registered municipality (市区町村), by local-government code."""

    __tablename__ = "municipalities"
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ResidentRecord(Base):
    """J-LIS's stored identity information (機構保存本人確認情報, R-RES-1): the current state.
    The history is the resident's rows in ``resident_events``."""

    __tablename__ = "residents"
    resident_code: Mapped[str] = mapped_column(String(11), primary_key=True)
    number: Mapped[str] = mapped_column(String(12), unique=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    name_alt: Mapped[str | None] = mapped_column(String(256), nullable=True)
    date_of_birth: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    address: Mapped[str] = mapped_column(String(256))
    address_alt: Mapped[str | None] = mapped_column(String(256), nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # RESIDENT_STATUSES
    planned_move_out: Mapped[dt.date | None] = mapped_column(Date, nullable=True, index=True)
    ua_lapsed: Mapped[bool] = mapped_column(Boolean, default=False)
    last_effective: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # Every UPDATE says WHERE version = <the version read> and sets version + 1; a row
    # changed by someone else since it was read fails the unit of work (StaleDataError)
    # instead of being overwritten (R-RA-4, a check behind the per-resident lock).
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (one_of("status", RESIDENT_STATUSES, "ck_residents_status"),)


class ResidentEvent(Base):
    """A change event as reported, applied exactly once (unique per municipality and event id)."""

    __tablename__ = "resident_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    municipality_code: Mapped[str] = mapped_column(String(6))
    event_id: Mapped[str] = mapped_column(String(200))
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    type: Mapped[str] = mapped_column(String(32))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    payload: Mapped[str] = mapped_column(Text)  # JSON of the event as received
    digest: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(Text)  # JSON: revocations made, number issued
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))
    __table_args__ = (UniqueConstraint("municipality_code", "event_id"),)


class IssuedNumber(Base):
    """Every Individual Number ever issued (R-NUM-1): never reused, retired after a leak."""

    __tablename__ = "numbers"
    number: Mapped[str] = mapped_column(String(12), primary_key=True)
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    retired_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class NumberNotice(Base):
    """The notification of a number to the municipality (個人番号とすべき番号の通知), fetched by it."""

    __tablename__ = "number_notices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    municipality_code: Mapped[str] = mapped_column(String(6), index=True)
    resident_code: Mapped[str] = mapped_column(String(11))
    number: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(32))  # "new" or "reissue"
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    fetched_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


from myna.store import (
    models_card_management,  # noqa: E402,F401
    models_cards,  # noqa: E402,F401
    models_mobile,  # noqa: E402,F401
    models_operations,  # noqa: E402,F401
    models_verifiers,  # noqa: E402,F401
)
