"""No screen answers 500, whatever is sent: every /ui route, as every kind of visitor, with
missing, garbage and oversized form fields and path parameters."""

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ui_support import resident_with_card, sign_in

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.web.openapi import routes_of

GARBAGE = [
    "",
    " ",
    "x" * 5000,
    "'; DROP TABLE cards; --",
    "\x00",
    "２０２６-０４-０１",
    "-1",
    "9" * 40,
    "<script>alert(1)</script>",
    "%ZZ",
    "../../etc/passwd",
]


def ui_routes(app):
    for path, methods, route in routes_of(app):
        if path and path.startswith("/ui"):
            for method in sorted(methods or []):
                if method in ("GET", "POST"):
                    yield method, path, getattr(route, "dependant", None)


def form_fields(dependant) -> list[str]:
    if dependant is None:
        return []
    names = [p.alias for p in dependant.body_params]
    for sub in dependant.dependencies:
        names += [p.alias for p in sub.body_params]
    return names


def query_fields(dependant) -> list[str]:
    names = {"lang", "code", "receipt", "next"}
    if dependant is not None:
        names |= {p.alias for p in dependant.query_params}
    return sorted(names)


@pytest.fixture
def visitors(platform, portal, holder):
    tokens = Tokens(platform)
    return {
        "anonymous": None,
        "operator": tokens.create(Role.OPERATOR, "ops"),
        "auditor": tokens.create(Role.AUDITOR, "audit"),
        "clerk": tokens.create(Role.MUNICIPALITY, "clerk", "131016"),
        "call-centre": tokens.create(Role.CALL_CENTRE, "cc"),
        "resident": holder,
    }


def visit_as(portal, who, credential):
    portal.cookies.clear()
    if who == "resident":
        key, serial = credential
        assert sign_in(portal, key, serial).status_code == 303
    elif credential:
        portal.post("/ui/login", data={"token": credential})


def fill(path: str, value: str, real: dict[str, str] | None = None) -> str:
    """``path`` with each {parameter} replaced by ``value``, or by the real id in ``real``."""
    out = []
    for part in path.split("/"):
        name = part.strip("{}")
        out.append(quote((real or {}).get(name, value), safe="") if part.startswith("{") else part)
    return "/".join(out)


def test_every_screen_route_with_garbage_as_every_visitor(platform, portal, visitors):
    resident_with_card(platform)
    routes = list(ui_routes(portal.app))
    assert len(routes) > 20
    for who, credential in visitors.items():
        visit_as(portal, who, credential)
        for method, path, dependant in routes:
            for value in GARBAGE:
                url = fill(path, value.strip("/") or "x")
                if method == "GET":
                    r = portal.get(url, params={name: value for name in query_fields(dependant)}, follow_redirects=False)
                else:
                    r = portal.post(url, data={name: value for name in form_fields(dependant)}, follow_redirects=False)
                assert r.status_code < 500, (who, method, url, value, r.text[:300])


def test_garbage_fields_against_a_real_card_and_resident(platform, portal, visitors):
    """The path names a real card and resident of the clerk's municipality; every field
    is garbage. Refused with a message, never a 500, and the card is not touched."""
    from myna.store.models_cards import ChipRecord

    info, card = resident_with_card(platform)
    real = {"card_id": card.card_id, "resident_code": info["resident_code"]}
    routes = [(method, path, dep) for method, path, dep in ui_routes(portal.app) if "{" in path]
    assert {p for _, p, _ in routes} >= {
        "/ui/counter/cards/{card_id}",
        "/ui/counter/cards/{card_id}/handover",
        "/ui/counter/residents/{resident_code}",
    }
    for who in ("clerk", "resident", "operator"):
        visit_as(portal, who, visitors[who])
        for method, path, dependant in routes:
            url = fill(path, "x", real)
            for value in GARBAGE:
                if method == "GET":
                    r = portal.get(url, params={name: value for name in query_fields(dependant)}, follow_redirects=False)
                else:
                    r = portal.post(url, data={name: value for name in form_fields(dependant)}, follow_redirects=False)
                assert r.status_code < 500, (who, method, url, value, r.text[:300])
    with platform.db.session() as s:
        assert s.get(ChipRecord, card.card_id).status == "active"


def test_application_with_a_garbage_photo(platform, portal, visitors):
    """A multipart application whose photograph is not a picture (or is empty, huge, or
    lies about its type): a receipt with a defect or a field error, never a 500."""
    info, _ = resident_with_card(platform)
    visit_as(portal, "clerk", visitors["clerk"])
    fields = {
        "resident_code": info["resident_code"],
        "name": info["name"],
        "date_of_birth": info["date_of_birth"],
        "sex": info["sex"],
        "address": info["address"],
    }
    photos = [
        ("me.png", b"", "image/png"),
        ("me.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"),
        ("me.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, "image/jpeg"),
        ("me.png", "<script>alert(1)</script>".encode(), "text/html"),
        ("../../etc/passwd", b"root:x:0:0", "application/octet-stream"),
        ("big.png", b"\x00" * (5 * 1024 * 1024 + 1), "image/png"),
    ]
    for i, photo in enumerate(photos):
        for value in ("", *GARBAGE[:4]):
            data = fields | {
                "source_ref": f"garbage-{i}-{len(value)}",
                "express": value,
                "reason": value,
                "replaces": value if value.strip() else "",
            }
            r = portal.post("/ui/counter/applications", data=data, files={"photo": photo}, follow_redirects=False)
            assert r.status_code in (200, 422), (photo[0], value, r.status_code, r.text[:300])
    r = portal.post("/ui/counter/applications", data=fields | {"source_ref": "big"}, files={"photo": photos[-1]})
    assert r.status_code == 422 and 'id="photo-error"' in r.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(
            ["type", "resident_code", "effective_date", "name", "date_of_birth", "sex", "address", "planned_date", "reason", "event_id"]
        ),
        st.text(max_size=40),
    )
)
def test_event_form_fuzz(platform, portal, visitors, data):
    visit_as(portal, "clerk", visitors["clerk"])
    r = portal.post("/ui/counter/events", data=data, follow_redirects=False)
    assert r.status_code in (303, 422), r.text[:300]


def test_a_resident_cannot_reach_the_counter_or_the_console(portal, visitors):
    visit_as(portal, "resident", visitors["resident"])
    for url in ("/ui/counter", "/ui/console", "/ui/counter/cards/0123456789ABCDEF"):
        r = portal.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login"), url
    visit_as(portal, "call-centre", visitors["call-centre"])
    assert portal.get("/ui/counter").status_code == 403
