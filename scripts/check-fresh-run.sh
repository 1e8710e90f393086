#!/usr/bin/env bash
# Proves the README's run command works on a machine with nothing but Python: the run's
# own setup (scripts/lib.sh's myna_ensure_venv, as scripts/run.sh calls it) builds a new
# venv in a temporary directory with pip's cache off and CC=false, so that any package
# that would have to be compiled fails the check; then scripts/run.sh starts the platform
# on a free port with its data in the temporary directory, and the server must answer:
#   GET /ui/   200, HTML (the screens)
#   GET /docs  200 (the API docs)
#   an OCSP request for a demo certificate, POSTed to the OCSP URL the certificate names:
#              a successful, correctly signed OCSPResponse saying 'good'
# Everything is stopped and removed on every exit. Exit status 0 only if every check
# passed; the last line says which.
#
#   bash scripts/check-fresh-run.sh              # run by scripts/test.sh in CI
#   MYNA_FRESH_KEEP=1 bash scripts/check-fresh-run.sh   # keep the temporary directory
#
# Knobs: MYNA_FRESH_SETUP_TIMEOUT (seconds for the venv and pip, default 480),
# MYNA_FRESH_START_TIMEOUT (seconds from run.sh's start to a server answering, default 240).
# Measured on a 2-core machine: the setup 40 s idle, 150 s under load (most of it pip
# installing about 50 wheels); run.sh to a server answering 10-75 s (key ceremony and 50
# demo residents); the whole check 1-4.5 min.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT="$PWD"

SETUP_TIMEOUT="${MYNA_FRESH_SETUP_TIMEOUT:-480}"
START_TIMEOUT="${MYNA_FRESH_START_TIMEOUT:-240}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/myna-fresh.XXXXXX")" || exit 1
SERVER_PID=""
SETUP_PID=""
CHECKS_PID=""

say() { printf '==> fresh run: %s\n' "$*" >&2; }

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        local i
        for i in $(seq 1 150); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            say "the server did not stop on SIGTERM within 15 s; killing it"
            kill -KILL "$SERVER_PID" 2>/dev/null
        fi
    fi
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}

cleanup() {
    # `timeout` runs the setup in its own process group and passes a TERM on to all of it.
    if [ -n "$SETUP_PID" ]; then
        kill -TERM "$SETUP_PID" 2>/dev/null
        wait "$SETUP_PID" 2>/dev/null
        SETUP_PID=""
    fi
    if [ -n "$CHECKS_PID" ]; then kill -TERM "$CHECKS_PID" 2>/dev/null; wait "$CHECKS_PID" 2>/dev/null; fi
    stop_server
    if [ -n "${MYNA_FRESH_KEEP:-}" ]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

fail() {
    say "FAILED: $*"
    if [ -s "$WORK/run.log" ]; then
        say "last lines of scripts/run.sh's output:"
        tail -n 40 "$WORK/run.log" >&2
    fi
    echo "fresh run: FAILED ($*)"
    exit 1
}

# Nothing of the caller's environment may help: no venv on PATH, no extra module path, no
# pip cache, no compiler (CC=false makes every C build fail at once), no store settings.
if [ -n "${VIRTUAL_ENV:-}" ]; then
    PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$VIRTUAL_ENV/bin" | paste -sd: -)"
    unset VIRTUAL_ENV
fi
unset PYTHONPATH PYTHONHOME MYNA_DATABASE_URL MYNA_KEY_BACKEND MYNA_PUBLIC_URL MYNA_EXTRAS
export PIP_NO_CACHE_DIR=1 CC=false CXX=false
export MYNA_VENV="$WORK/venv" MYNA_HOME="$WORK/home"

# --- 1. the run command's own setup ---------------------------------------------------------
say "setup: new venv $MYNA_VENV, base dependencies only (PIP_NO_CACHE_DIR=1 CC=false; timeout ${SETUP_TIMEOUT}s)"
start=$SECONDS
# In the background, waited for: a signal to this script then runs its trap at once (bash
# would wait for a foreground child first), and the trap stops the setup too.
timeout --kill-after=30 "$SETUP_TIMEOUT" bash -c 'source scripts/lib.sh && MYNA_EXTRAS="" && myna_ensure_venv' >"$WORK/setup.log" 2>&1 </dev/null &
SETUP_PID=$!
wait "$SETUP_PID"; rc=$?
SETUP_PID=""
SETUP_SECS=$((SECONDS - start))
# pip's own output only when it failed (what it could not install is there).
[ "$rc" -eq 0 ] && grep '^==>' "$WORK/setup.log" >&2 || cat "$WORK/setup.log" >&2
case "$rc" in
    0) ;;
    124 | 137) fail "the setup did not finish within ${SETUP_TIMEOUT}s" ;;
    *) fail "the setup failed (exit $rc) after ${SETUP_SECS}s: a dependency needs a compiler or is missing (see above)" ;;
esac
say "setup took ${SETUP_SECS}s (venv and pip install of the base dependencies)"
PY="$MYNA_VENV/bin/python"

