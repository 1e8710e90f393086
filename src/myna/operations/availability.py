"""Availability (稼働率) by the formula the sources state (SPEC §8):

    uptime = (service time - outage time) / service time

where both times exclude planned outages (maintenance, and external causes such as a building
power cut that were announced). Outages are intervals; overlapping records of the same service
are merged so that a double-reported incident is not counted twice, and unplanned time that
falls inside a planned window is not an outage (the service was not being offered then).

Pure domain code: intervals in, figures out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Sequence

TARGET = 0.999  # ≥ 99.9 % for the card-related systems (SPEC §8)


@dataclass(frozen=True)
class Outage:
    start: dt.datetime
    end: dt.datetime | None  # None: still going on
    planned: bool


@dataclass(frozen=True)
class Availability:
    window_start: dt.datetime
    window_end: dt.datetime
    service_seconds: float  # the window minus planned outages
    outage_seconds: float  # unplanned, outside planned windows
    planned_seconds: float

    @property
    def ratio(self) -> float | None:
        """None when no service was offered at all in the window (nothing to divide by)."""
        if self.service_seconds <= 0:
            return None
        return (self.service_seconds - self.outage_seconds) / self.service_seconds

    @property
    def meets_target(self) -> bool | None:
        r = self.ratio
        return None if r is None else r >= TARGET


Interval = tuple[dt.datetime, dt.datetime]


def _clip(outages: Iterable[Outage], start: dt.datetime, end: dt.datetime, planned: bool) -> list[Interval]:
    out = []
    for o in outages:
        if o.planned is not planned:
            continue
        a, b = max(o.start, start), min(o.end or end, end)
        if a < b:
            out.append((a, b))
    return out


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def subtract(intervals: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """``intervals`` minus ``holes``; both merged (sorted, disjoint)."""
    out: list[Interval] = []
    for a, b in intervals:
        cur = a
        for h0, h1 in holes:
            if h1 <= cur or h0 >= b:
                continue
            if h0 > cur:
                out.append((cur, h0))
            cur = max(cur, h1)
            if cur >= b:
                break
        if cur < b:
            out.append((cur, b))
    return out


def _seconds(intervals: Iterable[Interval]) -> float:
    return sum((b - a).total_seconds() for a, b in intervals)


def availability(outages: Iterable[Outage], start: dt.datetime, end: dt.datetime) -> Availability:
    if end <= start:
        raise ValueError("the window must end after it starts")
    outages = list(outages)
    planned = merge(_clip(outages, start, end, planned=True))
    unplanned = subtract(merge(_clip(outages, start, end, planned=False)), planned)
    planned_s = _seconds(planned)
    return Availability(start, end, (end - start).total_seconds() - planned_s, _seconds(unplanned), planned_s)
