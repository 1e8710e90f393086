"""OCSP from a live ``myna serve`` (its in-process validity centre at /ocsp/{ca}), and from a
``myna validity serve`` centre on the same store (its own server and responders), judged by
tools nobody here wrote: ``openssl ocsp``, pkilint's OCSP response linter and
pyhanko-certvalidator (R-REV-10: revocation status handed out to relying parties over
the network, at the URL each certificate names in its authorityInfoAccess).

Everything a relying party needs comes the way it would: the OCSP URL from the
certificate's AIA, the issuing CA certificate from its caIssuers URL; only the root
(the trust anchor) comes out of band (``myna ca get root``).

OpenSSL 3.0's ``openssl ocsp`` only POSTs; for GET (RFC 6960 A.1, RFC 5019 §5) the test
writes the request with ``-reqout``, fetches ``{url}/{url-encoded base64}`` itself and
hands the answer back with ``-reqin``/``-respin`` (so OpenSSL still checks the nonce
against the request it came from).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import random
import subprocess
import sys
import time
import urllib.parse
from contextlib import aclosing
from pathlib import Path

import pytest
from asn1crypto import core as asn1_core
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from interop_support import (
    Live,
    api_post,
    ca_issuers_url,
    free_port,
    http_get,
    ocsp_post,
    ocsp_request,
    ocsp_status,
    ocsp_url,
    wait_for_ocsp_status,
    write_pem,
)
from myna_testing import require_tool
from pkilint import loader, pkix, report
from pkilint.pkix import extension, name
from pkilint.pkix import ocsp as pkilint_ocsp
from pkilint.validation import ValidationFindingSeverity
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule

pytestmark = pytest.mark.interop

ERROR = ValidationFindingSeverity.ERROR


def openssl(bin_: str, *args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([bin_, *map(str, args)], capture_output=True, text=True, timeout=60)


def out(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


def openssl_time(t: dt.datetime) -> str:
    """How OpenSSL prints an ASN.1 time: 'Nov  2 00:29:40 2026 GMT'."""
    t = t.astimezone(dt.timezone.utc)
    return f"{t:%b} {t.day:2d} {t:%H:%M:%S %Y} GMT"


class Setup:
    """The demo's card-auth certificates on a live server: one revoked (R-REV-4,
    record-error: superseded), two valid; files for openssl in ``live.tmp``."""

    def __init__(self, live: Live):
        self.live = live
        recs = live.certs(kind="card-auth")
        assert len(recs) == 3 and all(r["status"] == "valid" for r in recs), recs
        self.root = live.ca_cert("root")
        self.revoked, self.good, self.other = (live.cert(r["serial"]) for r in recs)
        self.issuer = x509.load_der_x509_certificate(live.get(ca_issuers_url(self.good)))
        assert self.issuer.subject == self.good.issuer
        self.url = ocsp_url(self.good)
        assert self.url == live.url("/ocsp/card-auth") and ocsp_url(self.revoked) == self.url
        done = api_post(live, f"certificates/{recs[0]['serial']}/revocation", {"reason": "record-error"})
        assert done["rule"] == "R-REV-4", done
        self.revoked_at = dt.datetime.fromisoformat(done["revoked_at"])
        wait_for_ocsp_status(self.url, self.revoked, self.issuer, "revoked")
        d = live.tmp
        self.root_pem = write_pem(d / "root.pem", self.root)
        self.issuer_pem = write_pem(d / "card-auth-ca.pem", self.issuer)
        self.pems = {"good": write_pem(d / "good.pem", self.good), "revoked": write_pem(d / "revoked.pem", self.revoked)}
        self.unknown_serial = random.getrandbits(150) | 1 << 152


@pytest.fixture
def setup(live: Live) -> Setup:
    return Setup(live)


@pytest.fixture(params=["myna serve", "myna validity serve"])
def front(request, setup: Setup):
    """The setup with ``url`` pointing at one of the two OCSP servers: the in-process
    centre of ``myna serve`` (ASGI, the AIA URL), or a standalone centre started with
    ``myna validity serve`` on the same store (its own HTTP server, bundle and replica),
    stopped with SIGTERM afterwards (it must exit 0)."""
    if request.param == "myna serve":
        yield setup
        return
    port = free_port()
    log = setup.live.tmp / "validity-serve.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "myna.cli", "validity", "serve", "--centre", "interop", "--port", str(port), "--interval", "0.1"],
            env=setup.live.env,
            cwd=setup.live.tmp,
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}/ocsp/card-auth"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            # Ready = synced: the revoked one known AND the good one "good". A centre answers
            # "revoked" before its first sync completes (what it knows is revoked stays
            # revoked), but "good" only once fresh, so "revoked" alone was a race under load.
            try:
                if ocsp_status(ocsp_post(url, ocsp_request(setup.revoked, setup.issuer))) == "revoked" and (
                    ocsp_status(ocsp_post(url, ocsp_request(setup.good, setup.issuer))) == "good"
                ):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        setup.url = url
        yield setup
        proc.terminate()
        assert proc.wait(timeout=15) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def check_good(text: str, label: str) -> None:
    assert f"{label}: good" in text, text


def check_revoked(text: str, label: str, revoked_at: dt.datetime) -> None:
    assert f"{label}: revoked" in text, text
    assert "Cert Status: revoked" in text, text
    assert f"Revocation Time: {openssl_time(revoked_at)}" in text, text
    assert "Revocation Reason: superseded (0x4)" in text, text
    assert "\tReason: superseded" in text, text


def check_verified(proc: subprocess.CompletedProcess, nonce: bool) -> None:
    both = proc.stdout + proc.stderr
    assert proc.returncode == 0, out(proc)
    assert "Response verify OK" in proc.stderr, out(proc)
    assert "Verify error" not in both and "Nonce Verify error" not in both, out(proc)
    assert "WARNING: no nonce in response" not in both, out(proc)
    if nonce:
        assert "OCSP Nonce" in both, "the nonce is sent and echoed (visible in -resp_text)\n" + out(proc)


def test_openssl_ocsp_post_good_revoked_unknown_with_nonce_R_REV_10(front: Setup, openssl_bin: str):
    """R-REV-10 over POST, the way `openssl ocsp -url <AIA URL>` asks: a valid card-auth
    certificate is "good", the revoked one "revoked" with the recorded revocation time and
    reason superseded (R-REV-4), a random serial "unknown"; every response verifies
    ("Response verify OK": delegated responder, issued by the card-auth CA, chained to
    the root given with -CAfile) and echoes OpenSSL's nonce (no "WARNING: no nonce")."""
    s = front
    common = ["ocsp", "-url", s.url, "-issuer", s.issuer_pem, "-CAfile", s.root_pem, "-resp_text"]
    good = openssl(openssl_bin, *common, "-cert", s.pems["good"])
    check_verified(good, nonce=True)
    check_good(good.stdout, str(s.pems["good"]))

    revoked = openssl(openssl_bin, *common, "-cert", s.pems["revoked"])
    check_verified(revoked, nonce=True)
    check_revoked(revoked.stdout, str(s.pems["revoked"]), s.revoked_at)

    serial = f"0x{s.unknown_serial:X}"
    unknown = openssl(openssl_bin, *common, "-serial", serial)
    check_verified(unknown, nonce=True)
    assert f"{serial}: unknown" in unknown.stdout, out(unknown)

    # without a nonce (RFC 5019 clients): the pre-signed answer, still verified
    plain = openssl(openssl_bin, *common, "-no_nonce", "-cert", s.pems["good"])
    check_verified(plain, nonce=False)
    check_good(plain.stdout, str(s.pems["good"]))

    # The check can fail: the card-sign CA as issuer makes a CertID no centre answers for,
    # and a foreign trust anchor makes the response fail to verify.
    wrong_issuer = write_pem(s.live.tmp / "card-sign-ca.pem", s.live.ca_cert("card-sign"))
    refused = openssl(openssl_bin, "ocsp", "-url", s.url, "-issuer", wrong_issuer, "-CAfile", s.root_pem, "-cert", s.pems["good"])
    assert "unauthorized" in (refused.stdout + refused.stderr).lower(), out(refused)
    untrusted = openssl(openssl_bin, *common, "-cert", s.pems["good"], "-CAfile", s.pems["good"])
    assert "Response verify OK" not in untrusted.stderr and "Verify error" in untrusted.stderr, out(untrusted)


