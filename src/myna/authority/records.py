"""Read access to issuance and revocation records, for the API, the CLI and verifiers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from sqlalchemy import func, select

from myna.access.roles import Principal, Role
from myna.authority.holders import acts_for, holder_of
from myna.authority.platform import Platform
from myna.authority.revoking import status_of
from myna.errors import InvalidInput, NotFound
from myna.pki import serials
from myna.pki.kinds import CertKind
from myna.store import models as m

MAX_PAGE = 1000
STATUSES = ("valid", "revoked", "expired")


def scope_of(who: Principal) -> str | None:
    """The municipality a caller's reads and changes are confined to: a municipality's
    own (it sees and acts on its own residents only, R-RA-2); none for J-LIS's roles."""
    return who.municipality_code if who.role is Role.MUNICIPALITY else None


@dataclass(frozen=True)
class CertificateRecord:
    serial: int
    kind: str
    status: str
    subject_id: str
    not_before: dt.datetime
    not_after: dt.datetime
    issued_at: dt.datetime
    municipality_code: str | None
    resident_code: str | None
    authority_id: int
    revoked_at: dt.datetime | None
    revocation_reason: str | None
    der: bytes

    def to_json(self, with_resident_code: bool = False) -> dict:
        out = {
            "serial": serials.to_display(self.serial),
            "kind": self.kind,
            "status": self.status,
            "subject_id": self.subject_id,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "issued_at": self.issued_at.isoformat(),
            "municipality_code": self.municipality_code,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revocation_reason": self.revocation_reason,
        }
        if with_resident_code:
            out["resident_code"] = self.resident_code
        return out

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)


def _record(row: m.Certificate, rev: m.Revocation | None, now: dt.datetime) -> CertificateRecord:
    return CertificateRecord(
        serial=int(row.serial, 16),
        kind=row.kind,
        status=status_of(row, rev, now),
        subject_id=row.subject_id,
        not_before=row.not_before,
        not_after=row.not_after,
        issued_at=row.issued_at,
        municipality_code=row.municipality_code,
        resident_code=row.resident_code,
        authority_id=row.authority_id,
        revoked_at=rev.revoked_at if rev else None,
        revocation_reason=rev.reason if rev else None,
        der=row.der,
    )


@dataclass(frozen=True)
class KindCounts:
    """Certificates issued and revoked, per kind (``ca`` for CA certificates)."""

    issued: Mapping[str, int]
    revoked: Mapping[str, int]


@dataclass(frozen=True)
class AuthorityRecord:
    """One CA of the hierarchy, any generation, with its distribution points."""

    slug: str
    kind: str
    generation: int
    subject: str
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    active: bool
    compromised_at: dt.datetime | None
    key_backend: str
    certificate_url: str
    crl_url: str


def authorities(platform: Platform) -> list[AuthorityRecord]:
    """Every CA the platform has had, in the order they were created."""
    out = []
    for row in platform.authority_rows():
        ca = platform.authority_by_id(row.id)
        out.append(
            AuthorityRecord(
                slug=ca.slug,
                kind=row.kind,
                generation=row.generation,
                subject=row.name,
                serial=ca.cert.serial_number,
                not_before=ca.cert.not_valid_before_utc,
                not_after=ca.cert.not_valid_after_utc,
                active=row.active,
                compromised_at=row.compromised_at,
                key_backend=row.key_backend,
                certificate_url=platform.urls.ca_cert(ca.slug),
                crl_url=platform.urls.crl(ca.slug),
            )
        )
    return out


class Records:
    def __init__(self, platform: Platform):
        self.platform = platform

    def get(self, serial: int, municipality_code: str | None = None) -> CertificateRecord:
        with self.platform.db.session() as s:
            row = s.get(m.Certificate, serials.to_store(serial))
            if row is None or not acts_for(s, municipality_code, row):  # R-RA-2: as unknown
                raise NotFound(f"no certificate with serial {serials.to_display(serial)}")
            rev = s.scalar(select(m.Revocation).where(m.Revocation.serial == row.serial))
            return _record(row, rev, self.platform.clock.now())

    def list(
        self,
        kind: str | None = None,
        status: str | None = None,
        municipality_code: str | None = None,
        resident_code: str | None = None,
        after: str | None = None,
        limit: int = 100,
        include_ca: bool = False,
    ) -> tuple[list[CertificateRecord], str | None]:
        """One page ordered by serial; pass the returned cursor as ``after`` for the next."""
        if kind is not None and kind not in {k.value for k in CertKind} | {"ca", "responder"}:
            raise InvalidInput(f"unknown kind {kind!r}; one of {', '.join(k.value for k in CertKind)}")
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        now = self.platform.clock.now()
        q = select(m.Certificate, m.Revocation).outerjoin(m.Revocation, m.Revocation.serial == m.Certificate.serial)
        if kind is not None:
            q = q.where(m.Certificate.kind == kind)
        elif not include_ca:
            # CA and OCSP responder certificates are issuance records too, but not holders'.
            q = q.where(m.Certificate.kind.in_([k.value for k in CertKind]))
        if municipality_code is not None:
            q = q.where(holder_of(municipality_code))  # the holders registered there now (R-RA-2)
        if resident_code is not None:
            q = q.where(m.Certificate.resident_code == resident_code)
        if status == "revoked":
            q = q.where(m.Revocation.seq.is_not(None))
        elif status == "valid":
            q = q.where(m.Revocation.seq.is_(None), m.Certificate.not_after >= now)
        elif status == "expired":
            q = q.where(m.Revocation.seq.is_(None), m.Certificate.not_after < now)
        if after is not None:
            q = q.where(m.Certificate.serial > serials.to_store(serials.parse(after)))
        q = q.order_by(m.Certificate.serial).limit(limit + 1)
        with self.platform.db.session() as s:
            rows = s.execute(q).all()
        page = [_record(c, r, now) for c, r in rows[:limit]]
        cursor = serials.to_display(page[-1].serial) if len(rows) > limit else None
        return page, cursor

    def of_resident(self, resident_code: str) -> list[CertificateRecord]:
        """Every certificate issued to a resident, newest first (the resident portal)."""
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            rows = s.execute(
                select(m.Certificate, m.Revocation)
                .outerjoin(m.Revocation, m.Revocation.serial == m.Certificate.serial)
                .where(m.Certificate.resident_code == resident_code)
                .order_by(m.Certificate.issued_at.desc())
            ).all()
            return [_record(c, r, now) for c, r in rows]

    def kind_counts(self) -> KindCounts:
        """How many certificates of each kind were issued and revoked (the status page)."""
        with self.platform.db.session() as s:
            issued = dict(s.execute(select(m.Certificate.kind, func.count()).group_by(m.Certificate.kind)).all())
            revoked = dict(
                s.execute(
                    select(m.Certificate.kind, func.count())
                    .join(m.Revocation, m.Revocation.serial == m.Certificate.serial)
                    .group_by(m.Certificate.kind)
                ).all()
            )
        return KindCounts(issued=issued, revoked=revoked)

    def notices(self, topic: str = "public-notice", limit: int = 100) -> list[dict]:
        with self.platform.db.session() as s:
            rows = s.scalars(select(m.OutboxMessage).where(m.OutboxMessage.topic == topic).order_by(m.OutboxMessage.id.desc()).limit(limit))
            return [{"id": r.id, "created_at": r.created_at.isoformat(), **json.loads(r.payload)} for r in rows]
