"""Validation of the codes that identify residents and municipalities.

- Resident-record code (住民票コード): 11 digits.
- Local-government code (全国地方公共団体コード): 5 digits and a check digit (public rule):
  r = (d1·6 + d2·5 + d3·4 + d4·3 + d5·2) mod 11, check = (11 − r) mod 10.
  Example: Chiyoda, Tokyo is 13101 → 131016.
"""

from __future__ import annotations

from myna.errors import InvalidInput


def check_resident_code(code: str) -> str:
    if not isinstance(code, str) or len(code) != 11 or not code.isascii() or not code.isdigit():
        raise InvalidInput(f"resident code {code!r} must be exactly 11 digits")
    return code


def municipality_check_digit(first5: str) -> int:
    r = sum(int(d) * w for d, w in zip(first5, (6, 5, 4, 3, 2))) % 11
    return (11 - r) % 10


def check_municipality_code(code: str) -> str:
    if not isinstance(code, str) or len(code) != 6 or not code.isascii() or not code.isdigit():
        raise InvalidInput(f"municipality code {code!r} must be 6 digits (5 digits and a check digit)")
    if municipality_check_digit(code[:5]) != int(code[5]):
        raise InvalidInput(f"municipality code {code!r} has a wrong check digit")
    return code
