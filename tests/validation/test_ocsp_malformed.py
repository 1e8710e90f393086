"""Malformed OCSP requests (R-REV-10: status handed out to anyone, so to whatever anyone
sends; RFC 6960 §2.3): every case of the corpus in ocsp_corpus.py is answered with the
status it names (malformedRequest, or unauthorized for a CertID we cannot answer for),
as HTTP 200 with a DER OCSPResponse that cryptography parses, by Centre.answer and by
both HTTP fronts (the server of ``myna validity serve`` over real sockets, and the ASGI
app of ``myna serve`` called with exact bytes), in open and verifier-only mode, and
without a line in the log.

The defect this guards: two copies of one extension raised cryptography's
DuplicateExtension past ``parse_request`` (the extensions are parsed lazily, on first
access), so the request was answered internalError after a logged traceback: a 96-byte
request that cost the centre hundreds of good ones. What each case costs is measured by
bench/ocsp_malformed.py, not here.

Order of the checks (decided): the request is parsed before the credential check, so a
malformed request gets malformedRequest in verifier-only mode too. The CA a question is
about comes from its CertID (POST /ocsp names none), the root's status is public without
a token, and parsing a refused request costs about what a good answer does, so checking
the token first would save nothing.
"""

from __future__ import annotations

import asyncio
import base64
import re
from urllib.parse import unquote

import pytest
from centre_support import ca_cert, issue, outcome, parse, request_der
from cryptography.x509 import ocsp
from myna_testing import verifier_token
from ocsp_corpus import MALFORMED, UNAUTHORIZED, Case, Good, corpus, fits_get, get_tail, request
from test_validity_server import Running, exchange, get, ocsp_outcome, post

from myna.access.roles import Role
from myna.authority.platform import Platform
from myna.pki.ocsp import MAX_EXTENSIONS, MAX_REQUEST_BYTES
from myna.validation import http as validity_http
from myna.validation.centre import Centre
from myna.validation.http import ValidityApp, ocsp_answer, ocsp_get_request
from myna.validation.server import MAX_TARGET_BYTES


@pytest.fixture
def good(platform: Platform) -> Good:
    der = request_der(issue(platform, "card-auth"), ca_cert(platform, "card-auth"))
    req = ocsp.load_der_ocsp_request(der)
    return Good(req.issuer_name_hash, req.issuer_key_hash, req.serial_number, der)


@pytest.fixture
def cases(good: Good) -> list[Case]:
    return corpus(good)


@pytest.fixture
def open_centre(make_centre, feed, good) -> Centre:
    c = make_centre(max_lag_s=3600.0)
    c.sync_once(feed)
    return c


@pytest.fixture
def closed_centre(make_centre, feed, good) -> Centre:
    c = make_centre(name="closed", open_access=False, max_lag_s=3600.0)
    c.sync_once(feed)
    return c


def logged(capsys) -> str:
    """What was written meanwhile, by structlog as configured (or not) in this process:
    stdout and stderr both."""
    out = capsys.readouterr()
    return out.out + out.err


def no_log_lines(captured: str) -> None:
    assert "Traceback" not in captured
    assert "ocsp answer failed" not in captured
    assert captured.strip() == "", captured[:2000]


def _decoded(case: Case) -> bytes | None:
    """What Centre.answer is given for a case (None: refused while decoding the GET)."""
    if case.der is not None:
        return case.der
    raw = "/ocsp/card-auth/" + case.get
    return ocsp_get_request(raw, unquote(raw).split("/", 3)[3] if raw.count("/") >= 3 else "")


# --------------------------------------------------------------------------- the corpus


def test_corpus_has_over_a_hundred_distinct_shapes(cases: list[Case]):
    """At least the probe's 111 cases, names and bytes all distinct, every status named."""
    assert len(cases) >= 111
    assert len({c.name for c in cases}) == len(cases)
    assert len({(c.der, c.get) for c in cases}) == len(cases)
    assert {c.expect for c in cases} == {MALFORMED, UNAUTHORIZED}


