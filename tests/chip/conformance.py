"""The card's public behaviour as APDU exchanges: command, answer, status word.

Each scenario is what a public client sends, unmodified, and what the real card answers
(docs/card.md cites the source of each). ``run`` plays one over any ``transmit``: the
engine directly (test_conformance.py) or PC/SC through pcscd and vpcd (the same file,
marked interop). Expected bytes come from the card's record (its image) through
:mod:`myna.chip.layout`, and the parsed values are checked against the record too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import Encoding

from myna.chip import layout
from myna.chip.client import SHA256_DIGEST_INFO_PREFIX, _tlv_children, _tlv_value
from myna.chip.engine import CONFIRMATION_AID, FACE_AID, JPKI_AID
from myna.chip.image import CardImage, KeyRef

Transmit = Callable[[bytes], bytes]
OK = 0x9000


@dataclass(frozen=True)
class Exchange:
    command: bytes
    sw: int
    data: bytes | None = None  # None: the answer's data is checked by the scenario itself
    why: str = ""


def x(command: str, sw: int = OK, data: bytes | None = b"", why: str = "") -> Exchange:
    return Exchange(bytes.fromhex(command.replace(" ", "")), sw, data, why)


def run(transmit: Transmit, exchanges: list[Exchange]) -> list[bytes]:
    """Play the exchanges in order; every answer must match. Returns each answer's data."""
    out = []
    for i, e in enumerate(exchanges):
        raw = bytes(transmit(e.command))
        sw, data = int.from_bytes(raw[-2:], "big"), raw[:-2]
        where = f"step {i} ({e.why or e.command.hex(' ')}): sent {e.command.hex(' ')}, got {data[:16].hex(' ')}… {sw:04X}"
        assert sw == e.sw, f"{where}; wanted SW {e.sw:04X}"
        if e.data is not None:
            assert data == e.data, f"{where}; wanted data {e.data[:16].hex(' ')}… ({len(e.data)} bytes), got {len(data)} bytes"
        out.append(data)
    return out


def select_aid(aid: bytes) -> Exchange:
    return x(f"00A4040C{len(aid):02X}{aid.hex()}", why=f"SELECT {aid.hex().upper()}")


def select_ef(fid: int) -> Exchange:
    return x(f"00A4020C02{fid:04X}", why=f"SELECT EF {fid:04X}")


def verify(pin: str, p2: int = 0x80) -> Exchange:
    raw = pin.encode("ascii")
    return x(f"002000{p2:02X}{len(raw):02X}{raw.hex()}", why=f"VERIFY P2 {p2:02X}")


def read(offset: int, le: int, expected: bytes | None, sw: int = OK, why: str = "READ BINARY") -> Exchange:
    """READ BINARY at ``offset``: Le 00 for 256, extended 00 00 00 for 65536."""
    head = f"00B0{(offset >> 8) & 0x7F:02X}{offset & 0xFF:02X}"
    tail = "00" if le == 256 else "000000" if le == 65536 else f"{le:02X}"
    return x(head + tail, sw, expected, why)


def read_sfi(sfi: int, le: int, expected: bytes | None, sw: int = OK, why: str = "READ BINARY by short EF id") -> Exchange:
    tail = "00" if le == 256 else "000000" if le == 65536 else f"{le:02X}"
    return x(f"00B0{0x80 | sfi:02X}00{tail}", sw, expected, why)


# -- the files, from the record -------------------------------------------------------------


def certificate_files(image: CardImage) -> dict[int, bytes]:
    return {
        fid: layout.certificate_ef(der)
        for fid, der in ((0x000A, image.auth_cert), (0x000B, image.auth_ca_cert), (0x0001, image.sign_cert), (0x0002, image.sign_ca_cert))
        if der
    }


