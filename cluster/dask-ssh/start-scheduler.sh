#!/usr/bin/env bash
# Start the Dask scheduler for alignkit on this machine.
#   PREFECT_API_URL=http://prefect-host:4200/api cluster/dask-ssh/start-scheduler.sh [port]
set -euo pipefail
port="${1:-8786}"
: "${PREFECT_API_URL:?set PREFECT_API_URL to the shared Prefect server (http://host:4200/api)}"
export DASK_LOGGING__DISTRIBUTED=warning
# a worker lost mid-task is rescheduled; give up on a task only after it killed 5 workers
export DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=5
exec dask scheduler --port "$port" --dashboard-address :8787
