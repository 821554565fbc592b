#!/usr/bin/env bash
# Start alignkit Dask workers on this machine: one single-threaded process per core.
#   PREFECT_API_URL=http://prefect-host:4200/api cluster/dask-ssh/start-worker.sh tcp://scheduler:8786 [n_procs] [gpus]
# With gpus > 0 the worker advertises the resource GPU=<gpus>, so GPU alignment tasks (--gpus 1) land here.
set -euo pipefail
addr="${1:?scheduler address, e.g. tcp://scheduler:8786}"
nprocs="${2:-$(nproc)}"
gpus="${3:-0}"
: "${PREFECT_API_URL:?set PREFECT_API_URL to the shared Prefect server (http://host:4200/api)}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export PREFECT_LOGGING_LEVEL="${PREFECT_LOGGING_LEVEL:-WARNING}" DASK_LOGGING__DISTRIBUTED=warning
extra=()
if [ "$gpus" != "0" ]; then extra+=(--resources "GPU=$gpus"); fi
exec dask worker "$addr" --nworkers "$nprocs" --nthreads 1 --memory-limit auto "${extra[@]}"
