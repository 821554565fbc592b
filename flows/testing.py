"""Helpers for tests and benchmarks of the flows: one shared Prefect API, CLI-started clusters.

:func:`shared_prefect_api` starts one Prefect server per process (stopped at exit) and
exports its URL, so every runner opened afterwards reuses it instead of paying the
10-50 s start-up again. :func:`dask_cli_cluster` starts a real multi-process Dask cluster
with the ``dask scheduler`` / ``dask worker`` command-line tools on 127.0.0.1, exactly as
on several machines, and yields the worker processes so a test can kill one by its PID.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from flows.server import WORKER_ENV, _free_port, _stop, quiet_environment, start_server

__all__ = ["shared_prefect_api", "dask_cli_cluster", "DaskCLICluster"]

_SERVER: dict = {}


def shared_prefect_api(*, home: str | os.PathLike | None = None) -> str:
    """Start (once per process) a Prefect server, export ``PREFECT_API_URL``; return the URL."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    if "url" not in _SERVER:
        quiet_environment()
        home = home or tempfile.mkdtemp(prefix="alignkit-test-prefect-")
        proc, url = start_server(home=home)
        _SERVER.update(proc=proc, url=url)
        atexit.register(_stop, proc)
    os.environ["PREFECT_API_URL"] = _SERVER["url"]
    return _SERVER["url"]


class DaskCLICluster:
    """A scheduler and worker processes started with the Dask CLIs (see :func:`dask_cli_cluster`)."""

    def __init__(self, address: str, scheduler: subprocess.Popen, workers: list[subprocess.Popen],
                 env: dict):
        self.address, self.scheduler, self.workers, self.env = address, scheduler, workers, env

    def worker_pids(self) -> list[int]:
        """PIDs of the live worker processes."""
        return [w.pid for w in self.workers if w.poll() is None]

    def kill_worker(self, pid: int | None = None) -> int:
        """SIGKILL one worker process (the first live one by default); return its PID."""
        pid = pid or self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def add_worker(self) -> int:
        """Start one more worker process; return its PID."""
        w = _start_worker(self.address, self.env)
        self.workers.append(w)
        return w.pid


def _dask_bin(name: str) -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    return [str(exe), name] if exe.exists() else [sys.executable, "-m", "distributed.cli.dask_" + name]


def _start_worker(address: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        _dask_bin("worker") + [address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                               "--no-dashboard", "--death-timeout", "60", "--memory-limit", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True)


@contextlib.contextmanager
def dask_cli_cluster(n_workers: int = 2, *, timeout: float = 120.0) -> Iterator[DaskCLICluster]:
    """Start ``dask scheduler`` and ``n_workers`` ``dask worker`` processes on 127.0.0.1.

    Workers run without a nanny, so killing one's PID really loses the worker. They inherit
    ``os.environ`` (call :func:`shared_prefect_api` first so they see ``PREFECT_API_URL``)
    plus the one-thread settings and the repository on ``PYTHONPATH``.
    """
    from distributed import Client

    repo = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, **WORKER_ENV, "DASK_LOGGING__DISTRIBUTED": "error",
           "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "5",
           "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    sched = subprocess.Popen(
        _dask_bin("scheduler") + ["--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True)
    workers: list[subprocess.Popen] = []
    try:
        workers = [_start_worker(address, env) for _ in range(n_workers)]
        t0 = time.monotonic()
        while True:
            try:
                with Client(address, timeout=10) as c:
                    c.wait_for_workers(n_workers, timeout=max(1.0, timeout - (time.monotonic() - t0)))
                break
            except OSError:
                if time.monotonic() - t0 > timeout:
                    raise
                time.sleep(0.5)
        yield DaskCLICluster(address, sched, workers, env)
    finally:
        for p in workers + [sched]:
            if p.poll() is None:
                p.terminate()
        for p in workers + [sched]:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
