"""The conformance suite (issue 16): each public client's exchanges, unmodified, against
the engine and over PC/SC. The scenarios and their sources are in conformance.py and
docs/card.md."""

from __future__ import annotations

import pytest
from chip_support import FACE_PIN, SIGN_PIN, memory_image, memory_pins
from conformance import (
    certificate_reads,
    confirmation_ap,
    errors_stay_iso,
    number_and_basic4,
    verify_by_reference,
    verify_then_reselect,
)

from myna.chip import layout
from myna.chip.engine import Card

SCENARIOS = [
    ("certificates", lambda t, img: certificate_reads(t, img, SIGN_PIN)),
    ("number-and-basic4", lambda t, img: number_and_basic4(t, img, FACE_PIN)),
    ("verify-then-reselect", lambda t, img: verify_then_reselect(t, img, SIGN_PIN)),
    ("verify-by-reference", lambda t, img: verify_by_reference(t, img, FACE_PIN)),
    ("confirmation-ap", confirmation_ap),
    ("iso-errors", lambda t, img: errors_stay_iso(t)),
]


@pytest.fixture(scope="module")
def image():
    return memory_image()


@pytest.mark.parametrize("name,scenario", SCENARIOS, ids=[n for n, _ in SCENARIOS])
def test_engine(image, name, scenario):
    scenario(Card(image, memory_pins()).transmit, image)


def test_engine_photo_is_the_personalised_one(image):
    got = confirmation_ap(Card(image, memory_pins()).transmit, image)
    assert got["photo"] == layout.photo(image.face) and got["photo"][:12] == bytes.fromhex("0000000c6a5020200d0a870a")  # a JP2 file


def test_sex_not_known_is_written_as_iso_5218_zero():
    assert [layout.card_sex(c) for c in ("1", "2", "3", "9")] == ["1", "2", "0", "9"]


def test_a_card_is_personalised_from_its_application_photo(platform, cards, person, demo_pins):
    import io

    from chip_support import application_photo, portrait_jpeg
    from PIL import Image

    from myna.chip import faceimages

    photo = portrait_jpeg()
    application_photo(platform, person, "00000000000000F1", photo)
    info = cards.create_card(person.resident_code, demo_pins, actor="test", card_id="00000000000000F1")
    image = cards.load_image(info.card_id)
    assert image.face.photo == faceimages.photo_jp2(photo)
    with Image.open(io.BytesIO(image.face.photo)) as jp2:
        assert jp2.format == "JPEG2000" and jp2.size == faceimages.PHOTO_SIZE
    assert image.face.municipality_code == info.municipality_code and len(image.face.security_code) == 4
    assert image.face.expires is not None and image.face.expires.year >= 2030
    got = confirmation_ap(cards.open_card(info.card_id).transmit, image)
    assert got["photo"] == image.face.photo


@pytest.mark.interop
@pytest.mark.parametrize("name,scenario", SCENARIOS, ids=[n for n, _ in SCENARIOS])
def test_over_pcsc(pcsc, platform, cards, person, demo_pins, name, scenario):
    from chip_support import application_photo, portrait_jpeg
    from test_pcsc import _pyscard_client, inserted

    application_photo(platform, person, "00000000000000F2", portrait_jpeg())
    info = cards.create_card(person.resident_code, demo_pins, actor="test", card_id="00000000000000F2")
    image = cards.load_image(info.card_id)
    with inserted(pcsc, cards.open_card(info.card_id)):
        conn, _ = _pyscard_client(0)
        with conn:
            got = scenario(conn.transmit, image)
    if name == "confirmation-ap":
        assert got["photo"] == image.face.photo  # the photo read through PC/SC is the personalised one
