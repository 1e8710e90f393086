"""Chromium through the counter terminal and the portal's lost-card service:
a clerk reports a birth, takes the application with a photograph, and — once J-LIS has
produced and shipped the card — hands it over while the holder keys in the PIN; then the
holder, having lost it, suspends it on the portal and sees its certificates revoked."""

import pytest
from sqlalchemy import select
from test_ui_counter import CODE
from ui_support import CHIYODA, photo, screenshot

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.pki import serials
from myna.store import models as m
from myna.wiring import build

pytestmark = [pytest.mark.slow, pytest.mark.interop]


def test_clerk_takes_an_application_and_hands_the_card_over_then_the_holder_suspends_it(platform, live_server, page, tmp_path):
    build(platform).registry.ensure_municipality(CHIYODA, "千代田区")
    token = Tokens(platform).create(Role.MUNICIPALITY, "窓口 太郎", CHIYODA)
    page.goto(f"{live_server}/ui/login")
    screenshot(page, "login-ja")
    page.fill("#token", token)
    page.click("button[type=submit]")
    assert page.inner_text("#whoami").endswith("窓口 太郎")
    screenshot(page, "home-ja")
    page.click("#menu-counter")
    assert page.url.endswith("/ui/counter")

    # A birth is reported at the counter.
    page.click("text=異動の届出")
    page.select_option("#type", "birth")
    page.fill("#resident_code", CODE)
    page.fill("#effective_date", "2026-03-30")
    page.fill("#name", "佐藤 みらい")
    page.fill("#date_of_birth", "2026-03-30")
    page.fill("#address", "東京都千代田区千代田1-1")
    page.select_option("#sex", "2")
    screenshot(page, "counter-event-ja")
    page.click("#event-form button[type=submit]")
    assert page.get_attribute("#resident-status", "data-status") == "active"
    assert page.inner_text("#done") == "届出を記録しました：出生"
    screenshot(page, "counter-resident-ja")

    # The application, pre-filled from the record, with a photograph and express for a newborn.
    page.click("#take-application")
    assert page.input_value("#name") == "佐藤 みらい"
    picture = tmp_path / "photo.png"
    picture.write_bytes(photo())
    page.set_input_files("#photo", str(picture))
    page.select_option("#express", "newborn")
    screenshot(page, "counter-application-ja")
    page.click("#application-form button[type=submit]")
    assert page.get_attribute("#receipt-status", "data-status") == "accepted"
    receipt = page.inner_text("#receipt-number")
    screenshot(page, "counter-receipt-ja")

    # J-LIS produces and ships (back-office jobs, not screens).
    build(platform).production.produce("jlis", size=10)
    build(platform).production.ship("jlis")
    (card,) = build(platform).chips.list(resident_code=CODE)

    # Anyone with the receipt number sees it shipped.
    page.goto(f"{live_server}/ui/portal/status?receipt={receipt}")
    assert page.get_attribute("#application-status", "data-status") == "shipped"
    screenshot(page, "portal-status-ja")

    # Handover: the card is listed as arrived; the holder keys in the PIN.
    page.goto(f"{live_server}/ui/counter")
    assert page.is_visible("#pickup-notices")
    screenshot(page, "counter-ja")
    page.click(f'#arrived tr[data-card="{card.card_id}"] a')
    page.select_option("#identity_document", "two-documents")
    page.check("#face_matches_photo")
    page.select_option("#pins_entered_by", "holder")
    page.fill("#auth_pin", "2468")
    page.fill("#auth_pin_again", "2468")
    screenshot(page, "counter-handover-ja")
    page.click("#handover-form button[type=submit]")
    assert page.get_attribute("#card-status", "data-status") == "active"
    assert page.is_visible("#done")

    # Lost: suspended from the portal with the number and date of birth.
    info = build(platform).registry.get(CODE, None)
    page.goto(f"{live_server}/ui/portal/lost?lang=en")
    page.fill("#number", info["number"])
    page.fill("#name", info["name"])
    page.fill("#date_of_birth", info["date_of_birth"])
    page.fill("#address", info["address"])
    screenshot(page, "portal-lost-form-en")
    page.click("#lost-form button[type=submit]")
    assert page.is_visible("#lost-done")
    assert page.get_attribute(f'#suspended-cards li[data-card="{card.card_id}"]', "data-revoked") == "1"  # a newborn: user-auth only
    screenshot(page, "portal-lost-en")
    with platform.db.session() as s:
        assert s.scalar(select(m.Revocation.reason).where(m.Revocation.serial == serials.to_store(card.auth_serial))) == "request"

    # The clerk sees the effect on the card page.
    page.goto(f"{live_server}/ui/counter/cards/{card.card_id}?lang=ja")
    assert page.get_attribute("#card-status", "data-status") == "suspended"
    assert "日本時間" in page.inner_text("#card-history")
    screenshot(page, "counter-card-ja")

    # The console is not for a clerk: the screen says so (403), nothing else is shown.
    response = page.goto(f"{live_server}/ui/console")
    assert response.status == 403 and page.inner_text("#error-message") == "この画面を使う権限がありません。"
    screenshot(page, "error-403-ja")
