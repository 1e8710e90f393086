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
