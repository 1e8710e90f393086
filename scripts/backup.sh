#!/usr/bin/env bash
# Base backups, WAL archiving and point-in-time restore of the platform's PostgreSQL store,
# with PostgreSQL's own tools: the server archives its WAL into a directory with the
# basic_archive module it ships (copy, fsync, rename), pg_basebackup takes base backups
# (checked by pg_verifybackup), and a restore is a base backup plus restore_command,
# recovery_target_time or recovery_target_lsn, and recovery.signal. Any PostgreSQL 15+
# server works: a data directory and a port, a throwaway test server or a cluster member.
#
#   bash scripts/backup.sh prepare    --to REPO
#   bash scripts/backup.sh base       --port P --to REPO [--pgdata DIR]
#   bash scripts/backup.sh switch-wal --port P --to REPO
#   bash scripts/backup.sh list       --from REPO
#   bash scripts/backup.sh restore    --from REPO --target-time ISO --into NEWDIR --port P2
#   bash scripts/backup.sh stop       --pgdata NEWDIR
#
# `bash scripts/backup.sh help` (or any command with --help) says more. Progress and errors
# go to stderr; stdout carries only results (key=value lines, or the settings of `prepare`).
# Exit status: 0 done, 2 a bad command line or a target the backups cannot reach, 1 a step
# that failed (the message says which, and where its log is).
#
# The repository REPO, one per cluster (its system identifier is recorded and checked):
#   REPO/wal/                  the WAL archive (the server's basic_archive.archive_directory)
#   REPO/base/LABEL/data/      a base backup (plain format, with its backup_manifest)
#   REPO/base/LABEL/backup.info when it ended (server clock, UTC) and its WAL range; written
#                              last, so a base backup without it is incomplete and never used
#
# Passwords never go on a command line: use ~/.pgpass, PGPASSFILE or PGPASSWORD (libpq).
# PGHOST, PGUSER and the other libpq variables apply as usual; --host/--user override them.
set -euo pipefail

log() { printf '==> [backup] %s\n' "$*" >&2; }
die() { printf '==> [backup] error: %s\n' "$*" >&2; exit 1; }
bad() { printf '==> [backup] error: %s\n' "$*" >&2; printf '    (bash %s help)\n' "$0" >&2; exit 2; }

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
# find_bindir, setup_user, as_pg: shared with scripts/start-postgres.sh.
# shellcheck source=scripts/pg-lib.sh
source "$(dirname "$SELF")/pg-lib.sh"

MARKER=".myna-backup-repository"

usage() {
    cat <<'EOF'
Usage: bash scripts/backup.sh COMMAND [OPTIONS]

Base backups, WAL archiving and point-in-time restore of the platform's PostgreSQL store
(PostgreSQL 15 or later), with PostgreSQL's own tools.

Commands:
  prepare --to REPO
      Create the backup repository REPO (REPO/wal, REPO/base) and print the server settings
      that archive WAL into it (basic_archive). Add them to postgresql.conf (a Patroni
      cluster: to postgresql.parameters) and restart the server: archive_mode needs it.
  base --port P --to REPO [--host H] [--user U] [--pgdata DIR] [--timeout S]
      Take a base backup with pg_basebackup and check it with pg_verifybackup. Refused
      when the server does not archive into REPO/wal, or when REPO holds another cluster.
      --pgdata: the data directory you mean to back up; refused if the server is another.
  switch-wal --port P --to REPO [--host H] [--user U] [--timeout S]
      Close the server's current WAL segment and wait until it is in REPO/wal: everything
      committed so far can then be restored. (archive_timeout does the same on a schedule.)
  list --from REPO
      The base backups (when each ended, its WAL range) and the archived WAL.
  restore --from REPO (--target-time ISO | --target-lsn LSN | --latest) --into NEWDIR --port P2
          [--host H] [--user U] [--socket-dir DIR] [--action promote|pause] [--owner PID] [--timeout S]
      Restore the newest base backup that ended before the target into the new data
      directory NEWDIR, start it on port P2 and replay the archived WAL up to the target:
      the last transaction committed at or before ISO (a time with its zone, e.g.
      2026-04-01T12:00:00.250+09:00 or ...Z), or up to the LSN, or everything archived.
      Then promote (default: a writable server on a new timeline) or pause (read-only, in
      recovery, for inspection). The restored server does not archive: give it a repository
      of its own before it becomes a primary. --owner PID stops it when PID exits.
  stop --pgdata DIR [--timeout S]
      Stop a server started by restore.

Options:
  --host H      server host (default: $PGHOST or 127.0.0.1)
  --user U      a user with the REPLICATION attribute, superuser for switch-wal (default: $PGUSER or postgres)
  --timeout S   bound on the whole step in seconds (defaults: base 3600, switch-wal 120,
                restore 3600, stop 60)

Exit status: 0 done; 2 bad command line or an unreachable target; 1 a step failed.
EOF
}

