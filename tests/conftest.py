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
from myna_testing import SOFTHSM_SO_PIN, SOFTHSM_USER_PIN, T0, PooledFileBackend, SoftHsm
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


def _softhsm_unavailable(reason: str) -> None:
    """Skip, unless MYNA_REQUIRE_PKCS11=1 (CI): then fail instead of silently not running."""
    if os.environ.get("MYNA_REQUIRE_PKCS11") == "1":
        pytest.fail(f"MYNA_REQUIRE_PKCS11=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory):
    """A SoftHSM2 token of this test module's own."""
    import secrets
    import shutil

    if shutil.which("softhsm2-util") is None:
        _softhsm_unavailable("softhsm2-util is not installed (Debian/Ubuntu package softhsm2)")
    from myna.pki.keystore_pkcs11 import default_softhsm_module, init_softhsm_token

    module = default_softhsm_module()
    if module is None:
        _softhsm_unavailable("the SoftHSM2 PKCS#11 module libsofthsm2.so was not found")
    try:
        import pkcs11
    except ImportError:
        _softhsm_unavailable("python-pkcs11 is not installed")

    label = f"myna-test-{secrets.token_hex(4)}"
    with pytest.MonkeyPatch.context() as mp:
        env = init_softhsm_token(tmp_path_factory.mktemp("softhsm"), label, SOFTHSM_SO_PIN, SOFTHSM_USER_PIN)
        for name, value in env.items():
            mp.setenv(name, value)
        # SoftHSM2 reads SOFTHSM2_CONF and scans tokens only at C_Initialize, once per
        # process. If an earlier test module already loaded it, make it re-read (this
        # closes every PKCS#11 session in the process, so none may be left open).
        lib = pkcs11.lib(module)
        if not any(t.label == label for t in lib.get_tokens()):
            lib.reinitialize()
        yield SoftHsm(module, label, SOFTHSM_USER_PIN)
