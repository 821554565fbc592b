"""The units of work a corpus run is made of, in plain Python.

Each function handles one item (a version to extract) or one group of pairs of a work (to
align or evaluate), reads its inputs, writes its results straight to the store and returns
a small status dict per item. None of them knows about Prefect, Dask or Ray: the flows in
``flows/`` wrap them as tasks, and any executor (a loop, a process pool, a cluster) can
call them the same way.

Per-item isolation: an :class:`~alignkit.exceptions.AlignkitError` (a bad file, a failed
alignment) or any other exception raised while processing one item is recorded in the
store's ``failures`` table and reported as ``{"status": "failed", ...}``; the other items
carry on. Errors of the store itself propagate, so the caller (a Prefect task) can retry.

Idempotence: every result is keyed by the content hash of its inputs, its parameters and
the code version; an item whose key is already complete in the store is ``"skipped"``.

Item descriptions are small dicts, so they travel cheaply to workers::

    {"work": "bach", "version": "v1", "path": "/data/bach/v1.wav", "kind": "audio",
     "annotations": "/data/bach/v1_annotations.txt" or None}
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from collections.abc import Iterator, Sequence
from functools import lru_cache
from itertools import combinations

import numpy as np

from alignkit.exceptions import AlignkitError, CorpusError, ParameterError, StoreError

__all__ = [
    "DEFAULT_FEATURE",
    "DEFAULT_METHOD",
    "SYNC_FEATURES",
    "default_features",
    "METHODS",
    "PAIR_STRATEGIES",
    "check_method",
    "load_corpus",
    "corpus_items",
    "plan_pairs",
    "count_pairs",
    "estimate_pair_seconds",
    "extract_item",
    "align_group",
    "evaluate_group",
    "start_run",
    "finish_run",
    "code_version",
    "compute_features",
]

DEFAULT_FEATURE = "chroma_stft"
DEFAULT_SR = 22050
#: alignment methods; ``sync`` (high-resolution chroma + DLNCO synchronisation,
#: :func:`alignkit.align.sync.synchronize`) is the default
METHODS = ("sync", "dtw", "mrmsdtw", "softdtw", "ctc")
DEFAULT_METHOD = "sync"
#: features method ``sync`` reads from the store for both versions (chroma, then DLNCO)
SYNC_FEATURES = ("chroma_cqt", "dlnco")


def default_features(method: str = DEFAULT_METHOD) -> list[str]:
    """Extractors a run computes by default for ``method`` (``sync``: chroma_cqt and dlnco)."""
    return list(SYNC_FEATURES) if method == "sync" else [DEFAULT_FEATURE]
PAIR_STRATEGIES = ("all", "star", "score")


# ----------------------------------------------------------------------------- helpers


@lru_cache(maxsize=1)
def code_version() -> str:
    """Alignkit's version, part of every result's key."""
    try:
        from importlib.metadata import version

        return version("alignkit")
    except Exception:  # noqa: BLE001
        return "0+unknown"


def _key(*parts) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _failure(stage: str, item: str, exc: BaseException, **ctx) -> dict:
    """Build a failed item's status dict (the reason on one line, the traceback for the table)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    tb = "" if isinstance(exc, AlignkitError) else traceback.format_exc(limit=8)
    return {"status": "failed", "stage": stage, "item": item, "error_type": type(exc).__name__,
            "error": f"{type(exc).__name__}: {first}", "message": text or type(exc).__name__,
            "traceback": tb, **ctx}


def check_method(method: str, pairs: str) -> None:
    """Validate an alignment method and pair strategy before any work starts.

    Raises
    ------
    ParameterError
        Unknown method or strategy, or ``ctc`` without a score (``pairs != "score"``).
    """
    if method not in METHODS:
        raise ParameterError(f"method={method!r} is not one of {list(METHODS)}")
    if pairs not in PAIR_STRATEGIES:
        raise ParameterError(f"pairs={pairs!r} is not one of {list(PAIR_STRATEGIES)}")
    if method == "ctc":
        raise ParameterError("method='ctc' needs a trained score-to-audio model, which the corpus flow "
                             "does not provide yet; use sync, dtw, mrmsdtw or softdtw")


# ----------------------------------------------------------------------------- corpus