# --- small helpers ----------------------------------------------------------------

need() { # need OPTION VALUE: the option's value, or a usage error
    [ -n "${2:-}" ] && [ "${2:0:2}" != -- ] || bad "$1 needs a value"
}

check_port() {
    [[ "$1" =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ] || bad "--port must be a number from 1 to 65535, got '$1'"
}

check_timeout() {
    [[ "$1" =~ ^[0-9]{1,6}$ ]] && [ "$1" -ge 1 ] || bad "--timeout must be a whole number of seconds (1 or more), got '$1'"
}

check_path() { # quotes would break the settings we write the path into
    case "$2" in *"'"* | *'"'* | *$'\n'*) bad "$1 may not contain quotes or newlines: $2" ;; esac
}

tools() {
    BINDIR="$(find_bindir)" || die "PostgreSQL binaries not found (Debian: apt-get install postgresql; or set MYNA_PG_BIN)"
    local t
    for t in "$@"; do
        [ -x "$BINDIR/$t" ] || die "$BINDIR/$t not found (PostgreSQL's client and server tools are needed)"
    done
}

now_us() { date -u +%s%6N; }
seconds_since() { awk -v a="$1" -v b="$(now_us)" 'BEGIN { printf "%.3f", (b - a) / 1e6 }'; }

# sql QUERY: one query on the server given by HOST/PORT/PGUSER_ARG, the result unaligned.
sql() {
    timeout --kill-after=5 30 "${PG_AS[@]}" "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" -U "$USER_NAME" \
        -d postgres -tA -c "$1"
}

lsn_number() { # 16/B374D848 -> its byte position, for comparisons
    local hi="${1%/*}" lo="${1#*/}"
    echo $(((16#$hi << 32) | 16#$lo))
}

info_get() { # info_get FILE KEY
    sed -n "s/^$2=//p" "$1" | head -n 1
}

repo_dirs() { # repo_dirs REPO: checks it is a repository made by prepare
    [ -f "$1/$MARKER" ] || bad "$1 is not a backup repository (make one with: bash $0 prepare --to $1)"
}

connection_defaults() {
    HOST="${HOST:-${PGHOST:-127.0.0.1}}"
    USER_NAME="${USER_NAME:-${PGUSER:-postgres}}"
    [ -n "${PORT:-}" ] || bad "--port is required"
}

# --- prepare ----------------------------------------------------------------------

cmd_prepare() {
    local repo=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --to) need "$1" "${2:-}"; repo="$2"; shift 2 ;;
            -h | --help) usage; exit 0 ;;
            *) bad "prepare: unknown option $1" ;;
        esac
    done
    [ -n "$repo" ] || bad "prepare needs --to REPO"
    repo="$(realpath -m -- "$repo")"
    check_path --to "$repo"
    if [ -e "$repo" ] && [ ! -f "$repo/$MARKER" ] && [ -n "$(ls -A "$repo" 2>/dev/null)" ]; then
        bad "$repo exists and is not empty: give a new directory, or an existing repository"
    fi
    setup_user
    mkdir -p "$repo/wal" "$repo/base"
    [ -f "$repo/$MARKER" ] || echo "myna backup repository, format 1" >"$repo/$MARKER"
    # The server writes the archive and reads it back when restoring: it owns the repository.
    if [ -n "$RUN_AS" ]; then chown -R "$RUN_AS": "$repo"; fi
    chmod 700 "$repo"
    log "repository $repo ready; add these settings to the server's configuration and restart it"
    cat <<EOF

# --- WAL archive for scripts/backup.sh, repository $repo ---
# basic_archive (shipped with PostgreSQL): copies each finished segment, fsyncs it and
# renames it into place, and accepts a segment already archived with the same contents.
archive_mode = on
archive_library = 'basic_archive'
basic_archive.archive_directory = '$repo/wal'
# A segment is archived at the latest a minute after it was started, so at most about a
# minute of commits is only in the server's own pg_wal.
archive_timeout = 60
EOF
}

