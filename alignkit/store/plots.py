"""Plots over stored results (matplotlib; analysis only, never called by algorithms).

- :func:`plot_alignment`: the soft alignment matrix (or, without one, a cosine cost matrix
  computed from the stored features) with the warping path on top, axes in seconds.
- :func:`tempo_curve` / :func:`plot_tempo`: local tempo of a version relative to a reference,
  from the time map between them.
- :func:`plot_error_vs_tolerance`: an evaluation metric (e.g. the share of events within the
  tolerance) against the tolerance, one curve per method, averaged over pairs.

Each function draws into ``ax`` (a new figure when None) and returns the Axes.
"""

from __future__ import annotations

import re

import numpy as np

from alignkit.exceptions import ParameterError, StoreError

__all__ = ["plot_alignment", "tempo_curve", "plot_tempo", "plot_error_vs_tolerance", "tolerance_table"]

_MAX_CELLS = 4_000_000


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 5))
    return ax


def _cosine_cost(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
    yn = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-9)
    return 1.0 - xn @ yn.T


def plot_alignment(
    results, work: str, a: str, b: str, *, method: str | None = None, extractor: str | None = None, ax=None
):
    """Draw the soft alignment or cost matrix of ``a`` (rows, y axis) x ``b`` (x axis) with the path.

    Parameters
    ----------
    results : alignkit.store.query.Results
    work, a, b : str
    method : str, optional
    extractor : str, optional
        Features for the cost matrix when no soft alignment is stored (default: the one
        the alignment records, else the only one stored).
    ax : matplotlib Axes, optional
    """
    ax = _axes(ax)
    al = results.alignment(work, a, b, method)
    fa, fb = al.frame_rate_a, al.frame_rate_b
    mat, label = al.soft_matrix(), "soft alignment"
    if mat is None:
        ext = extractor or al.attrs.get("feature")
        try:
            xa = results.features(work, a, ext, as_features=True).values
            xb = results.features(work, b, ext, as_features=True).values
            sa = max(1, int(np.ceil(np.sqrt(len(xa) * len(xb) / _MAX_CELLS))))
            mat, label = _cosine_cost(xa[::sa], xb[::sa]), "cosine cost"
            fa, fb = fa / sa, fb / sa
        except StoreError:
            mat = None
    if mat is not None:
        extent = (-0.5 / fb, (mat.shape[1] - 0.5) / fb, -0.5 / fa, (mat.shape[0] - 0.5) / fa)
        im = ax.imshow(
            mat,
            origin="lower",
            aspect="auto",
            cmap="gray_r" if label == "soft alignment" else "magma",
            extent=extent,
            interpolation="nearest",
        )
        ax.figure.colorbar(im, ax=ax, label=label)
    p = al.path
    ax.plot(p[:, 1] / al.frame_rate_b, p[:, 0] / al.frame_rate_a, color="tab:cyan", lw=1.5, label="path")
    ax.set_xlabel(f"{b} (s)")
    ax.set_ylabel(f"{a} (s)")
    ax.set_title(f"{work}: {al.method}")
    ax.legend(loc="upper left")
    return ax


