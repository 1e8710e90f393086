"""The platform side of replication to validity centres: reading the status feed, for
in-process centres and for the /api/v1/feed endpoints that remote centres pull. (The
credentials of registered verifiers they also pull, R-VER-1, are the verifier package's:
``myna.verifiers.credentials.verifier_credentials``.)"""

from __future__ import annotations

from sqlalchemy import func, select

from myna.authority.platform import Platform, authority_slug
from myna.store import models as m
from myna.store.replica import FeedEvent

MAX_FEED_PAGE = 10_000


def _slugs(platform: Platform) -> dict[int, str]:
    return {row.id: authority_slug(row.kind, row.generation) for row in platform.authority_rows()}


def read_feed(platform: Platform, after: int, limit: int = 5000, also: list[int] | None = None) -> tuple[list[FeedEvent], int]:
    """Events with ``seq > after`` (at most ``limit``), plus any of the ``also`` seqs a
    centre is still waiting for, and the feed's current head."""
    limit = max(1, min(limit, MAX_FEED_PAGE))
    slugs = _slugs(platform)
    with platform.db.session() as s:
        head = s.scalar(select(func.max(m.StatusEvent.seq))) or 0
        rows = list(s.scalars(select(m.StatusEvent).where(m.StatusEvent.seq > after).order_by(m.StatusEvent.seq).limit(limit)))
        if also:
            rows += list(s.scalars(select(m.StatusEvent).where(m.StatusEvent.seq.in_(also[:1000]))))
    events = [FeedEvent(r.seq, r.serial, slugs.get(r.authority_id, "?"), r.event, r.at, r.not_after, r.reason) for r in rows]
    return events, head