# --- base -------------------------------------------------------------------------

cmd_base() {
    local repo="" pgdata="" secs=3600
    while [ $# -gt 0 ]; do
        case "$1" in
            --to) need "$1" "${2:-}"; repo="$2"; shift 2 ;;
            --port) need "$1" "${2:-}"; PORT="$2"; check_port "$2"; shift 2 ;;
            --host) need "$1" "${2:-}"; HOST="$2"; shift 2 ;;
            --user) need "$1" "${2:-}"; USER_NAME="$2"; shift 2 ;;
            --pgdata) need "$1" "${2:-}"; pgdata="$2"; shift 2 ;;
            --timeout) need "$1" "${2:-}"; secs="$2"; check_timeout "$2"; shift 2 ;;
            -h | --help) usage; exit 0 ;;
            *) bad "base: unknown option $1" ;;
        esac
    done
    [ -n "$repo" ] || bad "base needs --to REPO"
    connection_defaults
    repo="$(realpath -m -- "$repo")"
    repo_dirs "$repo"
    tools psql pg_basebackup pg_verifybackup
    setup_user
    cd "$repo"  # the tools run as the server's user, from a directory it can read

    local facts mode library archdir datadir sysid
    facts="$(sql "select current_setting('archive_mode'), current_setting('archive_library'),
                        coalesce(current_setting('basic_archive.archive_directory', true), ''),
                        current_setting('data_directory'), (select system_identifier from pg_control_system())" 2>&1)" \
        || die "cannot query the server on $HOST:$PORT as $USER_NAME: $facts"
    IFS='|' read -r mode library archdir datadir sysid <<<"$facts"
    [ "$mode" = on ] || [ "$mode" = always ] \
        || die "the server on $HOST:$PORT does not archive WAL (archive_mode=$mode): a base backup alone cannot be restored to a point in time (bash $0 prepare --to $repo)"
    if [ "$library" = basic_archive ]; then
        [ "$(realpath -m -- "$archdir")" = "$repo/wal" ] \
            || die "the server archives WAL into '$archdir', not into this repository's $repo/wal"
    else
        log "warning: the server archives with ${library:-archive_command}; make sure it writes into $repo/wal"
    fi
    if [ -n "$pgdata" ] && [ "$(realpath -m -- "$pgdata")" != "$(realpath -m -- "$datadir")" ]; then
        bad "the server on $HOST:$PORT runs the data directory $datadir, not $pgdata"
    fi
    if [ -f "$repo/system_identifier" ]; then
        [ "$(cat "$repo/system_identifier")" = "$sysid" ] \
            || die "$repo holds backups of another cluster (system identifier $(cat "$repo/system_identifier"), this one is $sysid)"
    fi
    local failing
    failing="$(sql "select coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) from pg_stat_archiver")"
    [ "$failing" != t ] || die "the server's WAL archiver is failing (see its log, and pg_stat_archiver): fix it before taking a base backup"

    local label dest start_us end_us end_time start_lsn end_lsn timeline bytes
    label="$(date -u +%Y%m%dT%H%M%SZ)"
    [ ! -e "$repo/base/$label" ] || label="$label-$$"
    dest="$repo/base/$label"
    as_pg mkdir -m 700 "$dest"
    log "base backup $label of $HOST:$PORT (cluster $sysid) into $dest"
    start_us="$(now_us)"
    # -X stream: the WAL written during the backup goes into the backup itself, so it is
    # consistent on its own; the archive carries what comes after. -c fast: start at once.
    if ! timeout --kill-after=30 "$secs" "${PG_AS[@]}" "$BINDIR/pg_basebackup" -h "$HOST" -p "$PORT" -U "$USER_NAME" \
        -D "$dest/data" -Fp -X stream -c fast --manifest-checksums=SHA256 -l "myna $label" --no-password \
        >"$dest/pg_basebackup.log" 2>&1; then
        cat "$dest/pg_basebackup.log" >&2
        rm -rf "$dest"
        die "pg_basebackup failed or took more than ${secs}s (output above); nothing was kept"
    fi
    # The end as the server's clock tells it, taken once the backup is complete: the
    # earliest target a restore from this backup can reach (commit times are server times).
    IFS='|' read -r end_us end_time <<<"$(sql "select (extract(epoch from c) * 1000000)::bigint,
        to_char(c at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') from (select clock_timestamp() as c) as now")"
    start_lsn="$(sed -n 's/^START WAL LOCATION: \([0-9A-F/]*\).*/\1/p' "$dest/data/backup_label")"
    timeline="$(sed -n 's/^START TIMELINE: //p' "$dest/data/backup_label")"
    end_lsn="$(grep -o '"End-LSN": *"[0-9A-F/]*"' "$dest/data/backup_manifest" | tail -n 1 | sed 's/.*"\([0-9A-F/]*\)"$/\1/')"
    [ -n "$start_lsn" ] && [ -n "$end_lsn" ] && [ -n "$timeline" ] || { rm -rf "$dest"; die "the backup has no backup_label or manifest WAL range; nothing was kept"; }

    if ! timeout --kill-after=30 "$secs" "${PG_AS[@]}" "$BINDIR/pg_verifybackup" -q "$dest/data" >"$dest/verify.log" 2>&1; then
        cat "$dest/verify.log" >&2
        rm -rf "$dest"
        die "pg_verifybackup found the new backup damaged (output above); nothing was kept"
    fi
    bytes="$(du -sb "$dest/data" | cut -f1)"
    [ -f "$repo/system_identifier" ] || echo "$sysid" >"$repo/system_identifier"
    cat >"$dest/backup.info.tmp" <<EOF
label=$label
system_identifier=$sysid
timeline=$timeline
start_lsn=$start_lsn
end_lsn=$end_lsn
end_time=$end_time
end_us=$end_us
bytes=$bytes
seconds=$(awk -v a="$start_us" -v b="$end_us" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
EOF
    mv "$dest/backup.info.tmp" "$dest/backup.info"
    [ -z "$RUN_AS" ] || chown "$RUN_AS": "$dest/backup.info" "$repo/system_identifier"
    log "done: $((bytes / 1024 / 1024)) MiB in $(info_get "$dest/backup.info" seconds) s, consistent from $end_lsn ($end_time)"
    cat "$dest/backup.info"
}

# --- switch-wal -------------------------------------------------------------------

cmd_switch_wal() {
    local repo="" secs=120 segment deadline
    while [ $# -gt 0 ]; do
        case "$1" in
            --to) need "$1" "${2:-}"; repo="$2"; shift 2 ;;
            --port) need "$1" "${2:-}"; PORT="$2"; check_port "$2"; shift 2 ;;
            --host) need "$1" "${2:-}"; HOST="$2"; shift 2 ;;
            --user) need "$1" "${2:-}"; USER_NAME="$2"; shift 2 ;;
            --timeout) need "$1" "${2:-}"; secs="$2"; check_timeout "$2"; shift 2 ;;
            -h | --help) usage; exit 0 ;;
            *) bad "switch-wal: unknown option $1" ;;
        esac
    done
    [ -n "$repo" ] || bad "switch-wal needs --to REPO"
    connection_defaults
    repo="$(realpath -m -- "$repo")"
    repo_dirs "$repo"
    tools psql
    setup_user
    cd "$repo"
    # pg_walfile_name of the switch point names the segment just closed (or, when nothing
    # was written since the last switch, the one before: archived already or about to be).
    segment="$(sql "select pg_walfile_name(pg_switch_wal())" 2>&1)" || die "pg_switch_wal failed on $HOST:$PORT: $segment"
    deadline=$((SECONDS + secs))
    while [ ! -f "$repo/wal/$segment" ]; do
        [ "$SECONDS" -lt "$deadline" ] \
            || die "segment $segment is not in $repo/wal after ${secs}s: is the server archiving there? (pg_stat_archiver, its log)"
        sleep 0.2
    done
    log "segment $segment archived: every commit before the switch can be restored"
    echo "segment=$segment"
}

