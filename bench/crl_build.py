#!/usr/bin/env python
"""Benchmark: building a CRL with N revoked entries, `openssl ca -gencrl` vs myna.

    python bench/crl_build.py                      # N = 1,000,000
    python bench/crl_build.py --quick              # N = 10,000
    python bench/crl_build.py --entries 1000000 --write docs/benchmarks-crl.md

Steps, each timed on its own:

a. an RSA-2048 CA made with `openssl req -x509` in a temporary directory;
b. an `openssl ca` database (index.txt) with N revoked entries, and a minimal
   openssl.cnf with a crlnumber file and an authorityKeyIdentifier CRL extension;
c. `openssl ca -gencrl`: wall time and peak RSS (`/usr/bin/time -v`);
d. myna: `encode_entry` for the same N entries (done once per certificate at
   revocation time in production, so reported on its own), then `build_crl` over
   the pre-encoded entries, signing with the same CA key via cryptography, in a
   child process so that its peak RSS is its own (VmHWM; see peak_rss_kb for why
   not ru_maxrss).

Both CRLs carry the same entries (same serials, dates and reasons) and the same
CRL extensions (authorityKeyIdentifier, cRLNumber), both are checked with
`openssl crl -noout -CAfile ca.pem` (parse + signature) and counted, and their
revokedCertificates fields are compared byte for byte.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import pickle
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UTC = dt.timezone.utc

# Reasons cycled over the entries. `None` is written to index.txt without a
# reason (no reasonCode extension). "unspecified" is left out on purpose: openssl
# writes reasonCode 0 for it where myna, following RFC 5280 5.3.1, omits it, which
# would make the two CRLs differ for a reason that has nothing to do with speed.
REASONS = [
    ("keyCompromise", "key_compromise"),
    (None, None),
    ("superseded", "superseded"),
    ("cessationOfOperation", "cessation_of_operation"),
    ("affiliationChanged", "affiliation_changed"),
]

OPENSSL_CNF = """\
[ req ]
distinguished_name = req_dn
x509_extensions    = v3_ca
prompt             = no

[ req_dn ]
C  = JP
O  = Myna bench
CN = Myna bench CRL CA

[ v3_ca ]
basicConstraints     = critical, CA:TRUE
keyUsage             = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ ca ]
default_ca = CA_default

[ CA_default ]
dir              = {dir}
database         = $dir/index.txt
crlnumber        = $dir/crlnumber
certificate      = $dir/ca.pem
private_key      = $dir/ca.key
new_certs_dir    = $dir
serial           = $dir/serial
default_md       = sha256
default_crl_days = 7
unique_subject   = no
crl_extensions   = crl_ext
policy           = policy_any

[ crl_ext ]
authorityKeyIdentifier = keyid:always

