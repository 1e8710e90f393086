"""Chromium through the operations console: an operator signs in, the charts show the
figures the database holds, an outage recorded through the form changes availability."""

import datetime as dt

import pytest
from myna_testing import issue_request
from ui_support import card_and_verifier_figures, screenshot

from myna.authority.issuance import IssuanceService
from myna.authority.revoking import RevocationService
from myna.authority.tokens import Role, Tokens
from myna.operations.service import Operations
from myna.pki.revocation import RevocationReason

pytestmark = [pytest.mark.slow, pytest.mark.interop]


def test_operator_sees_the_store_in_the_console_charts(platform, clock, live_server, page):
    service = IssuanceService(platform)
    issued = service.issue_many([issue_request("card-sign") for _ in range(3)] + [issue_request("card-auth") for _ in range(4)], "test")
    revoking = RevocationService(platform)
    revoking.revoke(issued[0].serial, RevocationReason.REQUEST, "test")
    revoking.revoke(issued[4].serial, RevocationReason.RESIDENT_CHANGE, "test")
    card_and_verifier_figures(platform, clock)  # 3 applications, 2 shipped on day 3, 2 provisions
    clock.set(dt.datetime(2026, 4, 1, 3, 0, tzinfo=dt.timezone.utc) + dt.timedelta(days=3))
    Operations(platform).report_traffic("tokyo", clock.now(), 1500, 12, 0)
    Operations(platform).report_traffic("osaka", clock.now(), 900, 4, 2)
    token = Tokens(platform).create(Role.OPERATOR, "ops")

    page.goto(f"{live_server}/ui/console")
    assert "/ui/login" in page.url  # sign-in first
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/console")
    assert page.inner_text("h1") == "運用コンソール"

    # The table under each chart and the chart's own plotted values both come from the store.
    assert page.inner_text('#table-status tr[data-kind="card-sign"] td[data-col="revoked"]') == "1"
    # card-auth: 4 issued here (1 revoked), 2 on the produced cards, 1 for the verifier's question
    assert page.inner_text('#table-status tr[data-kind="card-auth"] td[data-col="valid"]') == "6"
    # pygal draws one <rect class="rect reactive ..."> per bar with the value in a <desc class="value">
    status_values = page.eval_on_selector_all("#chart-status desc.value", "els => els.map(e => e.textContent)")
    assert sorted(int(float(v)) for v in status_values if v) == sorted([4, 1, 0, 6, 1, 0])
    traffic = page.eval_on_selector_all("#chart-traffic desc.value", "els => els.map(e => e.textContent)")
    assert "1500" in traffic and "900" in traffic
    assert page.is_visible("#chart-revoked svg") and page.is_visible("#chart-availability svg")
    volumes = page.eval_on_selector_all("#chart-volumes desc.value", "els => els.map(e => e.textContent)")
    assert volumes.count("3") == 1 and volumes.count("2") == 1  # received on day 0, shipped on day 3
    lead = page.eval_on_selector_all("#chart-lead-time desc.value", "els => els.map(e => e.textContent)")
    assert "2" in lead  # both shipped cards took 3 days
    provided = page.eval_on_selector_all("#chart-provisions desc.value", "els => els.map(e => e.textContent)")
    assert "2" in provided
    screenshot(page, "console-ja")

    # An incident recorded through the form lowers the counter service's availability.
    page.select_option("#service", "jpki-counter")
    page.fill("#started_at", "2026-04-01T09:00")
    page.fill("#ended_at", "2026-04-01T10:12")
    page.fill("#cause", "ロードバランサ障害")
    page.click("#outage-form button[type=submit]")
    page.wait_for_selector("#saved")
    # 84 h since the fiscal year began (clock 4 April 12:00 JST), 1.2 h down.
    assert page.inner_text('#table-availability tr[data-service="jpki-counter"] td[data-col="ratio"]') == f"{100 * (1 - 1.2 / 84):.3f} %"
    assert "ロードバランサ障害" in page.inner_text("#table-outages")

    page.click("#lang-switch")
    assert page.inner_text("h1") == "Operations console"
    screenshot(page, "console-en")


def test_outage_form_errors_show_next_to_the_fields(platform, live_server, page):
    token = Tokens(platform).create(Role.OPERATOR, "ops")
    page.goto(f"{live_server}/ui/login?lang=en")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/ui/console")
    page.click("#outage-form button[type=submit]")  # empty form
    for field in ("service", "started_at", "cause"):
        assert page.is_visible(f"#{field}-error"), field
        assert page.get_attribute(f"#{field}", "aria-invalid") == "true"
    assert Operations(platform).outages() == []
    screenshot(page, "console-form-errors")
