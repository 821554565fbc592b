"""Numba CPU kernels of the DTW family (private: call them through :mod:`alignkit.align.dtw`).

Two kernels fill the accumulated cost and store one back-pointer byte per admissible cell
(the index of the chosen step, :data:`START` for a start cell, :data:`UNREACHABLE` for a cell
no path reaches). Accumulation is in float64, local costs from features in float32.

``full_diag``
    Unconstrained DTW from features with the three steps (1, 1), (0, 1), (1, 0). Cells are
    processed anti-diagonal by anti-diagonal: the cells of one anti-diagonal are independent,
    so both the fused local cost (a dot product for cosine on unit vectors) and the min-plus
    recursion run as SIMD loops. Only three anti-diagonals of accumulated cost are kept; the
    back-pointers are stored anti-diagonal-major (``diag_offsets[k]`` is where diagonal
    ``k = i + j`` starts).
``region``
    Any step set, any per-row column ranges ``[lo[i], hi[i])`` (band, mask, region around a
    coarse path, or full rows), an optional per-cell admissibility byte, a given cost matrix
    or features, global or subsequence boundary, and optionally the full accumulated matrix.
    Back-pointers are stored row-major over the admissible ranges (``offsets[i]`` is where
    row ``i`` starts); accumulated cost lives in a ring of ``max(di) + 1`` rows.

Both kernels break ties in favour of the earlier step in the step list.
"""

from __future__ import annotations

import numpy as np
from numba import njit

START = 255
UNREACHABLE = 254
# fast-math flags minus nnan/ninf: +inf marks inadmissible cells and must survive
_FM = {"nsz", "arcp", "contract", "afn", "reassoc"}
_BLOCK = 1024  # cells per block of an anti-diagonal in full_diag


# --------------------------------------------------------------------------- full DTW, anti-diagonals

@njit(cache=True, fastmath=_FM)
def _dot8(o, XT, YrT, d, i0, y0, n, first):
    """``o[t] (+)= sum over 8 rows d.. of XT[., i0 + t] * YrT[., y0 + t]``."""
    x0 = XT[d, i0:i0 + n]
    x1 = XT[d + 1, i0:i0 + n]
    x2 = XT[d + 2, i0:i0 + n]
    x3 = XT[d + 3, i0:i0 + n]
    x4 = XT[d + 4, i0:i0 + n]
    x5 = XT[d + 5, i0:i0 + n]
    x6 = XT[d + 6, i0:i0 + n]
    x7 = XT[d + 7, i0:i0 + n]
    y0_ = YrT[d, y0:y0 + n]
    y1 = YrT[d + 1, y0:y0 + n]
    y2 = YrT[d + 2, y0:y0 + n]
    y3 = YrT[d + 3, y0:y0 + n]
    y4 = YrT[d + 4, y0:y0 + n]
    y5 = YrT[d + 5, y0:y0 + n]
    y6 = YrT[d + 6, y0:y0 + n]
    y7 = YrT[d + 7, y0:y0 + n]
    if first:
        for t in range(n):
            o[t] = ((x0[t] * y0_[t] + x1[t] * y1[t]) + (x2[t] * y2[t] + x3[t] * y3[t])) + \
                ((x4[t] * y4[t] + x5[t] * y5[t]) + (x6[t] * y6[t] + x7[t] * y7[t]))
    else:
        for t in range(n):
            o[t] += ((x0[t] * y0_[t] + x1[t] * y1[t]) + (x2[t] * y2[t] + x3[t] * y3[t])) + \
                ((x4[t] * y4[t] + x5[t] * y5[t]) + (x6[t] * y6[t] + x7[t] * y7[t]))


