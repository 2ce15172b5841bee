#!/usr/bin/env bash
# Install everything the tests need into .venv and run the whole suite: lint, format, types, tests.
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$VENV"  # missing or half-made (python3-venv absent the first time): start over
  "$PYTHON" -m venv "$VENV" || {
    echo "cannot create $VENV: on Debian, apt-get install -y python3-venv" >&2
    exit 1
  }
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[test]"

VENV_BIN=$(cd "$VENV/bin" && pwd)
export PATH="$VENV_BIN:$PATH"

echo "== ruff check"
ruff check jupyter_tunnels tests
echo "== ruff format --check"
ruff format --check jupyter_tunnels tests
echo "== mypy --strict"
mypy
echo "== pytest"
pytest --ignore=tests/jupyter "$@"
echo "== pytest: the server extension (pytest-jupyter runs every async test of its session)"
pytest -p pytest_jupyter.jupyter_server tests/jupyter "$@"
