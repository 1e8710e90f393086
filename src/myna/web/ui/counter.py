"""The municipal counter terminal (統合端末): residents and their changes, applications,
cards arriving from production, handover with the holder setting the PINs, and the card's
later life (suspension, loss, reissue, renewal, return, abolition).

Every action goes through the same domain services as the API, scoped to the clerk's
municipality: a clerk cannot see or touch another municipality's residents or cards.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from urllib.parse import quote

import pypdf
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from myna.access.roles import Principal, Role
from myna.cards.applications import ApplicationIn
from myna.cards.card_status import TRANSITIONS, Action, CardStatus
from myna.cards.handover import IDENTITY_DOCUMENTS, Handover
from myna.cards.listings import ARRIVED_MAX
from myna.chip.chips import CardPins
from myna.chip.pins import PinRef
from myna.clock import JST
from myna.errors import InvalidInput, MynaError, NotFound
from myna.pki.basic4 import Basic4, Sex
from myna.residents.events import ChangeEvent, EventType
from myna.web.deps import services
from myna.web.errors import http_status
from myna.web.ui import i18n
from myna.web.ui.frame import guard, lang_of, render

router = APIRouter(prefix="/ui/counter", include_in_schema=False)
CLERK = guard(Role.MUNICIPALITY)
COUNTER_CHANNEL = "counter"
PHOTO_MAX = 5 * 1024 * 1024
EVENT_TYPES = [e.value for e in EventType]
# Which fields each change event needs on the form (the registry checks them again).
EVENT_FIELDS = {
    "birth": {"name", "date_of_birth", "sex", "address"},
    "move-in": {"address"},  # name etc. only for someone not on the register (from abroad)
    "planned-move-out": {"planned_date"},
    "planned-move-out-withdrawn": set(),
    "move-out": set(),
    "name-change": {"name"},
    "address-change": {"address"},
    "correction": set(),
    "death": set(),
    "deletion": {"reason"},
}
CARD_ACTIONS = ("suspend", "lift", "loss", "return", "abolish", "renew")
# Notes the platform itself writes into a card's history, shown translated.
SYSTEM_NOTES = {"handed over": "counter.note.handed_over", "lost: reported on the resident portal": "counter.note.portal_lost"}
PRODUCTION_NOTES = {("manufacturing", "produced"): "counter.note.application", ("produced", "shipped"): "counter.note.shipment"}
_DOMAIN_ACTION = {"suspend": Action.SUSPEND, "lift": Action.LIFT, "loss": Action.LOSE, "return": Action.RETURN, "abolish": Action.ABOLISH}


def legal_actions(status: str) -> list[str]:
    """The buttons worth showing for a card in ``status`` (the domain still decides)."""
    try:
        current = CardStatus(status)
    except ValueError:
        return []
    out = [a for a, action in _DOMAIN_ACTION.items() if (current, action) in TRANSITIONS]
    if current is CardStatus.ACTIVE:
        out.append("renew")
    return out


def _go(url: str, message: str | None = None, error: str | None = None) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    if message:
        url += f"{sep}done={quote(message)}"
    elif error:
        url += f"{sep}error={quote(error)}"
    return RedirectResponse(url, status_code=303)


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value.strip())


def _overview(request: Request, who: Principal, form: dict | None = None, errors: dict | None = None, status_code: int = 200):
    listings = services(request).card_listings
    arrived = [
        {"card_id": c.card_id, "resident_code": c.resident_code, "updated_at": c.updated_at}
        for c in listings.arrived(who.municipality_code, ARRIVED_MAX)
    ]
    recent = [
        {"id": a.application_id, "resident_code": a.resident_code, "status": a.status, "due_on": a.due_on, "reason": a.reason}
        for a in listings.recent_applications(who.municipality_code)
    ]
    return render(
        request,
        "counter.html",
        status_code=status_code,
        arrived=arrived,
        recent=recent,
        form=form or {},
        errors=errors or {},
        done=request.query_params.get("done"),
        error=request.query_params.get("error"),
    )


@router.get("")
def overview(request: Request, who: Principal = Depends(CLERK)):
    return _overview(request, who)


@router.get("/find")
def find(request: Request, code: str = "", who: Principal = Depends(CLERK)):
    text = code.strip()
    if text.isascii() and text.isdigit() and len(text) == 11:
        return RedirectResponse(f"/ui/counter/residents/{text}", status_code=303)
    if len(text) == 16 and all(c in "0123456789ABCDEF" for c in text.upper()):
        return RedirectResponse(f"/ui/counter/cards/{text.upper()}", status_code=303)
    return _overview(request, who, {"code": code[:100]}, {"code": "counter.error.find" if text else "form.error.required"}, 422)


@router.get("/pickup-notices.pdf")
def pickup_notices(request: Request, who: Principal = Depends(CLERK)):
    """The pickup notices (交付通知書) of every card in the arrived list, in one PDF to print."""
    sv = services(request)
    ids = [c.card_id for c in sv.card_listings.arrived(who.municipality_code, ARRIVED_MAX)]
    counter = sv.counter
    pdfs = []
    for card_id in ids:
        try:
            pdfs.append(counter.pickup_notice(card_id, who.municipality_code))
        except MynaError:
            continue  # handed over (or changed) since the list was read: nothing to notify
    if not pdfs:
        return _go("/ui/counter", error="counter.error.no_arrived")
    return Response(_joined(pdfs), media_type="application/pdf", headers={"Content-Disposition": 'inline; filename="pickup-notices.pdf"'})


def _joined(pdfs: list[bytes]) -> bytes:
    """The letters' pages in one document, in order, for printing the batch at once."""
    if len(pdfs) == 1:
        return pdfs[0]
    writer = pypdf.PdfWriter()
    for pdf in pdfs:
        writer.append(pypdf.PdfReader(io.BytesIO(pdf)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- residents --------------------------------------------------------------------------


def _event_form(request: Request, form: dict, errors: dict, status_code: int = 200):
    return render(
        request, "counter_event.html", status_code=status_code, form=form, errors=errors, event_types=EVENT_TYPES, event_fields=EVENT_FIELDS
    )


@router.get("/events/new")
def new_event(request: Request, resident_code: str = "", who: Principal = Depends(CLERK)):
    # The event id is fixed when the form is shown: submitting twice records the event once.
    return _event_form(
        request,
        {
            "event_id": f"counter-{uuid.uuid4().hex}",
            "resident_code": resident_code,
            "effective_date": services(request).platform.clock.now().date().isoformat(),
        },
        {},
    )


@router.post("/events")
def submit_event(
    request: Request,
    who: Principal = Depends(CLERK),
    event_id: str = Form(""),
    type: str = Form(""),
    resident_code: str = Form(""),
    effective_date: str = Form(""),
    name: str = Form(""),
    date_of_birth: str = Form(""),
    sex: str = Form(""),
    address: str = Form(""),
    planned_date: str = Form(""),
    reason: str = Form(""),
):
    form = dict(
        event_id=event_id,
        type=type,
        resident_code=resident_code,
        effective_date=effective_date,
        name=name,
        date_of_birth=date_of_birth,
        sex=sex,
        address=address,
        planned_date=planned_date,
        reason=reason,
    )
    errors: dict[str, str] = {}
    if type not in EVENT_FIELDS:
        errors["type"] = "form.error.required"
    if not (resident_code.isascii() and resident_code.isdigit() and len(resident_code) == 11):
        errors["resident_code"] = "counter.error.resident_code"
    dates = {}
    for key in ("effective_date", "date_of_birth", "planned_date"):
        value = form[key]
        if value:
            try:
                dates[key] = _date(value)
            except ValueError:
                errors[key] = "form.error.date"
    if "effective_date" not in dates and "effective_date" not in errors:
        errors["effective_date"] = "form.error.required"
    for key in EVENT_FIELDS.get(type, ()):
        if not form[key].strip() and key not in errors:
            errors[key] = "form.error.required"
    if type == "birth" and sex not in ("1", "2", "3"):
        errors["sex"] = "form.error.required"
    if not errors:
        basic4 = None
        if type == "birth" or (type == "move-in" and name.strip()):
            basic4 = (
                Basic4(name.strip(), dates.get("date_of_birth"), Sex(sex), address.strip())
                if sex in ("1", "2", "3") and "date_of_birth" in dates
                else None
            )
        event = ChangeEvent(
            event_id,
            EventType(type),
            resident_code,
            who.municipality_code,
            dates["effective_date"],
            basic4=basic4,
            name=(name.strip() or None) if type in ("name-change", "correction") else None,
            address=(address.strip() or None) if type in ("address-change", "move-in", "correction") else None,
            planned_date=dates.get("planned_date"),
            reason=reason.strip() or None,
        )
        try:
            services(request).registry.submit_as(who, event)
        except MynaError as e:
            errors["_form"] = str(e)
    if errors:
        return _event_form(request, form, errors, 422)
    return _go(f"/ui/counter/residents/{resident_code}", message=type)


@router.get("/residents/{resident_code}")
def resident(request: Request, resident_code: str, who: Principal = Depends(CLERK)):
    sv = services(request)
    try:
        info = sv.registry.get(resident_code, who.municipality_code)
    except NotFound:
        # Unknown, or another municipality's: the same answer (nothing learnt about others' residents).
        return render(request, "error.html", status_code=404, message=i18n.text("counter.error.no_resident", lang_of(request)))
    cards = [{"card_id": c.card_id, "status": c.status, "created_at": c.created_at} for c in sv.card_listings.cards_of(resident_code)]
    apps = [
        {
            "id": a.application_id,
            "status": a.status,
            "received_on": a.received_on,
            "due_on": a.due_on,
            "reason": a.reason,
            "express": a.express,
            "card_id": a.card_id,
        }
        for a in sv.card_listings.applications_of(resident_code)
    ]
    return render(request, "counter_resident.html", info=info, cards=cards, applications=apps, done=request.query_params.get("done"))


# -- applications ------------------------------------------------------------------------


def _application_form(request: Request, form: dict, errors: dict, status_code: int = 200):
    return render(request, "counter_application.html", status_code=status_code, form=form, errors=errors)


@router.get("/applications/new")
def new_application(request: Request, resident_code: str = "", replaces: str = "", who: Principal = Depends(CLERK)):
    form: dict = {
        "resident_code": resident_code,
        "source_ref": f"counter-{uuid.uuid4().hex}",
        "replaces": replaces,
        "reason": "reissue" if replaces else "new",
    }
    if resident_code:
        try:
            info = services(request).registry.get(resident_code, who.municipality_code)
            form |= {"name": info["name"], "date_of_birth": info["date_of_birth"], "sex": info["sex"], "address": info["address"]}
        except NotFound:
            pass
    return _application_form(request, form, {})


@router.post("/applications")
async def submit_application(
    request: Request,
    who: Principal = Depends(CLERK),
    resident_code: str = Form(""),
    name: str = Form(""),
    date_of_birth: str = Form(""),
    sex: str = Form(""),
    address: str = Form(""),
    express: str = Form(""),
    reason: str = Form("new"),
    replaces: str = Form(""),
    source_ref: str = Form(""),
    photo: UploadFile | None = File(None),
):
    form = dict(
        resident_code=resident_code,
        name=name,
        date_of_birth=date_of_birth,
        sex=sex,
        address=address,
        express=express,
        reason=reason,
        replaces=replaces,
        source_ref=source_ref,
    )
    errors: dict[str, str] = {}
    if not (resident_code.isascii() and resident_code.isdigit() and len(resident_code) == 11):
        errors["resident_code"] = "counter.error.resident_code"
    for key in ("name", "address"):
        if not form[key].strip():
            errors[key] = "form.error.required"
    try:
        dob = _date(date_of_birth)
    except ValueError:
        errors["date_of_birth"] = "form.error.date" if date_of_birth else "form.error.required"
    if sex not in ("1", "2", "3"):
        errors["sex"] = "form.error.required"
    data = await photo.read(PHOTO_MAX + 1) if photo is not None and photo.filename else None
    if data is not None and len(data) > PHOTO_MAX:
        errors["photo"] = "counter.error.photo_size"
    if not errors:
        sv = services(request)
        app = ApplicationIn(
            resident_code,
            name.strip(),
            dob,
            sex,
            address.strip(),
            data or None,
            reason if reason in ("new", "reissue", "renewal") else "new",
            express or None,
            replaces or None,
            source_ref or None,
        )
        try:
            if replaces:
                receipt = sv.card_management.reissue(
                    replaces, app, who.actor, channel=COUNTER_CHANNEL, municipality_code=who.municipality_code
                )
            else:
                receipt = sv.applications.submit_as(who, app, COUNTER_CHANNEL)  # the municipality's own residents only
        except MynaError as e:
            errors["_form"] = str(e)
    if errors:
        return _application_form(request, form, errors, 422)
    return render(request, "counter_receipt.html", receipt=receipt)


# -- cards -------------------------------------------------------------------------------


def _note(note: str | None, lang: str) -> str | None:
    if not note:
        return None
    if note in SYSTEM_NOTES:
        return i18n.text(SYSTEM_NOTES[note], lang)
    if note.startswith("replaced by "):
        return f"{i18n.text('counter.note.replaced_by', lang)} {note.removeprefix('replaced by ')}"
    return note


def _jst(iso: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(iso).astimezone(JST) if iso else None


def _card_error(request: Request, e: MynaError):
    """Unknown, another municipality's (the same answer: no card id echoed), or malformed."""
    lang = lang_of(request)
    if isinstance(e, NotFound):
        return render(request, "error.html", status_code=404, message=i18n.text("counter.error.no_card", lang))
    return render(
        request,
        "error.html",
        status_code=status if 400 <= (status := http_status(e)) < 500 else 400,
        message=i18n.text("counter.error.card_id", lang),
        detail=str(e),
    )


def _card_page(
    request: Request, card_id: str, who: Principal, form: dict | None = None, errors: dict | None = None, status_code: int = 200
):
    try:
        card = services(request).card_management.card(card_id, who.municipality_code)
    except MynaError as e:
        return _card_error(request, e)
    lang = lang_of(request)
    card["expires_on"] = _jst(card.get("card_expires_at")).date().isoformat() if card.get("card_expires_at") else None
    for h in card["history"]:
        h["at_jst"], h["note_text"] = _jst(h["at"]), _note(h["note"], lang)
        if h["note"] and (h["from"], h["to"]) in PRODUCTION_NOTES:  # production notes the application, shipping the shipment
            h["note_text"] = f"{i18n.text(PRODUCTION_NOTES[h['from'], h['to']], lang)} {h['note']}"
    return render(
        request,
        "counter_card.html",
        status_code=status_code,
        card=card,
        form=form or {},
        errors=errors or {},
        documents=IDENTITY_DOCUMENTS,
        actions=legal_actions(card["status"]),
        done=request.query_params.get("done"),
        error=request.query_params.get("error"),
    )


@router.get("/cards/{card_id}")
def card(request: Request, card_id: str, who: Principal = Depends(CLERK)):
    return _card_page(request, card_id, who)


@router.get("/cards/{card_id}/pickup-notice.pdf")
def pickup_notice(request: Request, card_id: str, who: Principal = Depends(CLERK)):
    try:
        pdf = services(request).counter.pickup_notice(card_id, who.municipality_code)
    except NotFound as e:
        return _card_error(request, e)
    except MynaError as e:
        return _go(f"/ui/counter/cards/{quote(card_id)}", error=str(e))
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="pickup-{quote(card_id.upper())}.pdf"'}
    )


def _pin_ok(ref: PinRef, pin: str) -> bool:
    try:
        ref.check(pin)
    except InvalidInput:
        return False
    return True


def _has_sign_certificate(request: Request, card_id: str, who: Principal) -> bool:
    """Whether the holder must set a signature PIN too (the domain checks again)."""
    try:
        return bool(services(request).card_management.card(card_id, who.municipality_code)["certificates"]["sign"])
    except MynaError:
        return False  # the handover itself answers (not found, malformed id)


@router.post("/cards/{card_id}/handover")
def hand_over(
    request: Request,
    card_id: str,
    who: Principal = Depends(CLERK),
    identity_document: str = Form(""),
    face_matches_photo: str | None = Form(None),
    pins_entered_by: str = Form(""),
    auth_pin: str = Form(""),
    auth_pin_again: str = Form(""),
    sign_pin: str = Form(""),
    sign_pin_again: str = Form(""),
):
    # PINs are never echoed back into the form.
    form = {"identity_document": identity_document, "face_matches_photo": bool(face_matches_photo), "pins_entered_by": pins_entered_by}
    errors: dict[str, str] = {}
    if identity_document not in IDENTITY_DOCUMENTS:
        errors["identity_document"] = "form.error.required"
    if not face_matches_photo:
        errors["face_matches_photo"] = "counter.error.face"  # R-CARD-6: no handover without the face check
    if pins_entered_by not in ("holder", "clerk", "proxy"):
        errors["pins_entered_by"] = "form.error.required"
    if not _pin_ok(PinRef.AUTH, auth_pin):
        errors["auth_pin"] = "counter.error.auth_pin"
    elif auth_pin != auth_pin_again:
        errors["auth_pin_again"] = "counter.error.pin_again"
    if sign_pin and not _pin_ok(PinRef.SIGN, sign_pin):
        errors["sign_pin"] = "counter.error.sign_pin"
    elif sign_pin and sign_pin != sign_pin_again:
        errors["sign_pin_again"] = "counter.error.pin_again"
    elif not sign_pin and _has_sign_certificate(request, card_id, who):
        errors["sign_pin"] = "counter.error.sign_pin_required"
    if not errors:
        h = Handover(identity_document, bool(face_matches_photo), CardPins(auth_pin, sign_pin or None), pins_entered_by)
        try:
            services(request).counter.hand_over(card_id, h, who.actor, who.municipality_code)
        except MynaError as e:
            errors["_form"] = str(e)
    if errors:
        return _card_page(request, card_id, who, form, errors, 422)
    return _go(f"/ui/counter/cards/{quote(card_id)}", message="handed over")


@router.post("/cards/{card_id}/action")
def card_action(request: Request, card_id: str, action: str = Form(""), note: str = Form(""), who: Principal = Depends(CLERK)):
    service = services(request).card_management
    url = f"/ui/counter/cards/{quote(card_id)}"
    if action not in CARD_ACTIONS:
        return _go(url, error="counter.error.action")
    try:
        if action == "renew":
            service.renew_certificates(card_id, who.actor, who.municipality_code)
        else:
            method = {
                "suspend": service.suspend,
                "lift": service.lift,
                "loss": service.lose,
                "return": service.return_card,
                "abolish": service.abolish,
            }[action]
            method(card_id, who.actor, note.strip() or None, who.municipality_code)
    except NotFound as e:
        return _card_error(request, e)  # unknown, or another municipality's: the same 404
    except MynaError as e:
        return _go(url, error=str(e))
    return _go(url, message=action)
