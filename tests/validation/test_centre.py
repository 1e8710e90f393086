"""One validity centre, in process (R-REV-10: revocation status handed out to verifiers
over the network; R-VER-1: only registered verifiers, each for the certificates it is
registered for, in the access-controlled mode).

No subprocess and no background thread: the test decides when the centre syncs
(``centre.sync_once(build(platform).feed)``) and moves the ``clock`` fixture, which both the
platform and the centre read. Requests are built with cryptography (or asn1crypto for
what cryptography will not build), responses parsed and verified with cryptography.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import time
import types

import pytest
from asn1crypto import keys as asn1_keys
from centre_support import asn1_request_der, ca_cert, issue, outcome, parse, random_serial, request_der
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from myna_testing import verifier_token

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.authority.platform import Platform
from myna.authority.revoking import RevocationService
from myna.clock import FixedClock
from myna.pki import serials
from myna.pki.ocsp import MAX_REQUEST_BYTES
from myna.pki.revocation import RevocationReason
from myna.store.replica import FeedEvent
from myna.validation import centre as centre_module
from myna.validation.centre import Centre
from myna.wiring import build

SHA1, SHA256 = hashes.SHA1(), hashes.SHA256()
HASHES = pytest.mark.parametrize("algorithm", [SHA1, SHA256], ids=["sha1-certid", "sha256-certid"])
ALL_CAS = ["root", "card-sign", "card-auth", "mobile-sign", "mobile-auth"]

# RFC 5280 reason codes per revocation reason: the documented choice (docs/pki.md), written
# out here rather than read from myna.pki.revocation, so a changed mapping fails a test.
REASON_CODES = {
    RevocationReason.REQUEST: (x509.ReasonFlags.cessation_of_operation, 5),
    RevocationReason.RESIDENT_CHANGE: (x509.ReasonFlags.affiliation_changed, 3),
    RevocationReason.RECORD_ERROR: (x509.ReasonFlags.superseded, 4),
    RevocationReason.KEY_COMPROMISE: (x509.ReasonFlags.ca_compromise, 2),
    RevocationReason.LINKED_CARD_REVOKED: (x509.ReasonFlags.privilege_withdrawn, 9),
}


def revoke(platform: Platform, cert: x509.Certificate, reason: RevocationReason = RevocationReason.REQUEST):
    return RevocationService(platform).revoke(cert.serial_number, reason, actor="test")


def ask(centre: Centre, cert, issuer, **kw) -> ocsp.OCSPResponse:
    token = kw.pop("token", None)
    slug = kw.pop("slug_hint", None)
    return parse(centre.answer(request_der(cert, issuer, **kw), token=token, slug_hint=slug))


def ask_outcome(centre: Centre, cert, issuer, **kw) -> str:
    token = kw.pop("token", None)
    return outcome(centre.answer(request_der(cert, issuer, **kw), token=token))


# --------------------------------------------------------------------------- statuses


@HASHES
def test_good_revoked_unknown_with_matching_certid_R_REV_10(platform: Platform, clock: FixedClock, make_centre, feed, algorithm):
    """R-REV-10: good for an issued certificate, revoked (with the recorded time and the
    documented reason code) for a revoked one, unknown for a serial the CA never issued
    and for a serial another CA issued; every response is for exactly the CertID asked
    (same hash algorithm, issuer hashes, serial), SHA-1 and SHA-256 CertIDs alike."""
    issuer = ca_cert(platform, "card-auth")
    good, bad = issue(platform, "card-auth"), issue(platform, "card-auth")
    other_ca = issue(platform, "card-sign")  # a serial that exists, but under card-sign
    clock.advance(dt.timedelta(minutes=7, seconds=13))
    done = revoke(platform, bad, RevocationReason.RECORD_ERROR)
    c = make_centre()
    c.sync_once(feed)

    cases = {
        "good": request_der(good, issuer, algorithm),
        "revoked": request_der(bad, issuer, algorithm),
        "never issued": request_der(good, issuer, algorithm, serial=random_serial()),
        "other CA's serial": request_der(good, issuer, algorithm, serial=other_ca.serial_number),
    }
    expected = {"good": "good", "revoked": "revoked", "never issued": "unknown", "other CA's serial": "unknown"}
    for label, der in cases.items():
        req = ocsp.load_der_ocsp_request(der)
        resp = parse(c.answer(der))
        assert resp.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL, label
        assert resp.certificate_status.name.lower() == expected[label], label
        assert (resp.serial_number, resp.issuer_name_hash, resp.issuer_key_hash) == (
            req.serial_number,
            req.issuer_name_hash,
            req.issuer_key_hash,
        ), label
        assert isinstance(resp.hash_algorithm, type(algorithm)), label
        assert resp.this_update_utc == clock.now() and resp.next_update_utc > resp.this_update_utc, label
        # (producedAt is cryptography's wall clock at signing: it cannot be set)

    revoked = parse(c.answer(cases["revoked"]))
    assert revoked.revocation_time_utc == done.revoked_at == clock.now()
    assert revoked.revocation_reason is x509.ReasonFlags.superseded
    good_resp = parse(c.answer(cases["good"]))
    assert good_resp.revocation_time_utc is None and good_resp.revocation_reason is None


@pytest.mark.parametrize(
    "kind,reason",
    [
        ("card-sign", RevocationReason.REQUEST),
        ("card-auth", RevocationReason.RESIDENT_CHANGE),
        ("card-auth", RevocationReason.RECORD_ERROR),
        ("mobile-sign", RevocationReason.LINKED_CARD_REVOKED),
        ("mobile-auth", RevocationReason.KEY_COMPROMISE),
    ],
    ids=lambda v: v.value if isinstance(v, RevocationReason) else v,
)
def test_revoked_time_and_reason_code_per_reason_R_REV_10(platform: Platform, clock: FixedClock, make_centre, feed, kind, reason):
    """R-REV-10: the OCSP revocationTime is the recorded revoked_at and the reason code
    follows the documented mapping for each reason, R-REV-5 (the whole CA: cACompromise)
    included."""
    cert = issue(platform, kind)
    issuer = ca_cert(platform, kind)
    c = make_centre()  # provisioned while the CA is active
    clock.advance(dt.timedelta(hours=1, seconds=1))
    if reason is RevocationReason.KEY_COMPROMISE:
        revoked_at = RevocationService(platform).compromise_authority(kind, actor="test").revoked_at
    else:
        revoked_at = revoke(platform, cert, reason).revoked_at
    c.sync_once(feed)
    resp = ask(c, cert, issuer, nonce=os.urandom(16))
    assert resp.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert resp.revocation_time_utc == revoked_at
    flag, code = REASON_CODES[reason]
    assert resp.revocation_reason is flag
    assert reason.x509_reason is flag  # the source's mapping agrees with the documented one
    # and on the wire: the CRLReason ENUMERATED value in the DER
    assert bytes([0x0A, 0x01, code]) in resp.public_bytes(serialization.Encoding.DER)


def test_supported_certid_hashes_sha384_sha512_R_REV_10(platform: Platform, centre: Centre):
    """CertIDs hashed with SHA-384 and SHA-512 are answered too (same answer, same hash)."""
    issuer = ca_cert(platform, "card-sign")
    cert = issue(platform, "card-sign")
    centre.sync_once(build(platform).feed)
    for algorithm in (hashes.SHA384(), hashes.SHA512()):
        resp = ask(centre, cert, issuer, algorithm=algorithm)
        assert resp.certificate_status is ocsp.OCSPCertStatus.GOOD
        assert isinstance(resp.hash_algorithm, type(algorithm))


# --------------------------------------------------------------------------- nonce


@HASHES
def test_nonce_echoed_when_sent_and_absent_when_not_R_REV_10(platform: Platform, centre: Centre, algorithm):
    """RFC 8954: the nonce of a request is echoed in its response; a request without one
    gets a response without one; two requests with different nonces get their own."""
    issuer = ca_cert(platform, "card-auth")
    cert = issue(platform, "card-auth")
    centre.sync_once(build(platform).feed)
    for size in (1, 16, 32):
        nonce = os.urandom(size)
        resp = ask(centre, cert, issuer, algorithm=algorithm, nonce=nonce)
        assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    plain = ask(centre, cert, issuer, algorithm=algorithm)
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_class(x509.OCSPNonce)
    # a cached response (no nonce) must not leak into a nonce request, nor the reverse
    n1 = ask(centre, cert, issuer, algorithm=algorithm, nonce=b"\x01" * 16)
    assert n1.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"\x01" * 16
    with pytest.raises(x509.ExtensionNotFound):
        ask(centre, cert, issuer, algorithm=algorithm).extensions.get_extension_for_class(x509.OCSPNonce)


# --------------------------------------------------------------------------- responder


def test_response_signed_by_delegated_responder_chaining_to_issuer_R_REV_10(platform: Platform, centre: Centre):
    """RFC 6960 §4.2.2.2: every response is signed by a responder certificate that is in
    the response, is issued directly by the CA of the certificate asked about (which
    chains to the root), carries id-kp-OCSPSigning and id-pkix-ocsp-nocheck, is named
    by its key hash in responderID, and whose key verifies the response signature."""
    root = ca_cert(platform, "root")
    certs = {kind: issue(platform, kind) for kind in ALL_CAS if kind != "root"}
    certs["root"] = ca_cert(platform, "card-sign")  # the root's "holders" are the issuing CAs
    centre.sync_once(build(platform).feed)
    responders = set()
    for kind, nonce in ((k, n) for k in ALL_CAS for n in (None, os.urandom(16))):
        issuer, cert = ca_cert(platform, kind), certs[kind]
        resp = ask(centre, cert, issuer, nonce=nonce)
        assert resp.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
        assert resp.certificate_status is ocsp.OCSPCertStatus.GOOD
        assert len(resp.certificates) == 1
        responder = resp.certificates[0]
        responder.verify_directly_issued_by(issuer)
        issuer.verify_directly_issued_by(root)
        assert responder.issuer == issuer.subject and responder.subject != issuer.subject
        eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
        responder.extensions.get_extension_for_class(x509.OCSPNoCheck)
        ku = responder.extensions.get_extension_for_class(x509.KeyUsage).value
        assert ku.digital_signature and not ku.key_cert_sign and not ku.crl_sign
        assert (
            not responder.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
            if _has(responder, x509.BasicConstraints)
            else True
        )
        assert responder.not_valid_before_utc <= resp.this_update_utc <= responder.not_valid_after_utc
        key = responder.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
        spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        bits = asn1_keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]
        digest = hashes.Hash(hashes.SHA1())
        digest.update(bits)
        assert resp.responder_key_hash == digest.finalize() and resp.responder_name is None
        responders.add(responder.serial_number)
    assert len(responders) == len(ALL_CAS), "one responder per CA"


def _has(cert: x509.Certificate, ext) -> bool:
    try:
        cert.extensions.get_extension_for_class(ext)
        return True
    except x509.ExtensionNotFound:
        return False


def test_response_signed_by_another_key_does_not_verify(platform: Platform, centre: Centre):
    """The signature check above can fail: a response whose signature is altered does not
    verify with the responder key."""
    issuer = ca_cert(platform, "card-sign")
    cert = issue(platform, "card-sign")
    centre.sync_once(build(platform).feed)
    resp = ask(centre, cert, issuer)
    tbs = bytearray(resp.tbs_response_bytes)
    tbs[-1] ^= 1
    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):
        resp.certificates[0].public_key().verify(resp.signature, bytes(tbs), ec.ECDSA(resp.signature_hash_algorithm))


# --------------------------------------------------------------------------- cache and revocation


def test_cached_good_replaced_by_revoked_after_the_sync_that_brings_it_R_REV_10(platform: Platform, clock: FixedClock, centre: Centre):
    """R-REV-10: a pre-signed "good" response (served from the cache: byte-identical on a
    repeated request) stays until the sync that brings the revocation, and is replaced
    by "revoked" by that sync, for both CertID hashes; a revoked answer is then cached."""
    issuer = ca_cert(platform, "card-auth")
    cert = issue(platform, "card-auth")
    centre.sync_once(build(platform).feed)
    first = {a.name: centre.answer(request_der(cert, issuer, a)) for a in (SHA1, SHA256)}
    clock.advance(dt.timedelta(seconds=1))
    again = {a.name: centre.answer(request_der(cert, issuer, a)) for a in (SHA1, SHA256)}
    assert first == again, "a repeated request without nonce is answered from the cache"
    assert {outcome(d) for d in first.values()} == {"good"}

    clock.advance(dt.timedelta(seconds=1))
    done = revoke(platform, cert, RevocationReason.REQUEST)
    assert {outcome(centre.answer(request_der(cert, issuer, a))) for a in (SHA1, SHA256)} == {"good"}, "not synced yet"
    stats = centre.sync_once(build(platform).feed)
    assert [s for s, _ in stats.revoked_visible] == [serials.to_store(cert.serial_number)]
    signed = count_signatures(centre)
    sha1_after = centre.answer(request_der(cert, issuer, SHA1))
    assert signed == [], "the usual revoked answer (SHA-1 CertID, no nonce) was signed during the sync"
    after = {"sha1": sha1_after, "sha256": centre.answer(request_der(cert, issuer, SHA256))}
    assert len(signed) == 1, "a SHA-256 CertID is signed on demand"
    for der in after.values():
        resp = parse(der)
        assert resp.certificate_status is ocsp.OCSPCertStatus.REVOKED
        assert resp.revocation_time_utc == done.revoked_at
        assert resp.revocation_reason is x509.ReasonFlags.cessation_of_operation
    clock.advance(dt.timedelta(seconds=1))
    assert {a.name: centre.answer(request_der(cert, issuer, a)) for a in (SHA1, SHA256)} == after, "revoked answers are cached too"


def count_signatures(centre: Centre) -> list[int]:
    """Record every response signature the centre's responders make from now on."""
    calls: list[int] = []
    for r in centre.responders:
        real = r.respond

        def counting(q, *a, _real=real, **kw):
            calls.append(q.serial)
            return _real(q, *a, **kw)

        r.respond = counting
    return calls


