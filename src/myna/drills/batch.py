"""The batch failover drill: the primary database killed in the middle of a big issuance
batch (``myna cert issue-batch``'s path). It must lose no certificate whose chunk was
acknowledged, and running the same batch again must finish it without issuing any twice
(requests are idempotent by request id, R-CERT-3).

The batch runs in this process through the platform's own services, connected to the lab
the way each site's platform is (libpq multi-host, read-write), with site a's keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import random
import secrets
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import create_engine, text

from myna import wiring
from myna.authority.batch import load_requests
from myna.authority.platform import Platform
from myna.drills import report
from myna.pki import serials
from myna.pki.basic4 import Basic4, Sex
from myna.residents.bulk import register_bulk
from myna.settings import Settings
from myna.sites.lab import Lab

MUNICIPALITY = "131016"


def _requests_file(path: Path, run_id: str, codes: list[str]) -> list[str]:
    ids = []
    with path.open("w") as f:
        for i, code in enumerate(codes):
            pem = (
                ec.generate_private_key(ec.SECP256R1())
                .public_key()
                .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                .decode()
            )
            rid = f"batch-{run_id}-{i}"
            ids.append(rid)
            f.write(json.dumps({"request_id": rid, "kind": "card-auth", "public_key_pem": pem, "resident_code": code}) + "\n")
    return ids


def _open(lab: Lab) -> Platform:
    site = lab.t.site("a")
    os.environ.setdefault("MYNA_NUMBERING_KEY", lab.secrets()["numbering"])  # the sites' own key (R-NUM-2)
    settings = dataclasses.replace(Settings.from_env(home=site.home), database_url=lab.database_url())
    return Platform.open(settings, migrate=False)


def _stored(lab: Lab, run_id: str) -> list[tuple[str, str]]:
    engine = create_engine(lab.database_url())
    try:
        with engine.connect() as c:
            return [
                (r[0], r[1])
                for r in c.execute(text("SELECT request_id, serial FROM certificates WHERE request_id LIKE :p"), {"p": f"batch-{run_id}-%"})
            ]
    finally:
        engine.dispose()


def run(lab: Lab, directory: Path, n: int = 10_000, chunk: int = 100, kill_at: float = 0.5, progress=print) -> dict:
    if not 1 <= n <= 100_000:
        raise ValueError("the batch must have 1 to 100,000 requests")
    if not 0.0 < kill_at < 1.0:
        raise ValueError("kill_at is a fraction of the batch, between 0 and 1")
    run_id = f"{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(2)}"
    timeline: list[tuple[float, str]] = []

    def note(event: str) -> None:
        timeline.append((time.time(), event))
        progress(event)

    lab.up()
    lab.wait_sync_pair()
    directory.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(run_id)
    codes = sorted({f"8{rnd.randrange(10**9, 10**10):010d}" for _ in range(n * 2)})[:n]
    platform = _open(lab)
    register_bulk(platform, codes, MUNICIPALITY, Basic4("訓練 一括", dt.date(1980, 4, 1), Sex.FEMALE, "東京都千代田区千代田1-1"))
    path = directory / "batch.jsonl"
    _requests_file(path, run_id, codes)
    requests = load_requests(path, platform.clock.now(), platform)
    note(f"batch of {n} requests checked; issuing in chunks of {chunk}")

    acknowledged: dict[str, str] = {}
    per_second: dict[int, int] = {}
    killer: list[threading.Thread] = []
    victim = lab.primary() or "a"
    fault_at = 0.0
    start = time.time()
    error = None

    def kill_when_due() -> None:
        nonlocal fault_at
        if not killer and len(acknowledged) >= kill_at * n:
            fault_at = time.time()
            note(f"{len(acknowledged)} acknowledged; the primary database at site-{victim} is killed")
            killer.append(threading.Thread(target=lab.kill, args=("db", victim), daemon=True))
            killer[0].start()

    try:
        _issue(platform, requests, chunk, acknowledged, per_second, start, kill_when_due)
    except Exception as exc:  # what a batch sees when its database dies: the driver's error
        error = type(exc).__name__
        note(f"the batch stopped: {error} after {len(acknowledged)} acknowledged")
    finally:
        platform.close()
    if killer:
        killer[0].join()
    at_failure = dict(acknowledged)
    new_primary = lab.wait_primary(timeout=90, not_site=victim)
    note(f"primary database: site-{new_primary}")
    stored_after_failover = dict(_stored(lab, run_id))
    lost = [rid for rid, serial in at_failure.items() if stored_after_failover.get(rid) != serial]
    note("the same batch run again")
    rerun_at = time.time()
    first_success: list[float] = []
    platform = _open(lab)
    try:
        before = len(acknowledged)

        def first() -> None:
            if not first_success:
                first_success.append(time.time())

        # The same requests: the chunks wholly acknowledged are skipped, the rest sent again.
        _issue(platform, requests, chunk, acknowledged, per_second, start, first)
        note(f"the rerun settled {len(acknowledged) - before} more")
    finally:
        platform.close()
    end = time.time()
    stored = _stored(lab, run_id)
    by_id: dict[str, list[str]] = {}
    for rid, serial in stored:
        by_id.setdefault(rid, []).append(serial)
    twice = sorted(rid for rid, s in by_id.items() if len(s) > 1)
    changed = [rid for rid, serial in at_failure.items() if by_id.get(rid) != [serial]]
    missing = n - len(by_id)
    note(f"site-{victim}'s database node is started again")
    lab.start("db", victim)
    lab.wait_sync_pair()
    note("the pair is synchronous again")
    rto = (first_success[0] - fault_at) if first_success and fault_at else None
    promises = [
        {"promise": "no acknowledged certificate lost at the failover", "figure": len(lost), "held": not lost},
        {"promise": "an acknowledged certificate keeps its serial through the rerun", "figure": len(changed), "held": not changed},
        {"promise": "nothing issued twice", "figure": len(twice), "held": not twice},
        {"promise": "the rerun finishes the batch", "figure": missing, "held": missing == 0},
        {"promise": "the fault hit the batch mid-way", "figure": error, "held": error is not None and len(at_failure) < n},
    ]
    body = {
        "scenario": "batch-failover",
        "title": "Database failover during a big issuance batch",
        "fault": f"kill the primary database after {kill_at:.0%} of a {n}-request batch",
        "victim": f"site-{victim}",
        "run_id": run_id,
        "passed": all(p["held"] for p in promises),
        "acknowledged_writes_lost": len(lost) + len(changed),
        "issued_twice": len(twice),
        "revoked_answered_good_after_bound": 0,  # no revocations in this drill
        "rto_seconds": rto,
        "rto_by_service": {"counter": rto, "verifier": None},
        "requests": n,
        "errors": 1 if error else 0,
        "availability": None,
        "availability_by_service": {"counter": None, "verifier": None},
        "acknowledged": {"issuances": len(at_failure), "revocations": 0, "events": 0, "applications": 0},
        "acknowledged_before_fault": len(at_failure),
        "settled_by_rerun": n - len(at_failure) - missing,
        "batch_error": error,
        "given_up": [],
        "promises": promises,
        "lost": lost[:100] + changed[:100],
        "twice": twice[:100],
        "good_after_bound": [],
        "started_at": report._at(start),
        "fault_at": report._at(fault_at) if fault_at else None,
        "repair_at": report._at(rerun_at),
        "ended_at": report._at(end),
        "timeline": [{"t": round(t - start, 2), "at": report._at(t), "event": e} for t, e in timeline],
        "load": {"workers": 1, "batch": n, "chunk": chunk, "patience_s": 0.0},
    }
    length = int(end - start) + 1
    series = {"counter ok": [per_second.get(i, 0) for i in range(length)]}
    report.write(directory, body, series, start, [(fault_at, "fault"), (rerun_at, "rerun")] if fault_at else [])
    path.unlink(missing_ok=True)  # 10,000 public keys: not worth keeping
    progress(f"drill batch-failover: {'PASSED' if body['passed'] else 'FAILED'}; report in {directory / 'report.md'}")
    return body


def _issue(platform: Platform, requests, chunk: int, acknowledged: dict[str, str], per_second: dict[int, int], start: float, after_chunk):
    """Issue the chunks not yet wholly acknowledged, noting each answer as it comes."""
    service = wiring.build(platform).issuance
    parts = [requests[i : i + chunk] for i in range(0, len(requests), chunk)]
    todo = [p for p in parts if not all(r.request_id in acknowledged for r in p)]
    for part, issued in zip(todo, service.issue_chunks(todo, "drill:batch")):
        for r, i in zip(part, issued):
            acknowledged[r.request_id] = serials.to_store(i.serial)
        sec = int(time.time() - start)
        per_second[sec] = per_second.get(sec, 0) + len(issued)
        after_chunk()
