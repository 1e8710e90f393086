"""CMS (PKCS#7) detached signatures made with a key that stays on the card.

:func:`detached_signature` builds a SignedData (RFC 5652) over external content:
SHA-256, signed attributes contentType, signingTime, messageDigest and ESS
signingCertificateV2 (RFC 5035, as CAdES-BES asks), the signer's certificate and its
CA certificate. The signature itself comes from a callback, so the private key is
never here: ``sign(digest_info) -> signature`` is the card's COMPUTE DIGITAL SIGNATURE.
``openssl cms -verify -binary -inform DER -content FILE`` accepts the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Callable, Sequence

from asn1crypto import algos, cms, core, tsp  # tsp also registers signing_certificate_v2 with cms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from myna.chip.client import SHA256_DIGEST_INFO_PREFIX


def _a(cert: x509.Certificate) -> ax509.Certificate:
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def signed_attributes(content_digest: bytes, signer: x509.Certificate, signing_time: dt.datetime) -> cms.CMSAttributes:
    der = signer.public_bytes(serialization.Encoding.DER)
    attrs = [
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute(
            {"type": "signing_time", "values": [cms.Time({"utc_time": core.UTCTime(signing_time.astimezone(dt.timezone.utc))})]}
        ),
        cms.CMSAttribute({"type": "message_digest", "values": [content_digest]}),
        cms.CMSAttribute(
            {
                "type": "signing_certificate_v2",
                "values": [
                    tsp.SigningCertificateV2(
                        {
                            # SHA-256 is the default hash here, so it is left out (DER)
                            "certs": [tsp.ESSCertIDv2({"cert_hash": hashlib.sha256(der).digest()})],
                        }
                    )
                ],
            }
        ),
    ]
    # DER orders a SET OF by the encodings of its elements; verifiers re-encode it.
    attrs.sort(key=lambda a: a.dump())
    return cms.CMSAttributes(attrs)


def detached_signature(
    content: bytes,
    signer: x509.Certificate,
    chain: Sequence[x509.Certificate],
    sign: Callable[[bytes], bytes],
    signing_time: dt.datetime,
) -> bytes:
    """DER ContentInfo of a detached SignedData over ``content``. ``sign`` receives the
    DigestInfo (SHA-256) of the signed attributes and returns the RSA signature."""
    attrs = signed_attributes(hashlib.sha256(content).digest(), signer, signing_time)
    to_sign = attrs.dump()  # the SET OF (tag 31), not the [0] IMPLICIT form in SignerInfo
    signature = sign(SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(to_sign).digest())
    signer.public_key().verify(signature, to_sign, padding.PKCS1v15(), hashes.SHA256())  # the card signed what we asked
    a_signer = _a(signer)
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": a_signer.issuer, "serial_number": a_signer.serial_number}
                    )
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "data"},  # detached: no content
            "certificates": [cms.CertificateChoices({"certificate": c}) for c in [a_signer, *(_a(x) for x in chain)]],
            "signer_infos": [signer_info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
