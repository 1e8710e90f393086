"""/api/v1/operations: outage log, availability (SPEC §8 formula), centre traffic reports."""

import pytest
from fastapi.testclient import TestClient
from myna_testing import table_counts

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.web.app import create_app


@pytest.fixture
def api(platform):
    tokens = Tokens(platform)
    client = TestClient(create_app(platform, schedule=False), raise_server_exceptions=False)
    client.h = {
        role: {"Authorization": f"Bearer {tokens.create(role, 'x', '131016' if role is Role.MUNICIPALITY else None)}"}
        for role in (Role.OPERATOR, Role.AUDITOR, Role.CENTRE, Role.MUNICIPALITY)
    }
    return client


OUTAGE = {
    "service": "jpki-verifier",
    "started_at": "2026-04-01T10:00:00+09:00",
    "ended_at": "2026-04-01T10:30:00+09:00",
    "cause": "network",
}


def test_outage_recorded_by_operator_counts_in_availability(api):
    r = api.post("/api/v1/operations/outages", json=OUTAGE, headers=api.h[Role.OPERATOR])
    assert r.status_code == 201, r.text
    # window 09:00-12:00 JST: 3 h of service, 0.5 h down
    a = api.get(
        "/api/v1/operations/availability",
        params={"start": "2026-04-01T09:00:00+09:00", "end": "2026-04-01T12:00:00+09:00"},
        headers=api.h[Role.AUDITOR],
    ).json()
    assert a["jpki-verifier"]["outage_seconds"] == 1800 and a["jpki-verifier"]["ratio"] == pytest.approx(2.5 / 3)
    assert a["jpki-verifier"]["meets_target"] is False and a["card-management"]["ratio"] == 1.0


def test_ongoing_outage_is_closed_once(api):
    body = {**OUTAGE, "ended_at": None}
    oid = api.post("/api/v1/operations/outages", json=body, headers=api.h[Role.OPERATOR]).json()["id"]
    end = {"ended_at": "2026-04-01T11:00:00+09:00"}
    assert api.post(f"/api/v1/operations/outages/{oid}/end", json=end, headers=api.h[Role.OPERATOR]).status_code == 200
    assert api.post(f"/api/v1/operations/outages/{oid}/end", json=end, headers=api.h[Role.OPERATOR]).status_code == 409
    assert api.post("/api/v1/operations/outages/999/end", json=end, headers=api.h[Role.OPERATOR]).status_code == 404


@pytest.mark.parametrize(
    "change, status",
    [
        ({"service": "bogus"}, 422),
        ({"started_at": "2026-04-01T10:00:00"}, 422),  # no time zone
        ({"ended_at": "2026-04-01T09:00:00+09:00"}, 422),  # ends before it starts
        ({"started_at": "2027-01-01T00:00:00+09:00", "ended_at": None}, 422),  # future
        ({"cause": ""}, 422),
        ({"cause": "x" * 2001}, 422),
    ],
)
def test_bad_outages_are_refused_and_nothing_is_written(api, platform, change, status):
    before = table_counts(platform)
    r = api.post("/api/v1/operations/outages", json={**OUTAGE, **change}, headers=api.h[Role.OPERATOR])
    assert r.status_code == status, r.text
    assert table_counts(platform) == before


def test_roles(api):
    assert api.post("/api/v1/operations/outages", json=OUTAGE, headers=api.h[Role.AUDITOR]).status_code == 403
    assert api.post("/api/v1/operations/outages", json=OUTAGE, headers=api.h[Role.MUNICIPALITY]).status_code == 403
    assert api.get("/api/v1/operations/outages", headers=api.h[Role.MUNICIPALITY]).status_code == 403
    assert api.get("/api/v1/operations/outages").status_code == 401
    traffic = {"centre": "tokyo", "minute": "2026-04-01T03:00:00Z", "ocsp": 5, "crl": 1}
    assert api.post("/api/v1/operations/traffic", json=traffic, headers=api.h[Role.OPERATOR]).status_code == 403
    assert api.post("/api/v1/operations/traffic", json=traffic, headers=api.h[Role.CENTRE]).status_code == 204


@pytest.mark.parametrize(
    "body, status",
    [
        ({"centre": "Tokyo!", "minute": "2026-04-01T03:00:00Z", "ocsp": 1, "crl": 0}, 422),
        ({"centre": "tokyo", "minute": "2026-04-01T03:00:00Z", "ocsp": -1, "crl": 0}, 422),
        ({"centre": "tokyo", "minute": "2027-04-01T03:00:00Z", "ocsp": 1, "crl": 0}, 422),
        ({"centre": "tokyo", "minute": "yesterday", "ocsp": 1, "crl": 0}, 422),
    ],
)
def test_bad_traffic_reports_are_refused(api, platform, body, status):
    before = table_counts(platform)
    assert api.post("/api/v1/operations/traffic", json=body, headers=api.h[Role.CENTRE]).status_code == status
    assert table_counts(platform) == before


def test_traffic_reports_add_up_per_minute(api, platform):
    from myna.operations.service import Operations

    for n in (3, 4):
        api.post(
            "/api/v1/operations/traffic",
            json={"centre": "osaka", "minute": "2026-04-01T02:59:30Z", "ocsp": n, "crl": 1},
            headers=api.h[Role.CENTRE],
        )
    by_hour = Operations(platform).traffic_by_hour(platform.clock.now().replace(hour=0))
    assert list(by_hour["osaka"].values()) == [(7, 2, 0)]
