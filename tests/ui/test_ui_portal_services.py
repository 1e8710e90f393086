"""Resident portal, public services: application status by receipt number (R-CARD-2) and
suspending a lost card around the clock (R-CARD-7), with its effect on the certificates."""

from sqlalchemy import select
from ui_support import resident_with_card

from myna.pki import serials
from myna.store import models as m


def revoked_serials(platform) -> set[str]:
    with platform.db.session() as s:
        return set(s.scalars(select(m.Revocation.serial)))


def test_lost_card_is_suspended_and_its_certificates_revoked(platform, portal):
    info, card = resident_with_card(platform)
    r = portal.post("/ui/portal/lost", data={"number": info["number"], "date_of_birth": info["date_of_birth"]}, headers={"accept-language": "en"})
    assert r.status_code == 200 and 'id="lost-done"' in r.text
    assert f'data-card="{card.card_id}" data-revoked="2"' in r.text
    assert info["number"] not in r.text  # not echoed
    assert {serials.to_store(card.auth_serial), serials.to_store(card.sign_serial)} <= revoked_serials(platform)
    # Reporting again: nothing in use any more, said plainly.
    r = portal.post("/ui/portal/lost", data={"number": info["number"], "date_of_birth": info["date_of_birth"]}, headers={"accept-language": "en"})
    assert r.status_code == 422 and "no card in use" in r.text


def test_wrong_details_suspend_nothing_and_do_not_say_which_part_is_wrong(platform, portal):
    info, card = resident_with_card(platform)
    before = revoked_serials(platform)
    r = portal.post("/ui/portal/lost", data={"number": info["number"], "date_of_birth": "1999-01-01"}, headers={"accept-language": "en"})
    assert r.status_code == 422 and "no card holder with this Individual Number and date of birth" in r.text
    r = portal.post("/ui/portal/lost", data={"number": "123456789012", "date_of_birth": info["date_of_birth"]})
    assert r.status_code == 422 and "check digit" in r.text  # malformed numbers get the specific reason
    r = portal.post("/ui/portal/lost", data={"number": "", "date_of_birth": ""})
    assert r.status_code == 422 and 'id="number-error"' in r.text and 'id="date_of_birth-error"' in r.text
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
    issued = issue_many_registered(platform, [issue_request("card-auth", public_key=pem, resident_code=code, date_of_birth=None, municipality_code=None)], "test")[0]
    assert sign_in(portal, key, serials.to_display(issued.serial)).status_code == 303
    return info, card


def card_status(platform, card_id) -> str:
    from myna.store.models_cards import CardRecord

    with platform.db.session() as s:
        return s.get(CardRecord, card_id).status


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
