"""Provisioning a validity centre: one delegated OCSP responder per CA generation.

Run on the platform side (it needs the CAs). It writes a bundle directory that the
centre process reads: ``bundle.json`` plus, per CA, the issuer certificate, the
responder certificate and the responder's private key (EC P-256, mode 0600). Each
responder certificate is recorded like any certificate the CA signs (R-CERT-3).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from myna.authority.issuance import record_service_certificate
from myna.authority.platform import Platform
from myna.errors import InvalidInput
from myna.pki import ocsp, serials
from myna.pki.signer import sign_certificate
from myna.store.journal import audit

CENTRE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class ResponderFiles:
    slug: str
    issuer: Path
    cert: Path
    key: Path


def check_centre_name(name: str) -> str:
    if not CENTRE_NAME.match(name or ""):
        raise InvalidInput(f"centre name {name!r} must be 1-32 characters of a-z, 0-9 and '-', starting with a letter")
    return name


def bundle_dir(platform: Platform, centre: str) -> Path:
    return platform.settings.home / "centres" / check_centre_name(centre)


def load_bundle(directory: Path) -> tuple[str, list[ResponderFiles]]:
    data = json.loads((directory / "bundle.json").read_text())
    return data["centre"], [
        ResponderFiles(r["slug"], directory / r["issuer"], directory / r["cert"], directory / r["key"]) for r in data["responders"]
    ]


def provision(platform: Platform, centre: str, directory: Path | None = None, actor: str = "system") -> Path:
    """Create or renew the responders of ``centre`` (idempotent). Returns the bundle directory."""
    check_centre_name(centre)
    directory = directory or bundle_dir(platform, centre)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = platform.clock.now()
    existing: dict[str, dict] = {}
    if (directory / "bundle.json").exists():
        existing = {r["slug"]: r for r in json.loads((directory / "bundle.json").read_text())["responders"]}
    entries = []
    for row in platform.authority_rows():
        ca = platform.authority_by_id(row.id)
        if ca.cert.not_valid_after_utc <= now:
            continue
        old = existing.get(ca.slug)
        if old is not None and _still_good(directory / old["cert"], ca.cert, now):
            entries.append(old)
            continue
        if not row.active:
            continue  # a retired CA keeps its old responder; it signs nothing new
        entries.append(_new_responder(platform, ca, centre, directory, now, actor))
    (directory / "bundle.json").write_text(json.dumps({"centre": centre, "updated_at": now.isoformat(), "responders": entries}, indent=1))
    return directory


def _still_good(cert_path: Path, issuer: x509.Certificate, now: dt.datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    return cert.issuer == issuer.subject and cert.not_valid_after_utc - now > RENEW_BEFORE


def _new_responder(platform: Platform, ca, centre: str, directory: Path, now: dt.datetime, actor: str) -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    serial = serials.new_serial()
    cert = sign_certificate(ocsp.responder_builder(ca.cert, key.public_key(), centre, ca.slug, serial, now), ca.key)
    stamp = now.strftime("%Y%m%d%H%M%S")
    names = {"issuer": f"{ca.slug}-issuer.crt", "cert": f"{ca.slug}-responder-{stamp}.crt", "key": f"{ca.slug}-responder-{stamp}.key"}
    (directory / names["issuer"]).write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    (directory / names["cert"]).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(directory / names["key"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    request_id = f"responder:{centre}:{ca.slug}:{stamp}"
    with platform.db.session() as s:
        stored = record_service_certificate(s, cert, ca.id, "responder", f"{centre}:{ca.slug}", request_id, now)
        audit(s, now, actor, "responder.provisioned", stored, centre=centre, authority=ca.slug)
    return {"slug": ca.slug, **names}
