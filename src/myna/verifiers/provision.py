"""What J-LIS gives registered verifiers (SPEC §5), each answer logged (R-VER-6).

Every method takes the :class:`~myna.verifiers.credentials.Caller` the request was
attributed to, checks the entitlement matrix before reading anything
(:mod:`myna.access.entitlements`), and records the provision — or the refusal, with
its error code — in ``verifier_provisions``. A platform operator may ask on behalf of
one of its entrusting businesses (``on_behalf_of``); the business is then the recipient
(consent must be given to it) and the log names both. A request naming no known category
(an unknown purpose, pair or CA) is refused and logged too, under the category
``unrecognised`` with what was asked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Callable, NoReturn

from cryptography import x509
from sqlalchemy import select

from myna.access.entitlements import Operation, VerifierType, check
from myna.authority.crls import CrlService
from myna.authority.platform import Platform
from myna.errors import Forbidden, MynaError, NotFound
from myna.pki import serials
from myna.pki.basic4 import Basic4
from myna.pki.kinds import AuthorityKind, CertKind
from myna.store import models as m
from myna.store import models_cards as mc
from myna.store import models_mobile as mm
from myna.store import models_verifiers as mv
from myna.store.journal import audit
from myna.verifiers import renewals
from myna.verifiers.consent import current as current_consent
from myna.verifiers.credentials import Caller
from myna.verifiers.registry import Status, VerifierInfo, info


class NoConsent(Forbidden):
    code = "no-consent"


class NotDisclosed(MynaError):
    """The holder has no valid certificate of this purpose: nothing about them is given."""

    code = "no-valid-certificate"


class NoAgreement(Forbidden):
    code = "no-agreement"


UNRECOGNISED = "unrecognised"  # the log category of a request for no known operation

PURPOSES = {"sign": (CertKind.CARD_SIGN, CertKind.MOBILE_SIGN), "auth": (CertKind.CARD_AUTH, CertKind.MOBILE_AUTH)}
PAIRS = {
    "sign-mobile": (Operation.CORRESPONDING_SIGN_MOBILE, CertKind.CARD_SIGN, CertKind.MOBILE_SIGN),
    "auth-mobile": (Operation.CORRESPONDING_AUTH_MOBILE, CertKind.CARD_AUTH, CertKind.MOBILE_AUTH),
    "sign-auth": (Operation.CORRESPONDING_SIGN_AUTH, CertKind.CARD_SIGN, CertKind.CARD_AUTH),
}


@dataclass(frozen=True)
class Answer:
    body: dict
    log: dict  # what the provision log keeps (never the basic 4 information itself)
    serial: str | None = None


def _purpose(purpose: str) -> tuple[CertKind, ...]:
    try:
        return PURPOSES[purpose]
    except KeyError:
        raise NotFound(f"unknown purpose {purpose!r}; one of sign, auth") from None


def _display(store: str) -> str:
    return serials.to_display(int(store, 16))


class ProvisionService:
    def __init__(self, platform: Platform, *, crls: CrlService):
        self.platform = platform
        self.crls = crls  # revocation files are the published CRLs

    # -- the frame: entitlement, recipient, log ------------------------------------

    def _provide(self, caller: Caller, op: Operation, on_behalf_of: str | None, serial: int | None, fn: Callable[..., Answer]) -> dict:
        now = self.platform.clock.now()
        store_serial = serials.to_store(serial) if serial is not None else None
        recipient_id = None
        try:
            with self.platform.db.session() as s:
                verifier = info(s, s.get(mv.Verifier, caller.verifier.id))
                verifier.ensure_active()  # re-read: a suspension takes effect at once
                check(verifier.type, op)
                recipient = self._recipient(s, verifier, on_behalf_of)
                recipient_id = recipient.id if recipient.id != verifier.id else None
                answer = fn(s, now, recipient, store_serial)
                s.add(
                    mv.Provision(
                        at=now,
                        verifier_id=verifier.id,
                        on_behalf_of_id=recipient_id,
                        category=op.value,
                        outcome="provided",
                        serial=store_serial,
                        detail=json.dumps({"via": caller.via, "credential": caller.credential, **answer.log}, sort_keys=True),
                    )
                )
                return answer.body
        except MynaError as exc:
            with self.platform.db.session() as s:
                s.add(
                    mv.Provision(
                        at=now,
                        verifier_id=caller.verifier.id,
                        on_behalf_of_id=recipient_id,
                        category=op.value,
                        outcome="refused",
                        serial=store_serial,
                        detail=json.dumps({"via": caller.via, "credential": caller.credential, "error": exc.code}, sort_keys=True),
                    )
                )
            raise

    def _refuse_unrecognised(self, caller: Caller, request: str, asked: str, serial: int | None, exc: MynaError) -> NoReturn:
        """Log the refusal of a request that names no known category (R-VER-6: every
        refusal is logged), then raise it. The entitlement matrix is not consulted: the
        answer is the same whoever asks (R-VER-7)."""
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            s.add(
                mv.Provision(
                    at=now,
                    verifier_id=caller.verifier.id,
                    on_behalf_of_id=None,
                    category=UNRECOGNISED,
                    outcome="refused",
                    serial=serials.to_store(serial) if serial is not None else None,
                    detail=json.dumps(
                        {"via": caller.via, "credential": caller.credential, "error": exc.code, "request": request, "asked": asked[:64]},
                        sort_keys=True,
                    ),
                )
            )
        raise exc

    def _kinds(self, caller: Caller, request: str, purpose: str, serial: int) -> tuple[CertKind, ...]:
        try:
            return _purpose(purpose)
        except NotFound as exc:
            self._refuse_unrecognised(caller, request, purpose, serial, exc)

    @staticmethod
    def _recipient(s, verifier: VerifierInfo, on_behalf_of: str | None) -> VerifierInfo:
        if on_behalf_of is None:
            return verifier
        if verifier.type is not VerifierType.PLATFORM_OPERATOR:
            raise Forbidden("only a platform operator asks on behalf of an entrusting business")
        row = s.scalar(select(mv.Verifier).where(mv.Verifier.code == on_behalf_of))
        if row is None or row.operator_id != verifier.id:
            raise Forbidden(f"{on_behalf_of} is not a business entrusting {verifier.code}")
        business = info(s, row)
        if business.status is not Status.ACTIVE:
            raise Forbidden(f"entrusting business {on_behalf_of} is {business.status.value}")
        return business

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _cert(s, store_serial: str, kinds: tuple[CertKind, ...], what: str) -> m.Certificate:
        row = s.get(m.Certificate, store_serial)
        if row is None or row.kind not in {k.value for k in kinds}:
            # The same answer whether the serial is unknown or of another purpose (R-VER-7).
            raise NotFound(f"no {what} certificate with serial {_display(store_serial)}")
        return row

    @staticmethod
    def _revocation(s, store_serial: str) -> m.Revocation | None:
        return s.scalar(select(m.Revocation).where(m.Revocation.serial == store_serial))

    def _current(self, s, row: m.Certificate, now: dt.datetime) -> bool:
        return row.not_after >= now and self._revocation(s, row.serial) is None

    # -- R-REV-10: revocation information, real time and as files -------------------

    def status(self, caller: Caller, purpose: str, serial: int, on_behalf_of: str | None = None) -> dict:
        kinds = self._kinds(caller, "status", purpose, serial)
        op = Operation.STATUS_SIGN if purpose == "sign" else Operation.STATUS_AUTH

        def fn(s, now, _recipient, store_serial):
            row = self._cert(s, store_serial, kinds, f"{purpose} holder")
            if row.retain_until < now:
                raise NotFound(f"certificate {_display(store_serial)} is past its retention period (R-REV-10)")
            rev = self._revocation(s, row.serial)
            status = "revoked" if rev else ("expired" if now > row.not_after else "good")
            body = {
                "serial": _display(row.serial),
                "kind": row.kind,
                "status": status,
                "not_after": row.not_after.isoformat(),
                "revoked_at": rev.revoked_at.isoformat() if rev else None,
                "reason": rev.reason if rev else None,
                "at": now.isoformat(),
            }
            return Answer(body, {"status": status})

        return self._provide(caller, op, on_behalf_of, serial, fn)

    def revocation_file(self, caller: Caller, slug: str, delta: bool = False) -> bytes:
        try:
            ca = self.platform.authority_by_slug(slug)  # public names: unknown slug is 404
            if ca.kind is AuthorityKind.ROOT:
                raise NotFound("the root CA's CRL is public at /crl/root.crl; verifiers get holder CAs' files here")
        except MynaError as exc:
            self._refuse_unrecognised(caller, "revocation-file", slug, None, exc)
        op = Operation.FILE_SIGN if ca.kind.cert_kind.is_signature else Operation.FILE_AUTH
        out: dict = {}

        def fn(s, now, _recipient, _serial):
            crl = self.crls.latest(slug, delta)
            out["der"] = crl.der
            return Answer({}, {"authority": slug, "crl_number": crl.number, "delta": delta})

        self._provide(caller, op, None, None, fn)
        return out["der"]

    # -- R-VER-2: the latest basic 4 information, with consent ----------------------

    def basic4(self, caller: Caller, serial: int, on_behalf_of: str | None = None) -> dict:
        def fn(s, now, recipient, store_serial):
            asked = self._cert(s, store_serial, PURPOSES["sign"], "signature")
            consent = current_consent(s, asked.resident_code, recipient.id) if asked.resident_code else None
            if consent is None:
                raise NoConsent(
                    f"the holder of {_display(store_serial)} has not consented to {recipient.code} receiving their information (R-VER-2)"
                )
            chain = renewals.successors(s, asked.serial)
            latest = s.get(m.Certificate, chain[-1]) if chain else asked
            if not self._current(s, latest, now):
                raise NotDisclosed(
                    f"the holder of {_display(store_serial)} has no valid signature certificate: nothing is disclosed (R-VER-2)"
                )
            b4 = Basic4.from_certificate(x509.load_der_x509_certificate(latest.der))
            body = {
                "asked_serial": _display(asked.serial),
                "serial": _display(latest.serial),
                "kind": latest.kind,
                "renewed": bool(chain),
                "not_after": latest.not_after.isoformat(),
                "basic4": {
                    "name": b4.name,
                    "name_alt": b4.name_alt,
                    "date_of_birth": b4.date_of_birth.isoformat(),
                    "sex": b4.sex.value,
                    "address": b4.address,
                    "address_alt": b4.address_alt,
                },
            }
            return Answer(body, {"answered_serial": latest.serial, "consent_id": consent.id})

        return self._provide(caller, Operation.BASIC4, on_behalf_of, serial, fn)

    # -- R-VER-3: corresponding serials, only of unexpired certificates --------------

    def corresponding(self, caller: Caller, pair: str, serial: int, on_behalf_of: str | None = None) -> dict:
        if pair not in PAIRS:
            self._refuse_unrecognised(caller, "corresponding", pair, serial, NotFound(f"unknown pair {pair!r}; one of {', '.join(PAIRS)}"))
        op, left, right = PAIRS[pair]

        def fn(s, now, _recipient, store_serial):
            asked = self._cert(s, store_serial, (left, right), f"{left.value} or {right.value}")
            if not self._current(s, asked, now):
                raise NotDisclosed(f"certificate {_display(store_serial)} is expired or revoked: no corresponding serials (R-VER-3)")
            found = [row for row in self._partners(s, asked, left, right) if self._current(s, row, now)]
            body = {
                "serial": _display(asked.serial),
                "kind": asked.kind,
                "corresponding": [{"serial": _display(r.serial), "kind": r.kind} for r in found],
            }
            return Answer(body, {"answered": [r.serial for r in found]})

        return self._provide(caller, op, on_behalf_of, serial, fn)

    @staticmethod
    def _partners(s, asked: m.Certificate, left: CertKind, right: CertKind) -> list[m.Certificate]:
        if right.is_mobile:  # card <-> mobile: the explicit link made at mobile issuance (R-CERT-5)
            if asked.kind == left.value:
                q = (
                    select(m.Certificate)
                    .join(mm.MobileLink, mm.MobileLink.mobile_serial == m.Certificate.serial)
                    .where(mm.MobileLink.card_serial == asked.serial)
                )
            else:
                q = (
                    select(m.Certificate)
                    .join(mm.MobileLink, mm.MobileLink.card_serial == m.Certificate.serial)
                    .where(mm.MobileLink.mobile_serial == asked.serial)
                )
            return list(s.scalars(q))
        # card SIG <-> card UA: the two certificates written to the same card
        mine, other = (
            (mc.ChipRecord.sign_serial, mc.ChipRecord.auth_serial)
            if asked.kind == left.value
            else (mc.ChipRecord.auth_serial, mc.ChipRecord.sign_serial)
        )
        partner = s.scalar(select(other).where(mine == asked.serial))
        if partner is not None:
            return [s.get(m.Certificate, partner)]
        # Certificates issued outside a card record (direct API issuance): the holder's
        # card certificates of the other purpose.
        want = right if asked.kind == left.value else left
        return list(
            s.scalars(select(m.Certificate).where(m.Certificate.resident_code == asked.resident_code, m.Certificate.kind == want.value))
        )

    # -- R-VER-4: old-to-new linkage ------------------------------------------------

    def renewal(self, caller: Caller, purpose: str, serial: int, on_behalf_of: str | None = None) -> dict:
        kinds = self._kinds(caller, "renewal", purpose, serial)
        op = Operation.RENEWAL_SIGN if purpose == "sign" else Operation.RENEWAL_AUTH

        def fn(s, now, _recipient, store_serial):
            asked = self._cert(s, store_serial, kinds, f"{purpose} holder")
            chain = renewals.successors(s, asked.serial)
            latest = s.get(m.Certificate, chain[-1]) if chain else None
            body = {
                "old_serial": _display(asked.serial),
                "renewed": bool(chain),
                "new_serial": _display(latest.serial) if latest else None,
                "chain": [_display(x) for x in chain],
                "new_status": None
                if latest is None
                else ("revoked" if self._revocation(s, latest.serial) else ("expired" if now > latest.not_after else "good")),
            }
            return Answer(body, {"answered_serial": latest.serial if latest else None})

        return self._provide(caller, op, on_behalf_of, serial, fn)

    # -- R-VER-5: certification code -------------------------------------------------

    def certification_code(self, caller: Caller) -> dict:
        def fn(s, now, recipient, _serial):
            row = s.get(mv.Verifier, recipient.id)
            if row.agreement_at is None:
                raise NoAgreement(f"no agreement with J-LIS is recorded for {recipient.code}: no certification code (R-VER-5)")
            code = "SUA-" + secrets.token_urlsafe(24)
            s.add(mv.CertificationCode(verifier_id=row.id, code_sha256=hashlib.sha256(code.encode()).hexdigest(), issued_at=now))
            audit(s, now, caller.actor, "verifier.certification-code", recipient.code, agreement=row.agreement_ref)
            return Answer(
                {"verifier": recipient.code, "certification_code": code, "issued_at": now.isoformat(), "agreement_ref": row.agreement_ref},
                {},
            )

        return self._provide(caller, Operation.CERTIFICATION_CODE, None, None, fn)
