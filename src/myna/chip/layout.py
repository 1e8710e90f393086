"""The card's file system, byte for byte: what each elementary file of the three
applications holds, its fixed size and its padding.

Sources (docs/card.md has the table with every fact and where it comes from):

* OpenSC ``src/libopensc/card-jpki.c`` reads a certificate EF's first 4 bytes and takes
  ``30 82 LL LL`` for its length; ``jpki/myna`` and ``siketyan/jpki-rs`` read the first 7
  bytes and parse the BER header; ``meowkawaiijp/pyjpki`` reads whole pages with Le ``00``.
  Each needs ``90 00`` for every read inside the file: a file is a fixed size, its
  content at the start, the rest padding.
* The input-support AP (券面事項入力補助AP): jpki/myna (libmyna ``text_ap.go``) reads 17
  bytes of EF 0001 (``DF 10`` + 12 digits), 7 bytes of EF 0002 then the rest (``FF 20``
  with ``DF 21``-``DF 25``), exactly 336 bytes of EF 0003 (``FF 30``: ``DF 31``/``DF 32``
  digests, ``DF 33`` signature), 568 of EF 0004 (``7F 21`` certificate) and 256 of EF 0005
  (``FF 40``: ``DF 41`` AP information, 4 bytes, ``DF 42`` key id, 16 bytes).
  @aokiapp/mynacard hashes the whole EF 0001 and EF 0002 from its first offset to the end
  of the ``FF 20`` object and compares them with EF 0003's digests.
* The confirmation AP (券面事項確認AP): @aokiapp/mynacard ``schema.ts`` (``FF 10`` birth,
  ``FF 20`` entries ``DF 21``-``DF 2A``, ``FF 40`` number image), jpki/myna ``visual.rs``.

Everything else (padding byte, the sizes the sources do not fix, what is signed) is
myna's choice and said so where it is made.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography.hazmat.primitives.asymmetric import rsa

from myna.chip import faceimages
from myna.chip.image import FaceData, KeySlot
from myna.pki import validity

PAGE = 256
PAD = 0xFF  # choice: unused bytes of an EF read as FF (erased memory); the sources only need them to be there

# -- BER-TLV -----------------------------------------------------------------------------


def length(n: int, long: bool = False) -> bytes:
    """A BER length: the shortest form, or with ``long`` always ``82 LL LL`` (how the
    real card writes the length of its outer templates: ``FF 20 82 LL LL``)."""
    if long:
        return b"\x82" + n.to_bytes(2, "big")
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return b"\x82" + n.to_bytes(2, "big")


def tlv(tag: int, value: bytes, long: bool = False) -> bytes:
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big") + length(len(value), long) + value


def padded(content: bytes, size: int) -> bytes:
    if len(content) > size:
        raise ValueError(f"{len(content)} bytes do not fit an EF of {size}")
    return content + bytes([PAD]) * (size - len(content))


def pages(n: int, at_least: int = 0) -> int:
    """The size of an EF for ``n`` bytes of content: ``at_least``, or whole pages when more."""
    return max(at_least, -(-n // PAGE) * PAGE)


def _tlv_end(buf: bytes, at: int = 0) -> tuple[int, int]:
    """(start of the value, end of the object) of the BER-TLV at ``at``."""
    i = at + 1
    if buf[at] & 0x1F == 0x1F:
        while buf[i] & 0x80:
            i += 1
        i += 1
    first = buf[i]
    i += 1
    if first < 0x80:
        return i, i + first
    n = first & 0x7F
    return i + n, i + n + int.from_bytes(buf[i : i + n], "big")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _sign(key: KeySlot, data: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 with SHA-256 by the card-face key (choice: what exactly the real
    card's signatures cover is not public; each function below says what myna signs)."""
    return key.sign(_SHA256_DIGEST_INFO + sha256(data))


def public_key_raw(pub: rsa.RSAPublicKey) -> bytes:
    """The public-key field of the card-face data: the exponent, then the modulus, each a
    TLV (@aokiapp/mynacard's ``decodePublicKey`` reads e then n). Tags 82 (e) and 81
    (n) as in ISO/IEC 7816-8's public-key data objects (choice)."""
    nums = pub.public_numbers()
    e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
    n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
    return tlv(0x82, e) + tlv(0x81, n)


