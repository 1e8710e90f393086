#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite.
#
#   eval "$(bash scripts/start-postgres.sh)"          # start; sets MYNA_PG_DIR and
#                                                      # MYNA_TEST_DATABASE_URL
#   bash scripts/start-postgres.sh stop "$MYNA_PG_DIR" # stop it and delete its files
#   bash scripts/start-postgres.sh start --owner PID   # also stop it once PID is gone
#   bash scripts/start-postgres.sh start --archive REPO # also archive its WAL into the backup
#                                                      # repository REPO (scripts/backup.sh)
#
# --archive is opt-in: the suite's servers do not archive (it would only slow them); the
# backup and restore tests do.
#
# --owner is the safety net for the caller's exit trap: a trap cannot run when the
# caller is SIGKILLed (a CI or tool timeout), and a leaked server would live on. A small
# detached watchdog stops the server when PID exits without having stopped it.
#
# `start` initialises a new cluster in a fresh directory under /tmp, listens on
# 127.0.0.1 only (TCP, on a free port) and on a unix socket inside that directory,
# with trust authentication for the superuser `postgres`. The tests' fixture creates and
# drops one database per test, hence the superuser. Progress goes to stderr; stdout
# carries only the `export` lines meant for eval.
#
# Nothing is installed here: scripts/test.sh installs the Debian `postgresql` package.
# The server binaries are found in /usr/lib/postgresql/<newest version>/bin (Debian
# keeps them off PATH), or $MYNA_PG_BIN, or pg_config/PATH elsewhere.
set -euo pipefail

log() { printf '==> [postgres] %s\n' "$*" >&2; }
die() { printf '==> [postgres] error: %s\n' "$*" >&2; exit 1; }

# Marker file so `stop` only ever deletes a directory this script created.
MARKER=".myna-throwaway-postgres"

# find_bindir, free_port, setup_user, as_pg: shared with scripts/backup.sh.
# shellcheck source=scripts/pg-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/pg-lib.sh"

start() {
    local bindir dir port attempt owner="" archive=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --owner) owner="${2:-}"; [[ "$owner" =~ ^[0-9]+$ ]] || die "--owner needs a process id"; shift 2 ;;
            --archive) [ -n "${2:-}" ] || die "--archive needs the backup repository's directory"
                       archive="$(realpath -m -- "$2")"; shift 2 ;;
            *) die "unknown option $1 (start takes --owner PID and --archive REPO)" ;;
        esac
    done
    bindir="$(find_bindir)" || die "PostgreSQL server binaries not found (Debian: apt-get install postgresql; or set MYNA_PG_BIN)"
    setup_user

    dir="$(mktemp -d /tmp/myna-pg.XXXXXX)"
    touch "$dir/$MARKER"
    [ -z "$RUN_AS" ] || chown -R "$RUN_AS": "$dir"
    # Run the tools from a directory the server user can read (the repo may not be).
    cd "$dir"

    log "initdb ($("$bindir/postgres" --version | sed 's/^postgres (PostgreSQL) /PostgreSQL /')) in $dir/data${RUN_AS:+ as user $RUN_AS}"
    # --no-sync/--no-locale: a test cluster; speed and identical behaviour everywhere matter,
    # durability does not. -U postgres: the superuser the tests connect as.
    if ! as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale --no-sync \
        >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        rm -rf "$dir"
        die "initdb failed"
    fi

    # 127.0.0.1 only (never reachable from outside), socket in our own directory (no clash
    # with a system cluster in /var/run/postgresql). fsync and friends off: throwaway
    # data, and the suite creates hundreds of databases. max_connections: 2 xdist workers,
    # each test with its own engine and pool, plus interop servers in subprocesses.
    # log_statement=ddl: the log shows every CREATE/DROP DATABASE, which scripts/test.sh
    # counts to prove the suite really ran against this server.
    cat >>"$dir/data/postgresql.conf" <<EOF

# --- added by scripts/start-postgres.sh (throwaway test cluster) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
log_statement = 'ddl'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    if [ -n "$archive" ]; then
        # The repository and the settings that archive into it come from backup.sh, their one home.
        if ! bash "$(dirname "$SELF")/backup.sh" prepare --to "$archive" >>"$dir/data/postgresql.conf"; then
            rm -rf "$dir"
            die "could not prepare the WAL archive in $archive"
        fi
        log "archiving WAL into $archive/wal"
    fi

    # A "free" port can be taken between asking and binding; retry with another.
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
            break
        fi
        port=""
        if ! grep -qi 'could not bind\|address already in use' "$dir/server.log" 2>/dev/null; then
            break
        fi
        log "port taken, retrying ($attempt)"
    done
    if [ -z "$port" ]; then
        tail -n 30 "$dir/server.log" >&2 2>/dev/null || true
        rm -rf "$dir"
        die "the server did not start (log above)"
    fi

    # Prove that what the tests will do works: TCP to 127.0.0.1, trust auth, superuser.
    if ! as_pg "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        'select rolsuper from pg_roles where rolname = current_user' | grep -qx t; then
        stop "$dir" || true
        die "cannot connect to the new server as superuser postgres on 127.0.0.1:$port"
    fi

    if [ -n "$owner" ]; then
        # Detached (own session, no inherited terminal or pipes) so that it neither dies
        # with the caller's process group nor keeps the caller's output open.
        setsid bash "$SELF" watch "$dir" "$owner" </dev/null >/dev/null 2>&1 &
    fi
    log "running on 127.0.0.1:$port (socket dir $dir, log $dir/server.log)"
    printf "export MYNA_PG_DIR=%q\n" "$dir"
    printf "export MYNA_TEST_DATABASE_URL=%q\n" "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
}

stop() {
    local dir="${1:-}" bindir
    [ -n "$dir" ] || die "usage: $0 stop DIR"
    [ -f "$dir/$MARKER" ] || die "$dir was not made by $0; not touching it"
    setup_user
    cd "$dir"
    if [ -f "$dir/data/postmaster.pid" ]; then
        bindir="$(find_bindir)" || die "PostgreSQL binaries not found; the server in $dir is still running"
        # fast: disconnect clients and stop; immediate if that does not finish in time.
        # Keep the directory if it will not stop: deleting it under a live server would
        # only hide a leaked process.
        as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
            || as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 \
            || die "could not stop the server in $dir (pid $(head -n 1 "$dir/data/postmaster.pid"))"
    fi
    cd /
    rm -rf "$dir"
    log "stopped and removed $dir"
}

# The watchdog: wait while the owner lives and the server is still ours to stop.
watch() {
    local dir="$1" owner="$2"
    while [ -f "$dir/$MARKER" ] && kill -0 "$owner" 2>/dev/null; do
        sleep 2
    done
    if [ -f "$dir/$MARKER" ]; then
        stop "$dir"
    fi
}

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
case "${1:-start}" in
    start) start "${@:2}" ;;
    stop) stop "${2:-}" ;;
    watch) watch "$2" "$3" ;;
    *) die "usage: $0 [start [--owner PID] [--archive REPO] | stop DIR]" ;;
esac
