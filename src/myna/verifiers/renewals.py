"""Old-to-new linkage of certificates (新旧紐付け, R-VER-4).

:func:`record_renewal` stores that a new certificate replaced an old one of the same
holder and kind; :func:`successors` follows the links from an old serial to the newest.
Card management (renewal at the counter) may keep its own table of renewals; if the
store has a table ``certificate_renewals`` with ``old_serial`` and ``new_serial``
columns, its links are followed too, so either record serves verifiers.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from myna.errors import Conflict, InvalidInput, NotFound
from myna.pki import serials
from myna.pki.kinds import CertKind
from myna.store import models as m
from myna.store import models_verifiers as mv
from myna.store.journal import audit

MAX_CHAIN = 100  # a holder renews every five years; a longer chain means a loop in the data
_OTHER_TABLE = "certificate_renewals"


def record_renewal(s, old_serial: int, new_serial: int, now: dt.datetime, actor: str) -> None:
    """Inside the caller's transaction: link ``old_serial`` to its replacement."""
    old, new = s.get(m.Certificate, serials.to_store(old_serial)), s.get(m.Certificate, serials.to_store(new_serial))
    if old is None or new is None:
        missing = old_serial if old is None else new_serial
        raise NotFound(f"no holder certificate with serial {serials.to_display(missing)}")
    if old.kind not in {k.value for k in CertKind} or old.kind != new.kind:
        raise InvalidInput(f"a renewal links two holder certificates of one kind ({old.kind} -> {new.kind})")
    if old.resident_code is None or old.resident_code != new.resident_code:
        raise InvalidInput("a renewal links two certificates of the same holder")
    if old.serial == new.serial or new.issued_at < old.issued_at:
        raise InvalidInput("the new certificate must be issued after the old one")
    if next_serial(s, old.serial) is not None:
        raise Conflict(f"certificate {serials.to_display(old_serial)} already has a recorded successor")
    if s.scalar(select(mv.RenewalLink.old_serial).where(mv.RenewalLink.new_serial == new.serial)) is not None:
        raise Conflict(f"certificate {serials.to_display(new_serial)} already replaces another")
    s.add(mv.RenewalLink(old_serial=old.serial, new_serial=new.serial, at=now, recorded_by=actor))
    audit(s, now, actor, "certificate.renewal-linked", old.serial, new_serial=new.serial, kind=old.kind)


def _other_table():
    table = m.Base.metadata.tables.get(_OTHER_TABLE)
    if table is not None and {"old_serial", "new_serial"} <= set(table.c.keys()):
        return table
    return None


def next_serial(s, serial: str) -> str | None:
    new = s.scalar(select(mv.RenewalLink.new_serial).where(mv.RenewalLink.old_serial == serial))
    if new is None and (other := _other_table()) is not None:
        new = s.scalar(select(other.c.new_serial).where(other.c.old_serial == serial).limit(1))
    return new


def successors(s, serial: str) -> list[str]:
    """The serials that replaced ``serial`` in order, newest last (empty if none)."""
    chain: list[str] = []
    current = serial
    while (new := next_serial(s, current)) is not None:
        if new in chain or new == serial or len(chain) >= MAX_CHAIN:
            raise Conflict(f"the renewal links from {serial} form a loop")
        chain.append(new)
        current = new
    return chain


class Renewals:
    """Recording old-to-new links for J-LIS's operators (the API, the CLI)."""

    def __init__(self, platform):
        self.platform = platform

    def link(self, old_serial: int, new_serial: int, actor: str) -> None:
        """Record, in a transaction of its own, that ``new_serial`` replaced ``old_serial``."""
        with self.platform.db.session() as s:
            record_renewal(s, old_serial, new_serial, self.platform.clock.now(), actor)
