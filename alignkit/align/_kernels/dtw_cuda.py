"""CUDA (numba.cuda) kernel for batched hard DTW with back-tracking on the device.

Same recursion, step sets, start/unreachable rules and tie-breaking as the CPU engine
(:mod:`alignkit.align._kernels.cpu_dtw`): ``D[0, 0] = C[0, 0]``, ``D[i, j] = min_s D[i - di_s,
j - dj_s] + w_s C[i, j]``, ties to the earliest step in the list (strict ``<``), excluded
cells ``inf``. One thread block per pair sweeps the anti-diagonals ``d = i + j`` (every step
has ``di + dj >= 1``, so a cell only depends on earlier diagonals); the threads share a
diagonal's cells (grid-stride: no length limit) and synchronise between diagonals. Storage
is banded ``(B, N, W)``: float64 accumulated cost plus one back-pointer byte per cell. Thread
0 of each block then traces its path back on the device, so the whole batch returns paths
from one launch.
"""

from __future__ import annotations

import math

import torch
from numba import cuda

from .softdtw_cuda import _first_row, _last_row, as_array, threads_for

__all__ = ["dtw_banded", "START", "UNREACHABLE"]

START = 254
UNREACHABLE = 255
_INF = math.inf


@cuda.jit
def _dtw_kernel(Cb, allowed, lo, hi, n, m, di, dj, w, D, bp, cost, paths, plen):
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    nn = n[b]
    mm = m[b]
    S = di.shape[0]
    for d in range(nn + mm - 1):
        i = _first_row(hi, b, nn, d) + tid
        i_last = _last_row(lo, b, nn, d)
        while i <= i_last:
            j = d - i
            k = j - lo[b, i]
            c = Cb[b, i, k]
            if allowed[b, i, k] == 0:
                D[b, i, k] = _INF
                bp[b, i, k] = UNREACHABLE
            elif i == 0 and j == 0:
                D[b, i, k] = c
                bp[b, i, k] = START
            else:
                best = _INF
                sb = UNREACHABLE
                for s in range(S):
                    pi = i - di[s]
                    pj = j - dj[s]
                    if pi < 0 or pj < 0:
                        continue
                    if pj < lo[b, pi] or pj >= hi[b, pi]:
                        continue
                    v = D[b, pi, pj - lo[b, pi]] + w[s] * c
                    if v < best:
                        best = v
                        sb = s
                D[b, i, k] = best
                bp[b, i, k] = sb
            i += nt
        cuda.syncthreads()
    if tid == 0:
        i = nn - 1
        j = mm - 1
        total = D[b, i, j - lo[b, i]]
        cost[b] = total
        if not (total < _INF):
            plen[b] = 0
            return
        L = 0
        while True:
            paths[b, L, 0] = i
            paths[b, L, 1] = j
            L += 1
            s = bp[b, i, j - lo[b, i]]
            if s == START:
                break
            i -= di[s]
            j -= dj[s]
        # reverse in place: start -> end
        for a in range(L // 2):
            t0 = paths[b, a, 0]
            t1 = paths[b, a, 1]
            paths[b, a, 0] = paths[b, L - 1 - a, 0]
            paths[b, a, 1] = paths[b, L - 1 - a, 1]
            paths[b, L - 1 - a, 0] = t0
            paths[b, L - 1 - a, 1] = t1
        plen[b] = L


def dtw_banded(Cb, allowed, lo, hi, n, m, di, dj, w):
    """Run the batched kernel; all arguments are tensors on one device (or host under the simulator).

    Returns
    -------
    cost : torch.Tensor [shape=(B,), float64]
    paths : torch.Tensor [shape=(B, N + M, 2), int64]
        Path ``b`` is ``paths[b, :plen[b]]`` (start -> end).
    plen : torch.Tensor [shape=(B,), int64]
    """
    B, N, W = Cb.shape
    dev = Cb.device
    M = int(m.max().item())
    D = torch.empty((B, N, W), dtype=torch.float64, device=dev)
    bp = torch.empty((B, N, W), dtype=torch.uint8, device=dev)
    cost = torch.empty(B, dtype=torch.float64, device=dev)
    paths = torch.zeros((B, N + M, 2), dtype=torch.int64, device=dev)
    plen = torch.zeros(B, dtype=torch.int64, device=dev)
    _dtw_kernel[B, threads_for(W)](
        *(as_array(x) for x in (Cb, allowed, lo, hi, n, m, di, dj, w, D, bp, cost, paths, plen))
    )
    return cost, paths, plen
