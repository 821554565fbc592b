"""alignkit.pipeline: the cluster-agnostic units of a corpus run, on a real (tiny) demo corpus.

Oracles: pair strategies against hand-enumerated pairs, the store's contents after a run
(feature shapes and frame rates equal to a direct extraction, paths equal to a direct DTW),
skip-on-rerun, per-item failure isolation with the reason in the failures table.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from alignkit import pipeline
from alignkit.exceptions import CorpusError, ParameterError, StoreError


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    from alignkit.synth.demo import build_demo_corpus

    root = tmp_path_factory.mktemp("corpus") / "tiny"
    build_demo_corpus(root, size="tiny", seed=3)
    return root


def _grid(items):
    out = {}
    for it in items:
        out.setdefault(it["work"], []).append(it["version"])
    return out


def test_corpus_items_are_small_sorted_dicts(tiny_corpus):
    items = pipeline.corpus_items(pipeline.load_corpus(str(tiny_corpus)))
    assert items, "the demo corpus has versions"
    for it in items:
        assert set(it) == {"work", "version", "path", "kind", "annotations"}
        assert it["kind"] in ("audio", "score")
        assert it["annotations"] is None or it["annotations"].endswith("_annotations.txt")
    # the score comes first in each work, then the recordings by name
    for work, names in _grid(items).items():
        kinds = [it["kind"] for it in items if it["work"] == work]
        assert kinds[0] == "score" and "score" not in kinds[1:]
        assert names[1:] == sorted(names[1:])


def test_pair_strategies_enumerate_exactly(tiny_corpus):
    c = pipeline.load_corpus(str(tiny_corpus))
    grid = _grid(pipeline.corpus_items(c))
    scores = {it["work"]: it["version"] for it in pipeline.corpus_items(c) if it["kind"] == "score"}
    got_all = dict(pipeline.plan_pairs(c, strategy="all"))
    assert got_all == {w: list(combinations(v, 2)) for w, v in grid.items()}
    got_star = dict(pipeline.plan_pairs(c, strategy="star"))
    assert got_star == {w: [(v[0], x) for x in v[1:]] for w, v in grid.items()}
    got_score = dict(pipeline.plan_pairs(c, strategy="score"))
    assert got_score == {w: [(scores[w], x) for x in v if x != scores[w]] for w, v in grid.items()}
    w = next(iter(grid))
    ref = grid[w][-1]
    star = dict(pipeline.plan_pairs(c, strategy="star", reference=ref))[w]
    assert star == [(ref, x) for x in grid[w] if x != ref]
    assert pipeline.count_pairs(c, strategy="all") == sum(len(p) for p in got_all.values())


def test_bad_strategy_method_reference(tiny_corpus):
    c = pipeline.load_corpus(str(tiny_corpus))
    with pytest.raises(ParameterError, match="pairs='ring'"):
        list(pipeline.plan_pairs(c, strategy="ring"))
    with pytest.raises(CorpusError, match="reference='nope'"):
        list(pipeline.plan_pairs(c, strategy="star", reference="nope"))
    with pytest.raises(ParameterError, match="method='fastdtw'"):
        pipeline.check_method("fastdtw", "all")
    with pytest.raises(ParameterError, match="ctc"):
        pipeline.check_method("ctc", "all")
    pipeline.check_method("dtw", "star")  # valid: no error


def test_score_features_share_the_audio_grid(tiny_corpus):
    items = pipeline.corpus_items(pipeline.load_corpus(str(tiny_corpus)))
    score = next(it for it in items if it["kind"] == "score")
    audio = next(it for it in items if it["kind"] == "audio")
    fs = pipeline.compute_features(score, {"name": "chroma_stft", "params": {}})
    fa = pipeline.compute_features(audio, {"name": "chroma_stft", "params": {}})
    assert fs.name == fa.name == "chroma_stft"
    assert fs.frame_rate == fa.frame_rate
    assert fs.n_dims == fa.n_dims == 12
    # both describe the same music: most frames have energy, and the pitch-class profiles
    # summed over time agree (cosine > 0.8) although one is rendered audio, one symbolic
    ps, pa = fs.values.sum(0), fa.values.sum(0)
    assert float(ps @ pa / np.linalg.norm(ps) / np.linalg.norm(pa)) > 0.8
    with pytest.raises(ParameterError, match="no score counterpart"):
        pipeline.compute_features(score, {"name": "mfcc", "params": {}})


def _write_synthetic(store, work, version, values, rate=10.0):
    from alignkit.features.base import Features
    from alignkit.store.results import open_store

    f = Features(values=values.astype(np.float32), frame_rate=rate, name="chroma_stft", params={})
    open_store(store).write_features(work, version, f, source_hash=f"synthetic-{version}", key=f"k-{version}")


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory):
    """Three versions of one work: X, a time-stretched copy, and a copy with a pause."""
    rng = np.random.default_rng(1)
    X = np.abs(rng.standard_normal((40, 12))) + 0.05
    stretch = np.repeat(X, 2, axis=0)                      # frame j shows X[j // 2]
    pause = np.concatenate([X[:20], np.repeat(X[20:21], 6, axis=0), X[20:]])
    store = str(tmp_path_factory.mktemp("syn") / "store")
    for v, vals in (("x", X), ("stretch", stretch), ("pause", pause)):
        _write_synthetic(store, "w", v, vals)
    return store


def test_align_group_dtw_equals_direct_dtw_and_skips_on_rerun(synthetic_store):
    from alignkit.align.dtw import dtw
    from alignkit.store.results import open_store

    pairs = [("x", "stretch"), ("x", "pause"), ("stretch", "pause")]
    r1 = pipeline.align_group(synthetic_store, "w", pairs, method="dtw", run_id="t")
    assert [r["status"] for r in r1] == ["done"] * 3
    s = open_store(synthetic_store)
    for a, b in pairs:
        fa, fb = s.read_features("w", a, "chroma_stft"), s.read_features("w", b, "chroma_stft")
        ref = dtw(fa.values, fb.values)
        np.testing.assert_array_equal(s.read_alignment("dtw", "w", a, b).path, ref.path)
    r2 = pipeline.align_group(synthetic_store, "w", pairs, method="dtw", run_id="t")
    assert [r["status"] for r in r2] == ["skipped"] * 3
    # different options -> a different key -> recomputed
    r3 = pipeline.align_group(synthetic_store, "w", pairs[:1], method="dtw",
                              options={"step_sizes": "symmetric1"}, run_id="t")
    assert r3[0]["status"] == "done"


def test_softdtw_batched_equals_one_by_one_and_tracks_the_truth(synthetic_store):
    from alignkit.store.results import open_store

    pairs = [("x", "stretch"), ("x", "pause")]
    batched = pipeline.align_group(synthetic_store, "w", pairs, method="softdtw",
                                   options={"gamma": 0.01, "metric": "sqeuclidean"}, run_id="t")
    assert [r["status"] for r in batched] == ["done"] * 2
    s = open_store(synthetic_store)
    paths = {p: s.read_alignment("softdtw", "w", *p).path for p in pairs}
    single = {p: pipeline._soft_batch([s.read_features("w", p[0], "chroma_stft").values],
                                      [s.read_features("w", p[1], "chroma_stft").values],
                                      {"gamma": 0.01, "metric": "sqeuclidean"})[0]["path"] for p in pairs}
    for p in pairs:
        np.testing.assert_array_equal(paths[p], single[p])
    # ground truth: frame j of "stretch" shows X[j // 2]; frames 20..26 of "pause" hold X[20]
    st = paths[("x", "stretch")]
    assert np.all(np.abs(st[:, 0] - st[:, 1] // 2) <= 1)
    pa = paths[("x", "pause")]
    truth = np.concatenate([np.arange(20), np.full(6, 20), np.arange(20, 40)])
    assert np.all(np.abs(pa[:, 0] - truth[pa[:, 1]]) <= 1)
    assert s.read_alignment("softdtw", "w", "x", "pause").soft is not None  # E kept in the store


def test_failures_are_isolated_and_recorded(tiny_corpus, tmp_path):
    from alignkit.store.results import open_store

    store = str(tmp_path / "store")
    items = pipeline.corpus_items(pipeline.load_corpus(str(tiny_corpus)))
    bad = dict(items[1], version="ghost", path=str(tmp_path / "missing.flac"))
    both = [{"name": n} for n in pipeline.SYNC_FEATURES]  # what the default method (sync) reads
    r = pipeline.extract_item(store, bad, features=both, run_id="r1")
    assert r["status"] == "failed" and "missing.flac" in r["error"]
    ok = pipeline.extract_item(store, items[1], features=both, run_id="r1")
    assert ok["status"] == "done"
    res = pipeline.align_group(store, items[1]["work"], [(items[1]["version"], "ghost")], run_id="r1")
    assert res[0]["status"] == "failed" and "ghost" in res[0]["error"]
    fails = open_store(store).read_table("failures")
    assert sorted(fails["stage"]) == ["align", "extract"]
    assert set(fails["run_id"]) == {"r1"}


def test_multiscale_method_recovers_the_known_warp(synthetic_store):
    from alignkit.store.results import open_store

    r = pipeline.align_group(synthetic_store, "w", [("x", "stretch")], method="mrmsdtw", run_id="t")
    assert r[0]["status"] == "done"
    p = open_store(synthetic_store).read_alignment("mrmsdtw", "w", "x", "stretch").path
    assert p[0].tolist() == [0, 0] and p[-1].tolist() == [39, 79]
    assert np.all(np.abs(p[:, 0] - p[:, 1] // 2) <= 1)


# ----------------------------------------------------------------------------- sync (the default)


def test_sync_is_the_default_method_everywhere():
    import inspect

    from flows import corpus_flow
    from flows.corpus_flow import _feature_specs

    assert pipeline.DEFAULT_METHOD == "sync" and pipeline.METHODS[0] == "sync"
    assert {"dtw", "mrmsdtw", "softdtw"} <= set(pipeline.METHODS)
    for fn in (pipeline.align_group, pipeline.evaluate_group, pipeline.estimate_pair_seconds):
        assert inspect.signature(fn).parameters["method"].default == "sync", fn.__name__
    for fl in (corpus_flow.run_corpus, corpus_flow.align_corpus, corpus_flow.evaluate):
        assert inspect.signature(fl.fn).parameters["method"].default == "sync", fl.name
    # both features sync reads are extracted by default, and added when a sync run omits them
    assert [s["name"] for s in _feature_specs(None, None)] == ["chroma_cqt", "dlnco"]
    added = _feature_specs(["cens"], None, method="sync")
    assert [s["name"] for s in added] == ["cens", "chroma_cqt", "dlnco"]
    assert [s["name"] for s in _feature_specs(None, None, method="dtw")] == ["chroma_stft"]
    pipeline.check_method("sync", "score")  # valid: no error


def _mean_beat_error_ms(path, fr_a, fr_b, ann_a, ann_b):
    from alignkit.eval.metrics import alignment_errors
    from alignkit.io.annotations import read_annotations

    ta, tb = read_annotations(ann_a).times, read_annotations(ann_b).times
    err = alignment_errors(path, ta, tb, frame_rate_a=fr_a, frame_rate_b=fr_b)
    return 1000.0 * float(np.mean(np.abs(err)))


def test_sync_method_on_rendered_corpus_beats_dtw_and_linear_scaling(tiny_corpus, tmp_path):
    """Ground truth: the demo's annotated beats. sync must beat the old default (chroma + DTW)
    and the linear stretch of one version onto the other, on every pair on average, and
    store exactly what a direct ``synchronize`` of the stored features gives."""
    from alignkit.align.sync import synchronize
    from alignkit.store.results import open_store

    c = pipeline.load_corpus(str(tiny_corpus))
    items = pipeline.corpus_items(c)
    store = str(tmp_path / "store")
    specs = [{"name": n, "params": {}} for n in ("chroma_cqt", "dlnco", "chroma_stft")]  # sync's + dtw's
    for it in items:
        assert pipeline.extract_item(store, it, features=specs)["status"] == "done"
    ann = {it["version"]: it["annotations"] for it in items}
    (work, pairs), = list(pipeline.plan_pairs(c, strategy="all", annotated_only=True))
    assert len(pairs) == 3 and pairs[0][0] == "score"  # score-audio and audio-audio pairs

    r_sync = pipeline.align_group(store, work, pairs, run_id="t")  # default method
    r_dtw = pipeline.align_group(store, work, pairs, method="dtw", run_id="t")
    assert [r["status"] for r in r_sync + r_dtw] == ["done"] * 6
    s = open_store(store)
    err = {"sync": [], "dtw": [], "linear": []}
    for a, b in pairs:
        al = s.read_alignment("sync", work, a, b, soft=False)
        fa = tuple(s.read_features(work, a, n) for n in ("chroma_cqt", "dlnco"))
        fb = tuple(s.read_features(work, b, n) for n in ("chroma_cqt", "dlnco"))
        ref = synchronize(fa, fb)
        np.testing.assert_array_equal(al.path, ref.path)
        assert al.frame_rate_a == al.frame_rate_b == ref.frame_rate == 50.0
        assert al.feature == "chroma_cqt" and al.attrs["extra"]["features"] == ["chroma_cqt", "dlnco"]
        err["sync"].append(_mean_beat_error_ms(al.path, 50.0, 50.0, ann[a], ann[b]))
        d = s.read_alignment("dtw", work, a, b, soft=False)
        err["dtw"].append(_mean_beat_error_ms(d.path, d.frame_rate_a, d.frame_rate_b, ann[a], ann[b]))
        # linear scaling: the straight line from (0, 0) to the last frames of both versions
        n, m = fa[0].n_frames, fb[0].n_frames
        k = max(n, m)
        lin = np.stack([np.round(np.linspace(0, n - 1, k)), np.round(np.linspace(0, m - 1, k))], 1)
        err["linear"].append(_mean_beat_error_ms(lin.astype(np.int64), 50.0, 50.0, ann[a], ann[b]))
    mean = {k: float(np.mean(v)) for k, v in err.items()}
    # measured (seed 3): sync ~54 ms, dtw ~88 ms, linear several hundred ms
    assert mean["sync"] < 0.8 * mean["dtw"], mean
    assert mean["sync"] < 70.0 < mean["linear"], mean
    assert max(err["sync"]) < 100.0, err

    # rerun: skipped; other options: a new key, recomputed
    assert [r["status"] for r in pipeline.align_group(store, work, pairs[:1])] == ["skipped"]
    assert [r["status"] for r in pipeline.align_group(store, work, pairs[:1], options={"cost_offset": 1.0})] \
        == ["done"]
    # a missing DLNCO is a recorded per-pair failure, not a crash
    s2 = str(tmp_path / "store2")
    for it in items:
        pipeline.extract_item(s2, it, features=specs[:1])
    r = pipeline.align_group(s2, work, pairs[:1], run_id="t2")
    assert r[0]["status"] == "failed" and "dlnco" in r[0]["error"]


def test_pair_cost_estimate_reads_the_features_sync_reads(tiny_corpus, tmp_path):
    """The default method sizes its tasks from its own features (not the dtw method's chroma_stft)."""
    c = pipeline.load_corpus(str(tiny_corpus))
    store = str(tmp_path / "store")
    specs = [{"name": n, "params": {}} for n in pipeline.SYNC_FEATURES]
    for it in pipeline.corpus_items(c):
        assert pipeline.extract_item(store, it, features=specs)["status"] == "done"
    s_sync = pipeline.estimate_pair_seconds(store, c)  # method sync, the default
    assert 0 < s_sync < 60
    with pytest.raises(StoreError, match="chroma_stft"):  # not extracted: dtw cannot be sized
        pipeline.estimate_pair_seconds(store, c, method="dtw")
