"""The platform side of replication to validity centres: reading the status feed and the
credentials of registered verifiers (R-VER-1), for in-process centres and for the
/api/v1/feed endpoints that remote centres pull."""

from __future__ import annotations

from sqlalchemy import func, select

from myna.authority.platform import Platform, authority_slug
from myna.store import models as m
from myna.store import models_verifiers as mv
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


def verifier_credentials(platform: Platform) -> dict[str, str]:
    """SHA-256 of each enabled verifier token → its role (verifier-sign/-auth/-both).

    A token bound to a registered verifier (label ``verifier:CODE``, made by ``myna
    verifier token``) is listed only while that verifier is **active** and its type still
    gives the token's role (R-VER-1): suspending the verifier withdraws the token from the
    centres at their next sync, reinstating it brings the token back, and termination is
    final (the registry also disables the token). A bound token whose verifier does not
    exist is not listed, nor is a verifier-role token bound to no verifier (such tokens
    can no longer be made, R-VER-1; one left from before is not a credential).
    """
    # Imported here: the verifier services sit above the authority layer.
    from myna.verifiers.credentials import TOKEN_LABEL_PREFIX, TOKEN_ROLE
    from myna.verifiers.registry import Status

    role_of_type = {vtype.value: role.value for vtype, role in TOKEN_ROLE.items()}

    with platform.db.session() as s:
        rows = s.execute(
            select(m.ApiToken.token_sha256, m.ApiToken.role, m.ApiToken.label).where(
                m.ApiToken.role.like("verifier-%"), m.ApiToken.disabled.is_(False)
            )
        ).all()
        registered = {code: (vtype, status) for code, vtype, status in s.execute(select(mv.Verifier.code, mv.Verifier.type, mv.Verifier.status))}
    out: dict[str, str] = {}
    for digest, role, label in rows:
        if not label.startswith(TOKEN_LABEL_PREFIX):
            continue  # bound to no verifier (made before tokens were bound): no credential
        found = registered.get(label.removeprefix(TOKEN_LABEL_PREFIX))
        if found is None or found[1] != Status.ACTIVE.value:
            continue
        if role_of_type.get(found[0]) != role:
            continue
        out[digest] = role
    return out
