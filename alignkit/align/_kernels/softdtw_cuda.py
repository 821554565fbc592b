"""CUDA (numba.cuda) kernels for soft-DTW over the banded layout of :mod:`.softdtw_cpu`.

One thread block per batch item sweeps the anti-diagonals ``d = i + j`` of its (banded)
matrix; the threads of the block share the cells of one anti-diagonal (grid-stride, so any
length works: there is no 1024-frame limit) and synchronise between diagonals. The rows a
diagonal crosses inside the band are found by binary search on the monotone windows, so a
band of width ``w`` costs O(w) work per diagonal, not O(N). ``R`` is kept in band storage
``(B, N, W)``: memory is O(B N W) (W = M for dense matrices).

Backward: the same wavefront in reverse; the soft-min weights are recomputed from ``R`` as
``exp((R[s] - R[i, j] - w C[s]) / gamma)``, whose exponent is never positive (a soft-min
never exceeds its arguments), so it cannot overflow: the log-space-stable backward of
Cuturi & Blondel. A final pass turns ``G = dvalue/dR`` into ``dvalue/dC``.

Arrays are torch CUDA tensors (wrapped with ``cuda.as_cuda_array``, zero copy), or host
arrays under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), which is how CI tests
these kernels against the CPU backend.
"""

from __future__ import annotations

import math

import torch
from numba import cuda

__all__ = ["forward", "backward", "as_array", "threads_for"]

_INF = math.inf


def as_array(t):
    """Wrap a torch tensor for a numba CUDA kernel (zero copy on a GPU, a NumPy view on the host)."""
    t = t.detach()
    if t.is_cuda:
        return cuda.as_cuda_array(t)
    return t.contiguous().numpy()


