"""R-VER-4 old-to-new linkage, and R-VER-2 after a name change: the verifier holding the
old serial learns the new one; the new name only with consent."""

from __future__ import annotations

import datetime as dt

import pytest
from chip_support import MUNICIPALITY
from ver_support import bearer, make_holder, new_card

from myna.errors import Conflict, InvalidInput
from myna.residents.events import ChangeEvent, EventType
from myna.verifiers.consent import Consents
from myna.verifiers.renewals import record_renewal
from myna.wiring import build


def _renew_after_name_change(platform, cards, h, new_name="田中 花子"):
    """Name change (R-REV-2 revokes the card SIG), a new card with the new name, and the link."""
    build(platform).registry.submit(
        ChangeEvent(f"nc-{h.resident_code}", EventType.NAME_CHANGE, h.resident_code, MUNICIPALITY, dt.date(2026, 3, 31), name=new_name),
        actor="test",
    )
    new = new_card(platform, cards, h.resident_code, h.basic4)
    with platform.db.session() as s:
        record_renewal(s, h.sign_serial, new.sign_serial, platform.clock.now(), "test")
        record_renewal(s, h.auth_serial, new.auth_serial, platform.clock.now(), "test")
    return new


def test_r_ver_4_old_serial_learns_the_new_one(platform, cards, http, enrol):
    h = make_holder(platform, cards)
    sig, ua = enrol("SIG1", "signature"), enrol("UA1", "user-auth")
    r = http.get(f"/api/v1/verifier/renewal/sign/{h.sign_hex}", headers=bearer(sig))
    assert r.status_code == 200 and r.json()["renewed"] is False and r.json()["new_serial"] is None
    new = _renew_after_name_change(platform, cards, h)
    r = http.get(f"/api/v1/verifier/renewal/sign/{h.sign_hex}", headers=bearer(sig))
    assert r.json() == {
        "old_serial": h.sign_hex,
        "renewed": True,
        "new_serial": new.sign_hex,
        "chain": [new.sign_hex],
        "new_status": "good",
    }
    r = http.get(f"/api/v1/verifier/renewal/auth/{h.auth_hex}", headers=bearer(ua))
    assert r.json()["new_serial"] == new.auth_hex
    # a second renewal: the chain is followed to the newest
    newer = new_card(platform, cards, h.resident_code, h.basic4)
    with platform.db.session() as s:
        record_renewal(s, new.sign_serial, newer.sign_serial, platform.clock.now(), "test")
    r = http.get(f"/api/v1/verifier/renewal/sign/{h.sign_hex}", headers=bearer(sig))
    assert r.json()["new_serial"] == newer.sign_hex and r.json()["chain"] == [new.sign_hex, newer.sign_hex]


def test_r_ver_2_after_name_change_new_name_only_with_consent(platform, cards, http, enrol):
    h = make_holder(platform, cards)
    token = enrol("SIG1", "signature")
    url = f"/api/v1/verifier/basic4/{h.sign_hex}"
    _renew_after_name_change(platform, cards, h, "田中 花子")
    r = http.get(url, headers=bearer(token))
    assert r.status_code == 403 and r.json()["error"] == "no-consent" and "田中" not in r.text
    Consents(platform).grant_via_portal(h.resident_code, "SIG1", "portal")
    r = http.get(url, headers=bearer(token))
    assert r.status_code == 200
    assert r.json()["basic4"]["name"] == "田中 花子" and r.json()["renewed"] is True and r.json()["asked_serial"] == h.sign_hex
    Consents(platform).withdraw_via_portal(h.resident_code, "SIG1", "portal")
    assert http.get(url, headers=bearer(token)).status_code == 403


def test_a_name_change_without_renewal_discloses_nothing(platform, cards, http, enrol):
    """The card SIG is revoked by the name change (R-REV-2) and nothing replaced it."""
    h = make_holder(platform, cards)
    token = enrol("SIG1", "signature")
    Consents(platform).grant_via_portal(h.resident_code, "SIG1", "portal")
    build(platform).registry.submit(
        ChangeEvent("nc-x", EventType.NAME_CHANGE, h.resident_code, MUNICIPALITY, dt.date(2026, 3, 31), name="田中 花子"), actor="test"
    )
    r = http.get(f"/api/v1/verifier/basic4/{h.sign_hex}", headers=bearer(token))
    assert r.status_code == 410 and "田中" not in r.text


