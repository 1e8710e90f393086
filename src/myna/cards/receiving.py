"""Receiving one application (R-CARD-2): checked for defects, given a receipt number,
its fees recorded; a retry with the same sender's id answers the application already
recorded (R-RA-3). Every channel (online, counter, paper, QR) comes through here."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from myna.authority.platform import Platform
from myna.cards import defects as d
from myna.cards import fees, lead_time
from myna.cards.application_status import ApplicationStatus
from myna.cards.card_status import CardStatus
from myna.cards.defect_facts import facts
from myna.cards.forms import ApplicationIn
from myna.cards.receipts import Receipt, new_id, receipt_of
from myna.clock import JST
from myna.errors import Conflict, IdempotencyMismatch, InvalidInput, NotFound
from myna.store import models as m
from myna.store.journal import audit
from myna.store.models_card_management import CardApplication, CardFee
from myna.store.models_cards import ChipRecord

CHANNELS = ("online", "paper", "qr", "counter")  # counter: taken by a clerk at the municipality (窓口申請)
JLIS = "jlis"  # the requester scope of J-LIS's own staff: paper import, operators, the command line


def requester_for(municipality_code: str | None) -> str:
    """The scope of a sender's ``source_ref`` (R-RA-3): a municipality's keys are its own,
    so one municipality reusing another's key gets its own application and cannot learn
    that the other's exists; J-LIS's staff share one scope."""
    return f"municipality:{municipality_code}" if municipality_code else JLIS


def submit_for_municipality(platform: Platform, app: ApplicationIn, channel: str, actor: str, municipality_code: str) -> Receipt:
    """A municipality applies for its own residents only (R-RA-2): another municipality's
    resident gets, word for word, the answer an unknown one gets, before anything else is
    checked, so nothing is learnt about who lives elsewhere."""
    with platform.db.session() as s:
        row = s.get(m.ResidentRecord, app.resident_code)
        if row is None or row.municipality_code != municipality_code:
            raise NotFound(f"no resident {app.resident_code} in municipality {municipality_code}")
    return submit(platform, app, channel, actor, requester=requester_for(municipality_code))


def submit(
    platform: Platform, app: ApplicationIn, channel: str, actor: str, notice_id: str | None = None, requester: str = JLIS
) -> Receipt:
    """Receive one application, check it for defects, give it a receipt number.

    ``requester`` scopes ``app.source_ref`` (see :func:`requester_for`): a retry from the
    same requester with the same content answers the application already recorded
    (``created`` false); with other content, :class:`IdempotencyMismatch`. The same
    holds when the two arrive at once (R-RA-3)."""
    if channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}")
    app.check()
    digest = app.digest(channel)
    now = platform.clock.now()
    try:
        with platform.db.session() as s:
            return _receive(s, app, channel, digest, now, actor, notice_id, requester)
    except IntegrityError:
        # The same key raced in twice: the one that committed answers this request too,
        # but only if it is the same request (its digest), else a 409 like a late retry.
        if app.source_ref is None:
            raise
        with platform.db.session() as s:
            dup = _by_ref(s, requester, app.source_ref)
            if dup is None:
                raise Conflict("a concurrent application for this resident won; retry") from None
            return _duplicate(dup, digest)


def _by_ref(s, requester: str, source_ref: str) -> CardApplication | None:
    return s.scalar(select(CardApplication).where(CardApplication.requester == requester, CardApplication.source_ref == source_ref))


def _duplicate(dup: CardApplication, digest: str) -> Receipt:
    if dup.digest != digest:
        raise IdempotencyMismatch(f"source_ref {dup.source_ref!r} was already used for a different application")
    return receipt_of(dup, created=False)


def _receive(
    s, app: ApplicationIn, channel: str, digest: str, now: dt.datetime, actor: str, notice_id: str | None, requester: str
) -> Receipt:
    if app.source_ref is not None:
        dup = _by_ref(s, requester, app.source_ref)
        if dup is not None:
            return _duplicate(dup, digest)
    today = now.astimezone(JST).date()
    if app.reason == "renewal" and not app.replaces_card_id:
        # A renewal replaces the holder's active card, abolished when the new one is handed over.
        current = s.scalar(
            select(ChipRecord.card_id)
            .where(ChipRecord.resident_code == app.resident_code, ChipRecord.status == CardStatus.ACTIVE.value)
            .order_by(ChipRecord.created_at.desc())
            .limit(1)
        )
        app = dataclasses.replace(app, replaces_card_id=current)
    record, ctx = facts(s, app, now)
    found = d.check(
        d.Applied(app.name, app.date_of_birth, app.sex, app.address, app.photo, app.reason, app.express, app.replaces_card_id),
        record,
        ctx,
        today,
    )
    express = app.express if not any(x.code == "express-not-eligible" for x in found) else None
    resident = s.get(m.ResidentRecord, app.resident_code)
    status = ApplicationStatus.DEFECTIVE if found else ApplicationStatus.ACCEPTED
    row = CardApplication(
        application_id=new_id("A"),
        channel=channel,
        requester=requester,
        source_ref=app.source_ref,
        digest=digest,
        resident_code=app.resident_code,
        municipality_code=resident.municipality_code if resident else None,
        reason=app.reason,
        express=express,
        replaces_card_id=app.replaces_card_id,
        notice_id=notice_id,
        name=app.name,
        date_of_birth=app.date_of_birth,
        sex=app.sex,
        address=app.address,
        photo=app.photo,
        status=status.value,
        defects=json.dumps([x.to_json() for x in found], ensure_ascii=False),
        received_at=now,
        received_on=today,
        due_on=lead_time.due_on(today, express is not None),
        updated_at=now,
    )
    s.add(row)
    s.flush()
    if not found:
        for fee in fees.for_application(app.reason):
            s.add(
                CardFee(
                    application_id=row.application_id,
                    resident_code=app.resident_code,
                    municipality_code=row.municipality_code,
                    item=fee.item,
                    amount_yen=fee.amount_yen,
                    due_at=now,
                )
            )
    audit(s, now, actor, "application.received", row.application_id, channel=channel, status=row.status, defects=[x.code for x in found])
    return receipt_of(row)