def threads_for(width: int) -> int:
    """Threads per block: enough for one anti-diagonal, in warps, at most 256.

    Under the CUDA simulator (every thread a Python thread) a block of 8 threads is used,
    which also exercises the grid-stride loops with tiny inputs.
    """
    if _simulated():
        return 8
    return int(min(256, max(32, 32 * ((int(width) + 31) // 32))))


def _simulated() -> bool:
    import os

    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


@cuda.jit(device=True, inline=True)
def _first_row(hi, b, nn, d):
    # first i in [0, nn) with hi[b, i] + i > d (hi + i strictly increasing)
    a = 0
    z = nn
    while a < z:
        mid = (a + z) // 2
        if hi[b, mid] + mid > d:
            z = mid
        else:
            a = mid + 1
    return a


@cuda.jit(device=True, inline=True)
def _last_row(lo, b, nn, d):
    # last i in [0, nn) with lo[b, i] + i <= d (lo + i non-decreasing)
    a = 0
    z = nn
    while a < z:
        mid = (a + z) // 2
        if lo[b, mid] + mid <= d:
            a = mid + 1
        else:
            z = mid
    return a - 1


@cuda.jit(device=True, inline=True)
def _get(R, lo, hi, b, i, j):
    if j < lo[b, i] or j >= hi[b, i]:
        return _INF
    return R[b, i, j - lo[b, i]]


@cuda.jit
def _fwd_kernel(C, lo, hi, n, m, gamma, wd, wv, wh, subseq, R, value, endw):
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    nn = n[b]
    mm = m[b]
    inv = 1.0 / gamma
    for d in range(nn + mm - 1):
        i = _first_row(hi, b, nn, d) + tid
        i_last = _last_row(lo, b, nn, d)
        while i <= i_last:
            j = d - i
            k = j - lo[b, i]
            c = C[b, i, k]
            if i == 0 and (subseq or j == 0):
                R[b, i, k] = c
            else:
                xd = _INF
                xv = _INF
                xh = _INF
                if i > 0:
                    if wd < _INF:
                        xd = _get(R, lo, hi, b, i - 1, j - 1) + wd * c
                    if wv < _INF:
                        xv = _get(R, lo, hi, b, i - 1, j) + wv * c
                if wh < _INF and k > 0:
                    xh = R[b, i, k - 1] + wh * c
                mn = min(xd, min(xv, xh))
                if mn < _INF and c < _INF:
                    s = math.exp((mn - xd) * inv) + math.exp((mn - xv) * inv) + math.exp((mn - xh) * inv)
                    R[b, i, k] = mn - gamma * math.log(s)
                else:
                    R[b, i, k] = _INF
            i += nt
        cuda.syncthreads()
    if tid == 0:
        last = nn - 1
        l0 = lo[b, last]
        w = hi[b, last] - l0
        if subseq:
            mn = _INF
            for k in range(w):
                mn = min(mn, R[b, last, k])
            if mn < _INF:
                s = 0.0
                for k in range(w):
                    e = math.exp((mn - R[b, last, k]) * inv)
                    endw[b, k] = e
                    s += e
                for k in range(w):
                    endw[b, k] /= s
                value[b] = mn - gamma * math.log(s)
            else:
                value[b] = _INF
        else:
            value[b] = R[b, last, mm - 1 - l0]


@cuda.jit
def _bwd_kernel(C, lo, hi, n, m, gamma, wd, wv, wh, subseq, R, endw, gout, E):
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    nn = n[b]
    mm = m[b]
    inv = 1.0 / gamma
    for d in range(nn + mm - 2, -1, -1):
        i = _first_row(hi, b, nn, d) + tid
        i_last = _last_row(lo, b, nn, d)
        while i <= i_last:
            j = d - i
            k = j - lo[b, i]
            r = R[b, i, k]
            g = 0.0
            if r < _INF:
                if i == nn - 1:
                    if subseq:
                        g = endw[b, k]
                    elif j == mm - 1:
                        g = 1.0
                if wh < _INF and j + 1 < hi[b, i] and not (subseq and i == 0):
                    rs = R[b, i, k + 1]
                    if rs < _INF:
                        g += E[b, i, k + 1] * math.exp((rs - r - wh * C[b, i, k + 1]) * inv)
                if i + 1 < nn:
                    l1 = lo[b, i + 1]
                    h1 = hi[b, i + 1]
                    if wv < _INF and j >= l1 and j < h1:
                        rs = R[b, i + 1, j - l1]
                        if rs < _INF:
                            g += E[b, i + 1, j - l1] * math.exp((rs - r - wv * C[b, i + 1, j - l1]) * inv)
                    if j + 1 >= l1 and j + 1 < h1:
                        rs = R[b, i + 1, j + 1 - l1]
                        if rs < _INF:
                            g += E[b, i + 1, j + 1 - l1] * math.exp(
                                (rs - r - wd * C[b, i + 1, j + 1 - l1]) * inv
                            )
            E[b, i, k] = g
            i += nt
        cuda.syncthreads()
    # G -> dvalue/dC: times the expected weight of the step into each cell, times gout
    go = gout[b]
    for i in range(nn):
        l0 = lo[b, i]
        w = hi[b, i] - l0
        k = tid
        while k < w:
            j = l0 + k
            g = E[b, i, k]
            r = R[b, i, k]
            if g != 0.0 and not (i == 0 and (subseq or j == 0)) and r < _INF:
                c = C[b, i, k]
                f = 0.0
                if i > 0:
                    rp = _get(R, lo, hi, b, i - 1, j - 1)
                    if rp < _INF:
                        f += wd * math.exp((r - rp - wd * c) * inv)
                    if wv < _INF:
                        rp = _get(R, lo, hi, b, i - 1, j)
                        if rp < _INF:
                            f += wv * math.exp((r - rp - wv * c) * inv)
                if wh < _INF and k > 0:
                    rp = R[b, i, k - 1]
                    if rp < _INF:
                        f += wh * math.exp((r - rp - wh * c) * inv)
                g = g * f
            E[b, i, k] = g * go
            k += nt


def forward(Cb, lo, hi, n, m, gamma, wd, wv, wh, subseq):
    """Soft-DTW values of the banded batch ``Cb``; returns ``(value, state)`` for :func:`backward`."""
    B, N, W = Cb.shape
    dev = Cb.device
    Cb = Cb.detach().contiguous()
    R = torch.empty((B, N, W), dtype=Cb.dtype, device=dev)
    value = torch.empty(B, dtype=Cb.dtype, device=dev)
    endw = torch.zeros((B, W), dtype=Cb.dtype, device=dev)
    args = [as_array(x) for x in (Cb, lo, hi, n, m)]
    _fwd_kernel[B, threads_for(W)](
        *args,
        float(gamma),
        float(wd),
        float(wv),
        float(wh),
        bool(subseq),
        as_array(R),
        as_array(value),
        as_array(endw),
    )
    return value, (R, endw)


def backward(state, Cb, lo, hi, n, m, gamma, wd, wv, wh, subseq, gout):
    """``gout[b] * dvalue[b] / dCb[b]`` in band storage."""
    R, endw = state
    B, N, W = Cb.shape
    E = torch.zeros((B, N, W), dtype=Cb.dtype, device=Cb.device)
    g = gout.detach().to(Cb.dtype).contiguous()
    args = [as_array(x) for x in (Cb.detach().contiguous(), lo, hi, n, m)]
    _bwd_kernel[B, threads_for(W)](
        *args,
        float(gamma),
        float(wd),
        float(wv),
        float(wh),
        bool(subseq),
        as_array(R),
        as_array(endw),
        as_array(g),
        as_array(E),
    )
    return E
