"""pyhanko-certvalidator (an RFC 5280 path validator nobody here wrote) against a live
myna server: it fetches the CRLs itself, over HTTP, from the URLs in the certificates.

Revocation policy: CRLs are *required* for the end-entity and the intermediate
(``RevocationCheckingRule.CRL_REQUIRED``); OCSP is not relevant under that rule, so the
OCSP URL in the certificates' AIA (OCSP is not implemented yet) is never contacted.
Passing ``revinfo_policy`` makes the legacy ``revocation_mode`` argument moot: the
library only derives a policy from ``revocation_mode`` when no ``revinfo_policy`` is
given, and CRL_REQUIRED is stricter than "require" (which accepts CRL *or* OCSP).

Fetching goes through the library's default fetcher backend (aiohttp); the context
that owns it is closed with ``aclose()`` as the library asks.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from interop_support import Live, ca_issuers_url, crl_dp_url, freshest_crl_url
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule

pytestmark = pytest.mark.interop

CRL_ONLY = CertRevTrustPolicy(
    RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.CRL_REQUIRED,
        intermediate_ca_cert_rule=RevocationCheckingRule.CRL_REQUIRED,
    )
)


def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


async def validate(root: x509.Certificate, intermediate: x509.Certificate, leaf: x509.Certificate):
    """Validate ``leaf`` for signing (digitalSignature + nonRepudiation); the library
    fetches the CRLs it needs. Returns (path, CRLs it used); raises the library's errors."""
    context = ValidationContext(trust_roots=[asn1(root)], allow_fetching=True, revinfo_policy=CRL_ONLY)
    async with aclosing(context):
        validator = CertificateValidator(asn1(leaf), intermediate_certs=[asn1(intermediate)], validation_context=context)
        path = await validator.async_validate_usage({"digital_signature", "non_repudiation"})
        return path, list(context.crls)


def crl_issuers(crls) -> set[str]:
    return {c.issuer.native["common_name"] for c in crls}


def revoke_around_full_crl(live: Live) -> tuple[str, str, str]:
    """Revoke one card-sign certificate, publish full CRLs, revoke another, publish delta
    CRLs. Returns the serials (revoked before the full CRL, revoked after it, valid)."""
    before_full, after_full, valid = (r["serial"] for r in live.certs(kind="card-sign"))
    live.run("revoke", before_full, "--reason", "request")
    live.run("crl", "publish")
    live.run("revoke", after_full, "--reason", "resident-change")
    live.run("crl", "publish", "--delta")
    return before_full, after_full, valid


def cn(cert: x509.Certificate) -> str:
    return cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value


def test_pyhanko_crl_required_valid_passes_revoked_raises_card_sign_R_REV_1_R_REV_9_R_REV_10_R_CERT_1(live: Live):
    """R-REV-10 (revocation information given as files, on request) through a
    third-party validator with CRLs required and fetched by the library itself, over
    HTTP, from the URLs in the certificates: a valid card-sign certificate validates (an
    RSA-2048 / SHA-256 path, signature key usages: R-CERT-1); one revoked before the full
    CRL (R-REV-1) raises RevokedError; one revoked after it, listed only in the delta CRL
    (R-REV-9), raises RevokedError too.

    pyhanko-certvalidator finds delta CRLs only through the *certificate's* freshestCRL
    extension (RFC 5280 4.2.1.15), and when a full CRL carries freshestCRL it insists on
    a matching delta ("Delta CRL matching Freshest CRL extension not available"). So the
    leaf and the issuing CA certificate must name the same delta URL as their full CRL."""
    before_full, after_full, valid_serial = revoke_around_full_crl(live)
    root = live.ca_cert("root")  # the trust anchor, out of band
    valid, revoked_in_full, revoked_in_delta = (live.cert(s) for s in (valid_serial, before_full, after_full))
    intermediate = x509.load_der_x509_certificate(live.get(ca_issuers_url(valid)))
    for cert in (valid, intermediate):
        full = x509.load_der_x509_crl(live.get(crl_dp_url(cert)))
        assert freshest_crl_urls(cert) == [freshest_crl_url(full)], f"{cn(cert)}: freshestCRL of the certificate vs its full CRL"

    async def scenario():
        path, crls = await validate(root, intermediate, valid)
        with pytest.raises(RevokedError) as in_full:
            await validate(root, intermediate, revoked_in_full)
        with pytest.raises(RevokedError) as in_delta:
            await validate(root, intermediate, revoked_in_delta)
        return path, crls, in_full.value, in_delta.value

    path, crls, in_full, in_delta = asyncio.run(scenario())

    assert [c.subject.native["common_name"] for c in path] == [cn(root), cn(intermediate), cn(valid)]
    # Revocation was decided on CRLs the library fetched (nothing was handed in): full and
    # delta, of both issuers (card-sign CA for the leaf, root for the intermediate).
    assert {cn(root), cn(intermediate)} <= crl_issuers(crls), crl_issuers(crls)
    deltas = [c for c in crls if c.delta_crl_indicator_value is not None]
    assert {c.issuer.native["common_name"] for c in deltas} == {cn(root), cn(intermediate)}, "delta CRLs not used"
    # request -> cessationOfOperation, resident-change -> affiliationChanged (myna.pki.revocation)
    assert in_full.reason.native == "cessation_of_operation", in_full
    assert in_delta.reason.native == "affiliation_changed", in_delta
    # OCSP (in the certificates' AIA, not implemented yet) was never asked.
    assert "/ocsp/" not in live.server_log.read_text(errors="replace")


def freshest_crl_urls(cert: x509.Certificate) -> list[str]:
    try:
        fresh = cert.extensions.get_extension_for_class(x509.FreshestCRL).value
    except x509.ExtensionNotFound:
        return []
    return [n.value for dp in fresh for n in (dp.full_name or []) if isinstance(n, x509.UniformResourceIdentifier)]
