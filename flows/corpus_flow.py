"""Corpus-wide flows: extract features, align versions, evaluate, or all three.

Walk-through of :func:`run_corpus`, the end-to-end flow:

1. Read the corpus (a folder ``<root>/<work>/<version>.<ext>`` or a manifest) into small
   item descriptions; nothing heavy travels through the flow.
2. ``extract``: versions are cut into batches, one task per batch; each worker decodes the
   audio (or reads the score), computes the features and writes them to the store. Items
   already complete in the store (same content hash and parameters) are skipped.
3. ``align``: pairs come from a strategy (``all`` pairs within a work, a ``star`` to a
   reference version, or ``score`` to each recording), are grouped per work into tasks of
   ``group_size`` pairs, aligned with ``method`` and written to the store.
4. ``evaluate``: where both versions carry annotations, the alignment error at the
   annotated times goes to the evaluation table.
5. The store's Parquet tables are compacted, a Markdown summary artifact is posted, and
   the flow returns counts, including how many items failed and where to read why.

Tasks are submitted through a bounded window, and each returns only counts, so the flow's
own state stays small for 10,000+ pairs. Run it through :mod:`flows.runners` (or the
``alignkit run`` command) to pick where the tasks execute.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from prefect import flow, get_run_logger
from prefect.context import FlowRunContext

from alignkit import pipeline
from alignkit.exceptions import ParameterError
from flows.runners import gpu_options
from flows.tasks import align_batch, evaluate_batch, extract_batch

__all__ = ["extract_features", "align_corpus", "evaluate", "run_corpus", "set_progress_callback",
           "auto_group_size"]

#: Called as ``callback(stage, done, total)`` after every finished batch (the CLI's progress bar).
_PROGRESS: Callable[[str, int, int], None] | None = None

#: Orchestration cost per task (s) on Dask/Ray with a shared server, measured.
TASK_OVERHEAD_S = 0.2


def set_progress_callback(callback: Callable[[str, int, int], None] | None) -> None:
    """Install (or remove, with ``None``) the progress callback of flows run in this process."""
    global _PROGRESS
    _PROGRESS = callback


def auto_group_size(n_pairs: int, n_workers: int, *, pair_seconds: float | None = None, min_size: int = 1,
                    max_size: int = 512, max_overhead: float = 0.1) -> int:
    """Pairs per task.

    About four tasks per worker (load balance, little lost with a worker), but when the
    estimated compute per pair is known, at least enough pairs that the ~0.2 s Prefect adds
    per task stays under ``max_overhead`` of the task's compute, as long as every worker
    still gets a task. Always within ``[min_size, max_size]``.
    """
    if n_pairs <= 0:
        return min_size
    w = max(1, n_workers)
    g = math.ceil(n_pairs / (4 * w))
    if pair_seconds and pair_seconds > 0:
        need = math.ceil(TASK_OVERHEAD_S / (max_overhead * pair_seconds))
        g = max(g, min(need, math.ceil(n_pairs / w)))
    return int(min(max_size, max(min_size, g)))


def _chunks(it: Iterable, size: int) -> Iterator[list]:
    buf = []
    for x in it:
        buf.append(x)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def _runner_kind() -> tuple[str, int]:
    ctx = FlowRunContext.get()
    runner = getattr(ctx, "task_runner", None)
    name = type(runner).__name__
    kind = "ray" if "Ray" in name else "dask" if "Dask" in name else "thread"
    n = 1
    try:
        if kind == "dask":
            n = len(runner.client.scheduler_info().get("workers", {})) or 1
        elif kind == "ray":
            import ray

            n = int(ray.cluster_resources().get("CPU", 1))
        else:
            n = int(getattr(runner, "_max_workers", None) or 1)
    except Exception:  # noqa: BLE001 - sizing only
        n = 1
    return kind, max(1, n)


def _drain(stage: str, submissions: Iterable[Callable[[], object]], total: int, max_in_flight: int,
           logger) -> dict:
    """Submit batches lazily, keeping at most ``max_in_flight`` unfinished; fold the counts."""
    totals = {"done": 0, "skipped": 0, "failed": 0, "seconds": 0.0, "failures": [], "tasks": 0,
              "tasks_failed": 0, "task_errors": []}
    pending: deque = deque()
    finished = 0
    t_log = time.monotonic()

    def collect(fut):
        nonlocal finished, t_log
        try:
            r = fut.result()
        except Exception as exc:  # noqa: BLE001 - a whole batch failed after its retries
            totals["tasks_failed"] += 1
            if len(totals["task_errors"]) < 20:
                totals["task_errors"].append(f"{type(exc).__name__}: {exc}")
            r = {}
        totals["tasks"] += 1
        for k in ("done", "skipped", "failed"):
            totals[k] += r.get(k, 0)
        totals["seconds"] += r.get("seconds", 0.0)
        if len(totals["failures"]) < 50:
            totals["failures"].extend(r.get("failures", [])[: 50 - len(totals["failures"])])
        finished += 1
        if _PROGRESS is not None:
            _PROGRESS(stage, finished, total)
        if time.monotonic() - t_log > 10 or finished == total:
            t_log = time.monotonic()
            logger.info("%s: %d/%d batches, %d done, %d skipped, %d failed", stage, finished, total,
                        totals["done"], totals["skipped"], totals["failed"])

    t0 = time.monotonic()
    for submit in submissions:
        pending.append(submit())
        while len(pending) >= max_in_flight:
            collect(pending.popleft())
    while pending:
        collect(pending.popleft())
    totals["wall_s"] = time.monotonic() - t0
    return totals


def _extract_stage(c, store: str, features: list[dict], run_id: str, batch_size: int | None,
                   max_in_flight: int | None, logger) -> dict:
    kind, n_workers = _runner_kind()
    items = pipeline.corpus_items(c)
    bs = batch_size or max(1, min(16, math.ceil(len(items) / (3 * n_workers))))
    batches = list(_chunks(items, bs))
    subs = (lambda b=b: extract_batch.submit(b, store, features, run_id, n_more=len(b) - 1) for b in batches)
    return _drain("extract", subs, len(batches), max_in_flight or 2 * n_workers + 2, logger)


def _pair_batches(c, strategy: str, reference: str | None, group_size: int) -> Iterator[list]:
    """Chunks of ``group_size`` pairs ``[work, a, b]``; a chunk may span several works."""
    triples = ([w, a, b] for w, pairs in pipeline.plan_pairs(c, strategy=strategy, reference=reference)
               for a, b in pairs)
    yield from _chunks(triples, group_size)


def _check_gpus(kind: str, gpus: float) -> None:
    """Fail loudly when GPU tasks could never be scheduled (they would wait forever)."""
    from alignkit.exceptions import BackendError

    ctx = FlowRunContext.get()
    if kind == "dask":
        workers = ctx.task_runner.client.scheduler_info().get("workers", {})
        best = max((w.get("resources", {}).get("GPU", 0) for w in workers.values()), default=0)
        if best < gpus:
            raise BackendError(f"gpus={gpus} per task, but no Dask worker offers the resource GPU>={gpus} "
                               "(start GPU workers with `dask worker ... --resources GPU=1`)")
    elif kind == "ray":
        import ray

        if ray.cluster_resources().get("GPU", 0) < gpus:
            raise BackendError(f"gpus={gpus} per task, but the Ray cluster has "
                               f"{ray.cluster_resources().get('GPU', 0)} GPUs")
    else:
        raise BackendError(f"gpus={gpus} needs the dask or ray runner (got {kind!r})")


def _align_stage(c, store: str, method: str, feature: str, options: dict, strategy: str,
                 reference: str | None, group_size: int | None, gpus: float, run_id: str,
                 max_in_flight: int | None, logger) -> dict:
    kind, n_workers = _runner_kind()
    if gpus:
        _check_gpus(kind, gpus)
    n_pairs = pipeline.count_pairs(c, strategy=strategy, reference=reference)
    pair_s = None
    if group_size is None:
        try:
            pair_s = pipeline.estimate_pair_seconds(store, c, method=method, feature=feature,
                                                    strategy=strategy, reference=reference)
        except Exception as exc:  # noqa: BLE001 - sizing only
            logger.warning("could not estimate the cost of a pair (%s); sizing tasks by count", exc)
    gs = group_size or auto_group_size(n_pairs, n_workers, pair_seconds=pair_s)
    n_batches = math.ceil(n_pairs / gs)

    def subs():
        for chunk in _pair_batches(c, strategy, reference, gs):
            def submit(chunk=chunk):
                with gpu_options(kind, gpus):
                    return align_batch.submit(chunk, store, method, feature, options, run_id,
                                              first=f"{chunk[0][0]}/{chunk[0][1]}~{chunk[0][2]}",
                                              n_pairs=len(chunk))
            yield submit

    out = _drain("align", subs(), n_batches, max_in_flight or 2 * n_workers + 2, logger)
    out.update(n_pairs=n_pairs, group_size=gs, est_pair_s=pair_s)
    return out


def _evaluate_stage(c, store: str, method: str, strategy: str, reference: str | None,
                    group_size: int | None, run_id: str, max_in_flight: int | None, logger) -> dict:
    kind, n_workers = _runner_kind()
    per_work = [(w, p) for w, p in pipeline.plan_pairs(c, strategy=strategy, reference=reference,
                                                       annotated_only=True)]
    n_pairs = sum(len(p) for _, p in per_work)
    gs = group_size or auto_group_size(n_pairs, n_workers, max_size=256)
    n_batches = sum(math.ceil(len(p) / gs) for _, p in per_work)
    ann: dict[str, dict] = {}
    for it in pipeline.corpus_items(c):
        ann.setdefault(it["work"], {})[it["version"]] = it["annotations"]
    subs = (lambda w=w, ch=ch: evaluate_batch.submit(w, ch, store, method,
                                                     {v: ann[w][v] for p in ch for v in p}, run_id,
                                                     n_pairs=len(ch))
            for w, pairs in per_work for ch in _chunks([list(x) for x in pairs], gs))
    out = _drain("evaluate", subs, n_batches, max_in_flight or 2 * n_workers + 2, logger)
    out.update(n_pairs=n_pairs)
    return out


def _feature_specs(features: list[str] | str | None, feature_params: dict | None, *,
                   method: str | None = None) -> list[dict]:
    """Feature specs of a run: ``features`` (default: those ``method`` needs), checked.

    With ``method="sync"`` the features it reads (:data:`alignkit.pipeline.SYNC_FEATURES`)
    are appended when missing, so a run always extracts what its alignment stage needs.
    """
    if features is None:
        features = pipeline.default_features(method or pipeline.DEFAULT_METHOD)
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    if not features:
        raise ParameterError("features=[] must name at least one extractor")
    features = list(features)
    if method == "sync":
        features += [f for f in pipeline.SYNC_FEATURES if f not in features]
    feature_params = feature_params or {}
    unknown = set(feature_params) - set(features)
    if unknown:
        raise ParameterError(f"feature_params names {sorted(unknown)}, which are not in features={features}")
    from alignkit.features.base import resolve_params

    specs = [{"name": f, "params": dict(feature_params.get(f, {}))} for f in features]
    for sp in specs:
        resolve_params(sp["name"], sp["params"])  # unknown extractor or parameter: fail before any task
    return specs


def _summary_markdown(title: str, store: str, stages: dict, seconds: float) -> str:
    lines = [f"# {title}", "", f"Store: `{store}`, {seconds:.1f} s", "",
             "| stage | done | skipped | failed | tasks | compute s |", "|---|---:|---:|---:|---:|---:|"]
    for name, s in stages.items():
        lines.append(f"| {name} | {s['done']} | {s['skipped']} | {s['failed']} | {s['tasks']} | "
                     f"{s['seconds']:.1f} |")
    fails = [f for s in stages.values() for f in s.get("failures", [])]
    if fails:
        lines += ["", "## Failures (first ones; all are in the store's `failures` table)", "",
                  "| item | error |", "|---|---|"]
        lines += [f"| {f['item']} | {str(f['error']).replace('|', '/')} |" for f in fails[:20]]
    return "\n".join(lines)


def _finish(title: str, store: str, stages: dict, t0: float, run_id: str, logger) -> dict:
    from prefect.artifacts import create_markdown_artifact

    seconds = time.monotonic() - t0
    pipeline.finish_run(store, run_id)
    n_failed = sum(s["failed"] for s in stages.values())
    n_task_failed = sum(s.get("tasks_failed", 0) for s in stages.values())
    try:
        create_markdown_artifact(_summary_markdown(title, store, stages, seconds), key="alignkit-summary",
                                 description=f"alignkit run {run_id}")
    except Exception as exc:  # noqa: BLE001 - an artifact is a nicety, never a failure
        logger.warning("could not create the summary artifact: %s", exc)
    if n_failed or n_task_failed:
        logger.warning("%d items failed (%d whole tasks); see the failures table: alignkit query %s "
                       "\"SELECT * FROM failures\"", n_failed, n_task_failed, store)
    return {"run_id": run_id, "store": store, "seconds": seconds, "stages": stages,
            "n_failed": n_failed, "n_tasks_failed": n_task_failed}


@flow(name="alignkit-extract-features", log_prints=False, persist_result=False)
def extract_features(corpus: str, store: str, features: list[str] | None = None,
                     feature_params: dict | None = None, batch_size: int | None = None,
                     max_in_flight: int | None = None) -> dict:
    """Extract features of every version of ``corpus`` into ``store`` (skipping complete ones)."""
    logger, t0 = get_run_logger(), time.monotonic()
    specs = _feature_specs(features, feature_params)
    c = pipeline.load_corpus(corpus)
    run_id = pipeline.start_run(store, corpus=corpus, stage="extract", params={"features": specs})
    st = {"extract": _extract_stage(c, store, specs, run_id, batch_size, max_in_flight, logger)}
    return _finish("alignkit: feature extraction", store, st, t0, run_id, logger)


@flow(name="alignkit-align-corpus", log_prints=False, persist_result=False)
def align_corpus(corpus: str, store: str, method: str = pipeline.DEFAULT_METHOD, feature: str | None = None,
                 pairs: str = "all", reference: str | None = None, options: dict | None = None,
                 group_size: int | None = None, gpus: float = 0.0, max_in_flight: int | None = None) -> dict:
    """Align pairs of versions of ``corpus`` whose features are in ``store``."""
    logger, t0 = get_run_logger(), time.monotonic()
    pipeline.check_method(method, pairs)
    c = pipeline.load_corpus(corpus)
    feature = feature or pipeline.DEFAULT_FEATURE
    run_id = pipeline.start_run(store, corpus=corpus, stage="align",
                                params={"method": method, "feature": feature, "pairs": pairs})
    st = {"align": _align_stage(c, store, method, feature, options or {}, pairs, reference, group_size,
                                gpus, run_id, max_in_flight, logger)}
    return _finish("alignkit: alignment", store, st, t0, run_id, logger)


@flow(name="alignkit-evaluate", log_prints=False, persist_result=False)
def evaluate(corpus: str, store: str, method: str = pipeline.DEFAULT_METHOD, pairs: str = "all",
             reference: str | None = None,
             group_size: int | None = None, max_in_flight: int | None = None) -> dict:
    """Evaluate stored alignments against the corpus annotations (pairs with annotations only)."""
    logger, t0 = get_run_logger(), time.monotonic()
    c = pipeline.load_corpus(corpus)
    run_id = pipeline.start_run(store, corpus=corpus, stage="evaluate", params={"method": method})
    st = {"evaluate": _evaluate_stage(c, store, method, pairs, reference, group_size, run_id,
                                      max_in_flight, logger)}
    return _finish("alignkit: evaluation", store, st, t0, run_id, logger)


@flow(name="alignkit-run-corpus", log_prints=False, persist_result=False)
def run_corpus(corpus: str, store: str, features: list[str] | None = None,
               method: str = pipeline.DEFAULT_METHOD, pairs: str = "all", reference: str | None = None,
               feature_params: dict | None = None,
               options: dict | None = None, evaluate: bool = True, group_size: int | None = None,
               gpus: float = 0.0, max_in_flight: int | None = None, run_id: str | None = None) -> dict:
    """Extract, align and evaluate a whole corpus, end to end; return the counts per stage.

    Parameters
    ----------
    corpus : str
        Corpus folder or manifest path (see :mod:`alignkit.corpus`).
    store : str
        Store URI (a directory or an fsspec URL all workers can reach).
    features : list of str, optional
        Extractors to compute (default: those ``method`` needs); the first one is used for
        alignment, except by ``sync``, which reads ``chroma_cqt`` and ``dlnco`` (added to
        ``features`` when missing).
    method : str
        Alignment method: ``sync`` (default; high-resolution chroma + DLNCO,
        :func:`alignkit.align.sync.synchronize`), ``dtw``, ``mrmsdtw``, ``softdtw``.
    pairs : {"all", "star", "score"}
        Pair strategy; ``reference`` names the star's centre version.
    evaluate : bool
        Evaluate against annotations where both versions have them.
    group_size : int, optional
        Pairs per task (default: :func:`auto_group_size`).
    gpus : float
        GPUs each alignment task requests (Dask resource ``GPU`` / Ray ``num_gpus``).
    """
    logger, t0 = get_run_logger(), time.monotonic()
    pipeline.check_method(method, pairs)
    specs = _feature_specs(features, feature_params, method=method)
    c = pipeline.load_corpus(corpus)
    run_id = pipeline.start_run(store, corpus=corpus, stage="run", run_id=run_id,
                                params={"features": specs, "method": method, "pairs": pairs,
                                        "reference": reference, "options": options or {}})
    stages = {"extract": _extract_stage(c, store, specs, run_id, None, max_in_flight, logger)}
    align_feature = pipeline.DEFAULT_FEATURE if method == "sync" else specs[0]["name"]
    stages["align"] = _align_stage(c, store, method, align_feature, options or {}, pairs, reference,
                                   group_size, gpus, run_id, max_in_flight, logger)
    if evaluate:
        stages["evaluate"] = _evaluate_stage(c, store, method, pairs, reference, None, run_id,
                                             max_in_flight, logger)
    return _finish("alignkit: corpus run", store, stages, t0, run_id, logger)


def new_run_id() -> str:
    """Make a fresh run id (time-sortable prefix + random suffix)."""
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
