"""R-VER-6: every provision is logged, and the annual report's counts equal the log's."""

from __future__ import annotations

import datetime as dt
import subprocess

from myna_testing import require_tool
from sqlalchemy import func, select
from ver_support import bearer, make_holder

from myna.authority.crls import CrlService
from myna.store import models_verifiers as mv
from myna.verifiers.consent import Consents
from myna.verifiers.report import provision_report


def _traffic(platform, http, enrol, clock):
    h = make_holder(platform, cards_of(platform))
    CrlService(platform).publish_all()
    sig, ua = enrol("SIG1", "signature"), enrol("UA1", "user-auth")
    calls = [
        (sig, f"/api/v1/verifier/status/sign/{h.sign_hex}"),
        (sig, f"/api/v1/verifier/status/sign/{h.sign_hex}"),
        (sig, f"/api/v1/verifier/basic4/{h.sign_hex}"),  # refused: no consent
        (ua, f"/api/v1/verifier/status/auth/{h.auth_hex}"),
        (ua, f"/api/v1/verifier/basic4/{h.sign_hex}"),  # refused: not entitled
        (ua, "/api/v1/verifier/revocation-files/card-auth.crl"),
        (sig, f"/api/v1/verifier/renewal/sign/{h.sign_hex}"),
    ]
    for token, url in calls:
        http.get(url, headers=bearer(token))
    Consents(platform).grant_via_portal(h.resident_code, "SIG1", "portal")
    assert http.get(f"/api/v1/verifier/basic4/{h.sign_hex}", headers=bearer(sig)).status_code == 200
    clock.advance(dt.timedelta(days=300))  # 2027 in JST: outside the 2026 report
    http.get(f"/api/v1/verifier/status/auth/{h.auth_hex}", headers=bearer(ua))
    return h


def cards_of(platform):
    from ver_support import card_service

    return card_service(platform)


def test_r_ver_6_report_counts_equal_the_provision_log(platform, http, enrol, clock):
    _traffic(platform, http, enrol, clock)
    report = provision_report(platform, 2026)
    start, end = dt.datetime(2025, 12, 31, 15, tzinfo=dt.timezone.utc), dt.datetime(2026, 12, 31, 15, tzinfo=dt.timezone.utc)
    with platform.db.session() as s:
        logged = dict(
            ((c, o), n)
            for c, o, n in s.execute(
                select(mv.Provision.category, mv.Provision.outcome, func.count())
                .where(mv.Provision.at >= start, mv.Provision.at < end)
                .group_by(mv.Provision.category, mv.Provision.outcome)
            )
        )
        total_rows = s.scalar(select(func.count()).select_from(mv.Provision))
    for row in report.rows:
        assert row.provided == logged.get((row.category.value, "provided"), 0)
        assert row.refused == logged.get((row.category.value, "refused"), 0)
    assert report.total_provided + report.total_refused == sum(logged.values()) == total_rows - 1  # one in 2027
    # what the traffic was, counted by hand
    by = {r.category.value: (r.provided, r.refused) for r in report.rows}
    assert by["status-sign"] == (2, 0) and by["status-auth"] == (1, 0) and by["file-auth"] == (1, 0)
    assert by["basic4"] == (1, 2) and by["renewal-sign"] == (1, 0)
    assert provision_report(platform, 2027).total_provided == 1

    csv_lines = report.csv().splitlines()
    assert csv_lines[0].startswith("year,category,title,rule,provided,refused")
    total = [line for line in csv_lines if ",total," in line][0].split(",")
    assert int(total[4]) == report.total_provided == 6 and int(total[5]) == report.total_refused == 2


def test_r_ver_6_cli_writes_csv_and_pdf(platform, http, enrol, clock, tmp_path, settings, monkeypatch):
    from typer.testing import CliRunner

    from myna.cli import app

    _traffic(platform, http, enrol, clock)
    monkeypatch.setenv("MYNA_HOME", str(settings.home))
    monkeypatch.setenv("MYNA_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(app, ["report", "provision", "--year", "2026", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    csv_text = (tmp_path / "out" / "provision-2026.csv").read_text(encoding="utf-8")
    assert csv_text == provision_report(platform, 2026).csv()
    pdf = tmp_path / "out" / "provision-2026.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    pdftotext = require_tool("pdftotext", "poppler-utils")
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "検証者への情報提供の状況" in text and "特定署名用電子証明書記録情報" in text
    assert "合計" in text
    bad = CliRunner().invoke(app, ["report", "provision", "--year", "1066", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "year must be" in bad.output
