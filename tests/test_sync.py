"""High-resolution synchronisation (alignkit.align.sync): synthetic ground truth from a rendered
demo corpus (audio-audio and score-audio), equivalence with exact DTW on the documented combined
cost, the memory bound on long inputs, input handling and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from alignkit.align.dtw import dtw
from alignkit.align.sync import (
    DEFAULT_COST_OFFSET,
    DEFAULT_DLNCO_WEIGHT,
    SyncResult,
    quantize_chroma,
    sync_inputs,
    synchronize,
)
from alignkit.exceptions import ParameterError


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    """One work, a score and two rendered audio versions (~10 s each), with exact beat times."""
    from alignkit.corpus import load_corpus
    from alignkit.io.audio import load_audio
    from alignkit.io.scores import load_score
    from alignkit.synth import build_demo_corpus

    root = build_demo_corpus(tmp_path_factory.mktemp("demo"), size="tiny", seed=0)
    c = load_corpus(root)
    out = {}
    for v in c.versions_of(c.works()[0]):
        src = load_score(v.path) if v.kind == "score" else load_audio(v.path, sr=22050)[0]
        out[v.version] = (v, src)
    return out


def _beats(va, vb):
    from alignkit.eval.harness import _matched

    ta, tb = _matched(va.read_annotations("beats"), vb.read_annotations("beats"))
    assert len(ta) >= 10
    return ta, tb


def _duration(v, src):
    return float(np.max(src.end)) if v.kind == "score" else len(src) / 22050.0


def test_audio_to_audio_beats_within_tight_bounds(tiny_corpus):
    audio = sorted(k for k, (v, _) in tiny_corpus.items() if v.kind == "audio")
    (va, a), (vb, b) = tiny_corpus[audio[0]], tiny_corpus[audio[1]]
    res = synchronize(a, b, sr=22050)
    assert isinstance(res, SyncResult) and res.frame_rate == pytest.approx(50.0)
    ta, tb = _beats(va, vb)
    err = np.abs(res.transfer(ta) - tb)
    lin = np.abs(ta * _duration(vb, b) / _duration(va, a) - tb)
    # measured: 15 ms mean, 32 ms max; linear scaling: 650 ms mean
    assert err.mean() < 0.04 and err.max() < 0.1
    assert lin.mean() > 10 * 0.04  # the bound is one a linear (or broken) alignment cannot meet
    # the path is at the feature rate and spans both recordings
    assert res.path[0].tolist() == [0, 0]
    assert res.path[-1].tolist() == [res.shape[0] - 1, res.shape[1] - 1]
    assert abs(res.shape[0] - _duration(va, a) * 50) <= 2


def test_score_to_audio_beats(tiny_corpus):
    (vs, score) = next(x for x in tiny_corpus.values() if x[0].kind == "score")
    (va, a) = next(x for x in tiny_corpus.values() if x[0].kind == "audio")
    res = synchronize(score, a, sr_b=22050)
    ta, tb = _beats(vs, va)
    err = np.abs(res.transfer(ta) - tb)
    lin = np.abs(ta * _duration(va, a) / _duration(vs, score) - tb)
    # measured: median 7-18 ms, 94 % within 100 ms (the first beat sits at the lead-in silence)
    assert np.median(err) < 0.03
    assert np.mean(err <= 0.1) >= 0.9
    assert np.median(lin) > 10 * 0.03


def test_features_input_equals_exact_dtw_on_the_combined_cost():
    rng = np.random.default_rng(3)
    ca, cb = rng.random((300, 12)), rng.random((340, 12))
    da, db = rng.random((300, 12)), rng.random((340, 12))
    res = synchronize((ca, da), (cb, db), frame_rate=50, quantize=False, onset_power=1.0, refine=False)
    # documented cost: 2 (1 - cos(c_a, c_b)) + w |d_a - d_b|^2 + offset, symmetric1 steps
    cu = ca / np.linalg.norm(ca, axis=1, keepdims=True)
    cv = cb / np.linalg.norm(cb, axis=1, keepdims=True)
    C = (2 * (1 - cu @ cv.T) + DEFAULT_DLNCO_WEIGHT * ((da[:, None, :] - db[None, :, :]) ** 2).sum(-1)
         + DEFAULT_COST_OFFSET)
    ref = dtw(C=C, step_sizes="symmetric1")
    np.testing.assert_array_equal(res.path, ref.path)
    assert res.cost == pytest.approx(ref.cost, rel=1e-4)
    assert res.normalized_cost == pytest.approx(ref.cost / len(ref.path), rel=1e-4)


def test_dlnco_weight_zero_is_chroma_only_and_offset_changes_the_result():
    rng = np.random.default_rng(4)
    ca, cb = rng.random((200, 12)), rng.random((230, 12))
    da, db = rng.random((200, 12)), rng.random((230, 12))
    r0 = synchronize((ca, da), (cb, db), dlnco_weight=0.0, cost_offset=0.0, quantize=False, refine=False)
    ref = dtw(ca, cb, metric="cosine", step_sizes="symmetric1")
    np.testing.assert_array_equal(r0.path, ref.path)
    r1 = synchronize((ca, da), (cb, db), dlnco_weight=0.0, cost_offset=1.0, quantize=False, refine=False)
    assert len(r1.path) < len(r0.path)  # the offset favours shorter (more diagonal) paths


def test_long_inputs_respect_the_memory_bound_and_stay_near_exact():
    from alignkit.testing import random_chroma_sequence

    rng = np.random.default_rng(5)
    n = 6000
    c = np.asarray(random_chroma_sequence(n, rng=rng), dtype=np.float64)
    # B: A with its first half slowed down by 20 % (every 5th frame doubled) plus noise
    i = np.arange(n)
    idx = np.repeat(i, np.where((i % 5 == 0) & (i < n // 2), 2, 1))
    cb = c[idx] + 0.05 * rng.random((len(idx), 12))
    d = np.zeros((n, 12))
    limit = 8_000_000  # bytes; the exact grid would need 6000 x 6600 = 40 MB of back-pointers
    res = synchronize((c, d), (cb, np.zeros((len(idx), 12))), memory_limit=limit, quantize=False)
    assert len(res.info["levels"]) >= 2
    assert all(lv["region_cells"] <= limit for lv in res.info["levels"])
    # B frame j shows A frame idx[j]: within 2 frames (40 ms) of the truth almost everywhere
    assert np.mean(np.abs(idx[res.path[:, 1]] - res.path[:, 0]) <= 2) > 0.98
    lin = np.round(np.arange(len(idx)) * (n - 1) / (len(idx) - 1)).astype(int)  # linear scaling fails
    assert np.mean(np.abs(idx - lin) <= 2) < 0.2


def test_sync_inputs_shapes_and_scores(tiny_corpus):
    (vs, score) = next(x for x in tiny_corpus.values() if x[0].kind == "score")
    (va, a) = next(x for x in tiny_corpus.values() if x[0].kind == "audio")
    X, Y, rate = sync_inputs(a, score, sr=22050, dlnco_weight=4.0)
    assert X.shape[1] == Y.shape[1] == 24 and X.dtype == np.float32
    norms = np.linalg.norm(X[:, :12], axis=1)
    np.testing.assert_allclose(norms[np.abs(X[:, :12]).sum(1) > 0], 1.0, rtol=1e-5)
    assert X[:, 12:].max() <= 2.0 + 1e-6  # DLNCO in [0, 1] scaled by sqrt(4)
    assert abs(Y.shape[0] - _duration(vs, score) * rate) <= 2


def test_bad_inputs():
    c = np.random.default_rng(0).random((20, 12))
    with pytest.raises(ParameterError, match="sample rate"):
        synchronize(np.zeros(22050), (c, c))
    with pytest.raises(ParameterError, match="dlnco_weight"):
        synchronize((c, c), (c, c), dlnco_weight=-1)
    with pytest.raises(ParameterError, match="cost_offset"):
        synchronize((c, c), (c, c), cost_offset=np.nan)
    with pytest.raises(ParameterError, match="step_sizes"):
        synchronize((c, c), (c, c), step_sizes="nope")
    with pytest.raises(ParameterError, match="chroma, dlnco"):
        synchronize(c, (c, c))
    with pytest.raises(ParameterError, match="NaN"):
        synchronize((c, np.full_like(c, np.nan)), (c, c))
    with pytest.raises(ParameterError, match="frame_rate"):
        synchronize((c, c), (c, c), frame_rate=0)


def test_feature_parameters_reach_the_extractors(tiny_corpus):
    from alignkit.features import sync_features

    (va, a) = next(x for x in tiny_corpus.values() if x[0].kind == "audio")
    X, _, _ = sync_inputs(a, a, sr=22050, chroma_params={"gamma": 1e6}, dlnco_weight=1.0, quantize=False,
                          onset_power=1.0, chroma_feature="chroma_stft")
    c, d = sync_features(a, 22050, chroma={"gamma": 1e6})
    n = min(len(c.values), len(d.values))
    cu = c.values[:n] / np.maximum(np.linalg.norm(c.values[:n], axis=1, keepdims=True), 1e-30)
    np.testing.assert_allclose(X[:, :12], cu, atol=1e-5)
    np.testing.assert_allclose(X[:, 12:], d.values[:n], atol=1e-6)
    X0, _, _ = sync_inputs(a, a, sr=22050, quantize=False, chroma_feature="chroma_stft")
    assert not np.allclose(X0[:, :12], X[:, :12], atol=1e-3)  # the compression changed the chroma


def test_quantize_chroma_hand_computed_and_used_by_default():
    c = np.array([[6.0, 3.0, 1.0, 0.0] + [0.0] * 8,  # l1: 0.6, 0.3, 0.1, 0
                  [0.0] * 12,  # silent frame stays zero
                  [1.0] * 12])  # flat: 1/12 > 0.05 only
    q = quantize_chroma(c)
    np.testing.assert_allclose(q[0, :4], [1.0, 0.75, 0.25, 0.0])  # 0.1 is not > 0.1
    assert np.all(q[1] == 0)
    np.testing.assert_allclose(q[2], 0.25)
    rng = np.random.default_rng(6)
    ca, cb = rng.random((120, 12)) ** 4, rng.random((140, 12)) ** 4
    da, db = rng.random((120, 12)), rng.random((140, 12))
    res = synchronize((ca, da), (cb, db))
    ref = synchronize((quantize_chroma(ca), da), (quantize_chroma(cb), db), quantize=False)
    np.testing.assert_array_equal(res.path, ref.path)
    assert res.info["quantize"] is True


def test_chroma_and_onset_powers_hand_computed_and_passed_through():
    rng = np.random.default_rng(7)
    ca, cb = rng.random((150, 12)), rng.random((170, 12))
    da, db = rng.random((150, 12)) ** 3, rng.random((170, 12)) ** 3
    X, Y, _ = sync_inputs((ca, da), (cb, db), dlnco_weight=2.0, quantize=False, chroma_power=0.5,
                          onset_power=0.25)
    cu = ca ** 0.5 / np.linalg.norm(ca ** 0.5, axis=1, keepdims=True)
    np.testing.assert_allclose(X[:, :12], cu, rtol=1e-5)
    np.testing.assert_allclose(X[:, 12:], np.sqrt(2.0) * da ** 0.25, rtol=1e-5)
    # the chroma power acts before the quantisation: same path as pre-compressed features
    res = synchronize((ca, da), (cb, db), chroma_power=0.25, onset_power=0.5, refine=False)
    ref = synchronize((ca ** 0.25, da ** 0.5), (cb ** 0.25, db ** 0.5), onset_power=1.0, refine=False)
    np.testing.assert_array_equal(res.path, ref.path)
    assert res.info["chroma_power"] == 0.25 and res.info["onset_power"] == 0.5
    # defaults leave the features alone, and the powers change the alignment of these inputs
    plain = synchronize((ca, da), (cb, db), onset_power=1.0, refine=False)
    assert plain.info["chroma_power"] == 1.0 and plain.info["onset_power"] == 1.0
    assert not np.array_equal(plain.path, res.path)


@pytest.mark.parametrize("bad", [0, -0.5, np.nan, np.inf, True, "0.5"])
def test_bad_powers(bad):
    c = np.random.default_rng(0).random((20, 12))
    with pytest.raises(ParameterError, match="onset_power"):
        synchronize((c, c), (c, c), onset_power=bad)
    with pytest.raises(ParameterError, match="chroma_power"):
        sync_inputs((c, c), (c, c), chroma_power=bad)


def test_score_chroma_holds_the_partials_pitch_classes():
    from alignkit.align.sync import SCORE_CHROMA_HARMONICS
    from alignkit.io.notes import Notes

    assert SCORE_CHROMA_HARMONICS == 3
    notes = Notes.from_arrays(start=[0.0], end=[1.0], pitch=[60])  # one C4 for a second
    c = np.random.default_rng(8).random((60, 12))
    X, _, rate = sync_inputs(notes, (c, c), frame_rate=50)
    assert rate == 50 and X.shape == (50, 24)
    # C: 1 + 1/4 (octave partial), G: 1/9 (third partial, a twelfth up); l1 shares 0.92 and 0.08
    # quantise to 1 and 0.25 (0.08 > 0.05 only), then unit length
    expect = np.zeros(12)
    expect[0], expect[7] = 1.0, 0.25
    expect /= np.linalg.norm(expect)
    np.testing.assert_allclose(X[25, :12], expect, rtol=1e-5)


def test_chroma_feature_cqt_reaches_the_extractor(tiny_corpus):
    from alignkit.features import extract

    (va, a) = next(x for x in tiny_corpus.values() if x[0].kind == "audio")
    X, _, _ = sync_inputs(a, a, sr=22050, chroma_feature="chroma_cqt", quantize=False, dlnco_weight=0.25,
                          onset_power=0.5)
    c = extract("chroma_cqt", a, 22050, frame_rate=50.0).values
    d = extract("dlnco", a, 22050, frame_rate=50.0).values
    n = min(len(c), len(d))
    cu = c[:n] / np.maximum(np.linalg.norm(c[:n], axis=1, keepdims=True), 1e-30)
    np.testing.assert_allclose(X[:, :12], cu, atol=1e-5)
    np.testing.assert_allclose(X[:, 12:], 0.5 * np.maximum(d[:n], 0) ** 0.5, atol=1e-6)
    X0, _, _ = sync_inputs(a, a, sr=22050, quantize=False, chroma_feature="chroma_stft")
    assert not np.allclose(X0[:, :12], X[:, :12], atol=1e-2)  # not the STFT chroma
    Xd, _, _ = sync_inputs(a, a, sr=22050, quantize=False)  # the defaults: constant-Q chroma
    np.testing.assert_allclose(Xd[:, :12], X[:, :12], atol=1e-6)
    with pytest.raises(ParameterError, match="chroma_feature"):
        sync_inputs(a, a, sr=22050, chroma_feature="cens")
    with pytest.raises(ParameterError, match="frame_rate"):
        sync_inputs(a, a, sr=22050, chroma_feature="chroma_cqt", chroma_params={"frame_rate": 10})


def test_refine_is_refine_path_on_the_raw_dlnco():
    from alignkit.align.refine import refine_path

    rng = np.random.default_rng(8)
    ca, cb = rng.random((300, 12)), rng.random((360, 12))
    da = (rng.random((300, 12)) < 0.03) * rng.random((300, 12))
    db = (rng.random((360, 12)) < 0.03) * rng.random((360, 12))
    raw = synchronize((ca, da), (cb, db), refine=False, onset_power=0.5)
    res = synchronize((ca, da), (cb, db), onset_power=0.5, refine_params={"min_gap": 0.2, "tolerance": 2})
    expected, anchors = refine_path(raw.path, da, db, frame_rate=50, min_gap=0.2, tolerance=2,
                                    return_anchors=True)
    np.testing.assert_array_equal(res.path, expected)
    assert res.info["refine"] is True and res.info["n_anchors"] == len(anchors) > 0
    assert res.cost == raw.cost  # the DTW path's cost
    assert not np.array_equal(res.path, raw.path)
    with pytest.raises(ParameterError, match="refine"):
        synchronize((ca, da), (cb, db), refine="yes")
    with pytest.raises(ParameterError, match="min_gap"):
        synchronize((ca, da), (cb, db), refine_params={"min_gap": -1})
