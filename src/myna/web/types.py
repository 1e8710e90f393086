"""The API's constrained values, defined once: the rules the domain checks, stated in the
OpenAPI schema too, so that a client (or a fuzzer) reading the schema knows what is
accepted and a value the schema allows is not refused for its format.

The patterns are the domain's own, taken from it where it has one
(``myna.authority.issuance._REQUEST_ID``, ``myna.chip.chips.CARD_ID``, …): the schema
states them, the domain still checks, and ``tests/web/test_openapi_truth.py`` holds the
two together. What a pattern cannot say (a
municipality code's check digit, a key's validity, a signature) stays a 422 from the
domain, documented on the operation.

Dates: Pydantic's lax mode takes a number as a Unix time for ``date`` and ``datetime``
(``0.5`` became 1970-01-01), and a numeric string in a query the same way. Dates here
are ISO 8601 text only, in bodies and in queries alike.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Callable

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

from myna.authority import issuance
from myna.chip import chips as chip_cards
from myna.errors import InvalidInput
from myna.numbering.codes import check_resident_code
from myna.pki.serials import STORE_WIDTH
from myna.verifiers import registry as verifier_registry


def _domain(check: Callable[[str], object]) -> Callable[[str], str]:
    """A domain check as a Pydantic validator: its InvalidInput becomes the field's error."""

    def validate(value: str) -> str:
        try:
            check(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
        return value

    return validate


# -- identifiers -----------------------------------------------------------------------

REQUEST_ID_PATTERN = issuance._REQUEST_ID.pattern  # registry._EVENT_ID is the same
RESIDENT_CODE_PATTERN = r"^[0-9]{11}$"
MUNICIPALITY_CODE_PATTERN = r"^[0-9]{6}$"
CARD_ID_PATTERN = r"^[0-9A-Fa-f]{4,16}$"  # a card id, or a unique prefix of it (ChipService.resolve)
CARD_ID_FULL_PATTERN = chip_cards.CARD_ID.pattern
# serials.parse takes more (0x, colons, spaces); the schema names the plain form: 1-40 hex
# digits, not all zero (a serial is positive)
SERIAL_PATTERN = rf"^[0-9A-Fa-f]{{0,{STORE_WIDTH - 1}}}[1-9A-Fa-f][0-9A-Fa-f]{{0,{STORE_WIDTH - 1}}}$"
VERIFIER_CODE_PATTERN = verifier_registry.CODE.pattern

RequestId = Annotated[
    str,
    Field(pattern=REQUEST_ID_PATTERN, min_length=1, max_length=200, description="Your idempotency key: 1-200 of A-Z a-z 0-9 . _ : @ / + -"),
]
ResidentCode = Annotated[
    str,
    # the domain's own check (and message); the schema states the same rule
    AfterValidator(_domain(check_resident_code)),
    Field(
        description="11-digit resident-record code (住民票コード)",
        json_schema_extra={"pattern": RESIDENT_CODE_PATTERN, "minLength": 11, "maxLength": 11},
    ),
]
MunicipalityCode = Annotated[
    str,
    Field(
        pattern=MUNICIPALITY_CODE_PATTERN,
        min_length=6,
        max_length=6,
        description="6-digit local-government code: 5 digits and a check digit",
    ),
]
CardId = Annotated[
    str, Field(pattern=CARD_ID_PATTERN, min_length=4, max_length=16, description="card id: 16 of 0-9 A-F, or a unique prefix of 4 or more")
]
Serial = Annotated[
    str, Field(pattern=SERIAL_PATTERN, min_length=1, max_length=STORE_WIDTH, description="certificate serial number: 1-40 hex digits")
]
VerifierCode = Annotated[
    str, Field(pattern=VERIFIER_CODE_PATTERN, min_length=1, max_length=32, description="verifier code: 1-32 of letters, digits and ._-")
]


# -- integers ---------------------------------------------------------------------------

# A row id or a feed position is a BIGINT (SQLite's INTEGER, PostgreSQL's bigint): a number
# past 2^63 - 1 cannot be bound to a query at all (SQLite's driver raises OverflowError,
# PostgreSQL's a DataError), so it is refused as invalid input before any route runs, and
# the schema says so.
BIGINT_MAX = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="a row id (1 to 2^63 - 1)")]


# -- dates -----------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_date(value: object) -> object:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        return value
    raise ValueError("a date is text in the form YYYY-MM-DD")


def _iso_datetime(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        return value
    raise ValueError("a date and time is ISO 8601 text with a UTC offset, e.g. 2026-04-01T09:00:00+09:00")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
IsoAwareDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]


# -- encodings -------------------------------------------------------------------------

# Standard base64 with its padding, as base64.b64decode(validate=True) takes it.
BASE64_PATTERN = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def base64_length(max_bytes: int) -> int:
    """The longest base64 text (whole groups) that decodes to at most ``max_bytes``."""
    return 4 * (max_bytes // 3)


def _base64(value: str) -> str:
    if not value or not re.fullmatch(BASE64_PATTERN, value):
        raise ValueError("not base64 (A-Z a-z 0-9 + /, padded with =)")
    return value


# A base64 field that carries something (a document, a signature, a proof).
Base64 = Annotated[str, AfterValidator(_base64), Field(json_schema_extra={"pattern": BASE64_PATTERN, "minLength": 4})]
