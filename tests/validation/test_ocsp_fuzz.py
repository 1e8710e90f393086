"""Fuzzing the OCSP front of a validity centre (R-REV-10: status handed out over the
network to anyone who asks, so to anything anyone sends; R-VER-1: the access-controlled
mode under the same input).

hypothesis throws random bytes, truncations, bit flips, byte edits and splices of valid
requests at ``Centre.answer`` and at both HTTP fronts, by POST and by GET: the ASGI app of
``myna serve`` (``ValidityApp`` through httpx.ASGITransport) and the server of ``myna
validity serve`` (``myna.validation.server`` over a real socket). Properties:

- ``Centre.answer`` never raises and always returns a parsable OCSPResponse, never
  internalError (which the HTTP layer would use to mask an exception);
- over HTTP: always 200 with ``application/ocsp-response`` and a parsable OCSPResponse
  for GET and POST, 405 with ``Allow`` for every other method, never 500 (a POST body
  over 8 KiB: malformedRequest from the ASGI app, 413 from the standalone server, which
  refuses it while it arrives);
- a successful response is about exactly the CertID that was asked.

Bounded (``max_examples``, no deadline): the whole module runs in well under 20 s.
"""

from __future__ import annotations

import asyncio
import base64
import os
from urllib.parse import quote

import httpx
import pytest
from centre_support import asn1_request_der, ca_cert, issue, parse, random_serial, request_der
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from myna_testing import verifier_token

from myna.access.roles import Role
from myna.authority.platform import Platform
from myna.authority.revoking import RevocationService
from myna.pki.ocsp import MAX_REQUEST_BYTES
from myna.pki.revocation import RevocationReason
from myna.validation.centre import Centre
from myna.validation.http import ValidityApp
from myna.validation.server import MAX_TARGET_BYTES

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FUZZ_HTTP = settings(FUZZ, max_examples=100)

OK_STATUSES = {
    ocsp.OCSPResponseStatus.SUCCESSFUL,
    ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
    ocsp.OCSPResponseStatus.UNAUTHORIZED,
    ocsp.OCSPResponseStatus.TRY_LATER,
}


def check_response(der_request: bytes, der_response: bytes) -> ocsp.OCSPResponse:
    resp = parse(der_response)  # raises if not a parsable OCSPResponse
    assert resp.response_status in OK_STATUSES, resp.response_status
    if resp.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL:
        req = ocsp.load_der_ocsp_request(der_request)  # a successful answer implies a parsable request
        assert (resp.serial_number, resp.issuer_name_hash, resp.issuer_key_hash) == (
            req.serial_number,
            req.issuer_name_hash,
            req.issuer_key_hash,
        )
        assert resp.certificate_status in set(ocsp.OCSPCertStatus)
    return resp


def answer(centre: Centre, der: bytes, token: str | None = None, slug: str | None = None) -> bytes:
    return centre.answer(der, token, slug)


# --------------------------------------------------------------------------- inputs


@pytest.fixture
def seeds(platform: Platform) -> list[bytes]:
    """Valid requests to mutate: good, revoked and unknown serials, SHA-1 and SHA-256
    CertIDs, with and without nonce, for two CAs and the root."""
    out = []
    for kind in ("card-sign", "card-auth"):
        issuer = ca_cert(platform, kind)
        good, bad = issue(platform, kind), issue(platform, kind)
        RevocationService(platform).revoke(bad.serial_number, RevocationReason.REQUEST, actor="fuzz")
        for algorithm in (hashes.SHA1(), hashes.SHA256()):
            out += [
                request_der(good, issuer, algorithm),
                request_der(bad, issuer, algorithm, nonce=os.urandom(16)),
                request_der(good, issuer, algorithm, serial=random_serial(), nonce=os.urandom(32)),
            ]
    out.append(request_der(ca_cert(platform, "card-auth"), ca_cert(platform, "root")))
    out.append(asn1_request_der("md5", os.urandom(16), os.urandom(16), serials=[5]))
    return out


@pytest.fixture
def synced_centre(make_centre, feed, seeds) -> Centre:
    c = make_centre(max_lag_s=3600.0)  # never stale during the run: answers exercise the signing path
    c.sync_once(feed)
    return c


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    """A valid request after a few random edits (or, sometimes, untouched)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "splice"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 8))]
        else:  # splice a piece of another seed in
            other = draw(st.sampled_from(seeds))
            j = draw(st.integers(0, len(other) - 1))
            data[i:] = other[j:]
    return bytes(data)


@st.composite
def one_flip(draw, seeds: list[bytes]) -> bytes:
    """One bit flipped: mostly still well-formed DER, so it reaches the CertID matching,
    the serial lookup and the signing (other serials, other issuer hashes, other nonces)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    i = draw(st.integers(0, len(data) - 1))
    data[i] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


def fuzz_inputs(seeds: list[bytes]):
    return st.one_of(
        st.binary(max_size=512),
        mutated(seeds),
        one_flip(seeds),
        st.binary(min_size=MAX_REQUEST_BYTES - 2, max_size=MAX_REQUEST_BYTES + 2),
    )


