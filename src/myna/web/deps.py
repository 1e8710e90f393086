"""Request-scoped dependencies: the services, the platform, the caller and role checks.

The web app holds the process's services (``app.state.services``, built once by the
composition root, :func:`myna.wiring.build`); routers and screens take them from here and
never build one themselves."""

from __future__ import annotations

from typing import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from myna.access.roles import Principal, Role
from myna.authority.platform import Platform
from myna.errors import Forbidden
from myna.web.openapi import AUTH_ERRORS, AUTH_STATUSES
from myna.wiring import Services

_bearer = HTTPBearer(auto_error=False, description="An API token from `myna token create`")


def services(request: Request) -> Services:
    return request.app.state.services


def platform(request: Request) -> Platform:
    return request.app.state.platform


def principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    return services(request).tokens.authenticate(credentials.credentials if credentials else None)


def require(*roles: Role) -> Callable[..., Principal]:
    def check(p: Principal = Depends(principal)) -> Principal:
        if p.role not in roles:
            raise Forbidden(f"role {p.role.value} may not do this; needs one of: {', '.join(r.value for r in roles)}")
        return p

    check.roles = frozenset(roles)  # compared with myna.access.routes by the access-matrix test
    setattr(check, AUTH_STATUSES, AUTH_ERRORS)
    return check
