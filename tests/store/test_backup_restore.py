"""Backup and point-in-time restore (scripts/backup.sh) proved by the store digest (R-OPS-2:
a site restored from its backups has lost no acknowledged issuance or revocation up to the
target, and holds nothing after it).

A PostgreSQL server of its own, archiving WAL (scripts/start-postgres.sh --archive): records
issued and revoked through the platform's services, a base backup, more records up to a
moment T1 whose digest is noted, more records after it; then a restore to T1 into a new data
directory on another port, whose `myna store digest` must be T1's and not the final one.
Needs the PostgreSQL server binaries: skipped without them, failed instead under CI=true or
MYNA_REQUIRE_POSTGRES=1, where a skip would hide that nothing was checked.
"""

from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from myna_testing import T0, PooledFileBackend
from records_support import issue_and_revoke
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from myna.authority.ceremony import run_ceremony
from myna.authority.platform import Platform
from myna.cli import app
from myna.clock import FixedClock
from myna.pki.revocation import RevocationReason
from myna.settings import Settings
from myna.wiring import build

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BACKUP = ROOT / "scripts" / "backup.sh"
START_PG = ROOT / "scripts" / "start-postgres.sh"


def _missing(reason: str):
    if os.environ.get("CI") == "true" or os.environ.get("MYNA_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"CI=true or MYNA_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _require_pg_tools() -> None:
    """The server binaries as the scripts find them (scripts/pg-lib.sh), version 15 or later (basic_archive)."""
    bindir = os.environ.get("MYNA_PG_BIN") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)), None)
    if bindir is None and shutil.which("pg_basebackup"):
        bindir = str(Path(shutil.which("pg_basebackup")).parent)
    if bindir is None or not (Path(bindir) / "pg_basebackup").exists():
        _missing("the PostgreSQL server binaries are not installed (Debian package postgresql)")
    out = subprocess.run([str(Path(bindir) / "postgres"), "--version"], capture_output=True, text=True, check=True).stdout
    if int(out.split()[-1].split(".")[0]) < 15:
        _missing(f"PostgreSQL 15 or later is needed for basic_archive, found {out.strip()}")


def _version(path: str) -> int:
    name = Path(path).parent.name
    return int(name) if name.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _script(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def _pairs(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)


def _digest(home: Path, url: str) -> dict:
    """`myna store digest --json` of the store at ``url``, as an operator would run it."""
    env = {"MYNA_HOME": str(home), "MYNA_DATABASE_URL": url}
    result = CliRunner().invoke(app, ["store", "digest", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _server_now(url: str) -> str:
    """The server's clock (commit times in the WAL are its times), ISO 8601 in UTC."""
    engine = create_engine(url)
    with engine.connect() as c:
        now = c.scalar(text("""select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""))
    engine.dispose()
    return now


class Site:
    """The archiving server, its backup repository and the times noted along the way."""

    def __init__(self, work: Path):
        self.work = work
        self.repo = work / "repo"
        self.home = work / "home"
        self.pg_dir: str | None = None
        self.port = 0
        self.url = ""
        self.restored: list[Path] = []

    def url_on(self, port: int) -> str:
        """The platform database's URL on another server (a restored copy)."""
        return self.url.replace(f":{self.port}/", f":{port}/")


@pytest.fixture(scope="module")
def site():
    _require_pg_tools()
    # Under /tmp and world-traversable: the server's own user reads and writes in it.
    work = Path(tempfile.mkdtemp(prefix="myna-backup-test.", dir="/tmp"))
    work.chmod(0o755)
    s = Site(work)
    try:
        started = _script(START_PG, "start", "--archive", s.repo, "--owner", os.getpid(), timeout=180)
        assert started.returncode == 0, started.stderr
        env = dict(tok.split("=", 1) for tok in shlex.split(started.stdout) if "=" in tok)
        s.pg_dir = env["MYNA_PG_DIR"]
        admin_url = env["MYNA_TEST_DATABASE_URL"]
        s.port = int(admin_url.rsplit(":", 1)[1].split("/")[0])
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("CREATE DATABASE myna"))
        admin.dispose()
        s.url = admin_url.rsplit("/", 1)[0] + "/myna"

        p = Platform.open(Settings(home=s.home, database_url=s.url, public_url="http://127.0.0.1:8000"), FixedClock(T0))
        p._backends["file"] = PooledFileBackend(p.settings.keys_dir)
        run_ceremony(p, "backup-test")
        first = issue_and_revoke(p, issue=20, revoke=5, tag="a")
        s.before_base = _server_now(s.url)

        base = _script(BACKUP, "base", "--port", s.port, "--to", s.repo, "--pgdata", Path(s.pg_dir) / "data", "--timeout", 300)
        assert base.returncode == 0, base.stderr
        s.base = _pairs(base.stdout)

        issue_and_revoke(p, issue=10, revoke=3, tag="b")
        build(p).revocation.revoke(first[-1], RevocationReason.REQUEST, "backup-test")  # a record from before the backup
        s.digest_t1 = _digest(s.home, s.url)
        s.t1 = _server_now(s.url)

        issue_and_revoke(p, issue=5, revoke=2, tag="c")
        s.digest_final = _digest(s.home, s.url)
        p.close()
        switched = _script(BACKUP, "switch-wal", "--port", s.port, "--to", s.repo, timeout=180)
        assert switched.returncode == 0, switched.stderr
        yield s
    finally:
        for d in s.restored:
            _script(BACKUP, "stop", "--pgdata", d, timeout=120)
        if s.pg_dir:
            _script(START_PG, "stop", s.pg_dir, timeout=120)
        shutil.rmtree(work, ignore_errors=True)


def test_r_ops_2_a_restore_to_t1_holds_exactly_the_records_of_t1(site):
    into = site.work / "restored"
    port = _free_port()
    site.restored.append(into)
    done = _script(BACKUP, "restore", "--from", site.repo, "--target-time", site.t1, "--into", into, "--port", port)
    assert done.returncode == 0, done.stderr
    result = _pairs(done.stdout)
    assert result["base"] == site.base["label"] and result["action"] == "promote"
    assert result["stopped"].startswith("recovery stopping before commit")  # at T1, not at the end of the archive

    restored = _digest(site.home, site.url_on(port))
    assert restored == site.digest_t1  # counts of every table and the digests of every section
    assert restored["sha256"] != site.digest_final["sha256"]
    assert restored["counts"]["certificates"] < site.digest_final["counts"]["certificates"]
    assert restored["counts"]["revocations"] == site.digest_t1["counts"]["revocations"] >= 9


def test_a_target_before_the_end_of_the_base_backup_is_refused_clearly(site):
    into = site.work / "too-early"
    refused = _script(BACKUP, "restore", "--from", site.repo, "--target-time", site.before_base, "--into", into, "--port", _free_port())
    assert refused.returncode == 2, refused.stderr
    assert f"is before the end of the earliest base backup ({site.base['label']} ended at {site.base['end_time']}" in refused.stderr
    assert not into.exists()  # refused before anything was made