def load_corpus(corpus):
    """Read a corpus (folder or manifest path, or an already built corpus object).

    Raises
    ------
    CorpusError
        The corpus cannot be read or holds no versions.
    """
    from alignkit import corpus as ck

    if not isinstance(corpus, (str, os.PathLike)):
        return corpus
    c = ck.load_corpus(corpus)
    if not corpus_items(c):
        raise CorpusError(f"corpus {os.fspath(corpus)!r} holds no versions")
    return c


def corpus_items(c) -> list[dict]:
    """List the versions of a corpus as small item dicts (see the module docstring), sorted."""
    items = []
    for v in c.versions():
        ann = getattr(v, "annotations", None)
        if isinstance(ann, dict):  # several annotation roles: beats, else measures, else plain times
            ann = ann.get("beats") or ann.get("measures") or ann.get("times")
        elif isinstance(ann, (list, tuple)):
            ann = ann[0] if ann else None
        items.append({"work": str(v.work), "version": str(v.version), "path": os.fspath(v.path),
                      "kind": str(v.kind), "annotations": None if ann is None else os.fspath(ann)})
    items.sort(key=lambda d: (d["work"], d["kind"] != "score", d["version"]))
    return items


def plan_pairs(c, *, strategy: str = "all", reference: str | None = None,
               annotated_only: bool = False) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """Pairs ``(a, b)`` of version names to align, per work, in a deterministic order.

    Parameters
    ----------
    c : corpus
    strategy : {"all", "star", "score"}
        ``all``: every unordered pair of versions of a work (a score, if any, as ``a``);
        ``star``: ``reference`` (default: the work's first version, the score when there is one)
        against every other version; ``score``: the work's score against each recording
        (works without a score contribute no pairs).
    reference : str, optional
        Centre of the star.
    annotated_only : bool
        Keep only pairs whose two versions both carry annotations (for evaluation).

    Yields
    ------
    (work, pairs)
        One work at a time, so a caller never holds every pair of a large corpus.
    """
    if strategy not in PAIR_STRATEGIES:
        raise ParameterError(f"pairs={strategy!r} is not one of {list(PAIR_STRATEGIES)}")
    by_work: dict[str, list[dict]] = {}
    for it in corpus_items(c):
        by_work.setdefault(it["work"], []).append(it)
    for work, items in by_work.items():
        names = [it["version"] for it in items]
        ann = {it["version"]: it["annotations"] for it in items}
        scores = [it["version"] for it in items if it["kind"] == "score"]
        if strategy == "all":
            pairs = list(combinations(names, 2))
        elif strategy == "star":
            ref = reference if reference is not None else names[0]
            if ref not in names:
                raise CorpusError(f"reference={ref!r} is not a version of work {work!r} ({names})")
            pairs = [(ref, n) for n in names if n != ref]
        else:
            pairs = [(s, it["version"]) for s in scores[:1] for it in items if it["kind"] != "score"]
        if annotated_only:
            pairs = [p for p in pairs if ann[p[0]] and ann[p[1]]]
        if pairs:
            yield work, pairs


#: rough throughput of each method on one core (cells of the cost matrix per second), and the
#: fixed cost of a pair (reading features, writing the alignment), for sizing tasks only
_CELLS_PER_S = {"sync": 5e8, "dtw": 1e8, "mrmsdtw": 1e9, "softdtw": 2e7, "ctc": 2e7}
_PAIR_FIXED_S = 0.02


def estimate_pair_seconds(store: str, c, *, method: str = DEFAULT_METHOD, feature: str = DEFAULT_FEATURE,
                          strategy: str = "all", reference: str | None = None, sample: int = 2000) -> float:
    """Estimate the compute seconds of one pair from the stored feature lengths.

    Only for sizing tasks: ``fixed + mean(n_a * n_b) / cells_per_second(method)`` over up to
    ``sample`` pairs whose features are in the store.

    Raises
    ------
    StoreError
        No pair has both features in the store yet.
    """
    if method == "sync":  # sync ignores ``feature``: it reads SYNC_FEATURES
        feature = SYNC_FEATURES[0]
    df = _store(store).list_features()
    df = df[df["extractor"] == feature]
    frames = {(w, v): int(n) for w, v, n in zip(df["work"], df["version"], df["n_frames"], strict=True)}
    cells = []
    for work, pairs in plan_pairs(c, strategy=strategy, reference=reference):
        for a, b in pairs:
            if (work, a) in frames and (work, b) in frames:
                cells.append(frames[(work, a)] * frames[(work, b)])
            if len(cells) >= sample:
                break
        if len(cells) >= sample:
            break
    if not cells:
        raise StoreError(f"no pair of {os.fspath(store)!r} has {feature!r} features for both versions")
    return _PAIR_FIXED_S + float(np.mean(cells)) / _CELLS_PER_S.get(method, 1e8)


