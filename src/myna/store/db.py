"""Engine, sessions and migrations. SQLite under the data home by default, PostgreSQL
when MYNA_DATABASE_URL says so; the schema is always created by Alembic migrations."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from myna.errors import Unstorable

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    # WAL lets the web server read while a batch writes; foreign keys are off by default.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


WRITE_LOCK = "myna_write_lock"
SNAPSHOT = "myna_snapshot"


def _sqlite_begin(conn) -> None:
    # pysqlite opens a transaction only at the first INSERT/UPDATE, so what a unit of work
    # read before it may already be stale when it writes (lost updates). A unit of work
    # that reads in order to write asks for the write lock first: BEGIN IMMEDIATE makes the
    # writers of the database take turns, and what they read stays true until they commit.
    # Others keep the driver's behaviour (readers never wait for a writer under WAL).
    options = conn.get_execution_options()
    if options.get(WRITE_LOCK):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif options.get(SNAPSHOT):
        # A read that must see one moment of the database (Database.snapshot): an explicit
        # BEGIN makes every SELECT of the unit of work read the snapshot WAL mode took at
        # the first of them, instead of each its own.
        conn.exec_driver_sql("BEGIN DEFERRED")


def make_engine(url: str) -> Engine:
    # hide_parameters: a statement's error names its SQL, never the values (names, codes).
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to the newest migration (idempotent), or to ``revision``."""
        self._migrate(command.upgrade, revision)

    def downgrade(self, revision: str) -> None:
        """Take the schema back to ``revision`` (operators' rollback of a release)."""
        self._migrate(command.downgrade, revision)

    def _migrate(self, action, revision: str) -> None:
        cfg = alembic_config(self.url)
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as conn:
            if sqlite:
                # SQLite adds a constraint by rebuilding the table, and dropping a table that
                # others reference fails with foreign keys on; the pragma only takes effect
                # outside a transaction, so before the migrations start (SQLite's procedure
                # for schema changes), and every key is checked before the commit.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    cfg.attributes["connection"] = conn
                    action(cfg, revision)
                    if sqlite and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
                        raise RuntimeError(f"the migration left foreign keys broken: {broken[:5]}")
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        s = self._sessions()
        try:
            yield s
            s.commit()
        except DataError as exc:
            # A value the database refuses (past a column's range, text PostgreSQL cannot
            # hold): rolled back, and named without the driver so the layers above need not
            # know it. The driver's message may quote the value: only its class and SQLSTATE go on.
            s.rollback()
            orig = exc.orig
            sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
            raise Unstorable(type(orig).__name__, sqlstate) from exc
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A unit of work that reads state in order to change it (read, decide, write).
        On SQLite it holds the database's write lock from its first statement (BEGIN
        IMMEDIATE, waiting up to the busy timeout for another writer), so no other writer
        can change what it read; on PostgreSQL the rows it depends on must be read with
        ``with_for_update`` (SELECT ... FOR UPDATE), which waits for a concurrent writer
        and then returns the committed row."""
        with self.session() as s:
            s.connection(execution_options={WRITE_LOCK: True})
            yield s

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only unit of work that sees the database as of one moment, however long it
        reads (a digest of millions of rows while the platform keeps writing): REPEATABLE READ
        on PostgreSQL (one snapshot for the whole transaction), an explicit read transaction
        on SQLite (WAL keeps the snapshot of its first read). Nothing written through it
        is kept: PostgreSQL refuses writes in a READ ONLY transaction."""
        with self.session() as s:
            if self.engine.dialect.name == "sqlite":
                s.connection(execution_options={SNAPSHOT: True})
            else:
                s.connection(execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
            yield s

    def schema_revisions(self) -> tuple[str | None, str]:
        """(the database's Alembic revision, or None when it has no myna schema; the newest
        revision this code knows). Read without migrating."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(alembic_config(self.url)).get_current_head()
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        return current, head

    def ping(self) -> None:
        """One round trip to the database (the health check): raises if it cannot be reached."""
        with self.session() as s:
            s.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