def test_pre_signed_cache_is_bounded_and_evicted_entries_are_re_signed(platform: Platform, make_centre, feed):
    """The pre-signed cache holds at most ``cache_entries`` serials; an evicted serial is
    answered correctly again, with a fresh signature, and a cached one without any."""
    c = make_centre(cache_entries=10)
    issuer = ca_cert(platform, "card-auth")
    certs = [issue(platform, "card-auth") for _ in range(25)]
    revoke(platform, certs[3])
    c.sync_once(feed)
    first = [c.answer(request_der(cert, issuer)) for cert in certs]
    assert [outcome(d) for d in first] == ["revoked" if i == 3 else "good" for i in range(25)]
    signed = count_signatures(c)
    assert c.answer(request_der(certs[-1], issuer)) == first[-1] and signed == [], "the latest entry is cached"
    again = c.answer(request_der(certs[0], issuer))
    assert signed == [certs[0].serial_number] and again != first[0], "the oldest was evicted and is signed afresh"
    assert outcome(again) == "good" and outcome(c.answer(request_der(certs[3], issuer))) == "revoked"
    assert len(c._cache) <= 10


def test_cached_response_resigned_after_half_its_life(platform: Platform, clock: FixedClock, make_centre, feed):
    """A pre-signed response is used for half its validity, then signed afresh (its
    thisUpdate moves on), so a verifier never gets one close to its nextUpdate."""
    c = make_centre(max_lag_s=5.0, response_validity_s=3600)
    issuer = ca_cert(platform, "card-auth")
    cert = issue(platform, "card-auth")
    c.sync_once(feed)
    first = parse(c.answer(request_der(cert, issuer)))
    clock.advance(dt.timedelta(minutes=29))
    c.sync_once(feed)
    assert parse(c.answer(request_der(cert, issuer))).this_update_utc == first.this_update_utc
    clock.advance(dt.timedelta(minutes=2))
    c.sync_once(feed)
    later = parse(c.answer(request_der(cert, issuer)))
    assert later.this_update_utc == clock.now() and later.next_update_utc == clock.now() + dt.timedelta(hours=1)


