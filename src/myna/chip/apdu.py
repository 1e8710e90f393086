"""ISO/IEC 7816-4 command and response APDUs: parsing and status words.

Short and extended lengths are both understood (ISO 7816-3 cases 1, 2S/2E, 3S/3E,
4S/4E). A command that fits none of the cases is a :class:`MalformedApdu`; the card
answers it with ``67 00``.
"""

from __future__ import annotations

from dataclasses import dataclass


class MalformedApdu(ValueError):
    """The bytes are not a command APDU of any ISO 7816-3 case."""


@dataclass(frozen=True)
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # None: no Le field; otherwise the decoded count (00 -> 256, 0000 -> 65536)
    extended: bool = False

    @property
    def p1p2(self) -> int:
        return (self.p1 << 8) | self.p2


def parse(raw: bytes) -> Command:
    """Decode a command APDU; raises :class:`MalformedApdu` when no case fits."""
    n = len(raw)
    if n < 4:
        raise MalformedApdu(f"{n} bytes: a command has at least CLA INS P1 P2")
    cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
    if n == 4:  # case 1
        return Command(cla, ins, p1, p2)
    b5 = raw[4]
    if n == 5:  # case 2S
        return Command(cla, ins, p1, p2, le=b5 or 256)
    if b5 != 0:  # short Lc
        if n == 5 + b5:  # case 3S
            return Command(cla, ins, p1, p2, raw[5:], None)
        if n == 6 + b5:  # case 4S
            return Command(cla, ins, p1, p2, raw[5:-1], raw[-1] or 256)
        raise MalformedApdu(f"Lc={b5} does not match the {n - 5} bytes after it")
    # b5 == 0 and n > 5: extended length
    if n == 7:  # case 2E
        le = (raw[5] << 8) | raw[6]
        return Command(cla, ins, p1, p2, le=le or 65536, extended=True)
    if n < 7:
        raise MalformedApdu("an extended length field needs three bytes")
    lc = (raw[5] << 8) | raw[6]
    if lc == 0:
        raise MalformedApdu("extended Lc of zero")
    if n == 7 + lc:  # case 3E
        return Command(cla, ins, p1, p2, raw[7:], None, extended=True)
    if n == 9 + lc:  # case 4E
        le = (raw[-2] << 8) | raw[-1]
        return Command(cla, ins, p1, p2, raw[7:-2], le or 65536, extended=True)
    raise MalformedApdu(f"extended Lc={lc} does not match the {n - 7} bytes after it")


def encode(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
    """Build a command APDU, short when it fits and extended otherwise (le=256 -> Le 00)."""
    head = bytes([cla, ins, p1, p2])
    extended = len(data) > 255 or (le is not None and le > 256)
    if not extended:
        body = (bytes([len(data)]) + data) if data else b""
        tail = b"" if le is None else bytes([le & 0xFF])
        return head + body + tail
    body = (b"\x00" + len(data).to_bytes(2, "big") + data) if data else b"\x00"
    tail = b"" if le is None else (le & 0xFFFF).to_bytes(2, "big")
    return head + body + tail


# Status words (ISO/IEC 7816-4 §5.6) used by the card.
OK = 0x9000
END_OF_FILE = 0x6282  # end of file reached before reading Le bytes
PIN_TRIES = 0x63C0  # | tries left
MEMORY_FAILURE = 0x6581
WRONG_LENGTH = 0x6700
LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
CHAINING_NOT_SUPPORTED = 0x6884
INCOMPATIBLE_FILE = 0x6981  # command incompatible with file structure
SECURITY_NOT_SATISFIED = 0x6982
PIN_BLOCKED = 0x6983  # authentication method blocked
CONDITIONS_NOT_SATISFIED = 0x6985
NO_CURRENT_EF = 0x6986
WRONG_DATA = 0x6A80
FILE_NOT_FOUND = 0x6A82
WRONG_P1P2 = 0x6A86
REFERENCE_NOT_FOUND = 0x6A88
WRONG_PARAMETERS = 0x6B00  # e.g. offset outside the EF
INS_NOT_SUPPORTED = 0x6D00
CLA_NOT_SUPPORTED = 0x6E00
UNKNOWN_ERROR = 0x6F00


def is_status_word(sw: int) -> bool:
    """True for the status words ISO 7816-4 defines (SW1 61-6F or 90-9F)."""
    sw1 = sw >> 8
    return 0x61 <= sw1 <= 0x6F or 0x90 <= sw1 <= 0x9F


@dataclass(frozen=True)
class Response:
    sw: int
    data: bytes = b""

    def to_bytes(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Response":
        if len(raw) < 2:
            raise MalformedApdu(f"a response has at least SW1 SW2, got {len(raw)} bytes")
        return cls(int.from_bytes(raw[-2:], "big"), raw[:-2])

    @property
    def ok(self) -> bool:
        return self.sw == OK


def sw_text(sw: int) -> str:
    return f"{sw >> 8:02X} {sw & 0xFF:02X}"
