"""Typed errors for bad input and refused operations.

Each error has a stable ``code`` (machine-readable) and a message that says exactly what
was wrong. The HTTP layer maps ``status`` to the response code; the CLI prints the
message and exits non-zero. Anything else escaping is a bug.
"""

from __future__ import annotations


class MynaError(Exception):
    status = 400
    code = "bad-request"

    def __init__(self, message: str, **details: object):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(MynaError):
    status = 422
    code = "invalid-input"


class WeakKey(InvalidInput):
    code = "weak-key"


class MalformedKey(InvalidInput):
    code = "malformed-key"


class ImpossibleDate(InvalidInput):
    code = "impossible-date"


class NotEligible(MynaError):
    """The holder may not receive this certificate (e.g. signature certificate under 15)."""

    status = 422
    code = "not-eligible"


class NotFound(MynaError):
    status = 404
    code = "not-found"


class UnknownAuthority(NotFound):
    code = "unknown-ca"


class Conflict(MynaError):
    status = 409
    code = "conflict"


class AlreadyRevoked(Conflict):
    code = "already-revoked"


class IdempotencyMismatch(Conflict):
    code = "request-id-reused"


class NotInitialised(MynaError):
    status = 409
    code = "not-initialised"


class Unauthorised(MynaError):
    status = 401
    code = "unauthenticated"


class Forbidden(MynaError):
    status = 403
    code = "forbidden"
