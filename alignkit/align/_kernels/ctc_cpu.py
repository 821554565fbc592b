"""CPU (numba) kernels for CTC: forward-backward with posteriors, and Viterbi forced alignment.

The kernels work on *emissions per target position*, not per class, so single-label CTC
(gather the target classes from ``log_probs``) and multi-label CTC (emission of a set of
pitch classes) share them:

- ``le[b, t, k]``: log emission of target position ``k`` (0 <= k < L_b) at frame ``t``;
- ``lb[b, t]``: log emission of the blank at frame ``t``;
- ``skip[b, k]``: 1 when the path may jump from label ``k - 1`` to label ``k`` without a blank
  in between (the two labels differ).

Extended states: ``s = 2k + 1`` is label ``k``, even ``s`` are blanks, ``S = 2 L + 1``.
A path starts in state 0 or 1, moves by 0, 1 or (into a label whose ``skip`` is set) 2
states per frame, and ends in ``S - 1`` or ``S - 2``.

Forward ``alpha[t, s]`` includes the emission at ``t``; backward ``beta[t, s]`` covers frames
``t + 1 ..`` only, so ``exp(alpha + beta - log p)`` is the posterior probability of being in
state ``s`` at frame ``t``. All sums are log-sum-exp (stable for any length).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["ctc_fb", "ctc_viterbi", "pick"]

_NEG = -np.inf
PARALLEL_MIN_CELLS = 200_000


@njit(cache=True, inline="always")
def _lae(a, b):
    if a == _NEG:
        return b
    if b == _NEG:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@njit(cache=True, inline="always")
def _emit(le, lb, t, s):
    if s % 2 == 0:
        return lb[t]
    return le[t, (s - 1) // 2]


@njit(cache=True, inline="always")
def _can_skip(skip, s):
    # a jump s - 2 -> s is allowed into a label state whose label differs from the previous one
    return s % 2 == 1 and s >= 3 and skip[(s - 1) // 2] != 0


@njit(cache=True, nogil=True)
def _fb_one(le, lb, skip, T, L, alpha, post_lab, post_blank, bprev, bcur):
    S = 2 * L + 1
    for s in range(S):
        alpha[0, s] = _NEG
    alpha[0, 0] = lb[0]
    if S > 1:
        alpha[0, 1] = le[0, 0]
    for t in range(1, T):
        for s in range(S):
            a = alpha[t - 1, s]
            if s >= 1:
                a = _lae(a, alpha[t - 1, s - 1])
            if _can_skip(skip, s):
                a = _lae(a, alpha[t - 1, s - 2])
            alpha[t, s] = a + _emit(le, lb, t, s) if a != _NEG else _NEG
    logp = alpha[T - 1, S - 1]
    if S > 1:
        logp = _lae(logp, alpha[T - 1, S - 2])
    if logp == _NEG:
        return math.inf
    for s in range(S):
        bcur[s] = _NEG
    bcur[S - 1] = 0.0
    if S > 1:
        bcur[S - 2] = 0.0
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            # bcur <- beta[t] from bprev = beta[t + 1]
            for s in range(S):
                v = bprev[s] + _emit(le, lb, t + 1, s)
                if s + 1 < S:
                    v = _lae(v, bprev[s + 1] + _emit(le, lb, t + 1, s + 1))
                if s + 2 < S and _can_skip(skip, s + 2):
                    v = _lae(v, bprev[s + 2] + _emit(le, lb, t + 1, s + 2))
                bcur[s] = v
        pb = 0.0
        for s in range(S):
            x = alpha[t, s] + bcur[s]
            g = math.exp(x - logp) if x != _NEG else 0.0
            if s % 2 == 0:
                pb += g
            else:
                post_lab[t, (s - 1) // 2] = g
        post_blank[t] = pb
        for s in range(S):
            bprev[s] = bcur[s]
    return -logp


@njit(cache=True, parallel=True)
def ctc_fb(le, lb, skip, Tl, Ll, alpha, post_lab, post_blank, loss):
    """Batched CTC forward-backward: ``loss[b] = -log p``, label and blank posteriors.

    Posteriors of items with ``loss = inf`` (no valid path) are left untouched.
    """
    B = le.shape[0]
    S = alpha.shape[2]
    for b in prange(B):
        bprev = np.empty(S, dtype=alpha.dtype)
        bcur = np.empty(S, dtype=alpha.dtype)
        loss[b] = _fb_one(
            le[b], lb[b], skip[b], Tl[b], Ll[b], alpha[b], post_lab[b], post_blank[b], bprev, bcur
        )


@njit(cache=True)
def ctc_fb_serial(le, lb, skip, Tl, Ll, alpha, post_lab, post_blank, loss):
    """Run :func:`ctc_fb` serially (no thread-pool start-up for small problems)."""
    B = le.shape[0]
    S = alpha.shape[2]
    for b in range(B):
        bprev = np.empty(S, dtype=alpha.dtype)
        bcur = np.empty(S, dtype=alpha.dtype)
        loss[b] = _fb_one(
            le[b], lb[b], skip[b], Tl[b], Ll[b], alpha[b], post_lab[b], post_blank[b], bprev, bcur
        )


@njit(cache=True, nogil=True)
def _viterbi_one(le, lb, skip, T, L, delta, bp, states):
    S = 2 * L + 1
    for s in range(S):
        delta[0, s] = _NEG
    delta[0, 0] = lb[0]
    if S > 1:
        delta[0, 1] = le[0, 0]
    for t in range(1, T):
        for s in range(S):
            best = delta[t - 1, s]
            arg = 0
            if s >= 1 and delta[t - 1, s - 1] > best:
                best = delta[t - 1, s - 1]
                arg = 1
            if _can_skip(skip, s) and delta[t - 1, s - 2] > best:
                best = delta[t - 1, s - 2]
                arg = 2
            delta[t, s] = best + _emit(le, lb, t, s) if best != _NEG else _NEG
            bp[t, s] = arg
    s = S - 1
    best = delta[T - 1, S - 1]
    if S > 1 and delta[T - 1, S - 2] > best:
        best = delta[T - 1, S - 2]
        s = S - 2
    if best == _NEG:
        for t in range(T):
            states[t] = -1
        return _NEG
    for t in range(T - 1, -1, -1):
        states[t] = s
        if t > 0:
            s -= bp[t, s]
    return best


@njit(cache=True, parallel=True)
def ctc_viterbi(le, lb, skip, Tl, Ll, delta, bp, states, score):
    """Batched Viterbi over the CTC trellis: best state per frame and its log score.

    Ties prefer staying (0), then moving one state (1), then skipping (2); at the end the
    final blank ``S - 1`` wins ties over the last label ``S - 2``. ``states`` is -1 where no
    path exists (``score = -inf``).
    """
    for b in prange(le.shape[0]):
        score[b] = _viterbi_one(le[b], lb[b], skip[b], Tl[b], Ll[b], delta[b], bp[b], states[b])


@njit(cache=True)
def ctc_viterbi_serial(le, lb, skip, Tl, Ll, delta, bp, states, score):
    """Run :func:`ctc_viterbi` serially (no thread-pool start-up for small problems)."""
    for b in range(le.shape[0]):
        score[b] = _viterbi_one(le[b], lb[b], skip[b], Tl[b], Ll[b], delta[b], bp[b], states[b])


def pick(name: str, batch: int, cells: int):
    """Return the parallel kernel ``name`` for big batches, else its serial twin."""
    if batch > 1 and cells >= PARALLEL_MIN_CELLS:
        return globals()[name]
    return globals()[name + "_serial"]
