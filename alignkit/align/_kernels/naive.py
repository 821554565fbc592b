"""Plain reference implementations (slow, obvious, for tests only).

Everything here is written as directly as possible from the definitions, in float64
Python/NumPy loops (or brute force over all alignments), so that the fast CPU and CUDA
kernels can be checked against it. Nothing here is used by the library at run time.

Conventions shared with the fast kernels
----------------------------------------
Soft-DTW over a cost matrix ``C`` of shape ``(N, M)`` with temperature ``gamma`` and step
weights ``(w_diag, w_vert, w_horz)``::

    R[0, 0] = C[0, 0]                      (the start cell is counted once, weight 1)
    R[i, j] = softmin_gamma(R[i-1, j-1] + w_diag * C[i, j],
                            R[i-1, j]   + w_vert * C[i, j],
                            R[i, j-1]   + w_horz * C[i, j])
    value   = R[N-1, M-1]

with ``softmin_gamma(a) = -gamma * log(sum(exp(-a / gamma)))`` (``min`` for ``gamma = 0``).
A vertical step (1, 0) advances in ``X`` (rows), a horizontal step (0, 1) in ``Y``.
A weight of ``inf`` disables a step. Cells where ``mask`` is False cost ``+inf``.
Subsequence mode: every cell of row 0 is a start (``R[0, j] = C[0, j]``) and the value is
``softmin_gamma(R[N-1, :])``.
"""

from __future__ import annotations

import math

import numpy as np

INF = math.inf

__all__ = [
    "softmin",
    "soft_dtw_dp",
    "soft_dtw_brute",
    "soft_dtw_expected_brute",
    "dtw_dp",
    "all_paths",
    "ctc_extended",
    "ctc_alpha",
    "ctc_brute",
    "ctc_viterbi_brute",
]


def softmin(values, gamma: float) -> float:
    """``-gamma * log(sum(exp(-v / gamma)))``; the plain minimum for ``gamma == 0``."""
    vals = [float(v) for v in values]
    mn = min(vals)
    if gamma == 0 or mn == INF:
        return mn
    return mn - gamma * math.log(sum(math.exp(-(v - mn) / gamma) for v in vals))


def soft_dtw_dp(C, gamma: float, *, weights=(1.0, 1.0, 1.0), mask=None, subsequence: bool = False):
    """Triple-loop dynamic programme: returns ``(value, R)`` with ``R`` of shape (N, M)."""
    C = np.asarray(C, dtype=np.float64)
    n, m = C.shape
    wd, wv, wh = (float(w) for w in weights)
    R = np.full((n, m), INF)
    for i in range(n):
        for j in range(m):
            c = C[i, j] if (mask is None or mask[i, j]) else INF
            if i == 0 and (j == 0 or subsequence):
                R[i, j] = c
                continue
            cands = []
            for (di, dj), w in (((1, 1), wd), ((1, 0), wv), ((0, 1), wh)):
                pi, pj = i - di, j - dj
                if pi < 0 or pj < 0 or w == INF:
                    continue
                cands.append(R[pi, pj] + w * c)
            R[i, j] = softmin(cands, gamma) if cands else INF
    value = softmin(R[n - 1, :], gamma) if subsequence else R[n - 1, m - 1]
    return value, R


def all_paths(n: int, m: int, *, steps=((1, 1), (1, 0), (0, 1)), subsequence: bool = False):
    """Every alignment path on an ``n x m`` grid (list of lists of (i, j, step_index)).

    In subsequence mode every cell of row 0 is a start and paths do not move inside row 0.
    """
    out = []
    starts = [(0, j) for j in range(m)] if subsequence else [(0, 0)]

    def rec(i, j, acc):
        if i == n - 1 and (subsequence or j == m - 1):
            out.append(list(acc))
            if not subsequence:
                return
        for s, (di, dj) in enumerate(steps):
            if subsequence and i == 0 and di == 0:
                continue  # every cell of row 0 is a start: no horizontal moves inside row 0
            a, b = i + di, j + dj
            if a < n and b < m:
                acc.append((a, b, s))
                rec(a, b, acc)
                acc.pop()

    for i0, j0 in starts:
        rec(i0, j0, [(i0, j0, -1)])
    return out


def _path_cost(C, path, weights, mask):
    total = 0.0
    for i, j, s in path:
        c = C[i, j] if (mask is None or mask[i, j]) else INF
        w = 1.0 if s < 0 else weights[s]
        if w == INF:
            return INF
        total += w * c
    return total


def soft_dtw_brute(C, gamma: float, *, weights=(1.0, 1.0, 1.0), mask=None, subsequence: bool = False):
    """Soft-DTW by enumerating every alignment: ``softmin`` over the path costs."""
    C = np.asarray(C, dtype=np.float64)
    paths = all_paths(*C.shape, subsequence=subsequence)
    return softmin([_path_cost(C, p, weights, mask) for p in paths], gamma)


