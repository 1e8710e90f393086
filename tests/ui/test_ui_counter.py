"""Counter terminal (R-CARD-2, R-CARD-6, R-CARD-7): a clerk reports a birth, takes the
application, hands the produced card over with the holder's PINs; errors sit next to the
fields; a clerk cannot reach another municipality's residents; other roles cannot enter."""

import re

import pytest
from ui_support import CHIYODA, SHINJUKU, photo

from myna.chip.client import JpkiClient
from myna.chip.pins import PinRef
from myna.errors import NotFound
from myna.store import models as m
from myna.store.models_cards import ChipRecord
from myna.wiring import build

CODE = "40000000006"


def as_clerk(client, who="chiyoda"):
    client.cookies.clear()
    r = client.post("/ui/login", data={"token": client.tokens[who], "next": "/ui/counter"}, follow_redirects=False)
    assert r.status_code == 303


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def report_birth(client, code=CODE):
    form = client.get("/ui/counter/events/new").text
    data = {
        "event_id": hidden(form, "event_id"),
        "type": "birth",
        "resident_code": code,
        "effective_date": "2026-03-30",
        "name": "佐藤 みらい",
        "date_of_birth": "2026-03-30",
        "sex": "2",
        "address": "東京都千代田区千代田1-1",
    }
    return client.post("/ui/counter/events", data=data, follow_redirects=False), data


def take_application(client, code=CODE, **over):
    form = client.get(f"/ui/counter/applications/new?resident_code={code}").text
    data = {
        "resident_code": code,
        "name": "佐藤 みらい",
        "date_of_birth": "2026-03-30",
        "sex": "2",
        "address": "東京都千代田区千代田1-1",
        "express": "newborn",
        "reason": "new",
        "replaces": "",
        "source_ref": hidden(form, "source_ref"),
        **over,
    }
    return client.post("/ui/counter/applications", data=data, files={"photo": ("me.png", photo(), "image/png")})


def produced_card(platform, client) -> str:
    as_clerk(client)
    assert report_birth(client)[0].status_code == 303
    r = take_application(client)
    assert r.status_code == 200 and 'data-status="accepted"' in r.text, r.text
    build(platform).production.produce("jlis", size=10)
    build(platform).production.ship("jlis")
    (card,) = build(platform).chips.list(resident_code=CODE)
    return card.card_id


def test_birth_reported_twice_with_the_same_form_is_recorded_once(platform, counter):
    as_clerk(counter)
    r, data = report_birth(counter)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/ui/counter/residents/{CODE}")
    again = counter.post("/ui/counter/events", data=data, follow_redirects=False)
    assert again.status_code == 303  # acknowledged, not re-applied
    assert len(build(platform).registry.get(CODE, CHIYODA)["history"]) == 1
    page = counter.get(f"/ui/counter/residents/{CODE}", headers={"accept-language": "en"}).text
    assert "佐藤 みらい" in page and 'data-status="active"' in page


def test_event_form_errors_sit_next_to_fields(platform, counter):
    as_clerk(counter)
    form = counter.get("/ui/counter/events/new").text
    r = counter.post(
        "/ui/counter/events", data={"event_id": hidden(form, "event_id"), "type": "birth", "resident_code": "123", "effective_date": "soon"}
    )
    assert r.status_code == 422
    for f in ("resident_code", "effective_date", "name", "address", "sex"):
        assert f'id="{f}-error"' in r.text, f
    r = counter.post(
        "/ui/counter/events",
        data={"event_id": hidden(form, "event_id"), "type": "death", "resident_code": "99999999999", "effective_date": "2026-03-01"},
    )
    assert r.status_code == 422 and 'id="form-error"' in r.text  # the registry's own refusal, shown on the form


def test_application_receipt_and_defects(platform, counter):
    as_clerk(counter)
    report_birth(counter)
    r = take_application(counter)
    assert r.status_code == 200 and 'data-status="accepted"' in r.text
    receipt = re.search(r'id="receipt-number">([^<]+)<', r.text).group(1)
    assert counter.get(f"/api/v1/card-applications/{receipt}/status").json()["status"] == "accepted"
    # No photo: received, but with a defect the receipt lists.
    r = counter.post(
        "/ui/counter/applications",
        data={
            "resident_code": CODE,
            "name": "佐藤 みらい",
            "date_of_birth": "2026-03-30",
            "sex": "2",
            "address": "東京都千代田区千代田1-1",
            "source_ref": "counter-x",
        },
    )
    assert r.status_code == 200 and 'data-status="defective"' in r.text
    assert 'data-code="photo-missing"' in r.text and 'data-code="duplicate"' in r.text
    assert '<li data-code="photo-missing">顔写真がありません — <span lang="en">no photograph</span>' in r.text  # Japanese first


def test_application_form_errors(platform, counter):
    as_clerk(counter)
    r = counter.post("/ui/counter/applications", data={"resident_code": "12", "date_of_birth": "x"})
    assert r.status_code == 422
    for f in ("resident_code", "name", "address", "date_of_birth", "sex"):
        assert f'id="{f}-error"' in r.text, f


