"""Individual Numbers (個人番号): check digit (R-NUM-2) and generation (R-NUM-1).

A number is derived from the resident-record code by a keyed format-preserving
permutation of the 11-digit space (FF3-1, NIST SP 800-38G Rev. 1), plus the public check
digit. Being a permutation under one key and tweak, two resident codes can never give
the same number; without the key the code cannot be recovered. A number re-issued after
a leak uses the next *generation* as tweak, and is checked by the caller against every
number ever issued (a different tweak is a different permutation, so a collision with an
older number is possible, if unlikely, and must be refused).
"""

from __future__ import annotations

import numpy as np

from myna.errors import InvalidInput
from myna.numbering.codes import check_resident_code
from myna.numbering.ff3_1 import FF3_1

_WEIGHTS = [n + 1 if n <= 6 else n - 5 for n in range(1, 12)]  # Q(n) for n = 1..11, counted from the lowest digit


def check_digit(first11: str) -> int:
    """R-NUM-2: P(n) is the n-th digit from the lowest; Q(n) = n+1 (n ≤ 6), n−5 (n ≥ 7);
    r = Σ P(n)·Q(n) mod 11; the check digit is 0 if r ≤ 1, else 11 − r."""
    if len(first11) != 11 or not first11.isascii() or not first11.isdigit():
        raise InvalidInput(f"{first11!r} is not 11 digits")
    r = sum(int(d) * q for d, q in zip(reversed(first11), _WEIGHTS)) % 11
    return 0 if r <= 1 else 11 - r


def check_number(number: str) -> str:
    """Return ``number`` if it is a well-formed Individual Number, else raise with the reason."""
    if not isinstance(number, str) or not number.isascii() or not number.isdigit():
        raise InvalidInput(f"{number!r} must consist of ASCII digits only")
    if len(number) != 12:
        raise InvalidInput(f"an Individual Number has 12 digits, {number!r} has {len(number)}")
    expected = check_digit(number[:11])
    if int(number[11]) != expected:
        raise InvalidInput(f"check digit of {number} should be {expected}, not {number[11]} (R-NUM-2)")
    return number


def check_digits_batch(first11: np.ndarray) -> np.ndarray:
    """Check digits of many 11-digit numbers at once."""
    values = np.asarray(first11, dtype=np.uint64)
    r = np.zeros(values.shape[0], dtype=np.uint64)
    rest = values.copy()
    for q in _WEIGHTS:
        r += (rest % np.uint64(10)) * np.uint64(q)
        rest //= np.uint64(10)
    r %= np.uint64(11)
    return np.where(r <= 1, np.uint64(0), np.uint64(11) - r)


def tweak(generation: int) -> bytes:
    if not 0 <= generation < 2**56:
        raise ValueError("generation out of range")
    return generation.to_bytes(7, "big")


class NumberGenerator:
    """R-NUM-1: derives Individual Numbers from resident codes with a secret key."""

    def __init__(self, key: bytes):
        if len(key) != 32:
            raise ValueError("the numbering key is 32 bytes (AES-256)")
        self._key = key
        self._ciphers: dict[int, FF3_1] = {}

    def _cipher(self, generation: int) -> FF3_1:
        if generation not in self._ciphers:
            self._ciphers[generation] = FF3_1(self._key, tweak(generation))
        return self._ciphers[generation]

    def number_for(self, resident_code: str, generation: int = 0) -> str:
        check_resident_code(resident_code)
        body = int(self._cipher(generation).encrypt(np.array([int(resident_code)], dtype=np.uint64), 11)[0])
        first11 = f"{body:011d}"
        return first11 + str(check_digit(first11))

    def numbers_for(self, resident_codes: np.ndarray, generation: int = 0) -> np.ndarray:
        """12-digit numbers (as uint64) for many 11-digit codes (as uint64)."""
        codes = np.asarray(resident_codes)
        if codes.size and (codes.min() < 0 or codes.max() >= 10**11):
            raise InvalidInput("resident codes are 11-digit numbers: 0 <= code < 10^11")
        body = self._cipher(generation).encrypt(codes.astype(np.uint64), 11)
        return body * np.uint64(10) + check_digits_batch(body)
