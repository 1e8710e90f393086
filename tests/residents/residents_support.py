"""Helpers shared by the resident tests (import as ``residents_support``).

A *holder* is a resident on the register with the four certificates of SPEC §3 issued
through ``IssuanceService`` (EC P-256 holder keys: cheap). What ends up revoked is read
back from the store through ``Records`` (status and recorded reason), never from what
the registry says it did.
"""

from __future__ import annotations

import datetime as dt

from myna_testing import ec_public_pem, issue_request

from myna.authority.issuance import IssuanceService
from myna.authority.records import Records
from myna.pki.basic4 import Basic4, Sex
from myna.residents.events import ChangeEvent, EventType
from myna.residents.registry import Registry
from myna.wiring import build

CHIYODA = "131016"  # 13101 + check digit
SHINJUKU = "131041"
OSAKA_KITA = "271276"
MUNICIPALITIES = {CHIYODA: "Chiyoda", SHINJUKU: "Shinjuku", OSAKA_KITA: "Osaka Kita"}

KINDS = ("card-sign", "card-auth", "mobile-sign", "mobile-auth")
ADULT_DOB = dt.date(1990, 6, 15)


def basic4(name: str = "山田 花子", dob: dt.date = ADULT_DOB, sex: Sex = Sex.FEMALE, address: str = "東京都千代田区千代田1-1") -> Basic4:
    return Basic4(name, dob, sex, address)


def registry(platform) -> Registry:
    """A Registry with the three test municipalities registered."""
    reg = build(platform).registry
    for code, name in MUNICIPALITIES.items():
        reg.ensure_municipality(code, name)
    return reg


def ev(event_id: str, type_: str | EventType, code: str, municipality: str, effective: dt.date, **fields) -> ChangeEvent:
    return ChangeEvent(
        event_id=event_id, type=EventType(type_), resident_code=code, municipality_code=municipality, effective_date=effective, **fields
    )


def register(
    reg: Registry,
    code: str,
    municipality: str = CHIYODA,
    effective: dt.date = dt.date(2026, 1, 5),
    b4: Basic4 | None = None,
    event_id: str | None = None,
):
    """Put ``code`` on the register: a move-in from abroad (a record that did not exist)."""
    b4 = b4 or basic4()
    return reg.submit(
        ev(event_id or f"register-{code}", "move-in", code, municipality, effective, basic4=b4, address=b4.address), actor="test"
    )


def issue(platform, kind: str, code: str, municipality: str = CHIYODA, b4: Basic4 | None = None) -> int:
    """Issue as J-LIS for a resident on the register. The certificate carries the record's
    basic 4 information (R-RA-1); ``b4``, if given, is stated in the request too."""
    over = dict(
        resident_code=code, municipality_code=municipality, date_of_birth=b4.date_of_birth if b4 else None, public_key=ec_public_pem()
    )
    if kind.endswith("sign"):
        over.update(basic4=b4, allow_minor_signature=True)
    return IssuanceService(platform).issue(issue_request(kind, **over), actor="test").serial


def issue_holder(platform, code: str, municipality: str = CHIYODA, kinds=KINDS, b4: Basic4 | None = None) -> dict[str, int]:
    """The holder's certificates, label (the kind) -> serial."""
    return {kind: issue(platform, kind, code, municipality, b4) for kind in kinds}


def states(platform, serials: dict[str, int]) -> dict[str, str]:
    """label -> "valid" | "expired" | the recorded revocation reason."""
    records = Records(platform)
    out = {}
    for label, serial in serials.items():
        rec = records.get(serial)
        out[label] = rec.revocation_reason if rec.status == "revoked" else rec.status
    return out


def all_valid(serials: dict[str, int]) -> dict[str, str]:
    return {label: "valid" for label in serials}


# -- the HTTP API (the ``api`` fixture of conftest.py) ------------------------------------

EVENTS = "/api/v1/residents/events"


def post_event(api, who: str, event_id: str, type_: str, code: str, effective: str, **fields):
    body = {"event_id": event_id, "type": type_, "resident_code": code, "effective_date": effective, **fields}
    return api.post(EVENTS, json=body, headers=api.headers_for(who))


def basic4_json(name: str = "山田 花子", dob: str = "1990-06-15", sex: str = "2", address: str = "東京都千代田区千代田1-1") -> dict:
    return {"name": name, "date_of_birth": dob, "sex": sex, "address": address}
