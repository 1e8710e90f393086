"""R-VER-3 corresponding serials, only for unexpired (and unrevoked) certificates, only to
the verifier types entitled."""

from __future__ import annotations

import datetime as dt

from mob_support import phone_apply_and_issue
from ver_support import bearer, make_holder

from myna.authority.revoking import RevocationService
from myna.pki import serials
from myna.pki.revocation import RevocationReason
from myna.verifiers.registry import VerifierRegistry
from myna.wiring import build


def _token(platform, code, vtype):
    VerifierRegistry(platform).register(code, code, vtype, "test")
    return build(platform).credentials.create_token(code, "test")


def test_r_ver_3_card_and_mobile_serials_both_ways(platform, cards, http):
    h = make_holder(platform, cards)
    _, ms, _ = phone_apply_and_issue(platform, h, "mobile-sign")
    _, ma, _ = phone_apply_and_issue(platform, h, "mobile-auth")
    sig, ua, both = _token(platform, "S", "signature"), _token(platform, "U", "user-auth"), _token(platform, "B", "signature-and-user-auth")
    ms_hex, ma_hex = serials.to_display(ms.serial), serials.to_display(ma.serial)

    r = http.get(f"/api/v1/verifier/corresponding/sign-mobile/{h.sign_hex}", headers=bearer(sig)).json()
    assert r["corresponding"] == [{"serial": ms_hex, "kind": "mobile-sign"}]
    r = http.get(f"/api/v1/verifier/corresponding/sign-mobile/{ms_hex}", headers=bearer(sig)).json()
    assert r["corresponding"] == [{"serial": h.sign_hex, "kind": "card-sign"}]
    r = http.get(f"/api/v1/verifier/corresponding/auth-mobile/{h.auth_hex}", headers=bearer(ua)).json()
    assert r["corresponding"] == [{"serial": ma_hex, "kind": "mobile-auth"}]
    r = http.get(f"/api/v1/verifier/corresponding/sign-auth/{h.sign_hex}", headers=bearer(both)).json()
    assert r["corresponding"] == [{"serial": h.auth_hex, "kind": "card-auth"}]
    r = http.get(f"/api/v1/verifier/corresponding/sign-auth/{h.auth_hex}", headers=bearer(both)).json()
    assert r["corresponding"] == [{"serial": h.sign_hex, "kind": "card-sign"}]
    # the pair must fit the serial: a UA serial under sign-mobile is "no such certificate"
    assert http.get(f"/api/v1/verifier/corresponding/sign-mobile/{h.auth_hex}", headers=bearer(sig)).status_code == 404
    assert http.get(f"/api/v1/verifier/corresponding/nonsense/{h.auth_hex}", headers=bearer(sig)).status_code == 404


def test_r_ver_3_only_unexpired_and_unrevoked(platform, cards, http, clock):
    h = make_holder(platform, cards)
    _, ms, _ = phone_apply_and_issue(platform, h, "mobile-sign")
    both = _token(platform, "B", "platform-operator")
    ms_hex = serials.to_display(ms.serial)
    RevocationService(platform).revoke(h.auth_serial, RevocationReason.REQUEST, "test")
    r = http.get(f"/api/v1/verifier/corresponding/sign-auth/{h.sign_hex}", headers=bearer(both))
    assert r.status_code == 200 and r.json()["corresponding"] == []  # the revoked partner is not given
    with platform.db.session() as s:
        from myna.store import models as m

        end = s.get(m.Certificate, serials.to_store(h.sign_serial)).not_after
    clock.set(end + dt.timedelta(seconds=1))
    r = http.get(f"/api/v1/verifier/corresponding/sign-mobile/{ms_hex}", headers=bearer(both))
    assert r.status_code == 410 and r.json()["error"] == "no-valid-certificate"
