"""The whole entitlement matrix, generated from myna.access.routes and called cell by cell
against the application (R-RA-2, R-VER-1..7).

Cells: every API operation x every role (municipality tokens on their own and on another
municipality's residents) x every verifier type (with and without the holder's consent),
plus anonymous callers. Expected: allowed, 403, 401, or 404 *with the same answer as an
unknown target* (R-RA-2: a resident registered elsewhere is as if absent).

One store is built for the module (two municipalities, each with a resident holding an
active card and its certificates, a resident whose card waits at the counter, applications,
a shipment and a fee; a verifier of every type, the specific user-auth verifier with an
agreement, consents of one holder). Each allowed cell that writes runs on a copy: the
SQLite file is saved by the backup API and put back after it. Access control does not
depend on the store engine, so this module always runs on SQLite.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from myna_testing import T0, PooledFileBackend

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cards"))
from cm_support import CHIYODA, SHINJUKU, moved_in, photo  # noqa: E402

from myna.access.entitlements import Operation, VerifierType  # noqa: E402
from myna.access.roles import Role
from myna.access.routes import ENTRIES, TABLE, VERIFIER_ROLES, Credential, Entry, Outcome, expected, expected_verifier  # noqa: E402
from myna.access.tokens import Tokens  # noqa: E402
from myna.authority.ceremony import run_ceremony  # noqa: E402
from myna.authority.platform import Platform  # noqa: E402
from myna.cards.applications import Applications  # noqa: E402
from myna.clock import FixedClock  # noqa: E402
from myna.settings import Settings  # noqa: E402
from myna.store.models_card_management import CardFee  # noqa: E402
from myna.verifiers.consent import Consents  # noqa: E402
from myna.verifiers.registry import VerifierRegistry  # noqa: E402
from myna.web.app import create_app  # noqa: E402
from myna.web.openapi import routes_of  # noqa: E402
from myna.web.routers.authorities import authorities_out  # noqa: E402
from myna.wiring import build  # noqa: E402

TOWNS = {"own": CHIYODA, "other": SHINJUKU}
UNKNOWN_RESIDENT = "39999999999"
UNKNOWN_CARD = "FFFFFFFFFFFFFFF0"
UNKNOWN_SERIAL = "7fffffffffffffffffffffffffffff01"
HANDOVER = {
    "identity_document": "driving-licence",
    "face_matches_photo": True,
    "pins": {"auth": "1234", "sign": "ABC123"},
    "pins_entered_by": "holder",
}
ROLES_PLAIN = [Role.OPERATOR, Role.AUDITOR, Role.CENTRE, Role.CALL_CENTRE]


def app_operations(app) -> dict[str, object]:
    """'METHOD /path' -> the route, for every route of the application (HEAD aside)."""
    out = {}
    for path, methods, route in routes_of(app):
        for method in methods or []:
            if method != "HEAD":
                out[f"{method} {path}"] = route
    return out


def declared_roles(route) -> frozenset[Role] | None:
    """The roles of the route's require(...) / guard(...) dependency, if it has one."""
    found = (
        [d.call.roles for d in getattr(route, "dependant", None).dependencies if hasattr(d.call, "roles")]
        if getattr(route, "dependant", None)
        else []
    )
    assert len(found) <= 1, route
    return found[0] if found else None


# -- the store ---------------------------------------------------------------------------------


@dataclass
class Town:
    code: str
    resident: str  # holds an active card
    waiting: str  # their card is shipped, waiting at the counter
    card: str
    waiting_card: str
    application: str
    shipment: str
    fee: int
    sign: str
    auth: str


@dataclass
class World:
    platform: Platform
    client: TestClient
    db_path: Path
    tokens: dict[str, str]
    towns: dict[str, Town]  # "own" (Chiyoda), "other" (Shinjuku)
    verifiers: dict[VerifierType, str]  # type -> bound token
    notice: str
    outage: int
    slugs: dict[str, str]  # sign / auth -> CA slug

    def snapshot(self) -> sqlite3.Connection:
        self.platform.db.engine.dispose()
        copy = sqlite3.connect(":memory:")
        with sqlite3.connect(self.db_path) as src:
            src.backup(copy)
        return copy

    def restore(self, copy: sqlite3.Connection) -> None:
        self.platform.db.engine.dispose()
        with sqlite3.connect(self.db_path) as dst:
            copy.backup(dst)
        copy.close()