def test_handover_needs_the_holder_at_the_counter(platform, counter):
    card_id = produced_card(platform, counter)
    page = counter.get("/ui/counter", headers={"accept-language": "en"}).text
    assert f'data-card="{card_id}"' in page  # arrived, awaiting handover
    pdf = counter.get(f"/ui/counter/cards/{card_id}/pickup-notice.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    base = {"identity_document": "passport", "face_matches_photo": "1", "auth_pin": "1234", "auth_pin_again": "1234"}
    # The clerk keys the PINs: refused, nothing changes.
    r = counter.post(f"/ui/counter/cards/{card_id}/handover", data={**base, "pins_entered_by": "clerk"}, headers={"accept-language": "en"})
    assert r.status_code == 422 and "set by the holder" in r.text and 'data-status="shipped"' in r.text
    r = counter.post(f"/ui/counter/cards/{card_id}/handover", data={**base, "pins_entered_by": "holder", "auth_pin_again": "4321"})
    assert r.status_code == 422 and 'id="auth_pin_again-error"' in r.text and "1234" not in r.text.split('id="handover-form"')[1]
    r = counter.post(f"/ui/counter/cards/{card_id}/handover", data={**base, "pins_entered_by": "holder"}, follow_redirects=False)
    assert r.status_code == 303
    assert 'data-status="active"' in counter.get(f"/ui/counter/cards/{card_id}").text
    # The PIN the holder set opens the card.
    client = JpkiClient(build(platform).chips.open_card(card_id).transmit)
    client.verify(PinRef.AUTH, "1234")


def test_suspend_and_lift_from_the_card_page(platform, counter):
    card_id = produced_card(platform, counter)
    r = counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "suspend"}, follow_redirects=False)
    assert "error=" in r.headers["location"]  # a card not yet handed over cannot be suspended
    counter.post(
        f"/ui/counter/cards/{card_id}/handover",
        data={
            "identity_document": "passport",
            "face_matches_photo": "1",
            "auth_pin": "1234",
            "auth_pin_again": "1234",
            "pins_entered_by": "holder",
        },
    )
    counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "suspend", "note": "lost on the train"})
    page = counter.get(f"/ui/counter/cards/{card_id}").text
    assert 'data-status="suspended"' in page and "lost on the train" in page
    with platform.db.session() as s:
        assert s.query(m.Revocation).count() == 1  # a newborn's card: user-auth only
    counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "lift"})
    assert 'data-status="active"' in counter.get(f"/ui/counter/cards/{card_id}").text


UNKNOWN_CARD = "FFFFFFFFFFFFFFFF"
HANDOVER = {
    "identity_document": "passport",
    "face_matches_photo": "1",
    "pins_entered_by": "holder",
    "auth_pin": "1234",
    "auth_pin_again": "1234",
}


def hand_over(client, card_id, **over):
    return client.post(f"/ui/counter/cards/{card_id}/handover", data={**HANDOVER, **over}, follow_redirects=False)


def scoped_state(platform) -> dict:
    """Everything a clerk's action could change: cards, their history, revocations,
    applications, handovers, fees and the resident's record."""
    from myna.store.models_card_management import CardApplication, CardFee, CardHandover, CardStatusChange

    with platform.db.session() as s:
        return {
            "cards": sorted((c.card_id, c.status, c.auth_serial, c.sign_serial) for c in s.query(ChipRecord)),
            "changes": s.query(CardStatusChange).count(),
            "revocations": s.query(m.Revocation).count(),
            "applications": sorted((a.application_id, a.status) for a in s.query(CardApplication)),
            "handovers": s.query(CardHandover).count(),
            "fees": s.query(CardFee).count(),
            "resident": build(platform).registry.get(CODE, CHIYODA),
        }


def message(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">(.*?)</p>', html, re.S)
    assert found, element_id
    return found.group(1)


def test_a_clerk_cannot_reach_another_municipality(platform, counter):
    card_id = produced_card(platform, counter)
    as_clerk(counter, "shinjuku")
    assert counter.get(f"/ui/counter/residents/{CODE}").status_code == 404
    assert counter.get(f"/ui/counter/cards/{card_id}").status_code == 404
    r = counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "abolish"}, follow_redirects=False)
    assert r.status_code == 404
    r = take_application(counter)
    assert r.status_code == 422 and 'id="form-error"' in r.text
    as_clerk(counter)
    assert 'data-status="shipped"' in counter.get(f"/ui/counter/cards/{card_id}").text


