"""The HTTP API: roles, scoping, specific 4xx errors, distribution points, OpenAPI."""

import uuid

import pytest
from cryptography import x509
from fastapi.testclient import TestClient
from myna_testing import ec_public_pem, register_resident, table_counts

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.web.app import create_app

SIGN_BODY = {
    "kind": "card-sign",
    "resident_code": "12345678901",
    "date_of_birth": "1990-06-15",
    "basic4": {"name": "山田 花子", "date_of_birth": "1990-06-15", "sex": "2", "address": "東京都千代田区千代田1-1"},
}


@pytest.fixture
def api(platform):
    register_resident(platform)  # SIGN_BODY's resident, on the register at 131016 (R-CERT-4, R-RA-1)
    tokens = Tokens(platform)
    client = TestClient(create_app(platform, schedule=False), raise_server_exceptions=False)
    client.tokens = {
        "operator": tokens.create(Role.OPERATOR, "op"),
        "chiyoda": tokens.create(Role.MUNICIPALITY, "clerk", "131016"),
        "shinjuku": tokens.create(Role.MUNICIPALITY, "clerk", "131041"),
        "auditor": tokens.create(Role.AUDITOR, "audit"),
    }
    return client


def _h(api, who):
    return {"Authorization": f"Bearer {api.tokens[who]}"}


def _issue(api, who="chiyoda", **over):
    body = {
        **SIGN_BODY,
        "request_id": over.pop("request_id", None) or f"r-{uuid.uuid4().hex}",
        "public_key_pem": ec_public_pem().decode(),
        **over,
    }
    return api.post("/api/v1/certificates", json=body, headers=_h(api, who))


def test_issue_as_municipality_fills_in_its_code_and_returns_pem(api):
    r = _issue(api)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["municipality_code"] == "131016" and body["status"] == "valid" and body["created"] is True
    cert = x509.load_pem_x509_certificate(body["pem"].encode())
    assert format(cert.serial_number, "X").zfill(len(body["serial"])) == body["serial"]