def _form(code: str, name: str, dob: dt.date, **over) -> dict:
    body = {
        "resident_code": code,
        "name": name,
        "date_of_birth": dob.isoformat(),
        "sex": "1",
        "address": "東京都千代田区千代田2-2",
        "photo_base64": base64.b64encode(photo()).decode(),
    }
    body.update(over)
    return body


PEOPLE = {
    CHIYODA: [("31000000001", "佐藤 太郎"), ("31000000002", "鈴木 一郎")],
    SHINJUKU: [("32000000001", "高橋 次郎"), ("32000000002", "田中 三郎")],
}
DOB = dt.date(1990, 6, 15)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    tmp = tmp_path_factory.mktemp("matrix")
    db_path = tmp / "myna.db"
    settings = Settings(home=tmp / "home", database_url=f"sqlite:///{db_path}", public_url="http://127.0.0.1:8000")
    p = Platform.open(settings, FixedClock(T0))
    p._backends["file"] = PooledFileBackend(settings.keys_dir)
    run_ceremony(p, "test-operator")
    t = Tokens(p)
    tokens = {
        "operator": t.create(Role.OPERATOR, "op"),
        "auditor": t.create(Role.AUDITOR, "audit"),
        "centre": t.create(Role.CENTRE, "centre"),
        "call-centre": t.create(Role.CALL_CENTRE, "call"),
    }
    client = TestClient(create_app(p, schedule=False), raise_server_exceptions=False)
    op = {"Authorization": f"Bearer {tokens['operator']}"}
    for town in (CHIYODA, SHINJUKU):
        for code, name in PEOPLE[town]:
            moved_in(p, code, name, DOB, dt.date(2026, 3, 1), municipality=town)
        tokens[town] = t.create(Role.MUNICIPALITY, "clerk", town)
    apps = {}
    for town in (CHIYODA, SHINJUKU):
        h = {"Authorization": f"Bearer {tokens[town]}"}
        for code, name in PEOPLE[town]:
            r = client.post("/api/v1/card-applications", json=_form(code, name, DOB), headers=h)
            assert r.status_code == 201 and r.json()["status"] == "accepted", r.text
            apps[code] = r.json()["application_id"]
    made = client.post("/api/v1/production/batches", headers=op)
    assert made.status_code == 200, made.text
    shipped = client.post("/api/v1/shipments", headers=op)
    assert shipped.status_code == 200, shipped.text
    shipments = {s["municipality_code"]: s["shipment_id"] for s in shipped.json()}
    towns = {}
    for key, town in TOWNS.items():
        h = {"Authorization": f"Bearer {tokens[town]}"}
        (active, _), (waiting, _) = PEOPLE[town]
        cards = {code: client.get(f"/api/v1/card-applications/{apps[code]}", headers=op).json()["card_id"] for code in (active, waiting)}
        r = client.post(f"/api/v1/cards/{cards[active]}/handover", json=HANDOVER, headers=h)
        assert r.status_code == 200, r.text
        certs = client.get(f"/api/v1/cards/{cards[active]}/management", headers=h).json()["certificates"]
        with p.db.session() as s:
            fee = CardFee(
                card_id=cards[active], resident_code=active, municipality_code=town, item="card-reissue", amount_yen=800, due_at=T0
            )
            s.add(fee)
            s.flush()
            fee_id = fee.id
        towns[key] = Town(
            town, active, waiting, cards[active], cards[waiting], apps[active], shipments[town], fee_id, certs["sign"], certs["auth"]
        )
    verifiers = {}
    registry = VerifierRegistry(p)
    registry.register("PO1", "Platform Operator Co.", VerifierType.PLATFORM_OPERATOR, "test")
    for vtype in VerifierType:
        code = f"V-{vtype.value}"
        registry.register(code, f"{code} Co.", vtype, "test", "PO1" if vtype is VerifierType.ENTRUSTING_BUSINESS else None)
        if vtype is not VerifierType.ENTRUSTING_BUSINESS:
            verifiers[vtype] = build(p).credentials.create_token(code, "test")
        # The holder in the own town consents to every verifier; the other town's holder to none.
        Consents(p).grant_via_portal(towns["own"].resident, code, "test")
    registry.record_agreement(f"V-{VerifierType.SPECIFIC_USER_AUTH.value}", "AGR-1", "test")
    mailed, _ = Applications(p).mail_notices("test")
    r = client.post(
        "/api/v1/operations/outages",
        json={"service": "jpki-verifier", "started_at": (T0 - dt.timedelta(hours=1)).isoformat(), "cause": "matrix"},
        headers=op,
    )
    assert r.status_code == 201, r.text
    slugs = {a.kind: a.slug for a in authorities_out(p) if a.active}
    w = World(
        p,
        client,
        db_path,
        tokens,
        towns,
        verifiers,
        mailed[0]["notice_id"],
        r.json()["id"],
        {"sign": slugs["card-sign"], "auth": slugs["card-auth"]},
    )
    yield w
    client.close()
    p.close()


