"""A small DER writer (X.690) for the two structures myna writes itself: CRLs
(:mod:`myna.pki.crl_der`) and holder-certificate TBS bytes (:mod:`myna.pki.holder_tbs`).

Why hand-written
----------------
Both are hot paths where a general ASN.1 library costs more than the work itself,
because it builds Python objects per field and cannot take "these bytes are already
valid DER" as input:

* A CRL can list a million entries. ``cryptography``'s CRL builder takes one Python
  object per entry, copies its list on every ``add_revoked_certificate`` (O(n^2):
  21 s for 10^5 entries with cryptography 48, before signing) and re-encodes every
  entry on each ``sign()``. Here each entry is encoded once at revocation time and a
  CRL is a concatenation: ``build_crl`` over 10^6 cached entries took 0.46 s against
  9.3 s for ``openssl ca -gencrl`` (docs/benchmarks-crl.md).
* A batch of holder certificates is signed in worker processes, which need the TBS
  bytes without a signature. From a per-CA template these cost 32 us per certificate,
  against 96 us for ``profiles.holder_builder`` plus a signature to get them out of it
  (docs/benchmarks-issuance.md, "Where the time goes").

``asn1crypto`` could write the same structures, but through several Python objects
per field, which is the cost both callers remove. Everything with a rich structure
(issuer ``Name``, extension values) is still encoded by ``cryptography`` (its
``public_bytes()``); this module only frames: TLV, INTEGER, OBJECT IDENTIFIER,
Time, an Extension around a value, the signature AlgorithmIdentifiers, and the
signed envelope that a Certificate and a CertificateList share.

DER in one paragraph
--------------------
Every value is ``tag || length || contents``. The length is one byte when the
contents are shorter than 128 bytes; otherwise one byte ``0x80 | k`` followed by
the length in ``k`` big-endian bytes, with no leading zero byte (DER requires the
shortest form). A constructed value (SEQUENCE) has the concatenated encodings of
its members as contents, so its length is the sum of their lengths: callers compute
it from the list of parts and join once, never copying a growing output over and over.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

__all__ = [
    "BIT_STRING",
    "MAX_INTEGER_BITS",
    "OCTET_STRING",
    "SEQUENCE",
    "SET",
    "SignatureAlgorithm",
    "assemble",
    "check_aware",
    "extension",
    "integer",
    "integer_contents",
    "length",
    "oid",
    "tlv",
    "x509_time",
]

# Universal tags (X.690 8.1.2): class universal, primitive unless noted.
BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
SEQUENCE = 0x30  # 0x10 with the "constructed" bit 0x20 set
SET = 0x31  # 0x11, constructed

# RFC 5280 4.1.2.2 / 5.2.3: serial numbers and CRL numbers are at most 20 octets.
# A non-negative INTEGER of at most 20 content octets has at most 159 value bits
# (the top bit of the first octet is the sign bit). cryptography enforces the same.
MAX_INTEGER_BITS = 159


def length(n: int) -> bytes:
    """DER length octets for ``n`` content bytes (short form below 128, else long form)."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, contents: bytes) -> bytes:
    """One complete DER value: tag, length, contents."""
    return bytes((tag,)) + length(len(contents)) + contents


def integer_contents(value: int) -> bytes:
    """Contents of a DER INTEGER for ``value >= 0``: minimal big-endian two's complement.

    ``bit_length() // 8 + 1`` bytes is exactly enough: it adds a leading zero octet
    precisely when the top bit of the magnitude would otherwise read as a sign bit
    (0x7F -> 7F, 0x80 -> 00 80, 0 -> 00).
    """
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def integer(value: int) -> bytes:
    if value < 0:
        raise ValueError("only non-negative INTEGERs are needed in a certificate or CRL")
    return tlv(INTEGER, integer_contents(value))


