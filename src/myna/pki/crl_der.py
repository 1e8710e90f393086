"""A minimal DER writer for X.509 v2 CRLs with very many entries (RFC 5280 section 5).

Why not a library
-----------------
A JPKI CRL can list a million or more revoked certificates. Both libraries we
already depend on build one Python object per entry, and at 10^6 entries that
per-object cost is the whole cost:

* ``cryptography``'s :class:`~cryptography.x509.CertificateRevocationListBuilder`
  takes one :class:`~cryptography.x509.RevokedCertificate` per entry (itself built
  through a ``RevokedCertificateBuilder``, with an ``Extension`` and a ``CRLReason``
  object for the reason), keeps them all in a Python list, and re-encodes every one
  of them on each ``sign()``. Worse, the builder is immutable:
  ``add_revoked_certificate`` returns a new builder holding a copy of the list so
  far, so adding n entries is O(n^2) (cryptography 48: 21 s for 10^5 entries on
  the benchmark machine, before signing; 10^6 would take about half an hour).
* ``asn1crypto`` models each entry as a ``RevokedCertificate`` ``Sequence`` holding
  an ``Integer``, a ``Time`` and an ``Extensions`` object, each lazily parsed and
  re-serialised through several Python method calls per field.

Neither can take "these bytes are already a valid entry" as input. Yet the entries
of a CRL never change once written: an entry is fixed at revocation time. So we
encode each entry once, when the certificate is revoked (:func:`encode_entry`),
keep its DER in the database, and building a CRL (:func:`build_crl`) is then just
concatenating those cached byte strings between a small header and a small
trailer, and signing the result. The only structures here are the handful of DER
types a CRL needs; the issuer ``Name`` and the CRL extension values are still
encoded by ``cryptography`` (their ``public_bytes()``), so the hand-written part is
limited to TLV framing, INTEGER, OBJECT IDENTIFIER, BOOLEAN, BIT STRING, OCTET
STRING and UTCTime/GeneralizedTime.

DER in one paragraph
--------------------
Every value is ``tag || length || contents``. The length is one byte when the
contents are shorter than 128 bytes; otherwise one byte ``0x80 | k`` followed by
the length in ``k`` big-endian bytes, with no leading zero byte (DER requires the
shortest form). A constructed value (SEQUENCE) has the concatenated encodings of
its members as contents, so its length is the sum of their lengths: we compute it
from the list of parts and join once, never copying the growing output over and
over.

Entry order
-----------
Entries are emitted exactly in the order they are given. RFC 5280 does not require
any order; myna passes them in the order the revocations were recorded, which the
store reads straight off an index (sorting a million serials would cost more than the
rest of the build).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509

__all__ = [
    "CrlParams",
    "SignatureAlgorithm",
    "assemble",
    "build_crl",
    "build_tbs",
    "encode_entry",
]

# --------------------------------------------------------------------------- #
# Universal tags (X.690 8.1.2): class universal, primitive unless noted.
_BOOLEAN = 0x01
_INTEGER = 0x02
_BIT_STRING = 0x03
_OCTET_STRING = 0x04
_NULL = 0x05
_OID = 0x06
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18
_SEQUENCE = 0x30  # 0x10 with the "constructed" bit 0x20 set
_CONTEXT_0_CONSTRUCTED = 0xA0  # [0] EXPLICIT, e.g. TBSCertList.crlExtensions

# RFC 5280 4.1.2.2 / 5.2.3: serial numbers and CRL numbers are at most 20 octets.
# A non-negative INTEGER of at most 20 content octets has at most 159 value bits
# (the top bit of the first octet is the sign bit). cryptography enforces the same.
_MAX_INTEGER_BITS = 159


def _length(n: int) -> bytes:
    """DER length octets for ``n`` content bytes (short form below 128, else long form)."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, contents: bytes) -> bytes:
    """One complete DER value: tag, length, contents."""
    return bytes((tag,)) + _length(len(contents)) + contents


