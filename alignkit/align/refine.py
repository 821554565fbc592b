"""Onset-anchored refinement of a warping path: straight lines across passages without onsets.

Where neither version has a note onset (a held chord, a fermata, a rest), the local cost of a
synchronisation is flat and the DTW path is arbitrary: with ``symmetric1`` steps and a cost
offset it runs diagonally and then straight, kinked at a place no feature decides. Beats
annotated inside such a hold were placed by tempo continuity, so a time map that is linear
between the last onset before the hold and the first one after it matches them far better.

:func:`refine_path` does exactly that, and nothing else:

1. **Onsets.** For each version, the positive frame-to-frame increase of an onset feature
   (DLNCO, :func:`alignkit.features.onsets.dlnco`: per pitch class, locally normalised,
   decaying) gives an onset vector per frame; its l2 norm is the onset strength. Onset
   frames are local maxima of the strength of at least ``threshold``.
2. **Anchors** (:func:`onset_anchors`). An onset frame ``i`` of A and an onset frame ``j`` of
   B form an anchor when ``j`` lies within ``tolerance`` frames of where the path maps ``i``,
   their onset vectors have a cosine similarity of at least ``min_similarity`` (the same
   pitch classes start), the choice is mutual (``i`` is also the best A onset for ``j``),
   and it keeps the anchors strictly increasing in both versions.
3. **Straight lines.** Between two consecutive anchors at least ``min_gap`` seconds apart in A
   (no matched onset in between), the path is replaced by the straight line joining them.
   Everywhere else the path is kept, except that it is made to pass through every anchor,
   so dense textures are left essentially unchanged.

Measured on rendered ASAP performances (the 18 pairs of 90 s excerpts built by
``bench/bench_accuracy.py``'s ``build_corpus``; beats of A transferred to B), mean beat error:

==================  =========  ============  ==========================================
path                ASAP (ms)  within 0.1 s  demo corpus audio-audio / score-audio (ms)
==================  =========  ============  ==========================================
synchronize         25.2       95.8 %        40.9 / 60.6
+ refine_path       20.3       96.7 %        40.6 / 60.1
+ refine_time_map   19.4       96.7 %        40.4 / 59.0
==================  =========  ============  ==========================================

Beethoven 17-1's fermatas and held chords go from 30.7 to 21.1 ms (a whole 6-minute
performance pair: 47.6 -> 21.2 ms), dense textures (Bach) are unchanged (10.1 -> 9.8 ms), and
the multi-timbre demo corpus (``alignkit.synth.build_demo_corpus(size="small")``) gains a
little. It costs under 10 ms per pair of 90 s. Tried and dropped: a line between *every* two
anchors (21.4 ms: between nearby onsets the DTW path knows better), tempo-continuous curves
across holds (PCHIP 21.8 ms, Akima 21.3 ms), parabolic instead of centroid sub-frame peaks.
"""

from __future__ import annotations

import numbers

import numpy as np

from alignkit.align.paths import validate_path
from alignkit.exceptions import ParameterError

__all__ = [
    "onset_anchors",
    "refine_path",
    "refine_time_map",
    "onset_strength",
    "DEFAULT_MIN_GAP",
    "DEFAULT_THRESHOLD",
    "DEFAULT_TOLERANCE",
    "DEFAULT_MIN_SIMILARITY",
]

#: Seconds (in A) between consecutive anchors from which the path is replaced by a line.
DEFAULT_MIN_GAP = 1.0
#: Minimum onset strength (l2 norm of the DLNCO increase) of an onset frame.
DEFAULT_THRESHOLD = 0.2
#: Frames between the path's position and an anchor's B onset.
DEFAULT_TOLERANCE = 1
#: Minimum cosine similarity of the two onset vectors of an anchor.
DEFAULT_MIN_SIMILARITY = 0.3


# ----------------------------------------------------------------------------- checks


def _onset_values(x, name: str) -> tuple[np.ndarray, float | None]:
    rate = None
    if hasattr(x, "values") and hasattr(x, "frame_rate"):
        rate = float(x.frame_rate)
        x = x.values
    v = np.asarray(x)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[0] < 1 or v.shape[1] < 1 or v.dtype.kind not in "fiu":
        raise ParameterError(f"{name} must be a numeric (n_frames, n_dims) array, got shape {v.shape}")
    v = np.asarray(v, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise ParameterError(f"{name} holds NaN or infinite values")
    return v, rate


def _check_real(x, name: str, *, lo: float = 0.0, lo_open: bool = False, hi: float = np.inf) -> float:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real) or not np.isfinite(x):
        raise ParameterError(f"{name}={x!r} must be a finite number")
    x = float(x)
    if x < lo or (lo_open and x == lo) or x > hi:
        rng = f"{'>' if lo_open else '>='} {lo:g}" + ("" if hi == np.inf else f" and <= {hi:g}")
        raise ParameterError(f"{name}={x!r} must be {rng}")
    return x


