"""Signing in to the resident portal with a user-authentication certificate.

The portal issues a one-time challenge; the resident's card signs it with the user-auth key
(``myna chip login-challenge --challenge HEX``, or any JPKI middleware: SHA256withRSA,
PKCS#1 v1.5 for cards, ECDSA for phones); the portal checks the signature with the
certificate's public key and that the certificate is a user-auth certificate of this
platform, neither revoked nor expired at this moment. That is what a relying party of the
user-authentication certificate does (利用者証明), so the portal is its own first customer.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import select, update

from myna.authority.platform import Platform
from myna.errors import InvalidInput, Unauthorised
from myna.pki import serials
from myna.pki.kinds import CertKind
from myna.store import models as m
from myna.store.journal import audit
from myna.store.models_operations import PortalChallenge, PortalSession

CHALLENGE_BYTES = 32
CHALLENGE_TTL = dt.timedelta(minutes=5)
SESSION_TTL = dt.timedelta(minutes=30)
LOGIN_KINDS = (CertKind.CARD_AUTH.value, CertKind.MOBILE_AUTH.value)


@dataclass(frozen=True)
class Resident:
    resident_code: str
    serial: str


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def verify_signature(cert: x509.Certificate, signature: bytes, data: bytes) -> bool:
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except InvalidSignature:
        return False
    return True


class PortalLogin:
    def __init__(self, platform: Platform):
        self.platform = platform

    def challenge(self) -> str:
        now = self.platform.clock.now()
        nonce = secrets.token_hex(CHALLENGE_BYTES)
        with self.platform.db.session() as s:
            s.add(PortalChallenge(nonce=nonce, created_at=now, expires_at=now + CHALLENGE_TTL))
            s.commit()
        return nonce

    def sign_in(self, nonce: str, serial: str, signature_b64: str) -> tuple[str, Resident]:
        """A session token for the holder of ``serial``, if the signature over the challenge is
        theirs. Raises InvalidInput for malformed fields and Unauthorised for a refusal."""
        nonce = nonce.strip().lower()
        if len(nonce) != 2 * CHALLENGE_BYTES or any(c not in "0123456789abcdef" for c in nonce):
            raise InvalidInput("the challenge is not one this portal issued")
        wanted = serials.to_store(serials.parse(serial))  # InvalidInput with the reason
        try:
            signature = base64.b64decode(signature_b64.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("the signature must be base64") from None
        if not 1 <= len(signature) <= 1024:
            raise InvalidInput("the signature must be base64")
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            # Spend the challenge first, whatever follows: one attempt per challenge.
            spent = s.execute(
                update(PortalChallenge)
                .where(PortalChallenge.nonce == nonce, PortalChallenge.used_at.is_(None), PortalChallenge.expires_at > now)
                .values(used_at=now)
            ).rowcount
            s.commit()
            if not spent:
                raise Unauthorised("this challenge has expired or was already used: ask for a new one")
            row = s.get(m.Certificate, wanted)
            if row is None or row.kind not in LOGIN_KINDS:
                raise Unauthorised("no user-authentication certificate with that serial number")
            if s.scalar(select(m.Revocation.seq).where(m.Revocation.serial == wanted)) is not None:
                raise Unauthorised("that certificate has been revoked")
            if not row.not_before <= now <= row.not_after:
                raise Unauthorised("that certificate is not within its validity period")
            if row.resident_code is None:
                raise Unauthorised("that certificate has no holder on record")
            if not verify_signature(x509.load_der_x509_certificate(row.der), signature, bytes.fromhex(nonce)):
                raise Unauthorised("the signature does not match the challenge and the certificate")
            token = secrets.token_urlsafe(32)
            s.add(
                PortalSession(
                    token_sha256=_sha(token), resident_code=row.resident_code, serial=wanted, created_at=now, expires_at=now + SESSION_TTL
                )
            )
            audit(s, now, f"resident:{row.resident_code}", "portal.signed-in", wanted)
            s.commit()
            return token, Resident(row.resident_code, wanted)

    def resident(self, token: str | None) -> Resident | None:
        if not token:
            return None
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row = s.get(PortalSession, _sha(token))
            if row is None or row.ended_at is not None or row.expires_at <= now:
                return None
            return Resident(row.resident_code, row.serial)

    def sign_out(self, token: str | None) -> None:
        if not token:
            return
        with self.platform.db.session() as s:
            s.execute(update(PortalSession).where(PortalSession.token_sha256 == _sha(token)).values(ended_at=self.platform.clock.now()))
            s.commit()
