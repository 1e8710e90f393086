"""A card's life after handover (R-CARD-7, R-CARD-8, R-CARD-9): suspension by the call
centre (24/7), lifting, loss, reissue (only through a new application), return,
abolition; expiry notices and certificate renewal at the counter; fees.

Each status change and the revocations it calls for commit in one transaction, with a
row in ``card_status_changes`` and an audit event. The rules themselves are in
:mod:`myna.cards.card_status`.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from myna.authority.platform import Platform
from myna.authority.revoking import RevocationService
from myna.cards import expiry, fees
from myna.cards.applications import Applications
from myna.cards.card_status import REISSUABLE, Action, CardStatus, IllegalTransition, next_status
from myna.cards.forms import ApplicationIn
from myna.cards.notices import ExpiryLetter, expiry_notices_pdf
from myna.cards.receipts import Receipt
from myna.cards.receiving import requester_for
from myna.cards.renewal_forms import renewal_form_id, renewal_form_token
from myna.chip.chips import ChipService
from myna.clock import JST
from myna.errors import Conflict, InvalidInput, NotFound
from myna.pki import serials
from myna.pki.kinds import CertKind
from myna.pki.revocation import RevocationReason
from myna.store import models as m
from myna.store.journal import audit
from myna.store.models_card_management import CardApplication, CardFee, CardStatusChange, CertificateRenewal, ExpiryNotice, ManagedCard
from myna.store.models_cards import ChipRecord
from myna.verifiers.renewals import next_serial

NOTE_MAX = 500


def revoke_card_certificates(s, revocation: RevocationService, card: ChipRecord, now: dt.datetime, actor: str, note: str) -> list[str]:
    """Inside the caller's transaction: revoke this card's certificates that are still
    in effect (R-REV-1, a revocation application or notification). Returns their serials."""
    done = []
    for serial in (card.auth_serial, card.sign_serial):
        if serial is None:
            continue
        row = s.get(m.Certificate, serial)
        revoked = s.scalar(select(m.Revocation.seq).where(m.Revocation.serial == serial))
        if row is None or revoked is not None or row.not_after < now:
            continue  # already revoked, or expired (R-REV-7: nothing to record)
        for r in revocation.record_in(s, row, RevocationReason.REQUEST, now, actor, note):
            done.append(serials.to_display(int(r.serial, 16)))
    return done


class CardManagement:
    def __init__(self, platform: Platform, *, chips: ChipService, applications: Applications, revocation: RevocationService):
        self.platform = platform
        self.cards = chips
        self.applications = applications  # a reissue is a new application (R-CARD-7)
        self.revocation = revocation

    def _change(self, card_id: str, action: Action, actor: str, note: str | None, municipality_code: str | None) -> dict:
        if note is not None and len(note) > NOTE_MAX:
            raise InvalidInput(f"note is longer than {NOTE_MAX} characters")
        cid = self.cards.resolve(card_id, municipality_code)
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row = s.get(ChipRecord, cid, with_for_update=True)
            if municipality_code is not None and row.municipality_code != municipality_code:
                raise NotFound(f"no such card at municipality {municipality_code}")
            rule = next_status(row.status, action, cid)
            revoked = (
                revoke_card_certificates(s, self.revocation, row, now, actor, f"card {cid} {rule.to.value}" + (f": {note}" if note else ""))
                if rule.revokes
                else []
            )
            s.add(
                CardStatusChange(
                    card_id=cid,
                    from_status=row.status,
                    to_status=rule.to.value,
                    at=now,
                    actor=actor,
                    note=note,
                    revoked=json.dumps(revoked),
                )
            )
            audit(s, now, actor, f"card.{rule.to.value}", cid, previous=row.status, revoked=revoked, note=note)
            previous = row.status
            row.status, row.updated_at = rule.to.value, now
        return {"card_id": cid, "previous": previous, "status": rule.to.value, "revoked": revoked, "at": now.isoformat()}

    def suspend(self, card_id: str, actor: str, note: str | None = None, municipality_code: str | None = None) -> dict:
        """一時利用停止 (R-CARD-7): the call centre, 24/7. Both certificates are revoked
        at once (docs/card-management.md says why revocation, not a hold)."""
        return self._change(card_id, Action.SUSPEND, actor, note, municipality_code)

    def lift(self, card_id: str, actor: str, note: str | None = None, municipality_code: str | None = None) -> dict:
        """The card was found: the holder may use it again as an identity card; its
        certificates stay revoked until renewed at the counter (:meth:`renew_certificates`)."""
        return self._change(card_id, Action.LIFT, actor, note, municipality_code)

    def lose(self, card_id: str, actor: str, note: str | None = None, municipality_code: str | None = None) -> dict:
        return self._change(card_id, Action.LOSE, actor, note, municipality_code)

    def return_card(self, card_id: str, actor: str, note: str | None = None, municipality_code: str | None = None) -> dict:
        return self._change(card_id, Action.RETURN, actor, note, municipality_code)

    def abolish(self, card_id: str, actor: str, note: str | None = None, municipality_code: str | None = None) -> dict:
        return self._change(card_id, Action.ABOLISH, actor, note, municipality_code)

    def reissue(
        self, card_id: str, application: ApplicationIn | None, actor: str, channel: str = "online", municipality_code: str | None = None
    ) -> Receipt:
        """再交付 (R-CARD-7): follows the application path. Without an application nothing
        happens; with one, it is received like any other (defects, receipt, express
        after loss) and names the card it replaces, which is abolished at handover."""
        cid = self.cards.resolve(card_id, municipality_code)
        with self.platform.db.session() as s:
            row = s.get(ChipRecord, cid)
            if municipality_code is not None and row.municipality_code != municipality_code:
                raise NotFound(f"no such card at municipality {municipality_code}")
            status, holder = row.status, row.resident_code
        if status not in REISSUABLE:
            raise IllegalTransition(f"card {cid} is {status}: only a lost, suspended, returned or damaged (active) card is reissued")
        if application is None:
            raise Conflict(
                f"card {cid} is {status}: a reissue needs a new application (photo and form) through the application path (R-CARD-7)"
            )
        if application.resident_code != holder:
            raise InvalidInput("the application is not from the card's holder")
        app = ApplicationIn(**{**application.__dict__, "reason": "reissue", "replaces_card_id": cid})
        return self.applications.submit(app, channel, actor, requester=requester_for(municipality_code))

    # -- renewal (R-CARD-8) ----------------------------------------------------------------

    def renew_certificates(self, card_id: str, actor: str, municipality_code: str | None = None) -> dict:
        """At the counter: new keys on the card, new certificates, the old ones revoked
        (superseded) if still in effect, and the old-to-new link recorded (R-VER-4).
        Allowed within three months of the certificates' expiry, or when they were
        revoked while the card stayed usable (a lifted suspension)."""
        cid = self.cards.resolve(card_id, municipality_code)
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row = s.get(ChipRecord, cid)
            if municipality_code is not None and row.municipality_code != municipality_code:
                raise NotFound(f"no such card at municipality {municipality_code}")
            if row.status != CardStatus.ACTIVE.value:
                raise IllegalTransition(f"card {cid} is {row.status}: certificates are renewed on an active card")
            managed = s.get(ManagedCard, cid)
            if managed is not None and now > managed.card_expires_at:
                raise Conflict(f"card {cid} expired at {managed.card_expires_at.isoformat()}: apply for a new card")
            old = [s.get(m.Certificate, x) for x in (row.auth_serial, row.sign_serial) if x]
            revoked = (
                {x for x in s.scalars(select(m.Revocation.serial).where(m.Revocation.serial.in_([c.serial for c in old])))}
                if old
                else set()
            )
            soonest = min((c.not_after for c in old), default=None)
            due = expiry.in_window(soonest, now) or (soonest is not None and now > soonest) or bool(revoked)
            if not due:
                raise Conflict(f"the certificates of card {cid} run to {soonest.isoformat()}: renewal opens three months before (R-CARD-8)")
            item = "certificates-reissue" if revoked else "certificates-renewal"
        stamp = now.strftime("%Y%m%dT%H%M%S")

        def link(s, card: ChipRecord, pairs: dict) -> None:
            links = []
            for kind, (old_serial, new_serial) in pairs.items():
                if old_serial is None:
                    continue
                if next_serial(s, old_serial) is not None:
                    # Already linked (R-VER-4; e.g. by the verifier services' record_renewal):
                    # one successor per certificate, the first recorded one stands.
                    continue
                s.add(
                    CertificateRenewal(
                        old_serial=old_serial,
                        new_serial=new_serial,
                        kind=kind.value,
                        card_id=card.card_id,
                        resident_code=card.resident_code,
                        at=now,
                    )
                )
                links.append((kind, old_serial, new_serial))
            # The old certificates are superseded: revoke those still in effect (R-REV-1).
            old_card = ChipRecord(
                card_id=card.card_id,
                auth_serial=pairs.get(CertKind.CARD_AUTH, (None,))[0],
                sign_serial=pairs.get(CertKind.CARD_SIGN, (None,))[0],
            )
            gone = revoke_card_certificates(s, self.revocation, old_card, now, actor, f"superseded by renewal of card {card.card_id}")
            fee = fees.SCHEDULE[item]
            s.add(
                CardFee(
                    card_id=card.card_id,
                    resident_code=card.resident_code,
                    municipality_code=card.municipality_code,
                    item=fee.item,
                    amount_yen=fee.amount_yen,
                    due_at=now,
                )
            )
            audit(s, now, actor, "card.certificates-renewed", card.card_id, links=[(k.value, o, n_) for k, o, n_ in links], revoked=gone)

        info, pairs = self.cards.recertify(cid, actor, f"renewal:{cid}:{stamp}:", on_written=link, acting_for=municipality_code)
        return {
            "card_id": cid,
            "certificates": {
                k.value: {"old": serials.to_display(int(o, 16)) if o else None, "new": serials.to_display(int(nw, 16))}
                for k, (o, nw) in pairs.items()
            },
            "fee": item,
        }

    def renewal_of(self, old_serial: int) -> dict:
        """Old-to-new linkage (R-VER-4), following renewals to the newest certificate."""
        with self.platform.db.session() as s:
            current, chain = serials.to_store(old_serial), []
            for _ in range(100):
                link = s.get(CertificateRenewal, current)
                if link is None:
                    break
                chain.append(
                    {
                        "old": serials.to_display(int(link.old_serial, 16)),
                        "new": serials.to_display(int(link.new_serial, 16)),
                        "at": link.at.isoformat(),
                    }
                )
                current = link.new_serial
            if not chain:
                raise NotFound(f"no renewal of certificate {serials.to_display(old_serial)}")
            return {"serial": serials.to_display(old_serial), "newest": chain[-1]["new"], "chain": chain}

    # -- expiry notices (R-CARD-8) ----------------------------------------------------------

    def expiry_notices(self, actor: str, pdf: bool = False) -> tuple[list[dict], bytes | None]:
        """Notices for active cards whose card or certificates expire within about three
        months, each once per card, target and expiry date; saying which to renew."""
        now = self.platform.clock.now()
        horizon = expiry.add_months(now, expiry.NOTICE_MONTHS)
        out, letters = [], []
        with self.platform.db.session() as s:
            auth, sign = aliased(m.Certificate), aliased(m.Certificate)
            rows = s.execute(
                select(ChipRecord, ManagedCard)
                .join(ManagedCard, ManagedCard.card_id == ChipRecord.card_id)
                .outerjoin(auth, auth.serial == ChipRecord.auth_serial)
                .outerjoin(sign, sign.serial == ChipRecord.sign_serial)
                .where(
                    ChipRecord.status == CardStatus.ACTIVE.value,
                    or_(ManagedCard.card_expires_at <= horizon, auth.not_after <= horizon, sign.not_after <= horizon),
                )
            ).all()
            for card, managed in rows:
                certs = [s.get(m.Certificate, x) for x in (card.auth_serial, card.sign_serial) if x]
                live = [c for c in certs if s.scalar(select(m.Revocation.seq).where(m.Revocation.serial == c.serial)) is None]
                cert_exp = min((c.not_after for c in live), default=None)
                if managed.card_expires_at > horizon and (cert_exp is None or cert_exp > horizon):
                    continue
                renew = expiry.what_to_renew(managed.card_expires_at, cert_exp, now)
                if renew is None:
                    continue
                expires = managed.card_expires_at if renew in ("card", "both") else cert_exp
                exists = s.scalar(
                    select(ExpiryNotice.id).where(
                        ExpiryNotice.card_id == card.card_id, ExpiryNotice.renew == renew, ExpiryNotice.expires_at == expires
                    )
                )
                if exists is not None:
                    continue
                notice = ExpiryNotice(
                    card_id=card.card_id, resident_code=card.resident_code, renew=renew, expires_at=expires, created_at=now
                )
                s.add(notice)
                s.flush()
                # A new card is applied for: the letter carries a renewal form with its QR code.
                form_id = renewal_form_id(notice.id) if renew in ("card", "both") else None
                audit(s, now, actor, "card.expiry-notice", card.card_id, renew=renew, expires_at=expires.isoformat(), form_id=form_id)
                out.append(
                    {
                        "card_id": card.card_id,
                        "renew": renew,
                        "card_expires_at": managed.card_expires_at.isoformat(),
                        "certificates_expire_at": cert_exp.isoformat() if cert_exp else None,
                        "renewal_form_id": form_id,
                    }
                )
                if pdf:
                    resident = s.get(m.ResidentRecord, card.resident_code)
                    token = renewal_form_token(self.platform, form_id, card.card_id, card.resident_code) if form_id else None
                    letters.append(
                        ExpiryLetter(
                            card.card_id,
                            resident.name,
                            resident.address,
                            renew,
                            managed.card_expires_at.astimezone(JST).date(),
                            cert_exp.astimezone(JST).date() if cert_exp else None,
                            form_id=form_id,
                            token=token,
                            date_of_birth=resident.date_of_birth,
                        )
                    )
        return out, (expiry_notices_pdf(letters) if letters else None)

    # -- fees (R-CARD-9) ------------------------------------------------------------------

    def fees(self, municipality_code: str | None = None, outstanding: bool = False) -> list[dict]:
        """Fees with their status: ``outstanding``, ``collected``, or ``waived`` (not
        collected, its application cancelled: kept on record, no longer due)."""
        with self.platform.db.session() as s:
            q = (
                select(CardFee, CardApplication.status)
                .outerjoin(CardApplication, CardApplication.application_id == CardFee.application_id)
                .order_by(CardFee.id)
            )
            if municipality_code is not None:
                q = q.where(CardFee.municipality_code == municipality_code)
            if outstanding:
                q = q.where(
                    CardFee.collected_at.is_(None), or_(CardApplication.status.is_(None), CardApplication.status.not_in(fees.WAIVED_WITH))
                )
            return [
                {
                    "id": f.id,
                    "application_id": f.application_id,
                    "card_id": f.card_id,
                    "resident_code": f.resident_code,
                    "item": f.item,
                    "amount_yen": f.amount_yen,
                    "due_at": f.due_at.isoformat(),
                    "collected_at": f.collected_at.isoformat() if f.collected_at else None,
                    "status": fees.status(f.collected_at is not None, app_status),
                }
                for f, app_status in s.execute(q)
            ]

    def check_collectable(self, fee_id: int, municipality_code: str | None = None) -> None:
        """Refuses (409) a waived fee: its application was cancelled, nothing is to be
        collected. (:meth:`collect_fee` itself refuses a fee already collected.)"""
        with self.platform.db.session() as s:
            f = s.get(CardFee, fee_id)
            if f is None or (municipality_code is not None and f.municipality_code != municipality_code):
                raise NotFound(f"no fee {fee_id}")
            app_status = (
                s.scalar(select(CardApplication.status).where(CardApplication.application_id == f.application_id))
                if f.application_id
                else None
            )
            if fees.status(f.collected_at is not None, app_status) == "waived":
                raise Conflict(f"fee {fee_id} was waived: its application was cancelled")

    def collect_fee(self, fee_id: int, actor: str, municipality_code: str | None = None) -> dict:
        self.check_collectable(fee_id, municipality_code)
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            f = s.get(CardFee, fee_id)
            if f is None or (municipality_code is not None and f.municipality_code != municipality_code):
                raise NotFound(f"no fee {fee_id}")
            if f.collected_at is not None:
                raise Conflict(f"fee {fee_id} was already collected at {f.collected_at.isoformat()}")
            f.collected_at, f.collected_by = now, actor
            audit(s, now, actor, "fee.collected", str(fee_id), item=f.item, amount_yen=f.amount_yen)
            return {"id": fee_id, "item": f.item, "amount_yen": f.amount_yen, "collected_at": now.isoformat()}

    def card(self, card_id: str, municipality_code: str | None = None) -> dict:
        cid = self.cards.resolve(card_id, municipality_code)
        info = self.cards.get(cid)
        if municipality_code is not None and info.municipality_code != municipality_code:
            raise NotFound(f"no such card at municipality {municipality_code}")
        with self.platform.db.session() as s:
            managed = s.get(ManagedCard, cid)
            history = [
                {
                    "from": c.from_status,
                    "to": c.to_status,
                    "at": c.at.isoformat(),
                    "actor": c.actor,
                    "note": c.note,
                    "revoked": json.loads(c.revoked),
                }
                for c in s.scalars(select(CardStatusChange).where(CardStatusChange.card_id == cid).order_by(CardStatusChange.id))
            ]
        out = info.to_json()
        out.pop("demo_pins", None)
        out["card_expires_at"] = managed.card_expires_at.isoformat() if managed else None
        out["application_id"] = managed.application_id if managed else None
        out["history"] = history
        return out
