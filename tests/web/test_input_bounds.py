"""Inputs that cost the server too much, or that it cannot hold: deeply nested JSON (with
and without a NUL), and integers past what the store's BIGINT columns hold. Each answers a
specific 4xx, never a 500, on routes with and without a token."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.web.app import create_app
from myna.web.guard import _has_nul_json

DEPTH = 100_000
DEEP = {
    "array": "[" * DEPTH + "]" * DEPTH,
    "array-nul": "[" * DEPTH + '"\\u0000"' + "]" * DEPTH,
    "object": '{"a":' * DEPTH + "1" + "}" * DEPTH,
    "object-nul": '{"a":' * DEPTH + '"x\\u0000"' + "}" * DEPTH,
}
# An authenticated route, and two public ones (no token: the QR application, the mobile application).
ROUTES = ["/api/v1/certificates", "/api/v1/card-applications/qr", "/api/v1/mobile/applications"]


@pytest.fixture
def api(platform):
    tokens = Tokens(platform)
    client = TestClient(create_app(platform, schedule=False), raise_server_exceptions=False)
    client.tokens = {
        "operator": tokens.create(Role.OPERATOR, "op"),
        "municipality": tokens.create(Role.MUNICIPALITY, "clerk", "131016"),
        "centre": tokens.create(Role.CENTRE, "centre"),
        "auditor": tokens.create(Role.AUDITOR, "audit"),
    }
    return client


@pytest.mark.parametrize("kind", sorted(DEEP))
@pytest.mark.parametrize("route", ROUTES)
def test_deeply_nested_json_is_422_with_or_without_a_token(api, route, kind):
    for headers in ({}, {"Authorization": f"Bearer {api.tokens['operator']}"}):
        r = api.post(route, content=DEEP[kind], headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 422, (headers, r.status_code, r.text[:200])
        assert r.json()["error"] == "invalid-input"
        assert ("NUL" in r.json()["message"]) == kind.endswith("-nul")


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('\\u0\x00a"/')),
        lambda c: st.lists(c) | st.dictionaries(st.text(alphabet="\\u0\x00k"), c),
        max_leaves=12,
    )
)
def test_the_nul_guard_reads_json_text_as_a_parser_would(value):
    """The textual scan agrees with parsing: NUL found exactly when a string holds U+0000,
    however the backslashes before "u0000" are escaped."""

    def holds_nul(v) -> bool:
        if isinstance(v, str):
            return "\x00" in v
        if isinstance(v, dict):
            return any(holds_nul(k) or holds_nul(x) for k, x in v.items())
        return isinstance(v, list) and any(holds_nul(x) for x in v)

    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False).replace("\x00", "\\u0000")):
        assert _has_nul_json(text.encode()) == holds_nul(value), text


def _integer_parameters(schema: dict):
    """(method, path, where, name) of every integer parameter and body field in the schema."""
    comps = schema.get("components", {}).get("schemas", {})

    def ints(s, seen=()):
        if "$ref" in s:
            name = s["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                yield from ints(comps[name], seen + (name,))
            return
        for k in ("anyOf", "oneOf", "allOf"):
            for sub in s.get(k, []):
                yield from ints(sub, seen)
        if s.get("type") == "integer":
            yield None
        for field, sub in s.get("properties", {}).items():
            for inner in ints(sub, seen):
                yield field if inner is None else f"{field}.{inner}"

    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            for prm in op.get("parameters", []):
                if any(True for _ in ints(prm.get("schema", {}))):
                    yield method, path, prm["in"], prm["name"]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            for field in ints(body or {}):
                if field is not None:
                    yield method, path, "body", field


BIG = [2**63, 2**64, -(2**63) - 1]


def test_every_integer_parameter_past_a_bigint_is_4xx_never_500(api):
    """Every integer in the schema (path, query, body) at 2^63, 2^64 and -2^63 - 1, with
    each role's token: never a 5xx, and for some role the value is refused as such (422)
    or names nothing (404)."""
    found = list(_integer_parameters(api.app.openapi()))
    assert {(p, n) for _m, p, _w, n in found} >= {
        ("/api/v1/feed/status", "after"),
        ("/api/v1/card-fees/{fee_id}/collect", "fee_id"),
        ("/api/v1/operations/outages/{outage_id}/end", "outage_id"),
    }
    failures = []
    for method, path, where, name in found:
        for value in BIG:
            answers = set()
            url = path
            for other in (
                "fee_id",
                "outage_id",
                "year",
                "serial",
                "code",
                "card_id",
                "application_id",
                "notice_id",
                "shipment_id",
                "resident_code",
                "purpose",
                "pair",
                "slug",
            ):
                url = url.replace("{" + other + "}", str(value) if other == name else "1")
            params = {"after": "0"} if path == "/api/v1/feed/status" else {}
            body = {"ended_at": "2026-01-01T00:00:00+00:00", "minute": "2026-01-01T00:00:00+00:00", "centre": "platform"}
            if where == "query":
                params[name] = str(value)
            elif where == "body":
                body[name] = value
            for token in api.tokens.values():
                r = api.request(method.upper(), url, params=params, json=body, headers={"Authorization": f"Bearer {token}"})
                answers.add(r.status_code)
            if any(s >= 500 for s in answers) or not answers & {404, 422}:
                failures.append((method, path, name, value, sorted(answers)))
    assert failures == []


@pytest.mark.parametrize("also", [str(2**63), str(2**64), f"1,{2**63}", "-1", "1," * 10_001])
def test_feed_also_seqs_are_bounded(api, also):
    r = api.get("/api/v1/feed/status", params={"after": "0", "also": also}, headers={"Authorization": f"Bearer {api.tokens['centre']}"})
    assert r.status_code == 422, r.text