def _integer_contents(value: int) -> bytes:
    """Contents of a DER INTEGER for ``value >= 0``: minimal big-endian two's complement.

    ``bit_length() // 8 + 1`` bytes is exactly enough: it adds a leading zero octet
    precisely when the top bit of the magnitude would otherwise read as a sign bit
    (0x7F -> 7F, 0x80 -> 00 80, 0 -> 00).
    """
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def _integer(value: int) -> bytes:
    if value < 0:
        raise ValueError("only non-negative INTEGERs are needed in a CRL")
    return _tlv(_INTEGER, _integer_contents(value))


def _oid(dotted: str) -> bytes:
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
    return _tlv(_OID, bytes(out))


def _check_aware(dt: datetime, what: str) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {dt!r}")


_UTC_TIME_HEADER = bytes((_UTC_TIME, 13))
_GENERALIZED_TIME_HEADER = bytes((_GENERALIZED_TIME, 15))


def _time(dt: datetime) -> bytes:
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


def _extension(oid: str, critical: bool, value_der: bytes) -> bytes:
    """Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }.

    DER omits a field equal to its DEFAULT, so ``critical`` is written only when true.
    """
    parts = [_oid(oid)]
    if critical:
        parts.append(b"\x01\x01\xff")  # BOOLEAN TRUE (DER: 0xFF)
    parts.append(_tlv(_OCTET_STRING, value_der))
    return _tlv(_SEQUENCE, b"".join(parts))


# --------------------------------------------------------------------------- #
# Signature algorithms


class SignatureAlgorithm(enum.Enum):
    """The CRL signature algorithm; the value is the algorithm's OID."""

    SHA256_WITH_RSA = "1.2.840.113549.1.1.11"  # RFC 4055: parameters MUST be NULL
    ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"  # RFC 5758: parameters MUST be absent

    @property
    def der(self) -> bytes:
        """The DER AlgorithmIdentifier, written both in the TBS and after it."""
        return _ALGORITHM_IDENTIFIERS[self]


_ALGORITHM_IDENTIFIERS = {
    SignatureAlgorithm.SHA256_WITH_RSA: _tlv(
        _SEQUENCE, _oid(SignatureAlgorithm.SHA256_WITH_RSA.value) + bytes((_NULL, 0))
    ),
    SignatureAlgorithm.ECDSA_WITH_SHA256: _tlv(
        _SEQUENCE, _oid(SignatureAlgorithm.ECDSA_WITH_SHA256.value)
    ),
}

# --------------------------------------------------------------------------- #
# Entries (revokedCertificates)

_OID_REASON_CODE = "2.5.29.21"

# The complete crlEntryExtensions field for each reason, computed once: an
# Extensions SEQUENCE holding the single non-critical reasonCode extension whose
# value is ``CRLReason ::= ENUMERATED`` (cryptography encodes the ENUMERATED).
# RFC 5280 5.3.1: "the reason code CRL entry extension SHOULD be absent instead
# of using the unspecified (0) reasonCode value", so None and unspecified map to
# no extensions at all.
_ENTRY_EXTENSIONS: dict[x509.ReasonFlags | None, bytes] = {None: b""}
for _reason in x509.ReasonFlags:
    _ENTRY_EXTENSIONS[_reason] = (
        b""
        if _reason is x509.ReasonFlags.unspecified
        else _tlv(
            _SEQUENCE,
            _extension(_OID_REASON_CODE, False, x509.CRLReason(_reason).public_bytes()),
        )
    )
del _reason


