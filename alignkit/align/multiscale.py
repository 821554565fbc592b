"""Memory-bounded multiscale DTW (MrMsDTW-style) for long recordings.

Both feature sequences are downsampled by average pooling (the cosine metric renormalises
the pooled frames) at a ladder of factors, e.g. 125, 25, 5, 1. Exact DTW runs at the
coarsest level; its path is projected to the next finer level (coarse cell ``(a, b)``
covers the ``q x q`` fine block below it), dilated by ``radius`` frames of that level into
per-row column ranges, and DTW is solved inside that region; repeated down to full
resolution. Memory is one back-pointer byte per cell of the coarsest grid or of a region,
plus a few rows of float64: two 30-minute recordings at 50 Hz (90,000 x 90,000 frames)
need well under 100 MB.
"""

from __future__ import annotations

import numbers

import numpy as np

from alignkit.align.cost import METRIC_CODES, _check_metric, as_feature_pair, prepare_features
from alignkit.align.dtw import (
    DTWResult,
    _normalized,
    _Problem,
    _solve,
    check_cost_offset,
    path_region,
    resolve_step_sizes,
)
from alignkit.exceptions import ParameterError

__all__ = ["multiscale_dtw", "pool_features", "DEFAULT_RATIO", "DEFAULT_RADIUS", "DEFAULT_COARSE_CELLS"]

#: Ratio between consecutive levels chosen by default.
DEFAULT_RATIO = 5
#: Dilation of the projected path, in frames of each finer level.
DEFAULT_RADIUS = 16
#: The coarsest level is the finest one of the ladder whose full grid has at most this many cells.
DEFAULT_COARSE_CELLS = 4_000_000


def pool_features(x: np.ndarray, factor: int) -> np.ndarray:
    """Average-pool frames in blocks of ``factor`` (the last block may be shorter).

    Parameters
    ----------
    x : np.ndarray [shape=(N, D)]
    factor : int

    Returns
    -------
    np.ndarray [shape=(ceil(N / factor), D), dtype=float32]
    """
    if factor == 1:
        return np.asarray(x, dtype=np.float32)
    n, d = x.shape
    full = n // factor
    blocks = [np.asarray(x[:full * factor], dtype=np.float64).reshape(full, factor, d).mean(axis=1)]
    if full * factor < n:
        blocks.append(np.asarray(x[full * factor:], dtype=np.float64).mean(axis=0, keepdims=True))
    return np.concatenate(blocks, axis=0).astype(np.float32)


def _level_bytes(nl: int, ml: int, d: int) -> int:
    """Rough bytes a level needs besides its back-pointers: features, rows, path."""
    return 8 * (nl + ml) * d + 32 * ml + 32 * (nl + ml)


def _touches_border(path: np.ndarray, reg) -> bool:
    """Whether some path cell has a grid neighbour (8-neighbourhood) outside the region."""
    i, j = path[:, 0], path[:, 1]
    n, m = reg.n_rows, reg.n_cols
    for di in (-1, 0, 1):
        r = i + di
        ok = (r >= 0) & (r < n)
        rr = np.clip(r, 0, n - 1)
        left_out = (j - 1 >= 0) & (j - 1 < reg.lo[rr])
        right_out = (j + 1 < m) & (j + 1 >= reg.hi[rr])
        mid_out = (j < reg.lo[rr]) | (j >= reg.hi[rr])
        if np.any(ok & (left_out | right_out | mid_out)):
            return True
    return False


def _union(a, b):
    """Per-row hull of two regions without masks (a superset of their union)."""
    from alignkit.align.dtw import Region

    a_empty = a.hi <= a.lo
    b_empty = b.hi <= b.lo
    lo = np.where(a_empty, b.lo, np.where(b_empty, a.lo, np.minimum(a.lo, b.lo)))
    hi = np.where(a_empty, b.hi, np.where(b_empty, a.hi, np.maximum(a.hi, b.hi)))
    return Region(lo.astype(np.int64), hi.astype(np.int64), a.n_cols)


