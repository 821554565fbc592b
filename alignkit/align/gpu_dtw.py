"""Batched hard DTW that returns paths, on the GPU, with the CPU engine's semantics.

:func:`dtw_batch` aligns many pairs of different lengths in one call and returns one
:class:`~alignkit.align.dtw.DTWResult` per pair, with the same step sets, weights, band,
masks, start rule and tie-breaking (earliest step of the list wins ties) as
:func:`alignkit.align.dtw.dtw`. The backend follows the inputs' device:

- CUDA tensors: one launch of the numba.cuda wavefront kernel of
  :mod:`alignkit.align._kernels.dtw_cuda` for the whole batch (paths traced on the device);
- CPU arrays or tensors: the CPU engine itself, pair by pair (so results are identical by
  construction); ``backend="cuda"`` with CPU inputs raises
  :class:`~alignkit.exceptions.BackendError` (it runs the CUDA kernel on host arrays only
  under numba's CUDA simulator, which is how CI checks the kernel against the CPU engine).

On cost matrices the CUDA kernel reproduces the CPU engine exactly (same float64 min-plus
recursion and tie order; with an FMA-contracting compiler the last bit of a sum may differ,
so exact ties between different paths can only be guaranteed for exactly representable
costs). From features, the local cost is computed on the device in float32 like the CPU
kernels, but in a different summation order: costs agree to float32 rounding.
"""

from __future__ import annotations

import numpy as np
import torch

from alignkit.align.dtw import DTWResult, band_region, resolve_step_sizes
from alignkit.exceptions import BackendError, ParameterError

__all__ = ["dtw_batch"]


def _items(C, X, Y, lengths):
    """Normalise the inputs to a list of ('C', c) or ('XY', x, y) items (tensors or arrays)."""
    if C is not None and (X is not None or Y is not None):
        raise ParameterError("give either X and Y or C, not both")
    if C is None and (X is None or Y is None):
        raise ParameterError("give both X and Y (lists or padded batches) or C")
    if C is not None:
        seq = list(C) if isinstance(C, (list, tuple)) else None
        if seq is None:
            arr = C if isinstance(C, torch.Tensor) else np.asarray(C)
            if arr.ndim != 3:
                raise ParameterError(
                    f"C must be a (B, N, M) batch or a list of (N_b, M_b) matrices, "
                    f"got shape {tuple(arr.shape)}"
                )
            B = arr.shape[0]
            ln, lm = _lengths(lengths, B, arr.shape[1], arr.shape[2])
            seq = [arr[b, : ln[b], : lm[b]] for b in range(B)]
        elif lengths is not None:
            raise ParameterError("lengths only apply to padded batches, not to lists")
        return [("C", c) for c in seq]
    if isinstance(X, (list, tuple)) != isinstance(Y, (list, tuple)):
        raise ParameterError("X and Y must both be lists or both be padded batches")
    if isinstance(X, (list, tuple)):
        if len(X) != len(Y):
            raise ParameterError(f"X has {len(X)} sequences but Y has {len(Y)}")
        if lengths is not None:
            raise ParameterError("lengths only apply to padded batches, not to lists")
        return [("XY", x, y) for x, y in zip(X, Y, strict=True)]
    if X.ndim != 3 or Y.ndim != 3 or X.shape[0] != Y.shape[0]:
        raise ParameterError(
            f"padded X and Y must be (B, N, D) and (B, M, D), got {tuple(X.shape)} and {tuple(Y.shape)}"
        )
    ln, lm = _lengths(lengths, X.shape[0], X.shape[1], Y.shape[1])
    return [("XY", X[b, : ln[b]], Y[b, : lm[b]]) for b in range(X.shape[0])]


def _lengths(lengths, B, N, M):
    from alignkit.align.soft_dtw import _lengths as lens

    return lens(lengths, B, N, M)


