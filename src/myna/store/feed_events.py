"""What an entry of the status feed reports (``status_feed.event``): written by the
authority with the change, read by the validity centres' replicas. Pure: the centres
read it without the platform's tables."""

from __future__ import annotations

import enum


class FeedEventKind(str, enum.Enum):
    ISSUED = "issued"
    REVOKED = "revoked"
