"""Soft-DTW: a differentiable alignment cost and its expected alignment, batched, banded.

Definition
----------
For a cost matrix ``C`` of shape ``(N, M)`` (rows: frames of ``X``, columns: frames of ``Y``,
as in :mod:`alignkit.align.paths`), temperature ``gamma > 0`` and step weights
``(w_diag, w_vert, w_horz)``::

    R[0, 0] = C[0, 0]
    R[i, j] = softmin_gamma(R[i-1, j-1] + w_diag C[i, j],
                            R[i-1, j]   + w_vert C[i, j],
                            R[i, j-1]   + w_horz C[i, j])
    SDTW_gamma(C) = R[N-1, M-1],   softmin_gamma(a) = -gamma log sum_k exp(-a_k / gamma)

``SDTW_gamma`` equals ``-gamma log sum_p exp(-cost(p) / gamma)`` over all alignment paths
``p``; it tends to the hard DTW cost as ``gamma -> 0``. Its gradient with respect to ``C`` is
the *expected alignment* ``E = sum_p P_gamma(p) W_p`` (the probability that a path passes
through each cell, times the step weight it pays there), returned by
:func:`expected_alignment`. The unit weights ``(1, 1, 1)`` are Cuturi & Blondel's soft-DTW;
``(2, 1, 1)`` mirrors the ``symmetric2`` step set of the hard DTW engine.

Variants: banded or masked alignment (only the band is stored: O(B N w) memory), a band
around a coarse hard path (:func:`band_from_path`), subsequence mode (the rows ``X`` are
matched anywhere inside the columns ``Y``), a diagonal prior, variable lengths in a batch
(``lengths``; padding gets zero gradient), the normalised divergence
(:func:`soft_dtw_divergence`) and a temperature schedule (:func:`gamma_schedule`).

Memory (CPU): the value alone needs two rows; with a gradient, the forward pass keeps the
accumulated cost ``R`` (1 float of the input's dtype per stored cell) and the backward pass
overwrites it with the gradient: 8 bytes per cell in float64, 4 in float32, where "stored"
means the band (O(B N w)) or, without a band, the whole matrix. (A second backward through the
same graph, ``retain_graph=True``, recomputes the forward first.)

Backends: the backend follows the tensors' device. CPU tensors run numba kernels parallel
over the batch; CUDA tensors run the numba.cuda anti-diagonal wavefront kernels of
:mod:`alignkit.align._kernels.softdtw_cuda`. ``backend="cuda"`` without a GPU raises
:class:`~alignkit.exceptions.BackendError`; nothing ever falls back silently.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from alignkit.exceptions import BackendError, ParameterError

from ._kernels import softdtw_cpu as _cpu

__all__ = [
    "soft_dtw",
    "SoftDTW",
    "expected_alignment",
    "soft_dtw_divergence",
    "gamma_schedule",
    "sakoe_chiba_window",
    "band_from_path",
    "mask_window",
]

_METRICS = {"sqeuclidean": 0, "cosine": 1}
_BACKENDS = ("auto", "cpu", "cuda")


# ----------------------------------------------------------------------------- windows


def sakoe_chiba_window(n: int, m: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Column windows of a Sakoe-Chiba band around the line from (0, 0) to (n-1, m-1).

    Row ``i`` keeps the columns ``j`` with ``|j - i (m-1)/(n-1)| <= r``, where the radius
    ``r`` is widened to ``ceil((m-1)/(n-1) / 2)`` when needed so that the band stays
    connected for very unequal lengths.

    Parameters
    ----------
    n, m : int
        Number of rows (frames of ``X``) and columns (frames of ``Y``).
    radius : int >= 0
        Half-width of the band in columns.

    Returns
    -------
    lo, hi : np.ndarray [shape=(n,), dtype=int64]
        Row ``i`` covers columns ``lo[i] <= j < hi[i]``.
    """
    n, m, radius = _posint(n, "n"), _posint(m, "m"), int(radius)
    if radius < 0:
        raise ParameterError(f"band radius={radius} must be a non-negative integer")
    slope = (m - 1) / (n - 1) if n > 1 else 0.0
    r = max(radius, math.ceil(slope / 2.0))
    centre = np.arange(n) * slope
    lo = np.clip(np.floor(centre - r + 1e-9), 0, m - 1).astype(np.int64)
    hi = np.clip(np.ceil(centre + r - 1e-9) + 1, 1, m).astype(np.int64)
    lo[0], hi[-1] = 0, m
    return lo, hi


