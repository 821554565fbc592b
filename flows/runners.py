"""Where the tasks run: the embedded default, an existing Dask cluster, or Ray.

The same flow code runs everywhere; only the task runner changes:

``local`` (the default)
    One command on a laptop: one Prefect server (see :mod:`flows.server`), *then* a local
    Dask cluster of worker processes (one thread each) that inherit its URL.
``dask``
    ``address="tcp://host:8786"`` connects to a running scheduler (workers started with
    ``dask worker``; they need ``PREFECT_API_URL`` in their environment, see ``cluster/``);
    without an address it is the same as ``local``.
``ray``
    A local Ray instance, or ``address="ray://host:10001"`` / ``"auto"`` for a running cluster.
    The API URL and thread settings travel in the job's ``runtime_env``.
``thread``
    Prefect's thread pool in this process (debugging, tiny runs).

Usage::

    with task_runner("local", n_workers=2) as runner:
        run_corpus.with_options(task_runner=runner)(corpus, store)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from alignkit.exceptions import BackendError, ParameterError
from flows.server import WORKER_ENV, prefect_api, quiet_environment

__all__ = ["RUNNERS", "RunnerInfo", "task_runner", "default_n_workers", "gpu_options"]

RUNNERS = ("local", "dask", "ray", "thread")


@dataclass
class RunnerInfo:
    """What :func:`task_runner` started, for logs, tests and benchmarks."""

    kind: str
    api_url: str | None = None
    address: str | None = None
    n_workers: int | None = None
    owns_cluster: bool = False
    cluster: object | None = None
    startup_s: dict | None = None


def default_n_workers() -> int:
    """Worker processes for a local cluster: the CPU count, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def _worker_env() -> dict[str, str]:
    env = {k: os.environ.get(k, v) for k, v in WORKER_ENV.items()}
    for k in ("PREFECT_API_URL", "PREFECT_LOGGING_LEVEL", "PREFECT_SERVER_ANALYTICS_ENABLED",
              "PREFECT_RESULTS_PERSIST_BY_DEFAULT", "RAY_AUTH_MODE"):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


@contextlib.contextmanager
def task_runner(kind: str = "local", *, address: str | None = None, n_workers: int | None = None,
                prefect_home: str | os.PathLike | None = None, info: RunnerInfo | None = None,
                ) -> Iterator[object]:
    """Start the Prefect API and the cluster for ``kind``; yield a Prefect task runner.

    Parameters
    ----------
    kind : {"local", "dask", "ray", "thread"}
    address : str, optional
        Scheduler address (Dask: ``tcp://host:8786``; Ray: ``auto``, ``ray://host:10001``).
    n_workers : int, optional
        Worker processes of a cluster started here (default: :func:`default_n_workers`).
    prefect_home : path, optional
        ``PREFECT_HOME`` of a server started here (its database stays there).
    info : RunnerInfo, optional
        Filled in with what was started (URLs, cluster object, start-up seconds).

    Raises
    ------
    ParameterError
        Unknown ``kind``, or an address given for ``thread``.
    BackendError
        The cluster or the Prefect server could not be reached or started.
    """
    import time

    if kind not in RUNNERS:
        raise ParameterError(f"runner={kind!r} is not one of {list(RUNNERS)}")
    if kind == "thread" and address:
        raise ParameterError(f"address={address!r} makes no sense with runner='thread'")
    if n_workers is not None and n_workers < 1:
        raise ParameterError(f"n_workers={n_workers} must be >= 1")
    info = info if info is not None else RunnerInfo(kind)
    info.kind, info.startup_s = kind, {}
    quiet_environment()
    t0 = time.monotonic()
    started: dict = {}

    def boot():
        # runs once PREFECT_API_URL is exported, while the server itself is still starting
        t1 = time.monotonic()
        if kind in ("local", "dask") and not address:
            started["cluster"] = _local_dask_cluster(n_workers, info)
        info.startup_s["cluster"] = time.monotonic() - t1

    try:
        with prefect_api(home=prefect_home, while_booting=boot) as url:
            info.api_url = url
            info.startup_s["total"] = time.monotonic() - t0
            if kind == "thread":
                from prefect.task_runners import ThreadPoolTaskRunner

                info.n_workers = n_workers or default_n_workers()
                yield ThreadPoolTaskRunner(max_workers=info.n_workers)
            elif kind in ("local", "dask"):
                from prefect_dask import DaskTaskRunner

                if address:
                    _check_dask(address)
                    info.address = address
                info.startup_s["total"] = time.monotonic() - t0
                yield DaskTaskRunner(address=info.address)
            else:
                with _ray(address, n_workers, info) as runner:
                    info.startup_s["total"] = time.monotonic() - t0
                    yield runner
    finally:
        cluster = started.get("cluster")
        if cluster is not None:
            info.cluster = None
            with contextlib.suppress(Exception):
                cluster.close(timeout=20)


