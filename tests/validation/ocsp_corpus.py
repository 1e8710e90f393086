"""A corpus of malformed OCSP requests, generated in code (import as ``ocsp_corpus``):
what the tests in test_ocsp_malformed.py send to both HTTP fronts and to Centre.answer,
and what bench/ocsp_malformed.py times against a good request.

Each case is a request that a validity centre must refuse (RFC 6960 §2.3) with the
status it names: malformedRequest for anything that is not exactly one well-formed
request we accept, unauthorized for a CertID we cannot answer for. Built from a good
request's parts (the issuer hashes of a real CA and a serial), with asn1crypto where the
structure is valid ASN.1 and a few bytes by hand where it is not; never with myna's own
code, so the centre is judged by requests it did not write.

Shapes: byte-level damage to a good request (truncations, trailing bytes, tags, lengths),
things that are not an OCSP request at all, structures cryptography parses but we refuse
(duplicate, unknown critical, too many extensions; nonces outside RFC 8954's 1..32
octets; zero or several CertIDs; negative serials; versions other than v1), and GET paths
that cannot carry a request (bad base64, bad percent-encoding, over the GET bound).
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from urllib.parse import quote

from asn1crypto import ocsp as asn1_ocsp

from myna.pki.ocsp import MAX_EXTENSIONS, MAX_NONCE_BYTES, MAX_REQUEST_BYTES
from myna.validation.http import MAX_GET_CHARS, MAX_OTHER_ESCAPES

MALFORMED = "malformedrequest"
UNAUTHORIZED = "unauthorized"
NONCE = "1.3.6.1.5.5.7.48.1.2"
ACCEPTABLE_RESPONSES = "1.3.6.1.5.5.7.48.1.4"


@dataclass(frozen=True)
class Case:
    """``der``: the request bytes (POSTed, and sent by GET as base64 too when short
    enough); or ``get``: the URL tail after ``/ocsp/{ca}/``, exactly as sent."""

    name: str
    expect: str
    der: bytes | None = None
    get: str | None = None


@dataclass(frozen=True)
class Good:
    """The parts of a good request: a CA's SHA-1 issuer hashes and a serial it issued."""

    name_hash: bytes
    key_hash: bytes
    serial: int
    der: bytes  # the good request itself (cryptography's OCSPRequestBuilder, no nonce)


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element (definite, minimal length)."""
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _cert_id(g: Good, serial: int | None = None, hash_name: str = "sha1", name_hash=None, key_hash=None) -> dict:
    return {
        "hash_algorithm": {"algorithm": hash_name},
        "issuer_name_hash": g.name_hash if name_hash is None else name_hash,
        "issuer_key_hash": g.key_hash if key_hash is None else key_hash,
        "serial_number": g.serial if serial is None else serial,
    }


def _ext(oid: str, value: bytes, critical: bool = False) -> dict:
    return {"extn_id": oid, "critical": critical, "extn_value": value}


def _nonce(value: bytes, critical: bool = False) -> dict:
    # asn1crypto's OCSP nonce extension value is the OCTET STRING of RFC 6960/8954
    return _ext(NONCE, value, critical)


def request(g: Good, exts: list[dict] | None = None, single: list[dict] | None = None, cert_ids: list[dict] | None = None) -> bytes:
    """An OCSPRequest built field by field with asn1crypto."""
    items = [{"req_cert": c} for c in (cert_ids if cert_ids is not None else [_cert_id(g)])]
    if single is not None and items:
        items[0]["single_request_extensions"] = single
    tbs: dict = {"request_list": items}
    if exts is not None:
        tbs["request_extensions"] = exts
    return asn1_ocsp.OCSPRequest({"tbs_request": tbs}).dump().replace(_PLACEHOLDER_DER, _ACCEPTABLE_RESPONSES_DER)


# asn1crypto builds the value of an extension it knows from its native form: for a value
# that is not what the OID calls for, the extension is built under this placeholder OID
# (as long as id-pkix-ocsp-response when encoded) and renamed in the DER afterwards.
_PLACEHOLDER = "1.3.6.1.5.5.7.48.1.99"
_PLACEHOLDER_DER = b"\x06\x09\x2b\x06\x01\x05\x05\x07\x30\x01\x63"
_ACCEPTABLE_RESPONSES_DER = b"\x06\x09\x2b\x06\x01\x05\x05\x07\x30\x01\x04"


def raw_acceptable_responses(value: bytes) -> dict:
    """An acceptable-responses extension (RFC 6960 §4.4.3) whose value is ``value`` as is."""
    return _ext(_PLACEHOLDER, value)


def _unknown(i: int, critical: bool = False) -> dict:
    return _ext(f"1.3.6.1.4.1.99999.{i}", b"\x05\x00", critical)


def _with_length(der: bytes, length_octets: bytes) -> bytes:
    """The outer SEQUENCE of ``der`` with its length octets replaced."""
    header = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    return der[:1] + length_octets + der[header:]


def _tbs_contents(der: bytes) -> bytes:
    outer = asn1_ocsp.OCSPRequest.load(der)
    return outer["tbs_request"].contents


def der_cases(g: Good) -> list[Case]:
    rnd = random.Random(13)  # a fixed seed: the same corpus on every run
    good = g.der
    with_nonce = request(g, [_nonce(bytes(range(16)))])
    cases: list[Case] = []

    def add(name: str, der: bytes, expect: str = MALFORMED) -> None:
        cases.append(Case(name, expect, der=der))

    # -- not an OCSP request at all
    add("empty", b"")
    add("one zero byte", b"\x00")
    add("empty SEQUENCE", b"\x30\x00")
    add("SEQUENCE of an empty SEQUENCE", b"\x30\x02\x30\x00")
    add("NULL", b"\x05\x00")
    add("text", b"hello, responder")
    add("an HTTP request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    add("a TLS ClientHello", b"\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03" + bytes(range(32)) + b"\x00\x00\x02\x00\x2f\x01\x00")
    add("an unsuccessful OCSPResponse", b"\x30\x03\x0a\x01\x06")
    add("random 64 bytes", rnd.randbytes(64))
    add("random 1 KiB", rnd.randbytes(1024))
    add("100 zero bytes", bytes(100))
    add("8 KiB of 0x30", b"\x30" * MAX_REQUEST_BYTES)
    add("8 KiB of 0xff", b"\xff" * MAX_REQUEST_BYTES)
    add("over 8 KiB: zeros", bytes(MAX_REQUEST_BYTES + 1))
    add("over 8 KiB: a good request padded", good + bytes(MAX_REQUEST_BYTES))
    add("base64 text of a good request", base64.b64encode(good))
    add("PEM-armoured good request", b"-----BEGIN OCSP REQUEST-----\n" + base64.encodebytes(good) + b"-----END OCSP REQUEST-----\n")

    # -- a good request, damaged
    for n in (1, 2, 3, 5, 10, 20, 40, 60, len(good) - 2, len(good) - 1):
        add(f"good request truncated to {n} bytes", good[:n])
    for n in (10, len(with_nonce) - 20, len(with_nonce) - 1):
        add(f"nonce request truncated to {n} bytes", with_nonce[:n])
    add("trailing zero byte", good + b"\x00")
    add("trailing 0xff", good + b"\xff")
    add("trailing empty SEQUENCE", good + b"\x30\x00")
    add("trailing 100 random bytes", good + rnd.randbytes(100))
    add("two good requests back to back", good + good)
    for tag in (0x31, 0x04, 0x02, 0xA0, 0x00, 0xFF, 0x10):
        add(f"outer tag 0x{tag:02x}", bytes([tag]) + good[1:])
    add("outer length one more", _with_length(good, bytes([good[1] + 1])))
    add("outer length one less", _with_length(good, bytes([good[1] - 1])))
    add("outer length zero", _with_length(good, b"\x00"))
    add("outer length indefinite (BER)", _with_length(good, b"\x80") + b"\x00\x00")
    add("outer length 2^32-1", _with_length(good, b"\x84\xff\xff\xff\xff"))
    add("outer length in 9 octets", _with_length(good, b"\x89" + b"\xff" * 9))
    add("outer length in 127 octets", _with_length(good, b"\xff" + b"\x01" * 127))
    add("outer length not minimal (0x81)", _with_length(good, b"\x81" + bytes([good[1]])))
    tbs = _tbs_contents(good)
    add("TBSRequest tag SET", tlv(0x30, tlv(0x31, tbs)))
    add("TBSRequest tag OCTET STRING", tlv(0x30, tlv(0x04, tbs)))
    add("TBSRequest length past the end", tlv(0x30, b"\x30\x84\x7f\xff\xff\xff" + tbs))
    add("TBSRequest of a NULL", tlv(0x30, tlv(0x30, b"\x05\x00")))
    add("version v1 written out (DER forbids the DEFAULT)", tlv(0x30, tlv(0x30, tlv(0xA0, b"\x02\x01\x00") + tbs)))
    add("version v2", tlv(0x30, tlv(0x30, tlv(0xA0, b"\x02\x01\x01") + tbs)))
    add("version 255", tlv(0x30, tlv(0x30, tlv(0xA0, b"\x02\x02\x00\xff") + tbs)))
    add("version not an INTEGER", tlv(0x30, tlv(0x30, tlv(0xA0, b"\x04\x01\x00") + tbs)))
    add("requestorName [1] empty", tlv(0x30, tlv(0x30, tlv(0xA1, b"") + tbs)))
    add("requestorName [1] not a GeneralName", tlv(0x30, tlv(0x30, tlv(0xA1, b"\x30\x00") + tbs)))
    add("requestExtensions [2] empty", tlv(0x30, tlv(0x30, tbs + tlv(0xA2, b""))))
    add("requestExtensions [2] not a SEQUENCE", tlv(0x30, tlv(0x30, tbs + tlv(0xA2, b"\x04\x00"))))
    add("unknown context tag [5] in TBSRequest", tlv(0x30, tlv(0x30, tbs + tlv(0xA5, b"\x05\x00"))))
    add("optionalSignature [0] empty", tlv(0x30, tlv(0x30, tbs) + tlv(0xA0, b"")))
    add("optionalSignature [0] not a SEQUENCE", tlv(0x30, tlv(0x30, tbs) + tlv(0xA0, b"\x04\x02ab")))
    add("unknown [3] after the TBSRequest", tlv(0x30, tlv(0x30, tbs) + tlv(0xA3, b"\x05\x00")))
    add("requestList a SET", tlv(0x30, tlv(0x30, tlv(0x31, asn1_ocsp.OCSPRequest.load(good)["tbs_request"]["request_list"].contents))))
    add("requestList of a NULL", tlv(0x30, tlv(0x30, tlv(0x30, b"\x05\x00"))))
    add("CertID empty", tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, b""))))))
    cert_id = asn1_ocsp.OCSPRequest.load(good)["tbs_request"]["request_list"][0]["req_cert"]
    alg, nh, kh, sn = (cert_id[k].dump() for k in ("hash_algorithm", "issuer_name_hash", "issuer_key_hash", "serial_number"))

    def with_cert_id(content: bytes) -> bytes:
        return tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, content)))))

    add("CertID missing the serial", with_cert_id(alg + nh + kh))
    add("CertID serial an OCTET STRING", with_cert_id(alg + nh + kh + tlv(0x04, sn[2:])))
    add("CertID serial empty INTEGER", with_cert_id(alg + nh + kh + b"\x02\x00"))
    add("CertID serial not minimal", with_cert_id(alg + nh + kh + tlv(0x02, b"\x00" + sn[2:] if sn[2] >= 0x80 else b"\x00\x00" + sn[2:])))
    add("CertID hashes swapped with the algorithm", with_cert_id(nh + alg + kh + sn))
    add("CertID name hash an INTEGER", with_cert_id(alg + tlv(0x02, b"\x01") + kh + sn))
    add("CertID algorithm OID an INTEGER", with_cert_id(tlv(0x30, b"\x02\x01\x05") + nh + kh + sn))
    add("CertID algorithm empty", with_cert_id(tlv(0x30, b"") + nh + kh + sn))
    add("CertID name hash length 2^31", with_cert_id(alg + b"\x04\x84\x80\x00\x00\x00" + nh[2:] + kh + sn))
    add("CertID extra field", with_cert_id(alg + nh + kh + sn + b"\x05\x00"))
    add("deeply nested SEQUENCEs", b"\x30\x80" * 2000 + b"\x00\x00" * 2000)
    nested = b""
    for _ in range(1000):
        nested = tlv(0x30, nested)
    add("1000 nested definite SEQUENCEs", nested)
    add("optionalSignature of 6 KiB junk", tlv(0x30, tlv(0x30, tbs) + tlv(0xA0, tlv(0x04, rnd.randbytes(6000)))))

    # -- well-formed DER that is not a request we answer
    add("two copies of the nonce", request(g, [_nonce(b"0123456789abcdef")] * 2))
    add("two nonces, different values", request(g, [_nonce(b"0123456789abcdef"), _nonce(b"fedcba9876543210")]))
    add("three copies of the nonce", request(g, [_nonce(b"abcd")] * 3))
    add("two copies of an unknown extension", request(g, [_unknown(1)] * 2))
    add("two copies of acceptable responses", request(g, [_ext(ACCEPTABLE_RESPONSES, ["basic_ocsp_response"])] * 2))
    add("nonce and a duplicate unknown extension", request(g, [_nonce(b"abcd"), _unknown(1), _unknown(2), _unknown(1)]))
    add("duplicate extension in singleRequestExtensions and many", request(g, single=[_unknown(1)] * (MAX_EXTENSIONS + 1)))
    add("unknown critical extension", request(g, [_unknown(1, critical=True)]))
    add("nonce and an unknown critical extension", request(g, [_nonce(b"abcd"), _unknown(7, critical=True)]))
    for n in (MAX_EXTENSIONS + 1, 50, 300):
        add(f"{n} distinct unknown extensions", request(g, [_unknown(i) for i in range(n)]))
        add(f"{n} distinct unknown single-request extensions", request(g, single=[_unknown(i) for i in range(n)]))
    add("empty nonce", request(g, [_nonce(b"")]))
    for n in (MAX_NONCE_BYTES + 1, 64, 1000, 6000):
        add(f"nonce of {n} bytes", request(g, [_nonce(rnd.randbytes(n))]))
    add("acceptable responses not a SEQUENCE", request(g, [raw_acceptable_responses(b"\x04\x00")]))
    add("acceptable responses of INTEGERs", request(g, [raw_acceptable_responses(b"\x30\x03\x02\x01\x01")]))
    add("no CertID", request(g, cert_ids=[]))
    add("two CertIDs", request(g, cert_ids=[_cert_id(g), _cert_id(g, serial=g.serial + 1)]))
    add("100 CertIDs", request(g, cert_ids=[_cert_id(g, serial=s) for s in range(1, 101)]))
    add("negative serial", request(g, cert_ids=[_cert_id(g, serial=-1)]))
    add("large negative serial", request(g, cert_ids=[_cert_id(g, serial=-(2**100))]))

    # -- a CertID we cannot answer for: unauthorized (RFC 6960 §2.3)
    for hash_name, size in (("md5", 16), ("sha224", 28), ("sha3_256", 32)):
        add(
            f"CertID hashed with {hash_name}",
            request(g, cert_ids=[_cert_id(g, hash_name=hash_name, name_hash=b"\x01" * size, key_hash=b"\x02" * size)]),
            UNAUTHORIZED,
        )
    add("CertID with an unknown hash OID", with_cert_id(tlv(0x30, b"\x06\x03\x2a\x03\x04") + nh + kh + sn), UNAUTHORIZED)
    add("CertID hashes of another CA", request(g, cert_ids=[_cert_id(g, name_hash=bytes(20), key_hash=bytes(20))]), UNAUTHORIZED)
    add("CertID with empty hashes", request(g, cert_ids=[_cert_id(g, name_hash=b"", key_hash=b"")]), UNAUTHORIZED)
    return cases


def get_cases(g: Good) -> list[Case]:
    """GET tails (after ``/ocsp/{ca}/``) that cannot carry a request we answer."""
    good_b64 = base64.b64encode(g.der).decode()
    dup = base64.b64encode(request(g, [_nonce(b"abcd")] * 2)).decode()
    cases = [
        Case("GET: only a slash", MALFORMED, get="/"),
        Case("GET: percent signs", MALFORMED, get="%%%"),
        Case("GET: not base64 at all", MALFORMED, get="!!!!~~~~"),
        Case("GET: one base64 character", MALFORMED, get="A"),
        Case("GET: five base64 characters", MALFORMED, get="AAAAA"),
        Case("GET: non-ASCII escapes", MALFORMED, get="%FF%FE%FD%FC"),
        Case("GET: an escaped NUL", MALFORMED, get="%00"),
        Case("GET: base64url alphabet of a good request", MALFORMED, get=base64.urlsafe_b64encode(g.der).decode().replace("-", "--")),
        Case("GET: double-escaped base64", MALFORMED, get=quote(quote(good_b64, safe=""), safe="")),
        Case("GET: every character escaped", MALFORMED, get="".join(f"%{b:02X}" for b in good_b64.encode())),
        Case(f"GET: {MAX_OTHER_ESCAPES + 1} escaped letters", MALFORMED, get="%41" * (MAX_OTHER_ESCAPES + 1) + good_b64),
        Case("GET: base64 of a truncated request", MALFORMED, get=quote(base64.b64encode(g.der[:-3]).decode(), safe="")),
        Case("GET: base64 with trailing garbage bytes", MALFORMED, get=quote(base64.b64encode(g.der + b"\x00\x01").decode(), safe="")),
        Case("GET: two copies of the nonce, escaped", MALFORMED, get=quote(dup, safe="")),
        Case("GET: two copies of the nonce, raw", MALFORMED, get=dup),
        Case("GET: good request then a path segment", MALFORMED, get=quote(good_b64, safe="") + "/extra"),
        Case(f"GET: over {MAX_GET_CHARS} base64 characters", MALFORMED, get="A" * (MAX_GET_CHARS + 4)),
        Case("GET: 30,000 base64 characters", MALFORMED, get="A" * 30_000),
        Case("GET: 10,000 escapes", MALFORMED, get="%2F" * 10_000),
        Case("GET: 10,000 escaped letters", MALFORMED, get="%41" * 10_000),
    ]
    return cases


def corpus(g: Good) -> list[Case]:
    cases = der_cases(g) + get_cases(g)
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be distinct"
    return cases


def get_tail(der: bytes) -> str:
    """The RFC 5019 §5 GET form of a request: base64, percent-encoded."""
    return quote(base64.b64encode(der).decode(), safe="")


def fits_get(der: bytes) -> bool:
    """Short enough to be sent by GET as well (and decoded, not refused for its size)."""
    return 0 < len(der) and len(base64.b64encode(der)) <= MAX_GET_CHARS