# --- list -------------------------------------------------------------------------

cmd_list() {
    local repo="" info n
    while [ $# -gt 0 ]; do
        case "$1" in
            --from) need "$1" "${2:-}"; repo="$2"; shift 2 ;;
            -h | --help) usage; exit 0 ;;
            *) bad "list: unknown option $1" ;;
        esac
    done
    [ -n "$repo" ] || bad "list needs --from REPO"
    repo="$(realpath -m -- "$repo")"
    repo_dirs "$repo"
    printf '%-22s %-28s %-20s %10s\n' "base backup" "ended (UTC, server clock)" "consistent from LSN" "MiB"
    for info in "$repo"/base/*/backup.info; do
        [ -f "$info" ] || continue
        printf '%-22s %-28s %-20s %10s\n' "$(info_get "$info" label)" "$(info_get "$info" end_time)" \
            "$(info_get "$info" end_lsn)" "$(($(info_get "$info" bytes) / 1024 / 1024))"
    done
    n="$(find "$repo/wal" -maxdepth 1 -type f -name '[0-9A-F]*' ! -name '*.*' | wc -l)"
    printf 'WAL archive: %s segments' "$n"
    if [ "$n" -gt 0 ]; then
        # shellcheck disable=SC2012 # segment names are fixed-width hex
        printf ', %s .. %s' "$(ls "$repo/wal" | grep -E '^[0-9A-F]{24}$' | head -n 1)" "$(ls "$repo/wal" | grep -E '^[0-9A-F]{24}$' | tail -n 1)"
    fi
    echo
}

# --- restore ----------------------------------------------------------------------

ISO_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$'
LSN_RE='^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$'

cmd_restore() {
    local repo="" into="" secs=3600 target_time="" target_lsn="" latest="" action=promote socket_dir="" owner=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --from) need "$1" "${2:-}"; repo="$2"; shift 2 ;;
            --into) need "$1" "${2:-}"; into="$2"; shift 2 ;;
            --port) need "$1" "${2:-}"; PORT="$2"; check_port "$2"; shift 2 ;;
            --host) need "$1" "${2:-}"; HOST="$2"; shift 2 ;;
            --user) need "$1" "${2:-}"; USER_NAME="$2"; shift 2 ;;
            --target-time) need "$1" "${2:-}"; target_time="$2"; shift 2 ;;
            --target-lsn) need "$1" "${2:-}"; target_lsn="$2"; shift 2 ;;
            --latest) latest=1; shift ;;
            --action) need "$1" "${2:-}"; action="$2"; shift 2 ;;
            --socket-dir) need "$1" "${2:-}"; socket_dir="$2"; shift 2 ;;
            --owner) need "$1" "${2:-}"; owner="$2"; shift 2 ;;
            --timeout) need "$1" "${2:-}"; secs="$2"; check_timeout "$2"; shift 2 ;;
            -h | --help) usage; exit 0 ;;
            *) bad "restore: unknown option $1" ;;
        esac
    done
    [ -n "$repo" ] || bad "restore needs --from REPO"
    [ -n "$into" ] || bad "restore needs --into NEWDIR (a new data directory)"
    connection_defaults
    [ $(( ${target_time:+1} + ${target_lsn:+1} + ${latest:+1} + 0 )) -eq 1 ] \
        || bad "restore needs exactly one of --target-time ISO, --target-lsn LSN, --latest"
    case "$action" in promote | pause) ;; *) bad "--action must be promote or pause, got '$action'" ;; esac
    [ -z "$owner" ] || [[ "$owner" =~ ^[0-9]+$ ]] || bad "--owner needs a process id, got '$owner'"
    repo="$(realpath -m -- "$repo")"
    into="$(realpath -m -- "$into")"
    repo_dirs "$repo"
    check_path --from "$repo"
    check_path --into "$into"
    if [ -n "$socket_dir" ]; then
        socket_dir="$(realpath -m -- "$socket_dir")"
        check_path --socket-dir "$socket_dir"
        [ -d "$socket_dir" ] || bad "--socket-dir $socket_dir is not a directory"
    fi
    if [ -e "$into" ] && [ -n "$(ls -A "$into" 2>/dev/null)" ]; then
        bad "$into exists and is not empty: restore into a new directory"
    fi
    [ -d "$(dirname "$into")" ] || bad "the parent of --into, $(dirname "$into"), does not exist"
    if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
        bad "something already listens on $HOST:$PORT: pick a free --port for the restored server"
    fi

    local target_us="" target_num="" setting
    if [ -n "$target_time" ]; then
        [[ "$target_time" =~ $ISO_RE ]] \
            || bad "--target-time must be an ISO 8601 time with its zone (e.g. 2026-04-01T12:00:00+09:00 or 2026-04-01T03:00:00Z), got '$target_time'"
        target_us="$(date -u -d "$target_time" +%s%6N 2>/dev/null)" || bad "--target-time '$target_time' is not a valid time"
        [ "$target_us" -le "$(now_us)" ] || bad "--target-time $target_time is in the future: nothing can have been archived for it yet"
        setting="recovery_target_time = '$(date -u -d "@${target_us:0:-6}.${target_us: -6}" '+%Y-%m-%d %H:%M:%S.%6N+00')'"
    elif [ -n "$target_lsn" ]; then
        [[ "$target_lsn" =~ $LSN_RE ]] || bad "--target-lsn must be an LSN like 0/3000060, got '$target_lsn'"
        target_num="$(lsn_number "$target_lsn")"
        setting="recovery_target_lsn = '$target_lsn'"
    else
        setting="# no recovery target: replay every archived segment"
    fi

    # The newest complete base backup that ended before the target.
    local info chosen="" first_end="" first_label="" first_lsn=""
    for info in "$repo"/base/*/backup.info; do
        [ -f "$info" ] || continue
        if [ -z "$first_end" ]; then first_end="$(info_get "$info" end_time)" first_label="$(info_get "$info" label)" first_lsn="$(info_get "$info" end_lsn)"; fi
        if [ -n "$target_us" ] && [ "$(info_get "$info" end_us)" -gt "$target_us" ]; then continue; fi
        if [ -n "$target_num" ] && [ "$(lsn_number "$(info_get "$info" end_lsn)")" -gt "$target_num" ]; then continue; fi
        chosen="$info"
    done
    [ -n "$first_end" ] || bad "$repo holds no complete base backup (bash $0 base ... --to $repo)"
    if [ -z "$chosen" ]; then
        bad "the target ${target_time:-$target_lsn} is before the end of the earliest base backup ($first_label ended at $first_end, consistent from $first_lsn): no backup in $repo can be restored to it"
    fi
    local label base
    label="$(info_get "$chosen" label)"
    base="$(dirname "$chosen")/data"

    tools pg_ctl psql pg_verifybackup
    setup_user
    cd "$repo"
    if [ -n "$socket_dir" ] && ! as_pg test -w "$socket_dir"; then
        bad "--socket-dir $socket_dir is not writable by ${RUN_AS:-$(id -un)}, the user the server runs as"
    fi
    log "checking base backup $label (pg_verifybackup)"
    timeout --kill-after=30 "$secs" "${PG_AS[@]}" "$BINDIR/pg_verifybackup" -q "$base" >&2 \
        || die "base backup $label is damaged (pg_verifybackup above): restore from another one"

    log "restoring $label into $into, then WAL from $repo/wal up to ${target_time:-${target_lsn:-the end of the archive}}"
    local start_us log_file
    start_us="$(now_us)"
    mkdir -p -m 700 "$into" || die "cannot create $into"
    if [ -n "$RUN_AS" ]; then chown "$RUN_AS": "$into"; fi
    as_pg cp -a "$base/." "$into/"
    log_file="$into/restore.log"
    # postgresql.auto.conf is read last, so these win over what the copied configuration says.
    as_pg tee -a "$into/postgresql.auto.conf" >/dev/null <<EOF