def _check_factors(factors) -> list[int]:
    try:
        fs = [f for f in factors]
    except TypeError as exc:
        raise ParameterError(f"factors={factors!r} must be a sequence of integers > 1") from exc
    out = []
    for f in fs:
        if isinstance(f, bool) or not isinstance(f, numbers.Integral) or f < 1:
            raise ParameterError(f"factors={list(fs)!r}: every factor must be an integer >= 1")
        if f > 1:
            out.append(int(f))
    out = sorted(set(out), reverse=True)
    for a, b in zip(out, out[1:] + [1], strict=False):
        if a % b:
            raise ParameterError(
                f"factors={out}: each factor must be a multiple of the next finer one ({a} vs {b})"
            )
    return out


def multiscale_dtw(X, Y, *, metric: str = "cosine", step_sizes="symmetric2", weights=None, factors=None,
                   radius: int = DEFAULT_RADIUS, memory_limit: int | None = None,
                   max_refinements: int = 8, verify: bool = True, cost_offset: float = 0.0) -> DTWResult:
    """Approximate DTW of long sequences by coarse-to-fine refinement.

    Parameters
    ----------
    X : np.ndarray [shape=(N, D)] or Features
    Y : np.ndarray [shape=(M, D)] or Features
    metric : {"cosine", "euclidean", "sqeuclidean"}
    step_sizes : str or np.ndarray [shape=(S, 2)]
        As in :func:`alignkit.align.dtw.dtw`.
    weights : np.ndarray [shape=(S,)], optional
    factors : sequence of int, optional
        Downsampling factors of the coarser levels relative to full resolution, e.g.
        ``(125, 25, 5)``; each must be a multiple of the next finer one. Default: powers of
        :data:`DEFAULT_RATIO`, coarsest such that its grid has at most
        :data:`DEFAULT_COARSE_CELLS` cells (and fits ``memory_limit``). ``()`` means exact DTW.
    radius : int
        Dilation of the projected path at each finer level, in that level's frames.
    memory_limit : int, optional
        Bytes the back-pointers and buffers of any one level may take. Picks the coarsest
        resolution so that the full DTW there fits; raises if no ladder fits.
    max_refinements : int
        At each finer level, while the path runs along the border of its region (so the
        region, not the data, shaped it), the region is widened around the new path (by
        ``radius`` times 2, 4, 8, ...) and solved again, at most this many times (0: plain
        MrMsDTW).
    verify : bool
        Also re-solve once in a wider region when the path stays clear of the border, and
        keep refining if that changes the path.
    cost_offset : float
        Added to every local cost at every level (as in :func:`alignkit.align.dtw.dtw`),
        fused into the kernels.

    Returns
    -------
    DTWResult
        ``info["levels"]`` lists, per level, the factor, grid shape, cells evaluated (all
        rounds), the number of rounds and the final region's size.

    Raises
    ------
    ParameterError
        Bad arguments, or ``memory_limit`` too small for any ladder.
    """
    _check_metric(metric)
    offset = check_cost_offset(cost_offset)
    name, steps, w = resolve_step_sizes(step_sizes, weights)
    x, y = as_feature_pair(X, Y)
    n, m = int(x.shape[0]), int(y.shape[0])
    d = int(x.shape[1])
    if isinstance(radius, bool) or not isinstance(radius, numbers.Integral) or radius < 0:
        raise ParameterError(f"radius={radius!r} must be a non-negative integer number of frames")
    radius = int(radius)
    if isinstance(max_refinements, bool) or not isinstance(max_refinements, numbers.Integral) \
            or max_refinements < 0:
        raise ParameterError(f"max_refinements={max_refinements!r} must be a non-negative integer")
    if not isinstance(verify, (bool, np.bool_)):
        raise ParameterError(f"verify={verify!r} must be a bool")
    if memory_limit is not None:
        bad = isinstance(memory_limit, bool) or not isinstance(memory_limit, numbers.Real)
        if bad or not memory_limit > 0:
            raise ParameterError(f"memory_limit={memory_limit!r} must be a positive number of bytes")
        memory_limit = int(memory_limit)

    def grid(f: int) -> tuple[int, int]:
        return -(-n // f), -(-m // f)

    if factors is None:
        f = 1
        ladder = []
        while True:
            nc, mc = grid(f)
            fits = memory_limit is None or nc * mc + _level_bytes(nc, mc, d) <= memory_limit
            if nc * mc <= DEFAULT_COARSE_CELLS and fits:
                break
            if nc == 1 and mc == 1:
                raise ParameterError(
                    f"memory_limit={memory_limit} bytes is too small for a {n} x {m} alignment"
                )
            f *= DEFAULT_RATIO
            ladder.append(f)
        factors_ = sorted(ladder, reverse=True)
    else:
        factors_ = _check_factors(factors)
    levels = factors_ + [1]
    if memory_limit is not None:
        nc, mc = grid(levels[0])
        need = nc * mc + _level_bytes(nc, mc, d)
        if need > memory_limit:
            raise ParameterError(
                f"memory_limit={memory_limit} bytes: the coarsest level ({nc} x {mc}) "
                f"needs about {need} bytes; "
                "use larger factors"
            )

    code = METRIC_CODES[metric]
    path = None
    prev_f = None
    total_cells = 0
    info_levels = []
    res = None
    for f in levels:
        xl, yl = prepare_features(pool_features(x, f), pool_features(y, f), metric)
        prob = _Problem(xl.shape[0], yl.shape[0], code, x=xl, y=yl, offset=offset)
        shape = (prob.n, prob.m)
        if path is None:
            reg = None
            cells = prob.n * prob.m
        else:
            reg = path_region(path, shape, radius, scale=prev_f // f)
            cells = reg.n_cells
        if memory_limit is not None and cells + _level_bytes(prob.n, prob.m, d) > memory_limit:
            raise ParameterError(
                f"memory_limit={memory_limit} bytes: level with factor {f} needs {cells} back-pointer bytes "
                f"plus buffers; raise the limit or lower radius={radius}"
            )
        cost, path, _, nc = _solve(prob, reg, steps, w, want_acc=False)
        level_cells = nc
        rounds = 1
        # Refinement: where the constrained path runs along the region's border, the border
        # (not the data) decided it; widen the region around the new path (doubling the
        # width each round) and solve again. With ``verify``, a path clear of the border is
        # checked once more in a wider region (near-ties on flat stretches can hide a better
        # route outside the region without touching its border).
        verified = not verify
        while reg is not None and rounds <= max_refinements:
            touching = _touches_border(path, reg)
            if not touching:
                if verified:
                    break
                verified = True
            grown = _union(reg, path_region(path, shape, radius << rounds))
            if grown.n_cells == reg.n_cells:
                break
            if memory_limit is not None and grown.n_cells + _level_bytes(prob.n, prob.m, d) > memory_limit:
                break  # keep the best path that fits
            reg = grown
            new_cost, new_path, _, nc = _solve(prob, reg, steps, w, want_acc=False)
            level_cells += nc
            rounds += 1
            same = np.array_equal(new_path, path)
            cost, path = new_cost, new_path
            if not touching and same:
                break
        total_cells += level_cells
        info_levels.append({"factor": f, "shape": shape, "cells": int(level_cells), "rounds": rounds,
                            "region_cells": int(nc)})
        prev_f = f
        res = cost
    return DTWResult(cost=float(res), path=path, accumulated=None,
                     normalized_cost=_normalized(name, float(res), n, m, len(path)),
                     step_sizes=name, n_cells=int(total_cells),
                     info={"levels": info_levels, "radius": radius})
