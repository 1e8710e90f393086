"""A validity centre's own copy of certificate status (SQLite, one file per centre).

Written by the centre's sync loop from the platform's status feed, read on every OCSP
request. It uses the standard library's sqlite3 directly rather than SQLAlchemy: it is
a local, single-purpose cache on the request hot path, and one indexed lookup through
sqlite3 costs a few microseconds.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from myna.store.feed_events import FeedEventKind

_SCHEMA = """
CREATE TABLE IF NOT EXISTS status (
    serial TEXT PRIMARY KEY,        -- 40 hex digits, as in the platform store
    authority TEXT NOT NULL,        -- CA slug
    not_after INTEGER NOT NULL,     -- unix seconds
    revoked_at INTEGER,             -- unix seconds, NULL if not revoked
    reason TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class StatusRow:
    serial: str
    authority: str
    not_after: dt.datetime
    revoked_at: dt.datetime | None
    reason: str | None


@dataclass(frozen=True)
class FeedEvent:
    seq: int
    serial: str
    authority: str
    event: str  # FeedEventKind
    at: dt.datetime
    not_after: dt.datetime
    reason: str | None


def _ts(t: dt.datetime) -> int:
    return int(t.timestamp())


def _dt(v: int | None) -> dt.datetime | None:
    return None if v is None else dt.datetime.fromtimestamp(v, dt.timezone.utc)


class Replica:
    def __init__(self, path: Path | str):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        with self._conn() as c:
            c.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            self._local.conn = conn
        return conn

    def lookup(self, serial: str) -> StatusRow | None:
        row = (
            self._conn()
            .execute("SELECT serial, authority, not_after, revoked_at, reason FROM status WHERE serial = ?", (serial,))
            .fetchone()
        )
        if row is None:
            return None
        return StatusRow(row[0], row[1], _dt(row[2]), _dt(row[3]), row[4])

    def apply(self, events: list[FeedEvent], last_seq: int) -> None:
        """Apply feed events (idempotent: re-applying an event changes nothing) and record
        the feed position, in one transaction."""
        with self._write_lock:
            c = self._conn()
            c.execute("BEGIN IMMEDIATE")
            try:
                for e in events:
                    if e.event == FeedEventKind.ISSUED:
                        c.execute(
                            "INSERT INTO status (serial, authority, not_after) VALUES (?, ?, ?) ON CONFLICT(serial) DO NOTHING",
                            (e.serial, e.authority, _ts(e.not_after)),
                        )
                    elif e.event == FeedEventKind.REVOKED:
                        c.execute(
                            "INSERT INTO status (serial, authority, not_after, revoked_at, reason) VALUES (?, ?, ?, ?, ?) "
                            "ON CONFLICT(serial) DO UPDATE SET revoked_at = excluded.revoked_at, reason = excluded.reason",
                            (e.serial, e.authority, _ts(e.not_after), _ts(e.at), e.reason),
                        )
                    else:
                        raise ValueError(f"unknown feed event {e.event!r}")
                c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?)", (str(last_seq),))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def last_seq(self) -> int:
        row = self._conn().execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        return self._conn().execute("SELECT count(*) FROM status").fetchone()[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
