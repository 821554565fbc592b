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
value alone needs O(W) extra memory. When a gradient is wanted, the soft-min weights of the
diagonal and vertical predecessor of each cell are stored in ``P[b, i, k, 0:2]`` (the
horizontal weight is ``1 - pd - pv``); ``pd = -1`` marks a start cell (no predecessors) and
``pd = -2`` an unreachable one (``R = inf``), whose gradient is exactly zero.

Backward (Cuturi & Blondel, 2017, Algorithm 2): ``G[i, j] = dvalue / dR[i, j]`` is pulled from
the three successors, ``G[i, j] = sum_s G[s] * p_s(i, j)``, where ``p_s`` are the stored
soft-min weights. They are ratios ``exp(-(x - min) / gamma) / sum`` with non-positive exponents,
computed in log-space-stable form during the forward pass, so no exponential can overflow.
``dvalue / dC[i, j] = G[i, j] * sum_k w_k p_k(i, j)`` (weights of the step into the cell).

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


@njit(cache=True, nogil=True)
def _forward_one(C, lo, hi, nn, mm, gamma, wd, wv, wh, subseq, need_grad, P, endw, prev, cur):
    inv = 1.0 / gamma
    use_d = wd < _INF
    use_v = wv < _INF
    use_h = wh < _INF
    plo = 0
    phi = 0
    for i in range(nn):
        lo_i = lo[i]
        hi_i = hi[i]
        for j in range(lo_i, hi_i):
            k = j - lo_i
            c = C[i, k]
            if i == 0 and (subseq or j == 0):
                cur[k] = c
                if need_grad:
                    P[i, k, 0] = -1.0
                    P[i, k, 1] = 0.0
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
            # the smallest candidate contributes exp(0) = 1: only the other two need exp
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
            if not (mn < _INF) or not (c < _INF):
                cur[k] = _INF
                if need_grad:
                    P[i, k, 0] = -2.0
                    P[i, k, 1] = 0.0
                continue
            # a term more than 40 gamma above the minimum adds < 5e-18 to the sum: skip its exp
            # (common with small gamma on structured costs; also skips exp(-inf) at borders)
            da = (oa - mn) * inv
            db = (ob - mn) * inv
            ea = math.exp(-da) if da < 40.0 else 0.0
            eb = math.exp(-db) if db < 40.0 else 0.0
            cur[k] = mn - gamma * math.log1p(ea + eb)
            if need_grad:
                r = 1.0 / (1.0 + ea + eb)
                if which == 0:
                    P[i, k, 0] = r
                    P[i, k, 1] = ea * r
                elif which == 1:
                    P[i, k, 0] = ea * r
                    P[i, k, 1] = r
                else:
                    P[i, k, 0] = ea * r
                    P[i, k, 1] = eb * r
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
def sdtw_forward(Cb, lo, hi, n, m, gamma, wd, wv, wh, subseq, need_grad, P, endw, out):
    """Soft-DTW values of a batch (see the module docstring); fills ``out``, ``P``, ``endw``."""
    B = Cb.shape[0]
    W = Cb.shape[2]
    for b in prange(B):
        prev = np.empty(W, dtype=Cb.dtype)
        cur = np.empty(W, dtype=Cb.dtype)
        pb = P[b] if need_grad else P[0]
        eb = endw[b]
        out[b] = _forward_one(
            Cb[b], lo[b], hi[b], n[b], m[b], gamma, wd, wv, wh, subseq, need_grad, pb, eb, prev, cur
        )


@njit(cache=True)
def sdtw_forward_serial(Cb, lo, hi, n, m, gamma, wd, wv, wh, subseq, need_grad, P, endw, out):
    """Run :func:`sdtw_forward` serially (no thread-pool start-up for small problems)."""
    B = Cb.shape[0]
    W = Cb.shape[2]
    for b in prange(B):
        prev = np.empty(W, dtype=Cb.dtype)
        cur = np.empty(W, dtype=Cb.dtype)
        pb = P[b] if need_grad else P[0]
        eb = endw[b]
        out[b] = _forward_one(
            Cb[b], lo[b], hi[b], n[b], m[b], gamma, wd, wv, wh, subseq, need_grad, pb, eb, prev, cur
        )


@njit(cache=True, nogil=True)
def _backward_one(P, lo, hi, nn, mm, wd, wv, wh, subseq, endw, gout, E, gn, gc):
    use_d = wd < _INF
    use_v = wv < _INF
    use_h = wh < _INF
    nlo = 0
    nhi = 0
    for i in range(nn - 1, -1, -1):
        lo_i = lo[i]
        hi_i = hi[i]
        w_i = hi_i - lo_i
        for j in range(hi_i - 1, lo_i - 1, -1):
            k = j - lo_i
            g = 0.0
            if i == nn - 1:
                if subseq:
                    g = endw[k]
                elif j == mm - 1:
                    g = 1.0
            if k + 1 < w_i:  # horizontal successor (i, j + 1)
                pds = P[i, k + 1, 0]
                if pds >= 0.0:
                    ph = 1.0 - pds - P[i, k + 1, 1]
                    if ph > 0.0:
                        g += gc[k + 1] * ph
            if i + 1 < nn:
                if j >= nlo and j < nhi:  # vertical successor (i + 1, j)
                    ks = j - nlo
                    if P[i + 1, ks, 0] >= 0.0:
                        g += gn[ks] * P[i + 1, ks, 1]
                if j + 1 >= nlo and j + 1 < nhi:  # diagonal successor (i + 1, j + 1)
                    ks = j + 1 - nlo
                    pds = P[i + 1, ks, 0]
                    if pds > 0.0:
                        g += gn[ks] * pds
            pd = P[i, k, 0]
            if pd == -2.0:  # unreachable cell: no probability mass, exactly
                g = 0.0
            gc[k] = g
            if pd < 0.0:
                E[i, k] = g * gout
            else:
                pv = P[i, k, 1]
                ph = 1.0 - pd - pv
                if ph < 0.0:
                    ph = 0.0
                f = 0.0
                if use_d:
                    f += wd * pd
                if use_v:
                    f += wv * pv
                if use_h:
                    f += wh * ph
                E[i, k] = g * f * gout
        tmp = gn
        gn = gc
        gc = tmp
        nlo = lo_i
        nhi = hi_i


@njit(cache=True, parallel=True)
def sdtw_backward(P, lo, hi, n, m, wd, wv, wh, subseq, endw, gout, E):
    """``E[b] = gout[b] * dvalue[b] / dCb[b]`` from the stored soft-min weights ``P``."""
    B = P.shape[0]
    W = P.shape[2]
    for b in prange(B):
        gn = np.zeros(W, dtype=P.dtype)
        gc = np.zeros(W, dtype=P.dtype)
        _backward_one(P[b], lo[b], hi[b], n[b], m[b], wd, wv, wh, subseq, endw[b], gout[b], E[b], gn, gc)


@njit(cache=True)
def sdtw_backward_serial(P, lo, hi, n, m, wd, wv, wh, subseq, endw, gout, E):
    """Run :func:`sdtw_backward` serially (no thread-pool start-up for small problems)."""
    B = P.shape[0]
    W = P.shape[2]
    for b in prange(B):
        gn = np.zeros(W, dtype=P.dtype)
        gc = np.zeros(W, dtype=P.dtype)
        _backward_one(P[b], lo[b], hi[b], n[b], m[b], wd, wv, wh, subseq, endw[b], gout[b], E[b], gn, gc)


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
