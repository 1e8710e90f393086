"""Synthetic demo data: residents holding a virtual My Number Card (myna.chip) with a
card signature and a card user-auth certificate each, and API tokens to try the API
with. Idempotent: running it again issues nothing twice (request ids and card ids are
derived from the resident)."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from pathlib import Path

from myna.access.roles import Role
from myna.authority.platform import Platform
from myna.chip.demo import ensure_demo_card
from myna.numbering.codes import municipality_check_digit
from myna.pki.basic4 import Basic4, Sex
from myna.residents.events import ChangeEvent, EventType
from myna.wiring import Services, build

SURNAMES = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"]
GIVEN = [("花子", Sex.FEMALE), ("太郎", Sex.MALE), ("陽菜", Sex.FEMALE), ("蓮", Sex.MALE), ("結衣", Sex.FEMALE), ("大翔", Sex.MALE)]
MUNICIPALITIES = [
    ("13101", "東京都千代田区千代田", "Chiyoda"),
    ("13104", "東京都新宿区西新宿", "Shinjuku"),
    ("27127", "大阪府大阪市北区梅田", "Osaka Kita"),
    ("01101", "北海道札幌市中央区北一条西", "Sapporo Chuo"),
]


def municipality_codes() -> list[str]:
    return [c + str(municipality_check_digit(c)) for c, _, _ in MUNICIPALITIES]


@dataclass(frozen=True)
class DemoResident:
    resident_code: str
    municipality_code: str
    basic4: Basic4


def residents(n: int, seed: int = 20261121) -> list[DemoResident]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        code, town, _ = MUNICIPALITIES[i % len(MUNICIPALITIES)]
        given, sex = rnd.choice(GIVEN)
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rnd.randrange(0, 365 * 55))
        out.append(
            DemoResident(
                resident_code=f"{rnd.randrange(10**10, 10**11):011d}",
                municipality_code=code + str(municipality_check_digit(code)),
                basic4=Basic4(f"{rnd.choice(SURNAMES)} {given}", born, sex, f"{town}{rnd.randint(1, 9)}-{rnd.randint(1, 30)}"),
            )
        )
    return out


def run(platform: Platform, n: int, progress=None, services: Services | None = None) -> dict:
    """Issue the demo residents' cards and certificates; returns counts. Each resident
    holds a virtual card (myna.chip) whose private keys never leave it: sign with
    `myna chip insert` and PC/SC tools, or in Python with ``ChipService.open_card``."""
    services = services or build(platform)
    cards, registry = services.chips, services.registry
    for (_, _, name), full in zip(MUNICIPALITIES, municipality_codes()):
        registry.ensure_municipality(full, name)
    created = existing = 0
    for person in residents(n):
        # On the register first (a move-in from abroad; idempotent by event id), so the
        # certificates belong to a resident whose changes revoke them.
        b4 = person.basic4
        registry.submit(
            ChangeEvent(
                f"demo-register-{person.resident_code}",
                EventType.MOVE_IN,
                person.resident_code,
                person.municipality_code,
                dt.date(2020, 4, 1),
                basic4=b4,
                address=b4.address,
            ),
            actor="demo",
        )
        # The resident's virtual card: keys made on the card, certificates issued for them.
        card = ensure_demo_card(cards, person.resident_code)
        created += card.created
        existing += card.existing
        if progress:
            progress()
            progress()
    tokens = demo_tokens(platform, services)
    return {"created": created, "existing": existing, "tokens_file": str(tokens)}


def demo_tokens(platform: Platform, services: Services | None = None) -> Path:
    """API tokens for trying the API and the screens: an operator, an auditor, the call
    centre, and a clerk per demo municipality."""
    path = platform.settings.home / "demo" / "tokens.json"
    if path.exists():
        return path
    t = (services or build(platform)).tokens
    tokens = {
        "operator": t.create(Role.OPERATOR, "demo operator", actor="demo"),
        "auditor": t.create(Role.AUDITOR, "demo auditor", actor="demo"),
        "call-centre": t.create(Role.CALL_CENTRE, "demo call centre", actor="demo"),
    }
    for code in municipality_codes():
        tokens[f"municipality:{code}"] = t.create(Role.MUNICIPALITY, f"demo clerk {code}", code, actor="demo")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tokens, indent=2))
    path.chmod(0o600)
    return path
