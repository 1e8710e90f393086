"""The PC/SC bridge: a card in a vpcd virtual reader.

pcscd with the vsmartcard-vpcd reader driver listens on TCP port 35963 for reader
slot 0 (35964 for slot 1, …; Debian's /etc/reader.conf.d/vpcd sets the base port as
CHANNELID 0x8C7B). A virtual card connects to it, as vsmartcard's ``vicc`` does; the
connection being open *is* the card being present. Every message in either direction
is a 2-byte big-endian length and that many bytes. From the reader:

* one byte: a control code — 0 power off, 1 power on, 2 reset (no answer), 4 get ATR
  (answered with the ATR);
* more bytes: a command APDU, answered with the response APDU.

Closing the connection removes the card from the reader.
"""

from __future__ import annotations

import os
import re
import select
import socket
import struct
import threading
import time
from pathlib import Path

from myna import logs
from myna.chip.engine import Card
from myna.errors import MynaError

_log = logs.get("myna.chip.vpcd")


def _note(level: str, event: str, **kw) -> None:
    """Log, but never let logging (e.g. a closed stderr) take the card down."""
    try:
        getattr(_log, level)(event, **kw)
    except Exception:
        pass


VPCD_PORT = 35963
CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4


class ReaderUnavailable(MynaError):
    code = "reader-unavailable"


def configured_port(conf_dir: Path = Path("/etc/reader.conf.d")) -> int:
    """The base port of the vpcd readers: ``MYNA_VPCD_PORT``, else the CHANNELID of the
    vpcd entry in pcscd's reader configuration, else 35963."""
    env = os.environ.get("MYNA_VPCD_PORT")
    if env:
        return int(env, 0)
    try:
        for path in sorted(conf_dir.iterdir()):
            text = path.read_text(errors="replace")
            if "ifdvpcd" in text:
                found = re.search(r"^\s*CHANNELID\s+(\S+)", text, re.MULTILINE)
                if found:
                    return int(found.group(1), 0)
    except (OSError, ValueError):
        pass
    return VPCD_PORT


def reader_port(reader: int, base: int | None = None) -> int:
    """The TCP port of vpcd reader slot ``reader`` (slot 0 is the base port)."""
    if not 0 <= reader < 64:
        raise ValueError("reader slot must be 0..63")
    return (configured_port() if base is None else base) + reader


class _Closed(Exception):
    pass


class VpcdBridge:
    """Serves one :class:`Card` to one vpcd reader slot."""

    def __init__(self, card: Card, host: str = "127.0.0.1", port: int = VPCD_PORT, on_powered=None):
        """``on_powered()`` is called once, when pcscd has powered the card and read its
        ATR: only then does PC/SC show the card (a connection alone is not yet a card
        in the reader: pcscd notices it at its next poll, then powers it up)."""
        self.card = card
        self.host, self.port = host, port
        self._sock: socket.socket | None = None
        self.commands = 0
        self._on_powered = on_powered
        self._powered_once = False

    # -- connection ----------------------------------------------------------------

    def connect(self, timeout: float = 10.0, stop: threading.Event | None = None) -> None:
        """Insert the card: connect to the reader, retrying until ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        last: OSError | None = None
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2.0)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                _quick_ack(sock)
                self._sock = sock
                self.card.power_off()
                _note("info", "card.inserted", card=self.card.image.card_id, port=self.port)
                return
            except OSError as e:
                last = e
            if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                why = (last.strerror or type(last).__name__) if last else "timed out"
                raise ReaderUnavailable(
                    f"no vpcd reader at {self.host}:{self.port} ({why}): is pcscd running with the vsmartcard-vpcd driver?"
                )
            time.sleep(0.2)

    def close(self) -> None:
        """Remove the card from the reader."""
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            self.card.power_off()
            _note("info", "card.removed", card=self.card.image.card_id, port=self.port)

    @property
    def connected(self) -> bool:
        return self._sock is not None

    # -- serving -------------------------------------------------------------------

    def serve(self, stop: threading.Event, reconnect: bool = True) -> None:
        """Answer the reader until ``stop`` is set. If pcscd goes away, wait for it to
        come back (``reconnect``) or return."""
        try:
            while not stop.is_set():
                if self._sock is None:
                    try:
                        self.connect(timeout=1.0, stop=stop)
                    except ReaderUnavailable:
                        continue
                try:
                    message = self._receive(stop)
                except _Closed:
                    _note("warning", "reader.disconnected", port=self.port)
                    self.close()
                    if not reconnect:
                        return
                    continue
                if message is None:  # stop requested
                    break
                self._handle(message)
        finally:
            self.close()

    def _handle(self, message: bytes) -> None:
        if len(message) == 1:
            code = message[0]
            if code == CTRL_ATR:
                self._send(self.card.atr)
                if not self._powered_once:
                    self._powered_once = True
                    if self._on_powered is not None:
                        self._on_powered()
            elif code in (CTRL_ON, CTRL_RESET, CTRL_OFF):
                self.card.power_on()  # each one leaves the chip in its power-up state
            else:
                _note("warning", "reader.unknown_control", code=code)
            return
        if not message:
            return
        self.commands += 1
        self._send(self.card.transmit(message))

    def _send(self, payload: bytes) -> None:
        assert self._sock is not None
        try:
            self._sock.sendall(struct.pack(">H", len(payload)) + payload)
        except OSError:
            raise _Closed() from None

    def _receive(self, stop: threading.Event) -> bytes | None:
        head = self._read(2, stop)
        if head is None:
            return None
        (length,) = struct.unpack(">H", head)
        if length == 0:
            return b""
        body = self._read(length, stop, started=True)
        return body

    def _read(self, n: int, stop: threading.Event, started: bool = False) -> bytes | None:
        sock = self._sock
        assert sock is not None
        buf = b""
        while len(buf) < n:
            if stop.is_set() and not buf and not started:
                return None
            ready, _, _ = select.select([sock], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = sock.recv(n - len(buf))
            except OSError:
                raise _Closed() from None
            if not chunk:
                raise _Closed()
            _quick_ack(sock)
            buf += chunk
        return buf


def _quick_ack(sock: socket.socket) -> None:
    """Acknowledge at once. vpcd writes a message's length and its body separately and
    does not disable Nagle's algorithm, so its body waits for our ACK of the length;
    a delayed ACK (40 ms on Linux) would then stall every command. Linux resets the
    flag after each receive, hence once per read."""
    if _TCP_QUICKACK is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
        except OSError:
            pass


_TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", None)
