import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import shared_path  # noqa: E402

from alignkit.align.paths import TimeMap, compose_paths  # noqa: E402
from alignkit.exceptions import ParameterError, StoreError  # noqa: E402
from alignkit.features.base import Features  # noqa: E402
from alignkit.store import open_results, open_store  # noqa: E402
from alignkit.store.example import TOLERANCES, build_example_store  # noqa: E402
from alignkit.store.plots import tempo_curve, tolerance_table  # noqa: E402


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("ex") / "store")
    truth = build_example_store(uri, n_works=2, n_versions=3, seed=0, duration_s=20.0)
    return truth, open_results(uri)


def test_listing_and_features(example):
    truth, r = example
    assert r.works() == ["work1", "work2"]
    assert r.versions("work1") == ["perf1", "perf2", "score"]
    assert r.methods() == ["dtw", "linear"] and r.extractors() == ["chroma"]
    x = r.features("work1", "perf1")
    assert x.dims == ("time", "dim") and x.attrs["frame_rate"] == truth.frame_rate
    np.testing.assert_allclose(x["time"].values, np.arange(x.shape[0]) / truth.frame_rate)
    assert list(x["dim"].values[:3]) == ["C", "C#", "D"]
    f = r.features("work1", "perf1", "chroma", as_features=True)
    assert isinstance(f, Features) and np.array_equal(f.values, x.values)
    with pytest.raises(StoreError, match="work 'nope'"):
        r.versions("nope")
    with pytest.raises(StoreError, match="no features"):
        r.features("work1", "ghost")


def test_path_direct_inverted_and_composed(example):
    _, r = example
    s = r.store
    direct = s.read_alignment("dtw", "work1", "score", "perf1").path
    np.testing.assert_array_equal(r.path("work1", "score", "perf1", method="dtw"), direct)
    np.testing.assert_array_equal(r.path("work1", "perf1", "score", method="dtw"), direct[:, ::-1])
    # score -> perf2 under 'dtw' is not stored: the chain score - perf1 - perf2 is composed
    assert r.chain("work1", "score", "perf2", "dtw") == ["score", "perf1", "perf2"]
    p12 = s.read_alignment("dtw", "work1", "perf1", "perf2").path
    np.testing.assert_array_equal(r.path("work1", "score", "perf2", method="dtw"), compose_paths(direct, p12))
    # under 'linear' (a star around the score) perf1 -> perf2 goes through the score, inverting one hop
    assert r.chain("work1", "perf1", "perf2", "linear") == ["perf1", "score", "perf2"]
    with pytest.raises(StoreError, match="pass method="):
        r.path("work1", "score", "perf1")
    with pytest.raises(StoreError, match="method 'nope'"):
        r.path("work1", "score", "perf1", method="nope")


def test_transfer_composes_time_maps_hop_by_hop(example):
    truth, r = example
    s = r.store
    t = np.linspace(0.5, 15, 30)
    m1 = TimeMap.from_path(s.read_alignment("linear", "work2", "score", "perf1").path, 10, 10).inverse()
    m2 = TimeMap.from_path(s.read_alignment("linear", "work2", "score", "perf2").path, 10, 10)
    np.testing.assert_allclose(r.transfer("work2", "perf1", "perf2", t, method="linear"), m2(m1(t)))
    # against the ground truth: DTW through the chain beats the straight line by far
    b = truth.beats["work2"]
    err_dtw = np.abs(r.transfer("work2", "score", "perf2", b["score"], method="dtw") - b["perf2"]).mean()
    err_lin = np.abs(r.transfer("work2", "score", "perf2", b["score"], method="linear") - b["perf2"]).mean()
    assert err_dtw < 0.25 and err_dtw < 0.3 * err_lin
    # round trip a -> b -> a is the identity (strict, invertible maps)
    there = r.transfer("work2", "perf1", "perf2", t, method="dtw")
    np.testing.assert_allclose(r.transfer("work2", "perf2", "perf1", there, method="dtw"), t, atol=1e-9)


def test_disconnected_pair(tmp_path):
    s = open_store(tmp_path / "s")
    p = np.stack([np.arange(10), np.arange(10)], 1)
    s.write_alignment("dtw", "w", "a", "b", path=p, cost=0.0, frame_rate_a=10, frame_rate_b=10)
    s.write_alignment("dtw", "w", "c", "d", path=p, cost=0.0, frame_rate_a=10, frame_rate_b=20)
    r = open_results(tmp_path / "s")
    with pytest.raises(StoreError, match="not connected"):
        r.transfer("w", "a", "d", [0.1])
    np.testing.assert_allclose(r.transfer("w", "d", "c", [0.2]), [0.4])  # inverse hop, frame rates kept


