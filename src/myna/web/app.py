"""The FastAPI application: one router per actor, the public distribution points, a
status page, and the CRL schedule running beside the server."""

from __future__ import annotations

import asyncio
import contextlib
import html

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

from myna import __version__, logs, wiring
from myna.authority.platform import Platform
from myna.web import deps, errors, openapi, ui
from myna.web.guard import NulGuard
from myna.web.limits import BodyLimit
from myna.web.routers import authorities, card_management, certificates, feed, operations, residents
from myna.web.routers import mobile as mobile_router
from myna.web.routers import verifiers as verifiers_router

log = logs.get("myna.web")
SCHEDULE_TICK_S = 30


async def schedule_loop(sv: wiring.Services, tick: float = SCHEDULE_TICK_S) -> None:
    """The platform's periodic jobs: CRLs and delta CRLs when due (R-REV-9), and the
    30-day move-in rule for user-auth certificates (R-REV-3)."""
    service = sv.crls
    registry = sv.registry
    while True:
        try:
            for ca, delta in await asyncio.to_thread(service.due):
                done = await asyncio.to_thread(service.publish_for, ca, delta, "schedule")
                log.info("crl published", authority=done.authority, number=done.number, delta=done.is_delta, entries=done.entries)
            for lapsed in await asyncio.to_thread(registry.run_due):
                log.info(
                    "move-in deadline passed", resident_ref=lapsed["resident_ref"], revoked=len(lapsed["revoked"])
                )  # no resident code in logs
        except Exception:  # keep the schedule alive; the error is logged for operators
            log.exception("scheduled job failed")
        await asyncio.sleep(tick)


def create_app(p: Platform, schedule: bool = True, background: list | None = None, services: wiring.Services | None = None) -> FastAPI:
    """``background``: callables told "startup" and "shutdown" (e.g. a centre's sync loop).
    ``services``: the process's services, when the caller built them already (they must be
    over ``p``); else they are built here, once, by the composition root."""
    sv = services if services is not None else wiring.build(p)
    if sv.platform is not p:
        raise ValueError("the services given are over another platform")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(schedule_loop(sv)) if schedule else None
        for hook in background or []:
            hook("startup")
        yield
        for hook in background or []:
            hook("shutdown")
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="myna",
        version=__version__,
        description="The Individual Number Card platform: JPKI certification authorities, revocation and CRLs.",
        lifespan=lifespan,
    )
    app.state.platform = p
    app.state.services = sv
    errors.install(app)
    app.add_middleware(NulGuard)
    app.add_middleware(openapi.AllowHeader, fastapi_app=app)
    app.add_middleware(BodyLimit, max_body_bytes=p.settings.max_body_bytes)  # added last: outermost, before NulGuard reads a body
    app.include_router(certificates.router)
    app.include_router(authorities.api)
    app.include_router(authorities.public)
    app.include_router(feed.router)
    app.include_router(residents.router)
    app.include_router(card_management.router)
    app.include_router(verifiers_router.router)
    app.include_router(mobile_router.router)
    app.include_router(operations.router)
    ui.install(app)

    @app.get("/healthz", tags=["operations"])
    def healthz(s: wiring.Services = Depends(deps.services)) -> dict:
        s.platform.db.ping()
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(s: wiring.Services = Depends(deps.services)) -> str:
        return _home(s)

    openapi.document_errors(app)
    return app


def _home(sv: wiring.Services) -> str:
    tally = sv.records.kind_counts()
    counts, revoked = tally.issued, tally.revoked
    rows = "".join(
        f"<tr><td>{html.escape(a.slug)}</td><td>{html.escape(a.subject)}</td><td>{'active' if a.active else 'retired'}</td>"
        f"<td>{counts.get(a.kind, 0) if a.kind != 'root' else counts.get('ca', 0)}</td>"
        f"<td>{revoked.get(a.kind, 0) if a.kind != 'root' else revoked.get('ca', 0)}</td>"
        f"<td><a href='/ca/{html.escape(a.slug)}.crt'>certificate</a> · <a href='/crl/{html.escape(a.slug)}.crl'>CRL</a> · "
        f"<a href='/crl/{html.escape(a.slug)}-delta.crl'>delta</a></td></tr>"
        for a in authorities.authorities_out(sv.platform)
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>myna</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}</style></head><body>
<h1>myna <small>公的個人認証サービス</small></h1>
<p>Screens: <a href="/ui/">counter terminal, resident portal, operations console</a>.
JPKI certification authorities of this platform. API: <a href="/docs">/docs</a> (OpenAPI: <a href="/openapi.json">/openapi.json</a>).
Public notices: <a href="/notices">/notices</a>.</p>
<table><thead><tr><th>CA</th><th>subject</th><th>state</th><th>issued</th><th>revoked</th><th>distribution</th></tr></thead>
<tbody>{rows or "<tr><td colspan=6>No CA yet: run <code>myna init</code>.</td></tr>"}</tbody></table>
</body></html>"""
