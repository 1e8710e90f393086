"""The screens (server-rendered HTML, Japanese and English): sign-in and the operations
console; the counter terminal and the resident portal join them here."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from myna.web.ui import console, counter, portal, session
from myna.web.ui.frame import ScreenForbidden, SignInRequired, lang_of, render, to_sign_in
from myna.web.ui.i18n import text

STATIC = Path(__file__).resolve().parent.parent / "static"


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(session.router)
    app.include_router(console.router)
    app.include_router(counter.router)
    app.include_router(portal.router)

    @app.exception_handler(portal.PortalSignInRequired)
    async def _portal_sign_in(request: Request, exc: portal.PortalSignInRequired):
        return RedirectResponse("/ui/portal/login", status_code=303)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired):
        return to_sign_in(exc.next_url)

    @app.exception_handler(ScreenForbidden)
    async def _forbidden(request: Request, exc: ScreenForbidden):
        return render(request, "error.html", status_code=403, message=text(exc.message_key, lang_of(request)))
