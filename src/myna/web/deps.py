"""Request-scoped dependencies: the platform, the caller and role checks."""

from __future__ import annotations

from typing import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from myna.access.roles import Principal, Role
from myna.access.tokens import Tokens
from myna.authority.platform import Platform
from myna.errors import Forbidden
from myna.web.openapi import AUTH_STATUSES

_bearer = HTTPBearer(auto_error=False, description="An API token from `myna token create`")


def platform(request: Request) -> Platform:
    return request.app.state.platform


def principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    return Tokens(request.app.state.platform).authenticate(credentials.credentials if credentials else None)


def require(*roles: Role) -> Callable[..., Principal]:
    def check(p: Principal = Depends(principal)) -> Principal:
        if p.role not in roles:
            raise Forbidden(f"role {p.role.value} may not do this; needs one of: {', '.join(r.value for r in roles)}")
        return p

    check.roles = frozenset(roles)  # compared with myna.access.routes by the access-matrix test
    setattr(check, AUTH_STATUSES, (401, 403))
    return check
