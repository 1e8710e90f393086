"""`myna cards`: bad input is a clear message and exit 1, nothing half-written."""

from __future__ import annotations

import json

from cm_support import photo
from typer.testing import CliRunner

from myna.cli import app


def run(*args: str):
    return CliRunner().invoke(app, ["cards", *args], catch_exceptions=False)


def test_cli_paper_import_status_and_refusals(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("MYNA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MYNA_DATABASE_URL", database_url)
    (tmp_path / "p1.png").write_bytes(photo())
    line = {"form_id": "scan-1", "resident_code": "60000000001", "name": "田中 一", "date_of_birth": "1980-01-01", "sex": "1", "address": "東京都", "photo_file": "p1.png"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(line, ensure_ascii=False) + "\n" + json.dumps({**line, "form_id": "scan-2", "photo_file": "../../etc/passwd"}) + "\n[1]\n", encoding="utf-8")
    r = run("import-paper", str(bad))
    assert r.exit_code == 1
    assert "2 bad lines of 3 forms; nothing was imported" in r.output and "line 2: photo_file must lie beside the import file" in r.output and "line 3: not a JSON object" in r.output
    assert run("import-paper", str(tmp_path / "missing.jsonl")).exit_code == 1
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    r = run("import-paper", str(good))
    assert r.exit_code == 0 and "1 forms: 1 new, 0 accepted, 1 defective" in r.output  # not on the register
    assert "0 new" in run("import-paper", str(good)).output  # the same scan again
    r = run("status", "AFFFFFFFFFFFFFFFF")
    assert r.exit_code == 1 and "no application with receipt number" in r.output
    assert run("lead-time", "--by", "month").exit_code == 0
    assert run("ship").output.strip() == "nothing to ship"
