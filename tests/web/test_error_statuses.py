"""The one table from a domain error to its HTTP status (myna.web.errors.STATUS).

The domain's errors carry a ``code`` and no transport; the statuses the API answers stayed
those the errors used to carry themselves, listed here class by class, so a change in the
table (or a new base class that changes a subclass's answer) shows.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import myna
from myna.errors import MynaError
from myna.web.errors import http_status

ANSWERS = [
    ("myna.authority.issuance", "DiffersFromRegister", 409),
    ("myna.authority.issuance", "RegisterChanged", 409),
    ("myna.cards.card_status", "IllegalTransition", 409),
    ("myna.chip.cards", "_BeingMade", 409),
    ("myna.chip.client", "CardError", 409),
    ("myna.chip.client", "PinBlocked", 409),
    ("myna.chip.client", "WrongPin", 409),
    ("myna.chip.pcsc", "PcscUnavailable", 503),
    ("myna.chip.vpcd", "ReaderUnavailable", 503),
    ("myna.errors", "AlreadyRevoked", 409),
    ("myna.errors", "Conflict", 409),
    ("myna.errors", "Forbidden", 403),
    ("myna.errors", "IdempotencyMismatch", 409),
    ("myna.errors", "ImpossibleDate", 422),
    ("myna.errors", "InvalidInput", 422),
    ("myna.errors", "MalformedKey", 422),
    ("myna.errors", "NotEligible", 422),
    ("myna.errors", "NotFound", 404),
    ("myna.errors", "NotInitialised", 409),
    ("myna.errors", "Unauthorised", 401),
    ("myna.errors", "UnknownAuthority", 404),
    ("myna.errors", "WeakKey", 422),
    ("myna.mobile.issuance", "ApplicationExpired", 409),
    ("myna.mobile.issuance", "BadProof", 422),
    ("myna.portal.lost_card", "TooManyAttempts", 429),
    ("myna.residents.events", "InvalidTransition", 409),
    ("myna.residents.events", "OutOfOrder", 409),
    ("myna.residents.new_records", "CodeInUse", 409),
    ("myna.verifiers.card_signed", "CardCertificateNotValid", 422),
    ("myna.verifiers.card_signed", "InvalidSignature", 422),
    ("myna.verifiers.entitlements", "NotEntitled", 403),
    ("myna.verifiers.provision", "NoAgreement", 403),
    ("myna.verifiers.provision", "NoConsent", 403),
    ("myna.verifiers.provision", "NotDisclosed", 410),
    ("myna.verifiers.registry", "VerifierSuspended", 403),
    ("myna.verifiers.registry", "VerifierTerminated", 403),
]


def _all_error_classes() -> set[type[MynaError]]:
    for info in pkgutil.walk_packages(myna.__path__, "myna."):
        if ".migrations" not in info.name:
            importlib.import_module(info.name)
    found, todo = set(), [MynaError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


@pytest.mark.parametrize(("module", "name", "status"), ANSWERS)
def test_each_domain_error_answers_its_status(module, name, status):
    cls = getattr(importlib.import_module(module), name)
    assert http_status(cls) == status
    assert http_status(cls.__new__(cls)) == status  # an instance answers as its class


def test_every_domain_error_is_listed_and_none_carries_a_transport_status():
    classes = _all_error_classes()
    assert {(c.__module__, c.__name__) for c in classes} == {(m, n) for m, n, _ in ANSWERS}
    for cls in classes | {MynaError}:
        assert isinstance(cls.code, str) and cls.code
        for attribute in ("status", "status_code", "http_status"):
            assert attribute not in vars(cls), f"{cls.__name__}.{attribute}: the HTTP status belongs in myna.web.errors.STATUS"


def test_a_class_outside_the_errors_is_refused():
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
