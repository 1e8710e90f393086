"""Injected time. Domain code asks a clock for "now" and never reads the wall itself,
so expiry, 30-day and CRL schedules can be tested by moving a clock."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

UTC = dt.timezone.utc
JST = dt.timezone(dt.timedelta(hours=9), "JST")


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware (UTC)."""


class SystemClock:
    def now(self) -> dt.datetime:
        # Certificates and CRLs carry whole seconds; dropping microseconds here keeps
        # what we store equal to what we sign.
        return dt.datetime.now(UTC).replace(microsecond=0)

    def precise_now(self) -> dt.datetime:
        """For measuring intervals shorter than a second (e.g. a validity centre's lag)."""
        return dt.datetime.now(UTC)


class FixedClock:
    """A clock for tests and simulations: stands still until moved."""

    def __init__(self, start: dt.datetime):
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware time")
        self._now = start.astimezone(UTC).replace(microsecond=0)

    def now(self) -> dt.datetime:
        return self._now

    def precise_now(self) -> dt.datetime:
        return self._now

    def advance(self, delta: dt.timedelta) -> None:
        self._now = self._now + delta

    def set(self, when: dt.datetime) -> None:
        self._now = when.astimezone(UTC).replace(microsecond=0)