def band_from_path(path, shape: tuple[int, int], radius: int, *, scale: float | tuple[float, float] = 1.0):
    """Column windows of a band of ``radius`` cells around a (coarse) hard path.

    Parameters
    ----------
    path : array-like [shape=(L, 2)]
        A monotone path (e.g. from the hard DTW engine on downsampled features).
    shape : (int, int)
        ``(n, m)`` of the fine cost matrix.
    radius : int >= 0
        Columns kept on either side of the path (in fine frames).
    scale : float or (float, float)
        Fine frames per coarse frame for rows and columns (e.g. 10 when the path was
        computed on features downsampled by 10).

    Returns
    -------
    lo, hi : np.ndarray [shape=(n,), dtype=int64]
    """
    from alignkit.align.paths import validate_path

    p = validate_path(path, continuous=False, boundary=False)
    n, m = _posint(shape[0], "shape[0]"), _posint(shape[1], "shape[1]")
    radius = int(radius)
    if radius < 0:
        raise ParameterError(f"band radius={radius} must be a non-negative integer")
    sr, sc = (float(scale), float(scale)) if np.isscalar(scale) else (float(scale[0]), float(scale[1]))
    if not (sr > 0 and sc > 0):
        raise ParameterError(f"scale={scale!r} must be positive")
    # every fine row covered by a coarse path point gets that point's column span
    lo = np.full(n, m, dtype=np.int64)
    hi = np.zeros(n, dtype=np.int64)
    r0 = np.clip(np.floor(p[:, 0] * sr), 0, n - 1).astype(np.int64)
    r1 = np.clip(np.ceil((p[:, 0] + 1) * sr) - 1, 0, n - 1).astype(np.int64)
    c0 = np.clip(np.floor(p[:, 1] * sc) - radius, 0, m - 1).astype(np.int64)
    c1 = np.clip(np.ceil((p[:, 1] + 1) * sc) + radius, 1, m).astype(np.int64)
    for a, b, x, y in zip(r0, r1, c0, c1, strict=True):
        lo[a : b + 1] = np.minimum(lo[a : b + 1], x)
        hi[a : b + 1] = np.maximum(hi[a : b + 1], y)
    # rows the coarse path skipped, and radius rows around, take their neighbours' spans
    lo, hi = _monotone_hull(lo, hi, m)
    lo = np.maximum(0, np.minimum.accumulate(lo[::-1])[::-1])
    lo[0], hi[-1] = 0, m
    return lo, hi


