"""The QR path (R-CARD-2): the code on a mailed form fills the application in. A number
notice's form (``N…``) applies for a first card; an expiry notice's renewal form
(``R…``) for a renewal. The form's token is the credential: whoever holds the form is
the requester its retries are scoped to."""

from __future__ import annotations

import datetime as dt
import json
import secrets

from myna.authority.platform import Platform
from myna.cards.forms import ApplicationIn
from myna.cards.notices import parse_qr
from myna.cards.receipts import Receipt
from myna.cards.receiving import submit
from myna.cards.renewal_forms import renewal_form_token
from myna.errors import NotFound
from myna.store import models as m
from myna.store.models_card_management import ExpiryNotice, MailedNotice


def notice_prefill(platform: Platform, qr_text: str) -> tuple[MailedNotice, dict]:
    notice_id, token = parse_qr(qr_text)
    if not notice_id.startswith("N"):
        raise NotFound("no application form with this QR code")
    with platform.db.session() as s:
        row = s.get(MailedNotice, notice_id)
        if row is None or not secrets.compare_digest(row.form_token, token):
            raise NotFound("no application form with this QR code")
        return row, json.loads(row.prefill)


def renewal_prefill(platform: Platform, form_id: str, token: str) -> tuple[ExpiryNotice, dict]:
    """The renewal form of an expiry notice that asked for a new card (R-CARD-8): the
    application is filled in from the holder's resident record."""
    notice_pk = int(form_id[1:], 16)  # parse_qr: 16 hexadecimal digits
    if notice_pk >= 2**63:  # beyond a BIGINT: no such notice (and no database error)
        raise NotFound("no application form with this QR code")
    with platform.db.session() as s:
        row = s.get(ExpiryNotice, notice_pk)
        good = row is not None and row.renew in ("card", "both")
        if not good or not secrets.compare_digest(renewal_form_token(platform, form_id, row.card_id, row.resident_code), token):
            raise NotFound("no application form with this QR code")
        resident = s.get(m.ResidentRecord, row.resident_code)
        if resident is None:
            raise NotFound("no application form with this QR code")
        prefill = {
            "name": resident.name,
            "date_of_birth": resident.date_of_birth.isoformat(),
            "sex": resident.sex,
            "address": resident.address,
        }
        return row, prefill


def submit_qr(
    platform: Platform, qr_text: str, photo: bytes | None, actor: str, express: str | None = None, source_ref: str | None = None
) -> Receipt:
    """The QR path: the form's printed data fills the application in. A number
    notice's form applies for a first card; an expiry notice's renewal form (``R…``)
    for a renewal (the card replaced is the holder's active one)."""
    form_id, token = parse_qr(qr_text)
    if form_id.startswith("R"):
        renewal, prefill = renewal_prefill(platform, form_id, token)
        app = ApplicationIn(
            resident_code=renewal.resident_code,
            name=prefill["name"],
            date_of_birth=dt.date.fromisoformat(prefill["date_of_birth"]),
            sex=prefill["sex"],
            address=prefill["address"],
            photo=photo,
            reason="renewal",
            express=express,
            source_ref=source_ref,
        )
        return submit(platform, app, "qr", actor, notice_id=form_id, requester=f"form:{form_id}")
    notice, prefill = notice_prefill(platform, qr_text)
    app = ApplicationIn(
        resident_code=notice.resident_code,
        name=prefill["name"],
        date_of_birth=dt.date.fromisoformat(prefill["date_of_birth"]),
        sex=prefill["sex"],
        address=prefill["address"],
        photo=photo,
        express=express,
        source_ref=source_ref,
    )
    # The public's keys are scoped to the form: whoever holds it is the requester.
    return submit(platform, app, "qr", actor, notice_id=notice.notice_id, requester=f"form:{notice.notice_id}")