def _get(url: str, req_der: bytes) -> bytes:
    encoded = urllib.parse.quote(base64.b64encode(req_der).decode(), safe="")
    return http_get(f"{url}/{encoded}")


def test_openssl_ocsp_get_good_revoked_unknown_R_REV_10(front: Setup, openssl_bin: str):
    """R-REV-10 over GET (RFC 6960 A.1: {url}/{url-encoded base64 of the DER request}):
    OpenSSL writes the request (with and without nonce), the test fetches it by GET, and
    OpenSSL reads request and response back: good, revoked (time, reason) and unknown,
    "Response verify OK", nonce checked against the request. Handing OpenSSL the response
    to another request (another nonce) makes it say "Nonce Verify error": the check is live."""
    s = front
    d = s.live.tmp
    targets = {
        "good": ["-cert", s.pems["good"]],
        "revoked": ["-cert", s.pems["revoked"]],
        "unknown": ["-serial", f"0x{s.unknown_serial:X}"],
    }
    for nonce in (True, False):
        for label, target in targets.items():
            req_file, resp_file = d / f"{label}-{nonce}.req", d / f"{label}-{nonce}.resp"
            made = openssl(openssl_bin, "ocsp", "-issuer", s.issuer_pem, *target, "-reqout", req_file, *([] if nonce else ["-no_nonce"]))
            assert made.returncode == 0 and req_file.stat().st_size > 0, out(made)
            req = ocsp.load_der_ocsp_request(req_file.read_bytes())
            assert (len(list(req.extensions)) == 1) is nonce
            resp_file.write_bytes(_get(s.url, req_file.read_bytes()))
            # -no_nonce here: do not add a second nonce to the request read back with -reqin
            read = openssl(
                openssl_bin,
                "ocsp",
                "-reqin",
                req_file,
                "-respin",
                resp_file,
                "-issuer",
                s.issuer_pem,
                *target,
                "-CAfile",
                s.root_pem,
                "-no_nonce",
                "-resp_text",
            )
            check_verified(read, nonce=nonce)
            if label == "good":
                check_good(read.stdout, str(s.pems["good"]))
            elif label == "revoked":
                check_revoked(read.stdout, str(s.pems["revoked"]), s.revoked_at)
            else:
                assert f"0x{s.unknown_serial:X}: unknown" in read.stdout, out(read)

    mismatch = openssl(
        openssl_bin,
        "ocsp",
        "-reqin",
        d / "revoked-True.req",
        "-respin",
        d / "good-True.resp",
        "-issuer",
        s.issuer_pem,
        "-CAfile",
        s.root_pem,
        "-no_nonce",
    )
    assert "Nonce Verify error" in mismatch.stderr, out(mismatch)


