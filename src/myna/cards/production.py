"""Production and shipping (R-CARD-3, R-CARD-5).

Accepted applications are grouped into production batches, earliest deadline first.
Each card is personalised through :meth:`myna.chip.chips.ChipService.create_card`: the
chip makes its two key pairs, the CA certifies them, the certificates are written in,
and the card-face data and photo are recorded. The card's id is fixed in the
application when the batch is formed, and its certificate requests are named after
the application, so a batch killed half-way is finished by running production again:
the same chips (the same keys) are completed and nothing is issued twice. A card
counts as produced only once its certificates are written, in the same transaction
that marks its application produced.

Shipping sends the produced cards to their municipalities, one shipment per
municipality with a manifest (card ids, receipt numbers, and the manifest's SHA-256),
and stops each application's lead-time clock.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import func, select, update

from myna import logs
from myna.authority.platform import Platform
from myna.cards import lead_time
from myna.cards.application_status import ApplicationStatus, BatchStatus
from myna.cards.card_status import CardStatus
from myna.cards.receipts import new_id
from myna.chip.chips import ChipService, new_card_id
from myna.clock import JST
from myna.errors import InvalidInput, MynaError, NotEligible, NotFound
from myna.pki import validity
from myna.store import models as m
from myna.store.journal import audit, audit_many
from myna.store.models_card_management import CardApplication, CardFee, CardShipment, CardStatusChange, ManagedCard, ProductionBatch
from myna.store.models_cards import ChipRecord

MAX_BATCH = 10_000
CHUNK = 100  # cards personalised together: one issuance call, three commits
log = logs.get("myna.cards")


@dataclass
class BatchResult:
    batch_id: str
    size: int
    produced: int  # by this run
    already: int  # produced by an earlier (killed) run
    cancelled: int  # holder no longer on the register

    def to_json(self) -> dict:
        return dict(self.__dict__)


class Production:
    def __init__(self, platform: Platform, *, chips: ChipService):
        self.platform = platform
        self.cards = chips

    def form_batch(self, actor: str, size: int = 1000) -> str | None:
        """Group up to ``size`` accepted applications, earliest deadline first, into a
        new batch; each gets its card id now. None if nothing is waiting."""
        if not 1 <= size <= MAX_BATCH:
            raise InvalidInput(f"batch size must be between 1 and {MAX_BATCH}")
        now = self.platform.clock.now()
        # The write lock before reading (SQLite ignores FOR UPDATE): two production runs
        # form their batches one after the other, never both from the same applications.
        with self.platform.db.write_session() as s:
            ids = list(
                s.scalars(
                    select(CardApplication.application_id)
                    .where(CardApplication.status == ApplicationStatus.ACCEPTED.value)
                    .order_by(CardApplication.due_on, CardApplication.received_at, CardApplication.application_id)
                    .limit(size)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return None
            batch_id = new_id("B")
            s.add(ProductionBatch(batch_id=batch_id, status=BatchStatus.OPEN.value, size=len(ids), created_at=now, created_by=actor))
            s.flush()
            s.execute(
                update(CardApplication),
                [
                    {
                        "application_id": a,
                        "batch_id": batch_id,
                        "card_id": new_card_id(),
                        "status": ApplicationStatus.IN_PRODUCTION.value,
                        "updated_at": now,
                    }
                    for a in ids
                ],
            )
            audit(s, now, actor, "batch.formed", batch_id, size=len(ids))
        return batch_id

    def open_batches(self) -> list[str]:
        with self.platform.db.session() as s:
            return list(
                s.scalars(
                    select(ProductionBatch.batch_id)
                    .where(ProductionBatch.status == BatchStatus.OPEN.value)
                    .order_by(ProductionBatch.created_at, ProductionBatch.batch_id)
                )
            )

    def _one(self, r, actor: str) -> str:
        record, recorded = self._recorder(r.application_id, r.photo, actor), []

        def on_issued(s, card: ChipRecord) -> None:
            record(s, card)
            recorded.append(card.card_id)

        try:
            self.cards.create_card(
                r.resident_code,
                None,
                actor,
                card_id=r.card_id,
                request_prefix=f"application:{r.application_id}:",
                final_status=CardStatus.PRODUCED.value,
                on_issued=on_issued,
            )
            # Produced by this run only if its transaction recorded it (not a concurrent run's card).
            return "created" if recorded else "existing"
        except NotEligible:
            return "not-eligible"
        except MynaError as exc:
            log.error("card not produced", application_id=r.application_id, error=exc.code)  # the message may quote the record
            return "failed"

    def run_batch(self, batch_id: str, actor: str, progress: Callable[[int], None] | None = None, chunk: int = CHUNK) -> BatchResult:
        """Personalise every card of the batch not yet produced; complete the batch."""
        with self.platform.db.session() as s:
            batch = s.get(ProductionBatch, batch_id)
            if batch is None:
                raise InvalidInput(f"no production batch {batch_id}")
            todo = s.execute(
                select(CardApplication.application_id, CardApplication.resident_code, CardApplication.card_id, CardApplication.photo)
                .where(CardApplication.batch_id == batch_id, CardApplication.status == ApplicationStatus.IN_PRODUCTION.value)
                .order_by(CardApplication.application_id)
            ).all()
            size = batch.size
        produced = cancelled = 0
        for i in range(0, len(todo), chunk):
            part = todo[i : i + chunk]
            recorders = {r.card_id: self._recorder(r.application_id, r.photo, actor) for r in part}
            try:
                outcome = self.cards.create_cards(
                    [(r.resident_code, r.card_id, f"application:{r.application_id}:") for r in part],
                    actor,
                    final_status=CardStatus.PRODUCED.value,
                    on_issued=lambda s, card: recorders[card.card_id](s, card),
                )
            except MynaError:
                outcome = {r.card_id: self._one(r, actor) for r in part}  # find the one that fails, produce the others
            for r in part:
                if outcome[r.card_id] == "created":
                    produced += 1
                elif outcome[r.card_id] == "not-eligible":
                    # Left the register (death, move abroad) between acceptance and production.
                    self._cancel(r.application_id, actor, "the holder is no longer on the resident register (R-CERT-4)")
                    cancelled += 1
            if progress:
                progress(len(part))
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            left = s.scalar(
                select(CardApplication.application_id)
                .where(CardApplication.batch_id == batch_id, CardApplication.status == ApplicationStatus.IN_PRODUCTION.value)
                .limit(1)
            )
            batch = s.get(ProductionBatch, batch_id)
            if left is None and batch.status == BatchStatus.OPEN.value:
                batch.status, batch.completed_at = BatchStatus.COMPLETE.value, now
                audit(s, now, actor, "batch.completed", batch_id, produced=produced, cancelled=cancelled)
        return BatchResult(batch_id, size, produced, size - len(todo), cancelled)

    def _recorder(self, application_id: str, photo: bytes | None, actor: str):
        """What card management records about a finished card, inside the transaction
        that writes its certificates (so "produced" is never half-true)."""

        def record(s, card: ChipRecord) -> None:
            now = self.platform.clock.now()
            resident = s.get(m.ResidentRecord, card.resident_code)
            app = s.get(CardApplication, application_id)
            app.status, app.produced_at, app.updated_at = ApplicationStatus.PRODUCED.value, now, now
            face = {
                "name": resident.name,
                "address": resident.address,
                "date_of_birth": resident.date_of_birth.isoformat(),
                "sex": resident.sex,
                "number": resident.number,
            }
            s.add(
                ManagedCard(
                    card_id=card.card_id,
                    application_id=application_id,
                    resident_code=card.resident_code,
                    municipality_code=card.municipality_code,
                    card_expires_at=validity.card_not_after(resident.date_of_birth, now),
                    printed_face=json.dumps(face, ensure_ascii=False),
                    photo_sha256=hashlib.sha256(photo).hexdigest() if photo else None,
                    produced_at=now,
                )
            )
            s.add(
                CardStatusChange(
                    card_id=card.card_id,
                    from_status=CardStatus.MANUFACTURING.value,
                    to_status=CardStatus.PRODUCED.value,
                    at=now,
                    actor=actor,
                    note=application_id,
                    revoked="[]",
                )
            )

        return record

    def _cancel(self, application_id: str, actor: str, why: str) -> None:
        """The application is cancelled; its fees not yet collected are waived in the same
        transaction (R-CARD-9): each stays recorded, reported as ``waived`` (its
        application cancelled) and no longer outstanding, with a ``fee.waived`` audit event."""
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            app = s.get(CardApplication, application_id)
            app.status, app.updated_at = ApplicationStatus.CANCELLED.value, now
            app.defects = json.dumps([{"code": "not-resident", "message": why}], ensure_ascii=False)
            waived = list(
                s.scalars(
                    select(CardFee).where(CardFee.application_id == application_id, CardFee.collected_at.is_(None)).order_by(CardFee.id)
                )
            )
            audit(s, now, actor, "application.cancelled", application_id, reason=why, fees_waived=[f.id for f in waived])
            for f in waived:
                audit(
                    s,
                    now,
                    actor,
                    "fee.waived",
                    str(f.id),
                    application_id=application_id,
                    item=f.item,
                    amount_yen=f.amount_yen,
                    reason=f"application cancelled: {why}",
                )

    def produce(
        self, actor: str, size: int = 1000, max_batches: int = 1, progress: Callable[[int], None] | None = None, chunk: int = CHUNK
    ) -> list[BatchResult]:
        """Finish any batch a crash left open, then form and run up to ``max_batches`` new ones.
        Cards are personalised ``chunk`` at a time (one certificate issuance per chunk)."""
        if not 1 <= chunk <= MAX_BATCH:
            raise InvalidInput(f"chunk must be between 1 and {MAX_BATCH}")
        results = [self.run_batch(b, actor, progress, chunk) for b in self.open_batches()]
        for _ in range(max_batches):
            batch_id = self.form_batch(actor, size)
            if batch_id is None:
                break
            results.append(self.run_batch(batch_id, actor, progress, chunk))
        return results

    # -- shipping ------------------------------------------------------------------------

    def ship(self, actor: str, municipality_code: str | None = None) -> list[dict]:
        """Ship every produced card, one shipment per municipality, each with its manifest."""
        now = self.platform.clock.now()
        today = now.astimezone(JST).date()
        out = []
        with self.platform.db.session() as s:
            q = (
                select(
                    CardApplication.application_id,
                    CardApplication.card_id,
                    CardApplication.received_on,
                    CardApplication.municipality_code,
                    CardApplication.express,
                )
                .join(ChipRecord, ChipRecord.card_id == CardApplication.card_id)
                .where(CardApplication.status == ApplicationStatus.PRODUCED.value, ChipRecord.status == CardStatus.PRODUCED.value)
                .order_by(CardApplication.municipality_code, CardApplication.application_id)
            )
            if municipality_code is not None:
                q = q.where(CardApplication.municipality_code == municipality_code)
            groups: dict[str, list] = {}
            for r in s.execute(q).all():
                groups.setdefault(r.municipality_code, []).append(r)
        for code, rows in groups.items():
            shipment_id = new_id("S")
            with self.platform.db.session() as s:
                rows = _claim(s, rows, now)
                if not rows:  # a concurrent shipping run took them all
                    continue
                manifest = {
                    "shipment_id": shipment_id,
                    "municipality_code": code,
                    "shipped_at": now.isoformat(),
                    "cards": len(rows),
                    "items": [{"card_id": r.card_id, "application_id": r.application_id} for r in rows],
                }
                text = json.dumps(manifest, ensure_ascii=False, sort_keys=True)
                digest = hashlib.sha256(text.encode()).hexdigest()
                s.add(
                    CardShipment(
                        shipment_id=shipment_id,
                        municipality_code=code,
                        shipped_at=now,
                        cards=len(rows),
                        manifest=text,
                        manifest_sha256=digest,
                    )
                )
                s.flush()
                s.execute(
                    update(CardApplication),
                    [
                        {
                            "application_id": r.application_id,
                            "status": ApplicationStatus.SHIPPED.value,
                            "shipment_id": shipment_id,
                            "shipped_at": now,
                            "lead_days": lead_time.days_between(r.received_on, today),
                            "updated_at": now,
                        }
                        for r in rows
                    ],
                )
                s.execute(update(ChipRecord), [{"card_id": r.card_id, "status": CardStatus.SHIPPED.value, "updated_at": now} for r in rows])
                s.execute(
                    CardStatusChange.__table__.insert(),
                    [
                        {
                            "card_id": r.card_id,
                            "from_status": CardStatus.PRODUCED.value,
                            "to_status": CardStatus.SHIPPED.value,
                            "at": now,
                            "actor": actor,
                            "note": shipment_id,
                            "revoked": "[]",
                        }
                        for r in rows
                    ],
                )
                audit_many(
                    s,
                    [
                        (
                            now,
                            actor,
                            "shipment.sent",
                            shipment_id,
                            {"municipality_code": code, "cards": len(rows), "manifest_sha256": digest},
                        )
                    ],
                )
            out.append({"shipment_id": shipment_id, "municipality_code": code, "cards": len(rows), "manifest_sha256": digest})
        return out

    def manifest(self, shipment_id: str, municipality_code: str | None = None) -> dict:
        with self.platform.db.session() as s:
            row = s.get(CardShipment, shipment_id)
            if row is None or (municipality_code is not None and row.municipality_code != municipality_code):
                raise NotFound(f"no shipment {shipment_id}")
            return {"manifest": json.loads(row.manifest), "manifest_sha256": row.manifest_sha256}


def _claim(s, rows: list, now) -> list:
    """The rows still produced, marked shipped in this transaction by a conditional
    update: of two shipping runs at once, each card goes with exactly one (R-RA-3)."""
    claimed: set[str] = set()
    ids = [r.application_id for r in rows]
    for i in range(0, len(ids), 5000):  # within every store's limit of bound parameters
        claimed.update(
            s.scalars(
                update(CardApplication)
                .where(CardApplication.application_id.in_(ids[i : i + 5000]), CardApplication.status == ApplicationStatus.PRODUCED.value)
                .values(status=ApplicationStatus.SHIPPED.value, updated_at=now)
                .returning(CardApplication.application_id)
                .execution_options(synchronize_session=False)
            )
        )
    return [r for r in rows if r.application_id in claimed]


def produced_count(platform: Platform) -> int:
    """Cards counted as produced: certificates written and the application marked."""
    with platform.db.session() as s:
        return s.scalar(select(func.count()).select_from(ManagedCard)) or 0
