"""The OpenAPI schema says what the server does: error statuses with the error body,
the constraints the domain checks, non-JSON answers, strict dates, and a true ``Allow``.
(The whole schema against the live server: test_schemathesis.py.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.authority import issuance
from myna.chip import chips as cards
from myna.pki import serials
from myna.residents import registry
from myna.verifiers import registry as verifier_registry
from myna.web import types
from myna.web.app import create_app


@pytest.fixture
def api(platform):
    client = TestClient(create_app(platform, schedule=False), raise_server_exceptions=False)
    tokens = Tokens(platform)
    client.headers["Authorization"] = f"Bearer {tokens.create(Role.OPERATOR, 'op')}"
    client.municipality = {"Authorization": f"Bearer {tokens.create(Role.MUNICIPALITY, 'clerk', '131016')}"}
    return client


@pytest.fixture
def schema(api):
    return api.get("/openapi.json").json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, op in item.items():
            yield path, method, op


def test_every_operation_documents_its_error_statuses_with_the_error_body(schema):
    for path, method, op in _operations(schema):
        responses = op["responses"]
        assert "400" in responses, (method, path)  # NulGuard answers any address
        params = op.get("parameters", [])
        if params or "requestBody" in op:
            assert "422" in responses, (method, path)
        if any(p["in"] == "path" for p in params):
            assert "404" in responses, (method, path)
        for status, answer in responses.items():
            if status.startswith(("4", "5")):
                assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
    assert "HTTPValidationError" not in schema["components"]["schemas"]  # FastAPI's 422 body is not ours


def test_authenticated_operations_document_401_and_403(schema):
    op = schema["paths"]["/api/v1/certificates"]["post"]["responses"]
    assert {"401", "403", "409", "200", "201"} <= set(op)  # 200: a retry of the same request_id
    assert {"401", "403"} <= set(schema["paths"]["/api/v1/verifier/whoami"]["get"]["responses"])
    assert not {"401", "403"} & set(schema["paths"]["/api/v1/card-fees/schedule"]["get"]["responses"])  # public


def test_the_schema_states_the_domain_patterns():
    """One definition each, the same as the domain's own check."""
    assert types.REQUEST_ID_PATTERN == issuance._REQUEST_ID.pattern == registry._EVENT_ID.pattern
    assert types.CARD_ID_FULL_PATTERN == cards.CARD_ID.pattern
    assert types.VERIFIER_CODE_PATTERN == verifier_registry.CODE.pattern
    serial = TypeAdapter(types.Serial)
    assert serial.validate_python("0A1B" * 10) and serials.parse("0A1B" * 10)
    for refused in ("0" * 5, "A" * 41, "0x1F", "AB:CD", ""):
        with pytest.raises(ValidationError):
            serial.validate_python(refused)


def test_constraints_are_in_the_schema(schema):
    body = schema["components"]["schemas"]["IssueIn"]["properties"]
    assert body["request_id"]["pattern"] == types.REQUEST_ID_PATTERN
    assert body["resident_code"]["pattern"] == types.RESIDENT_CODE_PATTERN
    card = next(p for p in schema["paths"]["/api/v1/cards/{card_id}/suspend"]["post"]["parameters"] if p["name"] == "card_id")
    assert card["schema"]["pattern"] == types.CARD_ID_PATTERN
    serial = next(p for p in schema["paths"]["/api/v1/certificates/{serial}"]["get"]["parameters"] if p["name"] == "serial")
    assert serial["schema"]["pattern"] == types.SERIAL_PATTERN
    revoke = schema["components"]["schemas"]["RevokeIn"]["properties"]["reason"]
    assert "key-compromise" not in revoke["enum"]  # refused here: the CA compromise procedure (R-REV-5)