# -- the JPKI AP (公的個人認証AP) ------------------------------------------------------------

CERT_EF_SIZE = 0x0800  # choice: 2 KB; a longer certificate gets whole pages
TOKEN_EF_SIZE = 0x20  # jpki/myna reads 0x20 bytes of EF 0006


def certificate_ef(der: bytes) -> bytes:
    """EF 000A/000B/0001/0002: the DER, then padding to a fixed size of whole pages."""
    return padded(der, pages(len(der), CERT_EF_SIZE))


def token_ef() -> bytes:
    return b"JPKIAPICCTOKEN2".ljust(TOKEN_EF_SIZE, b" ")  # padded with spaces (libmyna trims them)


# -- sex, as the card writes it ------------------------------------------------------------------


def card_sex(register_code: str) -> str:
    """The card's sex code is ISO/IEC 5218 (libmyna ``text_ap.go``: "ISO5218コード";
    jpki-rs reads 1, 2 and 9): 1 male, 2 female, 9 not applicable, 0 not known. The
    register's 3 (not known) is written as 0."""
    return {"1": "1", "2": "2", "9": "9"}.get(register_code, "0")


# -- the card-face input-support AP (券面事項入力補助AP) -----------------------------------------

NUMBER_EF_SIZE = 17  # read whole by jpki/myna (17 bytes) and by @aokiapp/mynacard (Le 0000), hashed into EF 0003
BASIC4_EF_SIZE = 0x0200  # choice: two pages; longer names and addresses get whole pages
SUPPORT_INFO_EF_SIZE = 0x0100  # libmyna reads 256 bytes of EF 0005 and needs all 256
AP_INFO = bytes.fromhex("01000000")  # choice: DF 41, 4 bytes (libmyna checks the length only)


def number_ef(face: FaceData) -> bytes:
    """EF 0001: ``DF 10 0C`` + the 12 digits, padded to 17 bytes."""
    return padded(tlv(0xDF10, face.number.encode("ascii")), NUMBER_EF_SIZE)


def basic4_object(face: FaceData) -> bytes:
    """The ``FF 20`` object of EF 0002 (no padding): ``FF 20 82 LL LL`` { ``DF 21``
    offsets, ``DF 22`` name, ``DF 23`` address, ``DF 24`` birth YYYYMMDD, ``DF 25`` sex }.

    The outer length is always the ``82 LL LL`` form, so the header is 5 bytes and the
    name starts at offset 16, where fixed-offset readers look. ``DF 21`` holds, two bytes
    each, the offsets of the four fields' tags from the start of the EF (the real card's
    ``DF 21`` is 8 bytes of offsets, @aokiapp/mynacard ``decodeOffsets``; myna's choice is
    what they point at)."""
    fields = [
        tlv(0xDF22, face.name.encode("utf-8")),
        tlv(0xDF23, face.address.encode("utf-8")),
        tlv(0xDF24, face.date_of_birth.strftime("%Y%m%d").encode("ascii")),
        tlv(0xDF25, card_sex(face.sex).encode("ascii")),
    ]
    return _with_offsets(0xFF20, 0xDF21, fields)


def _with_offsets(outer: int, offsets_tag: int, fields: list[bytes]) -> bytes:
    head = len(tlv(outer, b"", long=True))
    pos = head + len(tlv(offsets_tag, b"\x00" * 2 * len(fields)))
    offsets = b""
    for f in fields:
        offsets += pos.to_bytes(2, "big")
        pos += len(f)
    return tlv(outer, tlv(offsets_tag, offsets) + b"".join(fields), long=True)


def basic4_ef(face: FaceData) -> bytes:
    obj = basic4_object(face)
    return padded(obj, pages(len(obj), BASIC4_EF_SIZE))


