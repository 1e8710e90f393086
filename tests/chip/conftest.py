"""Fixtures for the card tests: a card service with pooled keys, residents with cards,
and PC/SC — pcscd with the vpcd reader driver, started here when none is running.

PC/SC tests (marker ``interop``) need pcscd, the vsmartcard-vpcd driver, OpenSC and
pyscard. Without them they skip, saying what is missing — except when ``CI=true`` or
``MYNA_REQUIRE_PCSC=1``, where a missing piece is a failure. pcscd's virtual readers are
one per machine, so PC/SC tests (also across xdist workers) take turns under a file
lock; a pcscd this session started is stopped at its end, under the same lock.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from chip_support import KeyPool, register_resident

from myna.chip.chips import CardPins, ChipService
from myna.wiring import build

VPCD_DRIVER_GLOBS = [
    "/usr/lib/pcsc/drivers/serial/libifdvpcd.so*",
    "/usr/lib/pcsc/drivers/*/libifdvpcd*",
    "/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so*",
]
OPENSC_PKCS11_GLOBS = [
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/*/opensc-pkcs11.so",
    "/usr/lib/*/pkcs11/opensc-pkcs11.so",
    "/usr/lib64/opensc-pkcs11.so",
    "/usr/lib64/pkcs11/opensc-pkcs11.so",
    "/usr/local/lib/opensc-pkcs11.so",
]
LOCK_PATH = Path(tempfile.gettempdir()) / "myna-pcsc-tests.lock"
STATE_PATH = Path(tempfile.gettempdir()) / "myna-pcsc-tests.json"  # the pcscd a test session started: pid, base port


@pytest.fixture
def keygen() -> KeyPool:
    return KeyPool()


@pytest.fixture
def cards(platform, keygen) -> ChipService:
    return build(platform, keygen=keygen).chips


@pytest.fixture
def person(platform):
    return register_resident(platform)


@pytest.fixture
def demo_pins() -> CardPins:
    return CardPins(auth="1234", sign="ABC123", face="1234")


# -- PC/SC ---------------------------------------------------------------------------


def _required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("MYNA_REQUIRE_PCSC") == "1"


def _missing(reason: str):
    if _required():
        pytest.fail(f"PC/SC test environment incomplete (CI=true or MYNA_REQUIRE_PCSC=1): {reason}", pytrace=False)
    pytest.skip(f"PC/SC: {reason}")


def _first(globs: list[str]) -> str | None:
    env = os.environ.get("MYNA_OPENSC_PKCS11") if globs is OPENSC_PKCS11_GLOBS else None
    if env:
        return env if os.path.exists(env) else None
    for pattern in globs:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


@dataclass
class PcscTools:
    opensc_tool: str
    pkcs11_tool: str
    module: str  # OpenSC's PKCS#11 module
    openssl: str
    base_port: int = 35963  # vpcd reader slot 0 of the pcscd in use

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def pkcs11(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(self.pkcs11_tool, "--module", self.module, *args, check=check)


def _vpcd_readers() -> list[str] | None:
    """The vpcd readers pcscd offers; None when pcscd cannot be reached."""
    from smartcard import System
    from smartcard.pcsc.PCSCExceptions import BaseSCardException

    try:
        return [str(r) for r in System.readers() if "Virtual PCD" in str(r)]
    except BaseSCardException:
        return None


# A pcscd started here gets its own reader configuration, with the vpcd ports below
# Linux's ephemeral range (32768-60999): on a busy machine an outgoing connection can
# hold 35963 as its local port, and pcscd's vpcd then fails with "Address already in use".
OWN_BASE_PORT = 0x6F3B  # 28475


class _Pcscd:
    """The pcscd this session started (if any)."""

    proc: subprocess.Popen | None = None
    log: Path | None = None
    conf: Path | None = None


def _started_elsewhere() -> int | None:
    try:
        state = json.loads(STATE_PATH.read_text())
        os.kill(state["pid"], 0)
        return int(state["base_port"])
    except (OSError, ValueError, KeyError):
        return None


def _start_pcscd(pcscd: str, driver: str) -> None:
    conf = Path(tempfile.mkdtemp(prefix="myna-pcscd-conf-"))
    (conf / "vpcd").write_text(
        f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:{OWN_BASE_PORT:#x}\nLIBPATH {driver}\nCHANNELID {OWN_BASE_PORT:#x}\n'
    )
    _Pcscd.conf = conf
    _Pcscd.log = Path(tempfile.gettempdir()) / f"myna-pcscd-{os.getpid()}.log"
    with open(_Pcscd.log, "wb") as log:
        _Pcscd.proc = subprocess.Popen(
            [pcscd, "--foreground", "--config", str(conf)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _Pcscd.proc.poll() is not None:
            _missing(f"pcscd exited with {_Pcscd.proc.returncode} at start (not root?): {_Pcscd.log.read_text(errors='replace')[-500:]}")
        if _vpcd_readers():
            STATE_PATH.write_text(json.dumps({"pid": _Pcscd.proc.pid, "base_port": OWN_BASE_PORT}))
            return
        time.sleep(0.1)
    _missing(f"pcscd started but no vpcd reader appeared within 20 s: {_Pcscd.log.read_text(errors='replace')[-500:]}")


def _ensure_pcscd() -> int:
    """pcscd with vpcd readers is running (started here if none was); its base port."""
    from myna.chip.vpcd import configured_port

    ours = _Pcscd.proc is not None and _Pcscd.proc.poll() is None
    readers = _vpcd_readers()
    if readers:
        if ours:
            return OWN_BASE_PORT
        started = _started_elsewhere()  # by another xdist worker or test session
        return started if started is not None else configured_port()
    pcscd = shutil.which("pcscd") or ("/usr/sbin/pcscd" if os.path.exists("/usr/sbin/pcscd") else None)
    if readers is not None and not ours:
        # e.g. started when its package was installed, before vsmartcard-vpcd was: pcscd
        # reads its reader configuration only at start, and it is not ours to restart.
        _missing(
            "pcscd is running but offers no vpcd reader: install vsmartcard-vpcd, "
            "then restart pcscd (or stop it: the tests start their own)"
        )
    if ours:
        _stop_our_pcscd()  # running but without readers: start afresh
    if not pcscd:
        _missing("pcscd is neither running nor installed (Debian: apt-get install pcscd vsmartcard-vpcd)")
    _start_pcscd(pcscd, _first(VPCD_DRIVER_GLOBS))
    return OWN_BASE_PORT


def _stop_our_pcscd() -> None:
    proc, _Pcscd.proc = _Pcscd.proc, None
    if proc is not None:
        STATE_PATH.unlink(missing_ok=True)
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if _Pcscd.conf is not None:
        shutil.rmtree(_Pcscd.conf, ignore_errors=True)
        _Pcscd.conf = None


@pytest.fixture(scope="session")
def pcsc_tools() -> PcscTools:
    """The tools the PC/SC tests drive, or skip/fail saying which is missing."""
    missing = []
    try:
        import smartcard  # noqa: F401
    except ImportError:
        missing.append("pyscard (pip install 'myna[card]'; needs gcc and libpcsclite-dev to build)")
    if not _first(VPCD_DRIVER_GLOBS):
        missing.append("the vpcd reader driver (Debian: vsmartcard-vpcd)")
    opensc_tool, pkcs11_tool, openssl = shutil.which("opensc-tool"), shutil.which("pkcs11-tool"), shutil.which("openssl")
    module = _first(OPENSC_PKCS11_GLOBS)
    if not (opensc_tool and pkcs11_tool and module):
        missing.append("OpenSC (opensc-tool, pkcs11-tool and opensc-pkcs11.so; Debian: opensc)")
    if not openssl:
        missing.append("openssl")
    if missing:
        _missing("missing " + "; ".join(missing))
    yield PcscTools(opensc_tool, pkcs11_tool, module, openssl)
    if _Pcscd.proc is not None:
        with open(LOCK_PATH, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            _stop_our_pcscd()


@pytest.fixture
def pcsc(pcsc_tools) -> PcscTools:
    """Exclusive use of pcscd's virtual readers for one test (pcscd started if needed)."""
    with open(LOCK_PATH, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pcsc_tools.base_port = _ensure_pcscd()
            yield pcsc_tools
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
