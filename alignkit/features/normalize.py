"""Frame-wise normalisation of feature sequences (l1, l2, max or none, with a threshold).

Every chroma-like extractor normalises through :func:`normalize`, so one rule holds for the
whole package: a frame whose norm is below ``threshold`` (or exactly zero) is replaced by the
uniform vector of unit norm. Silence therefore becomes "all pitch classes equally likely"
instead of a zero vector, which keeps cosine costs defined and makes silence in one version
equally (dis)similar to everything in the other.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alignkit.exceptions import ParameterError

__all__ = ["NORMS", "normalize", "check_norm", "check_threshold"]

#: The accepted values of ``norm`` (``None`` is accepted as an alias of ``"none"``).
NORMS = ("l1", "l2", "max", "none")
_NORM_CODE = {"l1": 1, "l2": 2, "max": 3}


def check_norm(norm) -> str:
    """Validate a ``norm`` argument and return its canonical string.

    Raises
    ------
    ParameterError
        If ``norm`` is not one of :data:`NORMS` or ``None``.
    """
    if norm is None:
        return "none"
    if not isinstance(norm, str) or norm not in NORMS:
        raise ParameterError(f"norm={norm!r} is not one of {list(NORMS)} (or None)")
    return norm


def check_threshold(threshold, name: str = "norm_threshold") -> float:
    """Validate a non-negative finite threshold and return it as a float."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name}={threshold!r} must be a non-negative number")
    t = float(threshold)
    if not np.isfinite(t) or t < 0:
        raise ParameterError(f"{name}={threshold!r} must be a non-negative finite number")
    return t


def normalize(values: np.ndarray, *, norm: str | None = "l2", threshold: float = 0.0) -> np.ndarray:
    """Normalise every frame (row) of a time-first feature array.

    Parameters
    ----------
    values : np.ndarray [shape=(n_frames, n_dims)]
        Non-negative or signed features, time first.
    norm : {"l1", "l2", "max", "none"} or None
        The frame norm: sum of absolute values, Euclidean length, largest absolute value,
        or no normalisation (``"none"``/``None`` returns a float32 copy, threshold ignored).
    threshold : float, >= 0
        Frames whose norm is below ``threshold`` (and frames of norm zero, whatever the
        threshold) become the uniform vector of unit norm: ``1/d`` per entry for ``"l1"``,
        ``1/sqrt(d)`` for ``"l2"``, ``1`` for ``"max"``.

    Returns
    -------
    out : np.ndarray [shape=(n_frames, n_dims), dtype=float32]
        Every frame has norm exactly 1 (up to float32 rounding) unless ``norm="none"``.

    Raises
    ------
    ParameterError
        Bad ``norm``, a negative or non-finite ``threshold``, or ``values`` not 2-D or
        holding NaN/inf.

    Examples
    --------
    >>> normalize(np.array([[3.0, 4.0], [0.0, 0.0]]), norm="l2")
    array([[0.6       , 0.8       ],
           [0.70710677, 0.70710677]], dtype=float32)
    """
    norm = check_norm(norm)
    thr = check_threshold(threshold, "threshold")
    x = np.asarray(values)
    if x.ndim != 2:
        raise ParameterError(f"values must be 2-D (n_frames, n_dims), got shape {x.shape}")
    if x.dtype.kind not in "fiub":
        raise ParameterError(f"values must be numeric, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.size and not np.all(np.isfinite(x)):
        raise ParameterError("values contain NaN or inf")
    if norm == "none" or x.shape[1] == 0:
        return x.copy()
    out = np.empty_like(x)
    _normalize_kernel(x, out, _NORM_CODE[norm], thr)
    return out


@njit(cache=True)
def _normalize_kernel(x, out, code, thr):
    n, d = x.shape
    if code == 1:
        uni = 1.0 / d
    elif code == 2:
        uni = 1.0 / np.sqrt(d)
    else:
        uni = 1.0
    for i in range(n):
        s = 0.0
        if code == 1:
            for j in range(d):
                s += abs(x[i, j])
        elif code == 2:
            for j in range(d):
                s += float(x[i, j]) * float(x[i, j])
            s = np.sqrt(s)
        else:
            for j in range(d):
                a = abs(x[i, j])
                if a > s:
                    s = a
        if s <= 0.0 or s < thr:
            for j in range(d):
                out[i, j] = uni
        else:
            inv = 1.0 / s
            for j in range(d):
                out[i, j] = x[i, j] * inv