# The run installs what the platform needs and nothing more: none of the extras' packages.
extras_found="$("$PY" - <<'EOF'
import importlib.util
print(" ".join(m for m in ("smartcard", "pkcs11", "psycopg", "pytest", "playwright") if importlib.util.find_spec(m)))
EOF
)" || fail "the new venv's python does not run"
[ -z "$extras_found" ] || fail "the run's venv has packages of the extras: $extras_found"

# --- 2. the run command -------------------------------------------------------------------
PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" || fail "no free port"
BASE="http://127.0.0.1:$PORT"
say "starting: MYNA_HOME=$MYNA_HOME PORT=$PORT bash scripts/run.sh"
start=$SECONDS
PORT="$PORT" bash scripts/run.sh >"$WORK/run.log" 2>&1 </dev/null &
SERVER_PID=$!   # run.sh execs `myna serve`: this is the server

until "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$BASE/healthz" 2>/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || { wait "$SERVER_PID"; rc=$?; SERVER_PID=""; fail "scripts/run.sh exited (status $rc) before the server answered"; }
    [ $((SECONDS - start)) -lt "$START_TIMEOUT" ] || fail "no answer on $BASE/healthz within ${START_TIMEOUT}s"
    sleep 0.5
done
START_SECS=$((SECONDS - start))
say "server answering after ${START_SECS}s (myna init, myna demo, myna serve)"

# --- 3. what the server must answer ---------------------------------------------------------------
# The checks run in the new venv, with its own cryptography: nothing else is needed.
cat >"$WORK/checks.py" <<'EOF'
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

base, home = sys.argv[1], Path(sys.argv[2])
failures = []


def check(name, ok, detail=""):
    print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", file=sys.stderr)
    if not ok:
        failures.append(name)


def get(path):
    try:
        with urllib.request.urlopen(base + path, timeout=30) as r:
            return r.status, r.headers.get("content-type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read()


status, ctype, body = get("/ui/")
check("GET /ui/ is 200 HTML", status == 200 and ctype.startswith("text/html") and b"<html" in body.lower(), f"{status} {ctype}")
status, ctype, body = get("/docs")
check("GET /docs is 200", status == 200 and ctype.startswith("text/html"), f"{status} {ctype}")

# A demo certificate, as `myna demo` issued it, and the addresses it names.
myna = str(Path(sys.executable).with_name("myna"))
listed = json.loads(subprocess.run([myna, "cert", "list", "--json", "--kind", "card-auth", "--status", "valid", "--limit", "1"], check=True, capture_output=True, text=True).stdout)
serial = listed[0]["serial"]
pem = subprocess.run([myna, "cert", "get", serial, "--pem"], check=True, capture_output=True).stdout
cert = x509.load_pem_x509_certificate(pem)
aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
ocsp_url = next(d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP)
issuer_url = next(d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS)
check("the certificate names this server", ocsp_url.startswith(base + "/") and issuer_url.startswith(base + "/"), ocsp_url)
with urllib.request.urlopen(issuer_url, timeout=30) as r:
    raw = r.read()
issuer = x509.load_der_x509_certificate(raw) if not raw.startswith(b"-----") else x509.load_pem_x509_certificate(raw)
check("the issuer certificate it names is served", cert.issuer == issuer.subject, issuer_url)

der = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build().public_bytes(serialization.Encoding.DER)
request = urllib.request.Request(ocsp_url, data=der, headers={"Content-Type": "application/ocsp-request"}, method="POST")
with urllib.request.urlopen(request, timeout=30) as r:
    status, ctype, body = r.status, r.headers.get("content-type", ""), r.read()
check("POST to the OCSP URL is 200 application/ocsp-response", status == 200 and ctype == "application/ocsp-response", f"{status} {ctype}")
resp = ocsp.load_der_ocsp_response(body)
check("the OCSPResponse is successful", resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, resp.response_status.name)
if resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL:
    check("it is about the certificate asked for", resp.serial_number == cert.serial_number, format(resp.serial_number, "X"))
    check("its status is good", resp.certificate_status == ocsp.OCSPCertStatus.GOOD, resp.certificate_status.name)
    # Signed by the CA itself or by a responder certificate the CA issued.
    signer = resp.certificates[0] if resp.certificates else issuer
    try:
        if signer is not issuer:
            signer.verify_directly_issued_by(issuer)
        key = signer.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(), resp.signature_hash_algorithm)
        else:
            key.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
        check("its signature verifies against the issuing CA", True)
    except Exception as exc:
        check("its signature verifies against the issuing CA", False, repr(exc))

sys.exit(1 if failures else 0)
EOF
"$PY" "$WORK/checks.py" "$BASE" "$MYNA_HOME" </dev/null &
CHECKS_PID=$!
wait "$CHECKS_PID"; rc=$?
CHECKS_PID=""
[ "$rc" -eq 0 ] || fail "the server did not answer as it must (see the checks above)"

stop_server
say "server stopped"
echo "fresh run: PASSED (setup ${SETUP_SECS}s with nothing but Python, server answering after ${START_SECS}s; /ui/, /docs, OCSP good)"
