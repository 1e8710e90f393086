"""POST /api/v1/certificates against the resident register (R-CERT-4, R-RA-1, R-RA-2) and
its request ids under concurrency (R-RA-3), over HTTP: the TestClient for the rules, a
live uvicorn server with threads for the race."""

from __future__ import annotations

import uuid

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from myna_testing import ec_public_pem, register_resident, table_counts
from race_support import live_server, together

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.pki.basic4 import Basic4, Sex
from myna.web.app import create_app

CHIYODA, SHINJUKU = "131016", "131041"
OF_CHIYODA, OF_SHINJUKU, UNKNOWN = "22233344455", "33344455566", "44455566677"
RECORD = {"name": "登録 太郎", "date_of_birth": "1980-02-29", "sex": "1", "address": "東京都千代田区永田町1-7-1"}
SHINJUKU_ADDRESS = "東京都新宿区西新宿2-8-1"
INVENTED = {"name": "なりすまし 花子", "date_of_birth": "1990-06-15", "sex": "2", "address": "大阪府大阪市北区梅田1-1"}


def _b4(d: dict) -> Basic4:
    import datetime as dt

    return Basic4(d["name"], dt.date.fromisoformat(d["date_of_birth"]), Sex(d["sex"]), d["address"])


def _register(platform) -> None:
    register_resident(platform, OF_CHIYODA, CHIYODA, _b4(RECORD))
    register_resident(platform, OF_SHINJUKU, SHINJUKU, _b4({**RECORD, "address": SHINJUKU_ADDRESS}))


def _tokens(platform) -> dict[str, str]:
    t = Tokens(platform)
    return {
        "chiyoda": t.create(Role.MUNICIPALITY, "clerk", CHIYODA),
        "shinjuku": t.create(Role.MUNICIPALITY, "clerk", SHINJUKU),
        "operator": t.create(Role.OPERATOR, "op"),
    }


@pytest.fixture
def api(platform):
    _register(platform)
    client = TestClient(create_app(platform, schedule=False), raise_server_exceptions=False)
    client.tokens = _tokens(platform)
    return client


def _post(api, who: str, **body):
    body = {"request_id": f"r-{uuid.uuid4().hex}", "kind": "card-sign", "public_key_pem": ec_public_pem().decode(), **body}
    return api.post("/api/v1/certificates", json=body, headers={"Authorization": f"Bearer {api.tokens[who]}"})


def test_r_ra_2_probe_other_municipalitys_resident_with_invented_basic4_is_404_as_unknown(api, platform):
    """Issue 13's probe, exactly: a 131041 token, a 131016 resident, invented basic 4."""
    before = table_counts(platform)
    body = dict(resident_code=OF_CHIYODA, date_of_birth=INVENTED["date_of_birth"], basic4=INVENTED)
    elsewhere = _post(api, "shinjuku", **body)
    unknown = _post(api, "shinjuku", **{**body, "resident_code": UNKNOWN})
    assert (elsewhere.status_code, unknown.status_code) == (404, 404), elsewhere.text
    assert elsewhere.json() == {k: (v.replace(UNKNOWN, OF_CHIYODA) if isinstance(v, str) else v) for k, v in unknown.json().items()}
    assert table_counts(platform) == before
    # With the resident's true basic 4 information too: the register decides, not the body.
    assert _post(api, "shinjuku", resident_code=OF_CHIYODA, basic4=RECORD).status_code == 404
    assert table_counts(platform) == before


@pytest.mark.parametrize(
    "field,value", [("name", "登録 次郎"), ("date_of_birth", "1980-03-01"), ("sex", "2"), ("address", "東京都千代田区永田町2-1")]
)
def test_r_ra_1_own_resident_with_a_differing_field_is_409_naming_it(api, platform, field, value):
    before = table_counts(platform)
    b4 = {**RECORD, field: value}
    r = _post(api, "chiyoda", resident_code=OF_CHIYODA, date_of_birth=b4["date_of_birth"], basic4=b4)
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "differs-from-register" and f"basic4.{field}" in r.json()["message"]
    message = r.json()["message"].replace("R-RA-1", "")
    assert value not in message and RECORD[field] not in message
    assert table_counts(platform) == before


def test_r_ra_1_basic4_left_out_is_the_registers_and_r_cert_4_unknown_is_404(api):
    r = _post(api, "chiyoda", resident_code=OF_CHIYODA)
    assert r.status_code == 201, r.text
    cert = x509.load_pem_x509_certificate(r.json()["pem"].encode())
    assert Basic4.from_certificate(cert).name == RECORD["name"] and r.json()["municipality_code"] == CHIYODA
    r = _post(api, "operator", resident_code=UNKNOWN, kind="card-auth")
    assert r.status_code == 404 and r.json()["error"] == "not-found"


