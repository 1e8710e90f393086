"""Cards in the store: producing a card, opening it to serve it, its PIN counters, and
the counter flow that unblocks or resets a PIN.

The Python API the card-management side builds on:

* :meth:`ChipService.create_card`: a card for a resident on the
  register. The chip makes its key pairs (JPKI auth and sign, the card-face key); the certificates are issued through
  :class:`~myna.authority.issuance.IssuanceService` with the chip's public keys and
  written into the card. Idempotent per ``card_id``; a run killed half-way is finished
  by running it again with the same ``card_id`` (R-CARD-3).
* :meth:`ChipService.open_card`: the :class:`~myna.chip.engine.Card` for a stored
  card, its PIN counters in the store (:class:`StorePins`).
* :meth:`ChipService.reset_pin` / :meth:`ChipService.set_pins`: the counter flow
  (PIN unblock and re-setting, and the PINs chosen at handover), each an audit event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Callable, Mapping

from cryptography.hazmat.primitives import serialization
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from myna.authority.issuance import IssuanceRequest, IssuanceService
from myna.authority.platform import Platform
from myna.chip import faceimages
from myna.chip.engine import Card
from myna.chip.image import CardImage, FaceData, ImageKey, KeyGen, KeyRef
from myna.chip.pins import Attempt, Outcome, PinHasher, PinRef
from myna.clock import JST
from myna.errors import Conflict, IdempotencyMismatch, InvalidInput, NotEligible, NotFound
from myna.numbering.codes import check_resident_code
from myna.pki import serials, validity
from myna.pki.basic4 import Basic4, Sex
from myna.pki.kinds import CertKind
from myna.store import models as m
from myna.store.journal import audit
from myna.store.models_card_management import CardApplication
from myna.store.models_cards import CardPin, ChipRecord

CARD_ID = re.compile(r"^[0-9A-F]{16}$")
MANUFACTURING, ACTIVE = "manufacturing", "active"
_ON_REGISTER = {"active", "moving-out"}  # residents.events.Status values still on the register


def new_card_id() -> str:
    return secrets.token_hex(8).upper()


def demo_card_id(resident_code: str) -> str:
    """Demo cards get a card id derived from the resident, so `myna demo` is idempotent."""
    return hashlib.sha256(f"myna demo card:{resident_code}".encode()).hexdigest()[:16].upper()


@dataclass(frozen=True)
class CardPins:
    """The PINs a holder sets (R-CARD-6). ``face`` defaults to the auth PIN (residents
    commonly set the 4-digit PINs alike); ``sign`` is ignored for a card without a
    signature certificate."""

    auth: str
    sign: str | None = None
    face: str | None = None

    def items(self) -> dict[PinRef, bytes]:
        out = {PinRef.AUTH: PinRef.AUTH.check(self.auth), PinRef.FACE: PinRef.FACE.check(self.face or self.auth)}
        if self.sign is not None:
            out[PinRef.SIGN] = PinRef.SIGN.check(self.sign)
        return out


DEMO_PINS = CardPins(auth="1234", sign="ABC123", face="1234")


@dataclass(frozen=True)
class PinState:
    tries_left: int
    max_tries: int

    @property
    def blocked(self) -> bool:
        return self.tries_left <= 0


@dataclass(frozen=True)
class CardInfo:
    card_id: str
    resident_code: str
    municipality_code: str | None
    holder: str | None  # the name on the register, if the resident is there
    status: str
    demo: bool
    auth_serial: int | None
    sign_serial: int | None
    pins: dict[str, PinState]
    created_at: dt.datetime
    demo_pins: dict[str, str] | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        out = {
            "card_id": self.card_id,
            "holder": self.holder,
            "resident_code": self.resident_code,
            "municipality_code": self.municipality_code,
            "status": self.status,
            "demo": self.demo,
            "certificates": {
                "auth": serials.to_display(self.auth_serial) if self.auth_serial is not None else None,
                "sign": serials.to_display(self.sign_serial) if self.sign_serial is not None else None,
            },
            "pins": {k: {"tries_left": v.tries_left, "max_tries": v.max_tries, "blocked": v.blocked} for k, v in self.pins.items()},
            "created_at": self.created_at.isoformat(),
        }
        if self.demo and self.demo_pins:
            out["demo_pins"] = self.demo_pins
        return out


def _in_pin_order(pins: dict[str, str]) -> dict[str, str]:
    return {ref.value: pins[ref.value] for ref in PinRef if ref.value in pins}


class StorePins:
    """The PIN counters of one card, in the store.

    Every attempt is counted in a transaction that commits before the card answers: a
    wrong PIN is one conditional ``UPDATE … SET tries_left = tries_left - 1 WHERE
    tries_left > 0``, so concurrent attempts each count and a counter never goes below
    zero; a right one restores the maximum only if a try is still left. If the store
    cannot be written, the engine answers 6F 00 — nothing that would tell a right PIN
    from a wrong one without the try being recorded."""

    def __init__(self, platform: Platform, card_id: str, hasher: PinHasher):
        self.platform = platform
        self.card_id = card_id
        self.hasher = hasher

    def _row(self, s, ref: PinRef) -> CardPin | None:
        return s.get(CardPin, (self.card_id, ref.value))

    def tries_left(self, ref: PinRef) -> int:
        with self.platform.db.session() as s:
            return s.scalar(select(CardPin.tries_left).where(CardPin.card_id == self.card_id, CardPin.pin == ref.value)) or 0

    def attempt(self, ref: PinRef, candidate: bytes) -> Attempt:
        key = (CardPin.card_id == self.card_id, CardPin.pin == ref.value)
        for _ in range(5):  # again only if the PIN was reset at the counter meanwhile
            with self.platform.db.session() as s:
                verifier = s.scalar(select(CardPin.verifier).where(*key, CardPin.tries_left > 0))
            if verifier is None:
                return Attempt(Outcome.BLOCKED, 0)
            right = self.hasher.matches(verifier, candidate)
            now = self.platform.clock.now()
            # The write transaction starts with its UPDATE (SQLite then waits for a
            # concurrent writer instead of failing), and counts only against the
            # verifier just compared, with a try still left.
            where = (*key, CardPin.tries_left > 0, CardPin.verifier == verifier)
            with self.platform.db.session() as s:
                if right:
                    if s.execute(update(CardPin).where(*where).values(tries_left=CardPin.max_tries)).rowcount:
                        return Attempt(Outcome.OK, ref.max_tries)
                elif s.execute(update(CardPin).where(*where).values(tries_left=CardPin.tries_left - 1)).rowcount:
                    left = s.scalar(select(CardPin.tries_left).where(*key))
                    if left == 0:
                        s.execute(update(CardPin).where(*key).values(blocked_at=now))
                        audit(s, now, f"card:{self.card_id}", "card.pin.blocked", self.card_id, pin=ref.value)
                    return Attempt(Outcome.WRONG, left)
        return Attempt(Outcome.BLOCKED, 0)

    def change(self, ref: PinRef, new_pin: bytes) -> None:
        """CHANGE REFERENCE DATA by the holder (the PIN was verified in this session)."""
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row = self._row(s, ref)
            if row is None:
                raise NotFound(f"card {self.card_id} has no {ref.title}")
            row.verifier = self.hasher.make(ref.check(new_pin))
            row.tries_left, row.blocked_at, row.changed_at = row.max_tries, None, now
            audit(s, now, f"card:{self.card_id}", "card.pin.changed", self.card_id, pin=ref.value, by="holder")


class ChipService:
    def __init__(self, platform: Platform, *, issuance: IssuanceService, image_key: ImageKey | None = None, keygen: KeyGen | None = None):
        self.platform = platform
        self.issuance = issuance  # J-LIS certifies the keys the chip made
        self._image_key = image_key
        self.keygen = keygen

    @property
    def image_key(self) -> ImageKey:
        if self._image_key is None:
            self._image_key = ImageKey.load_or_create(self.platform.settings.home)
        return self._image_key

    @property
    def hasher(self) -> PinHasher:
        return PinHasher(self.image_key.pepper)

    # -- production ----------------------------------------------------------------

    def create_card(
        self,
        resident_code: str,
        pins: CardPins | None,
        actor: str,
        card_id: str | None = None,
        demo: bool = False,
        request_prefix: str | None = None,
        final_status: str = ACTIVE,
        on_issued: Callable[[Session, ChipRecord], None] | None = None,
    ) -> CardInfo:
        """Produce a card for a resident on the register (R-CARD-3, R-CERT-4): the chip
        generates both key pairs, J-LIS certifies the public keys (a signature
        certificate only from 15, R-CERT-2), the certificates are written in.

        ``pins`` are the holder's PINs; ``None`` leaves the PINs unset (every PIN then
        answers as blocked) until :meth:`set_pins` at handover. Certificates are
        requested as ``{request_prefix}{kind}`` (default ``card:{card_id}:``).

        ``final_status`` is the status once the certificates are written: ``active`` for
        a card handed out at once (demo, tests), ``produced`` for card management, which
        activates the card only at handover (R-CARD-6). ``on_issued(session, row)`` runs
        inside the transaction that writes the certificates, so what the caller records
        about the finished card commits with it or not at all."""
        check_resident_code(resident_code)
        card_id = card_id or new_card_id()
        if not CARD_ID.match(card_id):
            raise InvalidInput("card_id must be 16 characters of 0-9 and A-F")
        checked_pins = pins.items() if pins is not None else {}
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            resident = s.get(m.ResidentRecord, resident_code)
            if resident is None or resident.status not in _ON_REGISTER:
                raise NotEligible(f"resident {resident_code} is not on the resident register: no card (R-CERT-4)")
            basic4 = Basic4(
                resident.name, resident.date_of_birth, Sex(resident.sex), resident.address, resident.name_alt, resident.address_alt
            )
            municipality = resident.municipality_code
            row = s.get(ChipRecord, card_id)
            if row is not None and row.resident_code != resident_code:
                raise Conflict(f"card {card_id} belongs to another resident")
            if row is None:
                face = _face(resident, _application_photo(s, card_id), now)
                image = CardImage.manufacture(card_id, face, self.keygen)
                s.add(
                    ChipRecord(
                        card_id=card_id,
                        resident_code=resident_code,
                        municipality_code=municipality,
                        status=MANUFACTURING,
                        demo=demo,
                        demo_pins=json.dumps({r.value: p.decode() for r, p in checked_pins.items()}) if demo else None,
                        image=image.seal(self.image_key),
                        image_key_id=self.image_key.key_id,
                        created_at=now,
                        created_by=actor,
                        updated_at=now,
                    )
                )
                try:
                    s.flush()
                except IntegrityError:
                    raise _BeingMade(card_id) from None
                audit(s, now, actor, "card.manufactured", card_id, resident_code=resident_code)
            elif row.status != MANUFACTURING:
                return self._info(s, row)
            else:  # a production run killed half-way: the same chip, the same keys
                image = CardImage.unseal(self.image_key, card_id, row.image)

        prefix = request_prefix if request_prefix is not None else f"card:{card_id}:"
        wants_sign = validity.may_hold_signature_certificate(basic4.date_of_birth, now)
        kinds = [(CertKind.CARD_AUTH, KeyRef.AUTH)] + ([(CertKind.CARD_SIGN, KeyRef.SIGN)] if wants_sign else [])
        requests = [
            IssuanceRequest(
                request_id=f"{prefix}{kind.value}",
                kind=kind,
                public_key=image.public_key_pem(key),
                resident_code=resident_code,
                date_of_birth=basic4.date_of_birth,
                basic4=basic4 if kind.is_signature else None,
                municipality_code=municipality,
            )
            for kind, key in kinds
        ]
        issued = {i.kind: i for i in _checked(requests, self.issuance.issue_many(requests, actor))}

        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            if not _complete(s, card_id, issued, final_status, now):  # a concurrent run finished it
                return self._info(s, s.get(ChipRecord, card_id))
            row = s.get(ChipRecord, card_id)
            self.store_pins(s, row, checked_pins, now)
            audit(
                s,
                now,
                actor,
                "card.issued",
                card_id,
                auth_serial=row.auth_serial,
                sign_serial=row.sign_serial,
                pins=sorted(r.value for r in checked_pins),
            )
            s.flush()
            if on_issued is not None:
                on_issued(s, row)
            return self._info(s, row)

    def create_cards(
        self,
        orders: list[tuple[str, str, str]],
        actor: str,
        final_status: str = ACTIVE,
        on_issued: Callable[[Session, ChipRecord], None] | None = None,
    ) -> dict[str, str]:
        """Produce many cards at once, without PINs: ``orders`` are ``(resident_code,
        card_id, request_prefix)``. The same steps and crash rule as :meth:`create_card`,
        with one transaction storing the new chips, one :meth:`IssuanceService.issue_many`
        for all their certificates, and one transaction writing them in, so a batch costs
        a few commits instead of a few per card (R-CARD-5: 160,000 cards a day).

        Returns ``{card_id: "created" | "existing" | "not-eligible"}``; one bad order makes
        the whole call raise (the caller may then produce the cards one at a time)."""
        ids = [o[1] for o in orders]
        if len(set(ids)) != len(ids) or not all(CARD_ID.match(i) for i in ids):
            raise InvalidInput("card ids must be unique, 16 characters of 0-9 and A-F")
        for code, _, _ in orders:
            check_resident_code(code)
        outcome: dict[str, str] = {}
        with self.platform.db.session() as s:
            residents = {
                r.resident_code: r
                for r in s.scalars(select(m.ResidentRecord).where(m.ResidentRecord.resident_code.in_({o[0] for o in orders})))
            }
            rows = {r.card_id: r for r in s.scalars(select(ChipRecord).where(ChipRecord.card_id.in_(ids)))}
            photos = dict(s.execute(select(CardApplication.card_id, CardApplication.photo).where(CardApplication.card_id.in_(ids))).all())
        now = self.platform.clock.now()
        # The chips are made outside any transaction: on a real card this is the slow part.
        todo: list[tuple[str, str, str, CardImage, Basic4, str | None, bool]] = []
        for code, card_id, prefix in orders:
            resident, row = residents.get(code), rows.get(card_id)
            if row is not None and row.resident_code != code:
                raise Conflict(f"card {card_id} belongs to another resident")
            if row is not None and row.status != MANUFACTURING:
                outcome[card_id] = "existing"
                continue
            if resident is None or resident.status not in _ON_REGISTER:
                outcome[card_id] = "not-eligible"
                continue
            basic4 = Basic4(
                resident.name, resident.date_of_birth, Sex(resident.sex), resident.address, resident.name_alt, resident.address_alt
            )
            if row is None:
                face = _face(resident, photos.get(card_id), now)
                image, new = CardImage.manufacture(card_id, face, self.keygen), True
            else:  # a production run killed half-way: the same chip, the same keys
                image, new = CardImage.unseal(self.image_key, card_id, row.image), False
            todo.append((code, card_id, prefix, image, basic4, resident.municipality_code, new))
        if not todo:
            return outcome
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            for code, card_id, _, image, _, municipality, new in todo:
                if new:
                    s.add(
                        ChipRecord(
                            card_id=card_id,
                            resident_code=code,
                            municipality_code=municipality,
                            status=MANUFACTURING,
                            demo=False,
                            demo_pins=None,
                            image=image.seal(self.image_key),
                            image_key_id=self.image_key.key_id,
                            created_at=now,
                            created_by=actor,
                            updated_at=now,
                        )
                    )
                    audit(s, now, actor, "card.manufactured", card_id, resident_code=code)
            try:
                s.flush()
            except IntegrityError:
                raise _BeingMade(", ".join(o[1] for o in orders)) from None
        requests = []
        for code, _card_id, prefix, image, basic4, municipality, _ in todo:
            wants_sign = validity.may_hold_signature_certificate(basic4.date_of_birth, now)
            for kind, key in [(CertKind.CARD_AUTH, KeyRef.AUTH)] + ([(CertKind.CARD_SIGN, KeyRef.SIGN)] if wants_sign else []):
                requests.append(
                    IssuanceRequest(
                        request_id=f"{prefix}{kind.value}",
                        kind=kind,
                        public_key=image.public_key_pem(key),
                        resident_code=code,
                        date_of_birth=basic4.date_of_birth,
                        basic4=basic4 if kind.is_signature else None,
                        municipality_code=municipality,
                    )
                )
        results = _checked(requests, self.issuance.issue_many(requests, actor))
        issued = dict(zip((r.request_id for r in requests), results, strict=True))
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            for _, card_id, prefix, _, _, _, _ in todo:
                mine = {k: issued[f"{prefix}{k.value}"] for k in (CertKind.CARD_AUTH, CertKind.CARD_SIGN) if f"{prefix}{k.value}" in issued}
                if not _complete(s, card_id, mine, final_status, now):  # a concurrent run finished it
                    outcome[card_id] = "existing"
                    continue
                row = s.get(ChipRecord, card_id)
                audit(s, now, actor, "card.issued", card_id, auth_serial=row.auth_serial, sign_serial=row.sign_serial, pins=[])
                s.flush()
                if on_issued is not None:
                    on_issued(s, row)
                outcome[card_id] = "created"
        return outcome

    def recertify(
        self,
        card_id: str,
        actor: str,
        request_prefix: str,
        on_written: Callable[[Session, ChipRecord, dict], None] | None = None,
        acting_for: str | None = None,
    ) -> tuple[CardInfo, dict[CertKind, tuple[str | None, str]]]:
        """Certificate renewal at the counter (R-CARD-8): the chip makes new key pairs,
        J-LIS certifies them, the new certificates replace the old ones on the card.

        Returns the card and, per kind, ``(old serial, new serial)`` in store form.
        ``on_written(session, row, pairs)`` runs inside the transaction that writes the new
        certificates: the caller revokes or links the old ones there, atomically.
        ``acting_for``: the municipality at whose counter this happens (its own residents
        only, R-RA-2, checked by the issuance service against the register)."""
        cid = self.resolve(card_id)
        with self.platform.db.session() as s:
            row = s.get(ChipRecord, cid)
            if row.status == MANUFACTURING:
                raise Conflict(f"card {cid} is still being manufactured")
            resident = s.get(m.ResidentRecord, row.resident_code)
            if resident is None or resident.status not in _ON_REGISTER:
                raise NotEligible(f"resident {row.resident_code} is not on the resident register: no certificates (R-CERT-4)")
            basic4 = Basic4(
                resident.name, resident.date_of_birth, Sex(resident.sex), resident.address, resident.name_alt, resident.address_alt
            )
            old = CardImage.unseal(self.image_key, cid, row.image)
            old_serials = {CertKind.CARD_AUTH: row.auth_serial, CertKind.CARD_SIGN: row.sign_serial}
            municipality = resident.municipality_code
        # New keys, made on the card; the card-face data stays as printed.
        image = CardImage.manufacture(cid, old.face, self.keygen)
        now = self.platform.clock.now()
        wants_sign = validity.may_hold_signature_certificate(basic4.date_of_birth, now)
        kinds = [(CertKind.CARD_AUTH, KeyRef.AUTH)] + ([(CertKind.CARD_SIGN, KeyRef.SIGN)] if wants_sign else [])
        requests = [
            IssuanceRequest(
                request_id=f"{request_prefix}{kind.value}",
                kind=kind,
                public_key=image.public_key_pem(key),
                resident_code=row.resident_code,
                date_of_birth=basic4.date_of_birth,
                basic4=basic4 if kind.is_signature else None,
                municipality_code=municipality,
            )
            for kind, key in kinds
        ]
        issued = {i.kind: i for i in _checked(requests, self.issuance.issue_many(requests, actor, acting_for=acting_for))}
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row = s.get(ChipRecord, cid)
            row.image, row.image_key_id = image.seal(self.image_key), self.image_key.key_id
            row.auth_serial = serials.to_store(issued[CertKind.CARD_AUTH].serial)
            row.sign_serial = serials.to_store(issued[CertKind.CARD_SIGN].serial) if CertKind.CARD_SIGN in issued else None
            row.updated_at = now
            if row.sign_serial is None:  # no signature certificate any more: no signature PIN either
                s.execute(delete(CardPin).where(CardPin.card_id == cid, CardPin.pin == PinRef.SIGN.value))
            audit(s, now, actor, "card.recertified", cid, auth_serial=row.auth_serial, sign_serial=row.sign_serial)
            s.flush()
            pairs = {kind: (old_serials[kind], serials.to_store(i.serial)) for kind, i in issued.items()}
            if on_written is not None:
                on_written(s, row, pairs)
            return self._info(s, row), pairs

    # -- reading -------------------------------------------------------------------

    def resolve(self, card_id: str, municipality_code: str | None = None) -> str:
        """A card id, or a unique prefix of at least 4 characters (case-insensitive).

        With ``municipality_code`` only that municipality's cards are looked at: another
        municipality's card gets the same answer as an unknown one and no card id is
        echoed, so a clerk learns nothing about the card ids of other municipalities (as
        the resident registry does for residents)."""
        text = (card_id or "").strip().upper()
        if not re.fullmatch(r"[0-9A-F]{4,16}", text):
            raise InvalidInput("a card id is 16 characters of 0-9 and A-F (a unique prefix of 4 or more will do)")
        scoped = municipality_code is not None
        with self.platform.db.session() as s:
            if len(text) == 16 and not scoped:
                if s.get(ChipRecord, text) is None:
                    raise NotFound(f"no card {text}")
                return text
            q = select(ChipRecord.card_id).where(ChipRecord.card_id.startswith(text, autoescape=True))
            if scoped:
                q = q.where(ChipRecord.municipality_code == municipality_code)
            found = list(s.scalars(q.limit(2)))
        if not found:
            raise NotFound(f"no such card at municipality {municipality_code}" if scoped else f"no card starts with {text}")
        if len(found) > 1:
            raise InvalidInput(
                "more than one card starts with these characters: give more of the card id"
                if scoped
                else f"more than one card starts with {text}: give more of the card id"
            )
        return found[0]

    def get(self, card_id: str) -> CardInfo:
        cid = self.resolve(card_id)
        with self.platform.db.session() as s:
            return self._info(s, s.get(ChipRecord, cid))

    def list(self, resident_code: str | None = None, demo: bool | None = None) -> list[CardInfo]:
        with self.platform.db.session() as s:
            q = select(ChipRecord).order_by(ChipRecord.created_at, ChipRecord.card_id)
            if resident_code is not None:
                q = q.where(ChipRecord.resident_code == resident_code)
            if demo is not None:
                q = q.where(ChipRecord.demo.is_(demo))
            rows = list(s.scalars(q))
            pins: dict[str, dict[str, PinState]] = {}
            for p in s.scalars(select(CardPin).where(CardPin.card_id.in_([r.card_id for r in rows]))) if rows else []:
                pins.setdefault(p.card_id, {})[p.pin] = PinState(p.tries_left, p.max_tries)
            names = (
                dict(
                    s.execute(
                        select(m.ResidentRecord.resident_code, m.ResidentRecord.name).where(
                            m.ResidentRecord.resident_code.in_({r.resident_code for r in rows})
                        )
                    ).all()
                )
                if rows
                else {}
            )
            return [self._info(s, r, pins.get(r.card_id, {}), names.get(r.resident_code)) for r in rows]

    def _info(self, s, row: ChipRecord, pins: dict[str, PinState] | None = None, holder: str | None = None) -> CardInfo:
        if pins is None:
            pins = {p.pin: PinState(p.tries_left, p.max_tries) for p in s.scalars(select(CardPin).where(CardPin.card_id == row.card_id))}
            resident = s.get(m.ResidentRecord, row.resident_code)
            holder = resident.name if resident else None
        ordered = {ref.value: pins[ref.value] for ref in PinRef if ref.value in pins}
        return CardInfo(
            card_id=row.card_id,
            resident_code=row.resident_code,
            municipality_code=row.municipality_code,
            holder=holder,
            status=row.status,
            demo=row.demo,
            auth_serial=int(row.auth_serial, 16) if row.auth_serial else None,
            sign_serial=int(row.sign_serial, 16) if row.sign_serial else None,
            pins=ordered,
            created_at=row.created_at,
            demo_pins=_in_pin_order(json.loads(row.demo_pins)) if row.demo and row.demo_pins else None,
        )

    # -- serving -------------------------------------------------------------------

    def load_image(self, card_id: str) -> CardImage:
        """The card image with its certificates written in (for the engine)."""
        cid = self.resolve(card_id)
        with self.platform.db.session() as s:
            row = s.get(ChipRecord, cid)
            if row.status == MANUFACTURING:
                raise Conflict(f"card {cid} is still being manufactured: run its production again to finish it")
            certs: dict[str, bytes | None] = {}
            for name, serial in (("auth", row.auth_serial), ("sign", row.sign_serial)):
                cert = s.get(m.Certificate, serial) if serial else None
                ca = s.get(m.Authority, cert.authority_id) if cert else None
                certs[f"{name}_cert"] = cert.der if cert else None
                certs[f"{name}_ca_cert"] = ca.cert_der if ca else None
            blob = row.image
        return CardImage.unseal(self.image_key, cid, blob).with_certificates(**certs)

    def open_card(self, card_id: str, trace=None) -> Card:
        """The chip of a stored card, ready for a reader; PIN counters live in the store."""
        image = self.load_image(card_id)
        return Card(image, StorePins(self.platform, image.card_id, self.hasher), trace=trace)

    # -- the counter flow ------------------------------------------------------------

    def _pin_row(self, s, card_id: str, ref: PinRef, municipality_code: str | None) -> tuple[ChipRecord, CardPin | None]:
        row = s.get(ChipRecord, card_id)
        if row is None or (municipality_code is not None and row.municipality_code != municipality_code):
            raise NotFound(f"no card {card_id}")
        if row.status == MANUFACTURING:
            raise Conflict(f"card {card_id} is still being manufactured")
        if ref is PinRef.SIGN and row.sign_serial is None:
            raise InvalidInput(f"card {card_id} has no signature certificate, so no signature PIN")
        if not ref.holder_set:
            raise InvalidInput(f"the {ref.title} is printed on the card: there is nothing to reset")
        return row, s.get(CardPin, (card_id, ref.value))

    def reset_pin(
        self, card_id: str, which: PinRef | str, new_pin: str | None, actor: str, municipality_code: str | None = None
    ) -> CardInfo:
        """At the counter, after the holder's identity was confirmed: unblock a PIN and
        restore its counter; with ``new_pin``, also set the PIN the holder chose
        (初期化・再設定). ``municipality_code`` limits a municipality to its own cards."""
        ref = PinRef(which)
        checked = ref.check(new_pin) if new_pin is not None else None
        cid = self.resolve(card_id, municipality_code)
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row, pin = self._pin_row(s, cid, ref, municipality_code)
            was_blocked = pin is None or pin.tries_left <= 0
            if checked is None:
                if pin is None:
                    raise InvalidInput(f"card {cid} has no {ref.title} yet: give the new PIN")
                pin.tries_left, pin.blocked_at = pin.max_tries, None
                audit(s, now, actor, "card.pin.unblocked", cid, pin=ref.value, was_blocked=was_blocked)
            else:
                s.merge(_fresh_pin(cid, ref, self.hasher.make(checked), now))
                audit(s, now, actor, "card.pin.reset", cid, pin=ref.value, was_blocked=was_blocked)
            if row.demo and checked is not None:
                demo_pins = json.loads(row.demo_pins or "{}")
                demo_pins[ref.value] = checked.decode()
                row.demo_pins = json.dumps(demo_pins)
            row.updated_at = now
            s.flush()
            return self._info(s, row)

    def set_pins(self, card_id: str, pins: CardPins, actor: str, municipality_code: str | None = None) -> CardInfo:
        """The PINs the holder sets at handover (R-CARD-6), all in one transaction."""
        items = pins.items()
        cid = self.resolve(card_id)
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row, _ = self._pin_row(s, cid, PinRef.AUTH, municipality_code)
            done = self.store_pins(s, row, items, now)
            row.updated_at = now
            audit(s, now, actor, "card.pins.set", cid, pins=sorted(done))
            s.flush()
            return self._info(s, row)

    def store_pins(self, s: Session, row: ChipRecord, pins: Mapping[PinRef, bytes], now: dt.datetime) -> list[str]:
        """Inside the caller's transaction: write each checked PIN afresh (full tries, not
        blocked); a card without a signature certificate (under 15) gets no signature PIN.
        Returns the PINs written. Creation, the holder's PINs at handover (R-CARD-6) and
        ``set_pins`` all write them here."""
        done = []
        for ref, pin in pins.items():
            if ref is PinRef.SIGN and row.sign_serial is None:
                continue
            s.merge(_fresh_pin(row.card_id, ref, self.hasher.make(pin), now))
            done.append(ref.value)
        return done


def _fresh_pin(card_id: str, ref: PinRef, verifier: str, now: dt.datetime) -> CardPin:
    return CardPin(
        card_id=card_id,
        pin=ref.value,
        verifier=verifier,
        tries_left=ref.max_tries,
        max_tries=ref.max_tries,
        changed_at=now,
        blocked_at=None,
    )


def _application_photo(s: Session, card_id: str) -> bytes | None:
    """The photograph of the application this card is made for, if card management made it."""
    return s.scalar(select(CardApplication.photo).where(CardApplication.card_id == card_id))


def _face(resident: m.ResidentRecord, photo: bytes | None, now: dt.datetime) -> FaceData:
    """What the card face shows and its card-face APs hold, personalised at manufacture:
    the register's number and basic 4 information, the application's photograph as
    JPEG 2000, the card's expiry (R-CERT-2), a fresh 4-digit security code."""
    return FaceData(
        resident.number,
        resident.name,
        resident.address,
        resident.date_of_birth,
        resident.sex,
        photo=faceimages.photo_jp2(photo),
        expires=validity.card_not_after(resident.date_of_birth, now).astimezone(JST).date(),
        security_code=f"{secrets.randbelow(10000):04d}",
        municipality_code=resident.municipality_code,
    )


