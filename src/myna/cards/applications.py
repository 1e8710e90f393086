"""Number notices with application forms (R-CARD-1) and card applications (R-CARD-2).

Three ways in, one path: online (a municipality counter or the online service sends the
filled-in form), paper (scanned forms arrive as JSON Lines and are imported as a batch;
a file with a bad line is refused whole), and the QR code on the mailed form (the
platform fills the form in from the notice). Every application gets a receipt number
(its id) and is checked for defects against J-LIS's identity record; a defect-free one
is ``accepted`` and waits for production, with its lead-time deadline (R-CARD-4).

Statuses: ``defective`` (final: a new application replaces it), ``accepted``,
``in-production``, ``produced``, ``shipped``, ``handed-over``, ``cancelled`` (the holder
left the register before production).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from myna.authority.platform import Platform
from myna.cards import defects as d
from myna.cards import fees, lead_time
from myna.cards.expiry import in_window
from myna.cards.notices import NumberLetter, number_notices_pdf, parse_qr
from myna.clock import JST
from myna.errors import Conflict, IdempotencyMismatch, InvalidInput, NotFound
from myna.numbering.codes import check_resident_code
from myna.store import models as m
from myna.store.journal import audit
from myna.store.models_card_management import CardApplication, CardFee, ExpiryNotice, MailedNotice, ManagedCard
from myna.store.models_cards import CardRecord

OPEN = ("accepted", "in-production", "produced")  # counted as "in progress" for duplicates
CHANNELS = ("online", "paper", "qr", "counter")  # counter: taken by a clerk at the municipality (窓口申請)
SOURCE_REF_MAX = 200
JLIS = "jlis"  # the requester scope of J-LIS's own staff: paper import, operators, the command line
PAPER_MAX_LINES = 200_000


def requester_for(municipality_code: str | None) -> str:
    """The scope of a sender's ``source_ref`` (R-RA-3): a municipality's keys are its own,
    so one municipality reusing another's key gets its own application and cannot learn
    that the other's exists; J-LIS's staff share one scope."""
    return f"municipality:{municipality_code}" if municipality_code else JLIS


def new_id(prefix: str) -> str:
    """Receipt numbers and other ids: random, so a receipt number reveals nothing and
    cannot be guessed from another (anyone may look a status up with it)."""
    return prefix + secrets.token_hex(8).upper()


@dataclass(frozen=True)
class ApplicationIn:
    resident_code: str
    name: str
    date_of_birth: dt.date
    sex: str
    address: str
    photo: bytes | None
    reason: str = "new"
    express: str | None = None
    replaces_card_id: str | None = None
    source_ref: str | None = None

    def check(self) -> None:
        check_resident_code(self.resident_code)
        if self.reason not in d.REASONS:
            raise InvalidInput(f"reason must be one of {', '.join(d.REASONS)}")
        if self.express is not None and self.express not in d.EXPRESS_REASONS:
            raise InvalidInput(f"express must be one of {', '.join(d.EXPRESS_REASONS)}")
        if self.sex not in ("1", "2", "3"):
            raise InvalidInput("sex must be 1 (male), 2 (female) or 3 (not known)")
        for name, value, limit in (("name", self.name, 256), ("address", self.address, 256)):
            if not value or not value.strip() or len(value) > limit:
                raise InvalidInput(f"{name} must be 1-{limit} characters")
        if self.reason == "reissue" and not self.replaces_card_id:
            raise InvalidInput("a reissue names the card it replaces (replaces_card_id)")
        if self.source_ref is not None and not (0 < len(self.source_ref) <= SOURCE_REF_MAX):
            raise InvalidInput(f"source_ref must be 1-{SOURCE_REF_MAX} characters")

    def digest(self, channel: str) -> str:
        body = {
            "channel": channel, "resident_code": self.resident_code, "name": self.name, "date_of_birth": self.date_of_birth.isoformat(),
            "sex": self.sex, "address": self.address, "reason": self.reason, "express": self.express,
            "replaces_card_id": self.replaces_card_id, "photo": hashlib.sha256(self.photo or b"").hexdigest(),
        }  # fmt: skip
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Receipt:
    application_id: str
    status: str
    channel: str
    received_on: dt.date
    due_on: dt.date
    express: str | None
    defects: list[dict] = field(default_factory=list)
    created: bool = True

    def to_json(self) -> dict:
        return {
            "application_id": self.application_id, "status": self.status, "channel": self.channel,
            "received_on": self.received_on.isoformat(), "due_on": self.due_on.isoformat(), "express": self.express,
            "defects": self.defects, "created": self.created,
        }  # fmt: skip


def _receipt(row: CardApplication, created: bool = True) -> Receipt:
    return Receipt(row.application_id, row.status, row.channel, row.received_on, row.due_on, row.express, json.loads(row.defects), created)


def renewal_form_id(expiry_notice_id: int) -> str:
    """The id printed on the renewal application form of an expiry notice (R-CARD-8)."""
    return f"R{expiry_notice_id:016X}"


def renewal_form_token(platform: Platform, form_id: str, card_id: str, resident_code: str) -> str:
    """The renewal form's QR token: an HMAC under a key derived from the card-image key
    (there is no per-form token column; the form id alone is no credential)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from myna.chip.image import ImageKey

    key = HKDF(hashes.SHA256(), 32, salt=None, info=b"myna renewal application form token").derive(ImageKey.load_or_create(platform.settings.home).pepper)
    return hmac.new(key, f"{form_id}|{card_id}|{resident_code}".encode(), hashlib.sha256).hexdigest()[:32]