def oid(dotted: str) -> bytes:
    """A DER OBJECT IDENTIFIER (X.690 8.19).

    The first two arcs share one sub-identifier (40 * a + b); each sub-identifier
    is written base 128, most significant group first, with the high bit set on
    every octet but the last.
    """
    arcs = [int(a) for a in dotted.split(".")]
    subids = [40 * arcs[0] + arcs[1], *arcs[2:]]
    out = bytearray()
    for v in subids:
        groups = [v & 0x7F]
        v >>= 7
        while v:
            groups.append(0x80 | (v & 0x7F))
            v >>= 7
        out += bytes(reversed(groups))
    return tlv(OBJECT_IDENTIFIER, bytes(out))


def check_aware(dt: datetime, what: str) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {dt!r}")


_UTC_TIME_HEADER = bytes((UTC_TIME, 13))
_GENERALIZED_TIME_HEADER = bytes((GENERALIZED_TIME, 15))


def x509_time(dt: datetime) -> bytes:
    """RFC 5280 4.1.2.5 Time: UTCTime for 1950-2049, GeneralizedTime otherwise.

    Always expressed in UTC ('Z'), to the second, with no fractional seconds
    (microseconds are dropped, as cryptography and OpenSSL do).
    """
    u = dt.astimezone(timezone.utc)
    y = u.year
    if 1950 <= y <= 2049:
        # YYMMDDHHMMSSZ, 13 octets
        s = "%02d%02d%02d%02d%02d%02dZ" % (y % 100, u.month, u.day, u.hour, u.minute, u.second)
        return _UTC_TIME_HEADER + s.encode("ascii")
    # YYYYMMDDHHMMSSZ, 15 octets
    s = "%04d%02d%02d%02d%02d%02dZ" % (y, u.month, u.day, u.hour, u.minute, u.second)
    return _GENERALIZED_TIME_HEADER + s.encode("ascii")


def extension(dotted: str, critical: bool, value_der: bytes) -> bytes:
    """Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }.

    DER omits a field equal to its DEFAULT, so ``critical`` is written only when true.
    """
    parts = [oid(dotted)]
    if critical:
        parts.append(bytes((BOOLEAN, 1, 0xFF)))  # BOOLEAN TRUE (DER: 0xFF)
    parts.append(tlv(OCTET_STRING, value_der))
    return tlv(SEQUENCE, b"".join(parts))


class SignatureAlgorithm(enum.Enum):
    """The CA's signature algorithm; the value is the algorithm's OID."""

    SHA256_WITH_RSA = "1.2.840.113549.1.1.11"  # RFC 4055: parameters MUST be NULL
    ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"  # RFC 5758: parameters MUST be absent

    @property
    def der(self) -> bytes:
        """The DER AlgorithmIdentifier, written both in the TBS and after it."""
        return _ALGORITHM_IDENTIFIERS[self]


_ALGORITHM_IDENTIFIERS = {
    SignatureAlgorithm.SHA256_WITH_RSA: tlv(SEQUENCE, oid(SignatureAlgorithm.SHA256_WITH_RSA.value) + bytes((NULL, 0))),
    SignatureAlgorithm.ECDSA_WITH_SHA256: tlv(SEQUENCE, oid(SignatureAlgorithm.ECDSA_WITH_SHA256.value)),
}


def assemble(tbs: bytes, signature_algorithm: SignatureAlgorithm, signature: bytes) -> bytes:
    """The signed envelope ``SEQUENCE { tbs, signatureAlgorithm, signatureValue BIT STRING }``:
    a Certificate (RFC 5280 4.1) around a TBSCertificate, a CertificateList (5.1) around a
    TBSCertList.

    The BIT STRING contents are a leading 0 ("no unused bits") followed by the
    raw signature (PKCS#1 v1.5 block for RSA, DER ECDSA-Sig-Value for ECDSA).
    """
    alg = signature_algorithm.der
    bit_string_header = bytes((BIT_STRING,)) + length(len(signature) + 1) + b"\x00"
    contents_len = len(tbs) + len(alg) + len(bit_string_header) + len(signature)
    return b"".join((bytes((SEQUENCE,)) + length(contents_len), tbs, alg, bit_string_header, signature))
