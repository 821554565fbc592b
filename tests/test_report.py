"""Evaluation report: the methods x metrics table holds the right numbers; images exist."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from alignkit.eval.report import method_table, write_report
from alignkit.exceptions import ParameterError


def _rows(method, feature, pair, errors_ms, tols=(0.05, 0.1)):
    """Evaluation rows of one pair from its absolute errors (ms), as the harness writes them."""
    e = np.abs(np.asarray(errors_ms, float))
    base = dict(
        method=method, work=pair[0], version_a=pair[1], version_b=pair[2], feature=feature, run_id="r"
    )
    out = [
        dict(base, metric="beat_mean_ms", value=e.mean(), tolerance_s=np.nan, n_events=len(e)),
        dict(base, metric="beat_median_ms", value=np.median(e), tolerance_s=np.nan, n_events=len(e)),
        dict(base, metric="beat_max_ms", value=e.max(), tolerance_s=np.nan, n_events=len(e)),
    ]
    for t in tols:
        out.append(
            dict(
                base,
                metric=f"beat_within_{int(t * 1000)}ms",
                value=float(np.mean(e <= t * 1000)),
                tolerance_s=t,
                n_events=len(e),
            )
        )
    out.append(
        dict(base, metric="pair_s", value=2.0 if method == "dtw" else 0.5, tolerance_s=np.nan, n_events=pd.NA)
    )
    return out


@pytest.fixture()
def evaluation():
    rows = []
    rows += _rows("dtw", "chroma_stft", ("w1", "a", "b"), [10, 20, 30, 40])  # mean 25
    rows += _rows("dtw", "chroma_stft", ("w2", "a", "b"), [100, 200])  # mean 150
    rows += _rows("linear", "none", ("w1", "a", "b"), [400, 600, 800, 1000])  # mean 700
    rows += _rows("linear", "none", ("w2", "a", "b"), [300, 500])  # mean 400
    return pd.DataFrame(rows)


def test_method_table_pools_events(evaluation):
    tab = method_table(evaluation)
    assert list(tab["method"]) == ["dtw", "linear"]  # best first
    dtw = tab.iloc[0]
    assert dtw["mean_ms"] == pytest.approx((10 + 20 + 30 + 40 + 100 + 200) / 6)
    assert dtw["within_50ms"] == pytest.approx(4 / 6)
    assert dtw["within_100ms"] == pytest.approx(5 / 6)
    assert dtw["max_ms"] == 200 and dtw["pairs"] == 2 and dtw["events"] == 6
    assert dtw["pair_s"] == pytest.approx(2.0)
    assert tab.iloc[1]["mean_ms"] == pytest.approx(3600 / 6)


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_report_contains_table_rows_and_images(evaluation, tmp_path, fmt):
    out = write_report(evaluation, tmp_path / f"rep.{fmt}", fmt=fmt, worst=2)
    text = out.read_text()
    assert (tmp_path / "rep_files" / "tolerance.png").stat().st_size > 1000
    if fmt == "md":
        assert re.search(
            r"^\| dtw \| chroma_stft \| 2 \| 6 \| 66\.7 \| .*\| 66\.7 % \| 83\.3 % \| 2\.00 \|$", text, re.M
        )
        assert re.search(r"^\| linear \| none \| 2 \| 6 \| 600\.0 \|", text, re.M)
        assert "![share within tolerance](rep_files/tolerance.png)" in text
        # worst pairs of the best combination: w2 (150 ms) before w1 (25 ms)
        worst = text.split("## Worst pairs")[1]
        assert worst.index("| w2 | a | b | 150.0 |") < worst.index("| w1 | a | b | 25.0 |")
        # per-work means
        assert re.search(r"^\| dtw \| chroma_stft \| 25\.0 \| 150\.0 \|$", text, re.M)
    else:
        assert text.startswith("<!DOCTYPE html>")
        assert "<td>dtw</td><td>chroma_stft</td><td>2</td><td>6</td><td>66.7</td>" in text
        assert text.count("data:image/png;base64,") >= 1


def test_worst_pair_path_plots_from_corpus(tmp_path):
    import soundfile as sf

    from alignkit.corpus import Corpus
    from alignkit.eval.harness import evaluate_corpus
    from alignkit.io.annotations import write_asap_tsv

    sr = 22050
    rng = np.random.default_rng(0)
    recs = []
    for name, dur in (("a", 0.3), ("b", 0.4)):
        parts, onsets, t = [], [], 0.0
        for p in (60, 64, 67, 71, 62):
            tt = np.arange(int(dur * sr)) / sr
            parts.append(0.2 * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * tt) * np.exp(-3 * tt))
            onsets.append(t)
            t += dur
        y = np.concatenate(parts) + 1e-3 * rng.standard_normal(int(5 * dur * sr))
        sf.write(tmp_path / f"{name}.wav", y.astype(np.float32), sr)
        write_asap_tsv(tmp_path / f"{name}.txt", onsets, ["b"] * 5)
        recs.append({"work": "w", "version": name, "path": f"{name}.wav", "beats": f"{name}.txt"})
    c = Corpus.from_records(tmp_path, recs)
    df = evaluate_corpus(c, methods=["dtw", "linear"], features=["chroma_stft"])
    out = write_report(df, tmp_path / "r" / "report.md", corpus=c, worst=1)
    assert (tmp_path / "r" / "report_files" / "worst_1.png").stat().st_size > 1000
    assert "report_files/worst_1.png" in out.read_text()


def test_report_from_store(tmp_path, evaluation):
    from alignkit.store.results import open_store

    s = open_store(tmp_path / "store")
    s.write_table("evaluation", evaluation.drop(columns=[]).to_dict("records"), task_id="t")
    out = write_report(str(tmp_path / "store"), tmp_path / "x.md")
    assert "| dtw | chroma_stft | 2 | 6 | 66.7 |" in out.read_text()


def test_bad_arguments(evaluation, tmp_path):
    with pytest.raises(ParameterError):
        write_report(evaluation, tmp_path / "a.txt", fmt="txt")
    with pytest.raises(ParameterError):
        write_report(evaluation, tmp_path / "a.md", worst=-1)
    with pytest.raises(ParameterError):
        write_report(evaluation, tmp_path / "a.md", level="note")
    with pytest.raises(ParameterError):
        write_report(evaluation.iloc[0:0], tmp_path / "a.md")


def test_make_report_on_pipeline_rows(tmp_path):
    """Rows as the pipeline's evaluate stage writes them (no level prefix, an ``n`` row)."""
    from alignkit.eval.metrics import error_summary
    from alignkit.eval.report import make_report
    from alignkit.store.results import open_store

    rows = []
    for (a, b), err in {("a", "b"): [0.01, -0.03], ("a", "c"): [0.2, 0.0]}.items():
        for k, v in error_summary(err, tolerances=(0.05, 0.1)).items():
            tol = {"within_50ms": 0.05, "within_100ms": 0.1}.get(k)
            rows.append(
                dict(
                    method="dtw",
                    work="w",
                    version_a=a,
                    version_b=b,
                    feature="chroma_stft",
                    metric=k,
                    value=float(v),
                    tolerance_s=tol,
                    n_events=2,
                )
            )
    open_store(tmp_path / "s").write_table("evaluation", rows, task_id="t")
    text = make_report(str(tmp_path / "s"))
    assert "| dtw | chroma_stft | 2 | 4 | 60.0 |" in text  # (10 + 30 + 200 + 0) / 4
    assert "75.0 % | 75.0 %" in text
    html_text = make_report(str(tmp_path / "s"), out=tmp_path / "r.html")
    assert html_text.startswith("<!DOCTYPE html>") and (tmp_path / "r_files" / "tolerance.png").exists()
