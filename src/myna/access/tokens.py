"""API tokens: random bearer tokens of a role; only their SHA-256 is stored.

A verifier-role token is always bound to a registered, active verifier whose type gives
that role (label ``verifier:CODE``, made by ``myna verifier token CODE``): a verifier
token bound to nobody would be a credential no registration answers for (R-VER-1). That
check needs the verifier registry, which sits above this package, so it comes in as the
``verifier_binding`` hook (``myna.verifiers.credentials.check_token_binding``, wired by
``myna.wiring``); without the hook no verifier-role token is made at all.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Callable, Protocol

from sqlalchemy import select

from myna.access.entitlements import VERIFIER_ROLES
from myna.access.roles import Principal, Role
from myna.clock import Clock
from myna.errors import InvalidInput, Unauthorised
from myna.numbering.codes import check_municipality_code
from myna.store import models as m
from myna.store.db import Database
from myna.store.journal import audit

# The roles ``myna token create`` makes; verifier tokens come from ``myna verifier token``.
PLAIN_ROLES = tuple(r for r in Role if r not in VERIFIER_ROLES)

# Raises (InvalidInput, NotFound, ...) unless ``label`` binds a token of ``role`` to a
# registered, active verifier whose type gives that role.
VerifierBinding = Callable[[Role, str], None]


class _Platform(Protocol):
    """What the tokens need of the platform: its store and its clock."""

    db: Database
    clock: Clock


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _no_binding(role: Role, label: str) -> None:
    raise InvalidInput(f"a {role.value} token is made for a registered verifier: `myna verifier token CODE`")


class Tokens:
    def __init__(self, platform: _Platform, verifier_binding: VerifierBinding | None = None):
        self.platform = platform
        self.verifier_binding = verifier_binding or _no_binding

    def create(self, role: Role, label: str, municipality_code: str | None = None, actor: str = "cli") -> str:
        if role is Role.MUNICIPALITY:
            if municipality_code is None:
                raise InvalidInput("a municipality token needs --municipality CODE")
            check_municipality_code(municipality_code)
        elif municipality_code is not None:
            raise InvalidInput(f"a {role.value} token has no municipality")
        if not label or len(label) > 200:
            raise InvalidInput("label must be 1-200 characters")
        if role in VERIFIER_ROLES:
            self.verifier_binding(role, label)
        token = "myna_" + secrets.token_urlsafe(32)
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            s.add(
                m.ApiToken(
                    token_sha256=_hash(token),
                    role=role.value,
                    municipality_code=municipality_code,
                    label=label,
                    created_at=now,
                    disabled=False,
                )
            )
            audit(s, now, actor, "token.created", label, role=role.value, municipality=municipality_code)
        return token

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorised("missing bearer token: send 'Authorization: Bearer <token>'")
        with self.platform.db.session() as s:
            row = s.scalar(select(m.ApiToken).where(m.ApiToken.token_sha256 == _hash(token)))
        if row is None or row.disabled:
            raise Unauthorised("unknown or disabled token")
        return Principal(row.id, Role(row.role), row.label, row.municipality_code)