def test_record_renewal_refuses_bad_links(platform, cards):
    h = make_holder(platform, cards)
    other = make_holder(platform, cards, name="佐藤 一郎")
    new = new_card(platform, cards, h.resident_code, h.basic4)
    with platform.db.session() as s:
        with pytest.raises(InvalidInput, match="one kind"):
            record_renewal(s, h.sign_serial, new.auth_serial, platform.clock.now(), "t")
        with pytest.raises(InvalidInput, match="same holder"):
            record_renewal(s, h.sign_serial, other.sign_serial, platform.clock.now(), "t")
    with platform.db.session() as s:
        record_renewal(s, h.sign_serial, new.sign_serial, platform.clock.now(), "t")
    with platform.db.session() as s:
        with pytest.raises(Conflict, match="already has"):
            record_renewal(s, h.sign_serial, new.sign_serial, platform.clock.now(), "t")


def test_renewal_link_over_http_by_operator(platform, cards, http):
    from myna.access.roles import Role
    from myna.access.tokens import Tokens

    h = make_holder(platform, cards)
    new = new_card(platform, cards, h.resident_code, h.basic4)
    op = Tokens(platform).create(Role.OPERATOR, "op")
    muni = Tokens(platform).create(Role.MUNICIPALITY, "m", municipality_code=MUNICIPALITY)
    body = {"old_serial": h.sign_hex, "new_serial": new.sign_hex}
    assert http.post("/api/v1/renewals", json=body, headers=bearer(muni)).status_code == 403
    assert http.post("/api/v1/renewals", json={"old_serial": "zz", "new_serial": new.sign_hex}, headers=bearer(op)).status_code == 422
    r = http.post("/api/v1/renewals", json=body, headers=bearer(op))
    assert r.status_code == 201
    assert http.post("/api/v1/renewals", json=body, headers=bearer(op)).status_code == 409


def test_r_ver_4_links_recorded_by_card_management_are_followed(platform, cards, http, enrol):
    """Renewals recorded at the counter (card management's ``certificate_renewals``) serve
    verifiers too, and a second link for the same old certificate is refused."""
    from myna.store.models_card_management import CertificateRenewal

    h = make_holder(platform, cards)
    new = new_card(platform, cards, h.resident_code, h.basic4)
    token = enrol("UA1", "user-auth")
    with platform.db.session() as s:
        s.add(
            CertificateRenewal(
                old_serial=format(h.auth_serial, "040x"),
                new_serial=format(new.auth_serial, "040x"),
                kind="card-auth",
                card_id=h.card_id,
                resident_code=h.resident_code,
                at=platform.clock.now(),
            )
        )
    r = http.get(f"/api/v1/verifier/renewal/auth/{h.auth_hex}", headers=bearer(token))
    assert r.status_code == 200 and r.json()["new_serial"] == new.auth_hex
    with platform.db.session() as s:
        with pytest.raises(Conflict, match="already has"):
            record_renewal(s, h.auth_serial, new.auth_serial, platform.clock.now(), "t")


