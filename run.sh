#!/usr/bin/env bash
# alignkit's one entry point. Sets itself up on first use (a .venv beside this file), then:
#   ./run.sh demo [options]   build the demo corpus and run it through the whole flow
#   ./run.sh test [pytest args]  run the test suite (default: everything but slow/gpu tests)
#   ./run.sh setup            only (re)install
#   ./run.sh <anything else>  runs the alignkit CLI, e.g. ./run.sh query demo_out/store "SELECT 1"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

# Small matrix products on few cores are much slower with many BLAS threads; numba and
# the cluster workers get their parallelism from processes instead.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"

bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate

cmd="${1:-demo}"
[ $# -gt 0 ] && shift
case "$cmd" in
  setup) ;;
  test) exec python -m pytest "$@" ;;
  demo) exec alignkit demo "$@" ;;
  *) exec alignkit "$cmd" "$@" ;;
esac
