"""Certificate profiles: what goes into the CA and holder certificates (SPEC §3, docs/pki.md).

Pure functions from inputs to ``cryptography`` builders; the signer signs them.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from myna.pki.basic4 import Basic4
from myna.pki.keys import PublicKey
from myna.pki.kinds import AuthorityKind, CertKind

ORGANISATION = "myna JPKI"
ROOT_YEARS = 20
ISSUING_YEARS = 12  # outlives every holder certificate it signs (at most ~5 years)


@dataclass(frozen=True)
class Urls:
    """Where a certificate tells relying parties to look, under MYNA_PUBLIC_URL."""

    base: str

    # ``slug`` names one CA generation: "card-sign", or "card-sign-g2" after a re-key.
    def crl(self, slug: str) -> str:
        return f"{self.base}/crl/{slug}.crl"

    def delta_crl(self, slug: str) -> str:
        return f"{self.base}/crl/{slug}-delta.crl"

    def ocsp(self, slug: str) -> str:
        return f"{self.base}/ocsp/{slug}"

    def ca_cert(self, slug: str) -> str:
        return f"{self.base}/ca/{slug}.crt"


def authority_name(kind: AuthorityKind, generation: int) -> x509.Name:
    if kind is AuthorityKind.ROOT:
        cn, ou = f"myna JPKI Root CA G{generation}", "Root"
    else:
        title = CertKind(kind.value).title
        cn, ou = f"myna JPKI {title} CA G{generation}", title
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def new_subject_id() -> str:
    """The opaque subject CN of a holder certificate: never the person's name (SPEC §3)."""
    return secrets.token_hex(12).upper()


def _ski(public_key: PublicKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(public_key)


def root_builder(name: x509.Name, public_key: PublicKey, now: dt.datetime, serial: int) -> x509.CertificateBuilder:
    ski = _ski(public_key)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * ROOT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(ski.digest, None, None), critical=False)
    )


def issuing_ca_builder(
    kind: AuthorityKind,
    name: x509.Name,
    public_key: PublicKey,
    root: x509.Certificate,
    now: dt.datetime,
    serial: int,
    urls: Urls,
    root_slug: str = "root",
) -> x509.CertificateBuilder:
    cert_kind = CertKind(kind.value)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(root.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(min(now + dt.timedelta(days=365 * ISSUING_YEARS), root.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(_ski(public_key), critical=False)
        .add_extension(_aki(root), critical=False)
        .add_extension(x509.CertificatePolicies([x509.PolicyInformation(cert_kind.policy_oid, None)]), critical=False)
        .add_extension(_crl_dp(urls.crl(root_slug)), critical=False)
        .add_extension(_freshest(urls.delta_crl(root_slug)), critical=False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(urls.ca_cert(root_slug)))]
            ),
            critical=False,
        )
    )


def holder_builder(
    kind: CertKind,
    issuer: x509.Certificate,
    public_key: PublicKey,
    subject_id: str,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    urls: Urls,
    issuer_slug: str,
    basic4: Basic4 | None,
) -> x509.CertificateBuilder:
    """A holder certificate. Signature kinds carry ``basic4`` in subjectAltName;
    user-auth kinds carry no personal data at all (R-CERT-1). ``issuer_slug`` names the
    issuing CA generation in the CRL, OCSP and CA-issuer URLs."""
    if kind.is_signature and basic4 is None:
        raise ValueError("a signature certificate needs the basic 4 information")
    if not kind.is_signature and basic4 is not None:
        raise ValueError("a user-authentication certificate carries no personal data")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, subject_id)]))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in issuer_extensions(kind, issuer, urls.base, issuer_slug):
        builder = builder.add_extension(extension, critical=critical)
    builder = builder.add_extension(_ski(public_key), critical=False)
    if basic4 is not None:
        builder = builder.add_extension(basic4.to_san(), critical=False)
    return builder


@functools.lru_cache(maxsize=64)
def issuer_extensions(kind: CertKind, issuer: x509.Certificate, base_url: str, issuer_slug: str) -> tuple:
    """The extensions that depend only on the kind and the issuing CA, built once per CA
    generation rather than per certificate."""
    urls = Urls(base_url)
    return (
        (
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=kind.is_signature,  # nonRepudiation: signatures, not logins
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        ),
        (x509.CertificatePolicies([x509.PolicyInformation(kind.policy_oid, None)]), False),
        (_aki(issuer), False),
        (_crl_dp(urls.crl(issuer_slug)), False),
        # RFC 5280 4.2.1.15: relying parties (pyhanko-certvalidator among them) look for
        # delta CRLs here, not in the full CRL.
        (_freshest(urls.delta_crl(issuer_slug)), False),
        (
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp(issuer_slug))),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(urls.ca_cert(issuer_slug))
                    ),
                ]
            ),
            False,
        ),
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _crl_dp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)])


def _freshest(url: str) -> x509.FreshestCRL:
    return x509.FreshestCRL([x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)])