def count_pairs(c, *, strategy: str = "all", reference: str | None = None) -> int:
    """Count the pairs :func:`plan_pairs` yields."""
    return sum(len(p) for _, p in plan_pairs(c, strategy=strategy, reference=reference))


# ----------------------------------------------------------------------------- store access


def _store(uri: str):
    """Open the store at ``uri`` once per process (workers reuse it across tasks)."""
    return _open_store_cached(os.fspath(uri))


@lru_cache(maxsize=8)
def _open_store_cached(uri: str):
    from alignkit.store.results import open_store

    return open_store(uri)


def start_run(store: str, *, corpus, stage: str, params: dict, run_id: str | None = None) -> str:
    """Record the start of a run in the store's ``runs`` table; return its id."""
    return _store(store).start_run(run_id, params=params, corpus=os.fspath(corpus), stage=stage)


def finish_run(store: str, run_id: str) -> dict:
    """Record the end of the run and compact the store's tables; return rows per table."""
    return _store(store).finish_run(run_id, compact=True)


def _record_failure(s, run_id: str, r: dict) -> None:
    # one file per (run, stage, item): a retried task replaces its row instead of adding one
    s.write_table("failures", [{
        "run_id": run_id, "stage": r["stage"], "item": r["item"], "work": r.get("work"),
        "error_type": r["error_type"], "message": r["message"], "traceback": r.get("traceback") or None,
        "time": time.time()}], task_id="fail-" + _key(run_id, r["stage"], r["item"]))


# ----------------------------------------------------------------------------- features


#: audio feature -> the score feature comparable to it (see alignkit.features.score.COMPARABLE)
_SCORE_NAME = {"chroma_stft": "chroma", "chroma_cqt": "chroma", "logfreq": "logfreq", "dlnco": "dlnco",
               "cens": "cens"}
#: audio parameters a score feature takes over to stay comparable
_SHARED_PARAMS = ("smooth_length", "downsample", "norm_threshold")


def compute_features(item: dict, spec: dict, *, sr: int = DEFAULT_SR, cache: dict | None = None):
    """Compute the features of one version (audio or score) on the audio feature's grid.

    Audio goes through the extractor registry, scores through
    :func:`alignkit.features.score.score_features` on the audio feature's frame grid.

    The result is named after the audio extractor (``spec["name"]``) for both kinds, so
    both sides of a score-to-audio pair are found under the same feature name.

    Parameters
    ----------
    item : dict
        ``path`` and ``kind`` (``"audio"`` or ``"score"``) of the version.
    spec : dict
        ``{"name": extractor, "params": {...}}``.
    cache : dict, optional
        Keeps the decoded audio / notes between several features of the same item.
    """
    from alignkit.features import extract
    from alignkit.features.base import resolve_params

    cache = {} if cache is None else cache
    name, params = spec["name"], dict(spec.get("params", {}))
    if item["kind"] == "score":
        if name not in _SCORE_NAME:
            raise ParameterError(f"feature {name!r} has no score counterpart (one of {sorted(_SCORE_NAME)})")
        if "notes" not in cache:
            from alignkit.io.scores import load_score

            cache["notes"] = load_score(item["path"])
        from alignkit.features.score import SCORE_FEATURES, score_features

        full = resolve_params(name, params)
        sname = _SCORE_NAME[name]
        sp = {k: full[k] for k in _SHARED_PARAMS if k in full and k in SCORE_FEATURES[sname]}
        if sname == "chroma":  # audio chroma holds the pitch classes of the partials too
            from alignkit.align.sync import SCORE_CHROMA_HARMONICS

            sp["harmonics"] = SCORE_CHROMA_HARMONICS
        f = score_features(cache["notes"], sname, frame_rate=float(full["frame_rate"]), **sp)
        return f.replace(name=name, params={**f.params, "score_feature": f.name})
    if "audio" not in cache:
        from alignkit.io.audio import load_audio

        cache["audio"] = load_audio(item["path"], sr=sr)
    y, ysr = cache["audio"]
    return extract(name, y, ysr, **params)