def mask_window(mask) -> tuple[np.ndarray, np.ndarray]:
    """Smallest monotone column windows covering the True cells of a boolean mask.

    Parameters
    ----------
    mask : np.ndarray [shape=(n, m), dtype=bool]

    Returns
    -------
    lo, hi : np.ndarray [shape=(n,), dtype=int64]
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ParameterError(f"mask must have shape (n, m), got {mask.shape}")
    n, m = mask.shape
    anyr = mask.any(axis=1)
    first = np.where(anyr, mask.argmax(axis=1), m).astype(np.int64)
    last = np.where(anyr, m - 1 - mask[:, ::-1].argmax(axis=1), -1).astype(np.int64)
    return _monotone_hull(first, last + 1, m)


def _monotone_hull(lo, hi, m):
    lo = np.minimum.accumulate(np.asarray(lo, dtype=np.int64)[::-1])[::-1].copy()
    hi = np.maximum.accumulate(np.asarray(hi, dtype=np.int64)).copy()
    return np.clip(lo, 0, m), np.clip(hi, 0, m)


# ----------------------------------------------------------------------------- validation


def _posint(v, name):
    try:
        iv = int(v)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name}={v!r} must be a positive integer") from exc
    if iv != v or iv < 1:
        raise ParameterError(f"{name}={v!r} must be a positive integer")
    return iv


def _check_gamma(gamma):
    try:
        g = float(gamma)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"gamma={gamma!r} must be a positive finite number") from exc
    if not (math.isfinite(g) and g > 0):
        raise ParameterError(f"gamma={gamma!r} must be a positive finite number")
    return g


def _check_weights(step_weights):
    try:
        w = tuple(float(x) for x in step_weights)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"step_weights={step_weights!r} must be three numbers") from exc
    if len(w) != 3 or any(not (x > 0) or math.isnan(x) for x in w) or not math.isfinite(w[0]):
        raise ParameterError(
            f"step_weights={step_weights!r} must be (w_diag, w_vert, w_horz), all positive, "
            "w_diag finite (inf disables a vertical or horizontal step)"
        )
    return w


def _as_float_tensor(a, name):
    if isinstance(a, torch.Tensor):
        t = a
    else:
        arr = np.asarray(a)
        if arr.dtype.kind not in "fiub":
            raise ParameterError(f"{name} must be numeric, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float32)
    return t


def _lengths(lengths, B, N, M):
    if lengths is None:
        return np.full(B, N, dtype=np.int64), np.full(B, M, dtype=np.int64)
    if isinstance(lengths, torch.Tensor):
        lengths = lengths.detach().cpu().numpy()
    if isinstance(lengths, np.ndarray) and lengths.ndim == 2:
        if lengths.shape != (B, 2):
            raise ParameterError(f"lengths must have shape ({B}, 2), got {lengths.shape}")
        ln, lm = lengths[:, 0], lengths[:, 1]
    else:
        try:
            ln, lm = lengths
        except (TypeError, ValueError) as exc:
            raise ParameterError("lengths must be (x_lengths, y_lengths) or a (B, 2) array") from exc
    out = []
    for arr, lim, nm in ((ln, N, "x_lengths"), (lm, M, "y_lengths")):
        if isinstance(arr, torch.Tensor):
            arr = arr.detach().cpu().numpy()
        a = np.asarray(arr)
        if a.dtype.kind not in "iu" or a.shape != (B,):
            raise ParameterError(f"{nm} must be {B} integers, got {a.dtype} array of shape {a.shape}")
        if a.min() < 1 or a.max() > lim:
            raise ParameterError(f"{nm}={a.tolist()} must lie in [1, {lim}]")
        out.append(a.astype(np.int64))
    return out[0], out[1]


def _build_windows(B, N, M, n, m, band, mask_np, subsequence):
    """Monotone column windows (B, N) for every item, checked for a connected path."""
    lo = np.zeros((B, N), dtype=np.int64)
    hi = np.zeros((B, N), dtype=np.int64)
    for b in range(B):
        nb, mb = int(n[b]), int(m[b])
        if band is None:
            lw, hw = np.zeros(nb, dtype=np.int64), np.full(nb, mb, dtype=np.int64)
        elif isinstance(band, (int, np.integer)) and not isinstance(band, bool):
            if subsequence:
                raise ParameterError(
                    "an integer band (Sakoe-Chiba) has no meaning in subsequence mode; "
                    "pass explicit windows (lo, hi) instead"
                )
            lw, hw = sakoe_chiba_window(nb, mb, int(band))
        else:
            try:
                bl, bh = band
            except (TypeError, ValueError) as exc:
                raise ParameterError(f"band must be an int radius or a (lo, hi) pair, got {band!r}") from exc
            bl, bh = np.asarray(bl), np.asarray(bh)
            if bl.ndim == 2:
                bl, bh = bl[b], bh[b]
            if bl.ndim != 1 or bl.shape != bh.shape or bl.shape[0] < nb:
                raise ParameterError(f"band windows must have shape ({N},) or ({B}, {N}), got {bl.shape}")
            lw, hw = _monotone_hull(bl[:nb], bh[:nb], mb)
        if mask_np is not None:
            ml, mh = mask_window(mask_np[b, :nb, :mb])
            lw, hw = _monotone_hull(np.maximum(lw, ml), np.minimum(hw, mh), mb)
        hw = np.minimum(hw, mb)
        bad = np.flatnonzero(hw <= lw)
        if bad.size:
            raise ParameterError(f"batch item {b}: row {int(bad[0])} has an empty window; no path exists")
        gap = np.flatnonzero(lw[1:] > hw[:-1])
        if gap.size:
            raise ParameterError(
                f"batch item {b}: windows of rows {int(gap[0])} and {int(gap[0]) + 1} do not "
                "touch; no path exists (widen the band)"
            )
        if not subsequence and (lw[0] != 0 or hw[-1] != mb):
            raise ParameterError(f"batch item {b}: the band must contain (0, 0) and ({nb - 1}, {mb - 1})")
        lo[b, :nb], hi[b, :nb] = lw, hw
    return lo, hi


def _pick_backend(backend, t):
    if backend not in _BACKENDS:
        raise ParameterError(f"backend={backend!r} is not one of {list(_BACKENDS)}")
    if t.is_cuda:
        if backend == "cpu":
            raise BackendError("backend='cpu' was asked for CUDA tensors; move them with .cpu() first")
        return "cuda"
    if backend == "cuda":
        if cuda_simulated():
            return "cuda"  # the numba CUDA simulator runs the CUDA kernels on host arrays
        raise BackendError(
            "backend='cuda' was asked but the tensors are on the CPU; move them to a "
            "CUDA device (and check torch.cuda.is_available())"
        )
    return "cpu"


def cuda_simulated() -> bool:
    """Tell whether numba's CUDA simulator is switched on (``NUMBA_ENABLE_CUDASIM=1``)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


# ----------------------------------------------------------------------------- autograd


def _np(t):
    return t.detach().contiguous().numpy()


