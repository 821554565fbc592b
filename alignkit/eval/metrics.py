"""Alignment accuracy: annotation transfer errors and path-vs-path discrepancy.

All paths follow the convention of :mod:`alignkit.align.paths` (int64 ``(L, 2)``, start to
end, column 0 = frame in A, column 1 = frame in B). Annotation times are in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alignkit.align.paths import TimeMap, compose_paths, fill_path, validate_path
from alignkit.exceptions import ParameterError

__all__ = [
    "DEFAULT_TOLERANCES",
    "transfer_times",
    "alignment_errors",
    "match_by_label",
    "error_summary",
    "linear_path",
    "path_discrepancy",
    "composition_discrepancy",
]

#: Tolerances (seconds) of :func:`error_summary`: 10, 25, 50, 100, 250, 500 and 1000 ms.
DEFAULT_TOLERANCES = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def _times(x, name: str) -> np.ndarray:
    t = np.asarray(x, dtype=np.float64)
    if t.ndim != 1:
        raise ParameterError(f"{name} must be a 1-D array of times in seconds, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        bad = t[~np.isfinite(t)][0]
        raise ParameterError(f"{name} holds a non-finite time ({bad})")
    return t


def transfer_times(path, times_a, *, frame_rate_a: float, frame_rate_b: float, strict: bool = True):
    """Transfer event times of version A to version B through a warping path.

    Parameters
    ----------
    path : array-like [shape=(L, 2)]
        Warping path A -> B in frames (alignkit convention).
    times_a : array-like [shape=(K,)]
        Event times in A, seconds.
    frame_rate_a, frame_rate_b : float
        Frames per second of A and B.
    strict : bool
        Use the strictly monotone (invertible) time map (see :class:`~alignkit.align.paths.TimeMap`).

    Returns
    -------
    times_b : np.ndarray [shape=(K,), dtype=float64]
        The events' times in B, seconds. Times outside the path are extrapolated.

    Raises
    ------
    ParameterError
        Bad path, frame rate or times.

    Examples
    --------
    >>> transfer_times([[0, 0], [1, 2], [2, 4]], [0.5], frame_rate_a=1.0, frame_rate_b=1.0)
    array([1.])
    """
    t = _times(times_a, "times_a")
    tm = TimeMap.from_path(path, frame_rate_a, frame_rate_b, strict=strict)
    return np.asarray(tm(t), dtype=np.float64)


def match_by_label(times_a, labels_a, times_b, labels_b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the annotations whose label occurs in both versions, in matching order.

    Use this before :func:`alignment_errors` when two versions have different numbers of
    annotations (a skipped repeat, a missing measure). Labels must identify annotations
    uniquely within each version (measure numbers, note ids, running beat indices).

    Parameters
    ----------
    times_a, times_b : array-like [shape=(K_a,)], [shape=(K_b,)]
        Annotation times, seconds.
    labels_a, labels_b : sequence [shape=(K_a,)], [shape=(K_b,)]
        Their labels (any hashable values; compared after ``str()`` so ``1`` and ``"1"`` match).

    Returns
    -------
    times_a, times_b : np.ndarray [shape=(K,)]
        Times of the common annotations, in A's order.
    labels : np.ndarray [shape=(K,), dtype=object]
        Their labels.

    Raises
    ------
    ParameterError
        Lengths differ from the labels, a label repeats within a version, the common
        labels come in a different order in the two versions, or nothing is common.
    """
    ta, tb = _times(times_a, "times_a"), _times(times_b, "times_b")
    la = [str(x) for x in labels_a]
    lb = [str(x) for x in labels_b]
    if len(la) != len(ta) or len(lb) != len(tb):
        raise ParameterError(
            f"times and labels differ in length: A {len(ta)} vs {len(la)}, B {len(tb)} vs {len(lb)}"
        )
    for name, labels in (("labels_a", la), ("labels_b", lb)):
        seen: set[str] = set()
        for x in labels:
            if x in seen:
                raise ParameterError(f"{name} repeats label {x!r}; labels must be unique to match by label")
            seen.add(x)
    pos_b = {x: i for i, x in enumerate(lb)}
    ia = np.array([i for i, x in enumerate(la) if x in pos_b], dtype=np.int64)
    if ia.size == 0:
        raise ParameterError("the two annotation lists share no label")
    ib = np.array([pos_b[la[i]] for i in ia], dtype=np.int64)
    if np.any(np.diff(ib) < 0):
        k = int(np.flatnonzero(np.diff(ib) < 0)[0])
        raise ParameterError(
            f"common labels come in a different order in A and B (at {la[ia[k]]!r} -> {la[ia[k + 1]]!r})"
        )
    return ta[ia], tb[ib], np.array([la[i] for i in ia], dtype=object)


