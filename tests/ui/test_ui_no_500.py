"""No screen answers 500, whatever is sent: every /ui route, as every kind of visitor, with
missing, garbage and oversized form fields and path parameters."""

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ui_support import resident_with_card, sign_in

from myna.authority.tokens import Role, Tokens

GARBAGE = ["", " ", "x" * 5000, "'; DROP TABLE cards; --", "\x00", "２０２６-０４-０１", "-1", "9" * 40, "<script>alert(1)</script>", "%ZZ", "../../etc/passwd"]


def _routes(routes, prefix=""):
    """Flatten included routers (FastAPI may keep them as wrappers around the APIRouter)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes, prefix + route.include_context.prefix)
        else:
            yield prefix, route


def ui_routes(app):
    for prefix, route in _routes(app.routes):
        path = prefix + getattr(route, "path", "")
        if path.startswith("/ui"):
            for method in sorted(getattr(route, "methods", []) or []):
                if method in ("GET", "POST"):
                    yield method, path, getattr(route, "dependant", None)


def form_fields(dependant) -> list[str]:
    if dependant is None:
        return []
    names = [p.alias for p in dependant.body_params]
    for sub in dependant.dependencies:
        names += [p.alias for p in sub.body_params]
    return names


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


def fill(path: str, value: str) -> str:
    out = []
    for part in path.split("/"):
        out.append(quote(value, safe="") if part.startswith("{") else part)
    return "/".join(out)


def test_every_screen_route_with_garbage_as_every_visitor(platform, portal, visitors):
    resident_with_card(platform)
    routes = list(ui_routes(portal.app))
    assert len(routes) > 20
    for who, credential in visitors.items():
        visit_as(portal, who, credential)
        for method, path, dependant in routes:
            for value in GARBAGE[:6]:
                url = fill(path, value.strip("/") or "x")
                if method == "GET":
                    r = portal.get(url, params={"lang": value, "code": value, "receipt": value, "next": value}, follow_redirects=False)
                else:
                    r = portal.post(url, data={name: value for name in form_fields(dependant)}, follow_redirects=False)
                assert r.status_code < 500, (who, method, url, value, r.text[:300])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["type", "resident_code", "effective_date", "name", "date_of_birth", "sex", "address", "planned_date", "reason", "event_id"]), st.text(max_size=40)))
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