class _SoftDTWFunction(torch.autograd.Function):
    """value[b] = SDTW_gamma of the banded cost ``Cb[b]``; backward gives the expected alignment."""

    @staticmethod
    def forward(ctx, Cb, lo, hi, n, m, gamma, weights, subseq, backend):
        need_grad = bool(ctx.needs_input_grad[0])
        value, state = _forward(Cb, lo, hi, n, m, gamma, weights, subseq, backend, need_grad)
        ctx.state = state
        ctx.args = (lo, hi, n, m, gamma, weights, subseq, backend, Cb)
        ctx.finite = torch.isfinite(value)
        return value

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gout):
        lo, hi, n, m, gamma, weights, subseq, backend, Cb = ctx.args
        gout = torch.where(ctx.finite, gout, torch.zeros_like(gout))  # no path: zero gradient
        E = _backward(ctx.state, Cb, lo, hi, n, m, gamma, weights, subseq, backend, gout)
        return E, None, None, None, None, None, None, None, None


def _forward(Cb, lo, hi, n, m, gamma, weights, subseq, backend, need_grad):
    wd, wv, wh = weights
    if backend == "cuda":
        from ._kernels import softdtw_cuda

        value, state = softdtw_cuda.forward(Cb, lo, hi, n, m, gamma, wd, wv, wh, subseq)
        return value, state
    C = _np(Cb)
    B, N, W = C.shape
    # with a gradient the forward keeps R (one float per stored cell); the backward overwrites
    # it with E, so that buffer is the only O(B N W) allocation of the pair of passes
    R = np.empty((B, N, W) if need_grad else (1, 1, 1), dtype=C.dtype)
    endw = np.zeros((B, W), dtype=C.dtype)
    out = np.empty(B, dtype=C.dtype)
    ft = C.dtype.type  # scalars in the array's precision: float32 input runs float32 arithmetic
    _cpu.pick("sdtw_forward", B, C.size)(
        C, _np(lo), _np(hi), _np(n), _np(m), ft(gamma), ft(wd), ft(wv), ft(wh), subseq, need_grad, R, endw,
        out,
    )
    return torch.from_numpy(out), [R, endw]


def _backward(state, Cb, lo, hi, n, m, gamma, weights, subseq, backend, gout):
    wd, wv, wh = weights
    if backend == "cuda":
        from ._kernels import softdtw_cuda

        return softdtw_cuda.backward(state, Cb, lo, hi, n, m, gamma, wd, wv, wh, subseq, gout)
    R, endw = state
    if R is None:  # consumed by an earlier backward (retain_graph): recompute the forward
        R, endw = _forward(Cb, lo, hi, n, m, gamma, weights, subseq, backend, True)[1]
    state[0] = None  # the kernel turns R into E in place
    g = gout.detach().to(Cb.dtype).contiguous().numpy()
    ft = R.dtype.type
    _cpu.pick("sdtw_backward", R.shape[0], R.size)(
        _np(Cb), R, _np(lo), _np(hi), _np(n), _np(m), ft(gamma), ft(wd), ft(wv), ft(wh), subseq, endw, g
    )
    return torch.from_numpy(R)


class _GatherBand(torch.autograd.Function):
    """Dense (B, N, M) cost -> banded (B, N, W), ``+inf`` outside the windows and on masked cells."""

    @staticmethod
    def forward(ctx, C, lo, hi, n, W, maskb):
        ctx.args = (lo, hi, n, C.shape)
        if C.is_cuda:
            out = _gather_band_torch(C, lo, hi, W)
        else:
            out = torch.empty((C.shape[0], C.shape[1], W), dtype=C.dtype)
            _cpu.pick("gather_band", C.shape[0], out.numel())(
                _np(C), _np(lo), _np(hi), _np(n), np.inf, out.numpy()
            )
        if maskb is not None:
            out = out.masked_fill(~maskb, math.inf)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, G):
        lo, hi, n, shape = ctx.args
        if G.is_cuda:
            return _scatter_band_torch(G, lo, hi, shape), None, None, None, None, None
        out = torch.zeros(shape, dtype=G.dtype)
        _cpu.pick("scatter_band", G.shape[0], G.numel())(_np(G), _np(lo), _np(hi), _np(n), out.numpy())
        return out, None, None, None, None, None


def _band_index(lo, hi, W, device):
    k = torch.arange(W, device=device)
    idx = lo[:, :, None] + k
    valid = idx < hi[:, :, None]
    return idx, valid


def _gather_band_torch(C, lo, hi, W):
    idx, valid = _band_index(lo, hi, W, C.device)
    vals = C.gather(2, idx.clamp(max=C.shape[2] - 1))
    return torch.where(valid, vals, torch.full_like(vals, math.inf))


def _scatter_band_torch(G, lo, hi, shape):
    idx, valid = _band_index(lo, hi, G.shape[2], G.device)
    out = torch.zeros(shape, dtype=G.dtype, device=G.device)
    out.scatter_add_(2, idx.clamp(max=shape[2] - 1), torch.where(valid, G, torch.zeros_like(G)))
    return out


