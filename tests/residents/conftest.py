"""Fixtures for the resident tests: the HTTP API on the ``platform`` fixture with one
token per role (a clerk for each of three municipalities)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from myna_testing import verifier_token
from residents_support import CHIYODA, OSAKA_KITA, SHINJUKU, registry

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.web.app import create_app


@pytest.fixture
def api(platform):
    """A TestClient with ``api.headers_for(who)``; who: chiyoda, shinjuku, osaka,
    operator, auditor, centre, verifier."""
    registry(platform)  # the three municipalities are registered
    tokens = Tokens(platform)
    made = {
        "chiyoda": tokens.create(Role.MUNICIPALITY, "clerk", CHIYODA),
        "shinjuku": tokens.create(Role.MUNICIPALITY, "clerk", SHINJUKU),
        "osaka": tokens.create(Role.MUNICIPALITY, "clerk", OSAKA_KITA),
        "operator": tokens.create(Role.OPERATOR, "op"),
        "auditor": tokens.create(Role.AUDITOR, "audit"),
        "centre": tokens.create(Role.CENTRE, "centre"),
        "verifier": verifier_token(platform, Role.VERIFIER_BOTH),
    }
    client = TestClient(create_app(platform, schedule=False), raise_server_exceptions=False)
    client.headers_for = lambda who: {"Authorization": f"Bearer {made[who]}"}
    return client


@pytest.fixture
def live_api(api, platform):
    """The same app served by uvicorn in a thread on a local port, for requests that must
    really run at the same time (R-RA-4): ``(base_url, headers_for)``."""
    from race_support import live_server

    with live_server(platform) as url:
        yield url, api.headers_for