# --------------------------------------------------------------------------- pkilint


def lint(der: bytes):
    """As pkilint/bin/lint_ocsp_response.py builds and runs its validator."""
    validator = pkilint_ocsp.create_pkix_ocsp_response_validator_container(
        [
            pkilint_ocsp.create_response_decoder(),
            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
        ],
        [],
    )
    return validator.validate(loader.RFC6960OCSPResponseDocumentLoader().load_der_document(der, "response").root)


def errors(der: bytes) -> str:
    """pkilint's report at ERROR or worse ('' when none)."""
    results = lint(der)
    return report.ReportGeneratorPlaintext(results, ERROR).generate() if report.get_findings_count(results, ERROR) else ""


def _rebuilt(der: bytes, change) -> bytes:
    """The response with its BasicOCSPResponse changed by ``change`` (signature left as
    it was: pkilint checks structure, not signatures)."""
    basic = asn1_ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
    change(basic)
    return asn1_ocsp.OCSPResponse(
        {"response_status": "successful", "response_bytes": {"response_type": "basic_ocsp_response", "response": basic}}
    ).dump(force=True)


def _negative_validity(basic) -> None:
    single = basic["tbs_response_data"]["responses"][0]
    single["next_update"] = asn1_core.GeneralizedTime(single["this_update"].native - dt.timedelta(hours=1))


