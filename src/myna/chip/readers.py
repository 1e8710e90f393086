"""Inserting stored cards into vpcd readers and taking them out again.

``myna chip insert`` runs :func:`serve_inserted` in its own process: one process per
card, one card per reader slot. Each running insertion is recorded in
``MYNA_HOME/chip/readers/<slot>.json`` (pid, card id, port), created exclusively so
two processes never claim one slot, and removed when the process ends.
``myna chip remove`` reads it and sends SIGTERM to that pid.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from myna.chip.chips import ChipService
from myna.chip.vpcd import VpcdBridge, reader_port
from myna.errors import Conflict, MynaError, NotFound


@dataclass(frozen=True)
class Insertion:
    reader: int
    card_id: str
    pid: int
    host: str
    port: int
    state: str  # "connecting" (to pcscd), "connected" (waiting for pcscd to power the card) or "inserted" (PC/SC shows it)
    started_at: str

    def to_json(self) -> dict:
        return self.__dict__.copy()


def readers_dir(home: Path) -> Path:
    return home / "chip" / "readers"


def _path(home: Path, reader: int) -> Path:
    return readers_dir(home) / f"{reader}.json"


def _alive(pid: int) -> bool:
    """Is ``pid`` a running ``myna chip insert``? (The check on the command line keeps
    a recycled pid from being taken for one.)"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            return True
        return (b"chip" in args or b"card" in args) and b"insert" in args  # "card": the old name
    return True


def _read(path: Path) -> Insertion | None:
    try:
        return Insertion(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def inserted(home: Path) -> list[Insertion]:
    """Running insertions; stale records (their process gone) are cleaned up."""
    out = []
    directory = readers_dir(home)
    if not directory.exists():
        return out
    for path in sorted(directory.glob("*.json")):
        rec = _read(path)
        if rec is None or not _alive(rec.pid):
            path.unlink(missing_ok=True)
            continue
        out.append(rec)
    return sorted(out, key=lambda r: r.reader)


def _claim(home: Path, reader: int, card_id: str, host: str, port: int) -> Path:
    for other in inserted(home):
        if other.card_id == card_id:
            raise Conflict(
                f"card {card_id} is already in reader {other.reader} (pid {other.pid}): `myna chip remove --reader {other.reader}` first"
            )
        if other.reader == reader:
            raise Conflict(
                f"reader {reader} already holds card {other.card_id} (pid {other.pid}): `myna chip remove --reader {reader}` first"
            )
    path = _path(home, reader)
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = Insertion(reader, card_id, os.getpid(), host, port, "connecting", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise Conflict(f"reader {reader} is being claimed by another process") from None
    with os.fdopen(fd, "w") as f:
        json.dump(rec.to_json(), f)
    return path


def _update(path: Path, **changes) -> None:
    rec = json.loads(path.read_text())
    rec.update(changes)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec))
    os.replace(tmp, path)


def serve_inserted(
    service: ChipService,
    card_id: str,
    reader: int = 0,
    host: str = "127.0.0.1",
    port: int | None = None,
    wait: float = 10.0,
    trace=None,
    on_ready=None,
    stop: threading.Event | None = None,
) -> int:
    """Insert a stored card into a vpcd reader slot and serve it until SIGTERM/SIGINT
    (or ``stop``). Returns the number of commands answered."""
    platform = service.platform
    cid = service.resolve(card_id)
    card = service.open_card(cid, trace=trace)
    port = port or reader_port(reader)
    home = platform.settings.home
    path = _claim(home, reader, cid, host, port)
    stop = stop or threading.Event()

    def powered() -> None:
        # pcscd publishes the reader's new state right after reading the ATR; a short
        # grace keeps a command run the moment `--detach` returns from racing it.
        def announce() -> None:
            try:
                _update(path, state="inserted")
            except OSError:
                return
            if on_ready:
                on_ready(cid, reader, port)

        timer = threading.Timer(POWERED_GRACE, announce)
        timer.daemon = True
        timer.start()

    bridge = VpcdBridge(card, host, port, on_powered=powered)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        bridge.connect(timeout=wait, stop=stop)
        _update(path, state="connected")
        bridge.serve(stop)
        return bridge.commands
    finally:
        bridge.close()
        rec = _read(path)
        if rec is not None and rec.pid == os.getpid():
            path.unlink(missing_ok=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


POWERED_GRACE = 0.1  # seconds between the ATR and "inserted"


def insert_detached(home: Path, card_id: str, reader: int, extra_args: list[str], timeout: float = 30.0) -> Insertion:
    """Run ``myna chip insert`` in the background and wait until the card is in: pcscd
    has powered it and read its ATR, so PC/SC lists it when this returns."""
    log_path = readers_dir(home) / f"{reader}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "myna.cli", "chip", "insert", card_id, "--reader", str(reader), *extra_args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = _read(_path(home, reader))
        if rec is not None and rec.pid == proc.pid and rec.state == "inserted":
            return rec
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            raise MynaError("insertion failed: " + (" | ".join(tail) or f"exit status {proc.returncode}"))
        time.sleep(0.05)
    proc.terminate()
    raise MynaError(f"the card was not in reader {reader} after {timeout:.0f}s (log: {log_path})")


def remove(home: Path, reader: int, timeout: float = 10.0) -> Insertion:
    """Take the card out of a reader slot: SIGTERM to its ``myna chip insert``."""
    path = _path(home, reader)
    rec = _read(path)
    if rec is None:
        raise NotFound(f"no card in reader {reader}")
    if not _alive(rec.pid):
        path.unlink(missing_ok=True)
        raise NotFound(f"no card in reader {reader} (cleaned up the record of pid {rec.pid}, which had ended)")
    os.kill(rec.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(rec.pid):
            path.unlink(missing_ok=True)
            return rec
        time.sleep(0.05)
    raise MynaError(f"pid {rec.pid} did not stop within {timeout:.0f}s")
