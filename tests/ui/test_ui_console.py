"""Screens: sign-in, roles, the operations console's figures and the outage form (R-OPS availability)."""

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from myna_testing import issue_many_registered, issue_request
from ui_support import card_and_verifier_figures

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.authority.revoking import RevocationService
from myna.clock import JST
from myna.operations.service import Operations
from myna.pki.revocation import RevocationReason
from myna.web.app import create_app
from myna.web.ui import i18n


@pytest.fixture
def ui(platform):
    tokens = Tokens(platform)
    client = TestClient(create_app(platform, schedule=False), raise_server_exceptions=False)
    client.tokens = {
        "operator": tokens.create(Role.OPERATOR, "ops"),
        "auditor": tokens.create(Role.AUDITOR, "audit"),
        "clerk": tokens.create(Role.MUNICIPALITY, "clerk", "131016"),
    }
    return client


def sign_in(client, who):
    r = client.post("/ui/login", data={"token": client.tokens[who], "next": "/ui/console"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r


def cell(html: str, table: str, row_attr: str, col: str | None = None) -> str:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    row = body.split(row_attr, 1)[1].split("</tr>", 1)[0]
    if col is None:
        return re.sub(r"<[^>]+>", "", row.split("<td", 1)[1].split(">", 1)[1].split("</td>", 1)[0]).strip()
    return row.split(f'data-col="{col}">', 1)[1].split("<", 1)[0].strip()


def test_console_needs_sign_in_and_redirects_back(ui):
    r = ui.get("/ui/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?next=%2Fui%2Fconsole"


def test_bad_token_is_shown_next_to_the_field_and_sets_no_cookie(ui):
    r = ui.post("/ui/login", data={"token": "nope", "next": "/ui/console"}, headers={"accept-language": "en"})
    assert r.status_code == 401 and 'id="token-error"' in r.text and "This token is not valid." in r.text
    assert "myna_session" not in r.cookies
    r = ui.post("/ui/login", data={"token": "  ", "next": "/ui/console"}, headers={"accept-language": "ja"})
    assert r.status_code == 422 and "トークンを入力してください。" in r.text


def test_sign_in_does_not_redirect_off_site(ui):
    r = ui.post("/ui/login", data={"token": ui.tokens["operator"], "next": "//evil.example/ui/"}, follow_redirects=False)
    assert r.headers["location"] == "/ui/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie


def test_a_clerk_cannot_open_the_console(ui):
    sign_in(ui, "clerk")
    r = ui.get("/ui/console")
    assert r.status_code == 403 and 'id="error-message"' in r.text


def test_console_shows_what_the_store_holds(ui, platform, clock):
    issued = issue_many_registered(platform, [issue_request("card-sign"), issue_request("card-auth"), issue_request("card-auth")], "test")
    RevocationService(platform).revoke(issued[1].serial, RevocationReason.REQUEST, "test")
    Operations(platform).report_traffic("tokyo", clock.now(), 120, 3, 1)
    Operations(platform).report_traffic("osaka", clock.now(), 80, 0, 0)
    sign_in(ui, "auditor")
    html = ui.get("/ui/console", headers={"accept-language": "en"}).text
    assert cell(html, "table-status", 'data-kind="card-auth"', "valid") == "1"
    assert cell(html, "table-status", 'data-kind="card-auth"', "revoked") == "1"
    assert cell(html, "table-status", 'data-kind="card-sign"', "valid") == "1"
    assert cell(html, "table-revoked", 'data-reason="request"') == "1"
    assert cell(html, "table-traffic", 'data-centre="tokyo"', "ocsp") == "120"
    assert cell(html, "table-traffic", 'data-centre="osaka"', "ocsp") == "80"
    day = clock.now().astimezone(JST).date().isoformat()
    assert cell(html, "table-issued", f'data-day="{day}"') == "1"  # card-sign column first
    for chart in ("chart-status", "chart-issued", "chart-revoked", "chart-traffic", "chart-availability"):
        assert f'id="{chart}"' in html and "<svg" in html.split(f'id="{chart}"', 1)[1][:400]
    assert "<script" not in html  # works without JavaScript
    # The auditor sees the figures but gets no outage form.
    assert 'id="outage-form"' not in html


def test_outage_form_errors_sit_next_to_fields_and_record_nothing(ui, platform):
    sign_in(ui, "operator")
    r = ui.post("/ui/console/outages", data={"service": "bogus", "started_at": "yesterday", "cause": ""}, headers={"accept-language": "en"})
    assert r.status_code == 422
    for f in ("service", "started_at", "cause"):
        assert f'id="{f}-error"' in r.text
    assert Operations(platform).outages() == []
    r = ui.post(
        "/ui/console/outages",
        data={"service": "jpki-counter", "started_at": "2026-04-01T10:00", "ended_at": "2026-04-01T09:00", "cause": "x"},
        headers={"accept-language": "en"},
    )
    assert r.status_code == 422 and 'id="form-error"' in r.text and "must end after it starts" in r.text
    assert Operations(platform).outages() == []


def test_availability_follows_the_formula(ui, platform, clock):
    """SPEC §8: (service time − outage time) ÷ service time, planned outages excluded."""
    sign_in(ui, "operator")
    # The fixture clock is 2026-04-01 12:00 JST: the fiscal year began 12 hours ago.
    post = lambda **d: ui.post("/ui/console/outages", data=d, follow_redirects=False)  # noqa: E731
    assert (
        post(
            service="jpki-counter", started_at="2026-04-01T01:00", ended_at="2026-04-01T03:00", planned="1", cause="maintenance"
        ).status_code
        == 303
    )
    assert post(service="jpki-counter", started_at="2026-04-01T02:00", ended_at="2026-04-01T04:00", cause="disk failure").status_code == 303
    html = ui.get("/ui/console?saved=1", headers={"accept-language": "en"}).text
    assert 'id="saved"' in html
    # service time 12 h − 2 h planned = 10 h; outage 1 h (03:00-04:00; 02:00-03:00 was planned)
    assert cell(html, "table-availability", 'data-service="jpki-counter"', "ratio") == "90.000 %"
    assert cell(html, "table-availability", 'data-service="jpki-counter"', "outage") == "1.00 h"
    assert cell(html, "table-availability", 'data-service="card-management"', "ratio") == "100.000 %"


def test_language_switch_and_catalogue_complete(ui):
    for key, (ja, en) in i18n.TEXT.items():
        assert ja and en, key
    sign_in(ui, "operator")
    assert "運用コンソール" in ui.get("/ui/console", headers={"accept-language": "ja"}).text
    r = ui.get("/ui/console?lang=en")
    assert "Operations console" in r.text and "myna_lang=en" in r.headers["set-cookie"]
    assert "Operations console" in ui.get("/ui/console").text  # the cookie keeps the choice


def test_console_card_and_verifier_figures_come_from_the_store(ui, platform, clock):
    """Volumes against capacity (R-CARD-5), lead times (R-CARD-4) and provision counts (R-VER-6)."""
    card_and_verifier_figures(platform, clock)
    sign_in(ui, "operator")
    html = ui.get("/ui/console", headers={"accept-language": "en"}).text
    received_day = (T0_JST := dt.datetime(2026, 4, 1, 12, tzinfo=JST)).date().isoformat()
    shipped_day = (T0_JST + dt.timedelta(days=3)).date().isoformat()
    assert cell(html, "table-volumes", f'data-day="{received_day}"', "received") == "3"
    assert cell(html, "table-volumes", f'data-day="{shipped_day}"', "shipped") == "2"
    assert cell(html, "table-capacity", 'data-row="month"', "count") == "2"
    assert cell(html, "table-lead-monthly", 'data-month="2026-04"', "max") == "3"
    assert cell(html, "table-lead-monthly", 'data-month="2026-04"', "over") == "0"
    assert cell(html, "table-provisions", 'data-category="status-auth"', "provided") == "2"
    for chart in ("chart-volumes", "chart-capacity", "chart-lead-time", "chart-provisions"):
        assert f'id="{chart}"' in html
    # Three days on, the third application (not produced) has 11 of 14 days left: no alert yet.
    assert 'id="no-alerts"' in html
    clock.advance(dt.timedelta(days=10))
    html = ui.get("/ui/console", headers={"accept-language": "en"}).text
    assert cell(html, "table-alerts", "data-application=", "days-left") == "1"
