"""The configuration files of the engines each site runs: etcd's command line, Patroni's
YAML, HAProxy's configuration. Text in, text out; the choices are explained where made."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from myna.sites.topology import CLUSTER, EtcdMember, Site, Topology

# Failover timing (Patroni's leader lock): the primary's lease lasts TTL seconds and is
# renewed every LOOP_WAIT; a standby takes over once the lease of a dead primary has run
# out. Patroni requires ttl >= loop_wait + 2 * retry_timeout. These are tighter than
# Patroni's defaults (30/10/10) for the RTO target of 30 s (issue: drills), at the price
# of more etcd traffic, which on a LAN is nothing.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 10, 1, 4


def pg_bindir() -> Path:
    """The newest PostgreSQL server binaries (Debian keeps them off PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise FileNotFoundError("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")


def etcd_command(topology: Topology, member: EtcdMember) -> list[str]:
    peers = ",".join(f"etcd-{m.name}=http://127.0.0.1:{m.peer_port}" for m in topology.etcd)
    return [
        "etcd",
        "--name", f"etcd-{member.name}",
        "--data-dir", str(member.dir / "data"),
        "--listen-client-urls", f"http://127.0.0.1:{member.client_port}",
        "--advertise-client-urls", f"http://127.0.0.1:{member.client_port}",
        "--listen-peer-urls", f"http://127.0.0.1:{member.peer_port}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{member.peer_port}",
        "--initial-cluster", peers,
        "--initial-cluster-state", "new",
        "--initial-cluster-token", f"{CLUSTER}-lab",
        # A member on a loaded two-core machine must not be voted out by a slow heartbeat.
        "--heartbeat-interval", "200",
        "--election-timeout", "2000",
    ]  # fmt: skip


def patroni_config(topology: Topology, site: Site, secrets: dict[str, str], archive_dir: Path | None = None) -> str:
    """Patroni's YAML for one node (JSON is YAML, and needs no YAML writer here)."""
    parameters = {
        "unix_socket_directories": str(site.dir),
        "max_connections": 200,
        "max_wal_senders": 10,
        "max_replication_slots": 10,
        "wal_keep_size": "256MB",
        "hot_standby": "on",
        "wal_log_hints": "on",  # pg_rewind: a failed primary rejoins as a standby without a new base backup
        # An acknowledged commit is applied on the synchronous standby before the client hears
        # of it (R-CERT-3: an issuance or revocation takes effect on recording), so the centre
        # reading that standby already sees it: "remote_apply", not just "on" (flushed there).
        "synchronous_commit": "remote_apply",
    }
    if archive_dir is not None:
        parameters |= {"archive_mode": "on", "archive_command": f"test ! -f {archive_dir}/%f && cp %p {archive_dir}/%f"}
    config = {
        "scope": CLUSTER,
        "namespace": "/service/",
        "name": site.node,
        "log": {"level": "INFO", "dir": str(site.dir / "patroni-log")},
        "restapi": {"listen": f"127.0.0.1:{site.patroni_port}", "connect_address": f"127.0.0.1:{site.patroni_port}"},
        "etcd3": {"hosts": topology.etcd_hosts},
        "bootstrap": {
            "dcs": {
                "ttl": TTL,
                "loop_wait": LOOP_WAIT,
                "retry_timeout": RETRY_TIMEOUT,
                "maximum_lag_on_failover": 1024 * 1024,
                # Patroni promotes only a node that was the synchronous standby, so a failover
                # never loses an acknowledged commit. Not "strict": with the other site gone the
                # survivor goes on accepting writes alone (else losing a site would stop issuance,
                # which is the failure the backup centre exists for).
                "synchronous_mode": True,
                "postgresql": {"use_pg_rewind": True, "use_slots": True, "parameters": parameters},
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
            "pg_hba": [
                "local all all trust",
                "host replication replicator 127.0.0.1/32 scram-sha-256",
                "host all all 127.0.0.1/32 scram-sha-256",
            ],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{site.pg_port}",
            "connect_address": f"127.0.0.1:{site.pg_port}",
            "data_dir": str(site.pgdata),
            "bin_dir": str(pg_bindir()),
            "pgpass": str(site.dir / "pgpass"),
            "authentication": {
                "superuser": {"username": "postgres", "password": secrets["postgres"]},
                "replication": {"username": "replicator", "password": secrets["replicator"]},
                "rewind": {"username": "postgres", "password": secrets["postgres"]},
            },
            "parameters": {"unix_socket_directories": str(site.dir)},
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }
    return json.dumps(config, indent=1)


def haproxy_config(topology: Topology, site: Site) -> str:
    """One site's load balancer: its own platform and centre first, the other site's as
    backup (taken only when every local server is down), health-checked each second."""
    other = next(s for s in topology.sites if s.name != site.name)
    return f"""# Load balancer of {site.node} (generated by myna sites; edits are overwritten)
global
    maxconn 4000
    pidfile {site.dir}/haproxy.pid
    stats socket {site.dir}/haproxy.sock mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 1s
    # A request whose server fails before answering is sent to another once: the platform's
    # writes are idempotent (request ids), so a retry cannot issue twice.
    retries 2
    option redispatch
    default-server inter 1s fall 2 rise 2

listen platform
    bind 127.0.0.1:{site.lb_platform_port}
    option httpchk GET /healthz
    http-check expect status 200
    server {site.node} 127.0.0.1:{site.platform_port} check
    server {other.node} 127.0.0.1:{other.platform_port} check backup

listen ocsp
    bind 127.0.0.1:{site.lb_ocsp_port}
    # 503 from a centre past its lag bound takes it out of rotation (never "good" past it)
    option httpchk GET /healthz
    http-check expect status 200
    server {site.centre} 127.0.0.1:{site.centre_port} check
    server {other.centre} 127.0.0.1:{other.centre_port} check backup

listen postgres
    # The current primary, by Patroni's REST check (200 only on the leader).
    mode tcp
    bind 127.0.0.1:{site.lb_db_port}
    option httpchk GET /primary
    http-check expect status 200
    default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
{chr(10).join(f"    server {s.node} 127.0.0.1:{s.pg_port} check port {s.patroni_port}" for s in topology.sites)}

listen stats
    bind 127.0.0.1:{site.lb_stats_port}
    stats enable
    stats uri /
"""