def test_repeated_request_answered_without_parsing_and_with_the_same_rules(
    platform: Platform, clock: FixedClock, make_centre, feed, verifiers, monkeypatch
):
    """A nonce-less request seen before is looked up by its bytes (no parsing), and the
    lookup changes no rule: the slug hint, the verifier's entitlement (R-VER-1), the lag
    bound (R-REV-10), a revocation synced since, and the half-life re-signing all still
    apply to it. A request with a nonce is never served from the cache."""
    c = make_centre(open_access=False, max_lag_s=5.0, response_validity_s=3600)
    issuer = ca_cert(platform, "card-auth")
    cert = issue(platform, "card-auth")
    c.sync_once(feed)
    der = request_der(cert, issuer)
    auth = verifiers["auth"]
    first = c.answer(der, auth, "card-auth")
    assert outcome(first) == "good"
    parsed: list[bytes] = []
    real_parse = centre_module.parse_request
    monkeypatch.setattr(centre_module, "parse_request", lambda d: parsed.append(d) or real_parse(d))
    assert c.answer(der, auth, "card-auth") == first and parsed == [], "served by its bytes"
    assert outcome(c.answer(der, auth, "card-sign")) == "unauthorized"
    assert outcome(c.answer(der, verifiers["sign"], "card-auth")) == "unauthorized"
    assert outcome(c.answer(der, None, None)) == "unauthorized"
    assert parsed == []
    clock.advance(dt.timedelta(seconds=6))  # past the lag bound, no sync
    assert outcome(c.answer(der, auth)) == "trylater"
    c.sync_once(feed)
    revoke(platform, cert)
    c.sync_once(feed)
    assert outcome(c.answer(der, auth)) == "revoked", "the revocation dropped the cached good answer"
    clock.advance(dt.timedelta(minutes=31))  # past half of the response's life
    c.sync_once(feed)
    parsed.clear()
    again = parse(c.answer(der, auth))
    assert again.this_update_utc == clock.now() and parsed == [der], "re-signed, after parsing"
    with_nonce = request_der(cert, issuer, nonce=os.urandom(8))
    n1 = c.answer(with_nonce, auth)
    c.answer(with_nonce, auth)
    assert parsed[1:] == [with_nonce, with_nonce], "a nonce request is parsed (and signed) every time"
    assert parse(n1).certificate_status is ocsp.OCSPCertStatus.REVOKED


