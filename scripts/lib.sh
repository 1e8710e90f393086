# shellcheck shell=bash
# Setup shared by scripts/run.sh and scripts/test.sh (sourced, never run directly).
#
# Both README commands must work on a fresh Debian 12 machine with nothing but
# Python 3.11 and network access to PyPI/Debian, and must be cheap to re-run
# locally. So everything here is "check first, act only when missing":
#   myna_ensure_system_packages  apt packages the tests need (root + apt only)
#   myna_ensure_venv             .venv with `pip install -e '.[EXTRAS]'`, redone
#                                only when pyproject.toml changes or an extra is missing
#
# The caller must have `set -u`-safe code paths; we do not change its shell options.

# Repository root: the parent of this file's directory, whatever the caller's cwd.
MYNA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The venv; another path may be given (scripts/check-fresh-run.sh builds a throwaway one).
MYNA_VENV="${MYNA_VENV:-$MYNA_ROOT/.venv}"
# The extras to install, comma-separated, set by the caller before myna_ensure_venv:
# empty for run.sh (the platform needs only the base dependencies, all of them wheels, so
# a machine with nothing but Python runs it), "test,card,..." for test.sh (pyscard, the
# card extra, is built from source against libpcsclite-dev). One venv serves both: the
# stamp records which extras are installed, and a venv that has more than asked for is
# left as it is, so neither command undoes the other's install.
MYNA_EXTRAS="${MYNA_EXTRAS-}"

# Debian packages the test suite relies on:
#   softhsm2 + opensc + libengine-pkcs11-openssl  PKCS#11 key backend tests (SoftHSM2 token)
#   postgresql                                     server binaries for the PostgreSQL test run
#   poppler-utils                                  PDF tools used by document tests
#   curl                                           HTTP checks against a running server
#   openssl                                        the `openssl` CLI used by interop tests
#                                                  (they skip silently without it, so make
#                                                  sure it is there; minimal images lack it)
#   pcscd + vsmartcard-vpcd                        PC/SC daemon and its virtual reader driver:
#                                                  the virtual card tests (tests/chip) insert
#                                                  cards there and drive them with OpenSC
#   libpcsclite-dev + gcc                          to build pyscard (no Linux wheels on PyPI;
#                                                  the card extra, which run.sh does not install)
#   fonts-ipaexfont-gothic/-mincho                 Japanese TrueType fonts embedded in the PDFs
#   zbar-tools                                     zbarimg: tests decode the QR codes on the PDFs
#   chromium                                       the browser Playwright drives through the screens (tests/ui)
MYNA_APT_PACKAGES=(softhsm2 opensc postgresql libengine-pkcs11-openssl poppler-utils curl openssl pcscd vsmartcard-vpcd libpcsclite-dev gcc fonts-ipaexfont-gothic fonts-ipaexfont-mincho zbar-tools chromium)

# Bold/yellow only on a terminal, so CI logs stay free of escape codes.
if [ -t 2 ]; then _myna_b=$'\033[1m' _myna_y=$'\033[1;33m' _myna_r=$'\033[0m'; else _myna_b="" _myna_y="" _myna_r=""; fi
myna_log() { printf '%s==> %s%s\n' "$_myna_b" "$*" "$_myna_r" >&2; }
myna_warn() { printf '%s==> warning: %s%s\n' "$_myna_y" "$*" "$_myna_r" >&2; }

# Not every machine is Debian or lets us be root; say what is missing rather than stop.
_myna_pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

_myna_apt_updated=""
_myna_apt_install() {
    # One `apt-get update` per run, and only once we know something must be installed:
    # re-runs on a machine that has everything never touch the network.
    if [ -z "$_myna_apt_updated" ]; then
        myna_log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        _myna_apt_updated=1
    fi
    myna_log "apt-get install $*"
    # --no-install-recommends: e.g. opensc recommends pcscd, a daemon we do not want.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

_myna_can_apt() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; }

# Install the Debian packages in MYNA_APT_PACKAGES that are missing. Never fails the
# caller: without root/apt it prints what is missing and the tests that need it will
# skip or fail with their own message.
myna_ensure_system_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        myna_warn "not a Debian-like system (no dpkg); make sure these are installed yourself: ${MYNA_APT_PACKAGES[*]}"
        return 0
    fi
    local missing=() p
    for p in "${MYNA_APT_PACKAGES[@]}"; do
        _myna_pkg_installed "$p" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if _myna_can_apt; then
        _myna_apt_install "${missing[@]}" || myna_warn "apt-get failed; missing packages: ${missing[*]}"
    else
        myna_warn "missing Debian packages: ${missing[*]}"
        myna_warn "not root (or no apt-get), so not installing them; run as root:"
        myna_warn "  apt-get update && apt-get install -y ${missing[*]}"
        myna_warn "continuing: tests needing them will skip or fail"
    fi
    return 0
}