def _on_cuda(items) -> bool:
    return any(isinstance(t, torch.Tensor) and t.is_cuda for it in items for t in it[1:])


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def dtw_batch(
    C=None,
    *,
    X=None,
    Y=None,
    lengths=None,
    metric: str = "cosine",
    step_sizes="symmetric2",
    weights=None,
    band=None,
    mask=None,
    backend: str = "auto",
) -> list[DTWResult]:
    """Hard DTW with paths for a batch of pairs of different lengths.

    Parameters
    ----------
    C : list of arrays [shape=(N_b, M_b)] or array/tensor [shape=(B, N, M)], optional
        Cost matrices (a padded batch takes ``lengths``).
    X, Y : lists of arrays [shape=(N_b, D)], [shape=(M_b, D)], or padded (B, N, D), (B, M, D)
        Feature sequences (time first), instead of ``C``.
    lengths : (x_lengths, y_lengths), optional
        True lengths of padded batches.
    metric, step_sizes, weights, band
        As in :func:`alignkit.align.dtw.dtw` (``band``: Sakoe-Chiba half-width in frames).
    mask : list of boolean arrays [shape=(N_b, M_b)] or one array for every pair, optional
        Admissible cells.
    backend : {'auto', 'cpu', 'cuda'}
        'auto' follows the inputs' device.

    Returns
    -------
    list of DTWResult
        One per pair (``accumulated`` is None).

    Raises
    ------
    ParameterError
        Bad inputs, or constraints leaving some pair without a path (the message names it).
    BackendError
        ``backend='cuda'`` for CPU inputs without the CUDA simulator, or 'cpu' for CUDA inputs.
    """
    from alignkit.align.soft_dtw import _BACKENDS, cuda_simulated

    if backend not in _BACKENDS:
        raise ParameterError(f"backend={backend!r} is not one of {list(_BACKENDS)}")
    items = _items(C, X, Y, lengths)
    if not items:
        return []
    masks = _masks(mask, len(items))
    on_cuda = _on_cuda(items)
    if on_cuda and backend == "cpu":
        raise BackendError("backend='cpu' was asked for CUDA tensors; move them with .cpu() first")
    if not on_cuda and backend == "cuda" and not cuda_simulated():
        raise BackendError(
            "backend='cuda' was asked but the inputs are on the CPU; move them to a CUDA "
            "device (and check torch.cuda.is_available())"
        )
    if not on_cuda and backend != "cuda":
        from alignkit.align.dtw import dtw

        out = []
        for b, it in enumerate(items):
            kw = dict(metric=metric, step_sizes=step_sizes, weights=weights, band=band, mask=masks[b])
            try:
                out.append(dtw(C=_np(it[1]), **kw) if it[0] == "C" else dtw(_np(it[1]), _np(it[2]), **kw))
            except ParameterError as exc:
                raise ParameterError(f"pair {b}: {exc}") from exc
        return out
    return _dtw_batch_cuda(items, masks, metric, step_sizes, weights, band)


def _masks(mask, B):
    if mask is None:
        return [None] * B
    if isinstance(mask, (list, tuple)):
        if len(mask) != B:
            raise ParameterError(f"mask list has {len(mask)} entries for {B} pairs")
        return list(mask)
    return [mask] * B


def _region(n, m, band, mask):
    from alignkit.align.dtw import _mask_region

    reg = None
    if band is not None:
        reg = band_region((n, m), band)
    if mask is not None:
        mreg = _mask_region(mask, n, m)
        reg = mreg if reg is None else reg.intersect(mreg)
    return reg


def _local_cost_torch(x, y, metric):
    """Local cost of prepared float32 features, as the CPU kernels define it (float64 result)."""
    if metric == "cosine":
        return (1.0 - x @ y.T).to(torch.float64)
    d = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    return d.to(torch.float64).sqrt() if metric == "euclidean" else d.to(torch.float64)


