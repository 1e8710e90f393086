"""Validity periods computed from the holder's birthday (R-CERT-2, public rule).

- Card certificates run to the holder's 5th birthday after issuance.
- The card runs to the 10th birthday after issuance for holders 18 or older, the 5th
  for holders under 18.
- A signature certificate is not issued, by default, to a person under 15.

"After issuance" (発行の日後) excludes the day of issuance itself. A validity period
ends at the end of that birthday in Japan (23:59:59 JST). For people born on 29 February
the birthday in a common year is taken as 28 February (choice: the earlier date, so a
certificate never outlives the rule).
"""

from __future__ import annotations

import datetime as dt

from myna.clock import JST, UTC
from myna.errors import ImpossibleDate

CERT_BIRTHDAYS = 5
SIGNATURE_MIN_AGE = 15
ADULT_AGE = 18


def birthday_in(year: int, birth: dt.date) -> dt.date:
    if birth.month == 2 and birth.day == 29:
        try:
            return dt.date(year, 2, 29)
        except ValueError:
            return dt.date(year, 2, 28)
    return birth.replace(year=year)


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years of age on ``day``."""
    if day < birth:
        raise ImpossibleDate(f"date of birth {birth.isoformat()} is after {day.isoformat()}")
    years = day.year - birth.year
    if day < birthday_in(day.year, birth):
        years -= 1
    return years


def nth_birthday_after(birth: dt.date, day: dt.date, n: int) -> dt.date:
    first_year = day.year if birthday_in(day.year, birth) > day else day.year + 1
    return birthday_in(first_year + n - 1, birth)


def end_of_day_jst(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=JST).astimezone(UTC)


def issuance_day(issued_at: dt.datetime) -> dt.date:
    return issued_at.astimezone(JST).date()


def check_birth(birth: dt.date, issued_at: dt.datetime) -> None:
    today = issuance_day(issued_at)
    if birth > today:
        raise ImpossibleDate(f"date of birth {birth.isoformat()} is in the future")


def certificate_not_after(birth: dt.date, issued_at: dt.datetime) -> dt.datetime:
    """End of validity of a card certificate issued at ``issued_at`` (R-CERT-2)."""
    check_birth(birth, issued_at)
    return end_of_day_jst(nth_birthday_after(birth, issuance_day(issued_at), CERT_BIRTHDAYS))


def card_not_after(birth: dt.date, issued_at: dt.datetime) -> dt.datetime:
    """End of validity of the card itself (R-CERT-2): 10th birthday for adults, else 5th."""
    check_birth(birth, issued_at)
    day = issuance_day(issued_at)
    n = 10 if age_on(birth, day) >= ADULT_AGE else 5
    return end_of_day_jst(nth_birthday_after(birth, day, n))


def may_hold_signature_certificate(birth: dt.date, issued_at: dt.datetime) -> bool:
    return age_on(birth, issuance_day(issued_at)) >= SIGNATURE_MIN_AGE
