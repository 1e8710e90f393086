"""Random APDUs against the engine: nothing escapes, every answer ends with a status word
the card is meant to give, and no private-key material ever comes out."""

from __future__ import annotations

import base64

from chip_support import AUTH_PIN, FACE_PIN, SIGN_PIN, memory_image, memory_pins, pooled_card_key
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myna.chip import apdu
from myna.chip.engine import FACE_AID, JPKI_AID, Card

# Every status word the engine may answer with (SPEC §7 and ISO 7816-4); 63 Cx for x = 0..5.
ALLOWED_SW = {
    apdu.OK,
    apdu.END_OF_FILE,
    apdu.WRONG_LENGTH,
    apdu.LOGICAL_CHANNEL_NOT_SUPPORTED,
    apdu.SECURE_MESSAGING_NOT_SUPPORTED,
    apdu.CHAINING_NOT_SUPPORTED,
    apdu.INCOMPATIBLE_FILE,
    apdu.SECURITY_NOT_SATISFIED,
    apdu.PIN_BLOCKED,
    apdu.CONDITIONS_NOT_SATISFIED,
    apdu.NO_CURRENT_EF,
    apdu.WRONG_DATA,
    apdu.FILE_NOT_FOUND,
    apdu.WRONG_P1P2,
    apdu.REFERENCE_NOT_FOUND,
    apdu.WRONG_PARAMETERS,
    apdu.INS_NOT_SUPPORTED,
    apdu.CLA_NOT_SUPPORTED,
} | {0x63C0 | n for n in range(6)}

WINDOW = 20  # bytes: a leak of any 20-byte piece of a secret is caught


def _secret_encodings(keys) -> list[bytes]:
    """The private numbers in binary (both byte orders, and as a DER INTEGER's content
    with its leading zero), in hex, and the whole private key as PEM's base64. A DER
    key leaking whole would carry the numbers' bytes, so it is caught too; raw DER
    windows are left out because they overlap the public modulus, which certificates
    carry openly."""
    out = []
    for key in keys:
        n = key.private_numbers()
        for value in (n.p, n.q, n.d, n.dmp1, n.dmq1, n.iqmp):
            be = value.to_bytes((value.bit_length() + 7) // 8, "big")
            out += [be, b"\x00" + be, be[::-1], be.hex().encode(), be.hex().upper().encode(), base64.b64encode(be)]
        for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
            out.append(base64.b64encode(key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())))
    return out


KEYS = [pooled_card_key(1), pooled_card_key(2)]  # the keys memory_image() puts on the card
SECRET_WINDOWS = {enc[i : i + WINDOW] for enc in _secret_encodings(KEYS) for i in range(len(enc) - WINDOW + 1)}


def leaks(data: bytes) -> bool:
    return any(data[i : i + WINDOW] in SECRET_WINDOWS for i in range(len(data) - WINDOW + 1))


def test_the_leak_detector_catches_a_leak():
    p = KEYS[0].private_numbers().p.to_bytes(128, "big")
    assert leaks(b"\x90" + p[50:80] + b"\x00") and not leaks(b"\x00" * 300)


