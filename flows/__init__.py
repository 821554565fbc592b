"""Prefect flows that run alignkit over whole corpora, on a laptop or a cluster.

- :mod:`flows.corpus_flow`: ``extract_features``, ``align_corpus``, ``evaluate`` and
  ``run_corpus`` (end to end); thin wrappers around :mod:`alignkit.pipeline`.
- :mod:`flows.tasks`: the batched Prefect tasks.
- :mod:`flows.runners`: ``task_runner(kind, address=..., n_workers=...)`` for the embedded
  default (``local``), ``dask``, ``ray`` and ``thread``.
- :mod:`flows.server`: one Prefect API per run, started before any worker.
- :mod:`flows.deployments`: the flow a schedule or work pool runs.
- :mod:`flows.testing`: a shared server and CLI-started Dask clusters for tests and benchmarks.

Example::

    from flows.corpus_flow import run_corpus
    from flows.runners import task_runner

    if __name__ == "__main__":           # Dask's worker processes need the guard
        with task_runner("local", n_workers=4) as runner:
            result = run_corpus.with_options(task_runner=runner)("corpus/", "results/")
        print(result["stages"])
"""
