"""The renewal application form printed with an expiry notice (R-CARD-8): its id and
the token its QR code carries."""

from __future__ import annotations

import hashlib
import hmac

from myna.authority.platform import Platform


def renewal_form_id(expiry_notice_id: int) -> str:
    """The id printed on the renewal application form of an expiry notice (R-CARD-8)."""
    return f"R{expiry_notice_id:016X}"


def renewal_form_token(platform: Platform, form_id: str, card_id: str, resident_code: str) -> str:
    """The renewal form's QR token: an HMAC under a key derived from the card-image key
    (there is no per-form token column; the form id alone is no credential)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from myna.chip.image import ImageKey

    key = HKDF(hashes.SHA256(), 32, salt=None, info=b"myna renewal application form token").derive(
        ImageKey.load_or_create(platform.settings.home).pepper
    )
    return hmac.new(key, f"{form_id}|{card_id}|{resident_code}".encode(), hashlib.sha256).hexdigest()[:32]