def test_r_ra_2_operator_issues_for_any_resident_from_the_record_and_the_home_municipality_owns_it(api):
    r = _post(api, "operator", resident_code=OF_SHINJUKU)
    assert r.status_code == 201, r.text
    assert r.json()["municipality_code"] == SHINJUKU
    cert = x509.load_pem_x509_certificate(r.json()["pem"].encode())
    assert Basic4.from_certificate(cert).address == "東京都新宿区西新宿2-8-1"
    h = {"Authorization": f"Bearer {api.tokens['shinjuku']}"}
    assert api.get(f"/api/v1/certificates/{r.json()['serial']}", headers=h).status_code == 200
    r = _post(api, "operator", resident_code=OF_SHINJUKU, basic4=INVENTED, date_of_birth=INVENTED["date_of_birth"])
    assert r.status_code == 409 and r.json()["error"] == "differs-from-register"


def test_r_ra_3_another_municipalitys_request_id_reveals_nothing(api):
    """B reusing A's request id: with A's body, 404 as for another's resident (never A's
    certificate, never a 409 that would tell the id is taken); with its own, 201."""
    a = _post(api, "chiyoda", request_id="shared-1", resident_code=OF_CHIYODA)
    assert a.status_code == 201
    body = {"request_id": "shared-1", "kind": "card-sign", "resident_code": OF_CHIYODA, "public_key_pem": ec_public_pem().decode()}
    r = api.post("/api/v1/certificates", json=body, headers={"Authorization": f"Bearer {api.tokens['shinjuku']}"})
    assert r.status_code == 404
    b = _post(api, "shinjuku", request_id="shared-1", resident_code=OF_SHINJUKU)
    assert b.status_code == 201 and b.json()["serial"] != a.json()["serial"]


# -- the race, against a live server ----------------------------------------------------


@pytest.fixture
def live(platform):
    _register(platform)
    tokens = _tokens(platform)
    with live_server(platform) as url:
        yield url, tokens


TRIALS = 8
PER_MUNICIPALITY = 2  # bodies per municipality per request id, all different


def test_r_ra_3_same_request_id_different_bodies_from_two_municipalities_arriving_together(live):
    """Every answer is the caller's own certificate (the key it sent, its own resident)
    or a 409; per municipality and id exactly one body wins. Before the fix, losers got
    200 with the winner's certificate, B's callers A's."""
    url, tokens = live
    residents = {"chiyoda": OF_CHIYODA, "shinjuku": OF_SHINJUKU}
    records = {"chiyoda": RECORD, "shinjuku": {**RECORD, "address": SHINJUKU_ADDRESS}}
    outcomes = []
    for trial in range(TRIALS):
        request_id = f"race-{trial}"
        callers = [(who, i, ec_public_pem().decode()) for who in residents for i in range(PER_MUNICIPALITY)]

        def call(client: httpx.Client, who: str, i: int, key: str) -> httpx.Response:
            # Complete bodies, the register's values stated (as a client of the old API had to).
            body = {
                "request_id": request_id,
                "kind": "card-auth",
                "public_key_pem": key,
                "resident_code": residents[who],
                "date_of_birth": RECORD["date_of_birth"],
            }
            if i % 2:
                body.update(kind="card-sign", basic4=records[who])
            return client.post("/api/v1/certificates", json=body, headers={"Authorization": f"Bearer {tokens[who]}"})

        answers = together(url, [lambda c, caller=caller: call(c, *caller) for caller in callers])
        outcomes += [(trial, who, key, r.status_code, r.json()) for (who, _, key), r in zip(callers, answers)]
    assert len(outcomes) == TRIALS * len(residents) * PER_MUNICIPALITY
    winners: dict[tuple[int, str], int] = {}
    for trial, who, key, status, body in outcomes:
        assert status in (200, 201, 409), (status, body)
        if status == 409:
            assert body["error"] in ("request-id-reused", "conflict"), body
            continue
        cert = x509.load_pem_x509_certificate(body["pem"].encode())
        got = cert.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        assert got == key, f"{who} received a certificate for a key it never sent (trial {trial})"
        assert body["municipality_code"] == {"chiyoda": CHIYODA, "shinjuku": SHINJUKU}[who]
        winners[(trial, who)] = winners.get((trial, who), 0) + 1
    # Request ids are per municipality: each municipality's id was issued exactly once.
    assert winners == {(t, who): 1 for t in range(TRIALS) for who in residents}