def _dtw_batch_cuda(items, masks, metric, step_sizes, weights, band):
    from alignkit.align._kernels import dtw_cuda
    from alignkit.align.cost import _check_metric, as_feature_pair, prepare_features

    name, steps, w = resolve_step_sizes(step_sizes, weights)
    dev = next((t.device for it in items for t in it[1:] if isinstance(t, torch.Tensor)), torch.device("cpu"))
    costs, shapes, wins = [], [], []
    for b, it in enumerate(items):
        if it[0] == "C":
            c = it[1] if isinstance(it[1], torch.Tensor) else torch.from_numpy(np.asarray(it[1]))
            if c.dim() != 2 or c.shape[0] < 1 or c.shape[1] < 1:
                raise ParameterError(f"pair {b}: C must be a non-empty 2-D cost matrix, got {tuple(c.shape)}")
            if torch.isnan(c).any():
                raise ParameterError(f"pair {b}: C holds NaN values")
            c = c.to(dev, torch.float64)
        else:
            _check_metric(metric)
            x, y = as_feature_pair(_np(it[1]), _np(it[2]))
            xp, yp = prepare_features(x, y, metric)
            c = _local_cost_torch(torch.from_numpy(xp).to(dev), torch.from_numpy(yp).to(dev), metric)
        n, m = c.shape
        reg = _region(n, m, band, masks[b])
        if reg is not None:
            if not reg.contains(0, 0):
                raise ParameterError(
                    f"pair {b}: the constraints exclude the start cell (0, 0): no admissible path"
                )
            if not reg.contains(n - 1, m - 1):
                raise ParameterError(
                    f"pair {b}: the constraints exclude the end cell {(n - 1, m - 1)}: no admissible path"
                )
        costs.append(c)
        shapes.append((n, m))
        wins.append(reg)
    B = len(items)
    N = max(s[0] for s in shapes)
    # monotone hull windows (the kernel's binary search needs them) + per-cell admissibility
    lo = np.zeros((B, N), np.int64)
    hi = np.zeros((B, N), np.int64)
    for b, ((n, m), reg) in enumerate(zip(shapes, wins, strict=True)):
        if reg is None:
            lo[b, :n], hi[b, :n] = 0, m
        else:
            rl = np.where(reg.hi > reg.lo, reg.lo, m)
            rh = np.where(reg.hi > reg.lo, reg.hi, 0)
            lo[b, :n] = np.minimum.accumulate(rl[::-1])[::-1]
            hi[b, :n] = np.maximum.accumulate(rh)
            hi[b, :n] = np.maximum(hi[b, :n], lo[b, :n])
    W = max(int((hi - lo).max()), 1)
    Cb = torch.full((B, N, W), float("inf"), dtype=torch.float64, device=dev)
    allowed = np.zeros((B, N, W), np.uint8)
    for b, ((n, m), reg, c) in enumerate(zip(shapes, wins, costs, strict=True)):
        k = np.arange(W)[None, :]
        cols = lo[b, :n, None] + k
        inwin = cols < hi[b, :n, None]
        ok = inwin
        if reg is not None:
            rl, rh = reg.lo[:, None], reg.hi[:, None]
            inr = (cols >= rl) & (cols < rh)
            if reg.allowed is not None:
                flat = reg.offsets[:-1][:, None] + cols - rl
                al = np.zeros_like(inr)
                al[inr] = reg.allowed[flat[inr]] != 0
                inr = al
            ok = inwin & inr
        allowed[b, :n] = ok
        idx = torch.from_numpy(np.minimum(cols, m - 1)).to(dev)
        Cb[b, :n] = torch.where(torch.from_numpy(inwin).to(dev), c.gather(1, idx), Cb[b, :n])
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dev)  # noqa: E731
    nn_ = t(np.array([s[0] for s in shapes], np.int64))
    mm_ = t(np.array([s[1] for s in shapes], np.int64))
    cost, paths, plen = dtw_cuda.dtw_banded(
        Cb,
        t(allowed),
        t(lo),
        t(hi),
        nn_,
        mm_,
        t(steps[:, 0].copy()),
        t(steps[:, 1].copy()),
        t(np.asarray(w, np.float64)),
    )
    cost, paths, plen = cost.cpu().numpy(), paths.cpu().numpy(), plen.cpu().numpy()
    out = []
    for b, (n, m) in enumerate(shapes):
        if not np.isfinite(cost[b]):
            raise ParameterError(
                f"pair {b}: no admissible path from (0, 0) to {(n - 1, m - 1)} under the given "
                "step sizes and constraints"
            )
        p = paths[b, : plen[b]].copy()
        norm = cost[b] / (n + m) if name == "symmetric2" else cost[b] / len(p)
        ncells = wins[b].n_cells if wins[b] is not None else n * m
        out.append(
            DTWResult(
                cost=float(cost[b]),
                path=p,
                accumulated=None,
                normalized_cost=float(norm),
                step_sizes=name,
                n_cells=ncells,
            )
        )
    return out