# Commands: mostly well-formed around the card's own INS/CLA/P1/P2 and files, some pure noise.
FILE_IDS = [0x0001, 0x0002, 0x0006, 0x000A, 0x000B, 0x0011, 0x0017, 0x0018, 0x001A, 0x001B, 0x3F00]
byte = st.integers(0, 255)
structured = st.builds(
    apdu.encode,
    cla=st.sampled_from([0x00, 0x80, 0x0C, 0x10, 0x01, 0x40, 0xFF, 0x84]) | byte,
    ins=st.sampled_from([0xA4, 0xB0, 0x20, 0x24, 0x2A, 0xC0, 0xCA, 0x84, 0x88, 0x22, 0x2C, 0xD6]) | byte,
    p1=st.sampled_from([0x00, 0x01, 0x02, 0x04, 0x80, 0x8A, 0x9E]) | byte,
    p2=st.sampled_from([0x00, 0x0C, 0x80, 0x81, 0x9A]) | byte,
    data=st.one_of(
        st.just(b""),
        st.sampled_from([JPKI_AID, FACE_AID, AUTH_PIN.encode(), SIGN_PIN.encode(), b"9999", b"ABCDEF"]),
        st.sampled_from(FILE_IDS).map(lambda f: f.to_bytes(2, "big")),
        st.binary(min_size=1, max_size=300),
    ),
    le=st.none() | st.sampled_from([1, 4, 16, 255, 256, 257, 4096, 65536]),
)
noise = st.binary(min_size=0, max_size=40)
# Steps that reach deep states (an AP selected, a PIN verified, a key EF current).
steps = st.sampled_from(
    [
        apdu.encode(0x00, 0xA4, 0x04, 0x0C, JPKI_AID),
        apdu.encode(0x00, 0xA4, 0x04, 0x0C, FACE_AID),
        apdu.encode(0x00, 0xA4, 0x02, 0x0C, b"\x00\x18"),
        apdu.encode(0x00, 0xA4, 0x02, 0x0C, b"\x00\x1b"),
        apdu.encode(0x00, 0xA4, 0x02, 0x0C, b"\x00\x11"),
        apdu.encode(0x00, 0x20, 0x00, 0x80, AUTH_PIN.encode()),
        apdu.encode(0x00, 0x20, 0x00, 0x80, SIGN_PIN.encode()),
        apdu.encode(0x00, 0x20, 0x00, 0x80, FACE_PIN.encode()),
        apdu.encode(0x00, 0xA4, 0x02, 0x0C, b"\x00\x17"),
        apdu.encode(0x00, 0xA4, 0x02, 0x0C, b"\x00\x1a"),
        apdu.encode(0x00, 0xA4, 0x02, 0x0C, b"\x00\x01"),
        apdu.encode(0x00, 0xB0, 0x00, 0x00, le=256),
        apdu.encode(0x80, 0x2A, 0x00, 0x80, b"\x01" * 51, 256),
    ]
)
# Well-formed reads and signatures with random parameters, for wherever the card is.
reads = st.builds(
    lambda p1, p2, le: apdu.encode(0x00, 0xB0, p1, p2, le=le), st.integers(0, 8) | byte, byte, st.integers(1, 300) | st.just(65536)
)
signs = st.builds(
    lambda data, le: apdu.encode(0x80, 0x2A, 0x00, 0x80, data, le), st.binary(min_size=0, max_size=300), st.none() | st.just(256) | byte
)


def _path(*cmds: bytes) -> list[bytes]:
    return list(cmds)


SEL_JPKI = apdu.encode(0x00, 0xA4, 0x04, 0x0C, JPKI_AID)
SEL_FACE = apdu.encode(0x00, 0xA4, 0x04, 0x0C, FACE_AID)


def _ef(fid: int) -> bytes:
    return apdu.encode(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))


def _pin(pin: str) -> bytes:
    return apdu.encode(0x00, 0x20, 0x00, 0x80, pin.encode())


# Prefixes that put the card in its deep states: a key ready to sign, a protected file open.
PREFIXES = [
    [],
    _path(SEL_JPKI, _ef(0x000A)),
    _path(SEL_JPKI, _ef(0x0018), _pin(AUTH_PIN), _ef(0x0017)),
    _path(SEL_JPKI, _ef(0x001B), _pin(SIGN_PIN), _ef(0x001A)),
    _path(SEL_JPKI, _ef(0x001B), _pin(SIGN_PIN), _ef(0x0001)),
    _path(SEL_FACE, _ef(0x0011), _pin(FACE_PIN), _ef(0x0002)),
    _path(SEL_JPKI, _ef(0x0018), _pin("0000"), _pin("0000"), _pin("0000")),  # blocked
]
sessions = st.tuples(st.sampled_from(PREFIXES), st.lists(st.one_of(structured, noise, steps, reads, signs), min_size=1, max_size=20))
IMAGE = memory_image()
SEEN: dict[str, int] = {}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions)
def test_random_apdus(session):
    prefix, commands = session
    card = Card(IMAGE, memory_pins())
    for raw in prefix + commands:
        resp = card.process(raw)  # the engine itself: a bug would raise here
        out = resp.to_bytes()
        assert resp.sw in ALLOWED_SW, (raw.hex(), hex(resp.sw))
        assert apdu.is_status_word(resp.sw)
        assert not leaks(out), raw.hex()
        if resp.sw not in (apdu.OK, apdu.END_OF_FILE):
            assert resp.data == b""  # errors carry no data
        if resp.data:
            kind = "signature" if raw[1:2] == b"\x2a" else "read"
            SEEN[kind] = SEEN.get(kind, 0) + 1


def test_the_fuzzing_reached_signatures_and_protected_reads():
    """Runs after test_random_apdus (same module, file order): the random sessions did
    produce signatures and file contents, so the leak check looked at real output."""
    if not SEEN:
        test_random_apdus()
    assert SEEN.get("signature", 0) > 0 and SEEN.get("read", 0) > 0, SEEN


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=70000))
def test_any_bytes_through_transmit(raw):
    out = Card(IMAGE, memory_pins()).transmit(raw)
    assert apdu.is_status_word(int.from_bytes(out[-2:], "big")) and not leaks(out)