# --------------------------------------------------------------------------- Centre.answer


def test_centre_answer_never_raises_on_random_and_mutated_requests_R_REV_10(synced_centre: Centre, seeds):
    """R-REV-10: whatever bytes arrive, Centre.answer returns a parsable OCSPResponse with
    a protocol status (never internalError), and a successful one answers the CertID asked."""

    @FUZZ
    @given(der=fuzz_inputs(seeds))
    def run(der: bytes):
        out = answer(synced_centre, der)
        if out is not None:
            check_response(der, out)

    run()


def test_centre_answer_never_raises_in_access_controlled_mode_R_VER_1(platform: Platform, make_centre, feed, seeds):
    """R-VER-1 mode under the same input, with random, valid and wrong-type tokens and
    random slug hints: still never an exception, never internalError."""
    tokens = [verifier_token(platform, Role.VERIFIER_SIGN), verifier_token(platform, Role.VERIFIER_AUTH)]
    c = make_centre(open_access=False, max_lag_s=3600.0)
    c.sync_once(feed)

    @FUZZ
    @given(
        der=fuzz_inputs(seeds),
        token=st.one_of(st.none(), st.sampled_from(tokens), st.text(max_size=60)),
        slug=st.one_of(st.none(), st.sampled_from(["card-sign", "card-auth", "root", "mobile-auth-g2", ""]), st.text(max_size=20)),
    )
    def run(der: bytes, token, slug):
        out = answer(c, der, token, slug)
        if out is not None:
            check_response(der, out)

    run()


def test_centre_answer_unsynced_centre_never_raises(make_centre, seeds):
    """A centre that never synced (empty replica, no credentials) under the same input."""
    c = make_centre(open_access=False)

    @settings(FUZZ, max_examples=80)
    @given(der=fuzz_inputs(seeds))
    def run(der: bytes):
        out = answer(c, der, "whatever")
        if out is not None:
            resp = check_response(der, out)
            assert resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL or resp.certificate_status is ocsp.OCSPCertStatus.REVOKED

    run()


# --------------------------------------------------------------------------- HTTP


def _http_ok(r, der: bytes | None, oversized_413: bool = False) -> None:
    if oversized_413 and der is not None and len(der) > MAX_REQUEST_BYTES:
        assert r.status_code == 413, (r.status_code, r.content[:200])
        return
    assert r.status_code == 200, (r.status_code, r.content[:200])
    assert r.headers["content-type"] == "application/ocsp-response"
    resp = parse(r.content)
    assert resp.response_status in OK_STATUSES, resp.response_status
    if der is not None and resp.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL:
        check_response(der, r.content)


class Client:
    """A synchronous face on httpx.AsyncClient over httpx.ASGITransport (the app is
    called in process; an exception escaping it is raised here, not turned into a 500).

    The loop runs in a thread of its own, so the face works whatever loop state other
    tests left in the main thread (run_until_complete refuses if one is marked running)."""

    def __init__(self, app):
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://centre.test")

    def request(self, method: str, url: str, **kw) -> httpx.Response:
        return asyncio.run_coroutine_threadsafe(self.http.request(method, url, **kw), self.loop).result(30)

    def get(self, url: str, **kw) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw) -> httpx.Response:
        return self.request("POST", url, **kw)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.http.aclose(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class SocketClient:
    """The same face on httpx.Client over TCP to ``myna.validation.server`` running on
    its own uvloop loop in a thread (the process keeps the tests' centre and clock)."""

    oversized_413 = True

    def __init__(self, centre: Centre):
        import threading

        import uvloop

        from myna.validation.server import ValidityServer

        self.loop = uvloop.new_event_loop()
        self.server = ValidityServer(centre)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        port = asyncio.run_coroutine_threadsafe(self.server.start("127.0.0.1", 0), self.loop).result(10)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def request(self, method: str, url: str, **kw) -> httpx.Response:
        return self.http.request(method, url, **kw)

    def get(self, url: str, **kw) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw) -> httpx.Response:
        return self.request("POST", url, **kw)

    def close(self) -> None:
        self.http.close()
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


Client.oversized_413 = False


@pytest.fixture(params=["asgi", "server"])
def client(request, synced_centre: Centre):
    c = Client(ValidityApp(synced_centre)) if request.param == "asgi" else SocketClient(synced_centre)
    yield c
    c.close()


def test_http_post_random_and_mutated_bodies_R_REV_10(client: Client, seeds):
    """R-REV-10 over HTTP POST (RFC 6960 A.1): any body, any Content-Type, any
    Authorization header, any slug: HTTP 200 and a parsable OCSPResponse, never 500."""

    @FUZZ_HTTP
    @given(
        der=fuzz_inputs(seeds),
        slug=st.sampled_from(["card-auth", "card-sign", "root", "nope", "card-auth/extra", ""]),
        ctype=st.sampled_from(["application/ocsp-request", "text/plain", "application/octet-stream"]),
        auth=st.one_of(st.none(), st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)),
    )
    def run(der: bytes, slug: str, ctype: str, auth):
        headers = {"content-type": ctype}
        if auth is not None:
            # Over a socket the client library refuses values with outer whitespace (no
            # HTTP parser would hand them on anyway): strip them there.
            headers["authorization"] = auth.strip() if client.oversized_413 else auth
        r = client.post(f"/ocsp/{slug}" if slug else "/ocsp", content=der, headers=headers)
        _http_ok(r, der, client.oversized_413)

    run()


