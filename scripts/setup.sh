#!/usr/bin/env bash
# Create (if missing) the project virtualenv in <repo>/.venv and install the backend into it.
#
#   bash scripts/setup.sh
#
# Environment:
#   PYTHON           interpreter used to create .venv: Python 3.11, 3.12 or 3.13 (default:
#                    python3.11, else python3.13, python3.12, python3 when supported; the
#                    Blender tests need 3.11 here, for the bpy 5.0 wheel)
#   TORCH_SPEC       torch requirement installed first (default: the pin in pyproject.toml)
#   TORCH_INDEX_URL  optional package index for torch, e.g. for an NVIDIA GPU:
#                      TORCH_SPEC=torch==2.13.0 TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 \
#                        bash scripts/setup.sh
#
# Safe to run again: an existing .venv is reused and satisfied requirements are left alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
# The pinned torch, read from pyproject.toml (its home is rag_gesture_shared/requirements.py;
# tests/shared/test_requirements.py keeps the two equal).
torch_pin() {
    sed -n 's/^ *"\(torch==[^"]*\)",*$/\1/p' "${ROOT:-.}/pyproject.toml" | head -n 1
}
TORCH_SPEC="${TORCH_SPEC:-$(torch_pin)}"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-}"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

[[ -n "$TORCH_SPEC" ]] || die "no torch pin found in pyproject.toml"

is_supported() {  # the backend runs on Python 3.11 to 3.13 (pyproject.toml requires-python)
    case "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" in
        3.11|3.12|3.13) return 0 ;;
        *) return 1 ;;
    esac
}

find_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        is_supported "$PYTHON" || die "PYTHON=$PYTHON is not a working Python 3.11, 3.12 or 3.13."
        printf '%s\n' "$PYTHON"
        return
    fi
    local cand
    for cand in python3.11 python3.13 python3.12 python3; do
        if command -v "$cand" >/dev/null 2>&1 && is_supported "$cand"; then
            command -v "$cand"
            return
        fi
    done
    die "Python 3.11, 3.12 or 3.13 is required, but none of python3.11, python3.13, python3.12 \
or python3 is one that runs. Install one, or set PYTHON=/path/to/python3.X."
}

if [[ -x "$VPY" ]]; then
    is_supported "$VPY" || die "$VENV exists but is not a Python 3.11-3.13 environment; remove it and run again."
    say "using existing virtualenv $VENV"
else
    [[ -e "$VENV" ]] && die "$VENV exists but has no bin/python; remove it and run again."
    PY="$(find_python)"
    say "creating virtualenv $VENV with $PY"
    "$PY" -m venv "$VENV"
fi

# torch first, pinned, so that resolving the other requirements never pulls a different build.
if [[ -n "$TORCH_INDEX_URL" ]]; then
    say "installing $TORCH_SPEC from $TORCH_INDEX_URL"
    "$VPY" -m pip install -q "$TORCH_SPEC" --index-url "$TORCH_INDEX_URL"
else
    say "installing $TORCH_SPEC"
    "$VPY" -m pip install -q "$TORCH_SPEC"
fi

say "installing rag-gesture-blender (editable) with the test and batch (Ray) extras"
"$VPY" -m pip install -q -e ".[test,batch]"

"$VPY" - <<'PY'
import torch

print(f"[setup] torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
PY
say "done: $VENV/bin/rag-gesture is ready"
