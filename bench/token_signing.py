#!/usr/bin/env python
"""Benchmark: one certificate (and one CRL) signed by a PKCS#11 token key (SoftHSM2),
through cryptography's own builder vs the hand-written path the signer used to take.

    python bench/token_signing.py            # 300 certificates per key type
    python bench/token_signing.py --n 1000

The token keys of ``myna.pki.keystore_pkcs11`` are cryptography private-key objects, so
``builder.sign(token_key, SHA256())`` works: cryptography encodes the TBS, calls the key
object's ``sign()`` once (the token's ``C_Sign``) and writes the certificate. Before,
``myna.pki.signer.sign_certificate`` got the TBS from a draft signed by a throwaway
RSA-512 key (154 us per certificate, docs/benchmarks-issuance.md), had the token sign
it, assembled the certificate (``myna.pki.der.assemble``) and parsed it back. Here that
path is measured at its best: the TBS caught without any draft signature (the test
helper ``tests/pki/signing_support.tbs_of``), so if the builder beats it, it beats the
old path by at least the draft signature more.

Method: a fresh SoftHSM2 token, one RSA-2048 and one EC P-256 CA key generated in it;
N builders (holder-like: C=JP, random CN, an EC holder key, five extensions). The parts
take turns item by item (so drift in background load hits them alike), 3 passes; the
figure is the median time of one item, in microseconds (a median, not a sum: on a
shared machine a sum is mostly other processes' time slices):

- ``builder``: ``myna.pki.signer.sign_certificate`` (cryptography's builder, the token signs);
- ``hand-written, as it was``: the TBS of a draft signed by the throwaway key the signer
  kept (RSA-512, or a P-256 key for an EC CA) + ``key.sign(tbs)`` + ``der.assemble`` +
  ``load_der_x509_certificate``;
- ``hand-written, TBS caught``: the same without the draft signature, its best case;
- ``C_Sign alone``: ``key.sign(tbs)`` on the same bytes, the token's share of all three.

CRLs (one row per entry count): cryptography's CRL builder signed by the token key
against ``crl_der.build_crl`` over entries encoded beforehand (as the store keeps them)
and signed through ``signer.sign_bytes``; the entries' encoding is not timed for either.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "pki"))
from signing_support import tbs_of  # noqa: E402

from myna.pki import der, signer  # noqa: E402
from myna.pki.crl_der import CrlParams, build_crl, encode_entry  # noqa: E402
from myna.pki.keys import KeyAlgorithm  # noqa: E402
from myna.pki.keystore_pkcs11 import Pkcs11KeyBackend, default_softhsm_module, init_softhsm_token  # noqa: E402

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)
PASSES = 3
# The throwaway key myna.pki.signer drafted RSA certificates with before its token keys
# were cryptography key objects (cryptography refuses to generate keys under 1024 bits,
# so it was made once with `openssl genrsa 512`; it is not a secret of any kind).
THROWAWAY_RSA_512 = b"""\
-----BEGIN PRIVATE KEY-----
MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAzQ8/YQXT9zHgWoVJ
QvY3h59yJrX97LgVn9SinG94PY06DhNroBatfsf2c8ciLhCWwynFaKMCC1b3lBuZ
PU/h0wIDAQABAkEAwQQxLCpIMs4H2CzNoPIRot86m6WCtmcwM5n61jU2gPfVlX1W
TehQpsKeMgnRcpFG6ge+MdHZ0v7Gjbc4/UgBwQIhAPgG5Icr0MCOYgp7D/0SZ66W
2OqgLA8bpz6vPHOSRYaPAiEA06bCnRhqlWVyBNoKB3neQIk2j1CD6i9LOLFbBOo2
8n0CIQD0q4gAt/5kFZEtmZx6IA/bsL8nJP6RoMvpEGDn+WFQjQIgX6upnMlEpHNO
rtLAZdC4ngNoHjAO8PSf0+iXdAlK/SECIHijybLPAsosu4ohXMqIQTJY8UzMwJRL
FoTOU3xrNXM0
-----END PRIVATE KEY-----
"""
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, "bench token CA")])


def builders(n: int, ca_public) -> list[x509.CertificateBuilder]:
    holder = ec.generate_private_key(ec.SECP256R1()).public_key()
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public)
    out = []
    for _ in range(n):
        out.append(
            x509.CertificateBuilder()
            .subject_name(
                x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(12))])
            )
            .issuer_name(CA_NAME)
            .public_key(holder)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW)
            .not_valid_after(NOW + dt.timedelta(days=1800))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(holder), critical=False)
            .add_extension(aki, critical=False)
            .add_extension(
                x509.CRLDistributionPoints(
                    [x509.DistributionPoint([x509.UniformResourceIdentifier("http://127.0.0.1/crl/x.crl")], None, None, None)]
                ),
                critical=False,
            )
        )
    return out


def median_turns(parts: dict, items: list) -> dict[str, float]:
    """Median microseconds of one ``parts[name](item)``, the parts taking turns item by
    item, over PASSES passes."""
    spent: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(PASSES):
        for item in items:
            for name, fn in parts.items():
                t0 = time.perf_counter()
                fn(item)
                spent[name].append(time.perf_counter() - t0)
    return {name: statistics.median(times) * 1e6 for name, times in spent.items()}


def certificate_rows(key, n: int) -> dict[str, float]:
    built = builders(n, key.public_key())
    is_rsa = key.algorithm.is_rsa
    algorithm = signer.signature_algorithm(key)
    tbs = tbs_of(built[0], is_rsa)
    if is_rsa:
        throwaway = serialization.load_pem_private_key(THROWAWAY_RSA_512, password=None)
    else:
        throwaway = ec.generate_private_key(ec.SECP256R1())

    def assembled(t: bytes) -> x509.Certificate:
        return x509.load_der_x509_certificate(der.assemble(t, algorithm, key.sign(t)))

    def as_it_was(b: x509.CertificateBuilder) -> x509.Certificate:
        return assembled(b.sign(throwaway, hashes.SHA256()).tbs_certificate_bytes)

    def caught(b: x509.CertificateBuilder) -> x509.Certificate:
        return assembled(tbs_of(b, is_rsa))

    # Every path gives a certificate the CA's public key verifies.
    for cert in (signer.sign_certificate(built[0], key), as_it_was(built[0]), caught(built[0])):
        cert.verify_directly_issued_by(
            signer.sign_certificate(
                x509.CertificateBuilder(
                    issuer_name=CA_NAME,
                    subject_name=CA_NAME,
                    public_key=key.public_key(),
                    serial_number=1,
                    not_valid_before=NOW,
                    not_valid_after=NOW + dt.timedelta(days=1),
                ),
                key,
            )
        )
    parts = {
        "builder": lambda b: signer.sign_certificate(b, key),
        "as it was": as_it_was,
        "caught": caught,
        "C_Sign alone": lambda b: key.sign(tbs),
    }
    return median_turns(parts, built)


def crl_rows(key, entries: int, rounds: int) -> dict[str, float]:
    revoked = [
        (x509.random_serial_number(), NOW - dt.timedelta(minutes=i), x509.ReasonFlags.cessation_of_operation) for i in range(entries)
    ]
    objects = [
        x509.RevokedCertificateBuilder().serial_number(s).revocation_date(at).add_extension(x509.CRLReason(r), critical=False).build()
        for s, at, r in revoked
    ]
    encoded = [encode_entry(s, at, r) for s, at, r in revoked]
    aki = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
    params = CrlParams(CA_NAME, NOW, NOW + dt.timedelta(days=1), 7, aki, "http://127.0.0.1/crl/x.crl")

    def with_builder(_):
        b = x509.CertificateRevocationListBuilder().issuer_name(CA_NAME).last_update(NOW).next_update(NOW + dt.timedelta(days=1))
        for o in objects:
            b = b.add_revoked_certificate(o)
        return b.add_extension(x509.CRLNumber(7), critical=False).sign(key, hashes.SHA256())

    def with_crl_der(_):
        return build_crl(params, encoded, signer.sign_bytes(key), signer.signature_algorithm(key))

    assert with_builder(None).is_signature_valid(key.public_key())
    assert x509.load_der_x509_crl(with_crl_der(None)).is_signature_valid(key.public_key())
    return median_turns({"CRL builder": with_builder, "crl_der": with_crl_der}, list(range(rounds)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300, help="certificates per key type")
    args = ap.parse_args()
    module = default_softhsm_module()
    if module is None or shutil.which("softhsm2-util") is None:
        sys.exit("SoftHSM2 is not installed (Debian/Ubuntu package softhsm2)")
    workdir = Path(tempfile.mkdtemp(prefix="myna-token-bench-"))
    try:
        label = f"myna-bench-{secrets.token_hex(3)}"
        os.environ.update(init_softhsm_token(workdir, label, "12345678", "1234"))
        import cryptography

        print(
            f"# Token signing: builder vs hand-written (SoftHSM2, cryptography {cryptography.__version__}, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, nproc {os.cpu_count()}, load {os.getloadavg()[0]:.2f})\n"
        )
        print(
            "| CA key | builder | hand-written, as it was | hand-written, TBS caught | C_Sign alone "
            "| builder / as it was | builder / caught |"
        )
        print("|---|---|---|---|---|---|---|")
        with Pkcs11KeyBackend(module, label, "1234") as backend:
            keys = {a: backend.generate(f"bench {a.value}", a) for a in (KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256)}
            for algorithm, key in keys.items():
                r = certificate_rows(key, args.n)
                print(
                    f"| {algorithm.value} | {r['builder']:,.0f} | {r['as it was']:,.0f} | {r['caught']:,.0f} | {r['C_Sign alone']:,.0f} "
                    f"| {r['builder'] / r['as it was']:.2f} | {r['builder'] / r['caught']:.2f} |"
                )
            print("\nµs per certificate, median.")
            print("\n| CRL entries (rsa2048 CA) | CRL builder (µs) | crl_der (µs) | crl_der / builder |")
            print("|---|---|---|---|")
            for entries, rounds in ((0, 50), (100, 20), (1000, 5)):
                r = crl_rows(keys[KeyAlgorithm.RSA_2048], entries, rounds)
                print(f"| {entries:,} | {r['CRL builder']:,.0f} | {r['crl_der']:,.0f} | {r['crl_der'] / r['CRL builder']:.2f} |")
        print(f"\nload after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
