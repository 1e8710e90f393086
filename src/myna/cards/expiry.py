"""Expiry and renewal windows (R-CARD-8, R-CERT-2). Pure.

The card runs to the holder's 10th birthday after issuance (5th if under 18); its
certificates to the 5th. Notices go out about three months ahead, saying which of the
two is to be renewed; the renewal window opens at the same time.
"""

from __future__ import annotations

import datetime as dt

NOTICE_MONTHS = 3


def add_months(when: dt.datetime, months: int) -> dt.datetime:
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    for day in (when.day, 30, 29, 28):
        try:
            return when.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError("no such month")  # unreachable: every month has a 28th


def window_opens(expires_at: dt.datetime) -> dt.datetime:
    return add_months(expires_at, -NOTICE_MONTHS)


def in_window(expires_at: dt.datetime | None, now: dt.datetime) -> bool:
    return expires_at is not None and window_opens(expires_at) <= now <= expires_at


def what_to_renew(card_expires_at: dt.datetime, certificates_expire_at: dt.datetime | None, now: dt.datetime) -> str | None:
    """``card``, ``certificates``, ``both`` or None (nothing within three months).

    A card renewal brings new certificates too, so a card due is never told to renew
    its certificates separately unless they run out first."""
    card = in_window(card_expires_at, now)
    certs = in_window(certificates_expire_at, now)
    if card and certs:
        return "both"
    if card:
        return "card"
    if certs:
        return "certificates"
    return None