@njit(cache=True, fastmath=_FM)
def _dot4(o, XT, YrT, d, i0, y0, n, first):
    """``o[t] (+)= sum over 4 rows d.. of XT[., i0 + t] * YrT[., y0 + t]``."""
    x0 = XT[d, i0:i0 + n]
    x1 = XT[d + 1, i0:i0 + n]
    x2 = XT[d + 2, i0:i0 + n]
    x3 = XT[d + 3, i0:i0 + n]
    y0_ = YrT[d, y0:y0 + n]
    y1 = YrT[d + 1, y0:y0 + n]
    y2 = YrT[d + 2, y0:y0 + n]
    y3 = YrT[d + 3, y0:y0 + n]
    if first:
        for t in range(n):
            o[t] = (x0[t] * y0_[t] + x1[t] * y1[t]) + (x2[t] * y2[t] + x3[t] * y3[t])
    else:
        for t in range(n):
            o[t] += (x0[t] * y0_[t] + x1[t] * y1[t]) + (x2[t] * y2[t] + x3[t] * y3[t])


@njit(cache=True, fastmath=_FM)
def _sq4(o, XT, YrT, d, i0, y0, n, first):
    """``o[t] (+)= squared distance over 4 rows d.. of XT[., i0 + t] and YrT[., y0 + t]``."""
    x0 = XT[d, i0:i0 + n]
    x1 = XT[d + 1, i0:i0 + n]
    x2 = XT[d + 2, i0:i0 + n]
    x3 = XT[d + 3, i0:i0 + n]
    y0_ = YrT[d, y0:y0 + n]
    y1 = YrT[d + 1, y0:y0 + n]
    y2 = YrT[d + 2, y0:y0 + n]
    y3 = YrT[d + 3, y0:y0 + n]
    for t in range(n):
        u0 = x0[t] - y0_[t]
        u1 = x1[t] - y1[t]
        u2 = x2[t] - y2[t]
        u3 = x3[t] - y3[t]
        v = (u0 * u0 + u1 * u1) + (u2 * u2 + u3 * u3)
        if first:
            o[t] = v
        else:
            o[t] += v


@njit(cache=True, fastmath=_FM)
def _diag_local_cost(XT, YrT, metric, i0, y0, n, out):
    """Raw local cost term of ``n`` consecutive cells of an anti-diagonal into ``out[:n]``.

    Cell ``t`` pairs column ``i0 + t`` of ``XT`` with column ``y0 + t`` of ``YrT``. For the
    cosine metric this is the dot product (the cost is ``1 - out``, applied by
    :func:`_diag_step`); otherwise the (squared) euclidean distance. The feature dimension
    is padded to a multiple of 4 and handled 8 or 4 rows per pass, so the zero-based ``t``
    loops vectorise and ``out`` is touched about ``D / 8`` times.
    """
    D = XT.shape[0]
    o = out[:n]
    if metric == 0:
        d = 0
        while d + 8 <= D:
            _dot8(o, XT, YrT, d, i0, y0, n, d == 0)
            d += 8
        while d < D:
            _dot4(o, XT, YrT, d, i0, y0, n, d == 0)
            d += 4
    else:
        for d in range(0, D, 4):
            _sq4(o, XT, YrT, d, i0, y0, n, d == 0)
        if metric == 1:
            for t in range(n):
                o[t] = np.sqrt(o[t])


@njit(cache=True, fastmath=_FM)
def _diag_step(pa, ph, pv, pc, pb, lc, c0, cs, wd, wh, wv):
    """One anti-diagonal of the min-plus recursion (views aligned on its first cell).

    ``pa``: diagonal k-2 at index i-1 (diagonal step), ``ph``: diagonal k-1 at index i
    (horizontal step (0, 1)), ``pv``: diagonal k-1 at index i-1 (vertical step (1, 0)),
    ``pc``: output, ``pb``: back-pointers; the local cost is ``c0 + cs * lc``. Branch-free
    so it vectorises.
    """
    n = pc.shape[0]
    for t in range(n):
        ci = c0 + cs * np.float64(lc[t])
        vd = pa[t] + wd * ci
        vh = ph[t] + wh * ci
        vv = pv[t] + wv * ci
        a1 = vh < vd
        m1 = vh if a1 else vd
        a2 = vv < m1
        pc[t] = vv if a2 else m1
        pb[t] = np.uint8(a1) + np.uint8(a2) * (np.uint8(2) - np.uint8(a1))


