"""What every screen shares: templates, the language, the signed-in user, redirects.

Screens sign in with the same API tokens as the HTTP API (roles and municipality scoping are
the API's, so a screen can never do more than its token could through the API). The token
is kept in an HttpOnly, SameSite=Strict cookie scoped to /ui: scripts cannot read it and
other sites cannot make the browser send it with a forged form (the screens' CSRF defence).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from myna.access.roles import Principal, Role
from myna.clock import JST
from myna.errors import Unauthorised
from myna.web.deps import services
from myna.web.ui import i18n

SESSION_COOKIE = "myna_session"
LANG_COOKIE = "myna_lang"
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


class SignInRequired(Exception):
    """Raised by a screen's guard; the app turns it into a redirect to the sign-in page."""

    def __init__(self, next_url: str):
        self.next_url = next_url


class ScreenForbidden(Exception):
    def __init__(self, message_key: str = "error.forbidden"):
        self.message_key = message_key


def lang_of(request: Request) -> str:
    return i18n.pick(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def signed_in(request: Request) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return services(request).tokens.authenticate(token)
    except Unauthorised:
        return None


def guard(*roles: Role):
    """Dependency: the signed-in principal with one of ``roles``, else sign-in or 403."""

    def check(request: Request) -> Principal:
        who = signed_in(request)
        if who is None:
            raise SignInRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if who.role not in roles:
            raise ScreenForbidden()
        return who

    check.roles = frozenset(roles)  # compared with myna.access.routes by the access-matrix test
    return check


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    lang = lang_of(request)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": lambda key: i18n.text(key, lang),
            "tv": lambda prefix, value: i18n.text_or(f"{prefix}.{value}", lang, value),
            "known": lambda key: isinstance(key, str) and key in i18n.TEXT,
            "me": signed_in(request),
            "path": request.url.path,
            "jst": JST,
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") in i18n.LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response


def to_sign_in(next_url: str) -> RedirectResponse:
    return RedirectResponse(f"/ui/login?next={quote(next_url, safe='')}", status_code=303)


def safe_next(next_url: str | None) -> str:
    """Only local paths under /ui: the sign-in form must not become an open redirect."""
    if next_url and next_url.startswith("/ui/") and not next_url.startswith("//") and "\\" not in next_url:
        return next_url
    return "/ui/"
