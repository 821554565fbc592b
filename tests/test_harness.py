"""Evaluation harness on a tiny hand-made corpus with exactly known timing.

Version ``a``: 0.4 s of silence, then eight harmonic tones of distinct pitch classes, 0.4 s each
(beats at the onsets). Version ``b``: ``a`` played 1.25x slower plus 0.5 s more silence in front
(beats at ``1.25 t + 0.5``); durations 3.6 s and 5.0 s, so the linear baseline maps
``t -> t * 5 / 3.6`` and its error at beat ``t`` is exactly ``t / 7.2 - 0.5`` seconds: mean
absolute error 250 ms over the beats at 0.4, 0.8, ..., 3.2 s. Version ``c``: the same tones with irregular
durations (a non-linear warp) that the linear baseline cannot follow.
"""

from __future__ import annotations

import numpy as np
import pytest

from alignkit.corpus import Corpus
from alignkit.eval.harness import EVAL_COLUMNS, aggregate, evaluate_corpus, linear_transfer
from alignkit.exceptions import ParameterError

SR = 22050
PITCHES = [60, 64, 67, 71, 62, 66, 69, 73]  # C E G B D F# A C#: all pitch classes differ
DUR_A = [0.4] * 8
DUR_C = [0.3, 0.7, 0.4, 0.8, 0.2, 0.6, 0.5, 0.4]  # whole samples at 22.05 kHz


def _tones(durs, *, lead: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    parts = [np.zeros(int(round(lead * SR)))]
    onsets = []
    t = lead
    for p, d in zip(PITCHES, durs, strict=True):
        n = int(round(d * SR))
        tt = np.arange(n) / SR
        f0 = 440.0 * 2 ** ((p - 69) / 12)
        tone = sum(np.sin(2 * np.pi * k * f0 * tt) / k for k in (1, 2, 3))
        parts.append(0.2 * tone * np.exp(-2.0 * tt))
        onsets.append(t)
        t += d
    return np.concatenate(parts).astype(np.float32), np.array(onsets)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    import soundfile as sf

    from alignkit.io.annotations import write_asap_tsv

    root = tmp_path_factory.mktemp("tiny")
    ya, ta = _tones(DUR_A, lead=0.4)
    yb, tb = _tones([1.25 * d for d in DUR_A], lead=1.25 * 0.4 + 0.5)
    yc, tc = _tones(DUR_C, lead=0.4)
    assert len(ya) == int(3.6 * SR) and len(yb) == int(5.0 * SR)
    recs = []
    for name, y, t in (("a", ya, ta), ("b", yb, tb), ("c", yc, tc)):
        sf.write(root / f"{name}.wav", y, SR)
        write_asap_tsv(root / f"{name}_beats.txt", t, ["b"] * len(t))
        recs.append({"work": "w", "version": name, "path": f"{name}.wav", "beats": f"{name}_beats.txt"})
    return Corpus.from_records(root, recs)


@pytest.fixture(scope="module")
def evaluation(corpus):
    return evaluate_corpus(
        corpus, methods=["linear", "dtw", "mrmsdtw", "sync"], features=["chroma_stft", "chroma+dlnco"]
    )


def _value(df, a, b, method, metric, feature=None):
    sel = (df.version_a == a) & (df.version_b == b) & (df.method == method) & (df.metric == metric)
    if feature is not None:
        sel &= df.feature == feature
    v = df.loc[sel, "value"]
    assert len(v) == 1, (a, b, method, metric, feature)
    return float(v.iloc[0])


def test_linear_baseline_matches_hand_computed_errors(evaluation):
    t = 0.4 + np.arange(8) * 0.4
    err = np.abs(t * 5.0 / 3.6 - (1.25 * t + 0.5))
    assert _value(evaluation, "a", "b", "linear", "beat_mean_ms") == pytest.approx(
        1000 * err.mean(), abs=1e-6
    )
    assert _value(evaluation, "a", "b", "linear", "beat_mean_ms") == pytest.approx(250.0, abs=1e-6)
    assert _value(evaluation, "a", "b", "linear", "beat_max_ms") == pytest.approx(500 - 400 / 7.2, abs=1e-6)
    assert _value(evaluation, "a", "b", "linear", "beat_mean_signed_ms") == pytest.approx(-250.0, abs=1e-6)
    # |t / 7.2 - 0.5| <= 0.1 only at t = 3.2; <= 0.25 from t = 2.0 on; all within 0.5 s
    assert _value(evaluation, "a", "b", "linear", "beat_within_100ms") == pytest.approx(1 / 8)
    assert _value(evaluation, "a", "b", "linear", "beat_within_250ms") == pytest.approx(4 / 8)
    assert _value(evaluation, "a", "b", "linear", "beat_within_500ms") == pytest.approx(1.0)
    row = evaluation[(evaluation.metric == "beat_within_250ms") & (evaluation.method == "linear")]
    assert np.allclose(row["tolerance_s"], 0.25)
    # a ~ c: durations 3.6 and 4.3 s
    tc = 0.4 + np.concatenate([[0], np.cumsum(DUR_C)[:-1]])
    expect = np.abs(t * 4.3 / 3.6 - tc).mean() * 1000
    assert _value(evaluation, "a", "c", "linear", "beat_mean_ms") == pytest.approx(expect, abs=1e-6)
    assert linear_transfer([1.8], duration_a=3.6, duration_b=5.0)[0] == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("method", "feature"),
    [(m, f) for m in ("dtw", "mrmsdtw") for f in ("chroma_stft", "chroma+dlnco")]
    + [("sync", "chroma+dlnco")],
)
def test_dtw_far_below_linear_baseline(evaluation, method, feature):
    for a, b in (("a", "b"), ("a", "c"), ("b", "c")):
        lin = _value(evaluation, a, b, "linear", "beat_mean_ms")
        got = _value(evaluation, a, b, method, "beat_mean_ms", feature)
        assert got < 25.0, (a, b, got)
        assert got < 0.25 * lin, (a, b, got, lin)
        assert _value(evaluation, a, b, method, "beat_within_100ms", feature) == 1.0


