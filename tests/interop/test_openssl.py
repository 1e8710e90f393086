"""OpenSSL (a verifier nobody here wrote) against a live myna server.

Everything is fetched the way a relying party would: the CRL URL from the
certificate's CRL distribution point, the root CRL URL from the issuing CA
certificate's CRLDP, the delta CRL URL from the full CRL's freshestCRL, the issuing
CA certificate from the leaf's caIssuers. Only the root (the trust anchor) comes out
of band, from ``myna ca get root``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from interop_support import Live, ca_issuers_url, crl_dp_url, freshest_crl_url, write_pem

pytestmark = pytest.mark.interop

ALL_CAS = ["root", "card-sign", "card-auth", "mobile-sign", "mobile-auth"]


def openssl(bin_: str, *args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([bin_, *map(str, args)], capture_output=True, text=True, timeout=60)


def out(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


def fetch_crl(live: Live, url: str) -> x509.CertificateRevocationList:
    """Download a CRL (DER, as served) and parse it."""
    return x509.load_der_x509_crl(live.get(url))


def listed(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> bool:
    return crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None


def issuing_ca(live: Live, leaf: x509.Certificate, root: x509.Certificate) -> x509.Certificate:
    """The issuing CA certificate, downloaded from the leaf's caIssuers URL."""
    issuing = x509.load_der_x509_certificate(live.get(ca_issuers_url(leaf)))
    assert issuing.subject == leaf.issuer and issuing.issuer == root.subject
    return issuing


def test_openssl_crl_check_all_rejects_revoked_accepts_valid_card_sign_and_card_auth_R_REV_1_R_REV_4_R_REV_9_R_REV_10(
    live: Live, openssl_bin: str
):
    """A revocation recorded with the CLI (R-REV-1 for card-sign, R-REV-4 for card-auth)
    is in the next full CRL of that kind (R-REV-9, one CRL per kind), handed out as a
    file over HTTP at the URL the certificate names (R-REV-10). `openssl verify
    -crl_check_all` with the CRLs fetched from the certificates' CRLDP URLs accepts a
    valid certificate ("OK") and rejects the revoked one ("certificate revoked"). The
    root's CRL, found through the issuing CA certificate's CRLDP, is checked as well."""
    records = live.certs()
    by_kind = {k: [r for r in records if r["kind"] == k] for k in ("card-sign", "card-auth")}
    assert all(len(v) == 3 and all(r["status"] == "valid" for r in v) for v in by_kind.values()), records
    live.run("revoke", by_kind["card-sign"][0]["serial"], "--reason", "request")
    live.run("revoke", by_kind["card-auth"][0]["serial"], "--reason", "record-error")
    live.run("crl", "publish")
    root = live.ca_cert("root")  # the trust anchor, out of band
    root_pem = write_pem(live.tmp / "root.pem", root)

    for kind, recs in by_kind.items():
        d = live.tmp / kind
        d.mkdir()
        revoked, valid = live.cert(recs[0]["serial"]), live.cert(recs[1]["serial"])
        issuing = issuing_ca(live, valid, root)

        leaf_crl_url = crl_dp_url(valid)
        assert crl_dp_url(revoked) == leaf_crl_url
        leaf_crl = fetch_crl(live, leaf_crl_url)
        root_crl = fetch_crl(live, crl_dp_url(issuing))
        assert leaf_crl.issuer == issuing.subject and root_crl.issuer == root.subject
        assert listed(leaf_crl, revoked) and not listed(leaf_crl, valid), kind
        assert not listed(root_crl, issuing)

        issuing_pem = write_pem(d / "issuing.pem", issuing)
        verify = [openssl_bin, "verify", "-crl_check_all", "-CAfile", root_pem, "-untrusted", issuing_pem, "-CRLfile"]
        crls_pem = write_pem(d / "crls.pem", leaf_crl, root_crl)

        ok = openssl(*verify, crls_pem, write_pem(d / "valid.pem", valid))
        assert ok.returncode == 0 and ": OK" in ok.stdout, f"{kind}: {out(ok)}"

        bad = openssl(*verify, crls_pem, write_pem(d / "revoked.pem", revoked))
        assert bad.returncode != 0 and "certificate revoked" in bad.stdout + bad.stderr, f"{kind}: {out(bad)}"

        # Without the root's CRL, -crl_check_all cannot finish: the root CRL really is consulted.
        no_root_crl = openssl(*verify, write_pem(d / "leaf-crl-only.pem", leaf_crl), d / "valid.pem")
        assert no_root_crl.returncode != 0 and "unable to get certificate CRL" in no_root_crl.stdout + no_root_crl.stderr, (
            f"{kind}: {out(no_root_crl)}"
        )