def _recording_row(item: dict, src: str, cache: dict, run_id: str) -> dict:
    duration = sr = None
    if "audio" in cache:
        y, sr = cache["audio"]
        duration = len(y) / float(sr)
    elif "notes" in cache and len(cache["notes"].end):
        duration = float(np.max(cache["notes"].end))
    n_ann = None
    if item.get("annotations"):
        try:
            from alignkit.io.annotations import read_annotations

            n_ann = len(read_annotations(item["annotations"]))
        except Exception:  # noqa: BLE001 - the evaluate stage reports bad annotations
            n_ann = None
    return {"work": item["work"], "version": item["version"], "kind": item["kind"], "path": item["path"],
            "content_hash": src, "duration_s": duration, "sample_rate": None if sr is None else float(sr),
            "n_annotations": n_ann, "run_id": run_id}


def extract_item(store: str, item: dict, *, features: Sequence[dict], run_id: str = "",
                 sr: int = DEFAULT_SR) -> dict:
    """Compute every feature in ``features`` for one version and write it to ``store``.

    Parameters
    ----------
    store : str
        Store URI.
    item : dict
        A version (keys ``work``, ``version``, ``path``, ``kind``).
    features : sequence of dict
        ``{"name": extractor, "params": {...}}`` each.
    run_id : str
        Recorded with failures.

    Returns
    -------
    dict
        ``status`` (``done`` when anything was computed, ``skipped`` when everything was
        complete already, ``failed``), ``item``, ``seconds``, and ``error`` when failed.
    """
    from alignkit.features.base import params_hash, resolve_params
    from alignkit.io.files import content_hash

    t0 = time.perf_counter()
    label = f"{item['work']}/{item['version']}"
    s = _store(store)
    try:
        src = content_hash(item["path"])
        computed = 0
        cache: dict = {}
        for spec in features:
            full = resolve_params(spec["name"], dict(spec.get("params", {})))  # defaults filled: stable key
            key = _key(src, params_hash(spec["name"], full), sr, code_version())
            if s.has_features(item["work"], item["version"], spec["name"], key=key):
                continue
            f = compute_features(item, spec, sr=sr, cache=cache)
            s.write_features(item["work"], item["version"], f, key=key, source_hash=src,
                             source_path=item["path"], kind=item["kind"])
            computed += 1
        if computed:
            s.write_table("recordings", [_recording_row(item, src, cache, run_id)],
                          task_id="rec-" + _key(item["work"], item["version"], src))
        status = "done" if computed else "skipped"
        return {"status": status, "item": label, "seconds": time.perf_counter() - t0}
    except StoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - isolate the item, record why
        r = _failure("extract", label, exc, work=item["work"])
    r["seconds"] = time.perf_counter() - t0
    _record_failure(s, run_id, r)
    return r


# ----------------------------------------------------------------------------- alignment


def _align(method: str, X: np.ndarray, Y: np.ndarray, options: dict):
    """Run one alignment method; return an object with ``path`` (L, 2) and ``cost``."""
    opts = dict(options)
    if method == "dtw":
        from alignkit.align.dtw import dtw

        return dtw(X, Y, **opts)
    if method == "mrmsdtw":
        from alignkit.align.multiscale import multiscale_dtw

        return multiscale_dtw(X, Y, **opts)
    if method == "softdtw":
        return _soft_batch([X], [Y], opts)[0]
    raise ParameterError(f"method={method!r} needs a score-to-audio model; the corpus flow runs "
                         f"{[m for m in METHODS if m != 'ctc']}")


#: soft-DTW options the pipeline understands (the rest go to the kernel)
_SOFT_DEFAULTS = {"gamma": 0.1, "metric": "cosine", "batch_cells": 2 ** 25, "backend": "auto"}


def _soft_batch(Xs: Sequence[np.ndarray], Ys: Sequence[np.ndarray], options: dict) -> list[dict]:
    """Soft-DTW of a batch of pairs padded to one shape; hard path from the expected alignment E.

    The hard path maximises the expected-alignment mass: DTW (symmetric1) on ``max(E) - E``.
    Returns one ``{"path", "cost", "soft"}`` per pair (``cost`` = soft-DTW value).
    """
    import torch

    from alignkit.align.dtw import dtw
    from alignkit.align.soft_dtw import expected_alignment, soft_dtw

    o = {**_SOFT_DEFAULTS, **options}
    o.pop("batch_cells")
    B = len(Xs)
    ns, ms = np.array([len(x) for x in Xs]), np.array([len(y) for y in Ys])
    D = Xs[0].shape[1]
    Xb = np.zeros((B, ns.max(), D), np.float32)
    Yb = np.zeros((B, ms.max(), D), np.float32)
    for i, (x, y) in enumerate(zip(Xs, Ys, strict=True)):
        Xb[i, : len(x)], Yb[i, : len(y)] = x, y
    kw = dict(X=torch.from_numpy(Xb), Y=torch.from_numpy(Yb), lengths=(ns, ms), **o)
    E = expected_alignment(**kw).detach().cpu().numpy()
    value = soft_dtw(**kw).detach().cpu().numpy().reshape(-1)
    out = []
    for i in range(B):
        e = E[i, : ns[i], : ms[i]]
        hard = dtw(C=(e.max() - e).astype(np.float64), step_sizes="symmetric1")
        out.append({"path": hard.path, "cost": float(value[i]), "soft": e})
    return out


