"""Every status column holds one of its enum's values: a CHECK on each (SQLite and
PostgreSQL, created by migration 0011), with the same values as the Python enum next to
the rules that use it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import CheckConstraint, inspect
from sqlalchemy import types as sat
from sqlalchemy.exc import IntegrityError

from myna.cards.application_status import ApplicationStatus, BatchStatus
from myna.cards.card_status import CardStatus
from myna.mobile.application_status import MobileApplicationStatus
from myna.pki.revocation import RevocationReason
from myna.residents.events import Status as ResidentStatus
from myna.store.db import Database
from myna.store.feed_events import FeedEventKind
from myna.store.models import Base
from myna.verifiers.registry import Status as VerifierStatus

NOW = dt.datetime(2026, 4, 1, 3, 0, tzinfo=dt.timezone.utc)
ENUMS = {
    "ck_residents_status": ResidentStatus,
    "ck_revocations_reason": RevocationReason,
    "ck_status_feed_event": FeedEventKind,
    "ck_status_feed_reason": RevocationReason,
    "ck_cards_status": CardStatus,
    "ck_card_applications_status": ApplicationStatus,
    "ck_production_batches_status": BatchStatus,
    "ck_card_status_changes_from_status": CardStatus,
    "ck_card_status_changes_to_status": CardStatus,
    "ck_verifiers_status": VerifierStatus,
    "ck_mobile_applications_status": MobileApplicationStatus,
}


def _checks() -> dict[str, tuple[str, str, set[str]]]:
    """constraint name -> (table, column, allowed values), from the models."""
    out = {}
    for table in Base.metadata.sorted_tables:
        for c in table.constraints:
            if isinstance(c, CheckConstraint) and c.name in ENUMS:
                column, values = re.fullmatch(r"(\w+) IN \((.*)\)", str(c.sqltext)).groups()
                out[c.name] = (table.name, column, set(re.findall(r"'([^']*)'", values)))
    return out


def test_each_status_check_allows_exactly_its_enums_values():
    checks = _checks()
    assert set(checks) == set(ENUMS)
    for name, (_table, _column, allowed) in checks.items():
        assert allowed == {e.value for e in ENUMS[name]}, name


def test_migrations_create_the_status_checks_of_the_models(database_url):
    db = Database(database_url)
    db.upgrade()
    with db.engine.connect() as conn:
        found = {}
        for table in {t for t, _c, _v in _checks().values()}:
            for ck in inspect(conn).get_check_constraints(table):
                found[ck["name"]] = set(re.findall(r"'([^']*)'", ck["sqltext"]))
    db.dispose()
    assert {n: v for n, v in found.items() if n in ENUMS} == {n: v for n, (_t, _c, v) in _checks().items()}


def _value(column, allowed: dict[str, str]):
    if column.name in allowed:
        return allowed[column.name]
    t = column.type
    if isinstance(t, sat.TypeDecorator):
        return NOW
    if isinstance(t, sat.Boolean):
        return False
    if isinstance(t, sat.Integer):
        return 1
    if isinstance(t, sat.Date):
        return NOW.date()
    if isinstance(t, sat.LargeBinary):
        return b"x"
    return "1" * min(getattr(t, "length", None) or 8, 11)


def _insert(conn, table, values: dict | None = None, parents: dict | None = None) -> dict:
    """A row of ``table`` with every required column filled (each parent made once); its key."""
    parents = {} if parents is None else parents
    checked = {col: sorted(v)[0] for _n, (t, col, v) in _checks().items() if t == table.name}
    row = {}
    for column in table.columns:
        if values and column.name in values:
            row[column.name] = values[column.name]
        elif column.foreign_keys and not column.nullable:
            (fk,) = column.foreign_keys
            parent = fk.column.table
            if parent.name not in parents:
                parents[parent.name] = _insert(conn, parent, parents=parents)
            row[column.name] = parents[parent.name][fk.column.name]
        elif not column.nullable and not (column.primary_key and column.autoincrement is True) and column.server_default is None:
            if (
                column.primary_key
                and isinstance(column.type, sat.Integer)
                and column.autoincrement == "auto"
                and len(table.primary_key.columns) == 1
            ):
                continue
            row[column.name] = _value(column, checked)
    result = conn.execute(table.insert().values(**row))
    return {**row, **{c.name: v for c, v in zip(table.primary_key.columns, result.inserted_primary_key)}}


@pytest.mark.parametrize("name", sorted(ENUMS))
def test_a_status_not_of_its_enum_is_refused_by_the_database(database_url, name):
    db = Database(database_url)
    db.upgrade()
    table_name, column, allowed = _checks()[name]
    table = Base.metadata.tables[table_name]
    with db.engine.connect() as conn:
        trans = conn.begin()
        _insert(conn, table)  # the same row with a valid status is taken
        trans.rollback()
        with pytest.raises(IntegrityError), conn.begin():
            _insert(conn, table, {column: "bogus"})
    db.dispose()
