"""Maps typed errors to HTTP answers. A 500 means a bug, and is logged as one."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from myna import logs
from myna.errors import MynaError

log = logs.get("myna.web")


def install(app: FastAPI) -> None:
    @app.exception_handler(MynaError)
    async def _myna_error(_request: Request, exc: MynaError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            status_code=exc.status,
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

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # The backstop for values the checks let through but the database refuses (a number
        # past a column's range, text PostgreSQL cannot hold). The session rolled back, so
        # nothing was written; the caller sent it, so it is their 422, not our 500.
        # The driver's message may quote the value refused: its class and SQLSTATE say enough.
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        log.warning("value refused by the store", path=request.url.path, error=type(exc.orig).__name__, sqlstate=sqlstate)
        return JSONResponse(
            status_code=422, content={"error": "invalid-input", "message": "a value in the request cannot be stored (out of range or not valid text)"}
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return JSONResponse(status_code=500, content={"error": "internal", "message": "internal error; this is a bug"})
