"""Evaluation harness: every method x feature of the engine on every annotated pair of a corpus.

For each work of a corpus, every pair of versions that carry annotations (beats, measures,
notes) is aligned with every requested method on every requested feature, and the
annotation times of ``a`` are transferred through the path to ``b`` and compared with
``b``'s own (:func:`alignkit.eval.metrics.alignment_errors`). The result is a long table
whose rows fit the store's ``evaluation`` table (:mod:`alignkit.store.tables`)::

    method, work, version_a, version_b, feature, metric, tolerance_s, value, n_events, run_id

Metric names
------------
``<level>_<statistic>`` with ``level`` one of ``beat``, ``measure``, ``note`` and the
statistics of :func:`~alignkit.eval.metrics.error_summary`: ``beat_mean_ms``,
``beat_median_ms``, ``beat_max_ms``, ``beat_mean_signed_ms``, ``beat_within_100ms`` (a share
in [0, 1], with ``tolerance_s`` = 0.1), ... Timing rows (level-free, seconds per pair):
``load_s`` (decoding both versions), ``features_s`` (extracting the feature of both
versions), ``align_s`` (the alignment alone) and ``pair_s`` (their sum). Features are
extracted once per version and run (kept in memory); their time is counted in every pair
that uses them, which is what one pair costs on its own.

Methods
-------
``sync`` the engine's high-resolution synchronisation (:func:`alignkit.align.sync.synchronize`:
chroma + DLNCO, its own cost and coarse-to-fine DTW; feature ``chroma+dlnco`` only, options
under ``options["sync"]``),
``dtw`` exact DTW (:func:`alignkit.align.dtw.dtw`), ``mrmsdtw`` multiscale DTW
(:func:`alignkit.align.multiscale.multiscale_dtw`), ``softdtw`` soft-DTW on features pooled to
at most ``soft_max_cells`` cells, hard path = DTW on ``max(E) - E`` of the expected
alignment ``E`` (only when :mod:`alignkit.align.soft_dtw` and torch import), ``linear`` the
linear-scaling baseline (time ``t`` in A maps to ``t * duration_b / duration_a``; it uses no
feature: its ``feature`` is ``"none"``).

Features
--------
``chroma_stft``, ``chroma_cqt``, ``cens`` (registry extractors) and ``chroma+dlnco``, the
high-resolution synchronisation combination of chroma and DLNCO from
:func:`alignkit.features.sync_features` (one pass, 50 Hz), compared, as in the Sync Toolbox,
with the weighted sum of two cost matrices: cosine distance of the chroma (quantised as the
Sync Toolbox does, :func:`quantize_chroma`; ``quantize=False`` turns it off) plus
``w`` x euclidean distance of the DLNCO vectors (``w`` = ``dlnco_weight``), with step sizes
``symmetric1``. Exact DTW runs on that dense cost (up to ``dense_cells`` cells); multiscale DTW
finds its path on the stacked vectors ``[c, sqrt(w) d]`` with the squared euclidean distance
(``2 (1 - cos)`` for the unit chroma plus ``w`` x squared DLNCO distance, computed from features
without a cost matrix) and refines it with the dense cost within its radius. With
``onset_cost="sqeuclidean"`` (or above ``dense_cells``) the stacked form is used throughout.
Measured on 18 rendered ASAP pairs (bench/bench_accuracy.py): quantisation, the euclidean
DLNCO distance and ``symmetric1`` steps each lowered the mean beat error.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import time
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

from alignkit.eval.metrics import DEFAULT_TOLERANCES, error_summary, match_by_label, transfer_times
from alignkit.exceptions import AlignkitError, ParameterError

__all__ = [
    "DEFAULT_METHODS",
    "DEFAULT_FEATURES",
    "LEVELS",
    "EVAL_COLUMNS",
    "evaluate_corpus",
    "aggregate",
    "linear_transfer",
    "pair_alignment",
    "quantize_chroma",
    "SYNC_DEFAULTS",
]

#: methods of the harness, in report order
DEFAULT_METHODS = ("sync", "dtw", "mrmsdtw", "softdtw", "linear")
#: features of the harness and their extraction parameters (``chroma+dlnco``: see the module docstring)
DEFAULT_FEATURES: dict[str, dict] = {
    "chroma_stft": {},
    "chroma_cqt": {},
    "cens": {},
    "chroma+dlnco": {},
}
#: annotation role -> level name used in metric names
LEVELS = {"beats": "beat", "measures": "measure", "notes": "note"}
#: columns of the returned table (all of them columns of the store's evaluation table)
EVAL_COLUMNS = [
    "method",
    "work",
    "version_a",
    "version_b",
    "feature",
    "metric",
    "tolerance_s",
    "value",
    "n_events",
    "run_id",
]
SYNC = "chroma+dlnco"
_TIMING = ("load_s", "features_s", "align_s", "pair_s")


# ----------------------------------------------------------------------------- validation


def _check_methods(methods) -> tuple[str, ...]:
    if methods is None:
        ms = [m for m in DEFAULT_METHODS if m != "softdtw" or _soft_available()]
        return tuple(ms)
    if isinstance(methods, str):
        methods = (methods,)
    ms = tuple(methods)
    if not ms:
        raise ParameterError("methods=() selects nothing to evaluate")
    for m in ms:
        if m not in DEFAULT_METHODS:
            raise ParameterError(f"method {m!r} is not one of {list(DEFAULT_METHODS)}")
    if "softdtw" in ms and not _soft_available():
        raise ParameterError(
            "method 'softdtw' needs alignkit.align.soft_dtw and torch, which do not import here"
        )
    return ms


def _check_features(features) -> dict[str, dict]:
    if features is None:
        return {k: dict(v) for k, v in DEFAULT_FEATURES.items()}
    if isinstance(features, str):
        features = (features,)
    if isinstance(features, Mapping):
        out = {str(k): dict(v or {}) for k, v in features.items()}
    else:
        out = {str(k): {} for k in features}
    if not out:
        raise ParameterError("features=() selects nothing to evaluate")
    from alignkit.features import list_extractors

    known = set(list_extractors()) | {SYNC}
    for k in out:
        if k not in known:
            raise ParameterError(f"feature {k!r} is not one of {sorted(known)}")
    return out


def _check_tolerances(tolerances) -> tuple[float, ...]:
    tols = tuple(float(t) for t in tolerances)
    if not tols:
        raise ParameterError("tolerances=() is empty")
    for t in tols:
        if not np.isfinite(t) or t <= 0:
            raise ParameterError(f"tolerance {t!r} must be a positive number of seconds")
    return tols


def _soft_available() -> bool:
    return (
        importlib.util.find_spec("torch") is not None
        and importlib.util.find_spec("alignkit.align.soft_dtw") is not None
    )


# ----------------------------------------------------------------------------- per-version data


class _Version:
    """Decoded input, features and annotations of one version, computed lazily, once."""

    def __init__(self, v, *, sr: int, feature_params: dict, dlnco_weight: float):
        self.v = v
        self.sr = sr
        self.feature_params = feature_params
        # the stacked chroma+dlnco of the dtw / mrmsdtw rows weighs DLNCO 1 unless told otherwise;
        # synchronize ("sync") has its own default weight
        self.dlnco_weight = 1.0 if dlnco_weight is None else dlnco_weight
        self.sync_weight = dlnco_weight
        self._src = None
        self.load_s = 0.0
        self.duration = None
        self.feats: dict[str, tuple[np.ndarray, float]] = {}
        self.feat_s: dict[str, float] = {}
        self._ann: dict[str, object] = {}
        self.sync_cfg = _sync_config(dict(feature_params.get(SYNC, {})))
        self.raw_sync = None

    def source(self):
        if self._src is None:
            t0 = time.perf_counter()
            if self.v.kind == "score":
                from alignkit.io.scores import load_score

                notes = load_score(self.v.path)
                self._src = notes
                self.duration = float(np.max(notes.end)) if len(notes.end) else 0.0
            else:
                from alignkit.io.audio import load_audio

                y, sr = load_audio(self.v.path, sr=self.sr)
                self._src = (y, sr)
                self.duration = len(y) / float(sr)
            self.load_s = time.perf_counter() - t0
        return self._src

    def features(self, name: str) -> tuple[np.ndarray, float]:
        """``(values (n_frames, n_dims) float32, frame_rate)`` of feature ``name``."""
        if name not in self.feats:
            src = self.source()
            params = dict(self.feature_params.get(name, {}))
            t0 = time.perf_counter()
            if name == SYNC:
                chroma, onsets = self._sync(src, params)
                self.raw_sync = (np.asarray(chroma.values), np.asarray(onsets.values))
                x = _stack_sync(
                    chroma.values, onsets.values, self.dlnco_weight, quantize=self.sync_cfg["quantize"]
                )
                rate = float(chroma.frame_rate)
            else:
                f = self._single(name, src, params)
                x, rate = np.asarray(f.values, dtype=np.float32), float(f.frame_rate)
            self.feat_s[name] = time.perf_counter() - t0
            self.feats[name] = (x, rate)
        return self.feats[name]

    def _single(self, name, src, params):
        if self.v.kind == "score":
            from alignkit.pipeline import compute_features

            return compute_features(
                {"path": os.fspath(self.v.path), "kind": "score"},
                {"name": name, "params": params},
                cache={"notes": src},
            )
        from alignkit.features import extract

        y, sr = src
        return extract(name, y, sr, **params)

    def _sync(self, src, params):
        from alignkit.align.sync import DEFAULT_CHROMA_FEATURE, audio_sync_features

        frame_rate = float(params.pop("frame_rate", 50.0))
        chroma_feature = params.pop("chroma_feature", DEFAULT_CHROMA_FEATURE)
        chroma_p, onset_p = dict(params.pop("chroma", {})), dict(params.pop("onsets", {}))
        self.sync_cfg = _sync_config(params)
        if self.v.kind == "score":
            return (
                self._single(chroma_feature, src, {"frame_rate": frame_rate, **chroma_p}),
                self._single("dlnco", src, {"frame_rate": frame_rate, **onset_p}),
            )
        y, sr = src
        # the features synchronize computes itself for audio (same extractor, shared tuning)
        return audio_sync_features(y, sr, frame_rate=frame_rate, chroma_feature=chroma_feature,
                                   chroma_params=chroma_p or None, onset_params=onset_p or None)

    def annotations(self, role: str):
        if role not in self._ann:
            self._ann[role] = self.v.read_annotations(role) if role in self.v.annotations else None
        return self._ann[role]


#: options of the chroma+dlnco combination (besides frame_rate, chroma, onsets)
SYNC_DEFAULTS = {"quantize": True, "onset_cost": "euclidean", "dense_cells": 100_000_000}


def _sync_config(params: dict) -> dict:
    given = ("frame_rate", "chroma", "onsets", "chroma_feature")
    params = {k: v for k, v in params.items() if k not in given}
    unknown = sorted(set(params) - set(SYNC_DEFAULTS))
    if unknown:
        raise ParameterError(
            f"{SYNC} takes frame_rate, chroma_feature, chroma, onsets, {', '.join(SYNC_DEFAULTS)} "
            f"parameters, not {unknown}"
        )
    cfg = {**SYNC_DEFAULTS, **params}
    if cfg["onset_cost"] not in ("euclidean", "sqeuclidean"):
        raise ParameterError(f"onset_cost={cfg['onset_cost']!r} is not one of ['euclidean', 'sqeuclidean']")
    return cfg


def quantize_chroma(
    chroma: np.ndarray, *, steps=(0.4, 0.2, 0.1, 0.05), threshold: float = 1e-3
) -> np.ndarray:
    """Quantised chroma as in the Sync Toolbox: l1-normalise, then add 1/len(steps) per step exceeded.

    Parameters
    ----------
    chroma : np.ndarray [shape=(n_frames, 12)]
    steps : sequence of float
    threshold : float
        Frames whose l1 norm is below it become zero.

    Returns
    -------
    np.ndarray [shape=(n_frames, 12), dtype=float64]
    """
    c = np.asarray(chroma, dtype=np.float64)
    s = c.sum(axis=1, keepdims=True)
    c = np.divide(c, s, out=np.zeros_like(c), where=s > threshold)
    q = np.zeros_like(c)
    for t in steps:
        q += (c > t) / len(steps)
    return q


def _stack_sync(
    chroma: np.ndarray, onsets: np.ndarray, weight: float, *, quantize: bool = True
) -> np.ndarray:
    c = quantize_chroma(chroma) if quantize else np.asarray(chroma, dtype=np.float64)
    norm = np.linalg.norm(c, axis=1, keepdims=True)
    c = np.divide(c, norm, out=np.zeros_like(c), where=norm > 0)
    n = min(len(c), len(onsets))
    return np.hstack([c[:n], np.sqrt(weight) * np.asarray(onsets[:n], dtype=np.float64)]).astype(np.float32)


def _sync_cost(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Cosine chroma cost + euclidean onset cost of stacked features (weight already in the onsets)."""
    from alignkit.align.cost import cost_matrix

    C = cost_matrix(X[:, :12], Y[:, :12], metric="cosine")
    C += cost_matrix(X[:, 12:], Y[:, 12:], metric="euclidean")
    return C