def whole_pages(ef: bytes, der_len: int) -> list[Exchange]:
    """pyjpki / libmyna style: P1 = page number, Le 00, until the DER is covered."""
    return [read(page * 256, 256, ef[page * 256 : page * 256 + 256], why=f"page {page}") for page in range(-(-der_len // 256))]


def header_then_chunks(ef: bytes, head: int, der_len: int) -> list[Exchange]:
    """OpenSC (4 bytes of header) or jpki-rs/libmyna (7): the header, then chunks of at
    most 256 up to the DER's end, each with the exact Le."""
    steps, pos = [read(0, head, ef[:head], why=f"{head}-byte header")], head
    while pos < der_len:
        n = min(256, der_len - pos)
        steps.append(read(pos, n, ef[pos : pos + n], why=f"chunk at {pos}"))
        pos += n
    return steps


# -- scenarios ----------------------------------------------------------------------------------


def certificate_reads(transmit: Transmit, image: CardImage, sign_pin: str) -> None:
    """Every certificate file, read whole-page, header-then-chunks (4 and 7 bytes) and at
    once with extended Le: 90 00 each time, the certificate then padding."""
    for fid, ef in certificate_files(image).items():
        der = {0x000A: image.auth_cert, 0x000B: image.auth_ca_cert, 0x0001: image.sign_cert, 0x0002: image.sign_ca_cert}[fid]
        pre = [select_aid(JPKI_AID)] + ([select_ef(0x001B), verify(sign_pin)] if fid == 0x0001 else []) + [select_ef(fid)]
        pages = run(transmit, pre + whole_pages(ef, len(der)))[len(pre) :]
        got = b"".join(pages)
        assert x509.load_der_x509_certificate(got[: len(der)]).public_bytes(Encoding.DER) == der
        assert got[len(der) :] == bytes([layout.PAD]) * (len(got) - len(der))  # padding after the DER
        for head in (4, 7):
            chunks = run(transmit, [select_ef(fid)] + header_then_chunks(ef, head, len(der)))[1:]
            assert b"".join(chunks) == der
        run(transmit, [read(0, 65536, ef, why="extended Le: the whole file")])


def number_and_basic4(transmit: Transmit, image: CardImage, face_pin: str) -> None:
    """The input-support AP: the number file read as 17 bytes and whole, the basic 4
    file's header and fixed offsets, the digests of EF 0003 over both."""
    face = image.face
    number, basic4 = layout.number_ef(face), layout.basic4_ef(face)
    sig_ef, cert_ef, info_ef = (
        layout.support_signature_ef(face, image.keys[KeyRef.FACE]),
        layout.cv_certificate(image.card_id, image.keys[KeyRef.FACE]),
        layout.support_info_ef(image.keys[KeyRef.FACE]),
    )
    obj = layout.basic4_object(face)
    got = run(
        transmit,
        [
            select_aid(FACE_AID),
            select_ef(0x0001),
            read(0, 17, None, sw=0x6982, why="no PIN yet"),
            select_ef(0x0011),
            verify(face_pin),
            select_ef(0x0001),
            read(0, 17, number, why="libmyna/jpki-rs: 17 bytes"),
            read_sfi(0x01, 65536, number, why="@aokiapp: SFI 01, Le 0000: the whole file"),
            select_ef(0x0002),
            read(0, 7, basic4[:7], why="libmyna: 7-byte header"),
            read(7, len(obj) - 7, obj[7:], why="then the rest"),
            read(0, 256, basic4[:256], why="pyjpki: one page, Le 00"),
            read_sfi(0x02, 65536, basic4, why="@aokiapp: the whole file"),
            select_ef(0x0003),
            read(0, 256, sig_ef[:256], why="libmyna: 336 bytes"),
            read(256, 80, sig_ef[256:336]),
            select_ef(0x0004),
            read(0, 256, cert_ef[:256], why="libmyna: 568 bytes"),
            read(256, 256, cert_ef[256:512]),
            read(512, 56, cert_ef[512:568]),
            select_ef(0x0005),
            read(0, 256, info_ef, why="libmyna: 256 bytes, all of them"),
        ],
    )
    assert len(number) == 17 and number[:3] == b"\xdf\x10\x0c" and number[3:15].decode() == face.number
    assert obj[:3] == b"\xff\x20\x82" and obj[5:8] == b"\xdf\x21\x08" and obj[16:18] == b"\xdf\x22"  # FF 20 82 LL LL, DF 21 08, name at 16
    fields = _tlv_children(_tlv_value(got[12]))
    assert fields[0xDF22].decode() == face.name and fields[0xDF23].decode() == face.address
    assert fields[0xDF24].decode() == face.date_of_birth.strftime("%Y%m%d") and fields[0xDF25].decode() == layout.card_sex(face.sex)
    signature = _tlv_children(_tlv_value(sig_ef))
    assert len(sig_ef) == 336 and len(cert_ef) == 568 and len(info_ef) == 256
    assert signature[0xDF31] == hashlib.sha256(got[7]).digest()  # the 17 bytes read = the whole file
    assert signature[0xDF32] == hashlib.sha256(layout.basic4_digest_part(obj)).digest()
    pub = image.keys[KeyRef.FACE].public_key()
    pub.verify(signature[0xDF33], signature[0xDF31] + signature[0xDF32], PKCS1v15(), hashes.SHA256())


def verify_then_reselect(transmit: Transmit, image: CardImage, sign_pin: str) -> None:
    """VERIFY, then SELECT of the same AP, then READ and SIGN: the security status stays
    (pyjpki ``CardManager``: verify_pin, then read_certificate / sign_data, each of which
    selects the JPKI AP again)."""
    sign_ef = certificate_files(image)[0x0001]
    digest_info = SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(b"conformance").digest()
    got = run(
        transmit,
        [
            select_aid(JPKI_AID),
            select_ef(0x001B),
            verify(sign_pin),
            select_aid(JPKI_AID),
            select_ef(0x0001),
            read(0, 256, sign_ef[:256], why="signature certificate after re-SELECT"),
            select_aid(JPKI_AID),
            select_ef(0x001A),
            x(f"802A0080{len(digest_info):02X}{digest_info.hex()}00", data=None, why="signature after re-SELECT"),
            select_aid(FACE_AID),
            select_aid(JPKI_AID),
            select_ef(0x0001),
            read(0, 4, None, sw=0x6982, why="another AP in between: verified afresh"),
        ],
    )
    image.public_key(KeyRef.SIGN).verify(got[8], b"conformance", PKCS1v15(), hashes.SHA256())


def verify_by_reference(transmit: Transmit, image: CardImage, face_pin: str) -> None:
    """@aokiapp/apdu-utils: VERIFY with P2 = 80 + the PIN EF's short id, no SELECT EF;
    then READ BINARY by short EF id."""
    run(
        transmit,
        [
            select_aid(FACE_AID),
            x("00200091", sw=0x63C0 | 3, why="tries left, by reference"),
            verify(face_pin, p2=0x91),
            read_sfi(0x01, 65536, layout.number_ef(image.face)),
        ],
    )


def confirmation_ap(transmit: Transmit, image: CardImage) -> dict:
    """The card-face confirmation AP: its public files, then the card face behind
    collation number A (the number) or B (birth, expiry year, security code)."""
    face, key = image.face, image.keys[KeyRef.FACE]
    entries, number_img = layout.entries_ef(face, key), layout.my_number_ef(face, key)
    obj = layout.entries_object(face, key)
    b = layout.collation_b(face)
    steps = [
        select_aid(CONFIRMATION_AID),
        select_ef(0x0003),
        read(0, 256, layout.confirmation_info_ef(face, key), why="AP information: free"),
        select_ef(0x0004),
        read(0, 65536, layout.cv_certificate(image.card_id, key), why="certificate: free"),
        select_ef(0x0002),
        read(0, 7, None, sw=0x6982, why="the card face needs a collation number"),
        select_ef(0x0012),
        verify("0" * 14, p2=0x80) if b != "0" * 14 else verify("1" * 14),
    ]
    run(transmit, steps[:-1])
    wrong = run(transmit, [Exchange(steps[-1].command, 0x63C0 | 9, b"", "a wrong collation number B")])
    assert wrong == [b""]
    run(
        transmit,
        [
            verify(b),
            select_ef(0x0002),
            read(0, 7, entries[:7], why="B opens the front"),
            select_ef(0x0005),
            read(0, 7, None, sw=0x6982, why="but not the back"),
            select_aid(CONFIRMATION_AID),
            select_ef(0x0013),
            verify(layout.collation_a(face)),
            select_ef(0x0005),
            read(0, 65536, number_img, why="A opens the back"),
        ],
    )
    # The whole card face in chunks of 256 (short APDUs only, as NFC and most PC/SC readers use).
    pages = run(transmit, [select_ef(0x0002)] + [read(p * 256, 256, entries[p * 256 : p * 256 + 256]) for p in range(-(-len(obj) // 256))])
    got = b"".join(pages[1:])[: len(obj)]
    f = _tlv_children(_tlv_value(got))
    assert f[0xDF22].decode() == face.date_of_birth.strftime("%Y%m%d") and f[0xDF23].decode() == layout.card_sex(face.sex)
    assert f[0xDF29].decode() == layout.expires(face).strftime("%Y%m%d")
    offsets = layout.offsets_of(got)  # DF 22 .. DF 2A; DF 28 signs DF 22 up to itself
    key.public_key().verify(f[0xDF28], got[offsets[0] : offsets[6]], PKCS1v15(), hashes.SHA256())
    run(transmit, [select_ef(0x0011), verify(layout.birth_pin(face)), select_ef(0x0001), read(0, 65536, layout.birth_ef(face, key))])
    return {"photo": f[0xDF27], "name_png": f[0xDF25], "address_png": f[0xDF26]}


def errors_stay_iso(transmit: Transmit) -> None:
    run(
        transmit,
        [
            select_aid(JPKI_AID),
            select_ef(0x000A),
            read(0x7F00, 1, None, sw=0x6B00, why="offset past the end"),
            x("00A4040C05D392100031", sw=0x6A82, why="an AID no application has"),
            select_aid(FACE_AID),
            x("00A4020C020099", sw=0x6A82, why="no EF 0099"),
        ],
    )
