"""CTC for alignment: loss, posteriors, batched Viterbi, multi-label CTC, chroma post-processing.

Conventions
-----------
- ``log_probs`` are **batch first and time first inside an item**: shape ``(B, T, C)``
  (or ``(T, C)`` for one sequence), log-probabilities over ``C`` classes of which one is
  the blank (``blank=0`` by default). torch's own ``ctc_loss`` wants ``(T, B, C)``; the
  wrapper transposes.
- ``targets``: padded ``(B, L)`` integer labels (never the blank), or the concatenated 1-D
  form with ``target_lengths``. ``input_lengths`` / ``target_lengths`` default to full.
- Frames run ``0 .. T-1``; spans are ``[start, end)`` (end exclusive).

Multi-label CTC (polyphonic targets)
------------------------------------
A target is a sequence of **sets** of classes (e.g. the pitch classes sounding in each note
event), given as a multi-hot array ``(B, L, K)``. The model emits, per frame, ``K``
independent logits ``z``; class ``c`` is active with probability ``q_c = sigmoid(z_c)``, and
the emission probability of a set ``A`` is the probability that the frame's active set is
exactly ``A``::

    e_t(A) = prod_{c in A} q_tc * prod_{c not in A} (1 - q_tc)

The **blank is the empty set** (no class active); target sets must be non-empty. The
``2^K`` sets form a proper distribution per frame, so the usual CTC recursion over the
extended sequence ``[0, A_1, 0, A_2, ..., A_L, 0]`` is a proper likelihood, and a skip from
``A_{k-1}`` to ``A_k`` is allowed when the sets differ. Class posteriors
``P(c active at t) = sum_k gamma_t(k) [c in A_k]`` are the soft "chroma" alignment.

The CTC chroma paper's post-processing (:func:`ctc_to_chroma`): drop the blank output and
l2-normalise each frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from alignkit.exceptions import ParameterError

from ._kernels import ctc_cpu as _cpu
from .soft_dtw import _pick_backend

__all__ = [
    "ctc_loss",
    "ctc_posteriors",
    "CTCPosteriors",
    "ctc_forced_align",
    "CTCAlignment",
    "multilabel_emissions",
    "multilabel_ctc_loss",
    "multilabel_ctc_posteriors",
    "multilabel_ctc_forced_align",
    "ctc_to_chroma",
]

_REDUCTIONS = ("none", "mean", "sum")


# ----------------------------------------------------------------------------- validation


def _as_logp(log_probs, name="log_probs"):
    t = log_probs if isinstance(log_probs, torch.Tensor) else torch.from_numpy(np.asarray(log_probs))
    if not t.is_floating_point():
        raise ParameterError(f"{name} must be floating point, got {t.dtype}")
    batched = t.dim() == 3
    if t.dim() == 2:
        t = t[None]
    if t.dim() != 3 or t.shape[1] < 1 or t.shape[2] < 1:
        raise ParameterError(f"{name} must have shape (T, C) or (B, T, C), got {tuple(t.shape)}")
    if torch.isnan(t).any():
        raise ParameterError(f"{name} holds NaN values")
    return t, batched


def _int_vector(x, B, default, name, hi):
    if x is None:
        return np.full(B, default, dtype=np.int64)
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    a = np.atleast_1d(a)
    if a.dtype.kind not in "iu" or a.shape != (B,):
        raise ParameterError(f"{name} must be {B} integers, got {a.dtype} array of shape {a.shape}")
    if a.min() < 0 or a.max() > hi:
        raise ParameterError(f"{name}={a.tolist()} must lie in [0, {hi}]")
    return a.astype(np.int64)


def _targets(targets, B, target_lengths, C, blank):
    t = targets.detach().cpu().numpy() if isinstance(targets, torch.Tensor) else np.asarray(targets)
    if t.dtype.kind not in "iu":
        raise ParameterError(f"targets must be integer labels, got dtype {t.dtype}")
    if t.ndim == 1 and B == 1 and target_lengths is None:
        t = t[None]
    if t.ndim == 1:  # concatenated form
        if target_lengths is None:
            raise ParameterError("1-D concatenated targets need target_lengths")
        tl = _int_vector(target_lengths, B, 0, "target_lengths", t.size)
        if tl.sum() != t.size:
            raise ParameterError(f"target_lengths sum to {int(tl.sum())} but targets hold {t.size} labels")
        pad = np.zeros((B, max(int(tl.max()), 1) if B else 1), dtype=np.int64)
        off = np.concatenate([[0], np.cumsum(tl)])
        for b in range(B):
            pad[b, : tl[b]] = t[off[b] : off[b + 1]]
        t = pad
    elif t.ndim == 2:
        if t.shape[0] != B:
            raise ParameterError(f"targets have {t.shape[0]} rows for a batch of {B}")
        tl = _int_vector(target_lengths, B, t.shape[1], "target_lengths", t.shape[1])
    else:
        raise ParameterError(f"targets must be (L,), (B, L) or concatenated 1-D, got shape {t.shape}")
    t = t.astype(np.int64)
    valid = np.arange(t.shape[1])[None, :] < tl[:, None]
    tv = t[valid]
    if tv.size and (tv.min() < 0 or tv.max() >= C):
        raise ParameterError(f"target labels must lie in [0, {C}), got range [{tv.min()}, {tv.max()}]")
    if np.any(tv == blank):
        raise ParameterError(f"targets contain the blank label {blank}")
    t = np.where(valid, t, 0 if blank != 0 else min(1, C - 1))
    return t, tl


def _check_blank(blank, C):
    if not isinstance(blank, (int, np.integer)) or not 0 <= blank < C:
        raise ParameterError(f"blank={blank!r} must be a class index in [0, {C})")
    return int(blank)


def _prep_single(log_probs, targets, input_lengths, target_lengths, blank):
    lp, batched = _as_logp(log_probs)
    B, T, C = lp.shape
    blank = _check_blank(blank, C)
    tgt, tl = _targets(targets, B, target_lengths, C, blank)
    il = _int_vector(input_lengths, B, T, "input_lengths", T)
    if il.min() < 1:
        raise ParameterError(f"input_lengths={il.tolist()} must be at least 1")
    return lp, batched, tgt, tl, il, blank


def _single_emissions(lp, tgt, blank):
    dev = lp.device
    idx = torch.from_numpy(tgt).to(dev)
    le = lp.gather(2, idx[:, None, :].expand(-1, lp.shape[1], -1)) if tgt.shape[1] else lp[:, :, :0]
    lb = lp[:, :, blank]
    skip = np.zeros(tgt.shape, dtype=np.uint8)
    if tgt.shape[1] > 1:
        skip[:, 1:] = tgt[:, 1:] != tgt[:, :-1]
    return le, lb, skip


# ----------------------------------------------------------------------------- autograd


class _CTCFunction(torch.autograd.Function):
    """loss[b] = -log p(target_b | emissions_b); backward gives minus the posteriors."""

    @staticmethod
    def forward(ctx, le, lb, skip, Tl, Ll, backend):
        loss, post_lab, post_blank = _fb(le.detach(), lb.detach(), skip, Tl, Ll, backend)
        ctx.save_for_backward(post_lab, post_blank, torch.isfinite(loss))
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        post_lab, post_blank, finite = ctx.saved_tensors
        g = torch.where(finite, g, torch.zeros_like(g)).to(post_lab.dtype)
        return -g[:, None, None] * post_lab, -g[:, None] * post_blank, None, None, None, None


def _fb(le, lb, skip, Tl, Ll, backend):
    B, T, L = le.shape
    S = 2 * L + 1
    if backend == "cuda":
        from ._kernels import ctc_cuda

        return ctc_cuda.forward_backward(le, lb, skip, Tl, Ll)
    le_n = le.contiguous().numpy()
    dt = le_n.dtype
    alpha = np.empty((B, T, S), dtype=dt)
    post_lab = np.zeros((B, T, L), dtype=dt)
    post_blank = np.zeros((B, T), dtype=dt)
    loss = np.empty(B, dtype=dt)
    _cpu.pick("ctc_fb", B, B * T * S)(
        le_n, lb.contiguous().numpy().astype(dt), skip, Tl, Ll, alpha, post_lab, post_blank, loss
    )
    return torch.from_numpy(loss), torch.from_numpy(post_lab), torch.from_numpy(post_blank)


def _reduce(loss, tl, reduction, zero_infinity):
    if zero_infinity:
        loss = torch.where(torch.isfinite(loss), loss, torch.zeros_like(loss))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    denom = torch.from_numpy(np.maximum(tl, 1)).to(loss.device, loss.dtype)
    return (loss / denom).mean()


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ParameterError(f"reduction={reduction!r} is not one of {list(_REDUCTIONS)}")


# ----------------------------------------------------------------------------- public: single label


def ctc_loss(
    log_probs,
    targets,
    input_lengths=None,
    target_lengths=None,
    *,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
    implementation: str = "torch",
    backend: str = "auto",
) -> torch.Tensor:
    """CTC negative log-likelihood, validated.

    Parameters
    ----------
    log_probs : torch.Tensor [shape=(B, T, C) or (T, C)]
        Log-probabilities (e.g. ``log_softmax`` outputs), batch first.
    targets : int array [shape=(B, L), (L,), or concatenated 1-D]
        Label sequences without blanks (padding beyond ``target_lengths`` is ignored).
    input_lengths, target_lengths : int array [shape=(B,)], optional
        Defaults: ``T`` and ``L``.
    blank : int
        Index of the blank class.
    reduction : {'none', 'mean', 'sum'}
        'mean' divides each loss by its target length, then averages (as torch does).
    zero_infinity : bool
        Replace infinite losses (input too short for the target) and their gradients by 0.
    implementation : {'torch', 'alignkit'}
        ``torch.nn.functional.ctc_loss``, or this module's own forward-backward (same values
        and gradients; runs on CPU via numba and on CUDA via numba.cuda).
    backend : {'auto', 'cpu', 'cuda'}
        For ``implementation='alignkit'``; follows the tensor's device.

    Returns
    -------
    torch.Tensor [shape=() or (B,)]

    Raises
    ------
    ParameterError
        Shapes, lengths, labels out of range, blank inside the targets.
    """
    _check_reduction(reduction)
    lp, batched, tgt, tl, il, blank = _prep_single(log_probs, targets, input_lengths, target_lengths, blank)
    if implementation == "torch":
        dev = lp.device
        out = torch.nn.functional.ctc_loss(
            lp.transpose(0, 1),
            torch.from_numpy(tgt).to(dev),
            torch.from_numpy(il).to(dev),
            torch.from_numpy(tl).to(dev),
            blank=blank,
            reduction=reduction,
            zero_infinity=zero_infinity,
        )
    elif implementation == "alignkit":
        bk = _pick_backend(backend, lp)
        le, lb, skip = _single_emissions(lp, tgt, blank)
        loss = _CTCFunction.apply(le, lb, skip, il, tl, bk)
        out = _reduce(loss, tl, reduction, zero_infinity)
    else:
        raise ParameterError(f"implementation={implementation!r} is not one of ['torch', 'alignkit']")
    if reduction == "none" and not batched:
        return out[0]
    return out


@dataclass
class CTCPosteriors:
    """Soft CTC alignment of a batch.

    Attributes
    ----------
    loss : torch.Tensor [shape=(B,)]
        ``-log p(target | log_probs)`` (``inf`` where the input is too short).
    class_posteriors : torch.Tensor [shape=(B, T, C)]
        ``P(class c is emitted at frame t | target, input)``; rows sum to 1 on valid frames.
        For multi-label CTC: ``(B, T, K)``, ``P(class c active at t)`` (blank excluded).
    token_posteriors : torch.Tensor [shape=(B, T, L)]
        ``P(frame t emits target position k)``.
    blank_posteriors : torch.Tensor [shape=(B, T)]
        ``P(frame t emits the blank)``.
    """

    loss: torch.Tensor
    class_posteriors: torch.Tensor
    token_posteriors: torch.Tensor
    blank_posteriors: torch.Tensor


def ctc_posteriors(
    log_probs, targets, input_lengths=None, target_lengths=None, *, blank: int = 0, backend: str = "auto"
) -> CTCPosteriors:
    """Per-frame label posteriors from a batched CTC forward-backward (the soft alignment).

    Parameters are those of :func:`ctc_loss`. Padding frames and positions are 0.

    Returns
    -------
    CTCPosteriors
    """
    lp, batched, tgt, tl, il, blank = _prep_single(log_probs, targets, input_lengths, target_lengths, blank)
    bk = _pick_backend(backend, lp)
    with torch.no_grad():
        le, lb, skip = _single_emissions(lp.detach(), tgt, blank)
        loss, post_lab, post_blank = _fb(le, lb, skip, il, tl, bk)
        post_lab, post_blank = post_lab.to(lp.device), post_blank.to(lp.device)
        cls = torch.zeros(lp.shape, dtype=post_lab.dtype, device=lp.device)
        if tgt.shape[1]:
            idx = torch.from_numpy(tgt).to(lp.device)[:, None, :].expand(-1, lp.shape[1], -1)
            cls.scatter_add_(2, idx, post_lab)
        cls[:, :, blank] += post_blank
    res = CTCPosteriors(loss.to(lp.device), cls, post_lab, post_blank)
    if not batched:
        res = CTCPosteriors(
            *(x[0] for x in (res.loss, res.class_posteriors, res.token_posteriors, res.blank_posteriors))
        )
    return res


@dataclass
class CTCAlignment:
    """Batched CTC forced alignment (best path through the trellis).

    Attributes
    ----------
    states : np.ndarray [shape=(B, T), int64]
        Extended state per frame (``2k + 1``: target position ``k``; even: blank); -1 on
        padding frames and where no path exists.
    token_index : np.ndarray [shape=(B, T), int64]
        Target position per frame, -1 for blank frames and padding.
    frame_labels : np.ndarray [shape=(B, T), int64]
        Class per frame (the blank index on blank frames), -1 on padding. For multi-label
        alignments this equals ``token_index`` (sets have no class index).
    starts, ends : np.ndarray [shape=(B, L), int64]
        First frame and one past the last frame of every target position (-1 on padding).
    scores : np.ndarray [shape=(B,)]
        Log-probability of the best path (``-inf`` where none exists).
    """

    states: np.ndarray
    token_index: np.ndarray
    frame_labels: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    scores: np.ndarray

    def squeeze(self) -> CTCAlignment:
        """Drop the batch axis of a one-item alignment."""
        return CTCAlignment(
            *(
                getattr(self, f)[0]
                for f in ("states", "token_index", "frame_labels", "starts", "ends", "scores")
            )
        )


def _viterbi(le, lb, skip, il, tl, backend):
    B, T, L = le.shape
    S = 2 * L + 1
    if backend == "cuda":
        from ._kernels import ctc_cuda

        states, scores = ctc_cuda.viterbi(le, lb, skip, il, tl)
    else:
        le_n = le.detach().contiguous().numpy()
        dt = le_n.dtype
        delta = np.empty((B, T, S), dtype=dt)
        bp = np.zeros((B, T, S), dtype=np.int8)
        states = np.full((B, T), -1, dtype=np.int64)
        scores = np.empty(B, dtype=dt)
        _cpu.pick("ctc_viterbi", B, B * T * S)(
            le_n, lb.detach().contiguous().numpy().astype(dt), skip, il, tl, delta, bp, states, scores
        )
    return _spans(states, il, tl, L, scores)


def _spans(states, il, tl, L, scores):
    B, T = states.shape
    tmask = np.arange(T)[None, :] < il[:, None]
    states = np.where(tmask, states, -1)
    token = np.where((states >= 0) & (states % 2 == 1), (states - 1) // 2, -1)
    starts = np.full((B, max(L, 0)), -1, dtype=np.int64)
    ends = np.full((B, max(L, 0)), -1, dtype=np.int64)
    for b in range(B):
        tb = token[b]
        frames = np.flatnonzero(tb >= 0)
        if frames.size:
            k = tb[frames]
            first = np.r_[True, k[1:] != k[:-1]]
            last = np.r_[k[1:] != k[:-1], True]
            starts[b, k[first]] = frames[first]
            ends[b, k[last]] = frames[last] + 1
    return states, token, starts, ends, np.asarray(scores, dtype=np.float64)


def ctc_forced_align(
    log_probs, targets, input_lengths=None, target_lengths=None, *, blank: int = 0, backend: str = "auto"
) -> CTCAlignment:
    """Batched Viterbi forced alignment over the CTC trellis (any batch size, CPU or CUDA).

    Parameters are those of :func:`ctc_loss`. Ties prefer staying in a state, then moving by
    one, then skipping a blank; at the end the final blank wins ties.

    Returns
    -------
    CTCAlignment
        Batched fields; for a 2-D ``log_probs`` the batch axis is dropped.

    Examples
    --------
    >>> lp = torch.randn(50, 5).log_softmax(-1)
    >>> ali = ctc_forced_align(lp, [1, 3, 2])
    >>> ali.starts, ali.ends  # frames of each of the three labels
    """
    lp, batched, tgt, tl, il, blank = _prep_single(log_probs, targets, input_lengths, target_lengths, blank)
    bk = _pick_backend(backend, lp)
    with torch.no_grad():
        le, lb, skip = _single_emissions(lp.detach(), tgt, blank)
        states, token, starts, ends, scores = _viterbi(le, lb, skip, il, tl, bk)
    labels = np.where(
        token >= 0,
        np.take_along_axis(tgt, np.maximum(token, 0), axis=1) if tgt.shape[1] else 0,
        np.where(states >= 0, blank, -1),
    )
    res = CTCAlignment(states, token, labels, starts, ends, scores)
    return res if batched else res.squeeze()


# ----------------------------------------------------------------------------- multi-label


def _prep_multi(logits, target_sets, input_lengths, target_lengths):
    z, batched = _as_logp(logits, "logits")
    B, T, K = z.shape
    s = (
        target_sets.detach().cpu().numpy()
        if isinstance(target_sets, torch.Tensor)
        else np.asarray(target_sets)
    )
    if s.ndim == 2 and not batched:
        s = s[None]
    if s.ndim != 3 or s.shape[0] != B or s.shape[2] != K:
        raise ParameterError(
            f"target_sets must be multi-hot of shape (B, L, {K}) (or (L, {K})), got {s.shape}"
        )
    if s.dtype != bool:
        if not np.all((s == 0) | (s == 1)):
            raise ParameterError("target_sets must be multi-hot (0/1 or bool)")
        s = s.astype(bool)
    tl = _int_vector(target_lengths, B, s.shape[1], "target_lengths", s.shape[1])
    il = _int_vector(input_lengths, B, T, "input_lengths", T)
    if il.min() < 1:
        raise ParameterError(f"input_lengths={il.tolist()} must be at least 1")
    valid = np.arange(s.shape[1])[None, :] < tl[:, None]
    empty = valid & ~s.any(axis=2)
    if empty.any():
        b, k = np.argwhere(empty)[0]
        raise ParameterError(f"target set {k} of batch item {b} is empty; the empty set is the blank")
    s = s & valid[:, :, None]
    skip = np.zeros(s.shape[:2], dtype=np.uint8)
    if s.shape[1] > 1:
        skip[:, 1:] = np.any(s[:, 1:] != s[:, :-1], axis=2)
    return z, batched, s, tl, il, skip


def multilabel_emissions(logits, target_sets):
    """Log emission of every target set and of the blank (the empty set).

    Parameters
    ----------
    logits : torch.Tensor [shape=(B, T, K)]
        Independent per-class logits (``sigmoid`` gives the activity probability).
    target_sets : torch.Tensor [shape=(B, L, K)], 0/1
        Multi-hot target sets.

    Returns
    -------
    le : torch.Tensor [shape=(B, T, L)]
        ``log e_t(A_k) = sum_c A_kc log q_tc + (1 - A_kc) log(1 - q_tc)``.
    lb : torch.Tensor [shape=(B, T)]
        ``log e_t(empty set) = sum_c log(1 - q_tc)``.
    """
    logq = torch.nn.functional.logsigmoid(logits)
    log1mq = torch.nn.functional.logsigmoid(-logits)
    A = target_sets.to(logits.dtype)
    le = torch.einsum("btc,blc->btl", logq, A) + torch.einsum("btc,blc->btl", log1mq, 1 - A)
    lb = log1mq.sum(-1)
    return le, lb


def multilabel_ctc_loss(
    logits,
    target_sets,
    input_lengths=None,
    target_lengths=None,
    *,
    reduction: str = "mean",
    zero_infinity: bool = False,
    backend: str = "auto",
):
    """Multi-label CTC loss for polyphonic targets (see the module docstring for the model).

    Parameters
    ----------
    logits : torch.Tensor [shape=(B, T, K) or (T, K)]
        Per-frame, per-class logits (independent sigmoids; no blank output: the blank is
        the empty set).
    target_sets : array [shape=(B, L, K) or (L, K)], multi-hot, non-empty sets
    input_lengths, target_lengths : int arrays [shape=(B,)], optional
    reduction : {'none', 'mean', 'sum'}
    zero_infinity : bool

    Returns
    -------
    torch.Tensor [shape=() or (B,)]
    """
    _check_reduction(reduction)
    z, batched, s, tl, il, skip = _prep_multi(logits, target_sets, input_lengths, target_lengths)
    bk = _pick_backend(backend, z)
    le, lb = multilabel_emissions(z, torch.from_numpy(s).to(z.device))
    loss = _CTCFunction.apply(le, lb, skip, il, tl, bk)
    out = _reduce(loss, tl, reduction, zero_infinity)
    return out[0] if reduction == "none" and not batched else out


def multilabel_ctc_posteriors(
    logits, target_sets, input_lengths=None, target_lengths=None, *, backend: str = "auto"
) -> CTCPosteriors:
    """Soft alignment under multi-label CTC; ``class_posteriors`` are ``P(c active at t)``."""
    z, batched, s, tl, il, skip = _prep_multi(logits, target_sets, input_lengths, target_lengths)
    bk = _pick_backend(backend, z)
    with torch.no_grad():
        st = torch.from_numpy(s).to(z.device)
        le, lb = multilabel_emissions(z.detach(), st)
        loss, post_lab, post_blank = _fb(le, lb, skip, il, tl, bk)
        post_lab = post_lab.to(z.device)
        cls = torch.einsum("btl,blc->btc", post_lab, st.to(post_lab.dtype))
    res = CTCPosteriors(loss.to(z.device), cls, post_lab, post_blank.to(z.device))
    if not batched:
        res = CTCPosteriors(
            *(x[0] for x in (res.loss, res.class_posteriors, res.token_posteriors, res.blank_posteriors))
        )
    return res


def multilabel_ctc_forced_align(
    logits, target_sets, input_lengths=None, target_lengths=None, *, backend: str = "auto"
) -> CTCAlignment:
    """Viterbi forced alignment under multi-label CTC (``frame_labels`` = target position)."""
    z, batched, s, tl, il, skip = _prep_multi(logits, target_sets, input_lengths, target_lengths)
    bk = _pick_backend(backend, z)
    with torch.no_grad():
        le, lb = multilabel_emissions(z.detach(), torch.from_numpy(s).to(z.device))
        states, token, starts, ends, scores = _viterbi(le, lb, skip, il, tl, bk)
    res = CTCAlignment(states, token, token.copy(), starts, ends, scores)
    return res if batched else res.squeeze()


# ----------------------------------------------------------------------------- post-processing


def ctc_to_chroma(probs, *, blank: int = 0, log: bool = False, eps: float = 1e-12):
    """Apply the CTC chroma post-processing: drop the blank output, l2-normalise every frame.

    Parameters
    ----------
    probs : np.ndarray or torch.Tensor [shape=(..., T, C)]
        Per-frame class probabilities (or log-probabilities with ``log=True``), e.g. a
        softmax over 12 pitch classes plus the blank.
    blank : int
        Column of the blank.
    log : bool
        Exponentiate first.
    eps : float
        Frames whose norm is below ``eps`` become all zero.

    Returns
    -------
    Same type as ``probs`` [shape=(..., T, C - 1)]
    """
    is_t = isinstance(probs, torch.Tensor)
    x = probs if is_t else torch.from_numpy(np.asarray(probs, dtype=np.float64))
    if x.dim() < 2:
        raise ParameterError(f"probs must have shape (..., T, C), got {tuple(x.shape)}")
    C = x.shape[-1]
    blank = _check_blank(blank, C)
    if log:
        x = x.exp()
    keep = [c for c in range(C) if c != blank]
    y = x[..., keep]
    nrm = y.norm(dim=-1, keepdim=True)
    y = torch.where(nrm > eps, y / nrm.clamp(min=eps), torch.zeros_like(y))
    return y if is_t else y.numpy()