def alignment_errors(
    path, ref_a, ref_b, *, frame_rate_a: float, frame_rate_b: float, strict: bool = True
) -> np.ndarray:
    """Signed errors of annotations transferred from A to B through a path.

    Parameters
    ----------
    path : array-like [shape=(L, 2)]
        Warping path A -> B in frames.
    ref_a, ref_b : array-like [shape=(K,)]
        Times (seconds) of the same K annotations (beats, measures, notes) in A and in B,
        in the same order. When the versions' annotation lists differ, match them first
        with :func:`match_by_label`.
    frame_rate_a, frame_rate_b : float
        Frames per second of A and B.
    strict : bool
        Use the strictly monotone time map.

    Returns
    -------
    errors : np.ndarray [shape=(K,), dtype=float64]
        ``transfer(ref_a) - ref_b`` in seconds: positive means the path places the event
        too late in B.

    Raises
    ------
    ParameterError
        ``ref_a`` and ``ref_b`` differ in count, or any input is malformed.
    """
    ta, tb = _times(ref_a, "ref_a"), _times(ref_b, "ref_b")
    if ta.shape != tb.shape:
        raise ParameterError(
            f"ref_a has {ta.size} annotations but ref_b has {tb.size}; "
            "match them first (alignkit.eval.match_by_label)"
        )
    return transfer_times(path, ta, frame_rate_a=frame_rate_a, frame_rate_b=frame_rate_b, strict=strict) - tb


def _tolerance_key(tol: float) -> str:
    ms = tol * 1000.0
    txt = f"{ms:.0f}" if abs(ms - round(ms)) < 1e-9 else f"{ms:g}".replace(".", "p")
    return f"within_{txt}ms"


def error_summary(errors, *, tolerances: Sequence[float] = DEFAULT_TOLERANCES) -> dict:
    """Summarise alignment errors.

    Parameters
    ----------
    errors : array-like [shape=(K,)]
        Signed errors in seconds (e.g. from :func:`alignment_errors`).
    tolerances : sequence of float
        Tolerances in seconds; each gives a key ``within_<ms>ms`` (e.g. ``within_10ms``,
        ``within_250ms``; a fractional millisecond value is written with ``p``: ``within_2p5ms``).

    Returns
    -------
    dict
        ``n``, ``mean_ms``, ``median_ms``, ``max_ms`` (of the absolute errors, milliseconds),
        ``mean_signed_ms`` (bias), and for each tolerance the share in [0, 1] of errors whose
        absolute value is at most the tolerance.

    Raises
    ------
    ParameterError
        No errors, non-finite errors, or a tolerance that is not positive.
    """
    e = _times(errors, "errors")
    if e.size == 0:
        raise ParameterError("errors is empty: nothing to summarise")
    tols = [float(t) for t in tolerances]
    for t in tols:
        if not np.isfinite(t) or t <= 0:
            raise ParameterError(f"tolerance {t!r} must be a positive number of seconds")
    a = np.abs(e)
    out: dict = {
        "n": int(e.size),
        "mean_ms": float(a.mean() * 1000.0),
        "median_ms": float(np.median(a) * 1000.0),
        "max_ms": float(a.max() * 1000.0),
        "mean_signed_ms": float(e.mean() * 1000.0),
    }
    for t in tols:
        # a tiny slack so an error of exactly 10 ms (after float round-off) counts as within 10 ms
        out[_tolerance_key(t)] = float(np.mean(a <= t * (1 + 1e-9) + 1e-12))
    return out


