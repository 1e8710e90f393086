"""A smartphone certificate application's status (R-CERT-5). Pure.

``accepted`` when the card-signed application is recorded; ``issued`` once, when the
first certificate for it is linked (a retry with the same key answers that one)."""

from __future__ import annotations

import enum


class MobileApplicationStatus(str, enum.Enum):
    ACCEPTED = "accepted"
    ISSUED = "issued"
