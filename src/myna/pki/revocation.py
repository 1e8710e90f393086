"""Revocation reasons (SPEC §4) and how they appear in CRLs and OCSP.

A certificate loses effect at the moment the revocation is recorded (直ちに記録).
Expiry (R-REV-7) is never recorded: it is derived from notAfter.
"""

from __future__ import annotations

import enum

from cryptography import x509


class RevocationReason(str, enum.Enum):
    REQUEST = "request"  # R-REV-1 失効申請・届出 (e.g. lost card)
    RESIDENT_CHANGE = "resident-change"  # R-REV-2 / R-REV-3 異動等失効
    RECORD_ERROR = "record-error"  # R-REV-4 記録誤り等
    KEY_COMPROMISE = "key-compromise"  # R-REV-5 発行者署名符号の漏えい等
    LINKED_CARD_REVOKED = "linked-card-revoked"  # R-REV-6 (mobile certificates only)

    @property
    def rule(self) -> str:
        return {
            RevocationReason.REQUEST: "R-REV-1",
            RevocationReason.RESIDENT_CHANGE: "R-REV-2/3",
            RevocationReason.RECORD_ERROR: "R-REV-4",
            RevocationReason.KEY_COMPROMISE: "R-REV-5",
            RevocationReason.LINKED_CARD_REVOKED: "R-REV-6",
        }[self]

    @property
    def x509_reason(self) -> x509.ReasonFlags:
        """The RFC 5280 reason code (choice, documented in docs/pki.md).

        ``unspecified`` is never used: RFC 5280 says to omit the extension instead, and
        verifiers learn more from a specific code.
        """
        return {
            RevocationReason.REQUEST: x509.ReasonFlags.cessation_of_operation,
            RevocationReason.RESIDENT_CHANGE: x509.ReasonFlags.affiliation_changed,
            RevocationReason.RECORD_ERROR: x509.ReasonFlags.superseded,
            RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.ca_compromise,
            RevocationReason.LINKED_CARD_REVOKED: x509.ReasonFlags.privilege_withdrawn,
        }[self]

    @property
    def notifies_holder(self) -> bool:
        """R-REV-4: the holder is told promptly of a revocation for a record error."""
        return self is RevocationReason.RECORD_ERROR

    def allowed_for(self, is_mobile: bool) -> bool:
        """R-REV-6 applies only to mobile certificates."""
        return is_mobile or self is not RevocationReason.LINKED_CARD_REVOKED
