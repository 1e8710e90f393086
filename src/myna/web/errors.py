"""Maps typed errors to HTTP answers. A 500 means a bug, and is logged as one.

The domain's errors carry a stable ``code`` and no transport: ``STATUS`` below is the one
table from an error's class to its HTTP status, read by the handlers here, by the screens
and by ``openapi.raises`` for the schema. A class not in the table answers as its nearest
base class that is (so a new ``Conflict`` subclass is a 409 without an entry)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from myna import logs
from myna.chip.client import CardError
from myna.chip.pcsc import PcscUnavailable
from myna.chip.vpcd import ReaderUnavailable
from myna.errors import Conflict, Forbidden, InvalidInput, MynaError, NotEligible, NotFound, NotInitialised, Unauthorised, Unstorable
from myna.portal.lost_card import TooManyAttempts
from myna.verifiers.provision import NotDisclosed

log = logs.get("myna.web")

STATUS: dict[type[MynaError], int] = {
    MynaError: 400,
    InvalidInput: 422,
    NotEligible: 422,
    NotFound: 404,
    Conflict: 409,
    NotInitialised: 409,
    Unauthorised: 401,
    Forbidden: 403,
    NotDisclosed: 410,  # the holder has no valid certificate of that purpose (R-VER-2..4)
    TooManyAttempts: 429,  # the portal's lost-card report, past its attempt limit
    CardError: 409,  # the card refused a command (wrong PIN, blocked, ...)
    PcscUnavailable: 503,
    ReaderUnavailable: 503,
}


def http_status(error: MynaError | type[MynaError]) -> int:
    """The HTTP status that answers ``error`` (an instance or a class)."""
    cls = error if isinstance(error, type) else type(error)
    for klass in cls.__mro__:
        if klass in STATUS:
            return STATUS[klass]
    raise TypeError(f"{cls.__name__} is not a MynaError")


def install(app: FastAPI) -> None:
    @app.exception_handler(MynaError)
    async def _myna_error(_request: Request, exc: MynaError) -> JSONResponse:
        status = http_status(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(
            status_code=status,
            content={"error": exc.code, "message": exc.message, **({"details": exc.details} if exc.details else {})},
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"), "message": err.get("msg", "invalid")}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "invalid request"
        return JSONResponse(status_code=422, content={"error": "invalid-input", "message": summary, "details": {"fields": problems}})

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        # FastAPI answers a body its JSON parser raised on (not a JSONDecodeError: nesting
        # past the recursion limit, bytes that are not UTF-8) with a bare 400 "error parsing
        # the body"; like any other unreadable body it is the caller's invalid input.
        if exc.status_code == 400 and isinstance(exc.__cause__, (RecursionError, ValueError)):
            why = "is nested too deeply" if isinstance(exc.__cause__, RecursionError) else "is not valid JSON text"
            return JSONResponse(status_code=422, content={"error": "invalid-input", "message": f"the request's body {why}"})
        # What the framework answers itself (an unknown address, a wrong method, a body it
        # cannot parse) in the same body as every other error.
        code = {400: "bad-request", 404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return JSONResponse(status_code=exc.status_code, content={"error": code, "message": str(exc.detail)}, headers=exc.headers)

    @app.exception_handler(Unstorable)
    async def _unstorable(request: Request, exc: Unstorable) -> JSONResponse:
        # The backstop for values the checks let through but the database refuses (a number
        # past a column's range, text PostgreSQL cannot hold). The session rolled back, so
        # nothing was written; the caller sent it, so it is their 422, not our 500.
        # The driver's message may quote the value refused: its class and SQLSTATE say enough.
        log.warning("value refused by the store", path=request.url.path, error=exc.error, sqlstate=exc.sqlstate)
        return JSONResponse(status_code=422, content={"error": exc.code, "message": exc.message})

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return JSONResponse(status_code=500, content={"error": "internal", "message": "internal error; this is a bug"})
