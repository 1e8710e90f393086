"""Revocation records (失効情報, SPEC §4).

A revocation takes effect at the moment it is recorded: ``revoked_at`` is the clock's
now inside the recording transaction. Expiry (R-REV-7) is never recorded. Each record
carries its CRL entry already DER-encoded, so CRLs are built by concatenation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update

from myna.authority.holders import acts_for
from myna.authority.platform import Platform
from myna.errors import AlreadyRevoked, Conflict, Forbidden, InvalidInput, NotFound
from myna.pki import serials
from myna.pki.crl_der import encode_entry
from myna.pki.kinds import AuthorityKind, CertKind
from myna.pki.revocation import RevocationReason
from myna.store import models as m
from myna.store import models_mobile as mm
from myna.store.feed_events import FeedEventKind
from myna.store.journal import audit, enqueue, status_event

NOTE_MAX = 1000
# R-REV-6: a card certificate's revocation (for any reason but expiry) revokes the holder's
# mobile certificate of the same purpose. The law has no card-sign -> mobile-auth cascade.
_LINKED_MOBILE = {CertKind.CARD_SIGN.value: CertKind.MOBILE_SIGN, CertKind.CARD_AUTH.value: CertKind.MOBILE_AUTH}


@dataclass(frozen=True)
class Revoked:
    serial: int
    reason: RevocationReason
    revoked_at: dt.datetime


@dataclass(frozen=True)
class CompromiseResult:
    authority: str
    revoked: int
    revoked_at: dt.datetime


def status_of(row: m.Certificate, revocation: m.Revocation | None, now: dt.datetime) -> str:
    """``revoked`` if recorded, else ``expired`` past notAfter (derived, R-REV-7), else ``valid``."""
    if revocation is not None:
        return "revoked"
    return "expired" if now > row.not_after else "valid"


class RevocationService:
    def __init__(self, platform: Platform):
        self.platform = platform

    def revoke(
        self,
        serial: int,
        reason: RevocationReason,
        actor: str,
        note: str | None = None,
        municipality_code: str | None = None,
    ) -> Revoked:
        """Record the revocation of one holder certificate.

        ``municipality_code`` restricts the action to certificates of that municipality's
        residents, by their current registration (the municipality role, R-RA-2); ``None``
        means J-LIS itself.
        """
        if not isinstance(reason, RevocationReason):
            raise InvalidInput(f"unknown revocation reason {reason!r}")
        if note is not None and len(note) > NOTE_MAX:
            raise InvalidInput(f"note is longer than {NOTE_MAX} characters")
        if reason is RevocationReason.KEY_COMPROMISE:
            raise InvalidInput("key compromise revokes a whole CA: use the CA compromise procedure (R-REV-5)")
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row = s.get(m.Certificate, serials.to_store(serial))
            if row is None or row.kind not in {k.value for k in CertKind}:
                raise NotFound(f"no holder certificate with serial {serials.to_display(serial)}")
            if not acts_for(s, municipality_code, row):
                # Same answer as for an unknown serial: a municipality learns nothing about others' certificates.
                raise NotFound(f"no holder certificate with serial {serials.to_display(serial)}")
            existing = s.scalar(select(m.Revocation).where(m.Revocation.serial == row.serial))
            if existing is not None:
                raise AlreadyRevoked(
                    f"certificate {serials.to_display(serial)} was already revoked at {existing.revoked_at.isoformat()} ({existing.reason})"
                )
            if now > row.not_after:
                raise Conflict(
                    f"certificate {serials.to_display(serial)} expired at {row.not_after.isoformat()}; expiry needs no revocation (R-REV-7)"
                )
            if not reason.allowed_for(CertKind(row.kind).is_mobile):
                raise InvalidInput(f"reason {reason.value} ({reason.rule}) applies only to mobile certificates")
            self._record(s, row, reason, now, actor, note)
        return Revoked(serial, reason, now)

    def revoke_for_resident(
        self, s, resident_code: str, kinds: set[CertKind], reason: RevocationReason, now: dt.datetime, actor: str, note: str | None = None
    ) -> list[m.Certificate]:
        """Inside the caller's transaction: revoke the holder's unexpired, unrevoked
        certificates of ``kinds`` (with the R-REV-6 cascade). Returns what was revoked."""
        rows = list(
            s.scalars(
                select(m.Certificate)
                .outerjoin(m.Revocation, m.Revocation.serial == m.Certificate.serial)
                .where(
                    m.Certificate.resident_code == resident_code,
                    m.Certificate.kind.in_([k.value for k in kinds]),
                    m.Certificate.not_after >= now,
                    m.Revocation.seq.is_(None),
                )
            )
        )
        done = []
        for row in rows:
            done += self._record(s, row, reason, now, actor, note)
        return done

    def record_in(
        self, s, row: m.Certificate, reason: RevocationReason, now: dt.datetime, actor: str, note: str | None = None
    ) -> list[m.Certificate]:
        """Inside the caller's transaction: revoke this one certificate (the caller checked
        it is unrevoked and unexpired), with the R-REV-6 cascade. For card management,
        which revokes a given card's certificates together with the card's status change."""
        return self._record(s, row, reason, now, actor, note)

    def _record(
        self, s, row: m.Certificate, reason: RevocationReason, now: dt.datetime, actor: str, note: str | None
    ) -> list[m.Certificate]:
        """Record one revocation and, for a card certificate, the R-REV-6 cascade to the
        holder's mobile certificate of the same purpose. Returns every row revoked."""
        serial = int(row.serial, 16)
        s.add(
            m.Revocation(
                serial=row.serial,
                authority_id=row.authority_id,
                reason=reason.value,
                revoked_at=now,
                recorded_by=actor,
                note=note,
                crl_entry=encode_entry(serial, now, reason.x509_reason),
            )
        )
        audit(s, now, actor, "certificate.revoked", row.serial, reason=reason.value, rule=reason.rule, note=note)
        status_event(s, row.serial, row.authority_id, FeedEventKind.REVOKED.value, now, row.not_after, reason.value)
        if reason.notifies_holder:
            # R-REV-4: the holder is told promptly; delivery is the outbox consumer's job.
            enqueue(
                s,
                now,
                "holder-notice",
                {
                    "type": "revocation-record-error",
                    "serial": serials.to_display(serial),
                    "kind": row.kind,
                    "resident_code": row.resident_code,
                    "revoked_at": now.isoformat(),
                },
            )
        done = [row]
        linked = _LINKED_MOBILE.get(row.kind)
        if linked is not None:
            s.flush()
            note = f"card certificate {serials.to_display(serial)} revoked ({reason.rule})"
            for mobile in self._linked_mobiles(s, row, linked, now):
                done += self._record(s, mobile, RevocationReason.LINKED_CARD_REVOKED, now, actor, note)
        return done

    @staticmethod
    def _linked_mobiles(s, card: m.Certificate, kind: CertKind, now: dt.datetime) -> list[m.Certificate]:
        """R-REV-6: the unexpired, unrevoked mobile certificates issued on this card
        certificate — by the explicit link recorded at mobile issuance (myna.mobile). A
        mobile certificate without any link (issued directly, outside the smartphone
        application flow) falls back to the holder: those of the same purpose."""
        live = (m.Certificate.not_after >= now, m.Revocation.seq.is_(None), m.Certificate.kind == kind.value)
        base = select(m.Certificate).outerjoin(m.Revocation, m.Revocation.serial == m.Certificate.serial)
        rows = list(
            s.scalars(
                base.join(mm.MobileLink, mm.MobileLink.mobile_serial == m.Certificate.serial).where(
                    mm.MobileLink.card_serial == card.serial, *live
                )
            )
        )
        if card.resident_code is not None:
            linked_any = select(mm.MobileLink.mobile_serial)
            rows += s.scalars(base.where(m.Certificate.resident_code == card.resident_code, m.Certificate.serial.not_in(linked_any), *live))
        return rows

    def compromise_authority(self, kind: AuthorityKind | str, actor: str, note: str | None = None) -> CompromiseResult:
        """R-REV-5: the key of the active ``kind`` CA leaked, was lost or damaged.

        Every unrevoked, unexpired certificate it signed is revoked, the CA is retired
        (its own certificate revoked in the root's CRL), and a public notice is written.
        A new generation is created by the next key ceremony (``myna init``).
        """
        ca = self.platform.authority(kind)
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            authority = s.get(m.Authority, ca.id)
            if authority is None or not authority.active:
                raise Forbidden(f"the {ca.slug} CA is not active")
            revoked_serials = set(s.scalars(select(m.Revocation.serial).where(m.Revocation.authority_id == ca.id)))
            victims = [
                row
                for row in s.scalars(select(m.Certificate).where(m.Certificate.authority_id == ca.id, m.Certificate.not_after >= now))
                if row.serial not in revoked_serials
            ]
            for row in victims:
                self._record(s, row, RevocationReason.KEY_COMPROMISE, now, actor, note)
            authority.active = False
            authority.compromised_at = now
            if ca.kind is AuthorityKind.ROOT:
                # Every issuing CA under a compromised root stops issuing too.
                s.execute(update(m.Authority).where(m.Authority.parent_id == ca.id).values(active=False))
            else:
                ca_row = s.get(m.Certificate, serials.to_store(ca.cert.serial_number))
                already = s.scalar(select(m.Revocation.seq).where(m.Revocation.serial == ca_row.serial)) if ca_row else None
                if ca_row is not None and already is None:
                    self._record(s, ca_row, RevocationReason.KEY_COMPROMISE, now, actor, note)
            enqueue(
                s,
                now,
                "public-notice",
                {
                    "type": "issuer-key-compromise",
                    "rule": "R-REV-5",
                    "authority": ca.slug,
                    "subject": ca.cert.subject.rfc4514_string(),
                    "revoked_certificates": len(victims),
                    "effective": now.isoformat(),
                    "note": note,
                },
            )
            audit(s, now, actor, "authority.compromised", ca.slug, revoked=len(victims), note=note)
        self.platform.forget_authorities()
        return CompromiseResult(ca.slug, len(victims), now)
