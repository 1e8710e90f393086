"""Fixtures for the verifier tests: a card service with pooled keys, verifiers of every
type with tokens, and an in-process HTTP client of the platform app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from ver_support import card_service

from myna.verifiers.registry import VerifierRegistry
from myna.web.app import create_app
from myna.wiring import build


@pytest.fixture
def cards(platform):
    return card_service(platform)


@pytest.fixture
def http(platform):
    with TestClient(create_app(platform, schedule=False)) as client:
        yield client


@pytest.fixture
def enrol(platform):
    """``enrol(code, type, operator=None)`` -> bearer token of a newly registered verifier."""

    def make(code: str, vtype: str, operator: str | None = None) -> str | None:
        VerifierRegistry(platform).register(code, f"{code} Co., Ltd.", vtype, "test", operator)
        if vtype == "entrusting-business":
            return None
        return build(platform).credentials.create_token(code, "test")

    return make
