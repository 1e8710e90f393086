#!/usr/bin/env bash
# Set up everything and run the whole test suite. The one test command of the README,
# and exactly what CI runs (via .ci/run).
#
#   bash scripts/test.sh                 # everything
#   bash scripts/test.sh -k crl -x       # extra arguments go to pytest, in every step
#   MYNA_TEST_SKIP_POSTGRES=1 bash scripts/test.sh   # SQLite only (quick local run)
#
# Steps, each bounded by `timeout`, all run even when one fails:
#   0. lint: the layering contracts (`lint-imports`, pyproject.toml's [tool.importlinter],
#      docs/architecture.md), `ruff check src tests bench` and `ruff format --check src tests bench`
#   1. fast suite (-m "not slow", 2 xdist workers) on SQLite
#   2. fast suite on a real PostgreSQL server started here (scripts/start-postgres.sh)
#   3. slow tests (-m slow) on SQLite
#   4. slow tests on PostgreSQL
#   5. Schemathesis over the OpenAPI schema, every role (-m schema, SQLite)
#   6. in CI: the run command on a fresh venv with nothing but Python (scripts/check-fresh-run.sh)
# A summary follows; the exit status is non-zero if any step failed.
#
# Knobs: MYNA_TEST_TIMEOUT_LINT / MYNA_TEST_TIMEOUT_FAST / MYNA_TEST_TIMEOUT_SLOW / MYNA_TEST_TIMEOUT_SCHEMA /
# MYNA_TEST_TIMEOUT_FRESH (seconds per step); MYNA_TEST_FRESH_RUN=1 runs step 6 outside CI too;
# MYNA_TEST_DATABASE_URL already set = use that PostgreSQL server instead of starting one.

# No `set -e`: a failing step must not stop the others; every status is checked by hand.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# Generous bounds: they exist so a hung test (a server that never answers, a deadlock)
# fails the run instead of blocking CI forever, not to police speed.
TIMEOUT_LINT="${MYNA_TEST_TIMEOUT_LINT:-300}"  # both take seconds; the bound is for a hung process
TIMEOUT_FAST="${MYNA_TEST_TIMEOUT_FAST:-900}"
TIMEOUT_SLOW="${MYNA_TEST_TIMEOUT_SLOW:-1200}"
TIMEOUT_SCHEMA="${MYNA_TEST_TIMEOUT_SCHEMA:-1200}"
TIMEOUT_FRESH="${MYNA_TEST_TIMEOUT_FRESH:-780}"  # the check's own bounds (480 s setup + 240 s start) and a margin

RUN_START=$SECONDS
LOGDIR="$(mktemp -d /tmp/myna-test.XXXXXX)"
PG_DIR=""   # set once we started our own server: stop it on exit
PG_URL=""
CHILD=""    # the running `timeout pytest ...`, for forwarding Ctrl-C / TERM
INTERRUPTED=""