def test_retry_returns_the_same_certificate_with_200(api):
    body = {**SIGN_BODY, "request_id": "retry-1", "public_key_pem": ec_public_pem().decode()}
    first = api.post("/api/v1/certificates", json=body, headers=_h(api, "chiyoda"))
    again = api.post("/api/v1/certificates", json=body, headers=_h(api, "chiyoda"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["serial"] == again.json()["serial"] and again.json()["created"] is False


def test_no_token_is_401_and_bad_token_is_401(api):
    assert _issue(api, who="chiyoda").status_code == 201
    r = api.post("/api/v1/certificates", json={})
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated"
    r = api.get("/api/v1/certificates", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_unauthorised_roles_are_403_and_change_nothing(api, platform):
    before = table_counts(platform)
    assert _issue(api, who="auditor").status_code == 403
    r = _issue(api, who="chiyoda", kind="mobile-auth", basic4=None)
    assert r.status_code == 403 and "R-CERT-5" in r.json()["message"]
    r = _issue(api, who="chiyoda", municipality_code="131041")
    assert r.status_code == 403 and "131041" in r.json()["message"]
    r = api.post("/api/v1/authorities/card-sign/crl", headers=_h(api, "chiyoda"))
    assert r.status_code == 403
    assert table_counts(platform) == before


def test_municipality_sees_and_revokes_only_its_own_certificates(api):
    serial = _issue(api, who="chiyoda").json()["serial"]
    assert api.get(f"/api/v1/certificates/{serial}", headers=_h(api, "shinjuku")).status_code == 404
    r = api.post(f"/api/v1/certificates/{serial}/revocation", json={"reason": "request"}, headers=_h(api, "shinjuku"))
    assert r.status_code == 404
    listing = api.get("/api/v1/certificates", headers=_h(api, "shinjuku")).json()
    assert listing["items"] == []
    r = api.post(f"/api/v1/certificates/{serial}/revocation", json={"reason": "request"}, headers=_h(api, "chiyoda"))
    assert r.status_code == 201 and r.json()["rule"] == "R-REV-1"
    assert api.get(f"/api/v1/certificates/{serial}", headers=_h(api, "operator")).json()["status"] == "revoked"


def test_repeated_revocation_is_409(api):
    serial = _issue(api).json()["serial"]
    api.post(f"/api/v1/certificates/{serial}/revocation", json={"reason": "request"}, headers=_h(api, "operator"))
    r = api.post(f"/api/v1/certificates/{serial}/revocation", json={"reason": "request"}, headers=_h(api, "operator"))
    assert r.status_code == 409 and r.json()["error"] == "already-revoked"


@pytest.mark.parametrize(
    "over,status,code",
    [
        ({"public_key_pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}, 422, "malformed-key"),
        ({"date_of_birth": "1990-02-30"}, 422, "invalid-input"),
        ({"date_of_birth": "2999-01-01", "basic4": {**SIGN_BODY["basic4"], "date_of_birth": "2999-01-01"}}, 422, "impossible-date"),
        ({"kind": "card-platinum"}, 422, "invalid-input"),
        ({"resident_code": "12"}, 422, "invalid-input"),
        ({"basic4": {**SIGN_BODY["basic4"], "name": "なりすまし 花子"}}, 409, "differs-from-register"),  # R-RA-1
        ({"basic4": {**SIGN_BODY["basic4"], "sex": "9"}}, 422, "invalid-input"),
    ],
)
def test_bad_issuance_input_is_a_specific_4xx(api, platform, over, status, code):
    before = table_counts(platform)
    r = _issue(api, **over)
    assert r.status_code == status, r.text
    assert r.json()["error"] == code and r.json()["message"]
    assert table_counts(platform) == before


@pytest.mark.parametrize("payload", ["not json", "[]", '{"kind": 5}', "{" * 5000])
def test_garbage_bodies_never_500(api, payload):
    r = api.post("/api/v1/certificates", content=payload, headers={**_h(api, "operator"), "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500


@pytest.mark.parametrize("path", ["/api/v1/certificates/zz", "/api/v1/certificates/0", "/crl/nope.crl", "/crl/card-sign.pem", "/ca/x.crt"])
def test_bad_paths_are_4xx(api, path):
    r = api.get(path, headers=_h(api, "operator"))
    assert 400 <= r.status_code < 500, r.text


def test_unknown_ca_and_bad_reason_are_422(api):
    serial = _issue(api).json()["serial"]
    assert api.post("/api/v1/authorities/card-gold/crl", headers=_h(api, "operator")).status_code == 422
    r = api.post(f"/api/v1/certificates/{serial}/revocation", json={"reason": "because"}, headers=_h(api, "operator"))
    assert r.status_code == 422


def test_pagination_walks_every_certificate_once(api):
    made = {_issue(api).json()["serial"] for _ in range(7)}
    seen, cursor = [], None
    while True:
        r = api.get("/api/v1/certificates", params={"limit": 3, **({"after": cursor} if cursor else {})}, headers=_h(api, "auditor")).json()
        seen += [c["serial"] for c in r["items"]]
        cursor = r["next"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 7


def test_crl_and_ca_certificates_are_served_where_certificates_say(api, platform):
    serial = _issue(api).json()["serial"]
    api.post(f"/api/v1/certificates/{serial}/revocation", json={"reason": "request"}, headers=_h(api, "operator"))
    r = api.post("/api/v1/authorities/card-sign/crl", headers=_h(api, "operator"))
    assert r.status_code == 201 and r.json()["entries"] == 1
    cert = x509.load_pem_x509_certificate(api.get(f"/api/v1/certificates/{serial}", headers=_h(api, "operator")).json()["pem"].encode())
    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0].full_name[0].value
    crl_resp = api.get(dp.removeprefix("http://127.0.0.1:8000"))
    assert crl_resp.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(crl_resp.content)
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    ca = x509.load_der_x509_certificate(api.get("/ca/card-sign.crt").content)
    assert crl.is_signature_valid(ca.public_key())


def test_key_compromise_needs_confirmation(api):
    r = api.post("/api/v1/authorities/card-auth/compromise", json={"confirm": "yes"}, headers=_h(api, "operator"))
    assert r.status_code == 422
    r = api.post("/api/v1/authorities/card-auth/compromise", json={"confirm": "card-auth"}, headers=_h(api, "operator"))
    assert r.status_code == 201
    assert api.get("/notices").json()[0]["authority"] == "card-auth"


def test_openapi_schema_and_home_page(api):
    schema = api.get("/openapi.json").json()
    assert "/api/v1/certificates" in schema["paths"] and "/api/v1/certificates/{serial}/revocation" in schema["paths"]
    home = api.get("/")
    assert home.status_code == 200 and "card-sign" in home.text
    assert api.get("/healthz").json() == {"status": "ok"}
