"""R-VER-1..5, R-VER-7: every verifier type against every endpoint — allowed exactly where
the rules allow, refused otherwise with 403 ``not-entitled`` and a message naming the rule.

The expected table is written out here from SPEC §5, independently of the code's table.
"""

from __future__ import annotations

import pytest
from ver_support import bearer, make_holder

from myna.access.entitlements import NotEntitled, Operation, VerifierType, allowed
from myna.authority.crls import CrlService
from myna.errors import Conflict
from myna.verifiers.consent import Consents
from myna.verifiers.credentials import Caller
from myna.verifiers.registry import VerifierRegistry
from myna.wiring import build

TYPES = [
    "signature",
    "group-signature",
    "user-auth",
    "specific-user-auth",
    "signature-and-user-auth",
    "platform-operator",
    "entrusting-business",
]
OPS = [
    "status-sign",
    "status-auth",
    "file-sign",
    "file-auth",
    "basic4",
    "corresponding-sign-mobile",
    "corresponding-auth-mobile",
    "corresponding-sign-auth",
    "renewal-sign",
    "renewal-auth",
    "certification-code",
]
# rows: operations; columns: TYPES in order (sig, group-sig, ua, specific-ua, both, platform-operator, entrusting)
EXPECTED_GRID = {
    "status-sign": "YY--YY-",
    "status-auth": "--YYYY-",
    "file-sign": "YY--YY-",
    "file-auth": "--YYYY-",
    "basic4": "YY--YY-",
    "corresponding-sign-mobile": "YY--YY-",
    "corresponding-auth-mobile": "--YYYY-",
    "corresponding-sign-auth": "----YY-",
    "renewal-sign": "YY--YY-",
    "renewal-auth": "--YYYY-",
    "certification-code": "---Y---",
}
EXPECTED = {(t, op): EXPECTED_GRID[op][i] == "Y" for op in OPS for i, t in enumerate(TYPES)}


def test_r_ver_matrix_is_complete():
    assert set(TYPES) == {t.value for t in VerifierType}
    assert set(OPS) == {o.value for o in Operation}


@pytest.mark.parametrize("vtype", TYPES)
def test_r_ver_1_to_5_pure_matrix(vtype):
    for op in OPS:
        assert allowed(VerifierType(vtype), Operation(op)) is EXPECTED[(vtype, op)], (vtype, op)


def _endpoints(h, crl_ok=True):
    return {
        "status-sign": ("GET", f"/api/v1/verifier/status/sign/{h.sign_hex}"),
        "status-auth": ("GET", f"/api/v1/verifier/status/auth/{h.auth_hex}"),
        "file-sign": ("GET", "/api/v1/verifier/revocation-files/card-sign.crl"),
        "file-auth": ("GET", "/api/v1/verifier/revocation-files/card-auth.crl"),
        "basic4": ("GET", f"/api/v1/verifier/basic4/{h.sign_hex}"),
        "corresponding-sign-mobile": ("GET", f"/api/v1/verifier/corresponding/sign-mobile/{h.sign_hex}"),
        "corresponding-auth-mobile": ("GET", f"/api/v1/verifier/corresponding/auth-mobile/{h.auth_hex}"),
        "corresponding-sign-auth": ("GET", f"/api/v1/verifier/corresponding/sign-auth/{h.sign_hex}"),
        "renewal-sign": ("GET", f"/api/v1/verifier/renewal/sign/{h.sign_hex}"),
        "renewal-auth": ("GET", f"/api/v1/verifier/renewal/auth/{h.auth_hex}"),
        "certification-code": ("POST", "/api/v1/verifier/certification-code"),
    }


def test_r_ver_1_to_5_every_type_against_every_http_endpoint(platform, cards, http, enrol):
    h = make_holder(platform, cards)
    CrlService(platform).publish_all()
    tokens = {}
    for i, vtype in enumerate(TYPES):
        if vtype == "entrusting-business":
            continue
        code = f"V{i}"
        tokens[vtype] = enrol(code, vtype)
        Consents(platform).grant_via_portal(h.resident_code, code, "test-portal")  # so basic4 can succeed where allowed
    VerifierRegistry(platform).record_agreement("V3", "AGR-2026-001", "test")  # the specific UA verifier (R-VER-5)
    for vtype, token in tokens.items():
        for op, (method, url) in _endpoints(h).items():
            r = http.request(method, url, headers=bearer(token))
            if EXPECTED[(vtype, op)]:
                assert r.status_code == 200, (vtype, op, r.status_code, r.text)
            else:
                assert r.status_code == 403 and r.json()["error"] == "not-entitled", (vtype, op, r.status_code, r.text)
                assert "R-VER-" in r.json()["message"]


