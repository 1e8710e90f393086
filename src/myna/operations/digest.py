"""A digest of the records the law cares about (the issuance records of R-CERT-3, the
revocation records of SPEC §4, R-OPS-2's "no acknowledged issuance or revocation lost"): row
counts of every platform table and SHA-256 digests of the issuance records, the revocation
records, the status feed and the audit log, the same for the same records on SQLite and on
PostgreSQL. Two sites, or a site and its restored backup, hold the same records exactly when
their digests are equal: the check after a point-in-time restore (scripts/backup.sh) and
after a failover.

The canonical encoding (format ``myna-store-digest/1``, docs/operations.md):

- each section is read in primary-key order, one record per line: a JSON array of the
  section's fields in a fixed order, UTF-8, no spaces (``separators=(",", ":")``,
  ``ensure_ascii=False``), ended by ``\\n``;
- a timestamp is UTC with microseconds, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (the store keeps
  microseconds on both engines); an absent value is ``null``; a binary value (a DER
  certificate, a CRL entry) is the lowercase hex SHA-256 of its bytes; an authority is named
  by its slug (``card-sign``, ``card-sign-g2``), not by its row id;
- a section's digest is the SHA-256 of its lines;
- the whole digest is the SHA-256 of the JSON document ``{"counts": ..., "format": ...,
  "sections": {name: {"rows": n, "sha256": hex}}}`` with sorted keys and the same separators.

Why a hand-made encoding and not a canonical-JSON library (RFC 8785): the records are arrays
of text, integers and nulls, no floats and no objects, and for those ``json.dumps`` with fixed
separators already writes one spelling per value; a library would add a dependency for
nothing the records contain.

Reading is streamed (``yield_per``: a server-side cursor on PostgreSQL), so memory stays
bounded for millions of records, and everything is read in one snapshot
(:meth:`myna.store.db.Database.snapshot`), so counts and digests describe one moment even
while the platform writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from myna.authority.platform import Platform, authority_slug
from myna.errors import NotInitialised
from myna.store import models as m

FORMAT = "myna-store-digest/1"
# Records fetched per round trip: large enough that the round trips cost little next to the
# hashing, small enough that a partition of them is a few megabytes at most.
BATCH = 2000

_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class SectionDigest:
    rows: int
    sha256: str


@dataclass(frozen=True)
class StoreDigest:
    """What :meth:`Digests.compute` found: equal on two stores exactly when they hold the same records."""

    format: str
    schema: str
    counts: dict[str, int]
    sections: dict[str, SectionDigest]
    sha256: str

    def to_json(self) -> dict:
        return {
            "format": self.format,
            "schema": self.schema,
            "sha256": self.sha256,
            "counts": dict(self.counts),
            "sections": {name: {"rows": d.rows, "sha256": d.sha256} for name, d in self.sections.items()},
        }


def utc_text(value: dt.datetime | None) -> str | None:
    """A store timestamp in the digest's one spelling (UTC, microseconds, ``Z``)."""
    if value is None:
        return None
    if value.tzinfo is None:  # the store never returns one (UtcDateTime); refuse to guess
        raise ValueError("naive datetime in the store")
    u = value.astimezone(dt.timezone.utc)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond)


def bytes_digest(value: bytes | None) -> str | None:
    return None if value is None else hashlib.sha256(value).hexdigest()


def line(fields: Iterable[object]) -> bytes:
    """One record's canonical line (fields already text, integers or None)."""
    return (_LINE.encode(list(fields)) + "\n").encode("utf-8")


