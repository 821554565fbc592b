"""THE warping-path convention of alignkit, its validators and converters.

Convention
----------
A warping path between a sequence ``X`` of ``N`` frames (version A, the rows of a
cost matrix) and a sequence ``Y`` of ``M`` frames (version B, the columns) is an
integer array of shape ``(L, 2)``, ordered **start to end**:

- ``path[:, 0]`` are frame indices into ``X`` (A), ``path[:, 1]`` into ``Y`` (B);
- both columns are non-decreasing (monotone);
- a *continuous* path moves by steps whose components are each 0 or 1 (never (0, 0));
  paths from other step-size sets (e.g. (2, 1), (1, 2)) are continuous after
  :func:`fill_path` interpolation;
- a *global* path runs from ``(0, 0)`` to ``(N - 1, M - 1)`` (boundary condition);
  a *subsequence* path runs from ``(0, b0)`` to ``(N - 1, b1)``.

In memory paths are ``np.int64``; the store keeps them as ``int32``. Other libraries'
conventions (librosa: end to start; Sync Toolbox: shape (2, L)) are converted only at the
boundary with :func:`from_librosa` / :func:`from_synctoolbox`.

Time maps
---------
:class:`TimeMap` turns a path and the two frame rates into a function "time ``t`` in A ->
time in B", by linear interpolation between the path's points (frame ``n`` lies at time
``n / frame_rate``). The strictly monotone variant collapses horizontal and vertical runs
of the path to their mean point first, so the map is invertible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alignkit.exceptions import ParameterError

__all__ = [
    "as_path",
    "validate_path",
    "is_monotone",
    "is_continuous",
    "check_boundary",
    "fill_path",
    "frames_to_seconds",
    "seconds_to_frames",
    "path_to_seconds",
    "path_to_matrix",
    "strictly_monotone_points",
    "TimeMap",
    "invert_path",
    "compose_paths",
    "from_librosa",
    "to_librosa",
    "from_synctoolbox",
    "to_synctoolbox",
]


def as_path(path) -> np.ndarray:
    """Return ``path`` as a contiguous ``(L, 2)`` int64 array, checking only its shape.

    Parameters
    ----------
    path : array-like [shape=(L, 2)]

    Returns
    -------
    np.ndarray [shape=(L, 2), dtype=int64]

    Raises
    ------
    ParameterError
        If the shape is not ``(L, 2)`` with ``L >= 1`` or entries are not integral.
    """
    arr = np.asarray(path)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise ParameterError(f"path must have shape (L, 2) with L >= 1, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ParameterError("path entries must be integral frame indices")
    elif arr.dtype.kind not in "iu":
        raise ParameterError(f"path must hold integers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def is_monotone(path) -> bool:
    """Return whether both columns of ``path`` are non-decreasing."""
    p = as_path(path)
    d = np.diff(p, axis=0)
    return bool(np.all(d >= 0))


def is_continuous(path) -> bool:
    """Return whether every step is one of (1, 0), (0, 1), (1, 1)."""
    p = as_path(path)
    d = np.diff(p, axis=0)
    return bool(np.all((d >= 0) & (d <= 1)) and np.all(d.sum(axis=1) >= 1))


def check_boundary(path, shape: tuple[int, int], *, subsequence: bool = False) -> bool:
    """Return whether ``path`` meets the boundary condition for a cost matrix of ``shape``.

    Global: starts at ``(0, 0)``, ends at ``(N - 1, M - 1)``. Subsequence: the first column
    starts at 0 and ends at ``N - 1``; the second lies anywhere inside ``[0, M)``.
    """
    p = as_path(path)
    n, m = (int(s) for s in shape)
    if subsequence:
        return bool(p[0, 0] == 0 and p[-1, 0] == n - 1 and p[:, 1].min() >= 0 and p[:, 1].max() < m)
    return bool(p[0, 0] == 0 and p[0, 1] == 0 and p[-1, 0] == n - 1 and p[-1, 1] == m - 1)


def validate_path(
    path,
    shape: tuple[int, int] | None = None,
    *,
    continuous: bool = True,
    boundary: bool = True,
    subsequence: bool = False,
) -> np.ndarray:
    """Check a path against the convention and return it as int64 ``(L, 2)``.

    Parameters
    ----------
    path : array-like [shape=(L, 2)]
    shape : (int, int), optional
        ``(N, M)`` of the cost matrix; needed for the boundary and range checks.
    continuous : bool
        Require steps in {(1, 0), (0, 1), (1, 1)}. Otherwise only strict progress
        (no repeated point) is required.
    boundary : bool
        Require the boundary condition (see :func:`check_boundary`).
    subsequence : bool
        Use the subsequence boundary condition.

    Returns
    -------
    np.ndarray [shape=(L, 2), dtype=int64]

    Raises
    ------
    ParameterError
        Naming the first violated property and where it happens.
    """
    p = as_path(path)
    if np.any(p < 0):
        raise ParameterError(f"path has negative indices at row {int(np.argmax((p < 0).any(axis=1)))}")
    d = np.diff(p, axis=0)
    bad = np.flatnonzero((d < 0).any(axis=1))
    if bad.size:
        k = int(bad[0])
        raise ParameterError(f"path is not monotone: step {p[k].tolist()} -> {p[k + 1].tolist()} at row {k}")
    if continuous:
        bad = np.flatnonzero((d > 1).any(axis=1) | (d.sum(axis=1) == 0))
        if bad.size:
            k = int(bad[0])
            raise ParameterError(
                f"path is not continuous: step {p[k].tolist()} -> {p[k + 1].tolist()} at row {k}"
            )
    else:
        bad = np.flatnonzero(d.sum(axis=1) == 0)
        if bad.size:
            raise ParameterError(f"path repeats point {p[int(bad[0])].tolist()} at row {int(bad[0])}")
    if shape is not None:
        n, m = (int(s) for s in shape)
        if p[:, 0].max() >= n or p[:, 1].max() >= m:
            raise ParameterError(f"path leaves the {n} x {m} matrix (max index {p.max(axis=0).tolist()})")
        if boundary and not check_boundary(p, (n, m), subsequence=subsequence):
            kind = "subsequence" if subsequence else "global"
            raise ParameterError(
                f"path violates the {kind} boundary condition for a {n} x {m} matrix: "
                f"starts at {p[0].tolist()}, ends at {p[-1].tolist()}"
            )
    return p


def fill_path(path) -> np.ndarray:
    """Make a monotone path continuous by inserting intermediate points.

    Steps larger than one frame (e.g. (2, 1) from the ``asymmetric`` step set, or jumps
    left by path composition) are filled with the points of a straight line, so the
    result has only (1, 0), (0, 1) and (1, 1) steps. Repeated points are dropped.

    Parameters
    ----------
    path : array-like [shape=(L, 2)], monotone

    Returns
    -------
    np.ndarray [shape=(L', 2), dtype=int64], continuous
    """
    p = as_path(path)
    if len(p) > 1:
        # drop repeated consecutive points (as documented), then require monotonicity
        dup = np.r_[False, np.all(np.diff(p, axis=0) == 0, axis=1)]
        p = validate_path(p[~dup], continuous=False, boundary=False)
    out = [p[:1]]
    for a, b in zip(p[:-1], p[1:], strict=True):
        di, dj = int(b[0] - a[0]), int(b[1] - a[1])
        n = max(di, dj)
        if n <= 1:
            out.append(b[None])
            continue
        t = np.arange(1, n + 1) / n
        seg = np.stack([a[0] + np.round(t * di), a[1] + np.round(t * dj)], axis=1).astype(np.int64)
        out.append(seg)
    q = np.concatenate(out, axis=0)
    # rounding can create duplicates only when one coordinate is flat; remove them
    keep = np.ones(len(q), dtype=bool)
    keep[1:] = np.any(np.diff(q, axis=0) != 0, axis=1)
    return q[keep]


def frames_to_seconds(frames, frame_rate: float) -> np.ndarray:
    """Frame indices -> seconds (frame ``n`` lies at ``n / frame_rate``)."""
    _check_rate(frame_rate)
    return np.asarray(frames, dtype=np.float64) / float(frame_rate)


def seconds_to_frames(seconds, frame_rate: float, *, rounding: str = "nearest") -> np.ndarray:
    """Seconds -> frame indices (``rounding``: 'nearest', 'floor' or 'ceil')."""
    _check_rate(frame_rate)
    x = np.asarray(seconds, dtype=np.float64) * float(frame_rate)
    ops = {"nearest": np.rint, "floor": np.floor, "ceil": np.ceil}
    if rounding not in ops:
        raise ParameterError(f"rounding={rounding!r} is not one of {sorted(ops)}")
    if not np.all(np.isfinite(x)):
        raise ParameterError("seconds must be finite to convert to frames")
    return ops[rounding](x).astype(np.int64)


def path_to_seconds(path, frame_rate_a: float, frame_rate_b: float | None = None) -> np.ndarray:
    """Convert a path to an ``(L, 2)`` float64 array of times in seconds."""
    p = as_path(path)
    rb = frame_rate_a if frame_rate_b is None else frame_rate_b
    return np.stack([frames_to_seconds(p[:, 0], frame_rate_a), frames_to_seconds(p[:, 1], rb)], axis=1)


def path_to_matrix(path, shape: tuple[int, int] | None = None, *, dtype=bool):
    """Binary alignment matrix with ones on the path's cells.

    Returns a ``scipy.sparse.csr_array`` of ``shape`` (default: just large enough), since
    a dense N x M matrix of a long recording does not fit in memory.
    """
    from scipy import sparse

    p = as_path(path)
    if np.any(p < 0):
        raise ParameterError(f"path has negative indices (min {p.min(axis=0).tolist()})")
    if shape is None:
        shape = (int(p[:, 0].max()) + 1, int(p[:, 1].max()) + 1)
    n, m = (int(s) for s in shape)
    if p[:, 0].max() >= n or p[:, 1].max() >= m:
        raise ParameterError(f"path does not fit into shape {(n, m)}")
    data = np.ones(len(p), dtype=dtype)
    return sparse.csr_array((data, (p[:, 0], p[:, 1])), shape=(n, m))


def _collapse(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of equal ``x`` (x sorted), keep one point at the mean of ``y``."""
    starts = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])
    counts = np.diff(np.r_[starts, len(x)])
    ys = np.add.reduceat(y, starts) / counts
    return x[starts].astype(np.float64), ys


