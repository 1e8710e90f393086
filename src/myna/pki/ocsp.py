"""OCSP (RFC 6960, with the RFC 5019 lightweight profile): parsing requests and building
responses. Pure: no store, no web.

Responses are signed by a delegated responder (RFC 6960 §4.2.2.2): a certificate the CA
issues to each validity centre, with id-kp-OCSPSigning and id-pkix-ocsp-nocheck, and an
EC P-256 key (choice) so that signing a response costs tens of microseconds rather than
an RSA signature.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from asn1crypto import keys, parser
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_REQUEST_BYTES = 8 * 1024  # RFC 5019 requests are a few hundred bytes
MAX_NONCE_BYTES = 32  # RFC 8954 §2.1
# Extensions in a request (requestExtensions, or the one Request's singleRequestExtensions).
# RFC 6960 §4.4 defines four that a request can carry (nonce, acceptable responses,
# service locator, preferred signature algorithms); RFC 5019 §2.1 asks for the nonce
# alone. cryptography builds a Python object for every extension when they are first
# read (about a fifth of a whole request's parse each): past this count the request is
# refused before they are built, so the cost of a refusal stays bounded.
MAX_EXTENSIONS = 8
# A request holds more than MAX_EXTENSIONS extensions in a list only if, its CertID's
# hash and serial octets (all but one of the serial's) left out, it is over this size: an
# extension takes at least 7 bytes and everything else at least 28 (9 extensions: 91).
_COUNT_EXTENSIONS_ABOVE = 90
# Over this size the count comes before the CertID accessors (see parse_request).
_COUNT_BEFORE_ACCESSORS_ABOVE = 256
RESPONDER_DAYS = 365
_HASHES = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


class CertStatus(str, enum.Enum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class OcspRefusal(Exception):
    """A request answered with an unsuccessful OCSPResponse status."""

    def __init__(self, status: ocsp.OCSPResponseStatus, why: str):
        super().__init__(why)
        self.status = status
        self.why = why


@dataclass(frozen=True)
class OcspQuery:
    hash_name: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    nonce: bytes | None


# What the parse path can raise for bytes that are not a request we accept (all but the
# first from cryptography's x509.ocsp.load_der_ocsp_request and the OCSPRequest
# accessors; the extensions are parsed lazily, on first access):
# - ValueError: not DER, or not an OCSPRequest (trailing bytes, wrong tags, lengths past
#   the end, an extension value that does not parse, e.g. acceptable responses); also
#   asn1crypto.parser's error for the extension count below;
# - NotImplementedError: more than one, or no, Request in requestList;
# - x509.DuplicateExtension: two extensions with one OID (RFC 5280 §4.2);
# - x509.UnsupportedGeneralNameType: a name cryptography cannot represent (not reached by
#   the accessors used here today; listed so that a future accessor cannot turn a bad
#   request into internalError);
# - UnsupportedAlgorithm: a CertID hash cryptography does not know (answered
#   unauthorized, below, like a known hash we do not use).
_MALFORMED_ERRORS = (ValueError, NotImplementedError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)
# Request extensions this responder understands: a critical one it does not understand
# makes the request one it must not answer as if the extension were absent (RFC 6960
# §4.4, RFC 5280 §4.2).
_UNDERSTOOD = frozenset({x509.OCSPNonce.oid, x509.OCSPAcceptableResponses.oid})


def parse_request(der: bytes) -> OcspQuery:
    """Parse a DER OCSPRequest. Raises OcspRefusal(MALFORMED_REQUEST) for anything that is
    not exactly one well-formed request, and UNAUTHORIZED for a CertID hash we do not use.
    Raises nothing else for any input (tests/validation/test_ocsp_malformed.py), and the
    cost of a refusal is bounded by the size limits (bench/ocsp_malformed.py)."""
    if not der:
        raise OcspRefusal(ocsp.OCSPResponseStatus.MALFORMED_REQUEST, "empty request")
    if len(der) > MAX_REQUEST_BYTES:
        raise OcspRefusal(ocsp.OCSPResponseStatus.MALFORMED_REQUEST, f"request larger than {MAX_REQUEST_BYTES} bytes")
    try:
        req = ocsp.load_der_ocsp_request(der)  # strict DER of the right shape from here on
        # The extensions are counted before cryptography builds them. (Not before loading:
        # asn1crypto's parser, lenient, can spend milliseconds on bytes cryptography
        # refuses in microseconds.) A larger request is counted before the CertID
        # accessors too, since cryptography re-parses the Request, singleRequestExtensions
        # included, on each of them; a smaller one only when what is not the CertID's
        # hashes and serial leaves room for more than MAX_EXTENSIONS extensions, which
        # spares the usual requests, nonce or not, the walk.
        large = len(der) > _COUNT_BEFORE_ACCESSORS_ABOVE
        if large and _too_many_extensions(der):
            raise OcspRefusal(ocsp.OCSPResponseStatus.MALFORMED_REQUEST, f"more than {MAX_EXTENSIONS} extensions")
        serial = req.serial_number
        name_hash, key_hash = req.issuer_name_hash, req.issuer_key_hash
        if not large:
            # (abs(serial).bit_length() - 1) // 8: the serial's content octets less one, or fewer
            room = len(der) - len(name_hash) - len(key_hash) - (abs(serial).bit_length() - 1) // 8
            if room > _COUNT_EXTENSIONS_ABOVE and _too_many_extensions(der):
                raise OcspRefusal(ocsp.OCSPResponseStatus.MALFORMED_REQUEST, f"more than {MAX_EXTENSIONS} extensions")
        extensions = req.extensions
    except _MALFORMED_ERRORS as exc:
        # cryptography refuses requests with more than one CertID (NotImplementedError);
        # RFC 5019 §2.1.1 asks clients for one, and we answer others as malformed.
        raise OcspRefusal(ocsp.OCSPResponseStatus.MALFORMED_REQUEST, f"not a single OCSP request: {type(exc).__name__}") from None
    try:
        hash_name = req.hash_algorithm.name
    except UnsupportedAlgorithm:
        raise OcspRefusal(ocsp.OCSPResponseStatus.UNAUTHORIZED, "CertID hash algorithm not supported") from None
    if hash_name not in _HASHES:
        raise OcspRefusal(ocsp.OCSPResponseStatus.UNAUTHORIZED, f"CertID hash algorithm {hash_name} not supported")
    if serial < 0:
        # CertificateSerialNumber is a positive INTEGER (RFC 5280 §4.1.2.2).
        raise OcspRefusal(ocsp.OCSPResponseStatus.MALFORMED_REQUEST, "negative serial number")
    nonce = None
    for ext in extensions:
        if ext.oid == x509.OCSPNonce.oid:
            nonce = ext.value.nonce
        elif ext.critical and ext.oid not in _UNDERSTOOD:
            raise OcspRefusal(ocsp.OCSPResponseStatus.MALFORMED_REQUEST, f"unknown critical extension {ext.oid.dotted_string}")
    if nonce is not None and not 1 <= len(nonce) <= MAX_NONCE_BYTES:
        raise OcspRefusal(ocsp.OCSPResponseStatus.MALFORMED_REQUEST, f"nonce must be 1-{MAX_NONCE_BYTES} bytes (RFC 8954)")
    return OcspQuery(hash_name, name_hash, key_hash, serial, nonce)


def _too_many_extensions(der: bytes) -> bool:
    """Whether requestExtensions, or the first Request's singleRequestExtensions, hold
    more than MAX_EXTENSIONS extensions. Called on a request cryptography has loaded: it
    walks element headers with asn1crypto's parser and builds no extension object (bytes
    not of an OCSPRequest's shape raise ValueError)."""
    tbs = _contents(der, 0)  # OCSPRequest ::= SEQUENCE { tbsRequest, [0] optionalSignature }
    tbs = _contents(tbs, 0)
    # TBSRequest ::= SEQUENCE { [0] version, [1] requestorName, requestList, [2] requestExtensions }
    pos = 0
    for _field in range(4):
        if pos >= len(tbs):
            break
        cls, _method, tag, header, contents, trailer = parser.parse(tbs[pos:])
        pos += len(header) + len(contents) + len(trailer)
        if cls == 0 and contents:  # requestList: SEQUENCE OF Request (more than one: refused later)
            request = _contents(contents, 0)  # Request ::= SEQUENCE { reqCert, [0] singleRequestExtensions }
            cert_id_len = parser.peek(request)
            if cert_id_len < len(request) and _count(_contents(_contents(request, cert_id_len), 0)) > MAX_EXTENSIONS:
                return True
        elif cls == 2 and tag == 2 and _count(_contents(contents, 0)) > MAX_EXTENSIONS:
            return True
    if pos < len(tbs):  # more than four fields: not a TBSRequest (and not walked further)
        raise ValueError("TBSRequest with more than four fields")
    return False