def _check_int(x, name: str) -> int:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral) or x < 0:
        raise ParameterError(f"{name}={x!r} must be an integer >= 0")
    return int(x)


def _inputs(path, onsets_a, onsets_b):
    p = validate_path(path, continuous=False, boundary=False)
    va, ra = _onset_values(onsets_a, "onsets_a")
    vb, rb = _onset_values(onsets_b, "onsets_b")
    if va.shape[1] != vb.shape[1]:
        raise ParameterError(f"onsets_a has {va.shape[1]} dimensions but onsets_b {vb.shape[1]}")
    if p[:, 0].max() >= len(va) or p[:, 1].max() >= len(vb):
        raise ParameterError(
            f"path reaches frame {p.max(axis=0).tolist()} but the onsets have {len(va)} and {len(vb)} frames"
        )
    return p, va, vb, ra, rb


# ----------------------------------------------------------------------------- onsets and anchors


def _increments(v: np.ndarray) -> np.ndarray:
    """Positive frame-to-frame increase (the first frame against zero)."""
    d = np.diff(v, axis=0, prepend=np.zeros((1, v.shape[1])))
    return np.maximum(d, 0.0)


def onset_strength(onsets) -> np.ndarray:
    """Onset strength per frame: the l2 norm of the positive increase of an onset feature.

    Parameters
    ----------
    onsets : np.ndarray [shape=(n_frames, n_dims)] or Features
        E.g. DLNCO; a 1-D array is taken as one dimension.

    Returns
    -------
    np.ndarray [shape=(n_frames,), dtype=float64]
    """
    v, _ = _onset_values(onsets, "onsets")
    return np.linalg.norm(_increments(v), axis=1)


def _peaks(s: np.ndarray, threshold: float) -> np.ndarray:
    left = np.r_[-np.inf, s[:-1]]
    right = np.r_[s[1:], -np.inf]
    return np.flatnonzero((s >= threshold) & (s > 0) & (s > left) & (s >= right))


def _ranges(p: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last column-1 index per column-0 index of a monotone ``p`` (-1 where absent)."""
    lo = np.full(n, -1, dtype=np.int64)
    hi = np.full(n, -1, dtype=np.int64)
    # reversed assignment keeps the first occurrence; plain assignment the last
    lo[p[::-1, 0]] = p[::-1, 1]
    hi[p[:, 0]] = p[:, 1]
    return lo, hi


def _best_partner(src: np.ndarray, lo: np.ndarray, hi: np.ndarray, peaks_t: np.ndarray, vs: np.ndarray,
                  vt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best partner of each source frame: the most similar (cosine) target peak in ``[lo, hi]``.

    Ties go to the peak nearest the middle of the range; ``-1`` where the range holds no peak.
    """
    start = np.searchsorted(peaks_t, lo, side="left")
    cnt = np.searchsorted(peaks_t, hi, side="right") - start
    best = np.full(len(src), -1, dtype=np.int64)
    sim = np.full(len(src), -np.inf)
    total = int(cnt.sum())
    if total == 0:
        return best, sim
    rows = np.repeat(np.arange(len(src)), cnt)
    cand = peaks_t[np.repeat(start, cnt) + np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)]
    a, b = vs[src[rows]], vt[cand]
    c = np.einsum("kd,kd->k", a, b) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    dist = np.abs(2 * cand - lo[rows] - hi[rows])
    order = np.lexsort((dist, -c, rows))
    first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
    best[rows[first]] = cand[first]
    sim[rows[first]] = c[first]
    return best, sim


