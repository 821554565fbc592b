"""Prefect tasks: thin wrappers around :mod:`alignkit.pipeline`.

Each task handles a *batch* of items (versions to extract, pairs of one work to align or
evaluate): Prefect adds about 0.15-0.2 s per task on Dask or Ray, so one task per small
pair would spend more time orchestrating than computing. Workers write their results
straight to the store; a task returns only a small count dict, so the flow's memory does
not grow with the corpus.

Tasks are idempotent (the store skips complete items), so Prefect retries and Dask/Ray
rescheduling after a lost worker are safe.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from alignkit import pipeline

__all__ = ["extract_batch", "align_batch", "evaluate_batch", "summarise"]

# keep at most this many failure descriptions per task result (the store has them all)
_MAX_REPORTED = 20


def summarise(results: list[dict]) -> dict:
    """Fold per-item results ``{"status": "done"|"skipped"|"failed", ...}`` into counts."""
    out = {"done": 0, "skipped": 0, "failed": 0, "seconds": 0.0, "failures": []}
    for r in results:
        out[r["status"]] += 1
        out["seconds"] += float(r.get("seconds", 0.0))
        if r["status"] == "failed" and len(out["failures"]) < _MAX_REPORTED:
            out["failures"].append({"item": r.get("item"), "error": r.get("error")})
    return out


_TASK_OPTS = dict(retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE, persist_result=False,
                  log_prints=False)


@task(name="extract-features", task_run_name="extract {items[0][work]}/{items[0][version]} (+{n_more})",
      **_TASK_OPTS)
def extract_batch(items: list[dict], store: str, features: list[dict], run_id: str, n_more: int = 0) -> dict:
    """Extract every feature of every version in ``items`` into ``store``; return counts."""
    return summarise([pipeline.extract_item(store, it, features=features, run_id=run_id) for it in items])


@task(name="align-pairs", task_run_name="align {first} (+{n_pairs} pairs, {method})", **_TASK_OPTS)
def align_batch(pairs: list[list[str]], store: str, method: str, feature: str, options: dict, run_id: str,
                first: str = "", n_pairs: int = 0) -> dict:
    """Align every pair ``[work, a, b]`` in ``pairs`` (one or more works) and write the alignments."""
    results, by_work = [], {}
    for w, a, b in pairs:
        by_work.setdefault(w, []).append((a, b))
    for w, ps in by_work.items():
        results += pipeline.align_group(store, w, ps, method=method, feature=feature, options=options,
                                        run_id=run_id)
    return summarise(results)


@task(name="evaluate-pairs", task_run_name="evaluate {work} ({n_pairs} pairs)", **_TASK_OPTS)
def evaluate_batch(work: str, pairs: list[list[str]], store: str, method: str, annotations: dict,
                   run_id: str, n_pairs: int = 0) -> dict:
    """Evaluate the stored alignments of ``pairs`` against their annotations; return counts."""
    return summarise(pipeline.evaluate_group(store, work, pairs, annotations=annotations, method=method,
                                             run_id=run_id))