cleanup() {
    # Runs on every exit (normal, failure, Ctrl-C, TERM): never leave a server behind.
    if [ -n "$PG_DIR" ]; then
        bash scripts/start-postgres.sh stop "$PG_DIR" || true
        PG_DIR=""
    fi
    rm -rf "$LOGDIR"
}
trap cleanup EXIT
# `timeout` puts pytest in its own process group, so a terminal's Ctrl-C would not reach
# it; forward the signal (timeout relays it to the whole group), then stop.
on_signal() {
    INTERRUPTED="$1"
    if [ -n "$CHILD" ]; then kill -"$1" "$CHILD" 2>/dev/null || true; fi
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

# --- setup ------------------------------------------------------------------------
# Everything the suite drives: pytest & co. (test), pyscard for the PC/SC tools (card, built
# against libpcsclite-dev by the gcc installed below), the PostgreSQL and PKCS#11 drivers.
MYNA_EXTRAS="test,card,postgres,pkcs11"
myna_ensure_system_packages
if ! myna_ensure_venv; then
    myna_warn "setup failed (see above): no tests were run"
    echo "myna tests: FAILED (setup)"
    exit 1
fi

# The tests configure the platform themselves; a developer's own settings for a local
# instance (e.g. MYNA_DATABASE_URL pointing at a real store) must not leak into them.
unset MYNA_HOME MYNA_DATABASE_URL MYNA_PUBLIC_URL MYNA_KEY_BACKEND MYNA_PKCS11_MODULE MYNA_PKCS11_TOKEN MYNA_PKCS11_PIN
# Someone else's PostgreSQL server, if given; otherwise we start our own in step 2.
EXTERNAL_PG_URL="${MYNA_TEST_DATABASE_URL:-}"
unset MYNA_TEST_DATABASE_URL
export PYTHONUNBUFFERED=1

# Colours only on a terminal (the log is a file, so pytest would not guess it).
COLOR_ARGS=()
[ -t 1 ] && COLOR_ARGS=(--color=yes)

# --- running one step -------------------------------------------------------------
STEP_NAMES=() STEP_STATUS=() STEP_SECS=() STEP_NOTES=() FAILED_TESTS=()

record() { # name status seconds note
    STEP_NAMES+=("$1") STEP_STATUS+=("$2") STEP_SECS+=("$3") STEP_NOTES+=("$4")
}

strip_ansi() { sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g'; }

# pytest's closing line, e.g. "212 passed, 3 skipped in 71.20s (0:01:11)".
pytest_summary() {
    strip_ansi <"$1" | grep -E '(^|= )(no tests ran|[0-9]+ [a-z]+)(, [0-9]+ [a-z]+)* in [0-9.]+s' \
        | tail -n 1 | sed -E 's/^=+ //; s/ =+$//'
}

count_created_dbs() {
    local n
    n="$(grep -c 'statement: CREATE DATABASE' "$PG_DIR/server.log" 2>/dev/null)"
    echo "${n:-0}"
}

# run_logged LOG SECONDS COMMAND...: the command bounded by `timeout`, in the background,
# writing to LOG, shown live with `tail -f`: that keeps its PID (for signals) and its output
# (for the summary) without a pipeline. Sets RUN_RC to its exit status.
run_logged() {
    local log="$1" secs="$2" tail_pid
    shift 2
    : >"$log"
    timeout --kill-after=30 "$secs" "$@" >"$log" 2>&1 &
    CHILD=$!
    tail -n +1 -f --pid="$CHILD" "$log" &
    tail_pid=$!
    wait "$CHILD"; RUN_RC=$?
    # `wait` returns early when a trapped signal arrives; wait for the command to finish.
    while kill -0 "$CHILD" 2>/dev/null; do wait "$CHILD"; RUN_RC=$?; done
    CHILD=""
    wait "$tail_pid" 2>/dev/null
}

# run_step NAME SECONDS NO_TESTS_OK DB [pytest args...]
#   NO_TESTS_OK=yes: pytest's exit 5 ("no tests collected") counts as a pass.
#   DB: sqlite or postgres (then MYNA_TEST_DATABASE_URL=$PG_URL for this step only).
run_step() {
    local name="$1" secs="$2" no_tests_ok="$3" db="$4"
    shift 4
    local log="$LOGDIR/step${#STEP_NAMES[@]}.log" start=$SECONDS rc status note dbs_before=0 dbs
    local env_args=(-u MYNA_TEST_DATABASE_URL)
    [ "$db" = postgres ] && env_args=(MYNA_TEST_DATABASE_URL="$PG_URL")
    [ "$db" = postgres ] && [ -n "$PG_DIR" ] && dbs_before="$(count_created_dbs)"

    echo
    myna_log "step: $name: python -m pytest$(printf ' %q' "$@") (timeout ${secs}s)"
    run_logged "$log" "$secs" env "${env_args[@]}" python -m pytest "${COLOR_ARGS[@]}" "$@"
    rc=$RUN_RC

    note="$(pytest_summary "$log")"
    case "$rc" in
        0) status=PASS ;;
        5) if [ "$no_tests_ok" = yes ]; then status=PASS note="no tests to run${note:+ ($note)}"
           else status=FAIL note="no tests collected${note:+ ($note)}"; fi ;;
        124|137) status=FAIL note="timed out after ${secs}s${note:+; last: $note}" ;;
        *) status=FAIL note="${note:-pytest exited with status $rc}" ;;
    esac

    # Prove the PostgreSQL step used PostgreSQL: the fixture creates a database per test,
    # and the server logs every CREATE DATABASE (log_statement=ddl).
    if [ "$db" = postgres ] && [ -n "$PG_DIR" ]; then
        dbs=$(( $(count_created_dbs) - dbs_before ))
        note="$note [$dbs test databases created on the server]"
        if [ "$dbs" -eq 0 ] && [ "$rc" -eq 0 ] && [ "$no_tests_ok" != yes ]; then
            if [ "$EXTRA_ARGS" -eq 0 ]; then
                status=FAIL note="$note: the suite did not use PostgreSQL"
            else
                myna_warn "$name: no test created a database on the PostgreSQL server"
            fi
        fi
    fi

    # Keep the failing test ids for the closing summary.
    local line
    while IFS= read -r line; do FAILED_TESTS+=("$name: $line"); done \
        < <(strip_ansi <"$log" | grep -E '^(FAILED|ERROR) ' | head -n 30)

    record "$name" "$status" $((SECONDS - start)) "$note"
    [ -z "$INTERRUPTED" ] || exit 130
}

