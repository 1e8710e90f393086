"""pkilint (DigiCert's RFC 5280 linter, nobody here wrote it) on everything myna signs:
holder certificates of all four kinds, the root and the four issuing CA certificates,
every full CRL, every delta CRL, and the root's CRL (an ARL).

Documents come from an in-process platform (the ``platform`` fixture: real key
ceremony, real issuance and CRL services), which is what the server stores and serves
byte for byte (the distribution points return the stored DER). The validators are
built exactly as pkilint's own ``lint_pkix_cert`` and ``lint_crl -p PKIX`` commands
build them (pkilint/bin/*.py); one test also runs the real commands on files.

A failing assertion prints pkilint's report. The WARNING-level test does not assert: it
prints what it finds (run with ``-rP`` or ``-s`` to see it).
"""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from myna_testing import issue_registered, require_tool
from pkilint import loader, pkix, report
from pkilint.pkix import certificate, crl, extension, name
from pkilint.validation import ValidationFindingSeverity

from myna.authority.crls import CrlService
from myna.authority.issuance import IssuanceRequest
from myna.authority.platform import Platform
from myna.authority.revoking import RevocationService
from myna.pki.basic4 import Basic4, Sex
from myna.pki.kinds import AuthorityKind, CertKind
from myna.pki.revocation import RevocationReason

pytestmark = pytest.mark.interop

ERROR = ValidationFindingSeverity.ERROR
WARNING = ValidationFindingSeverity.WARNING


# --------------------------------------------------------------------------- pkilint


def _cert_validator():
    """As pkilint/bin/lint_pkix_cert.py builds it."""
    return certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS),
        [
            certificate.create_issuer_validator_container([]),
            certificate.create_validity_validator_container(),
            certificate.create_subject_validator_container([]),
            certificate.create_extensions_validator_container([]),
            certificate.create_spki_validator_container([]),
        ],
    )


def _crl_validator():
    """As pkilint/bin/lint_crl.py builds it for ``-p PKIX`` (where ``-t CRL`` and ``-t ARL``
    select the same validators: the type only matters for the BR profile)."""
    return crl.create_pkix_crl_validator_container(
        [pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS), pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS)],
        [
            crl.create_issuer_validator_container([]),
            crl.create_validity_validator_container([]),
            crl.create_extensions_validator_container([]),
        ],
    )


@dataclass(frozen=True)
class Doc:
    label: str
    kind: str  # "cert", "CRL" or "ARL"
    der: bytes


def lint(doc: Doc):
    if doc.kind == "cert":
        parsed = loader.RFC5280CertificateDocumentLoader().load_der_document(doc.der, doc.label)
        return _cert_validator().validate(parsed.root)
    parsed = loader.RFC5280CertificateListDocumentLoader().load_der_document(doc.der, doc.label)
    return _crl_validator().validate(parsed.root)


def findings(docs: list[Doc], threshold: ValidationFindingSeverity) -> dict[str, str]:
    """label -> pkilint's plain-text report, for documents with findings at or above ``threshold``."""
    out = {}
    for doc in docs:
        results = lint(doc)
        if report.get_findings_count(results, threshold):
            out[doc.label] = report.ReportGeneratorPlaintext(results, threshold).generate()
    return out


def format_findings(found: dict[str, str]) -> str:
    return "\n".join(f"== {label}\n{text}" for label, text in found.items())


# --------------------------------------------------------------------------- documents


def _rsa_spki() -> bytes:
    # RSA-2048 holder keys, as on current cards (R-CERT-1)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _issue(p: Platform, kind: CertKind, n: int) -> x509.Certificate:
    born = dt.date(1980, 5, 17)
    req = IssuanceRequest(
        request_id=f"pkilint:{kind.value}:{n}",
        kind=kind,
        public_key=_rsa_spki(),
        # One holder per certificate: a shared holder would see the R-REV-6 cascade
        # revoke their mobile certificate along with the card one.
        resident_code=f"{12345678900 + 10 * list(CertKind).index(kind) + n:011d}",
        date_of_birth=born,
        basic4=Basic4("山田 太郎", born, Sex.MALE, "東京都千代田区千代田1-1") if kind.is_signature else None,
        municipality_code="131016",
    )
    return issue_registered(p, req, actor="test").certificate


