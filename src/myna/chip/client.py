"""The reader's side of the card: JPKI and card-face commands over any transmit function.

:class:`JpkiClient` speaks to a card the way resident software does (select the AP,
select an EF, read, verify, sign). It takes a ``transmit(bytes) -> bytes`` callable, so
the same code runs over PC/SC (``myna.chip.pcsc``) and straight against a
:class:`~myna.chip.engine.Card` in tests.
"""

from __future__ import annotations

import hashlib
from typing import Callable

from cryptography import x509

from myna.chip import apdu
from myna.chip.apdu import Response
from myna.chip.engine import (
    CONFIRMATION_AID,
    EF_AUTH_CA_CERT,
    EF_AUTH_CERT,
    EF_AUTH_KEY,
    EF_AUTH_PIN,
    EF_CONF_ENTRIES,
    EF_CONF_NUMBER,
    EF_CONF_PIN_A,
    EF_CONF_PIN_B,
    EF_CONF_PIN_BIRTH,
    EF_FACE_BASIC4,
    EF_FACE_NUMBER,
    EF_FACE_PIN,
    EF_FACE_PIN_A,
    EF_FACE_PIN_B,
    EF_SIGN_CA_CERT,
    EF_SIGN_CERT,
    EF_SIGN_KEY,
    EF_SIGN_PIN,
    EF_TOKEN,
    FACE_AID,
    JPKI_AID,
)
from myna.chip.image import KeyRef
from myna.chip.pins import PinRef
from myna.errors import MynaError

Transmit = Callable[[bytes], bytes]

CERT_FILES = {"auth": EF_AUTH_CERT, "auth-ca": EF_AUTH_CA_CERT, "sign": EF_SIGN_CERT, "sign-ca": EF_SIGN_CA_CERT}
_PIN_HOME = {PinRef.AUTH: JPKI_AID, PinRef.SIGN: JPKI_AID, PinRef.FACE: FACE_AID, PinRef.BIRTH: CONFIRMATION_AID}
_PIN_EFS = {
    (JPKI_AID, PinRef.AUTH): EF_AUTH_PIN,
    (JPKI_AID, PinRef.SIGN): EF_SIGN_PIN,
    (FACE_AID, PinRef.FACE): EF_FACE_PIN,
    (FACE_AID, PinRef.COLLATION_A): EF_FACE_PIN_A,
    (FACE_AID, PinRef.COLLATION_B): EF_FACE_PIN_B,
    (CONFIRMATION_AID, PinRef.BIRTH): EF_CONF_PIN_BIRTH,
    (CONFIRMATION_AID, PinRef.COLLATION_A): EF_CONF_PIN_A,
    (CONFIRMATION_AID, PinRef.COLLATION_B): EF_CONF_PIN_B,
}
_KEY_FILES = {KeyRef.AUTH: EF_AUTH_KEY, KeyRef.SIGN: EF_SIGN_KEY}
_KEY_PINS = {KeyRef.AUTH: PinRef.AUTH, KeyRef.SIGN: PinRef.SIGN}
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


class CardError(MynaError):
    """The card refused a command."""

    code = "card-refused"

    def __init__(self, message: str, sw: int):
        super().__init__(f"{message} (card answered {apdu.sw_text(sw)})", sw=sw)
        self.sw = sw


class WrongPin(CardError):
    code = "wrong-pin"

    def __init__(self, ref: PinRef, tries_left: int, sw: int):
        blocked = " — it is now blocked; reset it at the municipality's counter" if tries_left == 0 else ""
        super().__init__(f"wrong {ref.title}: {tries_left} tries left{blocked}", sw)
        self.tries_left = tries_left


class PinBlocked(CardError):
    code = "pin-blocked"

    def __init__(self, ref: PinRef, sw: int):
        super().__init__(f"the {ref.title} is blocked; reset it at the municipality's counter", sw)


def digest_info_sha256(data: bytes) -> bytes:
    return SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(data).digest()