def test_every_case_refused_by_centre_answer_without_a_log_line_R_REV_10(open_centre: Centre, cases, capsys):
    """R-REV-10, RFC 6960 §2.3: through ocsp_answer (Centre.answer with the fronts' error
    handling), each case gets exactly its status, never internalError, never an
    exception, and nothing is logged."""
    capsys.readouterr()
    got = {}
    for case in cases:
        der = _decoded(case)
        got[case.name] = outcome(ocsp_answer(open_centre, der, None, "card-auth")) if der is not None else MALFORMED
    assert got == {c.name: c.expect for c in cases}
    no_log_lines(logged(capsys))


def test_duplicate_extension_is_malformed_request_not_internal_error_R_REV_10(open_centre: Centre, good: Good):
    """The probe's case: two copies of the nonce (and of any extension) is not a request
    (RFC 5280 §4.2); before, DuplicateExtension escaped parse_request."""
    for exts in (
        [{"extn_id": "1.3.6.1.5.5.7.48.1.2", "critical": False, "extn_value": b"0123456789abcdef"}] * 2,
        [{"extn_id": "1.3.6.1.4.1.99999.1", "critical": False, "extn_value": b"\x05\x00"}] * 2,
    ):
        der = request(good, exts)
        assert outcome(open_centre.answer(der)) == MALFORMED
        assert outcome(open_centre.answer(der, slug_hint="card-auth")) == MALFORMED


def test_extension_limits_do_not_refuse_what_clients_send_R_REV_10(open_centre: Centre, good: Good):
    """The new limits leave real requests alone: a nonce of 1 and of 32 bytes, a critical
    nonce (understood), MAX_EXTENSIONS distinct unknown non-critical extensions (RFC 6960
    §4.4: ignored) in either list, acceptable responses listing the basic response."""
    nonce = "1.3.6.1.5.5.7.48.1.2"
    unknown = [{"extn_id": f"1.3.6.1.4.1.99999.{i}", "critical": False, "extn_value": b"\x05\x00"} for i in range(MAX_EXTENSIONS)]
    basic = {"extn_id": "1.3.6.1.5.5.7.48.1.4", "critical": False, "extn_value": ["basic_ocsp_response"]}
    for der in (
        request(good, [{"extn_id": nonce, "critical": False, "extn_value": b"\x01"}]),
        request(good, [{"extn_id": nonce, "critical": False, "extn_value": bytes(range(32))}]),
        request(good, [{"extn_id": nonce, "critical": True, "extn_value": b"abcdefgh"}]),
        request(good, unknown),
        request(good, single=unknown),
        request(good, [basic]),
    ):
        assert outcome(open_centre.answer(der)) == "good"


def test_verifier_only_mode_parses_first_R_VER_1(closed_centre: Centre, cases, platform: Platform, capsys):
    """R-VER-1 mode: without a token, and with a signature verifier's token (not entitled
    to card-auth), each case gets the same status as in open mode (the request is parsed
    before the token is looked at; see the module docstring), and a good card-auth
    request without an entitled token is unauthorized."""
    sign_token = verifier_token(platform, Role.VERIFIER_SIGN)
    capsys.readouterr()
    for token in (None, sign_token):
        got = {}
        for case in cases:
            der = _decoded(case)
            got[case.name] = outcome(ocsp_answer(closed_centre, der, token, "card-auth")) if der is not None else MALFORMED
        assert got == {c.name: c.expect for c in cases}, token
    no_log_lines(logged(capsys))


# --------------------------------------------------------------------------- over HTTP


