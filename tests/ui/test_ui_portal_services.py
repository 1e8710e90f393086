"""Resident portal, public services: application status by receipt number (R-CARD-2) and
suspending a lost card around the clock (R-CARD-7), with its effect on the certificates."""

import datetime as dt

import pytest
from sqlalchemy import select
from ui_support import resident_with_card

from myna.pki import serials
from myna.store import models as m
from myna.wiring import build


def lost_form(info: dict, **over) -> dict:
    """The lost-card form filled in as the holder would: number, name, date of birth, address."""
    return {"number": info["number"], "name": info["name"], "date_of_birth": info["date_of_birth"], "address": info["address"], **over}


def revoked_serials(platform) -> set[str]:
    with platform.db.session() as s:
        return set(s.scalars(select(m.Revocation.serial)))


def test_lost_card_is_suspended_and_its_certificates_revoked(platform, portal):
    info, card = resident_with_card(platform)
    r = portal.post("/ui/portal/lost", data=lost_form(info), headers={"accept-language": "en"})
    assert r.status_code == 200 and 'id="lost-done"' in r.text
    assert f'data-card="{card.card_id}" data-revoked="2"' in r.text
    assert info["number"] not in r.text  # not echoed
    assert {serials.to_store(card.auth_serial), serials.to_store(card.sign_serial)} <= revoked_serials(platform)
    # Reporting again: nothing in use any more, said plainly.
    r = portal.post("/ui/portal/lost", data=lost_form(info), headers={"accept-language": "en"})
    assert r.status_code == 422 and "no card in use" in r.text


def test_wrong_details_suspend_nothing_and_do_not_say_which_part_is_wrong(platform, portal):
    info, card = resident_with_card(platform)
    before = revoked_serials(platform)
    r = portal.post("/ui/portal/lost", data=lost_form(info, date_of_birth="1999-01-01"), headers={"accept-language": "en"})
    assert r.status_code == 422 and "no card holder with this Individual Number, name, date of birth and address" in r.text
    r = portal.post("/ui/portal/lost", data=lost_form(info, number="123456789012"))
    assert r.status_code == 422 and "check digit" in r.text  # malformed numbers get the specific reason
    r = portal.post("/ui/portal/lost", data={"number": "", "date_of_birth": ""})
    assert r.status_code == 422 and 'id="number-error"' in r.text and 'id="date_of_birth-error"' in r.text
    assert 'id="name-error"' in r.text and 'id="address-error"' in r.text
    assert revoked_serials(platform) == before


def test_status_by_receipt_number(platform, portal):
    r = portal.get("/ui/portal/status?receipt=NOSUCHRECEIPT", headers={"accept-language": "en"})
    assert r.status_code == 404 and 'id="receipt-error"' in r.text
    assert portal.get("/ui/portal/status").status_code == 200


