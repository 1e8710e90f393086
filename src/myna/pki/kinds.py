"""The four certificate kinds of JPKI and the authorities that issue them (SPEC §3).

Each kind has its own issuing CA (choice) so that CRLs and OCSP are per kind.
"""

from __future__ import annotations

import enum

from cryptography.x509 import ObjectIdentifier

# Certificate policies of the real certificates (public rule), so verifier software
# written for real cards recognises ours.
POLICY_SIGNATURE = ObjectIdentifier("1.2.392.200149.8.5.1.1.20")
POLICY_USER_AUTH = ObjectIdentifier("1.2.392.200149.8.5.1.3.30")


class CertKind(str, enum.Enum):
    CARD_SIGN = "card-sign"  # 個人番号カード用署名用電子証明書
    CARD_AUTH = "card-auth"  # 個人番号カード用利用者証明用電子証明書
    MOBILE_SIGN = "mobile-sign"  # 移動端末設備用署名用電子証明書
    MOBILE_AUTH = "mobile-auth"  # 移動端末設備用利用者証明用電子証明書

    @property
    def is_signature(self) -> bool:
        """Signature certificates carry the basic 4 information; user-auth ones carry none."""
        return self in (CertKind.CARD_SIGN, CertKind.MOBILE_SIGN)

    @property
    def is_mobile(self) -> bool:
        return self in (CertKind.MOBILE_SIGN, CertKind.MOBILE_AUTH)

    @property
    def policy_oid(self) -> ObjectIdentifier:
        return POLICY_SIGNATURE if self.is_signature else POLICY_USER_AUTH

    @property
    def title(self) -> str:
        return {
            CertKind.CARD_SIGN: "Card Signature",
            CertKind.CARD_AUTH: "Card User Authentication",
            CertKind.MOBILE_SIGN: "Mobile Signature",
            CertKind.MOBILE_AUTH: "Mobile User Authentication",
        }[self]


class AuthorityKind(str, enum.Enum):
    """The CA hierarchy: one offline root over the four issuing CAs (see docs/pki.md)."""

    ROOT = "root"
    CARD_SIGN = "card-sign"
    CARD_AUTH = "card-auth"
    MOBILE_SIGN = "mobile-sign"
    MOBILE_AUTH = "mobile-auth"

    @property
    def cert_kind(self) -> CertKind | None:
        return None if self is AuthorityKind.ROOT else CertKind(self.value)

    @classmethod
    def issuing(cls) -> list["AuthorityKind"]:
        return [k for k in cls if k is not cls.ROOT]
