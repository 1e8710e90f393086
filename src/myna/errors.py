"""Typed errors for bad input and refused operations.

Each error has a stable ``code`` (machine-readable) and a message that says exactly what
was wrong; nothing here knows about a transport. The HTTP layer maps the error's class to
a response status (``myna.web.errors.http_status``, the one table); the CLI prints the
message and exits non-zero. Anything else escaping is a bug.
"""

from __future__ import annotations


class MynaError(Exception):
    code = "bad-request"

    def __init__(self, message: str, **details: object):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(MynaError):
    code = "invalid-input"


class WeakKey(InvalidInput):
    code = "weak-key"


class MalformedKey(InvalidInput):
    code = "malformed-key"


class ImpossibleDate(InvalidInput):
    code = "impossible-date"


class NotEligible(MynaError):
    """The holder may not receive this certificate (e.g. signature certificate under 15)."""

    code = "not-eligible"


class NotFound(MynaError):
    code = "not-found"


class UnknownAuthority(NotFound):
    code = "unknown-ca"


class Conflict(MynaError):
    code = "conflict"


class AlreadyRevoked(Conflict):
    code = "already-revoked"


class IdempotencyMismatch(Conflict):
    code = "request-id-reused"


class NotInitialised(MynaError):
    code = "not-initialised"


class Unauthorised(MynaError):
    code = "unauthenticated"


class Forbidden(MynaError):
    code = "forbidden"


class Unstorable(Exception):
    """The database refused a value the checks let through (a number past a column's
    range, text PostgreSQL cannot hold); the unit of work was rolled back, so nothing was
    written. Raised by the store in place of the driver's error, so the layers above name
    no database library.

    Deliberately not a :class:`MynaError`: code that handles the domain's refusals (a batch
    recording a bad line, a production run retrying card by card) must not take a store
    refusal for one of them, exactly as when the driver's error passed through it. Only the
    HTTP layer answers it, as the caller's invalid input (``code``)."""

    code = "invalid-input"
    message = "a value in the request cannot be stored (out of range or not valid text)"

    def __init__(self, error: str, sqlstate: str | None = None):
        super().__init__(self.message)
        self.error = error  # the driver's exception class: says enough without the value
        self.sqlstate = sqlstate
