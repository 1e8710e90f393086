#!/usr/bin/env python
"""Benchmark: Individual Numbers, change events with their revocations, and the time
from a death event to the revocation being visible through OCSP.

    python bench/residents.py                                   # full run
    python bench/residents.py --quick                           # small, about a minute
    python bench/residents.py --write docs/benchmarks-residents.md

Method (the report repeats it with the numbers):

1. Numbers (R-NUM-1). ``NumberGenerator.numbers_for`` over consecutive resident codes in
   chunks of 1,000,000 (and of 10,000 and 100,000, to show what batching buys), and
   ``number_for`` one code at a time; for scale, the one-at-a-time ``ff3`` package
   (pure Python FF3-1) that the tests check the vectorised code against. CPU-bound,
   single-threaded; wall clock.
2. Change events (R-RES-1, R-REV-2/3/6). A fresh data home and SQLite store, key
   ceremony (RSA-2048 CAs). R residents registered one event at a time through
   ``Registry.submit`` (a move-in from abroad: record, number, notice, audit); each is
   issued card-sign + card-auth (EC P-256 holder keys, ``IssuanceService.issue_many``,
   not timed as events). Then, each event timed on its own, one transaction each, as the
   API does it:
   - a minor correction for everyone (revokes nothing: the cost of the event machinery);
   - a name change for the first half (revokes the card-sign: 1 revocation per event);
   - a death for the second half (revokes card-sign and card-auth: 2 per event);
   - a planned move-out for the first half, then the clock moved 31 days and one
     ``run_due`` (R-REV-3 (二)) revoking their card-auth certificates in one transaction.
   Events per second = events / wall time; revocations are counted from the store.
3. Death to OCSP. Another fresh home: ceremony, D residents with card-sign + card-auth,
   a municipality token; then ``myna serve`` as a subprocess (its in-process validity
   centre polls the store every 0.2 s). Each certificate is asked once (answer "good")
   first. Then, one resident at a time with a random pause (0-0.5 s) between them, a
   death event is POSTed to ``/api/v1/residents/events`` and the card-auth certificate is
   asked of the OCSP URL in its AIA extension every 10 ms (httpx, DER POST, SHA-1
   CertID) until the answer is "revoked" (reason affiliationChanged, serial checked,
   signature checked against the responder certificate in the response). Latency = from
   just before the POST to the first "revoked" answer: it includes the API call. The
   card-sign answer is checked right after.

The machine may be shared: the 1-minute load average is printed before and after each
part.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform as pyplatform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp as x509_ocsp
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
CHIYODA = "131016"
DOB = dt.date(1980, 5, 17)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load() -> float:
    return os.getloadavg()[0]


def machine() -> dict[str, str]:
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1).strip()
    except (OSError, AttributeError):
        cpu = pyplatform.processor() or "unknown"
    import cryptography
    import sqlalchemy

    return {
        "arch": pyplatform.machine(),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": pyplatform.python_version(),
        "cryptography": cryptography.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "numpy": np.__version__,
    }


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def fmt_ms(s: float) -> str:
    ms = s * 1000
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"


def ec_pem() -> bytes:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def open_platform(home: Path, public_url: str = "http://127.0.0.1:8000", clock=None):
    from myna.authority.ceremony import run_ceremony
    from myna.authority.platform import Platform
    from myna.settings import Settings

    settings = Settings(home=home, database_url=f"sqlite:///{home / 'myna.db'}", public_url=public_url)
    p = Platform.open(settings, clock) if clock else Platform.open(settings)
    run_ceremony(p, "bench")
    return p


def populate(p, n: int, prefix: str) -> list[dict]:
    """n residents on Chiyoda's register, each with card-sign + card-auth. Returns
    [{code, card-sign serial, card-auth serial}], and the registration rate."""
    from myna.authority.issuance import IssuanceRequest, IssuanceService
    from myna.pki.basic4 import Basic4, Sex
    from myna.pki.kinds import CertKind
    from myna.residents.events import ChangeEvent, EventType
    from myna.wiring import build

    reg = build(p).registry
    reg.ensure_municipality(CHIYODA, "Chiyoda")
    b4 = Basic4("山田 花子", DOB, Sex.FEMALE, "東京都千代田区千代田1-1")
    codes = [f"{prefix}{i:09d}" for i in range(n)]
    t0, c0 = time.perf_counter(), time.process_time()
    for code in codes:
        reg.submit(
            ChangeEvent(f"reg-{code}", EventType.MOVE_IN, code, CHIYODA, dt.date(2025, 4, 1), basic4=b4, address=b4.address), actor="bench"
        )
    registration_s = (time.perf_counter() - t0, time.process_time() - c0)
    keys = [ec_pem() for _ in range(2 * n)]
    reqs = []
    for i, code in enumerate(codes):
        for j, kind in enumerate((CertKind.CARD_SIGN, CertKind.CARD_AUTH)):
            reqs.append(
                IssuanceRequest(f"bench-{code}-{kind.value}", kind, keys[2 * i + j], code, DOB, b4 if kind.is_signature else None, CHIYODA)
            )
    service = IssuanceService(p)
    t0 = time.perf_counter()
    issued = []
    for at in range(0, len(reqs), 500):
        issued += service.issue_many(reqs[at : at + 500], "bench")
    issue_s = time.perf_counter() - t0
    people = [{"code": code, "card-sign": issued[2 * i].serial, "card-auth": issued[2 * i + 1].serial} for i, code in enumerate(codes)]
    return people, registration_s, issue_s


# -- 1. numbers ------------------------------------------------------------------------------


def bench_numbers(total: int, single: int, ff3_single: int) -> dict:
    from ff3 import FF3Cipher

    from myna.numbering.individual_number import NumberGenerator

    key = bytes(range(32))
    gen = NumberGenerator(key)
    gen.numbers_for(np.arange(10**10, 10**10 + 1000, dtype=np.uint64))  # warm the cipher
    out: dict = {"load": [load()], "batch": {}}
    for chunk in (10_000, 100_000, 1_000_000):
        n = min(total, max(chunk * 10, 1_000_000)) if chunk < 1_000_000 else total
        seen = 0
        t0, c0 = time.perf_counter(), time.process_time()
        for at in range(0, n, chunk):
            codes = np.arange(10**10 + at, 10**10 + min(n, at + chunk), dtype=np.uint64)
            seen += len(gen.numbers_for(codes))
        secs = time.perf_counter() - t0
        out["batch"][chunk] = (seen, secs, time.process_time() - c0)
        log(f"numbers: batch chunk {chunk:,}: {seen:,} in {secs:.2f} s = {seen / secs:,.0f}/s")
    codes = [f"{10**10 + i:011d}" for i in range(single)]
    t0, c0 = time.perf_counter(), time.process_time()
    for c in codes:
        gen.number_for(c)
    out["single"] = (single, time.perf_counter() - t0, time.process_time() - c0)
    ref = FF3Cipher(key.hex(), bytes(7).hex())
    t0, c0 = time.perf_counter(), time.process_time()
    for c in codes[:ff3_single]:
        ref.encrypt(c)
    out["ff3"] = (ff3_single, time.perf_counter() - t0, time.process_time() - c0)
    out["load"].append(load())
    log(f"numbers: single {single / out['single'][1]:,.0f}/s; ff3 package {ff3_single / out['ff3'][1]:,.0f}/s")
    return out


# -- 2. events -------------------------------------------------------------------------------


def bench_events(workdir: Path, n: int) -> dict:
    from myna.authority.records import Records
    from myna.clock import FixedClock
    from myna.residents.events import ChangeEvent, EventType
    from myna.store import models as m
    from myna.wiring import build

    home = workdir / "events-home"
    clock = FixedClock(dt.datetime(2026, 4, 1, 3, tzinfo=dt.timezone.utc))
    log(f"events: ceremony and {n:,} residents")
    p = open_platform(home, clock=clock)
    out: dict = {"n": n, "load": [load()], "runs": []}
    try:
        people, reg_s, issue_s = populate(p, n, "10")
        out["registration"] = (n, *reg_s)
        out["issue"] = (2 * n, issue_s)
        reg = build(p).registry

        def revocations() -> int:
            with p.db.session() as s:
                return s.scalar(select(func.count()).select_from(m.Revocation))

        def run(label: str, events: list[ChangeEvent]) -> None:
            before = revocations()
            lat = []
            t0 = time.perf_counter()
            cpu0 = time.process_time()
            for e in events:
                t1 = time.perf_counter()
                reg.submit(e, actor="bench")
                lat.append(time.perf_counter() - t1)
            secs, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            revoked = revocations() - before
            out["runs"].append(
                {
                    "label": label,
                    "events": len(events),
                    "secs": secs,
                    "cpu": cpu,
                    "revoked": revoked,
                    "p50": pct(lat, 50),
                    "p99": pct(lat, 99),
                    "max": max(lat),
                }
            )
            log(f"events: {label}: {len(events) / secs:,.0f}/s, {revoked} revocations")

        half = n // 2
        # A correction must change the record (one to the same values is refused): the
        # address as written, 1-1 to 1番1号.
        run(
            "minor correction (revokes nothing)",
            [
                ChangeEvent(
                    f"corr-{x['code']}",
                    EventType.CORRECTION,
                    x["code"],
                    CHIYODA,
                    dt.date(2026, 3, 1),
                    address="東京都千代田区千代田1番1号",
                    minor=True,
                )
                for x in people
            ],
        )
        run(
            "name change (card-sign, R-REV-2)",
            [
                ChangeEvent(f"name-{x['code']}", EventType.NAME_CHANGE, x["code"], CHIYODA, dt.date(2026, 3, 2), name="鈴木 花子")
                for x in people[:half]
            ],
        )
        run(
            "death (card-sign + card-auth, R-REV-2/3)",
            [ChangeEvent(f"death-{x['code']}", EventType.DEATH, x["code"], CHIYODA, dt.date(2026, 3, 2)) for x in people[half:]],
        )
        run(
            "planned move-out (revokes nothing yet)",
            [
                ChangeEvent(
                    f"pmo-{x['code']}",
                    EventType.PLANNED_MOVE_OUT,
                    x["code"],
                    CHIYODA,
                    dt.date(2026, 3, 3),
                    planned_date=dt.date(2026, 3, 10),
                )
                for x in people[:half]
            ],
        )
        clock.set(dt.datetime(2026, 4, 11, 3, tzinfo=dt.timezone.utc))  # 04-11 JST > 03-10 + 30 days
        before = revocations()
        t0 = time.perf_counter()
        lapsed = reg.run_due(actor="bench")
        out["run_due"] = {"residents": len(lapsed), "secs": time.perf_counter() - t0, "revoked": revocations() - before}
        log(f"events: run_due: {len(lapsed)} residents in {out['run_due']['secs']:.2f} s")
        # every certificate ended as the rules say
        records = Records(p)
        for x in people[:half]:
            assert records.get(x["card-sign"]).revocation_reason == "resident-change"
            assert records.get(x["card-auth"]).revocation_reason == "resident-change"
        for x in people[half:]:
            assert records.get(x["card-sign"]).status == "revoked" and records.get(x["card-auth"]).status == "revoked"
        out["checked"] = True
    finally:
        p.close()
        out["load"].append(load())
    return out


# -- 3. death to OCSP -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ocsp_answer(content: bytes, serial: int, issuer: x509.Certificate):
    """(status, reason) of a verified single-response answer for ``serial``."""
    resp = x509_ocsp.load_der_ocsp_response(content)
    if resp.response_status != x509_ocsp.OCSPResponseStatus.SUCCESSFUL:
        return resp.response_status.name.lower(), None
    assert resp.serial_number == serial, "answer for another serial"
    signer = resp.certificates[0] if resp.certificates else issuer
    key = signer.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(), resp.signature_hash_algorithm)
    else:
        key.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
    status = resp.certificate_status.name.lower()
    reason = resp.revocation_reason.name if resp.certificate_status == x509_ocsp.OCSPCertStatus.REVOKED and resp.revocation_reason else None
    return status, reason


def bench_death_to_ocsp(workdir: Path, deaths: int, poll_s: float, seed: int = 7) -> dict:
    import httpx

    from myna.access.roles import Role
    from myna.access.tokens import Tokens
    from myna.authority.records import Records
    from myna.pki.kinds import AuthorityKind

    home = workdir / "ocsp-home"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log(f"death to OCSP: ceremony and {deaths} residents")
    p = open_platform(home, public_url=url)
    try:
        people, _, _ = populate(p, deaths, "20")
        token = Tokens(p).create(Role.MUNICIPALITY, "bench clerk", CHIYODA, actor="bench")
        issuers = {k: p.authority(AuthorityKind(k)).cert for k in ("card-sign", "card-auth")}
        records = Records(p)
        for x in people:
            for k in ("card-sign", "card-auth"):
                cert = records.get(x[k]).certificate
                aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
                x[f"{k}-url"] = next(d.access_location.value for d in aia if d.access_method == x509.AuthorityInformationAccessOID.OCSP)
                x[f"{k}-req"] = (
                    x509_ocsp.OCSPRequestBuilder()
                    .add_certificate(cert, issuers[k], hashes.SHA1())
                    .build()
                    .public_bytes(serialization.Encoding.DER)
                )
    finally:
        p.close()

    env = dict(os.environ, MYNA_HOME=str(home), MYNA_PUBLIC_URL=url, MYNA_LOG_FORMAT="json")
    env.pop("MYNA_DATABASE_URL", None)
    logfile = workdir / "serve.log"
    with open(logfile, "wb") as f:
        server = subprocess.Popen(
            [sys.executable, "-m", "myna.cli", "serve", "--port", str(port)],
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    out: dict = {"deaths": deaths, "poll_s": poll_s, "load": [load()], "url_example": people[0]["card-auth-url"]}
    headers = {"Content-Type": "application/ocsp-request"}
    try:
        t_start = time.perf_counter()
        with httpx.Client(timeout=10) as c:
            # ready: the centre answers "good" for every certificate (first sync done)
            for x in people:
                for k in ("card-sign", "card-auth"):
                    while True:
                        if server.poll() is not None:
                            raise RuntimeError(f"myna serve exited:\n{logfile.read_text()[-3000:]}")
                        try:
                            r = c.post(x[f"{k}-url"], content=x[f"{k}-req"], headers=headers)
                            if r.status_code == 200 and ocsp_answer(r.content, x[k], issuers[k])[0] == "good":
                                break
                        except httpx.HTTPError:
                            pass
                        time.sleep(0.05)
            out["ready_s"] = time.perf_counter() - t_start
            log(f"death to OCSP: myna serve answering for all {2 * deaths} certificates after {out['ready_s']:.1f} s")
            rng = random.Random(seed)
            lat, api, polls, reasons, sign_ok = [], [], [], set(), 0
            for i, x in enumerate(people):
                time.sleep(rng.uniform(0, 0.5))
                body = {"event_id": f"death-{x['code']}", "type": "death", "resident_code": x["code"], "effective_date": "2026-03-01"}
                t0 = time.perf_counter()
                r = c.post(f"{url}/api/v1/residents/events", json=body, headers={"Authorization": f"Bearer {token}"})
                api.append(time.perf_counter() - t0)
                if r.status_code != 201 or len(r.json()["revoked"]) != 2:
                    raise RuntimeError(f"death event: {r.status_code} {r.text}")
                n = 0
                while True:
                    n += 1
                    resp = c.post(x["card-auth-url"], content=x["card-auth-req"], headers=headers)
                    status, reason = ocsp_answer(resp.content, x["card-auth"], issuers["card-auth"])
                    if status == "revoked":
                        lat.append(time.perf_counter() - t0)
                        reasons.add(reason)
                        break
                    if time.perf_counter() - t0 > 30:
                        raise RuntimeError(f"{x['code']}: card-auth not revoked through OCSP after 30 s")
                    time.sleep(poll_s)
                polls.append(n)
                resp = c.post(x["card-sign-url"], content=x["card-sign-req"], headers=headers)
                sign_ok += ocsp_answer(resp.content, x["card-sign"], issuers["card-sign"])[0] == "revoked"
                if (i + 1) % 10 == 0:
                    log(f"death to OCSP: {i + 1}/{deaths}, p50 so far {fmt_ms(pct(lat, 50))}")
        out.update(latencies=lat, api=api, polls=polls, reasons=sorted(reasons), sign_revoked=sign_ok)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        out["load"].append(load())
    return out


# -- report ----------------------------------------------------------------------------------


def report(args, info: dict, nums: dict, events: dict, death: dict) -> str:
    lines = [
        "# Residents benchmark: Individual Numbers, change events, death to OCSP",
        "",
        "Generated by `bench/residents.py`; its docstring has the method, repeated below with the numbers.",
        "",
        f"Command: `python bench/residents.py {' '.join(args.argv)}`",
        "",
        "| machine | nproc | CPU | date | Python | cryptography | SQLAlchemy | NumPy |",
        "|---|---|---|---|---|---|---|---|",
        f"| {info['arch']} | {info['nproc']} | {info['cpu']} | {info['date']} | {info['python']} | {info['cryptography']} "
        f"| {info['sqlalchemy']} | {info['numpy']} |",
        "",
        "Store: SQLite in a fresh data home (WAL, synchronous=NORMAL, as myna.store.db sets it). "
        "The machine is shared: the 1-minute load average before / after each part is shown; on 2 cores, "
        "a load above 2 means other work competed for the CPU and every figure is pessimistic.",
        "",
        "## 1. Individual Numbers (R-NUM-1)",
        "",
        "FF3-1 over NumPy arrays (`NumberGenerator.numbers_for`), consecutive resident codes; one code at a time "
        "(`number_for`); the pure-Python `ff3` package one at a time, for scale. Single-threaded.",
        "",
        "| how | numbers | seconds | numbers / s | CPU s | numbers / CPU s |",
        "|---|---|---|---|---|---|",
    ]
    rows = [(f"`numbers_for`, chunks of {chunk:,}", v) for chunk, v in nums["batch"].items()]
    rows += [("`number_for`, one at a time", nums["single"]), ("`ff3` package `encrypt`, one at a time", nums["ff3"])]
    for label, (n, s, cpu) in rows:
        lines.append(f"| {label} | {n:,} | {s:.2f} | {fmt_rate(n / s)} | {cpu:.2f} | {fmt_rate(n / cpu)} |")
    per_cpu = {chunk: n / cpu for chunk, (n, _, cpu) in nums["batch"].items()}
    single_us = nums["single"][2] / nums["single"][0] * 1e6
    ff3_us = nums["ff3"][2] / nums["ff3"][0] * 1e6
    reg_us = events["registration"][2] / events["registration"][0] * 1e6
    lines += [
        "",
        f"- Batch size matters: per CPU second, chunks of 10,000 give {per_cpu[10_000] / per_cpu[1_000_000]:.1f}x what chunks of "
        "1,000,000 give (the 16-byte AES block per code and the NumPy temporaries of a million codes no longer fit in cache); "
        "`myna number generate` uses chunks of 1,000,000.",
        f"- One code at a time, `number_for` costs {single_us:.0f} µs of CPU, {single_us / ff3_us:.1f}x the pure-Python `ff3` package "
        f"({ff3_us:.0f} µs): for one value the NumPy set-up and eight AES contexts dominate. It runs once per new record: "
        f"{single_us / reg_us * 100:.0f} % of a registration's {reg_us / 1000:.1f} ms of CPU (section 2).",
        f"- Load average before / after: {nums['load'][0]:.2f} / {nums['load'][1]:.2f}.",
        "",
        "## 2. Change events and their revocations (R-RES-1, R-REV-2, R-REV-3, R-REV-6)",
        "",
        f"{events['n']:,} residents on the register, each holding card-sign + card-auth (EC P-256 holder keys). "
        "One `Registry.submit` per event, each its own transaction (state, revocations, audit, event record), "
        "as the API calls it; latency per event in the last columns.",
        "",
        "| events | n | seconds | events / s | revocations | revocations / s | CPU s | p50 | p99 | max |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    n, s, cpu = events["registration"]
    lines.append(
        f"| registration: move-in from abroad (record + number + notice) | {n:,} | {s:.2f} | {fmt_rate(n / s)} "
        f"| 0 | – | {cpu:.2f} | – | – | – |"
    )
    for r in events["runs"]:
        rev_rate = fmt_rate(r["revoked"] / r["secs"]) if r["revoked"] else "–"
        lines.append(
            f"| {r['label']} | {r['events']:,} | {r['secs']:.2f} | {fmt_rate(r['events'] / r['secs'])} "
            f"| {r['revoked']:,} | {rev_rate} | {r['cpu']:.2f} "
            f"| {fmt_ms(r['p50'])} | {fmt_ms(r['p99'])} | {fmt_ms(r['max'])} |"
        )
    d = events["run_due"]
    lines += [
        f"| `run_due` (30-day rule, one transaction), clock moved past planned + 30 days | {d['residents']:,} residents "
        f"| {d['secs']:.2f} | – | {d['revoked']:,} | {fmt_rate(d['revoked'] / d['secs'])} | – | – | – | – |",
        "",
        f"Issuing the {events['issue'][0]:,} certificates beforehand (not events; `issue_many` in chunks of 500): "
        f"{events['issue'][1]:.1f} s ({fmt_rate(events['issue'][0] / events['issue'][1])}/s). "
        "Every certificate's final status was checked against the rules afterwards. "
        f"Load average before / after: {events['load'][0]:.2f} / {events['load'][1]:.2f}.",
        "",
        "## 3. Death to OCSP-visible revocation",
        "",
        f"`myna serve` as a subprocess (in-process validity centre, store polled every 0.2 s; OCSP URL from each certificate's AIA, "
        f"e.g. `{death['url_example']}`). {death['deaths']} deaths, one at a time, random 0–0.5 s pauses; "
        f"after each `POST /api/v1/residents/events` the card-auth certificate is asked every {death['poll_s'] * 1000:.0f} ms until "
        '"revoked". Latency is from just before the POST (so it includes the API call) to the first "revoked" answer.',
        "",
        "| measure | n | p50 | p90 | p99 | max | mean |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, values in (
        ("death event POSTed → OCSP says revoked", death["latencies"]),
        ("the API call alone (201 with the revocations)", death["api"]),
    ):
        lines.append(
            f"| {label} | {len(values)} | {fmt_ms(pct(values, 50))} | {fmt_ms(pct(values, 90))} | {fmt_ms(pct(values, 99))} "
            f"| {fmt_ms(max(values))} | {fmt_ms(statistics.mean(values))} |"
        )
    lines += [
        "",
        f"- OCSP reasons seen: {', '.join(death['reasons'])} (resident-change maps to affiliationChanged); "
        f"card-sign also answered revoked right after: {death['sign_revoked']} of {death['deaths']}.",
        f"- Percentiles are nearest-rank: with {death['deaths']} deaths, p99 is the slowest one.",
        f"- OCSP requests per death until revoked: median {statistics.median(death['polls']):.0f}, max {max(death['polls'])}.",
        f'- `myna serve` start to answering "good" for all {2 * death["deaths"]} certificates: {death["ready_s"]:.1f} s.',
        f"- Load average before / after: {death['load'][0]:.2f} / {death['load'][1]:.2f}.",
        "",
        "Reading the figures: the visible latency is the API transaction, then the wait for the centre's next poll "
        "of the store (every 0.2 s, so 0–0.2 s for a death at a random moment), the sync itself, and this client's "
        f"own polling granularity ({death['poll_s'] * 1000:.0f} ms). Here the median beyond the API call is "
        f"{fmt_ms(statistics.median(death['latencies']) - statistics.median(death['api']))} "
        "(half the poll interval would be 100 ms) and no death took longer than "
        f"{fmt_ms(max(death['latencies']))} to become visible.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--numbers", type=int, default=10_000_000, help="numbers generated in batch (default 10,000,000)")
    ap.add_argument("--residents", type=int, default=2000, help="residents for the event runs (default 2000)")
    ap.add_argument("--deaths", type=int, default=50, help="deaths timed through OCSP (default 50)")
    ap.add_argument("--poll-ms", type=float, default=10, help="OCSP polling interval of the client (default 10 ms)")
    ap.add_argument("--quick", action="store_true", help="1,000,000 numbers, 300 residents, 20 deaths")
    ap.add_argument("--write", metavar="PATH", help="also write the Markdown report there (e.g. docs/benchmarks-residents.md)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if args.quick:
        args.numbers, args.residents, args.deaths = 1_000_000, 300, 20
    workdir = Path(tempfile.mkdtemp(prefix="residents-bench-"))
    log(f"working in {workdir}")
    os.environ.pop("MYNA_NUMBERING_KEY", None)  # each fresh home makes its own key
    try:
        info = machine()
        nums = bench_numbers(args.numbers, single=20_000 if not args.quick else 5_000, ff3_single=5_000 if not args.quick else 2_000)
        events = bench_events(workdir, args.residents)
        death = bench_death_to_ocsp(workdir, args.deaths, args.poll_ms / 1000)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = report(args, info, nums, events, death)
    print(text)
    if args.write:
        path = Path(args.write)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
