"""Verifier credentials: TLS client certificates from the myna verifier CA (mutual TLS),
and bearer tokens bound to a registered verifier (for tests, the demo and tools).

The verifier CA is separate from the JPKI hierarchy: it certifies organisations for
transport authentication, so trusting it for TLS never makes a resident's certificate a
TLS credential, and the other way round. A client certificate identifies its verifier by
its exact DER (SHA-256 fingerprint) in ``verifier_credentials``: a certificate the CA
signed but that is not recorded, or whose record is revoked, is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select

from myna.access.entitlements import TOKEN_ROLE, VerifierType
from myna.access.roles import Principal, Role
from myna.access.tokens import Tokens
from myna.authority.platform import Platform
from myna.errors import Conflict, InvalidInput, NotFound, Unauthorised
from myna.pki import serials
from myna.pki.holder_keys import parse_public_key
from myna.pki.keys import KeyAlgorithm, SigningKey
from myna.pki.signer import sign_certificate
from myna.store import models as m
from myna.store import models_verifiers as mv
from myna.store.journal import audit
from myna.verifiers.registry import TOKEN_LABEL_PREFIX, Status, VerifierInfo, VerifierRegistry, info

CA_DAYS = 3650
CLIENT_DAYS = 825  # client certificates are renewed well before the CA


@dataclass(frozen=True)
class Caller:
    """The verifier a request is attributed to, and how it proved it."""

    verifier: VerifierInfo
    via: str  # "tls" or "token"
    credential: str  # client certificate serial, or token id

    @property
    def actor(self) -> str:
        return f"verifier:{self.verifier.code}({self.via}:{self.credential})"


@dataclass(frozen=True)
class IssuedCredential:
    serial: str
    certificate: x509.Certificate

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


class VerifierCa:
    def __init__(self, platform: Platform, *, verifiers: VerifierRegistry):
        self.platform = platform
        self.verifiers = verifiers  # a client certificate only for a registered, active verifier

    def ensure(self, actor: str = "system") -> tuple[x509.Certificate, SigningKey]:
        """The verifier CA, created (key in the platform's key backend) on first use."""
        with self.platform.db.session() as s:
            row = s.scalar(select(mv.VerifierCa).order_by(mv.VerifierCa.id.desc()))
            if row is not None:
                return x509.load_der_x509_certificate(row.cert_der), self.platform.key_backend(row.key_backend).load(row.key_ref)
        backend = self.platform.key_backend()
        now = self.platform.clock.now()
        key = backend.generate("verifier-ca", KeyAlgorithm.RSA_2048)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "myna"),
                x509.NameAttribute(NameOID.COMMON_NAME, "myna Verifier Client CA"),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(serials.new_serial())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(ski, critical=False)
        )
        cert = sign_certificate(builder, key)
        with self.platform.db.session() as s:
            if s.scalar(select(mv.VerifierCa.id)) is not None:  # a concurrent first use won
                return self.ensure(actor)
            s.add(
                mv.VerifierCa(
                    cert_der=cert.public_bytes(serialization.Encoding.DER), key_backend=backend.name, key_ref=key.ref, created_at=now
                )
            )
            audit(s, now, actor, "verifier-ca.created", cert.subject.rfc4514_string(), key_backend=backend.name)
        return cert, key

    def certificate_pem(self) -> bytes:
        return self.ensure()[0].public_bytes(serialization.Encoding.PEM)

    def _leaf(self, subject: x509.Name, public_key, days: int, eku, san: x509.SubjectAlternativeName | None = None) -> x509.Certificate:
        ca, key = self.ensure()
        now = self.platform.clock.now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca.subject)
            .public_key(public_key)
            .serial_number(serials.new_serial())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(min(now + dt.timedelta(days=days), ca.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False)
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        return sign_certificate(builder, key)

    def issue_client_certificate(self, code: str, public_key: bytes | str, actor: str) -> IssuedCredential:
        """A TLS client certificate for a registered, active verifier (CN = its code)."""
        key = parse_public_key(public_key)
        verifier = self.verifiers.get(code)
        verifier.ensure_active()
        if verifier.type is VerifierType.ENTRUSTING_BUSINESS:
            raise InvalidInput("an entrusting business connects through its platform operator and gets no client certificate")
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, verifier.name[:64]),
                x509.NameAttribute(NameOID.COMMON_NAME, verifier.code),
            ]
        )
        cert = self._leaf(subject, key, CLIENT_DAYS, ExtendedKeyUsageOID.CLIENT_AUTH)
        der = cert.public_bytes(serialization.Encoding.DER)
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            s.add(
                mv.VerifierCredential(
                    serial=serials.to_store(cert.serial_number),
                    verifier_id=verifier.id,
                    fingerprint=fingerprint(der),
                    issued_at=now,
                    not_after=cert.not_valid_after_utc,
                    der=der,
                )
            )
            audit(s, now, actor, "verifier.credential-issued", verifier.code, serial=serials.to_display(cert.serial_number))
        return IssuedCredential(serials.to_display(cert.serial_number), cert)

    def revoke_client_certificate(self, serial: int, actor: str) -> None:
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row = s.get(mv.VerifierCredential, serials.to_store(serial))
            if row is None:
                raise NotFound(f"no verifier client certificate {serials.to_display(serial)}")
            if row.revoked_at is not None:
                raise Conflict(f"client certificate {serials.to_display(serial)} was already revoked at {row.revoked_at.isoformat()}")
            row.revoked_at = now
            audit(s, now, actor, "verifier.credential-revoked", serials.to_display(serial))

    def issue_server_certificate(self, hosts: list[str], public_key) -> x509.Certificate:
        """The TLS server certificate of the verifier endpoint (clients trust the same CA)."""
        names: list[x509.GeneralName] = []
        for h in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                names.append(x509.DNSName(h))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
        return self._leaf(subject, public_key, 397, ExtendedKeyUsageOID.SERVER_AUTH, x509.SubjectAlternativeName(names))