def soft_dtw_expected_brute(C, gamma: float, *, weights=(1.0, 1.0, 1.0), mask=None, subsequence=False):
    """Compute the gradient ``dSDTW/dC`` by brute force: ``sum_p softmax(-cost_p / gamma) * W_p``.

    ``W_p[i, j]`` is the weight with which path ``p`` counts cell ``(i, j)``.
    """
    C = np.asarray(C, dtype=np.float64)
    paths = all_paths(*C.shape, subsequence=subsequence)
    costs = np.array([_path_cost(C, p, weights, mask) for p in paths])
    finite = np.isfinite(costs)
    mn = costs[finite].min()
    prob = np.where(finite, np.exp(-(costs - mn) / gamma), 0.0)
    prob /= prob.sum()
    E = np.zeros_like(C)
    for p, pr in zip(paths, prob, strict=True):
        if pr == 0:
            continue
        for i, j, s in p:
            E[i, j] += pr * (1.0 if s < 0 else weights[s])
    return E


def dtw_dp(C, *, steps=((1, 1), (1, 0), (0, 1)), weights=(1.0, 1.0, 1.0), mask=None):
    """Hard DTW with a general step set; ties go to the first step in ``steps``.

    Returns ``(cost, path)`` with the path start -> end as an ``(L, 2)`` int64 array, or
    ``(inf, None)`` when the end is unreachable.
    """
    C = np.asarray(C, dtype=np.float64)
    n, m = C.shape
    D = np.full((n, m), INF)
    B = np.full((n, m), -1, dtype=np.int64)
    for i in range(n):
        for j in range(m):
            c = C[i, j] if (mask is None or mask[i, j]) else INF
            if i == 0 and j == 0:
                D[0, 0] = c
                continue
            best, arg = INF, -1
            for s, ((di, dj), w) in enumerate(zip(steps, weights, strict=True)):
                pi, pj = i - di, j - dj
                if pi < 0 or pj < 0:
                    continue
                v = D[pi, pj] + w * c
                if v < best:
                    best, arg = v, s
            D[i, j], B[i, j] = best, arg
    if not np.isfinite(D[n - 1, m - 1]):
        return INF, None
    path = [(n - 1, m - 1)]
    i, j = n - 1, m - 1
    while (i, j) != (0, 0):
        di, dj = steps[B[i, j]]
        i, j = i - di, j - dj
        path.append((i, j))
    return float(D[n - 1, m - 1]), np.asarray(path[::-1], dtype=np.int64)


# ----------------------------------------------------------------------------- CTC


def ctc_extended(target, blank: int = 0):
    """Return the extended label sequence ``[blank, l1, blank, l2, ..., lL, blank]``."""
    ext = [blank]
    for t in target:
        ext += [int(t), blank]
    return ext


def _ctc_state_paths(T: int, ext, labels_equal):
    """All valid CTC state sequences of length ``T`` over the extended sequence ``ext``."""
    S = len(ext)
    out = []

    def rec(t, s, acc):
        if t == T - 1:
            if s >= S - 2:
                out.append(list(acc))
            return
        for d in (0, 1, 2):
            ns = s + d
            if ns >= S:
                continue
            if d == 2 and (ns % 2 == 0 or labels_equal(ns, ns - 2)):
                continue
            acc.append(ns)
            rec(t + 1, ns, acc)
            acc.pop()

    for s0 in (0, 1):
        if s0 < S:
            rec(0, s0, [s0])
    return out


def ctc_brute(log_emit, target, blank: int = 0):
    """CTC negative log-likelihood by enumerating every state path.

    ``log_emit`` has shape (T, C) (log-probabilities per class).
    """
    lp = np.asarray(log_emit, dtype=np.float64)
    ext = ctc_extended(target, blank)
    paths = _ctc_state_paths(lp.shape[0], ext, lambda a, b: ext[a] == ext[b])
    if not paths:
        return INF
    scores = np.array([sum(lp[t, ext[s]] for t, s in enumerate(p)) for p in paths])
    mx = scores.max()
    return -(mx + math.log(np.exp(scores - mx).sum()))


def ctc_viterbi_brute(log_emit, target, blank: int = 0):
    """Find the best CTC state path by enumeration: ``(score, states)`` (states: (T,) ints)."""
    lp = np.asarray(log_emit, dtype=np.float64)
    ext = ctc_extended(target, blank)
    paths = _ctc_state_paths(lp.shape[0], ext, lambda a, b: ext[a] == ext[b])
    if not paths:
        return -INF, None
    scores = [sum(lp[t, ext[s]] for t, s in enumerate(p)) for p in paths]
    k = int(np.argmax(scores))
    return float(scores[k]), np.asarray(paths[k], dtype=np.int64)


def ctc_alpha(log_emit, target, blank: int = 0):
    """Plain forward recursion (float64): returns the negative log-likelihood."""
    lp = np.asarray(log_emit, dtype=np.float64)
    ext = ctc_extended(target, blank)
    T, S = lp.shape[0], len(ext)
    a = np.full((T, S), -INF)
    a[0, 0] = lp[0, ext[0]]
    if S > 1:
        a[0, 1] = lp[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            terms = [a[t - 1, s]]
            if s >= 1:
                terms.append(a[t - 1, s - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                terms.append(a[t - 1, s - 2])
            mx = max(terms)
            if mx == -INF:
                continue
            a[t, s] = mx + math.log(sum(math.exp(x - mx) for x in terms)) + lp[t, ext[s]]
    ends = [a[T - 1, S - 1]] + ([a[T - 1, S - 2]] if S > 1 else [])
    mx = max(ends)
    if mx == -INF:
        return INF
    return -(mx + math.log(sum(math.exp(x - mx) for x in ends)))