EXTRA_ARGS=$#
FAST=(-m "not slow and not schema" -n 2 -q)
# Slow tests (crash/timing tests, long interop runs) run one at a time.
SLOW=(-m "slow and not schema" -q)
# Schemathesis against a live server, one role after another (bounded, fixed seed).
SCHEMA=(-m schema -q tests/web/test_schemathesis.py)

# lint_step: the import-linter contracts, ruff check and ruff format --check, all three run (each
# one's findings shown) even when another fails; any failing fails the step, hence the run.
lint_step() {
    local log="$LOGDIR/lint.log" start=$SECONDS note
    echo
    myna_log "step: lint: lint-imports; ruff check src tests bench; ruff format --check src tests bench (timeout ${TIMEOUT_LINT}s)"
    # shellcheck disable=SC2016  # expanded by the inner shell
    run_logged "$log" "$TIMEOUT_LINT" bash -c 'rc=0; lint-imports || rc=1; ruff check src tests bench || rc=1; ruff format --check src tests bench || rc=1; exit $rc'
    note="$(strip_ansi <"$log" | grep -E '^Contracts: ' | tail -n 1)"
    case "$RUN_RC" in
        0) record "lint" PASS $((SECONDS - start)) "${note:-contracts kept, ruff clean, ruff format clean}" ;;
        124|137) record "lint" FAIL $((SECONDS - start)) "timed out after ${TIMEOUT_LINT}s" ;;
        *) record "lint" FAIL $((SECONDS - start)) "${note:+$note; }see the lint output above (lint-imports, ruff check, ruff format --check)" ;;
    esac
    [ -z "$INTERRUPTED" ] || exit 130
}

# --- the steps ----------------------------------------------------------------------
lint_step
run_step "fast / SQLite" "$TIMEOUT_FAST" no sqlite "${FAST[@]}" "$@"

PG_READY=""
if [ "${MYNA_TEST_SKIP_POSTGRES:-}" = 1 ]; then
    myna_log "MYNA_TEST_SKIP_POSTGRES=1: skipping the PostgreSQL steps"
    PG_SKIP_NOTE="skipped: MYNA_TEST_SKIP_POSTGRES=1"
elif [ -n "$EXTERNAL_PG_URL" ]; then
    myna_log "using the PostgreSQL server given in MYNA_TEST_DATABASE_URL"
    PG_URL="$EXTERNAL_PG_URL" PG_READY=1
else
    echo
    # --owner $$: the server is stopped even if this script is killed without its trap.
    if pg_env="$(bash scripts/start-postgres.sh start --owner $$)"; then
        # Only our own two variables, printed %q-quoted by start-postgres.sh.
        eval "$pg_env"
        PG_DIR="$MYNA_PG_DIR" PG_URL="$MYNA_TEST_DATABASE_URL" PG_READY=1
        unset MYNA_PG_DIR MYNA_TEST_DATABASE_URL
    else
        PG_START_ERROR="the PostgreSQL server did not start (see above)"
    fi
fi

pg_step() { # name seconds no_tests_ok args...
    if [ -n "$PG_READY" ]; then
        run_step "$1" "$2" "$3" postgres "${@:4}"
    elif [ -n "${PG_SKIP_NOTE:-}" ]; then
        record "$1" SKIP 0 "$PG_SKIP_NOTE"
    else
        record "$1" FAIL 0 "$PG_START_ERROR"
    fi
}

