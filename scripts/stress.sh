#!/usr/bin/env bash
# Run the suites that race most (the server extension, the connector, the data plane) several
# times in a row on a machine whose CPU is kept busy, stopping at the first failure.
# Usage: bash scripts/stress.sh [--runs N] [--burners N] [extra pytest arguments]
#   (or bash scripts/test.sh --stress ..., which installs .venv first; docs/testing.md)
# Defaults: 10 runs (STRESS_RUNS), one burner per core (STRESS_BURNERS).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${STRESS_RUNS:-10}
BURNERS=${STRESS_BURNERS:-$(nproc)}
PYTEST_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --runs=*) RUNS=${1#--runs=}; shift ;;
    --burners) BURNERS=$2; shift 2 ;;
    --burners=*) BURNERS=${1#--burners=}; shift ;;
    *) PYTEST_ARGS+=("$1"); shift ;;
  esac
done
for number in "$RUNS" "$BURNERS"; do
  if ! [[ "$number" =~ ^[0-9]+$ ]]; then
    echo "stress: --runs and --burners take a whole number, not '$number'" >&2
    exit 2
  fi
done

VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/pytest" ]; then
  echo "stress: no $VENV/bin/pytest: run bash scripts/test.sh --stress (it installs $VENV)" >&2
  exit 1
fi
VENV_BIN=$(cd "$VENV/bin" && pwd)
export PATH="$VENV_BIN:$PATH"

# The load: busy loops, one per core by default, always killed on the way out (pass, fail,
# Ctrl-C), so a stress run never leaves a machine spinning.
BURNER_PIDS=()
stop_burners() {
  if [ ${#BURNER_PIDS[@]} -gt 0 ]; then
    kill "${BURNER_PIDS[@]}" 2>/dev/null || true
    wait "${BURNER_PIDS[@]}" 2>/dev/null || true
    BURNER_PIDS=()
  fi
}
trap stop_burners EXIT
trap 'stop_burners; exit 130' INT
trap 'stop_burners; exit 143' TERM
for _ in $(seq 1 "$BURNERS"); do
  python -c 'while True: pass' &
  BURNER_PIDS+=($!)
done
echo "== stress: $RUNS run(s) with $BURNERS CPU burner(s) (pids ${BURNER_PIDS[*]:-none})"

SUITES=(
  "the server extension|-p pytest_jupyter.jupyter_server tests/jupyter"
  "the connector and the data plane|tests/connector tests/hub/ingress tests/wire"
)
for run in $(seq 1 "$RUNS"); do
  for suite in "${SUITES[@]}"; do
    name=${suite%%|*}
    read -r -a args <<<"${suite#*|}"
    echo "== stress run $run/$RUNS: $name (pytest ${args[*]})"
    if ! pytest "${args[@]}" "${PYTEST_ARGS[@]}"; then
      echo "== stress: run $run/$RUNS failed in $name (pytest ${args[*]} ${PYTEST_ARGS[*]})" >&2
      exit 1
    fi
  done
done
echo "== stress: all $RUNS run(s) passed"