class _BandedCost(torch.autograd.Function):
    """Banded cost of two feature batches (sqeuclidean or ``1 - dot``), O(B N W) memory."""

    @staticmethod
    def forward(ctx, X, Y, lo, hi, n, W, metric):
        ctx.save_for_backward(X, Y)
        ctx.args = (lo, hi, n, metric)
        if X.is_cuda:
            return _banded_cost_torch(X, Y, lo, hi, W, metric)
        out = torch.empty((X.shape[0], X.shape[1], W), dtype=X.dtype)
        _cpu.pick("banded_cost", X.shape[0], out.numel())(
            _np(X), _np(Y), _np(lo), _np(hi), _np(n), metric, out.numpy()
        )
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, G):
        X, Y = ctx.saved_tensors
        lo, hi, n, metric = ctx.args
        if X.is_cuda:
            with torch.enable_grad():
                Xd, Yd = X.detach().requires_grad_(), Y.detach().requires_grad_()
                Cb = _banded_cost_torch(Xd, Yd, lo, hi, G.shape[2], metric)
                Cb = torch.where(torch.isfinite(Cb), Cb, torch.zeros_like(Cb))
                dX, dY = torch.autograd.grad(Cb, (Xd, Yd), G)
            return dX, dY, None, None, None, None, None
        dX = torch.zeros_like(X)
        dY = torch.zeros_like(Y)
        _cpu.pick("banded_cost_backward", X.shape[0], G.numel())(
            _np(X), _np(Y), _np(lo), _np(hi), _np(n), metric, _np(G.to(X.dtype)), dX.numpy(), dY.numpy()
        )
        return dX, dY, None, None, None, None, None


def _banded_cost_torch(X, Y, lo, hi, W, metric):
    """Banded cost with torch ops (CUDA tensors); dense windows use one batched matmul."""
    idx, valid = _band_index(lo, hi, W, X.device)
    B, N, D = X.shape
    if W == Y.shape[1] and not bool(lo.any()):
        dot = torch.bmm(X, Y.transpose(1, 2))
        if metric == 0:
            c = ((X * X).sum(-1)[:, :, None] + (Y * Y).sum(-1)[:, None, :] - 2.0 * dot).clamp(min=0.0)
        else:
            c = 1.0 - dot
        return torch.where(valid, c, torch.full_like(c, math.inf))
    Yg = torch.gather(Y, 1, idx.clamp(max=Y.shape[1] - 1).reshape(B, N * W, 1).expand(B, N * W, D))
    Yg = Yg.reshape(B, N, W, D)
    if metric == 0:
        c = ((X[:, :, None, :] - Yg) ** 2).sum(-1)
    else:
        c = 1.0 - (X[:, :, None, :] * Yg).sum(-1)
    return torch.where(valid, c, torch.full_like(c, math.inf))


# ----------------------------------------------------------------------------- preparation


class _Prepared:
    __slots__ = ("Cb", "lo", "hi", "n", "m", "batched", "shape", "backend", "dense")