def _contents(data: bytes, at: int) -> bytes:
    """The contents octets of the DER element that starts at ``at``."""
    return parser.parse(data[at:])[4]


def _count(elements: bytes) -> int:
    """How many DER elements follow each other in ``elements``, counted up to one past
    MAX_EXTENSIONS (0 when too few bytes for more than MAX_EXTENSIONS)."""
    if len(elements) < 7 * (MAX_EXTENSIONS + 1):  # an extension takes at least 7 bytes
        return 0
    n, pos = 0, 0
    while pos < len(elements) and n <= MAX_EXTENSIONS:
        pos += parser.peek(elements[pos:])
        n += 1
    return n


def issuer_hashes(issuer: x509.Certificate, hash_name: str) -> tuple[bytes, bytes]:
    """issuerNameHash and issuerKeyHash of a CA for one hash algorithm (RFC 6960 §4.1.1)."""
    algorithm = _HASHES[hash_name]
    name = hashes.Hash(algorithm)
    name.update(issuer.subject.public_bytes())
    key = hashes.Hash(algorithm)
    spki = issuer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key.update(_subject_public_key_bits(spki))
    return name.finalize(), key.finalize()


def _subject_public_key_bits(spki: bytes) -> bytes:
    # issuerKeyHash covers the BIT STRING contents of subjectPublicKey, not the whole SPKI.
    return keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]


