"""The two-site lab: where everything of each site lives on one machine.

The sources' backup centre (000 L612-614) is a second site that takes over issuance,
revocation and validity checks when the first is lost (R-OPS-2). On one machine each site
is a set of processes with its own data directory and ports:

- a PostgreSQL node managed by Patroni (streaming replication, synchronous commit);
- a member of the etcd cluster Patroni elects its leader in (a third member, the witness,
  stands for a third location: with two members, losing either site would lose the quorum);
- the platform (``myna serve``), which reaches whichever node is primary through libpq's
  multi-host connection string (``target_session_attrs=read-write``);
- a validity centre (``myna validity serve``), reading status from its own site's node
  (the database's replication brings it there, R-OPS-2 item 2);
- an HAProxy in front of the platforms and centres, the local ones first and the other
  site's as backup, with HTTP health checks; and one port that leads to the current
  primary database by Patroni's REST check (for operators' tools).

Pure data: ports and paths from a base directory and a base port; nothing is started here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SITES = ("a", "b")
# Members of the etcd cluster: one per site and a witness at a third location.
ETCD_MEMBERS = ("a", "b", "w")
CLUSTER = "myna"  # Patroni's scope
DATABASE = "myna"
APP_USER = "myna"


@dataclass(frozen=True)
class Site:
    name: str  # "a" or "b"
    index: int
    base: Path
    base_port: int

    def _port(self, offset: int) -> int:
        return self.base_port + 100 * self.index + offset

    @property
    def node(self) -> str:
        return f"site-{self.name}"

    @property
    def dir(self) -> Path:
        return self.base / self.node

    # PostgreSQL + Patroni
    @property
    def pg_port(self) -> int:
        return self._port(10)

    @property
    def patroni_port(self) -> int:
        return self._port(11)

    @property
    def pgdata(self) -> Path:
        return self.dir / "pgdata"

    # the platform and its centre
    @property
    def platform_port(self) -> int:
        return self._port(20)

    @property
    def centre_port(self) -> int:
        return self._port(21)

    @property
    def home(self) -> Path:
        """MYNA_HOME of this site's platform and centre (keys, centre bundles)."""
        return self.dir / "home"

    @property
    def centre(self) -> str:
        return f"centre-{self.name}"

    # the load balancer
    @property
    def lb_platform_port(self) -> int:
        return self._port(30)

    @property
    def lb_ocsp_port(self) -> int:
        return self._port(31)

    @property
    def lb_db_port(self) -> int:
        return self._port(32)

    @property
    def lb_stats_port(self) -> int:
        return self._port(33)

    @property
    def platform_url(self) -> str:
        """The site's front door for API clients: its load balancer."""
        return f"http://127.0.0.1:{self.lb_platform_port}"

    @property
    def ocsp_url(self) -> str:
        return f"http://127.0.0.1:{self.lb_ocsp_port}"


@dataclass(frozen=True)
class EtcdMember:
    name: str
    index: int
    base: Path
    base_port: int

    @property
    def client_port(self) -> int:
        return self.base_port + 2 * self.index + 1

    @property
    def peer_port(self) -> int:
        return self.base_port + 2 * self.index + 2

    @property
    def dir(self) -> Path:
        return self.base / f"etcd-{self.name}"

    @property
    def site(self) -> str | None:
        """The site this member stands in (the witness stands in none)."""
        return self.name if self.name in SITES else None


@dataclass(frozen=True)
class Topology:
    base: Path
    base_port: int = 27000

    def __post_init__(self) -> None:
        if not 1024 <= self.base_port <= 65535 - 400:
            raise ValueError("the base port must be between 1024 and 65135 (the lab takes 300 ports above it)")

    @property
    def sites(self) -> tuple[Site, ...]:
        return tuple(Site(n, i + 1, self.base, self.base_port) for i, n in enumerate(SITES))

    def site(self, name: str) -> Site:
        for s in self.sites:
            if s.name == name:
                return s
        raise ValueError(f"no site {name!r}: the sites are {', '.join(SITES)}")

    @property
    def etcd(self) -> tuple[EtcdMember, ...]:
        return tuple(EtcdMember(n, i, self.base, self.base_port) for i, n in enumerate(ETCD_MEMBERS))

    @property
    def etcd_hosts(self) -> str:
        return ",".join(f"127.0.0.1:{m.client_port}" for m in self.etcd)

    @property
    def secrets_file(self) -> Path:
        return self.base / "secrets.json"

    def database_url(self, password: str, prefer: str | None = None, writable: bool = True) -> str:
        """The libpq multi-host URL: the platform takes the primary wherever it is; a centre
        (``writable=False``) takes its own site's node first, primary or standby."""
        order = list(self.sites)
        if prefer is not None:
            order.sort(key=lambda s: s.name != prefer)
        hosts = "&".join(f"host=127.0.0.1:{s.pg_port}" for s in order)
        attrs = "read-write" if writable else "any"
        # connect_timeout: a node that is down answers "refused" at once, but a hung one
        # would hold every new connection for libpq's default (no timeout).
        return f"postgresql+psycopg://{APP_USER}:{password}@/{DATABASE}?{hosts}&target_session_attrs={attrs}&connect_timeout=3"
