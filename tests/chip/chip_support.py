"""Helpers for the card tests (import as ``chip_support``; fixtures are in conftest.py).

RSA key generation dominates, so card keys come from a session pool: every test gets
keys no other card of its store has (a public key is certified once), in real RSA-2048.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from myna.chip.image import CardImage, FaceData, KeyRef
from myna.chip.pins import MemoryPins, PinRef
from myna.numbering.codes import municipality_check_digit
from myna.pki.basic4 import Basic4, Sex
from myna.wiring import build

AUTH_PIN, SIGN_PIN, FACE_PIN = "1234", "ABC123", "1234"
MUNICIPALITY = "13101" + str(municipality_check_digit("13101"))

_POOL: list[rsa.RSAPrivateKey] = []
_POOL_LOCK = threading.Lock()


def pooled_card_key(i: int) -> rsa.RSAPrivateKey:
    with _POOL_LOCK:
        while len(_POOL) <= i:
            _POOL.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _POOL[i]


class KeyPool:
    """A keygen for CardImage.manufacture: fresh pool keys, in order, per test."""

    def __init__(self):
        self._next = itertools.count()

    def __call__(self) -> rsa.RSAPrivateKey:
        return pooled_card_key(next(self._next))


_CA: tuple[rsa.RSAPrivateKey, x509.Certificate] | None = None


def quick_ca() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A throwaway CA for engine tests that need no platform."""
    global _CA
    if _CA is None:
        key = pooled_card_key(0)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chip test CA")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256())
        )
        _CA = (key, cert)
    return _CA


def _holder_cert(public_key, cn: str) -> bytes:
    ca_key, ca = quick_ca()
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )


FACE = FaceData("123456789018", "山田 花子", "東京都千代田区千代田1-1", dt.date(1990, 6, 15), "2")


def memory_image(card_id: str = "00112233445566AA", sign: bool = True, face: bool = True, first_key: int = 1) -> CardImage:
    keys = iter([pooled_card_key(first_key), pooled_card_key(first_key + 1), pooled_card_key(first_key + 2)])  # auth, sign, card face
    image = CardImage.manufacture(card_id, FACE if face else None, keygen=lambda: next(keys))
    ca_der = quick_ca()[1].public_bytes(serialization.Encoding.DER)
    return image.with_certificates(
        auth_cert=_holder_cert(image.public_key(KeyRef.AUTH), "auth"),
        auth_ca_cert=ca_der,
        sign_cert=_holder_cert(image.public_key(KeyRef.SIGN), "sign") if sign else None,
        sign_ca_cert=ca_der,
    )


def memory_pins(**tries: int) -> MemoryPins:
    return MemoryPins({PinRef.AUTH: AUTH_PIN, PinRef.SIGN: SIGN_PIN, PinRef.FACE: FACE_PIN}, {PinRef(k): v for k, v in tries.items()})


@dataclass(frozen=True)
class Person:
    resident_code: str
    basic4: Basic4


_codes = itertools.count(1)


def register_resident(platform, date_of_birth: dt.date = dt.date(1990, 6, 15), name: str = "山田 花子") -> Person:
    """A resident on the register (a move-in from abroad), ready for a card."""
    from myna.residents.events import ChangeEvent, EventType

    registry = build(platform).registry
    registry.ensure_municipality(MUNICIPALITY, "Chiyoda")
    code = f"{20000000000 + next(_codes) * 7919:011d}"
    b4 = Basic4(name, date_of_birth, Sex.FEMALE, "東京都千代田区千代田1-1")
    registry.submit(
        ChangeEvent(f"chip-test-{code}", EventType.MOVE_IN, code, MUNICIPALITY, dt.date(2020, 4, 1), basic4=b4, address=b4.address),
        actor="test",
    )
    return Person(code, b4)


def application_photo(platform, person: Person, card_id: str, photo: bytes) -> None:
    """A card application with ``photo`` for the card ``card_id`` (what card management
    records before production), so the card made with that id is personalised from it."""
    from myna.store.models_card_management import CardApplication

    now = platform.clock.now()
    with platform.db.session() as s:
        s.add(
            CardApplication(
                application_id=f"A{card_id}",
                channel="counter",
                requester=f"municipality:{MUNICIPALITY}",
                digest="0" * 64,
                resident_code=person.resident_code,
                municipality_code=MUNICIPALITY,
                reason="new",
                name=person.basic4.name,
                date_of_birth=person.basic4.date_of_birth,
                sex=person.basic4.sex.value,
                address=person.basic4.address,
                photo=photo,
                status="in-production",
                defects="[]",
                received_at=now,
                received_on=now.date(),
                due_on=now.date(),
                card_id=card_id,
                updated_at=now,
            )
        )


def portrait_jpeg(size: tuple[int, int] = (600, 800)) -> bytes:
    """A photograph as an application carries it (JPEG), with some structure to compress."""
    import io

    from PIL import Image, ImageDraw

    im = Image.new("RGB", size, (90, 120, 160))
    d = ImageDraw.Draw(im)
    d.ellipse((150, 120, 450, 480), fill=(230, 190, 160))
    d.rectangle((100, 560, 500, 800), fill=(40, 40, 60))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()