def strictly_monotone_points(path) -> np.ndarray:
    """Anchor points of a path with both coordinates strictly increasing.

    Horizontal runs (one frame of A against several of B) collapse to one point at the
    mean B index, then vertical runs likewise; the result is a float64 ``(K, 2)`` array
    of (fractional) frame positions through which a strictly monotone, invertible map
    can be interpolated.
    """
    p = as_path(path).astype(np.float64)
    a, b = _collapse(p[:, 0], p[:, 1])
    b2, a2 = _collapse(b, a)
    return np.stack([a2, b2], axis=1)


@dataclass(frozen=True, eq=False)
class TimeMap:
    """A monotone map "time in A -> time in B" built from a path.

    Parameters
    ----------
    points : np.ndarray [shape=(K, 2)]
        Anchor points in seconds, first column strictly increasing.
    strict : bool
        Whether the second column is strictly increasing too (then the map is invertible).

    Use :meth:`from_path` to build one. Times outside the anchors are extrapolated with
    the slope of the whole map, so transferring an event shortly before the first frame
    still lands somewhere sensible (with a single anchor the slope is 1).
    """

    points: np.ndarray
    strict: bool = False

    def __post_init__(self):
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 1:
            raise ParameterError(f"TimeMap points must have shape (K, 2) with K >= 1, got {pts.shape}")
        if not np.all(np.isfinite(pts)):
            raise ParameterError("TimeMap points must be finite")
        if np.any(np.diff(pts[:, 0]) <= 0):
            raise ParameterError("TimeMap points: the first column (times in A) must be strictly increasing")
        d = np.diff(pts[:, 1])
        if np.any(d < 0) or (self.strict and np.any(d <= 0)):
            kind = "strictly increasing (strict map)" if self.strict else "non-decreasing"
            raise ParameterError(f"TimeMap points: the second column (times in B) must be {kind}")
        object.__setattr__(self, "points", pts)

    @classmethod
    def from_path(
        cls, path, frame_rate_a: float, frame_rate_b: float | None = None, *, strict: bool = True
    ) -> TimeMap:
        """Build the map from a path in frames and the two frame rates.

        Parameters
        ----------
        path : array-like [shape=(L, 2)]
        frame_rate_a, frame_rate_b : float
            Frames per second of A and B (``frame_rate_b`` defaults to ``frame_rate_a``).
        strict : bool
            Collapse horizontal and vertical runs so the map is strictly monotone and
            invertible. Otherwise only horizontal runs are collapsed (A -> mean B).
        """
        _check_rate(frame_rate_a)
        rb = frame_rate_a if frame_rate_b is None else frame_rate_b
        _check_rate(rb)
        p = validate_path(path, continuous=False, boundary=False)
        if strict:
            pts = strictly_monotone_points(p)
        else:
            a, b = _collapse(p[:, 0].astype(np.float64), p[:, 1].astype(np.float64))
            pts = np.stack([a, b], axis=1)
        pts = pts / np.array([frame_rate_a, rb])
        return cls(points=pts, strict=strict)

    def __call__(self, t) -> np.ndarray:
        """Map times in A (seconds) to times in B (seconds)."""
        t = np.asarray(t, dtype=np.float64)
        x, y = self.points[:, 0], self.points[:, 1]
        if len(x) == 1:
            # one anchor (a path that is a single point, or a pure horizontal/vertical run
            # under ``strict``): slope 1 through it, so the map stays strictly monotone and its
            # inverse is its inverse
            return y[0] + (t - x[0])
        out = np.interp(t, x, y)
        slope = (y[-1] - y[0]) / (x[-1] - x[0]) if x[-1] > x[0] else 1.0
        lo, hi = t < x[0], t > x[-1]
        out = np.where(lo, y[0] + (t - x[0]) * slope, out)
        out = np.where(hi, y[-1] + (t - x[-1]) * slope, out)
        return out

    def inverse(self) -> TimeMap:
        """Return the map B -> A (needs a strict map)."""
        if not self.strict:
            raise ParameterError("only a strict TimeMap can be inverted; build it with strict=True")
        return TimeMap(points=self.points[:, ::-1].copy(), strict=True)


