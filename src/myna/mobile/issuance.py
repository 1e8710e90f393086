"""Smartphone certificates (移動端末設備用電子証明書, R-CERT-5) and their link to the card.

Two steps, as the law describes them:

1. **Application.** The resident's software signs an application (the certificate kind
   and the basic 4 information) with the card's signature key. J-LIS checks that the card
   signature certificate is its own, unrevoked and unexpired, that the signature is good
   (:mod:`myna.verifiers.card_signed`), and that the basic 4 information is the
   certificate's. For a mobile user-auth certificate the holder must also hold a valid
   card user-auth certificate. The answer is an application id and a challenge.
2. **Key and issuance.** The phone makes its key pair in its secure element and sends
   the public key with a signature over the challenge (proof that it holds the private
   key). J-LIS checks the card certificate again and issues directly to the applicant.

The mobile certificate is linked to the card certificate of the same purpose
(``mobile_links``); the R-REV-6 cascade follows that link, and the mobile certificate
never outlives the card certificate (its notAfter is capped at the card's).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature as _CryptoInvalid
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from myna.authority.issuance import IssuanceRequest, IssuanceService, Issued
from myna.authority.platform import Platform
from myna.authority.revoking import RevocationService
from myna.errors import Conflict, IdempotencyMismatch, InvalidInput, NotEligible, NotFound
from myna.mobile.application_status import MobileApplicationStatus
from myna.pki import serials
from myna.pki.basic4 import Basic4
from myna.pki.holder_keys import parse_public_key
from myna.pki.kinds import CertKind
from myna.pki.revocation import RevocationReason
from myna.store import models as m
from myna.store import models_cards as mc
from myna.store import models_mobile as mm
from myna.store.journal import audit
from myna.verifiers import card_signed

DOC_TYPE = "myna/mobile-application"
APPLICATION_TTL = dt.timedelta(minutes=30)


class ApplicationExpired(Conflict):
    code = "application-expired"


class BadProof(InvalidInput):
    code = "invalid-proof-of-possession"


@dataclass(frozen=True)
class Application:
    id: str
    kind: CertKind
    challenge: str  # hex
    card_serial: str  # display form
    expires_at: dt.datetime

    def to_json(self) -> dict:
        return {
            "application_id": self.id,
            "kind": self.kind.value,
            "challenge": self.challenge,
            "card_serial": self.card_serial,
            "expires_at": self.expires_at.isoformat(),
        }


def application_document(kind: CertKind | str, basic4: Basic4) -> bytes:
    """The application the resident signs with the card's signature key."""
    return card_signed.document(
        DOC_TYPE,
        kind=CertKind(kind).value,
        basic4={"name": basic4.name, "date_of_birth": basic4.date_of_birth.isoformat(), "sex": basic4.sex.value, "address": basic4.address},
    )


def proof_message(application_id: str, challenge: str) -> bytes:
    """What the phone's key signs to prove possession (bound to this application)."""
    return f"myna-mobile-key-possession:{application_id}:{challenge}".encode()


class CappedIssuance(IssuanceService):
    """Issuance whose notAfter is capped at the card certificate's (R-CERT-5: the mobile
    certificate rests on the card's). The issuance pipeline computes validity from the
    birthday; this narrows it for one call without changing the shared pipeline."""

    def __init__(self, platform: Platform, cap: dt.datetime):
        super().__init__(platform)
        self.cap = cap

    def _not_after(self, req, ca, now):
        return min(super()._not_after(req, ca, now), self.cap)


def _valid(s, serial: str, now: dt.datetime) -> m.Certificate | None:
    row = s.get(m.Certificate, serial)
    if row is None or now > row.not_after:
        return None
    if s.scalar(select(m.Revocation.seq).where(m.Revocation.serial == serial)) is not None:
        return None
    return row