def _prepare(C, X, Y, *, metric, band, mask, lengths, diagonal_prior, subsequence, backend):
    if C is not None and (X is not None or Y is not None):
        raise ParameterError("pass either a cost matrix C or features X and Y, not both")
    if C is None and (X is None or Y is None):
        raise ParameterError("pass a cost matrix C, or both feature sequences X and Y")
    if C is not None:
        C = _as_float_tensor(C, "C")
        batched = C.dim() == 3
        if C.dim() == 2:
            C = C[None]
        if C.dim() != 3 or C.shape[1] < 1 or C.shape[2] < 1:
            raise ParameterError(f"C must have shape (N, M) or (B, N, M), got {tuple(C.shape)}")
        if torch.isnan(C).any() or (C == -math.inf).any():
            raise ParameterError("C holds NaN or -inf values")
        ref = C
        B, N, M = C.shape
    else:
        if metric not in _METRICS:
            raise ParameterError(f"metric={metric!r} is not one of {sorted(_METRICS)}")
        X = _as_float_tensor(X, "X")
        Y = _as_float_tensor(Y, "Y")
        if X.dim() != Y.dim() or X.dim() not in (2, 3):
            raise ParameterError(
                f"X and Y must both be (N, D) or (B, N, D), got {tuple(X.shape)} and {tuple(Y.shape)}"
            )
        batched = X.dim() == 3
        if not batched:
            X, Y = X[None], Y[None]
        if X.shape[0] != Y.shape[0] or X.shape[2] != Y.shape[2]:
            raise ParameterError(
                f"X {tuple(X.shape)} and Y {tuple(Y.shape)} differ in batch size or dimension"
            )
        if X.shape[1] < 1 or Y.shape[1] < 1:
            raise ParameterError("X and Y must hold at least one frame")
        if X.device != Y.device:
            raise ParameterError(f"X is on {X.device} but Y on {Y.device}")
        if not (torch.isfinite(X).all() and torch.isfinite(Y).all()):
            raise ParameterError("X or Y holds NaN or infinite values")
        dt = torch.promote_types(X.dtype, Y.dtype)
        X, Y = X.to(dt), Y.to(dt)
        ref = X
        B, N, M = X.shape[0], X.shape[1], Y.shape[1]
    bk = _pick_backend(backend, ref)
    n, m = _lengths(lengths, B, N, M)
    mask_np = None
    if mask is not None:
        mask_np = np.asarray(mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else mask)
        if mask_np.dtype != bool:
            raise ParameterError(f"mask must be boolean, got dtype {mask_np.dtype}")
        if mask_np.ndim == 2:
            mask_np = np.broadcast_to(mask_np, (B,) + mask_np.shape)
        if mask_np.shape != (B, N, M):
            raise ParameterError(f"mask must have shape ({N}, {M}) or ({B}, {N}, {M}), got {mask_np.shape}")
    lo_np, hi_np = _build_windows(B, N, M, n, m, band, mask_np, subsequence)
    dense = band is None and mask_np is None
    W = M if dense else int((hi_np - lo_np).max())
    dev = ref.device
    lo = torch.from_numpy(lo_np).to(dev)
    hi = torch.from_numpy(hi_np).to(dev)
    nt = torch.from_numpy(n).to(dev)
    mt = torch.from_numpy(m).to(dev)
    maskb = None
    if mask_np is not None:
        mb = np.zeros((B, N, W), dtype=np.uint8)
        _cpu.pick("gather_band", B, mb.size)(
            np.ascontiguousarray(mask_np, dtype=np.uint8), lo_np, hi_np, n, 0, mb
        )
        maskb = torch.from_numpy(mb.astype(bool)).to(dev)
    if C is not None:
        Cb = C.contiguous() if dense else _GatherBand.apply(C, lo, hi, nt, W, maskb)
    else:
        if metric == "cosine":
            X = torch.nn.functional.normalize(X, dim=-1, eps=1e-12)
            Y = torch.nn.functional.normalize(Y, dim=-1, eps=1e-12)
        Cb = _BandedCost.apply(X.contiguous(), Y.contiguous(), lo, hi, nt, W, _METRICS[metric])
        if maskb is not None:
            Cb = Cb.masked_fill(~maskb, math.inf)
    if diagonal_prior:
        lam = float(diagonal_prior)
        if not (math.isfinite(lam) and lam > 0):
            raise ParameterError(f"diagonal_prior={diagonal_prior!r} must be a non-negative finite number")
        i = torch.arange(N, device=dev, dtype=Cb.dtype)[None, :, None]
        j = (lo[:, :, None] + torch.arange(W, device=dev)[None, None, :]).to(Cb.dtype)
        nn_ = (nt.to(Cb.dtype) - 1).clamp(min=1)[:, None, None]
        mm_ = (mt.to(Cb.dtype) - 1).clamp(min=1)[:, None, None]
        Cb = Cb + lam * (i / nn_ - j / mm_) ** 2
    p = _Prepared()
    p.Cb, p.lo, p.hi, p.n, p.m = Cb, lo, hi, nt, mt
    p.batched, p.shape, p.backend, p.dense = batched, (B, N, M), bk, dense
    return p


# ----------------------------------------------------------------------------- public API


