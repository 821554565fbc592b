"""Ground truth for tests: synthetic warps, warped features, chroma-like sequences, a DTW oracle.

- :func:`random_warp` draws a smooth, strictly increasing map between the frame axes of two
  versions (a :class:`Warp`), whose :meth:`Warp.path` is the true warping path;
- :func:`warp_features` resamples a feature sequence through such a warp (version B = version
  A played with a different, varying tempo), so any aligner can be scored against the truth;
- :func:`random_chroma_sequence` makes chroma-like sequences (12-D, non-negative, l2-normalised,
  piecewise constant like chords);
- :func:`brute_force_dtw` enumerates every warping path of a tiny cost matrix: the oracle for
  DTW kernels, step-size sets and weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alignkit.align.paths import TimeMap, fill_path
from alignkit.exceptions import ParameterError

__all__ = [
    "Warp",
    "random_warp",
    "warp_features",
    "random_chroma_sequence",
    "brute_force_dtw",
    "STEP_SETS",
]

#: Step-size sets and weights by name, in the ``(steps, weights)`` form of :func:`brute_force_dtw`.
STEP_SETS: dict[str, tuple[tuple[tuple[int, int], ...], tuple[float, ...]]] = {
    "symmetric1": (((1, 0), (0, 1), (1, 1)), (1.0, 1.0, 1.0)),
    "symmetric2": (((1, 0), (0, 1), (1, 1)), (1.0, 1.0, 2.0)),
    "sigma2": (((2, 1), (1, 2), (1, 1)), (1.0, 1.0, 1.0)),  # alignkit.align.dtw's name for it
    "asymmetric_21": (((2, 1), (1, 2), (1, 1)), (1.0, 1.0, 1.0)),  # alias of sigma2
}


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ParameterError(f"rng={rng!r} must be a numpy Generator or an integer seed")


@dataclass(frozen=True, eq=False)
class Warp:
    """A strictly increasing, piecewise-linear map from frame positions of A to those of B.

    Parameters
    ----------
    knots_a, knots_b : np.ndarray [shape=(K,), dtype=float64]
        Knots of the map, both strictly increasing, from ``(0, 0)`` to ``(n_a - 1, n_b - 1)``.

    Frame ``i`` of A corresponds to the (fractional) frame ``warp(i)`` of B.
    """

    knots_a: np.ndarray
    knots_b: np.ndarray

    def __post_init__(self):
        a = np.asarray(self.knots_a, dtype=np.float64)
        b = np.asarray(self.knots_b, dtype=np.float64)
        if a.ndim != 1 or a.shape != b.shape or a.size < 2:
            raise ParameterError(
                f"knots must be two 1-D arrays of equal length >= 2, got {a.shape}, {b.shape}"
            )
        if a[0] != 0 or b[0] != 0:
            raise ParameterError(f"a warp starts at (0, 0), got ({a[0]}, {b[0]})")
        if np.any(np.diff(a) <= 0) or np.any(np.diff(b) <= 0):
            raise ParameterError("warp knots must be strictly increasing in both coordinates")
        if a[-1] != round(a[-1]) or b[-1] != round(b[-1]):
            raise ParameterError(f"a warp ends on whole frames, got ({a[-1]}, {b[-1]})")
        object.__setattr__(self, "knots_a", a)
        object.__setattr__(self, "knots_b", b)

    @property
    def n_a(self) -> int:
        """Number of frames of A."""
        return int(round(self.knots_a[-1])) + 1

    @property
    def n_b(self) -> int:
        """Number of frames of B."""
        return int(round(self.knots_b[-1])) + 1

    def __call__(self, frames_a) -> np.ndarray:
        """Map (fractional) frame positions of A to B."""
        return np.interp(np.asarray(frames_a, dtype=np.float64), self.knots_a, self.knots_b)

    def inverse(self) -> Warp:
        """Return the warp B -> A."""
        return Warp(self.knots_b.copy(), self.knots_a.copy())

    def slopes(self) -> np.ndarray:
        """Local slopes (B frames per A frame) of the map's segments."""
        return np.diff(self.knots_b) / np.diff(self.knots_a)

    def path(self) -> np.ndarray:
        """Return the true warping path: the continuous global path closest to the curve.

        Points ``(i, round(warp(i)))`` for every A frame and ``(round(warp⁻¹(j)), j)`` for every
        B frame, in order along the curve, made continuous with :func:`fill_path`.

        Returns
        -------
        np.ndarray [shape=(L, 2), dtype=int64], from ``(0, 0)`` to ``(n_a - 1, n_b - 1)``
        """
        ia = np.arange(self.n_a, dtype=np.float64)
        jb = np.arange(self.n_b, dtype=np.float64)
        pa = np.stack([ia, self(ia)], axis=1)
        pb = np.stack([self.inverse()(jb), jb], axis=1)
        pts = np.concatenate([pa, pb], axis=0)
        pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]
        q = np.rint(pts).astype(np.int64)
        # order along the curve keeps both rounded columns non-decreasing; enforce against ties
        q[:, 0] = np.maximum.accumulate(q[:, 0])
        q[:, 1] = np.maximum.accumulate(q[:, 1])
        keep = np.ones(len(q), dtype=bool)
        keep[1:] = np.any(np.diff(q, axis=0) != 0, axis=1)
        return fill_path(q[keep])

    def time_map(self, frame_rate_a: float, frame_rate_b: float | None = None) -> TimeMap:
        """Return the true map "time in A -> time in B" (seconds)."""
        rb = frame_rate_a if frame_rate_b is None else frame_rate_b
        pts = np.stack([self.knots_a / frame_rate_a, self.knots_b / rb], axis=1)
        return TimeMap(points=pts, strict=True)