def test_another_municipalitys_card_is_answered_like_an_unknown_one(platform, counter):
    """Scoping of the counter (R-CARD-6, R-CARD-7): a municipality-B clerk trying every
    screen on A's shipped card and resident gets what an unknown card or resident gets
    (404, the same page), never A's card id, and nothing changes."""
    card_id = produced_card(platform, counter)
    before = scoped_state(platform)
    as_clerk(counter, "shinjuku")

    def same_as_unknown(path_for, method="get", **kw):
        foreign = getattr(counter, method)(path_for(card_id), follow_redirects=False, **kw)
        unknown = getattr(counter, method)(path_for(UNKNOWN_CARD), follow_redirects=False, **kw)
        assert foreign.status_code == unknown.status_code == 404, (foreign.status_code, unknown.status_code)
        assert foreign.text.replace(card_id, UNKNOWN_CARD) == unknown.text  # the very same page
        assert card_id not in message(foreign.text, "error-message")
        return foreign

    same_as_unknown(lambda c: f"/ui/counter/cards/{c}")
    same_as_unknown(lambda c: f"/ui/counter/cards/{c}/pickup-notice.pdf")
    same_as_unknown(lambda c: f"/ui/counter/cards/{c}/handover", "post", data=HANDOVER)
    same_as_unknown(lambda c: f"/ui/counter/cards/{c}/action", "post", data={"action": "return"})
    # A prefix of A's card id finds nothing either, and the full id is not given away.
    r = counter.get(f"/ui/counter/cards/{card_id[:6]}")
    assert r.status_code == 404 and card_id not in r.text
    assert r.text.replace(card_id[:6], "FFFFFF") == counter.get("/ui/counter/cards/FFFFFF").text
    with pytest.raises(NotFound) as e:  # the service the API uses answers the same way
        build(platform).card_management.card(card_id[:6], SHINJUKU)
    assert card_id not in str(e.value) and str(e.value) == str(
        pytest.raises(NotFound, build(platform).card_management.card, UNKNOWN_CARD, SHINJUKU).value
    )
    # A's arrived card is not in B's list, and B's batch of pickup notices has nothing to print.
    overview = counter.get("/ui/counter").text
    assert card_id not in overview and 'id="arrived"' not in overview
    r = counter.get("/ui/counter/pickup-notices.pdf", follow_redirects=False)
    assert r.status_code == 303 and "pdf" not in r.headers.get("content-type", "")
    # A's resident: not shown, not pre-filled into B's application form.
    foreign, unknown = counter.get(f"/ui/counter/residents/{CODE}"), counter.get("/ui/counter/residents/49999999999")
    assert foreign.status_code == unknown.status_code == 404 and foreign.text.replace(CODE, "49999999999") == unknown.text
    assert "佐藤 みらい" not in counter.get(f"/ui/counter/applications/new?resident_code={CODE}").text
    assert scoped_state(platform) == before


def test_another_municipality_cannot_change_an_active_card_or_its_resident(platform, counter):
    """A-municipality's card in use and its holder: a B clerk's suspension, renewal,
    reissue (``replaces``) and change report are refused like unknown ones (R-CARD-7,
    R-CARD-8, the registry's municipality scoping); no card id in the messages."""
    card_id = produced_card(platform, counter)
    assert hand_over(counter, card_id).status_code == 303
    before = scoped_state(platform)
    assert before["cards"][0][1] == "active"
    as_clerk(counter, "shinjuku")
    for action in ("suspend", "renew", "loss", "abolish"):
        r = counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": action}, follow_redirects=False)
        unknown = counter.post(f"/ui/counter/cards/{UNKNOWN_CARD}/action", data={"action": action}, follow_redirects=False)
        assert r.status_code == unknown.status_code == 404, action
        assert r.text.replace(card_id, UNKNOWN_CARD) == unknown.text and card_id not in message(r.text, "error-message")
    # A reissue application naming A's card.
    r = take_application(counter, replaces=card_id, reason="reissue", express="loss")
    unknown = take_application(counter, replaces=UNKNOWN_CARD, reason="reissue", express="loss")
    assert r.status_code == unknown.status_code == 422
    assert message(r.text, "form-error") == message(unknown.text, "form-error") and card_id not in message(r.text, "form-error")
    # A change report on A's resident: the registry's refusal, the same as for an unknown code.
    form = counter.get("/ui/counter/events/new").text
    for code in (CODE, "49999999999"):
        data = {
            "event_id": hidden(form, "event_id"),
            "type": "address-change",
            "resident_code": code,
            "effective_date": "2026-04-01",
            "address": "東京都新宿区西新宿2-8-1",
        }
        r = counter.post("/ui/counter/events", data=data)
        assert r.status_code == 422
        if code == CODE:
            refused = message(r.text, "form-error")
    assert refused.replace(CODE, "49999999999") == message(r.text, "form-error")
    assert scoped_state(platform) == before
    as_clerk(counter)
    page = counter.get(f"/ui/counter/cards/{card_id}").text
    assert 'data-status="active"' in page and "東京都千代田区千代田1-1" in counter.get(f"/ui/counter/residents/{CODE}").text


def test_only_clerks_use_the_counter(platform, counter):
    assert counter.get("/ui/counter", follow_redirects=False).status_code == 303  # not signed in: sign-in page
    as_clerk(counter, "operator")
    assert counter.get("/ui/counter").status_code == 403