def test_every_case_over_the_standalone_server_R_REV_10(open_centre: Centre, cases, good: Good, capsys):
    """``myna validity serve``'s server over real sockets: each DER case POSTed (and, when
    short enough, sent by GET), each GET case sent as it is: HTTP 200, a DER
    OCSPResponse cryptography parses, the case's status; a body over 8 KiB is refused
    with 413 before it is read (HTTP's answer to a body too large to take), a target over
    8 KiB with 414 (longer than any GET the centre takes). No log line."""
    running = Running(open_centre)
    try:
        capsys.readouterr()
        seen = 0
        for case in cases:
            sends = []
            if case.der is not None:
                sends.append(post("/ocsp/card-auth", case.der))
                if fits_get(case.der):
                    sends.append(get("/ocsp/card-auth/" + get_tail(case.der)))
            else:
                sends.append(get("/ocsp/card-auth/" + case.get))
            for data in sends:
                [r] = exchange(running, data)
                if case.der is not None and len(case.der) > MAX_REQUEST_BYTES and data.startswith(b"POST"):
                    assert r.status == 413, case.name
                elif case.get is not None and len("/ocsp/card-auth/" + case.get) > MAX_TARGET_BYTES:
                    assert r.status == 414, case.name  # not read on (no OCSP GET is that long)
                else:
                    assert ocsp_outcome(r) == case.expect, case.name
                seen += 1
        assert seen > len(cases)
        [r] = exchange(running, post("/ocsp/card-auth", good.der))  # still answering
        assert ocsp_outcome(r) == "good"
        no_log_lines(logged(capsys))
    finally:
        running.stop()


class AsgiCall:
    """Calls ValidityApp as uvicorn would, with exact bytes: raw_path as sent, path
    percent-decoded, the body in one message."""

    def __init__(self, app: ValidityApp):
        self.app = app

    def __call__(self, method: str, raw_path: str, body: bytes = b"", headers=()) -> tuple[int, dict, bytes]:
        scope = {
            "type": "http",
            "method": method,
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("latin-1"),
            "headers": [(k.encode(), v.encode()) for k, v in headers],
        }
        out: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            out.append(message)

        asyncio.run(self.app(scope, receive, send))
        start = out[0]
        return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, b"".join(m.get("body", b"") for m in out[1:])


def test_every_case_over_the_asgi_app_R_REV_10(open_centre: Centre, cases, capsys):
    """The centre inside ``myna serve`` (ValidityApp): the same cases by POST and GET,
    always HTTP 200 with a parsable OCSPResponse of the case's status (a body over 8 KiB
    too: the ASGI app answers it malformedRequest). No log line."""
    call = AsgiCall(ValidityApp(open_centre))
    capsys.readouterr()
    for case in cases:
        sends = []
        if case.der is not None:
            sends.append(("POST", "/ocsp/card-auth", case.der))
            if fits_get(case.der):
                sends.append(("GET", "/ocsp/card-auth/" + get_tail(case.der), b""))
        else:
            sends.append(("GET", "/ocsp/card-auth/" + case.get, b""))
        for method, path, body in sends:
            status, headers, content = call(method, path, body, [("content-type", "application/ocsp-request")])
            assert status == 200 and headers["content-type"] == "application/ocsp-response", case.name
            assert outcome(content) == case.expect, (case.name, method)
    no_log_lines(logged(capsys))


def test_content_type_is_not_checked(open_centre: Centre, good: Good):
    """Decided: a POST is judged by its body, not its Content-Type (RFC 6960 A.1.1 names
    application/ocsp-request for clients; refusing others would only turn away sloppy
    clients with good requests). A good body with another type, or none, is answered."""
    call = AsgiCall(ValidityApp(open_centre))
    for headers in ([("content-type", "text/plain")], [("content-type", "application/x-www-form-urlencoded")], []):
        status, _, content = call("POST", "/ocsp/card-auth", good.der, headers)
        assert status == 200 and outcome(content) == "good", headers
    running = Running(open_centre)
    try:
        raw = f"POST /ocsp/card-auth HTTP/1.1\r\nHost: c\r\nContent-Type: text/plain\r\nContent-Length: {len(good.der)}\r\n\r\n".encode()
        [r] = exchange(running, raw + good.der)
        assert ocsp_outcome(r) == "good"
    finally:
        running.stop()


