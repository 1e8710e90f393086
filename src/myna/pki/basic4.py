"""The basic 4 information (基本4情報) and its encoding in signature certificates.

The real signature certificates carry name, sex, date of birth and address as
``otherName`` entries of subjectAltName, each a UTF8String, under the arc
1.2.392.200149.8.5.5 (public rule, SPEC §3). We use the same identifiers so that
verifier software written for real cards reads ours.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from asn1crypto import core
from cryptography import x509
from cryptography.x509 import ObjectIdentifier

from myna.errors import ImpossibleDate, InvalidInput

_ARC = "1.2.392.200149.8.5.5"
OID_NAME = ObjectIdentifier(f"{_ARC}.1")
OID_NAME_ALT = ObjectIdentifier(f"{_ARC}.2")  # name with substitute characters (代替文字)
OID_SEX = ObjectIdentifier(f"{_ARC}.3")
OID_BIRTH = ObjectIdentifier(f"{_ARC}.4")
OID_ADDRESS = ObjectIdentifier(f"{_ARC}.5")
OID_ADDRESS_ALT = ObjectIdentifier(f"{_ARC}.6")


class Sex(str, enum.Enum):
    """Sex codes as in the resident register: 1 male, 2 female, 3 not known."""

    MALE = "1"
    FEMALE = "2"
    UNKNOWN = "3"


# Japanese eras by first day (Gregorian). The birth-date field starts with the era code.
_ERAS: list[tuple[dt.date, int]] = [
    (dt.date(2019, 5, 1), 5),  # Reiwa
    (dt.date(1989, 1, 8), 4),  # Heisei
    (dt.date(1926, 12, 25), 3),  # Showa
    (dt.date(1912, 7, 30), 2),  # Taisho
    (dt.date(1868, 10, 23), 1),  # Meiji
]
EARLIEST_BIRTH = _ERAS[-1][0]
MAX_FIELD_CHARS = 256


def era_code(day: dt.date) -> int:
    for start, code in _ERAS:
        if day >= start:
            return code
    raise ImpossibleDate(f"date of birth {day.isoformat()} is before the Meiji era")


def encode_birth(day: dt.date) -> str:
    """``419900102`` for 1990-01-02: era code, then the Gregorian YYYYMMDD."""
    return f"{era_code(day)}{day:%Y%m%d}"


def decode_birth(text: str) -> dt.date:
    if len(text) != 9 or not text.isdigit():
        raise InvalidInput(f"birth date field {text!r} is not an era digit plus YYYYMMDD")
    day = dt.datetime.strptime(text[1:], "%Y%m%d").date()
    if era_code(day) != int(text[0]):
        raise InvalidInput(f"birth date field {text!r} names the wrong era")
    return day


def _check_text(field: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must not be empty")
    if len(value) > MAX_FIELD_CHARS:
        raise InvalidInput(f"{field} is longer than {MAX_FIELD_CHARS} characters")
    if any(ord(c) < 0x20 for c in value):
        raise InvalidInput(f"{field} contains control characters")
    return value


@dataclass(frozen=True)
class Basic4:
    name: str
    date_of_birth: dt.date
    sex: Sex
    address: str
    name_alt: str | None = None  # with substitute characters; defaults to ``name``
    address_alt: str | None = None

    def __post_init__(self) -> None:
        _check_text("name", self.name)
        _check_text("address", self.address)
        if self.name_alt is not None:
            _check_text("name_alt", self.name_alt)
        if self.address_alt is not None:
            _check_text("address_alt", self.address_alt)
        if not isinstance(self.sex, Sex):
            raise InvalidInput(f"sex must be one of {[s.value for s in Sex]}")
        era_code(self.date_of_birth)  # raises for dates before Meiji

    def to_san(self) -> x509.SubjectAlternativeName:
        fields = [
            (OID_NAME, self.name),
            (OID_NAME_ALT, self.name_alt or self.name),
            (OID_SEX, self.sex.value),
            (OID_BIRTH, encode_birth(self.date_of_birth)),
            (OID_ADDRESS, self.address),
            (OID_ADDRESS_ALT, self.address_alt or self.address),
        ]
        return x509.SubjectAlternativeName([x509.OtherName(oid, core.UTF8String(text).dump()) for oid, text in fields])

    @classmethod
    def from_certificate(cls, cert: x509.Certificate) -> "Basic4":
        """Read the basic 4 information back from a signature certificate."""
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            raise InvalidInput("certificate has no subjectAltName: not a signature certificate") from None
        values = {other.type_id: core.UTF8String.load(other.value).native for other in san.get_values_for_type(x509.OtherName)}
        try:
            return cls(
                name=values[OID_NAME],
                name_alt=values.get(OID_NAME_ALT),
                sex=Sex(values[OID_SEX]),
                date_of_birth=decode_birth(values[OID_BIRTH]),
                address=values[OID_ADDRESS],
                address_alt=values.get(OID_ADDRESS_ALT),
            )
        except KeyError as missing:
            raise InvalidInput(f"certificate lacks basic-4 field {missing}") from None
