"""What the OpenAPI schema says about errors, and the ``Allow`` header: one mechanism for
every route instead of a ``responses=`` on each decorator.

Every error this server answers has the body ``errors.install`` writes (``ErrorBody``).
Which statuses an operation can answer follows from what the route is made of, so
``document_errors`` derives them from the route itself when the application is built:

- 400: any operation (``NulGuard`` refuses a NUL in the address before routing);
- 401 and 403: the route depends on a role check (``deps.require``) or on a verifier's
  credentials (``verifiers.caller``), marked with ``AUTH_STATUSES``;
- 404: the route has a path parameter naming a resource;
- 422: the route takes any input (``RequestValidationError`` and ``InvalidInput``);
- anything else (409 for conflicts, 404 for a resource named in a body, …) is declared by
  the route with ``responses=raises(Conflict, NotFound)``: the typed errors it can raise.

Schemathesis' ``status_code_conformance`` check (``tests/web/test_schemathesis.py``)
holds the declared sets to what the server answers.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from myna.errors import Forbidden, InvalidInput, MynaError, NotFound, Unauthorised
from myna.web.errors import http_status

AUTH_STATUSES = "_myna_auth_statuses"  # attribute on a dependency: the statuses it answers
AUTH_ERRORS = (http_status(Unauthorised), http_status(Forbidden))  # what a credential check answers: 401, 403

_DESCRIPTIONS = {
    400: "A NUL character in the request's address",
    401: "No token, or not a valid one",
    403: "The caller's role or scope does not allow this",
    404: "No such resource (or not one the caller may see)",
    409: "Conflicts with the resource's state or with an earlier request of the same id",
    413: "The request is too large",
    422: "The input is not valid (the message says which field and why)",
}


class ErrorBody(BaseModel):
    """Every error answer: a stable machine-readable code and a message saying what was wrong."""

    error: str = Field(description="stable code, e.g. invalid-input, not-found, request-id-reused")
    message: str
    details: dict[str, Any] | None = None


def _error_response(status: int) -> dict[str, Any]:
    return {"model": ErrorBody, "description": _DESCRIPTIONS.get(status, "Error")}


def raises(*errors: type[MynaError] | int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the typed errors (or bare statuses) it can answer
    beyond those ``document_errors`` derives."""
    statuses = {e if isinstance(e, int) else http_status(e) for e in errors}
    return {s: _error_response(s) for s in sorted(statuses)}


def retried(model: type[BaseModel] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a 201 that a retry (the same request id) answers with 200 and the
    earlier result."""
    return {200: {"description": "A retry of an earlier request: its result", **({"model": model} if model else {})}}


def binary(media_type: str, description: str, headers: dict[str, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a 200 that is not JSON (PDF, CSV, DER)."""
    answer: dict[str, Any] = {"description": description, "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}
    if headers:
        answer["headers"] = {name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()}
    return {200: answer}


def _dependencies(dependant: Dependant):
    for d in dependant.dependencies:
        yield d
        yield from _dependencies(d)


def derived_statuses(route: APIRoute) -> set[int]:
    dependant = route.dependant
    statuses = {400}
    for d in _dependencies(dependant):
        statuses |= set(getattr(d.call, AUTH_STATUSES, ()))
    flat_path = list(dependant.path_params) + [p for d in _dependencies(dependant) for p in d.path_params]
    flat_inputs = flat_path + list(dependant.query_params) + list(dependant.body_params)
    flat_inputs += [p for d in _dependencies(dependant) for p in (*d.query_params, *d.body_params)]
    if flat_path:
        statuses.add(http_status(NotFound))
    if flat_inputs:
        statuses.add(http_status(InvalidInput))
    return statuses


def routes_of(app: FastAPI):
    """(path, methods, route) of every route, through included routers (FastAPI ≥ 0.16x keeps
    them nested; older versions flatten them into ``app.routes``)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: the routes are flat
        for route in app.routes:
            yield getattr(route, "path", None), getattr(route, "methods", None), route
        return
    for ctx in iter_route_contexts(app.routes):
        yield ctx.path, ctx.methods, ctx.original_route


def document_errors(app: FastAPI) -> None:
    """Add the derived error responses to the schema of every API operation."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}"))
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for path, methods, route in routes_of(app):
            if not isinstance(route, APIRoute) or not route.include_in_schema or path not in schema["paths"]:
                continue
            for method in methods or ():
                operation = schema["paths"][path].get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status in sorted(derived_statuses(route)):
                    answer = responses.setdefault(str(status), {"description": _DESCRIPTIONS.get(status, "Error")})
                    answer["content"] = error  # also replaces FastAPI's own 422 body, which is not ours
                    if status == 422:
                        answer["description"] = _DESCRIPTIONS[422]
        for unused in ("HTTPValidationError", "ValidationError"):
            if f"#/components/schemas/{unused}" not in json.dumps(schema):
                components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


class AllowHeader:
    """ASGI middleware: a 405 lists in ``Allow`` every method of the path, and OPTIONS on a
    path of the API answers 204 with that list.

    Starlette answers a wrong method with the ``Allow`` of the first route whose path
    matched, and FastAPI makes one route per method: ``GET /api/v1/certificates`` has its
    own route beside ``POST``, so a DELETE there was told ``Allow: POST``. And a path that
    is a resource of its own (``/api/v1/residents/events``, POST) was routed, for another
    method, to a template it also matches (``GET /api/v1/residents/{resident_code}``):
    the resource's own methods decide, anything else is 405."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI):
        self.app = app
        self.fastapi_app = fastapi_app
        self._table: list[tuple[re.Pattern[str], int, set[str]]] | None = None

    def _methods(self, scope: Scope) -> list[str]:
        """The methods of the resource the path names: of the matching path templates, the
        most specific (fewest parameters), so ``/card-applications/paper`` is that
        resource and not an application id."""
        if self._table is None:  # built at the first request, when every route is there
            self._table = [(compile_path(p)[0], p.count("{"), set(m)) for p, m, _ in routes_of(self.fastapi_app) if p and m]
        path = scope.get("path", "")
        matching = [(params, methods) for regex, params, methods in self._table if regex.match(path)]
        if not matching:
            return []
        fewest = min(params for params, _ in matching)
        return sorted({m for params, methods in matching if params == fewest for m in methods})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            methods = self._methods(scope)
            if methods and "OPTIONS" not in methods:
                allow = ", ".join([*methods, "OPTIONS"]).encode()
                await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", allow)]})
                await send({"type": "http.response.body", "body": b""})
                return

        methods = self._methods(scope)
        method = scope["method"]
        if methods and method not in methods and not (method == "HEAD" and "GET" in methods):
            body = json.dumps({"error": "method-not-allowed", "message": f"{method} is not a method of this resource"}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"allow", ", ".join([*methods, "OPTIONS"]).encode()),
            ]
            await send({"type": "http.response.start", "status": 405, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_allow(message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = self._methods(scope)
                if methods:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    message = {**message, "headers": [*headers, (b"allow", ", ".join([*methods, "OPTIONS"]).encode())]}
            await send(message)

        await self.app(scope, receive, send_with_allow)
