"""Fixtures for the smartphone certificate tests (helpers shared with tests/verifiers)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "verifiers"))

from ver_support import card_service  # noqa: E402

from myna.web.app import create_app  # noqa: E402


@pytest.fixture
def cards(platform):
    return card_service(platform)


@pytest.fixture
def http(platform):
    from fastapi.testclient import TestClient

    with TestClient(create_app(platform, schedule=False)) as client:
        yield client
