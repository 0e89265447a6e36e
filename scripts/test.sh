#!/usr/bin/env bash
# Set up the environment, lint, and run the tests. Extra arguments go to pytest.
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -k motion  # a subset
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

# The speech tests use real speech spoken by espeak-ng (a Debian package).
if ! command -v espeak-ng >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "[test] installing espeak-ng (apt-get)"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq espeak-ng >/dev/null
    else
        echo "[test] espeak-ng is missing: install it (e.g. sudo apt-get install espeak-ng)" >&2
        exit 1
    fi
fi

echo "[test] ruff check ."
.venv/bin/python -m ruff check .

echo "[test] pytest $*"
.venv/bin/python -m pytest --ignore=tests/blender "$@"

# --- Blender: the add-on's headless tests, once per bpy wheel, each in its own process ---
# (bpy can be imported once per process; .venv has bpy 5.0.1, .venv-bpy42 has bpy 4.2.x and
# no torch). --confcutdir keeps tests/conftest.py (which imports torch) out of these runs.
# Extra arguments are not passed on: they select main tests. RAG_GESTURE_SKIP_BLENDER=1 skips.
if [[ "${RAG_GESTURE_SKIP_BLENDER:-0}" != "1" ]]; then
    bash scripts/setup_blender_tests.sh
    blender_status=0
    for venv in .venv .venv-bpy42; do
        profile="$(mktemp -d "${TMPDIR:-/tmp}/rag_gesture_blender.XXXXXX")"
        echo "[test] blender tests with $venv"
        HOME="$profile" BLENDER_USER_RESOURCES="$profile" \
            "$venv/bin/python" -m pytest tests/blender --confcutdir=tests/blender -p no:cacheprovider \
            || blender_status=1
        rm -rf "$profile"
    done
    if [[ $blender_status -ne 0 ]]; then
        echo "[test] blender tests failed" >&2
        exit 1
    fi
fi
