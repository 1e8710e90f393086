"""Records for the store digest and backup tests (import as ``records_support``): issuance
and revocation through the platform's own services, and a row-for-row copy of one store into
another (SQLite into PostgreSQL), so that two engines hold the very same records."""

from __future__ import annotations

import datetime as dt
import uuid

from myna_testing import issue_request, register_for
from sqlalchemy import insert, select

from myna.authority.platform import Platform
from myna.pki.revocation import RevocationReason
from myna.store.models import Base
from myna.wiring import build

REASONS = (RevocationReason.REQUEST, RevocationReason.RESIDENT_CHANGE, RevocationReason.RECORD_ERROR)


def issue_and_revoke(platform: Platform, issue: int, revoke: int, tag: str = "") -> list[int]:
    """``issue`` card certificates to as many registered residents (one issue_many), then
    revoke the first ``revoke`` of them, one revocation each with its own reason; returns the
    serials issued. Times step by odd microseconds when the clock allows, so that a digest
    that dropped or rounded them would show it."""
    services = build(platform)
    reqs = [
        issue_request(
            "card-auth" if i % 2 else "card-sign",
            request_id=f"rec-{tag}-{i}-{uuid.uuid4().hex[:8]}",
            resident_code=f"{uuid.uuid4().int % 10**11:011d}",
        )
        for i in range(issue)
    ]
    register_for(platform, *reqs)
    issued = services.issuance.issue_many(reqs, "records-test")
    advance = getattr(platform.clock, "advance", None)
    for i, cert in enumerate(issued[:revoke]):
        if advance:
            advance(dt.timedelta(seconds=1, microseconds=123457))
        services.revocation.revoke(cert.serial, REASONS[i % len(REASONS)], "records-test", note=f"test {i}")
    return [c.serial for c in issued]


def copy_store(source: Platform, target: Platform) -> int:
    """Every row of every table of ``source`` into ``target`` (migrated, empty), parents
    before children, each table in primary-key order; returns the rows copied."""
    copied = 0
    with source.db.session() as src, target.db.session() as dst:
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            rows = [dict(r._mapping) for r in src.execute(select(table).order_by(*order))]
            if rows:
                dst.execute(insert(table), rows)
                copied += len(rows)
    return copied