def tempo_curve(
    results,
    work: str,
    version: str,
    reference: str,
    *,
    method: str | None = None,
    window_s: float = 4.0,
    hop_s: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Local tempo of ``version`` relative to ``reference``.

    The tempo at reference time ``t`` is ``window_s`` divided by the time ``version`` takes
    for the reference span ``[t - window_s/2, t + window_s/2]``: 1 means the same tempo, 2
    means ``version`` plays twice as fast.

    Returns
    -------
    t_ref : np.ndarray [shape=(n,)]
        Reference times (seconds).
    ratio : np.ndarray [shape=(n,)]
        Relative tempo at those times.
    """
    if not (np.isfinite(window_s) and window_s > 0 and np.isfinite(hop_s) and hop_s > 0):
        raise ParameterError(f"window_s={window_s!r} and hop_s={hop_s!r} must be positive")
    fwd = results.time_map(work, reference, version, method)
    al = results.alignment(work, *results.chain(work, reference, version, method)[:2], method, soft=False)
    end = al.path[-1, 0] / al.frame_rate_a
    t = np.arange(window_s / 2, max(end - window_s / 2, window_s / 2) + 1e-9, hop_s)
    lo, hi = fwd(t - window_s / 2), fwd(t + window_s / 2)
    with np.errstate(divide="ignore"):
        ratio = np.where(hi > lo, window_s / np.maximum(hi - lo, 1e-12), np.nan)
    return t, ratio


def plot_tempo(
    results,
    work: str,
    version: str,
    reference: str,
    *,
    method: str | None = None,
    window_s: float = 4.0,
    ax=None,
):
    """Plot :func:`tempo_curve` (relative tempo of ``version`` against ``reference`` time)."""
    ax = _axes(ax)
    t, r = tempo_curve(results, work, version, reference, method=method, window_s=window_s)
    ax.plot(t, r, label=version)
    ax.axhline(1.0, color="0.6", lw=0.8, ls="--")
    ax.set_xlabel(f"{reference} time (s)")
    ax.set_ylabel(f"tempo relative to {reference}")
    ax.set_title(f"{work}: tempo curve ({window_s:g} s window)")
    ax.legend()
    return ax


_TOL = re.compile(r"^(?P<base>.*?)[@_](?P<val>\d+(?:[.p]\d+)?)\s*(?P<unit>ms|s)$")


def tolerance_table(evaluation, *, metric: str | None = None):
    """Mean metric value per method and tolerance (seconds), from an evaluation DataFrame.

    Tolerances come from the ``tolerance_s`` column, or, where it is empty, from metric names
    like ``accuracy@50ms``, ``within_0.1s`` or ``within_12p5ms`` (as written by
    :func:`alignkit.eval.metrics.error_summary`).

    Returns
    -------
    pandas.DataFrame
        Columns ``method``, ``tolerance_s``, ``value`` (mean over pairs), ``n`` (pairs), sorted.
    """
    import pandas as pd

    df = evaluation.reset_index(drop=True).copy()
    if df.empty:
        raise StoreError("the evaluation table is empty")
    if "tolerance_s" not in df.columns:
        df["tolerance_s"] = np.nan
    base = df["metric"].astype(str)
    tol = pd.to_numeric(df["tolerance_s"], errors="coerce")
    parsed = base.str.extract(_TOL)
    from_name = pd.to_numeric(parsed["val"].str.replace("p", ".", regex=False), errors="coerce") * np.where(
        parsed["unit"] == "ms", 1e-3, 1.0
    )
    named = from_name.notna()
    df["tolerance_s"] = np.where(tol.isna() & named, from_name, tol)
    df["metric_base"] = np.where(named, parsed["base"], base)
    df = df[df["tolerance_s"].notna()]
    metrics = sorted(set(df["metric_base"]))
    if not metrics:
        raise StoreError("no evaluation rows carry a tolerance")
    if metric is None:
        if len(metrics) > 1:
            raise ParameterError(f"several metrics have tolerances: {metrics}; pass metric=")
        metric = metrics[0]
    if metric not in metrics:
        raise ParameterError(f"metric={metric!r} is not one of {metrics}")
    df = df[df["metric_base"] == metric]
    out = (
        df.groupby(["method", "tolerance_s"], observed=True)["value"]
        .agg(["mean", "count"])
        .reset_index()
        .rename(columns={"mean": "value", "count": "n"})
        .sort_values(["method", "tolerance_s"])
    )
    out.attrs["metric"] = metric
    return out.reset_index(drop=True)


def plot_error_vs_tolerance(evaluation, *, metric: str | None = None, ax=None):
    """Plot :func:`tolerance_table`: one curve per method, tolerance in milliseconds on x."""
    ax = _axes(ax)
    tab = tolerance_table(evaluation, metric=metric)
    for m, sub in tab.groupby("method", observed=True):
        ax.plot(sub["tolerance_s"] * 1000, sub["value"], marker="o", label=str(m))
    ax.set_xscale("log")
    ax.set_xlabel("tolerance (ms)")
    ax.set_ylabel(tab.attrs["metric"])
    ax.set_title("evaluation by tolerance")
    ax.legend()
    return ax
