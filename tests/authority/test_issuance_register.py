"""Issuance from the resident register (SPEC §4a): R-CERT-4 (only a resident on the
register), R-RA-1 (basic 4 information and date of birth from J-LIS's record, a request
that states other values refused), R-RA-2 (a municipality only for its own residents, one
registered elsewhere answered as if unknown) and R-RA-3 (request ids per requester, the
original answer only for the same content, also when two requests race)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from myna_testing import adult_basic4, ec_public_pem, issue_request, register_resident, table_counts
from sqlalchemy import select, update

from myna.authority.issuance import DiffersFromRegister, IssuanceService, RegisterChanged, check_request
from myna.authority.records import Records
from myna.errors import Forbidden, IdempotencyMismatch, NotEligible, NotFound
from myna.pki import validity
from myna.pki.basic4 import Basic4, Sex
from myna.store import models as m
from myna.web.errors import http_status

CHIYODA, SHINJUKU = "131016", "131041"
OWN = "22233344455"  # a resident of Chiyoda (besides the conftest's default one)
ELSEWHERE = "33344455566"  # a resident of Shinjuku
UNKNOWN = "44455566677"  # on no register
RECORD = Basic4("登録 太郎", dt.date(1980, 2, 29), Sex.MALE, "東京都千代田区永田町1-7-1", "登録 太郎", None)
INVENTED = Basic4("なりすまし 花子", dt.date(1990, 6, 15), Sex.FEMALE, "大阪府大阪市北区梅田1-1")


@pytest.fixture
def register(platform):
    register_resident(platform, OWN, CHIYODA, RECORD)
    register_resident(platform, ELSEWHERE, SHINJUKU, dataclasses.replace(RECORD, address="東京都新宿区西新宿2-8-1"))
    return platform


def _pub(cert) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _message(exc_info) -> str:
    return exc_info.value.message


# -- R-RA-2 and R-CERT-4 ---------------------------------------------------------------


def test_r_ra_2_the_probe_other_municipalitys_resident_with_invented_basic4_is_refused_as_unknown(register):
    """The probe of issue 13: a Shinjuku clerk asks for a signature certificate for a
    Chiyoda resident with invented basic 4 information. Refused, nothing stored, and the
    answer is exactly that for a resident code on no register."""
    platform = register
    before = table_counts(platform)
    attack = issue_request(
        "card-sign", resident_code=OWN, date_of_birth=INVENTED.date_of_birth, basic4=INVENTED, municipality_code=SHINJUKU
    )
    with pytest.raises(NotFound) as elsewhere:
        IssuanceService(platform).issue(attack, "municipality@131041:clerk", acting_for=SHINJUKU)
    with pytest.raises(NotFound) as unknown:
        IssuanceService(platform).issue(dataclasses.replace(attack, resident_code=UNKNOWN), "m", acting_for=SHINJUKU)
    assert _message(elsewhere).replace(OWN, "X") == _message(unknown).replace(UNKNOWN, "X")
    assert elsewhere.value.code == unknown.value.code == "not-found"
    assert "なりすまし" not in _message(elsewhere) and "千代田" not in _message(elsewhere)
    assert table_counts(platform) == before


def test_r_ra_2_the_record_not_the_request_decides_whose_resident_it_is(register):
    """Even the resident's own basic 4 information, sent correctly, does not let another
    municipality issue (the municipality is the register's, not the request's)."""
    platform = register
    honest = issue_request("card-sign", resident_code=OWN, date_of_birth=RECORD.date_of_birth, basic4=RECORD, municipality_code=None)
    with pytest.raises(NotFound, match=f"no resident {OWN} in municipality {SHINJUKU}"):
        IssuanceService(platform).issue(honest, "m", acting_for=SHINJUKU)
    issued = IssuanceService(platform).issue(honest, "m", acting_for=CHIYODA)
    assert Records(platform).get(issued.serial).municipality_code == CHIYODA


def test_r_cert_4_a_resident_code_on_no_register_is_refused_as_not_found_and_changes_nothing(register):
    platform = register
    before = table_counts(platform)
    for kind in ("card-sign", "card-auth", "mobile-sign", "mobile-auth"):
        with pytest.raises(NotFound, match=f"no resident {UNKNOWN} on the resident register"):
            IssuanceService(platform).issue(issue_request(kind, resident_code=UNKNOWN, municipality_code=None), "operator")
    assert table_counts(platform) == before


@pytest.mark.parametrize("status", ["moved-out", "deleted"])
def test_r_cert_4_a_resident_no_longer_on_the_register_is_refused(platform, status):
    register_resident(platform, UNKNOWN, CHIYODA, status=status)
    with pytest.raises(NotEligible, match="R-CERT-4"):
        IssuanceService(platform).issue(issue_request("card-auth", resident_code=UNKNOWN), "operator")


def test_r_ra_2_a_municipality_issues_no_mobile_certificate_even_through_the_service(register):
    with pytest.raises(Forbidden, match="R-CERT-5"):
        IssuanceService(register).issue(issue_request("mobile-auth", resident_code=OWN, date_of_birth=None), "m", acting_for=CHIYODA)


def test_r_ra_2_jlis_issues_for_any_residents_from_the_record_and_the_home_municipality_owns_it(register):
    """An operator (acting_for None) may issue for a resident of any municipality, still
    from the record; the certificate is the home municipality's, which sees it."""
    platform = register
    issued = IssuanceService(platform).issue(
        issue_request("card-sign", resident_code=ELSEWHERE, municipality_code=None, date_of_birth=None, basic4=None), "operator"
    )
    rec = Records(platform).get(issued.serial)
    assert rec.municipality_code == SHINJUKU
    assert Basic4.from_certificate(issued.certificate).address == "東京都新宿区西新宿2-8-1"
    assert Records(platform).list(municipality_code=SHINJUKU)[0][0].serial == issued.serial
    # An operator naming the wrong municipality is told there is no such resident there.
    with pytest.raises(NotFound, match=f"no resident {ELSEWHERE} in municipality {CHIYODA}"):
        IssuanceService(platform).issue(
            issue_request("card-auth", resident_code=ELSEWHERE, municipality_code=CHIYODA, date_of_birth=None), "operator"
        )


