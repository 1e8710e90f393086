"""Sign in, sign out and the screens' home page."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from myna.access.roles import Role
from myna.errors import Unauthorised
from myna.web.deps import services
from myna.web.ui.frame import SESSION_COOKIE, render, safe_next, signed_in

router = APIRouter(prefix="/ui", include_in_schema=False)

# The screens each role may open, in menu order (more are added as screens arrive).
MENU = {
    Role.OPERATOR: ["console"],
    Role.AUDITOR: ["console"],
    Role.MUNICIPALITY: ["counter"],
}
SCREEN_URLS = {"console": "/ui/console", "counter": "/ui/counter"}


@router.get("/")
def home(request: Request):
    who = signed_in(request)
    screens = [(name, SCREEN_URLS[name]) for name in MENU.get(who.role, [])] if who else []
    return render(request, "home.html", screens=screens)


@router.get("/login")
def login_form(request: Request, next: str | None = None):
    return render(request, "login.html", next=safe_next(next), error=None)


@router.post("/login")
def login(request: Request, token: str = Form(""), next: str = Form("/ui/")):
    token = token.strip()
    if not token:
        return render(request, "login.html", status_code=422, next=safe_next(next), error="login.error.empty")
    try:
        services(request).tokens.authenticate(token)
    except Unauthorised:
        return render(request, "login.html", status_code=401, next=safe_next(next), error="login.error.invalid")
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/ui", max_age=8 * 3600)
    return response


@router.post("/logout")
def logout():
    response = RedirectResponse("/ui/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response