# --------------------------------------------------------------------------- lag bound


def test_lag_bound_good_becomes_trylater_revoked_stays_revoked_R_REV_10(platform: Platform, clock: FixedClock, make_centre, feed):
    """R-REV-10, the stated bound: at exactly max_lag after the last sync began a centre
    still answers; one second later, with no sync, a good certificate gets tryLater
    (cached or not, with or without nonce), so does an unknown serial, but a revoked one
    is still answered "revoked"; the next sync restores "good"."""
    max_lag = 5
    c = make_centre(max_lag_s=float(max_lag))
    issuer = ca_cert(platform, "card-sign")
    good, bad = issue(platform, "card-sign"), issue(platform, "card-sign")
    revoke(platform, bad)
    c.sync_once(feed)
    # warm the cache for both
    assert ask_outcome(c, good, issuer) == "good" and ask_outcome(c, bad, issuer) == "revoked"

    clock.advance(dt.timedelta(seconds=max_lag))
    assert c.fresh() and ask_outcome(c, good, issuer) == "good" and ask_outcome(c, good, issuer, nonce=os.urandom(8)) == "good"

    clock.advance(dt.timedelta(seconds=1))
    assert not c.fresh() and c.lag() == max_lag + 1
    assert ask_outcome(c, good, issuer) == "trylater", "cached good past the bound"
    assert ask_outcome(c, good, issuer, algorithm=SHA256) == "trylater", "cold good past the bound"
    assert ask_outcome(c, good, issuer, nonce=os.urandom(8)) == "trylater", "good with nonce past the bound"
    assert ask_outcome(c, good, issuer, serial=random_serial()) == "trylater", "unknown past the bound"
    assert ask_outcome(c, bad, issuer) == "revoked", "cached revoked past the bound"
    assert ask_outcome(c, bad, issuer, algorithm=SHA256, nonce=os.urandom(8)) == "revoked", "cold revoked past the bound"

    c.sync_once(feed)
    assert ask_outcome(c, good, issuer) == "good"
    assert ask_outcome(c, good, issuer, nonce=os.urandom(8)) == "good" and ask_outcome(c, good, issuer, serial=random_serial()) == "unknown"


