"""Cards made and PINs reset by hand (``myna chip create`` / ``myna chip reset-pin``),
outside card management's path.

``myna chip create`` makes an *active* card at once, with PINs chosen by whoever runs
it: no application (R-CARD-2), no handover where the holder sets the PINs (R-CARD-6).
That is for demonstrations and tests of the virtual card only, so it is refused for a
resident whom card management already looks after (an application in progress or a
card of theirs it produced that still stands in), and every such card carries a
``card.created-by-hand`` audit event saying so.

``myna chip reset-pin`` on a card that card management handed over is a counter act:
the holder present, an identity document seen, a reason; recorded as a
``card.pin.reset-authorised`` audit event (who, why, which document) before the PIN is
touched. A card not yet handed over is refused: its PINs are set by the holder at
handover. Demo and test cards (not managed) keep the plain reset.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from myna.authority.platform import Platform
from myna.cards.application_status import OPEN
from myna.cards.card_status import CardStatus
from myna.cards.handover import IDENTITY_DOCUMENTS
from myna.chip.chips import ChipService
from myna.chip.pins import PinRef
from myna.errors import Conflict, Forbidden, InvalidInput, NotFound
from myna.numbering.codes import check_resident_code
from myna.store.journal import audit
from myna.store.models_card_management import CardApplication, ManagedCard
from myna.store.models_cards import ChipRecord

# Card-management cards that stand in for their holder: a card by hand beside one is a duplicate.
STANDING = (CardStatus.PRODUCED.value, CardStatus.SHIPPED.value, CardStatus.ACTIVE.value, CardStatus.SUSPENDED.value)
# A managed card's PINs are reset only once the holder has it (handed over).
RESETTABLE = (CardStatus.ACTIVE.value, CardStatus.SUSPENDED.value)
REASON_MAX = 200


def check_create(platform: Platform, resident_code: str) -> None:
    """Refuse a card by hand for a resident card management looks after."""
    check_resident_code(resident_code)
    with platform.db.session() as s:
        app = s.scalar(
            select(CardApplication.application_id)
            .where(CardApplication.resident_code == resident_code, CardApplication.status.in_(OPEN))
            .limit(1)
        )
        card = s.scalar(
            select(ChipRecord.card_id)
            .join(ManagedCard, ManagedCard.card_id == ChipRecord.card_id)
            .where(ChipRecord.resident_code == resident_code, ChipRecord.status.in_(STANDING))
            .limit(1)
        )
    if app is not None or card is not None:
        what = f"application {app} is in progress" if app is not None else f"card {card} was issued through card management"
        raise Conflict(
            f"resident {resident_code} is in card management ({what}): a card made by hand would skip the application and the handover; "
            "use `myna cards` (reissue or renewal through an application)"
        )


def record_created(platform: Platform, card_id: str, actor: str, pins_given: bool) -> None:
    now = platform.clock.now()
    with platform.db.session() as s:
        audit(
            s,
            now,
            actor,
            "card.created-by-hand",
            card_id,
            purpose="demo/test",
            application=None,
            handover=None,
            pins_set_by="operator" if pins_given else None,
        )


@dataclass(frozen=True)
class CounterCheck:
    """What the counter confirmed before a PIN reset on a managed card."""

    holder_present: bool
    identity_document: str | None
    reason: str | None


def authorise_reset(
    chips: ChipService, card_id: str, which: str, new_pin: str | None, check: CounterCheck, actor: str, municipality_code: str | None = None
) -> tuple[str, bool]:
    """Before a PIN reset: ``(card id, managed)``. A managed card needs the holder
    present, an identity document and a reason, is refused before handover, and the
    authorisation is recorded (who, why, which document). For a demo/test card the
    authorisation is recorded only when a reason or document is given."""
    ref = PinRef(which)
    if new_pin is not None:
        ref.check(new_pin)  # a bad PIN is refused before anything is recorded
    if check.reason is not None and not (0 < len(check.reason.strip()) and len(check.reason) <= REASON_MAX):
        raise InvalidInput(f"the reason must be 1-{REASON_MAX} characters")
    if check.identity_document is not None and check.identity_document not in IDENTITY_DOCUMENTS:
        raise InvalidInput(f"the identity document must be one of {', '.join(IDENTITY_DOCUMENTS)}")
    # Looked up among the municipality's own cards only: a foreign card answers like an unknown one.
    cid = chips.resolve(card_id, municipality_code)
    platform = chips.platform
    now = platform.clock.now()
    with platform.db.session() as s:
        row = s.get(ChipRecord, cid)
        if row is None or (municipality_code is not None and row.municipality_code != municipality_code):
            raise NotFound(f"no card {cid}" if municipality_code is None else f"no such card at municipality {municipality_code}")
        managed = s.get(ManagedCard, cid) is not None
        if managed:
            if row.status not in RESETTABLE:
                raise Conflict(
                    f"card {cid} is {row.status}: the PINs of a card not handed over are set by the holder at handover (R-CARD-6)"
                )
            if not check.holder_present:
                raise Forbidden(
                    f"card {cid} was handed over through card management: "
                    "its PINs are reset only with the holder present (--holder-present)"
                )
            missing = [n for n, v in (("--identity-document", check.identity_document), ("--reason", check.reason)) if not v]
            if missing:
                raise InvalidInput(f"card {cid} was handed over through card management: give {' and '.join(missing)}")
        if managed or check.reason or check.identity_document:
            audit(
                s,
                now,
                actor,
                "card.pin.reset-authorised",
                cid,
                pin=ref.value,
                operation="unblock" if new_pin is None else "reset",
                holder_present=check.holder_present,
                identity_document=check.identity_document,
                reason=check.reason,
                municipality_code=municipality_code,
                managed=managed,
            )
    return cid, managed
