"""Helpers shared by the tests (import as ``myna_testing``; conftest.py holds the fixtures).

RSA key generation dominates test time, so CA keys come from a per-session pool
(:class:`PooledFileBackend`); the keys are still real RSA-2048 keys in real files.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from myna.pki.keys import KeyAlgorithm
from myna.pki.keystore_file import FileKeyBackend
from myna.wiring import build

T0 = dt.datetime(2026, 4, 1, 3, 0, 0, tzinfo=dt.timezone.utc)

_RSA_POOL: list[rsa.RSAPrivateKey] = []


def pooled_rsa(i: int) -> rsa.RSAPrivateKey:
    while len(_RSA_POOL) <= i:
        _RSA_POOL.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _RSA_POOL[i]


class PooledFileBackend(FileKeyBackend):
    """A file backend whose new keys come from a session-wide pool of RSA keys."""

    def __init__(self, directory: Path):
        super().__init__(directory)
        self._next = 0

    def generate(self, label: str, algorithm: KeyAlgorithm):
        if algorithm is not KeyAlgorithm.RSA_2048:
            return super().generate(label, algorithm)
        key = pooled_rsa(self._next)
        self._next += 1
        self.directory.mkdir(parents=True, exist_ok=True)
        ref = f"{label}-pool{self._next}.pem"
        path = self.directory / ref
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        path.chmod(0o600)
        return self.load(ref)


def ec_public_pem() -> bytes:
    """A fresh holder key, cheap to make: for tests that issue many certificates."""
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def rsa_keypair() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def adult_basic4(**over):
    from myna.pki.basic4 import Basic4, Sex

    fields = dict(name="山田 花子", date_of_birth=dt.date(1990, 6, 15), sex=Sex.FEMALE, address="東京都千代田区千代田1-1")
    fields.update(over)
    return Basic4(**fields)


def issue_request(kind="card-sign", request_id=None, public_key=None, **over):
    """An IssuanceRequest with sensible defaults; ``over`` replaces any field."""
    from myna.authority.issuance import IssuanceRequest
    from myna.pki.kinds import CertKind

    kind = CertKind(kind)
    b4 = adult_basic4() if kind.is_signature else None
    fields = dict(
        request_id=f"req-{uuid.uuid4().hex}" if request_id is None else request_id,
        kind=kind,
        public_key=public_key or ec_public_pem(),
        resident_code="12345678901",
        date_of_birth=dt.date(1990, 6, 15),
        basic4=b4,
        municipality_code="131016",
    )
    fields.update(over)
    return IssuanceRequest(**fields)


DEFAULT_RESIDENT = "12345678901"  # issue_request's resident, at DEFAULT_MUNICIPALITY
DEFAULT_MUNICIPALITY = "131016"


def register_residents(platform, residents) -> None:
    """Put residents on J-LIS's register directly in the store (one transaction, fast for
    thousands): ``residents`` are ``(resident_code, municipality_code, basic4)`` or
    ``(resident_code, municipality_code, basic4, status)``. Issuance reads the basic 4
    information from here (R-RA-1) and refuses anyone not on it (R-CERT-4). A resident
    already on the register is left as it is."""
    from myna.numbering.individual_number import NumberGenerator
    from myna.numbering.keyfile import load_or_create
    from myna.store import models as m

    numbers = NumberGenerator(load_or_create(platform.settings.home))
    now = platform.clock.now()
    with platform.db.session() as s:
        known = set()
        for entry in residents:
            code, municipality, b4 = entry[:3]
            status = entry[3] if len(entry) > 3 else "active"
            if municipality not in known and s.get(m.Municipality, municipality) is None:
                s.add(m.Municipality(code=municipality, name=f"municipality {municipality}", registered_at=now))
                s.flush()
            known.add(municipality)
            if s.get(m.ResidentRecord, code) is not None:
                continue
            number = numbers.number_for(code, 0)
            s.add(m.IssuedNumber(number=number, resident_code=code, generation=0, issued_at=now))
            s.add(
                m.ResidentRecord(
                    resident_code=code,
                    number=number,
                    municipality_code=municipality,
                    name=b4.name,
                    name_alt=b4.name_alt,
                    date_of_birth=b4.date_of_birth,
                    sex=b4.sex.value,
                    address=b4.address,
                    address_alt=b4.address_alt,
                    status=status,
                    ua_lapsed=False,
                    version=1,
                    updated_at=now,
                )
            )


def register_resident(
    platform, resident_code=DEFAULT_RESIDENT, municipality_code=DEFAULT_MUNICIPALITY, basic4=None, status="active", **over
):
    """One resident on the register (``basic4`` defaults to :func:`adult_basic4` with ``over``)."""
    b4 = basic4 if basic4 is not None else adult_basic4(**over)
    register_residents(platform, [(resident_code, municipality_code, b4, status)])
    return b4


def register_for(platform, *reqs) -> None:
    """Register the residents of these issuance requests as the requests describe them
    (their basic 4 information, or an adult of their date of birth for user-auth kinds),
    so that the register agrees with what they state."""
    entries = []
    for req in reqs:
        b4 = req.basic4
        if b4 is None:
            b4 = adult_basic4(**({"date_of_birth": req.date_of_birth} if req.date_of_birth else {}))
        entries.append((req.resident_code, req.municipality_code or DEFAULT_MUNICIPALITY, b4))
    register_residents(platform, entries)


def issue_registered(platform, req=None, actor="test", acting_for=None, **over):
    """Register the request's resident (:func:`register_for`), then issue it."""
    from myna.authority.issuance import IssuanceService

    req = req if req is not None else issue_request(**over)
    register_for(platform, req)
    return IssuanceService(platform).issue(req, actor, acting_for=acting_for)


