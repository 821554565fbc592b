"""Evaluation report: a methods x metrics table, error-vs-tolerance curves, the worst pairs.

:func:`write_report` turns an evaluation table (from :func:`alignkit.eval.harness.evaluate_corpus`
or the ``evaluation`` table of a results store) into a Markdown or HTML page. Images are PNG
files in a folder beside the report (``<stem>_files/``), linked from Markdown and embedded
(base64) in HTML so the HTML page is self-contained.

Worst pairs get a path plot when their path can be had: from the store (the pipeline's
stored alignments, drawn with :func:`alignkit.store.plots.plot_alignment`) or, given the
``corpus``, recomputed as the harness computes it (path in seconds with the annotations as
ground-truth points).
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

import numpy as np

from alignkit.eval.harness import aggregate
from alignkit.exceptions import ParameterError, StoreError

__all__ = ["write_report", "make_report", "method_table", "load_evaluation"]

_STATS = ("mean_ms", "median_ms", "max_ms")


def load_evaluation(source):
    """Evaluation rows from a DataFrame, a store URI / path, or a ResultsStore / Results object."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    if hasattr(source, "evaluation"):  # alignkit.store.query.Results
        return source.evaluation()
    if hasattr(source, "read_table"):  # ResultsStore
        return source.read_table("evaluation")
    if isinstance(source, (str, os.PathLike)):
        from alignkit.store.results import open_store

        return open_store(source, read_only=True).read_table("evaluation")
    raise ParameterError(f"cannot read an evaluation table from {type(source).__name__}")


def _pick_level(agg, level):
    levels = [
        lv for lv in agg["level"].unique() if (agg[(agg["level"] == lv)]["statistic"] == "mean_ms").any()
    ]
    if not levels:
        raise StoreError("the evaluation table holds no error rows (mean_ms)")
    if level is None:
        for cand in ("beat", "measure", "note", ""):
            if cand in levels:
                return cand
    if level not in levels:
        raise ParameterError(f"level={level!r} is not one of {sorted(levels)}")
    return level


def method_table(df, *, level: str | None = None):
    """Methods x metrics: one row per method x feature, pooled over every pair (see :func:`aggregate`).

    Columns: ``method``, ``feature``, ``pairs``, ``events``, ``mean_ms``, ``median_ms``, ``max_ms``,
    ``within_<ms>ms`` (share in [0, 1]) per tolerance, and, where timing rows exist,
    ``pair_s``, ``features_s``, ``align_s`` (mean seconds per pair). Sorted by ``mean_ms``.
    """
    import pandas as pd

    agg = aggregate(df)
    level = _pick_level(agg, level)
    err = agg[agg["level"] == level]
    rows = []
    for (method, feature), g in err.groupby(["method", "feature"], sort=False):
        r = {"method": method, "feature": feature}
        st = dict(zip(g["statistic"], g["value"], strict=True))
        if "mean_ms" not in st:
            continue
        r["pairs"] = int(g["n_pairs"].max())
        r["events"] = int(g.loc[g["statistic"] == "mean_ms", "n_events"].iloc[0])
        for k in _STATS:
            r[k] = st.get(k, np.nan)
        tol = g[g["tolerance_s"].notna() & g["statistic"].str.startswith("within_")].sort_values(
            "tolerance_s"
        )
        for k, v in zip(tol["statistic"], tol["value"], strict=True):
            r[k] = v
        t = agg[(agg["method"] == method) & (agg["feature"] == feature) & (agg["level"] == "")]
        for k in ("pair_s", "features_s", "align_s"):
            v = t.loc[t["statistic"] == k, "value"]
            if len(v):
                r[k] = float(v.iloc[0])
        rows.append(r)
    out = pd.DataFrame(rows).sort_values("mean_ms", kind="stable").reset_index(drop=True)
    out.attrs["level"] = level
    return out


def _pair_errors(df, level: str):
    d = df.copy()
    metric = f"{level}_mean_ms" if level else "mean_ms"
    d = d[d["metric"].astype(str) == metric].copy()
    if "feature" not in d.columns:
        d["feature"] = "none"
    d["feature"] = d["feature"].astype(object).where(d["feature"].notna(), "none").astype(str)
    for c in ("method", "work", "version_a", "version_b"):
        d[c] = d[c].astype(str)
    return d


def _fmt(v, kind: str) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if kind == "share":
        return f"{100 * v:.1f} %"
    if kind == "ms":
        return f"{v:.1f}"
    if kind == "s":
        return f"{v:.2f}"
    return str(v)


def _kind(col: str) -> str:
    if col.startswith("within_"):
        return "share"
    if col.endswith("_ms"):
        return "ms"
    if col.endswith("_s"):
        return "s"
    return "text"


def _header(col: str) -> str:
    names = {
        "mean_ms": "mean (ms)",
        "median_ms": "median of pairs (ms)",
        "max_ms": "max (ms)",
        "pair_s": "pair (s)",
        "features_s": "features (s)",
        "align_s": "align (s)",
    }
    if col.startswith("within_"):
        return "<= " + col[len("within_") :].replace("p", ".")
    return names.get(col, col)


