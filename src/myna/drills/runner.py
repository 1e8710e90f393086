"""Running one drill: the lab up, the load on, the fault, the repair, the findings, the report."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from myna.drills import figures, findings, report
from myna.drills.load import Load
from myna.drills.scenarios import SCENARIOS, Scenario
from myna.sites.lab import CENTRE_MAX_LAG_S, Lab

# A centre answers from data at most CENTRE_MAX_LAG_S old, and polls its store every
# 0.2 s; a revocation acknowledged at t may still be answered "good" until then (R-VAL).
BOUND_S = CENTRE_MAX_LAG_S + 1.0


@dataclass(frozen=True)
class Timing:
    warmup_s: float = 15.0  # steady load before the fault
    hold_s: float = 30.0  # the fault stays this long before the repair starts
    cooldown_s: float = 15.0  # load after the repair is done
    workers: int = 3
    patience_s: float = 120.0


class _Watcher(threading.Thread):
    """Notes when the primary database moves (Patroni's view), twice a second."""

    def __init__(self, lab: Lab, note: Callable[[str], None]):
        super().__init__(name="drill-watcher", daemon=True)
        self.lab, self.note = lab, note
        self.stop = threading.Event()

    def run(self) -> None:
        last = self.lab.primary()
        while not self.stop.wait(0.5):
            now = self.lab.primary()
            if now != last:
                self.note(f"primary database: {'none' if now is None else 'site-' + now}")
                last = now


def run(lab: Lab, scenario: Scenario | str, directory: Path, timing: Timing = Timing(), progress=print) -> dict:
    sc = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    run_id = f"{sc.name}-{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(2)}"
    progress(f"drill {sc.name} ({run_id}): bringing the lab up")
    lab.up()
    lab.wait_sync_pair()
    tokens = lab.tokens()
    doors = [s.platform_url for s in lab.t.sites]
    ocsp = [s.ocsp_url for s in lab.t.sites]
    timeline: list[tuple[float, str]] = []
    marks: list[tuple[float, str]] = []

    def note(event: str) -> None:
        timeline.append((time.time(), event))
        progress(event)

    load = Load(
        doors,
        ocsp,
        tokens.operator,
        tokens.municipality,
        tokens.municipality_code,
        run_id,
        workers=timing.workers,
        patience=timing.patience_s,
    )
    watcher = _Watcher(lab, note)
    start = time.time()
    note(f"load started ({timing.workers} workers)")
    load.start()
    watcher.start()
    time.sleep(timing.warmup_s)
    fault_at = time.time()
    marks.append((fault_at, "fault"))
    victim = sc.inject(lab, note)
    time.sleep(max(0.0, fault_at + timing.hold_s - time.time()))
    repair_at = time.time()
    marks.append((repair_at, "repair"))
    sc.restore(lab, victim, note)
    time.sleep(timing.cooldown_s)
    note("load stopping")
    load.stop()
    watcher.stop.set()
    end = time.time()
    note("checking every acknowledged write")
    found = findings.check(load.seen, doors, tokens.operator, lab.database_url(), run_id)
    seen = load.seen
    good_late = figures.good_after_bound(seen.checks, seen.revoked, BOUND_S)
    window = (start, end)
    rto = {s: figures.rto(seen.attempts, s, fault_at, repair_at) for s in figures.SERVICES}
    avail = {s: figures.availability_of(seen.attempts, s, window) for s in figures.SERVICES}
    errors = sum(1 for a in seen.attempts if not a.ok)
    promises = [
        {"promise": "no acknowledged write lost (R-OPS-2)", "figure": found.lost_count, "held": found.lost_count == 0},
        {"promise": "nothing issued twice", "figure": len(found.twice), "held": not found.twice},
        {
            "promise": f"no 'good' for a revoked certificate past {BOUND_S:.0f} s",
            "figure": len(good_late),
            "held": not good_late,
        },
    ]
    if sc.counter_rto_target_s is not None:
        r = rto["counter"]
        promises.append(
            {
                "promise": f"platform back within {sc.counter_rto_target_s:.0f} s",
                "figure": r,
                "held": r is not None and r <= sc.counter_rto_target_s,
            }
        )
    if sc.verifier_rto_target_s is not None:
        r = rto["verifier"]
        promises.append(
            {
                "promise": f"OCSP through the failover client down at most {sc.verifier_rto_target_s:.0f} s",
                "figure": r,
                "held": r is not None and r <= sc.verifier_rto_target_s,
            }
        )
    promises.append({"promise": "the load made progress", "figure": len(seen.issued), "held": len(seen.issued) > 0})
    body = {
        "scenario": sc.name,
        "title": sc.title,
        "fault": sc.what,
        "victim": f"site-{victim}",
        "run_id": run_id,
        "passed": all(p["held"] for p in promises),
        "acknowledged_writes_lost": found.lost_count,
        "issued_twice": len(found.twice),
        "revoked_answered_good_after_bound": len(good_late),
        "bound_seconds": BOUND_S,
        "rto_seconds": rto["counter"],
        "rto_by_service": rto,
        "requests": len(seen.attempts),
        "errors": errors,
        "availability": avail["counter"],
        "availability_by_service": avail,
        "acknowledged": found.checked,
        "ocsp_checks": len(seen.checks),
        "given_up": [f"{op} {key}" for op, key in seen.given_up][:50],
        "promises": promises,
        "lost": found.lost[:100],
        "twice": found.twice[:100],
        "good_after_bound": [g.__dict__ for g in good_late[:100]],
        "started_at": report._at(start),
        "fault_at": report._at(fault_at),
        "repair_at": report._at(repair_at),
        "ended_at": report._at(end),
        "timeline": [{"t": round(t - start, 2), "at": report._at(t), "event": e} for t, e in timeline],
        "load": {"workers": timing.workers, "warmup_s": timing.warmup_s, "hold_s": timing.hold_s, "patience_s": timing.patience_s},
    }
    paths = report.write(directory, body, figures.per_second(seen.attempts, start, end), start, marks)
    progress(f"drill {sc.name}: {'PASSED' if body['passed'] else 'FAILED'}; report in {paths[1]}")
    return body