def encode_entry(serial: int, revoked_at: datetime, reason: x509.ReasonFlags | None) -> bytes:
    """DER of one revokedCertificates entry (RFC 5280 5.1.2.6)::

        SEQUENCE {
            userCertificate    CertificateSerialNumber,   -- INTEGER
            revocationDate     Time,
            crlEntryExtensions Extensions OPTIONAL }      -- reasonCode only

    ``revoked_at`` must be timezone-aware; it is written in UTC, to the second.
    ``reason`` None or ``unspecified`` omits crlEntryExtensions. (``remove_from_crl``
    is only meaningful in delta CRLs; that is the caller's business.)

    This is called once per revocation and the result stored; it is kept cheap
    anyway (about a microsecond or two) since a bulk re-encode calls it 10^6 times.
    """
    if serial <= 0:
        raise ValueError(f"serial number must be positive (RFC 5280 4.1.2.2), got {serial}")
    if serial.bit_length() > _MAX_INTEGER_BITS:
        raise ValueError("serial number longer than 20 octets (RFC 5280 4.1.2.2)")
    _check_aware(revoked_at, "revoked_at")
    try:
        ext = _ENTRY_EXTENSIONS[reason]
    except KeyError:
        raise TypeError(f"reason must be an x509.ReasonFlags or None, got {reason!r}") from None
    serial_bytes = _integer_contents(serial)  # 1..20 octets
    time_der = _time(revoked_at)  # 15 or 17 octets
    # Contents length is at most 2+20 + 17 + 14 = 53 < 128, so both the outer
    # SEQUENCE length and the INTEGER length fit the one-octet short form.
    n = len(serial_bytes)
    return b"".join(
        (bytes((_SEQUENCE, 2 + n + len(time_der) + len(ext), _INTEGER, n)), serial_bytes, time_der, ext)
    )


# --------------------------------------------------------------------------- #
# The CRL


@dataclass(frozen=True)
class CrlParams:
    """Everything in a CRL except its entries and signature."""

    issuer_name: x509.Name
    this_update: datetime
    next_update: datetime
    crl_number: int
    authority_key_identifier: bytes  # the issuer's subjectKeyIdentifier
    # -> issuingDistributionPoint (critical) with distributionPoint fullName = this URI
    distribution_point_url: str | None
    only_contains_user_certs: bool = False
    only_contains_ca_certs: bool = False
    # set => delta CRL carrying deltaCRLIndicator (critical) = BaseCRLNumber
    delta_base_crl_number: int | None = None
    # full CRLs only: freshestCRL (non-critical) pointing at where the delta CRL is published
    freshest_crl_url: str | None = None


def _check_params(p: CrlParams) -> None:
    _check_aware(p.this_update, "this_update")
    _check_aware(p.next_update, "next_update")
    if p.next_update <= p.this_update:
        raise ValueError("next_update must be later than this_update")
    for what, n in (("crl_number", p.crl_number), ("delta_base_crl_number", p.delta_base_crl_number)):
        if n is not None and (n < 0 or n.bit_length() > _MAX_INTEGER_BITS):
            raise ValueError(f"{what} must be a non-negative integer of at most 20 octets (RFC 5280 5.2.3)")
    if p.only_contains_user_certs and p.only_contains_ca_certs:
        raise ValueError("only_contains_user_certs and only_contains_ca_certs are mutually exclusive")
    if p.delta_base_crl_number is not None:
        if p.delta_base_crl_number >= p.crl_number:
            raise ValueError("a delta CRL's number must be greater than its base CRL's (RFC 5280 5.2.4)")
        if p.freshest_crl_url is not None:
            raise ValueError("freshestCRL must not appear in a delta CRL (RFC 5280 5.2.6)")
    if not p.authority_key_identifier:
        raise ValueError("authority_key_identifier is required (RFC 5280 5.2.1)")


def _uri(url: str) -> list[x509.GeneralName]:
    return [x509.UniformResourceIdentifier(url)]