class _BeingMade(Conflict):
    code = "card-being-made"

    def __init__(self, card_ids: str):
        super().__init__(f"another production run is making card {card_ids} at this moment; run production again to finish it")


def _checked(requests: list[IssuanceRequest], results: list) -> list:
    """R-RA-3: each certificate written into a card certifies that card's own key. The
    requests' ids are the card's idempotency keys; whatever issuance answers for them
    (e.g. a concurrent run's certificate), a certificate of another key or kind is refused."""
    for req, got in zip(requests, results, strict=True):
        spki = got.certificate.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        if spki != req.public_key or got.kind is not req.kind:
            raise IdempotencyMismatch(f"issuance answered {req.request_id} with a certificate of another key or kind")
    return results


def _complete(s: Session, card_id: str, issued: dict, final_status: str, now: dt.datetime) -> bool:
    """Write the certificates into a card still being manufactured, in one conditional
    update: of two runs finishing one card at once only one does (the update takes
    SQLite's writer lock and PostgreSQL's row lock; the other then finds no such row)."""
    sign = issued.get(CertKind.CARD_SIGN)
    return bool(
        s.execute(
            update(ChipRecord)
            .where(ChipRecord.card_id == card_id, ChipRecord.status == MANUFACTURING)
            .values(
                auth_serial=serials.to_store(issued[CertKind.CARD_AUTH].serial),
                sign_serial=serials.to_store(sign.serial) if sign else None,
                status=final_status,
                updated_at=now,
            )
        ).rowcount
    )