def align_group(store: str, work: str, pairs: Sequence[Sequence[str]], *, method: str = DEFAULT_METHOD,
                feature: str = DEFAULT_FEATURE, options: dict | None = None, run_id: str = "") -> list[dict]:
    """Align each pair ``(a, b)`` of versions of ``work`` on ``feature`` and store the paths.

    Method ``sync`` (the default) ignores ``feature``: it reads the ``chroma_cqt`` and
    ``dlnco`` features of both versions (:data:`SYNC_FEATURES`, on the same frame grid),
    runs :func:`alignkit.align.sync.synchronize` with ``options`` as keyword arguments and
    stores the path with ``frame_rate_a = frame_rate_b = res.frame_rate``, recorded with
    ``feature="chroma_cqt"`` (an extractor name, so plots and queries find its features)
    and ``extra={"features": ["chroma_cqt", "dlnco"]}``.

    Features of each version are read once per group. A pair whose alignment key (feature
    keys of both sides + method + options + code version) is complete is skipped. Soft-DTW
    pairs are sorted by size and computed in padded batches of at most
    ``options["batch_cells"]`` cells (one kernel launch per batch on a GPU).

    Returns
    -------
    list of dict
        One status dict per pair (see :func:`extract_item`).
    """
    options = dict(options or {})
    if method not in METHODS:
        raise ParameterError(f"method={method!r} is not one of {list(METHODS)}")
    s = _store(store)
    feats: dict = {}
    out, todo = [], []
    names = SYNC_FEATURES if method == "sync" else (feature,)

    def get(v):
        if v not in feats:
            fs = tuple(s.read_features(work, v, n) for n in names)
            feats[v] = fs if method == "sync" else fs[0]
        return feats[v]

    def fail(label, exc, t0):
        r = _failure("align", label, exc, work=work)
        r["seconds"] = time.perf_counter() - t0
        _record_failure(s, run_id, r)
        out.append(r)

    for a, b in pairs:
        t0 = time.perf_counter()
        label = f"{work}/{a}~{b}"
        try:
            fa, fb = get(a), get(b)
            if method == "sync":  # every feature read, on both sides, and the synchronize options
                key = _key([s.features_key(work, a, n) for n in names],
                           [s.features_key(work, b, n) for n in names], method, options, code_version())
            else:
                key = _key(s.features_key(work, a, feature), s.features_key(work, b, feature), method,
                           options, code_version())
            if s.has_alignment(method, work, a, b, key=key):
                out.append({"status": "skipped", "item": label, "seconds": time.perf_counter() - t0})
            else:
                todo.append((a, b, fa, fb, key, label))
        except StoreError as exc:
            if "missing" not in str(exc).lower():
                raise
            fail(label, exc, t0)
        except Exception as exc:  # noqa: BLE001
            fail(label, exc, t0)

    def write(a, b, fa, fb, key, label, res, t0):
        s.write_alignment(method, work, a, b, res, key=key, feature=feature, frame_rate_a=fa.frame_rate,
                          frame_rate_b=fb.frame_rate, options=options, n_frames_a=fa.n_frames,
                          n_frames_b=fb.n_frames)
        out.append({"status": "done", "item": label, "seconds": time.perf_counter() - t0})

    if method == "sync":
        from alignkit.align.sync import synchronize

        for a, b, fa, fb, key, label in todo:
            t0 = time.perf_counter()
            try:
                res = synchronize(fa, fb, **options)
                s.write_alignment(method, work, a, b, res, key=key, feature=SYNC_FEATURES[0],
                                  attrs={"features": list(SYNC_FEATURES)}, frame_rate_a=res.frame_rate,
                                  frame_rate_b=res.frame_rate, options=options, n_frames_a=res.shape[0],
                                  n_frames_b=res.shape[1])
                out.append({"status": "done", "item": label, "seconds": time.perf_counter() - t0})
            except StoreError:
                raise
            except Exception as exc:  # noqa: BLE001
                fail(label, exc, t0)
        return out

    if method == "softdtw":
        todo.sort(key=lambda t: t[2].n_frames * t[3].n_frames)
        cap = int(options.get("batch_cells", _SOFT_DEFAULTS["batch_cells"]))
        kernel_opts = {k: v for k, v in options.items() if k != "batch_cells"}
        i = 0
        while i < len(todo):
            j, n_max, m_max = i, 0, 0
            while j < len(todo):  # grow the batch while the padded batch stays under the cap
                n2, m2 = max(n_max, todo[j][2].n_frames), max(m_max, todo[j][3].n_frames)
                if j > i and (j - i + 1) * n2 * m2 > cap:
                    break
                n_max, m_max, j = n2, m2, j + 1
            batch, t0 = todo[i:j], time.perf_counter()
            try:
                results = _soft_batch([t[2].values for t in batch], [t[3].values for t in batch], kernel_opts)
                for t, res in zip(batch, results, strict=True):
                    write(*t, res, t0)
            except StoreError:
                raise
            except Exception as exc:  # noqa: BLE001 - the whole batch failed: record each pair
                for t in batch:
                    fail(t[5], exc, t0)
            i = j
        return out

    for a, b, fa, fb, key, label in todo:
        t0 = time.perf_counter()
        try:
            write(a, b, fa, fb, key, label, _align(method, fa.values, fb.values, options), t0)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            fail(label, exc, t0)
    return out


