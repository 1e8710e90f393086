"""PC/SC access for the resident-side tools, through pyscard (imported only here, and
only when a tool runs: the rest of myna works without it)."""

from __future__ import annotations

from myna.chip import apdu
from myna.chip.engine import JPKI_AID
from myna.errors import MynaError


class PcscUnavailable(MynaError):
    code = "pcsc-unavailable"


def _pyscard():
    try:
        from smartcard import Exceptions, System
        from smartcard.pcsc.PCSCExceptions import BaseSCardException
    except ImportError:
        raise PcscUnavailable(
            "the PC/SC tools need pyscard, which is not installed: pip install 'myna[card]' "
            "(it builds from source: needs gcc and libpcsclite-dev; scripts/test.sh installs both)"
        ) from None
    return System, Exceptions, BaseSCardException


def list_readers() -> list[str]:
    System, _, PcscError = _pyscard()
    try:
        return [str(r) for r in System.readers()]
    except PcscError as e:
        raise PcscUnavailable(f"cannot reach pcscd: {e}") from None


class PcscCard:
    """A connection to the card in one PC/SC reader."""

    def __init__(self, reader_name: str, connection):
        self.reader = reader_name
        self._conn = connection

    def transmit(self, raw: bytes) -> bytes:
        data, sw1, sw2 = self._conn.transmit(list(raw))
        return bytes(data) + bytes([sw1, sw2])

    def close(self) -> None:
        _release(self._conn)

    def __enter__(self) -> "PcscCard":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _release(conn) -> None:
    """Disconnect and release the PC/SC context now, not whenever the object is collected
    (pyscard would then complain if pcscd has gone meanwhile)."""
    for step in ("disconnect", "release"):
        try:
            getattr(conn, step, lambda: None)()
        except Exception:
            pass


def _has_jpki(card: PcscCard) -> bool:
    resp = apdu.Response.from_bytes(card.transmit(apdu.encode(0x00, 0xA4, 0x04, 0x0C, JPKI_AID)))
    return resp.ok


def connect(reader: str | None = None) -> PcscCard:
    """Connect to a reader: ``reader`` is an index into the PC/SC reader list or a part
    of a reader's name; by default the first reader holding a card with the JPKI AP."""
    System, Exceptions, PcscError = _pyscard()
    try:
        readers = System.readers()
    except PcscError as e:
        raise PcscUnavailable(f"cannot reach pcscd: {e}") from None
    if not readers:
        raise PcscUnavailable("no PC/SC reader: is pcscd running (with vsmartcard-vpcd for virtual cards)?")
    if reader is not None:
        if reader.isdigit():
            index = int(reader)
            if index >= len(readers):
                raise PcscUnavailable(f"no reader #{index}; readers: {', '.join(map(str, readers))}")
            candidates = [readers[index]]
        else:
            candidates = [r for r in readers if reader.lower() in str(r).lower()]
            if not candidates:
                raise PcscUnavailable(f"no reader named like {reader!r}; readers: {', '.join(map(str, readers))}")
    else:
        candidates = list(readers)
    for r in candidates:
        conn = r.createConnection()
        try:
            conn.connect()
        except (Exceptions.NoCardException, Exceptions.CardConnectionException):
            _release(conn)
            continue
        card = PcscCard(str(r), conn)
        if reader is not None or _has_jpki(card):
            return card
        card.close()
    where = f"reader {candidates[0]}" if reader is not None else "any reader"
    raise PcscUnavailable(f"no My Number Card in {where}: insert one (`myna chip insert CARD_ID`)")