def offsets_of(obj: bytes) -> list[int]:
    """The offsets in the ``DF 21`` that opens an ``FF 20`` object."""
    start, _ = _tlv_end(obj)
    vstart, vend = _tlv_end(obj, start)
    raw = obj[vstart:vend]
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def basic4_digest_part(obj: bytes) -> bytes:
    """What ``DF 32`` digests: from the first offset (the name) to the end of the
    ``FF 20`` object (@aokiapp/mynacard ``calculateBasicFourHash``)."""
    _, end = _tlv_end(obj)
    return obj[offsets_of(obj)[0] : end]


def support_signature_ef(face: FaceData, key: KeySlot) -> bytes:
    """EF 0003, 336 bytes: ``FF 30 82 01 4B`` { ``DF 31`` SHA-256 of EF 0001 (17 bytes),
    ``DF 32`` SHA-256 of the basic 4 information, ``DF 33`` the signature }. Myna signs
    the two digests, concatenated, with the card-face key (choice)."""
    d31 = sha256(number_ef(face))
    d32 = sha256(basic4_digest_part(basic4_object(face)))
    return tlv(0xFF30, tlv(0xDF31, d31) + tlv(0xDF32, d32) + tlv(0xDF33, _sign(key, d31 + d32)), long=True)


ISSUER_ID = b"MYNA CARD FACE".ljust(16, b"\x00")  # choice: 16 bytes, as in the real card's 5F 4E


def cv_certificate(card_id: str, key: KeySlot) -> bytes:
    """EF 0004 of both card-face APs, 568 bytes: ``7F 21`` { ``5F 4E`` issuer id (16),
    subject id (16), public key; ``5F 37`` signature } (@aokiapp/mynacard
    ``schemaCertificate``; libmyna reads 568 bytes). Myna has no card-face CA: the
    certificate is signed by the card-face key itself (choice, docs/card.md)."""
    subject = bytes.fromhex(card_id).ljust(16, b"\x00")
    body = tlv(0x5F4E, ISSUER_ID + subject + public_key_raw(key.public_key()), long=True)
    return tlv(0x7F21, body + tlv(0x5F37, _sign(key, body), long=True), long=True)


def key_id(key: KeySlot) -> bytes:
    """16 bytes naming the card-face key (choice: the start of SHA-256 of its modulus)."""
    return sha256(key.public_key().public_numbers().n.to_bytes(key.size, "big"))[:16]


def support_info_ef(key: KeySlot) -> bytes:
    """EF 0005, 256 bytes: ``FF 40`` { ``DF 41`` AP information, ``DF 42`` key id }."""
    return padded(tlv(0xFF40, tlv(0xDF41, AP_INFO) + tlv(0xDF42, key_id(key)), long=True), SUPPORT_INFO_EF_SIZE)


# -- the card-face confirmation AP (券面事項確認AP) ------------------------------------------------

ENTRIES_EF_SIZE = 0x3000  # choice: 12 KB; a larger photo gets whole pages
CONFIRMATION_INFO_EF_SIZE = 0x0100
CONFIRMATION_VERSION = b"\x01"


def expires(face: FaceData) -> dt.date:
    """The card's expiry; for an image sealed before it was recorded, the 10th birthday
    after 2025-01-01 (a fixed stand-in, so the card reads the same each time)."""
    return face.expires or validity.nth_birthday_after(face.date_of_birth, dt.date(2025, 1, 1), 10)


def security_code(face: FaceData) -> str:
    """The 4-digit security code; for an older image, 4 digits derived from the number."""
    return face.security_code or f"{int.from_bytes(sha256(b'myna security code:' + face.number.encode())[:4], 'big') % 10000:04d}"


def collation_a(face: FaceData) -> str:
    """Collation number A (照合番号A): the Individual Number, 12 digits."""
    return face.number


def collation_b(face: FaceData) -> str:
    """Collation number B (照合番号B), 14 digits: birth YYMMDD, the expiry year YYYY,
    the security code (@aokiapp/mynacard ``KENKAKU_AP_EF.PIN_B``)."""
    return face.date_of_birth.strftime("%y%m%d") + f"{expires(face).year:04d}" + security_code(face)


def birth_pin(face: FaceData) -> str:
    """The confirmation AP's birth-date PIN (EF 0011): YYMMDD (choice of form)."""
    return face.date_of_birth.strftime("%y%m%d")


