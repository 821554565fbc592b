"""Subsequence DTW: find a short query ``X`` inside a long recording ``Y``.

The path must cover the whole query (rows ``0 .. N-1``) but may start and end at any frame
of ``Y``: every cell of row 0 is a start (``D[0, m] = C[0, m]``). The *matching function*
``Delta[m] = D[N - 1, m]`` is the cost of the best match ending at frame ``m`` of ``Y``;
its minima are the matches (Müller, FMP, "Subsequence DTW").
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from alignkit.align._kernels import cpu_dtw as _k
from alignkit.align.dtw import _as_problem, _run_region, resolve_step_sizes
from alignkit.exceptions import ParameterError

__all__ = ["subsequence_dtw", "SubsequenceResult", "SubsequenceMatch"]


@dataclass(frozen=True)
class SubsequenceMatch:
    """One match of the query in ``Y``.

    Attributes
    ----------
    start, end : int
        First and last frame of ``Y`` covered by the match (inclusive).
    cost : float
        Accumulated cost of the match (``matching_function[end]``).
    path : np.ndarray [shape=(L, 2), dtype=int64]
        The match's path, start -> end: column 0 query frames (``0 .. N-1``), column 1
        frames of ``Y``.
    """

    start: int
    end: int
    cost: float
    path: np.ndarray


@dataclass(frozen=True)
class SubsequenceResult:
    """Result of :func:`subsequence_dtw`.

    Attributes
    ----------
    matching_function : np.ndarray [shape=(M,), dtype=float64]
        Cost of the best match ending at each frame of ``Y`` (``inf`` where none can end).
    matches : list of SubsequenceMatch
        Up to ``k`` non-overlapping matches, best first.
    step_sizes : str
    """

    matching_function: np.ndarray
    matches: list
    step_sizes: str

    @property
    def best(self) -> SubsequenceMatch:
        """The best match."""
        return self.matches[0]


def subsequence_dtw(X=None, Y=None, *, C=None, metric: str = "cosine", step_sizes="symmetric2",
                    weights=None, k: int = 1, exclusion: int | None = None) -> SubsequenceResult:
    """Locate a query inside a longer sequence with subsequence DTW.

    Parameters
    ----------
    X : np.ndarray [shape=(N, D)] or Features, optional
        The query (rows).
    Y : np.ndarray [shape=(M, D)] or Features, optional
        The long sequence searched (columns).
    C : np.ndarray [shape=(N, M)], optional
        Precomputed cost matrix instead of ``X`` and ``Y``.
    metric : {"cosine", "euclidean", "sqeuclidean"}
    step_sizes : str or np.ndarray [shape=(S, 2)]
        As in :func:`alignkit.align.dtw.dtw` (default ``"symmetric2"``; ``"sigma2"`` keeps
        the match's tempo within a factor of 2 of the query's).
    weights : np.ndarray [shape=(S,)], optional
    k : int
        Number of matches wanted (>= 1). Fewer are returned when no further
        non-overlapping match exists.
    exclusion : int, optional
        After each match ``[start, end]``, no further match may end within
        ``[start - exclusion, end + exclusion]``; default ``N // 2``. Matches never overlap
        each other in ``Y`` regardless of this value.

    Returns
    -------
    SubsequenceResult

    Raises
    ------
    ParameterError
        Bad arguments.
    """
    prob = _as_problem(X, Y, C, metric)
    name, steps, w = resolve_step_sizes(step_sizes, weights)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ParameterError(f"k={k!r} must be a positive integer")
    n, m = prob.n, prob.m
    if exclusion is None:
        exclusion = n // 2
    if isinstance(exclusion, bool) or not isinstance(exclusion, numbers.Integral) or exclusion < 0:
        raise ParameterError(f"exclusion={exclusion!r} must be a non-negative integer number of frames")
    bp, last, _, reg, offs = _run_region(prob, None, steps, w, subseq=True, want_acc=False)
    delta = np.asarray(last, dtype=np.float64)
    di = np.ascontiguousarray(steps[:, 0])
    dj = np.ascontiguousarray(steps[:, 1])
    candidates = delta.copy()
    taken: list[tuple[int, int]] = []
    matches: list[SubsequenceMatch] = []
    while len(matches) < k:
        end = int(np.argmin(candidates))
        if not np.isfinite(candidates[end]):
            break
        path = _k.traceback_region(bp, offs, reg.lo, di, dj, n - 1, end)
        candidates[end] = np.inf
        if path.shape[0] == 0:
            continue
        start = int(path[0, 1])
        if any(not (end < s or start > e) for s, e in taken):
            continue  # overlaps an earlier match
        matches.append(SubsequenceMatch(start=start, end=end, cost=float(delta[end]), path=path))
        taken.append((start, end))
        candidates[max(0, start - exclusion):min(m, end + exclusion + 1)] = np.inf
    if not matches:
        raise ParameterError(
            f"no admissible match of the {n}-frame query in {m} frames with step_sizes={name!r}"
        )
    return SubsequenceResult(matching_function=delta, matches=matches, step_sizes=name)