def soft_dtw(
    C=None,
    *,
    X=None,
    Y=None,
    gamma: float = 1.0,
    metric: str = "sqeuclidean",
    step_weights=(1.0, 1.0, 1.0),
    band=None,
    mask=None,
    lengths=None,
    diagonal_prior: float = 0.0,
    subsequence: bool = False,
    backend: str = "auto",
) -> torch.Tensor:
    """Soft-DTW value, differentiable with respect to ``C`` (or ``X`` and ``Y``).

    Parameters
    ----------
    C : torch.Tensor or np.ndarray [shape=(N, M) or (B, N, M)], optional
        Cost matrix (rows: frames of ``X``, columns: frames of ``Y``). Exclusive with X, Y.
    X, Y : torch.Tensor or np.ndarray [shape=(N, D) / (M, D), or batched (B, N, D) / (B, M, D)]
        Feature sequences, time first. The cost is computed only inside the band.
    gamma : float > 0
        Temperature; ``gamma -> 0`` gives the hard DTW cost.
    metric : {'sqeuclidean', 'cosine'}
        Local cost for features (cosine: ``1 - <x, y> / (|x| |y|)``, a zero frame costs 1).
    step_weights : (float, float, float)
        Weights ``(w_diag, w_vert, w_horz)`` of the steps (1, 1), (1, 0), (0, 1); ``inf``
        disables the vertical or horizontal step.
    band : int or (lo, hi), optional
        Sakoe-Chiba radius, or explicit column windows ``lo[i] <= j < hi[i]`` of shape (N,)
        or (B, N) (see :func:`band_from_path`). Only the band is stored.
    mask : bool array [shape=(N, M) or (B, N, M)], optional
        Cells that may be used (True). Windows shrink to the mask's monotone hull.
    lengths : (x_lengths, y_lengths) or int array [shape=(B, 2)], optional
        True lengths of padded batch items; padding gets zero gradient.
    diagonal_prior : float >= 0
        Adds ``diagonal_prior * (i / (n-1) - j / (m-1))^2`` to every cell's cost.
    subsequence : bool
        Match all of ``X`` against any stretch of ``Y`` (free start and end columns).
    backend : {'auto', 'cpu', 'cuda'}
        'auto' follows the tensors' device.

    Returns
    -------
    torch.Tensor [shape=() or (B,)]
        The soft-DTW values (``+inf`` when a mask leaves no path).

    Raises
    ------
    ParameterError
        Bad shapes, values or options; a band that leaves no path.
    BackendError
        ``backend='cuda'`` without CUDA tensors, or CUDA tensors with ``backend='cpu'``.

    Examples
    --------
    >>> X = torch.randn(30, 12, requires_grad=True); Y = torch.randn(40, 12)
    >>> soft_dtw(X=X, Y=Y, gamma=0.1).backward()
    """
    gamma = _check_gamma(gamma)
    weights = _check_weights(step_weights)
    p = _prepare(
        C,
        X,
        Y,
        metric=metric,
        band=band,
        mask=mask,
        lengths=lengths,
        diagonal_prior=diagonal_prior,
        subsequence=bool(subsequence),
        backend=backend,
    )
    value = _SoftDTWFunction.apply(p.Cb, p.lo, p.hi, p.n, p.m, gamma, weights, bool(subsequence), p.backend)
    return value if p.batched else value[0]


def expected_alignment(
    C=None,
    *,
    X=None,
    Y=None,
    gamma: float = 1.0,
    metric: str = "sqeuclidean",
    step_weights=(1.0, 1.0, 1.0),
    band=None,
    mask=None,
    lengths=None,
    diagonal_prior: float = 0.0,
    subsequence: bool = False,
    backend: str = "auto",
    dense: bool = True,
):
    """Compute the expected alignment ``E = dSDTW_gamma / dC`` (same options as :func:`soft_dtw`).

    ``E[i, j]`` is the probability (under the Gibbs distribution over paths at temperature
    ``gamma``) that the alignment passes through cell ``(i, j)``, times the step weight it
    pays there; with unit weights every row sum is at least 1.

    Returns
    -------
    E : torch.Tensor [shape=(N, M) or (B, N, M)]
        When ``dense`` is True (padding and cells outside the band are 0).
    (Eb, lo, hi) : tuple
        When ``dense`` is False: the banded values ``Eb`` [shape=(B, N, W)] with
        ``E[b, i, lo[b, i] + k] = Eb[b, i, k]`` for ``k < hi - lo``.
    """
    gamma = _check_gamma(gamma)
    weights = _check_weights(step_weights)
    with torch.no_grad():
        if X is not None:
            X = _as_float_tensor(X, "X").detach()
            Y = _as_float_tensor(Y, "Y").detach() if Y is not None else None
        if C is not None:
            C = _as_float_tensor(C, "C").detach()
        p = _prepare(
            C,
            X,
            Y,
            metric=metric,
            band=band,
            mask=mask,
            lengths=lengths,
            diagonal_prior=diagonal_prior,
            subsequence=bool(subsequence),
            backend=backend,
        )
        Cb = p.Cb.detach()
        _, state = _forward(Cb, p.lo, p.hi, p.n, p.m, gamma, weights, bool(subsequence), p.backend, True)
        gout = torch.ones(Cb.shape[0], dtype=Cb.dtype, device=Cb.device)
        Eb = _backward(state, Cb, p.lo, p.hi, p.n, p.m, gamma, weights, bool(subsequence), p.backend, gout)
        if not dense:
            return Eb, p.lo, p.hi
        if p.dense:
            E = Eb
        elif Eb.is_cuda:
            E = _scatter_band_torch(Eb, p.lo, p.hi, p.shape)
        else:
            E = torch.zeros(p.shape, dtype=Eb.dtype)
            _cpu.pick("scatter_band", Eb.shape[0], Eb.numel())(
                _np(Eb), _np(p.lo), _np(p.hi), _np(p.n), E.numpy()
            )
    return E if p.batched else E[0]


