"""What the portal shows a resident about verifiers: whom they may consent to, their
consents, and the record of who received what about them (開示: from the provision log)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from myna.access.entitlements import Operation, VerifierType, why_not
from myna.authority.platform import Platform
from myna.store import models as m
from myna.store import models_verifiers as mv
from myna.verifiers.registry import Status

DISCLOSURE_LIMIT = 200


@dataclass(frozen=True)
class ConsentRow:
    code: str
    name: str
    type: str
    consented: bool
    since: dt.datetime | None


@dataclass(frozen=True)
class Disclosure:
    at: dt.datetime
    verifier: str
    verifier_name: str
    on_behalf_of: str | None
    category: str
    title: str
    outcome: str
    serial: str


def may_receive_basic4(vtype: str) -> bool:
    """Consent matters only for verifiers that can receive basic 4 information: directly, or
    (entrusting businesses) through their platform operator."""
    t = VerifierType(vtype)
    return t is VerifierType.ENTRUSTING_BUSINESS or why_not(t, Operation.BASIC4) is None


def consents(platform: Platform, resident_code: str) -> list[ConsentRow]:
    with platform.db.session() as s:
        current = {
            c.verifier_id: c.granted_at
            for c in s.scalars(select(mv.Consent).where(mv.Consent.resident_code == resident_code, mv.Consent.withdrawn_at.is_(None)))
        }
        rows = []
        for v in s.scalars(select(mv.Verifier).order_by(mv.Verifier.name)):
            if not may_receive_basic4(v.type):
                continue
            if v.status != Status.ACTIVE.value and v.id not in current:
                continue  # a suspended verifier with no consent of this resident: nothing to show
            rows.append(ConsentRow(v.code, v.name, v.type, v.id in current, current.get(v.id)))
        return rows


def disclosures(platform: Platform, resident_code: str, limit: int = DISCLOSURE_LIMIT) -> list[Disclosure]:
    """Answers given to verifiers about this resident's certificates, newest first. Refusals
    are listed too: a resident may want to know that someone asked."""
    with platform.db.session() as s:
        v = mv.Verifier.__table__.alias("v")
        b = mv.Verifier.__table__.alias("b")
        q = (
            select(mv.Provision, v.c.code, v.c.name, b.c.code)
            .join(m.Certificate, m.Certificate.serial == mv.Provision.serial)
            .join(v, v.c.id == mv.Provision.verifier_id)
            .outerjoin(b, b.c.id == mv.Provision.on_behalf_of_id)
            .where(m.Certificate.resident_code == resident_code)
            .order_by(mv.Provision.at.desc(), mv.Provision.id.desc())
            .limit(limit)
        )
        out = []
        for p, code, name, behalf in s.execute(q):
            try:
                title = Operation(p.category).title
            except ValueError:
                title = p.category
            out.append(Disclosure(p.at, code, name, behalf, p.category, title, p.outcome, p.serial))
        return out
