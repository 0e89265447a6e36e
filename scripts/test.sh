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
.venv/bin/python -m pytest "$@"