pg_step "fast / PostgreSQL" "$TIMEOUT_FAST" no "${FAST[@]}" "$@"
run_step "slow / SQLite" "$TIMEOUT_SLOW" yes sqlite "${SLOW[@]}" "$@"
pg_step "slow / PostgreSQL" "$TIMEOUT_SLOW" yes "${SLOW[@]}" "$@"
# With extra arguments (e.g. -k crl) the schema tests may all be deselected: no failure then.
SCHEMA_NO_TESTS_OK=no
[ "$EXTRA_ARGS" -gt 0 ] && SCHEMA_NO_TESTS_OK=yes
run_step "schema / SQLite" "$TIMEOUT_SCHEMA" "$SCHEMA_NO_TESTS_OK" sqlite "${SCHEMA[@]}" "$@"

# The README's run command on a fresh venv with nothing but Python (no compiler, no pip
# cache): scripts/check-fresh-run.sh. In CI always; locally when MYNA_TEST_FRESH_RUN=1
# (it costs a pip install of the base dependencies, one to a few minutes).
if [ "${CI:-}" = true ] || [ "${MYNA_TEST_FRESH_RUN:-}" = 1 ]; then
    echo
    myna_log "step: fresh run: bash scripts/check-fresh-run.sh (timeout ${TIMEOUT_FRESH}s)"
    fresh_log="$LOGDIR/fresh.log" fresh_start=$SECONDS
    run_logged "$fresh_log" "$TIMEOUT_FRESH" bash scripts/check-fresh-run.sh
    rc=$RUN_RC
    note="$(grep -E '^fresh run: ' "$fresh_log" | tail -n 1 | sed 's/^fresh run: //')"
    case "$rc" in
        0) record "fresh run" PASS $((SECONDS - fresh_start)) "$note" ;;
        124|137) record "fresh run" FAIL $((SECONDS - fresh_start)) "timed out after ${TIMEOUT_FRESH}s" ;;
        *) record "fresh run" FAIL $((SECONDS - fresh_start)) "${note:-exit status $rc}" ;;
    esac
    [ -z "$INTERRUPTED" ] || exit 130
else
    record "fresh run" SKIP 0 "CI only (MYNA_TEST_FRESH_RUN=1 to run it here)"
fi

# Stop our server now rather than in the exit trap, so that nothing is printed after the
# summary: CI reads the closing lines.
if [ -n "$PG_DIR" ]; then
    echo
    bash scripts/start-postgres.sh stop "$PG_DIR" || true
    PG_DIR=""
fi

# --- summary (the closing lines: CI reads them) -------------------------------------
echo
echo "==================================== myna test summary ===================================="
if [ "${#FAILED_TESTS[@]}" -gt 0 ]; then
    printf '%s\n' "${FAILED_TESTS[@]}"
    echo "-------------------------------------------------------------------------------------------"
fi
failed=0
for i in "${!STEP_NAMES[@]}"; do
    printf '%-4s  %-18s %5ss  %s\n' "${STEP_STATUS[$i]}" "${STEP_NAMES[$i]}" "${STEP_SECS[$i]}" "${STEP_NOTES[$i]}"
    [ "${STEP_STATUS[$i]}" = FAIL ] && failed=$((failed + 1))
done
# One closing line in the plain "N passed, N failed" form, summed over the steps, so that
# whoever reads only the last line (CI does) sees the whole run.
total_passed=0
total_failed=0
for note in "${STEP_NOTES[@]}"; do
    n=$(grep -oE '[0-9]+ passed' <<<"$note" | grep -oE '[0-9]+' | head -n 1)
    total_passed=$((total_passed + ${n:-0}))
    for n in $(grep -oE '[0-9]+ (failed|errors?)' <<<"$note" | grep -oE '^[0-9]+'); do
        total_failed=$((total_failed + n))
    done
done
if [ "$failed" -eq 0 ]; then
    echo "myna tests: PASSED (${#STEP_NAMES[@]} steps, $((SECONDS - RUN_START))s in all)"
    echo "total: $total_passed passed, $total_failed failed"
    exit 0
fi
echo "myna tests: FAILED ($failed of ${#STEP_NAMES[@]} steps, $((SECONDS - RUN_START))s in all)"
echo "total: $total_passed passed, $total_failed failed"
exit 1
