#!/usr/bin/env bash
# Install jupyter-tunnels with JupyterLab into .venv and open the quickstart notebook: the
# server extension runs the hub embedded in Jupyter (SQLite in the Jupyter data directory).
# Usage: bash scripts/demo.sh [JupyterLab options, e.g. --port 9999 --no-browser]
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
"$VENV/bin/python" -m pip install --quiet -e ".[lab,fast]"

JUPYTER=$(cd "$VENV/bin" && pwd)/jupyter
ARGS=(--ServerApp.ip=127.0.0.1)
if [ "$(id -u)" = 0 ]; then
  ARGS+=(--allow-root)  # containers and CI machines run as root
fi
cd notebooks  # JupyterLab's file browser starts here, with the notebook open
exec "$JUPYTER" lab "${ARGS[@]}" "$@" quickstart.ipynb
