"""Shared fixtures. Helpers live in myna_testing.py.

The store under test is SQLite in a temporary data home, or PostgreSQL when
MYNA_TEST_DATABASE_URL names a server (``postgresql+psycopg://user@host:port/postgres``):
then every test gets a database of its own, created and dropped around it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from myna_testing import T0, PooledFileBackend
from sqlalchemy import create_engine, text

from myna.authority.ceremony import run_ceremony
from myna.authority.platform import Platform
from myna.clock import FixedClock
from myna.settings import Settings


@pytest.fixture
def database_url(tmp_path: Path):
    admin_url = os.environ.get("MYNA_TEST_DATABASE_URL")
    if not admin_url:
        yield f"sqlite:///{tmp_path / 'myna.db'}"
        return
    name = f"myna_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin_url.rpartition("/")
    yield f"{base}/{name}"
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url, public_url="http://127.0.0.1:8000")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def bare_platform(settings: Settings, clock: FixedClock):
    """A platform with an empty store and no CA yet."""
    p = Platform.open(settings, clock)
    p._backends["file"] = PooledFileBackend(settings.keys_dir)
    yield p
    p.close()


@pytest.fixture
def platform(bare_platform: Platform) -> Platform:
    """A platform after the key ceremony: root and four issuing CAs."""
    run_ceremony(bare_platform, "test-operator")
    return bare_platform


