# shellcheck shell=bash
# What scripts/start-postgres.sh and scripts/backup.sh share (sourced, never run directly):
# finding the PostgreSQL binaries and running them as an unprivileged user when we are root.
#
#   find_bindir   the server binaries: $MYNA_PG_BIN, the newest /usr/lib/postgresql/<v>/bin
#                 (Debian keeps them off PATH), or pg_config/PATH elsewhere
#   setup_user    as root, pick the user to run PostgreSQL as (it refuses to run as root):
#                 sets RUN_AS (empty when not root) and PG_AS, the command prefix
#   as_pg CMD...  CMD as that user (or as ourselves when not root)

find_bindir() {
    local d
    if [ -n "${MYNA_PG_BIN:-}" ]; then
        printf '%s\n' "$MYNA_PG_BIN"; return 0
    fi
    # Newest installed major version (sort -V: 9.6 < 15 < 16).
    # shellcheck disable=SC2012 # Debian version directories are plain numbers
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        printf '%s\n' "$d"; return 0
    fi
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir; return 0
    fi
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"; return 0
    fi
    return 1
}

free_port() {
    # Ask the kernel for a free port; if no Python is at hand, pick a random high port
    # (callers retry with another one if it is taken).
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 40000))
}

# PostgreSQL refuses to run as root. As root we run it as an unprivileged system user:
# `postgres` (created by the Debian package), or our own if that does not exist.
RUN_AS=""
PG_AS=()
setup_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    if id postgres >/dev/null 2>&1; then
        RUN_AS=postgres
    else
        RUN_AS=myna-pg
        id "$RUN_AS" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS" \
            || die "cannot create system user $RUN_AS to run PostgreSQL as (it refuses to run as root)"
    fi
    if command -v runuser >/dev/null 2>&1; then
        PG_AS=(runuser -u "$RUN_AS" --)
    else
        # su hands the words after the user to the shell: "$0" "$@" runs them unquoted-safe.
        # shellcheck disable=SC2016 # expanded by that shell
        PG_AS=(su -s /bin/sh "$RUN_AS" -c '"$0" "$@"')
    fi
}

as_pg() {
    "${PG_AS[@]}" "$@"
}
