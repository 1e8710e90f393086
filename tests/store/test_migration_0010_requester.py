"""Migration 0010 (R-RA-3): card applications recorded before it get the scope of their
sender (a QR application its form, an online or counter one the municipality its audit
event names, the rest J-LIS), and source_ref becomes unique per requester."""

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from myna.store.db import Database, alembic_config

NOW = dt.datetime(2026, 4, 1, 3, 0, tzinfo=dt.timezone.utc)


def _app(
    conn, application_id: str, channel: str, source_ref: str | None, notice_id: str | None = None, requester: str | None = None
) -> None:
    extra, value = (", requester", ", :r") if requester else ("", "")
    conn.execute(
        text(
            f"INSERT INTO card_applications (application_id, channel, source_ref, digest, resident_code, reason, notice_id,"
            f" name, date_of_birth, sex,"
            f" address, status, defects, received_at, received_on, due_on, updated_at{extra})"
            f" VALUES (:a, :c, :s, :d, '31000000001', 'new', :n, 'x', :dob, '1',"
            f" 'y', 'accepted', '[]', :now, :day, :day, :now{value})"
        ),
        {
            "a": application_id,
            "c": channel,
            "s": source_ref,
            "d": "0" * 64,
            "n": notice_id,
            "dob": dt.date(1990, 1, 1),
            "now": NOW,
            "day": NOW.date(),
            "r": requester,
        },
    )


def test_r_ra_3_migration_0010_scopes_existing_applications_by_their_sender(database_url):
    db = Database(database_url)
    cfg = alembic_config(database_url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009")
    with db.engine.begin() as conn:
        _app(conn, "A1", "online", "ref-1")
        _app(conn, "A2", "counter", "ref-2")
        _app(conn, "A3", "qr", "ref-q", notice_id="N00000000000000AB")
        _app(conn, "A4", "paper", "paper:scan-1")
        _app(conn, "A5", "online", "ref-3")  # sent by an operator
        _app(conn, "A6", "online", None)
        for subject, actor in (("A1", "municipality@131016:clerk"), ("A2", "municipality@131041:desk"), ("A5", "operator:op")):
            conn.execute(
                text(
                    "INSERT INTO audit_events (at, actor, action, subject, detail) VALUES (:at, :actor, 'application.received', :s, '{}')"
                ),
                {"at": NOW, "actor": actor, "s": subject},
            )
    db.upgrade()
    with db.engine.begin() as conn:
        got = dict(conn.execute(text("SELECT application_id, requester FROM card_applications")).all())
    assert got == {
        "A1": "municipality:131016",
        "A2": "municipality:131041",
        "A3": "form:N00000000000000AB",
        "A4": "jlis",
        "A5": "jlis",
        "A6": "jlis",
    }
    with db.engine.begin() as conn:  # another requester may use ref-1 now; the same one may not
        _app(conn, "B1", "online", "ref-1", requester="municipality:131041")
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        _app(conn, "B2", "online", "ref-1", requester="municipality:131016")
    db.dispose()
