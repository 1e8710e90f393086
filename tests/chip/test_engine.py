"""The JPKI command engine without PC/SC: every command and status word of SPEC §7."""

from __future__ import annotations

import hashlib

import pytest
from chip_support import AUTH_PIN, FACE, FACE_PIN, SIGN_PIN, memory_image, memory_pins, pooled_card_key
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from myna.chip import apdu, layout
from myna.chip.apdu import MalformedApdu, encode, parse
from myna.chip.client import CardError, JpkiClient, PinBlocked, WrongPin, digest_info_sha256
from myna.chip.engine import ATR, FACE_AID, JPKI_AID, Card
from myna.chip.image import CardImage, ImageKey, KeyRef, KeySlot
from myna.chip.pins import PinRef
from myna.errors import InvalidInput, NotInitialised


@pytest.fixture
def image():
    return memory_image()


@pytest.fixture
def card(image):
    return Card(image, memory_pins())


def tx(card: Card, hexstr: str, data: bytes = b"") -> tuple[int, bytes]:
    raw = bytes.fromhex(hexstr.replace(" ", "")) + data
    resp = apdu.Response.from_bytes(card.transmit(raw))
    return resp.sw, resp.data


def cmd(card: Card, cla, ins, p1, p2, data=b"", le=None) -> tuple[int, bytes]:
    resp = apdu.Response.from_bytes(card.transmit(encode(cla, ins, p1, p2, data, le)))
    return resp.sw, resp.data


def select_jpki(card):
    assert cmd(card, 0x00, 0xA4, 0x04, 0x0C, JPKI_AID)[0] == 0x9000


def select_ef(card, fid: int) -> int:
    return cmd(card, 0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))[0]


# -- APDU parsing --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,data,le,extended",
    [
        ("00A4040C", b"", None, False),
        ("00B0000004", b"", 4, False),
        ("00B0000000", b"", 256, False),
        ("00A4020C020018", bytes.fromhex("0018"), None, False),
        ("802A00800301020300", bytes.fromhex("010203"), 256, False),
        ("00B00000000000", b"", 65536, True),
        ("00B00000000123", b"", 0x123, True),
        ("0020008000000431323334", b"1234", None, True),
        ("002000800000043132333401 00", b"1234", 256, True),
    ],
)
def test_apdu_cases_short_and_extended(raw, data, le, extended):
    c = parse(bytes.fromhex(raw.replace(" ", "")))
    assert (c.data, c.le, c.extended) == (data, le, extended)


@pytest.mark.parametrize("raw", ["", "00", "00A404", "00A4040C05AABB", "00A4040C0000", "00A4040C000002AA", "00A4040C00000000"])
def test_malformed_apdus_are_refused(raw):
    with pytest.raises(MalformedApdu):
        parse(bytes.fromhex(raw))


def test_encode_round_trips():
    for data, le in [(b"", None), (b"", 256), (b"x" * 10, None), (b"x" * 300, 65536), (b"", 4000), (b"y" * 3, 256)]:
        c = parse(encode(0x80, 0x2A, 0, 0x80, data, le))
        assert (c.data, c.le) == (data, le)


# -- SELECT ------------------------------------------------------------------------


def test_atr_is_the_jpki_atr(card):
    assert card.atr.hex(":") == "3b:e0:00:ff:81:31:fe:45:14" and card.atr == ATR


