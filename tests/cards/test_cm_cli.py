"""`myna cards`: bad input is a clear message and exit 1, nothing half-written; the
lead-time report; and the by-hand `myna chip create` / `reset-pin` kept to demo and test
cards, or to the counter with the holder present (R-CARD-2, R-CARD-6)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cm_support import CHIYODA, moved_in, photo
from myna_testing import table_counts
from sqlalchemy import select
from typer.testing import CliRunner

from myna.cards.applications import ApplicationIn, Applications
from myna.cards.handover import Handover
from myna.chip.chips import CardPins
from myna.cli import app
from myna.store import models as m
from myna.store.models_cards import CardPin
from myna.wiring import build


def run(*args: str):
    return CliRunner().invoke(app, ["cards", *args], catch_exceptions=False)


def test_cli_paper_import_status_and_refusals(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("MYNA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MYNA_DATABASE_URL", database_url)
    (tmp_path / "p1.png").write_bytes(photo())
    line = {
        "form_id": "scan-1",
        "resident_code": "60000000001",
        "name": "田中 一",
        "date_of_birth": "1980-01-01",
        "sex": "1",
        "address": "東京都",
        "photo_file": "p1.png",
    }
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(line, ensure_ascii=False)
        + "\n"
        + json.dumps({**line, "form_id": "scan-2", "photo_file": "../../etc/passwd"})
        + "\n[1]\n",
        encoding="utf-8",
    )
    r = run("import-paper", str(bad))
    assert r.exit_code == 1
    assert (
        "2 bad lines of 3 forms; nothing was imported" in r.output
        and "line 2: photo_file must lie beside the import file" in r.output
        and "line 3: not a JSON object" in r.output
    )
    assert run("import-paper", str(tmp_path / "missing.jsonl")).exit_code == 1
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    r = run("import-paper", str(good))
    assert r.exit_code == 0 and "1 forms: 1 new, 0 accepted, 1 defective" in r.output  # not on the register
    assert "0 new" in run("import-paper", str(good)).output  # the same scan again
    r = run("status", "AFFFFFFFFFFFFFFFF")
    assert r.exit_code == 1 and "no application with receipt number" in r.output
    r = run("lead-time", "--by", "month")
    assert r.exit_code == 0 and json.loads(r.output) == []  # nothing shipped yet
    assert run("ship").output.strip() == "nothing to ship"


@pytest.fixture
def same_store(platform, settings, monkeypatch):
    """The CLI on the ``platform`` fixture's store and home (the same CA and card-image key)."""
    monkeypatch.setenv("MYNA_HOME", str(settings.home))
    monkeypatch.setenv("MYNA_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("MYNA_CARD_IMAGE_KEY", raising=False)
    return platform


def cli(*args: str, code: int = 0):
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    return r


def audit_trail(platform, subject: str) -> list[tuple[str, dict]]:
    with platform.db.session() as s:
        rows = s.scalars(select(m.AuditEvent).where(m.AuditEvent.subject == subject).order_by(m.AuditEvent.id))
        return [(e.action, json.loads(e.detail)) for e in rows]


def shipped_card(platform, keygen, code: str = "60000000011", days: int = 3) -> tuple[str, str]:
    moved_in(platform, code, "田中 一", dt.date(1980, 1, 1), dt.date(2026, 3, 1))
    r = Applications(platform).submit(
        ApplicationIn(code, "田中 一", dt.date(1980, 1, 1), "1", "東京都千代田区千代田2-2", photo()), "online", "clerk"
    )
    build(platform, keygen=keygen).production.produce("factory")
    platform.clock.advance(dt.timedelta(days=days))
    build(platform, keygen=keygen).production.ship("factory")
    return r.application_id, Applications(platform).get(r.application_id)["card_id"]


def test_r_card_4_cli_lead_time_reports_max_mean_and_deadline_misses(same_store, keygen):
    platform = same_store
    shipped_card(platform, keygen, days=3)
    by_month = json.loads(cli("cards", "lead-time", "--by", "month").output)
    assert by_month == [{"period": "2026-04", "shipped": 1, "max_days": 3, "mean_days": 3.0, "over_deadline": 0}]
    by_day = json.loads(cli("cards", "lead-time").output)
    assert by_day == [{"period": "2026-04-04", "shipped": 1, "max_days": 3, "mean_days": 3.0, "over_deadline": 0}]


def test_card_create_by_hand_is_demo_only_and_refused_for_a_resident_in_card_management(same_store, keygen):
    """`myna chip create` makes an active card with operator-chosen PINs, skipping the
    application (R-CARD-2) and the handover (R-CARD-6): refused while card management
    looks after the resident, and recorded as made by hand for a demo or test."""
    platform = same_store
    moved_in(platform, "60000000021", "田中 二", dt.date(1980, 1, 1), dt.date(2026, 3, 1))
    Applications(platform).submit(
        ApplicationIn("60000000021", "田中 二", dt.date(1980, 1, 1), "1", "東京都千代田区千代田2-2", photo()), "online", "clerk"
    )
    before = table_counts(platform)
    r = cli("chip", "create", "60000000021", "--auth-pin", "1234", "--sign-pin", "ABC123", code=1)
    assert "is in card management (application A" in r.output and "skip the application and the handover" in r.output
    assert table_counts(platform) == before
    build(platform, keygen=keygen).production.produce("factory")
    build(platform, keygen=keygen).production.ship("factory")  # the application is done; its card stands in (shipped)
    r = cli("chip", "create", "60000000021", "--auth-pin", "1234", code=1)
    assert "was issued through card management" in r.output
    assert [c.status for c in build(platform).chips.list(resident_code="60000000021")] == ["shipped"]  # no card by hand beside it

    moved_in(platform, "60000000022", "田中 三", dt.date(1980, 1, 1), dt.date(2026, 3, 1))
    r = cli("chip", "create", "60000000022", "--auth-pin", "2580", "--sign-pin", "MYNA2026")
    made = json.loads(r.stdout)
    assert made["status"] == "active" and "made by hand for a demo or test" in r.output
    actions = audit_trail(platform, made["card_id"])
    assert [a for a, _ in actions] == ["card.manufactured", "card.issued", "card.created-by-hand"]
    assert actions[-1][1] == {"purpose": "demo/test", "application": None, "handover": None, "pins_set_by": "operator"}


def test_reset_pin_of_a_managed_card_needs_the_holder_present_a_document_and_a_reason(same_store, keygen):
    """R-CARD-6: a card card management handed over has its PINs reset only at the counter
    with the holder present; who, why and the document seen are recorded before the PIN is
    touched. A card not yet handed over is refused: its holder sets the PINs at handover."""
    platform = same_store
    _, card_id = shipped_card(platform, keygen)
    full = ("--holder-present", "--identity-document", "passport", "--reason", "forgotten")
    before = table_counts(platform)
    r = cli("chip", "reset-pin", card_id, "--which", "auth", "--new-pin", "4321", *full, code=1)
    assert "set by the holder at handover" in r.output
    assert table_counts(platform) == before

    build(platform).counter.hand_over(card_id, Handover("passport", True, CardPins("1234", "ABC123"), "holder"), "clerk", CHIYODA)
    before = table_counts(platform)
    for args, text in (
        ((), "only with the holder present (--holder-present)"),
        (("--holder-present",), "give --identity-document and --reason"),
        (("--holder-present", "--identity-document", "passport"), "give --reason"),
        (("--holder-present", "--identity-document", "library-card", "--reason", "forgotten"), "identity document must be one of"),
        ((*full, "--municipality", "131041"), "no such card at municipality 131041"),
    ):
        r = cli("chip", "reset-pin", card_id, "--which", "auth", "--new-pin", "4321", *args, code=1)
        assert text in r.output, (args, r.output)
    assert table_counts(platform) == before  # refused: nothing recorded, the PIN untouched

    with platform.db.session() as s:
        old = s.get(CardPin, (card_id, "auth")).verifier
    r = cli("chip", "reset-pin", card_id[:8], "--which", "auth", "--new-pin", "4321", *full, "--municipality", CHIYODA)
    assert "auth PIN reset; 3 tries" in r.output and "not managed" not in r.output
    hasher = build(platform).chips.hasher
    with platform.db.session() as s:
        new = s.get(CardPin, (card_id, "auth")).verifier
    assert new != old and hasher.matches(new, b"4321") and not hasher.matches(new, b"1234")
    trail = audit_trail(platform, card_id)
    assert [a for a, _ in trail[-2:]] == ["card.pin.reset-authorised", "card.pin.reset"]
    assert trail[-2][1] == {
        "pin": "auth",
        "operation": "reset",
        "holder_present": True,
        "identity_document": "passport",
        "reason": "forgotten",
        "municipality_code": CHIYODA,
        "managed": True,
    }
    with platform.db.session() as s:
        who = s.scalars(select(m.AuditEvent.actor).where(m.AuditEvent.subject == card_id).order_by(m.AuditEvent.id.desc()).limit(2)).all()
    assert len(set(who)) == 1 and who[0].startswith("cli:")
    r = cli(
        "chip",
        "reset-pin",
        card_id,
        "--which",
        "sign",
        "--unblock-only",
        "--holder-present",
        "--identity-document",
        "residence-card",
        "--reason",
        "blocked after 5 tries",
    )
    assert "sign PIN unblocked" in r.output
    assert [(a, d.get("operation")) for a, d in audit_trail(platform, card_id)[-2:]] == [
        ("card.pin.reset-authorised", "unblock"),
        ("card.pin.unblocked", None),
    ]
