#!/usr/bin/env bash
# Install jupyter-tunnels into .venv and start the demo: a local hub, its URL, a token, and
# commands to try it. Usage: bash scripts/demo.sh [demo options, e.g. --port 9000]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

# A venv whose creation failed half-way has a python but no pip: make it again.
if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  if ! "$PYTHON" -m venv --clear "$VENV"; then
    echo "demo.sh: cannot create $VENV with $PYTHON;" \
      "on Debian or Ubuntu: sudo apt-get install python3-venv" >&2
    exit 1
  fi
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e .

exec "$VENV/bin/jupyter-tunnels" demo "$@"
