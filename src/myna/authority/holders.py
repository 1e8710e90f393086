"""Whose resident a holder is (R-RA-2): the municipality a certificate's holder is
registered in now, not the one recorded when it was issued.

A certificate names the municipality it was issued through. That is not who acts for
the holder: a certificate issued through another municipality (or before the holder moved)
belongs to the municipality of the holder's current registration, which must be able to
read and revoke it, and the other must see it as absent. A holder not on the register
(records from before the resident register was kept) stays with the recorded municipality.
"""

from __future__ import annotations

from sqlalchemy import func, select

from myna.store import models as m


def current_municipality(resident_code_column):
    """SQL: the municipality the holder in ``resident_code_column`` is registered in (NULL if none)."""
    return select(m.ResidentRecord.municipality_code).where(m.ResidentRecord.resident_code == resident_code_column).scalar_subquery()


def holder_of(municipality_code: str):
    """SQL condition on m.Certificate: its holder is ``municipality_code``'s resident."""
    return func.coalesce(current_municipality(m.Certificate.resident_code), m.Certificate.municipality_code) == municipality_code


def acts_for(s, municipality_code: str | None, row: m.Certificate) -> bool:
    """Whether ``municipality_code`` (None: J-LIS, any) acts for the holder of ``row``."""
    if municipality_code is None:
        return True
    current = s.get(m.ResidentRecord, row.resident_code) if row.resident_code else None
    return (current.municipality_code if current is not None else row.municipality_code) == municipality_code
