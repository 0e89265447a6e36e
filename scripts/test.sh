#!/usr/bin/env bash
# Set up the environment, lint, and run the tests. Extra arguments go to pytest.
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -k motion  # a subset
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

echo "[test] ruff check ."
.venv/bin/python -m ruff check .

echo "[test] pytest $*"
.venv/bin/python -m pytest "$@"