@dataclass
class Responder:
    """One delegated responder: answers for ``issuer`` with ``cert`` and ``key``."""

    slug: str
    issuer: x509.Certificate
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def __post_init__(self) -> None:
        self._hashes = {name: issuer_hashes(self.issuer, name) for name in _HASHES}

    def answers_for(self, q: OcspQuery) -> bool:
        return self._hashes[q.hash_name] == (q.issuer_name_hash, q.issuer_key_hash)

    def hashes(self, hash_name: str) -> tuple[bytes, bytes]:
        return self._hashes[hash_name]

    def respond(
        self,
        q: OcspQuery,
        status: CertStatus,
        this_update: dt.datetime,
        next_update: dt.datetime,
        revoked_at: dt.datetime | None = None,
        reason: x509.ReasonFlags | None = None,
        with_nonce: bool = True,
    ) -> bytes:
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=q.issuer_name_hash,
                issuer_key_hash=q.issuer_key_hash,
                serial_number=q.serial,
                algorithm=_HASHES[q.hash_name],
                cert_status=ocsp.OCSPCertStatus[status.name],
                this_update=this_update,
                next_update=next_update,
                revocation_time=revoked_at if status is CertStatus.REVOKED else None,
                revocation_reason=reason if status is CertStatus.REVOKED else None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.cert)
            .certificates([self.cert])
        )
        if with_nonce and q.nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(q.nonce), critical=False)
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


_UNSUCCESSFUL: dict[ocsp.OCSPResponseStatus, bytes] = {}


def unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    """The DER of an unsuccessful OCSPResponse (no body, nothing signed)."""
    if status not in _UNSUCCESSFUL:
        _UNSUCCESSFUL[status] = ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)
    return _UNSUCCESSFUL[status]


def responder_builder(
    issuer: x509.Certificate, public_key, centre: str, slug: str, serial: int, now: dt.datetime
) -> x509.CertificateBuilder:
    """A delegated OCSP responder certificate for one centre and one CA (RFC 6960 §4.2.2.2)."""
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    not_after = min(now + dt.timedelta(days=RESPONDER_DAYS), issuer.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "myna JPKI"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"validity centre {centre}"),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"myna OCSP responder {slug} {centre}"),
                ]
            )
        )
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
