"""CPU (numba) kernels for soft-DTW over a banded cost layout.

Layout
------
Every cost matrix is stored *banded*: row ``i`` of batch item ``b`` keeps only the columns
``lo[b, i] <= j < hi[b, i]`` in ``Cb[b, i, j - lo[b, i]]`` (shape ``(B, N, W)`` with ``W``
the widest window). A dense matrix is the special case ``lo = 0, hi = M``; a Sakoe-Chiba
band, a band around a coarse path or a mask are other windows (masked cells inside a window
hold ``+inf``). Windows are non-decreasing in both ends (the wrapper makes them so), and
``n[b]``, ``m[b]`` are the true lengths of item ``b``.

Forward: the recursion of :mod:`alignkit.align._kernels.naive` with two row buffers, so the
value alone needs O(W) extra memory. When a gradient is wanted, the rows of ``R`` are kept in
a ``(B, N, W)`` buffer (one float per stored cell); nothing else is stored.

Backward (Cuturi & Blondel, 2017, Algorithm 2, in push form): cells are visited in reverse
order; each cell recomputes its soft-min weights ``p = exp(-(R[pred] + w C - R[s]) / gamma)``
from its own and its predecessors' ``R`` and its cost (three independent exponentials without
branches, measured ~10 % faster than two plus a division and a branch on the smallest; since
``R[s] <= min``, no exponent is positive beyond rounding, so nothing can overflow), pushes ``G * p`` to its predecessors and
writes ``E = G * sum_k w_k p_k`` over its own ``R``, which nothing reads any more. The gradient
therefore lives in the forward's buffer: O(B N W) memory for the pair of passes.

Batches are parallel over items (``prange``): a parallel wavefront inside one matrix is far
slower on CPUs than the serial row sweep.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "sdtw_forward",
    "sdtw_backward",
    "banded_cost",
    "banded_cost_backward",
    "gather_band",
    "scatter_band",
    "pick",
]

# below this many cells (or with one item) the serial twins are used: starting the thread pool
# costs tens of milliseconds on a busy machine
PARALLEL_MIN_CELLS = 1_000_000

_INF = np.inf


@njit(cache=True, nogil=True, inline="always")
def _softmin3(xd, xv, xh, inv):
    """Shift and the two non-minimal exponentials of a soft-min of three.

    Returns ``(mn, which, ea, eb)``: the minimum, which candidate it is (0 diagonal, 1 vertical,
    2 horizontal) and ``exp(-(o - mn) / gamma)`` of the other two in order (d, v, h minus the
    minimum). The minimum contributes ``exp(0) = 1``, so only two exponentials are needed; a term
    more than 40 gamma above the minimum adds < 5e-18 to the sum and is skipped (this also skips
    ``exp(-inf)`` at borders and on disabled steps).
    """
    if xd <= xv and xd <= xh:
        mn = xd
        oa = xv
        ob = xh
        which = 0
    elif xv <= xh:
        mn = xv
        oa = xd
        ob = xh
        which = 1
    else:
        mn = xh
        oa = xd
        ob = xv
        which = 2
    da = (oa - mn) * inv
    db = (ob - mn) * inv
    ea = math.exp(-da) if da < 40.0 else 0.0
    eb = math.exp(-db) if db < 40.0 else 0.0
    return mn, which, ea, eb


@njit(cache=True, nogil=True)
def _forward_one(C, lo, hi, nn, mm, gamma, wd, wv, wh, subseq, need_grad, R, endw, prev, cur):
    inv = 1.0 / gamma
    use_d = wd < _INF
    use_v = wv < _INF
    use_h = wh < _INF
    plo = 0
    phi = 0
    for i in range(nn):
        lo_i = lo[i]
        hi_i = hi[i]
        if need_grad:  # the rows of R are the row buffers: R is all the backward pass needs
            cur = R[i]
        for j in range(lo_i, hi_i):
            k = j - lo_i
            c = C[i, k]
            if i == 0 and (subseq or j == 0):
                cur[k] = c
                continue
            xd = _INF
            xv = _INF
            xh = _INF
            if i > 0:
                if use_d and j - 1 >= plo and j - 1 < phi:
                    xd = prev[j - 1 - plo] + wd * c
                if use_v and j >= plo and j < phi:
                    xv = prev[j - plo] + wv * c
            if use_h and k > 0:
                xh = cur[k - 1] + wh * c
            mn, which, ea, eb = _softmin3(xd, xv, xh, inv)
            if not (mn < _INF) or not (c < _INF):
                cur[k] = _INF
                continue
            # log(1 + t), not log1p(t): t's own precision is irrelevant next to the ulp of mn, and
            # log is ~1.7x faster than log1p here (13 vs 22 ns), on the serial critical path
            cur[k] = mn - gamma * math.log(1.0 + ea + eb)
        tmp = prev
        prev = cur
        cur = tmp
        plo = lo_i
        phi = hi_i
    # the last row now lives in ``prev`` with window [plo, phi)
    if subseq:
        mn = _INF
        for k in range(phi - plo):
            if prev[k] < mn:
                mn = prev[k]
        if not (mn < _INF):
            for k in range(phi - plo):
                endw[k] = 0.0
            return _INF
        s = 0.0
        for k in range(phi - plo):
            e = math.exp((mn - prev[k]) * inv)
            endw[k] = e
            s += e
        for k in range(phi - plo):
            endw[k] /= s
        return mn - gamma * math.log(s)
    return prev[mm - 1 - plo]


@njit(cache=True, parallel=True)
def sdtw_forward(Cb, lo, hi, n, m, gamma, wd, wv, wh, subseq, need_grad, R, endw, out):
    """Soft-DTW values of a batch (see the module docstring); fills ``out``, ``endw`` and,
    when ``need_grad``, the banded accumulated cost ``R`` (same layout as ``Cb``)."""
    B = Cb.shape[0]
    W = Cb.shape[2]
    for b in prange(B):
        prev = np.empty(W, dtype=Cb.dtype)
        cur = np.empty(W, dtype=Cb.dtype)
        rb = R[b] if need_grad else R[0]
        eb = endw[b]
        out[b] = _forward_one(
            Cb[b], lo[b], hi[b], n[b], m[b], gamma, wd, wv, wh, subseq, need_grad, rb, eb, prev, cur
        )


@njit(cache=True)
def sdtw_forward_serial(Cb, lo, hi, n, m, gamma, wd, wv, wh, subseq, need_grad, R, endw, out):
    """Run :func:`sdtw_forward` serially (no thread-pool start-up for small problems)."""
    B = Cb.shape[0]
    W = Cb.shape[2]
    for b in prange(B):
        prev = np.empty(W, dtype=Cb.dtype)
        cur = np.empty(W, dtype=Cb.dtype)
        rb = R[b] if need_grad else R[0]
        eb = endw[b]
        out[b] = _forward_one(
            Cb[b], lo[b], hi[b], n[b], m[b], gamma, wd, wv, wh, subseq, need_grad, rb, eb, prev, cur
        )


@njit(cache=True, nogil=True)
def _backward_one(C, R, lo, hi, nn, mm, gamma, wd, wv, wh, subseq, endw, gout, gc, gp):
    """Overwrite ``R`` (the forward's accumulated cost) with ``E = gout * dvalue / dC``.

    Push form: cells are visited in reverse order (rows bottom-up, columns right to left), so
    when cell ``s`` is reached every successor has pushed its share into ``G[s]``; ``s`` then
    recomputes its soft-min weights from its own and its predecessors' ``R``, pushes ``G[s] p`` to them and writes ``E[s]`` over ``R[s]``,
    which no later cell reads (its successors are done, its predecessors only read theirs).
    """
    inv = 1.0 / gamma
    use_d = wd < _INF
    use_v = wv < _INF
    use_h = wh < _INF
    N = R.shape[0]
    W = R.shape[1]
    for i in range(nn, N):
        for k in range(W):
            R[i, k] = 0.0
    for k in range(W):
        gc[k] = 0.0
    if nn == 0:
        return
    lo_l = lo[nn - 1]
    for k in range(hi[nn - 1] - lo_l):
        if subseq:
            gc[k] = endw[k]
        elif lo_l + k == mm - 1:
            gc[k] = 1.0
    for i in range(nn - 1, -1, -1):
        lo_i = lo[i]
        hi_i = hi[i]
        w_i = hi_i - lo_i
        for k in range(w_i, W):
            R[i, k] = 0.0
        plo = 0
        phi = 0
        if i > 0:
            plo = lo[i - 1]
            phi = hi[i - 1]
            for k in range(phi - plo):
                gp[k] = 0.0
        for j in range(hi_i - 1, lo_i - 1, -1):
            k = j - lo_i
            g = gc[k]
            r = R[i, k]
            if not (r < _INF):  # unreachable cell: no probability mass, exactly
                R[i, k] = 0.0
                continue
            if i == 0 and (subseq or j == 0):  # start cell: R = C, no predecessors
                R[i, k] = g * gout
                continue
            c = C[i, k]
            xd = _INF
            xv = _INF
            xh = _INF
            if i > 0:
                if use_d and j - 1 >= plo and j - 1 < phi:
                    xd = R[i - 1, j - 1 - plo] + wd * c
                if use_v and j >= plo and j < phi:
                    xv = R[i - 1, j - plo] + wv * c
            if use_h and k > 0:
                xh = R[i, k - 1] + wh * c
            # weight of each predecessor: exp(-(x - R[s]) / gamma) <= 1 (R[s] <= min x); three
            # independent exponentials, no branches on which one is smallest
            pd = math.exp((r - xd) * inv)
            pv = math.exp((r - xv) * inv)
            ph = math.exp((r - xh) * inv)
            f = 0.0
            if pd > 0.0:
                f += wd * pd
                gp[j - 1 - plo] += g * pd
            if pv > 0.0:
                f += wv * pv
                gp[j - plo] += g * pv
            if ph > 0.0:
                f += wh * ph
                gc[k - 1] += g * ph
            R[i, k] = g * f * gout
        tmp = gc
        gc = gp
        gp = tmp


@njit(cache=True, parallel=True)
def sdtw_backward(C, R, lo, hi, n, m, gamma, wd, wv, wh, subseq, endw, gout):
    """Overwrite ``R[b]`` (from :func:`sdtw_forward`) with ``gout[b] * dvalue[b] / dCb[b]``."""
    B = R.shape[0]
    W = R.shape[2]
    for b in prange(B):
        gc = np.zeros(W, dtype=R.dtype)
        gp = np.zeros(W, dtype=R.dtype)
        _backward_one(C[b], R[b], lo[b], hi[b], n[b], m[b], gamma, wd, wv, wh, subseq, endw[b], gout[b], gc, gp)


@njit(cache=True)
def sdtw_backward_serial(C, R, lo, hi, n, m, gamma, wd, wv, wh, subseq, endw, gout):
    """Run :func:`sdtw_backward` serially (no thread-pool start-up for small problems)."""
    B = R.shape[0]
    W = R.shape[2]
    for b in prange(B):
        gc = np.zeros(W, dtype=R.dtype)
        gp = np.zeros(W, dtype=R.dtype)
        _backward_one(C[b], R[b], lo[b], hi[b], n[b], m[b], gamma, wd, wv, wh, subseq, endw[b], gout[b], gc, gp)


@njit(cache=True, parallel=True)
def banded_cost(X, Y, lo, hi, n, metric, out):
    """Cost of feature pairs inside the windows: ``out[b, i, k] = cost(X[b, i], Y[b, lo + k])``.

    ``metric`` 0: squared euclidean; 1: ``1 - <x, y>`` (cosine on normalised inputs).
    Cells outside a window (``k >= hi - lo``) and rows ``i >= n[b]`` are set to ``+inf``.
    """
    B, N, D = X.shape
    W = out.shape[2]
    for b in prange(B):
        for i in range(N):
            lo_i = lo[b, i]
            w_i = hi[b, i] - lo_i if i < n[b] else 0
            for k in range(W):
                if k >= w_i:
                    out[b, i, k] = _INF
                    continue
                j = lo_i + k
                acc = 0.0
                if metric == 0:
                    for d in range(D):
                        t = X[b, i, d] - Y[b, j, d]
                        acc += t * t
                else:
                    for d in range(D):
                        acc += X[b, i, d] * Y[b, j, d]
                    acc = 1.0 - acc
                out[b, i, k] = acc


@njit(cache=True)
def banded_cost_serial(X, Y, lo, hi, n, metric, out):
    """Run :func:`banded_cost` serially (no thread-pool start-up for small problems)."""
    B, N, D = X.shape
    W = out.shape[2]
    for b in prange(B):
        for i in range(N):
            lo_i = lo[b, i]
            w_i = hi[b, i] - lo_i if i < n[b] else 0
            for k in range(W):
                if k >= w_i:
                    out[b, i, k] = _INF
                    continue
                j = lo_i + k
                acc = 0.0
                if metric == 0:
                    for d in range(D):
                        t = X[b, i, d] - Y[b, j, d]
                        acc += t * t
                else:
                    for d in range(D):
                        acc += X[b, i, d] * Y[b, j, d]
                    acc = 1.0 - acc
                out[b, i, k] = acc


@njit(cache=True, parallel=True)
def banded_cost_backward(X, Y, lo, hi, n, metric, G, dX, dY):
    """Chain ``G = dL/dCb`` into ``dX`` and ``dY`` (both zero-initialised by the caller)."""
    B, N, D = X.shape
    for b in prange(B):
        for i in range(n[b]):
            lo_i = lo[b, i]
            for k in range(hi[b, i] - lo_i):
                g = G[b, i, k]
                if g == 0.0:
                    continue
                j = lo_i + k
                if metric == 0:
                    for d in range(D):
                        t = 2.0 * g * (X[b, i, d] - Y[b, j, d])
                        dX[b, i, d] += t
                        dY[b, j, d] -= t
                else:
                    for d in range(D):
                        dX[b, i, d] -= g * Y[b, j, d]
                        dY[b, j, d] -= g * X[b, i, d]


@njit(cache=True)
def banded_cost_backward_serial(X, Y, lo, hi, n, metric, G, dX, dY):
    """Run :func:`banded_cost_backward` serially (no thread-pool start-up for small problems)."""
    B, N, D = X.shape
    for b in prange(B):
        for i in range(n[b]):
            lo_i = lo[b, i]
            for k in range(hi[b, i] - lo_i):
                g = G[b, i, k]
                if g == 0.0:
                    continue
                j = lo_i + k
                if metric == 0:
                    for d in range(D):
                        t = 2.0 * g * (X[b, i, d] - Y[b, j, d])
                        dX[b, i, d] += t
                        dY[b, j, d] -= t
                else:
                    for d in range(D):
                        dX[b, i, d] -= g * Y[b, j, d]
                        dY[b, j, d] -= g * X[b, i, d]


@njit(cache=True, parallel=True)
def gather_band(A, lo, hi, n, fill, out):
    """``out[b, i, k] = A[b, i, lo + k]`` inside the windows, ``fill`` elsewhere."""
    B, N, W = out.shape
    for b in prange(B):
        for i in range(N):
            lo_i = lo[b, i]
            w_i = hi[b, i] - lo_i if i < n[b] else 0
            for k in range(W):
                out[b, i, k] = A[b, i, lo_i + k] if k < w_i else fill


@njit(cache=True)
def gather_band_serial(A, lo, hi, n, fill, out):
    """Run :func:`gather_band` serially (no thread-pool start-up for small problems)."""
    B, N, W = out.shape
    for b in prange(B):
        for i in range(N):
            lo_i = lo[b, i]
            w_i = hi[b, i] - lo_i if i < n[b] else 0
            for k in range(W):
                out[b, i, k] = A[b, i, lo_i + k] if k < w_i else fill


@njit(cache=True, parallel=True)
def scatter_band(Eb, lo, hi, n, out):
    """Dense ``out[b, i, lo + k] = Eb[b, i, k]`` (``out`` zero-initialised by the caller)."""
    B, N, W = Eb.shape
    for b in prange(B):
        for i in range(n[b]):
            lo_i = lo[b, i]
            for k in range(hi[b, i] - lo_i):
                out[b, i, lo_i + k] = Eb[b, i, k]


@njit(cache=True)
def scatter_band_serial(Eb, lo, hi, n, out):
    """Run :func:`scatter_band` serially (no thread-pool start-up for small problems)."""
    B, N, W = Eb.shape
    for b in prange(B):
        for i in range(n[b]):
            lo_i = lo[b, i]
            for k in range(hi[b, i] - lo_i):
                out[b, i, lo_i + k] = Eb[b, i, k]


def pick(name: str, batch: int, cells: int):
    """Return the parallel kernel ``name`` for big batches, else its serial twin."""
    if batch > 1 and cells >= PARALLEL_MIN_CELLS:
        return globals()[name]
    return globals()[name + "_serial"]
