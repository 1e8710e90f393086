"""The to-be-signed bytes of a holder certificate, written from a per-CA template.

Why not ``cryptography``'s CertificateBuilder here
--------------------------------------------------
The builder is the reference (``profiles.holder_builder``; tests compare the two byte for
byte), but it hands out the TBS only by signing it: getting the bytes to send to a
signing process costs the builder's encoding of the whole certificate plus a signature
(a throwaway key's, or at best a key object that only catches the bytes, as the tests
do), about 100 us per certificate, as much as a third of the CA's RSA-2048 signature
itself. In a batch everything around the signature has to stay small (issue #2's target:
the pipeline at 70 % of raw signing), and nearly all of a holder certificate is the same
for every certificate of one CA: version, algorithm, issuer, and six of the eight
extensions. So those are encoded once per CA generation (by ``cryptography``: the issuer
``Name`` and the extension values are its ``public_bytes()``), and per certificate only
the serial, the two times, the opaque subject CN, the holder's key, its key identifier
and the basic 4 subjectAltName are written, with the DER helpers of :mod:`myna.pki.der`.
asn1crypto could write the same structures, but through several Python objects per field,
which is the cost this module removes.

The per-certificate fields
--------------------------
* ``subject``: ``C=JP`` (PrintableString) and ``CN=<opaque id>`` (UTF8String), as
  ``profiles.holder_builder`` names it.
* ``subjectKeyIdentifier``: RFC 5280 4.2.1.2 method 1, the SHA-1 of the subjectPublicKey
  BIT STRING's value, read straight from the SubjectPublicKeyInfo DER.
* ``subjectAltName`` (signature kinds only): six ``otherName`` entries under
  1.2.392.200149.8.5.5 (``basic4``), each ``[0] EXPLICIT UTF8String``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass

from cryptography import x509

from myna.pki import profiles
from myna.pki.basic4 import OID_ADDRESS, OID_ADDRESS_ALT, OID_BIRTH, OID_NAME, OID_NAME_ALT, OID_SEX, Basic4, encode_birth
from myna.pki.der import (
    BIT_STRING,
    OCTET_STRING,
    PRINTABLE_STRING,
    SEQUENCE,
    SET,
    UTF8_STRING,
    SignatureAlgorithm,
    extension,
    integer,
    length,
    oid,
    tlv,
    x509_time,
)
from myna.pki.kinds import CertKind

__all__ = ["HolderTemplate", "san_value", "subject_key_id", "template"]

_CONTEXT_3_CONSTRUCTED = 0xA3  # TBSCertificate.extensions [3] EXPLICIT
_VERSION_V3 = bytes.fromhex("a003020102")  # [0] EXPLICIT INTEGER 2
_OID_SKI = "2.5.29.14"
_OID_SAN = "2.5.29.17"

# C=JP, as cryptography writes NameOID.COUNTRY_NAME (PrintableString).
_COUNTRY_RDN = tlv(SET, tlv(SEQUENCE, oid("2.5.4.6") + tlv(PRINTABLE_STRING, b"JP")))
_CN_OID = oid("2.5.4.3")
# subjectKeyIdentifier up to its 20-octet SHA-1 value: SEQUENCE { OID, OCTET STRING { OCTET STRING } }.
_SKI_PREFIX = extension(_OID_SKI, False, tlv(OCTET_STRING, bytes(20)))[:-20]
_BASIC4_OIDS = tuple(oid(o.dotted_string) for o in (OID_NAME, OID_NAME_ALT, OID_SEX, OID_BIRTH, OID_ADDRESS, OID_ADDRESS_ALT))


@dataclass(frozen=True)
class HolderTemplate:
    """What every holder certificate of one kind and one CA generation shares."""

    kind: CertKind
    after_serial: bytes  # signature AlgorithmIdentifier + issuer Name
    issuer_extensions: bytes  # keyUsage .. authorityInfoAccess, each a complete Extension

    def tbs(
        self,
        serial: int,
        not_before: dt.datetime,
        not_after: dt.datetime,
        subject_id: str,
        spki: bytes,
        basic4: Basic4 | None,
    ) -> bytes:
        """TBSCertificate DER, byte for byte what ``profiles.holder_builder`` yields."""
        if self.kind.is_signature != (basic4 is not None):
            raise ValueError("the basic 4 information goes in signature certificates and only there (R-CERT-1)")
        cn = subject_id.encode()
        rdn = _CN_OID + tlv(UTF8_STRING, cn)
        subject = tlv(SEQUENCE, _COUNTRY_RDN + tlv(SET, tlv(SEQUENCE, rdn)))
        extensions = self.issuer_extensions + _SKI_PREFIX + subject_key_id(spki)
        if basic4 is not None:
            extensions += extension(_OID_SAN, False, san_value(basic4))
        validity = x509_time(not_before) + x509_time(not_after)
        body = b"".join(
            (
                _VERSION_V3,
                integer(serial),
                self.after_serial,
                bytes((SEQUENCE, len(validity))),  # 26 to 30 octets: always the short form
                validity,
                subject,
                spki,
                tlv(_CONTEXT_3_CONSTRUCTED, tlv(SEQUENCE, extensions)),
            )
        )
        return tlv(SEQUENCE, body)


@functools.lru_cache(maxsize=64)
def template(kind: CertKind, issuer: x509.Certificate, base_url: str, issuer_slug: str, is_rsa: bool = True) -> HolderTemplate:
    """The template for ``kind`` under one CA generation, built once (``is_rsa``: the CA's
    key family, which fixes the signature algorithm)."""
    algorithm = SignatureAlgorithm.SHA256_WITH_RSA if is_rsa else SignatureAlgorithm.ECDSA_WITH_SHA256
    issuer_name = issuer.subject.public_bytes()
    extensions = b"".join(
        extension(ext.oid.dotted_string, critical, ext.public_bytes())
        for ext, critical in profiles.issuer_extensions(kind, issuer, base_url, issuer_slug)
    )
    return HolderTemplate(kind, algorithm.der + issuer_name, extensions)


def _header(der: bytes, i: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER value at ``der[i]``."""
    tag, first = der[i], der[i + 1]
    if first < 0x80:
        return tag, i + 2, i + 2 + first
    n = first & 0x7F
    length = int.from_bytes(der[i + 2 : i + 2 + n], "big")
    return tag, i + 2 + n, i + 2 + n + length