# -- the requests ---------------------------------------------------------------------------------

_ids = itertools.count(1)


def _key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def request_for(w: World, entry: Entry, town: Town | None) -> tuple[str, dict]:
    """(url, request kwargs) of a well-formed call of ``entry`` on ``town``'s resident, or on
    unknown targets when ``town`` is None."""
    n = next(_ids)
    resident = town.resident if town else UNKNOWN_RESIDENT
    card = town.card if town else UNKNOWN_CARD
    values = {
        "serial": town.auth if town else UNKNOWN_SERIAL,
        "resident_code": resident,
        "application_id": town.application if town else "A-UNKNOWN-0000",
        "shipment_id": town.shipment if town else "S-UNKNOWN-0000",
        "card_id": town.waiting_card if town and entry.path.endswith(("handover", "pickup-notice")) else card,
        "fee_id": town.fee if town else 999_999,
        "notice_id": w.notice,
        "outage_id": w.outage,
        "kind": "card-sign",
        "code": "V-signature",
        "year": 2026,
        "name": "root.crt" if entry.path.startswith("/ca/") else "root.crl",
    }
    url = entry.path.format(**values)
    body: dict = {}
    path = entry.path
    if entry.method == "POST":
        if path.endswith("/certificates"):
            body = {
                "json": {
                    "request_id": f"matrix-{n}",
                    "kind": "card-auth",
                    "public_key_pem": _key_pem(),
                    "resident_code": resident,
                    "date_of_birth": DOB.isoformat(),
                }
            }
        elif path.endswith("/revocation"):
            body = {"json": {"reason": "request"}}
        elif path.endswith("/residents/events"):
            body = {
                "json": {
                    "event_id": f"matrix-{n}",
                    "type": "address-change",
                    "resident_code": resident,
                    "effective_date": "2026-03-20",
                    "address": "東京都千代田区千代田3-3",
                }
            }
        elif path.endswith("/number"):
            url += "?reason=leak"
        elif path.endswith("/card-applications"):
            body = {"json": _form(resident, "佐藤 太郎", DOB, source_ref=f"matrix-{n}")}
        elif path.endswith("/handover"):
            body = {"json": HANDOVER}
        elif path.endswith("/reissue"):
            body = {"json": {"application": _form(resident, "佐藤 太郎", DOB, reason="reissue")}}
        elif path.endswith(("/suspend", "/lift", "/loss", "/return", "/abolish")):
            body = {"json": {"note": "matrix"}}
        elif path.endswith("/returned"):
            body = {"json": {"reason": "宛所に尋ねあたりません"}}
        elif path.endswith("/municipalities"):
            body = {"json": {"code": "011002", "name": "札幌市"}}
        elif path.endswith("/paper"):
            body = {"files": {"file": ("forms.jsonl", b"")}}
        elif path.endswith("/compromise"):
            body = {"json": {"confirm": "not-the-slug"}}  # refused after the access check: nothing compromised
        elif path.endswith("/card-applications/qr"):
            body = {"json": {"qr": "not a form"}}
        elif path.endswith("/verifiers"):
            body = {"json": {"code": f"NEW{n}", "name": "New Co.", "type": "signature"}}
        elif path.endswith("/status") and "/verifiers/" in path:
            body = {"json": {"status": "suspended"}}
        elif path.endswith("/agreement"):
            body = {"json": {"reference": "AGR-2"}}
        elif path.endswith("/client-certificates"):
            body = {"json": {"public_key": _key_pem()}}
        elif path.endswith("/renewals"):
            body = {"json": {"old_serial": w.towns["own"].auth, "new_serial": w.towns["other"].auth}}
        elif path.endswith("/outages"):
            body = {"json": {"service": "jpki-verifier", "started_at": T0.isoformat(), "planned": True, "cause": "matrix"}}
        elif path.endswith("/end"):
            body = {"json": {"ended_at": T0.isoformat()}}
        elif path.endswith("/traffic"):
            body = {"json": {"centre": "east", "minute": T0.isoformat(), "ocsp": 1, "crl": 0}}
        elif entry.credential is Credential.SIGNED:
            body = {"json": {"document": "", "signature": "", "public_key": "", "proof": ""}}
    return url, body