class JpkiClient:
    """The JPKI AP and the card-face input-support AP, seen from the reader."""

    def __init__(self, transmit: Transmit):
        self._transmit = transmit
        self._app: bytes | None = None

    def command(self, cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> Response:
        return Response.from_bytes(self._transmit(apdu.encode(cla, ins, p1, p2, data, le)))

    def _check(self, resp: Response, what: str) -> Response:
        if resp.sw not in (apdu.OK, apdu.END_OF_FILE):
            raise CardError(what, resp.sw)
        return resp

    # -- selection -----------------------------------------------------------------

    def select_app(self, aid: bytes) -> None:
        resp = self.command(0x00, 0xA4, 0x04, 0x0C, aid)
        if resp.sw == apdu.FILE_NOT_FOUND:
            raise CardError("this card has no such application: not a My Number Card?", resp.sw)
        self._check(resp, "SELECT application")
        self._app = aid

    def select_jpki(self) -> None:
        self.select_app(JPKI_AID)

    def _in(self, aid: bytes) -> None:
        if self._app != aid:
            self.select_app(aid)

    def select_ef(self, fid: int) -> None:
        self._check(self.command(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")), f"SELECT EF {fid:04X}")

    def read_binary(self, offset: int, length: int) -> bytes:
        return self._check(self.command(0x00, 0xB0, (offset >> 8) & 0x7F, offset & 0xFF, le=length), "READ BINARY").data

    def read_tlv_ef(self, fid: int) -> bytes:
        """Read a BER-TLV EF whole: its first bytes for the header (a certificate's
        first four give its length), then the rest in chunks of 256."""
        self.select_ef(fid)
        head = self.read_binary(0, 8)
        total = _tlv_total(head)
        out = bytearray(head[: min(len(head), total)])
        while len(out) < total:
            out += self.read_binary(len(out), min(256, total - len(out)))
        return bytes(out)

    # -- JPKI ----------------------------------------------------------------------

    def token_info(self) -> bytes:
        self._in(JPKI_AID)
        self.select_ef(EF_TOKEN)
        return self.read_binary(0, 32).rstrip(b" ")

    def read_certificate(self, which: str) -> x509.Certificate:
        """``auth``, ``auth-ca``, ``sign`` (needs the signature PIN verified) or ``sign-ca``."""
        self._in(JPKI_AID)
        fid = CERT_FILES[which]
        try:
            der = self.read_tlv_ef(fid)
        except CardError as e:
            if e.sw == apdu.SECURITY_NOT_SATISFIED:
                raise CardError("the signature certificate can be read only after the signature PIN", e.sw) from None
            if e.sw == apdu.FILE_NOT_FOUND:
                raise CardError(f"the card holds no {which} certificate", e.sw) from None
            raise
        return x509.load_der_x509_certificate(der)

    def _pin(self, ref: PinRef, aid: bytes | None) -> None:
        """Select the application ``ref`` lives in (``aid`` for the collation numbers,
        which both card-face APs have; default the confirmation AP) and its PIN EF."""
        aid = aid or _PIN_HOME.get(ref, CONFIRMATION_AID)
        self._in(aid)
        self.select_ef(_PIN_EFS[aid, ref])

    def tries_left(self, ref: PinRef, aid: bytes | None = None) -> int:
        self._pin(ref, aid)
        resp = self.command(0x00, 0x20, 0x00, 0x80)
        if resp.sw & 0xFFF0 != apdu.PIN_TRIES:
            raise CardError(f"asking the {ref.title} counter", resp.sw)
        return resp.sw & 0x0F

    def verify(self, ref: PinRef, pin: str, aid: bytes | None = None) -> None:
        self._pin(ref, aid)
        resp = self.command(0x00, 0x20, 0x00, 0x80, pin.encode("ascii"))
        if resp.sw == apdu.OK:
            return
        if resp.sw == apdu.PIN_BLOCKED:
            raise PinBlocked(ref, resp.sw)
        if resp.sw & 0xFFF0 == apdu.PIN_TRIES:
            raise WrongPin(ref, resp.sw & 0x0F, resp.sw)
        raise CardError(f"VERIFY {ref.title}", resp.sw)

    def sign(self, key: KeyRef, digest_info: bytes) -> bytes:
        """COMPUTE DIGITAL SIGNATURE with a key whose PIN was verified in this session."""
        self._in(JPKI_AID)
        self.select_ef(_KEY_FILES[key])
        resp = self.command(0x80, 0x2A, 0x00, 0x80, digest_info, le=256)
        if resp.sw == apdu.SECURITY_NOT_SATISFIED:
            raise CardError(f"signing needs the {_KEY_PINS[key].title} first", resp.sw)
        return self._check(resp, "COMPUTE DIGITAL SIGNATURE").data

    def sign_sha256(self, key: KeyRef, data: bytes) -> bytes:
        return self.sign(key, digest_info_sha256(data))

    # -- card-face input support -------------------------------------------------------

    def read_card_face(self) -> dict:
        """The confirmation AP's card face, EF 0002 (collation number A or B verified
        there first): the printed fields, the images, the photograph (JPEG 2000)."""
        self._in(CONFIRMATION_AID)
        raw = self.read_tlv_ef(EF_CONF_ENTRIES)
        f = _tlv_children(_tlv_value(raw))
        return {
            "date_of_birth": f[0xDF22].decode("ascii"),
            "sex": f[0xDF23].decode("ascii"),
            "public_key": f[0xDF24],
            "name_png": f[0xDF25],
            "address_png": f[0xDF26],
            "photo": f[0xDF27],
            "signature": f[0xDF28],
            "expires": f[0xDF29].decode("ascii"),
            "security_code_png": f[0xDF2A],
        }

    def read_number_image(self) -> bytes:
        """The Individual Number as printed on the back (collation number A verified)."""
        self._in(CONFIRMATION_AID)
        return _tlv_children(_tlv_value(self.read_tlv_ef(EF_CONF_NUMBER)))[0xDF41]

    def read_face(self) -> dict:
        """Number and basic 4 information (the card-face PIN must be verified)."""
        self._in(FACE_AID)
        self.select_ef(EF_FACE_NUMBER)
        number = _tlv_value(self.read_binary(0, 17))  # the whole EF 0001
        basic4 = self.read_tlv_ef(EF_FACE_BASIC4)
        fields = _tlv_children(_tlv_value(basic4))
        return {
            "number": number.decode("ascii"),
            "name": fields[0xDF22].decode("utf-8"),
            "address": fields[0xDF23].decode("utf-8"),
            "date_of_birth": fields[0xDF24].decode("ascii"),
            "sex": fields[0xDF25].decode("ascii"),
        }


def _tlv_header(buf: bytes) -> tuple[int, int, int]:
    """(tag, header length, value length) of the BER-TLV at the start of ``buf``."""
    if len(buf) < 2:
        raise MynaError("truncated TLV")
    tag, i = buf[0], 1
    if buf[0] & 0x1F == 0x1F:
        while True:
            if i >= len(buf):
                raise MynaError("truncated TLV tag")
            tag = (tag << 8) | buf[i]
            i += 1
            if not buf[i - 1] & 0x80:
                break
    if i >= len(buf):
        raise MynaError("truncated TLV length")
    first = buf[i]
    i += 1
    if first < 0x80:
        return tag, i, first
    n = first & 0x7F
    if n == 0 or n > 3 or i + n > len(buf):
        raise MynaError("unsupported TLV length")
    return tag, i + n, int.from_bytes(buf[i : i + n], "big")


def _tlv_total(buf: bytes) -> int:
    _, head, length = _tlv_header(buf)
    return head + length


def _tlv_value(buf: bytes) -> bytes:
    _, head, length = _tlv_header(buf)
    return buf[head : head + length]


def _tlv_children(buf: bytes) -> dict[int, bytes]:
    out, i = {}, 0
    while i < len(buf):
        tag, head, length = _tlv_header(buf[i:])
        out[tag] = buf[i + head : i + head + length]
        i += head + length
    return out
