"""Documents a resident signs with the card's signature key: consents (R-VER-2) and
smartphone certificate applications (R-CERT-5).

The resident's software signs a small JSON document as a detached CMS SignedData
(RFC 5652), as :func:`myna.chip.cms.detached_signature` makes it on the card. myna checks
it the way a relying party must, and more strictly, since it is also the issuer:

- one SignerInfo, SHA-256, signed attributes with contentType ``data``, messageDigest of
  the document and a signingTime within :data:`MAX_SKEW` of now (so an old document
  cannot be replayed later; the stores also keep each document's digest);
- the signer certificate inside the SignedData is, byte for byte, a card signature
  certificate in J-LIS's issuance records (so the chain is J-LIS's own), and it is
  neither revoked nor expired at this moment;
- the signature over the DER signed attributes verifies with that certificate's key.

asn1crypto parses the CMS (it is already used to build it); cryptography verifies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature as _CryptoInvalid
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import select

from myna.errors import InvalidInput, NotEligible
from myna.pki.kinds import CertKind
from myna.store import models as m

MAX_SKEW = dt.timedelta(minutes=10)
MAX_DOCUMENT = 16 * 1024
MAX_SIGNATURE = 64 * 1024


class InvalidSignature(InvalidInput):
    code = "invalid-signature"


class CardCertificateNotValid(NotEligible):
    """The signing card certificate is revoked or expired: nothing is accepted from it."""

    code = "card-certificate-not-valid"


@dataclass(frozen=True)
class SignedDocument:
    content: dict
    digest: str  # SHA-256 of the document bytes, hex
    signer: x509.Certificate
    signer_serial: str  # store form
    resident_code: str
    signed_at: dt.datetime


def verify(s, content: bytes, signature: bytes, now: dt.datetime, doc_type: str) -> SignedDocument:
    """Check a card-signed document inside the caller's session. Raises a specific error."""
    if not isinstance(content, bytes) or not content or len(content) > MAX_DOCUMENT:
        raise InvalidInput(f"the document must be 1-{MAX_DOCUMENT} bytes")
    if not isinstance(signature, bytes) or not signature or len(signature) > MAX_SIGNATURE:
        raise InvalidInput(f"the signature must be 1-{MAX_SIGNATURE} bytes of DER")
    try:
        body = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the document is not UTF-8 JSON") from None
    if not isinstance(body, dict) or body.get("type") != doc_type:
        raise InvalidInput(f"the document is not a {doc_type!r} document")
    try:
        info = cms.ContentInfo.load(signature, strict=True)
        if info["content_type"].native != "signed_data":
            raise InvalidSignature("the signature is not a CMS SignedData")
        sd = info["content"]
        signer_infos = list(sd["signer_infos"])
        if len(signer_infos) != 1:
            raise InvalidSignature("the SignedData must have exactly one signer")
        si = signer_infos[0]
        encap = sd["encap_content_info"]["content"].native
        if encap is not None and encap != content:
            raise InvalidSignature("the SignedData encloses different content")
        if si["digest_algorithm"]["algorithm"].native != "sha256":
            raise InvalidSignature("the signature must use SHA-256")
        sid = si["sid"]
        if sid.name != "issuer_and_serial_number":
            raise InvalidSignature("the signer must be identified by issuer and serial number")
        serial = sid.chosen["serial_number"].native
        issuer_der = sid.chosen["issuer"].dump()
        embedded = (
            [
                c.chosen
                for c in sd["certificates"]
                if c.name == "certificate" and c.chosen.serial_number == serial and c.chosen.issuer.dump() == issuer_der
            ]
            if sd["certificates"].native is not None
            else []
        )
        attrs_field = si["signed_attrs"]
        if not len(attrs_field):
            raise InvalidSignature("the signature has no signed attributes")
        attrs = {a["type"].native: a["values"] for a in attrs_field}
        signed_bytes = attrs_field.untag().dump()
        sig_value = si["signature"].native
        sig_alg = si["signature_algorithm"].signature_algo
        if not embedded:
            raise InvalidSignature("the SignedData does not carry the signer's certificate")
        signer_der = embedded[0].dump()
        if len(attrs.get("message_digest", [])) != 1 or attrs["message_digest"][0].native != hashlib.sha256(content).digest():
            raise InvalidSignature("the signature does not cover this document (messageDigest differs)")
        if len(attrs.get("content_type", [])) != 1 or attrs["content_type"][0].native != "data":
            raise InvalidSignature("the signed contentType must be data")
        if len(attrs.get("signing_time", [])) != 1:
            raise InvalidSignature("the signature carries no signingTime")
        signed_at = attrs["signing_time"][0].native
        if abs(signed_at - now) > MAX_SKEW:
            raise InvalidSignature(
                f"the document was signed at {signed_at.isoformat()}: more than {int(MAX_SKEW.total_seconds() // 60)} minutes from now"
            )
    except InvalidSignature:
        raise
    # asn1crypto parses lazily: a malformed part surfaces only when read, as any of these.
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError):
        raise InvalidSignature("the signature is not a well-formed CMS SignedData (DER)") from None

    if not isinstance(serial, int) or not 0 < serial < 2**160:
        raise InvalidSignature("the signer's serial number is not one J-LIS issues")
    row = s.scalar(select(m.Certificate).where(m.Certificate.serial == format(serial, "040x")))
    if row is None or row.kind != CertKind.CARD_SIGN.value or row.der != signer_der:
        raise InvalidSignature("the signer is not a card signature certificate issued by J-LIS")
    revoked = s.scalar(select(m.Revocation.revoked_at).where(m.Revocation.serial == row.serial))
    if revoked is not None:
        raise CardCertificateNotValid(f"the card signature certificate was revoked at {revoked.isoformat()}")
    if now > row.not_after or now < row.not_before:
        raise CardCertificateNotValid("the card signature certificate is not within its validity period")
    cert = x509.load_der_x509_certificate(row.der)
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and sig_alg == "rsassa_pkcs1v15":
            key.verify(sig_value, signed_bytes, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey) and sig_alg == "ecdsa":
            key.verify(sig_value, signed_bytes, ec.ECDSA(hashes.SHA256()))
        else:
            raise InvalidSignature(f"signature algorithm {sig_alg} does not fit the certificate's key")
    except _CryptoInvalid:
        raise InvalidSignature("the signature does not verify with the card signature certificate") from None
    return SignedDocument(body, hashlib.sha256(content).hexdigest(), cert, row.serial, row.resident_code, signed_at)


def document(doc_type: str, **fields: object) -> bytes:
    """The bytes of a document for the resident to sign (what their software does):
    compact UTF-8 JSON with a random nonce, so two documents never share a digest."""
    import secrets

    return json.dumps(
        {"type": doc_type, "nonce": secrets.token_hex(16), **fields}, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode()