def test_select_by_aid_and_file_id(card):
    assert cmd(card, 0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A000000308000010000100"))[0] == apdu.FILE_NOT_FOUND  # PIV: not here
    assert select_ef(card, 0x000A) == apdu.FILE_NOT_FOUND  # no application selected yet
    select_jpki(card)
    for fid in (0x000A, 0x000B, 0x0001, 0x0002, 0x0006, 0x0017, 0x0018, 0x001A, 0x001B):
        assert select_ef(card, fid) == 0x9000, hex(fid)
    assert select_ef(card, 0x0011) == apdu.FILE_NOT_FOUND  # the card-face PIN lives in the other AP
    assert select_ef(card, 0x1234) == apdu.FILE_NOT_FOUND
    assert tx(card, "00A4020C0100")[0] == apdu.WRONG_LENGTH  # a file id is two bytes
    assert tx(card, "00A4040C")[0] == apdu.WRONG_LENGTH  # no AID at all
    assert cmd(card, 0x00, 0xA4, 0x04, 0x04, JPKI_AID)[0] == apdu.WRONG_P1P2
    assert cmd(card, 0x00, 0xA4, 0x08, 0x0C, b"\x00\x0a")[0] == apdu.WRONG_P1P2
    assert cmd(card, 0x00, 0xA4, 0x00, 0x0C, b"\x3f\x00")[0] == 0x9000  # back to the MF
    assert select_ef(card, 0x000A) == apdu.FILE_NOT_FOUND


def test_class_and_instruction_errors(card):
    assert tx(card, "00CA DF30 05")[0] == apdu.INS_NOT_SUPPORTED  # GET DATA (OpenSC probes it)
    assert tx(card, "0084000008")[0] == apdu.INS_NOT_SUPPORTED  # GET CHALLENGE
    assert tx(card, "FFA4040C")[0] == apdu.CLA_NOT_SUPPORTED
    assert tx(card, "A0A4000002 3F00")[0] == apdu.CLA_NOT_SUPPORTED
    assert cmd(card, 0x0C, 0xA4, 0x04, 0x0C, JPKI_AID)[0] == apdu.SECURE_MESSAGING_NOT_SUPPORTED
    assert cmd(card, 0x10, 0xA4, 0x04, 0x0C, JPKI_AID)[0] == apdu.CHAINING_NOT_SUPPORTED
    assert cmd(card, 0x01, 0xA4, 0x04, 0x0C, JPKI_AID)[0] == apdu.LOGICAL_CHANNEL_NOT_SUPPORTED
    assert cmd(card, 0x40, 0xA4, 0x04, 0x0C, JPKI_AID)[0] == apdu.LOGICAL_CHANNEL_NOT_SUPPORTED
    assert cmd(card, 0x00, 0x2A, 0x9E, 0x9A, b"\x01")[0] == apdu.CLA_NOT_SUPPORTED  # ISO PSO: the card uses 80 2A
    assert cmd(card, 0x80, 0xB0, 0x00, 0x00, le=4)[0] == apdu.CLA_NOT_SUPPORTED
    assert tx(card, "00C0000010")[0] == apdu.CONDITIONS_NOT_SATISFIED  # GET RESPONSE: nothing waiting
    assert tx(card, "00A4")[0] == apdu.WRONG_LENGTH  # not even a header


# -- READ BINARY ----------------------------------------------------------------------


def test_read_certificates_like_opensc(card, image):
    """OpenSC's jpki driver reads 4 bytes, takes the length from them, then reads the
    rest in chunks of at most 256 at increasing offsets (past 256 too)."""
    select_jpki(card)
    for fid, der in ((0x000A, image.auth_cert), (0x000B, image.auth_ca_cert), (0x0002, image.sign_ca_cert)):
        assert select_ef(card, fid) == 0x9000
        sw, head = cmd(card, 0x00, 0xB0, 0, 0, le=4)
        assert sw == 0x9000 and head[:2] == b"\x30\x82"
        size = int.from_bytes(head[2:4], "big") + 4
        assert size == len(der) > 512
        got = b""
        while len(got) < size:
            sw, chunk = cmd(card, 0x00, 0xB0, len(got) >> 8, len(got) & 0xFF, le=min(256, size - len(got)))
            assert sw == 0x9000
            got += chunk
        assert got == der


def test_read_binary_edges(card, image):
    select_jpki(card)
    assert cmd(card, 0x00, 0xB0, 0, 0, le=4)[0] == apdu.NO_CURRENT_EF
    select_ef(card, 0x000A)
    # The EF has a fixed size, the certificate at its start and padding after it.
    ef = layout.certificate_ef(image.auth_cert)
    size = len(ef)
    assert size == layout.CERT_EF_SIZE and ef[: len(image.auth_cert)] == image.auth_cert
    assert ef[len(image.auth_cert) :] == bytes([layout.PAD]) * (size - len(image.auth_cert))
    sw, data = cmd(card, 0x00, 0xB0, (size - 10) >> 8, (size - 10) & 0xFF, le=256)
    assert sw == 0x9000 and data == ef[-10:]  # Le 00: all that is left, 90 00
    sw, data = cmd(card, 0x00, 0xB0, (size - 10) >> 8, (size - 10) & 0xFF, le=11)
    assert sw == apdu.END_OF_FILE and data == ef[-10:]  # 62 82: a stated Le past the end
    assert cmd(card, 0x00, 0xB0, size >> 8, size & 0xFF, le=1)[0] == apdu.WRONG_PARAMETERS
    assert cmd(card, 0x00, 0xB0, 0x7F, 0xFF, le=1)[0] == apdu.WRONG_PARAMETERS
    assert tx(card, "00B00000")[0] == apdu.WRONG_LENGTH  # no Le
    assert tx(card, "00B0000001AA")[0] == apdu.WRONG_LENGTH  # data in a READ BINARY
    sw, data = cmd(card, 0x00, 0xB0, 0, 0, le=65536)  # extended Le: the whole file at once
    assert sw == 0x9000 and data == ef
    sw, data = cmd(card, 0x00, 0xB0, 0x80 | 0x0B, 0, le=4)  # short EF identifier 0B
    assert sw == 0x9000 and data == image.auth_ca_cert[:4]
    assert cmd(card, 0x00, 0xB0, 0x80 | 0x1F, 0, le=4)[0] == apdu.FILE_NOT_FOUND


def test_keys_and_pins_are_never_read(card):
    select_jpki(card)
    for fid in (0x0017, 0x001A, 0x0018, 0x001B):
        select_ef(card, fid)
        assert cmd(card, 0x00, 0xB0, 0, 0, le=256)[0] == apdu.INCOMPATIBLE_FILE
    cmd(card, 0x00, 0xA4, 0x02, 0x0C, b"\x00\x1b")
    assert cmd(card, 0x00, 0x20, 0x00, 0x80, SIGN_PIN.encode())[0] == 0x9000
    for fid in (0x0017, 0x001A):  # not even with every PIN verified
        select_ef(card, fid)
        assert cmd(card, 0x00, 0xB0, 0, 0, le=256)[0] == apdu.INCOMPATIBLE_FILE


def test_token_information(card):
    client = JpkiClient(card.transmit)
    assert client.token_info() == b"JPKIAPICCTOKEN2"


def test_signature_certificate_needs_the_signature_pin(card, image):
    """It carries the basic 4 information (the real card's rule; OpenSC marks it private)."""
    client = JpkiClient(card.transmit)
    with pytest.raises(CardError) as e:
        client.read_certificate("sign")
    assert e.value.sw == apdu.SECURITY_NOT_SATISFIED
    client.verify(PinRef.AUTH, AUTH_PIN)
    with pytest.raises(CardError):
        client.read_certificate("sign")  # the auth PIN does not open it
    client.verify(PinRef.SIGN, SIGN_PIN)
    assert client.read_certificate("sign").public_bytes(serialization.Encoding.DER) == image.sign_cert
    assert client.read_certificate("auth").public_bytes(serialization.Encoding.DER) == image.auth_cert


# -- VERIFY -------------------------------------------------------------------------


@pytest.mark.parametrize("ref,fid,right,tries", [(PinRef.AUTH, 0x0018, AUTH_PIN, 3), (PinRef.SIGN, 0x001B, SIGN_PIN, 5)])
def test_verify_counts_down_and_blocks(card, ref, fid, right, tries):
    select_jpki(card)
    select_ef(card, fid)
    assert tx(card, "00200080")[0] == 0x63C0 | tries  # empty VERIFY: tries left
    assert cmd(card, 0x00, 0x20, 0x00, 0x80, b"9999")[0] == 0x63C0 | (tries - 1)
    assert cmd(card, 0x00, 0x20, 0x00, 0x80, right.encode())[0] == 0x9000  # a right PIN restores the counter
    assert tx(card, "00200080")[0] == 0x63C0 | tries
    for left in range(tries - 1, -1, -1):
        assert cmd(card, 0x00, 0x20, 0x00, 0x80, b"0000")[0] == 0x63C0 | left
    assert cmd(card, 0x00, 0x20, 0x00, 0x80, right.encode())[0] == apdu.PIN_BLOCKED  # 69 83 even when right
    assert tx(card, "00200080")[0] == 0x63C0  # what OpenSC needs to still bind the card
    card.reset()
    select_jpki(card)
    select_ef(card, fid)
    assert cmd(card, 0x00, 0x20, 0x00, 0x80, right.encode())[0] == apdu.PIN_BLOCKED  # a reset does not unblock


def test_verify_parameter_errors(card):
    select_jpki(card)
    assert tx(card, "00200080")[0] == apdu.REFERENCE_NOT_FOUND  # no PIN EF selected
    select_ef(card, 0x000A)
    assert tx(card, "00200080")[0] == apdu.REFERENCE_NOT_FOUND
    select_ef(card, 0x0018)
    assert tx(card, "00200001")[0] == apdu.WRONG_P1P2  # not a specific reference (b8 of P2 clear)
    assert tx(card, "0020009F")[0] == apdu.WRONG_P1P2  # reference 1F: no short EF identifier
    assert tx(card, "00200081")[0] == apdu.REFERENCE_NOT_FOUND  # 80 + 01: EF 0001 is a certificate, not a PIN
    assert tx(card, "0020009B")[0] == 0x63C5  # 80 + 1B: the signature PIN by reference, no SELECT needed
    assert tx(card, "00200180")[0] == apdu.WRONG_P1P2
    assert tx(card, "0020008000")[0] == 0x63C3  # case 2 (Le only) counts as the empty VERIFY


def test_client_reports_wrong_and_blocked_pins(card):
    client = JpkiClient(card.transmit)
    with pytest.raises(WrongPin) as e:
        client.verify(PinRef.AUTH, "0000")
    assert e.value.tries_left == 2 and client.tries_left(PinRef.AUTH) == 2
    for _ in range(2):
        with pytest.raises(WrongPin):
            client.verify(PinRef.AUTH, "0000")
    with pytest.raises(PinBlocked):
        client.verify(PinRef.AUTH, AUTH_PIN)
    assert client.tries_left(PinRef.AUTH) == 0
    assert client.tries_left(PinRef.SIGN) == 5  # the other PIN is untouched


# -- COMPUTE DIGITAL SIGNATURE ----------------------------------------------------------


@pytest.mark.parametrize("key,pin,cert_attr", [(KeyRef.AUTH, PinRef.AUTH, "auth_cert"), (KeyRef.SIGN, PinRef.SIGN, "sign_cert")])
def test_compute_digital_signature(card, image, key, pin, cert_attr):
    fid = {KeyRef.AUTH: 0x0017, KeyRef.SIGN: 0x001A}[key]
    di = digest_info_sha256(b"message")
    select_jpki(card)
    assert cmd(card, 0x80, 0x2A, 0x00, 0x80, di, 256)[0] == apdu.CONDITIONS_NOT_SATISFIED  # no key EF selected
    select_ef(card, fid)
    assert cmd(card, 0x80, 0x2A, 0x00, 0x80, di, 256)[0] == apdu.SECURITY_NOT_SATISFIED  # PIN not verified
    other = PinRef.SIGN if pin is PinRef.AUTH else PinRef.AUTH
    JpkiClient(card.transmit).verify(other, {PinRef.AUTH: AUTH_PIN, PinRef.SIGN: SIGN_PIN}[other])
    select_jpki(card)  # re-selecting the AP keeps its security state: the other PIN stays verified
    client = JpkiClient(card.transmit)
    client.verify(other, {PinRef.AUTH: AUTH_PIN, PinRef.SIGN: SIGN_PIN}[other])
    select_ef(card, fid)
    assert cmd(card, 0x80, 0x2A, 0x00, 0x80, di, 256)[0] == apdu.SECURITY_NOT_SATISFIED  # the other PIN does not count
    client.verify(pin, {PinRef.AUTH: AUTH_PIN, PinRef.SIGN: SIGN_PIN}[pin])
    select_ef(card, fid)
    assert cmd(card, 0x80, 0x2A, 0x00, 0x81, di, 256)[0] == apdu.WRONG_P1P2
    assert cmd(card, 0x80, 0x2A, 0x00, 0x80, b"x" * 246, 256)[0] == apdu.WRONG_LENGTH  # over k - 11
    assert cmd(card, 0x80, 0x2A, 0x00, 0x80, di, 0x80)[0] == apdu.WRONG_LENGTH  # Le too small
    sw, sig = cmd(card, 0x80, 0x2A, 0x00, 0x80, di, 256)
    assert sw == 0x9000 and len(sig) == 256
    cert = x509.load_der_x509_certificate(getattr(image, cert_attr))
    cert.public_key().verify(sig, b"message", padding.PKCS1v15(), hashes.SHA256())
    # PKCS#1 v1.5 is deterministic: the chip's arithmetic agrees with OpenSSL's
    assert sig == pooled_card_key(1 if key is KeyRef.AUTH else 2).sign(b"message", padding.PKCS1v15(), hashes.SHA256())
    sw, sig2 = cmd(card, 0x80, 0x2A, 0x00, 0x80, di)  # no Le: answered anyway
    assert sw == 0x9000 and sig2 == sig
    card.power_off()
    card.power_on()
    select_jpki(card)
    select_ef(card, fid)
    assert cmd(card, 0x80, 0x2A, 0x00, 0x80, di, 256)[0] == apdu.SECURITY_NOT_SATISFIED  # power cycle: log in again


def test_raw_pkcs1_input_is_signed_as_given(card, image):
    """CKM_RSA_PKCS hands the card any input up to k-11 bytes (e.g. TLS 1.1's MD5+SHA1)."""
    client = JpkiClient(card.transmit)
    client.verify(PinRef.AUTH, AUTH_PIN)
    raw = hashlib.md5(b"x").digest() + hashlib.sha1(b"x").digest()
    sig = client.sign(KeyRef.AUTH, raw)
    pub = x509.load_der_x509_certificate(image.auth_cert).public_key().public_numbers()
    em = pow(int.from_bytes(sig, "big"), pub.e, pub.n).to_bytes(256, "big")
    assert em == b"\x00\x01" + b"\xff" * (256 - 3 - 36) + b"\x00" + raw


def test_keyslot_hides_its_numbers():
    slot = KeySlot(pooled_card_key(3))
    assert "KeySlot(RSA-2048)" == repr(slot)
    assert not hasattr(slot, "__dict__")
    with pytest.raises(ValueError):
        slot.sign(b"")


# -- CHANGE REFERENCE DATA ---------------------------------------------------------------


def test_holder_changes_a_pin_after_verifying_it(card):
    select_jpki(card)
    select_ef(card, 0x001B)
    assert cmd(card, 0x00, 0x24, 0x01, 0x80, b"NEWPIN99")[0] == apdu.SECURITY_NOT_SATISFIED
    assert cmd(card, 0x00, 0x20, 0x00, 0x80, SIGN_PIN.encode())[0] == 0x9000
    assert cmd(card, 0x00, 0x24, 0x01, 0x80, b"short")[0] == apdu.WRONG_DATA
    assert cmd(card, 0x00, 0x24, 0x01, 0x80, b"lowercase1")[0] == apdu.WRONG_DATA
    assert cmd(card, 0x00, 0x24, 0x00, 0x80, b"NEWPIN99")[0] == apdu.WRONG_P1P2
    assert cmd(card, 0x00, 0x24, 0x01, 0x80, b"NEWPIN99")[0] == 0x9000
    card.reset()
    client = JpkiClient(card.transmit)
    with pytest.raises(WrongPin):
        client.verify(PinRef.SIGN, SIGN_PIN)
    client.verify(PinRef.SIGN, "NEWPIN99")


# -- the card-face input-support AP ---------------------------------------------------


def test_card_face_input_support_ap(card):
    assert cmd(card, 0x00, 0xA4, 0x04, 0x0C, FACE_AID)[0] == 0x9000
    select_ef(card, 0x0001)
    assert cmd(card, 0x00, 0xB0, 0, 0, le=16)[0] == apdu.SECURITY_NOT_SATISFIED
    client = JpkiClient(card.transmit)
    assert client.tries_left(PinRef.FACE) == 3
    with pytest.raises(WrongPin):
        client.verify(PinRef.FACE, "0000")
    client.verify(PinRef.FACE, FACE_PIN)
    assert client.read_face() == {
        "number": FACE.number,
        "name": FACE.name,
        "address": FACE.address,
        "date_of_birth": "19900615",
        "sex": "2",
    }
    assert select_ef(card, 0x0001) == 0x9000
    sw, raw = cmd(card, 0x00, 0xB0, 0, 0, le=16)
    assert sw == 0x9000 and raw[:3] == b"\xdf\x10\x0c" and len(raw) == 16  # what readers of the real card read
    basic4 = FACE.basic4_ef()
    assert basic4[:2] == b"\xff\x20"
    offsets = basic4[basic4.index(b"\xdf\x21") + 3 :][:8]
    assert [basic4[int.from_bytes(offsets[i : i + 2], "big")] for i in range(0, 8, 2)] == [0xDF] * 4
    client.select_jpki()  # the JPKI AP starts with nothing verified
    with pytest.raises(CardError):
        client.read_certificate("sign")


def test_a_card_without_face_data_or_signature_certificate():
    card = Card(memory_image(sign=False, face=False), memory_pins())
    assert cmd(card, 0x00, 0xA4, 0x04, 0x0C, FACE_AID)[0] == apdu.FILE_NOT_FOUND
    select_jpki(card)
    assert select_ef(card, 0x0001) == apdu.FILE_NOT_FOUND
    assert select_ef(card, 0x000A) == 0x9000


# -- robustness and secrecy --------------------------------------------------------------


class ExplodingPins:
    def tries_left(self, ref):
        raise RuntimeError("store unreachable")

    def attempt(self, ref, candidate):
        raise RuntimeError("store unreachable")

    change = attempt


def test_a_failing_pin_store_answers_6f00_and_verifies_nothing(image):
    card = Card(image, ExplodingPins())
    select_jpki(card)
    select_ef(card, 0x0018)
    assert cmd(card, 0x00, 0x20, 0x00, 0x80, b"1234")[0] == apdu.UNKNOWN_ERROR
    select_ef(card, 0x0017)
    assert cmd(card, 0x80, 0x2A, 0x00, 0x80, b"\x01", 256)[0] == apdu.SECURITY_NOT_SATISFIED


def test_trace_hides_pins(image):
    seen = []
    card = Card(image, memory_pins(), trace=lambda c, r: seen.append((c, r)))
    JpkiClient(card.transmit).verify(PinRef.SIGN, SIGN_PIN)
    assert all(SIGN_PIN.encode() not in c for c, _ in seen)
    verify = next(c for c, _ in seen if c[1] == 0x20)
    # CLA INS P1 P2 and Lc as sent, each PIN byte written XX (the bytes themselves are zeros)
    assert verify.hex(" ") == "00 20 00 80 06 " + " ".join(["XX"] * len(SIGN_PIN))
    assert bytes(verify) == bytes.fromhex("0020008006") + bytes(len(SIGN_PIN))
    select = next(c for c, _ in seen if c[1] == 0xA4)
    assert select.hex(" ") == bytes(select).hex(" ")  # everything else is shown as it is


def test_sealed_image_round_trip_and_binding():
    key = ImageKey(bytes(range(32)))
    image = memory_image(card_id="AAAABBBBCCCCDDDD")
    blob = image.seal(key)
    for n in (pooled_card_key(1).private_numbers().p, pooled_card_key(1).private_numbers().d):
        assert n.to_bytes((n.bit_length() + 7) // 8, "big")[:16] not in blob
    back = CardImage.unseal(key, "AAAABBBBCCCCDDDD", blob)
    assert back.public_key(KeyRef.SIGN).public_numbers() == image.public_key(KeyRef.SIGN).public_numbers()
    assert back.face == image.face
    with pytest.raises(NotInitialised):
        CardImage.unseal(key, "AAAABBBBCCCCDDDE", blob)  # bound to its card id
    with pytest.raises(NotInitialised):
        CardImage.unseal(ImageKey(bytes(32)), "AAAABBBBCCCCDDDD", blob)
    with pytest.raises(NotInitialised):
        CardImage.unseal(key, "AAAABBBBCCCCDDDD", blob[:-1] + bytes([blob[-1] ^ 1]))


def test_certificates_must_match_the_card_keys():
    image = memory_image()
    with pytest.raises(InvalidInput):
        image.with_certificates(auth_cert=image.sign_cert)


@pytest.mark.parametrize(
    "ref,good,bad",
    [
        (PinRef.AUTH, ["0000", "1234"], ["123", "12345", "12a4", "", "１２３４"]),
        (PinRef.SIGN, ["ABC123", "A" * 16, "123456"], ["ABC12", "A" * 17, "abc123", "ABC 123", "ＡＢＣ１２３"]),
    ],
)
def test_pin_formats(ref, good, bad):
    for pin in good:
        assert ref.check(pin) == pin.encode()
    for pin in bad:
        with pytest.raises(InvalidInput):
            ref.check(pin)
