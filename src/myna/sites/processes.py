"""Starting, finding and stopping the lab's processes.

Each process runs detached (its own session, so a terminal's Ctrl-C or the end of
``myna sites up`` does not reach it), writes its output to ``NAME.log`` and its process id
to ``NAME.pid`` in the base directory. Why no supervisor (systemd, supervisord): the lab
must run where neither is (containers without an init, CI runners), and a drill must kill
a process hard (SIGKILL, as a crash would) and start it again at chosen moments, which a
supervisor would fight by restarting it.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

SERVER_USER = "postgres"  # PostgreSQL refuses to run as root; Debian's package creates this user


class StartFailed(RuntimeError):
    pass


def _pid_file(base: Path, name: str) -> Path:
    return base / "run" / f"{name}.pid"


def log_file(base: Path, name: str) -> Path:
    return base / "logs" / f"{name}.log"


def server_user() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL (and Patroni, which starts it) as when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise StartFailed(f"running as root needs the system user {SERVER_USER!r} (Debian's postgresql package makes it)") from exc


def start(base: Path, name: str, argv: list[str], env: dict[str, str] | None = None, as_server_user: bool = False) -> int:
    (base / "run").mkdir(parents=True, exist_ok=True)
    (base / "logs").mkdir(parents=True, exist_ok=True)
    if (pid := running(base, name)) is not None:
        return pid
    user = server_user() if as_server_user else None
    log = open(log_file(base, name), "ab")
    if user is not None:
        os.chown(log_file(base, name), user.pw_uid, user.pw_gid)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})} | ({"HOME": user.pw_dir} if user else {}),
            start_new_session=True,
            cwd=str(base),
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
    except FileNotFoundError as exc:
        raise StartFailed(f"{name}: {argv[0]} is not installed") from exc
    finally:
        log.close()
    _pid_file(base, name).write_text(str(proc.pid))
    return proc.pid


def running(base: Path, name: str) -> int | None:
    """The process id of ``name`` if it is alive (not a zombie), else None."""
    try:
        pid = int(_pid_file(base, name).read_text())
    except (OSError, ValueError):
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    if state in ("Z", "X"):
        try:
            os.waitpid(pid, os.WNOHANG)  # our own child: reap it
        except ChildProcessError:
            pass
        return None
    return pid


def signal_group(base: Path, name: str, sig: int) -> bool:
    """Send ``sig`` to the process and everything it started (its session's group)."""
    pid = running(base, name)
    if pid is None:
        return False
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        os.kill(pid, sig)
    return True


def stop(base: Path, name: str, timeout: float = 20.0, hard: bool = False) -> bool:
    """Stop ``name``: SIGKILL at once when ``hard`` (a crash), else SIGTERM and SIGKILL after
    ``timeout``. True if it was running."""
    if not signal_group(base, name, signal.SIGKILL if hard else signal.SIGTERM):
        return False
    deadline = time.monotonic() + timeout
    while running(base, name) is not None:
        if time.monotonic() > deadline:
            signal_group(base, name, signal.SIGKILL)
            deadline = time.monotonic() + 5
        time.sleep(0.1)
    return True


def wait_for(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.25)
    tail = ""
    if log is not None and log.exists():
        tail = "\n  " + "\n  ".join(log.read_text(errors="replace").splitlines()[-15:])
    raise StartFailed(f"{what} not ready after {timeout:.0f} s{tail}")


def http_ok(url: str, timeout: float = 1.0) -> bool:
    return httpx.get(url, timeout=timeout).status_code == 200
