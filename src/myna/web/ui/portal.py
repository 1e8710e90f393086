"""The resident portal: sign in with the card (user-authentication certificate) and see
one's own identity information, certificates and cards."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from myna.errors import InvalidInput, MynaError, NotFound, Unauthorised
from myna.pki import serials
from myna.portal.disclosure import consents, disclosures
from myna.portal.login import Resident
from myna.portal.lost_card import suspend_cards, suspend_lost
from myna.web.deps import services
from myna.web.errors import http_status
from myna.web.ui.frame import render

router = APIRouter(prefix="/ui/portal", include_in_schema=False)
PORTAL_COOKIE = "myna_portal"


class PortalSignInRequired(Exception):
    pass


def current_resident(request: Request) -> Resident:
    who = services(request).portal_login.resident(request.cookies.get(PORTAL_COOKIE))
    if who is None:
        raise PortalSignInRequired()
    return who


def _login_page(request: Request, status_code: int = 200, form: dict | None = None, errors: dict | None = None):
    nonce = services(request).portal_login.challenge()
    return render(request, "portal_login.html", status_code=status_code, nonce=nonce, form=form or {}, errors=errors or {})


@router.get("")
def portal_home(request: Request):
    signed_in = services(request).portal_login.resident(request.cookies.get(PORTAL_COOKIE))
    return render(request, "portal_home.html", resident=signed_in)


@router.get("/login")
def login_form(request: Request):
    return _login_page(request)


@router.post("/login")
def login(request: Request, nonce: str = Form(""), serial: str = Form(""), signature: str = Form("")):
    form = {"serial": serial, "signature": signature}
    errors = {}
    if not serial.strip():
        errors["serial"] = "form.error.required"
    if not signature.strip():
        errors["signature"] = "form.error.required"
    if not errors:
        try:
            token, _ = services(request).portal_login.sign_in(nonce, serial, signature)
        except InvalidInput as e:
            errors["_form"] = str(e)
        except Unauthorised as e:
            errors["_form"] = str(e)
    if errors:
        # A fresh challenge with every failed attempt: the old one is spent.
        return _login_page(
            request, status_code=401 if "_form" in errors and not errors.keys() - {"_form"} else 422, form=form, errors=errors
        )
    response = RedirectResponse("/ui/portal/me", status_code=303)
    response.set_cookie(PORTAL_COOKIE, token, httponly=True, samesite="strict", path="/ui/portal", max_age=30 * 60)
    return response


@router.post("/logout")
def logout(request: Request):
    services(request).portal_login.sign_out(request.cookies.get(PORTAL_COOKIE))
    response = RedirectResponse("/ui/portal", status_code=303)
    response.delete_cookie(PORTAL_COOKIE, path="/ui/portal")
    return response


def _mask(number: str | None) -> str | None:
    """The Individual Number with all but the last four digits hidden on screen."""
    return None if not number else "•" * (len(number) - 4) + number[-4:]


@router.get("/me")
def me(request: Request):
    who = current_resident(request)
    sv = services(request)
    p = sv.platform
    try:
        info = sv.registry.get(who.resident_code, None)
    except NotFound:
        info = None  # certificates issued before the registry knew the person (demo data)
    certificates = [
        {
            "serial": serials.to_display(c.serial),
            "kind": c.kind,
            "status": c.status,
            "not_after": c.not_after,
            "revoked_reason": c.revocation_reason,
            "this_session": serials.to_store(c.serial) == who.serial,
        }
        for c in sv.records.of_resident(who.resident_code)
    ]
    cards = [
        {"card_id": c.card_id, "status": c.status, "created_at": c.created_at}
        for c in sv.card_listings.cards_of(who.resident_code, newest_first=False)
    ]
    return render(
        request,
        "portal_me.html",
        info=info,
        masked_number=_mask(info["number"]) if info else None,
        certificates=certificates,
        cards=cards,
        consents=consents(p, who.resident_code),
        disclosures=disclosures(p, who.resident_code),
        consent_error=request.query_params.get("consent_error"),
        suspend_error=request.query_params.get("suspend_error"),
        consent_done=request.query_params.get("consent"),
        suspended=bool(request.query_params.get("suspended")),
    )


@router.post("/consents")
def change_consent(request: Request, verifier: str = Form(""), action: str = Form("")):
    """Grant or withdraw consent for one verifier to receive the latest basic 4 information
    (R-VER-2): effective at once, checked on the verifier's next request."""
    who = current_resident(request)
    service = services(request).consents
    try:
        if action == "grant":
            service.grant_via_portal(who.resident_code, verifier, f"resident:{who.resident_code}@portal")
        elif action == "withdraw":
            service.withdraw_via_portal(who.resident_code, verifier, f"resident:{who.resident_code}@portal")
        else:
            raise InvalidInput("choose grant or withdraw")
    except MynaError as e:
        return RedirectResponse(f"/ui/portal/me?consent_error={quote(str(e))}#consents", status_code=303)
    return RedirectResponse(f"/ui/portal/me?consent={quote(action)}#consents", status_code=303)


# -- public services: application status, lost card ------------------------------------


@router.get("/status")
def application_status(request: Request, receipt: str = ""):
    result, error = None, None
    if receipt.strip():
        try:
            result = services(request).applications.status(receipt.strip())
        except MynaError as e:
            error = str(e)
    return render(
        request,
        "portal_status.html",
        status_code=404 if error and "no application" in error else 200,
        receipt=receipt,
        result=result,
        error=error,
    )


@router.get("/lost")
def lost_form(request: Request):
    return render(request, "portal_lost.html", form={}, errors={}, suspended=None)


@router.post("/lost")
def report_lost(request: Request, number: str = Form(""), date_of_birth: str = Form(""), name: str = Form(""), address: str = Form("")):
    errors = {}
    for key, value in (("number", number), ("name", name), ("date_of_birth", date_of_birth), ("address", address)):
        if not value.strip():
            errors[key] = "form.error.required"
    suspended = None
    status = 422
    if not errors:
        try:
            # The source the attempt limit counts: the client's address as the server sees it.
            source = request.client.host if request.client else "unknown"
            suspended = suspend_lost(
                services(request).card_management, number, date_of_birth, "resident@portal", name=name, address=address, source=source
            )
        except MynaError as e:
            errors["_form"] = str(e)
            status = 429 if http_status(e) == 429 else 422
    # The number is not echoed back into the page.
    form = {"date_of_birth": date_of_birth, "name": name[:256], "address": address[:256]}
    return render(request, "portal_lost.html", status_code=status if errors else 200, form=form, errors=errors, suspended=suspended)


@router.post("/me/suspend")
def suspend_own(request: Request, card_id: str = Form("")):
    who = current_resident(request)
    try:
        suspend_cards(services(request).card_management, who.resident_code, f"resident:{who.resident_code}@portal", card_id or None)
    except MynaError as e:
        return RedirectResponse(f"/ui/portal/me?suspend_error={quote(str(e))}#cards", status_code=303)
    return RedirectResponse("/ui/portal/me?suspended=1#cards", status_code=303)