def test_a_request_id_the_schema_refuses_is_refused_by_fastapi_not_deeper(api):
    r = api.post(
        "/api/v1/certificates",
        json={
            "request_id": "bad id",
            "kind": "card-auth",
            "public_key_pem": "x",
            "resident_code": "12345678901",
            "date_of_birth": "1990-01-01",
        },
    )
    assert r.status_code == 422 and "request_id" in r.json()["message"]


def test_non_json_answers_are_documented_with_their_media_type(schema):
    mail = schema["paths"]["/api/v1/number-notices/mail"]["post"]["responses"]
    assert list(mail["200"]["content"]) == ["application/pdf"] and "204" in mail
    assert "X-Myna-Notices" in mail["200"]["headers"]
    assert list(schema["paths"]["/api/v1/cards/{card_id}/pickup-notice"]["get"]["responses"]["200"]["content"]) == ["application/pdf"]
    assert list(schema["paths"]["/crl/{name}"]["get"]["responses"]["200"]["content"]) == ["application/pkix-crl"]
    assert list(schema["paths"]["/ca/{name}"]["get"]["responses"]["200"]["content"]) == ["application/pkix-cert"]
    assert list(schema["paths"]["/api/v1/verifiers/report/{year}.csv"]["get"]["responses"]["200"]["content"]) == ["text/csv"]
    assert set(schema["paths"]["/api/v1/expiry-notices"]["post"]["responses"]["200"]["content"]) == {"application/json", "application/pdf"}


@pytest.mark.parametrize("value", [1.5, 0, 1700000000, "1700000000", "0.5"])
def test_a_unix_time_is_not_a_date(api, value):
    event = {"event_id": "e-1", "type": "death", "resident_code": "12345678901", "municipality_code": "131016", "effective_date": value}
    r = api.post("/api/v1/residents/events", json=event)
    assert r.status_code == 422 and "effective_date" in r.json()["message"], r.text
    basic4 = {"name": "山田 花子", "date_of_birth": value, "sex": "2", "address": "東京都千代田区千代田1-1"}
    r = api.post(
        "/api/v1/certificates",
        json={
            "request_id": "r-1",
            "kind": "card-sign",
            "public_key_pem": "x",
            "resident_code": "12345678901",
            "date_of_birth": "1990-01-01",
            "basic4": basic4,
        },
    )
    assert r.status_code == 422 and "date_of_birth" in r.json()["message"], r.text


@pytest.mark.parametrize("value", ["0.5", "1700000000"])
def test_a_unix_time_is_not_a_datetime_in_a_query(api, value):
    r = api.get("/api/v1/operations/availability", params={"start": value})
    assert r.status_code == 422 and "start" in r.json()["message"], r.text


def test_iso_dates_are_still_accepted(api):
    r = api.get("/api/v1/operations/availability", params={"start": "2025-04-01T00:00:00+09:00"})
    assert r.status_code == 200, r.text


def test_a_wrong_method_is_405_with_every_method_of_the_resource(api):
    r = api.delete("/api/v1/certificates")
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "POST"}
    assert r.json()["error"] == "method-not-allowed"


def test_options_answers_the_resource_methods(api):
    r = api.options("/api/v1/certificates")
    assert r.status_code == 204
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "POST", "OPTIONS"} | (
        {"HEAD"} & {m.strip() for m in r.headers["allow"].split(",")}
    )
    r = api.options("/api/v1/card-applications/paper")
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"POST", "OPTIONS"}


def test_a_path_that_is_its_own_resource_is_not_routed_to_a_template(api):
    """GET /residents/events is not the resident 'events': POST is its only method."""
    r = api.get("/api/v1/residents/events")
    assert r.status_code == 405 and "POST" in r.headers["allow"]


def test_a_body_the_framework_cannot_parse_answers_the_error_body(api):
    r = api.post("/api/v1/operations/outages", content=b"\xff\xfe{", headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422)
    assert set(r.json()) >= {"error", "message"}
    r = api.get("/no/such/address")
    assert r.status_code == 404 and r.json()["error"] == "not-found"
