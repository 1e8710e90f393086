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
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
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
    from myna.authority.tokens import Role
    from myna.verifiers.credentials import Credentials
    from myna.verifiers.registry import VerifierRegistry

    vtype = {Role.VERIFIER_SIGN: "signature", Role.VERIFIER_AUTH: "user-auth", Role.VERIFIER_BOTH: "signature-and-user-auth"}[Role(role)]
    code = code or f"T{uuid.uuid4().hex[:10].upper()}"
    VerifierRegistry(platform).register(code, f"{code} test verifier", vtype, "test")
    return Credentials(platform).create_token(code, "test")


def legacy_verifier_token(platform, role, label: str) -> str:
    """A verifier-role token row as older versions made them, bound to no (or any) verifier
    by its label alone: such rows may still be in a store, and must give no access."""
    import hashlib
    import secrets

    from myna.store import models as m

    token = "myna_" + secrets.token_urlsafe(32)
    with platform.db.session() as s:
        s.add(m.ApiToken(token_sha256=hashlib.sha256(token.encode()).hexdigest(), role=role.value, municipality_code=None, label=label, created_at=platform.clock.now(), disabled=False))
    return token
