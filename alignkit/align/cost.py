"""Local cost between two feature sequences.

The cost matrix ``C[n, m]`` compares frame ``n`` of ``X`` (rows, version A) with frame ``m``
of ``Y`` (columns, version B). The DTW kernels never need it in full when features are
given: they compute the same local cost on the fly from the arrays that
:func:`prepare_features` returns (for the cosine metric, rows normalised to unit length,
so the cost is ``1 - dot``).

Metrics
-------
``"cosine"``
    ``1 - <x, y> / (|x| |y|)``. A zero vector has cosine similarity 0 with everything, so
    its cost is 1 against any frame (also against another zero vector).
``"euclidean"``
    ``|x - y|``.
``"sqeuclidean"``
    ``|x - y|^2``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alignkit.exceptions import ParameterError

__all__ = ["cost_matrix", "METRICS", "as_feature_pair", "prepare_features"]

METRICS = ("cosine", "euclidean", "sqeuclidean")
# the integer code the kernels use for each metric
METRIC_CODES = {"cosine": 0, "euclidean": 1, "sqeuclidean": 2}


def _values(x, name: str) -> tuple[np.ndarray, float | None]:
    """``x`` as a 2-D float array plus its frame rate (None for a bare array)."""
    rate = None
    if hasattr(x, "values") and hasattr(x, "frame_rate"):  # alignkit Features (duck-typed)
        rate = float(x.frame_rate)
        x = x.values
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise ParameterError(f"{name} must be a numeric array or Features, got dtype {arr.dtype}")
    if arr.ndim == 1:
        raise ParameterError(
            f"{name} must be 2-D (n_frames, n_dims), got shape {arr.shape}; "
            "reshape a 1-D sequence with x[:, None]"
        )
    if arr.ndim != 2:
        raise ParameterError(f"{name} must be 2-D (n_frames, n_dims), got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ParameterError(f"{name} must hold at least one frame and one dimension, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} holds NaN or infinite values")
    return arr, rate


def as_feature_pair(X, Y, *, names: tuple[str, str] = ("X", "Y")) -> tuple[np.ndarray, np.ndarray]:
    """Validate two feature sequences (arrays or ``Features``) and return their value arrays.

    Parameters
    ----------
    X : np.ndarray [shape=(N, D)] or Features
    Y : np.ndarray [shape=(M, D)] or Features

    Returns
    -------
    X, Y : np.ndarray
        The value arrays (not copied, not cast).

    Raises
    ------
    ParameterError
        Wrong shapes, different feature dimensions, non-finite values, or two
        ``Features`` with different frame rates.
    """
    x, rx = _values(X, names[0])
    y, ry = _values(Y, names[1])
    if rx is not None and ry is not None and not np.isclose(rx, ry, rtol=1e-9, atol=0.0):
        raise ParameterError(
            f"frame rates differ: {names[0]} at {rx} Hz, {names[1]} at {ry} Hz; resample one of them first"
        )
    if x.shape[1] != y.shape[1]:
        raise ParameterError(
            f"{names[0]} and {names[1]} have different feature dimensions: {x.shape[1]} vs {y.shape[1]}"
        )
    return x, y


def _check_metric(metric) -> str:
    if metric not in METRICS:
        raise ParameterError(f"metric={metric!r} is not one of {list(METRICS)}")
    return metric


def _unit_rows(a: np.ndarray) -> np.ndarray:
    """Rows scaled to unit l2 norm (float32); zero rows stay zero."""
    a = np.asarray(a)
    norms = np.sqrt(np.einsum("ij,ij->i", a, a, dtype=np.float64))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return np.ascontiguousarray(a * scale[:, None], dtype=np.float32)


def prepare_features(x: np.ndarray, y: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Float32 C-contiguous copies of the features as the kernels want them.

    For ``"cosine"`` the rows are normalised to unit length (zero rows stay zero), so the
    local cost is ``1 - dot(x, y)``; for the other metrics the values are only cast.
    """
    if metric == "cosine":
        return _unit_rows(x), _unit_rows(y)
    return (np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y, dtype=np.float32))


