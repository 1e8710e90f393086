"""API credentials and roles.

Roles: ``operator`` (J-LIS staff: everything), ``municipality`` (one municipality:
issue card certificates for its residents and revoke what it issued), ``auditor``
(read only), ``centre`` (a validity centre replicating status), ``call-centre`` (suspends
lost cards around the clock, R-CARD-7), and the verifier roles
that the access-controlled OCSP mode admits. Tokens are random; only their SHA-256 is
stored.

A verifier-role token is always bound to a registered, active verifier whose type gives
that role (label ``verifier:CODE``, made by ``myna verifier token CODE``): a verifier
token bound to nobody would be a credential no registration answers for (R-VER-1).
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from myna.authority.platform import Platform
from myna.errors import InvalidInput, Unauthorised
from myna.numbering.codes import check_municipality_code
from myna.store import models as m
from myna.store.journal import audit


class Role(str, enum.Enum):
    OPERATOR = "operator"
    MUNICIPALITY = "municipality"
    AUDITOR = "auditor"
    CENTRE = "centre"  # a validity centre pulling the status feed
    VERIFIER_SIGN = "verifier-sign"  # 署名検証者: signature-certificate status (R-VER-1)
    VERIFIER_AUTH = "verifier-auth"  # 利用者証明検証者: user-auth status
    VERIFIER_BOTH = "verifier-both"  # registered as both
    CALL_CENTRE = "call-centre"  # 24/7 suspension line for lost cards (R-CARD-7)


@dataclass(frozen=True)
class Principal:
    token_id: int
    role: Role
    label: str
    municipality_code: str | None

    @property
    def actor(self) -> str:
        where = f"@{self.municipality_code}" if self.municipality_code else ""
        return f"{self.role.value}{where}:{self.label}"


VERIFIER_ROLES = frozenset({Role.VERIFIER_SIGN, Role.VERIFIER_AUTH, Role.VERIFIER_BOTH})
# The roles ``myna token create`` makes; verifier tokens come from ``myna verifier token``.
PLAIN_ROLES = tuple(r for r in Role if r not in VERIFIER_ROLES)


def _check_verifier_binding(platform: Platform, role: Role, label: str) -> None:
    # Imported here: the verifier services sit above the authority layer.
    from myna.verifiers.credentials import TOKEN_LABEL_PREFIX, TOKEN_ROLE
    from myna.verifiers.registry import VerifierRegistry

    if not label.startswith(TOKEN_LABEL_PREFIX):
        raise InvalidInput(f"a {role.value} token is made for a registered verifier: `myna verifier token CODE`")
    verifier = VerifierRegistry(platform).get(label.removeprefix(TOKEN_LABEL_PREFIX))  # NotFound if unregistered
    verifier.ensure_active()
    if TOKEN_ROLE.get(verifier.type) is not role:
        raise InvalidInput(f"verifier {verifier.code} is a {verifier.type.value} verifier: its token role is not {role.value}")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, platform: Platform):
        self.platform = platform

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
            _check_verifier_binding(self.platform, role, label)
        token = "myna_" + secrets.token_urlsafe(32)
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            s.add(m.ApiToken(token_sha256=_hash(token), role=role.value, municipality_code=municipality_code, label=label, created_at=now, disabled=False))
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
