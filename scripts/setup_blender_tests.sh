#!/usr/bin/env bash
# Prepare the Python environments the headless Blender tests (tests/blender) run in, one per
# Blender version people use, and the Python 3.13 backend.
#
#   bash scripts/setup_blender_tests.sh
#
# * .venv        (the main venv, made by scripts/setup.sh) gets bpy 5.0.1: the newest Blender
#                whose PyPI wheel is built for Python 3.11.
# * .venv-bpy42  bpy 4.2.x (the 4.2 LTS line, the extension's minimum), numpy<2 and pytest.
# * .venv-bpy45  bpy 4.5.x (the 4.5 LTS line), numpy<2 and pytest.
#                Neither gets torch: the add-on must work without it, and these venvs prove it.
# * the Python 3.13 venv ($RAG_GESTURE_PY313_VENV, default .venv-py313): bpy 5.3.0 (Blender
#   5.1+ ship Python 3.13) and the backend's dependencies with the test and batch (Ray) extras
#   (torch from PyPI: its 3.13 wheel is the CUDA build, ~4.7 GB, that runs on the CPU too; the
#   5.3 suite's batch FBX export runs Ray on this worker), so the backend is tested on 3.13 and
#   the 5.3 suite runs against a 3.13 worker, as "Set up backend" makes it with Blender 5.3's
#   own Python. The backend itself is not installed there: tests put the checkout on
#   PYTHONPATH, so the venv can live outside the checkout and be reused (.ci/run does).
#   Python 3.13 is looked for as $PYTHON313, then under `pyenv root`, then on the PATH (each
#   candidate must really run as 3.13: a pyenv shim of an unselected version does not). When
#   there is none, or the backend cannot be installed, this says so and the tests skip those
#   runs with a message; the rest still runs.
#
# Safe to run again: existing venvs are reused and satisfied requirements are left alone.
# Environment: PYTHON (default python3.11), PYTHON313, RAG_GESTURE_PY313_VENV, BPY_MAIN_SPEC,
# BPY42_SPEC, BPY45_SPEC, BPY53_SPEC.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BPY_MAIN_SPEC="${BPY_MAIN_SPEC:-bpy==5.0.1}"
BPY42_SPEC="${BPY42_SPEC:-bpy==4.2.23}"
BPY45_SPEC="${BPY45_SPEC:-bpy==4.5.15}"
BPY53_SPEC="${BPY53_SPEC:-bpy==5.3.0}"
PYTHON="${PYTHON:-python3.11}"
V313="${RAG_GESTURE_PY313_VENV:-$ROOT/.venv-py313}"

say() { printf '[setup-blender] %s\n' "$*"; }
die() { printf '[setup-blender] error: %s\n' "$*" >&2; exit 1; }

has_req() {  # has_req VENV_PYTHON REQUIREMENT: is it installed and satisfied?
    "$1" - "$2" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
from packaging.requirements import Requirement
req = Requirement(sys.argv[1])
if req.marker is not None and not req.marker.evaluate():
    sys.exit(0)
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

is_version() {  # is_version PYTHON 3.13
    [[ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == "$2" ]]
}

find_python313() {  # prints the interpreter, or nothing
    local cand root
    if [[ -n "${PYTHON313:-}" ]]; then
        is_version "$PYTHON313" 3.13 && { printf '%s\n' "$PYTHON313"; return; }
        say "PYTHON313=$PYTHON313 is not a working Python 3.13" >&2
    fi
    if command -v pyenv >/dev/null 2>&1 && root="$(pyenv root 2>/dev/null)"; then
        for cand in $(ls -d "$root"/versions/3.13.* 2>/dev/null | sort -V -r); do
            is_version "$cand/bin/python3.13" 3.13 && { printf '%s\n' "$cand/bin/python3.13"; return; }
        done
    fi
    for cand in python3.13 python3; do
        if command -v "$cand" >/dev/null 2>&1 && is_version "$cand" 3.13; then
            command -v "$cand"
            return
        fi
    done
}

venv_for() {  # venv_for DIR BASE_PYTHON VERSION: create when missing, check the version
    local dir="$1" base="$2" version="$3"
    if [[ ! -x "$dir/bin/python" ]]; then
        say "creating $dir with $base"
        "$base" -m venv "$dir"
    fi
    is_version "$dir/bin/python" "$version" || die "$dir is not a Python $version venv; remove it and run again."
    "$dir/bin/python" -c 'import packaging' 2>/dev/null || "$dir/bin/python" -m pip install -q packaging
}

[[ -x .venv/bin/python ]] || die ".venv is missing: run scripts/setup.sh first."
is_version .venv/bin/python 3.11 || die ".venv is not Python 3.11, which the bpy 5.0 wheel needs; make it with PYTHON=python3.11 bash scripts/setup.sh."
.venv/bin/python -c 'import packaging' 2>/dev/null || .venv/bin/python -m pip install -q packaging
ensure .venv/bin/python "$BPY_MAIN_SPEC" pytest

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (the bpy 4.2-5.0 wheels need 3.11)."
for pair in ".venv-bpy42 $BPY42_SPEC" ".venv-bpy45 $BPY45_SPEC"; do
    read -r dir spec <<<"$pair"
    venv_for "$dir" "$PYTHON" 3.11
    ensure "$dir/bin/python" "$spec" "numpy<2" pytest
    if "$dir/bin/python" -c 'import torch' 2>/dev/null; then
        die "$dir has torch installed; the add-on tests must run without it (remove the venv)."
    fi
done

# --- Python 3.13: bpy 5.3 and the backend ---
PY313="$(find_python313 || true)"
if [[ -z "$PY313" ]]; then
    say "SKIPPING Blender 5.3 and the Python 3.13 backend: no Python 3.13 found (set PYTHON313=/path/to/python3.13, or install 3.13 with pyenv)"
    exit 0
fi
venv_for "$V313" "$PY313" 3.13
ensure "$V313/bin/python" "$BPY53_SPEC" pytest
deps="$(mktemp)"
trap 'rm -f "$deps"' EXIT
"$V313/bin/python" - >"$deps" <<'EOF'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = project["optional-dependencies"]
print("\n".join(project["dependencies"] + extras["test"] + extras["batch"]))
EOF
mapfile -t reqs <"$deps"
if ! ensure "$V313/bin/python" "${reqs[@]}" >"$deps.log" 2>&1; then
    say "the Python 3.13 backend cannot be installed here; its tests will be skipped:"
    tail -n 5 "$deps.log" | sed 's/^/[setup-blender]   /'
fi
cat "$deps.log" | grep -v "is ignored" || true
rm -f "$deps.log"
say "ok: .venv ($BPY_MAIN_SPEC), .venv-bpy42 ($BPY42_SPEC), .venv-bpy45 ($BPY45_SPEC), $V313 ($BPY53_SPEC, $("$V313/bin/python" -c 'import platform; print("Python", platform.python_version())'))"