def _single_cost(X, Y, metric: str) -> np.ndarray:
    x, y = as_feature_pair(X, Y)
    if metric == "cosine":
        xu, yu = _unit_rows(x), _unit_rows(y)
        c = 1.0 - xu @ yu.T
        return np.clip(c, 0.0, 2.0, out=c).astype(np.float32, copy=False)
    x64 = np.asarray(x, dtype=np.float64)
    y64 = np.asarray(y, dtype=np.float64)
    sq = (np.einsum("ij,ij->i", x64, x64)[:, None] + np.einsum("ij,ij->i", y64, y64)[None, :]
          - 2.0 * (x64 @ y64.T))
    np.maximum(sq, 0.0, out=sq)
    if metric == "euclidean":
        np.sqrt(sq, out=sq)
    return sq.astype(np.float32)


def cost_matrix(X, Y=None, *, metric: str = "cosine", weights: Sequence[float] | None = None,
                cost_offset: float = 0.0) -> np.ndarray:
    """Local cost matrix between two feature sequences.

    Parameters
    ----------
    X : np.ndarray [shape=(N, D)] or Features, or list of (X_k, Y_k) pairs
        Frames of version A (rows of the result). The multi-feature form passes a list of
        pairs ``[(X1, Y1), (X2, Y2), ...]`` (each pair with its own feature dimension but
        the same ``N`` and ``M``) and leaves ``Y`` out; the result is the weighted sum of
        the pairs' cost matrices (e.g. chroma + DLNCO onset features for high-resolution
        synchronisation).
    Y : np.ndarray [shape=(M, D)] or Features
        Frames of version B (columns).
    metric : {"cosine", "euclidean", "sqeuclidean"}
        See the module docstring. Cosine handles zero vectors (cost 1).
    weights : sequence of float, optional
        One non-negative weight per pair in the multi-feature form (default all 1).
    cost_offset : float
        Constant added to every entry (after weighting), the same rescaling that
        ``dtw(..., cost_offset=...)`` fuses into its kernels: ``dtw(C=cost_matrix(X, Y,
        cost_offset=c))`` equals ``dtw(X, Y, cost_offset=c)``.

    Returns
    -------
    C : np.ndarray [shape=(N, M), dtype=float32]

    Raises
    ------
    ParameterError
        Unknown metric, bad shapes, mismatched frame rates or frame counts, bad weights.

    Examples
    --------
    >>> import numpy as np
    >>> C = cost_matrix(np.eye(3), np.eye(3))
    >>> C.shape, float(C[0, 0]), float(C[0, 1])
    ((3, 3), 0.0, 1.0)
    """
    _check_metric(metric)
    real = (int, float, np.floating, np.integer)
    if isinstance(cost_offset, (bool, np.bool_)) or not isinstance(cost_offset, real) \
            or not np.isfinite(cost_offset):
        raise ParameterError(f"cost_offset={cost_offset!r} must be a finite real number")
    off = np.float32(cost_offset)
    if Y is not None:
        if weights is not None:
            raise ParameterError("weights apply only to the multi-feature form cost_matrix([(X1, Y1), ...])")
        c = _single_cost(X, Y, metric)
        return c + off if off != 0 else c
    if not isinstance(X, (list, tuple)) or len(X) == 0:
        raise ParameterError("cost_matrix needs X and Y, or a non-empty list of (X, Y) pairs")
    pairs = list(X)
    for k, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ParameterError(f"multi-feature entry {k} must be an (X, Y) pair, got {type(pair).__name__}")
    if weights is None:
        w = np.ones(len(pairs))
    else:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape != (len(pairs),):
            raise ParameterError(f"weights has {w.size} entries for {len(pairs)} feature pairs")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ParameterError(f"weights={w.tolist()} must be finite and non-negative")
    total = None
    shape = None
    rates: list[float] = []
    for k, (xk, yk) in enumerate(pairs):
        for f in (xk, yk):
            if hasattr(f, "frame_rate"):
                rates.append(float(f.frame_rate))
        ck = _single_cost(xk, yk, metric)
        if shape is None:
            shape = ck.shape
        elif ck.shape != shape:
            raise ParameterError(f"feature pair {k} gives a {ck.shape} cost matrix, pair 0 gave {shape}")
        ck *= np.float32(w[k])
        total = ck if total is None else total + ck
    if rates and not np.allclose(rates, rates[0], rtol=1e-9, atol=0.0):
        raise ParameterError(f"frame rates differ between feature pairs: {sorted(set(rates))}")
    total = total.astype(np.float32, copy=False)
    return total + off if off != 0 else total