# -- R-RA-1 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field,value",
    [
        ("name", "登録 次郎"),
        ("date_of_birth", dt.date(1980, 3, 1)),
        ("sex", Sex.FEMALE),
        ("address", "大阪府大阪市北区梅田1-1"),
        ("name_alt", "登録 太朗"),
        ("address_alt", "東京都千代田区永田町一丁目7-1"),
    ],
)
def test_r_ra_1_own_resident_with_one_basic4_field_differing_is_refused_and_changes_nothing(register, field, value):
    platform = register
    before = table_counts(platform)
    b4 = dataclasses.replace(RECORD, **{field: value})
    req = issue_request("card-sign", resident_code=OWN, basic4=b4, date_of_birth=b4.date_of_birth)
    with pytest.raises(DiffersFromRegister) as caught:
        IssuanceService(platform).issue(req, "municipality@131016:clerk", acting_for=CHIYODA)
    assert http_status(caught.value) == 409
    expected = ["date_of_birth", "basic4.date_of_birth"] if field == "date_of_birth" else [f"basic4.{field}"]
    assert caught.value.details["fields"] == expected
    assert f"basic4.{field}" in caught.value.message and "R-RA-1" in caught.value.message
    # The field is named, its values are not repeated (no personal data in the answer).
    for text in (value, getattr(RECORD, field)):
        if text is not None:
            assert str(getattr(text, "value", text)) not in caught.value.message.replace("R-RA-1", "")
    assert table_counts(platform) == before


def test_r_ra_1_a_user_auth_request_with_another_date_of_birth_is_refused(register):
    with pytest.raises(DiffersFromRegister, match=r"in date_of_birth: "):
        IssuanceService(register).issue(
            issue_request("card-auth", resident_code=OWN, date_of_birth=dt.date(1990, 6, 15)), "m", acting_for=CHIYODA
        )


def test_r_ra_1_the_certificate_carries_the_record_and_its_validity_follows_the_record_birthday(register):
    """Basic 4 information left out is the register's; the validity runs to the fifth
    birthday after issuance of the record's date of birth (R-CERT-2)."""
    platform = register
    now = platform.clock.now()
    for kind in ("card-sign", "card-auth"):
        req = issue_request(kind, resident_code=OWN, date_of_birth=None, basic4=None, municipality_code=None)
        issued = IssuanceService(platform).issue(req, "m", acting_for=CHIYODA)
        end = issued.certificate.not_valid_after_utc
        assert end == validity.certificate_not_after(RECORD.date_of_birth, now)
        assert end != validity.certificate_not_after(adult_basic4().date_of_birth, now)
        if kind == "card-sign":
            assert Basic4.from_certificate(issued.certificate) == dataclasses.replace(
                RECORD, name_alt="登録 太郎", address_alt=RECORD.address
            )


def test_r_ra_1_stating_the_record_gives_the_same_certificate_data(register):
    platform = register
    stated = IssuanceService(platform).issue(
        issue_request("card-sign", resident_code=OWN, date_of_birth=RECORD.date_of_birth, basic4=RECORD), "m"
    )
    assert Basic4.from_certificate(stated.certificate).name == RECORD.name


def test_r_ra_1_a_signature_certificate_for_a_minor_goes_by_the_records_birthday(platform):
    register_resident(platform, OWN, CHIYODA, dataclasses.replace(RECORD, date_of_birth=dt.date(2015, 1, 1)))
    with pytest.raises(NotEligible, match="under 15"):
        IssuanceService(platform).issue(issue_request("card-sign", resident_code=OWN, date_of_birth=None, basic4=None), "operator")


# -- R-RA-3 ----------------------------------------------------------------------------


