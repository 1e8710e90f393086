"""`myna card` without PC/SC: listing, producing, the counter flow, clear errors."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from myna.cli import app


@pytest.fixture
def cli(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("MYNA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MYNA_DATABASE_URL", database_url)
    monkeypatch.setenv("MYNA_PUBLIC_URL", "http://127.0.0.1:8123")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    run("init")
    return run


def test_demo_gives_every_resident_a_card_and_list_shows_demo_pins(cli):
    cli("demo", "--residents", "2")
    cli("demo", "--residents", "2")  # idempotent
    listed = json.loads(cli("card", "list", "--json").stdout)
    assert len(listed) == 2
    for c in listed:
        assert c["status"] == "active" and c["holder"] and c["demo"] is True and c["reader"] is None
        assert c["demo_pins"] == {"auth": "1234", "sign": "ABC123", "face": "1234"}
        assert {k: v["tries_left"] for k, v in c["pins"].items()} == {"auth": 3, "sign": 5, "face": 3}
    certs = json.loads(cli("cert", "list", "--json").stdout)
    assert sorted(c["serial"] for c in certs) == sorted(s for c in listed for s in c["certificates"].values())
    table = cli("card", "list").stdout
    assert listed[0]["card_id"] in table and "1234/ABC123/1234" in table
    shown = json.loads(cli("card", "show", listed[0]["card_id"][:8]).stdout)
    assert shown["card_id"] == listed[0]["card_id"]


def test_a_produced_card_has_no_demo_pins_and_the_counter_resets_its_pins(cli):
    cli("demo", "--residents", "1")
    resident = json.loads(cli("card", "list", "--json").stdout)[0]["resident_code"]
    made = json.loads(cli("card", "create", resident, "--auth-pin", "2580", "--sign-pin", "MYNA2026").stdout)
    assert made["demo"] is False and "demo_pins" not in made
    listed = {c["card_id"]: c for c in json.loads(cli("card", "list", "--json").stdout)}
    assert "demo_pins" not in listed[made["card_id"]]
    out = cli("card", "reset-pin", made["card_id"], "--which", "sign", "--new-pin", "NEWSIGN1").stdout
    assert "sign PIN reset" in out and "5 tries" in out
    assert "auth PIN unblocked" in cli("card", "reset-pin", made["card_id"], "--which", "auth", "--unblock-only").stdout
    from myna.authority.platform import Platform
    from myna.store import models as m

    p = Platform.open()
    with p.db.session() as s:
        actions = list(s.scalars(select(m.AuditEvent.action).where(m.AuditEvent.subject == made["card_id"])))
    p.close()
    assert actions[-2:] == ["card.pin.reset", "card.pin.unblocked"]


@pytest.mark.parametrize(
    "args,code,text",
    [
        (("card", "show", "nothex"), 1, "16 characters"),
        (("card", "show", "0000000000000000"), 1, "no card"),
        (("card", "reset-pin", "0000000000000000", "--which", "auth"), 2, "exactly one"),
        (("card", "reset-pin", "0000000000000000", "--which", "auth", "--new-pin", "1", "--unblock-only"), 2, "exactly one"),
        (("card", "reset-pin", "0000000000000000", "--which", "pin", "--unblock-only"), 2, "pin"),
        (("card", "create", "99999999999", "--auth-pin", "1234"), 1, "not on the resident register"),
        (("card", "create", "123", "--auth-pin", "1234"), 1, "11 digits"),
        (("card", "remove", "--reader", "5"), 1, "no card in reader 5"),
    ],
)
def test_bad_input_gives_one_clear_error(cli, args, code, text):
    result = cli(*args, code=code)
    assert text in result.output
    assert "Traceback" not in result.output


def test_pin_format_errors_are_clear(cli):
    cli("demo", "--residents", "1")
    card_id = json.loads(cli("card", "list", "--json").stdout)[0]["card_id"]
    assert "4 digits" in cli("card", "reset-pin", card_id, "--which", "auth", "--new-pin", "12a4", code=1).output
    assert "A-Z and 0-9" in cli("card", "reset-pin", card_id, "--which", "sign", "--new-pin", "abc123", code=1).output
