"""A small synthetic results store with known ground truth, for notebooks, docs and tests.

:func:`build_example_store` writes, for a few works, a score-like chord sequence and
several tempo-warped "performances" of it as features, aligns them with
:func:`alignkit.align.dtw` (method ``dtw``: a chain score - perf1 - perf2 - ..., so
transfers between performances go through composition) and with a straight line
(method ``linear``: score against each performance), stores a soft alignment for one pair,
evaluates every stored pair against the true beat times, and records a run and a failure.
Everything is deterministic in ``seed``; nothing is rendered or read from disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from alignkit.exceptions import ParameterError

__all__ = ["ExampleTruth", "build_example_store", "TOLERANCES"]

TOLERANCES = (0.025, 0.05, 0.1, 0.2, 0.5, 1.0)


@dataclass
class ExampleTruth:
    """Ground truth of an example store.

    Attributes
    ----------
    uri : str
    beats : dict
        ``beats[work][version]``: beat times in seconds (same beats, same order, per version).
    frame_rate : float
    """

    uri: str
    beats: dict = field(default_factory=dict)
    frame_rate: float = 10.0


def _versions(rng: np.random.Generator, n_versions: int, duration_s: float, frame_rate: float):
    """Chord sequence in score time and tempo-warped versions: (features per version, beats per version)."""
    # score: chords of 0.3-1.2 s, three active pitch classes each
    bounds = [0.0]
    while bounds[-1] < duration_s:
        bounds.append(bounds[-1] + rng.uniform(0.3, 1.2))
    bounds = np.asarray(bounds)
    chords = np.zeros((len(bounds) - 1, 12))
    for k in range(len(chords)):
        chords[k, rng.choice(12, 3, replace=False)] = rng.uniform(0.5, 1.0, 3)
    beats_s = np.arange(0.5, duration_s - 0.25, 0.5)
    s_grid = np.linspace(0, duration_s, 2001)
    feats, beats = {}, {}
    for vi in range(n_versions):
        vid = "score" if vi == 0 else f"perf{vi}"
        if vi == 0:
            warp = s_grid.copy()
        else:  # local tempo = exp(smooth random walk), clipped to [0.7, 1.4]
            steps = rng.normal(0, 0.04, s_grid.size).cumsum()
            tempo = np.clip(np.exp(steps - steps.mean() + rng.uniform(-0.15, 0.15)), 0.7, 1.4)
            warp = np.concatenate([[0.0], np.cumsum(np.diff(s_grid) / tempo[1:])])
        n = int(np.floor(warp[-1] * frame_rate))
        t = np.arange(n) / frame_rate
        s = np.interp(t, warp, s_grid)  # score time of each frame
        k = np.clip(np.searchsorted(bounds, s, side="right") - 1, 0, len(chords) - 1)
        x = chords[k] + 0.05 * rng.random((n, 12))
        feats[vid] = x.astype(np.float32)
        beats[vid] = np.interp(beats_s, s_grid, warp)
    return feats, beats


def _soft_around(path: np.ndarray, n: int, m: int, sigma: float = 2.0) -> np.ndarray:
    """Build a synthetic soft alignment: a Gaussian ridge around the path, rows summing to 1."""
    centre = np.zeros(n)
    np.add.at(centre, path[:, 0], path[:, 1])
    centre /= np.maximum(np.bincount(path[:, 0], minlength=n), 1)
    j = np.arange(m)[None, :]
    e = np.exp(-0.5 * ((j - centre[:, None]) / sigma) ** 2)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def build_example_store(
    uri: str | os.PathLike,
    *,
    n_works: int = 2,
    n_versions: int = 3,
    seed: int = 0,
    duration_s: float = 30.0,
    frame_rate: float = 10.0,
) -> ExampleTruth:
    """Write the example results into ``uri`` (idempotent: complete items are skipped).

    Parameters
    ----------
    uri : str or os.PathLike
        Store location (folder or fsspec URL).
    n_works : int >= 1
    n_versions : int >= 2
        Versions per work: ``score`` plus ``perf1`` ... ``perf{n_versions - 1}``.
    seed : int
    duration_s : float > 2
        Score duration.
    frame_rate : float > 0

    Returns
    -------
    ExampleTruth
        The store URI and the true beat times of every version.
    """
    from alignkit.align import dtw
    from alignkit.align.paths import TimeMap
    from alignkit.features.base import Features
    from alignkit.store.keys import item_key
    from alignkit.store.results import open_store

    if not isinstance(n_works, int) or n_works < 1:
        raise ParameterError(f"n_works={n_works!r} must be a positive integer")
    if not isinstance(n_versions, int) or n_versions < 2:
        raise ParameterError(f"n_versions={n_versions!r} must be an integer >= 2")
    if not duration_s > 2 or not frame_rate > 0:
        raise ParameterError(
            f"duration_s={duration_s!r} must exceed 2 and frame_rate={frame_rate!r} be positive"
        )
    store = open_store(uri)
    run_id = store.start_run(
        f"example-{seed}",
        params={"n_works": n_works, "n_versions": n_versions, "seed": seed, "duration_s": duration_s},
    )
    truth = ExampleTruth(uri=os.fspath(uri), frame_rate=frame_rate)
    for wi in range(n_works):
        work = f"work{wi + 1}"
        feats, beats = _versions(np.random.default_rng([seed, wi]), n_versions, duration_s, frame_rate)
        truth.beats[work] = beats
        names = list(feats)
        rec = []
        for v in names:
            f = Features(
                values=feats[v],
                frame_rate=frame_rate,
                name="chroma",
                params={"example_seed": seed},
                dim_labels=tuple("C C# D D# E F F# G G# A A# B".split()),
            )
            src = item_key("example", seed, work, v)
            if not store.features_complete(work, v, "chroma", source_hash=src, params_hash=f.hash):
                store.write_features(work, v, f, source_hash=src, kind="score" if v == "score" else "audio")
            rec.append(
                {
                    "work": work,
                    "version": v,
                    "kind": "score" if v == "score" else "audio",
                    "duration_s": len(feats[v]) / frame_rate,
                    "content_hash": src,
                    "run_id": run_id,
                    "n_annotations": len(beats[v]),
                }
            )
        store.write_table_rows("recordings", rec, task_id=f"recordings-{work}")
        pairs = {
            "dtw": list(zip(names[:-1], names[1:], strict=True)),
            "linear": [("score", v) for v in names[1:]],
        }
        ev = []
        for method, plist in pairs.items():
            for a, b in plist:
                na, nb = len(feats[a]), len(feats[b])
                if method == "dtw":
                    res = dtw(feats[a], feats[b], metric="cosine")
                    path, cost = res.path, res.cost
                else:
                    k = np.arange(max(na, nb))
                    path = np.stack(
                        [k * (na - 1) // max(len(k) - 1, 1), k * (nb - 1) // max(len(k) - 1, 1)], 1
                    )
                    cost = float("nan")
                soft = _soft_around(path, na, nb) if (method == "dtw" and a == "score") else None
                key = item_key(method, seed, work, a, b)
                if not store.alignment_complete(method, work, a, b, key=key):
                    store.write_alignment(
                        method,
                        work,
                        a,
                        b,
                        path=path,
                        cost=cost,
                        frame_rate_a=frame_rate,
                        frame_rate_b=frame_rate,
                        soft=soft,
                        key=key,
                        feature="chroma",
                        params={"metric": "cosine"} if method == "dtw" else {},
                    )
                est = TimeMap.from_path(path, frame_rate, frame_rate)(beats[a])
                err = np.abs(est - beats[b])
                for tol in TOLERANCES:
                    ev.append(
                        {
                            "method": method,
                            "work": work,
                            "version_a": a,
                            "version_b": b,
                            "metric": "accuracy",
                            "tolerance_s": tol,
                            "value": float(np.mean(err <= tol)),
                            "n_events": len(err),
                            "feature": "chroma",
                            "run_id": run_id,
                        }
                    )
                ev.append(
                    {
                        "method": method,
                        "work": work,
                        "version_a": a,
                        "version_b": b,
                        "metric": "mean_error_s",
                        "value": float(err.mean()),
                        "n_events": len(err),
                        "feature": "chroma",
                        "run_id": run_id,
                    }
                )
        store.write_table_rows("evaluation", ev, task_id=f"evaluation-{work}")
    store.record_failure(
        "work0:missing",
        "extract",
        FileNotFoundError("example failure: file not found"),
        run_id=run_id,
        work="work0",
        task_id="example-failure",
    )
    store.finish_run(run_id)
    return truth
