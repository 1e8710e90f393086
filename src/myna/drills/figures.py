"""The figures of a drill, from what the load saw: outages, availability by the sources'
formula (SPEC §8, :mod:`myna.operations.availability`), time to recover, and answers of
"good" for a certificate whose revocation had been acknowledged longer than the bound ago.

Pure: attempts and timestamps in, numbers out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from myna.drills.load import Attempt
from myna.operations.availability import Outage, availability

SERVICES = ("counter", "verifier")


def _utc(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc)


def outages(attempts: Iterable[Attempt], service: str) -> list[tuple[float, float | None]]:
    """Spans in which ``service`` was failing: from a failed attempt (when it was sent) to
    the answer of the first success that was sent after the span began. A request already
    in flight when things went wrong does not end the span by succeeding: the service is
    back when a request that started after the failure gets an answer. A span still open
    at the end has no end (None)."""
    events = sorted(
        ((a.at + a.took, True, a.at) if a.ok else (a.at, False, a.at)) for a in attempts if a.service == service
    )  # fmt: skip
    spans: list[tuple[float, float | None]] = []
    start: float | None = None
    for t, ok, sent in events:
        if ok and start is not None and sent >= start:
            spans.append((start, t))
            start = None
        elif not ok and start is None:
            start = t
    if start is not None:
        spans.append((start, None))
    return spans


def availability_of(attempts: list[Attempt], service: str, window: tuple[float, float]) -> float | None:
    spans = [Outage(_utc(a), _utc(b) if b is not None else None, planned=False) for a, b in outages(attempts, service)]
    return availability(spans, _utc(window[0]), _utc(window[1])).ratio


def rto(attempts: list[Attempt], service: str, fault_at: float, repair_at: float) -> float | None:
    """Seconds from the fault until the service is back for good: the end of the last
    outage that began while the fault lasted (0 if the service never failed then; None if
    that outage never ended). The last, not the first: a fault injected in steps (a site's
    parts killed one after another) can cause a blip before the outage itself."""
    during = [(a, b) for a, b in outages(attempts, service) if fault_at <= a <= repair_at or (a < fault_at and (b is None or b > fault_at))]
    if not during:
        return 0.0
    end = during[-1][1]
    return None if end is None else max(0.0, end - fault_at)


@dataclass(frozen=True)
class GoodAfterRevocation:
    serial: str
    revoked_ack_at: float
    answered_at: float
    centre: str


def good_after_bound(checks: list[tuple[float, str, str, str]], revoked: dict[str, float], bound_s: float) -> list[GoodAfterRevocation]:
    """Answers of "good" given more than ``bound_s`` after the revocation was acknowledged."""
    out = []
    for at, serial, status, centre in checks:
        acked = revoked.get(serial)
        if acked is not None and status == "good" and at > acked + bound_s:
            out.append(GoodAfterRevocation(serial, acked, at, centre))
    return out


def per_second(attempts: list[Attempt], start: float, end: float) -> dict[str, list[int]]:
    """Counts per second of the window: ok and failed, per service (for the timeline)."""
    n = max(1, int(end - start) + 1)
    series = {f"{s} {k}": [0] * n for s in SERVICES for k in ("ok", "failed")}
    for a in attempts:
        i = int(a.at - start)
        if 0 <= i < n:
            series[f"{a.service} {'ok' if a.ok else 'failed'}"][i] += 1
    return series