@njit(cache=True, fastmath=_FM)
def full_diag(XT, YrT, metric, wd, wh, wv, offset=0.0):
    """Unconstrained DTW with steps (1,1), (0,1), (1,0) and weights wd, wh, wv.

    Parameters
    ----------
    XT : float32 [shape=(D, N)]
        X transposed (prepared, see ``cost.prepare_features``), ``D`` a multiple of 4
        (pad with zero rows).
    YrT : float32 [shape=(D, M)]
        Y with its frames reversed, transposed (``Y[::-1].T``), padded like ``XT``.
    metric : int
        0 cosine (1 - dot), 1 euclidean, 2 squared euclidean.
    offset : float
        Added to every local cost (fused into the constant term ``c0``: no extra work).

    Returns
    -------
    total : float
    bp : uint8 [shape=(N*M,)], anti-diagonal-major back-pointers
    diag_offsets : int64 [shape=(N+M,)]
    """
    N = XT.shape[1]
    M = YrT.shape[1]
    ndiag = N + M - 1
    offs = np.empty(ndiag + 1, np.int64)
    offs[0] = 0
    for k in range(ndiag):
        ilo = max(0, k - M + 1)
        ihi = min(N - 1, k)
        offs[k + 1] = offs[k] + (ihi - ilo + 1)
    bp = np.empty(offs[ndiag], np.uint8)
    inf = np.inf
    # accumulated cost of diagonals k-2, k-1, k; position p = i + 1 (position 0 is always inf)
    a = np.full(N + 2, inf)
    b = np.full(N + 2, inf)
    c = np.full(N + 2, inf)
    lc = np.empty(_BLOCK, np.float32)
    # cosine: the kernels produce the dot product, the cost is 1 - dot
    c0 = (1.0 if metric == 0 else 0.0) + offset
    cs = -1.0 if metric == 0 else 1.0
    _diag_local_cost(XT, YrT, metric, 0, M - 1, 1, lc)
    b[1] = c0 + cs * np.float64(lc[0])
    bp[0] = START
    for k in range(1, ndiag):
        ilo = max(0, k - M + 1)
        ihi = min(N - 1, k)
        n = ihi - ilo + 1
        y0 = M - 1 - k + ilo  # YrT column of cell ilo
        ob = offs[k]
        # blocks of _BLOCK cells keep the local costs and the diagonal slices in L1
        for t0 in range(0, n, _BLOCK):
            m = min(_BLOCK, n - t0)
            i = ilo + t0
            _diag_local_cost(XT, YrT, metric, i, y0 + t0, m, lc)
            _diag_step(a[i:i + m], b[i + 1:i + 1 + m], b[i:i + m], c[i + 1:i + 1 + m],
                       bp[ob + t0:ob + t0 + m], lc, c0, cs, wd, wh, wv)
        c[ihi + 2] = inf
        t = a
        a = b
        b = c
        c = t
    return b[N], bp, offs


@njit(cache=True)
def traceback_diag(bp, offs, N, M):
    """Path (start -> end) from the anti-diagonal-major back-pointers of :func:`full_diag`."""
    out = np.empty((N + M - 1, 2), np.int64)
    i = N - 1
    j = M - 1
    n = 0
    while True:
        out[n, 0] = i
        out[n, 1] = j
        n += 1
        k = i + j
        ilo = max(0, k - M + 1)
        s = bp[offs[k] + i - ilo]
        if s == 0:
            i -= 1
            j -= 1
        elif s == 1:
            j -= 1
        elif s == 2:
            i -= 1
        else:
            break
    return out[:n][::-1].copy()


# --------------------------------------------------------------------------- general row-range kernel

