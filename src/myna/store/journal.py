"""The audit log and the outbox, written inside the caller's transaction so a change and
its record commit or vanish together."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import insert
from sqlalchemy.orm import Session

from myna.store import models as m

# One encoder for every record: json.dumps with options builds a new JSONEncoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)


def _json(data: dict) -> str:
    return _ENCODER.encode(data)


def audit(s: Session, at: dt.datetime, actor: str, action: str, subject: str, **detail: object) -> None:
    s.add(m.AuditEvent(at=at, actor=actor, action=action, subject=subject, detail=_json(detail)))


def enqueue(s: Session, at: dt.datetime, topic: str, payload: dict) -> None:
    s.add(m.OutboxMessage(topic=topic, payload=_json(payload), created_at=at))


def status_event(
    s: Session,
    serial: str,
    authority_id: int,
    event: str,
    at: dt.datetime,
    not_after: dt.datetime,
    reason: str | None = None,
) -> None:
    """Append to the status feed that validity centres replicate (same transaction)."""
    s.add(m.StatusEvent(serial=serial, authority_id=authority_id, event=event, at=at, not_after=not_after, reason=reason))


# The batch writers insert into the tables (Core), not the mapped classes: an ORM bulk
# insert builds per-row insert commands first, a third of the store's cost per certificate
# in a big issuance batch (measured with bench/issuance.py), for nothing the rows need.


def audit_many(s: Session, events: list[tuple[dt.datetime, str, str, str, dict]]) -> None:
    """Many audit events in one executemany: (at, actor, action, subject, detail)."""
    if events:
        s.execute(
            insert(m.AuditEvent.__table__),
            [{"at": at, "actor": a, "action": act, "subject": sub, "detail": _json(d)} for at, a, act, sub, d in events],
        )


def status_events(s: Session, events: list[tuple[str, int, str, dt.datetime, dt.datetime, str | None]]) -> None:
    """Many status-feed entries in one executemany: (serial, authority_id, event, at, not_after, reason)."""
    if events:
        s.execute(
            insert(m.StatusEvent.__table__),
            [{"serial": se, "authority_id": a, "event": e, "at": at, "not_after": na, "reason": r} for se, a, e, at, na, r in events],
        )
