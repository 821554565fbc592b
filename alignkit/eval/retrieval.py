"""Retrieval metrics: ranks of the correct items, top-k accuracy, mean reciprocal rank.

Every function takes either the 1-based ranks of the correct item per query, or a score
matrix of shape ``(n_queries, n_items)`` with the correct items given by ``targets``.
"""

from __future__ import annotations

import numpy as np

from alignkit.exceptions import ParameterError

__all__ = ["ranks_from_scores", "top_k_accuracy", "mean_reciprocal_rank"]


def ranks_from_scores(scores, targets=None, *, larger_is_better: bool = True) -> np.ndarray:
    """1-based rank of the (best-ranked) correct item for each query.

    Parameters
    ----------
    scores : array-like [shape=(Q, I)]
        Score of every item for every query (similarities, or distances with
        ``larger_is_better=False``).
    targets : array-like [shape=(Q,)] of int, or [shape=(Q, I)] of bool, optional
        Index of the correct item per query, or a relevance mask (the best-ranked relevant
        item counts). Default: item ``q`` is correct for query ``q`` (needs ``Q <= I``).
    larger_is_better : bool
        Whether a larger score ranks higher.

    Returns
    -------
    ranks : np.ndarray [shape=(Q,), dtype=int64]
        ``1 +`` the number of items scoring strictly better than the correct one, ``+`` the
        number of other items tying with it (ties are resolved pessimistically, so a
        constant score matrix cannot look good).

    Raises
    ------
    ParameterError
        Bad shapes, non-finite scores, out-of-range targets, or a query with no relevant item.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] < 1 or s.shape[1] < 1:
        raise ParameterError(f"scores must have shape (n_queries, n_items), got {s.shape}")
    if np.isnan(s).any():
        raise ParameterError("scores hold NaN")
    if not larger_is_better:
        s = -s
    q, n = s.shape
    if targets is None:
        if q > n:
            raise ParameterError(f"targets=None needs n_queries <= n_items, got scores of shape {s.shape}")
        mask = np.zeros_like(s, dtype=bool)
        mask[np.arange(q), np.arange(q)] = True
    else:
        t = np.asarray(targets)
        if t.dtype == bool:
            if t.shape != s.shape:
                raise ParameterError(
                    f"a relevance mask must have the shape of scores {s.shape}, got {t.shape}"
                )
            mask = t
            empty = np.flatnonzero(~mask.any(axis=1))
            if empty.size:
                raise ParameterError(f"query {int(empty[0])} has no relevant item")
        else:
            if t.shape != (q,) or t.dtype.kind not in "iu":
                raise ParameterError(
                    f"targets must be {q} integer item indices, got shape {t.shape}, dtype {t.dtype}"
                )
            if np.any((t < 0) | (t >= n)):
                raise ParameterError(f"targets must lie in [0, {n}), got {t.min()}..{t.max()}")
            mask = np.zeros_like(s, dtype=bool)
            mask[np.arange(q), t] = True
    best = np.where(mask, s, -np.inf).max(axis=1)  # the best relevant item's score
    better = (s > best[:, None]).sum(axis=1)
    ties = ((s == best[:, None]) & ~mask).sum(axis=1)
    return (1 + better + ties).astype(np.int64)


def _ranks(ranks_or_scores, targets, larger_is_better: bool) -> np.ndarray:
    a = np.asarray(ranks_or_scores)
    if a.ndim == 2:
        return ranks_from_scores(a, targets, larger_is_better=larger_is_better)
    if targets is not None:
        raise ParameterError("targets only go with a 2-D score matrix, not with ranks")
    if a.ndim != 1 or a.size == 0:
        raise ParameterError(f"ranks must be a non-empty 1-D array, got shape {a.shape}")
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu" or np.any(a < 1):
        raise ParameterError(f"ranks must be integers >= 1 (1 = correct item first), got {a[:5]!r}...")
    return a.astype(np.int64)


def top_k_accuracy(ranks_or_scores, k: int = 1, *, targets=None, larger_is_better: bool = True) -> float:
    """Share of queries whose correct item ranks within the top ``k``.

    Parameters
    ----------
    ranks_or_scores : array-like [shape=(Q,)] of int >= 1, or [shape=(Q, I)]
        1-based ranks, or a score matrix (see :func:`ranks_from_scores`).
    k : int
        Cut-off, >= 1.
    targets, larger_is_better
        As in :func:`ranks_from_scores` (score matrices only).

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> top_k_accuracy([1, 3, 2, 5], k=2)
    0.5
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k={k!r} must be a positive integer")
    r = _ranks(ranks_or_scores, targets, larger_is_better)
    return float(np.mean(r <= k))


def mean_reciprocal_rank(ranks_or_scores, *, targets=None, larger_is_better: bool = True) -> float:
    """Mean over queries of ``1 / rank`` of the correct item.

    Parameters
    ----------
    ranks_or_scores : array-like [shape=(Q,)] of int >= 1, or [shape=(Q, I)]
        1-based ranks, or a score matrix (see :func:`ranks_from_scores`).
    targets, larger_is_better
        As in :func:`ranks_from_scores` (score matrices only).

    Returns
    -------
    float in (0, 1]

    Examples
    --------
    >>> mean_reciprocal_rank([1, 2, 4])
    0.5833333333333334
    """
    r = _ranks(ranks_or_scores, targets, larger_is_better)
    return float(np.mean(1.0 / r))
