"""Bounds of the integers a request may carry: what the store's columns can hold.

A row id or a feed position is a BIGINT (SQLite's INTEGER, PostgreSQL's bigint): a number
past 2^63 - 1 cannot be bound to a query at all (SQLite's driver raises OverflowError,
PostgreSQL's a DataError), so it is refused as invalid input before any route runs, and
the schema says so.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

BIGINT_MAX = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="a row id (1 to 2^63 - 1)")]