class MobileService:
    def __init__(self, platform: Platform, *, capped_issuance: Callable[[dt.datetime], IssuanceService], revocation: RevocationService):
        self.platform = platform
        # Issuance capped at a card certificate's notAfter, one per call (the cap is the card's).
        self.capped_issuance = capped_issuance
        self.revocation = revocation  # R-REV-6 for a certificate whose card was revoked meanwhile

    def apply(self, content: bytes, signature: bytes) -> Application:
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            doc = card_signed.verify(s, content, signature, now, DOC_TYPE)
            try:
                kind = CertKind(doc.content.get("kind"))
            except ValueError:
                raise InvalidInput("the application's kind must be mobile-sign or mobile-auth") from None
            if not kind.is_mobile:
                raise InvalidInput("the application's kind must be mobile-sign or mobile-auth")
            self._check_basic4(doc.content.get("basic4"), Basic4.from_certificate(doc.signer))
            if s.scalar(select(mm.MobileApplication.id).where(mm.MobileApplication.document_sha256 == doc.digest)) is not None:
                raise Conflict("this application document was already submitted")
            card_serial = doc.signer_serial
            if kind is CertKind.MOBILE_AUTH:
                card_serial = self._card_auth(s, doc.signer_serial, doc.resident_code, now)
            app = mm.MobileApplication(
                id=secrets.token_hex(16),
                kind=kind.value,
                resident_code=doc.resident_code,
                card_serial=card_serial,
                signer_serial=doc.signer_serial,
                document_sha256=doc.digest,
                challenge=secrets.token_hex(32),
                status=MobileApplicationStatus.ACCEPTED.value,
                created_at=now,
                expires_at=now + APPLICATION_TTL,
            )
            s.add(app)
            try:
                s.flush()
            except IntegrityError:
                # The same document submitted twice at once: the unique digest lets one in;
                # the other is a replay like a late one (its challenge is never shown twice).
                raise Conflict("this application document was already submitted") from None
            audit(s, now, f"resident:{doc.resident_code}", "mobile.applied", app.id, kind=kind.value, card_serial=card_serial)
            return Application(app.id, kind, app.challenge, serials.to_display(int(card_serial, 16)), app.expires_at)

    @staticmethod
    def _check_basic4(claimed, actual: Basic4) -> None:
        if not isinstance(claimed, dict):
            raise InvalidInput("the application carries no basic 4 information")
        expected = {
            "name": actual.name,
            "date_of_birth": actual.date_of_birth.isoformat(),
            "sex": actual.sex.value,
            "address": actual.address,
        }
        wrong = sorted(k for k in expected if claimed.get(k) != expected[k])
        if wrong:
            raise InvalidInput(
                f"the application's basic 4 information differs from the card signature certificate: {', '.join(wrong)} (R-CERT-5)"
            )

    @staticmethod
    def _card_auth(s, sign_serial: str, resident_code: str, now: dt.datetime) -> str:
        """R-CERT-5: a mobile UA needs a valid card UA too — the one on the same card, else
        the holder's newest valid card UA certificate."""
        on_card = s.scalar(select(mc.ChipRecord.auth_serial).where(mc.ChipRecord.sign_serial == sign_serial))
        candidates = (
            [on_card]
            if on_card
            else list(
                s.scalars(
                    select(m.Certificate.serial)
                    .where(m.Certificate.resident_code == resident_code, m.Certificate.kind == CertKind.CARD_AUTH.value)
                    .order_by(m.Certificate.issued_at.desc())
                )
            )
        )
        for serial in candidates:
            if _valid(s, serial, now) is not None:
                return serial
        raise NotEligible("a mobile user-auth certificate needs a valid card user-auth certificate as well (R-CERT-5)")

    def issue(self, application_id: str, public_key: bytes | str, proof: bytes, actor: str | None = None) -> Issued:
        """Step 2: certify the phone's key, directly to the applicant."""
        now = self.platform.clock.now()
        key = parse_public_key(public_key)
        with self.platform.db.session() as s:
            app = s.get(mm.MobileApplication, application_id) if isinstance(application_id, str) else None
            if app is None:
                raise NotFound(f"no mobile certificate application {application_id!r}")
            if app.status == MobileApplicationStatus.ISSUED:
                row = s.get(m.Certificate, app.issued_serial)
                if row is not None and row.key_fingerprint == _fingerprint(key):
                    return Issued(int(row.serial, 16), CertKind(row.kind), x509.load_der_x509_certificate(row.der), False)
                raise IdempotencyMismatch(f"application {application_id} was already used to issue a certificate for another key")
            if now > app.expires_at:
                raise ApplicationExpired(f"application {application_id} expired at {app.expires_at.isoformat()}; apply again")
            self._check_proof(key, proof, proof_message(app.id, app.challenge))
            card = _valid(s, app.card_serial, now)
            signer = _valid(s, app.signer_serial, now)
            if card is None or signer is None:
                raise card_signed.CardCertificateNotValid(
                    "the card certificate is no longer valid (revoked or expired): no mobile certificate (R-CERT-5)"
                )
            kind, cap = CertKind(app.kind), card.not_after
            b4 = Basic4.from_certificate(x509.load_der_x509_certificate(signer.der))
            request = IssuanceRequest(
                request_id=f"mobile:{app.id}",
                kind=kind,
                public_key=public_key,
                resident_code=app.resident_code,
                date_of_birth=b4.date_of_birth,
                basic4=b4 if kind.is_signature else None,
                municipality_code=None,
            )
        who = actor or f"resident:{app.resident_code}"
        issued = self.capped_issuance(cap).issue(request, who)
        # R-RA-3: two keys sent for one application at once share its issuance request id;
        # whatever issuance answers, a caller only ever receives a certificate of its own key.
        if _fingerprint(issued.certificate.public_key()) != _fingerprint(key):
            raise IdempotencyMismatch(f"application {application_id} was already used to issue a certificate for another key")
        store = serials.to_store(issued.serial)
        with self.platform.db.session() as s:
            # The write comes first, so concurrent calls record one after the other (SQLite's
            # writer lock, PostgreSQL's row lock); only the first links the certificate.
            first = s.execute(
                update(mm.MobileApplication)
                .where(mm.MobileApplication.id == application_id, mm.MobileApplication.status == MobileApplicationStatus.ACCEPTED.value)
                .values(status=MobileApplicationStatus.ISSUED.value, issued_serial=store)
            ).rowcount
            app = s.get(mm.MobileApplication, application_id)
            if not first and app.issued_serial != store:
                raise IdempotencyMismatch(f"application {application_id} was already used to issue a certificate for another key")
            if first:
                s.add(mm.MobileLink(mobile_serial=store, card_serial=app.card_serial, application_id=app.id, linked_at=now))
                audit(s, now, who, "mobile.issued", app.id, serial=store, card_serial=app.card_serial)
        # The card certificate may have been revoked while we signed: R-REV-6 then applies
        # to the new certificate at once (the cascade at revocation time could not see it).
        with self.platform.db.session() as s:
            card_revoked = s.scalar(select(m.Revocation.seq).where(m.Revocation.serial == app.card_serial)) is not None
            mobile_revoked = s.scalar(select(m.Revocation.seq).where(m.Revocation.serial == serials.to_store(issued.serial))) is not None
        if card_revoked and not mobile_revoked:
            self.revocation.revoke(
                issued.serial, RevocationReason.LINKED_CARD_REVOKED, "mobile-issuance", note="card certificate revoked during issuance"
            )
        return issued

    @staticmethod
    def _check_proof(key, proof: bytes, message: bytes) -> None:
        if not isinstance(proof, bytes) or not proof or len(proof) > 1024:
            raise BadProof("the proof of possession must be a signature of 1-1024 bytes")
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(proof, message, padding.PKCS1v15(), hashes.SHA256())
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(proof, message, ec.ECDSA(hashes.SHA256()))
            else:
                raise BadProof("unsupported key type")
        except _CryptoInvalid:
            raise BadProof("the proof of possession does not verify with the submitted public key") from None

    def link_of(self, mobile_serial: int) -> str | None:
        with self.platform.db.session() as s:
            link = s.get(mm.MobileLink, serials.to_store(mobile_serial))
            return None if link is None else serials.to_display(int(link.card_serial, 16))


def _fingerprint(key) -> str:
    from myna.pki.holder_keys import key_fingerprint

    return key_fingerprint(key)