[ policy_any ]
commonName = supplied
"""


# --------------------------------------------------------------------------- #
# helpers


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)


def _fmt_s(s: float) -> str:
    return f"{s:.3f} s" if s < 10 else f"{s:.1f} s"


def _fmt_mb(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.0f} MiB"


def _der_header(buf, off: int) -> tuple[int, int, int]:
    """(tag, contents offset, contents length) of the DER value at ``off``."""
    tag, first = buf[off], buf[off + 1]
    if first < 0x80:
        return tag, off + 2, first
    k = first & 0x7F
    return tag, off + 2 + k, int.from_bytes(buf[off + 2 : off + 2 + k], "big")


def revoked_certificates(der: bytes) -> memoryview:
    """Contents of TBSCertList.revokedCertificates (empty if absent)."""
    mv = memoryview(der)
    _, off, _ = _der_header(mv, 0)  # CertificateList
    _, off, length = _der_header(mv, off)  # TBSCertList
    end, children = off + length, []
    while off < end:
        tag, c, n = _der_header(mv, off)
        children.append((tag, c, n))
        off = c + n
    # version, signature, issuer, thisUpdate, [nextUpdate], [revokedCertificates], [0] extensions
    for tag, c, n in children[4:]:
        if tag == 0x30:
            return mv[c : c + n]
    return mv[0:0]


def count_entries(region: memoryview) -> int:
    off, count = 0, 0
    while off < len(region):
        _, c, n = _der_header(region, off)
        off, count = c + n, count + 1
    return count


def pem_to_der(pem: bytes) -> bytes:
    body = re.search(rb"-----BEGIN X509 CRL-----(.*?)-----END X509 CRL-----", pem, re.S)
    if body is None:
        raise ValueError("no X509 CRL PEM block")
    return base64.b64decode(b"".join(body.group(1).split()))


def openssl_check(path: Path, ca_pem: Path, der: bool) -> tuple[bool, int]:
    """`openssl crl -noout -CAfile` (parse + signature) and the entry count from `-text`."""
    form = ["-inform", "DER"] if der else []
    res = subprocess.run(
        ["openssl", "crl", *form, "-in", str(path), "-noout", "-CAfile", str(ca_pem)],
        capture_output=True,
        text=True,
    )
    ok = res.returncode == 0 and "verify OK" in res.stdout + res.stderr
    proc = subprocess.Popen(["openssl", "crl", *form, "-in", str(path), "-noout", "-text"], stdout=subprocess.PIPE)
    n = sum(1 for line in proc.stdout if b"Serial Number:" in line)
    ok = proc.wait() == 0 and ok
    return ok, n


def time_and_rss(cmd: list[str], timeout: float) -> tuple[float, int | None, subprocess.CompletedProcess | None]:
    """Wall time and peak RSS (KiB) of ``cmd``; (elapsed, None, None) on timeout."""
    gnu_time = Path("/usr/bin/time")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = [str(gnu_time), "-v", "-o", tf.name, *cmd] if gnu_time.exists() else cmd
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        try:
            res = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return time.perf_counter() - t0, None, None
        elapsed = time.perf_counter() - t0
        if gnu_time.exists():
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", Path(tf.name).read_text())
            rss = int(m.group(1)) if m else None
        else:  # max over all children so far (and see peak_rss_kb on exec): a rough upper bound
            after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            rss = after if after > before else None
    return elapsed, rss, res


# --------------------------------------------------------------------------- #
# the child: build_crl from pre-encoded entries, in a fresh process


def peak_rss_kb() -> int:
    """Peak RSS of this process in KiB.

    Prefer VmHWM from /proc: on Linux, ``getrusage(RUSAGE_SELF).ru_maxrss`` of an
    exec'd child also counts the high-water mark of the address space it replaced,
    i.e. of the (large) benchmark parent it was forked/vforked from, so a child
    spawned from a 300 MiB parent reports at least 300 MiB whatever it does.
    VmHWM belongs to the current address space only.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_build(workdir: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    from myna.pki.crl_der import CrlParams, build_crl
    from myna.pki.der import SignatureAlgorithm

    with open(workdir / "job.pickle", "rb") as f:
        job = pickle.load(f)
    entries: list[bytes] = job["entries"]  # as fetched from the database
    ca = x509.load_pem_x509_certificate((workdir / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((workdir / "ca.key").read_bytes(), password=None)
    params = CrlParams(
        issuer_name=ca.subject,
        this_update=job["this_update"],
        next_update=job["next_update"],
        crl_number=1,
        authority_key_identifier=ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest,
        distribution_point_url=None,
    )
    baseline = peak_rss_kb()

    def signer(tbs: bytes) -> bytes:
        return key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())

    t0 = time.perf_counter()
    der = build_crl(params, entries, signer, SignatureAlgorithm.SHA256_WITH_RSA)
    t1 = time.perf_counter()
    (workdir / "myna.der").write_bytes(der)
    t2 = time.perf_counter()
    peak = peak_rss_kb()
    json.dump(
        {"build_s": t1 - t0, "write_s": t2 - t1, "peak_kb": peak, "baseline_kb": baseline, "size": len(der)},
        sys.stdout,
    )


# --------------------------------------------------------------------------- #
# the benchmark


def make_rows(n: int, seed: int = 20240601) -> list[tuple[int, dt.datetime, int]]:
    """N revoked certificates: (serial, revocation time, index into REASONS), in issuance order.

    Serials are random 128-bit numbers with the top bit set (17-octet INTEGERs),
    like a CA issuing random serials; revocation times are spread over a year.
    """
    rng = random.Random(seed)
    seen: set[int] = set()
    base = dt.datetime(2024, 1, 1, tzinfo=UTC)
    rows = []
    while len(rows) < n:
        s = rng.getrandbits(128) | (1 << 127)
        if s in seen:
            continue
        seen.add(s)
        i = len(rows)
        rows.append((s, base + dt.timedelta(seconds=31 * i), i % len(REASONS)))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=1_000_000, help="number of revoked entries (default 1,000,000)")
    ap.add_argument("--quick", action="store_true", help="10,000 entries")
    ap.add_argument("--write", type=Path, help="also write the Markdown report to this file")
    ap.add_argument("--openssl-timeout", type=float, default=3600, help="seconds before giving up on openssl")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--child-build", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_build:
        child_build(args.child_build)
        return 0
    n = 10_000 if args.quick else args.entries
    if shutil.which("openssl") is None:
        print("openssl not found", file=sys.stderr)
        return 2

    from cryptography import __version__ as cryptography_version
    from cryptography import x509

    from myna.pki.crl_der import encode_entry

    tmp = Path(tempfile.mkdtemp(prefix="crl-bench-"))
    print(f"working in {tmp}", file=sys.stderr)
    steps: dict[str, float] = {}
    try:
        # (a) CA
        (tmp / "openssl.cnf").write_text(OPENSSL_CNF.format(dir=tmp))
        t0 = time.perf_counter()
        _run(
            [
                "openssl",
                "req",
                "-x509",
                "-config",
                str(tmp / "openssl.cnf"),
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                str(tmp / "ca.key"),
                "-out",
                str(tmp / "ca.pem"),
                "-days",
                "3650",
                "-sha256",
            ]
        )
        steps["a. CA (openssl req -x509)"] = time.perf_counter() - t0

        # (b) the openssl ca database
        t0 = time.perf_counter()
        rows = make_rows(n)
        with open(tmp / "index.txt", "w", newline="\n") as f:
            for serial, when, r in rows:
                reason = REASONS[r][0]
                rev = when.strftime("%y%m%d%H%M%SZ") + (f",{reason}" if reason else "")
                f.write(f"R\t301231235959Z\t{rev}\t{serial:X}\tunknown\t/CN=x\n")
        (tmp / "index.txt.attr").write_text("unique_subject = no\n")
        (tmp / "crlnumber").write_text("01\n")
        (tmp / "serial").write_text("01\n")
        steps["b. index.txt + config (Python)"] = time.perf_counter() - t0
        index_mb = (tmp / "index.txt").stat().st_size / 2**20

        # (c) openssl ca -gencrl
        print(f"openssl ca -gencrl with {n:,} entries ...", file=sys.stderr)
        this_update = dt.datetime.now(UTC).replace(microsecond=0)
        o_time, o_rss, o_res = time_and_rss(
            ["openssl", "ca", "-gencrl", "-batch", "-config", str(tmp / "openssl.cnf"), "-out", str(tmp / "openssl.pem")],
            args.openssl_timeout,
        )
        openssl_ok = o_res is not None and o_res.returncode == 0
        if o_res is not None and o_res.returncode != 0:
            print(o_res.stderr, file=sys.stderr)
        steps["c. openssl ca -gencrl"] = o_time

        # (d1) myna: encode the entries (once per revocation in production)
        print("myna encode_entry ...", file=sys.stderr)
        rf = x509.ReasonFlags
        reasons = [None if r[1] is None else rf[r[1]] for r in REASONS]
        rows.sort(key=lambda row: row[0])  # CRLs list entries by serial, as openssl does
        t0 = time.perf_counter()
        entries = [encode_entry(s, when, reasons[r]) for s, when, r in rows]
        enc_time = time.perf_counter() - t0
        steps["d1. myna encode_entry x N"] = enc_time
        del rows
        with open(tmp / "job.pickle", "wb") as f:
            pickle.dump(
                {"entries": entries, "this_update": this_update, "next_update": this_update + dt.timedelta(days=7)},
                f,
                protocol=pickle.HIGHEST_PROTOCOL,
            )
        del entries

        # (d2) myna: build_crl in a child process
        print("myna build_crl ...", file=sys.stderr)
        res = _run([sys.executable, os.path.abspath(__file__), "--child-build", str(tmp)])
        child = json.loads(res.stdout)
        m_time, m_rss = child["build_s"], child["peak_kb"]
        steps["d2. myna build_crl (child)"] = m_time

        # checks
        print("checking both CRLs with openssl ...", file=sys.stderr)
        m_ok, m_count = openssl_check(tmp / "myna.der", tmp / "ca.pem", der=True)
        myna_der = (tmp / "myna.der").read_bytes()
        m_region = revoked_certificates(myna_der)
        m_walk = count_entries(m_region)
        if openssl_ok:
            o_ok, o_count = openssl_check(tmp / "openssl.pem", tmp / "ca.pem", der=False)
            openssl_der = pem_to_der((tmp / "openssl.pem").read_bytes())
            o_region = revoked_certificates(openssl_der)
            identical = bytes(o_region) == bytes(m_region)
            o_size = len(openssl_der)
        else:
            o_ok, o_count, identical, o_size = False, 0, False, 0
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    # report
    machine = platform.machine()
    ncpu = os.cpu_count()
    cpu = ""
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        pass
    now = dt.datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ossl_version = _run(["openssl", "version"]).stdout.strip()
    o_cell = _fmt_s(o_time) if openssl_ok else (f"timed out after {_fmt_s(o_time)}" if o_res is None else "failed")
    ratio = f"{m_time / o_time:.4f} (openssl is {o_time / m_time:.0f}x slower)" if openssl_ok else "n/a"
    w_time = child["write_s"]
    ratio_write = f"{(m_time + w_time) / o_time:.3f}" if openssl_ok else "n/a"
    ratio_all = f"{(enc_time + m_time + w_time) / o_time:.3f}" if openssl_ok else "n/a"
    cmd = "python bench/crl_build.py " + " ".join(sys.argv[1:])

    lines = [
        f"Command: `{cmd}`",
        "",
        "| machine | nproc | date | N | openssl ca -gencrl time | openssl peak RSS | myna build_crl time | myna peak RSS "
        "| myna encode_entry x N | myna / openssl (build) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {machine} | {ncpu} | {now} | {n:,} | {o_cell} | {_fmt_mb(o_rss)} | {_fmt_s(m_time)} | {_fmt_mb(m_rss)} "
        f"| {_fmt_s(enc_time)} ({enc_time / n * 1e6:.2f} µs/entry) | {ratio} |",
        "",
        f"- CPU: {cpu or 'unknown'}; Python {platform.python_version()}; {ossl_version}; cryptography {cryptography_version}",
        f"- index.txt: {index_mb:.0f} MiB; CRL size: openssl {o_size / 2**20:.1f} MiB, myna {len(myna_der) / 2**20:.1f} MiB (DER)",
        f"- myna peak RSS before build_crl (interpreter + cryptography + the N cached entries as `bytes`): {_fmt_mb(child['baseline_kb'])}",
        f"- myna writing the DER file after build_crl: {_fmt_s(w_time)}; (build_crl + write) / openssl: {ratio_write}; "
        f"(encode_entry x N + build_crl + write) / openssl: {ratio_all}",
        f"- `openssl crl -noout -CAfile ca.pem` (parse + signature): openssl {'OK' if o_ok else 'FAILED'}, "
        f"myna {'OK' if m_ok else 'FAILED'}",
        f"- entries counted by `openssl crl -text`: openssl {o_count:,}, myna {m_count:,} (DER walk: {m_walk:,}); expected {n:,}",
        f"- revokedCertificates byte-identical between the two CRLs: {'yes' if identical else 'NO'}",
        "",
        "Step timings:",
        "",
        *[f"- {k}: {_fmt_s(v)}" for k, v in steps.items()],
    ]
    table = "\n".join(lines)
    print(table)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(
            "# CRL build benchmark: openssl ca -gencrl vs myna.pki.crl_der\n\n"
            "Generated by `bench/crl_build.py` (see its docstring for the method).\n\n"
            "What is compared: `openssl ca -gencrl` reads its text database (index.txt) and builds, "
            "sorts, encodes and signs the CRL; myna's *build* figure is `build_crl` over entries already "
            "encoded at revocation time and held in memory as `bytes` (as fetched from the database; the "
            "fetch itself is not timed), including signing; writing the file is shown apart. The one-off cost of "
            "encoding every entry is shown separately. Peak RSS is the whole process: "
            "`/usr/bin/time -v` for openssl, VmHWM of a child Python process for myna.\n\n" + table + "\n"
        )
    all_ok = m_ok and m_count == n and m_walk == n and (not openssl_ok or (o_ok and o_count == n and identical))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
