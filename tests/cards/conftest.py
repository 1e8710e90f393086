"""Fixtures for the card-management tests: services on the ``platform`` fixture with
pooled card keys, and the HTTP API with one token per role."""

from __future__ import annotations

import pytest
from cm_support import CHIYODA, SHINJUKU, KeyPool, registry
from fastapi.testclient import TestClient
from myna_testing import verifier_token

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.web.app import create_app


@pytest.fixture
def keygen() -> KeyPool:
    return KeyPool()


@pytest.fixture
def cm_api(platform):
    registry(platform)
    tokens = Tokens(platform)
    made = {
        "chiyoda": tokens.create(Role.MUNICIPALITY, "clerk", CHIYODA),
        "shinjuku": tokens.create(Role.MUNICIPALITY, "clerk", SHINJUKU),
        "operator": tokens.create(Role.OPERATOR, "op"),
        "auditor": tokens.create(Role.AUDITOR, "audit"),
        "call-centre": tokens.create(Role.CALL_CENTRE, "call"),
        "verifier": verifier_token(platform, Role.VERIFIER_BOTH),
    }
    client = TestClient(create_app(platform, schedule=False), raise_server_exceptions=False)
    client.headers_for = lambda who: {"Authorization": f"Bearer {made[who]}"}
    return client