def test_r_ra_3_request_ids_are_per_requester(register):
    """Municipality B reusing A's request id gets nothing of A's: with A's very body it is
    refused as for another's resident; with a body for its own resident it gets a new
    certificate of its own."""
    platform = register
    body = issue_request("card-auth", request_id="shared-0001", resident_code=OWN, date_of_birth=None)
    a = IssuanceService(platform).issue(body, "a", acting_for=CHIYODA)
    with pytest.raises(NotFound):
        IssuanceService(platform).issue(body, "b", acting_for=SHINJUKU)
    mine = dataclasses.replace(body, resident_code=ELSEWHERE, municipality_code=SHINJUKU, public_key=ec_public_pem())
    b = IssuanceService(platform).issue(mine, "b", acting_for=SHINJUKU)
    assert b.created and b.serial != a.serial and _pub(b.certificate) == mine.public_key
    # Each one's retry still finds its own.
    assert IssuanceService(platform).issue(body, "a", acting_for=CHIYODA).serial == a.serial
    assert IssuanceService(platform).issue(mine, "b", acting_for=SHINJUKU).serial == b.serial
    # J-LIS's ids are its own too.
    with pytest.raises(NotFound):  # the operator names Shinjuku, the record says Chiyoda
        IssuanceService(platform).issue(dataclasses.replace(mine, resident_code=OWN, public_key=ec_public_pem()), "operator")
    jlis = IssuanceService(platform).issue(dataclasses.replace(mine, public_key=ec_public_pem()), "operator")
    assert jlis.created and jlis.serial not in (a.serial, b.serial)


def _start(service, req, acting_for, now):
    return service._start([check_request(req, now)], "t", now, stream=False, acting_for=acting_for)


def test_r_ra_3_the_loser_of_a_race_with_a_different_body_gets_a_conflict_not_the_winners_certificate(register):
    """Two requests with one request id and different bodies, both past the check for an
    earlier issuance before either is recorded: the second to record hits the unique key
    and must compare digests (it used to answer with the winner's certificate)."""
    platform = register
    service, now = IssuanceService(platform), platform.clock.now()
    first = issue_request("card-auth", request_id="race-1", resident_code=OWN, date_of_birth=None)
    second = dataclasses.replace(first, public_key=ec_public_pem())
    f1, f2 = _start(service, first, CHIYODA, now), _start(service, second, CHIYODA, now)
    won = service._record(f1)[0]
    assert _pub(won.certificate) == first.public_key
    with pytest.raises(IdempotencyMismatch, match="race-1"):
        service._record(f2)
    # The same body racing itself is answered with the one certificate.
    third = dataclasses.replace(first, request_id="race-2", public_key=ec_public_pem())
    f3, f4 = _start(service, third, CHIYODA, now), _start(service, third, CHIYODA, now)
    one = service._record(f3)[0]
    other = service._record(f4)[0]
    assert (one.created, other.created, other.serial) == (True, False, one.serial)


def test_r_ra_3_requests_of_two_municipalities_with_one_id_racing_each_get_their_own(register):
    platform = register
    service, now = IssuanceService(platform), platform.clock.now()
    a = issue_request("card-auth", request_id="race-3", resident_code=OWN, date_of_birth=None, municipality_code=None)
    b = dataclasses.replace(a, resident_code=ELSEWHERE, public_key=ec_public_pem())
    fa, fb = _start(service, a, CHIYODA, now), _start(service, b, SHINJUKU, now)
    got_a, got_b = service._record(fa)[0], service._record(fb)[0]
    assert (got_a.created, got_b.created) == (True, True)
    assert _pub(got_a.certificate) == a.public_key and _pub(got_b.certificate) == b.public_key


def test_a_record_changed_during_issuance_refuses_the_batch_and_records_nothing(register):
    """The record is read when the request is checked; if it changes before the
    certificate is recorded (a name change while signing), nothing is recorded."""
    platform = register
    service, now = IssuanceService(platform), platform.clock.now()
    in_flight = _start(service, issue_request("card-sign", resident_code=OWN, date_of_birth=None, basic4=None), None, now)
    with platform.db.session() as s:
        s.execute(
            update(m.ResidentRecord)
            .where(m.ResidentRecord.resident_code == OWN)
            .values(name="改名 太郎", version=m.ResidentRecord.version + 1)
        )
    with pytest.raises(RegisterChanged):
        service._record(in_flight)
    with platform.db.session() as s:
        assert s.scalars(select(m.Certificate).where(m.Certificate.resident_code == OWN)).all() == []
    again = service.issue(issue_request("card-sign", resident_code=OWN, date_of_birth=None, basic4=None), "t")
    assert Basic4.from_certificate(again.certificate).name == "改名 太郎"


def test_default_resident_of_the_helpers_is_the_adult_of_adult_basic4(platform):
    """The conftest puts issue_request's resident on the register as adult_basic4 says."""
    with platform.db.session() as s:
        rec = s.get(m.ResidentRecord, issue_request().resident_code)
    assert (rec.name, rec.date_of_birth, rec.municipality_code) == (adult_basic4().name, adult_basic4().date_of_birth, CHIYODA)