def issue_many_registered(platform, reqs, actor="test", acting_for=None):
    """:func:`issue_registered` for a batch (one ``issue_many``)."""
    from myna.authority.issuance import IssuanceService

    register_for(platform, *reqs)
    return IssuanceService(platform).issue_many(reqs, actor, acting_for=acting_for)


def table_counts(platform) -> dict[str, int]:
    """Row counts of every table: to show that a refused request changed nothing."""
    from sqlalchemy import func, select

    from myna.store.models import Base

    with platform.db.session() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


SOFTHSM_SO_PIN = "87654321"
SOFTHSM_USER_PIN = "12345678"


@dataclass(frozen=True)
class SoftHsm:
    """A fresh SoftHSM2 token for one test module (fixture ``softhsm`` in conftest.py)."""

    module: str
    label: str
    pin: str

    def backend(self):
        from myna.pki.keystore_pkcs11 import Pkcs11KeyBackend

        return Pkcs11KeyBackend(self.module, self.label, self.pin)


def require_tool(name: str, hint: str = "") -> str:
    """The path of a command the test needs. Missing: skip locally, but fail under CI
    (CI=true), where scripts/lib.sh installs every tool and a skip would hide a gap."""
    import os
    import shutil

    import pytest

    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} not on PATH" + (f" ({hint})" if hint else "")
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def verifier_token(platform, role, code: str | None = None) -> str:
    """A verifier-role token, bound (as every one must be, R-VER-1) to a newly registered
    verifier whose type gives ``role``."""
    from myna.access.roles import Role
    from myna.verifiers.registry import VerifierRegistry

    vtype = {Role.VERIFIER_SIGN: "signature", Role.VERIFIER_AUTH: "user-auth", Role.VERIFIER_BOTH: "signature-and-user-auth"}[Role(role)]
    code = code or f"T{uuid.uuid4().hex[:10].upper()}"
    VerifierRegistry(platform).register(code, f"{code} test verifier", vtype, "test")
    return build(platform).credentials.create_token(code, "test")


def legacy_verifier_token(platform, role, label: str) -> str:
    """A verifier-role token row as older versions made them, bound to no (or any) verifier
    by its label alone: such rows may still be in a store, and must give no access."""
    import hashlib
    import secrets

    from myna.store import models as m

    token = "myna_" + secrets.token_urlsafe(32)
    with platform.db.session() as s:
        s.add(
            m.ApiToken(
                token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                role=role.value,
                municipality_code=None,
                label=label,
                created_at=platform.clock.now(),
                disabled=False,
            )
        )
    return token
