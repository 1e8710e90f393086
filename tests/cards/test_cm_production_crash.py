"""R-CARD-3 under SIGKILL: a production batch killed half-way leaves no half-personalised
card counted as produced, and running production again completes it without duplicates
(the same chips, the same keys, one certificate per card and purpose)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest
from cm_support import CHIYODA, photo
from sqlalchemy import create_engine, func, select

from myna.authority.platform import Platform
from myna.cards.applications import ApplicationIn, Applications
from myna.pki.basic4 import Basic4, Sex
from myna.residents.events import ChangeEvent, EventType
from myna.settings import Settings
from myna.store import models as m
from myna.store.models_card_management import CardApplication, ManagedCard, ProductionBatch
from myna.store.models_cards import ChipRecord
from myna.wiring import build

N = 30
CHUNK = 3  # cards personalised together: a chunk is produced whole or not at all
KILL_AT = 3  # produced cards before the kill
MAX_KILLS = 4


def myna(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "myna.cli", *args], env=env, capture_output=True, text=True, timeout=timeout)


def state(engine) -> dict:
    with engine.connect() as c:
        return {
            "produced": c.scalar(select(func.count()).select_from(ManagedCard)),
            "apps_produced": c.scalar(select(func.count()).select_from(CardApplication).where(CardApplication.status == "produced")),
            "manufacturing": c.scalar(select(func.count()).select_from(ChipRecord).where(ChipRecord.status == "manufacturing")),
            "cards": c.scalar(select(func.count()).select_from(ChipRecord)),
            "certs": c.scalar(select(func.count()).select_from(m.Certificate).where(m.Certificate.kind.in_(["card-auth", "card-sign"]))),
        }


def assert_consistent(engine) -> None:
    """Counted as produced <=> certificates written, card "produced", application marked."""
    with engine.connect() as c:
        rows = c.execute(
            select(
                ChipRecord.card_id,
                ChipRecord.status,
                ChipRecord.auth_serial,
                ChipRecord.sign_serial,
                ManagedCard.application_id,
                CardApplication.status.label("app"),
            )
            .outerjoin(ManagedCard, ManagedCard.card_id == ChipRecord.card_id)
            .outerjoin(CardApplication, CardApplication.card_id == ChipRecord.card_id)
        ).all()
        request_ids = c.execute(select(m.Certificate.request_id)).scalars().all()
    for r in rows:
        if r.status == "manufacturing":
            assert r.application_id is None and r.app == "in-production" and r.auth_serial is None, r
        else:
            assert r.status == "produced" and r.application_id and r.app == "produced" and r.auth_serial and r.sign_serial, r
    assert len(request_ids) == len(set(request_ids)), "a certificate request was issued twice"


@pytest.mark.slow
def test_sigkill_mid_batch_then_rerun_completes_without_duplicates(tmp_path, database_url):
    env = {
        **os.environ,
        "MYNA_HOME": str(tmp_path / "home"),
        "MYNA_DATABASE_URL": database_url,
        "MYNA_KEY_BACKEND": "file",
        "COLUMNS": "200",
    }
    init = myna(env, "init", "--operator", "crash-test")
    assert init.returncode == 0, init.stderr
    platform = Platform.open(Settings(home=tmp_path / "home", database_url=database_url, public_url="http://127.0.0.1:8000"))
    try:
        reg = build(platform).registry
        reg.ensure_municipality(CHIYODA, "千代田区")
        apps = Applications(platform)
        for i in range(N):
            code = f"{40000000000 + i:011d}"
            b4 = Basic4(f"試験 {i}", dt.date(1980, 1, 1 + i % 28), Sex.MALE, f"東京都千代田区{i}")
            reg.submit(ChangeEvent(f"in-{i}", EventType.MOVE_IN, code, CHIYODA, dt.date(2026, 1, 5), basic4=b4, address=b4.address), "test")
            r = apps.submit(ApplicationIn(code, b4.name, b4.date_of_birth, "1", b4.address, photo()), "online", "test")
            assert r.status == "accepted", r.defects
    finally:
        platform.close()

    engine = create_engine(database_url)
    try:
        # 1. Kill the batch at a moment a chip exists whose certificates are not yet written.
        for attempt in range(1, MAX_KILLS + 1):
            at_least = state(engine)["produced"] + KILL_AT
            with open(tmp_path / f"run{attempt}.err", "w") as errf:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "myna.cli", "cards", "produce", "--size", str(N), "--chunk", str(CHUNK)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=errf,
                )
                deadline = time.monotonic() + 300
                while proc.poll() is None:
                    st = state(engine)
                    if st["produced"] >= at_least and st["manufacturing"]:
                        proc.send_signal(signal.SIGKILL)
                        break
                    assert time.monotonic() < deadline, "production made no progress"
                    time.sleep(0.002)
                proc.wait(timeout=60)
            assert proc.returncode == -signal.SIGKILL, (
                f"the batch finished before it could be killed ({proc.returncode}): {(tmp_path / f'run{attempt}.err').read_text()}"
            )
            before = state(engine)
            assert_consistent(engine)
            if before["manufacturing"]:
                break
        else:
            pytest.fail(f"{MAX_KILLS} kills all missed a card in manufacture")
        assert KILL_AT <= before["produced"] < N
        assert before["produced"] == before["apps_produced"]  # the half-made cards are not counted
        assert before["produced"] % CHUNK == 0 and before["manufacturing"] == CHUNK  # exactly the chunk in flight
        with engine.connect() as c:
            assert c.scalar(select(ProductionBatch.status)) == "open"

        # 2. Run production again: the open batch is finished, nothing is issued twice.
        rerun = myna(env, "cards", "produce", "--size", str(N), "--chunk", str(CHUNK))
        assert rerun.returncode == 0, rerun.stderr
        assert f"{N - before['produced']} produced, {before['produced']} already produced, 0 cancelled of {N}" in rerun.stdout
        after = state(engine)
        assert_consistent(engine)
        assert (after["produced"], after["apps_produced"], after["cards"], after["manufacturing"]) == (N, N, N, 0)
        assert after["certs"] == 2 * N  # one card-auth and one card-sign per card
        with engine.connect() as c:
            assert c.scalar(select(ProductionBatch.status)) == "complete"
        # 3. A third run finds nothing to do.
        third = myna(env, "cards", "produce", "--size", str(N))
        assert third.returncode == 0 and "nothing to produce" in third.stdout
        assert state(engine) == after
    finally:
        engine.dispose()