def call(w: World, entry: Entry, token: str | None, town: Town | None):
    url, kwargs = request_for(w, entry, town)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    writes = entry.method != "GET"
    saved = w.snapshot() if writes else None
    try:
        return w.client.request(entry.method, url, headers=headers, **kwargs)
    finally:
        if saved is not None:
            w.restore(saved)


def _without(text: str, ids: list[str]) -> str:
    for value in ids:
        text = re.sub(rf"\b{re.escape(str(value))}\b", "<id>", text, flags=re.IGNORECASE)
    return text


def target_ids(town: Town | None) -> list[str]:
    if town is None:
        return [UNKNOWN_RESIDENT, UNKNOWN_CARD, UNKNOWN_SERIAL, "A-UNKNOWN-0000", "S-UNKNOWN-0000", "999999"]
    return [town.resident, town.card, town.waiting_card, town.auth, town.sign, town.application, town.shipment, str(town.fee)]


def check(outcome: Outcome, r, absent=None, entry: Entry | None = None, ids=((), ())) -> None:
    where = f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}"
    assert r.status_code < 500, where
    if outcome is Outcome.UNAUTHENTICATED:
        assert r.status_code == 401, where
    elif outcome is Outcome.FORBIDDEN:
        assert r.status_code == 403, where
    elif outcome is Outcome.ABSENT:
        assert absent is not None
        # The same answer, the identifier asked for aside (messages name what was asked).
        same = _without(r.text, ids[0]) == _without(absent.text, ids[1])
        assert r.status_code == absent.status_code and same, f"{where}\nunknown target answers {absent.status_code} {absent.text[:300]}"
        assert r.status_code == 404, where
    else:
        assert r.status_code not in (401, 403), where
        if entry is not None and entry.credential is Credential.TOKEN:
            assert r.status_code != 404, where  # a real target of the caller's own


# -- the cells ----------------------------------------------------------------------------------

TOKEN_ENTRIES = [e for e in ENTRIES if e.credential in (Credential.TOKEN, Credential.PUBLIC, Credential.SIGNED)]


def token_cells():
    for e in TOKEN_ENTRIES:
        yield pytest.param(e, None, "own", id=f"{e.key}|anonymous")
        for role in ROLES_PLAIN:
            yield pytest.param(e, role, "own", id=f"{e.key}|{role.value}")
        for vtype in VerifierType:
            if vtype is not VerifierType.ENTRUSTING_BUSINESS:
                yield pytest.param(e, vtype, "own", id=f"{e.key}|verifier:{vtype.value}")
        for side in ("own", "other"):
            yield pytest.param(e, Role.MUNICIPALITY, side, id=f"{e.key}|municipality:{side}")


