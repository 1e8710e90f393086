"""Pure domain rules: basic 4 encoding (R-CERT-1), validity from birthdays (R-CERT-2),
holder key checks (R-CERT-1), serials, local-government codes."""

import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from myna.clock import JST
from myna.errors import ImpossibleDate, InvalidInput, MalformedKey, WeakKey
from myna.numbering.codes import check_municipality_code, check_resident_code
from myna.pki import serials, validity
from myna.pki.basic4 import Basic4, Sex, decode_birth, encode_birth
from myna.pki.holder_keys import parse_public_key


def _pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize(
    "day,text",
    [
        (dt.date(1990, 1, 2), "419900102"),  # the spec's example
        (dt.date(1989, 1, 7), "319890107"),  # last day of Showa
        (dt.date(1989, 1, 8), "419890108"),  # first day of Heisei
        (dt.date(2019, 4, 30), "420190430"),
        (dt.date(2019, 5, 1), "520190501"),  # Reiwa
        (dt.date(1912, 7, 30), "219120730"),  # Taisho
        (dt.date(1900, 1, 1), "119000101"),  # Meiji
    ],
)
def test_r_cert_1_birth_date_field_has_era_code_then_gregorian_date(day, text):
    assert encode_birth(day) == text
    assert decode_birth(text) == day


def test_r_cert_1_birth_field_with_wrong_era_is_rejected():
    with pytest.raises(InvalidInput, match="wrong era"):
        decode_birth("319900102")


def test_r_cert_1_basic4_round_trips_through_subject_alt_name_otherNames():
    b4 = Basic4("山田 花子", dt.date(1990, 1, 2), Sex.FEMALE, "東京都千代田区千代田1-1", name_alt="山田 花子")
    san = b4.to_san()
    oids = [g.type_id.dotted_string for g in san]
    assert oids == [f"1.2.392.200149.8.5.5.{i}" for i in range(1, 7)]


@pytest.mark.parametrize("field", ["name", "address"])
def test_basic4_rejects_empty_or_control_characters(field):
    good = dict(name="山田 花子", date_of_birth=dt.date(1990, 1, 2), sex=Sex.FEMALE, address="東京都")
    with pytest.raises(InvalidInput, match=field):
        Basic4(**{**good, field: " "})
    with pytest.raises(InvalidInput, match="control"):
        Basic4(**{**good, field: "a\x00b"})


def test_basic4_rejects_birth_before_meiji():
    with pytest.raises(ImpossibleDate):
        Basic4("x", dt.date(1850, 1, 1), Sex.MALE, "y")


def _at(y, m, d, hh=12):
    return dt.datetime(y, m, d, hh, tzinfo=JST)


def test_r_cert_2_certificate_runs_to_fifth_birthday_after_issuance():
    # Born 1990-06-15, issued 2026-04-01: birthdays after issuance 2026, 27, 28, 29, 30.
    end = validity.certificate_not_after(dt.date(1990, 6, 15), _at(2026, 4, 1))
    assert end.astimezone(JST) == dt.datetime(2030, 6, 15, 23, 59, 59, tzinfo=JST)


def test_r_cert_2_issuance_on_the_birthday_does_not_count_it():
    end = validity.certificate_not_after(dt.date(1990, 4, 1), _at(2026, 4, 1))
    assert end.astimezone(JST).date() == dt.date(2031, 4, 1)


def test_r_cert_2_issuance_day_is_japanese_local_date():
    # 2026-03-31T20:00Z is already 1 April in Japan: the 1 April birthday is the issuance day.
    issued = dt.datetime(2026, 3, 31, 20, 0, tzinfo=dt.timezone.utc)
    assert validity.certificate_not_after(dt.date(1990, 4, 1), issued).astimezone(JST).date() == dt.date(2031, 4, 1)


def test_r_cert_2_leap_day_birthday_falls_back_to_28_february():
    end = validity.certificate_not_after(dt.date(2000, 2, 29), _at(2026, 4, 1))
    assert end.astimezone(JST).date() == dt.date(2031, 2, 28)  # 2027, 28 (leap: 29th), 29, 30, 31
    assert validity.certificate_not_after(dt.date(2000, 2, 29), _at(2023, 4, 1)).astimezone(JST).date() == dt.date(2028, 2, 29)


def test_r_cert_2_card_runs_ten_birthdays_for_adults_five_for_minors():
    assert validity.card_not_after(dt.date(2000, 6, 1), _at(2026, 4, 1)).astimezone(JST).date() == dt.date(2035, 6, 1)
    assert validity.card_not_after(dt.date(2010, 6, 1), _at(2026, 4, 1)).astimezone(JST).date() == dt.date(2030, 6, 1)


def test_r_cert_2_no_signature_certificate_under_15():
    assert not validity.may_hold_signature_certificate(dt.date(2011, 4, 2), _at(2026, 4, 1))
    assert validity.may_hold_signature_certificate(dt.date(2011, 4, 1), _at(2026, 4, 1))


def test_future_birth_is_impossible():
    with pytest.raises(ImpossibleDate, match="future"):
        validity.certificate_not_after(dt.date(2027, 1, 1), _at(2026, 4, 1))


def test_r_cert_1_accepts_rsa_2048_and_p256():
    assert parse_public_key(_pem(rsa.generate_private_key(65537, 2048))).key_size == 2048
    assert parse_public_key(_pem(ec.generate_private_key(ec.SECP256R1()))).curve.name == "secp256r1"


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: rsa.generate_private_key(65537, 1024), WeakKey, "1024 bits"),
        (lambda: rsa.generate_private_key(3, 2048), WeakKey, "exponent 3"),
        (lambda: ec.generate_private_key(ec.SECP384R1()), WeakKey, "secp384r1"),
        (lambda: ed25519.Ed25519PrivateKey.generate(), MalformedKey, "Ed25519"),
        (lambda: dsa.generate_private_key(2048), MalformedKey, "DSA"),
    ],
)
def test_r_cert_1_weak_or_foreign_keys_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        parse_public_key(_pem(make()))


def test_rsa_modulus_with_small_factor_is_refused():
    n = 3 * ((1 << 2047) // 3 * 2 + 1)  # a 2048-bit odd number divisible by 3
    key = rsa.RSAPublicNumbers(65537, n).public_key()
    with pytest.raises(WeakKey, match="small factor"):
        parse_public_key(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", b"\x30\x03\x02\x01\x01"]
)
def test_malformed_keys_are_refused(data):
    with pytest.raises(MalformedKey):
        parse_public_key(data)


def test_serials_round_trip_and_are_fixed_width_in_the_store():
    n = serials.new_serial()
    assert 0 < n < 2**159
    assert serials.parse(serials.to_display(n)) == n
    assert serials.parse("0x" + format(n, "x")) == n
    assert len(serials.to_store(n)) == 40 and serials.to_store(1) < serials.to_store(16)
    for bad in ["", "xyz", "0", "1" * 41, "-5"]:
        with pytest.raises(InvalidInput):
            serials.parse(bad)


def test_local_government_code_check_digit():
    assert check_municipality_code("131016") == "131016"  # Chiyoda
    with pytest.raises(InvalidInput, match="check digit"):
        check_municipality_code("131017")
    with pytest.raises(InvalidInput):
        check_municipality_code("13101")
    with pytest.raises(InvalidInput):
        check_resident_code("１２３４５６７８９０１")  # full-width digits are not ASCII