def _sections(slugs: dict[int, str]) -> dict[str, tuple[object, Callable[[tuple], tuple]]]:
    """Each section: the statement reading its fields in primary-key order, and the function
    turning one result row into the line's fields."""
    C, R, F, E, A = m.Certificate, m.Revocation, m.StatusEvent, m.AuditEvent, m.Authority
    t, h = utc_text, bytes_digest
    return {
        "authorities": (
            select(A.id, A.kind, A.generation, A.name, A.cert_der, A.created_at, A.compromised_at).order_by(A.id),
            lambda r: (slugs[r[0]], r[1], r[2], r[3], h(r[4]), t(r[5]), t(r[6])),
        ),
        "certificates": (
            select(
                C.serial,
                C.authority_id,
                C.kind,
                C.subject_id,
                C.requester,
                C.request_id,
                C.resident_code,
                C.municipality_code,
                C.key_fingerprint,
                C.not_before,
                C.not_after,
                C.issued_at,
                C.retain_until,
                C.der,
            ).order_by(C.serial),
            lambda r: (r[0], slugs[r[1]], *r[2:9], t(r[9]), t(r[10]), t(r[11]), t(r[12]), h(r[13])),
        ),
        "revocations": (
            select(R.seq, R.serial, R.authority_id, R.reason, R.revoked_at, R.recorded_by, R.crl_entry).order_by(R.seq),
            lambda r: (r[0], r[1], slugs[r[2]], r[3], t(r[4]), r[5], h(r[6])),
        ),
        "status_feed": (
            select(F.seq, F.serial, F.authority_id, F.event, F.at, F.not_after, F.reason).order_by(F.seq),
            lambda r: (r[0], r[1], slugs[r[2]], r[3], t(r[4]), t(r[5]), r[6]),
        ),
        "audit_events": (
            select(E.id, E.at, E.actor, E.action, E.subject, E.detail).order_by(E.id),
            lambda r: (r[0], t(r[1]), r[2], r[3], r[4], r[5]),
        ),
    }


SECTIONS = ("authorities", "certificates", "revocations", "status_feed", "audit_events")


def _digest_section(s: Session, stmt, fields: Callable[[tuple], tuple], progress: Callable[[int], None] | None) -> SectionDigest:
    h = hashlib.sha256()
    rows = 0
    # Core, not the ORM's execute: the rows are plain tuples, and the ORM's loading layer
    # would cost more per row than the encoding does.
    result = s.connection().execute(stmt.execution_options(yield_per=BATCH))
    for part in result.partitions():
        h.update(b"".join(line(fields(r)) for r in part))
        rows += len(part)
        if progress:
            progress(len(part))
    return SectionDigest(rows, h.hexdigest())


def combine(counts: dict[str, int], sections: dict[str, SectionDigest]) -> str:
    """The whole digest over the counts and the sections' digests."""
    doc = {"counts": counts, "format": FORMAT, "sections": {k: {"rows": v.rows, "sha256": v.sha256} for k, v in sections.items()}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class Digests:
    """Computes :class:`StoreDigest` of this platform's store (``myna store digest``)."""

    def __init__(self, platform: Platform):
        self.platform = platform

    def compute(self, progress: Callable[[int], None] | None = None, total: Callable[[int], None] | None = None) -> StoreDigest:
        """The digest of the store as of one moment. ``total`` is told how many records the
        sections hold (once, first), ``progress`` how many more were digested."""
        db = self.platform.db
        try:
            current, head = db.schema_revisions()
        except OperationalError as exc:
            # The driver's message may name the host and the user: only its class goes on.
            raise NotInitialised(
                f"cannot read the database ({type(exc.orig).__name__}): is the server up, and MYNA_DATABASE_URL right?"
            ) from None
        if current is None:
            raise NotInitialised("this database holds no myna store (no schema revision): nothing to digest")
        if current != head:
            # A digest names the columns of one schema: comparing stores at different
            # revisions would compare different things. Digesting never migrates.
            raise NotInitialised(f"the store is at schema revision {current}, this myna reads {head}: digest stores at the same revision")
        with db.snapshot() as s:
            tables = sorted(m.Base.metadata.tables.values(), key=lambda tbl: tbl.name)
            counts = {tbl.name: s.scalar(select(func.count()).select_from(tbl)) for tbl in tables}
            if total:
                total(sum(counts[name] for name in SECTIONS))
            slugs = {i: authority_slug(k, g) for i, k, g in s.execute(select(m.Authority.id, m.Authority.kind, m.Authority.generation))}
            sections = {name: _digest_section(s, stmt, fields, progress) for name, (stmt, fields) in _sections(slugs).items()}
        return StoreDigest(FORMAT, current, counts, sections, combine(counts, sections))


__all__ = ["FORMAT", "SECTIONS", "Digests", "SectionDigest", "StoreDigest", "bytes_digest", "combine", "line", "utc_text"]