@pytest.mark.parametrize(("entry", "who", "side"), list(token_cells()))
def test_r_ra_2_token_cell(world: World, entry: Entry, who, side: str):
    """Every bearer-token role, anonymous callers and verifier tokens on every API operation;
    municipality tokens on their own residents and on another municipality's (R-RA-2)."""
    if isinstance(who, VerifierType):
        token, role = world.verifiers[who], next(iter(r for r in VERIFIER_ROLES if r.value == _verifier_role(who)))
    elif who is Role.MUNICIPALITY:
        token, role = world.tokens[CHIYODA], who
    elif who is None:
        token, role = None, None
    else:
        token, role = world.tokens[who.value], who
    outcome = expected(entry, role, own=side == "own")
    town = world.towns[side]
    r = call(world, entry, token, town)
    absent = call(world, entry, token, None) if outcome is Outcome.ABSENT else None
    check(outcome, r, absent, entry, (target_ids(town), target_ids(None)))
    if outcome is Outcome.ALLOWED and entry.listing and role is Role.MUNICIPALITY:
        other = world.towns["other"]
        for secret in (other.resident, other.waiting, other.sign, other.auth):
            assert secret not in r.text, f"{entry.key} shows another municipality's {secret}"


def _verifier_role(vtype: VerifierType) -> str:
    from myna.access.entitlements import TOKEN_ROLE

    return TOKEN_ROLE[vtype].value


def verifier_requests(w: World, op: Operation | None, consent: bool) -> tuple[str, str]:
    own, other = w.towns["own"], w.towns["other"]
    holder = own if consent else other
    return {
        None: ("GET", "/api/v1/verifier/whoami"),
        Operation.STATUS_SIGN: ("GET", f"/api/v1/verifier/status/sign/{own.sign}"),
        Operation.STATUS_AUTH: ("GET", f"/api/v1/verifier/status/auth/{own.auth}"),
        Operation.FILE_SIGN: ("GET", f"/api/v1/verifier/revocation-files/{w.slugs['sign']}.crl"),
        Operation.FILE_AUTH: ("GET", f"/api/v1/verifier/revocation-files/{w.slugs['auth']}.crl"),
        Operation.BASIC4: ("GET", f"/api/v1/verifier/basic4/{holder.sign}"),
        Operation.CORRESPONDING_SIGN_MOBILE: ("GET", f"/api/v1/verifier/corresponding/sign-mobile/{own.sign}"),
        Operation.CORRESPONDING_AUTH_MOBILE: ("GET", f"/api/v1/verifier/corresponding/auth-mobile/{own.auth}"),
        Operation.CORRESPONDING_SIGN_AUTH: ("GET", f"/api/v1/verifier/corresponding/sign-auth/{own.sign}"),
        Operation.RENEWAL_SIGN: ("GET", f"/api/v1/verifier/renewal/sign/{own.sign}"),
        Operation.RENEWAL_AUTH: ("GET", f"/api/v1/verifier/renewal/auth/{own.auth}"),
        Operation.CERTIFICATION_CODE: ("POST", "/api/v1/verifier/certification-code"),
    }[op]


def verifier_cells():
    for e in ENTRIES:
        if e.credential is not Credential.VERIFIER:
            continue
        for op in e.verifier_ops or (None,):
            tag = op.value if op else "whoami"
            for consent in (True, False) if op is Operation.BASIC4 else (True,):
                ctag = "" if op is not Operation.BASIC4 else ("|consent" if consent else "|no-consent")
                for vtype in VerifierType:
                    if vtype is not VerifierType.ENTRUSTING_BUSINESS:
                        yield pytest.param(e, op, vtype, consent, id=f"{e.key}|{tag}|verifier:{vtype.value}{ctag}")
                for who in [None, *ROLES_PLAIN, Role.MUNICIPALITY]:
                    yield pytest.param(e, op, who, consent, id=f"{e.key}|{tag}|{who.value if who else 'anonymous'}{ctag}")