def invert_path(path) -> np.ndarray:
    """Return the path B -> A: swap the columns (the order start -> end is kept)."""
    return as_path(path)[:, ::-1].copy()


def compose_paths(path_ab, path_bc) -> np.ndarray:
    """Compose A -> B and B -> C into a continuous path A -> C.

    Every pair ``(i, j)`` of ``path_ab`` is joined with every ``(j, k)`` of ``path_bc``;
    the joined pairs are monotone, and gaps are filled by :func:`fill_path`. Where one B frame
    is aligned to several A frames *and* several C frames, the join is a block; the result
    crosses it along its upper-right staircase (first along C at the block's first A frame,
    then along A at its last C frame), so every point still pairs A and C frames aligned to one B frame.
    On synthetic warps the composition lies within one frame of the true A -> C path.

    Parameters
    ----------
    path_ab : array-like [shape=(L1, 2)]
    path_bc : array-like [shape=(L2, 2)]
        Must cover the same B frames as ``path_ab`` (both global paths over B do).

    Returns
    -------
    np.ndarray [shape=(L, 2), dtype=int64]
    """
    ab = validate_path(path_ab, continuous=False, boundary=False)
    bc = validate_path(path_bc, continuous=False, boundary=False)
    # for each B frame, the range of rows in bc with that B index (bc sorted by column 0)
    jb = bc[:, 0]
    lo = np.searchsorted(jb, ab[:, 1], side="left")
    hi = np.searchsorted(jb, ab[:, 1], side="right")
    missing = lo == hi
    if np.any(missing):
        j = int(ab[np.argmax(missing), 1])
        raise ParameterError(f"paths do not share B frame {j}: path_bc does not cover path_ab's B range")
    counts = hi - lo
    rows = np.repeat(np.arange(len(ab)), counts)
    offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    idx = np.repeat(lo, counts) + offs
    joined = np.stack([ab[rows, 0], bc[idx, 1]], axis=1)
    # the join of two monotone paths is monotone in both columns when sorted lexicographically
    order = np.lexsort((joined[:, 1], joined[:, 0]))
    joined = joined[order]
    keep = np.ones(len(joined), dtype=bool)
    keep[1:] = np.any(np.diff(joined, axis=0) != 0, axis=1)
    joined = joined[keep]
    # a B frame aligned to several A frames and several C frames yields a block; keep its
    # monotone staircase (drop points that go backwards in C)
    joined[:, 1] = np.maximum.accumulate(joined[:, 1])
    keep = np.ones(len(joined), dtype=bool)
    keep[1:] = np.any(np.diff(joined, axis=0) != 0, axis=1)
    return fill_path(joined[keep])


def from_librosa(wp) -> np.ndarray:
    """Librosa's path (end -> start, shape (L, 2)) -> alignkit's."""
    return as_path(np.asarray(wp)[::-1])


def to_librosa(path) -> np.ndarray:
    """Alignkit's path -> librosa's (end -> start)."""
    return as_path(path)[::-1].copy()


def from_synctoolbox(wp) -> np.ndarray:
    """Sync Toolbox path (shape (2, L), start -> end) -> alignkit's."""
    return as_path(np.asarray(wp).T)


def to_synctoolbox(path) -> np.ndarray:
    """Alignkit's path -> Sync Toolbox's (shape (2, L))."""
    return as_path(path).T.copy()


def _check_rate(rate: float) -> None:
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise ParameterError(f"frame_rate={rate!r} must be a positive finite number")
    if not np.isfinite(rate) or rate <= 0:
        raise ParameterError(f"frame_rate={rate!r} must be a positive finite number")


def path_from_pairs(pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Build a path from a list of ``(i, j)`` pairs (convenience for tests and docs)."""
    return as_path(np.asarray(list(pairs), dtype=np.int64).reshape(-1, 2))
