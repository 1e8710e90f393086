"""A centre's traffic counts (SPEC §8 operations figures, R-VER-6 provision accounting):
every OCSP answer and CRL download the HTTP fronts give is counted per minute, unsuccessful
answers as errors too, and the sync loop reports each minute to the platform once, to the
store (DbFeed) or over HTTP (HttpFeed); a failed report is kept, a refused one dropped."""

from __future__ import annotations

import datetime as dt

import httpx
from centre_support import ca_cert, issue, request_der
from fastapi.testclient import TestClient
from sqlalchemy import select

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.operations.service import Operations
from myna.store.models_operations import CentreTraffic
from myna.validation.feeds import HttpFeed, TrafficRefused
from myna.validation.http import SyncLoop, crl_body, ocsp_answer
from myna.validation.traffic import TrafficCounter, is_unsuccessful
from myna.web.app import create_app

UTC = dt.timezone.utc


class FakeTime:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_counts_per_minute_and_only_finished_minutes_are_taken():
    now = FakeTime(dt.datetime(2026, 4, 1, 3, 0, 10, tzinfo=UTC).timestamp())
    c = TrafficCounter(now)
    c.ocsp(b"\x30\x82\x01\x00" + b"\x00" * 256)  # a successful response (long form)
    c.ocsp(b"\x30\x03\x0a\x01\x01")  # malformedRequest
    c.crl(True)
    c.crl(False)
    now.t += 60  # 03:01: the 03:00 minute has ended, but the next one has not
    c.ocsp(b"\x30\x03\x0a\x01\x06")  # unauthorized
    assert c.take() == []
    now.t += 60  # 03:02
    assert c.take() == [(dt.datetime(2026, 4, 1, 3, 0, tzinfo=UTC), 2, 2, 2)]
    assert c.take() == []  # taken once
    assert c.take(everything=True) == [(dt.datetime(2026, 4, 1, 3, 1, tzinfo=UTC), 1, 0, 1)]
    c.put_back([(dt.datetime(2026, 4, 1, 3, 0, tzinfo=UTC), 5, 1, 0)])
    assert c.take(everything=True) == [(dt.datetime(2026, 4, 1, 3, 0, tzinfo=UTC), 5, 1, 0)]


def test_unsuccessful_is_only_the_bare_status():
    assert is_unsuccessful(b"\x30\x03\x0a\x01\x03")
    assert not is_unsuccessful(b"\x30\x03\x0a\x01")
    assert not is_unsuccessful(b"\x30\x82\x00\x05\x0a\x01\x00\x00\x00")


def test_in_process_centre_reports_what_it_answered_to_the_store(platform, clock, make_centre, feed):
    """What the fronts answer (ocsp_answer, crl_body: both servers call them) reaches the
    console's table through the sync loop's report, by the centre's clock."""
    issuer = ca_cert(platform, "card-auth")
    good = request_der(issue(platform, "card-auth"), issuer)
    c = make_centre(max_lag_s=3600.0)
    c.sync_once(feed)
    for _ in range(3):
        ocsp_answer(c, good, None, "card-auth")
    ocsp_answer(c, b"\x30\x00", None, "card-auth")  # malformedRequest: an error
    ocsp_answer(c, good, None, "card-sign")  # the wrong CA in the path: unauthorized
    crl_body(c, "no-such-ca")  # not found: an error
    loop = SyncLoop(c, feed)
    assert loop.report_traffic() == 0  # the minute has not ended
    assert loop.report_traffic(everything=True) == 1
    minute = clock.now().replace(second=0, microsecond=0)
    with platform.db.session() as s:
        rows = [(r.centre, r.minute, r.ocsp, r.crl, r.errors) for r in s.scalars(select(CentreTraffic))]
    assert rows == [("test", minute, 5, 1, 3)]
    by_hour = Operations(platform).traffic_by_hour(minute - dt.timedelta(hours=1))
    assert by_hour == {"test": {minute.replace(minute=0): (5, 1, 3)}}


def test_remote_centre_reports_over_http_refused_reports_are_dropped_failed_ones_kept(platform, clock, make_centre):
    token = Tokens(platform).create(Role.CENTRE, "osaka")
    feed = HttpFeed("http://platform", token)
    feed.client = TestClient(create_app(platform, schedule=False), base_url="http://platform", headers={"Authorization": f"Bearer {token}"})
    c = make_centre(max_lag_s=3600.0, name="osaka")
    minute = clock.now().replace(second=0, microsecond=0)
    c.traffic.put_back([(minute, 7, 2, 1)])
    loop = SyncLoop(c, feed)
    assert loop.report_traffic(everything=True) == 1
    with platform.db.session() as s:
        assert [(r.centre, r.ocsp, r.crl, r.errors) for r in s.scalars(select(CentreTraffic))] == [("osaka", 7, 2, 1)]

    # refused by the platform (a minute in its future): dropped, not sent again
    future = minute + dt.timedelta(hours=1)
    try:
        feed.report_traffic("osaka", future, 1, 0, 0)
        raise AssertionError("a minute in the future must be refused")
    except TrafficRefused as refused:
        assert "future" in str(refused)
    c.traffic.put_back([(future, 1, 0, 0)])
    assert loop.report_traffic(everything=True) == 0
    assert c.traffic.take(everything=True) == []

    # the platform unreachable: the counts are kept for the next report
    feed.client = httpx.Client(base_url="http://127.0.0.1:9", timeout=0.5)
    c.traffic.put_back([(minute, 4, 0, 0)])
    assert loop.report_traffic(everything=True) == 0
    assert c.traffic.take(everything=True) == [(minute, 4, 0, 0)]