# --- added by scripts/backup.sh restore: base backup $label of $repo ---
restore_command = 'cp "$repo/wal/%f" "%p"'
$setting
recovery_target_action = '$action'
# This copy must not write into the repository of the site it was restored from.
archive_mode = off
port = $PORT
${socket_dir:+unix_socket_directories = '$socket_dir'}
EOF
    # Archive recovery to the target, not a standby following a primary (a backup taken from
    # a cluster's replica may carry its standby.signal).
    as_pg rm -f "$into/standby.signal"
    as_pg touch "$into/recovery.signal"

    if ! timeout --kill-after=30 "$secs" "${PG_AS[@]}" "$BINDIR/pg_ctl" -D "$into" -l "$log_file" -w -t "$secs" start >/dev/null 2>&1; then
        explain_failure "$log_file"
    fi
    [ -z "$owner" ] || setsid bash "$SELF" _watch "$into" "$owner" </dev/null >/dev/null 2>&1 &

    # Wait, bounded, for recovery to reach the target and promote (or pause there).
    local deadline=$((SECONDS + secs)) state=""
    while :; do
        if ! "${PG_AS[@]}" "$BINDIR/pg_ctl" -D "$into" status >/dev/null 2>&1; then
            explain_failure "$log_file"
        fi
        if [ "$action" = promote ]; then
            state="$(sql "select pg_is_in_recovery()" 2>/dev/null || true)"
            [ "$state" != f ] || break
        else
            state="$(sql "select pg_get_wal_replay_pause_state()" 2>/dev/null || true)"
            [ "$state" != paused ] || break
            # --latest has no target to pause at: recovery just ends and the server promotes.
            [ "$(sql "select pg_is_in_recovery()" 2>/dev/null || true)" != f ] || break
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            "${PG_AS[@]}" "$BINDIR/pg_ctl" -D "$into" -m fast -w -t 30 stop >/dev/null 2>&1 || true
            die "recovery did not reach the target within ${secs}s (log: $log_file); the server was stopped, $into kept"
        fi
        sleep 0.2
    done
    local stopped last
    stopped="$(grep -o 'recovery stopping [^"]*' "$log_file" | tail -n 1 || true)"
    last="$(grep -o 'last completed transaction was at log time .*' "$log_file" | tail -n 1 || true)"
    local took
    took="$(seconds_since "$start_us")"
    log "restored in $took s: ${stopped:-all archived WAL replayed}${last:+; $last}"
    cat <<EOF
