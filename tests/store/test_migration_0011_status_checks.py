"""Migration 0011 adds the status CHECKs to a database with data in it: on SQLite the
tables are rebuilt, including those other tables reference (a card's PINs, its
management record), and every row and reference survives; down and up again."""

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from myna.store.db import Database

NOW = dt.datetime(2026, 4, 1, 3, 0, tzinfo=dt.timezone.utc)


def _card(conn, card_id: str, status: str) -> None:
    conn.execute(
        text(
            "INSERT INTO cards (card_id, resident_code, status, demo, image, image_key_id, created_at, created_by, updated_at)"
            " VALUES (:c, '31000000001', :s, false, :img, 'k1', :now, 'test', :now)"
        ),
        {"c": card_id, "s": status, "img": b"sealed", "now": NOW},
    )


def test_migration_0011_keeps_the_data_and_goes_down_and_up(database_url):
    db = Database(database_url)
    db.upgrade("0010")
    with db.engine.begin() as conn:
        _card(conn, "C1", "active")
        conn.execute(
            text(
                "INSERT INTO card_pins (card_id, pin, verifier, tries_left, max_tries, changed_at) VALUES ('C1', 'auth', 'v', 3, 3, :now)"
            ),
            {"now": NOW},
        )
    db.upgrade()
    with db.engine.begin() as conn:
        assert conn.execute(text("SELECT c.status, p.tries_left FROM cards c JOIN card_pins p ON p.card_id = c.card_id")).all() == [
            ("active", 3)
        ]
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        _card(conn, "C2", "melted")
    db.downgrade("0010")
    with db.engine.begin() as conn:
        _card(conn, "C2", "melted")  # no CHECK before 0011
        conn.execute(text("DELETE FROM cards WHERE card_id = 'C2'"))
    db.upgrade()
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        _card(conn, "C3", "melted")
    with db.engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM card_pins WHERE card_id = 'C1'")).scalar() == 1
    db.dispose()
