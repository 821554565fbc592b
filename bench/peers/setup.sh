#!/usr/bin/env bash
# Create the separate peer environment for bench/bench_dtw.py at bench/.venv-peers.
#
# The Sync Toolbox pins old numba/numpy (numba<0.60, numpy<2 in places), which cannot live in
# alignkit's own environment, so every peer runs here, in its own venv, called by subprocess.
# Each peer is installed on its own so one that fails does not stop the others; the summary
# at the end says what installed. Usage: bash bench/peers/setup.sh [python-executable]
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/../.venv-peers"
PY="${1:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV" || { echo "cannot create $VENV with $PY"; exit 1; }
fi
PIP="$VENV/bin/python -m pip install --disable-pip-version-check -q --no-warn-script-location"
$PIP --upgrade pip setuptools wheel >/dev/null 2>&1 || true
# the Sync Toolbox first: it decides numpy/numba for the whole environment
status=()
try() { # name, pip arguments...
  local name="$1"; shift
  if $PIP "$@"; then status+=("$name: installed"); else status+=("$name: FAILED ($*)"); fi
}
try synctoolbox "synctoolbox==1.4.2"
try librosa "librosa"
try libfmp "libfmp"
try dtaidistance "dtaidistance"
echo "== peer environment $VENV"
for s in "${status[@]}"; do echo "  $s"; done
"$VENV/bin/python" - <<'PY'
import importlib
for mod in ["numpy", "numba", "scipy", "librosa", "libfmp", "dtaidistance", "synctoolbox"]:
    try:
        m = importlib.import_module(mod)
        print(f"  import {mod:13s} {getattr(m, '__version__', '?')}")
    except Exception as exc:  # report and go on: the benchmark skips what is missing
        print(f"  import {mod:13s} FAILED: {type(exc).__name__}: {exc}")
try:
    from dtaidistance import dtw
    print("  dtaidistance C library:", "yes" if dtw.try_import_c() else "no")
except Exception as exc:
    print("  dtaidistance C library: no", exc)
PY