def test_r_ver_1_entrusting_business_receives_nothing_directly(platform, cards, enrol):
    """An entrusting business is not a verifier of its own: every operation is refused."""
    h = make_holder(platform, cards)
    enrol("PF1", "platform-operator")
    enrol("BIZ1", "entrusting-business", operator="PF1")
    biz = Caller(VerifierRegistry(platform).get("BIZ1"), "token", "0")
    service = build(platform).provision
    calls = [
        lambda: service.status(biz, "sign", h.sign_serial),
        lambda: service.basic4(biz, h.sign_serial),
        lambda: service.corresponding(biz, "sign-auth", h.sign_serial),
        lambda: service.renewal(biz, "auth", h.auth_serial),
        lambda: service.certification_code(biz),
    ]
    for call in calls:
        with pytest.raises(NotEntitled, match="platform operator"):
            call()


def test_r_ver_1_platform_operator_on_behalf_of_its_own_businesses_only(platform, cards, http, enrol):
    h = make_holder(platform, cards)
    pf = enrol("PF1", "platform-operator")
    other = enrol("PF2", "platform-operator")
    enrol("BIZ1", "entrusting-business", operator="PF1")
    sig = enrol("SIG1", "signature")
    url = f"/api/v1/verifier/status/sign/{h.sign_hex}?on_behalf_of=BIZ1"
    assert http.get(url, headers=bearer(pf)).status_code == 200
    r = http.get(url, headers=bearer(other))
    assert r.status_code == 403 and "not a business entrusting PF2" in r.json()["message"]
    r = http.get(url, headers=bearer(sig))
    assert r.status_code == 403 and "only a platform operator" in r.json()["message"]
    # consent is the business's: the operator's own consent does not open basic4 for BIZ1
    Consents(platform).grant_via_portal(h.resident_code, "PF1", "portal")
    r = http.get(f"/api/v1/verifier/basic4/{h.sign_hex}?on_behalf_of=BIZ1", headers=bearer(pf))
    assert r.status_code == 403 and r.json()["error"] == "no-consent"
    Consents(platform).grant_via_portal(h.resident_code, "BIZ1", "portal")
    r = http.get(f"/api/v1/verifier/basic4/{h.sign_hex}?on_behalf_of=BIZ1", headers=bearer(pf))
    assert r.status_code == 200 and r.json()["basic4"]["name"] == h.basic4.name


def test_r_ver_7_serial_of_the_other_purpose_answers_like_an_unknown_one(platform, cards, http, enrol):
    h = make_holder(platform, cards)
    ua = enrol("UA1", "user-auth")
    wrong_purpose = http.get(f"/api/v1/verifier/status/auth/{h.sign_hex}", headers=bearer(ua))
    unknown = http.get("/api/v1/verifier/status/auth/0123456789ABCDEF", headers=bearer(ua))
    assert wrong_purpose.status_code == unknown.status_code == 404
    assert wrong_purpose.json()["message"].replace(h.sign_hex, "X") == unknown.json()["message"].replace("0123456789ABCDEF", "X")


def test_r_ver_5_certification_code_only_after_agreement(platform, http, enrol):
    token = enrol("SUA1", "specific-user-auth")
    r = http.post("/api/v1/verifier/certification-code", headers=bearer(token))
    assert r.status_code == 403 and r.json()["error"] == "no-agreement"
    VerifierRegistry(platform).record_agreement("SUA1", "AGR-1", "test")
    r1 = http.post("/api/v1/verifier/certification-code", headers=bearer(token))
    r2 = http.post("/api/v1/verifier/certification-code", headers=bearer(token))
    assert r1.status_code == r2.status_code == 200
    assert r1.json()["certification_code"] != r2.json()["certification_code"]
    with pytest.raises(Exception, match="only a specific user-auth verifier"):
        enrol("UA9", "user-auth")
        VerifierRegistry(platform).record_agreement("UA9", "AGR-2", "test")


def test_suspended_and_terminated_verifiers_are_refused_at_once(platform, cards, http, enrol):
    h = make_holder(platform, cards)
    token = enrol("SIG1", "signature")
    url = f"/api/v1/verifier/status/sign/{h.sign_hex}"
    assert http.get(url, headers=bearer(token)).status_code == 200
    VerifierRegistry(platform).set_status("SIG1", "suspended", "test")
    r = http.get(url, headers=bearer(token))
    assert r.status_code == 403 and r.json()["error"] == "verifier-suspended"
    VerifierRegistry(platform).set_status("SIG1", "active", "test")
    assert http.get(url, headers=bearer(token)).status_code == 200
    VerifierRegistry(platform).set_status("SIG1", "terminated", "test")
    r = http.get(url, headers=bearer(token))
    # termination disables the verifier's tokens (as it revokes its client certificates)
    assert r.status_code == 401 and "disabled" in r.json()["message"]
    with pytest.raises(Conflict, match="final"):
        VerifierRegistry(platform).set_status("SIG1", "active", "test")
