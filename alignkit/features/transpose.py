"""Transposition handling: cyclic chroma shifts and the optimal shift between two versions.

Convention: :func:`shift_chroma` ``(F, k)`` transposes *up* by ``k`` semitones (pitch class
``c`` moves to ``(c + k) % 12``), and :func:`optimal_chroma_shift` ``(X, Y)`` returns the ``k``
for which ``shift_chroma(Y, k)`` matches ``X`` best. If ``Y = shift_chroma(X, j)`` then the
answer is ``(-j) % 12``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alignkit.exceptions import ParameterError
from alignkit.features.base import Features

__all__ = ["shift_chroma", "optimal_chroma_shift", "chroma_shift_costs"]

_METRICS = ("cosine", "euclidean")
_METHODS = ("global", "dtw")


def _values(F, name: str) -> np.ndarray:
    v = F.values if isinstance(F, Features) else np.asarray(F)
    if v.ndim != 2 or v.shape[1] != 12:
        raise ParameterError(f"{name} must be chroma of shape (n_frames, 12), got shape {v.shape}")
    if v.shape[0] == 0:
        raise ParameterError(f"{name} has no frames")
    v = np.asarray(v, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise ParameterError(f"{name} contains NaN or inf")
    return v


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ParameterError(f"k={k!r} must be an integer number of semitones")
    return int(k)


def shift_chroma(F, k: int):
    """Transpose chroma up by ``k`` semitones (cyclic shift of the pitch-class axis).

    Parameters
    ----------
    F : Features or np.ndarray [shape=(n_frames, 12)]
    k : int
        Any integer; taken modulo 12.

    Returns
    -------
    Features or np.ndarray
        Same type as ``F``. ``out[:, (c + k) % 12] == F[:, c]``. A :class:`Features` keeps its
        name, rate and labels; its params gain ``chroma_shift`` (the accumulated shift mod 12).
    """
    k = _check_k(k) % 12
    if isinstance(F, Features):
        _values(F, "F")
        shifted = np.roll(F.values, k, axis=1)
        total = (int(F.params.get("chroma_shift", 0)) + k) % 12
        return F.replace(values=shifted, params={**F.params, "chroma_shift": total})
    v = np.asarray(F)
    if v.ndim != 2 or v.shape[1] != 12:
        raise ParameterError(f"F must be chroma of shape (n_frames, 12), got shape {v.shape}")
    return np.roll(v, k, axis=1)


def _cost_matrix(X, Y, metric):
    if metric == "cosine":
        nx = np.linalg.norm(X, axis=1, keepdims=True)
        ny = np.linalg.norm(Y, axis=1, keepdims=True)
        Xn = X / np.where(nx > 0, nx, 1.0)
        Yn = Y / np.where(ny > 0, ny, 1.0)
        return 1.0 - Xn @ Yn.T
    d2 = (X * X).sum(1)[:, None] + (Y * Y).sum(1)[None, :] - 2.0 * X @ Y.T
    return np.sqrt(np.maximum(d2, 0.0))


@njit(cache=True)
def _dtw_cost(C):
    # symmetric step sizes (1,0), (0,1), (1,1) with weights 1, 1, 2; cost normalised by N + M
    n, m = C.shape
    prev = np.empty(m)
    cur = np.empty(m)
    prev[0] = C[0, 0]
    for j in range(1, m):
        prev[j] = prev[j - 1] + C[0, j]
    for i in range(1, n):
        cur[0] = prev[0] + C[i, 0]
        for j in range(1, m):
            a = prev[j] + C[i, j]
            b = cur[j - 1] + C[i, j]
            c = prev[j - 1] + 2.0 * C[i, j]
            cur[j] = min(a, min(b, c))
        prev, cur = cur, prev
    return prev[m - 1] / (n + m)


def _pool(v: np.ndarray, max_frames: int) -> np.ndarray:
    n = v.shape[0]
    if n <= max_frames:
        return v
    f = -(-n // max_frames)
    m = -(-n // f)
    pad = np.zeros((m * f, v.shape[1]))
    pad[:n] = v
    return pad.reshape(m, f, v.shape[1]).mean(axis=1)


def chroma_shift_costs(X, Y, *, metric: str = "cosine", method: str = "global",
                       max_frames: int = 400) -> np.ndarray:
    """Cost of matching ``X`` with ``shift_chroma(Y, k)`` for ``k = 0..11``.

    Parameters
    ----------
    X, Y : Features or np.ndarray [shape=(n_frames, 12)]
        Chroma of two versions (any lengths, any normalisation).
    metric : {"cosine", "euclidean"}
        Frame distance (on l2-normalised frames for "euclidean" too, so loudness does not matter).
    method : {"global", "dtw"}
        ``"global"``: distance between the time-averaged chroma vectors (DTW-free, O(N)).
        ``"dtw"``: the length-normalised DTW cost between the sequences, average-pooled to at
        most ``max_frames`` frames each (precise; O(12 * max_frames**2)).
    max_frames : int
        Pooling limit of the ``"dtw"`` method.

    Returns
    -------
    costs : np.ndarray [shape=(12,), dtype=float64]
    """
    if metric not in _METRICS:
        raise ParameterError(f"metric={metric!r} is not one of {list(_METRICS)}")
    if method not in _METHODS:
        raise ParameterError(f"method={method!r} is not one of {list(_METHODS)}")
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)) or max_frames < 1:
        raise ParameterError(f"max_frames={max_frames!r} must be a positive integer")
    x = _values(X, "X")
    y = _values(Y, "Y")

    def unit(v):
        nv = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(nv > 0, nv, 1.0)

    x = unit(x)
    y = unit(y)
    costs = np.empty(12)
    if method == "global":
        hx = x.mean(axis=0, keepdims=True)
        hy = y.mean(axis=0, keepdims=True)
        if metric == "euclidean":
            hx, hy = unit(hx), unit(hy)
        for k in range(12):
            costs[k] = _cost_matrix(hx, np.roll(hy, k, axis=1), metric)[0, 0]
    else:
        xp = _pool(x, int(max_frames))
        yp = _pool(y, int(max_frames))
        for k in range(12):
            costs[k] = _dtw_cost(np.ascontiguousarray(_cost_matrix(xp, np.roll(yp, k, axis=1), metric)))
    return costs


def optimal_chroma_shift(X, Y, *, metric: str = "cosine", method: str = "global",
                         max_frames: int = 400) -> int:
    """Find the cyclic shift of ``Y``'s pitch classes that best matches ``X``.

    Parameters
    ----------
    X, Y : Features or np.ndarray [shape=(n_frames, 12)]
    metric : {"cosine", "euclidean"}
    method : {"global", "dtw"}
        See :func:`chroma_shift_costs`. ``"global"`` compares overall chroma histograms and
        is usually enough; ``"dtw"`` compares the sequences after alignment.
    max_frames : int

    Returns
    -------
    k : int
        In 0..11: ``shift_chroma(Y, k)`` is closest to ``X`` (ties: the smallest ``k``).

    Examples
    --------
    >>> X = np.eye(12)[[0, 4, 7, 0, 5, 9]]
    >>> optimal_chroma_shift(X, shift_chroma(X, 3))
    9
    """
    costs = chroma_shift_costs(X, Y, metric=metric, method=method, max_frames=max_frames)
    return int(np.argmin(costs))