def _anchors(p, va, vb, threshold, tol, min_sim):
    ia_all, ib_all = _increments(va), _increments(vb)
    sa, sb = np.linalg.norm(ia_all, axis=1), np.linalg.norm(ib_all, axis=1)
    n, m = len(va), len(vb)
    peaks_a, pb = _peaks(sa, threshold), _peaks(sb, threshold)
    if peaks_a.size == 0 or pb.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    lo_b, hi_b = _ranges(p, n)
    lo_a, hi_a = _ranges(p[:, ::-1], m)
    pa = peaks_a[lo_b[peaks_a] >= 0]
    j, sim = _best_partner(pa, lo_b[pa] - tol, hi_b[pa] + tol, pb, ia_all, ib_all)
    keep = (j >= 0) & (sim >= min_sim)
    pa, j, sim = pa[keep], j[keep], sim[keep]
    back, _ = _best_partner(j, lo_a[j] - tol, hi_a[j] + tol, peaks_a, ib_all, ia_all)
    keep = back == pa
    pa, j, sim = pa[keep], j[keep], sim[keep]
    # strictly increasing in both: on a conflict keep the more similar of the two
    out_i: list[int] = []
    out_j: list[int] = []
    out_s: list[float] = []
    for i_, j_, s_ in zip(pa.tolist(), j.tolist(), sim.tolist(), strict=True):
        if out_j and j_ <= out_j[-1]:
            if s_ <= out_s[-1]:
                continue
            out_i.pop(), out_j.pop(), out_s.pop()
            if out_j and j_ <= out_j[-1]:
                continue
        out_i.append(i_)
        out_j.append(j_)
        out_s.append(s_)
    return np.stack([np.asarray(out_i, dtype=np.int64), np.asarray(out_j, dtype=np.int64)], axis=1)


def onset_anchors(path, onsets_a, onsets_b, *, threshold: float = DEFAULT_THRESHOLD,
                  tolerance: int = DEFAULT_TOLERANCE,
                  min_similarity: float = DEFAULT_MIN_SIMILARITY) -> np.ndarray:
    """Pairs of matching note onsets of A and B on (or next to) a warping path.

    Parameters
    ----------
    path : np.ndarray [shape=(L, 2)]
        Monotone warping path A -> B in frames (alignkit convention).
    onsets_a, onsets_b : np.ndarray [shape=(N, D)], [shape=(M, D)] or Features
        Onset features of A and B on the path's frames, e.g. DLNCO (12 pitch classes,
        locally normalised; the thresholds are on its scale).
    threshold : float >= 0
        Minimum onset strength (:func:`onset_strength`) of an onset frame.
    tolerance : int >= 0
        The B onset of an anchor lies within this many frames of where the path maps the A
        onset (and the other way round).
    min_similarity : float in [-1, 1]
        Minimum cosine similarity of the two onset vectors.

    Returns
    -------
    anchors : np.ndarray [shape=(K, 2), dtype=int64]
        ``(i, j)`` frame pairs, strictly increasing in both columns.

    Raises
    ------
    ParameterError
        Malformed path or onsets (the message names the bad value), or a path that leaves
        the onsets' frames.
    """
    p, va, vb, _, _ = _inputs(path, onsets_a, onsets_b)
    thr = _check_real(threshold, "threshold")
    tol = _check_int(tolerance, "tolerance")
    ms = _check_real(min_similarity, "min_similarity", lo=-1.0, hi=1.0)
    return _anchors(p, va, vb, thr, tol, ms)


# ----------------------------------------------------------------------------- the refined path


def _connect(q: np.ndarray) -> np.ndarray:
    """Continuous path through monotone, distinct points ``q``: straight lines in between."""
    d = np.diff(q, axis=0)
    n = d.max(axis=1)
    seg = np.repeat(np.arange(len(d)), n)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n) + 1
    steps = np.rint(d[seg] * (k / n[seg])[:, None]).astype(np.int64)
    return np.concatenate([q[:1], q[seg] + steps], axis=0)


def _splice(p: np.ndarray, anchors: np.ndarray, replace: np.ndarray) -> np.ndarray:
    """Make ``p`` pass through every anchor, with straight lines where ``replace`` says so.

    ``replace[k]``: replace the path between anchors ``k`` and ``k + 1`` by a straight line.
    """
    ai, aj = anchors[:, 0], anchors[:, 1]
    k_anchor = len(anchors)
    # anchors below p (both coordinates <=) and above it (both >=)
    below = np.minimum(np.searchsorted(ai, p[:, 0], side="right"), np.searchsorted(aj, p[:, 1], side="right"))
    above = k_anchor - np.maximum(np.searchsorted(ai, p[:, 0], side="left"),
                                  np.searchsorted(aj, p[:, 1], side="left"))
    comparable = below + above == k_anchor  # neither an anchor itself nor beside one
    seg = below - 1  # the path point lies between anchors seg and seg + 1
    drop = np.zeros(len(p), dtype=bool)
    if k_anchor > 1:
        inside = (seg >= 0) & (seg < k_anchor - 1)
        drop = inside & replace[np.clip(seg, 0, k_anchor - 2)]
    kept = p[comparable & ~drop]
    q = np.concatenate([kept, anchors], axis=0)
    q = q[np.lexsort((q[:, 1], q[:, 0]))]
    return _connect(q)