def _sha256_responder_key_hash(basic) -> None:
    basic["tbs_response_data"]["responder_id"] = asn1_ocsp.ResponderId(name="by_key", value=os.urandom(32))


def _error_status_with_body(der: bytes) -> bytes:
    at = der.index(b"\x0a\x01\x00")  # responseStatus successful -> internalError, body kept
    return der[:at] + b"\x0a\x01\x02" + der[at + 3 :]


def test_pkilint_ocsp_responses_have_no_error_findings_R_REV_10(front: Setup, tmp_path: Path):
    """R-REV-10: pkilint's RFC 6960 response linter finds nothing at ERROR or worse in a
    good, a revoked and an unknown response (with and without nonce) nor in the
    unsuccessful responses (malformedRequest, unauthorized); it does report tampered
    copies (nextUpdate before thisUpdate, a SHA-256 responder key hash, an error status
    with a response body), through the API and through the `lint_ocsp_response` command."""
    s = front
    responses = {}
    for nonce in (None, os.urandom(16)):
        tag = "nonce" if nonce else "plain"
        responses[f"good {tag}"] = ocsp_post(s.url, ocsp_request(s.good, s.issuer, nonce))
        responses[f"revoked {tag}"] = ocsp_post(s.url, ocsp_request(s.revoked, s.issuer, nonce))
        base = ocsp.load_der_ocsp_request(ocsp_request(s.good, s.issuer))
        unknown_req = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
            base.issuer_name_hash, base.issuer_key_hash, s.unknown_serial, hashes.SHA1()
        )
        if nonce:
            unknown_req = unknown_req.add_extension(x509.OCSPNonce(nonce), critical=False)
        responses[f"unknown {tag}"] = ocsp_post(s.url, unknown_req.build().public_bytes(Encoding.DER))
    responses["malformedRequest"] = ocsp_post(s.url, b"\x30\x00")
    responses["unauthorized"] = ocsp_post(s.live.url("/ocsp/card-sign"), ocsp_request(s.good, s.issuer))
    assert {k: ocsp_status(v) for k, v in responses.items()} == {
        "good plain": "good",
        "revoked plain": "revoked",
        "unknown plain": "unknown",
        "good nonce": "good",
        "revoked nonce": "revoked",
        "unknown nonce": "unknown",
        "malformedRequest": "malformedrequest",
        "unauthorized": "unauthorized",
    }
    found = {label: errors(der) for label, der in responses.items()}
    assert not any(found.values()), "pkilint findings at ERROR or worse:\n" + "\n".join(f"== {k}\n{v}" for k, v in found.items() if v)

    tampered = {
        "negative validity": (_rebuilt(responses["good plain"], _negative_validity), "pkix.ocsp_negative_validity_period"),
        "SHA-256 responder key hash": (
            _rebuilt(responses["revoked plain"], _sha256_responder_key_hash),
            "pkix.ocsp_responderid_keyhash_is_not_sha1",
        ),
        "error status with a body": (_error_status_with_body(responses["unknown plain"]), "pkix.ocsp_error_response_has_response_body"),
    }
    for label, (der, code) in tampered.items():
        assert code in errors(der), f"pkilint did not report {code} for the {label} copy"

    lint_cmd = require_tool("lint_ocsp_response", "the API checks above ran")
    for label, der, want_ok in (
        ("good", responses["good nonce"], True),
        ("revoked", responses["revoked plain"], True),
        ("tampered", tampered["negative validity"][0], False),
    ):
        path = tmp_path / f"{label}.der"
        path.write_bytes(der)
        r = subprocess.run(
            [lint_cmd, "lint", "-s", "ERROR", "--document-format", "DER", str(path)], capture_output=True, text=True, timeout=120
        )
        assert (r.returncode == 0) is want_ok, f"{label}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"


