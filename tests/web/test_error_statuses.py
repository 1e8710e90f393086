"""The one table from a domain error to its HTTP status (myna.web.errors.STATUS).

The domain's errors carry a ``code`` and no transport; the statuses the API answers stayed
those the errors used to carry themselves, listed here class by class (by name and code,
so moving a class to another module changes nothing here), so a change in the table (or
a new base class that changes a subclass's answer) shows.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

import pytest

import myna
from myna.errors import MynaError
from myna.web.errors import http_status

ANSWERS = [
    ("DiffersFromRegister", "differs-from-register", 409),
    ("RegisterChanged", "register-changed", 409),
    ("IllegalTransition", "illegal-transition", 409),
    ("_BeingMade", "card-being-made", 409),
    ("CardError", "card-refused", 409),
    ("PinBlocked", "pin-blocked", 409),
    ("WrongPin", "wrong-pin", 409),
    ("PcscUnavailable", "pcsc-unavailable", 503),
    ("ReaderUnavailable", "reader-unavailable", 503),
    ("AlreadyRevoked", "already-revoked", 409),
    ("Conflict", "conflict", 409),
    ("Forbidden", "forbidden", 403),
    ("IdempotencyMismatch", "request-id-reused", 409),
    ("ImpossibleDate", "impossible-date", 422),
    ("InvalidInput", "invalid-input", 422),
    ("MalformedKey", "malformed-key", 422),
    ("NotEligible", "not-eligible", 422),
    ("NotFound", "not-found", 404),
    ("NotInitialised", "not-initialised", 409),
    ("Unauthorised", "unauthenticated", 401),
    ("UnknownAuthority", "unknown-ca", 404),
    ("WeakKey", "weak-key", 422),
    ("ApplicationExpired", "application-expired", 409),
    ("BadProof", "invalid-proof-of-possession", 422),
    ("TooManyAttempts", "too-many-attempts", 429),
    ("InvalidTransition", "invalid-transition", 409),
    ("OutOfOrder", "out-of-order", 409),
    ("CodeInUse", "resident-code-in-use", 409),
    ("CardCertificateNotValid", "card-certificate-not-valid", 422),
    ("InvalidSignature", "invalid-signature", 422),
    ("NotEntitled", "not-entitled", 403),
    ("NoAgreement", "no-agreement", 403),
    ("NoConsent", "no-consent", 403),
    ("NotDisclosed", "no-valid-certificate", 410),
    ("VerifierSuspended", "verifier-suspended", 403),
    ("VerifierTerminated", "verifier-terminated", 403),
]


@functools.cache
def _all_error_classes() -> frozenset[type[MynaError]]:
    for info in pkgutil.walk_packages(myna.__path__, "myna."):
        if ".migrations" not in info.name:
            importlib.import_module(info.name)
    found, todo = set(), [MynaError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return frozenset(found)


@pytest.mark.parametrize(("name", "code", "status"), ANSWERS)
def test_each_domain_error_answers_its_status(name, code, status):
    [cls] = [c for c in _all_error_classes() if c.__name__ == name]
    assert cls.code == code
    assert http_status(cls) == status
    assert http_status(cls.__new__(cls)) == status  # an instance answers as its class


def test_every_domain_error_is_listed_and_none_carries_a_transport_status():
    classes = _all_error_classes()
    assert sorted((c.__name__, c.code) for c in classes) == sorted((n, code) for n, code, _ in ANSWERS)
    for cls in classes | {MynaError}:
        assert isinstance(cls.code, str) and cls.code
        for attribute in ("status", "status_code", "http_status"):
            assert attribute not in vars(cls), f"{cls.__name__}.{attribute}: the HTTP status belongs in myna.web.errors.STATUS"


def test_the_base_error_is_a_bad_request_and_a_class_outside_the_errors_is_refused():
    assert http_status(MynaError) == 400
    with pytest.raises(TypeError):
        http_status(ValueError)


def test_a_value_the_database_refuses_is_unstorable_and_answers_422_as_before(platform):
    """The store names the refusal without its driver (so web/ imports no database library),
    rolls back, and the API answers it exactly as it answered the driver's DataError."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import DataError

    from myna.errors import Unstorable
    from myna.web import errors

    class NumericValueOutOfRange(Exception):
        sqlstate = "22003"

    with pytest.raises(Unstorable) as refused:
        with platform.db.session():
            raise DataError("INSERT ...", {}, NumericValueOutOfRange("value 99999999999999999999 out of range"))
    assert (refused.value.error, refused.value.sqlstate) == ("NumericValueOutOfRange", "22003")
    assert "9999" not in str(refused.value)  # the driver's message may quote the value: not passed on

    app = FastAPI()
    errors.install(app)

    @app.get("/boom")
    def boom():
        raise refused.value

    r = TestClient(app).get("/boom")
    assert r.status_code == 422
    assert r.content == b'{"error":"invalid-input","message":"a value in the request cannot be stored (out of range or not valid text)"}'