def refine_path(path, onsets_a, onsets_b, *, frame_rate: float | None = None,
                min_gap: float = DEFAULT_MIN_GAP, threshold: float = DEFAULT_THRESHOLD,
                tolerance: int = DEFAULT_TOLERANCE, min_similarity: float = DEFAULT_MIN_SIMILARITY,
                return_anchors: bool = False):
    """Straighten a warping path between matched note onsets that lie far apart.

    See the module docstring for the method and the measurements.

    Parameters
    ----------
    path : np.ndarray [shape=(L, 2)]
        Monotone warping path A -> B in frames (alignkit convention), e.g.
        ``synchronize(...).path``.
    onsets_a, onsets_b : np.ndarray [shape=(N, D)], [shape=(M, D)] or Features
        Onset features of A and B on the path's frames: DLNCO as used by
        :func:`alignkit.align.sync.synchronize` (12 pitch classes, locally normalised).
    frame_rate : float, optional
        Frames per second of both; taken from the onsets when they are ``Features``.
    min_gap : float >= 0
        Seconds (in A) between consecutive anchors from which the path between them is
        replaced by a straight line (0: between all anchors).
    threshold, tolerance, min_similarity
        Anchor selection, see :func:`onset_anchors`.
    return_anchors : bool
        Also return the anchors.

    Returns
    -------
    path : np.ndarray [shape=(L', 2), dtype=int64]
        Continuous and monotone, with the input's first and last points (a global path stays
        global). Without anchors, the input path made continuous.
    anchors : np.ndarray [shape=(K, 2), dtype=int64]
        Only with ``return_anchors``.

    Raises
    ------
    ParameterError
        Malformed inputs or options (the message names the bad value).

    Examples
    --------
    >>> import numpy as np
    >>> d = np.zeros((300, 12)); d[[10, 290], 0] = 1.0      # onsets in A at 10 and 290
    >>> e = np.zeros((400, 12)); e[[10, 390], 0] = 1.0      # the same onsets in B at 10 and 390
    >>> kinked = np.array([(i, i) for i in range(290)] + [(289, j) for j in range(290, 391)]
    ...                   + [(i, 390) for i in range(290, 300)] + [(299, j) for j in range(391, 400)])
    >>> straight = refine_path(kinked, d, e, frame_rate=50)
    >>> int(straight[np.searchsorted(straight[:, 0], 150), 1])  # halfway between the onsets
    200
    """
    p, va, vb, ra, rb = _inputs(path, onsets_a, onsets_b)
    rates = [r for r in (ra, rb) if r is not None]
    if frame_rate is not None:
        rate = _check_real(frame_rate, "frame_rate", lo_open=True)
        rates.append(rate)
    elif not rates:
        raise ParameterError("frame_rate is needed when the onsets are plain arrays (pass frame_rate=...)")
    rate = rates[0]
    if not np.allclose(rates, rate, rtol=1e-9, atol=0.0):
        raise ParameterError(f"the onsets and frame_rate disagree on the frame rate: {rates}")
    gap = _check_real(min_gap, "min_gap") * rate
    thr = _check_real(threshold, "threshold")
    tol = _check_int(tolerance, "tolerance")
    ms = _check_real(min_similarity, "min_similarity", lo=-1.0, hi=1.0)
    if not isinstance(return_anchors, (bool, np.bool_)):
        raise ParameterError(f"return_anchors={return_anchors!r} must be a bool")
    anchors = _anchors(p, va, vb, thr, tol, ms)
    dup = np.r_[False, np.all(np.diff(p, axis=0) == 0, axis=1)]
    p = p[~dup]
    if len(anchors) == 0:
        out = _connect(p) if len(p) > 1 else p.copy()
    else:
        replace = np.diff(anchors[:, 0]) >= max(gap, 1e-9)
        out = _splice(p, anchors, replace)
    return (out, anchors) if return_anchors else out