@njit(cache=True, fastmath=_FM)
def _row_local_cost(X, YT, C, use_c, metric, i, jl, h, out, offset):
    """Local cost (plus ``offset``) of cells (i, j), j in [jl, h), into ``out[j]`` (float64).

    Features: ``X`` is (N, D), ``YT`` is Y transposed (D, M), so the zero-based loops over
    the row's cells vectorise.
    """
    n = h - jl
    o = out[jl:h]
    if use_c:
        cr = C[i, jl:h]
        for t in range(n):
            o[t] = cr[t] + offset
        return
    D = X.shape[1]
    for t in range(n):
        o[t] = 0.0
    if metric == 0:
        for d in range(D):
            xd = X[i, d]
            yr = YT[d, jl:h]
            for t in range(n):
                o[t] += xd * yr[t]
        for t in range(n):
            o[t] = (1.0 + offset) - o[t]
    else:
        for d in range(D):
            xd = X[i, d]
            yr = YT[d, jl:h]
            for t in range(n):
                u = xd - yr[t]
                o[t] += u * u
        if metric == 1:
            for t in range(n):
                o[t] = np.sqrt(o[t]) + offset
        elif offset != 0.0:
            for t in range(n):
                o[t] += offset


@njit(cache=True, fastmath=_FM)
def region(X, YT, C, use_c, metric, M, lo, hi, offs, allowed, use_allowed, di, dj, w,
           subseq, acc, want_acc, offset=0.0):
    """DTW over per-row column ranges with any step set.

    Parameters
    ----------
    X, YT : float32 [shape=(N, D)], [shape=(D, M)]
        Prepared features, ``Y`` transposed (ignored when ``use_c``).
    C : float [shape=(N, M)]
        Cost matrix (ignored unless ``use_c``).
    M : int
        Number of columns.
    lo, hi : int64 [shape=(N,)]
        Admissible columns of row i are ``[lo[i], hi[i])``.
    offs : int64 [shape=(N+1,)]
        ``offs[i]`` = start of row i in the flat back-pointer array.
    allowed : uint8 [shape=(offs[N],)]
        Per admissible cell: 0 = excluded (only read when ``use_allowed``).
    di, dj : int64 [shape=(S,)]; w : float64 [shape=(S,)]
        Steps (predecessor is (i - di, j - dj)) and their weights.
    subseq : bool
        Subsequence boundary: every cell of row 0 is a start (cost = its local cost).
        Otherwise only (0, 0) is.
    acc : float64 [shape=(N, M)]
        Filled with the accumulated cost when ``want_acc`` (inf outside the region).
    offset : float
        Added to every local cost (see :func:`_row_local_cost`).

    Returns
    -------
    bp : uint8 [shape=(offs[N],)]
    last : float64 [shape=(M,)]
        Accumulated cost of the last row (inf outside its range).
    """
    N = lo.shape[0]
    S = di.shape[0]
    R = 1
    for s in range(S):
        if di[s] + 1 > R:
            R = di[s] + 1
    inf = np.inf
    rows = np.full((R, M), inf)
    bp = np.empty(offs[N], np.uint8)
    lcost = np.empty(M, np.float64)
    for i in range(N):
        row = rows[i % R]
        if i >= R:
            pl = lo[i - R]
            ph = hi[i - R]
            for j in range(pl, ph):
                row[j] = inf
        jl = lo[i]
        h = hi[i]
        if h <= jl:
            continue
        _row_local_cost(X, YT, C, use_c, metric, i, jl, h, lcost, offset)
        o = offs[i] - jl
        for j in range(jl, h):
            if use_allowed and allowed[o + j] == 0:
                row[j] = inf
                bp[o + j] = UNREACHABLE
                continue
            cj = lcost[j]
            if i == 0 and (subseq or j == 0):
                row[j] = cj
                bp[o + j] = START
                continue
            best = inf
            sb = UNREACHABLE
            for s in range(S):
                pi = i - di[s]
                pj = j - dj[s]
                if pi < 0 or pj < 0:
                    continue
                v = rows[pi % R, pj] + w[s] * cj
                if v < best:
                    best = v
                    sb = s
            row[j] = best
            bp[o + j] = sb
        if want_acc:
            for j in range(jl, h):
                acc[i, j] = row[j]
    return bp, rows[(N - 1) % R].copy()


