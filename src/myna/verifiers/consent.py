"""Consent (同意) for a verifier to receive the holder's latest basic 4 information (R-VER-2).

A resident grants or withdraws consent for one verifier by a document signed with the
card's signature key (see :mod:`myna.verifiers.card_signed`), or through a resident
portal that authenticated them (:meth:`Consents.grant_via_portal`). Consent belongs to the
resident (their resident code), not to one certificate: it survives the renewal of the
signature certificate, and the verifier then receives the new information. Withdrawal
takes effect in the same transaction; every provision reads the current state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from myna.authority.platform import Platform
from myna.errors import Conflict, InvalidInput
from myna.numbering.codes import check_resident_code
from myna.store import models_verifiers as mv
from myna.store.journal import audit
from myna.verifiers import card_signed
from myna.verifiers.registry import Status, VerifierRegistry

DOC_TYPE = "myna/consent"
ACTIONS = ("grant", "withdraw")


@dataclass(frozen=True)
class ConsentState:
    resident_code: str
    verifier: str
    consented: bool
    since: dt.datetime | None
    action: str  # what this call did: granted, withdrawn, unchanged

    def to_json(self) -> dict:
        return {
            "verifier": self.verifier,
            "consented": self.consented,
            "since": self.since.isoformat() if self.since else None,
            "action": self.action,
        }


def consent_document(action: str, verifier: str) -> bytes:
    """The document a resident signs to grant or withdraw consent for ``verifier``."""
    return card_signed.document(DOC_TYPE, action=action, verifier=verifier)


def current(s, resident_code: str, verifier_id: int) -> mv.Consent | None:
    return s.scalar(
        select(mv.Consent)
        .where(mv.Consent.resident_code == resident_code, mv.Consent.verifier_id == verifier_id, mv.Consent.withdrawn_at.is_(None))
        .order_by(mv.Consent.id.desc())
    )


class Consents:
    def __init__(self, platform: Platform):
        self.platform = platform

    def submit(self, content: bytes, signature: bytes) -> ConsentState:
        """Apply a signed consent document. The same document twice is refused (409), so a
        grant replayed after a withdrawal cannot bring consent back."""
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            doc = card_signed.verify(s, content, signature, now, DOC_TYPE)
            action, code = doc.content.get("action"), doc.content.get("verifier")
            if action not in ACTIONS:
                raise InvalidInput(f"consent action must be one of {', '.join(ACTIONS)}")
            if not isinstance(code, str):
                raise InvalidInput("the consent document names no verifier")
            verifier = VerifierRegistry._row(s, code)
            if s.get(mv.ConsentDocument, doc.digest) is not None:
                raise Conflict("this consent document was already submitted")
            if action == "grant" and verifier.status != Status.ACTIVE.value:
                raise Conflict(f"verifier {code} is {verifier.status}: consent cannot be granted to it")
            s.add(
                mv.ConsentDocument(
                    digest=doc.digest,
                    resident_code=doc.resident_code,
                    verifier_id=verifier.id,
                    action=action,
                    signer_serial=doc.signer_serial,
                    signed_at=doc.signed_at,
                    recorded_at=now,
                )
            )
            try:
                s.flush()
            except IntegrityError:
                # The same document twice at once: its digest (the key) lets one in; the
                # other is refused like a later replay, and applies nothing.
                raise Conflict("this consent document was already submitted") from None
            return self._apply(s, doc.resident_code, verifier, action, now, "document", f"resident:{doc.resident_code}")

    def grant_via_portal(self, resident_code: str, verifier: str, actor: str) -> ConsentState:
        """For a resident portal that has authenticated the resident itself."""
        return self._portal(resident_code, verifier, "grant", actor)

    def withdraw_via_portal(self, resident_code: str, verifier: str, actor: str) -> ConsentState:
        return self._portal(resident_code, verifier, "withdraw", actor)

    def _portal(self, resident_code: str, code: str, action: str, actor: str) -> ConsentState:
        check_resident_code(resident_code)
        now = self.platform.clock.now()
        with self.platform.db.session() as s:
            verifier = VerifierRegistry._row(s, code)
            if action == "grant" and verifier.status != Status.ACTIVE.value:
                raise Conflict(f"verifier {code} is {verifier.status}: consent cannot be granted to it")
            return self._apply(s, resident_code, verifier, action, now, "portal", actor)

    def state(self, resident_code: str, code: str) -> ConsentState:
        with self.platform.db.session() as s:
            verifier = VerifierRegistry._row(s, code)
            row = current(s, resident_code, verifier.id)
            return ConsentState(resident_code, code, row is not None, row.granted_at if row else None, "unchanged")

    @staticmethod
    def _apply(s, resident_code: str, verifier: mv.Verifier, action: str, now: dt.datetime, via: str, actor: str) -> ConsentState:
        row = current(s, resident_code, verifier.id)
        if action == "grant":
            if row is not None:
                return ConsentState(resident_code, verifier.code, True, row.granted_at, "unchanged")
            s.add(mv.Consent(resident_code=resident_code, verifier_id=verifier.id, granted_at=now, granted_via=via))
            audit(s, now, actor, "consent.granted", resident_code, verifier=verifier.code, via=via)
            return ConsentState(resident_code, verifier.code, True, now, "granted")
        if row is None:
            return ConsentState(resident_code, verifier.code, False, None, "unchanged")
        # Every current grant (two concurrent grants can both have been recorded).
        s.execute(
            update(mv.Consent)
            .where(mv.Consent.resident_code == resident_code, mv.Consent.verifier_id == verifier.id, mv.Consent.withdrawn_at.is_(None))
            .values(withdrawn_at=now)
        )
        audit(s, now, actor, "consent.withdrawn", resident_code, verifier=verifier.code, via=via)
        return ConsentState(resident_code, verifier.code, False, None, "withdrawn")