# The interpreter to build the venv from: $PYTHON if given, else a Python >= 3.11 from
# PATH (python3.11 first), else one installed by pyenv (fresh CI has it under /root/.pyenv
# without necessarily being on PATH).
_myna_python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }
myna_find_python() {
    local c
    for c in ${PYTHON:-} python3.11 python3 \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11*/bin/python3 \
        /root/.pyenv/versions/3.11*/bin/python3; do
        [ -n "$c" ] || continue
        c="$(command -v "$c" 2>/dev/null)" || continue
        if _myna_python_ok "$c"; then
            printf '%s\n' "$c"
            return 0
        fi
    done
    return 1
}

# Sorted, de-duplicated union of comma-separated extras lists: "test,card" "card" -> "card,test".
_myna_extras_union() {
    printf '%s\n' "$@" | tr ',' '\n' | sed '/^$/d' | sort -u | paste -sd, -
}

# Create the venv and install the project into it (editable, with MYNA_EXTRAS).
# Re-installs only when pyproject.toml changed or an extra asked for is not installed yet:
# the stamp file inside the venv, written only after a successful install, holds the hash
# of pyproject.toml and the extras installed ("<sha256> extras=card,test"). When it must
# install, it installs the extras asked for plus those the stamp already had, so that
# run.sh after a pyproject.toml change keeps test.sh's extras (and the stamp says so).
myna_ensure_venv() {
    local stamp="$MYNA_VENV/.myna-install-stamp" hash lock old old_hash="" old_extras="" want_extras extras spec
    hash="$(sha256sum "$MYNA_ROOT/pyproject.toml" | cut -d' ' -f1)"
    want_extras="$(_myna_extras_union "$MYNA_EXTRAS")"

    # Several people/terminals may run the scripts at once in one checkout; serialise
    # venv creation and pip so they do not corrupt each other's install.
    lock="${TMPDIR:-/tmp}/myna-venv-$(printf '%s' "$MYNA_VENV" | sha256sum | cut -c1-12).lock"
    if command -v flock >/dev/null 2>&1; then
        exec {_myna_lock_fd}>"$lock"
        flock "$_myna_lock_fd"
    fi

    # A venv whose interpreter no longer runs (Python upgraded/removed) is rebuilt.
    if [ -d "$MYNA_VENV" ] && ! _myna_python_ok "$MYNA_VENV/bin/python"; then
        myna_warn "$MYNA_VENV is broken or too old; recreating it"
        rm -rf "$MYNA_VENV"
    fi

    if [ ! -x "$MYNA_VENV/bin/python" ]; then
        local py
        if ! py="$(myna_find_python)"; then
            myna_warn "no Python >= 3.11 found (tried \$PYTHON, python3.11, python3, ~/.pyenv/versions/3.11*)"
            return 1
        fi
        # Debian's own python3 ships without ensurepip unless python3-venv is installed.
        if ! "$py" -c 'import ensurepip' >/dev/null 2>&1; then
            if _myna_can_apt; then
                _myna_apt_install python3-venv || true
            else
                myna_warn "$py cannot create venvs (no ensurepip): install the Debian package python3-venv"
            fi
        fi
        myna_log "creating $MYNA_VENV with $py ($("$py" -c 'import sys; print(sys.version.split()[0])'))"
        "$py" -m venv "$MYNA_VENV" || return 1
    fi

    old="$(cat "$stamp" 2>/dev/null || true)"
    case "$old" in
        *" extras="*) old_hash="${old%% *}" old_extras="${old#* extras=}" ;;
    esac
    # Enough already: the same pyproject.toml, and every extra asked for is installed.
    if [ "$old_hash" != "$hash" ] || [ "$(_myna_extras_union "$old_extras" "$want_extras")" != "$(_myna_extras_union "$old_extras")" ]; then
        extras="$(_myna_extras_union "$old_extras" "$want_extras")"
        spec="$MYNA_ROOT"
        [ -n "$extras" ] && spec="$MYNA_ROOT[$extras]"
        myna_log "pip install -e '.${extras:+[$extras]}' into $MYNA_VENV (pyproject.toml changed, an extra is missing, or first run; takes a while)"
        # PIP_NO_INPUT: CI has no stdin; never wait for a prompt.
        PIP_NO_INPUT=1 "$MYNA_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec" || return 1
        printf '%s extras=%s\n' "$hash" "$extras" >"$stamp"
    fi

    if [ -n "${_myna_lock_fd:-}" ]; then
        exec {_myna_lock_fd}>&-
        unset _myna_lock_fd
    fi

    # Use the venv for everything that follows (python, pytest, the `myna` command).
    export VIRTUAL_ENV="$MYNA_VENV"
    export PATH="$MYNA_VENV/bin:$PATH"
    hash -r
}
