"""Cards in the store: production through the CA, PIN counters that persist, the
counter flow (R-CARD-3, R-CARD-6, R-CERT-2, R-CERT-4)."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading

import pytest
from chip_support import AUTH_PIN, SIGN_PIN, register_resident
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update

from myna.authority.issuance import IssuanceService
from myna.chip import apdu
from myna.chip.chips import CardPins, ChipService, StorePins
from myna.chip.client import JpkiClient, PinBlocked, WrongPin
from myna.chip.demo import ensure_demo_card
from myna.chip.image import KeyRef
from myna.chip.pins import Outcome, PinRef
from myna.errors import Conflict, InvalidInput, NotEligible, NotFound
from myna.pki.basic4 import Basic4
from myna.pki.kinds import CertKind
from myna.store import models as m
from myna.store.models_cards import CardPin, ChipRecord
from myna.wiring import build


def audit_actions(platform, subject: str) -> list[str]:
    with platform.db.session() as s:
        return list(s.scalars(select(m.AuditEvent.action).where(m.AuditEvent.subject == subject).order_by(m.AuditEvent.id)))


def test_R_CARD_3_a_card_is_produced_with_keys_made_on_it_and_certificates_for_them(platform, cards, person, demo_pins):
    info = cards.create_card(person.resident_code, demo_pins, actor="test")
    assert info.status == "active" and info.holder == person.basic4.name and info.municipality_code
    assert {k: v.tries_left for k, v in info.pins.items()} == {"auth": 3, "sign": 5, "face": 3}
    image = cards.load_image(info.card_id)
    auth = x509.load_der_x509_certificate(image.auth_cert)
    sign = x509.load_der_x509_certificate(image.sign_cert)
    # the certificates certify the card's own keys, and were issued by the myna card CAs
    assert auth.public_key().public_numbers() == image.public_key(KeyRef.AUTH).public_numbers()
    assert sign.public_key().public_numbers() == image.public_key(KeyRef.SIGN).public_numbers()
    assert auth.serial_number == info.auth_serial and sign.serial_number == info.sign_serial
    auth.verify_directly_issued_by(x509.load_der_x509_certificate(image.auth_ca_cert))
    sign.verify_directly_issued_by(x509.load_der_x509_certificate(image.sign_ca_cert))
    assert image.auth_ca_cert == platform.authority("card-auth").cert.public_bytes(serialization.Encoding.DER)
    assert Basic4.from_certificate(sign).name == person.basic4.name  # basic 4 info in the signature certificate only
    assert image.face.number and image.face.name == person.basic4.name
    with platform.db.session() as s:
        rows = {r.kind: r for r in s.scalars(select(m.Certificate).where(m.Certificate.resident_code == person.resident_code))}
    assert rows[CertKind.CARD_AUTH.value].request_id == f"card:{info.card_id}:card-auth"
    assert audit_actions(platform, info.card_id) == ["card.manufactured", "card.issued"]


def test_production_is_idempotent_per_card_id(platform, cards, person, demo_pins):
    first = cards.create_card(person.resident_code, demo_pins, actor="test", card_id="00000000000000C1")
    again = cards.create_card(person.resident_code, demo_pins, actor="test", card_id="00000000000000C1")
    assert (again.auth_serial, again.sign_serial) == (first.auth_serial, first.sign_serial)
    with platform.db.session() as s:
        assert len(list(s.scalars(select(m.Certificate.serial).where(m.Certificate.resident_code == person.resident_code)))) == 2
    other = register_resident(platform, name="鈴木 一郎")
    with pytest.raises(Conflict):
        cards.create_card(other.resident_code, demo_pins, actor="test", card_id="00000000000000C1")


def test_a_production_run_killed_half_way_is_finished_by_running_it_again(platform, cards, person, demo_pins, monkeypatch):
    real = IssuanceService.issue_many

    def killed(self, reqs, actor):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(IssuanceService, "issue_many", killed)
    with pytest.raises(KeyboardInterrupt):
        cards.create_card(person.resident_code, demo_pins, actor="test", card_id="00000000000000D1")
    with platform.db.session() as s:
        assert s.get(ChipRecord, "00000000000000D1").status == "manufacturing"
    with pytest.raises(Conflict):
        cards.load_image("00000000000000D1")  # not a card yet
    monkeypatch.setattr(IssuanceService, "issue_many", real)
    info = cards.create_card(person.resident_code, demo_pins, actor="test", card_id="00000000000000D1")
    assert info.status == "active"
    image = cards.load_image(info.card_id)  # the same chip: certificates for the keys made the first time
    assert x509.load_der_x509_certificate(image.auth_cert).public_key().public_numbers() == image.public_key(KeyRef.AUTH).public_numbers()


def test_R_CERT_4_no_card_for_someone_not_on_the_register(cards, demo_pins):
    with pytest.raises(NotEligible):
        cards.create_card("99999999999", demo_pins, actor="test")


def test_R_CERT_2_a_child_under_15_gets_no_signature_certificate_nor_signature_pin(platform, cards, clock, demo_pins):
    child = register_resident(platform, date_of_birth=clock.now().date() - dt.timedelta(days=365 * 10))
    info = cards.create_card(child.resident_code, demo_pins, actor="test")
    assert info.sign_serial is None and "sign" not in info.pins
    card = cards.open_card(info.card_id)
    client = JpkiClient(card.transmit)
    client.select_jpki()
    assert client.command(0x00, 0xA4, 0x02, 0x0C, b"\x00\x01").sw == apdu.FILE_NOT_FOUND
    assert client.tries_left(PinRef.SIGN) == 0
    with pytest.raises(InvalidInput):
        cards.reset_pin(info.card_id, "sign", "ABC123", actor="counter")


def test_counters_persist_across_removal_and_reinsertion_until_the_counter_resets_them(platform, cards, person, demo_pins):
    info = cards.create_card(person.resident_code, demo_pins, actor="test")
    client = JpkiClient(cards.open_card(info.card_id).transmit)
    with pytest.raises(WrongPin) as e:
        client.verify(PinRef.AUTH, "0000")
    assert e.value.tries_left == 2
    client = JpkiClient(cards.open_card(info.card_id).transmit)  # removed and inserted again
    assert client.tries_left(PinRef.AUTH) == 2
    for left in (1, 0):
        with pytest.raises(WrongPin) as e:
            client.verify(PinRef.AUTH, "0000")
        assert e.value.tries_left == left
    assert cards.get(info.card_id).pins["auth"].blocked
    assert "card.pin.blocked" in audit_actions(platform, info.card_id)
    client = JpkiClient(cards.open_card(info.card_id).transmit)
    with pytest.raises(PinBlocked):
        client.verify(PinRef.AUTH, AUTH_PIN)
    client.verify(PinRef.SIGN, SIGN_PIN)  # the other PIN is unaffected

    cards.reset_pin(info.card_id[:6], "auth", None, actor="counter:131016", municipality_code=info.municipality_code)  # unblock only
    client = JpkiClient(cards.open_card(info.card_id).transmit)
    client.verify(PinRef.AUTH, AUTH_PIN)
    for _ in range(3):
        with pytest.raises(WrongPin):
            client.verify(PinRef.AUTH, "0000")
    done = cards.reset_pin(info.card_id, "auth", "4321", actor="counter:131016")  # unblock and a new PIN
    assert done.pins["auth"].tries_left == 3
    client = JpkiClient(cards.open_card(info.card_id).transmit)
    with pytest.raises(WrongPin):
        client.verify(PinRef.AUTH, AUTH_PIN)
    client.verify(PinRef.AUTH, "4321")
    with platform.db.session() as s:
        details = [json.loads(d) for d in s.scalars(select(m.AuditEvent.detail).where(m.AuditEvent.action.like("card.pin.%")))]
        actors = set(s.scalars(select(m.AuditEvent.actor).where(m.AuditEvent.action.in_(["card.pin.reset", "card.pin.unblocked"]))))
    assert actors == {"counter:131016"}
    assert all("4321" not in json.dumps(d) and AUTH_PIN not in json.dumps(d) for d in details)  # no PIN in the log
    assert [a for a in audit_actions(platform, info.card_id) if a.startswith("card.pin")] == [
        "card.pin.blocked",
        "card.pin.unblocked",
        "card.pin.blocked",
        "card.pin.reset",
    ]


def test_reset_pin_refusals(cards, person, demo_pins):
    info = cards.create_card(person.resident_code, demo_pins, actor="test")
    with pytest.raises(InvalidInput):
        cards.reset_pin(info.card_id, "auth", "12345", actor="counter")
    with pytest.raises(InvalidInput):
        cards.reset_pin(info.card_id, "sign", "abc123", actor="counter")
    with pytest.raises(NotFound):  # another municipality's card looks like no card at all
        cards.reset_pin(info.card_id, "auth", "1111", actor="counter", municipality_code="271004")
    with pytest.raises(NotFound):
        cards.reset_pin("FFFFFFFFFFFFFFFF", "auth", "1111", actor="counter")
    with pytest.raises(InvalidInput):
        cards.reset_pin("xyz", "auth", "1111", actor="counter")
    with pytest.raises(ValueError):
        cards.reset_pin(info.card_id, "other", "1111", actor="counter")


def test_pins_unset_until_handover(platform, cards, person):
    info = cards.create_card(person.resident_code, None, actor="production")
    assert info.pins == {}
    client = JpkiClient(cards.open_card(info.card_id).transmit)
    with pytest.raises(PinBlocked):
        client.verify(PinRef.AUTH, "1234")
    done = cards.set_pins(info.card_id, CardPins(auth="2468", sign="HANDOVER1"), actor="counter")
    assert {k: v.tries_left for k, v in done.pins.items()} == {"auth": 3, "sign": 5, "face": 3}
    client = JpkiClient(cards.open_card(info.card_id).transmit)
    client.verify(PinRef.SIGN, "HANDOVER1")
    client.verify(PinRef.FACE, "2468")
    assert "card.pins.set" in audit_actions(platform, info.card_id)


def test_holder_pin_change_is_stored_and_recorded(platform, cards, person, demo_pins):
    info = cards.create_card(person.resident_code, demo_pins, actor="test")
    card = cards.open_card(info.card_id)
    client = JpkiClient(card.transmit)
    client.verify(PinRef.SIGN, SIGN_PIN)
    assert client.command(0x00, 0x24, 0x01, 0x80, b"CHANGED7").sw == 0x9000
    client = JpkiClient(cards.open_card(info.card_id).transmit)
    client.verify(PinRef.SIGN, "CHANGED7")
    assert "card.pin.changed" in audit_actions(platform, info.card_id)


def test_concurrent_wrong_pins_each_count_and_never_go_below_zero(platform, cards, person, demo_pins):
    info = cards.create_card(person.resident_code, demo_pins, actor="test")
    pins = StorePins(platform, info.card_id, cards.hasher)
    results, barrier = [], threading.Barrier(8)

    def attempt():
        barrier.wait()
        results.append(pins.attempt(PinRef.SIGN, b"WRONG0"))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.outcome.value for r in results) == ["blocked"] * 3 + ["wrong"] * 5
    assert sorted(r.tries_left for r in results if r.outcome is Outcome.WRONG) == [0, 1, 2, 3, 4]
    with platform.db.session() as s:
        assert s.get(CardPin, (info.card_id, "sign")).tries_left == 0


def test_a_store_failure_during_verify_answers_6f00_and_costs_nothing(platform, cards, person, demo_pins, monkeypatch):
    info = cards.create_card(person.resident_code, demo_pins, actor="test")
    card = cards.open_card(info.card_id)
    client = JpkiClient(card.transmit)
    client.select_jpki()
    client.select_ef(0x0018)

    def broken_session():
        raise OSError("database unreachable")

    monkeypatch.setattr(platform.db, "session", broken_session)
    assert client.command(0x00, 0x20, 0x00, 0x80, b"0000").sw == apdu.UNKNOWN_ERROR
    assert client.command(0x00, 0x20, 0x00, 0x80, AUTH_PIN.encode()).sw == apdu.UNKNOWN_ERROR
    monkeypatch.undo()
    assert client.tries_left(PinRef.AUTH) == 3
    client.select_ef(0x0017)
    assert client.command(0x80, 0x2A, 0x00, 0x80, b"\x01", 256).sw == apdu.SECURITY_NOT_SATISFIED


def test_the_stored_image_holds_no_plain_key_and_needs_the_image_key(platform, cards, person, demo_pins, tmp_path):
    info = cards.create_card(person.resident_code, demo_pins, actor="test")
    image = cards.load_image(info.card_id)
    with platform.db.session() as s:
        row = s.get(ChipRecord, info.card_id)
        blob, key_id = row.image, row.image_key_id
        verifiers = list(s.scalars(select(CardPin.verifier)))
    for ref in (KeyRef.AUTH, KeyRef.SIGN):
        p = image.keys[ref]._p
        assert p.to_bytes(128, "big")[:24] not in blob
    assert key_id == cards.image_key.key_id
    # Salt and MAC in hex, nothing else: the PIN is not stored in any form. (Checking that
    # "1234" is absent from the hex would fail by chance about once in 500 runs.)
    assert verifiers and all(re.fullmatch(r"hmac-sha256\$[0-9a-f]+\$[0-9a-f]{64}", v) for v in verifiers)
    assert all(AUTH_PIN.encode().hex() not in v and SIGN_PIN.encode().hex() not in v for v in verifiers)
    from myna.chip.image import ImageKey
    from myna.errors import NotInitialised

    with pytest.raises(NotInitialised):
        ChipService(platform, issuance=build(platform).issuance, image_key=ImageKey(bytes(32))).load_image(info.card_id)


def test_card_ids_resolve_by_unique_prefix(platform, cards, person, demo_pins):
    a = cards.create_card(person.resident_code, demo_pins, actor="test", card_id="ABCD000000000001")
    cards.create_card(person.resident_code, demo_pins, actor="test", card_id="ABCD000000000002")
    assert cards.resolve("abcd000000000001") == a.card_id
    with pytest.raises(InvalidInput):
        cards.resolve("ABCD")  # two cards start with it
    with pytest.raises(NotFound):
        cards.resolve("0123")
    assert [c.card_id for c in cards.list(resident_code=person.resident_code)] == ["ABCD000000000001", "ABCD000000000002"]


def test_demo_cards_are_idempotent_and_show_their_pins(platform, keygen):
    from myna import demo

    service = build(platform, keygen=keygen).chips
    people = demo.residents(2)
    for p in people:
        from myna.residents.events import ChangeEvent, EventType

        build(platform).registry.ensure_municipality(p.municipality_code, "x")
        build(platform).registry.submit(
            ChangeEvent(
                f"d-{p.resident_code}",
                EventType.MOVE_IN,
                p.resident_code,
                p.municipality_code,
                dt.date(2020, 4, 1),
                basic4=p.basic4,
                address=p.basic4.address,
            ),
            actor="t",
        )
    made = [ensure_demo_card(service, p.resident_code) for p in people]
    assert [(d.created, d.existing) for d in made] == [(2, 0), (2, 0)]
    again = [ensure_demo_card(service, p.resident_code) for p in people]
    assert [(d.card_id, d.created, d.existing) for d in again] == [(d.card_id, 0, 2) for d in made]
    listed = service.list()
    assert all(c.demo and c.demo_pins == {"auth": "1234", "sign": "ABC123", "face": "1234"} for c in listed)
    assert all(c.to_json()["demo_pins"] for c in listed)
    with platform.db.session() as s:
        s.execute(update(ChipRecord).values(demo=False))
    assert all("demo_pins" not in c.to_json() for c in service.list())