def soft_dtw_divergence(
    X,
    Y,
    *,
    gamma: float = 1.0,
    metric: str = "sqeuclidean",
    step_weights=(1.0, 1.0, 1.0),
    band=None,
    lengths=None,
    backend: str = "auto",
):
    """Normalised soft-DTW divergence ``D(X, Y) = S(X, Y) - (S(X, X) + S(Y, Y)) / 2``.

    Blondel, Mensch & Vert (2021): ``D(X, X) = 0``, and ``D >= 0`` for the squared euclidean
    cost. ``lengths`` is ``(x_lengths, y_lengths)`` as in :func:`soft_dtw`.

    Returns
    -------
    torch.Tensor [shape=() or (B,)]
    """
    if lengths is not None:
        ln, lm = _lengths(lengths, X.shape[0], X.shape[-2], Y.shape[-2])
        lxy, lxx, lyy = (ln, lm), (ln, ln), (lm, lm)
    else:
        lxy = lxx = lyy = None
    kw = dict(gamma=gamma, metric=metric, step_weights=step_weights, band=band, backend=backend)
    sxy = soft_dtw(X=X, Y=Y, lengths=lxy, **kw)
    sxx = soft_dtw(X=X, Y=X, lengths=lxx, **kw)
    syy = soft_dtw(X=Y, Y=Y, lengths=lyy, **kw)
    return sxy - 0.5 * (sxx + syy)


def gamma_schedule(
    gamma_start: float, gamma_end: float, n_steps: int, *, kind: str = "geometric"
) -> np.ndarray:
    """Temperatures for annealing: from ``gamma_start`` down (or up) to ``gamma_end``.

    Parameters
    ----------
    gamma_start, gamma_end : float > 0
    n_steps : int >= 1
    kind : {'geometric', 'linear', 'cosine'}
        Geometric spacing (constant ratio), linear spacing, or a half-cosine ramp.

    Returns
    -------
    np.ndarray [shape=(n_steps,)]
        Starts at ``gamma_start`` and ends at ``gamma_end`` (one value: ``gamma_end``).
    """
    g0, g1 = _check_gamma(gamma_start), _check_gamma(gamma_end)
    n = _posint(n_steps, "n_steps")
    if n == 1:
        return np.array([g1])
    t = np.linspace(0.0, 1.0, n)
    if kind == "geometric":
        return np.exp(np.log(g0) + t * (np.log(g1) - np.log(g0)))
    if kind == "linear":
        return g0 + t * (g1 - g0)
    if kind == "cosine":
        return g1 + (g0 - g1) * 0.5 * (1 + np.cos(np.pi * t))
    raise ParameterError(f"kind={kind!r} is not one of ['geometric', 'linear', 'cosine']")


class SoftDTW(torch.nn.Module):
    """Soft-DTW as a module: ``SoftDTW(gamma=0.1)(X, Y)`` or ``SoftDTW(...)(C=C)``.

    Parameters are those of :func:`soft_dtw` (fixed at construction); ``forward`` takes
    ``X, Y`` (or ``C=``) and optional ``lengths``. ``normalize=True`` returns the
    divergence of :func:`soft_dtw_divergence` instead. ``reduction`` in
    {'none', 'mean', 'sum'} reduces over the batch.
    """

    def __init__(
        self,
        *,
        gamma: float = 1.0,
        metric: str = "sqeuclidean",
        step_weights=(1.0, 1.0, 1.0),
        band=None,
        diagonal_prior: float = 0.0,
        subsequence: bool = False,
        normalize: bool = False,
        reduction: str = "none",
        backend: str = "auto",
    ):
        super().__init__()
        if reduction not in ("none", "mean", "sum"):
            raise ParameterError(f"reduction={reduction!r} is not one of ['none', 'mean', 'sum']")
        if normalize and (subsequence or diagonal_prior):
            raise ParameterError("normalize=True cannot be combined with subsequence or diagonal_prior")
        self.gamma = _check_gamma(gamma)
        self.kw = dict(metric=metric, step_weights=_check_weights(step_weights), band=band, backend=backend)
        self.diagonal_prior = diagonal_prior
        self.subsequence = subsequence
        self.normalize = normalize
        self.reduction = reduction

    def forward(self, X=None, Y=None, *, C=None, lengths=None):  # noqa: D102
        if self.normalize:
            v = soft_dtw_divergence(X, Y, gamma=self.gamma, lengths=lengths, **self.kw)
        else:
            v = soft_dtw(
                C,
                X=X,
                Y=Y,
                gamma=self.gamma,
                lengths=lengths,
                diagonal_prior=self.diagonal_prior,
                subsequence=self.subsequence,
                **self.kw,
            )
        if self.reduction == "mean":
            return v.mean()
        if self.reduction == "sum":
            return v.sum()
        return v