def test_no_good_answer_more_than_max_lag_after_revocation_when_feed_stops_R_REV_10(
    platform: Platform, clock: FixedClock, make_centre, feed
):
    """R-REV-10: a revocation recorded after the last sync is not visible to a centre
    whose feed stopped, but the centre stops answering "good" for it at most max_lag
    after that sync began, hence at most max_lag after the revocation was recorded."""
    max_lag = 3
    c = make_centre(max_lag_s=float(max_lag))
    issuer = ca_cert(platform, "card-auth")
    cert = issue(platform, "card-auth")
    c.sync_once(feed)
    synced = clock.now()
    clock.advance(dt.timedelta(seconds=1))
    revoked_at = revoke(platform, cert).revoked_at
    answers = []
    for _ in range(2 * max_lag * 4):
        answers.append((clock.now(), ask_outcome(c, cert, issuer), ask_outcome(c, cert, issuer, nonce=os.urandom(8))))
        clock.advance(dt.timedelta(milliseconds=250))
    good_times = [t for t, a, b in answers if "good" in (a, b)]
    assert good_times, "the revocation is not visible before the next sync"
    assert max(good_times) <= synced + dt.timedelta(seconds=max_lag) <= revoked_at + dt.timedelta(seconds=max_lag)
    assert all(a == b == "trylater" for t, a, b in answers if t > synced + dt.timedelta(seconds=max_lag))


def test_before_any_sync_everything_is_trylater_R_REV_10(platform: Platform, make_centre):
    """A centre that never completed a sync knows nothing: tryLater for every serial of
    every CA it answers for (not "unknown", not "good")."""
    c = make_centre()
    assert c.synced_at is None and not c.fresh()
    for kind in ("card-sign", "card-auth"):
        cert = issue(platform, kind)
        issuer = ca_cert(platform, kind)
        for kw in ({}, {"nonce": os.urandom(16)}, {"serial": random_serial()}, {"algorithm": SHA256}):
            assert ask_outcome(c, cert, issuer, **kw) == "trylater", (kind, kw)
    assert ask_outcome(c, ca_cert(platform, "card-auth"), ca_cert(platform, "root")) == "trylater"


def test_failed_sync_keeps_the_old_synced_at(platform: Platform, clock: FixedClock, centre: Centre):
    """A sync that raises leaves synced_at where it was: the lag keeps growing and the
    bound takes over."""

    class Broken:
        def fetch(self, after, limit, also):
            raise ConnectionError("platform unreachable")

        def credentials(self):
            return {}

        def crl(self, slug, delta):
            return None

    before = centre.synced_at
    clock.advance(dt.timedelta(seconds=10))
    with pytest.raises(ConnectionError):
        centre.sync_once(Broken())
    assert centre.synced_at == before and not centre.fresh()


def test_lag_bound_holds_to_the_subsecond_with_the_system_clock_R_REV_10(platform: Platform, make_centre, tmp_path):
    """R-REV-10 with the real clock: sync once (just after a second boundary), never
    again, and ask continuously; no "good" answer is given to a request sent more than
    max_lag (0.5 s) after the sync returned. Whole-second truncation of both synced_at
    and now lets "good" through until the next second boundary (~1 s)."""
    from myna.clock import SystemClock
    from myna.validation.centre import CentreConfig
    from myna.validation.provision import provision

    max_lag = 0.5
    issuer = ca_cert(platform, "card-auth")
    cert = issue(platform, "card-auth")
    c = Centre.from_bundle(
        provision(platform, "wall", tmp_path / "wall", actor="test"), CentreConfig("wall", max_lag_s=max_lag), clock=SystemClock()
    )
    der = request_der(cert, issuer)
    time.sleep(1 - time.time() % 1)  # just after a second boundary
    c.sync_once(build(platform).feed)
    synced = time.time()
    last_good = None
    while time.time() - synced < 1.5:
        sent = time.time()
        result = outcome(c.answer(der))
        if result == "good":
            last_good = sent
        elif result == "trylater":
            break
        time.sleep(0.005)
    assert result == "trylater"
    assert last_good is not None and last_good - synced <= max_lag, (
        f"good answered {last_good - synced:.3f} s after the sync (max_lag {max_lag})"
    )


# --------------------------------------------------------------------------- access control (R-VER-1)


@pytest.fixture
def verifiers(platform: Platform) -> dict[str, str]:
    t = Tokens(platform)
    return {
        "sign": verifier_token(platform, Role.VERIFIER_SIGN),
        "auth": verifier_token(platform, Role.VERIFIER_AUTH),
        "both": verifier_token(platform, Role.VERIFIER_BOTH),
        "centre": t.create(Role.CENTRE, "a centre, not a verifier"),
        "operator": t.create(Role.OPERATOR, "an operator, not a verifier"),
    }


