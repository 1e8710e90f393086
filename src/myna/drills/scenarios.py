"""The failure types the sources drill every month (002 第9表, L694-1057; SPEC R-OPS-3),
each as a fault injected into the running lab and its repair.

A scenario names its victim when the fault is injected (the primary database may be at
either site by then), and says what the drill holds it to beyond the common promises
(no acknowledged write lost, no "good" for a revoked certificate past the bound).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from myna.sites.lab import Lab

Note = Callable[[str], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    what: str  # the fault, in a sentence, for `myna drill list` and the report
    inject: Callable[[Lab, Note], str]  # returns the victim site
    restore: Callable[[Lab, str, Note], None]
    counter_rto_target_s: float | None = 30.0  # the platform back within this (R-OPS-2)
    verifier_rto_target_s: float | None = 0.0  # OCSP through the failover client: never down
    load: bool = True


def _primary(lab: Lab) -> str:
    return lab.primary() or "a"


def _db_failover_inject(lab: Lab, note: Note) -> str:
    victim = _primary(lab)
    note(f"the primary database at site-{victim} is killed (Patroni and PostgreSQL, SIGKILL)")
    lab.kill("db", victim)
    return victim


def _db_failover_restore(lab: Lab, victim: str, note: Note) -> None:
    note(f"site-{victim}'s database node is started again; it rejoins as a standby")
    lab.start("db", victim)
    lab.wait_sync_pair()
    note("the pair is synchronous again")


def _site_loss_inject(lab: Lab, note: Note) -> str:
    victim = _primary(lab)
    note(f"site-{victim} is lost whole (earthquake): database, platform, centre, load balancer and etcd member, SIGKILL")
    lab.kill_site(victim)
    return victim


def _site_loss_restore(lab: Lab, victim: str, note: Note) -> None:
    note(f"site-{victim} is rebuilt: every process started again")
    lab.start_site(victim)
    lab.wait_sync_pair()
    note("the pair is synchronous again")


def _lb_inject(lab: Lab, note: Note) -> str:
    victim = "a"
    note("site-a's load balancer is cut off (killed): clients must come in through site-b's")
    lab.kill("lb", victim)
    return victim


def _lb_restore(lab: Lab, victim: str, note: Note) -> None:
    note(f"site-{victim}'s load balancer is back")
    lab.start("lb", victim)


def _pair_inject(lab: Lab, note: Note) -> str:
    victim = "a"
    note("site-a's platform server and centre hang (SIGSTOP): their halves of the redundant pairs are detached")
    lab.pause("platform", victim)
    lab.pause("centre", victim)
    return victim


def _pair_restore(lab: Lab, victim: str, note: Note) -> None:
    note(f"site-{victim}'s platform server and centre are resumed")
    lab.resume("platform", victim)
    lab.resume("centre", victim)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "db-failover",
            "Database failover (データベースのフェイルオーバー)",
            "kill the primary PostgreSQL node; Patroni promotes the synchronous standby at the other site",
            _db_failover_inject,
            _db_failover_restore,
        ),
        Scenario(
            "site-loss",
            "Loss of a whole centre (被災によるセンター停止)",
            "kill everything at the primary's site: database, platform, validity centre, load balancer, etcd member",
            _site_loss_inject,
            _site_loss_restore,
        ),
        Scenario(
            "lb-isolation",
            "Load-balancer isolation (負荷分散装置の切り離し)",
            "kill site-a's HAProxy; clients reach the platform and the centres through site-b's",
            _lb_inject,
            _lb_restore,
        ),
        Scenario(
            "pair-detach",
            "One side of a redundant pair detached (冗長構成の片系切り離し)",
            "freeze site-a's platform server and centre; the balancers' health checks take them out",
            _pair_inject,
            _pair_restore,
        ),
    )
}
