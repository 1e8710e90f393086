#!/usr/bin/env python
"""Benchmark: base backup and point-in-time restore (scripts/backup.sh) vs a logical dump
and restore of the same database (pg_dump / pg_restore), and the store digest.

    python bench/backup.py                       # 20,000 certificates, 2,000 revoked, 3 repeats
    python bench/backup.py --certificates 2000 --repeat 1   # quick

Method:

- A PostgreSQL server of its own, archiving WAL into a fresh repository
  (scripts/start-postgres.sh --archive: fsync off, like every throwaway test server, so the
  figures are the tools' work and not this machine's disk flushes). One database ``myna``:
  key ceremony (file backend), N residents registered in bulk (bench/bulk_register.py),
  N certificates issued through ``IssuanceService.issue_chunks`` (half card-sign, half
  card-auth), N/10 revoked one by one through ``RevocationService.revoke``. Not timed.
- Sizes: the database (``pg_database_size``) and the whole cluster (the base backup's bytes).
- Timed, alternating R times: ``backup.sh base`` (pg_basebackup -X stream -c fast, then
  pg_verifybackup) against ``pg_dump -Fc`` of the database: what each takes to get a copy.
- Then N/20 more certificates, the moment T1 and its digest, N/20 more, ``backup.sh
  switch-wal``. Timed, alternating R times: ``backup.sh restore --target-time T1`` (verify the
  base, copy it, start, replay WAL to T1, promote) against ``pg_restore`` of the dump into a
  new database. Every restored copy's ``myna store digest`` is checked equal to T1's.
- The digest of the original store (``Digests.compute``), timed against ``pg_dump``, which
  also reads every record.
- Wall clock, median of R. The machine is shared: the load average is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import create_engine, text

from myna.authority.ceremony import run_ceremony
from myna.authority.issuance import IssuanceRequest
from myna.authority.platform import Platform
from myna.operations.digest import Digests
from myna.pki.basic4 import Basic4, Sex
from myna.pki.kinds import CertKind
from myna.pki.revocation import RevocationReason
from myna.settings import Settings
from myna.wiring import build

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bulk_register import register_bulk  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BACKUP = ROOT / "scripts" / "backup.sh"
START_PG = ROOT / "scripts" / "start-postgres.sh"
DOB = dt.date(1980, 5, 17)
BASIC4 = Basic4("山田 花子", DOB, Sex.FEMALE, "東京都千代田区千代田1-1")
MUNICIPALITY = "131016"


def sh(*args, timeout=3600) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        sys.exit(f"{shlex.join(map(str, args))} failed:\n{done.stderr}")
    return done


def as_pg(*args) -> list[str]:
    """The PostgreSQL client tools run as the server's user when we are root (as the scripts do)."""
    return (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + [str(a) for a in args]


def bindir() -> Path:
    found = os.environ.get("MYNA_PG_BIN") or sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))[-1]
    return Path(found)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def issue(platform: Platform, first: int, n: int, tag: str) -> list[int]:
    register_bulk(platform, [10**10 + first + i for i in range(n)], MUNICIPALITY, BASIC4)
    reqs = []
    for i in range(n):
        kind = CertKind.CARD_SIGN if i % 2 == 0 else CertKind.CARD_AUTH
        key = (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        reqs.append(
            IssuanceRequest(
                request_id=f"{tag}-{i:07d}",
                kind=kind,
                public_key=key,
                resident_code=f"{10**10 + first + i:011d}",
                date_of_birth=DOB,
                basic4=BASIC4 if kind.is_signature else None,
                municipality_code=MUNICIPALITY,
            )
        )
    chunks = [reqs[i : i + 1000] for i in range(0, n, 1000)]
    return [c.serial for batch in build(platform).issuance.issue_chunks(chunks, "bench") for c in batch]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--certificates", type=int, default=20_000, help="certificates issued before the base backup (default 20000)")
    ap.add_argument("--repeat", type=int, default=3, help="times each timed step runs, alternating with its peer (default 3)")
    args = ap.parse_args()
    if args.certificates < 100 or args.repeat < 1:
        ap.error("--certificates must be at least 100 and --repeat at least 1")
    n = args.certificates

    work = Path(tempfile.mkdtemp(prefix="myna-bench-backup.", dir="/tmp"))
    work.chmod(0o755)
    repo, pg_dir, restored = work / "repo", None, []
    try:
        out = sh("bash", START_PG, "start", "--archive", repo, "--owner", os.getpid()).stdout
        env = dict(tok.split("=", 1) for tok in shlex.split(out) if "=" in tok)
        pg_dir, admin_url = env["MYNA_PG_DIR"], env["MYNA_TEST_DATABASE_URL"]
        port = int(admin_url.rsplit(":", 1)[1].split("/")[0])
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("CREATE DATABASE myna"))
        url = admin_url.rsplit("/", 1)[0] + "/myna"
        p = Platform.open(Settings(home=work / "home", database_url=url, public_url="http://127.0.0.1:8000"))
        run_ceremony(p, "bench")
        print(f"issuing {n:,} certificates, revoking {n // 10:,} ...", file=sys.stderr)
        serials = issue(p, 0, n, "base")
        revocation = build(p).revocation
        for i, serial in enumerate(serials[: n // 10]):
            revocation.revoke(serial, (RevocationReason.REQUEST, RevocationReason.RESIDENT_CHANGE)[i % 2], "bench")
        with admin.connect() as c:
            db_bytes = c.scalar(text("select pg_database_size('myna')"))

        peer_dir = work / "peer"  # written by pg_dump, which runs as the server's user
        peer_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(peer_dir, "postgres")
        dump = peer_dir / "myna.dump"
        pg = bindir()
        base_s, dump_s = [], []
        for _ in range(args.repeat):
            base_s.append(timed(lambda: sh("bash", BACKUP, "base", "--port", port, "--to", repo)))
            sh(*as_pg("rm", "-f", dump))
            dump_cmd = as_pg(pg / "pg_dump", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-Fc", "-f", dump, "myna")
            dump_s.append(timed(lambda: sh(*dump_cmd)))
        info = sorted(repo.glob("base/*/backup.info"))[-1].read_text()
        cluster_bytes = int(next(line.split("=")[1] for line in info.splitlines() if line.startswith("bytes=")))

        issue(p, n, n // 20, "after-1")
        digest_s = timed(lambda: Digests(p).compute())
        t1_digest = Digests(p).compute()
        with admin.connect() as c:
            t1 = c.scalar(text("""select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""))
        issue(p, n + n // 20, n // 20, "after-2")
        sh("bash", BACKUP, "switch-wal", "--port", port, "--to", repo)
        records = sum(d.rows for d in t1_digest.sections.values())

        restore_s, pg_restore_s = [], []
        for i in range(args.repeat):
            into, p2 = work / f"restored-{i}", free_port()
            restored.append(into)
            restore_cmd = ["bash", BACKUP, "restore", "--from", repo, "--target-time", t1, "--into", into, "--port", p2]
            restore_s.append(timed(lambda: sh(*restore_cmd)))
            copy_url = url.replace(f":{port}/", f":{p2}/")
            copy = Platform.open(Settings(home=work / "home", database_url=copy_url, public_url="http://x"), migrate=False)
            assert Digests(copy).compute() == t1_digest, "the restored copy is not the store as of T1"
            copy.close()
            sh("bash", BACKUP, "stop", "--pgdata", into)
            shutil.rmtree(into)
            with admin.connect() as c:
                c.execute(text(f"CREATE DATABASE peer_{i}"))
            pg_restore_s.append(
                timed(lambda: sh(*as_pg(pg / "pg_restore", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", f"peer_{i}", dump)))
            )
        p.close()
        admin.dispose()

        med = statistics.median
        mib = 1024 * 1024
        version = sh(pg / "postgres", "--version").stdout.split()[2]
        print(f"\nPostgreSQL {version}, nproc {os.cpu_count()}, load {os.getloadavg()[0]:.2f}")
        print(
            f"data set: {n:,} certificates ({n // 10:,} revoked) before the base backup; database {db_bytes / mib:.0f} MiB, "
            f"cluster {cluster_bytes / mib:.0f} MiB; {records:,} digested records at T1; median of {args.repeat}\n"
        )

        def row(step: str, ours: float, peer: str, theirs: float) -> None:
            print(f"| {step} | {ours:.2f} | {peer} | {theirs:.2f} | {ours / theirs:.2f} |")

        print("| step | s | peer | peer s | ratio |")
        print("|---|---|---|---|---|")
        row("base backup (pg_basebackup + pg_verifybackup)", med(base_s), "pg_dump -Fc", med(dump_s))
        replay = f"restore to T1 (verify, copy, replay the WAL of {n // 20:,} issuances, promote)"
        row(replay, med(restore_s), "pg_restore", med(pg_restore_s))
        row(f"`myna store digest` ({records:,} records)", digest_s, "pg_dump -Fc", med(dump_s))
    finally:
        for d in restored:
            if d.exists():
                subprocess.run(["bash", str(BACKUP), "stop", "--pgdata", str(d)], capture_output=True)
        if pg_dir:
            subprocess.run(["bash", str(START_PG), "stop", pg_dir], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
