"""The command engine: the card's applications answering ISO 7816-4 APDUs.

:class:`Card` is the chip as a reader sees it: an ATR, then commands in, responses out.
It holds the volatile state (selected application and EF, which PINs are verified in
this session) and delegates the persistent state (PIN retry counters) to a
:class:`~myna.chip.pins.PinStore`. Power-off and reset clear the volatile state only.

Applications (SPEC §7; docs/card.md has the full table, :mod:`myna.chip.layout` the bytes):

* JPKI AP ``D3 92 F0 00 26 01 00 00 00 01`` (公的個人認証AP): EFs 000A/000B (auth
  certificate and its CA), 0001/0002 (signature certificate and its CA), 0006 token
  information, 0017/001A the keys, 0018/001B the PINs.
* Card-face input-support AP ``D3 92 10 00 31 00 01 01 04 08`` (券面事項入力補助AP):
  EF 0001 Individual Number, 0002 basic 4 information, 0003 their digests and signature,
  0004 certificate, 0005 AP information, 0011 its PIN, 0014/0015 collation numbers A/B.
* Card-face confirmation AP ``D3 92 10 00 31 00 01 01 04 02`` (券面事項確認AP): EF 0001
  birth date, 0002 the card face (photo, name and address images, expiry, security
  code), 0003 AP information, 0004 certificate, 0005 the number image; 0011 birth-date
  PIN, 0012/0013 collation numbers B/A.

Commands: SELECT (A4), READ BINARY (B0), VERIFY (20), CHANGE REFERENCE DATA (24),
COMPUTE DIGITAL SIGNATURE (80 2A). Everything else gets the ISO status word that says
why not. :meth:`Card.process` raises only on a bug; :meth:`Card.transmit` (what the
reader bridge calls) never raises.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from myna import logs
from myna.chip import apdu, layout
from myna.chip.apdu import Command, MalformedApdu, Response
from myna.chip.image import TOKEN_INFO, CardImage, KeyRef
from myna.chip.pins import CardFacePins, Outcome, PinRef, PinStore

log = logs.get("myna.chip")

ATR = bytes.fromhex("3BE000FF8131FE4514")  # T=1 only, no historical bytes (SPEC §7)
JPKI_AID = bytes.fromhex("D392F000260100000001")
FACE_AID = bytes.fromhex("D3921000310001010408")
CONFIRMATION_AID = bytes.fromhex("D3921000310001010402")

# JPKI AP elementary files
EF_AUTH_CERT, EF_AUTH_CA_CERT = 0x000A, 0x000B
EF_SIGN_CERT, EF_SIGN_CA_CERT = 0x0001, 0x0002
EF_TOKEN = 0x0006
EF_AUTH_KEY, EF_AUTH_PIN = 0x0017, 0x0018
EF_SIGN_KEY, EF_SIGN_PIN = 0x001A, 0x001B
# Card-face input-support AP elementary files
EF_FACE_NUMBER, EF_FACE_BASIC4, EF_FACE_PIN = 0x0001, 0x0002, 0x0011
EF_FACE_SIGNATURE, EF_FACE_CERT, EF_FACE_INFO = 0x0003, 0x0004, 0x0005
EF_FACE_PIN_A, EF_FACE_PIN_B = 0x0014, 0x0015
# Card-face confirmation AP elementary files
EF_CONF_BIRTH, EF_CONF_ENTRIES, EF_CONF_INFO, EF_CONF_CERT, EF_CONF_NUMBER = 0x0001, 0x0002, 0x0003, 0x0004, 0x0005
EF_CONF_PIN_BIRTH, EF_CONF_PIN_B, EF_CONF_PIN_A = 0x0011, 0x0012, 0x0013


@dataclass(frozen=True)
class BinaryEF:
    """A transparent EF of fixed size (``content`` includes its padding). ``read_pins``:
    verifying any one of them opens it; none: free to read."""

    content: bytes
    read_pins: tuple[PinRef, ...] = ()


@dataclass(frozen=True)
class PinEF:
    pin: PinRef


@dataclass(frozen=True)
class KeyEF:
    key: KeyRef
    pin: PinRef


EF = BinaryEF | PinEF | KeyEF


class Application:
    """A DF selected by its AID. ``files`` is built on first use: the card-face APs
    render images and sign on the card's behalf, which a reader that never selects
    them should not wait for."""

    def __init__(self, aid: bytes, name: str, build: Callable[[], dict[int, EF]]):
        self.aid, self.name, self._build = aid, name, build

    @functools.cached_property
    def files(self) -> dict[int, EF]:
        return self._build()


def _jpki_files(image: CardImage) -> dict[int, EF]:
    files: dict[int, EF] = {
        EF_TOKEN: BinaryEF(TOKEN_INFO),
        EF_AUTH_KEY: KeyEF(KeyRef.AUTH, PinRef.AUTH),
        EF_AUTH_PIN: PinEF(PinRef.AUTH),
        EF_SIGN_KEY: KeyEF(KeyRef.SIGN, PinRef.SIGN),
        EF_SIGN_PIN: PinEF(PinRef.SIGN),
    }
    # The signature certificate carries the basic 4 information: reading it needs the
    # signature PIN (the real card's rule; OpenSC marks it private for that reason).
    for fid, der, pin in (
        (EF_AUTH_CERT, image.auth_cert, ()),
        (EF_AUTH_CA_CERT, image.auth_ca_cert, ()),
        (EF_SIGN_CERT, image.sign_cert, (PinRef.SIGN,)),
        (EF_SIGN_CA_CERT, image.sign_ca_cert, ()),
    ):
        if der:
            files[fid] = BinaryEF(layout.certificate_ef(der), pin)
    return files


def _support_files(image: CardImage) -> dict[int, EF]:
    face, key = image.face, image.keys[KeyRef.FACE]
    # The number, the basic 4 information and their signature need the input-support
    # PIN (choice: or a collation number, which the public clients also verify here).
    protected = (PinRef.FACE, PinRef.COLLATION_A, PinRef.COLLATION_B)
    return {
        EF_FACE_NUMBER: BinaryEF(layout.number_ef(face), protected),
        EF_FACE_BASIC4: BinaryEF(layout.basic4_ef(face), protected),
        EF_FACE_SIGNATURE: BinaryEF(layout.support_signature_ef(face, key), protected),
        EF_FACE_CERT: BinaryEF(layout.cv_certificate(image.card_id, key)),
        EF_FACE_INFO: BinaryEF(layout.support_info_ef(key)),
        EF_FACE_PIN: PinEF(PinRef.FACE),
        EF_FACE_PIN_A: PinEF(PinRef.COLLATION_A),
        EF_FACE_PIN_B: PinEF(PinRef.COLLATION_B),
    }


def _confirmation_files(image: CardImage) -> dict[int, EF]:
    face, key = image.face, image.keys[KeyRef.FACE]
    # Collation number A (the Individual Number) opens the front and the back; B (birth,
    # expiry, security code: what the front shows) only the front (jpki-rs surface.rs).
    return {
        EF_CONF_BIRTH: BinaryEF(layout.birth_ef(face, key), (PinRef.BIRTH,)),
        EF_CONF_ENTRIES: BinaryEF(layout.entries_ef(face, key), (PinRef.COLLATION_A, PinRef.COLLATION_B)),
        EF_CONF_INFO: BinaryEF(layout.confirmation_info_ef(face, key)),
        EF_CONF_CERT: BinaryEF(layout.cv_certificate(image.card_id, key)),
        EF_CONF_NUMBER: BinaryEF(layout.my_number_ef(face, key), (PinRef.COLLATION_A,)),
        EF_CONF_PIN_BIRTH: PinEF(PinRef.BIRTH),
        EF_CONF_PIN_B: PinEF(PinRef.COLLATION_B),
        EF_CONF_PIN_A: PinEF(PinRef.COLLATION_A),
    }


def applications(image: CardImage) -> dict[bytes, Application]:
    apps = {JPKI_AID: Application(JPKI_AID, "JPKI", lambda: _jpki_files(image))}
    if image.face is not None:
        apps[FACE_AID] = Application(FACE_AID, "card-face input support", lambda: _support_files(image))
        apps[CONFIRMATION_AID] = Application(CONFIRMATION_AID, "card-face confirmation", lambda: _confirmation_files(image))
    return apps


def face_pins(image: CardImage) -> CardFacePins:
    """The collation numbers and the birth-date PIN, from what is printed on the card."""
    if image.face is None:
        return CardFacePins({})
    f = image.face
    return CardFacePins(
        {PinRef.COLLATION_A: layout.collation_a(f), PinRef.COLLATION_B: layout.collation_b(f), PinRef.BIRTH: layout.birth_pin(f)}
    )


def _sw(sw: int, data: bytes = b"") -> Response:
    return Response(sw, data)


# INS codes and the class byte each one belongs to.
INS_SELECT, INS_READ_BINARY, INS_VERIFY, INS_CHANGE_REF, INS_SIGN, INS_GET_RESPONSE = 0xA4, 0xB0, 0x20, 0x24, 0x2A, 0xC0
_INS_CLASS = {INS_SELECT: 0x00, INS_READ_BINARY: 0x00, INS_VERIFY: 0x00, INS_CHANGE_REF: 0x00, INS_GET_RESPONSE: 0x00, INS_SIGN: 0x80}
_SECRET_INS = {INS_VERIFY, INS_CHANGE_REF}  # their data is a PIN: never traced


class Card:
    """One chip in one reader.

    ``trace`` (optional) receives every command and response; the data of VERIFY and
    CHANGE REFERENCE DATA (PINs) is masked (:class:`TracedCommand`), their Lc kept.

    ``pins`` holds the counters of the PINs the holder chose; the collation numbers and
    the birth-date PIN, printed on the card, are counted by the chip itself."""

    def __init__(self, image: CardImage, pins: PinStore, trace: Callable[[bytes, bytes], None] | None = None):
        self.image = image
        self.pins = pins
        self.trace = trace
        self._apps = applications(image)
        self._face_pins = face_pins(image)
        self.atr = ATR
        self.power_on()

    # -- power ---------------------------------------------------------------------

    def power_on(self) -> None:
        """Power-up or reset: nothing selected, no PIN verified. Counters are untouched."""
        self._app: Application | None = None
        self._ef_id: int | None = None
        self._verified: set[PinRef] = set()

    reset = power_on
    power_off = power_on

    # -- the reader's entry points ---------------------------------------------------

    def transmit(self, raw: bytes) -> bytes:
        """Answer one command APDU with a response APDU. Never raises: a failure inside
        the card (e.g. the store holding the counters is unreachable) answers 6F 00 and
        leaves no PIN verified."""
        try:
            resp = self.process(raw)
        except Exception:
            self._verified.clear()
            resp = Response(apdu.UNKNOWN_ERROR)
            try:
                log.exception("card.internal_error", card=self.image.card_id)
            except Exception:  # not even a broken log may break the card
                pass
        out = resp.to_bytes()
        if self.trace:
            try:
                self.trace(TracedCommand.of(raw), out if not (len(raw) > 1 and raw[1] in _SECRET_INS) else out[-2:])
            except Exception:
                pass
        return out

    def process(self, raw: bytes) -> Response:
        try:
            cmd = apdu.parse(bytes(raw))
        except MalformedApdu:
            return _sw(apdu.WRONG_LENGTH)
        refused = self._check_class(cmd)
        if refused is not None:
            return refused
        handler = {
            INS_SELECT: self._select,
            INS_READ_BINARY: self._read_binary,
            INS_VERIFY: self._verify,
            INS_CHANGE_REF: self._change_reference,
            INS_SIGN: self._sign,
            INS_GET_RESPONSE: self._get_response,
        }.get(cmd.ins)
        if handler is None:
            return _sw(apdu.INS_NOT_SUPPORTED)
        if cmd.cla & 0xFC != _INS_CLASS[cmd.ins]:  # e.g. 00 2A (ISO PSO) or 80 B0
            return _sw(apdu.CLA_NOT_SUPPORTED)
        return handler(cmd)

    # -- class byte ----------------------------------------------------------------

    @staticmethod
    def _check_class(cmd: Command) -> Response | None:
        cla = cmd.cla
        if cla in (0x00, 0x80):
            return None
        if cla == 0xFF or 0x20 <= cla <= 0x3F or 0xA0 <= cla:
            return _sw(apdu.CLA_NOT_SUPPORTED)
        if 0x40 <= cla <= 0x7F:  # further interindustry class: logical channels 4-19
            return _sw(apdu.LOGICAL_CHANNEL_NOT_SUPPORTED)
        # 0x01-0x1F and 0x81-0x9F: chaining, secure messaging or a logical channel
        if cla & 0x10:
            return _sw(apdu.CHAINING_NOT_SUPPORTED)
        if cla & 0x0C:
            return _sw(apdu.SECURE_MESSAGING_NOT_SUPPORTED)
        return _sw(apdu.LOGICAL_CHANNEL_NOT_SUPPORTED)

    # -- SELECT --------------------------------------------------------------------

    def _select(self, cmd: Command) -> Response:
        if cmd.p2 not in (0x0C, 0x00):  # first occurrence; no FCI (00 is accepted, none returned)
            return _sw(apdu.WRONG_P1P2)
        if cmd.p1 == 0x04:  # by DF name (AID)
            if not 1 <= len(cmd.data) <= 16:
                return _sw(apdu.WRONG_LENGTH)
            app = self._apps.get(cmd.data)
            if app is None:
                return _sw(apdu.FILE_NOT_FOUND)
            # The security status belongs to the application: selecting the current one
            # again keeps what was verified in it (ISO/IEC 7816-4 lets a DF's security
            # status be kept on its selection; public clients such as pyjpki select the
            # JPKI AP again between VERIFY and READ BINARY / the signature, and that works
            # on the real card); entering another application starts afresh.
            if app is not self._app:
                self._verified = set()
            self._app, self._ef_id = app, None
            return _sw(apdu.OK)
        if cmd.p1 in (0x00, 0x02):  # by file identifier (00: MF/DF/EF, 02: EF under the current DF)
            if cmd.p1 == 0x00 and cmd.data in (b"", b"\x3f\x00"):
                self._app, self._ef_id, self._verified = None, None, set()
                return _sw(apdu.OK)
            if len(cmd.data) != 2:
                return _sw(apdu.WRONG_LENGTH)
            fid = int.from_bytes(cmd.data, "big")
            if self._app is None or fid not in self._app.files:
                return _sw(apdu.FILE_NOT_FOUND)
            self._ef_id = fid
            return _sw(apdu.OK)
        return _sw(apdu.WRONG_P1P2)

    def _current_ef(self) -> EF | None:
        if self._app is None or self._ef_id is None:
            return None
        return self._app.files.get(self._ef_id)

    # -- READ BINARY -----------------------------------------------------------------

    def _read_binary(self, cmd: Command) -> Response:
        if cmd.data:
            return _sw(apdu.WRONG_LENGTH)
        if cmd.p1 & 0x80:  # short EF identifier in P1, offset in P2
            sfi = cmd.p1 & 0x1F
            if cmd.p1 & 0x60 or sfi == 0:
                return _sw(apdu.WRONG_P1P2)
            if self._app is None or sfi not in self._app.files:
                return _sw(apdu.FILE_NOT_FOUND)
            self._ef_id = sfi
            offset = cmd.p2
        else:
            offset = cmd.p1p2
        if cmd.le is None:
            return _sw(apdu.WRONG_LENGTH)
        ef = self._current_ef()
        if ef is None:
            return _sw(apdu.NO_CURRENT_EF)
        if not isinstance(ef, BinaryEF):
            return _sw(apdu.INCOMPATIBLE_FILE)  # keys and PINs are never read
        if ef.read_pins and not self._verified.intersection(ef.read_pins):
            return _sw(apdu.SECURITY_NOT_SATISFIED)
        if offset >= len(ef.content):
            return _sw(apdu.WRONG_PARAMETERS)
        chunk = ef.content[offset : offset + cmd.le]
        # Le 00 (or 0000) asks for up to the maximum: all the bytes left, with 90 00
        # (ISO/IEC 7816-4 5.1). A stated Le the file cannot fill is answered with what
        # there is and 62 82. Files have fixed sizes (myna.chip.layout), so the reads
        # the public clients make (whole pages, header then chunks) all stay inside.
        wants_all = cmd.le == (65536 if cmd.extended else 256)
        return _sw(apdu.OK if len(chunk) == cmd.le or wants_all else apdu.END_OF_FILE, chunk)

    # -- VERIFY and CHANGE REFERENCE DATA ------------------------------------------------

    def _pin_ef(self, p2: int = 0x80) -> PinEF | None:
        """P2 80: the PIN of the selected EF (what OpenSC and most clients send after
        SELECT of the PIN EF). P2 80 + n: the PIN EF with short identifier n in the
        current application, no SELECT needed (ISO/IEC 7816-4 specific reference data;
        @aokiapp/apdu-utils ``verify(pin, {ef})`` sends it)."""
        if p2 == 0x80:
            ef = self._current_ef()
        else:
            ef = self._app.files.get(p2 & 0x1F) if self._app is not None else None
        return ef if isinstance(ef, PinEF) else None

    def _counter(self, ref: PinRef) -> PinStore:
        return self._face_pins if ref in self._face_pins else self.pins

    def _verify(self, cmd: Command) -> Response:
        if cmd.p1 != 0x00 or not 0x80 <= cmd.p2 <= 0x9E:
            return _sw(apdu.WRONG_P1P2)
        ef = self._pin_ef(cmd.p2)
        if ef is None:
            return _sw(apdu.REFERENCE_NOT_FOUND)
        counter = self._counter(ef.pin)
        if not cmd.data:  # how many tries are left (63 C0 when blocked)
            return _sw(apdu.PIN_TRIES | min(counter.tries_left(ef.pin), 15))
        result = counter.attempt(ef.pin, cmd.data)
        if result.outcome is Outcome.OK:
            self._verified.add(ef.pin)
            return _sw(apdu.OK)
        self._verified.discard(ef.pin)
        if result.outcome is Outcome.BLOCKED:
            return _sw(apdu.PIN_BLOCKED)
        return _sw(apdu.PIN_TRIES | min(result.tries_left, 15))

    def _change_reference(self, cmd: Command) -> Response:
        """00 24 01 80 + new PIN: the holder changes a PIN just verified (P1 01: new
        reference data only). The counter flow, not this command, resets a blocked PIN."""
        if cmd.p1 != 0x01 or not 0x80 <= cmd.p2 <= 0x9E:
            return _sw(apdu.WRONG_P1P2)
        ef = self._pin_ef(cmd.p2)
        if ef is None:
            return _sw(apdu.REFERENCE_NOT_FOUND)
        if not ef.pin.holder_set:  # a collation number is what the card face shows
            return _sw(apdu.CONDITIONS_NOT_SATISFIED)
        if ef.pin not in self._verified:
            return _sw(apdu.SECURITY_NOT_SATISFIED)
        if not cmd.data:
            return _sw(apdu.WRONG_LENGTH)
        try:
            new_pin = ef.pin.check(cmd.data)
        except Exception:
            return _sw(apdu.WRONG_DATA)
        self.pins.change(ef.pin, new_pin)
        return _sw(apdu.OK)

    # -- COMPUTE DIGITAL SIGNATURE ---------------------------------------------------

    def _sign(self, cmd: Command) -> Response:
        if cmd.p1 != 0x00 or cmd.p2 != 0x80:
            return _sw(apdu.WRONG_P1P2)
        ef = self._current_ef()
        if not isinstance(ef, KeyEF):
            return _sw(apdu.CONDITIONS_NOT_SATISFIED)  # select the key EF first
        if ef.pin not in self._verified:
            return _sw(apdu.SECURITY_NOT_SATISFIED)
        slot = self.image.keys.get(ef.key)
        if slot is None:
            return _sw(apdu.CONDITIONS_NOT_SATISFIED)
        if not 1 <= len(cmd.data) <= slot.size - 11:
            return _sw(apdu.WRONG_LENGTH)
        if cmd.le is not None and cmd.le < slot.size:
            return _sw(apdu.WRONG_LENGTH)
        return _sw(apdu.OK, slot.sign(cmd.data))

    def _get_response(self, cmd: Command) -> Response:
        return _sw(apdu.CONDITIONS_NOT_SATISFIED)  # this card never leaves data waiting (no 61 xx)


class TracedCommand(bytes):
    """A command as the trace shows it: its bytes, except that the data of VERIFY and
    CHANGE REFERENCE DATA (a PIN) are zeros, and :meth:`hex` writes each of them as
    ``XX``; CLA INS P1 P2 and Lc are shown as sent (jpki/myna's trace does the same)."""

    secret: int = 0  # how many trailing data bytes are masked

    @classmethod
    def of(cls, raw: bytes) -> "TracedCommand":
        raw = bytes(raw)
        if len(raw) > 5 and raw[1] in _SECRET_INS:
            head = 7 if raw[4] == 0 and len(raw) > 7 else 5  # extended Lc is three bytes
            out = cls(raw[:head] + bytes(len(raw) - head))
            out.secret = len(raw) - head
            return out
        return cls(raw)

    def hex(self, sep: str | bytes | None = None, bytes_per_sep: int = 1) -> str:  # type: ignore[override]
        if not self.secret:
            return super().hex() if sep is None else super().hex(sep, bytes_per_sep)
        shown = bytes(self[: len(self) - self.secret])
        parts = [f"{b:02x}" for b in shown] + ["XX"] * self.secret
        return (sep.decode() if isinstance(sep, bytes) else sep or "").join(parts)

    def __str__(self) -> str:
        return self.hex(" ")
