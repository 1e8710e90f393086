"""Synthetic demo data: residents holding a card signature and a card user-auth
certificate each, and API tokens to try the API with. Idempotent: running it again
issues nothing twice (request ids are derived from the resident)."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from myna.authority.issuance import IssuanceRequest, IssuanceService
from myna.authority.platform import Platform
from myna.authority.tokens import Role, Tokens
from myna.numbering.codes import municipality_check_digit
from myna.pki.basic4 import Basic4, Sex
from myna.pki.kinds import CertKind
from myna.residents.events import ChangeEvent, EventType
from myna.residents.registry import Registry
from myna.store import models as m

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


def _new_key() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def run(platform: Platform, n: int, progress=None) -> dict:
    """Issue the demo residents' certificates; returns counts. Holder private keys are
    written to MYNA_HOME/demo/keys/<serial>.pem so developers can sign with them."""
    keys_dir = platform.settings.home / "demo" / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    service = IssuanceService(platform)
    registry = Registry(platform)
    for (code, _, name), full in zip(MUNICIPALITIES, municipality_codes()):
        registry.ensure_municipality(full, name)
    created = existing = 0
    for person in residents(n):
        # On the register first (a move-in from abroad; idempotent by event id), so the
        # certificates belong to a resident whose changes revoke them.
        b4 = person.basic4
        registry.submit(
            ChangeEvent(f"demo-register-{person.resident_code}", EventType.MOVE_IN, person.resident_code, person.municipality_code, dt.date(2020, 4, 1), basic4=b4, address=b4.address),
            actor="demo",
        )
        for kind in (CertKind.CARD_SIGN, CertKind.CARD_AUTH):
            request_id = f"demo:{person.resident_code}:{kind.value}"
            with platform.db.session() as s:
                if s.scalar(select(m.Certificate.serial).where(m.Certificate.request_id == request_id)):
                    existing += 1
                    if progress:
                        progress()
                    continue
            private, public = _new_key()
            issued = service.issue(
                IssuanceRequest(
                    request_id=request_id,
                    kind=kind,
                    public_key=public,
                    resident_code=person.resident_code,
                    date_of_birth=person.basic4.date_of_birth,
                    basic4=person.basic4 if kind.is_signature else None,
                    municipality_code=person.municipality_code,
                ),
                actor="demo",
            )
            _write_private(keys_dir / f"{issued.certificate.serial_number:X}.pem", private)
            created += 1
            if progress:
                progress()
    tokens = demo_tokens(platform)
    return {"created": created, "existing": existing, "tokens_file": str(tokens)}


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def demo_tokens(platform: Platform) -> Path:
    """API tokens for trying the API: one operator, one per demo municipality."""
    path = platform.settings.home / "demo" / "tokens.json"
    if path.exists():
        return path
    t = Tokens(platform)
    tokens = {"operator": t.create(Role.OPERATOR, "demo operator", actor="demo")}
    for code in municipality_codes():
        tokens[f"municipality:{code}"] = t.create(Role.MUNICIPALITY, f"demo clerk {code}", code, actor="demo")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tokens, indent=2))
    path.chmod(0o600)
    return path