def linear_path(n: int, m: int) -> np.ndarray:
    """Return the linear-scaling baseline: the continuous path closest to the diagonal of n x m.

    Parameters
    ----------
    n, m : int
        Frames in A and in B (both >= 1).

    Returns
    -------
    np.ndarray [shape=(max(n, m), 2), dtype=int64]
        Global continuous path from ``(0, 0)`` to ``(n - 1, m - 1)``.

    Raises
    ------
    ParameterError
        If ``n`` or ``m`` is not a positive integer.
    """
    for name, v in (("n", n), ("m", m)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ParameterError(f"{name}={v!r} must be a positive integer")
    if n == 1 and m == 1:
        return np.zeros((1, 2), dtype=np.int64)
    return fill_path(np.array([[0, 0], [n - 1, m - 1]], dtype=np.int64))


def _row_intervals(ref: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """For a continuous path: first row, and per row (from it) the min and max column."""
    r0 = int(ref[0, 0])
    rows = ref[:, 0] - r0
    nr = int(rows[-1]) + 1
    lo = np.full(nr, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(nr, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(lo, rows, ref[:, 1])
    np.maximum.at(hi, rows, ref[:, 1])
    return r0, lo, hi


def _chebyshev_within(pts: np.ndarray, r0: int, lo: np.ndarray, hi: np.ndarray, r: np.ndarray):
    """Whether each point lies within Chebyshev distance ``r`` (per point) of a continuous path.

    For a continuous monotone path, the columns reached from rows ``[i - r, i + r]`` form the
    interval ``[lo[i - r], hi[i + r]]`` (rows clipped to the path), so the test is exact.
    """
    nr = len(lo)
    i = pts[:, 0] - r0
    a = np.maximum(i - r, 0)
    b = np.minimum(i + r, nr - 1)
    ok = a <= b
    a_c = np.clip(a, 0, nr - 1)
    b_c = np.clip(b, 0, nr - 1)
    j = pts[:, 1]
    return ok & (j >= lo[a_c] - r) & (j <= hi[b_c] + r)


def _chebyshev_distance(pts: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Exact L-infinity distance from each point to the nearest point of a continuous path."""
    r0, lo, hi = _row_intervals(ref)
    far = int(max(np.abs(pts).max(), np.abs(ref).max()) * 2 + 2)
    left = np.zeros(len(pts), dtype=np.int64)  # within(left) may be false
    right = np.full(len(pts), far, dtype=np.int64)  # within(right) is true
    inside = _chebyshev_within(pts, r0, lo, hi, left)
    right[inside] = 0
    todo = ~inside
    while np.any(todo & (right - left > 1)):
        mid = (left + right) // 2
        w = _chebyshev_within(pts, r0, lo, hi, mid)
        right = np.where(todo & w, mid, right)
        left = np.where(todo & ~w, mid, left)
    return right


def path_discrepancy(path, ref_path, *, radii: Sequence[int] = (0, 1, 2)) -> dict:
    """How far a path lies from a reference path, in frames.

    The distance of a point to a path is the L-infinity (Chebyshev) distance to the path's
    nearest point, so a point one frame off diagonally counts as 1, like one frame off
    horizontally or vertically. Both paths are made continuous with
    :func:`~alignkit.align.paths.fill_path` first.

    Parameters
    ----------
    path : array-like [shape=(L, 2)]
        The path to judge (e.g. from multiscale DTW).
    ref_path : array-like [shape=(L_ref, 2)]
        The reference (e.g. exact DTW or ground truth).
    radii : sequence of int
        Radii (frames) for the ``within_<r>`` shares.

    Returns
    -------
    dict
        ``n`` (points of the filled ``path``), ``within_<r>`` (share of ``path``'s points within
        ``r`` frames of ``ref_path``; ``within_0`` is the share lying on it), ``mean_distance``
        (symmetric: the mean of the mean distance of ``path`` to ``ref_path`` and of
        ``ref_path`` to ``path``), ``max_distance`` (symmetric Hausdorff distance).

    Raises
    ------
    ParameterError
        If either path is not monotone, or a radius is negative.
    """
    p = fill_path(validate_path(path, continuous=False, boundary=False))
    q = fill_path(validate_path(ref_path, continuous=False, boundary=False))
    rs = [int(r) for r in radii]
    if any(r < 0 for r in rs):
        raise ParameterError(f"radii={list(radii)!r} must be non-negative")
    d_pq = _chebyshev_distance(p, q)
    d_qp = _chebyshev_distance(q, p)
    out: dict = {"n": int(len(p))}
    for r in rs:
        out[f"within_{r}"] = float(np.mean(d_pq <= r))
    out["mean_distance"] = float(0.5 * (d_pq.mean() + d_qp.mean()))
    out["max_distance"] = int(max(d_pq.max(), d_qp.max()))
    return out


def composition_discrepancy(path_ab, path_bc, path_ac, *, radii: Sequence[int] = (0, 1, 2)) -> dict:
    """Consistency of three pairwise alignments: A -> B -> C composed against A -> C.

    Aligning three versions pairwise, the composition of A -> B and B -> C should agree with
    the direct A -> C path; a large discrepancy flags at least one bad alignment without any
    ground truth.

    Parameters
    ----------
    path_ab, path_bc, path_ac : array-like [shape=(L, 2)]
        Global paths A -> B, B -> C, A -> C (frames).
    radii : sequence of int
        As in :func:`path_discrepancy`.

    Returns
    -------
    dict
        :func:`path_discrepancy` of ``compose_paths(path_ab, path_bc)`` against ``path_ac``.

    Raises
    ------
    ParameterError
        Malformed paths, or ``path_bc`` not covering ``path_ab``'s B frames.
    """
    return path_discrepancy(compose_paths(path_ab, path_bc), path_ac, radii=radii)
