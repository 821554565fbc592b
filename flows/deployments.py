"""The flow a schedule runs: pick the runner, then run the corpus flow on it.

A Prefect worker (or ``alignkit serve``) starts :func:`scheduled_corpus_run` with plain
parameters; it opens the requested runner (an existing Dask/Ray cluster in production, a
local one otherwise) and runs :func:`flows.corpus_flow.run_corpus` on it as a subflow. The
worker's ``PREFECT_API_URL`` is reused, so no second server starts.
"""

from __future__ import annotations

from prefect import flow

from flows.corpus_flow import run_corpus
from flows.runners import task_runner

__all__ = ["scheduled_corpus_run"]


@flow(name="alignkit-scheduled-corpus-run", log_prints=False, persist_result=False)
def scheduled_corpus_run(corpus: str, store: str, runner: str = "dask", address: str | None = None,
                         n_workers: int | None = None, method: str = "sync", pairs: str = "all",
                         features: list[str] | None = None, evaluate: bool = True, gpus: float = 0.0) -> dict:
    """Run the whole corpus flow on ``runner``; reruns only compute what the store lacks."""
    with task_runner(runner, address=address, n_workers=n_workers) as tr:
        return run_corpus.with_options(task_runner=tr)(corpus=corpus, store=store, features=features,
                                                       method=method, pairs=pairs, evaluate=evaluate,
                                                       gpus=gpus)
