"""CPU (numba) kernels for soft-DTW over a banded cost layout.

Layout
------
Every cost matrix is stored *banded*: row ``i`` of batch item ``b`` keeps only the columns
``lo[b, i] <= j < hi[b, i]`` in ``Cb[b, i, j - lo[b, i]]`` (shape ``(B, N, W)`` with ``W``
the widest window). A dense matrix is the special case ``lo = 0, hi = M``; a Sakoe-Chiba
band, a band around a coarse path or a mask are other windows (masked cells inside a window
hold ``+inf``). Windows are non-decreasing in both ends (the wrapper makes them so), and
``n[b]``, ``m[b]`` are the true lengths of item ``b``.

Sweep
-----
Rows are processed in strips of ``STRIP`` rows; inside a strip, step ``t`` evaluates every cell
``(i0 + s, t - s)`` of the strip at once, i.e. one anti-diagonal. Its cells depend only on the two
previous steps, so the loop over them has no carried dependency and numba/LLVM turns it into SIMD
code, with ``exp`` and ``log`` written from arithmetic alone (``_ex``, ``_lg``; float32 input keeps
every operation in float32 and runs twice the lanes). A row sweep instead chains every cell on its
left neighbour through an ``exp`` and a ``log`` and runs at the latency of those calls. Costs and
``R`` move between the row-banded arrays and small per-strip block buffers (``BLOCK`` steps x
``STRIP`` lanes) in contiguous row runs, never one strided cell at a time.

Forward: the recursion of :mod:`alignkit.align._kernels.naive`; the value alone needs O(W + STRIP
BLOCK) extra memory. When a gradient is wanted, ``R`` is kept in a ``(B, N, W)`` buffer (one float
per stored cell); nothing else is stored.

Backward (Cuturi & Blondel, 2017, Algorithm 2, in push form), strips bottom-up and steps in reverse:
each cell recomputes its soft-min weights ``p = exp(-(R[pred] + w C - R[s]) / gamma)`` from its own
and its predecessors' ``R`` and its cost (``R[s] <= min``, so no exponent is positive beyond
rounding), pushes ``G * p`` to its predecessors and gets ``E = G * sum_k w_k p_k``, which is written
over its ``R`` once its block is done (nothing reads it any more). The gradient therefore lives in
the forward's buffer: O(B N W) memory for the pair of passes.

Threads: batches of at least ``_WAVE_ITEMS`` items are parallel over items (``prange``). A single
item is spread over the threads as a pipeline of strips (:func:`_forward_wave`): workers claim
strips in order and run them block by block, each block first waiting (on an atomic counter of the
blocks done per strip) until the strip it reads from is far enough ahead; the backward runs the
same pipeline bottom-up. The blocks are the serial sweep's, so results are bit for bit identical;
the extra state is one boundary row and two carried steps per strip.
"""

from __future__ import annotations

import math
import platform

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload, register_jitable

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
# batches of fewer items run item after item, each spread over the threads by a wavefront of tiles
# (:func:`_forward_wave`); bigger ones are parallel over items
_WAVE_ITEMS = 2

_INF = np.inf


# ----------------------------------------------------------------------------- vector maths
# The recursions below evaluate whole anti-diagonals of a strip at once; numba/LLVM turns those
# loops into SIMD code only if no call to libm is left inside, so exp and log are written here
# from arithmetic alone (Cody-Waite range reduction + Taylor polynomial for exp; the atanh series
# for log on [1, 3], the only range the soft-min needs). Both are accurate to ~1 ulp in float64
# (~1e-7 relative in float32); the float32 twins keep every operation in float32, so the loops run
# twice as many lanes. ``reassoc`` must stay off: the rounding trick ``(t + K) - K`` is exactly
# what re-association would fold away, and ``nnan``/``ninf`` must stay off: +inf marks masked cells.
_FM = {"contract", "nsz"}


def _ex(z):  # pragma: no cover - replaced by the overload below inside jitted code
    """``exp(z)`` for ``z <= ~0`` (exactly 0 below the smallest normal result)."""
    return math.exp(z) if z > -700.0 else 0.0


def _lg(s):  # pragma: no cover - replaced by the overload below inside jitted code
    """``log(s)`` for ``1 <= s <= 3``."""
    return math.log(s)


@register_jitable(inline="always")
def _ex64(z):
    x = max(z, -700.0)
    t = x * 1.4426950408889634  # log2(e)
    k = t + 6755399441055744.0  # 1.5 * 2**52: rounds t to an integer in the low mantissa bits
    n = k - 6755399441055744.0
    r = x - n * 0.6931471803691238 - n * 1.9082149292705877e-10  # x - n ln2, ln2 split in two
    p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (
        1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (
            1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600))))))))))))
    scale = (np.float64(k).view(np.int64) + np.int64(1023)) << np.int64(52)  # 2**n
    v = p * np.int64(scale).view(np.float64)
    return v if z >= -700.0 else 0.0


@register_jitable(inline="always")
def _ex32(z):
    x = max(z, np.float32(-87.0))
    t = x * np.float32(1.442695)
    k = t + np.float32(12582912.0)  # 1.5 * 2**23
    n = k - np.float32(12582912.0)
    r = x - n * np.float32(0.693359375) - n * np.float32(-2.12194440e-4)
    p = np.float32(1.0) + r * (np.float32(1.0) + r * (np.float32(0.5) + r * (np.float32(1.0 / 6) + r * (
        np.float32(1.0 / 24) + r * (np.float32(1.0 / 120) + r * (np.float32(1.0 / 720) + r * np.float32(
            1.0 / 5040)))))))
    scale = (np.float32(k).view(np.int32) + np.int32(127)) << np.int32(23)
    v = p * np.int32(scale).view(np.float32)
    return v if z >= np.float32(-87.0) else np.float32(0.0)


