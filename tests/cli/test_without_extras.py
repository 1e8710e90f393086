"""The platform runs with the base dependencies only (what ``scripts/run.sh`` installs):
nothing reached by ``myna init``, ``myna demo``, ``myna serve`` or the screens imports an
extra's package, and the PC/SC card tools without pyscard say how to install it.

Each check runs in a child interpreter in which pyscard, python-pkcs11 and psycopg cannot
be imported (the test venv has them all). The fresh-machine run itself, pip and all, is
``scripts/check-fresh-run.sh`` (a CI step of ``scripts/test.sh``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Makes the extras' top-level packages unimportable, as on a venv without them.
BLOCK = textwrap.dedent(
    """
    import sys
    class _NoExtras:
        blocked = ("smartcard", "pkcs11", "psycopg", "psycopg_binary")
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.blocked:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, _NoExtras())
    """
)


def _run(code: str, tmp_path, **env) -> subprocess.CompletedProcess:
    import os

    child_env = {**os.environ, "MYNA_HOME": str(tmp_path / "home"), "MYNA_PUBLIC_URL": "http://127.0.0.1:8123", **env}
    child_env.pop("MYNA_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-c", BLOCK + textwrap.dedent(code)], capture_output=True, text=True, env=child_env, timeout=300)


def test_every_platform_module_imports_and_the_server_starts_without_the_extras(tmp_path):
    done = _run(
        """
        import importlib, pkgutil
        import myna
        for m in pkgutil.walk_packages(myna.__path__, "myna."):
            if ".migrations" not in m.name:
                importlib.import_module(m.name)
        from typer.testing import CliRunner
        from myna.cli import app
        runner = CliRunner()
        for args in (["init"], ["demo", "--residents", "1"]):
            result = runner.invoke(app, args, catch_exceptions=False)
            assert result.exit_code == 0, result.output
        from fastapi.testclient import TestClient
        from myna.authority.platform import Platform
        from myna.web.server import platform_app
        with TestClient(platform_app(Platform.open(), schedule=False)) as client:
            for path in ("/", "/ui/", "/ui/portal", "/docs", "/healthz"):
                r = client.get(path)
                assert r.status_code == 200, (path, r.status_code)
        try:
            import smartcard  # noqa: F401 - the block works: this must fail
        except ModuleNotFoundError as exc:
            print("blocked:", exc.name)
        """,
        tmp_path,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "blocked: smartcard" in done.stdout, done.stdout[-3000:]


def test_card_tools_without_pyscard_say_how_to_install_it(tmp_path):
    done = _run(
        """
        from typer.testing import CliRunner
        from myna.cli import app
        for args in (
            ["chip", "read-certs"],
            ["chip", "login-challenge", "--pin", "1234"],
            ["chip", "sign", "/etc/hostname", "--out", "/dev/null", "--pin", "123456"],
        ):
            result = CliRunner().invoke(app, args)
            print(repr(args), result.exit_code, repr(result.output))
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3, done.stdout
    for line in lines:
        assert " 1 " in line and "pip install 'myna[card]'" in line and "Traceback" not in line, line
