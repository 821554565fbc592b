"""Dynamic time warping: step-size sets, global constraints, anchors.

The public function :func:`dtw` validates its arguments and builds the admissible region;
the numba kernels in :mod:`alignkit.align._kernels.cpu_dtw` fill the accumulated cost and
keep one back-pointer byte per admissible cell. When features ``X``, ``Y`` are given, the
local cost is computed inside the kernel (no ``N x M`` float matrix at all); only
``return_accumulated=True`` materialises ``N x M`` floats.

Admissible regions are stored as per-row column ranges ``[lo[i], hi[i])`` (plus, for an
arbitrary mask, one admissibility byte per cell in those ranges), never as a dense
``N x M`` array, so a band around a coarse path of a 90,000-frame recording stays small.

Recursion (global DTW, steps ``(di, dj)`` with weights ``w``)::

    D[0, 0] = C[0, 0]
    D[i, j] = min over steps s of  D[i - di_s, j - dj_s] + w_s * C[i, j]

so the total cost of a path is ``C[start] + sum over its steps of w_s * C[cell]``. Ties go
to the earlier step of the step list, as in librosa.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from alignkit.align import paths as _paths
from alignkit.align._kernels import cpu_dtw as _k
from alignkit.align.cost import METRIC_CODES, _check_metric, as_feature_pair, prepare_features
from alignkit.exceptions import ParameterError

__all__ = ["dtw", "DTWResult", "STEP_SETS", "resolve_step_sizes", "band_region", "path_region", "Region"]

_DIAG3 = np.array([[1, 1], [0, 1], [1, 0]], dtype=np.int64)

#: Named step-size sets: steps ``(di, dj)`` (predecessor is ``(i - di, j - dj)``), weights.
#: The order is the tie-breaking order.
STEP_SETS: dict[str, tuple[np.ndarray, np.ndarray]] = {
    # {(1,1), (0,1), (1,0)}, all weights 1 (librosa's default)
    "symmetric1": (_DIAG3, np.array([1.0, 1.0, 1.0])),
    # same steps, diagonal weighted 2 (Müller, FMP; Sakoe-Chiba "symmetric P=0")
    "symmetric2": (_DIAG3, np.array([2.0, 1.0, 1.0])),
    # {(1,1), (2,1), (1,2)}, all weights 1 (Müller FMP's Sigma_2): slope between 1/2 and 2
    "sigma2": (np.array([[1, 1], [2, 1], [1, 2]], dtype=np.int64), np.array([1.0, 1.0, 1.0])),
}


@dataclass(frozen=True)
class DTWResult:
    """Result of :func:`dtw` (and :func:`alignkit.align.multiscale.multiscale_dtw`).

    Attributes
    ----------
    cost : float
        Total accumulated cost at ``(N - 1, M - 1)`` (start cell counted once, every other
        cell of the path times the weight of the step that enters it).
    path : np.ndarray [shape=(L, 2), dtype=int64]
        Optimal warping path, start -> end, per :mod:`alignkit.align.paths`. For step sets
        with jumps (``"sigma2"``) these are the raw visited cells (use
        :func:`alignkit.align.paths.fill_path` for a continuous path).
    accumulated : np.ndarray [shape=(N, M), dtype=float64] or None
        Accumulated cost matrix (``inf`` outside the admissible region), only with
        ``return_accumulated=True``.
    normalized_cost : float
        For ``"symmetric2"``: ``cost / (N + M)`` (every admissible path has total weight
        ``N + M - 1``, so this is about the weighted mean local cost); for every other
        step set: ``cost / L`` with ``L`` the number of path cells.
    step_sizes : str
        Name of the step-size set (``"custom"`` for a user array).
    n_cells : int
        Number of admissible cells the kernel evaluated (all levels for multiscale).
    info : dict
        Extra diagnostics (multiscale: the levels, factors and region sizes).
    """

    cost: float
    path: np.ndarray
    accumulated: np.ndarray | None
    normalized_cost: float
    step_sizes: str
    n_cells: int = 0
    info: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- step sizes

def resolve_step_sizes(step_sizes, weights=None) -> tuple[str, np.ndarray, np.ndarray]:
    """Validate a step-size specification.

    Parameters
    ----------
    step_sizes : str or array-like [shape=(S, 2)]
        A name from :data:`STEP_SETS` or integer steps ``(di, dj)``, each component >= 0,
        not both 0.
    weights : array-like [shape=(S,)], optional
        Non-negative finite weights; default: the named set's weights, or all 1.

    Returns
    -------
    name : str
    steps : np.ndarray [shape=(S, 2), dtype=int64]
    weights : np.ndarray [shape=(S,), dtype=float64]
    """
    if isinstance(step_sizes, str):
        if step_sizes not in STEP_SETS:
            raise ParameterError(
                f"step_sizes={step_sizes!r} is not one of {sorted(STEP_SETS)} or an (S, 2) array"
            )
        name = step_sizes
        steps, w = STEP_SETS[name]
        steps = steps.copy()
        w = w.copy()
    else:
        name = "custom"
        try:
            arr = np.asarray(step_sizes)
        except Exception as exc:  # ragged lists etc.
            raise ParameterError(f"step_sizes={step_sizes!r} is not an (S, 2) integer array") from exc
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
            raise ParameterError(f"step_sizes must have shape (S, 2) with S >= 1, got shape {arr.shape}")
        if arr.dtype.kind not in "iu":
            raise ParameterError(f"step_sizes must be integers, got dtype {arr.dtype}")
        if arr.shape[0] > 250:
            raise ParameterError(f"at most 250 steps are supported, got {arr.shape[0]}")
        steps = arr.astype(np.int64)
        if np.any(steps < 0) or np.any(steps.sum(axis=1) == 0):
            raise ParameterError(
                f"step_sizes={steps.tolist()}: every step (di, dj) needs di >= 0, dj >= 0 and not (0, 0)"
            )
        if len({tuple(s) for s in steps.tolist()}) != len(steps):
            raise ParameterError(f"step_sizes={steps.tolist()} has duplicate steps")
        w = np.ones(len(steps))
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape != (len(steps),):
            raise ParameterError(f"weights has {w.size} entries for {len(steps)} steps")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ParameterError(f"weights={w.tolist()} must be finite and non-negative")
        if name != "custom":
            name = f"{name}(weights={w.tolist()})"
    return name, steps, w


# --------------------------------------------------------------------------- admissible regions

@dataclass(frozen=True)
class Region:
    """Admissible cells as per-row column ranges.

    Attributes
    ----------
    lo, hi : np.ndarray [shape=(N,), dtype=int64]
        Row ``i`` admits columns ``[lo[i], hi[i])`` (empty when ``hi[i] <= lo[i]``).
    n_cols : int
        ``M``.
    allowed : np.ndarray [shape=(n_cells,), dtype=uint8] or None
        Per cell of the ranges (row-major): 0 = excluded. None: all admitted.
    """

    lo: np.ndarray
    hi: np.ndarray
    n_cols: int
    allowed: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        """``N``."""
        return int(self.lo.shape[0])

    @property
    def counts(self) -> np.ndarray:
        """Cells per row."""
        return np.maximum(self.hi - self.lo, 0)

    @property
    def offsets(self) -> np.ndarray:
        """``(N + 1,)`` start of each row in the flat cell arrays."""
        return np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)

    @property
    def n_cells(self) -> int:
        """Number of cells in the ranges."""
        return int(self.counts.sum())

    def contains(self, i: int, j: int) -> bool:
        """Whether cell ``(i, j)`` is admissible."""
        if not (0 <= i < self.n_rows and self.lo[i] <= j < self.hi[i]):
            return False
        if self.allowed is None:
            return True
        return bool(self.allowed[self.offsets[i] + j - self.lo[i]])

    def to_dense(self) -> np.ndarray:
        """Dense boolean ``(N, M)`` mask (for tests and small inputs only)."""
        out = np.zeros((self.n_rows, self.n_cols), dtype=bool)
        offs = self.offsets
        for i in range(self.n_rows):
            lo, hi = int(self.lo[i]), int(self.hi[i])
            if hi > lo:
                cells = True if self.allowed is None else self.allowed[offs[i]:offs[i + 1]].astype(bool)
                out[i, lo:hi] = cells
        return out

    def restrict(self, lo, hi) -> Region:
        """Intersect with the per-row ranges ``[lo, hi)``."""
        lo = np.maximum(np.asarray(lo, dtype=np.int64), self.lo)
        hi = np.minimum(np.asarray(hi, dtype=np.int64), self.hi)
        hi = np.maximum(hi, lo)
        allowed = None
        if self.allowed is not None:
            counts = hi - lo
            src = self.offsets[:-1] + (lo - self.lo)
            dst = np.concatenate([[0], np.cumsum(counts)[:-1]])
            idx = np.repeat(src - dst, counts) + np.arange(int(counts.sum()))
            allowed = self.allowed[idx]
        return Region(lo, hi, self.n_cols, allowed)

    def intersect(self, other: Region) -> Region:
        """Cells admissible in both regions."""
        a = self.restrict(other.lo, other.hi)
        if other.allowed is None:
            return a
        b = other.restrict(a.lo, a.hi)
        allowed = b.allowed if a.allowed is None else (a.allowed & b.allowed)
        return Region(a.lo, a.hi, self.n_cols, allowed)

    def block(self, r0: int, r1: int, c0: int, c1: int) -> Region:
        """Cut out rows ``[r0, r1)`` and columns ``[c0, c1)``, re-indexed from 0."""
        sub = Region(self.lo[r0:r1], self.hi[r0:r1], self.n_cols,
                     None if self.allowed is None else self.allowed[self.offsets[r0]:self.offsets[r1]])
        sub = sub.restrict(np.full(r1 - r0, c0), np.full(r1 - r0, c1))
        return Region(sub.lo - c0, sub.hi - c0, c1 - c0, sub.allowed)


def _full_region(n: int, m: int) -> Region:
    return Region(np.zeros(n, np.int64), np.full(n, m, np.int64), m)


def _dilate_row_ranges(rlo: np.ndarray, rhi: np.ndarray, radius: int, m: int):
    """Chebyshev dilation of monotone per-row ranges ``[rlo, rhi)`` by ``radius``.

    ``rlo`` and ``rhi`` must be non-decreasing over the covered rows; uncovered rows have
    ``rhi <= rlo`` and must lie before or after the covered block.
    """
    n = len(rlo)
    covered = np.flatnonzero(rhi > rlo)
    if covered.size == 0:
        return np.zeros(n, np.int64), np.zeros(n, np.int64)
    p0, p1 = int(covered[0]), int(covered[-1])
    i = np.arange(n)
    a = np.clip(i - radius, p0, p1)  # window [i - r, i + r] clipped to the covered rows
    b = np.clip(i + radius, p0, p1)
    lo = np.maximum(rlo[a] - radius, 0)
    hi = np.minimum(rhi[b] + radius, m)
    empty = (i + radius < p0) | (i - radius > p1)
    lo[empty] = 0
    hi[empty] = 0
    return lo.astype(np.int64), hi.astype(np.int64)


def _fill(p: np.ndarray) -> np.ndarray:
    """Vectorised :func:`alignkit.align.paths.fill_path` for a validated monotone path."""
    if len(p) < 2:
        return p
    d = np.diff(p, axis=0)
    nk = d.max(axis=1)
    if np.all(nk == 1):
        return p
    seg = np.repeat(np.arange(len(d)), nk)
    t = (np.arange(int(nk.sum())) - np.repeat(np.cumsum(nk) - nk, nk) + 1) / nk[seg]
    pts = p[seg] + np.round(t[:, None] * d[seg]).astype(np.int64)
    return np.concatenate([p[:1], pts], axis=0)


def path_region(path, shape: tuple[int, int], radius: int, *, scale: int = 1) -> Region:
    """Cells within Chebyshev distance ``radius`` of a path, as per-row column ranges.

    (A cell ``(i, j)`` is admitted when some path cell ``(p, q)`` has ``|i - p| <= radius``
    and ``|j - q| <= radius``; around a diagonal path this reaches ``|i - j| <= 2 radius``.)

    Parameters
    ----------
    path : array-like [shape=(L, 2)]
        A monotone path; filled to a continuous one first.
    shape : (int, int)
        ``(N, M)`` of the (fine) grid.
    radius : int
        Dilation in (fine) frames, >= 0.
    scale : int
        The path lives on a grid ``scale`` times coarser: coarse cell ``(a, b)`` covers fine
        rows ``[a*scale, (a+1)*scale)`` and columns ``[b*scale, (b+1)*scale)``.

    Returns
    -------
    Region
    """
    n, m = (int(s) for s in shape)
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral) or scale < 1:
        raise ParameterError(f"scale={scale!r} must be a positive integer")
    scale = int(scale)
    p = _fill(_paths.validate_path(path, continuous=False, boundary=False))
    nc = -(-n // scale)
    if p[:, 0].max() >= nc or p[:, 1].max() * scale >= m:
        raise ParameterError(f"around_path leaves the {n} x {m} grid (max index {p.max(axis=0).tolist()})")
    # per coarse row: first and last column of the path (path sorted by row, columns monotone)
    rows = p[:, 0]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    ends = np.r_[starts[1:], len(rows)] - 1
    clo = np.full(nc, 0, np.int64)
    chi = np.full(nc, 0, np.int64)
    clo[rows[starts]] = p[starts, 1] * scale
    chi[rows[starts]] = np.minimum((p[ends, 1] + 1) * scale, m)
    rlo = np.repeat(clo, scale)[:n]
    rhi = np.repeat(chi, scale)[:n]
    lo, hi = _dilate_row_ranges(rlo, rhi, int(radius), m)
    return Region(lo, hi, m)


def band_region(shape: tuple[int, int], band) -> Region:
    """Sakoe-Chiba band relative to the diagonal from ``(0, 0)`` to ``(N - 1, M - 1)``.

    A cell ``(i, j)`` is admitted when its horizontal or its vertical distance to the
    straight digital line between the two corners is at most ``w`` frames. For a square
    matrix this is the classic ``|i - j| <= w``; for any aspect ratio the band is connected
    and contains the corners (``w = 0`` admits exactly the line).

    Parameters
    ----------
    shape : (int, int)
    band : int or float
        Half-width ``w`` in frames; a float ``0 < band < 1`` is a fraction of ``max(N, M)``
        (rounded up).
    """
    n, m = (int(s) for s in shape)
    if isinstance(band, bool) or not isinstance(band, numbers.Real) or not np.isfinite(band) or band < 0:
        raise ParameterError(f"band={band!r} must be a non-negative number of frames or a fraction in (0, 1)")
    if isinstance(band, numbers.Integral) or band >= 1 or band == 0:
        if not float(band).is_integer():
            raise ParameterError(f"band={band!r}: a band of 1 frame or more must be a whole number of frames")
        w = int(band)
    else:
        w = int(np.ceil(float(band) * max(n, m)))
    line = _fill(np.array([[0, 0], [n - 1, m - 1]], dtype=np.int64)) if (n > 1 or m > 1) \
        else np.zeros((1, 2), np.int64)
    rows, cols = line[:, 0], line[:, 1]
    # the line's column range in each row, and its row range in each column
    rlo = np.full(n, m, np.int64)
    rhi = np.zeros(n, np.int64)
    np.minimum.at(rlo, rows, cols)
    np.maximum.at(rhi, rows, cols + 1)
    clo = np.full(m, n, np.int64)
    chi = np.zeros(m, np.int64)
    np.minimum.at(clo, cols, rows)
    np.maximum.at(chi, cols, rows)
    i = np.arange(n)
    vlo = np.searchsorted(chi, i - w, side="left")   # first column whose line rows reach i - w
    vhi = np.searchsorted(clo, i + w, side="right")  # past the last column whose line rows start <= i + w
    lo = np.clip(np.minimum(rlo - w, vlo), 0, m).astype(np.int64)
    hi = np.clip(np.maximum(rhi + w, vhi), 0, m).astype(np.int64)
    return Region(lo, hi, m)


def _mask_region(mask, n: int, m: int) -> Region:
    """Region from a dense boolean mask, a scipy sparse matrix, or a (lo, hi) tuple."""
    if isinstance(mask, tuple):
        if len(mask) != 2:
            raise ParameterError("mask as a tuple must be (lo, hi): per-row column ranges [lo, hi)")
        lo = np.asarray(mask[0])
        hi = np.asarray(mask[1])
        if lo.shape != (n,) or hi.shape != (n,) or lo.dtype.kind not in "iu" or hi.dtype.kind not in "iu":
            raise ParameterError(f"mask ranges (lo, hi) must be two integer arrays of shape ({n},)")
        lo = np.clip(lo.astype(np.int64), 0, m)
        hi = np.clip(hi.astype(np.int64), 0, m)
        return Region(lo, np.maximum(hi, lo), m)
    if hasattr(mask, "tocsr") and hasattr(mask, "nnz"):  # scipy sparse
        csr = mask.tocsr()
        if csr.shape != (n, m):
            raise ParameterError(f"mask has shape {csr.shape}, the cost matrix is {(n, m)}")
        csr = csr.copy()
        csr.eliminate_zeros()
        csr.sort_indices()
        indptr, idx = csr.indptr, csr.indices.astype(np.int64)
        cnt = np.diff(indptr)
        lo = np.zeros(n, np.int64)
        hi = np.zeros(n, np.int64)
        has = cnt > 0
        lo[has] = idx[indptr[:-1][has]]
        hi[has] = idx[indptr[1:][has] - 1] + 1
        reg = Region(lo, hi, m)
        allowed = np.zeros(reg.n_cells, np.uint8)
        rows = np.repeat(np.arange(n), cnt)
        allowed[reg.offsets[rows] + idx - lo[rows]] = 1
        return Region(lo, hi, m, allowed)
    arr = np.asarray(mask)
    if arr.dtype != bool:
        raise ParameterError(f"mask must be a boolean array, got dtype {arr.dtype}")
    if arr.shape != (n, m):
        raise ParameterError(f"mask has shape {arr.shape}, the cost matrix is {(n, m)}")
    has = arr.any(axis=1)
    lo = np.where(has, np.argmax(arr, axis=1), 0).astype(np.int64)
    hi = np.where(has, m - np.argmax(arr[:, ::-1], axis=1), 0).astype(np.int64)
    cols = np.arange(m)
    within = (cols[None, :] >= lo[:, None]) & (cols[None, :] < hi[:, None])
    return Region(lo, hi, m, arr[within].astype(np.uint8))


# --------------------------------------------------------------------------- solving

@dataclass
class _Problem:
    """Validated inputs: either prepared features (x, y) or a cost matrix C."""

    n: int
    m: int
    metric_code: int
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    C: np.ndarray | None = None
    offset: float = 0.0  # added to every local cost (fused into the kernels)

    def sub(self, r0: int, r1: int, c0: int, c1: int) -> _Problem:
        if self.C is not None:
            return _Problem(r1 - r0, c1 - c0, self.metric_code, C=np.ascontiguousarray(self.C[r0:r1, c0:c1]),
                            offset=self.offset)
        return _Problem(r1 - r0, c1 - c0, self.metric_code, x=self.x[r0:r1], y=self.y[c0:c1],
                        offset=self.offset)

    def local_cost(self, cells: np.ndarray) -> np.ndarray:
        cells = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
        if self.C is not None:
            return self.C[cells[:, 0], cells[:, 1]].astype(np.float64) + self.offset
        return _k.path_local_cost(self.x, self.y, self.metric_code, cells, float(self.offset))


_DUMMY_F32 = np.zeros((1, 1), np.float32)
_DUMMY_ACC = np.zeros((1, 1), np.float64)
_DUMMY_U8 = np.zeros(1, np.uint8)


def _run_region(prob: _Problem, reg: Region | None, steps, w, *, subseq: bool, want_acc: bool):
    """Run a region kernel; returns (bp, last_row, acc, region, offsets)."""
    if reg is None:
        reg = _full_region(prob.n, prob.m)
    offs = reg.offsets
    use_c = prob.C is not None
    x = prob.x if not use_c else _DUMMY_F32
    y = np.ascontiguousarray(prob.y.T) if not use_c else _DUMMY_F32  # (D, M): rows vectorise
    C = prob.C if use_c else _DUMMY_F32
    acc = np.full((prob.n, prob.m), np.inf) if want_acc else _DUMMY_ACC
    use_allowed = reg.allowed is not None
    allowed = reg.allowed if use_allowed else _DUMMY_U8
    if np.array_equal(steps, _DIAG3):
        bp, last = _k.region3(x, y, C, use_c, prob.metric_code, prob.m, reg.lo, reg.hi, offs, allowed,
                              use_allowed, float(w[0]), float(w[1]), float(w[2]), subseq, acc, want_acc,
                              float(prob.offset))
    else:
        di = np.ascontiguousarray(steps[:, 0])
        dj = np.ascontiguousarray(steps[:, 1])
        bp, last = _k.region(x, y, C, use_c, prob.metric_code, prob.m, reg.lo, reg.hi, offs, allowed,
                             use_allowed, di, dj, np.ascontiguousarray(w, dtype=np.float64), subseq, acc,
                             want_acc, float(prob.offset))
    return bp, last, (acc if want_acc else None), reg, offs


def _solve(prob: _Problem, reg: Region | None, steps, w, *, want_acc: bool):
    """Global DTW on one problem. Returns (cost, path, acc, n_cells)."""
    n, m = prob.n, prob.m
    if reg is not None:
        if not reg.contains(0, 0):
            raise ParameterError("the constraints exclude the start cell (0, 0): no admissible path")
        if not reg.contains(n - 1, m - 1):
            raise ParameterError(f"the constraints exclude the end cell {(n - 1, m - 1)}: no admissible path")
    if reg is None and not want_acc and prob.C is None and np.array_equal(steps, _DIAG3):
        d = prob.x.shape[1]
        dp = -(-d // 4) * 4
        xt = np.zeros((dp, n), np.float32)
        xt[:d] = prob.x.T
        yrt = np.zeros((dp, m), np.float32)
        yrt[:d] = prob.y[::-1].T
        total, bp, doffs = _k.full_diag(xt, yrt, prob.metric_code, float(w[0]), float(w[1]), float(w[2]),
                                           float(prob.offset))
        if not np.isfinite(total):
            raise ParameterError(f"no admissible path (accumulated cost {total})")
        path = _k.traceback_diag(bp, doffs, n, m)
        return float(total), path, None, n * m
    bp, last, acc, reg, offs = _run_region(prob, reg, steps, w, subseq=False, want_acc=want_acc)
    total = float(last[m - 1])
    if not np.isfinite(total):
        raise ParameterError(
            f"no admissible path from (0, 0) to {(n - 1, m - 1)} under the given step sizes and constraints"
        )
    path = _k.traceback_region(bp, offs, reg.lo, np.ascontiguousarray(steps[:, 0]),
                               np.ascontiguousarray(steps[:, 1]), n - 1, m - 1)
    return total, path, acc, reg.n_cells


def check_cost_offset(cost_offset) -> float:
    """Validate a cost offset (a finite real number, see :func:`dtw`)."""
    if isinstance(cost_offset, (bool, np.bool_)) or not isinstance(cost_offset, numbers.Real) \
            or not np.isfinite(cost_offset):
        raise ParameterError(f"cost_offset={cost_offset!r} must be a finite real number")
    return float(cost_offset)


def _as_problem(X, Y, C, metric, cost_offset=0.0) -> _Problem:
    _check_metric(metric)
    off = check_cost_offset(cost_offset)
    if C is not None:
        if X is not None or Y is not None:
            raise ParameterError("give either X and Y or C, not both")
        arr = np.asarray(C)
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise ParameterError(f"C must be a non-empty 2-D cost matrix, got shape {arr.shape}")
        if arr.dtype.kind not in "fiub":
            raise ParameterError(f"C must be numeric, got dtype {arr.dtype}")
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
        if np.isnan(arr).any():
            raise ParameterError("C holds NaN values")
        return _Problem(arr.shape[0], arr.shape[1], METRIC_CODES[metric], C=np.ascontiguousarray(arr),
                        offset=off)
    if X is None or Y is None:
        raise ParameterError("give both X and Y (feature sequences) or a cost matrix C")
    x, y = as_feature_pair(X, Y)
    xp, yp = prepare_features(x, y, metric)
    return _Problem(xp.shape[0], yp.shape[0], METRIC_CODES[metric], x=xp, y=yp, offset=off)


def _check_radius(radius) -> int:
    if isinstance(radius, bool) or not isinstance(radius, numbers.Integral) or radius < 0:
        raise ParameterError(f"radius={radius!r} must be a non-negative integer number of frames")
    return int(radius)


def _normalized(name: str, cost: float, n: int, m: int, path_len: int) -> float:
    if name == "symmetric2":
        return cost / (n + m)
    return cost / path_len


def _check_anchors(anchors, n: int, m: int) -> np.ndarray:
    try:
        a = np.asarray(anchors)
    except Exception as exc:
        raise ParameterError(f"anchors={anchors!r} must be a list of (i, j) pairs") from exc
    if a.size == 0:
        return np.zeros((0, 2), np.int64)
    if a.ndim != 2 or a.shape[1] != 2 or a.dtype.kind not in "iu":
        raise ParameterError(f"anchors must be integer (i, j) pairs, got shape {a.shape} dtype {a.dtype}")
    a = a.astype(np.int64)
    if np.any(a < 0) or np.any(a[:, 0] >= n) or np.any(a[:, 1] >= m):
        raise ParameterError(f"anchors {a.tolist()} leave the {n} x {m} grid")
    d = np.diff(a, axis=0)
    if np.any(d < 0) or np.any(d.sum(axis=1) == 0):
        raise ParameterError(f"anchors {a.tolist()} must be sorted, monotone in both coordinates, no repeats")
    return a


def dtw(X=None, Y=None, *, C=None, metric: str = "cosine", step_sizes="symmetric2", weights=None,
        band=None, mask=None, around_path=None, radius=None, anchors=None,
        return_accumulated: bool = False, cost_offset: float = 0.0) -> DTWResult:
    """Dynamic time warping between two feature sequences or on a cost matrix.

    Parameters
    ----------
    X : np.ndarray [shape=(N, D)] or Features, optional
        Version A (rows). Give ``X`` and ``Y``, or ``C``.
    Y : np.ndarray [shape=(M, D)] or Features, optional
        Version B (columns). ``Features`` must share the frame rate.
    C : np.ndarray [shape=(N, M)], optional
        A precomputed local cost matrix (then ``metric`` is not used).
    metric : {"cosine", "euclidean", "sqeuclidean"}
        Local cost from features, computed inside the kernel (see :mod:`alignkit.align.cost`).
    step_sizes : {"symmetric2", "symmetric1", "sigma2"} or np.ndarray [shape=(S, 2)]
        ``"symmetric1"``: steps (1,1), (0,1), (1,0), weights (1, 1, 1); ``"symmetric2"``:
        same steps, weights (2, 1, 1); ``"sigma2"``: steps (1,1), (2,1), (1,2), weights
        (1, 1, 1). Or custom integer steps ``(di, dj)`` (with ``weights``).

        The default stays ``"symmetric2"`` (the textbook general-purpose choice, and the
        default every other DTW entry point of alignkit, CPU and GPU, shares). For music
        synchronisation prefer ``"symmetric1"`` with a positive ``cost_offset``, or
        :func:`alignkit.align.sync.synchronize`, which uses them. Measured (beat errors,
        chroma at 50 Hz): synthetic warps 16-19 ms (symmetric1) vs 158-181 ms (symmetric2);
        demo corpus audio-audio 52 vs 71 ms mean, score-audio 69 vs 98 ms; with
        ``cost_offset=0.25`` symmetric1 gave 42 and 68 ms. With the diagonal weighted 2
        every admissible path has the same total weight ``N + M - 1``, so through flat
        stretches of the cost matrix the path follows the noise, and no offset can help.
    weights : np.ndarray [shape=(S,)], optional
        Step weights (override a named set's weights).
    band : int or float, optional
        Sakoe-Chiba half-width in frames around the diagonal from ``(0, 0)`` to
        ``(N-1, M-1)`` (see :func:`band_region`); a float < 1 is a fraction of ``max(N, M)``.
    mask : np.ndarray [shape=(N, M), dtype=bool] or scipy.sparse matrix or (lo, hi), optional
        Admissible cells; ``(lo, hi)`` gives per-row column ranges ``[lo[i], hi[i])``.
    around_path : np.ndarray [shape=(L, 2)], optional
        Admit only cells within Chebyshev distance ``radius`` of this path (same
        resolution as ``X``/``Y``). Needs ``radius``.
    radius : int, optional
        See ``around_path``.
    anchors : sequence of (int, int), optional
        Cells the path must pass through; the segments between them are solved separately
        and concatenated (constraints apply within each segment).
    return_accumulated : bool
        Also return the ``(N, M)`` accumulated cost matrix (the only option that
        materialises ``N x M`` floats).
    cost_offset : float
        Constant added to every local cost (``C + cost_offset``), fused into the kernels
        (no extra pass, no ``N x M`` array). With weights (1, 1, 1) every path cell then
        costs ``cost_offset`` more, so among paths through a flat (uninformative) part of
        the cost matrix the shortest, most diagonal one wins: the Sync Toolbox's rescaling
        of the cosine cost into [1, 2] is ``cost_offset=1``. Measured on synthetic warps
        and ASAP beats, 0.1-0.5 helps ``"symmetric1"`` (see :mod:`alignkit.align.sync`). It
        does not change the optimal path of ``"symmetric2"``, whose admissible paths all
        have the same total weight. ``cost``, ``accumulated`` and ``normalized_cost``
        include the offset.

    Returns
    -------
    DTWResult

    Raises
    ------
    ParameterError
        Bad or conflicting arguments, or constraints that leave no admissible path.

    Notes
    -----
    Memory: one back-pointer byte per admissible cell plus a few rows (or anti-diagonals) of
    float64 accumulated cost. Unconstrained DTW from features with the (1,1), (0,1), (1,0)
    steps runs anti-diagonal-wise with the local cost fused into the recursion.

    Examples
    --------
    >>> import numpy as np
    >>> C = np.array([[0., 1., 1.], [1., 0., 1.], [1., 1., 0.]])
    >>> res = dtw(C=C)
    >>> res.cost, res.path.tolist()
    (0.0, [[0, 0], [1, 1], [2, 2]])
    """
    prob = _as_problem(X, Y, C, metric, cost_offset)
    name, steps, w = resolve_step_sizes(step_sizes, weights)
    n, m = prob.n, prob.m
    if not isinstance(return_accumulated, (bool, np.bool_)):
        raise ParameterError(f"return_accumulated={return_accumulated!r} must be a bool")

    reg: Region | None = None
    if band is not None:
        reg = band_region((n, m), band)
    if mask is not None:
        mreg = _mask_region(mask, n, m)
        reg = mreg if reg is None else reg.intersect(mreg)
    if (around_path is None) != (radius is None):
        raise ParameterError("around_path and radius go together: give both or neither")
    if around_path is not None:
        preg = path_region(around_path, (n, m), _check_radius(radius))
        reg = preg if reg is None else reg.intersect(preg)

    if anchors is None:
        cost, path, acc, ncells = _solve(prob, reg, steps, w, want_acc=bool(return_accumulated))
    else:
        cost, path, acc, ncells = _solve_anchored(prob, reg, steps, w, _check_anchors(anchors, n, m),
                                                  bool(return_accumulated))
    return DTWResult(cost=cost, path=path, accumulated=acc,
                     normalized_cost=_normalized(name, cost, n, m, len(path)),
                     step_sizes=name, n_cells=int(ncells))


def _solve_anchored(prob: _Problem, reg: Region | None, steps, w, anchors: np.ndarray, want_acc: bool):
    n, m = prob.n, prob.m
    pts = [(0, 0)] + [tuple(map(int, a)) for a in anchors] + [(n - 1, m - 1)]
    pts = [p for k, p in enumerate(pts) if k == 0 or p != pts[k - 1]]
    acc = np.full((n, m), np.inf) if want_acc else None
    total = 0.0
    ncells = 0
    pieces = []
    for k in range(len(pts) - 1):
        (i0, j0), (i1, j1) = pts[k], pts[k + 1]
        sub = prob.sub(i0, i1 + 1, j0, j1 + 1)
        sreg = None if reg is None else reg.block(i0, i1 + 1, j0, j1 + 1)
        try:
            c, p, a, nc = _solve(sub, sreg, steps, w, want_acc=want_acc)
        except ParameterError as exc:
            raise ParameterError(
                f"no admissible path between anchors {pts[k]} and {pts[k + 1]}: {exc}"
            ) from exc
        p = p + np.array([i0, j0])
        offset = total
        if k > 0:
            c0 = float(prob.local_cost(np.array([[i0, j0]]))[0])
            offset -= c0  # the anchor cell is the segment's start, already counted by the previous one
            p = p[1:]
        if want_acc:
            acc[i0:i1 + 1, j0:j1 + 1] = np.where(np.isfinite(a), a + offset, np.inf)
        total = offset + c
        ncells += nc
        pieces.append(p)
    return total, np.concatenate(pieces, axis=0), acc, ncells