@register_jitable(inline="always")
def _lg64(s):
    big = s > 1.4142135623730951
    m = s * 0.5 if big else s  # m in [0.707, 1.5]
    t = (m - 1.0) / (m + 1.0)  # |t| <= 0.2
    u = t * t
    q = 1.0 + u * (1.0 / 3 + u * (1.0 / 5 + u * (1.0 / 7 + u * (1.0 / 9 + u * (1.0 / 11 + u * (
        1.0 / 13 + u * (1.0 / 15 + u * (1.0 / 17 + u * (1.0 / 19 + u * (1.0 / 21 + u * (1.0 / 23)))))))))))
    return 2.0 * t * q + (0.6931471805599453 if big else 0.0)


@register_jitable(inline="always")
def _lg32(s):
    big = s > np.float32(1.4142135)
    m = s * np.float32(0.5) if big else s
    t = (m - np.float32(1.0)) / (m + np.float32(1.0))
    u = t * t
    q = np.float32(1.0) + u * (np.float32(1.0 / 3) + u * (np.float32(1.0 / 5) + u * (
        np.float32(1.0 / 7) + u * (np.float32(1.0 / 9) + u * np.float32(1.0 / 11)))))
    return np.float32(2.0) * t * q + (np.float32(0.6931472) if big else np.float32(0.0))


def _tiny(x):  # pragma: no cover - replaced by the overload below inside jitted code
    """The backward pass's flush-to-zero level in ``x``'s precision (see :func:`_bwd_step`)."""
    return 1e-150


