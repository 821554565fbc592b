"""One Prefect API for the whole run, started before any cluster.

Prefect always needs an API. Left alone, every process that runs a task (each Dask or
Ray worker) starts a temporary server of its own against the same SQLite file, which
turned 2-3 s flows into 20-46 s ones here. So alignkit starts exactly one server (or uses
``PREFECT_API_URL`` when the user already has one), exports its URL to the environment
*before* any worker process is spawned, and stops it at the end.

:func:`prefect_api` is the context manager the runners use; :func:`quiet_environment`
holds the settings that keep a run's output readable.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from alignkit.exceptions import BackendError

__all__ = ["QUIET_ENV", "WORKER_ENV", "quiet_environment", "prefect_api", "start_server", "wait_healthy"]

#: Settings that keep Prefect, Dask and Ray quiet (measured to work with Prefect 3.8).
QUIET_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    "DASK_LOGGING__DISTRIBUTED": "critical",
    "DASK_DISTRIBUTED__WORKER__DAEMON": "false",
    "RAY_AUTH_MODE": "disabled",
    # never let a stray client call start a private temporary server (the slow path measured here)
    "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "false",
    "RAY_DEDUP_LOGS": "1",
    "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
}

#: Thread settings for worker processes: parallelism comes from processes, not BLAS threads.
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def quiet_environment(*, verbose: bool = False) -> dict[str, str]:
    """Set the quiet settings in ``os.environ`` (keeping any the user set) and return them.

    Call before Prefect is imported where possible (its logging is configured at import).
    """
    out = {}
    for k, v in {**QUIET_ENV, **WORKER_ENV}.items():
        if verbose and k == "PREFECT_LOGGING_LEVEL":
            v = "INFO"
        out[k] = os.environ.setdefault(k, v)
    return out


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(api_url: str, *, timeout: float, proc: subprocess.Popen | None = None) -> float:
    """Poll ``{api_url}/health`` until it answers 200; return the seconds waited.

    Raises
    ------
    BackendError
        If the server process exits or ``timeout`` seconds pass first.
    """
    import httpx

    t0 = time.monotonic()
    with httpx.Client(timeout=2.0) as client:
        while True:
            if proc is not None and proc.poll() is not None:
                raise BackendError(f"the Prefect server exited with code {proc.returncode} "
                                   "before it was healthy")
            try:
                if client.get(f"{api_url}/health").status_code == 200:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            if time.monotonic() - t0 > timeout:
                raise BackendError(
                    f"the Prefect server at {api_url} was not healthy after {timeout:.0f} s "
                    "(set PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS higher on a busy machine)"
                )
            time.sleep(0.2)


def start_server(*, home: str | os.PathLike | None = None, port: int | None = None,
                 timeout: float | None = None, log_path: str | os.PathLike | None = None,
                 wait: bool = True) -> tuple[subprocess.Popen, str]:
    """Start a Prefect API server on 127.0.0.1 in a child process; return it and its API URL.

    Parameters
    ----------
    home : path, optional
        ``PREFECT_HOME`` of the server (its SQLite database lives there). Keeping it lets a
        later ``PREFECT_HOME=<home> prefect server start`` show the runs in the UI.
    port : int, optional
        A free port is picked when omitted.
    timeout : float, optional
        Seconds to wait for health; default ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` or 180.
    log_path : path, optional
        Where the server's stdout/stderr go (default: ``<home>/server.log``).
    wait : bool
        Wait until the server is healthy (otherwise call :func:`wait_healthy` later).
    """
    home = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="alignkit-prefect-"))
    home.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    timeout = timeout or _startup_timeout()
    env = {**os.environ, **{k: v for k, v in QUIET_ENV.items() if k not in os.environ},
           "PREFECT_HOME": str(home.resolve()), "PREFECT_UI_ENABLED": "0"}
    env.pop("PREFECT_API_URL", None)
    import prefect

    log = open(log_path or home / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parent.parent),
         "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "error", "--lifespan", "on"],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    log.close()
    api_url = f"http://127.0.0.1:{port}/api"
    if wait:
        try:
            wait_healthy(api_url, timeout=timeout, proc=proc)
        except BaseException:
            _stop(proc)
            raise
    return proc, api_url


def _startup_timeout() -> float:
    return float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180"))


def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _drain_prefect_services(timeout: float = 10.0) -> None:
    """Flush this process's Prefect log and event queues.

    Otherwise they retry at exit against a server that is gone, which costs a minute of
    timeouts and prints errors.
    """
    import inspect

    try:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker
        from prefect.utilities.asyncutils import run_coro_as_sync
    except ImportError:
        return

    async def drain():
        for fn in (lambda: APILogWorker.instance().drain(), lambda: EventsWorker.drain_all(timeout=timeout)):
            try:
                res = fn()
                if inspect.isawaitable(res):
                    await res
            except RuntimeError:  # a service that never started
                pass

    with contextlib.suppress(Exception):
        run_coro_as_sync(drain())


@contextlib.contextmanager
def prefect_api(*, home: str | os.PathLike | None = None, timeout: float | None = None,
                while_booting: Callable[[], object] | None = None) -> Iterator[str]:
    """Make one Prefect API available to this process and every process it starts later.

    Uses ``PREFECT_API_URL`` when it is set (checking that it answers), otherwise starts a
    server. Either way the URL is exported to ``os.environ`` and set in Prefect's settings
    for the duration, so clusters started inside the block hand it to their workers.

    Parameters
    ----------
    while_booting : callable, optional
        Called once the URL is exported but before waiting for the server to be healthy:
        a cluster started here boots its workers while the server starts (they only talk
        to it when a task runs). Its cleanup is the caller's.

    Yields
    ------
    str
        The API URL.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    given = os.environ.get("PREFECT_API_URL")
    old = given
    proc = None
    try:
        if given:
            url = given
            if while_booting is not None:
                while_booting()
            wait_healthy(url.rstrip("/"), timeout=timeout or 30.0)
        else:
            proc, url = start_server(home=home, timeout=timeout, wait=False)
            os.environ["PREFECT_API_URL"] = url
            if while_booting is not None:
                while_booting()
            wait_healthy(url, timeout=timeout or _startup_timeout(), proc=proc)
        os.environ["PREFECT_API_URL"] = url
        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                yield url
            finally:
                if proc is not None:
                    # send queued logs/events while the server still listens and the settings
                    # still point at it (drained later, they would start a server of their own)
                    _drain_prefect_services()
    finally:
        if old is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = old
        if proc is not None:
            _stop(proc)