def decode_photo(text: str | None) -> bytes | None:
    if text is None or text == "":
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("photo_base64 is not valid base64") from None


class Applications:
    def __init__(self, platform: Platform):
        self.platform = platform

    # -- number notices (R-CARD-1) ----------------------------------------------------

    def mail_notices(self, actor: str, municipality_code: str | None = None, limit: int = 1000) -> tuple[list[dict], bytes | None]:
        """Print the number notices not yet mailed (each once; returned mail is never
        re-sent) as one PDF, one letter each, and record them as mailed."""
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be between 1 and 10000")
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
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
                prefill = {"name": resident.name, "date_of_birth": resident.date_of_birth.isoformat(), "sex": resident.sex, "address": resident.address}
                s.add(
                    MailedNotice(
                        notice_id=notice_id, number_notice_id=notice.id, resident_code=resident.resident_code,
                        municipality_code=resident.municipality_code, form_token=token,
                        prefill=json.dumps(prefill, ensure_ascii=False), mailed_at=now,
                    )
                )  # fmt: skip
                audit(s, now, actor, "notice.mailed", notice_id, resident_code=resident.resident_code)
                letters.append(
                    NumberLetter(notice_id, token, resident.number, resident.name, resident.date_of_birth, resident.sex, resident.address, municipality, now.astimezone(JST).date())
                )
                out.append({"notice_id": notice_id, "resident_code": resident.resident_code, "municipality_code": resident.municipality_code})
            pdf = number_notices_pdf(letters) if letters else None
        return out, pdf

    def mark_returned(self, notice_id: str, reason: str, actor: str) -> dict:
        """Returned mail (R-CARD-1): recorded once; J-LIS does not send it again (the
        municipality keeps the notice for the resident to collect)."""
        if not reason or len(reason) > 200:
            raise InvalidInput("reason must be 1-200 characters")
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row = s.get(MailedNotice, notice_id)
            if row is None:
                raise NotFound(f"no mailed notice {notice_id}")
            if row.returned_at is not None:
                raise Conflict(f"notice {notice_id} was already recorded as returned at {row.returned_at.isoformat()}")
            row.returned_at, row.returned_reason = now, reason
            audit(s, now, actor, "notice.returned", notice_id, reason=reason)
            return {"notice_id": notice_id, "returned_at": now.isoformat(), "resend": False}

    def notice_prefill(self, qr_text: str) -> tuple[MailedNotice, dict]:
        notice_id, token = parse_qr(qr_text)
        if not notice_id.startswith("N"):
            raise NotFound("no application form with this QR code")
        with self.platform.db.session() as s:
            row = s.get(MailedNotice, notice_id)
            if row is None or not secrets.compare_digest(row.form_token, token):
                raise NotFound("no application form with this QR code")
            return row, json.loads(row.prefill)

    # -- receiving ------------------------------------------------------------------

    def submit(self, app: ApplicationIn, channel: str, actor: str, notice_id: str | None = None, requester: str = JLIS) -> Receipt:
        """Receive one application, check it for defects, give it a receipt number.

        ``requester`` scopes ``app.source_ref`` (see :func:`requester_for`): a retry from the
        same requester with the same content answers the application already recorded
        (``created`` false); with other content, :class:`IdempotencyMismatch`. The same
        holds when the two arrive at once (R-RA-3)."""
        if channel not in CHANNELS:
            raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}")
        app.check()
        digest = app.digest(channel)
        now = self.platform.clock.now()
        try:
            with self.platform.db.session() as s:
                return self._receive(s, app, channel, digest, now, actor, notice_id, requester)
        except IntegrityError:
            # The same key raced in twice: the one that committed answers this request too,
            # but only if it is the same request (its digest), else a 409 like a late retry.
            if app.source_ref is None:
                raise
            with self.platform.db.session() as s:
                dup = self._by_ref(s, requester, app.source_ref)
                if dup is None:
                    raise Conflict("a concurrent application for this resident won; retry") from None
                return self._duplicate(dup, digest)

    def renewal_prefill(self, form_id: str, token: str) -> tuple[ExpiryNotice, dict]:
        """The renewal form of an expiry notice that asked for a new card (R-CARD-8): the
        application is filled in from the holder's resident record."""
        notice_pk = int(form_id[1:], 16)  # parse_qr: 16 hexadecimal digits
        if notice_pk >= 2**63:  # beyond a BIGINT: no such notice (and no database error)
            raise NotFound("no application form with this QR code")
        with self.platform.db.session() as s:
            row = s.get(ExpiryNotice, notice_pk)
            good = row is not None and row.renew in ("card", "both")
            if not good or not secrets.compare_digest(renewal_form_token(self.platform, form_id, row.card_id, row.resident_code), token):
                raise NotFound("no application form with this QR code")
            resident = s.get(m.ResidentRecord, row.resident_code)
            if resident is None:
                raise NotFound("no application form with this QR code")
            prefill = {"name": resident.name, "date_of_birth": resident.date_of_birth.isoformat(), "sex": resident.sex, "address": resident.address}
            return row, prefill

    def submit_qr(self, qr_text: str, photo: bytes | None, actor: str, express: str | None = None, source_ref: str | None = None) -> Receipt:
        """The QR path: the form's printed data fills the application in. A number
        notice's form applies for a first card; an expiry notice's renewal form (``R…``)
        for a renewal (the card replaced is the holder's active one)."""
        form_id, token = parse_qr(qr_text)
        if form_id.startswith("R"):
            renewal, prefill = self.renewal_prefill(form_id, token)
            app = ApplicationIn(
                resident_code=renewal.resident_code, name=prefill["name"], date_of_birth=dt.date.fromisoformat(prefill["date_of_birth"]),
                sex=prefill["sex"], address=prefill["address"], photo=photo, reason="renewal", express=express, source_ref=source_ref,
            )  # fmt: skip
            return self.submit(app, "qr", actor, notice_id=form_id, requester=f"form:{form_id}")
        notice, prefill = self.notice_prefill(qr_text)
        app = ApplicationIn(
            resident_code=notice.resident_code, name=prefill["name"], date_of_birth=dt.date.fromisoformat(prefill["date_of_birth"]),
            sex=prefill["sex"], address=prefill["address"], photo=photo, express=express, source_ref=source_ref,
        )  # fmt: skip
        # The public's keys are scoped to the form: whoever holds it is the requester.
        return self.submit(app, "qr", actor, notice_id=notice.notice_id, requester=f"form:{notice.notice_id}")

    @staticmethod
    def _by_ref(s, requester: str, source_ref: str) -> CardApplication | None:
        return s.scalar(select(CardApplication).where(CardApplication.requester == requester, CardApplication.source_ref == source_ref))

    @staticmethod
    def _duplicate(dup: CardApplication, digest: str) -> Receipt:
        if dup.digest != digest:
            raise IdempotencyMismatch(f"source_ref {dup.source_ref!r} was already used for a different application")
        return _receipt(dup, created=False)

    def _receive(self, s, app: ApplicationIn, channel: str, digest: str, now: dt.datetime, actor: str, notice_id: str | None, requester: str) -> Receipt:
        if app.source_ref is not None:
            dup = self._by_ref(s, requester, app.source_ref)
            if dup is not None:
                return self._duplicate(dup, digest)
        today = now.astimezone(JST).date()
        if app.reason == "renewal" and not app.replaces_card_id:
            # A renewal replaces the holder's active card, abolished when the new one is handed over.
            current = s.scalar(
                select(CardRecord.card_id).where(CardRecord.resident_code == app.resident_code, CardRecord.status == "active").order_by(CardRecord.created_at.desc()).limit(1)
            )
            app = dataclasses.replace(app, replaces_card_id=current)
        record, ctx = self._facts(s, app, now)
        found = d.check(d.Applied(app.name, app.date_of_birth, app.sex, app.address, app.photo, app.reason, app.express, app.replaces_card_id), record, ctx, today)
        express = app.express if not any(x.code == "express-not-eligible" for x in found) else None
        resident = s.get(m.ResidentRecord, app.resident_code)
        row = CardApplication(
            application_id=new_id("A"), channel=channel, requester=requester, source_ref=app.source_ref, digest=digest,
            resident_code=app.resident_code, municipality_code=resident.municipality_code if resident else None,
            reason=app.reason, express=express, replaces_card_id=app.replaces_card_id, notice_id=notice_id,
            name=app.name, date_of_birth=app.date_of_birth, sex=app.sex, address=app.address, photo=app.photo,
            status="defective" if found else "accepted", defects=json.dumps([x.to_json() for x in found], ensure_ascii=False),
            received_at=now, received_on=today, due_on=lead_time.due_on(today, express is not None), updated_at=now,
        )  # fmt: skip
        s.add(row)
        s.flush()
        if not found:
            for fee in fees.for_application(app.reason):
                s.add(
                    CardFee(
                        application_id=row.application_id, resident_code=app.resident_code, municipality_code=row.municipality_code,
                        item=fee.item, amount_yen=fee.amount_yen, due_at=now,
                    )
                )  # fmt: skip
        audit(s, now, actor, "application.received", row.application_id, channel=channel, status=row.status, defects=[x.code for x in found])
        return _receipt(row)

    def _facts(self, s, app: ApplicationIn, now: dt.datetime) -> tuple[d.Record | None, d.Context]:
        # Locked: two applications of one resident are checked one after the other (duplicates).
        resident = s.get(m.ResidentRecord, app.resident_code, with_for_update=True)
        record = None
        if resident is not None:
            first = s.execute(
                select(m.ResidentEvent.type, m.ResidentEvent.effective_date)
                .where(m.ResidentEvent.resident_code == app.resident_code)
                .order_by(m.ResidentEvent.id)
                .limit(1)
            ).first()
            abroad = first.effective_date if first is not None and first.type == "move-in" else None
            record = d.Record(resident.name, resident.date_of_birth, resident.sex, resident.address, resident.status in ("active", "moving-out"), abroad)
        open_apps = s.scalar(
            select(func.count()).select_from(CardApplication).where(CardApplication.resident_code == app.resident_code, CardApplication.status.in_(OPEN))
        )
        live = s.scalar(select(func.count()).select_from(CardRecord).where(CardRecord.resident_code == app.resident_code, CardRecord.status.in_(d.LIVE_CARD)))
        replaced = None
        if app.replaces_card_id:
            card = s.get(CardRecord, app.replaces_card_id)
            replaced = card.status if card is not None and card.resident_code == app.resident_code else None
        due = False
        for managed in s.scalars(
            select(ManagedCard).join(CardRecord, CardRecord.card_id == ManagedCard.card_id).where(ManagedCard.resident_code == app.resident_code, CardRecord.status == "active")
        ):
            due = due or in_window(managed.card_expires_at, now)
        return record, d.Context(open_apps or 0, live or 0, replaced, due)

    def import_paper(self, path: Path, actor: str) -> dict:
        """Scanned paper forms, one JSON object a line: ``form_id`` (the scan's id: a
        re-import is not a new application), ``resident_code``, ``name``,
        ``date_of_birth``, ``sex``, ``address``, ``photo_base64`` or ``photo_file``
        (relative to the file), optional ``reason``, ``express``, ``replaces_card_id``.
        Every line is read and checked before anything is recorded: a file with a bad
        line is refused whole, naming each bad line."""
        apps, bad = self.parse_paper(path)
        if bad:
            shown = "\n".join(f"line {b['line']}: {b['message']}" for b in bad[:50])
            more = f"\n... and {len(bad) - 50} more bad lines" if len(bad) > 50 else ""
            raise InvalidInput(f"{len(bad)} bad lines of {len(apps) + len(bad)} forms; nothing was imported\n{shown}{more}", lines=bad)
        receipts = [self.submit(a, "paper", actor, requester=JLIS) for a in apps]
        return {
            "forms": len(receipts),
            "new": sum(r.created for r in receipts),
            "accepted": sum(r.created and r.status == "accepted" for r in receipts),
            "defective": sum(r.created and r.status == "defective" for r in receipts),
            "receipts": [r.to_json() for r in receipts],
        }

    @staticmethod
    def parse_paper(path: Path) -> tuple[list[ApplicationIn], list[dict]]:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFound(f"no file {path}") from None
        except (UnicodeDecodeError, IsADirectoryError) as exc:
            raise InvalidInput(f"{path} is not a UTF-8 text file ({type(exc).__name__})") from None
        known = {"form_id", "resident_code", "name", "date_of_birth", "sex", "address", "photo_base64", "photo_file", "reason", "express", "replaces_card_id"}
        apps: list[ApplicationIn] = []
        bad: list[dict] = []
        seen: dict[str, int] = {}
        lines = text.splitlines()
        if len(lines) > PAPER_MAX_LINES:
            raise InvalidInput(f"at most {PAPER_MAX_LINES} forms a file")
        for no, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise InvalidInput("not a JSON object")
                unknown = sorted(set(obj) - known)
                if unknown:
                    raise InvalidInput(f"unknown field {unknown[0]!r}")
                missing = [k for k in ("form_id", "resident_code", "name", "date_of_birth", "sex", "address") if not obj.get(k)]
                if missing:
                    raise InvalidInput(f"missing {', '.join(missing)}")
                if not all(isinstance(obj[k], str) for k in obj if obj[k] is not None):
                    raise InvalidInput("every field is a string")
                try:
                    dob = dt.date.fromisoformat(obj["date_of_birth"])
                except ValueError:
                    raise InvalidInput(f"date_of_birth {obj['date_of_birth']!r} is not a date YYYY-MM-DD") from None
                photo = decode_photo(obj.get("photo_base64"))
                if obj.get("photo_file"):
                    photo_path = (Path(path).parent / obj["photo_file"]).resolve()
                    if Path(path).parent.resolve() not in photo_path.parents:
                        raise InvalidInput("photo_file must lie beside the import file")
                    if not photo_path.is_file():
                        raise InvalidInput(f"photo_file {obj['photo_file']!r} not found")
                    photo = photo_path.read_bytes()
                if obj["form_id"] in seen:
                    raise InvalidInput(f"form_id repeats line {seen[obj['form_id']]}")
                app = ApplicationIn(
                    resident_code=obj["resident_code"], name=obj["name"], date_of_birth=dob, sex=obj["sex"], address=obj["address"],
                    photo=photo, reason=obj.get("reason") or "new", express=obj.get("express"), replaces_card_id=obj.get("replaces_card_id"),
                    source_ref=f"paper:{obj['form_id']}",
                )  # fmt: skip
                app.check()
                seen[obj["form_id"]] = no
                apps.append(app)
            except json.JSONDecodeError:
                bad.append({"line": no, "message": "not valid JSON"})
            except InvalidInput as exc:
                bad.append({"line": no, "message": exc.message})
        if not apps and not bad:
            raise InvalidInput("no forms in the file")
        return apps, bad

    # -- reading ------------------------------------------------------------------------

    def status(self, application_id: str) -> dict:
        """What anyone holding the receipt number may see: no personal data."""
        if not application_id or len(application_id) > 20:
            raise InvalidInput("a receipt number is 17 characters")
        with self.platform.db.session() as s:
            row = s.get(CardApplication, application_id.strip().upper())
            if row is None:
                raise NotFound(f"no application with receipt number {application_id}")
            return {
                "application_id": row.application_id,
                "status": row.status,
                "received_on": row.received_on.isoformat(),
                "due_on": row.due_on.isoformat(),
                "express": row.express is not None,
                "defects": [x["code"] for x in json.loads(row.defects)],
                "shipped_on": row.shipped_at.astimezone(JST).date().isoformat() if row.shipped_at else None,
            }

    def get(self, application_id: str, municipality_code: str | None = None) -> dict:
        with self.platform.db.session() as s:
            row = s.get(CardApplication, application_id)
            if row is None or (municipality_code is not None and row.municipality_code != municipality_code):
                raise NotFound(f"no application {application_id}")
            return {
                **_receipt(row, False).to_json(), "resident_code": row.resident_code, "municipality_code": row.municipality_code,
                "reason": row.reason, "replaces_card_id": row.replaces_card_id, "batch_id": row.batch_id, "card_id": row.card_id,
                "shipment_id": row.shipment_id, "lead_days": row.lead_days,
            }  # fmt: skip

    # -- lead time (R-CARD-4) -------------------------------------------------------------

    def alerts(self, within: int = lead_time.ALERT_DAYS) -> list[dict]:
        """Applications not yet shipped whose deadline is ``within`` counted days or
        fewer away, or already missed (days_left < 0)."""
        if not 0 <= within <= 30:
            raise InvalidInput("within must be 0-30 days")
        today = self.platform.clock.now().astimezone(JST).date()
        horizon = lead_time.add_days(today, within)
        with self.platform.db.session() as s:
            rows = s.execute(
                select(CardApplication.application_id, CardApplication.status, CardApplication.due_on, CardApplication.express, CardApplication.municipality_code)
                .where(CardApplication.status.in_(OPEN), CardApplication.due_on <= horizon)
                .order_by(CardApplication.due_on, CardApplication.application_id)
            ).all()
        return [
            {"application_id": r.application_id, "status": r.status, "due_on": r.due_on.isoformat(), "days_left": lead_time.days_left(today, r.due_on),
             "express": r.express is not None, "municipality_code": r.municipality_code}
            for r in rows
        ]  # fmt: skip

    def lead_time_report(self, by: str = "day") -> list[dict]:
        if by not in ("day", "month"):
            raise InvalidInput("by must be day or month")
        with self.platform.db.session() as s:
            rows = s.execute(
                select(CardApplication.shipped_at, CardApplication.lead_days, CardApplication.express).where(CardApplication.shipped_at.is_not(None))
            ).all()
        return [x.to_json() for x in lead_time.report([(r.shipped_at.astimezone(JST).date(), r.lead_days, r.express is not None) for r in rows], by)]
