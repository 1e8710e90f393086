"""The key ceremony (鍵生成式): creates the root CA and the four issuing CAs.

Idempotent: it creates only what is missing, so ``myna init`` can run on every start
and after a key compromise creates the next generation of the affected CA. Each run
that creates anything is recorded with a transcript (what was made, key references,
certificate fingerprints) in the ``ceremonies`` table and the audit log.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from myna.authority.issuance import record_service_certificate
from myna.authority.platform import Platform, authority_slug
from myna.pki import profiles, serials
from myna.pki.keys import KeyAlgorithm
from myna.pki.kinds import AuthorityKind
from myna.pki.signer import sign_certificate
from myna.store import models as m
from myna.store.journal import audit


@dataclass(frozen=True)
class CeremonyStep:
    kind: str
    generation: int
    subject: str
    key_backend: str
    key_ref: str
    algorithm: str
    sha256: str


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def run_ceremony(
    platform: Platform,
    operator: str,
    backend: str | None = None,
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA_2048,
    progress=None,
) -> list[CeremonyStep]:
    """Create every missing authority. Returns the steps taken (empty if nothing was missing)."""
    keys = platform.key_backend(backend)
    now = platform.clock.now()
    steps: list[CeremonyStep] = []

    with platform.db.session() as s:
        active = {row.kind: row for row in s.scalars(select(m.Authority).where(m.Authority.active.is_(True)))}
        missing = [k for k in AuthorityKind if k.value not in active]
        if AuthorityKind.ROOT in missing:
            # A new root invalidates every issuing CA under the old one.
            missing = list(AuthorityKind)
        if not missing:
            return []

        def next_generation(kind: AuthorityKind) -> int:
            return (s.scalar(select(func.max(m.Authority.generation)).where(m.Authority.kind == kind.value)) or 0) + 1

        def record(kind: AuthorityKind, generation: int, cert: x509.Certificate, key, parent_id: int | None) -> m.Authority:
            row = m.Authority(
                kind=kind.value,
                generation=generation,
                name=cert.subject.rfc4514_string(),
                cert_der=cert.public_bytes(serialization.Encoding.DER),
                key_backend=keys.name,
                key_ref=key.ref,
                parent_id=parent_id,
                created_at=now,
                active=True,
            )
            s.add(row)
            s.flush()
            steps.append(CeremonyStep(kind.value, generation, row.name, keys.name, key.ref, algorithm.value, fingerprint(cert)))
            if progress:
                progress(kind.value)
            return row

        if AuthorityKind.ROOT in missing:
            for row in active.values():
                row.active = False
            gen = next_generation(AuthorityKind.ROOT)
            name = profiles.authority_name(AuthorityKind.ROOT, gen)
            root_key = keys.generate(f"myna-root-g{gen}", algorithm)
            root_cert = sign_certificate(profiles.root_builder(name, root_key.public_key(), now, serials.new_serial()), root_key)
            root_row = record(AuthorityKind.ROOT, gen, root_cert, root_key, None)
        else:
            root_row = active[AuthorityKind.ROOT.value]
            root_cert = x509.load_der_x509_certificate(root_row.cert_der)
            root_key = platform.key_backend(root_row.key_backend).load(root_row.key_ref)

        for kind in (k for k in missing if k is not AuthorityKind.ROOT):
            gen = next_generation(kind)
            name = profiles.authority_name(kind, gen)
            key = keys.generate(f"myna-{kind.value}-g{gen}", algorithm)
            serial = serials.new_serial()
            builder = profiles.issuing_ca_builder(
                kind,
                name,
                key.public_key(),
                root_cert,
                now,
                serial,
                platform.urls,
                authority_slug(AuthorityKind.ROOT.value, root_row.generation),
            )
            cert = sign_certificate(builder, root_key)
            row = record(kind, gen, cert, key, root_row.id)
            # The root's issuance record of this CA certificate, so the root's CRL can revoke it.
            record_service_certificate(s, cert, root_row.id, "ca", name.rfc4514_string(), f"ceremony:{kind.value}:g{gen}", now)

        transcript = json.dumps([step.__dict__ for step in steps], ensure_ascii=False)
        s.add(
            m.Ceremony(
                purpose="init" if len(steps) == len(AuthorityKind) else "rekey",
                performed_at=now,
                performed_by=operator,
                transcript=transcript,
            )
        )
        audit(s, now, operator, "ceremony", "authorities", steps=[step.__dict__ for step in steps])
    platform.forget_authorities()
    return steps