def _centroids(strength: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Sub-frame onset positions: strength-weighted mean frame over ``idx - 1 .. idx + 1``.

    Notes of a chord (or the spread of one onset over two frames) that peak in neighbouring
    frames move the position between them; at a local maximum it stays within half a frame.
    """
    n = len(strength)
    num = np.zeros(len(idx))
    den = np.zeros(len(idx))
    for o in (-1, 0, 1):
        k = idx + o
        ok = (k >= 0) & (k < n)
        w = np.where(ok, strength[np.clip(k, 0, n - 1)], 0.0)
        num += w * k
        den += w
    return np.where(den > 0, num / np.maximum(den, 1e-300), idx.astype(np.float64))


def refine_time_map(path, onsets_a, onsets_b, *, frame_rate: float | None = None,
                    min_gap: float = DEFAULT_MIN_GAP, threshold: float = DEFAULT_THRESHOLD,
                    tolerance: int = DEFAULT_TOLERANCE, min_similarity: float = DEFAULT_MIN_SIMILARITY):
    """:func:`refine_path` as a strictly monotone time map, with anchors at sub-frame positions.

    The map interpolates the refined path's points (as :meth:`TimeMap.from_path` with
    ``strict=True``), except that within a frame of each anchor the anchor's onset positions
    take over, refined to sub-frame precision (on each side, the mean frame of the onset
    strength over the peak frame and its two neighbours), and that across a hold the map is
    the straight line between the two sub-frame anchors. Measured (same corpus as the module
    docstring): 19.4 ms mean beat error on ASAP (:func:`refine_path`: 20.3 ms), median 8.5 ms
    (10.0 ms).

    Parameters
    ----------
    path, onsets_a, onsets_b, frame_rate, min_gap, threshold, tolerance, min_similarity
        See :func:`refine_path`.

    Returns
    -------
    alignkit.align.paths.TimeMap
        Strict (invertible) map "seconds in A -> seconds in B".

    Raises
    ------
    ParameterError
        Malformed inputs or options.
    """
    from alignkit.align.paths import TimeMap, strictly_monotone_points

    out, anchors = refine_path(path, onsets_a, onsets_b, frame_rate=frame_rate, min_gap=min_gap,
                               threshold=threshold, tolerance=tolerance, min_similarity=min_similarity,
                               return_anchors=True)
    va, ra = _onset_values(onsets_a, "onsets_a")
    vb, rb = _onset_values(onsets_b, "onsets_b")
    rate = float(frame_rate if frame_rate is not None else (ra if ra is not None else rb))
    pts = strictly_monotone_points(out)
    if len(anchors):
        fa = _centroids(np.linalg.norm(_increments(va), axis=1), anchors[:, 0])
        fb = _centroids(np.linalg.norm(_increments(vb), axis=1), anchors[:, 1])
        # path points within a frame of an anchor (in A or in B) give way to it (measured: a
        # margin of one frame is better than half a frame or two)
        ka = np.searchsorted(anchors[:, 0], pts[:, 0])
        kb = np.searchsorted(anchors[:, 1], pts[:, 1])
        near = np.zeros(len(pts), dtype=bool)
        for k, col, ref in ((ka, 0, anchors[:, 0]), (kb, 1, anchors[:, 1])):
            for kk in (k - 1, k):
                ok = (kk >= 0) & (kk < len(anchors))
                near |= ok & (np.abs(pts[:, col] - ref[np.clip(kk, 0, len(anchors) - 1)]) <= 1.0)
        # across a hold, the straight line between the sub-frame anchors themselves
        gap = _check_real(min_gap, "min_gap") * rate
        held = np.flatnonzero(np.diff(anchors[:, 0]) >= max(gap, 1e-9))
        if held.size:
            k = np.searchsorted(anchors[:, 0], pts[:, 0], side="right") - 1
            near |= np.isin(k, held) & (pts[:, 0] > anchors[np.clip(k, 0, None), 0])
        pts = np.concatenate([pts[~near], np.stack([fa, fb], axis=1)])
        pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]
        # anchors one frame apart can meet half-way: drop a point not beyond its predecessor
        while len(pts) > 1:
            bad = np.r_[False, np.any(np.diff(pts, axis=0) <= 0, axis=1)]
            if not bad.any():
                break
            pts = pts[~bad]
    return TimeMap(points=pts / rate, strict=True)
