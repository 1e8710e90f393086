"""Certificate serial numbers (発行の番号): 159 random bits, positive, never reused.

Unpredictability comes from ``x509.random_serial_number`` (CSPRNG); uniqueness from a
reservation committed to the store before signing (see myna.authority.issuance).
"""

from __future__ import annotations

from cryptography import x509

from myna.errors import InvalidInput

STORE_WIDTH = 40  # hex digits for 160 bits: fixed width makes text order numeric order


def new_serial() -> int:
    return x509.random_serial_number()


def to_store(serial: int) -> str:
    return format(serial, f"0{STORE_WIDTH}x")


def to_display(serial: int) -> str:
    """Upper-case hex of even length, as OpenSSL prints serials."""
    text = format(serial, "X")
    return text if len(text) % 2 == 0 else "0" + text


def parse(text: str) -> int:
    """Accept hex with or without ``0x``, colons or spaces, any case."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "").replace(" ", "")
    if not cleaned or len(cleaned) > STORE_WIDTH or any(c not in "0123456789abcdef" for c in cleaned):
        raise InvalidInput(f"serial {text!r} is not a hexadecimal certificate serial number")
    value = int(cleaned, 16)
    if value <= 0:
        raise InvalidInput(f"serial {text!r} must be positive")
    return value
