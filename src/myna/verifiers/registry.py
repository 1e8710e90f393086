"""The verifier registry (SPEC §5): registration by type, platform operators and the
businesses entrusting them, agreements (R-VER-5), suspension and termination.

Every change is an audit event. A suspended verifier is refused until reinstated; a
terminated one for good (its client certificates are revoked and its bearer tokens
disabled with it). A suspended verifier's bearer tokens stay enabled but are refused by
the verifier API (each request re-reads the registry) and left out of the credentials the
validity centres receive (``verifiers.credentials.verifier_credentials``), so reinstatement
restores them without any bookkeeping of which token was withdrawn by which suspension.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from sqlalchemy import select, update

from myna.access.entitlements import VerifierType
from myna.authority.platform import Platform
from myna.errors import Conflict, Forbidden, InvalidInput, NotFound
from myna.store import models as m
from myna.store import models_verifiers as mv
from myna.store.journal import audit

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
TOKEN_LABEL_PREFIX = "verifier:"  # a bearer token bound to a verifier is labelled verifier:CODE


class Status(str, enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # 一時停止: refused until reinstated
    TERMINATED = "terminated"  # 廃止: final


class VerifierSuspended(Forbidden):
    code = "verifier-suspended"


class VerifierTerminated(Forbidden):
    code = "verifier-terminated"


@dataclass(frozen=True)
class VerifierInfo:
    id: int
    code: str
    name: str
    type: VerifierType
    status: Status
    operator_code: str | None
    agreement_ref: str | None
    agreement_at: dt.datetime | None
    registered_at: dt.datetime

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "type": self.type.value,
            "status": self.status.value,
            "operator": self.operator_code,
            "agreement_ref": self.agreement_ref,
            "agreement_at": self.agreement_at.isoformat() if self.agreement_at else None,
            "registered_at": self.registered_at.isoformat(),
        }

    def ensure_active(self) -> None:
        if self.status is Status.SUSPENDED:
            raise VerifierSuspended(f"verifier {self.code} is suspended")
        if self.status is Status.TERMINATED:
            raise VerifierTerminated(f"verifier {self.code} is terminated")


def info(s, row: mv.Verifier) -> VerifierInfo:
    operator = s.get(mv.Verifier, row.operator_id).code if row.operator_id else None
    return VerifierInfo(
        row.id,
        row.code,
        row.name,
        VerifierType(row.type),
        Status(row.status),
        operator,
        row.agreement_ref,
        row.agreement_at,
        row.registered_at,
    )


def _check_code(code: str) -> str:
    if not isinstance(code, str) or not CODE.match(code):
        raise InvalidInput("verifier code must be 1-32 characters of letters, digits and ._- (starting with a letter or digit)")
    return code


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or any(ord(c) < 0x20 for c in name):
        raise InvalidInput("verifier name must be 1-200 printable characters")
    return name


class VerifierRegistry:
    def __init__(self, platform: Platform):
        self.platform = platform

    def register(self, code: str, name: str, vtype: VerifierType | str, actor: str, operator: str | None = None) -> VerifierInfo:
        """Register a verifier. An entrusting business names its platform operator."""
        _check_code(code)
        _check_name(name)
        try:
            vtype = VerifierType(vtype)
        except ValueError:
            raise InvalidInput(f"unknown verifier type {vtype!r}; one of {', '.join(t.value for t in VerifierType)}") from None
        if (vtype is VerifierType.ENTRUSTING_BUSINESS) != (operator is not None):
            raise InvalidInput("an entrusting business, and only it, names its platform operator (--operator CODE)")
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            if s.scalar(select(mv.Verifier.id).where(mv.Verifier.code == code)) is not None:
                raise Conflict(f"verifier code {code} is already registered")
            operator_id = None
            if operator is not None:
                op_row = self._row(s, operator)
                if op_row.type != VerifierType.PLATFORM_OPERATOR.value:
                    raise InvalidInput(f"{operator} is a {op_row.type} verifier, not a platform operator")
                if op_row.status != Status.ACTIVE.value:
                    raise Conflict(f"platform operator {operator} is {op_row.status}")
                operator_id = op_row.id
            row = mv.Verifier(
                code=code,
                name=name,
                type=vtype.value,
                status=Status.ACTIVE.value,
                operator_id=operator_id,
                registered_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            audit(s, now, actor, "verifier.registered", code, type=vtype.value, name=name, operator=operator)
            return info(s, row)

    def get(self, code: str) -> VerifierInfo:
        with self.platform.db.session() as s:
            return info(s, self._row(s, code))

    def by_id(self, verifier_id: int) -> VerifierInfo:
        with self.platform.db.session() as s:
            row = s.get(mv.Verifier, verifier_id)
            if row is None:
                raise NotFound(f"no verifier with id {verifier_id}")
            return info(s, row)

    def list(self, vtype: VerifierType | None = None) -> list[VerifierInfo]:
        with self.platform.db.session() as s:
            q = select(mv.Verifier).order_by(mv.Verifier.code)
            if vtype is not None:
                q = q.where(mv.Verifier.type == vtype.value)
            return [info(s, r) for r in s.scalars(q)]

    def entrusting(self, operator: str) -> list[VerifierInfo]:
        with self.platform.db.session() as s:
            op_row = self._row(s, operator)
            return [
                info(s, r) for r in s.scalars(select(mv.Verifier).where(mv.Verifier.operator_id == op_row.id).order_by(mv.Verifier.code))
            ]

    def record_agreement(self, code: str, reference: str, actor: str) -> VerifierInfo:
        """R-VER-5: the agreement between J-LIS and a specific user-auth verifier."""
        if not isinstance(reference, str) or not reference.strip() or len(reference) > 200:
            raise InvalidInput("agreement reference must be 1-200 characters")
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row = self._row(s, code)
            if row.type != VerifierType.SPECIFIC_USER_AUTH.value:
                raise InvalidInput(f"only a specific user-auth verifier has an agreement; {code} is {row.type} (R-VER-5)")
            if row.status == Status.TERMINATED.value:
                raise Conflict(f"verifier {code} is terminated")
            row.agreement_ref, row.agreement_at, row.updated_at = reference, now, now
            audit(s, now, actor, "verifier.agreement", code, reference=reference)
            return info(s, row)

    def set_status(self, code: str, status: Status | str, actor: str, note: str | None = None) -> VerifierInfo:
        """Suspend, reinstate or terminate. Termination is final: it revokes the verifier's
        client certificates and disables its bearer tokens. A suspension takes the tokens out
        of the validity centres' credentials and the verifier API refuses them, until
        reinstated (see the module docstring). Terminating an operator suspends nothing
        else by itself, but its entrusting businesses can no longer be served through it."""
        try:
            status = Status(status)
        except ValueError:
            raise InvalidInput(f"unknown verifier status {status!r}; one of {', '.join(x.value for x in Status)}") from None
        if note is not None and len(note) > 1000:
            raise InvalidInput("note is longer than 1000 characters")
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row = self._row(s, code)
            if row.status == Status.TERMINATED.value:
                raise Conflict(f"verifier {code} is terminated; that is final")
            if row.status == status.value:
                raise Conflict(f"verifier {code} is already {status.value}")
            before, row.status, row.updated_at = row.status, status.value, now
            if status is Status.TERMINATED:
                row.terminated_at = now
                s.execute(
                    update(mv.VerifierCredential)
                    .where(mv.VerifierCredential.verifier_id == row.id, mv.VerifierCredential.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                s.execute(
                    update(m.ApiToken)
                    .where(m.ApiToken.label == TOKEN_LABEL_PREFIX + row.code, m.ApiToken.disabled.is_(False))
                    .values(disabled=True)
                )
            audit(s, now, actor, f"verifier.{status.value}", code, before=before, note=note)
            return info(s, row)

    @staticmethod
    def _row(s, code: str) -> mv.Verifier:
        row = s.scalar(select(mv.Verifier).where(mv.Verifier.code == code))
        if row is None:
            raise NotFound(f"no registered verifier {code!r}")
        return row
