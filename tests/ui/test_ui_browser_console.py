"""Chromium through the operations console: an operator signs in, the charts show the
figures the database holds, an outage recorded through the form changes availability."""

import datetime as dt

import pytest
from myna_testing import issue_many_registered, issue_request
from ui_support import card_and_verifier_figures, screenshot

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.authority.revoking import RevocationService
from myna.operations.service import Operations
from myna.pki.revocation import RevocationReason

pytestmark = [pytest.mark.slow, pytest.mark.interop]

# pygal draws each plotted value as a <desc class="value"> beside a <desc class="x_label">,
# inside one <g class="series serie-N"> per series (overlays repeat the group, empty).
_PLOTTED = """els => els.map(g => [...g.querySelectorAll('desc.value')].map(
    d => [(d.parentElement.querySelector('desc.x_label') || {}).textContent || '', d.textContent]))"""


def plotted(page, chart: str) -> list[dict[str, str]]:
    """Per series, in the order the console adds them: x label -> the value in the SVG."""
    return [dict(s) for s in page.eval_on_selector_all(f"#{chart} g.series", _PLOTTED) if s]


def nonzero(series: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in s.items() if v not in ("0", "")} for s in series]


def test_operator_sees_the_store_in_the_console_charts(platform, clock, live_server, page):
    issued = issue_many_registered(
        platform, [issue_request("card-sign") for _ in range(3)] + [issue_request("card-auth") for _ in range(4)], "test"
    )
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
    # The charts' plotted values, read back out of the SVG, series by series.
    sign, auth = "カード署名用", "カード利用者証明用"
    assert plotted(page, "chart-status") == [
        {sign: "4", auth: "6"},
        {sign: "1", auth: "1"},
        {sign: "0", auth: "0"},
    ]  # valid, revoked, expired
    request, change = "失効申請・届出", "住民票の異動"
    assert plotted(page, "chart-revoked") == [{request: "1", change: "0"}, {request: "0", change: "1"}]  # card-sign, card-auth
    # Traffic: this hour (12:00 JST) per centre; OCSP series first, then CRL (osaka, tokyo).
    assert nonzero(plotted(page, "chart-traffic")) == [{"12:00": "900"}, {"12:00": "1500"}, {"12:00": "4"}, {"12:00": "12"}]
    services = ["カード管理システム", "公的個人認証サービス（窓口向け）", "公的個人認証サービス（検証者向け）"]
    assert plotted(page, "chart-availability") == [dict.fromkeys(services, "100")]
    # Applications received on day 0 (1 April), cards shipped on day 3 (4 April).
    assert nonzero(plotted(page, "chart-volumes")) == [{"04-01": "3"}, {"04-04": "2"}]
    assert nonzero(plotted(page, "chart-lead-time")) == [{"3": "2"}, {}]  # both took 3 days, none express
    ua_status = "失効情報 (利用者証明用)"  # the category status-auth, by its Japanese title
    assert plotted(page, "chart-provisions") == [{ua_status: "2"}, {ua_status: "0"}]  # provided, refused
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
    ratio = f"{round(100 * (1 - 1.2 / 84), 3):g}"
    assert plotted(page, "chart-availability") == [{services[0]: "100", services[1]: ratio, services[2]: "100"}]

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