def test_openssl_delta_crl_and_every_served_crl_R_REV_9_R_REV_10(live: Live, openssl_bin: str):
    """R-REV-9 delta CRLs: a card-sign certificate revoked after the full CRL is absent
    from it and listed in the next delta (`myna crl publish --delta`, fetched from the
    full CRL's freshestCRL URL); `openssl verify -crl_check -use_deltas` rejects it with
    full + delta, while the full CRL alone still accepts it: the delta matters.

    Then, in the same state (entries in full and delta CRLs), R-REV-9 "searchable by
    computer" / R-REV-10 "as files": every full and delta CRL the server serves, for all
    five CAs, is parsed by `openssl crl -inform DER -text` and its signature verifies
    under the CA certificate served at that CA's certificate URL ("verify OK")."""
    records = live.certs()
    first, second, untouched = (r["serial"] for r in records if r["kind"] == "card-sign")
    auth = next(r["serial"] for r in records if r["kind"] == "card-auth")
    live.run("revoke", first, "--reason", "request")
    live.run("revoke", auth, "--reason", "record-error")
    live.run("crl", "publish")
    live.run("revoke", second, "--reason", "resident-change")
    live.run("crl", "publish", "--delta")

    c_first, c_second, c_valid = (live.cert(s) for s in (first, second, untouched))
    root = live.ca_cert("root")
    issuing = issuing_ca(live, c_second, root)

    full = fetch_crl(live, crl_dp_url(c_second))
    delta_url = freshest_crl_url(full)
    delta = fetch_crl(live, delta_url)

    # The delta really is a delta of this full CRL (RFC 5280 5.2.4).
    full_number = full.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    delta_number = delta.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    base_number = delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value.crl_number
    assert base_number == full_number < delta_number
    assert listed(full, c_first) and not listed(full, c_second)
    assert listed(delta, c_second) and not listed(delta, c_first)

    d = live.tmp
    root_pem = write_pem(d / "root.pem", root)
    issuing_pem = write_pem(d / "issuing.pem", issuing)
    full_only = write_pem(d / "full.pem", full)
    full_and_delta = write_pem(d / "full+delta.pem", full, delta)
    second_pem = write_pem(d / "second.pem", c_second)
    # -extended_crl is needed with OpenSSL 3.0 (seen with 3.0.19): there get_crl_score()
    # rules delta CRLs out as *base* CRL candidates only when extended CRL support is on.
    # Without it, given full + delta, OpenSSL takes the newer delta for the full CRL and
    # never consults the real one: `first` below (only in the full CRL) was accepted.
    # (OpenSSL master rejects deltas as base candidates unconditionally.)
    verify = [openssl_bin, "verify", "-crl_check", "-use_deltas", "-extended_crl", "-CAfile", root_pem, "-untrusted", issuing_pem]

    without_delta = openssl(*verify, "-CRLfile", full_only, second_pem)
    assert without_delta.returncode == 0 and ": OK" in without_delta.stdout, out(without_delta)

    with_delta = openssl(*verify, "-CRLfile", full_and_delta, second_pem)
    assert with_delta.returncode != 0 and "certificate revoked" in with_delta.stdout + with_delta.stderr, out(with_delta)

    # Full + delta: the certificate revoked before the full CRL stays revoked, an untouched one stays valid.
    still_revoked = openssl(*verify, "-CRLfile", full_and_delta, write_pem(d / "first.pem", c_first))
    assert still_revoked.returncode != 0 and "certificate revoked" in still_revoked.stdout + still_revoked.stderr, out(still_revoked)
    still_valid = openssl(*verify, "-CRLfile", full_and_delta, write_pem(d / "untouched.pem", c_valid))
    assert still_valid.returncode == 0 and ": OK" in still_valid.stdout, out(still_valid)

    # Every CRL and delta CRL served, all five CAs: parsed and signature-verified by OpenSSL.
    authorities = {a["slug"]: a for a in json.loads(live.get("/api/v1/authorities"))}
    assert sorted(authorities) == sorted(ALL_CAS)
    texts: dict[tuple[str, str], str] = {}
    for slug in ALL_CAS:
        ca = x509.load_der_x509_certificate(live.get(authorities[slug]["certificate_url"]))
        ca_cn = ca.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        ca_pem = write_pem(d / f"{slug}.ca.pem", ca)
        full_der = live.get(authorities[slug]["crl_url"])
        full = x509.load_der_x509_crl(full_der)
        for label, der in (("full", full_der), ("delta", live.get(freshest_crl_url(full)))):
            path = d / f"{slug}.{label}.crl"
            path.write_bytes(der)
            text = openssl(openssl_bin, "crl", "-inform", "DER", "-in", path, "-noout", "-text")
            assert text.returncode == 0 and "Certificate Revocation List" in text.stdout, f"{slug} {label}: {out(text)}"
            assert f"CN = {ca_cn}" in text.stdout, f"{slug} {label}: {text.stdout}"
            assert ("Delta CRL Indicator" if label == "delta" else "Freshest CRL") in text.stdout, f"{slug} {label}: {text.stdout}"
            verified = openssl(openssl_bin, "crl", "-inform", "DER", "-in", path, "-noout", "-CAfile", ca_pem, "-verify")
            assert verified.returncode == 0 and "verify OK" in verified.stdout + verified.stderr, f"{slug} {label}: {out(verified)}"
            texts[slug, label] = text.stdout

    assert len(texts) == 10
    # The entries survived the trip: the full CRLs list the first revocations, the card-sign delta the later one.
    for key in (("card-sign", "full"), ("card-auth", "full"), ("card-sign", "delta")):
        assert "Revoked Certificates:" in texts[key], f"{key}: {texts[key]}"
    assert "No Revoked Certificates." in texts["card-auth", "delta"]
