"""Availability by the sources' formula (SPEC §8): (service − outage) ÷ service, planned excluded."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from myna.operations.availability import Outage, availability, merge, subtract

T = dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)


def test_no_outage_is_full_availability():
    a = availability([], T, T + 24 * H)
    assert a.ratio == 1.0 and a.meets_target and a.service_seconds == 86400


def test_planned_time_leaves_the_denominator_and_is_no_outage():
    a = availability([Outage(T, T + 2 * H, planned=True)], T, T + 10 * H)
    assert a.service_seconds == 8 * 3600 and a.outage_seconds == 0 and a.ratio == 1.0


def test_overlapping_reports_of_one_incident_count_once():
    a = availability([Outage(T, T + 2 * H, False), Outage(T + H, T + 3 * H, False)], T, T + 10 * H)
    assert a.outage_seconds == 3 * 3600 and a.ratio == pytest.approx(0.7)


def test_unplanned_time_inside_maintenance_is_not_counted():
    a = availability([Outage(T + H, T + 3 * H, True), Outage(T + 2 * H, T + 4 * H, False)], T, T + 10 * H)
    assert a.planned_seconds == 2 * 3600 and a.outage_seconds == 3600 and a.ratio == pytest.approx(7 / 8)


def test_ongoing_outage_runs_to_the_window_end_and_outside_parts_are_clipped():
    a = availability([Outage(T - 5 * H, T + H, False), Outage(T + 9 * H, None, False)], T, T + 10 * H)
    assert a.outage_seconds == 2 * 3600


def test_fy2021_counter_figure_is_below_target():
    """99.92 % (the FY2021 JPKI counter figure) meets 99.9 %; 99.8 % does not."""
    year = dt.timedelta(days=365)
    ok = availability([Outage(T, T + year * 0.0008, False)], T, T + year)
    bad = availability([Outage(T, T + year * 0.002, False)], T, T + year)
    assert ok.ratio == pytest.approx(0.9992) and ok.meets_target
    assert bad.meets_target is False


def test_a_window_all_planned_has_no_ratio():
    a = availability([Outage(T, T + H, True)], T, T + H)
    assert a.ratio is None and a.meets_target is None


def test_the_window_must_be_forward():
    with pytest.raises(ValueError):
        availability([], T, T)


minutes = st.integers(0, 600).map(lambda m: T + dt.timedelta(minutes=m))
outages = st.lists(st.tuples(minutes, minutes, st.booleans()).map(lambda x: Outage(min(x[0], x[1]), max(x[0], x[1]), x[2])), max_size=12)


@given(outages)
def test_properties(outs):
    a = availability(outs, T, T + 10 * H)
    assert 0 <= a.outage_seconds <= a.service_seconds + 1e-9
    assert a.service_seconds + a.planned_seconds == 36000
    if a.ratio is not None:
        assert 0.0 <= a.ratio <= 1.0
    # Minute by minute, the same figures by brute force.
    down = planned = 0
    for i in range(600):
        t0 = T + dt.timedelta(minutes=i)
        is_planned = any(o.planned and o.start <= t0 < o.end for o in outs)
        planned += is_planned
        down += (not is_planned) and any((not o.planned) and o.start <= t0 < o.end for o in outs)
    assert a.planned_seconds == planned * 60 and a.outage_seconds == down * 60


def test_merge_and_subtract():
    assert merge([(T + H, T + 2 * H), (T, T + H)]) == [(T, T + 2 * H)]
    assert subtract([(T, T + 4 * H)], [(T + H, T + 2 * H)]) == [(T, T + H), (T + 2 * H, T + 4 * H)]
