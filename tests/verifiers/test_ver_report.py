"""R-VER-6: every provision is logged, and the annual report's counts equal the log's."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess

from myna_testing import require_tool
from sqlalchemy import func, select
from ver_support import bearer, make_holder

from myna.authority.crls import CrlService
from myna.operations.service import Operations
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
        (sig, f"/api/v1/verifier/status/wizard/{h.sign_hex}"),  # refused: unknown purpose, logged as unrecognised
    ]
    for token, url in calls:
        http.get(url, headers=bearer(token))
    # a validity centre's own counts: reported per centre, never part of the log's totals
    Operations(platform).report_traffic("tokyo", clock.now(), 100, 3, 1)
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
    assert report.unrecognised == logged[("unrecognised", "refused")] == 1
    assert provision_report(platform, 2027).total_provided == 1
    # the centre's 100 OCSP answers are a line of their own, not in the log's totals
    assert report.centre_ocsp == 100 and report.total_provided == 6

    csv_lines = report.csv().splitlines()
    assert csv_lines[0].startswith("year,category,title,rule,provided,refused")
    total = [line for line in csv_lines if ",total," in line][0].split(",")
    assert int(total[4]) == report.total_provided == 6 and int(total[5]) == report.total_refused == 3


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
    assert "センター別集計、検証者別ではない" in text and "tokyo" in text  # the centres' counts, labelled
    bad = CliRunner().invoke(app, ["report", "provision", "--year", "1066", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "year must be" in bad.output


def test_r_ver_6_refusals_for_an_unknown_purpose_pair_or_ca_are_logged(platform, http, enrol):
    """R-VER-6: a request naming no known category is refused (404) and logged like any
    refusal (category ``unrecognised``, with what was asked); the report counts it."""
    h = make_holder(platform, cards_of(platform))
    sig = enrol("SIG1", "signature")
    asks = [
        (f"/api/v1/verifier/status/wizard/{h.sign_hex}", "status", "wizard"),
        (f"/api/v1/verifier/renewal/both/{h.sign_hex}", "renewal", "both"),
        (f"/api/v1/verifier/corresponding/sign-sign/{h.sign_hex}", "corresponding", "sign-sign"),
        ("/api/v1/verifier/revocation-files/nope.crl", "revocation-file", "nope"),
        ("/api/v1/verifier/revocation-files/root.crl", "revocation-file", "root"),
    ]
    for url, _request, _asked in asks:
        r = http.get(url, headers=bearer(sig))
        assert r.status_code == 404, (url, r.text)
    with platform.db.session() as s:
        rows = list(s.scalars(select(mv.Provision).order_by(mv.Provision.id)))
    assert [(r.category, r.outcome) for r in rows] == [("unrecognised", "refused")] * len(asks)
    details = [json.loads(r.detail) for r in rows]
    assert [(d["request"], d["asked"]) for d in details] == [(req, asked) for _u, req, asked in asks]
    assert {d["error"] for d in details} <= {"not-found", "unknown-ca"} and all(d["via"] == "token" for d in details)
    assert rows[0].serial == format(h.sign_serial, "040x") and rows[3].serial is None
    report = provision_report(platform, 2026)
    assert report.unrecognised == len(asks) == report.total_refused and report.total_provided == 0
    line = [x for x in csv.reader(io.StringIO(report.csv())) if x[1] == "unrecognised"][0]
    assert line[4:6] == ["0", str(len(asks))]


def test_r_ver_6_centre_traffic_is_reported_per_centre_not_per_verifier(platform, clock):
    """R-VER-6: revocation status the validity centres give is accounted from their
    per-minute traffic counts: one line per centre and a sum, in the JST year, labelled as
    counted per centre (per-verifier columns empty), outside the provision log's totals."""
    ops = Operations(platform)
    jst_new_year = dt.datetime(2025, 12, 31, 15, tzinfo=dt.timezone.utc)
    ops.report_traffic("tokyo", jst_new_year - dt.timedelta(minutes=1), 1000, 1000, 1000)  # 2025 in JST
    ops.report_traffic("tokyo", jst_new_year, 70, 2, 1)  # first minute of 2026 in JST
    ops.report_traffic("tokyo", clock.now(), 30, 1, 0)
    ops.report_traffic("osaka", clock.now(), 5, 0, 2)
    # A centre reports a minute once it has passed (the service refuses future minutes):
    # the clock moves into 2027 for that report, then back.
    today = clock.now()
    first_minute_2027 = dt.datetime(2026, 12, 31, 15, tzinfo=dt.timezone.utc)  # 2027 in JST
    clock.set(first_minute_2027 + dt.timedelta(minutes=1))
    ops.report_traffic("osaka", first_minute_2027, 999, 999, 999)
    clock.set(today)
    report = provision_report(platform, 2026)
    assert [(c.centre, c.ocsp, c.crl, c.errors) for c in report.centres] == [("osaka", 5, 0, 2), ("tokyo", 100, 3, 1)]
    assert (report.centre_ocsp, report.centre_crl, report.centre_errors) == (105, 3, 3)
    assert report.total_provided == report.total_refused == 0  # not in the provision log's totals
    lines = {x[1]: x for x in csv.reader(io.StringIO(report.csv()))}
    assert lines["centre-ocsp"][4:6] == ["105", "3"] and lines["centre-ocsp:tokyo"][4:6] == ["100", "1"]
    assert lines["centre-crl"][4] == "3" and lines["centre-crl:osaka"][4] == "0"
    assert "counted per centre, not per verifier" in lines["centre-ocsp"][2]
    assert all(cell == "" for cell in lines["centre-ocsp"][6:])  # no per-verifier-type counts
    assert lines["total"][4:6] == ["0", "0"]
    assert provision_report(platform, 2025).centre_ocsp == 1000 and provision_report(platform, 2027).centre_ocsp == 999