class Credentials:
    """Turns what a request presented into the verifier it is attributed to."""

    def __init__(self, platform: Platform, *, verifiers: VerifierRegistry, tokens: Tokens):
        self.platform = platform
        self.verifiers = verifiers
        self.tokens = tokens

    def by_client_certificate(self, der: bytes) -> Caller:
        """The TLS layer already verified the chain to the verifier CA; here the exact
        certificate must be one J-LIS issued to a verifier, unrevoked and unexpired."""
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            row = s.scalar(select(mv.VerifierCredential).where(mv.VerifierCredential.fingerprint == fingerprint(der)))
            if row is None:
                raise Unauthorised("the client certificate is not a registered verifier credential")
            if row.revoked_at is not None:
                raise Unauthorised("the client certificate was revoked")
            if now > row.not_after:
                raise Unauthorised("the client certificate has expired")
            verifier = info(s, s.get(mv.Verifier, row.verifier_id))
        verifier.ensure_active()
        return Caller(verifier, "tls", serials.to_display(int(row.serial, 16)))

    def by_token(self, principal: Principal) -> Caller:
        if not principal.label.startswith(TOKEN_LABEL_PREFIX) or principal.role not in TOKEN_ROLE.values():
            raise Unauthorised("this token does not belong to a registered verifier (create one with `myna verifier token CODE`)")
        verifier = self.verifiers.get(principal.label.removeprefix(TOKEN_LABEL_PREFIX))
        verifier.ensure_active()
        if TOKEN_ROLE.get(verifier.type) is not principal.role:
            raise Unauthorised("the token's role no longer matches the verifier's registration")
        return Caller(verifier, "token", str(principal.token_id))

    def create_token(self, code: str, actor: str) -> str:
        verifier = self.verifiers.get(code)
        verifier.ensure_active()
        role = TOKEN_ROLE.get(verifier.type)
        if role is None:
            raise InvalidInput("an entrusting business connects through its platform operator and gets no token")
        return self.tokens.create(role, TOKEN_LABEL_PREFIX + code, actor=actor)


def check_token_binding(registry: VerifierRegistry, role: Role, label: str) -> None:
    """The ``verifier_binding`` of :class:`myna.access.tokens.Tokens`: a verifier-role token
    is made only bound (label ``verifier:CODE``) to a registered, active verifier whose type
    gives that role (R-VER-1)."""
    if not label.startswith(TOKEN_LABEL_PREFIX):
        raise InvalidInput(f"a {role.value} token is made for a registered verifier: `myna verifier token CODE`")
    verifier = registry.get(label.removeprefix(TOKEN_LABEL_PREFIX))  # NotFound if unregistered
    verifier.ensure_active()
    if TOKEN_ROLE.get(verifier.type) is not role:
        raise InvalidInput(f"verifier {verifier.code} is a {verifier.type.value} verifier: its token role is not {role.value}")


def verifier_credentials(platform: Platform) -> dict[str, str]:
    """SHA-256 of each enabled verifier token → its role (verifier-sign/-auth/-both), for the
    validity centres (in-process, and the /api/v1/feed/verifiers endpoint remote ones pull).

    A token bound to a registered verifier (label ``verifier:CODE``, made by ``myna
    verifier token``) is listed only while that verifier is **active** and its type still
    gives the token's role (R-VER-1): suspending the verifier withdraws the token from the
    centres at their next sync, reinstating it brings the token back, and termination is
    final (the registry also disables the token). A bound token whose verifier does not
    exist is not listed, nor is a verifier-role token bound to no verifier (such tokens
    can no longer be made, R-VER-1; one left from before is not a credential).
    """
    role_of_type = {vtype.value: role.value for vtype, role in TOKEN_ROLE.items()}

    with platform.db.session() as s:
        rows = s.execute(
            select(m.ApiToken.token_sha256, m.ApiToken.role, m.ApiToken.label).where(
                m.ApiToken.role.like("verifier-%"), m.ApiToken.disabled.is_(False)
            )
        ).all()
        registered = {
            code: (vtype, status) for code, vtype, status in s.execute(select(mv.Verifier.code, mv.Verifier.type, mv.Verifier.status))
        }
    out: dict[str, str] = {}
    for digest, role, label in rows:
        if not label.startswith(TOKEN_LABEL_PREFIX):
            continue  # bound to no verifier (made before tokens were bound): no credential
        found = registered.get(label.removeprefix(TOKEN_LABEL_PREFIX))
        if found is None or found[1] != Status.ACTIVE.value:
            continue
        if role_of_type.get(found[0]) != role:
            continue
        out[digest] = role
    return out


def is_active(v: VerifierInfo) -> bool:
    return v.status is Status.ACTIVE
