#!/usr/bin/env bash
# Create or refresh .venv with alignkit and everything its demo and tests need.
# Idempotent: does nothing when pyproject.toml and this script have not changed since the last install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "alignkit needs Python 3.11 or newer (found: $("$PY" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
stamp=.venv/.alignkit-installed
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
echo "alignkit: setting up .venv (first run takes a few minutes)..." >&2
if [ ! -x .venv/bin/python ] && ! "$PY" -m venv .venv; then
  rm -rf .venv
  echo "alignkit: '$PY -m venv' failed; install Python's venv module (Debian/Ubuntu: apt-get install python3-venv)." >&2
  exit 1
fi
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
# torch is pinned to 2.13.0 in pyproject.toml (a CPU wheel on these machines; on other
# Linux machines PyPI serves the CUDA build).
.venv/bin/python -m pip install -q -e ".[all,dev]"
# tinysoundfont (the demo's SoundFont synthesizer) declares pyaudio, which needs system
# headers to build and which alignkit never uses (it renders offline): install without deps.
.venv/bin/python -m pip install -q --no-deps "tinysoundfont==0.3.7"
echo "$want" > "$stamp"
