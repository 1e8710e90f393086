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
trailer, and signing the result. This module holds only the CRL's structures; the
DER framing (TLV, INTEGER, OID, Time, Extension, the signed envelope) is
:mod:`myna.pki.der`, shared with the holder-certificate TBS writer, and the issuer
``Name`` and the CRL extension values are still encoded by ``cryptography`` (their
``public_bytes()``).

Entry order
-----------
Entries are emitted exactly in the order they are given. RFC 5280 does not require
any order; myna passes them in the order the revocations were recorded, which the
store reads straight off an index (sorting a million serials would cost more than the
rest of the build).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from myna.pki.der import (
    INTEGER,
    MAX_INTEGER_BITS,
    SEQUENCE,
    SignatureAlgorithm,
    assemble,
    check_aware,
    extension,
    integer_contents,
    length,
    tlv,
    x509_time,
)

__all__ = [
    "CrlParams",
    "build_crl",
    "build_tbs",
    "encode_entry",
]

_CONTEXT_0_CONSTRUCTED = 0xA0  # [0] EXPLICIT, e.g. TBSCertList.crlExtensions

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
        else tlv(
            SEQUENCE,
            extension(_OID_REASON_CODE, False, x509.CRLReason(_reason).public_bytes()),
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
    if serial.bit_length() > MAX_INTEGER_BITS:
        raise ValueError("serial number longer than 20 octets (RFC 5280 4.1.2.2)")
    check_aware(revoked_at, "revoked_at")
    try:
        ext = _ENTRY_EXTENSIONS[reason]
    except KeyError:
        raise TypeError(f"reason must be an x509.ReasonFlags or None, got {reason!r}") from None
    serial_bytes = integer_contents(serial)  # 1..20 octets
    time_der = x509_time(revoked_at)  # 15 or 17 octets
    # Contents length is at most 2+20 + 17 + 14 = 53 < 128, so both the outer
    # SEQUENCE length and the INTEGER length fit the one-octet short form.
    n = len(serial_bytes)
    return b"".join((bytes((SEQUENCE, 2 + n + len(time_der) + len(ext), INTEGER, n)), serial_bytes, time_der, ext))


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
    check_aware(p.this_update, "this_update")
    check_aware(p.next_update, "next_update")
    if p.next_update <= p.this_update:
        raise ValueError("next_update must be later than this_update")
    for what, n in (("crl_number", p.crl_number), ("delta_base_crl_number", p.delta_base_crl_number)):
        if n is not None and (n < 0 or n.bit_length() > MAX_INTEGER_BITS):
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
        extension(
            x509.ExtensionOID.AUTHORITY_KEY_IDENTIFIER.dotted_string,
            False,  # RFC 5280 5.2.1: MUST be non-critical
            x509.AuthorityKeyIdentifier(p.authority_key_identifier, None, None).public_bytes(),
        ),
        extension(
            x509.ExtensionOID.CRL_NUMBER.dotted_string,
            False,  # RFC 5280 5.2.3: non-critical
            x509.CRLNumber(p.crl_number).public_bytes(),
        ),
    ]
    if p.delta_base_crl_number is not None:
        exts.append(
            extension(
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
            extension(
                x509.ExtensionOID.ISSUING_DISTRIBUTION_POINT.dotted_string,
                True,  # RFC 5280 5.2.5: critical
                idp.public_bytes(),
            )
        )
    if p.freshest_crl_url is not None:
        fresh = x509.FreshestCRL([x509.DistributionPoint(_uri(p.freshest_crl_url), None, None, None)])
        exts.append(
            extension(
                x509.ExtensionOID.FRESHEST_CRL.dotted_string,
                False,  # RFC 5280 5.2.6: MUST be non-critical
                fresh.public_bytes(),
            )
        )
    return tlv(_CONTEXT_0_CONSTRUCTED, tlv(SEQUENCE, b"".join(exts)))


def build_tbs(params: CrlParams, signature_algorithm: SignatureAlgorithm, entries: Iterable[bytes]) -> bytes:
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
        x509_time(params.this_update),
        x509_time(params.next_update),
    ]
    if entries:
        # RFC 5280 5.1.2.6: "When there are no revoked certificates, the revoked
        # certificates list MUST be absent" (not an empty SEQUENCE).
        head.append(bytes((SEQUENCE,)) + length(entries_len))
    tail = _crl_extensions(params)

    contents_len = sum(map(len, head)) + entries_len + len(tail)
    header = bytes((SEQUENCE,)) + length(contents_len)
    # One join over header, head, the entries and the tail: each entry byte is
    # copied exactly once.
    return b"".join(itertools.chain((header,), head, entries, (tail,)))


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