def test_rows_shape_pairs_and_timings(evaluation):
    assert list(evaluation.columns) == EVAL_COLUMNS
    pairs = set(map(tuple, evaluation[["version_a", "version_b"]].drop_duplicates().values))
    assert pairs == {("a", "b"), ("a", "c"), ("b", "c")}
    combos = set(map(tuple, evaluation[["method", "feature"]].drop_duplicates().values))
    assert combos == {
        ("linear", "none"),
        ("dtw", "chroma_stft"),
        ("dtw", "chroma+dlnco"),
        ("mrmsdtw", "chroma_stft"),
        ("mrmsdtw", "chroma+dlnco"),
        ("sync", "chroma+dlnco"),
    }
    assert (evaluation.loc[evaluation.metric == "beat_mean_ms", "n_events"] == 8).all()
    t = evaluation[evaluation.metric.isin(["features_s", "align_s", "pair_s", "load_s"])]
    piv = t.pivot_table(
        index=["version_a", "version_b", "method", "feature"], columns="metric", values="value"
    )
    assert np.allclose(piv["pair_s"], piv["load_s"] + piv["features_s"] + piv["align_s"])
    dtw_rows = piv.xs("dtw", level="method")
    assert (dtw_rows["features_s"] > 0).all() and (dtw_rows["align_s"] > 0).all()


def test_aggregate_pools_events(evaluation):
    agg = aggregate(evaluation)
    lin = agg[(agg.method == "linear") & (agg.level == "beat")].set_index("statistic")["value"]
    pair_means = [
        _value(evaluation, a, b, "linear", "beat_mean_ms") for a, b in (("a", "b"), ("a", "c"), ("b", "c"))
    ]
    assert lin["mean_ms"] == pytest.approx(np.mean(pair_means))  # 8 beats each: pooled = mean of pair means
    assert lin["max_ms"] == pytest.approx(
        max(
            _value(evaluation, a, b, "linear", "beat_max_ms") for a, b in (("a", "b"), ("a", "c"), ("b", "c"))
        )
    )
    per_work = aggregate(evaluation, by="work")
    assert set(per_work.work) == {"w"}
    # pooling with unequal event counts: weights are n_events
    df = evaluation[(evaluation.method == "linear") & (evaluation.metric == "beat_mean_ms")].copy()
    df["n_events"] = [1, 3, 0][: len(df)] if len(df) == 3 else df["n_events"]
    got = aggregate(df).set_index("statistic")["value"]["mean_ms"]
    assert got == pytest.approx((df.value.iloc[0] * 1 + df.value.iloc[1] * 3) / 4)