def _crl_extensions(p: CrlParams) -> bytes:
    """The ``[0] EXPLICIT Extensions`` field of TBSCertList (RFC 5280 5.2)."""
    exts = [
        _extension(
            x509.ExtensionOID.AUTHORITY_KEY_IDENTIFIER.dotted_string,
            False,  # RFC 5280 5.2.1: MUST be non-critical
            x509.AuthorityKeyIdentifier(p.authority_key_identifier, None, None).public_bytes(),
        ),
        _extension(
            x509.ExtensionOID.CRL_NUMBER.dotted_string,
            False,  # RFC 5280 5.2.3: non-critical
            x509.CRLNumber(p.crl_number).public_bytes(),
        ),
    ]
    if p.delta_base_crl_number is not None:
        exts.append(
            _extension(
                x509.ExtensionOID.DELTA_CRL_INDICATOR.dotted_string,
                True,  # RFC 5280 5.2.4: critical
                x509.DeltaCRLIndicator(p.delta_base_crl_number).public_bytes(),
            )
        )
    if p.distribution_point_url is not None or p.only_contains_user_certs or p.only_contains_ca_certs:
        idp = x509.IssuingDistributionPoint(
            full_name=_uri(p.distribution_point_url) if p.distribution_point_url is not None else None,
            relative_name=None,
            only_contains_user_certs=p.only_contains_user_certs,
            only_contains_ca_certs=p.only_contains_ca_certs,
            only_some_reasons=None,
            indirect_crl=False,
            only_contains_attribute_certs=False,
        )
        exts.append(
            _extension(
                x509.ExtensionOID.ISSUING_DISTRIBUTION_POINT.dotted_string,
                True,  # RFC 5280 5.2.5: critical
                idp.public_bytes(),
            )
        )
    if p.freshest_crl_url is not None:
        fresh = x509.FreshestCRL([x509.DistributionPoint(_uri(p.freshest_crl_url), None, None, None)])
        exts.append(
            _extension(
                x509.ExtensionOID.FRESHEST_CRL.dotted_string,
                False,  # RFC 5280 5.2.6: MUST be non-critical
                fresh.public_bytes(),
            )
        )
    return _tlv(_CONTEXT_0_CONSTRUCTED, _tlv(_SEQUENCE, b"".join(exts)))


def build_tbs(
    params: CrlParams, signature_algorithm: SignatureAlgorithm, entries: Iterable[bytes]
) -> bytes:
    """DER of TBSCertList (RFC 5280 5.1.2)::

        TBSCertList ::= SEQUENCE {
            version              INTEGER 1 (v2),
            signature            AlgorithmIdentifier,
            issuer               Name,
            thisUpdate           Time,
            nextUpdate           Time,
            revokedCertificates  SEQUENCE OF <entry> OPTIONAL,  -- absent when empty
            crlExtensions        [0] EXPLICIT Extensions }

    ``entries`` are DER entries from :func:`encode_entry`, written in the given
    order. They are trusted as-is: not re-parsed.
    """
    _check_params(params)
    entries = entries if isinstance(entries, (list, tuple)) else list(entries)
    entries_len = sum(map(len, entries))

    head = [
        b"\x02\x01\x01",  # version v2
        signature_algorithm.der,
        params.issuer_name.public_bytes(),
        _time(params.this_update),
        _time(params.next_update),
    ]
    if entries:
        # RFC 5280 5.1.2.6: "When there are no revoked certificates, the revoked
        # certificates list MUST be absent" (not an empty SEQUENCE).
        head.append(bytes((_SEQUENCE,)) + _length(entries_len))
    tail = _crl_extensions(params)

    contents_len = sum(map(len, head)) + entries_len + len(tail)
    header = bytes((_SEQUENCE,)) + _length(contents_len)
    # One join over header, head, the entries and the tail: each entry byte is
    # copied exactly once.
    return b"".join(itertools.chain((header,), head, entries, (tail,)))


def assemble(tbs: bytes, signature_algorithm: SignatureAlgorithm, signature: bytes) -> bytes:
    """DER of CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }.

    The BIT STRING contents are a leading 0 ("no unused bits") followed by the
    raw signature (PKCS#1 v1.5 block for RSA, DER ECDSA-Sig-Value for ECDSA).
    """
    alg = signature_algorithm.der
    bit_string_header = bytes((_BIT_STRING,)) + _length(len(signature) + 1) + b"\x00"
    contents_len = len(tbs) + len(alg) + len(bit_string_header) + len(signature)
    return b"".join((bytes((_SEQUENCE,)) + _length(contents_len), tbs, alg, bit_string_header, signature))


def build_crl(
    params: CrlParams,
    entries: Iterable[bytes],
    signer: Callable[[bytes], bytes],
    signature_algorithm: SignatureAlgorithm,
) -> bytes:
    """Build and sign a complete CRL; returns its DER.

    ``signer(tbs)`` signs the TBSCertList bytes with SHA-256 under the issuer's key
    and returns the raw signature (e.g. :meth:`myna.pki.keys.SigningKey.sign`); it
    must match ``signature_algorithm``.
    """
    tbs = build_tbs(params, signature_algorithm, entries)
    return assemble(tbs, signature_algorithm, signer(tbs))
