"""The two-site lab as a whole: bring it up, look at it, break a part of it, mend it.

``myna sites up`` (and ``bash scripts/sites.sh up``) and the drills use this. What runs
where is :mod:`myna.sites.topology`; the engines' configuration is :mod:`myna.sites.configs`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from myna.sites import processes as proc
from myna.sites.configs import etcd_command, haproxy_config, patroni_config, pg_bindir
from myna.sites.topology import APP_USER, DATABASE, SITES, Site, Topology

COMPONENTS = ("etcd", "db", "platform", "centre", "lb")
CENTRE_MAX_LAG_S = 5.0  # a centre answers "good" only within this many seconds of its last sync


class LabError(RuntimeError):
    """A lab operation could not be done; the message says what to do."""


@dataclass(frozen=True)
class LabCredentials:
    operator: str
    municipality: str
    municipality_code: str
    centre: str


Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


class Lab:
    def __init__(self, topology: Topology, progress: Progress = _quiet):
        self.t = topology
        self.base = topology.base
        self.progress = progress

    # -- what is there ----------------------------------------------------------------

    def secrets(self) -> dict[str, str]:
        try:
            return json.loads(self.t.secrets_file.read_text())
        except (OSError, ValueError) as exc:
            raise LabError(f"no lab in {self.base}: run `myna sites up --dir {self.base}` first") from exc

    def tokens(self) -> LabCredentials:
        try:
            return LabCredentials(**json.loads((self.base / "tokens.json").read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise LabError(f"the lab in {self.base} has no tokens yet: run `myna sites up --dir {self.base}`") from exc

    def database_url(self, prefer: str | None = None, writable: bool = True) -> str:
        return self.t.database_url(self.secrets()["myna"], prefer=prefer, writable=writable)

    def cluster(self) -> list[dict]:
        """Patroni's view of the members (name, role, state, lag), from any node that answers."""
        for s in self.t.sites:
            try:
                r = httpx.get(f"http://127.0.0.1:{s.patroni_port}/cluster", timeout=1.0)
                if r.status_code == 200:
                    return r.json().get("members", [])
            except httpx.HTTPError:
                continue
        return []

    def primary(self) -> str | None:
        """The site whose node is the leader, or None while there is none."""
        for m in self.cluster():
            if m.get("role") == "leader" and m.get("state") == "running":
                return m["name"].removeprefix("site-")
        return None

    def status(self) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        members = {m["name"]: m for m in self.cluster()}
        for s in self.t.sites:
            m = members.get(s.node, {})
            out[s.node] = {
                "etcd": proc.running(self.base, f"etcd-{s.name}") is not None,
                "db": m.get("role", "down") if proc.running(self.base, f"patroni-{s.name}") else "down",
                "db_state": m.get("state"),
                "db_lag": m.get("lag"),
                "platform": proc.running(self.base, f"platform-{s.name}") is not None,
                "centre": proc.running(self.base, f"centre-{s.name}") is not None,
                "lb": proc.running(self.base, f"lb-{s.name}") is not None,
                "platform_url": s.platform_url,
                "ocsp_url": s.ocsp_url,
            }
        out["witness"] = {"etcd": proc.running(self.base, "etcd-w") is not None}
        return out

    # -- up and down ------------------------------------------------------------------

    def up(self) -> None:
        """Start whatever is not running; the first time, create the cluster, the CAs and
        the credentials. Idempotent."""
        self._check_tools()
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        first = not self.t.secrets_file.exists()
        if first:
            made = {k: secrets.token_urlsafe(18) for k in ("postgres", "replicator", "myna")}
            # One key for Individual Numbers at both sites (R-NUM-2): a number made at the
            # backup centre must come from the same permutation as one made at the main one.
            made["numbering"] = secrets.token_hex(32)
            self.t.secrets_file.write_text(json.dumps(made))
            os.chmod(self.t.secrets_file, 0o600)
        # Every member first, then the wait: one alone has no quorum and reports unhealthy.
        for m in self.t.etcd:
            self.start("etcd", m.name, wait=False)
        for m in self.t.etcd:
            self.start("etcd", m.name)
        for s in self.t.sites:
            self.start("db", s.name)
        self._wait_sync_pair()
        if first or not (self.base / "tokens.json").exists():
            self._first_time()
        for s in self.t.sites:
            for c in ("platform", "centre", "lb"):
                self.start(c, s.name)

    def down(self, remove: bool = False) -> None:
        for s in self.t.sites:
            for c in ("lb", "centre", "platform"):
                proc.stop(self.base, f"{c}-{s.name}")
        for s in self.t.sites:
            self._stop_db(s, hard=False)
        for m in self.t.etcd:
            proc.stop(self.base, f"etcd-{m.name}")
        if remove:
            shutil.rmtree(self.base, ignore_errors=True)

    # -- one part at a time (the drills' faults and repairs) ---------------------------

    def start(self, component: str, where: str, wait: bool = True) -> None:
        if component not in COMPONENTS:
            raise LabError(f"unknown component {component!r}: one of {', '.join(COMPONENTS)}")
        if component == "etcd":
            m = next((m for m in self.t.etcd if m.name == where), None)
            if m is None:
                raise LabError(f"no etcd member {where!r}: a, b or w (the witness)")
            m.dir.mkdir(parents=True, exist_ok=True)
            proc.start(self.base, f"etcd-{m.name}", etcd_command(self.t, m))
            if wait:
                proc.wait_for(
                    f"etcd-{m.name}", lambda: proc.http_ok(f"http://127.0.0.1:{m.client_port}/health"), 30, self._log(f"etcd-{m.name}")
                )
            return
        site = self._site(where)
        self.progress(f"starting {component} at {site.node}")
        getattr(self, f"_start_{component}")(site, wait)

    def kill(self, component: str, where: str, hard: bool = True) -> None:
        """Stop a part as a failure would: SIGKILL (``hard``) or an orderly stop."""
        if component not in COMPONENTS:
            raise LabError(f"unknown component {component!r}: one of {', '.join(COMPONENTS)}")
        if component == "etcd":
            proc.stop(self.base, f"etcd-{where}", hard=hard)
        elif component == "db":
            self._stop_db(self._site(where), hard=hard)
        else:
            proc.stop(self.base, f"{component}-{self._site(where).name}", hard=hard)

    def kill_site(self, where: str) -> None:
        """The whole site at once (an earthquake): database, platform, centre, balancer, etcd."""
        site = self._site(where)
        for c in ("lb", "centre", "platform", "db"):
            self.kill(c, site.name)
        self.kill("etcd", site.name)

    def start_site(self, where: str) -> None:
        site = self._site(where)
        self.start("etcd", site.name)
        for c in ("db", "platform", "centre", "lb"):
            self.start(c, site.name)

    def pause(self, component: str, where: str) -> None:
        """Freeze a process (SIGSTOP): it holds its sockets but answers nothing, as a hung
        server does; a health check that waits for an answer finds it out."""
        import signal

        proc.signal_group(self.base, f"{component}-{self._site(where).name}", signal.SIGSTOP)

    def resume(self, component: str, where: str) -> None:
        import signal

        proc.signal_group(self.base, f"{component}-{self._site(where).name}", signal.SIGCONT)

    def wait_primary(self, timeout: float = 60.0, not_site: str | None = None) -> str:
        found: list[str] = []

        def check() -> bool:
            p = self.primary()
            if p is not None and p != not_site:
                found.append(p)
                return True
            return False

        proc.wait_for("a primary database", check, timeout)
        return found[-1]

    def wait_sync_pair(self, timeout: float = 120.0) -> None:
        self._wait_sync_pair(timeout)

    # -- the parts --------------------------------------------------------------------

    def _site(self, where: str) -> Site:
        try:
            return self.t.site(where.removeprefix("site-"))
        except ValueError as exc:
            raise LabError(str(exc)) from None

    def _log(self, name: str) -> Path:
        return proc.log_file(self.base, name)

    def _check_tools(self) -> None:
        missing = [t for t in ("etcd", "patroni", "haproxy") if shutil.which(t) is None]
        try:
            pg_bindir()
        except FileNotFoundError:
            missing.append("postgresql")
        if missing:
            raise LabError(
                f"missing: {', '.join(missing)}. On Debian: apt-get install etcd-server patroni haproxy postgresql "
                "(bash scripts/sites.sh installs them)"
            )

    def _start_db(self, site: Site, wait: bool) -> None:
        site.dir.mkdir(parents=True, exist_ok=True)
        (site.dir / "patroni-log").mkdir(exist_ok=True)
        (site.dir / "patroni.yml").write_text(patroni_config(self.t, site, self.secrets()))
        user = proc.server_user()
        if user is not None:
            for p in (site.dir, site.dir / "patroni-log", site.dir / "patroni.yml"):
                os.chown(p, user.pw_uid, user.pw_gid)
            if site.pgdata.exists():
                os.chown(site.pgdata, user.pw_uid, user.pw_gid)
        proc.start(self.base, f"patroni-{site.name}", ["patroni", str(site.dir / "patroni.yml")], as_server_user=True)
        if wait:
            url = f"http://127.0.0.1:{site.patroni_port}/health"
            proc.wait_for(f"the database at {site.node}", lambda: proc.http_ok(url), 120, site.dir / "patroni-log" / "patroni.log")

    def _stop_db(self, site: Site, hard: bool) -> None:
        """Patroni and the PostgreSQL it runs. Hard: both SIGKILLed, as when the machine dies
        (Patroni alone killed would leave its postmaster serving without a lease)."""
        if hard:
            postmaster = self._postmaster(site)
            proc.stop(self.base, f"patroni-{site.name}", hard=True)
            if postmaster:
                try:
                    os.kill(postmaster, 9)
                except ProcessLookupError:
                    pass
            return
        proc.stop(self.base, f"patroni-{site.name}", timeout=30)

    def _postmaster(self, site: Site) -> int | None:
        try:
            return int((site.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _env(self, site: Site) -> dict[str, str]:
        return {
            "MYNA_HOME": str(site.home),
            "MYNA_DATABASE_URL": self.database_url(),
            "MYNA_PUBLIC_URL": site.platform_url,
            "MYNA_LOG_FORMAT": "json",
            "MYNA_NUMBERING_KEY": self.secrets()["numbering"],
        }

    def _myna(self, *args: str, env: dict[str, str]) -> str:
        r = subprocess.run(
            [sys.executable, "-m", "myna.cli", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
        )
        if r.returncode != 0:
            raise LabError(f"myna {' '.join(args[:3])} failed: {r.stderr.strip()[-800:]}")
        return r.stdout

    def _start_platform(self, site: Site, wait: bool) -> None:
        argv = [sys.executable, "-m", "myna.cli", "serve", "--port", str(site.platform_port)]
        proc.start(self.base, f"platform-{site.name}", argv, env=self._env(site))
        if wait:
            url = f"http://127.0.0.1:{site.platform_port}/healthz"
            proc.wait_for(f"the platform at {site.node}", lambda: proc.http_ok(url), 120, self._log(f"platform-{site.name}"))

    def _start_centre(self, site: Site, wait: bool) -> None:
        # The centre reads its own site's database node (the standby at the backup site): the
        # status arrives by PostgreSQL's replication, not by the HTTP feed.
        env = self._env(site) | {"MYNA_DATABASE_URL": self.database_url(prefer=site.name, writable=False)}
        argv = [
            sys.executable, "-m", "myna.cli", "validity", "serve", "--centre", site.centre, "--port", str(site.centre_port),
            "--max-lag", str(CENTRE_MAX_LAG_S),
        ]  # fmt: skip
        proc.start(self.base, f"centre-{site.name}", argv, env=env)
        if wait:
            url = f"http://127.0.0.1:{site.centre_port}/healthz"
            proc.wait_for(f"the centre at {site.node}", lambda: proc.http_ok(url), 120, self._log(f"centre-{site.name}"))

    def _start_lb(self, site: Site, wait: bool) -> None:
        cfg = site.dir / "haproxy.cfg"
        cfg.write_text(haproxy_config(self.t, site))
        check = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True)
        if check.returncode != 0:
            raise LabError(f"haproxy refused its configuration: {check.stderr.strip()[-500:]}")
        proc.start(self.base, f"lb-{site.name}", ["haproxy", "-db", "-f", str(cfg)])
        if wait:
            proc.wait_for(
                f"the load balancer at {site.node}",
                lambda: proc.http_ok(f"http://127.0.0.1:{site.lb_stats_port}/"),
                30,
                self._log(f"lb-{site.name}"),
            )

    def _wait_sync_pair(self, timeout: float = 180.0) -> None:
        """Until one node leads and the other streams as its synchronous standby."""

        def ready() -> bool:
            members = self.cluster()
            roles = sorted(m.get("role", "") for m in members if m.get("state") in ("running", "streaming"))
            return roles == ["leader", "sync_standby"]

        self.progress("waiting for the primary and its synchronous standby")
        proc.wait_for("the database pair (a leader and a synchronous standby)", ready, timeout, self._log("patroni-a"))

    def _psql(self, site: Site, sql: str) -> None:
        psql = pg_bindir() / "psql"
        user = proc.server_user()
        r = subprocess.run(
            [
                str(psql),
                "-h",
                str(site.dir),
                "-p",
                str(site.pg_port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
            cwd="/",
        )
        if r.returncode != 0:
            raise LabError(f"psql at {site.node}: {r.stderr.strip()[-400:]}")

    def _first_time(self) -> None:
        primary = self._site(self.wait_primary())
        pw = self.secrets()["myna"]
        self.progress("creating the platform's database and role")
        self._psql(
            primary,
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_USER}') THEN "
            f"CREATE ROLE {APP_USER} LOGIN PASSWORD '{pw}'; END IF; END $$;",
        )
        try:
            self._psql(primary, f"CREATE DATABASE {DATABASE} OWNER {APP_USER}")
        except LabError as exc:
            if "already exists" not in str(exc):
                raise
        a, b = self.t.sites
        self.progress("key ceremony (myna init) at site a")
        self._myna("init", env=self._env(a))
        # The backup site's copy of the CA keys (file backend): copied once, here. With
        # the PKCS#11 backend the copy is the key-backup ceremony instead.
        if (a.home / "keys").exists():
            shutil.copytree(a.home / "keys", b.home / "keys", dirs_exist_ok=True)
        for s in self.t.sites:
            self._myna("validity", "provision", "--centre", s.centre, env=self._env(s))
        self.progress("credentials for the load and the centres")
        code = "131016"  # Chiyoda, Tokyo: the drills' residents live there
        self._myna("residents", "register-municipality", code, "千代田区", env=self._env(a))

        def token(*args: str) -> str:
            return self._myna("token", "create", *args, env=self._env(a)).strip().splitlines()[-1].split()[-1]

        tokens = LabCredentials(
            operator=token("--role", "operator", "--label", "drill operator"),
            municipality=token("--role", "municipality", "--municipality", code, "--label", "drill counter"),
            municipality_code=code,
            centre=token("--role", "centre", "--label", "drill centre"),
        )
        (self.base / "tokens.json").write_text(json.dumps(tokens.__dict__))
        os.chmod(self.base / "tokens.json", 0o600)

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float) -> None:
        proc.wait_for(what, check, timeout)


def default_dir() -> Path:
    return Path(os.environ.get("MYNA_SITES_DIR") or "/tmp/myna-sites")


__all__ = ["Lab", "LabError", "LabCredentials", "COMPONENTS", "SITES", "default_dir"]