def test_r_ver_4_renewal_at_the_counter_end_to_end(platform, cards, clock, http, enrol):
    """R-VER-4 end to end: the card's certificates are renewed at the counter through
    ``CardManagement.renew_certificates`` (new keys, the old certificates revoked as
    superseded, the links written by card management). A verifier holding the old serial
    then learns the new one from the renewal endpoint, its status says the old one is
    revoked, basic 4 (with consent) comes from the new certificate, and the corresponding
    serials of the new card certificates are each other; each answer is logged."""
    import json

    from sqlalchemy import select

    from myna.pki import serials
    from myna.store import models_verifiers as mv

    h = make_holder(platform, cards)
    sig, ua, both = enrol("SIG1", "signature"), enrol("UA1", "user-auth"), enrol("BOTH1", "signature-and-user-auth")
    Consents(platform).grant_via_portal(h.resident_code, "SIG1", "portal")
    clock.set(dt.datetime(2030, 4, 1, 3, 0, tzinfo=dt.timezone.utc))  # within three months of the certificates' expiry
    done = build(platform, keygen=cards.keygen).card_management.renew_certificates(h.card_id, "clerk")  # the same key pool as the cards
    got = done["certificates"]
    assert got["card-sign"]["old"] == h.sign_hex and got["card-auth"]["old"] == h.auth_hex
    new_sign, new_auth = got["card-sign"]["new"], got["card-auth"]["new"]
    assert {new_sign, new_auth}.isdisjoint({h.sign_hex, h.auth_hex})

    r = http.get(f"/api/v1/verifier/renewal/sign/{h.sign_hex}", headers=bearer(sig))
    assert r.status_code == 200
    assert r.json() == {"old_serial": h.sign_hex, "renewed": True, "new_serial": new_sign, "chain": [new_sign], "new_status": "good"}
    r = http.get(f"/api/v1/verifier/renewal/auth/{h.auth_hex}", headers=bearer(ua))
    assert r.status_code == 200 and r.json()["new_serial"] == new_auth and r.json()["new_status"] == "good"
    # the old certificate itself: revoked (superseded at the counter)
    r = http.get(f"/api/v1/verifier/status/sign/{h.sign_hex}", headers=bearer(sig))
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    # R-VER-2: asked with the old serial, the latest basic 4 information and serial
    r = http.get(f"/api/v1/verifier/basic4/{h.sign_hex}", headers=bearer(sig))
    assert r.status_code == 200 and r.json()["serial"] == new_sign and r.json()["renewed"] is True
    assert r.json()["basic4"]["name"] == h.basic4.name
    # R-VER-3: the new card SIG and card UA correspond; the old, revoked one gives nothing
    r = http.get(f"/api/v1/verifier/corresponding/sign-auth/{new_sign}", headers=bearer(both))
    assert r.status_code == 200 and r.json()["corresponding"] == [{"serial": new_auth, "kind": "card-auth"}]
    assert http.get(f"/api/v1/verifier/corresponding/sign-auth/{h.sign_hex}", headers=bearer(both)).status_code == 410
    # R-VER-1: a user-auth verifier learns nothing about the signature chain
    assert http.get(f"/api/v1/verifier/renewal/sign/{h.sign_hex}", headers=bearer(ua)).status_code == 403
    with platform.db.session() as s:
        logged = [
            (p.outcome, json.loads(p.detail).get("answered_serial"))
            for p in s.scalars(select(mv.Provision).where(mv.Provision.category == "renewal-sign").order_by(mv.Provision.id))
        ]
    assert logged == [("provided", serials.to_store(serials.parse(new_sign))), ("refused", None)]


def test_r_ver_4_one_successor_per_certificate_across_both_link_tables(platform, cards, clock, http, enrol):
    """A certificate linked first by the verifier services (``record_renewal``) keeps that
    successor when card management renews it at the counter afterwards: card management
    writes no second, different link, so the answer to a verifier never depends on which
    of the two tables is read first."""
    from sqlalchemy import select

    from myna.store.models_card_management import CertificateRenewal

    h = make_holder(platform, cards)
    linked = new_card(platform, cards, h.resident_code, h.basic4)
    with platform.db.session() as s:
        record_renewal(s, h.auth_serial, linked.auth_serial, platform.clock.now(), "operator")
    clock.set(dt.datetime(2030, 4, 1, 3, 0, tzinfo=dt.timezone.utc))
    done = build(platform, keygen=cards.keygen).card_management.renew_certificates(h.card_id, "clerk")
    assert done["certificates"]["card-auth"]["new"] != linked.auth_hex
    with platform.db.session() as s:
        counter_links = {r.old_serial: r.new_serial for r in s.scalars(select(CertificateRenewal))}
    assert format(h.auth_serial, "040x") not in counter_links  # the first link stands
    assert format(h.sign_serial, "040x") in counter_links  # the signature one had none: written
    token = enrol("UA1", "user-auth")
    r = http.get(f"/api/v1/verifier/renewal/auth/{h.auth_hex}", headers=bearer(token))
    assert r.status_code == 200 and r.json()["new_serial"] == linked.auth_hex
