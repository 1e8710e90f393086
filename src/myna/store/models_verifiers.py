"""Tables of the verifier services (myna.verifiers): verifier registry, consents,
provision log, renewal links (SPEC §5). The smartphone certificates' tables are in
models_mobile."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from myna.store.models import Base, BigId, UtcDateTime, one_of

# myna.verifiers.registry.Status
VERIFIER_STATUSES = ("active", "suspended", "terminated")


class Verifier(Base):
    """A registered verifier (署名検証者, 利用者証明検証者, …) or a business entrusting a
    platform operator (電子署名等確認業務委託者, ``operator_id`` names the operator)."""

    __tablename__ = "verifiers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16))  # VERIFIER_STATUSES
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("verifiers.id"), nullable=True, index=True)
    agreement_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)  # R-VER-5
    agreement_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    terminated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)  # 廃止: final
    __table_args__ = (one_of("status", VERIFIER_STATUSES, "ck_verifiers_status"),)


class VerifierCa(Base):
    """The CA that issues verifiers' TLS client certificates (separate from the JPKI
    hierarchy: it certifies organisations for mutual TLS, not residents)."""

    __tablename__ = "verifier_ca"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cert_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_backend: Mapped[str] = mapped_column(String(16))
    key_ref: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class VerifierCredential(Base):
    """A TLS client certificate issued to a verifier; the fingerprint identifies the caller."""

    __tablename__ = "verifier_credentials"
    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    verifier_id: Mapped[int] = mapped_column(ForeignKey("verifiers.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    der: Mapped[bytes] = mapped_column(LargeBinary)


class CertificationCode(Base):
    """A specific UA verifier certification code (特定利用者証明検証者証明符号, R-VER-5).
    Only its SHA-256 is kept; the code is shown once."""

    __tablename__ = "verifier_certification_codes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verifier_id: Mapped[int] = mapped_column(ForeignKey("verifiers.id"), index=True)
    code_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Consent(Base):
    """A resident's consent (同意) for one verifier to receive their latest basic 4
    information (R-VER-2). Current while ``withdrawn_at`` is empty."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resident_code: Mapped[str] = mapped_column(String(11))
    verifier_id: Mapped[int] = mapped_column(ForeignKey("verifiers.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    granted_via: Mapped[str] = mapped_column(String(16))  # "document" or "portal"
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    __table_args__ = (Index("ix_consents_resident_verifier", "resident_code", "verifier_id"),)


class ConsentDocument(Base):
    """Every signed consent document accepted, by digest: a document counts once, so an
    old grant replayed after a withdrawal changes nothing."""

    __tablename__ = "consent_documents"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    verifier_id: Mapped[int] = mapped_column(ForeignKey("verifiers.id"))
    action: Mapped[str] = mapped_column(String(8))  # grant, withdraw
    signer_serial: Mapped[str] = mapped_column(String(40))
    signed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Provision(Base):
    """The provision log (R-VER-6): one row per answer given to a verifier, and per refusal."""

    __tablename__ = "verifier_provisions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    verifier_id: Mapped[int] = mapped_column(ForeignKey("verifiers.id"), index=True)
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("verifiers.id"), nullable=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # provided, refused
    serial: Mapped[str | None] = mapped_column(String(40), nullable=True)
    detail: Mapped[str] = mapped_column(Text)  # JSON


class RenewalLink(Base):
    """Old-to-new linkage (新旧紐付け, R-VER-4): ``new_serial`` replaced ``old_serial`` for
    the same holder and purpose."""

    __tablename__ = "renewal_links"
    old_serial: Mapped[str] = mapped_column(ForeignKey("certificates.serial"), primary_key=True)
    new_serial: Mapped[str] = mapped_column(ForeignKey("certificates.serial"), unique=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))
