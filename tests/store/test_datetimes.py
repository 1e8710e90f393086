"""UtcDateTime on SQLite writes the very text SQLAlchemy's own DATETIME would (so rows
written by the fast path and by anything else read alike), whichever offset a value has,
and its memo of recent values never answers for another value."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite.base import DATETIME

from myna.store import models
from myna.store.models import UtcDateTime

_stock = DATETIME().bind_processor(sqlite.dialect())
_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
_aware = st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(9998, 12, 30), timezones=_offsets)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_aware, min_size=1, max_size=40))
def test_sqlite_text_is_sqlalchemys_for_any_offset(values):
    process = UtcDateTime().bind_processor(sqlite.dialect())
    for v in values + values[::-1]:  # repeats go through the memo
        assert process(v) == _stock(v.astimezone(dt.timezone.utc))


def test_memo_never_answers_for_another_value(monkeypatch):
    monkeypatch.setattr(models, "_MEMO_SIZE", 4)
    process = UtcDateTime().bind_processor(sqlite.dialect())
    base = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    for i in range(1000):
        # Fresh objects, most dropped at once: CPython reuses their ids.
        v = base + dt.timedelta(microseconds=i)
        assert process(v) == _stock(v)
    assert process(None) is None


def test_naive_datetimes_are_refused():
    process = UtcDateTime().bind_processor(sqlite.dialect())
    with pytest.raises(ValueError, match="naive"):
        process(dt.datetime(2026, 12, 1))


def test_round_trip_keeps_the_instant(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 't.db'}")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime))
    table.metadata.create_all(engine)
    jst = dt.timezone(dt.timedelta(hours=9))
    values = [dt.datetime(2026, 12, 2, 6, 30, 0, 5, tzinfo=jst), dt.datetime(2026, 12, 1, 21, 30, tzinfo=dt.timezone.utc)]
    with engine.begin() as c:
        c.execute(insert(table), [{"at": v} for v in values])
        back = list(c.scalars(select(table.c.at).order_by(table.c.id)))
    engine.dispose()
    assert back == values
    assert all(b.tzinfo is dt.timezone.utc for b in back)
