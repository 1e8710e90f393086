"""The lead-time clock (R-CARD-4): days from an application's receipt to its shipment,
counted on the J-LIS calendar, which leaves out the New Year holidays (年末年始,
29 December to 3 January).

Days are JST calendar days. The day of receipt is day 0, so an application received on
1 April and shipped on 15 April took 14 days; a deadline of N days is the N-th counted
day after receipt. Pure: no store, no clock.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

STANDARD_DAYS = 14  # R-CARD-4: at most 14 days, New Year holidays excluded
EXPRESS_DAYS = 5  # 特急発行: newborns, reissue after loss, move-in from abroad
ALERT_DAYS = 2  # alert when this many counted days or fewer are left


def is_holiday(day: dt.date) -> bool:
    """29 Dec - 3 Jan: the days the lead-time clock does not count."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def add_days(start: dt.date, days: int) -> dt.date:
    """The ``days``-th counted day after ``start`` (holidays skipped)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    while days:
        day += dt.timedelta(days=1)
        if not is_holiday(day):
            days -= 1
    return day


def days_between(start: dt.date, end: dt.date) -> int:
    """Counted days from ``start`` to ``end`` (0 if the same day; holidays not counted)."""
    if end < start:
        raise ValueError("end is before start")
    total = (end - start).days
    # Count holidays in (start, end]; at most a few per year, so walk only those years.
    skipped = 0
    for year in range(start.year, end.year + 1):
        for day in [dt.date(year, 1, d) for d in (1, 2, 3)] + [dt.date(year, 12, d) for d in (29, 30, 31)]:
            if start < day <= end:
                skipped += 1
    return total - skipped


def allowed_days(express: bool) -> int:
    return EXPRESS_DAYS if express else STANDARD_DAYS


def due_on(received_on: dt.date, express: bool) -> dt.date:
    return add_days(received_on, allowed_days(express))


def days_left(today: dt.date, due: dt.date) -> int:
    """Counted days left until ``due`` (negative once it has passed)."""
    return days_between(today, due) if today <= due else -days_between(due, today)


@dataclass(frozen=True)
class LeadStats:
    period: str  # a day (YYYY-MM-DD) or a month (YYYY-MM)
    shipped: int
    max_days: int
    mean_days: float
    over_deadline: int

    def to_json(self) -> dict:
        return {
            "period": self.period,
            "shipped": self.shipped,
            "max_days": self.max_days,
            "mean_days": round(self.mean_days, 2),
            "over_deadline": self.over_deadline,
        }


def report(rows: list[tuple[dt.date, int, bool]], by: str) -> list[LeadStats]:
    """Max and mean lead time of shipped applications per shipment ``day`` or ``month``.
    ``rows``: (shipped on, counted days, express)."""
    if by not in ("day", "month"):
        raise ValueError("by must be day or month")
    groups: dict[str, list[tuple[int, bool]]] = {}
    for shipped_on, days, express in rows:
        key = shipped_on.isoformat() if by == "day" else shipped_on.strftime("%Y-%m")
        groups.setdefault(key, []).append((days, express))
    return [
        LeadStats(
            period=key,
            shipped=len(items),
            max_days=max(d for d, _ in items),
            mean_days=statistics.fmean(d for d, _ in items),
            over_deadline=sum(1 for d, e in items if d > allowed_days(e)),
        )
        for key, items in sorted(groups.items())
    ]