def test_r_ver_6_year_end_count_excludes_verifiers_terminated_before_the_year_end(platform, clock):
    """The report's registered verifiers at the year end: a verifier terminated during the
    year is not counted; one terminated after the year end, or only suspended, is."""
    from myna.verifiers.registry import VerifierRegistry

    reg = VerifierRegistry(platform)
    for code in ("SIG1", "SIG2", "SIG3", "SIG4"):
        reg.register(code, f"{code} Co.", "signature", "t")
    reg.register("UA1", "UA Co.", "user-auth", "t")
    reg.set_status("SIG1", "terminated", "t")  # 2026
    reg.set_status("SIG2", "suspended", "t")
    reg.set_status("UA1", "terminated", "t")
    clock.set(dt.datetime(2026, 12, 31, 14, 59, tzinfo=dt.timezone.utc))  # last minute of 2026 in JST
    reg.set_status("SIG3", "terminated", "t")
    clock.set(dt.datetime(2026, 12, 31, 15, 0, tzinfo=dt.timezone.utc))  # 2027 in JST
    reg.set_status("SIG4", "terminated", "t")
    reg.register("SIG5", "SIG5 Co.", "signature", "t")
    assert reg.get("SIG1").status.value == "terminated"
    assert provision_report(platform, 2026).verifiers == {"signature": 2}  # SIG2 (suspended) and SIG4
    assert provision_report(platform, 2027).verifiers == {"signature": 2}  # SIG2 and SIG5
    assert provision_report(platform, 2025).verifiers == {}


def test_terminated_at_is_filled_in_for_verifiers_terminated_before_the_migration(database_url):
    """Migration 0008 backfills ``terminated_at`` from ``updated_at`` for rows already
    terminated (their rows never change after termination)."""
    from alembic import command
    from sqlalchemy import text

    from myna.store.db import Database, alembic_config

    db = Database(database_url)
    try:
        cfg = alembic_config(database_url)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0007")
        ended = dt.datetime(2026, 5, 1, 3, 0, tzinfo=dt.timezone.utc)
        with db.engine.begin() as conn:
            for vid, code, status, updated in ((1, "OLD1", "terminated", ended), (2, "OLD2", "active", ended + dt.timedelta(days=1))):
                conn.execute(
                    text(
                        "INSERT INTO verifiers (id, code, name, type, status, registered_at, updated_at) "
                        "VALUES (:id, :code, 'x', 'signature', :status, :reg, :upd)"
                    ),
                    {"id": vid, "code": code, "status": status, "reg": ended - dt.timedelta(days=30), "upd": updated},
                )
        db.upgrade()
        with db.session() as s:
            got = {v.code: v.terminated_at for v in s.scalars(select(mv.Verifier))}
        assert got == {"OLD1": ended, "OLD2": None}
    finally:
        db.dispose()