# --------------------------------------------------------------------------- pyhanko-certvalidator

# OCSP required for the end-entity certificate; the issuing CA (intermediate) is checked
# against the root's CRL, which is the only CRL the validator may fetch: a card-auth CRL
# in ``context.crls`` would mean the leaf was checked by CRL, not by OCSP.
OCSP_FOR_LEAF = CertRevTrustPolicy(
    RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.OCSP_REQUIRED,
        intermediate_ca_cert_rule=RevocationCheckingRule.CRL_REQUIRED,
    )
)


def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


async def pyhanko_validate(root: x509.Certificate, intermediate: x509.Certificate, leaf: x509.Certificate):
    """Validate a card-auth certificate for digitalSignature (user authentication); the
    library fetches OCSP from the AIA URL itself (with a nonce, SHA-1 CertID) and checks
    the delegated responder. Returns (OCSP responses, CRLs) it used; raises its errors."""
    # The validation moment is fixed when the context is made; the answer to a request with
    # a nonce is signed when it arrives, so on a loaded machine its thisUpdate can be more
    # than the library's default 1 s tolerance later ("too recent"): allow clock-skew room.
    context = ValidationContext(
        trust_roots=[asn1(root)], allow_fetching=True, revinfo_policy=OCSP_FOR_LEAF, time_tolerance=dt.timedelta(seconds=30)
    )
    async with aclosing(context):
        validator = CertificateValidator(asn1(leaf), intermediate_certs=[asn1(intermediate)], validation_context=context)
        await validator.async_validate_usage({"digital_signature"})
        return list(context.ocsps), list(context.crls)


def test_pyhanko_validates_card_auth_path_with_ocsp_only_R_REV_10(setup: Setup):
    """R-REV-10 for a validator nobody here wrote: with OCSP required for the leaf,
    pyhanko-certvalidator accepts the valid card-auth certificate (having used an OCSP
    response and no card-auth CRL) and reports the revoked one as revoked, at the
    recorded time, for supersession (R-REV-4)."""
    s = setup

    async def scenario():
        ocsps, crls = await pyhanko_validate(s.root, s.issuer, s.good)
        assert len(ocsps) >= 1, "no OCSP response was used"
        crl_issuers = {c.issuer.native["common_name"] for c in crls}
        assert s.issuer.subject.rfc4514_string() not in crl_issuers and all("Authentication" not in cn for cn in crl_issuers), crl_issuers
        with pytest.raises(RevokedError) as raised:
            await pyhanko_validate(s.root, s.issuer, s.revoked)
        return str(raised.value)

    message = asyncio.run(scenario())
    assert "revoked" in message and "supersession" in message, message
    assert s.revoked_at.strftime("%H:%M:%S") in message, message

    # The OCSP requirement is real: a policy requiring OCSP with fetching disabled fails.
    async def offline():
        context = ValidationContext(trust_roots=[asn1(s.root)], allow_fetching=False, revinfo_policy=OCSP_FOR_LEAF)
        validator = CertificateValidator(asn1(s.good), intermediate_certs=[asn1(s.issuer)], validation_context=context)
        await validator.async_validate_usage({"digital_signature"})

    with pytest.raises(Exception) as no_revinfo:
        asyncio.run(offline())
    assert not isinstance(no_revinfo.value, RevokedError), no_revinfo.value