# ----------------------------------------------------------------------------- methods


def _metric_for(feature: str) -> str:
    return "sqeuclidean" if feature == SYNC else "cosine"


def _run_method(
    method: str,
    X: np.ndarray,
    Y: np.ndarray,
    rate: float,
    feature: str,
    options: dict,
    sync: dict | None = None,
):
    """Return ``(path, frame_rate_of_path)``.

    ``chroma+dlnco`` runs with steps ``symmetric1`` unless ``step_sizes`` is given. With
    ``onset_cost="euclidean"`` (and at most ``dense_cells`` cells) exact DTW runs on the dense
    cost cosine(chroma) + w * euclidean(DLNCO); multiscale DTW finds its path on the stacked
    features (squared euclidean: chroma and onsets) and refines it at full resolution with that
    dense cost within ``radius`` frames, as MrMsDTW uses chroma + DLNCO at its finest level.
    """
    metric = _metric_for(feature)
    opts = dict(options.get(method, {}))
    dense = False
    if feature == SYNC:
        sync = sync or SYNC_DEFAULTS
        if method != "softdtw":
            opts.setdefault("step_sizes", "symmetric1")
        dense = sync["onset_cost"] == "euclidean" and len(X) * len(Y) <= sync["dense_cells"]
    if method == "dtw":
        from alignkit.align.dtw import dtw

        if dense:
            return dtw(C=_sync_cost(X, Y), **opts).path, rate
        return dtw(X, Y, metric=metric, **opts).path, rate
    if method == "mrmsdtw":
        from alignkit.align.dtw import dtw
        from alignkit.align.multiscale import DEFAULT_RADIUS, multiscale_dtw

        path = multiscale_dtw(X, Y, metric=metric, **opts).path
        if dense:
            steps = {k: opts[k] for k in ("step_sizes", "weights") if k in opts}
            radius = int(opts.get("radius", DEFAULT_RADIUS))
            path = dtw(C=_sync_cost(X, Y), around_path=path, radius=radius, **steps).path
        return path, rate
    if method == "softdtw":
        return _soft_path(X, Y, rate, metric, **opts)
    raise ParameterError(f"method {method!r} has no path")  # pragma: no cover - validated earlier


