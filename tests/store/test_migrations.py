"""The schema comes from Alembic migrations, and they match the models exactly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from myna.store.db import Database
from myna.store.models import Base


def test_migrations_create_exactly_the_modelled_schema(database_url):
    db = Database(database_url)
    db.upgrade()
    db.upgrade()  # idempotent
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        tables = set(inspect(conn).get_table_names())
    db.dispose()
    assert diff == []
    assert {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"} == tables
