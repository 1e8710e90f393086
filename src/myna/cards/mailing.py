"""Number notices with their application forms (R-CARD-1): printed and mailed once each,
and returned mail recorded (never re-sent: the municipality keeps the notice for the
resident to collect)."""

from __future__ import annotations

import json
import secrets

from sqlalchemy import select

from myna.authority.platform import Platform
from myna.cards.notices import NumberLetter, number_notices_pdf
from myna.cards.receipts import new_id
from myna.clock import JST
from myna.errors import Conflict, InvalidInput, NotFound
from myna.store import models as m
from myna.store.journal import audit
from myna.store.models_card_management import MailedNotice


def mail_notices(
    platform: Platform, actor: str, municipality_code: str | None = None, limit: int = 1000
) -> tuple[list[dict], bytes | None]:
    """Print the number notices not yet mailed (each once; returned mail is never
    re-sent) as one PDF, one letter each, and record them as mailed."""
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit must be between 1 and 10000")
    now = platform.clock.now()
    with platform.db.session() as s:
        q = (
            select(m.NumberNotice, m.ResidentRecord, m.Municipality.name)
            .join(m.ResidentRecord, m.ResidentRecord.resident_code == m.NumberNotice.resident_code)
            .join(m.Municipality, m.Municipality.code == m.ResidentRecord.municipality_code)
            .outerjoin(MailedNotice, MailedNotice.number_notice_id == m.NumberNotice.id)
            .where(MailedNotice.notice_id.is_(None))
            .order_by(m.NumberNotice.id)
            .limit(limit)
        )
        if municipality_code is not None:
            q = q.where(m.NumberNotice.municipality_code == municipality_code)
        letters, out = [], []
        for notice, resident, municipality in s.execute(q).all():
            if resident.number != notice.number:
                continue  # superseded by a newer number (leak): only the current one is mailed
            notice_id, token = new_id("N"), secrets.token_hex(16)
            prefill = {
                "name": resident.name,
                "date_of_birth": resident.date_of_birth.isoformat(),
                "sex": resident.sex,
                "address": resident.address,
            }
            s.add(
                MailedNotice(
                    notice_id=notice_id,
                    number_notice_id=notice.id,
                    resident_code=resident.resident_code,
                    municipality_code=resident.municipality_code,
                    form_token=token,
                    prefill=json.dumps(prefill, ensure_ascii=False),
                    mailed_at=now,
                )
            )
            audit(s, now, actor, "notice.mailed", notice_id, resident_code=resident.resident_code)
            letters.append(
                NumberLetter(
                    notice_id,
                    token,
                    resident.number,
                    resident.name,
                    resident.date_of_birth,
                    resident.sex,
                    resident.address,
                    municipality,
                    now.astimezone(JST).date(),
                )
            )
            out.append({"notice_id": notice_id, "resident_code": resident.resident_code, "municipality_code": resident.municipality_code})
        pdf = number_notices_pdf(letters) if letters else None
    return out, pdf


def mark_returned(platform: Platform, notice_id: str, reason: str, actor: str) -> dict:
    """Returned mail (R-CARD-1): recorded once; J-LIS does not send it again (the
    municipality keeps the notice for the resident to collect)."""
    if not reason or len(reason) > 200:
        raise InvalidInput("reason must be 1-200 characters")
    now = platform.clock.now()
    with platform.db.session() as s:
        row = s.get(MailedNotice, notice_id)
        if row is None:
            raise NotFound(f"no mailed notice {notice_id}")
        if row.returned_at is not None:
            raise Conflict(f"notice {notice_id} was already recorded as returned at {row.returned_at.isoformat()}")
        row.returned_at, row.returned_reason = now, reason
        audit(s, now, actor, "notice.returned", notice_id, reason=reason)
        return {"notice_id": notice_id, "returned_at": now.isoformat(), "resend": False}
