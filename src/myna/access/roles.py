"""API roles and the principal a request is attributed to.

Roles: ``operator`` (J-LIS staff: everything), ``municipality`` (one municipality:
issue card certificates for its residents and revoke what it issued), ``auditor``
(read only), ``centre`` (a validity centre replicating status), ``call-centre`` (suspends
lost cards around the clock, R-CARD-7), and the verifier roles that the access-controlled
OCSP mode admits. What a verifier role receives, and which registered verifier types carry
it, is the one table of :mod:`myna.access.entitlements` (R-VER-1); here they are only named.

Pure: no store, no web.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from myna.errors import Forbidden


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


def in_own_name(municipality_code: str, stated: str | None) -> str:
    """The municipality a municipality's token acts for: its own. A request or event that
    names no municipality is its own; one that names another is refused."""
    if stated is not None and stated != municipality_code:
        raise Forbidden(f"this token acts for municipality {municipality_code}, not {stated}")
    return municipality_code