def signed_in_holder(platform, portal, code="31000000007"):
    """The holder of an active card signed in on the portal with a (phone's) user-auth key."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from myna_testing import issue_many_registered, issue_request
    from ui_support import sign_in

    info, card = resident_with_card(platform, code)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    issued = issue_many_registered(
        platform, [issue_request("card-auth", public_key=pem, resident_code=code, date_of_birth=None, municipality_code=None)], "test"
    )[0]
    assert sign_in(portal, key, serials.to_display(issued.serial)).status_code == 303
    return info, card


def card_status(platform, card_id) -> str:
    from myna.store.models_cards import ChipRecord

    with platform.db.session() as s:
        return s.get(ChipRecord, card_id).status


def test_a_signed_in_resident_suspends_their_card_and_sees_it_in_the_cards_section(platform, portal):
    """R-CARD-7 from the resident's own page: the card is suspended, both certificates
    revoked at once, and the page says so in the Cards section."""
    _, card = signed_in_holder(platform, portal)
    r = portal.post("/ui/portal/me/suspend", data={"card_id": card.card_id}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?suspended=1#cards")
    page = portal.get(r.headers["location"], headers={"accept-language": "en"}).text
    cards = page.split('id="cards"', 1)[1].split("</section>", 1)[0]
    assert 'id="suspend-done"' in cards and f'data-card="{card.card_id}"' in cards and 'data-status="suspended"' in cards
    assert card_status(platform, card.card_id) == "suspended"
    assert {serials.to_store(card.auth_serial), serials.to_store(card.sign_serial)} <= revoked_serials(platform)
    for serial in (card.auth_serial, card.sign_serial):
        assert f'data-serial="{serials.to_display(serial)}" data-status="revoked"' in page


def test_a_refused_own_card_suspension_is_shown_under_cards_not_consent(platform, portal):
    """Someone else's card, or one no longer in use: refused, said in the Cards section
    (with a translated lead-in), and nothing changes."""
    _, other = resident_with_card(platform, "31000000015")  # someone else's card in use
    _, mine = signed_in_holder(platform, portal)
    before = revoked_serials(platform)
    r = portal.post("/ui/portal/me/suspend", data={"card_id": other.card_id}, follow_redirects=False)
    assert r.status_code == 303 and "suspend_error=" in r.headers["location"] and "consent_error" not in r.headers["location"]
    page = portal.get(r.headers["location"]).text  # Japanese
    cards = page.split('id="cards"', 1)[1].split("</section>", 1)[0]
    consents = page.split('id="consents"', 1)[1].split("</section>", 1)[0]
    assert 'id="suspend-error"' in cards and "受け付けられませんでした" in cards and "not a card of yours in use" in cards
    assert 'id="consent-error"' not in consents and 'id="suspend-done"' not in page
    assert card_status(platform, other.card_id) == "active" and card_status(platform, mine.card_id) == "active"
    assert revoked_serials(platform) == before
    # Suspended already: nothing in use to suspend, said the same way.
    assert portal.post("/ui/portal/me/suspend", data={"card_id": mine.card_id}).status_code == 200
    r = portal.post("/ui/portal/me/suspend", data={"card_id": mine.card_id}, follow_redirects=False)
    assert "suspend_error=" in r.headers["location"]
    # Without a portal session: the sign-in page, nothing suspended.
    portal.cookies.clear()
    r = portal.post("/ui/portal/me/suspend", data={"card_id": other.card_id}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/portal/login"
    assert card_status(platform, other.card_id) == "active"


# -- R-CARD-7 with R-RA-2: identity confirmed against the record, attempts limited, holder told


def test_r_card_7_knowing_the_number_and_date_of_birth_is_not_enough(platform, portal):
    """The form used to suspend (and revoke) for anyone who knew the number and date of
    birth. The name and address as registered are asked too, as the call centre asks."""
    info, card = resident_with_card(platform)
    before = revoked_serials(platform)
    for wrong in ({"name": "佐藤 花子"}, {"address": "大阪府大阪市北区梅田1-1"}, {"name": ""}):
        r = portal.post("/ui/portal/lost", data=lost_form(info, **wrong), headers={"accept-language": "en"})
        assert r.status_code == 422 and 'id="lost-done"' not in r.text
    assert revoked_serials(platform) == before
    # Width and spacing as typed do not matter: full-width space, half-width digits.
    r = portal.post(
        "/ui/portal/lost",
        data=lost_form(
            info, name=info["name"].replace(" ", "\u3000"), address=info["address"].replace("2-1-2", "２−１−２").replace("−", "-")
        ),
    )
    assert r.status_code == 200 and 'id="lost-done"' in r.text


def test_r_card_7_failed_attempts_are_limited_per_number_and_per_source_in_the_store(platform, portal, clock, settings):
    from myna.authority.platform import Platform
    from myna.portal.lost_card import MAX_FAILURES_PER_NUMBER, MAX_FAILURES_PER_SOURCE, WINDOW, TooManyAttempts, suspend_lost

    info, card = resident_with_card(platform)
    before = revoked_serials(platform)
    for _ in range(MAX_FAILURES_PER_NUMBER):
        assert portal.post("/ui/portal/lost", data=lost_form(info, name="誰 か")).status_code == 422
    # Past the limit even the right answer is refused, from another process too (the count is in the store).
    r = portal.post("/ui/portal/lost", data=lost_form(info), headers={"accept-language": "en"})
    assert r.status_code == 429 and "too many attempts" in r.text
    other = Platform.open(settings, clock)
    try:
        with pytest.raises(TooManyAttempts):
            suspend_lost(
                build(other).card_management,
                info["number"],
                info["date_of_birth"],
                "resident@portal",
                name=info["name"],
                address=info["address"],
                source="elsewhere",
            )
    finally:
        other.close()
    assert revoked_serials(platform) == before
    clock.advance(WINDOW + dt.timedelta(seconds=1))
    assert portal.post("/ui/portal/lost", data=lost_form(info)).status_code == 200
    # One source trying many numbers is stopped as well.
    from myna.numbering.individual_number import check_digit

    numbers = [f"{10_000_000_000 + i:011d}" for i in range(MAX_FAILURES_PER_SOURCE + 1)]
    for n in numbers[:MAX_FAILURES_PER_SOURCE]:
        assert portal.post("/ui/portal/lost", data=lost_form(info, number=n + str(check_digit(n)))).status_code == 422
    n = numbers[-1]
    assert portal.post("/ui/portal/lost", data=lost_form(info, number=n + str(check_digit(n)))).status_code == 429


def test_r_card_7_the_holder_is_told_when_the_form_suspends_their_card(platform, portal):
    import json

    info, card = resident_with_card(platform)
    assert portal.post("/ui/portal/lost", data=lost_form(info)).status_code == 200
    with platform.db.session() as s:
        notices = [json.loads(p) for p in s.scalars(select(m.OutboxMessage.payload).where(m.OutboxMessage.topic == "holder-notice"))]
    told = [n for n in notices if n.get("type") == "card-suspended"]
    assert told == [{**told[0], "card_id": card.card_id, "resident_code": info["resident_code"], "channel": "portal-lost-card-form"}]
    assert len(told[0]["revoked"]) == 2
