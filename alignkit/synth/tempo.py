"""Tempo curves: a monotone, exactly invertible map from score time to performance time.

A :class:`TempoCurve` is piecewise linear between knots ``(score_time, performance_time)``
with strictly increasing coordinates, so it is monotone and its inverse is piecewise
linear on the same knots (both directions are one ``np.interp``). Outside the knots it
continues with the slope of the first or last segment.

:func:`random_tempo_curve` draws a smooth random rendition: a global tempo factor, a
mean-reverting random walk in log-tempo smoothed over a few seconds, local rubato
(a few Gaussian slow-downs, e.g. at phrase ends) and a final ritardando, deterministic
given the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alignkit.exceptions import ParameterError
from alignkit.io.notes import Notes

__all__ = ["TempoCurve", "random_tempo_curve"]


@dataclass(frozen=True)
class TempoCurve:
    """Monotone piecewise-linear map score time (s) -> performance time (s).

    Parameters
    ----------
    score_times : np.ndarray [shape=(K,)]
        Strictly increasing knot positions in score time (seconds at the nominal tempo), K >= 2.
    perf_times : np.ndarray [shape=(K,)]
        Strictly increasing knot positions in performance time (seconds).
    params : dict
        How the curve was made (for manifests); not used in computations.
    """

    score_times: np.ndarray
    perf_times: np.ndarray
    params: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        s = np.asarray(self.score_times, dtype=np.float64)
        t = np.asarray(self.perf_times, dtype=np.float64)
        if s.ndim != 1 or s.shape != t.shape or s.shape[0] < 2:
            raise ParameterError(
                f"score_times {s.shape} and perf_times {t.shape} must be 1-D of equal length >= 2"
            )
        if not (np.all(np.isfinite(s)) and np.all(np.isfinite(t))):
            raise ParameterError("tempo curve knots must be finite")
        if np.any(np.diff(s) <= 0) or np.any(np.diff(t) <= 0):
            raise ParameterError("tempo curve knots must be strictly increasing in both coordinates")
        object.__setattr__(self, "score_times", s)
        object.__setattr__(self, "perf_times", t)

    @classmethod
    def constant(cls, factor: float = 1.0, *, offset: float = 0.0) -> TempoCurve:
        """Make a constant tempo: ``t = offset + s / factor`` (``factor > 1`` plays faster)."""
        if not np.isfinite(factor) or factor <= 0:
            raise ParameterError(f"factor={factor!r} must be a positive tempo factor")
        return cls(np.array([0.0, 1.0]), np.array([offset, offset + 1.0 / factor]),
                   {"kind": "constant", "factor": float(factor), "offset": float(offset)})

    @staticmethod
    def _map(x, xk, yk):
        x = np.asarray(x, dtype=np.float64)
        y = np.interp(x, xk, yk)
        lo, hi = x < xk[0], x > xk[-1]
        if np.any(lo):
            y = np.where(lo, yk[0] + (x - xk[0]) * (yk[1] - yk[0]) / (xk[1] - xk[0]), y)
        if np.any(hi):
            y = np.where(hi, yk[-1] + (x - xk[-1]) * (yk[-1] - yk[-2]) / (xk[-1] - xk[-2]), y)
        return y

    def to_performance(self, s) -> np.ndarray:
        """Map score times ``s`` (any shape) to performance times, seconds."""
        return self._map(s, self.score_times, self.perf_times)

    def to_score(self, t) -> np.ndarray:
        """Map performance times ``t`` (any shape) to score times: the exact inverse."""
        return self._map(t, self.perf_times, self.score_times)

    __call__ = to_performance

    def tempo_factor(self, s) -> np.ndarray:
        """Return the local tempo factor ``ds/dt`` at score times ``s`` (1 = nominal, 2 = twice as fast)."""
        s = np.asarray(s, dtype=np.float64)
        slopes = np.diff(self.score_times) / np.diff(self.perf_times)
        i = np.clip(np.searchsorted(self.score_times, s, side="right") - 1, 0, slopes.shape[0] - 1)
        return slopes[i]

    def apply(self, notes: Notes) -> Notes:
        """Map the onsets and offsets of notes from score to performance time."""
        if not isinstance(notes, Notes):
            raise ParameterError(f"notes must be a Notes instance, got {type(notes).__name__}")
        return Notes(
            start=self.to_performance(notes.start),
            end=self.to_performance(notes.end),
            pitch=notes.pitch,
            velocity=notes.velocity,
            instrument=notes.instrument,
            source=notes.source,
        )


def random_tempo_curve(
    duration: float,
    *,
    seed: int | np.random.Generator = 0,
    factor: float = 1.0,
    walk_std: float = 0.08,
    walk_time: float = 4.0,
    smooth: float = 1.5,
    n_rubato: int | None = None,
    rubato_depth: float = 0.15,
    final_ritardando: float = 0.25,
    offset: float = 0.0,
    max_deviation: float = 0.5,
    step: float = 0.02,
) -> TempoCurve:
    """Draw a smooth random tempo curve with local rubato.

    The log tempo factor is ``log(factor) + w(s) + r(s)``: ``w`` an Ornstein-Uhlenbeck
    random walk (stationary standard deviation ``walk_std``, correlation time
    ``walk_time`` s) smoothed with a Gaussian of ``smooth`` s, ``r`` a sum of
    ``n_rubato`` Gaussian slow-downs of depth up to ``rubato_depth`` (widths 0.5-2 s) and
    a final ritardando reaching ``final_ritardando`` over the last 3 s. The deviation
    from ``log(factor)`` is clipped to ``+-max_deviation``. Performance time is the
    integral of ``1 / tempo`` from ``offset``.

    Parameters
    ----------
    duration : float
        Score duration to cover, seconds (> 0). The curve extends linearly beyond it.
    seed : int or np.random.Generator
        Randomness; the same seed gives the same curve.
    factor : float
        Global tempo factor (> 0; 1.25 plays 25 % faster than nominal).
    walk_std, walk_time, smooth, rubato_depth, final_ritardando, max_deviation : float
        Shape of the deviations, in natural-log tempo units and seconds (all >= 0;
        ``walk_time``, ``smooth`` > 0).
    n_rubato : int or None
        Number of local slow-downs; ``None``: one per 10 s of score on average.
    offset : float
        Performance time of score time 0 (a lead-in), seconds.
    step : float
        Knot spacing in score seconds (> 0).

    Returns
    -------
    curve : TempoCurve
        Knots every ``step`` score seconds over ``[0, duration]``.

    Raises
    ------
    ParameterError
        On a non-positive duration, factor, step, time constants or negative depths.
    """
    for name, val in (("duration", duration), ("factor", factor), ("walk_time", walk_time),
                      ("smooth", smooth), ("step", step)):
        if not np.isfinite(val) or val <= 0:
            raise ParameterError(f"{name}={val!r} must be positive")
    for name, val in (("walk_std", walk_std), ("rubato_depth", rubato_depth),
                      ("final_ritardando", final_ritardando), ("max_deviation", max_deviation)):
        if not np.isfinite(val) or val < 0:
            raise ParameterError(f"{name}={val!r} must be >= 0")
    if not np.isfinite(offset):
        raise ParameterError(f"offset={offset!r} must be finite")
    if n_rubato is not None and (not isinstance(n_rubato, (int, np.integer)) or n_rubato < 0):
        raise ParameterError(f"n_rubato={n_rubato!r} must be a non-negative integer or None")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    n = int(np.ceil(duration / step)) + 1
    s = np.arange(n, dtype=np.float64) * step
    # Ornstein-Uhlenbeck walk, exact discretisation, started from its stationary law
    a = np.exp(-step / walk_time)
    eps = rng.standard_normal(n)
    w = np.empty(n)
    w[0] = walk_std * eps[0]
    innov = walk_std * np.sqrt(1.0 - a * a)
    for k in range(1, n):
        w[k] = a * w[k - 1] + innov * eps[k]
    half = int(np.ceil(3 * smooth / step))
    kern = np.exp(-0.5 * (np.arange(-half, half + 1) * step / smooth) ** 2)
    kern /= kern.sum()
    w = np.convolve(np.pad(w, half, mode="edge"), kern, mode="valid")
    # local rubato: Gaussian slow-downs
    if n_rubato is None:
        n_rubato = int(rng.poisson(duration / 10.0))
    centers = rng.uniform(0.0, duration, n_rubato)
    widths = rng.uniform(0.5, 2.0, n_rubato)
    depths = rng.uniform(0.3, 1.0, n_rubato) * rubato_depth
    r = np.zeros(n)
    for c, wd, d in zip(centers, widths, depths, strict=True):
        r -= d * np.exp(-0.5 * ((s - c) / wd) ** 2)
    if final_ritardando > 0:
        ramp = np.clip((s - (duration - 3.0)) / 3.0, 0.0, 1.0)
        r -= final_ritardando * ramp**2
    dev = np.clip(w + r, -max_deviation, max_deviation)
    log_tempo = np.log(factor) + dev
    # dt/ds = 1/tempo, trapezoid between knots
    inv = np.exp(-log_tempo)
    t = offset + np.concatenate([[0.0], np.cumsum(0.5 * (inv[1:] + inv[:-1]) * step)])
    params = {
        "kind": "random", "duration": float(duration), "factor": float(factor),
        "walk_std": float(walk_std), "walk_time": float(walk_time), "smooth": float(smooth),
        "n_rubato": int(n_rubato), "rubato_depth": float(rubato_depth),
        "final_ritardando": float(final_ritardando), "offset": float(offset),
        "max_deviation": float(max_deviation), "step": float(step),
    }
    return TempoCurve(s, t, params)