def _table(tab, fmt: str) -> str:
    cols = list(tab.columns)
    head = [_header(c) for c in cols]
    body = [[_fmt(r[c], _kind(c)) for c in cols] for _, r in tab.iterrows()]
    if fmt == "md":
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines) + "\n"
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in b) + "</tr>" for b in body)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>\n"


def _tolerance_plot(df, level: str, path: Path, top: int) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    agg = aggregate(df)
    d = agg[(agg["level"] == level) & agg["statistic"].str.startswith("within_") & agg["tolerance_s"].notna()]
    means = agg[(agg["level"] == level) & (agg["statistic"] == "mean_ms")].sort_values("value")
    combos = list(zip(means["method"], means["feature"], strict=True))[:top]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, feature in combos:
        g = d[(d["method"] == method) & (d["feature"] == feature)].sort_values("tolerance_s")
        ax.plot(g["tolerance_s"] * 1000, 100 * g["value"], marker="o", label=f"{method} / {feature}")
    ax.set_xscale("log")
    ax.set_xlabel("tolerance (ms)")
    ax.set_ylabel(f"{level or 'events'} within tolerance (%)")
    ax.set_ylim(0, 101)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("share of events within tolerance (pooled over pairs)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _path_plot(row, *, results, corpus, level_role: str, path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    method, feature, work = row["method"], row["feature"], row["work"]
    a, b = row["version_a"], row["version_b"]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    done = False
    if results is not None:
        try:
            from alignkit.store.plots import plot_alignment

            plot_alignment(results, work, a, b, method=method, ax=ax)
            done = True
        except (StoreError, ParameterError, KeyError, ValueError):
            done = False
    if not done and corpus is not None:
        from alignkit.eval.harness import linear_transfer, pair_alignment
        from alignkit.eval.metrics import transfer_times

        plt.close(fig)
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.8))
        al = pair_alignment(corpus, work, a, b, method=method, feature=feature, level=level_role)
        if al["path"] is not None:
            p, r = al["path"], al["frame_rate"]
            ax.plot(p[:, 1] / r, p[:, 0] / r, color="tab:blue", lw=1.2, label=f"path ({method} / {feature})")
        else:
            ax.plot([0, al["duration_b"]], [0, al["duration_a"]], color="tab:blue", lw=1.2, label="linear")
        if al["ref_a"] is not None:
            ax.plot(al["ref_b"], al["ref_a"], ".", color="tab:red", ms=3, label="annotations (truth)")
            if al["path"] is not None:
                got = transfer_times(al["path"], al["ref_a"], frame_rate_a=r, frame_rate_b=r)
            else:
                got = linear_transfer(al["ref_a"], duration_a=al["duration_a"], duration_b=al["duration_b"])
            ax2.axhline(0, color="0.6", lw=0.8)
            ax2.plot(al["ref_b"], 1000 * (got - al["ref_b"]), ".-", color="tab:red", ms=3, lw=0.6)
            ax2.set_xlabel(f"{b} (s)")
            ax2.set_ylabel("transfer error (ms)")
            ax2.set_title("error at each annotation (A -> B)", fontsize=9)
        ax.set_xlabel(f"{b} (s)")
        ax.set_ylabel(f"{a} (s)")
        ax.set_title(f"{work}: {method} / {feature}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
        done = True
    if not done:
        plt.close(fig)
        return None
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _img(path: Path, out_dir: Path, fmt: str, alt: str) -> str:
    rel = os.path.relpath(path, out_dir).replace(os.sep, "/")
    if fmt == "md":
        return f"![{alt}]({rel})\n\n"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></p>\n'


def write_report(
    evaluation,
    out_path,
    *,
    fmt: str = "md",
    level: str | None = None,
    worst: int = 3,
    corpus=None,
    title: str = "alignkit evaluation",
    top_curves: int = 8,
) -> Path:
    """Write an evaluation report (Markdown or HTML) with its images.

    Parameters
    ----------
    evaluation : pandas.DataFrame or str or os.PathLike or ResultsStore or Results
        Evaluation rows (:func:`alignkit.eval.harness.evaluate_corpus`), or a results store
        (URI or object) whose ``evaluation`` table is read.
    out_path : str or os.PathLike
        Report file (``.md`` / ``.html``). Images go to ``<stem>_files/`` beside it.
    fmt : {"md", "html"}
    level : str, optional
        ``beat``, ``measure``, ``note`` (default: the first present in that order; rows
        without a level prefix, as the pipeline writes them, are level ``""``).
    worst : int
        Number of worst pairs (of the best method x feature) listed and plotted.
    corpus : Corpus or str, optional
        Lets the report recompute the worst pairs' paths when the store has none.
    title : str
    top_curves : int
        Curves in the tolerance plot (the best method x feature combinations).

    Returns
    -------
    pathlib.Path
        The report file.

    Raises
    ------
    ParameterError
        Bad ``fmt``/``level``/``worst``, or an input that holds no evaluation rows.
    """
    if fmt not in ("md", "html"):
        raise ParameterError(f"fmt={fmt!r} is not one of ['md', 'html']")
    if isinstance(worst, bool) or not isinstance(worst, int) or worst < 0:
        raise ParameterError(f"worst={worst!r} must be a non-negative integer")
    results = None
    if isinstance(evaluation, (str, os.PathLike)):
        from alignkit.store.query import open_results

        results = open_results(evaluation)
        df = results.evaluation()
    elif hasattr(evaluation, "evaluation"):
        results = evaluation
        df = evaluation.evaluation()
    else:
        df = load_evaluation(evaluation)
    if df is None or len(df) == 0:
        raise ParameterError("the evaluation table is empty: nothing to report")

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = out.parent / f"{out.stem}_files"
    files.mkdir(exist_ok=True)
    tab = method_table(df, level=level)
    level = tab.attrs["level"]
    role = {"beat": "beats", "measure": "measures", "note": "notes"}.get(level, "beats")

    parts: list[str] = []

    def h(n: int, text: str):
        parts.append(f"{'#' * n} {text}\n\n" if fmt == "md" else f"<h{n}>{html.escape(text)}</h{n}>\n")

    def p(text: str):
        parts.append(f"{text}\n\n" if fmt == "md" else f"<p>{html.escape(text)}</p>\n")

    h(1, title)
    works = sorted(set(df["work"].astype(str)))
    npairs = len(df[["work", "version_a", "version_b"]].astype(str).drop_duplicates())
    p(
        f"{len(works)} works, {npairs} pairs; errors at {level or 'annotated'} events transferred "
        "from A to B through each path (absolute error; shares pooled over all events of all pairs)."
    )
    h(2, "Methods x metrics")
    parts.append(_table(tab, fmt))
    if fmt == "md":
        parts.append("\n")

    h(2, "Error vs tolerance")
    img = _tolerance_plot(df, level, files / "tolerance.png", top_curves)
    parts.append(_img(img, out.parent, fmt, "share within tolerance"))

    pe = _pair_errors(df, level)
    per_work = pe.groupby(["method", "feature", "work"], sort=True)["value"].mean().unstack("work")
    per_work = per_work.loc[
        [(m, f) for m, f in zip(tab["method"], tab["feature"], strict=True) if (m, f) in per_work.index]
    ]
    h(2, "Mean error per work (ms, mean over pairs)")
    pw = per_work.reset_index()
    pw.columns = [str(c) if c in ("method", "feature") else f"{c}_ms" for c in pw.columns]
    parts.append(_table(pw, fmt))
    if fmt == "md":
        parts.append("\n")

    if worst and len(tab):
        best = tab.iloc[0]
        h(2, f"Worst pairs of the best combination ({best['method']} / {best['feature']})")
        sel = pe[(pe["method"] == best["method"]) & (pe["feature"] == best["feature"])]
        sel = sel.sort_values("value", ascending=False).head(worst)
        wt = sel[["work", "version_a", "version_b", "value"]].rename(columns={"value": "mean_ms"})
        parts.append(_table(wt, fmt))
        if fmt == "md":
            parts.append("\n")
        for i, (_, r) in enumerate(sel.iterrows()):
            img = _path_plot(
                r, results=results, corpus=corpus, level_role=role, path=files / f"worst_{i + 1}.png"
            )
            if img is not None:
                parts.append(_img(img, out.parent, fmt, f"{r['work']}: {r['version_a']} ~ {r['version_b']}"))
        h(2, "Worst pair of each combination")
        idx = pe.groupby(["method", "feature"])["value"].idxmax()
        wc = pe.loc[idx, ["method", "feature", "work", "version_a", "version_b", "value"]]
        wc = wc.rename(columns={"value": "mean_ms"}).sort_values("mean_ms")
        parts.append(_table(wc, fmt))
        if fmt == "md":
            parts.append("\n")

    if fmt == "md":
        text = "".join(parts)
    else:
        style = (
            "body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
            "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:2px 6px}"
        )
        text = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "".join(parts) + "</body></html>\n"
        )
    out.write_text(text, encoding="utf-8")
    return out


def make_report(store, *, out=None, fmt: str | None = None, **kwargs) -> str:
    """Write the report of a store (or evaluation table) and return its text (``alignkit report``).

    Parameters
    ----------
    store : str or os.PathLike or ResultsStore or Results or pandas.DataFrame
    out : str or os.PathLike, optional
        Report file; ``fmt`` defaults from its suffix (``.html`` -> HTML, else Markdown).
        Without it the report and its images go to a new temporary folder (the returned text
        links the images there).
    fmt : {"md", "html"}, optional
    **kwargs
        Passed to :func:`write_report` (``level``, ``worst``, ``corpus``, ``title``).
    """
    if out is None:
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="alignkit-report-")) / ("report." + (fmt or "md"))
    out = Path(out)
    if fmt is None:
        fmt = "html" if out.suffix.lower() in (".html", ".htm") else "md"
    path = write_report(store, out, fmt=fmt, **kwargs)
    text = path.read_text(encoding="utf-8")
    if fmt == "md" and not out.is_absolute():
        return text
    return text.replace(f"]({out.stem}_files/", f"]({out.parent}/{out.stem}_files/") if fmt == "md" else text