@pytest.mark.parametrize(("entry", "op", "who", "consent"), list(verifier_cells()))
def test_r_ver_verifier_cell(world: World, entry: Entry, op, who, consent: bool):
    """Every verifier type on every verifier operation, basic 4 with and without the
    holder's consent (R-VER-1..5, R-VER-2); other credentials are not verifier credentials."""
    method, url = verifier_requests(world, op, consent)
    if isinstance(who, VerifierType):
        token, outcome = world.verifiers[who], expected_verifier(who, op, consent)
    else:
        token = None if who is None else world.tokens[CHIYODA if who is Role.MUNICIPALITY else who.value]
        outcome = expected(entry, who)
    r = world.client.request(method, url, headers={"Authorization": f"Bearer {token}"} if token else {})
    check(outcome, r)


# -- the table and the application agree ---------------------------------------------------------


def test_every_route_has_exactly_one_entry_and_the_same_roles(world: World):
    """A new route without an entry, an entry without a route, or a route whose require(...)
    names other roles than the table fails here (the table is the one source of truth)."""
    ops = app_operations(world.client.app)
    missing = sorted(set(ops) - set(TABLE))
    stale = sorted(set(TABLE) - set(ops))
    assert not missing, f"routes without an entry in myna.access.routes: {missing}"
    assert not stale, f"entries without a route: {stale}"
    for key, route in ops.items():
        entry = TABLE[key]
        declared = declared_roles(route)
        if entry.credential in (Credential.TOKEN, Credential.SCREEN) and entry.roles:
            assert declared == entry.roles, f"{key}: the route requires {declared}, the table says {entry.roles}"
        else:
            assert declared is None, f"{key}: the route checks roles {declared} but the table says {entry.credential.value}"


def test_the_matrix_is_whole():
    """The number of cells called, so a shrinking matrix is noticed."""
    cells = len(list(token_cells())) + len(list(verifier_cells()))
    api = [e for e in ENTRIES if e.credential is not Credential.SCREEN]
    assert len(api) == 75 and cells >= 1000, cells  # 70 operations in the schema, and /, /healthz and the docs


# -- whose resident: the holder's registration, not the issuing municipality ------------------------


def test_r_ra_2_a_certificate_issued_through_another_municipality_belongs_to_the_holders(world: World):
    """The probe's case: a certificate for a Chiyoda resident recorded as issued through
    Shinjuku. Chiyoda (the holder's municipality) reads, lists and revokes it; Shinjuku gets
    the answer of an unknown serial and does not list it."""
    own, other = world.towns["own"], world.towns["other"]
    saved = world.snapshot()
    try:
        with world.platform.db.session() as s:
            from myna.pki import serials
            from myna.store import models as m

            s.get(m.Certificate, serials.to_store(serials.parse(own.sign))).municipality_code = other.code
        chiyoda, shinjuku = ({"Authorization": f"Bearer {world.tokens[c]}"} for c in (CHIYODA, SHINJUKU))
        c = world.client
        assert c.get(f"/api/v1/certificates/{own.sign}", headers=chiyoda).status_code == 200
        assert own.sign in c.get("/api/v1/certificates?limit=1000", headers=chiyoda).text
        assert own.sign not in c.get("/api/v1/certificates?limit=1000", headers=shinjuku).text
        for method, tail, body in [("GET", "", None), ("POST", "/revocation", {"reason": "request"})]:
            r = c.request(method, f"/api/v1/certificates/{own.sign}{tail}", headers=shinjuku, json=body)
            unknown = c.request(method, f"/api/v1/certificates/{UNKNOWN_SERIAL}{tail}", headers=shinjuku, json=body)
            assert r.status_code == unknown.status_code == 404
            assert _without(r.text, [own.sign]) == _without(unknown.text, [UNKNOWN_SERIAL])
        assert c.post(f"/api/v1/certificates/{own.sign}/revocation", headers=chiyoda, json={"reason": "request"}).status_code == 201
    finally:
        world.restore(saved)
