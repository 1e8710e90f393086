"""What a validity centre answered, counted per minute and reported to the platform.

The operations console charts OCSP and CRL traffic per centre, and the annual provision
report (R-VER-6) counts revocation status given out through the centres. A centre does
not log each answer (tens of thousands a second, SPEC §8): it counts them per UTC minute
in memory, and its sync loop reports each finished minute once, to the store directly
(the centre inside ``myna serve``) or to ``POST /api/v1/operations/traffic`` (a centre at
another site, with its ``centre`` token). The platform adds the counts up, so a minute is
sent once, after it ends; a report that fails is kept and sent with the next one.

"errors" are the OCSP answers that are not a successful response (malformedRequest,
unauthorized, tryLater, internalError) and CRL requests for a CRL the centre does not have.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

OCSP, CRL, ERRORS = 0, 1, 2
# An unsuccessful OCSPResponse is SEQUENCE { ENUMERATED status } with no responseBytes:
# exactly these four octets and the status octet (RFC 6960 4.2.1).
_UNSUCCESSFUL_PREFIX = b"\x30\x03\x0a\x01"


def is_unsuccessful(ocsp_response: bytes) -> bool:
    return len(ocsp_response) == 5 and ocsp_response.startswith(_UNSUCCESSFUL_PREFIX)


class TrafficCounter:
    """Counts per minute (UTC, by the wall clock) until taken.

    Counting takes no lock: it runs for every request on the serving thread (the event
    loop), and a lock would cost a few per cent of the centre's throughput. Dictionary
    get/set are atomic under the GIL, and the sync thread takes a minute only once the
    next one has ended too, so no count lands in a minute already taken unless a request
    spent a whole minute between reading the clock and counting."""

    def __init__(self, now=time.time):
        self._now = now
        self._lock = threading.Lock()  # between take() and put_back(), both off the hot path
        self._minutes: dict[int, list[int]] = {}

    def _add(self, kind: int, error: bool) -> None:
        minute = int(self._now()) // 60
        counts = self._minutes.get(minute)
        if counts is None:
            counts = self._minutes.setdefault(minute, [0, 0, 0])
        counts[kind] += 1
        if error:
            counts[ERRORS] += 1

    def ocsp(self, response: bytes) -> None:
        self._add(OCSP, is_unsuccessful(response))

    def crl(self, found: bool) -> None:
        self._add(CRL, not found)

    def take(self, everything: bool = False) -> list[tuple[dt.datetime, int, int, int]]:
        """The minutes that ended at least a minute ago (all of them, the current one too,
        with ``everything``: at shutdown), oldest first, as (minute, ocsp, crl, errors);
        they are forgotten."""
        current = int(self._now()) // 60
        with self._lock:
            done = sorted(m for m in list(self._minutes) if everything or m < current - 1)
            taken = [(m, self._minutes.pop(m)) for m in done]
        return [(dt.datetime.fromtimestamp(m * 60, dt.timezone.utc), c[OCSP], c[CRL], c[ERRORS]) for m, c in taken]

    def put_back(self, minutes: list[tuple[dt.datetime, int, int, int]]) -> None:
        """Minutes whose report failed: counted again, to be sent with the next report."""
        with self._lock:
            for at, ocsp, crl, errors in minutes:
                counts = self._minutes.setdefault(int(at.timestamp()) // 60, [0, 0, 0])
                counts[OCSP] += ocsp
                counts[CRL] += crl
                counts[ERRORS] += errors