data_dir=$into
port=$PORT
base=$label
action=$action
seconds=$took
stopped=${stopped:-end of archive}
EOF
}

# explain_failure LOG: the server stopped during recovery; say why in a sentence, then exit 1.
explain_failure() {
    local why
    why="$(grep -E 'FATAL|PANIC' "$1" | tail -n 3 || true)"
    [ -z "$why" ] || printf '%s\n' "$why" >&2
    case "$why" in
        *"recovery ended before configured recovery target was reached"*)
            die "the archived WAL ends before the target: nothing later than it was archived yet (bash $0 switch-wal on the source closes the current segment), or pick an earlier target (log: $1)" ;;
        *"before consistent recovery point"*)
            die "the target lies inside the base backup's own WAL, before it is consistent: pick a later target or an earlier base backup (log: $1)" ;;
        *"could not bind"* | *"already in use"*)
            die "the restored server could not listen on port $PORT (log: $1)" ;;
        *"could not create lock file"*)
            die "the restored server could not create its socket (give a --socket-dir it may write to; log: $1)" ;;
        *) die "the restored server stopped before reaching the target (log: $1)" ;;
    esac
}

# --- stop -------------------------------------------------------------------------

stop_server() { # stop_server DATADIR SECONDS
    "${PG_AS[@]}" "$BINDIR/pg_ctl" -D "$1" -m fast -w -t "$2" stop >/dev/null 2>&1 \
        || "${PG_AS[@]}" "$BINDIR/pg_ctl" -D "$1" -m immediate -w -t "$2" stop >/dev/null 2>&1
}