@overload(_tiny, inline="always")
def _ov_tiny(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: np.float32(1e-18)
    return lambda x: 1e-150


@overload(_ex, inline="always")
def _ov_ex(z):
    if isinstance(z, types.Float) and z.bitwidth == 32:
        return lambda z: _ex32(z)
    return lambda z: _ex64(z)


@overload(_lg, inline="always")
def _ov_lg(s):
    if isinstance(s, types.Float) and s.bitwidth == 32:
        return lambda s: _lg32(s)
    return lambda s: _lg64(s)


# ----------------------------------------------------------------------------- atomics
# One item spread over the threads is a pipeline of strips: a strip's block waits until the strip
# it reads from has done enough blocks. The progress counters are read with acquire and written
# with release semantics (so the block's cells are visible before its count), numba has no such
# operations, hence these LLVM intrinsics.
def _item_ptr(context, builder, aryty, ary, idx):
    a = context.make_array(aryty)(context, builder, ary)
    return cgutils.get_item_pointer(context, builder, aryty, a, [idx])


@intrinsic
def _atomic_load(typingctx, arr, idx):
    """``arr[idx]`` (int64) read with acquire semantics."""
    sig = types.int64(arr, idx)

    def codegen(context, builder, sig, args):
        return builder.load_atomic(_item_ptr(context, builder, sig.args[0], args[0], args[1]), "acquire", 8)

    return sig, codegen


@intrinsic
def _atomic_store(typingctx, arr, idx, val):
    """``arr[idx] = val`` (int64) with release semantics."""
    sig = types.void(arr, idx, val)

    def codegen(context, builder, sig, args):
        v = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(v, _item_ptr(context, builder, sig.args[0], args[0], args[1]), "release", 8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _atomic_add(typingctx, arr, idx, val):
    """``arr[idx] += val`` (int64) atomically; returns the old value."""
    sig = types.int64(arr, idx, val)

    def codegen(context, builder, sig, args):
        v = context.cast(builder, args[2], sig.args[2], types.int64)
        return builder.atomic_rmw("add", _item_ptr(context, builder, sig.args[0], args[0], args[1]), v,
                                  "seq_cst")

    return sig, codegen


_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


@intrinsic
def _pause(typingctx):
    """A spin-wait hint (x86 ``pause``; nothing elsewhere)."""
    sig = types.void()

    def codegen(context, builder, sig, args):
        if _X86:
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()

    return sig, codegen


# ----------------------------------------------------------------------------- strips
# Rows are processed in strips of STRIP rows; inside a strip, step ``t`` computes every cell
# (i0 + s, t - s), i.e. one anti-diagonal, from the two previous steps (held in small lane
# buffers; lane ``s`` sits at index ``s + 1``, index 0 is the row above the strip). The cells of
# a step are independent, so the loop over lanes is vectorised; the costs are gathered from and
# R/E scattered to the row-banded layout, so nothing of size O(N W) is added to the one ``R``
# buffer (which the backward overwrites with E, as before).
STRIP = 128
BLOCK = 128  # steps per block: a strip's costs and R move between rows and blocks in runs


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy", inline="always")
def _fwd_step(a2, a1, a1h, cb, rn, wd, wv, wh, gamma, inv, inf, use_d, use_v, use_h):
    """Evaluate one anti-diagonal of the forward recursion (SIMD).

    ``rn[s]`` from its diagonal (``a2[s]``), vertical (``a1[s]``) and horizontal (``a1h[s]``)
    predecessors and its cost ``cb[s]``.
    """
    for s in range(rn.shape[0]):
        c = cb[s]
        xd = a2[s] + wd * c if use_d else inf
        xv = a1[s] + wv * c if use_v else inf
        xh = a1h[s] + wh * c if use_h else inf
        # sort the three without branches: the minimum's own term is exp(0) = 1
        l1 = min(xd, xv)
        mn = min(l1, xh)
        o1 = max(l1, xh)
        o2 = max(xd, xv)
        e = _ex((mn - o1) * inv) + _ex((mn - o2) * inv)
        r = mn - gamma * _lg(e + gamma / gamma)
        rn[s] = r if mn < inf else inf


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy", inline="always")
def _bwd_step(q1, q1h, q2, gc, cb, eb, gpd, gpv, gph, wd, wv, wh, wde, wve, wdh, inv, inf, zero,
              use_d, use_v, use_h):
    """Evaluate one anti-diagonal of the backward pass (SIMD).

    The soft-min weights of each cell's three predecessors, its ``E`` and the shares ``G p`` it
    pushes to them. The weights are ``p_k = exp((min - x_k) / gamma) / sum``, the same numbers the
    forward's soft-min summed, so two exponentials and a division give all three (the minimum's
    own term is 1, and each candidate finds its exponential by value among the sorted ones).
    """
    # G shrinks geometrically away from the likely paths; products of tiny G and tiny weights
    # would be subnormal numbers, each operation on which costs ~100 cycles on x86. Weights and G
    # below ``tiny`` count as 0: their products stay normal, and what is dropped is < 1e-148
    # (float32: < 1e-17) of the mass. No short-circuit ``and`` in the loop: it becomes branches,
    # and the loop stops being SIMD.
    tiny = _tiny(inv)
    one = inv / inv
    for s in range(eb.shape[0]):
        c = cb[s]
        g = gc[s]
        g = g if g > tiny else zero
        xd = q2[s] + wd * c if use_d else inf
        xv = q1[s] + wv * c if use_v else inf
        xh = q1h[s] + wh * c if use_h else inf
        l1 = min(xd, xv)
        mn = min(l1, xh)
        o1 = max(l1, xh)
        o2 = max(xd, xv)
        e1 = _ex((mn - o1) * inv)
        e2 = _ex((mn - o2) * inv)
        f = one / (one + e1 + e2)
        fin = mn < inf
        pd = (e1 if xd == o1 else (e2 if xd == o2 else one)) * f
        pv = (e1 if xv == o1 else (e2 if xv == o2 else one)) * f
        ph = (e1 if xh == o1 else (e2 if xh == o2 else one)) * f
        pd = pd if (pd > tiny) & fin else zero
        pv = pv if (pv > tiny) & fin else zero
        ph = ph if (ph > tiny) & fin else zero
        eb[s] = g * (wde * pd + wve * pv + wdh * ph)
        gpd[s] = g * pd
        gpv[s] = g * pv
        gph[s] = g * ph


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy", inline="always")
def _acc(dst, src):
    for s in range(dst.shape[0]):
        dst[s] += src[s]


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy", inline="always")
def _acc2(dst, a, b):
    """``dst += a`` then ``dst += b`` in one pass (same roundings as two)."""
    for s in range(dst.shape[0]):
        dst[s] = (dst[s] + a[s]) + b[s]


@njit(cache=True, nogil=True, inline="always")
def _lanes(lo, hi, i0, ns, t0, nsteps, SA, SB):
    """Find the active lanes of each step of a strip.

    Lane ``s`` at step ``t`` holds cell (i0+s, t-s), in the window iff ``lo <= t - s < hi``;
    they form ``[SA, SB]`` (empty when SA > SB).
    """
    sa = 0
    sb = -1
    for q in range(nsteps):
        t = t0 + q
        while sb + 1 < ns and lo[i0 + sb + 1] + sb + 1 <= t:
            sb += 1
        while sa < ns and hi[i0 + sa] + sa <= t:
            sa += 1
        SA[q] = sa
        SB[q] = sb


@njit(cache=True, nogil=True, inline="always")
def _block_gather(M, lo, hi, i0, ns, ta, tb, out, laneoff):
    """Copy the window cells of steps ``[ta, tb)`` into a block: ``out[t - ta, s + laneoff]``.

    ``= M[i0 + s, t - s - lo]``; each row's cells are read as one contiguous run (rows of a strip
    are far apart in memory; reading them one anti-diagonal at a time costs a cache and TLB miss
    per cell).
    """
    for s in range(ns):
        i = i0 + s
        a = max(ta - s, lo[i])
        b = min(tb - s, hi[i])
        for j in range(a, b):
            out[j + s - ta, s + laneoff] = M[i, j - lo[i]]


@njit(cache=True, nogil=True, inline="always")
def _block_scatter(M, lo, hi, i0, ns, ta, tb, src, laneoff, scale):
    """Inverse of :func:`_block_gather`: ``M[i0 + s, t - s - lo] = scale * src[t - ta, s + laneoff]``."""
    for s in range(ns):
        i = i0 + s
        a = max(ta - s, lo[i])
        b = min(tb - s, hi[i])
        for j in range(a, b):
            M[i, j - lo[i]] = src[j + s - ta, s + laneoff] * scale


@njit(cache=True, nogil=True, inline="always")
def _strip(lo, hi, nn, S, k):
    """Rows ``[i0, i0 + ns)`` of strip ``k`` and its steps ``[jmin, t1)``."""
    i0 = k * S
    ns = min(S, nn - i0)
    return i0, ns, lo[i0], hi[i0 + ns - 1] + ns - 1


@njit(cache=True, nogil=True, inline="always")
def _bget(row, blo, bhi, j, fill):
    """Cell ``j`` (absolute column) of a boundary row stored from column ``blo``; ``fill`` outside."""
    return row[j - blo] if blo <= j < bhi else fill


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy")
def _fwd_tile(C, lo, hi, nn, gamma, wd, wv, wh, subseq, need_grad, R, S, T, k, b, PB, CR, DR, DC, SA, SB):
    """Run block ``b`` (steps ``[jmin + b T, ...)``) of strip ``k`` of the forward recursion.

    Per-strip state lives outside, so that tiles of different strips can interleave (and run on
    different threads): ``PB[k % len]`` is the row above the strip (the last row of strip
    ``k - 1``, stored from its ``lo``), ``PB[(k + 1) % len]`` receives the strip's own last row and
    ``CR[k % len]`` carries the block's two previous steps. ``DR``, ``DC``, ``SA``, ``SB`` are
    scratch (one set per thread).
    """
    one = gamma / gamma
    zero = gamma - gamma
    inf = one / zero
    inv = one / gamma
    use_d = wd < inf
    use_v = wv < inf
    use_h = wh < inf
    i0, ns, jmin, t1 = _strip(lo, hi, nn, S, k)
    ta = jmin + b * T
    tb = min(ta + T, t1)
    pa = PB[k % PB.shape[0]]
    pn = PB[(k + 1) % PB.shape[0]]
    alo = lo[i0 - 1] if i0 > 0 else 0
    ahi = hi[i0 - 1] if i0 > 0 else 0
    cr = CR[k % CR.shape[0]]
    # DR[t - ta + 2, s + 1]: R of lane s at step t (rows 0, 1: the two steps before the block);
    # column 0 is the row above the strip at column t + 1
    if b == 0:
        for r in range(2):
            for q in range(ns + 2):
                DR[r, q] = inf
        DR[1, 0] = _bget(pa, alo, ahi, jmin, inf)
        DR[0, 0] = _bget(pa, alo, ahi, jmin - 1, inf)
    else:
        for r in range(2):
            for q in range(ns + 2):
                DR[r, q] = cr[r, q]
    for r in range(2, tb - ta + 2):
        for q in range(ns + 2):
            DR[r, q] = inf
    for r in range(tb - ta):
        for q in range(ns):
            DC[r, q] = inf
    _lanes(lo, hi, i0, ns, ta, tb - ta, SA, SB)
    _block_gather(C, lo, hi, i0, ns, ta, tb, DC, 0)
    for t in range(ta, tb):
        r = t - ta + 2
        sa = SA[t - ta]
        sb = SB[t - ta]
        qa = max(sa - 1, 0)  # one inactive lane on each side becomes +inf
        qb = min(sb + 1, ns - 1)
        if qa <= qb:
            _fwd_step(DR[r - 2, qa:qb + 1], DR[r - 1, qa:qb + 1], DR[r - 1, qa + 1:qb + 2],
                      DC[r - 2, qa:qb + 1], DR[r, qa + 1:qb + 2], wd, wv, wh, gamma, inv, inf,
                      use_d, use_v, use_h)
        if i0 == 0 and sa == 0 and sb >= 0 and (subseq or t == 0):
            DR[r, 1] = DC[r - 2, 0]  # a start cell: R = C
        DR[r, 0] = _bget(pa, alo, ahi, t + 1, inf)
    if need_grad:
        _block_scatter(R, lo, hi, i0, ns, ta, tb, DR[2:], 1, one)
    s = ns - 1  # the strip's last row, for the next strip
    i = i0 + s
    for j in range(max(ta - s, lo[i]), min(tb - s, hi[i])):
        pn[j - lo[i]] = DR[j + s - ta + 2, ns]
    for r in range(2):
        for q in range(ns + 2):
            cr[r, q] = DR[tb - ta + r, q]


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy")
def _fwd_finish(P, plo, phi, mm, gamma, subseq, endw):
    """Return the value from the last row of ``R`` (``P``, stored from column ``plo``).

    For subsequence alignment, also fill ``endw`` with the soft-argmin weights of the end cells.
    """
    one = gamma / gamma
    zero = gamma - gamma
    inf = one / zero
    inv = one / gamma
    if subseq:
        mn = inf
        for j in range(plo, phi):
            if P[j - plo] < mn:
                mn = P[j - plo]
        if not (mn < inf):
            for k in range(phi - plo):
                endw[k] = zero
            return inf
        tot = zero
        for j in range(plo, phi):
            e = math.exp((mn - P[j - plo]) * inv)
            endw[j - plo] = e
            tot += e
        for k in range(phi - plo):
            endw[k] /= tot
        return mn - gamma * math.log(tot)
    return _bget(P, plo, phi, mm - 1, inf)


@njit(cache=True, nogil=True, inline="always")
def _n_blocks(lo, hi, nn, S, T, k):
    i0, ns, jmin, t1 = _strip(lo, hi, nn, S, k)
    return max(t1 - jmin + T - 1, 0) // T


@njit(cache=True, nogil=True)
def _fwd_need(lo, hi, nn, S, T, k, b):
    """Count the blocks of strip ``k - 1`` that the forward's block ``b`` of strip ``k`` waits for.

    Block ``[ta, tb)`` reads the last row of strip ``k - 1`` up to column ``tb``; that strip
    computes the row's cell at column ``c`` at its step ``c + ns - 1``. From absolute columns, so
    that any windows work.
    """
    if k == 0:
        return 0
    i0, ns, jmin, t1 = _strip(lo, hi, nn, S, k)
    tb = min(jmin + (b + 1) * T, t1)
    _, nsp, jp, tp = _strip(lo, hi, nn, S, k - 1)
    x = min(tb + nsp - 1, tp - 1)
    return (x - jp) // T + 1 if x >= jp else 0


@njit(cache=True, nogil=True)
def _bwd_need(lo, hi, nn, S, T, k, b):
    """Count the blocks (from its last) strip ``k + 1`` must have run before block ``b`` of strip ``k``.

    In the backward pass, block ``[ta, tb)`` reads the G pushed into its last row from column
    ``ta - ns + 1`` on, final once strip ``k + 1`` has run its step ``ta - ns`` (its pushes into
    column ``c`` come from its steps ``c - 1`` and ``c``); the tiles of strip ``k + 1`` that still
    read this strip's last row ``R`` (which the block overwrites with ``E``) are then done too.
    """
    nst = (nn + S - 1) // S
    if k + 1 >= nst:
        return 0
    i0, ns, jmin, t1 = _strip(lo, hi, nn, S, k)
    ta = jmin + b * T
    _, _, jn, tn = _strip(lo, hi, nn, S, k + 1)
    nbn = _n_blocks(lo, hi, nn, S, T, k + 1)
    x = ta - ns
    if x >= tn:
        return 0
    return nbn - max(x - jn, 0) // T


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy")
def _forward_one(C, lo, hi, nn, mm, gamma, wd, wv, wh, subseq, need_grad, R, endw, S, T):
    """The forward recursion of one item, strip after strip (one thread)."""
    inf = gamma / (gamma - gamma)
    dt = C.dtype
    if nn == 0:
        return inf
    PB = np.full((2, C.shape[1]), inf, dt)  # rows above / below the current strip
    CR = np.empty((1, 2, S + 2), dt)
    DR = np.empty((T + 2, S + 2), dt)
    DC = np.empty((T, S + 1), dt)
    SA = np.empty(T, np.int64)
    SB = np.empty(T, np.int64)
    nst = (nn + S - 1) // S
    for k in range(nst):
        for b in range(_n_blocks(lo, hi, nn, S, T, k)):
            _fwd_tile(C, lo, hi, nn, gamma, wd, wv, wh, subseq, need_grad, R, S, T, k, b, PB, CR, DR, DC,
                      SA, SB)
    return _fwd_finish(PB[nst % 2], lo[nn - 1], hi[nn - 1], mm, gamma, subseq, endw)


@njit(cache=True, parallel=True, fastmath=_FM, error_model="numpy")
def _forward_wave(C, lo, hi, nn, mm, gamma, wd, wv, wh, subseq, need_grad, R, endw, S, T):
    """Run :func:`_forward_one` over all threads: a pipeline of strips.

    Workers claim strips in order and run their blocks in order; block ``b`` of strip ``k`` first
    waits (spinning on an atomic counter) until strip ``k - 1`` has done the blocks it reads
    (:func:`_fwd_need`). Tiles are the serial ones, so results are bit for bit those of
    :func:`_forward_one`.
    """
    inf = gamma / (gamma - gamma)
    dt = C.dtype
    if nn == 0:
        return inf
    nst = (nn + S - 1) // S
    PB = np.full((nst + 1, C.shape[1]), inf, dt)  # PB[k]: the row above strip k
    CR = np.empty((nst, 2, S + 2), dt)
    prog = np.zeros(nst, np.int64)  # blocks done per strip
    ctr = np.zeros(1, np.int64)  # next strip to claim
    for _ in prange(nst):  # each worker claims strips in order; nobody waits on an unclaimed strip
        DR = np.empty((T + 2, S + 2), dt)
        DC = np.empty((T, S + 1), dt)
        SA = np.empty(T, np.int64)
        SB = np.empty(T, np.int64)
        while True:
            k = _atomic_add(ctr, 0, 1)
            if k >= nst:
                break
            for b in range(_n_blocks(lo, hi, nn, S, T, k)):
                need = _fwd_need(lo, hi, nn, S, T, k, b)
                while need > 0 and _atomic_load(prog, k - 1) < need:
                    _pause()
                _fwd_tile(C, lo, hi, nn, gamma, wd, wv, wh, subseq, need_grad, R, S, T, k, b, PB, CR, DR, DC,
                          SA, SB)
                _atomic_store(prog, k, b + 1)
    return _fwd_finish(PB[nst], lo[nn - 1], hi[nn - 1], mm, gamma, subseq, endw)


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy")
def _bwd_tile(C, R, lo, hi, nn, mm, gamma, wd, wv, wh, subseq, gout, S, T, k, b, GU, CG, QB, GB, DC, EB,
              gpd, gpv, gph, SA, SB):
    """Run block ``b`` of strip ``k`` of the backward pass (see :func:`_backward_one`).

    Per-strip state: ``GU[(k + 1) % len]`` holds the G pushed into the strip's last row from below,
    ``GU[k % len]`` collects the strip's pushes into the row above (both stored from their row's
    ``lo``) and ``CG[k % len]`` carries G of the two steps below the block. The rest is scratch.
    """
    one = gamma / gamma
    zero = gamma - gamma
    inf = one / zero
    inv = one / gamma
    use_d = wd < inf
    use_v = wv < inf
    use_h = wh < inf
    wde = wd if use_d else zero  # weights in E's sum: a disabled step contributes nothing
    wve = wv if use_v else zero
    wdh = wh if use_h else zero
    i0, ns, jmin, t1 = _strip(lo, hi, nn, S, k)
    ta = jmin + b * T
    tb = min(ta + T, t1)
    gdown = GU[(k + 1) % GU.shape[0]]
    gup = GU[k % GU.shape[0]]
    cg = CG[k % CG.shape[0]]
    dlo = lo[i0 + ns - 1]
    dhi = hi[i0 + ns - 1]
    up_lo = lo[i0 - 1] if i0 > 0 else 0
    up_hi = hi[i0 - 1] if i0 > 0 else 0
    # rows t - ta + 2 for steps [ta - 2, tb); column s + 1 for lane s, 0 for the row above
    for r in range(tb - ta + 2):
        for q in range(ns + 2):
            GB[r, q] = zero
    if tb == t1:  # the strip's first block
        for j in range(up_hi - up_lo):
            gup[j] = zero
    else:
        for r in range(2):
            for q in range(ns + 2):
                GB[tb - ta + r, q] = cg[r, q]
    for r in range(tb - ta + 2):
        for q in range(ns + 2):
            QB[r, q] = inf
    _block_gather(R, lo, hi, i0, ns, ta - 2, tb, QB, 1)
    for t in range(ta - 2, tb):
        QB[t - ta + 2, 0] = R[i0 - 1, t + 1 - up_lo] if (i0 > 0 and up_lo <= t + 1 < up_hi) else inf
    for r in range(tb - ta):
        for q in range(ns):
            DC[r, q] = inf
    _block_gather(C, lo, hi, i0, ns, ta, tb, DC, 0)
    _lanes(lo, hi, i0, ns, ta, tb - ta, SA, SB)
    for t in range(tb - 1, ta - 1, -1):
        r = t - ta + 2
        sa = SA[t - ta]
        sb = SB[t - ta]
        if sb == ns - 1 and sa <= sb:
            GB[r, ns] += _bget(gdown, dlo, dhi, t - ns + 1, zero)
        if sa <= sb:
            # gph is stored one lane up: lane s pushes horizontally into cell s + 1 of step t - 1
            _bwd_step(QB[r - 1, sa:sb + 1], QB[r - 1, sa + 1:sb + 2],
                      QB[r - 2, sa:sb + 1], GB[r, sa + 1:sb + 2], DC[r - 2, sa:sb + 1],
                      EB[r - 2, sa:sb + 1], gpd[sa:sb + 1], gpv[sa:sb + 1], gph[sa + 1:sb + 2],
                      wd, wv, wh, wde, wve, wdh, inv, inf, zero, use_d, use_v, use_h)
            if i0 == 0 and sa == 0 and (subseq or t == 0):
                # a start cell: dR/dC = 1, no predecessors
                EB[r - 2, 0] = GB[r, 1] if QB[r, 1] < inf else zero
                gpd[0] = zero
                gpv[0] = zero
                gph[1] = zero
            gph[sa] = zero
            gpv[sb + 1] = zero
            _acc2(GB[r - 1, sa:sb + 2], gph[sa:sb + 2], gpv[sa:sb + 2])
            _acc(GB[r - 2, sa:sb + 1], gpd[sa:sb + 1])
        if up_lo <= t + 1 < up_hi:  # lane -1 (the row above) at step t is column t + 1
            gup[t + 1 - up_lo] += GB[r, 0]
    _block_scatter(R, lo, hi, i0, ns, ta, tb, EB, 0, gout)
    if ta == jmin:  # the row above at the two steps before the strip's first
        for t in range(jmin - 2, jmin):
            if up_lo <= t + 1 < up_hi:
                gup[t + 1 - up_lo] += GB[t - ta + 2, 0]
    else:  # carry G of steps ta - 2, ta - 1 into the next block
        for r in range(2):
            for q in range(ns + 2):
                cg[r, q] = GB[r, q]


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy")
def _bwd_prepare(R, lo, hi, nn, mm, gamma, subseq, endw, GL):
    """Zero ``R`` outside the windows and put the G of the last row's cells into ``GL``."""
    zero = gamma - gamma
    N = R.shape[0]
    W = R.shape[1]
    for i in range(nn, N):
        for k in range(W):
            R[i, k] = zero
    for i in range(nn):
        for k in range(hi[i] - lo[i], W):
            R[i, k] = zero
    if nn == 0:
        return
    plo = lo[nn - 1]
    phi = hi[nn - 1]
    for k in range(GL.shape[0]):
        GL[k] = zero
    if subseq:
        for k in range(phi - plo):
            GL[k] = endw[k]
    elif plo <= mm - 1 < phi:
        GL[mm - 1 - plo] = gamma / gamma


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy")
def _backward_one(C, R, lo, hi, nn, mm, gamma, wd, wv, wh, subseq, endw, gout, S, T):
    """Overwrite ``R`` (the forward's accumulated cost) with ``E = gout * dvalue / dC``.

    Push form (Cuturi & Blondel, 2017, Algorithm 2): strips bottom-up, steps (anti-diagonals) in
    reverse, in blocks of ``T`` steps; when a cell is reached every successor has pushed its share
    into its ``G``; the cell recomputes its soft-min weights ``p_k = exp((R - R_pred_k - w_k C) /
    gamma)``, gets ``E = G sum_k w_k p_k`` (written over its ``R`` once the block is done: no later
    cell reads it) and pushes ``G p_k`` to its predecessors; pushes across the strip's top row go
    through a boundary row of G (one per strip boundary, stored from the row's ``lo``).
    """
    dt = R.dtype
    nst = (nn + S - 1) // S
    GU = np.empty((2, R.shape[1]), dt)
    _bwd_prepare(R, lo, hi, nn, mm, gamma, subseq, endw, GU[nst % 2])
    if nn == 0:
        return
    CG = np.empty((1, 2, S + 2), dt)
    QB = np.empty((T + 2, S + 2), dt)  # R
    GB = np.empty((T + 2, S + 2), dt)  # G
    DC = np.empty((T, S + 1), dt)
    EB = np.empty((T, S + 1), dt)
    gpd = np.empty(S + 1, dt)
    gpv = np.empty(S + 2, dt)
    gph = np.empty(S + 2, dt)
    SA = np.empty(T, np.int64)
    SB = np.empty(T, np.int64)
    for kk in range(nst):
        k = nst - 1 - kk
        nb = _n_blocks(lo, hi, nn, S, T, k)
        for bb in range(nb):
            _bwd_tile(C, R, lo, hi, nn, mm, gamma, wd, wv, wh, subseq, gout, S, T, k, nb - 1 - bb, GU, CG,
                      QB, GB, DC, EB, gpd, gpv, gph, SA, SB)


@njit(cache=True, parallel=True, fastmath=_FM, error_model="numpy")
def _backward_wave(C, R, lo, hi, nn, mm, gamma, wd, wv, wh, subseq, endw, gout, S, T):
    """Run :func:`_backward_one` over all threads: strips bottom-up as a pipeline.

    See :func:`_forward_wave` and :func:`_bwd_need`.
    """
    dt = R.dtype
    nst = (nn + S - 1) // S
    GU = np.empty((nst + 1, R.shape[1]), dt)  # GU[k]: G pushed into the row above strip k
    _bwd_prepare(R, lo, hi, nn, mm, gamma, subseq, endw, GU[nst])
    if nn == 0:
        return
    CG = np.empty((nst, 2, S + 2), dt)
    prog = np.zeros(nst, np.int64)  # blocks done per strip (from its last)
    ctr = np.zeros(1, np.int64)
    for _ in prange(nst):
        QB = np.empty((T + 2, S + 2), dt)
        GB = np.empty((T + 2, S + 2), dt)
        DC = np.empty((T, S + 1), dt)
        EB = np.empty((T, S + 1), dt)
        gpd = np.empty(S + 1, dt)
        gpv = np.empty(S + 2, dt)
        gph = np.empty(S + 2, dt)
        SA = np.empty(T, np.int64)
        SB = np.empty(T, np.int64)
        while True:
            k = nst - 1 - _atomic_add(ctr, 0, 1)
            if k < 0:
                break
            nb = _n_blocks(lo, hi, nn, S, T, k)
            for bb in range(nb):
                b = nb - 1 - bb
                need = _bwd_need(lo, hi, nn, S, T, k, b)
                while need > 0 and _atomic_load(prog, k + 1) < need:
                    _pause()
                _bwd_tile(C, R, lo, hi, nn, mm, gamma, wd, wv, wh, subseq, gout, S, T, k, b, GU, CG, QB, GB,
                          DC, EB, gpd, gpv, gph, SA, SB)
                _atomic_store(prog, k, bb + 1)


@njit(cache=True, parallel=True)
def sdtw_forward(Cb, lo, hi, n, m, gamma, wd, wv, wh, subseq, need_grad, R, endw, out):
    """Compute the soft-DTW values of a batch (see the module docstring).

    Fills ``out``, ``endw`` and, when ``need_grad``, the banded accumulated cost ``R`` (same
    layout as ``Cb``). Items run in parallel when there are at least as many as threads; fewer
    items run one after the other, each over all threads (:func:`_forward_wave`).
    """
    B = Cb.shape[0]
    if B < _WAVE_ITEMS:
        for b in range(B):
            rb = R[b] if need_grad else R[0]
            out[b] = _forward_wave(Cb[b], lo[b], hi[b], n[b], m[b], gamma, wd, wv, wh, subseq, need_grad, rb,
                                   endw[b], STRIP, BLOCK)
        return
    for b in prange(B):
        rb = R[b] if need_grad else R[0]
        out[b] = _forward_one(Cb[b], lo[b], hi[b], n[b], m[b], gamma, wd, wv, wh, subseq, need_grad, rb,
                              endw[b], STRIP, BLOCK)


@njit(cache=True)
def sdtw_forward_serial(Cb, lo, hi, n, m, gamma, wd, wv, wh, subseq, need_grad, R, endw, out):
    """Run :func:`sdtw_forward` serially (no thread-pool start-up for small problems)."""
    B = Cb.shape[0]
    for b in range(B):
        rb = R[b] if need_grad else R[0]
        out[b] = _forward_one(Cb[b], lo[b], hi[b], n[b], m[b], gamma, wd, wv, wh, subseq, need_grad, rb,
                              endw[b], STRIP, BLOCK)


@njit(cache=True, parallel=True)
def sdtw_backward(C, R, lo, hi, n, m, gamma, wd, wv, wh, subseq, endw, gout):
    """Overwrite ``R[b]`` (from :func:`sdtw_forward`) with ``gout[b] * dvalue[b] / dCb[b]``."""
    B = R.shape[0]
    if B < _WAVE_ITEMS:
        for b in range(B):
            _backward_wave(C[b], R[b], lo[b], hi[b], n[b], m[b], gamma, wd, wv, wh, subseq, endw[b], gout[b],
                           STRIP, BLOCK)
        return
    for b in prange(B):
        _backward_one(C[b], R[b], lo[b], hi[b], n[b], m[b], gamma, wd, wv, wh, subseq, endw[b], gout[b],
                      STRIP, BLOCK)


@njit(cache=True)
def sdtw_backward_serial(C, R, lo, hi, n, m, gamma, wd, wv, wh, subseq, endw, gout):
    """Run :func:`sdtw_backward` serially (no thread-pool start-up for small problems)."""
    B = R.shape[0]
    for b in range(B):
        _backward_one(C[b], R[b], lo[b], hi[b], n[b], m[b], gamma, wd, wv, wh, subseq, endw[b], gout[b],
                      STRIP, BLOCK)


@njit(cache=True, nogil=True)
def _cost_row(X, Y, lo, hi, n, metric, out, b, i):
    B, N, D = X.shape
    W = out.shape[2]
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
def banded_cost(X, Y, lo, hi, n, metric, out):
    """Cost of feature pairs inside the windows: ``out[b, i, k] = cost(X[b, i], Y[b, lo + k])``.

    ``metric`` 0: squared euclidean; 1: ``1 - <x, y>`` (cosine on normalised inputs).
    Cells outside a window (``k >= hi - lo``) and rows ``i >= n[b]`` are set to ``+inf``.
    Parallel over rows (of all items), so one long pair uses every thread too.
    """
    B, N, D = X.shape
    for bi in prange(B * N):
        _cost_row(X, Y, lo, hi, n, metric, out, bi // N, bi % N)


@njit(cache=True)
def banded_cost_serial(X, Y, lo, hi, n, metric, out):
    """Run :func:`banded_cost` serially (no thread-pool start-up for small problems)."""
    B, N, D = X.shape
    for b in range(B):
        for i in range(N):
            _cost_row(X, Y, lo, hi, n, metric, out, b, i)


@njit(cache=True, nogil=True)
def _cost_grad_row(X, Y, lo, hi, metric, G, dX, b, i):
    """``dX[b, i]`` from row ``i`` of ``G``, cells in increasing column order."""
    D = X.shape[2]
    lo_i = lo[b, i]
    for k in range(hi[b, i] - lo_i):
        g = G[b, i, k]
        if g == 0.0:
            continue
        j = lo_i + k
        if metric == 0:
            for d in range(D):
                dX[b, i, d] += 2.0 * g * (X[b, i, d] - Y[b, j, d])
        else:
            for d in range(D):
                dX[b, i, d] -= g * Y[b, j, d]


@njit(cache=True, nogil=True)
def _cost_grad_col(X, Y, lo, hi, metric, G, dY, b, j, ia, ib):
    """``dY[b, j]`` from the cells of column ``j`` (rows ``ia <= i < ib``), in increasing row order."""
    D = X.shape[2]
    for i in range(ia, ib):
        lo_i = lo[b, i]
        if not (lo_i <= j < hi[b, i]):
            continue
        g = G[b, i, j - lo_i]
        if g == 0.0:
            continue
        if metric == 0:
            for d in range(D):
                dY[b, j, d] -= 2.0 * g * (X[b, i, d] - Y[b, j, d])
        else:
            for d in range(D):
                dY[b, j, d] -= g * X[b, i, d]


@njit(cache=True, parallel=True)
def banded_cost_backward(X, Y, lo, hi, n, metric, G, dX, dY):
    """Chain ``G = dL/dCb`` into ``dX`` and ``dY`` (both zero-initialised by the caller).

    Parallel over the rows of all items for ``dX``, then over their columns for ``dY`` (the rows
    whose windows hold a column are contiguous: windows are non-decreasing), each sum in the
    order of :func:`banded_cost_backward_serial`.
    """
    B, N, D = X.shape
    M = Y.shape[1]
    for bi in prange(B * N):
        b = bi // N
        i = bi % N
        if i < n[b]:
            _cost_grad_row(X, Y, lo, hi, metric, G, dX, b, i)
    ia = np.zeros((B, M), np.int64)
    ib = np.zeros((B, M), np.int64)
    for b in range(B):  # rows [ia, ib) of column j: hi[i] > j and lo[i] <= j
        i = 0
        for j in range(M):
            while i < n[b] and hi[b, i] <= j:
                i += 1
            ia[b, j] = i
        i = 0
        for j in range(M):
            while i < n[b] and lo[b, i] <= j:
                i += 1
            ib[b, j] = i
    for bj in prange(B * M):
        b = bj // M
        j = bj % M
        _cost_grad_col(X, Y, lo, hi, metric, G, dY, b, j, ia[b, j], ib[b, j])


@njit(cache=True)
def banded_cost_backward_serial(X, Y, lo, hi, n, metric, G, dX, dY):
    """Run :func:`banded_cost_backward` serially (no thread-pool start-up for small problems)."""
    B, N, D = X.shape
    for b in range(B):
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
    """``out[b, i, k] = A[b, i, lo + k]`` inside the windows, ``fill`` elsewhere (parallel over rows)."""
    B, N, W = out.shape
    for bi in prange(B * N):
        b = bi // N
        i = bi % N
        lo_i = lo[b, i]
        w_i = hi[b, i] - lo_i if i < n[b] else 0
        for k in range(W):
            out[b, i, k] = A[b, i, lo_i + k] if k < w_i else fill


@njit(cache=True)
def gather_band_serial(A, lo, hi, n, fill, out):
    """Run :func:`gather_band` serially (no thread-pool start-up for small problems)."""
    B, N, W = out.shape
    for b in range(B):
        for i in range(N):
            lo_i = lo[b, i]
            w_i = hi[b, i] - lo_i if i < n[b] else 0
            for k in range(W):
                out[b, i, k] = A[b, i, lo_i + k] if k < w_i else fill


@njit(cache=True, parallel=True)
def scatter_band(Eb, lo, hi, n, out):
    """Dense ``out[b, i, lo + k] = Eb[b, i, k]`` (``out`` zeroed by the caller; parallel over rows)."""
    B, N, W = Eb.shape
    for bi in prange(B * N):
        b = bi // N
        i = bi % N
        if i < n[b]:
            lo_i = lo[b, i]
            for k in range(hi[b, i] - lo_i):
                out[b, i, lo_i + k] = Eb[b, i, k]


@njit(cache=True)
def scatter_band_serial(Eb, lo, hi, n, out):
    """Run :func:`scatter_band` serially (no thread-pool start-up for small problems)."""
    B, N, W = Eb.shape
    for b in range(B):
        for i in range(n[b]):
            lo_i = lo[b, i]
            for k in range(hi[b, i] - lo_i):
                out[b, i, lo_i + k] = Eb[b, i, k]


def pick(name: str, batch: int, cells: int):
    """Return the parallel kernel ``name`` for big problems, else its serial twin.

    Every parallel kernel here spreads even one item over the threads (soft-DTW as a pipeline of
    strips, the others over rows or columns), so ``batch`` does not matter.
    """
    if cells >= PARALLEL_MIN_CELLS and _parallel_is_safe():
        return globals()[name]
    return globals()[name + "_serial"]


def _parallel_is_safe() -> bool:
    """Whether a parallel kernel may be launched from this thread.

    numba's fallback ``workqueue`` threading layer aborts the process when parallel kernels are
    launched from several Python threads at once (a thread-pool runner of the flows, a user's
    threads); ``omp`` and ``tbb`` do not. Off the main thread, the parallel kernels are used only
    when the layer in use is known to be one of those.
    """
    import threading

    if threading.current_thread() is threading.main_thread():
        return True
    import numba

    try:
        return numba.threading_layer() != "workqueue"
    except ValueError:  # no parallel kernel has run in this process yet: the layer is not chosen
        return False