# ----------------------------------------------------------------------------- evaluation


def evaluate_group(store: str, work: str, pairs: Sequence[Sequence[str]], *, annotations: dict,
                   method: str = DEFAULT_METHOD, run_id: str = "") -> list[dict]:
    """Compare stored alignments of ``pairs`` with the versions' annotations.

    The annotation times of ``a`` are transferred through the path to ``b`` and compared
    with ``b``'s own; one row per pair x statistic goes to the ``evaluation`` table.

    Parameters
    ----------
    annotations : dict of str -> str
        Annotation file of each version of ``work``.
    """
    from alignkit.eval.metrics import (
        DEFAULT_TOLERANCES,
        _tolerance_key,
        alignment_errors,
        error_summary,
        match_by_label,
    )
    from alignkit.io.annotations import read_annotations

    _TOL_OF = {_tolerance_key(t): float(t) for t in DEFAULT_TOLERANCES}
    s = _store(store)
    out = []
    for a, b in pairs:
        t0 = time.perf_counter()
        label = f"{work}/{a}~{b}"
        try:
            if not s.has_alignment(method, work, a, b):
                out.append({"status": "skipped", "item": label, "seconds": time.perf_counter() - t0,
                            "reason": "no alignment (see the failures of the align stage)"})
                continue
            al = s.read_alignment(method, work, a, b, soft=False)
            ann_a, ann_b = read_annotations(annotations[a]), read_annotations(annotations[b])
            ta, tb = ann_a.times, ann_b.times
            if len(ta) != len(tb):
                ta, tb, _ = match_by_label(ta, ann_a.labels, tb, ann_b.labels)
            err = alignment_errors(al["path"], ta, tb, frame_rate_a=al["frame_rate_a"],
                                   frame_rate_b=al["frame_rate_b"])
            summ = error_summary(err, tolerances=DEFAULT_TOLERANCES)
            rows = [{"run_id": run_id, "work": work, "version_a": a, "version_b": b, "method": method,
                     "feature": al.get("feature"), "metric": k, "value": float(v), "n_events": int(len(err)),
                     "tolerance_s": _TOL_OF.get(k)}
                    for k, v in summ.items()]
            # one file per alignment: re-evaluating the same alignment replaces its rows
            s.write_table("evaluation", rows, task_id="eval-" + _key(method, work, a, b,
                                                                     s.alignment_key(method, work, a, b)))
            out.append({"status": "done", "item": label, "seconds": time.perf_counter() - t0,
                        "mean_ms": summ["mean_ms"]})
        except Exception as exc:  # noqa: BLE001
            r = _failure("evaluate", label, exc, work=work)
            r["seconds"] = time.perf_counter() - t0
            _record_failure(s, run_id, r)
            out.append(r)
    return out
