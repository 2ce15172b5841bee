#!/usr/bin/env bash
# Install everything the tests need into .venv and run the whole suite: lint, format, types, tests.
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[test]"

export PATH="$PWD/$VENV/bin:$PATH"

echo "== ruff check"
ruff check jupyter_tunnels tests
echo "== ruff format --check"
ruff format --check jupyter_tunnels tests
echo "== mypy --strict"
mypy
echo "== pytest"
pytest "$@"