def _der(obj) -> bytes:
    return obj.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def documents(platform: Platform) -> list[Doc]:
    """Every kind of document myna signs, with revocations in the CRLs and deltas."""
    docs = [Doc(f"CA certificate {k.value}", "cert", _der(platform.authority(k).cert)) for k in AuthorityKind]
    holders = {kind: [_issue(platform, kind, i) for i in range(2 if kind is CertKind.CARD_SIGN else 1)] for kind in CertKind}
    docs += [Doc(f"holder certificate {kind.value}", "cert", _der(certs[0])) for kind, certs in holders.items()]

    revocations = RevocationService(platform)
    reasons = {
        CertKind.CARD_SIGN: RevocationReason.REQUEST,
        CertKind.CARD_AUTH: RevocationReason.RECORD_ERROR,
        CertKind.MOBILE_SIGN: RevocationReason.RESIDENT_CHANGE,
        CertKind.MOBILE_AUTH: RevocationReason.LINKED_CARD_REVOKED,
    }
    for kind, reason in reasons.items():
        revocations.revoke(holders[kind][0].serial_number, reason, actor="test")
    crls = CrlService(platform)
    for done in crls.publish_all(actor="test"):
        docs.append(Doc(f"full CRL {done.authority} ({done.entries} entries)", "ARL" if done.authority == "root" else "CRL", done.der))
    revocations.revoke(holders[CertKind.CARD_SIGN][1].serial_number, RevocationReason.REQUEST, actor="test")
    for done in crls.publish_all(delta=True, actor="test"):
        docs.append(Doc(f"delta CRL {done.authority} ({done.entries} entries)", "ARL" if done.authority == "root" else "CRL", done.der))
    # An ARL with an entry: R-REV-5 retires the mobile-auth CA and revokes its certificate in the root's CRL.
    revocations.compromise_authority(AuthorityKind.MOBILE_AUTH, actor="test")
    done = crls.publish(AuthorityKind.ROOT, actor="test")
    assert done.entries == 1
    docs.append(Doc("full CRL root after R-REV-5 (1 entry)", "ARL", done.der))
    return docs


# --------------------------------------------------------------------------- tests


def test_pkilint_no_error_on_certificates_crls_deltas_and_arl_R_CERT_1_R_REV_9(documents: list[Doc]):
    """R-CERT-1 (certificate profile) and R-REV-9 (CRLs "searchable by computer"): no
    pkilint finding of severity ERROR or FATAL on any certificate (four holder kinds,
    root, four issuing CAs), full CRL, delta CRL or the root's ARL."""
    labels = [d.label for d in documents]
    assert sum(d.kind == "cert" for d in documents) == 9 and sum(label.startswith("delta CRL") for label in labels) == 5
    found = findings(documents, ERROR)
    assert not found, "pkilint findings at ERROR or worse:\n" + format_findings(found)


def test_pkilint_warnings_report_only_R_CERT_1_R_REV_9(documents: list[Doc]):
    """Same documents at -s WARNING. Not an assertion: prints what pkilint finds (SHOULD
    violations and worse), for a human to decide."""
    found = findings(documents, WARNING)
    print(f"\npkilint WARNING-level findings on {len(documents)} documents:")
    print(format_findings(found) if found else "none")


def test_pkilint_cli_agrees_and_is_not_vacuous_R_CERT_1_R_REV_9(documents: list[Doc], tmp_path: Path):
    """The real `lint_pkix_cert` / `lint_crl -t ARL -p PKIX` commands exit 0 on a myna
    holder certificate, CA certificate and the root's ARL at -s ERROR; and the same
    setup does report a broken certificate (no keyUsage, SKI or AKI), through the API and
    through the command's exit status: the checks above can fail."""
    lint_cert, lint_crl = require_tool("lint_pkix_cert"), require_tool("lint_crl")
    by_label = {d.label: d for d in documents}

    def pem_file(doc: Doc, label: str) -> Path:
        if doc.kind == "cert":
            data = x509.load_der_x509_certificate(doc.der).public_bytes(serialization.Encoding.PEM)
        else:
            data = x509.load_der_x509_crl(doc.der).public_bytes(serialization.Encoding.PEM)
        path = tmp_path / f"{label}.pem"
        path.write_bytes(data)
        return path

    runs = [
        [lint_cert, "lint", "-s", "ERROR", pem_file(by_label["holder certificate card-sign"], "card-sign")],
        [lint_cert, "lint", "-s", "ERROR", pem_file(by_label["CA certificate card-sign"], "card-sign-ca")],
        [
            lint_crl,
            "lint",
            "-s",
            "ERROR",
            "-t",
            "ARL",
            "-p",
            "PKIX",
            pem_file(by_label["full CRL root after R-REV-5 (1 entry)"], "root-arl"),
        ],
        [
            lint_crl,
            "lint",
            "-s",
            "ERROR",
            "-t",
            "CRL",
            "-p",
            "PKIX",
            pem_file(next(d for d in documents if d.label.startswith("delta CRL card-sign")), "delta"),
        ],
    ]
    for cmd in runs:
        r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"

    # A certificate pkilint must object to: no keyUsage, no SKI, no AKI.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    nm = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "broken")])
    now = dt.datetime.now(dt.timezone.utc)
    broken = (
        x509.CertificateBuilder()
        .subject_name(nm)
        .issuer_name(nm)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    doc = Doc("broken", "cert", broken.public_bytes(serialization.Encoding.DER))
    assert findings([doc], ERROR), "pkilint found nothing wrong with a certificate lacking keyUsage, SKI and AKI"
    r = subprocess.run([lint_cert, "lint", "-s", "ERROR", str(pem_file(doc, "broken"))], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and r.stdout.strip(), f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
