"""Residents on J-LIS's register for the benchmarks and the drills, written in bulk: a
test population's set-up, not a procedure of the register (no event, notice or audit
record is written, so never use it on a real register).

Issuance certifies only residents on the register, from the register's record (R-CERT-4,
R-RA-1), so a benchmark that issues must register its residents first. That set-up is
not what the issuance or OCSP benchmarks (or the batch failover drill) measure, and registering one event at a time
through ``Registry.submit`` (what bench/residents.py measures) would cost minutes for a
large population. There is no bulk registration API, so the rows are inserted here with
SQLAlchemy Core ``insert()`` executemany, in one transaction: the municipality if it is
missing, one ``residents`` record (status active, version 1) and one ``numbers`` row per
resident, the Individual Numbers made by the store's own ``NumberGenerator`` (vectorised).
Change events, notices and audit events are not written: issuance reads the record only.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
from sqlalchemy import insert

from myna.numbering.individual_number import NumberGenerator
from myna.numbering.keyfile import load_or_create
from myna.pki.basic4 import Basic4
from myna.store import models as m

ROWS_PER_INSERT = 5000


def register_bulk(platform, resident_codes: Iterable[str | int], municipality_code: str, basic4: Basic4) -> int:
    """Put these residents (11-digit codes) on the register of ``municipality_code``, all
    with the same basic 4 information. Returns how many were written."""
    codes = np.array([int(c) for c in resident_codes], dtype=np.uint64)
    if not codes.size:
        return 0
    numbers = NumberGenerator(load_or_create(platform.settings.home)).numbers_for(codes)
    now = platform.clock.now()
    record = {
        "municipality_code": municipality_code,
        "name": basic4.name,
        "name_alt": basic4.name_alt,
        "date_of_birth": basic4.date_of_birth,
        "sex": basic4.sex.value,
        "address": basic4.address,
        "address_alt": basic4.address_alt,
        "status": "active",
        "planned_move_out": None,
        "ua_lapsed": False,
        "last_effective": None,
        "version": 1,
        "updated_at": now,
    }
    with platform.db.session() as s:
        if s.get(m.Municipality, municipality_code) is None:
            s.add(m.Municipality(code=municipality_code, name=f"municipality {municipality_code}", registered_at=now))
            s.flush()
        for at in range(0, codes.size, ROWS_PER_INSERT):
            part = [
                (f"{int(c):011d}", f"{int(n):012d}") for c, n in zip(codes[at : at + ROWS_PER_INSERT], numbers[at : at + ROWS_PER_INSERT])
            ]
            s.execute(insert(m.IssuedNumber), [{"number": n, "resident_code": c, "generation": 0, "issued_at": now} for c, n in part])
            s.execute(insert(m.ResidentRecord), [{"resident_code": c, "number": n, **record} for c, n in part])
    return int(codes.size)