def random_warp(
    n_frames: int,
    *,
    rng,
    n_frames_b: int | None = None,
    max_slope: float = 2.0,
    smoothness: float = 0.1,
) -> Warp:
    """Draw a random smooth tempo curve: a :class:`Warp` from ``n_frames`` to ``n_frames_b`` frames.

    The log-slope follows a random curve through control points spaced ``smoothness`` of the
    length apart (cosine-interpolated, so the tempo changes gradually); the slopes are then
    scaled so the warp ends at ``(n_frames - 1, n_frames_b - 1)``.

    Parameters
    ----------
    n_frames : int
        Frames of A (>= 2).
    rng : numpy.random.Generator or int
        Randomness (a seed is accepted for convenience).
    n_frames_b : int, optional
        Frames of B (>= 2); default ``n_frames``.
    max_slope : float
        Bound (> 1) on the local tempo ratio relative to the mean: every local slope lies in
        ``[r / max_slope, r * max_slope]`` with ``r = (n_frames_b - 1) / (n_frames - 1)``.
    smoothness : float in (0, 1]
        Spacing of the tempo's control points as a share of the length (small = wiggly).

    Returns
    -------
    Warp
    """
    g = _rng(rng)
    n_b = n_frames if n_frames_b is None else n_frames_b
    for name, v in (("n_frames", n_frames), ("n_frames_b", n_b)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
            raise ParameterError(f"{name}={v!r} must be an integer >= 2")
    if not (np.isfinite(max_slope) and max_slope > 1):
        raise ParameterError(f"max_slope={max_slope!r} must be a finite number > 1")
    if not (0 < smoothness <= 1):
        raise ParameterError(f"smoothness={smoothness!r} must lie in (0, 1]")
    n_seg = n_frames - 1
    n_ctrl = int(np.ceil(1.0 / smoothness)) + 1
    ctrl = g.uniform(-1.0, 1.0, size=n_ctrl)
    # cosine interpolation of the control values at every segment centre
    pos = (np.arange(n_seg) + 0.5) / n_seg * (n_ctrl - 1)
    k = np.minimum(np.floor(pos).astype(np.int64), n_ctrl - 2)
    f = pos - k
    w = (1 - np.cos(np.pi * f)) / 2
    u = ctrl[k] * (1 - w) + ctrl[k + 1] * w
    # slopes in [max_slope**-0.5, max_slope**0.5] -> after normalising by the mean slope the
    # ratio to the mean stays within [1 / max_slope, max_slope]
    s = np.exp(u * 0.5 * np.log(max_slope))
    s = s / s.mean() * ((n_b - 1) / n_seg)
    kb = np.concatenate([[0.0], np.cumsum(s)])
    kb[-1] = float(n_b - 1)  # exact end despite round-off
    kb[1:-1] = np.minimum(kb[1:-1], np.nextafter(kb[-1], 0))
    return Warp(np.arange(n_frames, dtype=np.float64), kb)


def warp_features(
    X,
    warp: Warp,
    *,
    noise: float = 0.0,
    rng=None,
    normalize: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample a feature sequence through a known warp: version B of version A.

    ``Y[j]`` is ``X`` linearly interpolated at A position ``warp⁻¹(j)``, optionally plus
    Gaussian noise.

    Parameters
    ----------
    X : np.ndarray [shape=(n_a, d)]
        Features of A, time-first.
    warp : Warp
        Map from A frames to B frames, with ``warp.n_a == n_a``.
    noise : float
        Standard deviation of added Gaussian noise (0: none).
    rng : numpy.random.Generator or int, optional
        Randomness for the noise.
    normalize : {None, 'l2', 'l2_nonneg'}
        Re-normalise each frame of ``Y`` after the noise (``'l2_nonneg'`` clips negatives to
        0 first, as for chroma).

    Returns
    -------
    Y : np.ndarray [shape=(warp.n_b, d)], the dtype of ``X`` (float)
    true_path : np.ndarray [shape=(L, 2), dtype=int64]
        ``warp.path()``, the ground-truth path A -> B.

    Raises
    ------
    ParameterError
        Shape mismatch, negative noise, unknown normalisation.
    """
    x = np.asarray(X)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ParameterError(f"X must have shape (n_frames >= 2, n_dims), got {x.shape}")
    if not isinstance(warp, Warp):
        raise ParameterError(f"warp must be an alignkit.testing.Warp, got {type(warp).__name__}")
    if warp.n_a != x.shape[0]:
        raise ParameterError(f"warp is defined on {warp.n_a} frames but X has {x.shape[0]}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ParameterError(f"noise={noise!r} must be a non-negative number")
    if normalize not in (None, "l2", "l2_nonneg"):
        raise ParameterError(f"normalize={normalize!r} is not one of [None, 'l2', 'l2_nonneg']")
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    xf = x.astype(np.float64)
    pos = np.clip(warp.inverse()(np.arange(warp.n_b, dtype=np.float64)), 0, x.shape[0] - 1)
    i0 = np.minimum(np.floor(pos).astype(np.int64), x.shape[0] - 2)
    f = (pos - i0)[:, None]
    y = xf[i0] * (1 - f) + xf[i0 + 1] * f
    if noise > 0:
        y = y + _rng(rng).normal(0.0, noise, size=y.shape)
    if normalize is not None:
        if normalize == "l2_nonneg":
            y = np.maximum(y, 0.0)
        nrm = np.linalg.norm(y, axis=1, keepdims=True)
        y = np.where(nrm > 0, y / np.where(nrm > 0, nrm, 1.0), 1.0 / np.sqrt(y.shape[1]))
    return y.astype(dtype), warp.path()


_MAJOR = (0, 4, 7)
_MINOR = (0, 3, 7)
_SEVENTH = (0, 4, 7, 10)


def random_chroma_sequence(
    n: int,
    *,
    rng,
    mean_segment: float = 12.0,
    noise: float = 0.05,
    dtype=np.float32,
) -> np.ndarray:
    """Make a chroma-like sequence: chords held for random durations, plus a little noise.

    Each segment holds a major, minor or dominant-seventh chord on a random root (the root
    weighted highest, a random subset of non-chord tones faintly present); segment lengths
    are geometric with mean ``mean_segment`` frames; consecutive chords differ.

    Parameters
    ----------
    n : int
        Number of frames (>= 1).
    rng : numpy.random.Generator or int
        Randomness.
    mean_segment : float
        Mean chord duration in frames (>= 1).
    noise : float
        Amplitude of uniform noise added before normalising (>= 0).
    dtype : numpy float dtype

    Returns
    -------
    np.ndarray [shape=(n, 12)]
        Non-negative, each row of unit l2 norm.
    """
    g = _rng(rng)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"n={n!r} must be a positive integer")
    if not (np.isfinite(mean_segment) and mean_segment >= 1):
        raise ParameterError(f"mean_segment={mean_segment!r} must be >= 1")
    if not (np.isfinite(noise) and noise >= 0):
        raise ParameterError(f"noise={noise!r} must be non-negative")
    out = np.empty((n, 12), dtype=np.float64)
    pos, prev = 0, None
    while pos < n:
        length = int(g.geometric(1.0 / mean_segment))
        while True:
            root = int(g.integers(12))
            shape = (_MAJOR, _MINOR, _SEVENTH)[int(g.integers(3))]
            key = (root, shape)
            if key != prev:
                break
        prev = key
        v = g.uniform(0.0, 0.15, size=12) * (g.random(12) < 0.3)
        for k, iv in enumerate(shape):
            v[(root + iv) % 12] = 1.0 if k == 0 else g.uniform(0.5, 0.9)
        out[pos : pos + length] = v
        pos += length
    out += g.uniform(0.0, noise, size=out.shape)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(dtype)


def brute_force_dtw(
    C,
    steps: Sequence[tuple[int, int]] = ((1, 0), (0, 1), (1, 1)),
    weights: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    subsequence: bool = False,
    rtol: float = 1e-9,
    max_paths: int = 500_000,
) -> tuple[float, list[np.ndarray]]:
    """Exhaustive DTW: the minimum cost over every warping path, and all paths attaining it.

    The cost of a path ``p_0, ..., p_L`` made of steps ``s_k`` is
    ``C[p_0] + sum_k weights[s_k] * C[p_k]`` (the start cell counts once, each step adds its
    weight times the cost of the cell it lands on), as in librosa and the FMP notebooks.

    Parameters
    ----------
    C : np.ndarray [shape=(N, M)]
        Cost matrix; keep it tiny (the number of paths grows exponentially; 6 x 6 has 1,683
        with the symmetric steps).
    steps : sequence of (int, int)
        Allowed steps ``(di, dj)`` with ``di, dj >= 0`` and ``di + dj >= 1``.
    weights : sequence of float
        One weight per step.
    subsequence : bool
        Subsequence DTW: paths start at any ``(0, b0)`` and end at any ``(N - 1, b1)``.
    rtol : float
        Paths within ``rtol * max(1, |min cost|)`` of the minimum count as optimal (ties).
    max_paths : int
        Refuse (ParameterError) to enumerate more paths than this.

    Returns
    -------
    min_cost : float
        The minimum path cost (``inf`` if no path exists for these steps and this shape).
    paths : list of np.ndarray [shape=(L, 2), dtype=int64]
        Every optimal path in alignkit's convention (start to end), as the sequence of cells
        the steps visit (steps like (2, 1) leave gaps: apply
        :func:`~alignkit.align.paths.fill_path` to compare with a filled path), sorted
        lexicographically; empty if no path exists.

    Examples
    --------
    >>> cost, paths = brute_force_dtw(np.array([[0.0, 1.0], [1.0, 0.0]]))
    >>> cost, [p.tolist() for p in paths]
    (0.0, [[[0, 0], [1, 1]]])
    """
    c = np.asarray(C, dtype=np.float64)
    if c.ndim != 2 or min(c.shape) < 1:
        raise ParameterError(f"C must be a non-empty 2-D matrix, got shape {c.shape}")
    st = [tuple(int(v) for v in s) for s in steps]
    if len(st) == 0 or any(len(s) != 2 or s[0] < 0 or s[1] < 0 or s[0] + s[1] < 1 for s in st):
        raise ParameterError(f"steps={list(steps)!r} must be pairs (di, dj) >= 0, not (0, 0)")
    w = [float(v) for v in weights]
    if len(w) != len(st):
        raise ParameterError(f"{len(w)} weights for {len(st)} steps")
    n, m = c.shape
    starts = [(0, b) for b in range(m)] if subsequence else [(0, 0)]
    best = np.inf
    found: list[tuple[float, list[tuple[int, int]]]] = []
    count = 0
    stack: list[tuple[tuple[int, int], float, list[tuple[int, int]]]] = [
        (s, float(c[s]), [s]) for s in starts
    ]
    while stack:
        (i, j), cost, pts = stack.pop()
        if i == n - 1 and (subsequence or j == m - 1):
            count += 1
            if count > max_paths:
                raise ParameterError(f"more than max_paths={max_paths} paths; use a smaller matrix")
            found.append((cost, pts))
            best = min(best, cost)
            if not subsequence:
                continue
            # subsequence paths may go on along the last row (steps with di = 0); others end here
        for (di, dj), wk in zip(st, w, strict=True):
            a, b = i + di, j + dj
            if a < n and b < m:
                stack.append(((a, b), cost + wk * float(c[a, b]), pts + [(a, b)]))
    if not found:
        return float("inf"), []
    tol = rtol * max(1.0, abs(best))
    opt = sorted(
        {tuple(p) for cost, p in found if cost <= best + tol},
    )
    return float(best), [np.array(p, dtype=np.int64).reshape(-1, 2) for p in opt]