def _run_sync(va, vb, rate: float, options: dict):
    """The engine's high-resolution synchronisation (:func:`alignkit.align.sync.synchronize`)."""
    from alignkit.align.sync import synchronize

    opts = dict(options.get("sync", {}))
    if va.sync_weight is not None:  # given explicitly to the harness; else synchronize's default
        opts = {"dlnco_weight": va.sync_weight, **opts}
    res = synchronize(va.raw_sync, vb.raw_sync, **opts)
    return res.path, float(res.frame_rate)


def _soft_path(X, Y, rate, metric, *, gamma: float = 0.1, max_cells: int = 1_000_000):
    """Soft-DTW on features pooled so the grid has at most ``max_cells`` cells; hard path from E."""
    import torch

    from alignkit.align.dtw import dtw
    from alignkit.align.multiscale import pool_features
    from alignkit.align.soft_dtw import expected_alignment

    n, m = len(X), len(Y)
    f = 1
    while -(-n // f) * -(-m // f) > max_cells:
        f += 1
    xp, yp = pool_features(X, f), pool_features(Y, f)
    E = expected_alignment(X=torch.from_numpy(xp), Y=torch.from_numpy(yp), gamma=gamma, metric=metric)
    e = E.detach().cpu().numpy().astype(np.float64)
    return dtw(C=e.max() - e, step_sizes="symmetric1").path, rate / f


def linear_transfer(times_a, *, duration_a: float, duration_b: float) -> np.ndarray:
    """The linear-scaling baseline: ``t * duration_b / duration_a`` (seconds)."""
    if not (duration_a > 0 and duration_b > 0):
        raise ParameterError(f"durations must be positive, got {duration_a!r} and {duration_b!r}")
    return np.asarray(times_a, dtype=np.float64) * (duration_b / duration_a)


def _matched(ann_a, ann_b):
    """Common annotations of two versions, in order (same count: by index; else by label)."""
    ta, tb = ann_a.times, ann_b.times
    if len(ta) == len(tb):
        return ta, tb
    try:
        ta, tb, _ = match_by_label(ta, ann_a.labels, tb, ann_b.labels)
        return ta, tb
    except ParameterError:
        pass
    if ann_a.kind == "beat":
        # ASAP-style beats (labels db/b repeat): the same beats in the same order, one list cut
        # short (an excerpt): the common prefix
        k = min(len(ta), len(tb))
        return ta[:k], tb[:k]
    return None


def _pair_errors(
    method: str, va: _Version, vb: _Version, feature: str, *, options: dict, levels: Sequence[str]
) -> tuple[dict[str, np.ndarray], float]:
    """Signed transfer errors per level of one pair, and the alignment time (s)."""
    t0 = time.perf_counter()
    if method == "linear":
        va.source(), vb.source()
        align_s = 0.0

        def transfer(t):  # noqa: E306
            return linear_transfer(t, duration_a=va.duration, duration_b=vb.duration)
    else:
        X, ra = va.features(feature)
        Y, rb = vb.features(feature)
        if not np.isclose(ra, rb):
            raise ParameterError(f"feature {feature!r} has frame rates {ra} and {rb} in the two versions")
        t0 = time.perf_counter()
        if method == "sync":
            path, rate = _run_sync(va, vb, ra, options)
        else:
            path, rate = _run_method(method, X, Y, ra, feature, options, va.sync_cfg)
        align_s = time.perf_counter() - t0

        def transfer(t):  # noqa: E306
            return transfer_times(path, t, frame_rate_a=rate, frame_rate_b=rate)

    out = {}
    for role in levels:
        aa, ab = va.annotations(role), vb.annotations(role)
        if aa is None or ab is None:
            continue
        m = _matched(aa, ab)
        if m is None or len(m[0]) == 0:
            continue
        ta, tb = m
        out[LEVELS[role]] = transfer(ta) - tb
    return out, align_s


# ----------------------------------------------------------------------------- the harness


def _summary_rows(
    level: str, err: np.ndarray, tols: Sequence[float]
) -> list[tuple[str, float, float | None]]:
    s = error_summary(err, tolerances=tols)
    within = [k for k in s if k.startswith("within_")]
    rows = [(f"{level}_{k}", float(s[k]), None) for k in ("mean_ms", "median_ms", "max_ms", "mean_signed_ms")]
    rows += [(f"{level}_{k}", float(s[k]), float(t)) for k, t in zip(within, tols, strict=True)]
    return rows


def _open(store):
    if store is None:
        return None
    if hasattr(store, "write_table"):
        return store
    from alignkit.store.results import open_store

    return open_store(store)


def _task_id(*parts) -> str:
    return "harness-" + hashlib.sha1(repr(parts).encode()).hexdigest()[:24]


def evaluate_corpus(
    corpus,
    *,
    methods=None,
    features=None,
    pairs: str = "all",
    reference: str | None = None,
    tolerances: Sequence[float] = DEFAULT_TOLERANCES,
    store=None,
    run_id: str | None = None,
    levels: Sequence[str] = ("beats", "measures", "notes"),
    include_scores: bool = True,
    sr: int = 22050,
    dlnco_weight: float | None = None,
    options: Mapping | None = None,
    on_error: str = "raise",
    progress=None,
):
    """Evaluate every method x feature on every annotated pair of versions of a corpus.

    Parameters
    ----------
    corpus : alignkit.corpus.Corpus or str or os.PathLike
        A corpus, or a folder / manifest :func:`alignkit.corpus.load_corpus` reads.
    methods : sequence of str, optional
        Subset of :data:`DEFAULT_METHODS` (default: all; ``softdtw`` only where it imports).
    features : sequence of str or dict of str -> dict, optional
        Feature names (registry extractors or ``"chroma+dlnco"``), optionally with their
        parameters (``{"chroma_stft": {"frame_rate": 25}}``; ``chroma+dlnco`` takes
        ``frame_rate``, ``chroma`` and ``onsets`` dicts). Default :data:`DEFAULT_FEATURES`.
    pairs : {"all", "star"}
        Every unordered pair of annotated versions of a work (``a`` before ``b`` in the
        corpus order, a score first), or ``reference`` against each other version.
    reference : str, optional
        Star centre (default: the work's first annotated version).
    tolerances : sequence of float
        Tolerances in seconds for the ``<level>_within_<ms>ms`` rows.
    store : str or ResultsStore, optional
        Also write the rows to the store's ``evaluation`` table (one file per pair).
    run_id : str, optional
        Written into every row (default: a time-based id).
    levels : sequence of str
        Annotation roles to evaluate (``beats``, ``measures``, ``notes``) where both versions
        have them. Two lists of different lengths are matched by label; beat lists whose
        labels repeat (ASAP ``db``/``b``) are matched on their common prefix.
    include_scores : bool
        Include score versions (their features come from the notes).
    sr : int
        Audio sample rate for decoding.
    dlnco_weight : float, optional
        Weight ``w`` of the DLNCO cost in ``chroma+dlnco`` (``None``: 1 for the dtw / mrmsdtw
        rows, :func:`alignkit.align.sync.synchronize`'s own default for ``sync``).
    options : dict of str -> dict, optional
        Extra keyword options per method, e.g. ``{"dtw": {"step_sizes": "symmetric1"},
        "mrmsdtw": {"radius": 8}, "softdtw": {"gamma": 0.1, "max_cells": 10**6}}``.
    on_error : {"raise", "skip"}
        What a failing pair x method x feature does (``skip`` leaves it out; the failure is
        listed in ``df.attrs["failures"]``).
    progress : callable, optional
        Called with a one-line message per pair (no printing inside).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EVAL_COLUMNS`, one row per pair x method x feature x metric (see the
        module docstring). ``df.attrs["failures"]`` lists skipped items. Summaries:
        :func:`aggregate`.

    Raises
    ------
    ParameterError
        Unknown method, feature, level or pair strategy; a bad tolerance.
    CorpusError
        The corpus cannot be read.
    """
    import pandas as pd

    from alignkit import corpus as ck

    ms = _check_methods(methods)
    fs = _check_features(features)
    tols = _check_tolerances(tolerances)
    if pairs not in ("all", "star"):
        raise ParameterError(f"pairs={pairs!r} is not one of ['all', 'star']")
    levels = tuple(levels)
    for lv in levels:
        if lv not in LEVELS:
            raise ParameterError(f"level {lv!r} is not one of {list(LEVELS)}")
    if on_error not in ("raise", "skip"):
        raise ParameterError(f"on_error={on_error!r} is not one of ['raise', 'skip']")
    if dlnco_weight is not None and not (np.isfinite(dlnco_weight) and dlnco_weight >= 0):
        raise ParameterError(f"dlnco_weight={dlnco_weight!r} must be a non-negative number")
    options = {k: dict(v) for k, v in dict(options or {}).items()}
    for k in options:
        if k not in DEFAULT_METHODS:
            raise ParameterError(f"options for unknown method {k!r}")
    c = corpus if hasattr(corpus, "versions_of") else ck.load_corpus(corpus)
    run_id = run_id or time.strftime("harness-%Y%m%dT%H%M%S")
    s = _open(store)

    rows: list[dict] = []
    failures: list[dict] = []
    for work in c.works():
        vs = [
            v
            for v in c.versions_of(work)
            if any(r in v.annotations for r in levels) and (include_scores or v.kind != "score")
        ]
        vs.sort(key=lambda v: (v.kind != "score", v.version))
        if len(vs) < 2:
            continue
        cache = {v.version: _Version(v, sr=sr, feature_params=fs, dlnco_weight=dlnco_weight) for v in vs}
        if pairs == "all":
            plist = list(combinations([v.version for v in vs], 2))
        else:
            ref = reference if reference is not None else vs[0].version
            if ref not in cache:
                raise ParameterError(f"reference={ref!r} is not an annotated version of work {work!r}")
            plist = [(ref, v.version) for v in vs if v.version != ref]
        for a, b in plist:
            va, vb = cache[a], cache[b]
            prow: list[dict] = []
            for method in ms:
                if method == "linear":
                    feats = ["none"]
                elif method == "sync":
                    feats = [SYNC] if SYNC in fs else []
                else:
                    feats = list(fs)
                for feature in feats:
                    try:
                        errs, align_s = _pair_errors(method, va, vb, feature, options=options, levels=levels)
                    except AlignkitError as exc:
                        if on_error == "raise":
                            raise
                        failures.append(
                            {
                                "work": work,
                                "version_a": a,
                                "version_b": b,
                                "method": method,
                                "feature": feature,
                                "error": f"{type(exc).__name__}: {exc}",
                            }
                        )
                        continue
                    base = dict(
                        method=method, work=work, version_a=a, version_b=b, feature=feature, run_id=run_id
                    )
                    for level, err in errs.items():
                        for metric, value, tol in _summary_rows(level, err, tols):
                            prow.append(
                                {
                                    **base,
                                    "metric": metric,
                                    "tolerance_s": tol,
                                    "value": value,
                                    "n_events": int(len(err)),
                                }
                            )
                    if method == "linear":
                        load = va.load_s + vb.load_s
                        timing = (load, 0.0, 0.0, load)
                    else:
                        load = va.load_s + vb.load_s
                        feat = va.feat_s[feature] + vb.feat_s[feature]
                        timing = (load, feat, align_s, load + feat + align_s)
                    for metric, value in zip(_TIMING, timing, strict=True):
                        prow.append(
                            {
                                **base,
                                "metric": metric,
                                "tolerance_s": None,
                                "value": float(value),
                                "n_events": None,
                            }
                        )
            if s is not None and prow:
                s.write_table("evaluation", prow, task_id=_task_id(run_id, work, a, b))
            rows.extend(prow)
            if progress is not None:
                best = [r["value"] for r in prow if r["metric"] == "beat_mean_ms"]
                progress(
                    f"{work}: {a} ~ {b}: {len(prow)} rows"
                    + (f", best beat mean {min(best):.1f} ms" if best else "")
                )
    df = pd.DataFrame(rows, columns=EVAL_COLUMNS)
    df["tolerance_s"] = df["tolerance_s"].astype("float64")
    df["n_events"] = df["n_events"].astype("Int64")
    df.attrs["failures"] = failures
    return df


# ----------------------------------------------------------------------------- aggregation


def _split_metric(metric: str) -> tuple[str, str]:
    for lv in LEVELS.values():
        if metric.startswith(lv + "_"):
            return lv, metric[len(lv) + 1 :]
    return "", metric


def aggregate(df, *, by: str = "overall"):
    """Summaries of an evaluation table: per work or overall, per method x feature x level.

    Means and shares within a tolerance are pooled over all events (pair values weighted by
    ``n_events``), so they equal the statistic over every annotation of every pair; the
    median is the median of the pair medians; the maximum is the largest pair maximum.
    Timing rows are averaged over pairs (seconds per pair).

    Parameters
    ----------
    df : pandas.DataFrame
        Rows as returned by :func:`evaluate_corpus` or read from the store's evaluation table.
        Metric names without a level prefix (as the pipeline writes them) are kept under the
        level ``""``.
    by : {"overall", "work"}

    Returns
    -------
    pandas.DataFrame
        Columns ``[work,] method, feature, level, statistic, tolerance_s, value, n_pairs,
        n_events``.
    """
    import pandas as pd

    if by not in ("overall", "work"):
        raise ParameterError(f"by={by!r} is not one of ['overall', 'work']")
    d = df.copy()
    if d.empty:
        raise ParameterError("the evaluation table is empty")
    for col in ("feature", "tolerance_s", "n_events"):
        if col not in d.columns:
            d[col] = None if col == "feature" else np.nan
    d["feature"] = d["feature"].astype(object).where(d["feature"].notna(), "none").astype(str)
    d["method"] = d["method"].astype(str)
    d["work"] = d["work"].astype(str)
    sp = d["metric"].astype(str).map(_split_metric)
    d["level"] = [x[0] for x in sp]
    d["statistic"] = [x[1] for x in sp]
    d = d[d["statistic"] != "n"]
    d["w"] = pd.to_numeric(d["n_events"], errors="coerce").fillna(1.0).astype(float)
    d["wv"] = d["w"] * d["value"].astype(float)
    keys = (["work"] if by == "work" else []) + ["method", "feature", "level", "statistic"]
    out = []
    for k, g in d.groupby(keys, sort=True, dropna=False):
        stat = k[-1]
        tol = g["tolerance_s"].astype(float)
        tol = float(tol.iloc[0]) if tol.notna().any() else np.nan
        if stat in _TIMING:
            value = float(g["value"].mean())
        elif stat.startswith("median"):
            value = float(g["value"].median())
        elif stat.startswith("max"):
            value = float(g["value"].max())
        else:
            value = float(g["wv"].sum() / g["w"].sum())
        n_ev = pd.to_numeric(g["n_events"], errors="coerce")
        out.append(
            {
                **dict(zip(keys, k, strict=True)),
                "tolerance_s": tol,
                "value": value,
                "n_pairs": int(g[["work", "version_a", "version_b"]].drop_duplicates().shape[0]),
                "n_events": int(n_ev.sum()) if n_ev.notna().any() else 0,
            }
        )
    return pd.DataFrame(out)


def pair_alignment(
    corpus,
    work: str,
    version_a: str,
    version_b: str,
    *,
    method: str,
    feature: str,
    sr: int = 22050,
    dlnco_weight: float | None = None,
    feature_params: Mapping | None = None,
    options: Mapping | None = None,
    level: str = "beats",
) -> dict:
    """Recompute one pair's alignment as the harness does (for plots of single pairs).

    Returns
    -------
    dict
        ``path`` [shape=(L, 2)] in frames (``None`` for ``linear``), ``frame_rate``,
        ``duration_a``, ``duration_b``, and the matched annotation times ``ref_a``, ``ref_b``
        of ``level`` (``None`` where either version lacks them).
    """
    from alignkit import corpus as ck

    _check_methods([method])
    fs = _check_features(
        {feature: dict((feature_params or {}).get(feature, {}))} if method != "linear" else None
    )
    c = corpus if hasattr(corpus, "versions_of") else ck.load_corpus(corpus)
    va = _Version(c.get(work, version_a), sr=sr, feature_params=fs, dlnco_weight=dlnco_weight)
    vb = _Version(c.get(work, version_b), sr=sr, feature_params=fs, dlnco_weight=dlnco_weight)
    va.source(), vb.source()
    path, rate = None, None
    if method != "linear":
        X, ra = va.features(feature)
        Y, _ = vb.features(feature)
        opts = {k: dict(v) for k, v in dict(options or {}).items()}
        if method == "sync":
            path, rate = _run_sync(va, vb, ra, opts)
        else:
            path, rate = _run_method(method, X, Y, ra, feature, opts, va.sync_cfg)
    ref_a = ref_b = None
    aa, ab = va.annotations(level), vb.annotations(level)
    if aa is not None and ab is not None:
        m = _matched(aa, ab)
        if m is not None:
            ref_a, ref_b = m
    return {
        "path": path,
        "frame_rate": rate,
        "duration_a": va.duration,
        "duration_b": vb.duration,
        "ref_a": ref_a,
        "ref_b": ref_b,
    }