def test_http_get_random_and_mutated_requests_R_REV_10(client: Client, seeds):
    """R-REV-10 over HTTP GET (RFC 6960 A.1, RFC 5019 §5): the base64 of random and
    mutated requests, percent-encoded or raw ('/' and '+' left in), with and without
    padding, and random path text: HTTP 200 and a parsable OCSPResponse, never 500."""
    alphabet = st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="#?")

    @FUZZ_HTTP
    @given(
        der=fuzz_inputs(seeds),
        form=st.sampled_from(["quoted", "raw", "unpadded", "garbage"]),
        garbage=st.text(alphabet=alphabet, max_size=200),
    )
    def run(der: bytes, form: str, garbage: str):
        b64 = base64.b64encode(der).decode()
        if form == "quoted":
            tail = quote(b64, safe="")
        elif form == "raw":
            tail = b64
        elif form == "unpadded":
            tail = quote(b64.rstrip("="), safe="")
        else:
            tail = garbage
        r = client.get(f"/ocsp/card-auth/{tail}")
        if client.oversized_413 and len(f"/ocsp/card-auth/{tail}") > MAX_TARGET_BYTES:
            assert r.status_code == 414  # the standalone server stops reading an over-long target
            return
        _http_ok(r, der if form != "garbage" else None)

    run()


def test_http_get_valid_request_round_trip_R_REV_10(client: Client, seeds):
    """Not random: every seed request over GET, percent-encoded and raw, gets the same
    kind of answer as over POST (the GET decoding is right, so the fuzzing above reaches
    the OCSP code rather than stopping at the URL)."""
    for der in seeds:
        post = parse(client.post("/ocsp/card-auth", content=der).content)
        for tail in (quote(base64.b64encode(der).decode(), safe=""), base64.b64encode(der).decode()):
            get = parse(client.get(f"/ocsp/card-auth/{tail}").content)
            assert get.response_status == post.response_status
            if get.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL:
                assert (get.serial_number, get.certificate_status) == (post.serial_number, post.certificate_status)


def test_http_other_methods_get_405_R_REV_10(client: Client, seeds):
    """Methods other than GET and POST on the OCSP path: 405 with Allow: GET, POST."""

    @settings(FUZZ_HTTP, max_examples=30)
    @given(
        method=st.sampled_from(["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND"]),
        der=fuzz_inputs(seeds),
    )
    def run(method: str, der: bytes):
        r = client.request(method, "/ocsp/card-auth", content=der)
        if client.oversized_413 and len(der) > MAX_REQUEST_BYTES:
            # the standalone server refuses a declared body over 8 KiB before anything else
            assert r.status_code == 413, (method, r.status_code)
            return
        assert r.status_code == 405, (method, r.status_code)
        assert r.headers["allow"] == "GET, POST"

    run()


def test_http_oversized_streamed_body_is_malformed(client: Client, seeds):
    """A POST body streamed past 8 KiB (no Content-Length to trust) is cut off and
    answered malformedRequest with HTTP 200 (ASGI) or 413 (the standalone server); an
    empty POST, an empty GET and an over-long GET are malformedRequest on both."""

    async def chunks():
        for _ in range(20):
            yield b"\x30" * 1024

    def sync_chunks():
        for _ in range(20):
            yield b"\x30" * 1024

    r = client.post("/ocsp/card-auth", content=sync_chunks() if client.oversized_413 else chunks())
    if client.oversized_413:  # the standalone server refuses it as it arrives
        assert r.status_code == 413
    else:
        assert r.status_code == 200 and parse(r.content).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    r = client.post("/ocsp/card-auth", content=b"")
    assert r.status_code == 200 and parse(r.content).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    r = client.get("/ocsp/card-auth/")
    assert r.status_code == 200 and parse(r.content).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    r = client.get("/ocsp/card-auth/" + "A" * (MAX_REQUEST_BYTES * 2 + 4))
    if client.oversized_413:  # over the standalone server's 8 KiB target limit
        assert r.status_code == 414
    else:
        assert r.status_code == 200 and parse(r.content).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_fuzz_oracle_can_fail(synced_centre: Centre, seeds):
    """The checks above are not vacuous: check_response rejects a response for another
    serial, internalError, and bytes that are not an OCSPResponse."""
    der = seeds[0]
    other = seeds[2]
    with pytest.raises(AssertionError):
        check_response(der, synced_centre.answer(other))
    from myna.pki.ocsp import unsuccessful

    with pytest.raises(AssertionError):
        check_response(der, unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR))
    with pytest.raises(ValueError):
        check_response(der, b"\x30\x03\x0a\x01")