def test_tables_and_sql(example):
    _, r = example
    ev = r.evaluation()
    assert {"method", "work", "version_a", "version_b", "metric", "value", "tolerance_s"} <= set(ev.columns)
    n_pairs = 2 * (2 + 2)  # works x (dtw chain + linear star)
    assert len(ev) == n_pairs * (len(TOLERANCES) + 1)
    got = r.sql(
        "SELECT method, count(*) AS n FROM evaluation WHERE metric = 'accuracy' GROUP BY method "
        "ORDER BY method"
    )
    assert got.to_dict(orient="list") == {"method": ["dtw", "linear"], "n": [4 * len(TOLERANCES)] * 2}
    j = r.sql(
        "SELECT a.method, count(*) AS n FROM alignments a JOIN features f ON a.work = f.work AND "
        "a.version_a = f.version GROUP BY a.method ORDER BY 1"
    )
    assert j.n.tolist() == [4, 4]
    f = r.failures()
    assert f.error_type.tolist() == ["FileNotFoundError"] and "file not found" in f.message.iloc[0]
    assert set(r.runs().event) == {"start", "finish"}
    with pytest.raises(StoreError, match="SQL failed"):
        r.sql("SELECT * FROM nowhere")


def test_open_results_on_memory_store():
    uri = "memory://query-test/store"
    s = open_store(uri)
    p = np.stack([np.arange(20), np.arange(0, 40, 2)], 1)
    s.write_alignment("dtw", "w", "a", "b", path=p, cost=1.0, frame_rate_a=10, frame_rate_b=10)
    r = open_results(uri)
    np.testing.assert_allclose(r.transfer("w", "a", "b", [0.5, 1.0]), [1.0, 2.0])
    with pytest.raises(StoreError, match="not an alignkit results store"):
        open_results("memory://query-test/none")


# ----------------------------------------------------------------------------- real data


def _piano_roll_chroma(path, fs):
    import pretty_midi

    return pretty_midi.PrettyMIDI(str(path)).get_chroma(fs=fs).T.astype(np.float32) + 1e-3


def test_transfer_against_asap_ground_truth_beats(tmp_path):
    from alignkit.align import dtw
    from alignkit.io.annotations import read_asap_tsv

    d = shared_path("asap", "Bach", "Prelude", "bwv_848")
    perfs = sorted(p.stem for p in d.glob("*.mid") if p.stem != "midi_score")[:3]
    fs = 20.0
    s = open_store(tmp_path / "s")
    feats = {p: _piano_roll_chroma(d / f"{p}.mid", fs) for p in perfs}
    beats = {p: read_asap_tsv(d / f"{p}_annotations.txt").times for p in perfs}
    assert len({len(b) for b in beats.values()}) == 1  # same beats in every performance
    a, b, c = perfs
    for x, y in ((a, b), (b, c)):
        res = dtw(feats[x], feats[y], metric="cosine")
        s.write_alignment("dtw", "prelude", x, y, res, frame_rate_a=fs, frame_rate_b=fs)
    r = open_results(tmp_path / "s")
    dur = {p: len(feats[p]) / fs for p in perfs}
    for x, y in ((a, b), (b, a), (a, c), (c, a)):
        est = r.transfer("prelude", x, y, beats[x])
        err = np.abs(est - beats[y])
        base = np.abs(beats[x] * dur[y] / dur[x] - beats[y])  # linear stretch baseline
        assert err.mean() < 0.1, (x, y, err.mean())
        assert err.mean() < 0.2 * base.mean(), (x, y, err.mean(), base.mean())
    assert r.chain("prelude", a, c) == [a, b, c]


def test_transfer_measures_between_real_winterreise_performances_through_a_chain(tmp_path):
    from alignkit.align import dtw
    from alignkit.io.annotations import read_swd_csv

    pc = shared_path("winterreise_d911_01_pitchclass")
    ms = shared_path("schubert_measures")
    rate, k = 22050 / 512, 4  # pitch-class frames at 43.07 Hz, averaged in fours

    def feat(p):
        x = np.load(pc / f"Schubert_D911-01_{p}.npy").T
        n = len(x) // k * k
        return x[:n].reshape(-1, k, 12).mean(axis=1).astype(np.float32) + 1e-3

    x = {p: feat(p) for p in ("HU33", "AL98", "SC06")}
    meas = {p: read_swd_csv(ms / f"Schubert_D911-01_{p}.csv").times for p in ("HU33", "SC06")}
    s = open_store(tmp_path / "s")
    for a, b, m in (("HU33", "AL98", "dtw"), ("AL98", "SC06", "dtw"), ("HU33", "SC06", "direct")):
        s.write_alignment(
            m, "D911-01", a, b, dtw(x[a], x[b], metric="cosine"), frame_rate_a=rate / k, frame_rate_b=rate / k
        )
    r = open_results(tmp_path / "s")
    assert r.chain("D911-01", "HU33", "SC06", "dtw") == ["HU33", "AL98", "SC06"]
    chain = np.abs(r.transfer("D911-01", "HU33", "SC06", meas["HU33"], method="dtw") - meas["SC06"])
    direct = np.abs(r.transfer("D911-01", "HU33", "SC06", meas["HU33"], method="direct") - meas["SC06"])
    linear = np.abs(meas["HU33"] * len(x["SC06"]) / len(x["HU33"]) - meas["SC06"])
    # measured: chain 0.056 s, direct 0.058 s, linear stretch 4.8 s (138 measures, two real singers)
    assert chain.mean() < 0.15 and np.mean(chain < 0.3) > 0.95
    assert chain.mean() < 0.05 * linear.mean()
    assert chain.mean() < direct.mean() + 0.05  # composing through a third version costs little