cmd_stop() {
    local pgdata="" secs=60
    while [ $# -gt 0 ]; do
        case "$1" in
            --pgdata) need "$1" "${2:-}"; pgdata="$2"; shift 2 ;;
            --timeout) need "$1" "${2:-}"; secs="$2"; check_timeout "$2"; shift 2 ;;
            -h | --help) usage; exit 0 ;;
            *) bad "stop: unknown option $1" ;;
        esac
    done
    [ -n "$pgdata" ] || bad "stop needs --pgdata DIR"
    [ -f "$pgdata/PG_VERSION" ] || bad "$pgdata is not a PostgreSQL data directory"
    tools pg_ctl
    setup_user
    cd /
    if [ ! -f "$pgdata/postmaster.pid" ]; then
        log "no server runs in $pgdata"
        return 0
    fi
    stop_server "$pgdata" "$secs" || die "could not stop the server in $pgdata (pid $(head -n 1 "$pgdata/postmaster.pid"))"
    log "stopped the server in $pgdata"
}

# The watchdog of restore --owner: stop the restored server once its owner is gone. The data
# directory stays (unlike a throwaway test server's): a restore is not thrown away.
cmd_watch() {
    local pgdata="$1" owner="$2"
    tools pg_ctl
    setup_user
    cd /
    while [ -f "$pgdata/postmaster.pid" ] && kill -0 "$owner" 2>/dev/null; do
        sleep 2
    done
    [ ! -f "$pgdata/postmaster.pid" ] || stop_server "$pgdata" 30 || true
}

case "${1:-help}" in
    prepare) cmd_prepare "${@:2}" ;;
    base) cmd_base "${@:2}" ;;
    switch-wal) cmd_switch_wal "${@:2}" ;;
    list) cmd_list "${@:2}" ;;
    restore) cmd_restore "${@:2}" ;;
    stop) cmd_stop "${@:2}" ;;
    _watch) cmd_watch "$2" "$3" ;;
    help | -h | --help) usage ;;
    *) printf '==> [backup] error: unknown command %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
esac
