# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
# Shared set-up for bin/run, bin/test and bin/bench: sourced, not executed.
#
# Finds Odoo 18.0 (ODOO_SRC, else a fixed default outside the repository), makes sure
# PostgreSQL runs and knows the current user, prepares a virtual environment with the
# pinned requirements, and links this checkout under the name `mass_mailing_sms` so
# that bin/odoo loads it in front of Odoo's own addon of the same name.

set -euo pipefail

MMS_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
MMS_CACHE="${MMS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mass_mailing_sms}"
MMS_DEFAULT_ODOO_SRC="/opt/odoo-18.0"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}"

mms_die() {
    echo "error: $*" >&2
    exit 2
}

mms_say() {
    echo "[mass_mailing_sms] $*" >&2
}

# --- Odoo source -------------------------------------------------------------
mms_find_odoo() {
    local candidate
    for candidate in "${ODOO_SRC:-}" "$MMS_DEFAULT_ODOO_SRC" "$HOME/odoo-18.0" "$HOME/odoo"; do
        [ -n "$candidate" ] || continue
        if [ -f "$candidate/odoo/release.py" ] && [ -f "$candidate/odoo-bin" ]; then
            if grep -q "^version_info = (18, 0," "$candidate/odoo/release.py"; then
                ODOO_SRC="$(cd "$candidate" && pwd -P)"
                export ODOO_SRC
                return 0
            fi
            mms_say "ignoring $candidate: not Odoo 18.0"
        fi
    done
    mms_die "Odoo 18 source not found: set ODOO_SRC to an Odoo 18.0 source tree" \
        "(a folder holding odoo-bin and odoo/), or extract one to $MMS_DEFAULT_ODOO_SRC"
}

# Addon folders of the Odoo tree: git checkout (addons/ beside odoo/) or packaged build.
mms_odoo_addons_path() {
    local paths="$ODOO_SRC/odoo/addons"
    [ -d "$ODOO_SRC/addons" ] && paths="$ODOO_SRC/addons,$paths"
    echo "$paths"
}

# --- Python ------------------------------------------------------------------
mms_find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3.10 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" > /dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))'; then
            MMS_PYTHON="$(command -v "$candidate")"
            return 0
        fi
    done
    mms_die "Python 3.10 to 3.12 not found: install python3.11 (Debian: apt-get install python3 python3-venv)"
}

# Create (once) a virtual environment for a requirements file; prints its path.
mms_make_venv() {
    local name="$1" requirements="$2" key venv
    key="$(cat "$requirements" | "$MMS_PYTHON" -c 'import hashlib, sys; print(hashlib.sha1(sys.stdin.buffer.read() + sys.version.encode()).hexdigest()[:12])')"
    venv="$MMS_CACHE/$name-$key"
    if [ ! -f "$venv/.complete" ]; then
        mms_say "preparing the virtual environment $venv (first run only)"
        rm -rf "$venv"
        "$MMS_PYTHON" -m venv "$venv" >&2 \
            || mms_die "cannot create a virtual environment (Debian: apt-get install python3-venv)"
        mms_pip "$venv" "setuptools<70" wheel || mms_die "pip could not install setuptools and wheel"
        mms_pip "$venv" --no-build-isolation -r "$requirements" \
            || mms_die "pip could not install $(basename "$requirements") (see the messages above)"
        touch "$venv/.complete"
    fi
    echo "$venv"
}

mms_pip() {
    local venv="$1"
    shift
    "$venv/bin/pip" install -q --disable-pip-version-check "$@" 2>&1 \
        | grep -v "^WARNING: Location .* is ignored" >&2
    return "${PIPESTATUS[0]}"
}

# The runtime environment (Odoo's packages) on PATH, the static checks' one in MMS_LINT_VENV.
mms_venv() {
    mms_find_python
    mms_apt_install_missing libpq-dev:pg_config gcc:gcc libxml2-dev:xml2-config \
        libxslt1-dev:xslt-config libsasl2-dev:- libldap2-dev:- libjpeg-dev:- zlib1g-dev:-
    MMS_VENV="$(mms_make_venv venv "$MMS_REPO/requirements.txt")"
    MMS_LINT_VENV="$(mms_make_venv lint "$MMS_REPO/requirements-dev.txt")"
    export PATH="$MMS_VENV/bin:$PATH"
}

# Install Debian packages whose probe command is missing ("pkg:command", "-" = always check dpkg).
mms_apt_install_missing() {
    local spec pkg probe missing=()
    for spec in "$@"; do
        pkg="${spec%%:*}"
        probe="${spec#*:}"
        if [ "$probe" = "-" ]; then
            dpkg -s "$pkg" > /dev/null 2>&1 || missing+=("$pkg")
        else
            command -v "$probe" > /dev/null 2>&1 || missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    mms_apt_install "${missing[@]}"
}

mms_apt_install() {
    command -v apt-get > /dev/null 2>&1 || mms_die "missing $*: install them (no apt-get on this system)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    mms_say "installing Debian packages: $*"
    $sudo apt-get update -q > /dev/null || mms_die "apt-get update failed: cannot install $*"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "$@" > /dev/null \
        || mms_die "apt-get could not install $*"
}

# --- PostgreSQL --------------------------------------------------------------
mms_postgres() {
    if ! command -v pg_isready > /dev/null 2>&1; then
        mms_apt_install postgresql postgresql-client
    fi
    if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
        if command -v pg_ctlcluster > /dev/null 2>&1 && [ -d /etc/postgresql ]; then
            local version
            for version in $(ls /etc/postgresql); do
                mms_say "starting PostgreSQL $version"
                pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
            done
        fi
        local _
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            pg_isready -q -h "$PGHOST" -p "$PGPORT" && break
            sleep 1
        done
        pg_isready -q -h "$PGHOST" -p "$PGPORT" \
            || mms_die "PostgreSQL is not running on $PGHOST:$PGPORT and could not be started"
    fi
    local user
    user="$(id -un)"
    if ! psql -d postgres -tAc "SELECT 1" > /dev/null 2>&1; then
        mms_say "creating the PostgreSQL role $user"
        if [ "$(id -u)" -eq 0 ] || command -v sudo > /dev/null 2>&1; then
            su postgres -c "createuser --superuser '$user'" 2> /dev/null \
                || sudo -u postgres createuser --superuser "$user" \
                || mms_die "cannot create the PostgreSQL role $user"
        else
            mms_die "PostgreSQL has no role $user: run 'createuser --superuser $user' as postgres"
        fi
    fi
}

# --- this addon under its technical name ---------------------------------------
mms_link_addon() {
    local key
    key="$(printf '%s' "$MMS_REPO" | cksum | cut -d' ' -f1)"
    MMS_ADDONS_DIR="$MMS_CACHE/addons-$key"
    mkdir -p "$MMS_ADDONS_DIR"
    ln -sfn "$MMS_REPO" "$MMS_ADDONS_DIR/mass_mailing_sms"
    export MMS_ADDONS_DIR MMS_REPO
}

# Everything the run and test commands need, in order.
mms_setup() {
    mms_find_odoo
    mms_venv
    mms_postgres
    mms_link_addon
    MMS_ADDONS_PATH="$MMS_ADDONS_DIR,$(mms_odoo_addons_path)"
}

# Odoo's command line with our addon in front (see bin/odoo_launcher.py).
mms_odoo() {
    python "$MMS_REPO/bin/odoo_launcher.py" "$@"
}
