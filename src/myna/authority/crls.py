"""Publishing CRLs and delta CRLs per CA (失効情報ファイル, R-REV-9, R-REV-10).

- Full CRLs on a schedule (daily by default) and on demand; delta CRLs between them.
- CRL numbers are monotonic per CA, shared by full and delta CRLs (RFC 5280 §5.2.3).
- A delta holds the revocations recorded after its base full CRL was built; ``seq`` of
  the revocation records marks that point exactly, with no clock race.
- Only entries still within the retention period are listed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from sqlalchemy import func, select

from myna.authority.platform import LoadedAuthority, Platform
from myna.errors import NotFound
from myna.pki.crl_der import CrlParams, build_crl
from myna.pki.kinds import AuthorityKind
from myna.pki.signer import sign_bytes, signature_algorithm
from myna.store import models as m
from myna.store.journal import audit

_FETCH_CHUNK = 20_000


@dataclass(frozen=True)
class Published:
    authority: str
    number: int
    is_delta: bool
    entries: int
    this_update: dt.datetime
    next_update: dt.datetime
    der: bytes


class CrlService:
    def __init__(self, platform: Platform):
        self.platform = platform

    def publish(self, kind: AuthorityKind | str, delta: bool = False, actor: str = "system") -> Published:
        """Build, sign, store and return the next CRL of the active ``kind`` CA."""
        return self.publish_for(self.platform.authority(kind), delta=delta, actor=actor)

    def publish_all(self, delta: bool = False, actor: str = "system") -> list[Published]:
        """Every CA with unexpired certificates gets a CRL, retired generations included:
        their certificates still name their CRL."""
        out = []
        for row in self.platform.authority_rows():
            ca = self.platform.authority_by_id(row.id)
            if ca.cert.not_valid_after_utc < self.platform.clock.now():
                continue
            out.append(self.publish_for(ca, delta=delta, actor=actor))
        return out

    def publish_for(self, ca: LoadedAuthority, delta: bool = False, actor: str = "system") -> Published:
        """Publish a delta CRL, or a full CRL followed at once by a delta on top of it, so the
        delta a relying party finds always matches the newest full CRL."""
        published = self._publish_one(ca, delta, actor)
        if not published.is_delta:
            self._publish_one(ca, True, actor)
        return published

    def _publish_one(self, ca: LoadedAuthority, delta: bool, actor: str) -> Published:
        settings = self.platform.settings
        urls = self.platform.urls
        now = self.platform.clock.now()
        oldest = now - dt.timedelta(days=settings.retention_days)
        with self.platform.db.session() as s:
            last_number = s.scalar(select(func.max(m.Crl.number)).where(m.Crl.authority_id == ca.id)) or 0
            base = None
            if delta:
                base = s.scalars(
                    select(m.Crl).where(m.Crl.authority_id == ca.id, m.Crl.is_delta.is_(False)).order_by(m.Crl.number.desc())
                ).first()
                if base is None:
                    delta = False  # a delta needs a base: publish the full CRL first
            after_seq = base.covers_seq if base is not None else 0
            covers = s.scalar(select(func.max(m.Revocation.seq)).where(m.Revocation.authority_id == ca.id)) or 0
            query = (
                select(m.Revocation.crl_entry)
                .where(
                    m.Revocation.authority_id == ca.id,
                    m.Revocation.seq > after_seq,
                    m.Revocation.seq <= covers,
                    m.Revocation.revoked_at >= oldest,
                )
                .order_by(m.Revocation.seq)
                .execution_options(yield_per=_FETCH_CHUNK)
            )
            entries = [e for e in s.scalars(query)]
            interval = settings.delta_crl_interval_s if delta else settings.full_crl_interval_s
            params = CrlParams(
                issuer_name=ca.cert.subject,
                this_update=now,
                next_update=now + dt.timedelta(seconds=interval),
                crl_number=last_number + 1,
                authority_key_identifier=ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest,
                # The root certificate names no CRL distribution point (it is the trust
                # anchor); a named IDP would put it out of the root CRL's scope, which
                # OpenSSL rejects under -crl_check_all.
                distribution_point_url=None if ca.kind is AuthorityKind.ROOT else urls.crl(ca.slug),
                only_contains_user_certs=ca.kind is not AuthorityKind.ROOT,
                only_contains_ca_certs=ca.kind is AuthorityKind.ROOT,
                delta_base_crl_number=base.number if delta else None,
                freshest_crl_url=None if delta else urls.delta_crl(ca.slug),
            )
            der = build_crl(params, entries, sign_bytes(ca.key), signature_algorithm(ca.key))
            s.add(
                m.Crl(
                    authority_id=ca.id,
                    number=params.crl_number,
                    is_delta=delta,
                    base_number=params.delta_base_crl_number,
                    this_update=now,
                    next_update=params.next_update,
                    entries=len(entries),
                    covers_seq=covers,
                    der=der,
                )
            )
            audit(s, now, actor, "crl.published", ca.slug, number=params.crl_number, delta=delta, entries=len(entries))
        return Published(ca.slug, params.crl_number, delta, len(entries), now, params.next_update, der)

    def latest(self, slug: str, delta: bool = False) -> m.Crl:
        ca = self.platform.authority_by_slug(slug)
        with self.platform.db.session() as s:
            row = s.scalars(
                select(m.Crl).where(m.Crl.authority_id == ca.id, m.Crl.is_delta.is_(delta)).order_by(m.Crl.number.desc())
            ).first()
        if row is None:
            raise NotFound(f"no {'delta ' if delta else ''}CRL published yet for {slug}")
        return row

    def due(self) -> list[tuple[LoadedAuthority, bool]]:
        """Which CAs need a new full CRL (none yet, or 90% of its life gone) or, failing
        that, a new delta CRL. A full CRL brings its own delta (see publish_for)."""
        now = self.platform.clock.now()
        todo = []
        for row in self.platform.authority_rows():
            ca = self.platform.authority_by_id(row.id)
            if ca.cert.not_valid_after_utc < now:
                continue
            for delta in (False, True):
                if self._stale(ca.slug, delta, now):
                    todo.append((ca, delta))
                    break
        return todo

    def _stale(self, slug: str, delta: bool, now: dt.datetime) -> bool:
        try:
            last = self.latest(slug, delta=delta)
        except NotFound:
            return True
        return now >= last.this_update + (last.next_update - last.this_update) * 0.9
