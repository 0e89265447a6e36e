#!/usr/bin/env bash
# Prepare the two Python environments the headless Blender tests (tests/blender) run in.
#
#   bash scripts/setup_blender_tests.sh
#
# * .venv       (the main venv, made by scripts/setup.sh) gets bpy 5.0.1: the newest Blender
#               whose PyPI wheel is built for Python 3.11.
# * .venv-bpy42 gets bpy 4.2.x (the 4.2 LTS line, the extension's minimum), numpy<2 and pytest.
#               It never gets torch: the add-on must work without it, and this venv proves it.
#
# Safe to run again: existing venvs are reused and satisfied requirements are left alone.
# Environment: PYTHON (default python3.11), BPY_MAIN_SPEC, BPY42_SPEC.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BPY_MAIN_SPEC="${BPY_MAIN_SPEC:-bpy==5.0.1}"
BPY42_SPEC="${BPY42_SPEC:-bpy==4.2.23}"
PYTHON="${PYTHON:-python3.11}"

say() { printf '[setup-blender] %s\n' "$*"; }
die() { printf '[setup-blender] error: %s\n' "$*" >&2; exit 1; }

has_req() {  # has_req VENV_PYTHON REQUIREMENT: is it installed and satisfied?
    "$1" - "$2" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
from packaging.requirements import Requirement
req = Requirement(sys.argv[1])
sys.exit(0 if req.specifier.contains(version(req.name), prereleases=True) else 1)
EOF
}

ensure() {  # ensure VENV_PYTHON REQUIREMENT...: pip install the ones that are not satisfied
    local py="$1"; shift
    local missing=() req
    for req in "$@"; do
        has_req "$py" "$req" || missing+=("$req")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]} into $(dirname "$(dirname "$py")")"
        "$py" -m pip install -q "${missing[@]}"
    fi
}

[[ -x .venv/bin/python ]] || die ".venv is missing: run scripts/setup.sh first."
.venv/bin/python -c 'import packaging' 2>/dev/null || .venv/bin/python -m pip install -q packaging
ensure .venv/bin/python "$BPY_MAIN_SPEC" pytest

V42=.venv-bpy42
if [[ ! -x "$V42/bin/python" ]]; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (the bpy wheels need 3.11)."
    say "creating $V42 with $PYTHON"
    "$PYTHON" -m venv "$V42"
fi
"$V42/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 11)' \
    || die "$V42 is not a Python 3.11 venv; remove it and run again."
"$V42/bin/python" -c 'import packaging' 2>/dev/null || "$V42/bin/python" -m pip install -q packaging
ensure "$V42/bin/python" "$BPY42_SPEC" "numpy<2" pytest
if "$V42/bin/python" -c 'import torch' 2>/dev/null; then
    die "$V42 has torch installed; the add-on tests must run without it (remove the venv)."
fi
say "ok: .venv ($BPY_MAIN_SPEC) and $V42 ($BPY42_SPEC)"
