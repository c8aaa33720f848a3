#!/usr/bin/env bash
# The conformance suite: the real Azure SDK for Python against `privlink serve`.
#
#   conformance/run.sh [pytest args...]      e.g. conformance/run.sh -k peering -v
#
# Environment:
#   PRIVLINK_VENV_DIR   the virtualenv to use (default ~/.cache/privlink/venv-conformance); created
#                       when missing, and (re)installed only when python/requirements.txt changed
#   PRIVLINK_AZCLI_VENV_DIR
#                       the Azure CLI's own virtualenv (default ~/.cache/privlink/venv-azcli; az pins
#                       its own azure-core, so it cannot share the SDK venv); azure-cli is installed
#                       there (two to three minutes) unless the pinned version already works in it
#   PRIVLINK_SKIP_AZCLI=1
#                       neither install nor run the Azure CLI tests (test_az_cli.py is skipped)
#   PRIVLINK_BIN        the privlink binary; default: `cargo build -p privlink` and use
#                       ${CARGO_TARGET_DIR:-target}/debug/privlink
#   PYTHON              the interpreter that creates the venv (default python3)
#   PRIVLINK_TEST_STORE=postgres + PRIVLINK_TEST_POSTGRES_URL, PRIVLINK_TEST_PROVISIONING:
#                       see conformance/python/helpers.py
#
# Exits non-zero when a test fails, and also when no test ran (nothing collected, everything
# deselected or skipped).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE="$ROOT/conformance/python"
REQUIREMENTS="$SUITE/requirements.txt"
VENV="${PRIVLINK_VENV_DIR:-$HOME/.cache/privlink/venv-conformance}"
AZCLI_VENV="${PRIVLINK_AZCLI_VENV_DIR:-$HOME/.cache/privlink/venv-azcli}"
# The Azure CLI version test_az_cli.py runs against; bump deliberately.
AZCLI_VERSION="2.91.0"
PYTHON="${PYTHON:-python3}"

log() { echo "conformance: $*" >&2; }

# ---- the virtualenv -----------------------------------------------------------------------
ensure_venv() {
    local want have=""
    want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        have="$(cat "$VENV/.privlink-requirements.sha256" 2>/dev/null || true)"
        if [ "$have" = "$want" ]; then
            return 0
        fi
    else
        log "creating virtualenv $VENV"
        mkdir -p "$VENV"
        # No --clear: never delete what is already in the directory.
        "$PYTHON" -m venv "$VENV"
    fi
    log "installing $(realpath --relative-to="$ROOT" "$REQUIREMENTS") into $VENV"
    rm -f "$VENV/.privlink-requirements.sha256"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$want" >"$VENV/.privlink-requirements.sha256"
}

# The Azure CLI in a virtualenv of its own. "Working" means: its python runs and has exactly
# azure-cli $AZCLI_VERSION installed (an `az version` would cost a second or more on every run).
ensure_azcli_venv() {
    local have=""
    if [ -x "$AZCLI_VENV/bin/python" ] && [ -x "$AZCLI_VENV/bin/az" ]; then
        have="$("$AZCLI_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("azure-cli"))' 2>/dev/null || true)"
        if [ "$have" = "$AZCLI_VERSION" ]; then
            return 0
        fi
    else
        log "creating virtualenv $AZCLI_VENV"
        mkdir -p "$AZCLI_VENV"
        "$PYTHON" -m venv "$AZCLI_VENV"
    fi
    log "installing azure-cli==$AZCLI_VERSION into $AZCLI_VENV${have:+ (had $have)} (takes two to three minutes)"
    "$AZCLI_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "azure-cli==$AZCLI_VERSION"
}

with_lock() {
    # Two runs at once must not install into the same venv concurrently.
    local dir="$1"
    shift
    if command -v flock >/dev/null 2>&1; then
        mkdir -p "$(dirname "$dir")"
        (
            flock 9
            "$@"
        ) 9>"$dir.lock"
    else
        "$@"
    fi
}

with_lock "$VENV" ensure_venv
if [ -n "${PRIVLINK_SKIP_AZCLI:-}" ] && [ "${PRIVLINK_SKIP_AZCLI}" != "0" ]; then
    log "PRIVLINK_SKIP_AZCLI set: the Azure CLI tests will be skipped"
else
    with_lock "$AZCLI_VENV" ensure_azcli_venv
    export PRIVLINK_AZ="$AZCLI_VENV/bin/az"
fi

# ---- the binary ---------------------------------------------------------------------------
if [ -z "${PRIVLINK_BIN:-}" ]; then
    target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"
    case "$target_dir" in
        /*) ;;
        *) target_dir="$ROOT/$target_dir" ;;
    esac
    log "building privlink (cargo build -p privlink)"
    (cd "$ROOT" && cargo build --quiet -p privlink)
    PRIVLINK_BIN="$target_dir/debug/privlink"
fi
if [ ! -x "$PRIVLINK_BIN" ]; then
    log "privlink binary not found: $PRIVLINK_BIN"
    exit 1
fi
PRIVLINK_BIN="$(realpath "$PRIVLINK_BIN")"
export PRIVLINK_BIN

# ---- the tests ----------------------------------------------------------------------------
report="$(mktemp "${TMPDIR:-/tmp}/privlink-conformance-XXXXXX.xml")"
trap 'rm -f "$report"' EXIT
cd "$ROOT"
started=$SECONDS
set +e
PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" -m pytest -q conformance/python --junitxml="$report" "$@"
status=$?
set -e
log "pytest exited $status after $((SECONDS - started))s"
if [ "$status" -ne 0 ]; then
    [ "$status" -eq 5 ] && log "no tests were collected or selected"
    exit "$status"
fi
# pytest exits 0 when every selected test was skipped: count what really ran.
ran="$("$VENV/bin/python" - "$report" <<'EOF'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
print(sum(int(s.get("tests", 0)) - int(s.get("skipped", 0)) for s in suites))
EOF
)"
if [ "$ran" -le 0 ]; then
    log "no test ran (all skipped or deselected): failing"
    exit 1
fi
log "$ran tests ran"
