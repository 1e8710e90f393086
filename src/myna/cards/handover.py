"""Handover at the municipality's counter (交付, R-CARD-6).

The municipality prints a pickup notice (交付通知書) for a shipped card; the resident
comes once. The counter records, in one transaction: the identity document seen, that
the face matches the photo, that the chip's card-face data matches what is printed on
the card (read from the chip here, not taken on trust), and the PINs the holder sets
in person. Only then is the card ``active``. Any check failing refuses the handover and
leaves the card as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select, update

from myna.authority.platform import Platform
from myna.authority.revoking import RevocationService
from myna.cards import lead_time
from myna.cards.application_status import ApplicationStatus
from myna.cards.card_status import Action, CardStatus, next_status
from myna.cards.notices import PickupLetter, pickup_notice_pdf
from myna.chip.chips import CardPins, ChipService
from myna.chip.pins import PinRef
from myna.clock import JST
from myna.errors import Conflict, Forbidden, InvalidInput, NotFound
from myna.store import models as m
from myna.store.journal import audit
from myna.store.models_card_management import CardApplication, CardFee, CardHandover, CardStatusChange, CertificateRenewal, ManagedCard
from myna.store.models_cards import ChipRecord
from myna.verifiers.renewals import next_serial

# Documents a counter accepts (choice, after the public lists): one with a photo, or two without.
IDENTITY_DOCUMENTS = ("driving-licence", "passport", "residence-card", "disability-certificate", "two-documents")
PICKUP_DAYS = 90  # (choice) the pickup notice asks the resident to come within this many days


@dataclass(frozen=True)
class Handover:
    identity_document: str
    face_matches_photo: bool
    pins: CardPins
    pins_entered_by: str  # "holder": only the holder sets the PINs, in person

    def check(self) -> None:
        if self.identity_document not in IDENTITY_DOCUMENTS:
            raise InvalidInput(f"identity_document must be one of {', '.join(IDENTITY_DOCUMENTS)}")
        if self.pins_entered_by != "holder":
            raise Forbidden("the PINs are set by the holder in person at the counter, never by a clerk or a proxy (R-CARD-6)")
        if not self.face_matches_photo:
            raise Conflict("the face does not match the photo on the card: identity not confirmed, card not handed over (R-CARD-6)")


class Counter:
    def __init__(self, platform: Platform, *, chips: ChipService, revocation: RevocationService):
        self.platform = platform
        self.cards = chips
        self.revocation = revocation  # a reissue's old card is abolished at handover

    def _card(self, s, card_id: str, municipality_code: str | None) -> tuple[ChipRecord, ManagedCard]:
        row = s.get(ChipRecord, card_id)
        managed = s.get(ManagedCard, card_id)
        if row is None or managed is None or (municipality_code is not None and row.municipality_code != municipality_code):
            raise NotFound(f"no card {card_id}" if municipality_code is None else f"no such card at municipality {municipality_code}")
        return row, managed

    def _resolve(self, card_id: str, municipality_code: str | None) -> str:
        return self.cards.resolve(card_id, municipality_code)  # another municipality's card: as unknown

    def pickup_notice(self, card_id: str, municipality_code: str | None = None) -> bytes:
        """交付通知書 for a card that has arrived at the municipality."""
        cid = self._resolve(card_id, municipality_code)
        with self.platform.db.session() as s:
            row, managed = self._card(s, cid, municipality_code)
            if row.status != CardStatus.SHIPPED.value:
                raise Conflict(
                    f"card {cid} is {row.status}: a pickup notice is for a card shipped to the municipality and not yet handed over"
                )
            resident = s.get(m.ResidentRecord, row.resident_code)
            town = s.get(m.Municipality, row.municipality_code)
            shipped = s.scalar(select(CardApplication.shipped_at).where(CardApplication.application_id == managed.application_id))
            letter = PickupLetter(
                card_id=cid,
                application_id=managed.application_id,
                name=resident.name,
                address=resident.address,
                municipality=town.name if town else row.municipality_code,
                pickup_by=(shipped.astimezone(JST).date() + dt.timedelta(days=PICKUP_DAYS)),
                sign_certificate=row.sign_serial is not None,
            )
        return pickup_notice_pdf(letter)

    def hand_over(self, card_id: str, h: Handover, actor: str, municipality_code: str | None = None) -> dict:
        h.check()
        pins = h.pins.items()  # checks the PINs' form before anything is written
        cid = self._resolve(card_id, municipality_code)
        image = None
        with self.platform.db.session() as s:
            row, managed = self._card(s, cid, municipality_code)
            next_status(row.status, Action.HAND_OVER, cid)
        image = self.cards.load_image(cid)
        printed = json.loads(managed.printed_face)
        chip = image.face.to_json() if image.face else {}
        mismatched = sorted(k for k in ("number", "name", "address", "date_of_birth", "sex") if chip.get(k) != printed.get(k))
        if mismatched:
            raise Conflict(
                f"the chip's card-face data differs from the printed card ({', '.join(mismatched)}): "
                "do not hand it over; return it for abolition"
            )
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row = s.get(ChipRecord, cid, with_for_update=True)
            rule = next_status(row.status, Action.HAND_OVER, cid)  # again, under the lock: a concurrent handover loses
            set_pins = self.cards.store_pins(s, row, pins, now)
            if row.sign_serial is not None and PinRef.SIGN.value not in set_pins:
                raise InvalidInput("this card has a signature certificate: the holder sets its PIN too (6-16 of A-Z, 0-9)")
            row.status, row.updated_at = rule.to.value, now
            managed = s.get(ManagedCard, cid)
            managed.handed_over_at = now
            s.add(
                CardHandover(
                    card_id=cid,
                    identity_document=h.identity_document,
                    face_matches_photo=True,
                    chip_face_matches=True,
                    pins_set_by="holder",
                    clerk=actor,
                    at=now,
                )
            )
            s.add(
                CardStatusChange(
                    card_id=cid,
                    from_status=CardStatus.SHIPPED.value,
                    to_status=rule.to.value,
                    at=now,
                    actor=actor,
                    note="handed over",
                    revoked="[]",
                )
            )
            app = s.get(CardApplication, managed.application_id)
            app.status, app.updated_at = ApplicationStatus.HANDED_OVER.value, now
            collected = s.execute(
                update(CardFee)
                .where(CardFee.application_id == app.application_id, CardFee.collected_at.is_(None))
                .values(collected_at=now, collected_by=actor, card_id=cid)
            ).rowcount
            replaced = None
            if app.replaces_card_id:
                replaced = self._retire_replaced(s, app.replaces_card_id, cid, now, actor)
            audit(
                s,
                now,
                actor,
                "card.handed-over",
                cid,
                application_id=app.application_id,
                pins=sorted(set_pins),
                identity_document=h.identity_document,
                replaced=replaced,
            )
            return {
                "card_id": cid,
                "status": rule.to.value,
                "pins_set": sorted(set_pins),
                "fees_collected": collected,
                "replaced_card": replaced,
                "lead_days": app.lead_days,
                "within_deadline": app.lead_days is not None and app.lead_days <= lead_time.allowed_days(app.express is not None),
            }

    def _retire_replaced(self, s, old_id: str, new_id: str, now: dt.datetime, actor: str) -> str | None:
        """The card a reissue replaces is abolished when the new one is handed over."""
        from myna.cards.management import revoke_card_certificates

        old = s.get(ChipRecord, old_id, with_for_update=True)
        if old is None or old.status in (CardStatus.ABOLISHED.value, CardStatus.RETURNED.value):
            return None
        new = s.get(ChipRecord, new_id)
        # Old-to-new linkage (R-VER-4) also when a new card replaces the old one.
        for kind, old_serial, new_serial in (
            ("card-auth", old.auth_serial, new.auth_serial),
            ("card-sign", old.sign_serial, new.sign_serial),
        ):
            # One successor per certificate, whichever table recorded it first (R-VER-4).
            if old_serial and new_serial and next_serial(s, old_serial) is None:
                s.add(
                    CertificateRenewal(
                        old_serial=old_serial, new_serial=new_serial, kind=kind, card_id=new_id, resident_code=old.resident_code, at=now
                    )
                )
        revoked = revoke_card_certificates(s, self.revocation, old, now, actor, f"card {old_id} replaced by {new_id}")
        s.add(
            CardStatusChange(
                card_id=old_id,
                from_status=old.status,
                to_status=CardStatus.ABOLISHED.value,
                at=now,
                actor=actor,
                note=f"replaced by {new_id}",
                revoked=json.dumps(revoked),
            )
        )
        old.status, old.updated_at = CardStatus.ABOLISHED.value, now
        managed = s.get(ManagedCard, old_id)
        if managed is not None:
            managed.replaced_by = new_id
        return old_id