# ----------------------------------------------------------------------------- plots


def test_plot_alignment_draws_path_in_seconds(example):
    _, r = example
    ax = r.plot_alignment("work1", "score", "perf1", method="dtw")
    line = ax.get_lines()[0]
    p = r.path("work1", "score", "perf1", method="dtw")
    np.testing.assert_allclose(line.get_xdata(), p[:, 1] / 10)
    np.testing.assert_allclose(line.get_ydata(), p[:, 0] / 10)
    img = ax.get_images()[0].get_array()
    al = r.alignment("work1", "score", "perf1", "dtw")
    np.testing.assert_allclose(img, al.soft, atol=1e-6)  # the stored soft alignment
    plt.close("all")
    # no soft alignment stored: a cosine cost matrix from the stored features
    ax = r.plot_alignment("work1", "perf1", "perf2", method="dtw")
    img = ax.get_images()[0].get_array()
    xa = r.features("work1", "perf1").values
    xb = r.features("work1", "perf2").values
    expect = (
        1
        - (xa / np.linalg.norm(xa, axis=1, keepdims=True))
        @ (xb / np.linalg.norm(xb, axis=1, keepdims=True)).T
    )
    np.testing.assert_allclose(img, expect, atol=1e-5)
    plt.close("all")


def test_tempo_curve_of_a_known_warp(tmp_path):
    s = open_store(tmp_path / "s")
    # B plays the first 10 s of A at half tempo, the rest at the same tempo
    i = np.arange(200)
    j = np.where(i < 100, 2 * i, i + 100)
    p = np.stack([i, j], 1)
    s.write_alignment("dtw", "w", "A", "B", path=p, cost=0.0, frame_rate_a=10, frame_rate_b=10)
    r = open_results(tmp_path / "s")
    t, ratio = tempo_curve(r, "w", "B", "A", window_s=2.0)
    np.testing.assert_allclose(ratio[t < 8.9], 0.5, atol=1e-6)
    np.testing.assert_allclose(ratio[t > 11.1], 1.0, atol=1e-6)
    ax = r.plot_tempo("w", "B", "A", window_s=2.0)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), ratio)
    plt.close("all")


def test_error_vs_tolerance(example):
    _, r = example
    tab = tolerance_table(r.evaluation(), metric="accuracy")
    ev = r.evaluation()
    ev = ev[ev.metric == "accuracy"]
    manual = ev.groupby(["method", "tolerance_s"]).value.mean()
    for _, row in tab.iterrows():
        assert row.value == pytest.approx(manual[(row.method, row.tolerance_s)])
    assert set(tab.method) == {"dtw", "linear"} and (tab.n == 4).all()
    # accuracy never drops as the tolerance grows; DTW beats the line at 0.2 s
    for _, sub in tab.groupby("method"):
        assert np.all(np.diff(sub.value.values) >= 0)
    at = tab.set_index(["method", "tolerance_s"]).value
    assert at[("dtw", 0.2)] > at[("linear", 0.2)] + 0.3
    ax = r.plot_error_vs_tolerance(metric="accuracy")
    assert len(ax.get_lines()) == 2
    plt.close("all")
    # tolerances encoded in metric names (older tables)
    df = pd.DataFrame(
        {
            "method": ["m", "m", "m"],
            "metric": ["acc@50ms", "acc@100ms", "acc@12p5ms"],
            "value": [0.5, 0.8, 0.25],
        }
    )
    t2 = tolerance_table(df)
    assert t2.tolerance_s.tolist() == [0.0125, 0.05, 0.1] and t2.value.tolist() == [0.25, 0.5, 0.8]
    # names carrying the tolerance with the tolerance column filled too (the flows' rows)
    t3 = tolerance_table(df.assign(tolerance_s=[0.05, 0.1, 0.0125]))
    assert t3.attrs["metric"] == "acc" and t3.value.tolist() == [0.25, 0.5, 0.8]
    with pytest.raises(ParameterError, match="several metrics"):
        tolerance_table(pd.concat([df, df.assign(metric=["f@50ms", "f@100ms", "f@1s"])]))