def test_get_decoding_bounds_R_REV_10(good: Good):
    """ocsp_get_request: the usual escapes ('+', '/', '=' in either case) and a few others
    decode like unquote; an escaped line break is dropped as base64 allows; a GET over
    MAX_GET_CHARS or full of other escapes is refused (None: malformedRequest)."""
    b64 = base64.b64encode(good.der).decode()
    escaped = get_tail(good.der)
    tails = [
        escaped,
        re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), escaped),
        b64,
        b64.rstrip("="),
        b64[:10] + "%0A" + b64[10:],
        f"%{ord(b64[0]):02X}" + b64[1:],
    ]
    for tail in tails:
        assert ocsp_get_request("/ocsp/card-auth/" + tail, "") == good.der, tail
    assert ocsp_get_request("/ocsp/card-auth/" + "A" * (validity_http.MAX_GET_CHARS + 4), "") is None
    assert ocsp_get_request("/ocsp/card-auth/" + "%41" * (validity_http.MAX_OTHER_ESCAPES + 1) + b64, "") is None


# --------------------------------------------------------------------------- the error path


def test_unexpected_errors_are_one_short_line_a_minute(open_centre: Centre, monkeypatch, capsys, good: Good):
    """Should a bug raise in Centre.answer, ocsp_answer answers internalError and logs one
    line without a traceback (the token among its locals never printed), at most one a
    minute; the next line counts the ones left out."""
    now = [1000.0]
    monkeypatch.setattr(validity_http, "_failures", {"last": float("-inf"), "suppressed": 0})
    monkeypatch.setattr(validity_http.time, "monotonic", lambda: now[0])

    def broken(der, token=None, slug_hint=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(open_centre, "answer", broken)
    capsys.readouterr()
    token = "secret-verifier-token-0123456789"
    for _ in range(50):
        assert parse(ocsp_answer(open_centre, good.der, token, "card-auth")).response_status is ocsp.OCSPResponseStatus.INTERNAL_ERROR
    first = logged(capsys)
    assert first.count("ocsp answer failed") == 1 and len(first.strip().splitlines()) == 1, first
    assert "Traceback" not in first and token not in first and "RuntimeError" in first and "boom" in first
    now[0] += 61
    ocsp_answer(open_centre, good.der, token, "card-auth")
    second = logged(capsys)
    assert second.count("ocsp answer failed") == 1 and "49" in second, second


def test_refused_bytes_sent_again_are_not_parsed_again(open_centre: Centre, cases, good: Good, monkeypatch):
    """A refusal depends on the request bytes alone: the same bytes again get the same
    answer from the centre's table of refused requests, without parsing; the table is
    bounded (cleared when full), and a good request is not in it."""
    from myna.validation import centre as centre_module

    ders = [c.der for c in cases if c.der and len(c.der) <= MAX_REQUEST_BYTES and c.expect == MALFORMED]
    first = [open_centre.answer(d) for d in ders]
    parsed: list[bytes] = []
    real_parse = centre_module.parse_request
    monkeypatch.setattr(centre_module, "parse_request", lambda d: parsed.append(d) or real_parse(d))
    assert [open_centre.answer(d) for d in ders] == first
    assert parsed == []
    assert outcome(open_centre.answer(good.der)) == "good" and good.der not in open_centre._refused
    monkeypatch.setattr(centre_module, "REFUSED_MEMO", 3)
    open_centre._refused.clear()
    for d in ders:
        open_centre.answer(d)
        assert len(open_centre._refused) <= 3


def test_tbs_request_of_many_fields_is_refused_without_walking_them(good: Good):
    """The extension count walks at most the four fields a TBSRequest has: 2,000 empty
    fields are refused (ValueError inside, malformedRequest outside), not walked."""
    from ocsp_corpus import tlv

    from myna.pki.ocsp import OcspRefusal, _too_many_extensions, parse_request

    der = tlv(0x30, tlv(0x30, b"\x05\x00" * 2000))
    with pytest.raises(ValueError):
        _too_many_extensions(der)
    with pytest.raises(OcspRefusal) as refusal:
        parse_request(der)
    assert refusal.value.status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