def photo(face: FaceData) -> bytes:
    return face.photo if face.photo is not None else faceimages.photo_jp2(None)


def _number_text(number: str) -> str:
    return f"{number[:4]} {number[4:8]} {number[8:]}"


def birth_ef(face: FaceData, key: KeySlot) -> bytes:
    """EF 0001: ``FF 10`` { ``DF 11`` birth YYYYMMDD, ``DF 12`` public key, ``DF 13``
    signature over the ``DF 11`` and ``DF 12`` objects } (@aokiapp/mynacard ``schemaKenkakuBirth``)."""
    signed = tlv(0xDF11, face.date_of_birth.strftime("%Y%m%d").encode("ascii")) + tlv(0xDF12, public_key_raw(key.public_key()))
    obj = tlv(0xFF10, signed + tlv(0xDF13, _sign(key, signed)), long=True)
    return padded(obj, pages(len(obj)))


def entries_object(face: FaceData, key: KeySlot) -> bytes:
    """The ``FF 20`` object of EF 0002: { ``DF 21`` offsets, ``DF 22`` birth YYYYMMDD,
    ``DF 23`` sex, ``DF 24`` public key, ``DF 25`` name (PNG), ``DF 26`` address (PNG),
    ``DF 27`` photo (JPEG 2000), ``DF 28`` signature, ``DF 29`` expiry YYYYMMDD, ``DF 2A``
    security code (PNG) } (@aokiapp/mynacard ``schemaKenkakuEntries``; jpki/myna
    ``visual.rs``). ``DF 28`` signs the bytes from ``DF 22`` to the end of ``DF 27``
    (choice)."""
    before = [
        tlv(0xDF22, face.date_of_birth.strftime("%Y%m%d").encode("ascii")),
        tlv(0xDF23, card_sex(face.sex).encode("ascii")),
        tlv(0xDF24, public_key_raw(key.public_key())),
        tlv(0xDF25, faceimages.text_png(face.name)),
        tlv(0xDF26, faceimages.text_png(face.address)),
        tlv(0xDF27, photo(face)),
    ]
    after = [
        tlv(0xDF29, expires(face).strftime("%Y%m%d").encode("ascii")),
        tlv(0xDF2A, faceimages.text_png(security_code(face), width=160)),
    ]
    signature = tlv(0xDF28, _sign(key, b"".join(before)))
    return _with_offsets(0xFF20, 0xDF21, before + [signature] + after)


def entries_ef(face: FaceData, key: KeySlot) -> bytes:
    obj = entries_object(face, key)
    return padded(obj, pages(len(obj), ENTRIES_EF_SIZE))


def confirmation_info_ef(face: FaceData, key: KeySlot) -> bytes:
    """EF 0003, 256 bytes: ``FF 40`` { ``DF 41`` AP id (4), ``DF 42`` key id (16),
    ``DF 43`` version (1), ``DF 44`` the issuing municipality (UTF-8; myna writes its
    code) } (jpki/myna ``visual.rs`` reads id, skips one, version, city)."""
    body = (
        tlv(0xDF41, AP_INFO)
        + tlv(0xDF42, key_id(key))
        + tlv(0xDF43, CONFIRMATION_VERSION)
        + tlv(0xDF44, (face.municipality_code or "").encode("utf-8"))
    )
    return padded(tlv(0xFF40, body, long=True), CONFIRMATION_INFO_EF_SIZE)


def my_number_ef(face: FaceData, key: KeySlot) -> bytes:
    """EF 0005: ``FF 40`` { ``DF 41`` the number as printed (PNG), ``DF 42`` public key,
    ``DF 43`` signature over the ``DF 41`` and ``DF 42`` objects } (@aokiapp/mynacard ``schemaKenkakuMyNumber``)."""
    signed = tlv(0xDF41, faceimages.text_png(_number_text(face.number), width=320)) + tlv(0xDF42, public_key_raw(key.public_key()))
    obj = tlv(0xFF40, signed + tlv(0xDF43, _sign(key, signed)), long=True)
    return padded(obj, pages(len(obj)))
