"""`myna chip` without PC/SC: listing, producing, the counter flow, clear errors; and its old name `myna card`."""

from __future__ import annotations

import json
import re

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
    listed = json.loads(cli("chip", "list", "--json").stdout)
    assert len(listed) == 2
    for c in listed:
        assert c["status"] == "active" and c["holder"] and c["demo"] is True and c["reader"] is None
        assert c["demo_pins"] == {"auth": "1234", "sign": "ABC123", "face": "1234"}
        assert {k: v["tries_left"] for k, v in c["pins"].items()} == {"auth": 3, "sign": 5, "face": 3}
    certs = json.loads(cli("cert", "list", "--json").stdout)
    assert sorted(c["serial"] for c in certs) == sorted(s for c in listed for s in c["certificates"].values())
    table = cli("chip", "list").stdout
    assert listed[0]["card_id"] in table and "1234/ABC123/1234" in table
    shown = json.loads(cli("chip", "show", listed[0]["card_id"][:8]).stdout)
    assert shown["card_id"] == listed[0]["card_id"]


def test_a_produced_card_has_no_demo_pins_and_the_counter_resets_its_pins(cli):
    cli("demo", "--residents", "1")
    resident = json.loads(cli("chip", "list", "--json").stdout)[0]["resident_code"]
    made = json.loads(cli("chip", "create", resident, "--auth-pin", "2580", "--sign-pin", "MYNA2026").stdout)
    assert made["demo"] is False and "demo_pins" not in made
    listed = {c["card_id"]: c for c in json.loads(cli("chip", "list", "--json").stdout)}
    assert "demo_pins" not in listed[made["card_id"]]
    out = cli("chip", "reset-pin", made["card_id"], "--which", "sign", "--new-pin", "NEWSIGN1").stdout
    assert "sign PIN reset" in out and "5 tries" in out
    assert "auth PIN unblocked" in cli("chip", "reset-pin", made["card_id"], "--which", "auth", "--unblock-only").stdout
    from myna.authority.platform import Platform
    from myna.store import models as m

    p = Platform.open()
    with p.db.session() as s:
        actions = list(s.scalars(select(m.AuditEvent.action).where(m.AuditEvent.subject == made["card_id"])))
    p.close()
    assert actions[-2:] == ["card.pin.reset", "card.pin.unblocked"]


def test_the_old_name_card_still_works_says_it_is_chip_and_is_hidden(cli):
    """`myna card` was the chip's group, one letter from `myna cards` (card management):
    it runs the same commands, with one line on stderr naming `myna chip`."""
    cli("demo", "--residents", "1")
    runner = CliRunner()
    old = runner.invoke(app, ["card", "list", "--json"], catch_exceptions=False)
    assert old.exit_code == 0, old.output
    assert old.stderr.strip().splitlines() == ["`myna card` is now `myna chip`; the old name will go away"]
    assert json.loads(old.stdout) == json.loads(cli("chip", "list", "--json").stdout)
    assert "now `myna chip`" not in cli("chip", "list").stderr
    refused = runner.invoke(app, ["card", "show", "0000000000000000"])
    assert refused.exit_code == 1 and "now `myna chip`" in refused.stderr and "no card" in refused.stderr
    listed = re.findall(r"^\W+([a-z-]+)\s{2,}\S", cli("--help").stdout, re.MULTILINE)  # the names in the Commands panel
    assert {"chip", "cards"} <= set(listed) and "card" not in listed


@pytest.mark.parametrize(
    "args,code,text",
    [
        (("chip", "show", "nothex"), 1, "16 characters"),
        (("chip", "show", "0000000000000000"), 1, "no card"),
        (("chip", "reset-pin", "0000000000000000", "--which", "auth"), 2, "exactly one"),
        (("chip", "reset-pin", "0000000000000000", "--which", "auth", "--new-pin", "1", "--unblock-only"), 2, "exactly one"),
        (("chip", "reset-pin", "0000000000000000", "--which", "pin", "--unblock-only"), 2, "pin"),
        (("chip", "create", "99999999999", "--auth-pin", "1234"), 1, "not on the resident register"),
        (("chip", "create", "123", "--auth-pin", "1234"), 1, "11 digits"),
        (("chip", "remove", "--reader", "5"), 1, "no card in reader 5"),
    ],
)
def test_bad_input_gives_one_clear_error(cli, args, code, text):
    result = cli(*args, code=code)
    assert text in result.output
    assert "Traceback" not in result.output


def test_pin_format_errors_are_clear(cli):
    cli("demo", "--residents", "1")
    card_id = json.loads(cli("chip", "list", "--json").stdout)[0]["card_id"]
    assert "4 digits" in cli("chip", "reset-pin", card_id, "--which", "auth", "--new-pin", "12a4", code=1).output
    assert "A-Z and 0-9" in cli("chip", "reset-pin", card_id, "--which", "sign", "--new-pin", "abc123", code=1).output