def test_access_controlled_mode_R_VER_1(platform: Platform, make_centre, feed, verifiers):
    """R-VER-1 (access-controlled mode): no token, an unknown token, or a token of the
    wrong verifier type is answered unauthorized; a signature verifier gets card-sign and
    mobile-sign status but not card-auth/mobile-auth, a user-auth verifier the reverse,
    a verifier registered as both gets all four; centre and operator tokens are not
    verifier tokens. The root's answers (about the issuing CAs) are open to anyone."""
    certs = {k: issue(platform, k) for k in ("card-sign", "card-auth", "mobile-sign", "mobile-auth")}
    c = make_centre(open_access=False)
    c.sync_once(feed)
    allowed = {
        None: set(),
        "myna_not-a-registered-token": set(),
        verifiers["centre"]: set(),
        verifiers["operator"]: set(),
        verifiers["sign"]: {"card-sign", "mobile-sign"},
        verifiers["auth"]: {"card-auth", "mobile-auth"},
        verifiers["both"]: {"card-sign", "card-auth", "mobile-sign", "mobile-auth"},
    }
    for token, kinds in allowed.items():
        for kind, cert in certs.items():
            issuer = ca_cert(platform, kind)
            for kw in ({}, {"nonce": os.urandom(16)}, {"serial": random_serial()}):
                got = ask_outcome(c, cert, issuer, token=token, **kw)
                want = ("unknown" if "serial" in kw else "good") if kind in kinds else "unauthorized"
                assert got == want, (token and token[:12], kind, kw)
        # the root CA's answers: the issuing CA certificates, to anyone
        for kind in certs:
            assert ask_outcome(c, ca_cert(platform, kind), ca_cert(platform, "root"), token=token) == "good"
    # a token created after the last sync is not known until the next one
    late = verifier_token(platform, Role.VERIFIER_SIGN)
    assert ask_outcome(c, certs["card-sign"], ca_cert(platform, "card-sign"), token=late) == "unauthorized"
    c.sync_once(feed)
    assert ask_outcome(c, certs["card-sign"], ca_cert(platform, "card-sign"), token=late) == "good"


def test_access_control_applies_to_cached_and_revoked_answers_R_VER_1(platform: Platform, clock: FixedClock, make_centre, feed, verifiers):
    """R-VER-1: a response cached for one verifier is not handed to an unentitled one,
    revoked or not, fresh or past the lag bound."""
    c = make_centre(open_access=False, max_lag_s=5.0)
    issuer = ca_cert(platform, "card-auth")
    good, bad = issue(platform, "card-auth"), issue(platform, "card-auth")
    revoke(platform, bad)
    c.sync_once(feed)
    assert ask_outcome(c, good, issuer, token=verifiers["auth"]) == "good"
    assert ask_outcome(c, bad, issuer, token=verifiers["auth"]) == "revoked"
    for token in (None, verifiers["sign"], "nope"):
        assert ask_outcome(c, good, issuer, token=token) == "unauthorized"
        assert ask_outcome(c, bad, issuer, token=token) == "unauthorized"
    clock.advance(dt.timedelta(seconds=6))
    assert ask_outcome(c, bad, issuer, token=verifiers["sign"]) == "unauthorized"
    assert ask_outcome(c, bad, issuer, token=verifiers["auth"]) == "revoked"


def test_open_mode_answers_everyone_and_path_slug_must_match_R_VER_1(platform: Platform, centre: Centre):
    """Open mode (test environments) answers without a token. A request sent to the URL
    of one CA (the slug hint) about another CA's certificate is refused (unauthorized),
    while a generation suffix in the slug is accepted."""
    cert = issue(platform, "card-auth")
    centre.sync_once(build(platform).feed)
    issuer = ca_cert(platform, "card-auth")
    der = request_der(cert, issuer)
    assert outcome(centre.answer(der)) == "good"
    assert outcome(centre.answer(der, slug_hint="card-auth")) == "good"
    assert outcome(centre.answer(der, slug_hint="card-auth-g2")) == "good"
    assert outcome(centre.answer(der, slug_hint="card-sign")) == "unauthorized"
    assert outcome(centre.answer(der, slug_hint="root")) == "unauthorized"


# --------------------------------------------------------------------------- malformed input


def _valid(platform: Platform) -> bytes:
    return request_der(issue(platform, "card-sign"), ca_cert(platform, "card-sign"))


def _hashes_of(platform: Platform, algorithm=SHA1) -> tuple[bytes, bytes]:
    req = ocsp.load_der_ocsp_request(
        _valid(platform) if algorithm is SHA1 else request_der(issue(platform), ca_cert(platform, "card-auth"), algorithm)
    )
    return req.issuer_name_hash, req.issuer_key_hash