def test_rows_round_trip_through_the_store(corpus, tmp_path):
    from alignkit.store.results import open_store

    df = evaluate_corpus(corpus, methods=["linear"], store=tmp_path / "store", run_id="r1")
    back = open_store(tmp_path / "store").read_table("evaluation")
    assert len(back) == len(df)
    key = ["version_a", "version_b", "method", "feature", "metric"]
    m = df.merge(
        back[key + ["value", "tolerance_s", "run_id", "work"]].astype({"method": str, "work": str}),
        on=key,
        suffixes=("", "_store"),
    )
    assert len(m) == len(df)
    assert np.allclose(m["value"], m["value_store"])
    assert (
        (m["tolerance_s"].isna() & m["tolerance_s_store"].isna())
        | np.isclose(m["tolerance_s"], m["tolerance_s_store"])
    ).all()
    assert (m["run_id_store"] == "r1").all() and (m["work_store"] == "w").all()


def test_star_pairs_and_score_free(corpus):
    df = evaluate_corpus(corpus, methods=["linear"], pairs="star", reference="c")
    pairs = set(map(tuple, df[["version_a", "version_b"]].drop_duplicates().values))
    assert pairs == {("c", "a"), ("c", "b")}


@pytest.mark.parametrize(
    "kw",
    [
        {"methods": ["nope"]},
        {"features": ["nope"]},
        {"tolerances": [0.0]},
        {"pairs": "every"},
        {"levels": ["bars"]},
        {"on_error": "ignore"},
        {"dlnco_weight": -1.0},
        {"options": {"nope": {}}},
        {"methods": []},
    ],
)
def test_bad_arguments_raise(corpus, kw):
    with pytest.raises(ParameterError):
        evaluate_corpus(corpus, **kw)


def test_failures_are_skipped_or_raised(corpus):
    # an invalid option reaches the engine: ParameterError per item
    with pytest.raises(ParameterError):
        evaluate_corpus(
            corpus, methods=["dtw"], features=["chroma_stft"], options={"dtw": {"step_sizes": "bad"}}
        )
    df = evaluate_corpus(
        corpus,
        methods=["dtw", "linear"],
        features=["chroma_stft"],
        options={"dtw": {"step_sizes": "bad"}},
        on_error="skip",
    )
    assert set(df.method) == {"linear"}
    assert len(df.attrs["failures"]) == 3 and "step_sizes" in df.attrs["failures"][0]["error"]


def test_quantize_chroma_by_hand():
    from alignkit.eval.harness import quantize_chroma

    c = np.zeros((2, 12))
    c[0, :4] = [4, 2, 1, 1]  # l1-normalised 0.5, 0.25, 0.125, 0.125
    c[1, 0] = 1e-4  # below the threshold: silence
    q = quantize_chroma(c)
    assert q[0, :4].tolist() == [1.0, 0.75, 0.5, 0.5]
    assert not q[0, 4:].any() and not q[1].any()


@pytest.mark.parametrize("params", [{"onset_cost": "l1"}, {"nope": 1}])
def test_bad_sync_parameters_raise(corpus, params):
    with pytest.raises(ParameterError):
        evaluate_corpus(corpus, methods=["dtw"], features={"chroma+dlnco": params})


def test_sync_variants_follow_the_warp(corpus):
    # the stacked squared-euclidean form (no dense matrix) and unquantised chroma also follow the warp
    df = evaluate_corpus(
        corpus,
        methods=["dtw", "mrmsdtw"],
        features={"chroma+dlnco": {"onset_cost": "sqeuclidean", "quantize": False}},
        options={"dtw": {"step_sizes": "symmetric2"}},
    )
    for m in ("dtw", "mrmsdtw"):
        assert _value(df, "a", "c", m, "beat_mean_ms") < 25.0


def test_soft_dtw_follows_the_warp(corpus):
    pytest.importorskip("torch")
    df = evaluate_corpus(
        corpus.subset({"w": ["a", "c"]}),
        methods=["softdtw", "linear"],
        features=["chroma_stft", "chroma+dlnco"],
    )
    lin = _value(df, "a", "c", "linear", "beat_mean_ms")
    for f in ("chroma_stft", "chroma+dlnco"):
        assert _value(df, "a", "c", "softdtw", "beat_mean_ms", f) < min(40.0, 0.25 * lin)