@njit(cache=True, fastmath=_FM)
def region3(X, YT, C, use_c, metric, M, lo, hi, offs, allowed, use_allowed, wd, wh, wv,
            subseq, acc, want_acc, offset=0.0):
    """:func:`region` specialised to the steps (1,1), (0,1), (1,0) (same tie order, same outputs)."""
    N = lo.shape[0]
    inf = np.inf
    prev = np.full(M, inf)
    cur = np.full(M, inf)
    bp = np.empty(offs[N], np.uint8)
    lcost = np.empty(M, np.float64)
    pl = 0
    ph = 0
    for i in range(N):
        jl = lo[i]
        h = hi[i]
        if h > jl:
            _row_local_cost(X, YT, C, use_c, metric, i, jl, h, lcost, offset)
            o = offs[i] - jl
            left = inf  # accumulated cost of (i, j-1); cur is all inf here
            for j in range(jl, h):
                cj = lcost[j]
                if use_allowed and allowed[o + j] == 0:
                    cur[j] = inf
                    bp[o + j] = UNREACHABLE
                    left = inf
                    continue
                if i == 0 and (subseq or j == 0):
                    cur[j] = cj
                    bp[o + j] = START
                    left = cj
                    continue
                vd = inf
                if j > 0:
                    vd = prev[j - 1] + wd * cj
                vh = left + wh * cj
                vv = prev[j] + wv * cj
                best = vd
                s = 0
                if vh < best:
                    best = vh
                    s = 1
                if vv < best:
                    best = vv
                    s = 2
                if best == inf:
                    s = UNREACHABLE
                cur[j] = best
                bp[o + j] = s
                left = best
            if want_acc:
                for j in range(jl, h):
                    acc[i, j] = cur[j]
        # prev's range becomes stale: reset it, then swap
        for j in range(pl, ph):
            prev[j] = inf
        t = prev
        prev = cur
        cur = t
        pl = jl
        ph = h if h > jl else jl
    return bp, prev.copy()


@njit(cache=True)
def traceback_region(bp, offs, lo, di, dj, i, j):
    """Path (start -> end) ending at cell (i, j), from :func:`region` back-pointers.

    Returns an empty (0, 2) array if (i, j) is unreachable.
    """
    # a path visits at most one cell per unit of (i + j) progress
    cap = i + j + 2
    out = np.empty((cap, 2), np.int64)
    n = 0
    while True:
        out[n, 0] = i
        out[n, 1] = j
        n += 1
        s = bp[offs[i] + j - lo[i]]
        if s == START:
            break
        if s == UNREACHABLE:
            return np.empty((0, 2), np.int64)
        i -= di[s]
        j -= dj[s]
    return out[:n][::-1].copy()


@njit(cache=True)
def path_local_cost(X, Y, metric, path, offset=0.0):
    """Local cost (float64, plus ``offset``) of each cell of ``path`` from prepared features."""
    L = path.shape[0]
    D = X.shape[1]
    out = np.empty(L, np.float64)
    for n in range(L):
        i = path[n, 0]
        j = path[n, 1]
        acc = 0.0
        if metric == 0:
            for d in range(D):
                acc += np.float64(X[i, d]) * np.float64(Y[j, d])
            out[n] = 1.0 - acc + offset
        else:
            for d in range(D):
                t = np.float64(X[i, d]) - np.float64(Y[j, d])
                acc += t * t
            out[n] = (np.sqrt(acc) if metric == 1 else acc) + offset
    return out