def subject_key_id(spki: bytes) -> bytes:
    """RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey BIT STRING, without its tag,
    length and unused-bits octet (what ``x509.SubjectKeyIdentifier.from_public_key`` computes)."""
    tag, start, end = _header(spki, 0)
    if tag != SEQUENCE:
        raise ValueError("not a SubjectPublicKeyInfo")
    _, _, algorithm_end = _header(spki, start)  # AlgorithmIdentifier
    tag, bits_start, bits_end = _header(spki, algorithm_end)
    if tag != BIT_STRING or bits_end != end:
        raise ValueError("not a SubjectPublicKeyInfo")
    return hashlib.sha1(spki[bits_start + 1 : bits_end]).digest()


def san_value(b: Basic4) -> bytes:
    """The subjectAltName value for the basic 4 information, as ``Basic4.to_san()`` encodes it:
    per field, otherName [0] { type-id, [0] EXPLICIT UTF8String }."""
    texts = (b.name, b.name_alt or b.name, b.sex.value, encode_birth(b.date_of_birth), b.address, b.address_alt or b.address)
    names = []
    for type_id, text in zip(_BASIC4_OIDS, texts):
        utf8 = text.encode()
        value = b"\x0c" + length(len(utf8)) + utf8
        explicit = b"\xa0" + length(len(value)) + value
        names.append(b"\xa0" + length(len(type_id) + len(explicit)) + type_id + explicit)
    return tlv(SEQUENCE, b"".join(names))