def _local_dask_cluster(n_workers, info):
    try:
        import dask
        from distributed import LocalCluster
    except ImportError as exc:
        raise BackendError(f"the Dask runner needs `pip install alignkit[dask]` ({exc})") from exc
    import logging

    # a worker lost mid-task is rescheduled by the scheduler; after this many losses it gives up
    dask.config.set({"distributed.scheduler.allowed-failures": 5})
    info.n_workers = n = n_workers or default_n_workers()
    os.environ.update(_worker_env())  # spawned worker processes inherit os.environ
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           host="127.0.0.1", silence_logs=logging.CRITICAL)
    info.address, info.owns_cluster, info.cluster = cluster.scheduler_address, True, cluster
    return cluster


def _check_dask(address: str, timeout: float = 15.0) -> None:
    from distributed import Client

    try:
        with Client(address, timeout=timeout) as c:
            if not c.scheduler_info().get("workers"):
                c.wait_for_workers(1, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any connection failure becomes one clear line
        raise BackendError(f"cannot use the Dask scheduler at {address!r}: "
                           f"{type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def _ray(address, n_workers, info):
    try:
        import ray
        from prefect_ray import RayTaskRunner
    except ImportError as exc:
        raise BackendError(f"the Ray runner needs `pip install alignkit[ray]` ({exc})") from exc

    env = _worker_env()
    os.environ.update(env)
    kwargs = dict(runtime_env={"env_vars": env}, namespace="prefect", log_to_driver=False,
                  configure_logging=True, logging_level="error")
    if address:
        kwargs["address"] = address
    else:
        info.n_workers = n = n_workers or default_n_workers()
        kwargs.update(num_cpus=n, include_dashboard=False)
    owns = not ray.is_initialized()
    try:
        if owns:
            ray.init(**kwargs)
    except Exception as exc:  # noqa: BLE001
        raise BackendError(f"cannot start or reach Ray (address={address!r}): "
                           f"{type(exc).__name__}: {exc}") from exc
    info.address, info.owns_cluster = address or "local", owns and not address
    try:
        # RayTaskRunner reuses the instance this process already initialised
        yield RayTaskRunner(address=address, init_kwargs={"runtime_env": {"env_vars": env}})
    finally:
        if owns:
            ray.shutdown()


@contextlib.contextmanager
def gpu_options(kind: str, gpus: float) -> Iterator[None]:
    """Make tasks submitted inside the block request ``gpus`` GPUs on ``kind``'s scheduler.

    Dask: worker resources ``{"GPU": gpus}`` (start GPU workers with ``--resources GPU=1``);
    Ray: ``num_gpus``. A no-op when ``gpus == 0`` or on the thread runner.
    """
    if not gpus:
        yield
        return
    if kind in ("local", "dask"):
        import dask

        with dask.annotate(resources={"GPU": gpus}):
            yield
    elif kind == "ray":
        from prefect_ray.context import remote_options

        with remote_options(num_gpus=gpus):
            yield
    else:
        yield
