"""CUDA (numba.cuda) kernels for CTC forward-backward and Viterbi forced alignment.

Same inputs and conventions as :mod:`.ctc_cpu` (emissions per target position). One thread
block per batch item; the threads share the ``S = 2L + 1`` extended states of a frame
(grid-stride, any ``L``) and synchronise between frames. The Viterbi back-pointers are one
byte per trellis cell; the back-trace (``T`` steps) runs on the device, in one thread per
item, so no trellis is copied to the host: the whole batch is aligned in one launch.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import cuda

from .softdtw_cuda import as_array, threads_for

__all__ = ["forward_backward", "viterbi"]

_NEG = -math.inf


@cuda.jit(device=True, inline=True)
def _lae(a, b):
    if a == _NEG:
        return b
    if b == _NEG:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@cuda.jit(device=True, inline=True)
def _emit(le, lb, b, t, s):
    if s % 2 == 0:
        return lb[b, t]
    return le[b, t, (s - 1) // 2]


@cuda.jit(device=True, inline=True)
def _can_skip(skip, b, s):
    return s % 2 == 1 and s >= 3 and skip[b, (s - 1) // 2] != 0


@cuda.jit
def _fb_kernel(le, lb, skip, Tl, Ll, alpha, beta, post_lab, post_blank, loss):
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    T = Tl[b]
    S = 2 * Ll[b] + 1
    s = tid
    while s < S:
        alpha[b, 0, s] = _NEG
        if s == 0:
            alpha[b, 0, s] = lb[b, 0]
        elif s == 1:
            alpha[b, 0, s] = le[b, 0, 0]
        s += nt
    cuda.syncthreads()
    for t in range(1, T):
        s = tid
        while s < S:
            a = alpha[b, t - 1, s]
            if s >= 1:
                a = _lae(a, alpha[b, t - 1, s - 1])
            if _can_skip(skip, b, s):
                a = _lae(a, alpha[b, t - 1, s - 2])
            alpha[b, t, s] = a + _emit(le, lb, b, t, s) if a != _NEG else _NEG
            s += nt
        cuda.syncthreads()
    logp = alpha[b, T - 1, S - 1]
    if S > 1:
        logp = _lae(logp, alpha[b, T - 1, S - 2])
    if tid == 0:
        loss[b] = -logp if logp != _NEG else math.inf
    if logp == _NEG:
        return
    # beta in two rolling rows: beta[b, t % 2, s]
    s = tid
    while s < S:
        beta[b, (T - 1) % 2, s] = 0.0 if s >= S - 2 else _NEG
        s += nt
    cuda.syncthreads()
    for t in range(T - 1, -1, -1):
        cur = t % 2
        nxt = 1 - cur
        if t < T - 1:
            s = tid
            while s < S:
                v = beta[b, nxt, s] + _emit(le, lb, b, t + 1, s)
                if s + 1 < S:
                    v = _lae(v, beta[b, nxt, s + 1] + _emit(le, lb, b, t + 1, s + 1))
                if s + 2 < S and _can_skip(skip, b, s + 2):
                    v = _lae(v, beta[b, nxt, s + 2] + _emit(le, lb, b, t + 1, s + 2))
                beta[b, cur, s] = v
                s += nt
            cuda.syncthreads()
        s = tid
        while s < S:
            x = alpha[b, t, s] + beta[b, cur, s]
            g = math.exp(x - logp) if x != _NEG else 0.0
            if s % 2 == 1:
                post_lab[b, t, (s - 1) // 2] = g
            else:
                cuda.atomic.add(post_blank, (b, t), g)
            s += nt
        cuda.syncthreads()


@cuda.jit
def _viterbi_kernel(le, lb, skip, Tl, Ll, delta, bp, states, score):
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    T = Tl[b]
    S = 2 * Ll[b] + 1
    s = tid
    while s < S:
        delta[b, 0, s] = _NEG
        if s == 0:
            delta[b, 0, s] = lb[b, 0]
        elif s == 1:
            delta[b, 0, s] = le[b, 0, 0]
        s += nt
    cuda.syncthreads()
    for t in range(1, T):
        cur = t % 2
        prv = 1 - cur
        s = tid
        while s < S:
            best = delta[b, prv, s]
            arg = 0
            if s >= 1 and delta[b, prv, s - 1] > best:
                best = delta[b, prv, s - 1]
                arg = 1
            if _can_skip(skip, b, s) and delta[b, prv, s - 2] > best:
                best = delta[b, prv, s - 2]
                arg = 2
            delta[b, cur, s] = best + _emit(le, lb, b, t, s) if best != _NEG else _NEG
            bp[b, t, s] = arg
            s += nt
        cuda.syncthreads()
    if tid == 0:
        last = (T - 1) % 2
        s = S - 1
        best = delta[b, last, S - 1]
        if S > 1 and delta[b, last, S - 2] > best:
            best = delta[b, last, S - 2]
            s = S - 2
        score[b] = best
        if best == _NEG:
            for t in range(T):
                states[b, t] = -1
        else:
            for t in range(T - 1, -1, -1):
                states[b, t] = s
                if t > 0:
                    s -= bp[b, t, s]


def _dev_int(a, dev):
    return torch.as_tensor(np.ascontiguousarray(a)).to(dev)


def forward_backward(le, lb, skip, Tl, Ll):
    """Batched CTC forward-backward; returns ``(loss, post_lab, post_blank)`` as tensors."""
    B, T, L = le.shape
    S = 2 * L + 1
    dev = le.device
    le = le.detach().contiguous()
    lb = lb.detach().to(le.dtype).contiguous()
    if L == 0:  # keep a valid (unused) column for the kernel's indexing
        le = torch.zeros((B, T, 1), dtype=le.dtype, device=dev)
    alpha = torch.empty((B, T, S), dtype=le.dtype, device=dev)
    beta = torch.empty((B, 2, S), dtype=le.dtype, device=dev)
    post_lab = torch.zeros((B, T, max(L, 1)), dtype=le.dtype, device=dev)
    post_blank = torch.zeros((B, T), dtype=le.dtype, device=dev)
    loss = torch.empty(B, dtype=le.dtype, device=dev)
    sk = skip if skip.shape[1] else np.zeros((B, 1), np.uint8)
    _fb_kernel[B, _threads(S)](
        as_array(le),
        as_array(lb),
        as_array(_dev_int(sk, dev)),
        as_array(_dev_int(Tl, dev)),
        as_array(_dev_int(Ll, dev)),
        as_array(alpha),
        as_array(beta),
        as_array(post_lab),
        as_array(post_blank),
        as_array(loss),
    )
    return loss, post_lab[:, :, :L], post_blank


def viterbi(le, lb, skip, Tl, Ll):
    """Batched CTC Viterbi; returns ``(states, scores)`` as host arrays."""
    B, T, L = le.shape
    S = 2 * L + 1
    dev = le.device
    le = le.detach().contiguous()
    lb = lb.detach().to(le.dtype).contiguous()
    if L == 0:
        le = torch.zeros((B, T, 1), dtype=le.dtype, device=dev)
    delta = torch.empty((B, 2, S), dtype=le.dtype, device=dev)
    bp = torch.zeros((B, T, S), dtype=torch.int8, device=dev)
    states = torch.full((B, T), -1, dtype=torch.int64, device=dev)
    score = torch.empty(B, dtype=le.dtype, device=dev)
    sk = skip if skip.shape[1] else np.zeros((B, 1), np.uint8)
    _viterbi_kernel[B, _threads(S)](
        as_array(le),
        as_array(lb),
        as_array(_dev_int(sk, dev)),
        as_array(_dev_int(Tl, dev)),
        as_array(_dev_int(Ll, dev)),
        as_array(delta),
        as_array(bp),
        as_array(states),
        as_array(score),
    )
    return states.cpu().numpy(), score.cpu().numpy()


def _threads(S):
    return threads_for(S)