MALFORMED_CASES = {
    "empty": lambda p: b"",
    "oversized zeros": lambda p: b"\x00" * (MAX_REQUEST_BYTES + 1),
    "oversized valid prefix": lambda p: _valid(p) + b"\x00" * MAX_REQUEST_BYTES,
    "trailing garbage": lambda p: _valid(p) + b"\x00",
    "truncated by one": lambda p: _valid(p)[:-1],
    "half": lambda p: _valid(p)[: len(_valid(p)) // 2],
    "text": lambda p: b"GET / HTTP/1.1\r\n\r\n",
    "a certificate, not a request": lambda p: ca_cert(p, "root").public_bytes(serialization.Encoding.DER),
    "an OCSP response, not a request": lambda p: ocsp.OCSPResponseBuilder.build_unsuccessful(
        ocsp.OCSPResponseStatus.TRY_LATER
    ).public_bytes(serialization.Encoding.DER),
    "two CertIDs": lambda p: asn1_request_der("sha1", *_hashes_of(p), serials=[3, 5]),
    "no CertID": lambda p: asn1_request_der("sha1", *_hashes_of(p), serials=[]),
    "nonce of 33 bytes": lambda p: asn1_request_der("sha1", *_hashes_of(p), serials=[7], nonce=os.urandom(33)),
    "empty nonce": lambda p: asn1_request_der("sha1", *_hashes_of(p), serials=[7], nonce=b""),
}


def test_malformed_requests_get_malformed_request(platform: Platform, centre: Centre):
    """RFC 6960 §2.3: anything that is not exactly one well-formed request (empty,
    over 8 KiB, truncated, trailing bytes, another ASN.1 type, two or no CertIDs, a
    nonce outside 1-32 bytes) is answered malformedRequest, never an exception."""
    got = {case: outcome(centre.answer(make(platform))) for case, make in MALFORMED_CASES.items()}
    assert got == {case: "malformedrequest" for case in MALFORMED_CASES}


def test_unsupported_certid_hash_refused_not_raised(platform: Platform, centre: Centre):
    """A CertID hashed with MD5 (built by hand: cryptography will not) or SHA-224 is
    refused with unauthorized or malformedRequest, never an exception."""
    for hash_name, algorithm in (("md5", hashes.MD5()), ("sha224", hashes.SHA224())):
        size = algorithm.digest_size
        der = asn1_request_der(hash_name, os.urandom(size), os.urandom(size), serials=[12345])
        assert outcome(centre.answer(der)) in {"unauthorized", "malformedrequest"}, hash_name
        # and with the right issuerNameHash of one of our CAs
        name_hash = hashes.Hash(algorithm)
        name_hash.update(ca_cert(platform, "card-sign").subject.public_bytes())
        der = asn1_request_der(hash_name, name_hash.finalize(), os.urandom(size), serials=[12345], nonce=os.urandom(8))
        assert outcome(centre.answer(der)) in {"unauthorized", "malformedrequest"}, hash_name


def test_certid_of_a_ca_we_do_not_answer_for_is_unauthorized(platform: Platform, centre: Centre):
    """RFC 6960 §2.3 / RFC 5019 §2.2.3: a CertID naming an issuer this centre has no
    responder for is answered unauthorized."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "someone else's CA")])
    now = dt.datetime.now(dt.timezone.utc)
    foreign = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(77)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    assert outcome(centre.answer(request_der(foreign, foreign))) == "unauthorized"
    # same issuer name as ours, another key: still not ours
    n, _ = _hashes_of(platform)
    assert outcome(centre.answer(asn1_request_der("sha1", n, os.urandom(20), serials=[5]))) == "unauthorized"


def test_out_of_range_serials_are_unknown(platform: Platform, centre: Centre):
    """Serials no CA here can have issued (zero, 160 bits and more) are "unknown"."""
    n, k = _hashes_of(platform)
    for serial in (0, 2**160, 2**200):
        assert outcome(centre.answer(asn1_request_der("sha1", n, k, serials=[serial]))) == "unknown", serial


def test_negative_serial_never_raises(platform: Platform, centre: Centre):
    """Centre.answer "never raises for bad input": a CertID with a negative serial (a bit
    flip away from a valid request) gets malformedRequest or unknown."""
    n, k = _hashes_of(platform)
    assert outcome(centre.answer(asn1_request_der("sha1", n, k, serials=[-1]))) in {"malformedrequest", "unknown"}


# --------------------------------------------------------------------------- feed gaps


def _ev(seq: int, serial: int, event: str = "issued", reason: str | None = None, at: dt.datetime | None = None) -> FeedEvent:
    at = at or dt.datetime(2026, 4, 1, 3, tzinfo=dt.timezone.utc)
    return FeedEvent(seq, serials.to_store(serial), "card-auth", event, at, at + dt.timedelta(days=365 * 5), reason)


class FakeFeed:
    """A status feed whose rows commit in the order the test says (as PostgreSQL
    transactions can: a lower seq becoming visible after a higher one)."""

    def __init__(self):
        self.committed: dict[int, FeedEvent] = {}
        self.calls: list[tuple[int, list[int]]] = []

    def commit(self, *events: FeedEvent) -> None:
        for e in events:
            self.committed[e.seq] = e

    def fetch(self, after: int, limit: int, also: list[int]):
        self.calls.append((after, list(also)))
        rows = sorted((e for s, e in self.committed.items() if s > after), key=lambda e: e.seq)[:limit]
        rows += [self.committed[s] for s in also if s in self.committed]
        return rows, max(self.committed, default=0)

    def credentials(self):
        return {}

    def crl(self, slug, delta):
        return None


class FakeMonotonic:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def fake_monotonic(monkeypatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(centre_module, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


def test_feed_gap_late_seq_is_applied_R_REV_10(platform: Platform, make_centre, fake_monotonic):
    """R-REV-10 with out-of-order commits: events 1, 2 and 4 are visible, 3 (a revocation)
    commits later. The centre moves on to 4 but keeps asking for 3, applies it when it
    appears, and answers "revoked" from then on; once it arrived it is no longer asked."""
    c = make_centre(gap_timeout_s=30.0)
    issuer = ca_cert(platform, "card-auth")
    a, b, d = issue(platform), issue(platform), issue(platform)
    feed = FakeFeed()
    revoked_at = dt.datetime(2026, 4, 1, 3, 0, 5, tzinfo=dt.timezone.utc)
    feed.commit(_ev(1, a.serial_number), _ev(2, b.serial_number), _ev(4, d.serial_number))
    c.sync_once(feed)
    assert c.last_seq == 4 and feed.calls[-1] == (0, [])
    assert ask_outcome(c, a, issuer) == "good"

    fake_monotonic.now += 5
    c.sync_once(feed)
    assert feed.calls[-1] == (4, [3]), "the missing seq is asked for"
    assert ask_outcome(c, a, issuer) == "good"

    feed.commit(_ev(3, a.serial_number, "revoked", RevocationReason.RESIDENT_CHANGE.value, at=revoked_at))
    fake_monotonic.now += 5
    stats = c.sync_once(feed)
    assert feed.calls[-1] == (4, [3]) and stats.applied == 1
    resp = ask(c, a, issuer)
    assert resp.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert resp.revocation_time_utc == revoked_at and resp.revocation_reason is x509.ReasonFlags.affiliation_changed
    assert ask_outcome(c, b, issuer) == "good" and ask_outcome(c, d, issuer) == "good"
    c.sync_once(feed)
    assert feed.calls[-1] == (4, []), "a filled gap is not asked for again"
    assert c.replica.last_seq() == 4


def test_feed_gap_dropped_after_gap_timeout(platform: Platform, make_centre, fake_monotonic):
    """A seq missing for longer than gap_timeout is taken to be a rolled-back
    transaction: the centre stops asking for it (and a revocation at it, were it ever to
    appear, would not be picked up: the platform never commits after rollback)."""
    c = make_centre(gap_timeout_s=30.0)
    issuer = ca_cert(platform, "card-auth")
    a, b = issue(platform), issue(platform)
    feed = FakeFeed()
    feed.commit(_ev(1, a.serial_number), _ev(3, b.serial_number), _ev(6, b.serial_number))  # 2, 4 and 5 missing
    c.sync_once(feed)
    fake_monotonic.now += 10
    feed.commit(_ev(4, a.serial_number))
    c.sync_once(feed)
    assert feed.calls[-1] == (6, [2, 4, 5])
    fake_monotonic.now += 15  # 25 s since 2 and 5 went missing
    c.sync_once(feed)
    assert feed.calls[-1] == (6, [2, 5])
    fake_monotonic.now += 6  # 31 s: past gap_timeout
    c.sync_once(feed)  # asks once more, then drops them
    assert feed.calls[-1] == (6, [2, 5])
    c.sync_once(feed)
    assert feed.calls[-1] == (6, []), "gaps older than gap_timeout are dropped"
    # a new gap is tracked afresh
    feed.commit(_ev(8, a.serial_number))
    c.sync_once(feed)
    c.sync_once(feed)
    assert feed.calls[-1] == (8, [7])
    assert ask_outcome(c, a, issuer) == "good" and ask_outcome(c, b, issuer) == "good"


def test_feed_gap_survives_a_failed_apply_R_REV_10(platform: Platform, make_centre, fake_monotonic, monkeypatch):
    """R-REV-10: a late revocation (a gap seq) that arrives in a sync whose replica write
    fails (database locked, disk full) is still applied by a later sync."""
    c = make_centre(gap_timeout_s=30.0)
    issuer = ca_cert(platform, "card-auth")
    a, b = issue(platform), issue(platform)
    feed = FakeFeed()
    feed.commit(_ev(1, a.serial_number), _ev(3, b.serial_number))
    c.sync_once(feed)
    feed.commit(_ev(2, a.serial_number, "revoked", RevocationReason.REQUEST.value))
    real_apply = c.replica.apply
    failures = iter([sqlite3.OperationalError("database is locked")])

    def flaky_apply(events, last_seq):
        for exc in failures:
            raise exc
        return real_apply(events, last_seq)

    monkeypatch.setattr(c.replica, "apply", flaky_apply)
    with pytest.raises(sqlite3.OperationalError):
        c.sync_once(feed)
    fake_monotonic.now += 1
    c.sync_once(feed)
    c.sync_once(feed)
    assert ask_outcome(c, a, issuer) == "revoked"
