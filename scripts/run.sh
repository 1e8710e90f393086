#!/usr/bin/env bash
# Set up and run the whole platform locally: the CAs, demo residents with certificates,
# and the server with the web UI, the API and the distribution points (CRLs, CA certs).
#
#   bash scripts/run.sh                        # http://127.0.0.1:8000/
#   HOST=0.0.0.0 PORT=9000 bash scripts/run.sh # other address/port
#   MYNA_HOME=/some/dir bash scripts/run.sh    # data elsewhere (default ./.myna)
#
# The store is embedded SQLite under MYNA_HOME. Re-running is cheap and keeps the data:
# `myna init` and `myna demo` are idempotent, and the venv is only rebuilt when
# pyproject.toml changes. No system packages and no compiler are needed: the venv gets
# the base dependencies only (all published as wheels), not the test or card extras
# (apt, gcc and pyscard are for scripts/test.sh). A venv test.sh made is used as it is.
#
#   MYNA_VENV=/other/venv bash scripts/run.sh  # another venv (default ./.venv)
#   MYNA_EXTRAS=card bash scripts/run.sh       # also these extras (card needs gcc + libpcsclite-dev)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

MYNA_EXTRAS="${MYNA_EXTRAS:-}"
# The drivers the chosen store and key backend need, when they are not the defaults:
# psycopg (a wheel) for MYNA_DATABASE_URL=postgresql..., python-pkcs11 for an HSM.
case "${MYNA_DATABASE_URL:-}" in postgresql*) MYNA_EXTRAS="$MYNA_EXTRAS,postgres" ;; esac
[ "${MYNA_KEY_BACKEND:-file}" = pkcs11 ] && MYNA_EXTRAS="$MYNA_EXTRAS,pkcs11"

myna_ensure_venv || { myna_warn "setup failed (see above)"; exit 1; }

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
export MYNA_HOME="${MYNA_HOME:-$MYNA_ROOT/.myna}"

# The address to browse to: a wildcard bind address is not one.
case "$HOST" in
    0.0.0.0 | "" ) browse_host=127.0.0.1 ;;
    :: | "[::]" ) browse_host="[::1]" ;;
    *:*) browse_host="[$HOST]" ;;   # IPv6 literal
    *) browse_host="$HOST" ;;
esac
BASE_URL="http://$browse_host:$PORT"
# Certificates and CRLs name this URL as their distribution point / CA issuer; make it
# the address actually served, unless the caller chose one. (It is written into the CAs
# at the first `myna init`, so choose HOST/PORT/MYNA_PUBLIC_URL before that first run.)
export MYNA_PUBLIC_URL="${MYNA_PUBLIC_URL:-$BASE_URL}"

# Fail now, not after the key ceremony, if something already listens on the port.
if ! python - "$HOST" "$PORT" <<'EOF'
import socket, sys
host, port = sys.argv[1].strip("[]"), int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
with socket.socket(family, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
    except OSError as exc:
        sys.exit(f"cannot listen on {host}:{port}: {exc.strerror} (set PORT=... or stop what uses it)")
EOF
then
    exit 1
fi

myna_log "data home: $MYNA_HOME"
myna_log "myna init (key ceremony: root CA and the four issuing CAs, if missing)"
myna init
myna_log "myna demo --residents 50 (synthetic residents and API tokens, if missing)"
myna demo --residents 50

cat >&2 <<EOF

==> myna is starting on $HOST:$PORT
      web UI:          $BASE_URL/
      screens:         $BASE_URL/ui/  (counter terminal, resident portal, operations console;
                       sign in with a token from the file below: "operator", "municipality:CODE")
      API docs:        $BASE_URL/docs
      demo API tokens: $MYNA_HOME/demo/tokens.json
                       (e.g. curl -H "Authorization: Bearer \$(python3 -c 'import json;print(json.load(open("$MYNA_HOME/demo/tokens.json"))["operator"])')" $BASE_URL/api/v1/certificates)
    Stop with Ctrl-C.

EOF
exec myna serve --host "$HOST" --port "$PORT"
