"""Onset-anchored path refinement (alignkit.align.refine): known piecewise-linear truths."""

from __future__ import annotations

import numpy as np
import pytest

from alignkit.align.paths import TimeMap, validate_path
from alignkit.align.refine import onset_anchors, onset_strength, refine_path, refine_time_map
from alignkit.align.sync import synchronize
from alignkit.exceptions import ParameterError
from alignkit.features.base import Features
from alignkit.testing.warps import Warp

RATE = 50.0


def _versions(onsets_a, warp: Warp, seed: int = 0):
    """Chroma and DLNCO-like onset features of A (onsets at ``onsets_a``) and of B = warp(A).

    Every note onset has its own random pitch-class vector; chroma holds it until the next
    onset; the onset feature has it at the onset frame, decaying over three frames.
    """
    rng = np.random.default_rng(seed)
    onsets_b = np.rint(warp(onsets_a)).astype(np.int64)
    pcs = rng.random((len(onsets_a), 12)) ** 4

    def feats(on, length):
        d = np.zeros((length, 12))
        for k, f in enumerate(on):
            for t in range(4):
                if f + t < length:
                    d[f + t] = np.maximum(d[f + t], pcs[k] / np.sqrt(1 + t))
        seg = np.searchsorted(on, np.arange(length), side="right") - 1
        c = np.where(seg[:, None] >= 0, pcs[np.clip(seg, 0, None)] + 0.1, 0.1)
        return c, d

    return feats(np.asarray(onsets_a), warp.n_a), feats(onsets_b, warp.n_b), onsets_b


def _b_of_a(path, n):
    """Mean B frame per A frame (what the strict time map interpolates)."""
    return np.bincount(path[:, 0], weights=path[:, 1], minlength=n) / np.bincount(path[:, 0], minlength=n)


def test_held_note_and_tempo_change_straightened_to_the_truth():
    # A: onsets every 12 frames, then a hold from frame 238 to 400 (no onset), then onsets
    # again; B holds twice as long (a fermata) and plays the end faster
    on_a = np.r_[np.arange(10, 239, 12), np.arange(400, 590, 12)]
    warp = Warp(np.array([0.0, 238.0, 400.0, 599.0]), np.array([0.0, 238.0, 562.0, 721.0]))
    (ca, da), (cb, db), _ = _versions(on_a, warp)
    path = synchronize((ca, da), (cb, db), frame_rate=RATE, refine=False).path
    n = warp.n_a
    truth = warp(np.arange(n))
    before = np.abs(_b_of_a(path, n) - truth)
    assert before[238:401].max() > 50  # the DTW path is kinked inside the hold
    out, anchors = refine_path(path, da, db, frame_rate=RATE, return_anchors=True)
    after = np.abs(_b_of_a(out, n) - truth)
    assert after[238:401].max() <= 1.0  # the straight line: within a frame of the truth
    # up to the last onset (the tail after it has no anchor and stays as DTW left it); onsets
    # after the hold sit on rounded frames of the 0.8 slope
    assert after[: on_a[-1] + 1].max() <= 1.5
    # the dense part (onsets every 12 frames, slope 1) is untouched
    k = int(np.searchsorted(path[:, 0], 238))
    np.testing.assert_array_equal(out[: k + 1], path[: k + 1])
    # one anchor per onset pair on each side of the hold
    assert [238, 238] in anchors.tolist() and [400, 562] in anchors.tolist()
    validate_path(out, (n, warp.n_b))


def test_dense_onsets_leave_the_path_unchanged():
    on_a = np.arange(5, 495, 7)
    warp = Warp(np.array([0.0, 200.0, 499.0]), np.array([0.0, 300.0, 600.0]))
    (_, da), (_, db), on_b = _versions(on_a, warp, seed=1)
    path = warp.path()
    out, anchors = refine_path(path, da, db, frame_rate=RATE, return_anchors=True)
    np.testing.assert_array_equal(out, path)
    assert len(anchors) == len(on_a)
    np.testing.assert_array_equal(anchors, np.stack([on_a, on_b], axis=1))
    # with min_gap 0 every gap is straightened, and the true map is linear between onsets
    out0 = refine_path(path, da, db, frame_rate=RATE, min_gap=0.0)
    assert np.abs(_b_of_a(out0, warp.n_a) - warp(np.arange(warp.n_a))).max() <= 1.0


def test_kinked_path_between_two_onsets_is_straightened():
    d = np.zeros((300, 12))
    d[[10, 290], 0] = 1.0
    e = np.zeros((400, 12))
    e[[10, 390], 0] = 1.0
    kinked = np.array([(i, i) for i in range(290)] + [(289, j) for j in range(290, 391)]
                      + [(i, 390) for i in range(290, 300)] + [(299, j) for j in range(391, 400)])
    out = refine_path(kinked, d, e, frame_rate=RATE)
    truth = 10 + (np.arange(10, 291) - 10) * 380 / 280
    assert np.abs(_b_of_a(out, 300)[10:291] - truth).max() <= 0.5
    # a gap shorter than min_gap is kept as it is
    kept = refine_path(kinked, d, e, frame_rate=RATE, min_gap=280 / RATE + 0.01)
    np.testing.assert_array_equal(kept, kinked)


@pytest.mark.parametrize("seed", range(6))
def test_output_is_a_monotone_continuous_path_with_the_same_ends(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(50, 400)), int(rng.integers(50, 400))
    # a random global path: random walk of (1,0), (0,1), (1,1) steps
    steps = []
    i = j = 0
    while i < n - 1 or j < m - 1:
        s = rng.integers(3)
        di, dj = [(1, 0), (0, 1), (1, 1)][s]
        di, dj = min(di, n - 1 - i), min(dj, m - 1 - j)
        if di == dj == 0:
            di, dj = (1, 0) if i < n - 1 else (0, 1)
        i, j = i + di, j + dj
        steps.append((i, j))
    path = np.array([(0, 0)] + steps)
    da = (rng.random((n, 12)) < 0.05) * rng.random((n, 12))
    db = (rng.random((m, 12)) < 0.05) * rng.random((m, 12))
    out, anchors = refine_path(path, da, db, frame_rate=RATE, min_gap=0.1, tolerance=3, min_similarity=0.0,
                               return_anchors=True)
    validate_path(out, (n, m))  # continuous, monotone, global
    assert len(anchors) > 0
    assert np.all(np.diff(anchors, axis=0) > 0)
    # every anchor lies on the output path
    on = {tuple(x) for x in out.tolist()}
    assert all(tuple(a) in on for a in anchors.tolist())


def test_no_onsets_gives_the_path_back_and_features_carry_the_rate():
    path = np.array([(0, 0), (1, 1), (2, 1), (3, 2)])
    z = np.zeros((4, 12))
    np.testing.assert_array_equal(refine_path(path, z, z, frame_rate=RATE), path)
    fa = Features(z, RATE, "dlnco", {}, None)
    np.testing.assert_array_equal(refine_path(path, fa, fa), path)
    assert onset_anchors(path, z, z).shape == (0, 2)
    s = onset_strength(np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]]))
    np.testing.assert_allclose(s, [0.0, 5.0, 0.0])


def test_time_map_puts_anchors_at_sub_frame_onsets():
    # A: onsets at frames 20 (exact) and 100 + 1/4 (a chord spread over frames 100 and 101 with
    # strengths 3 : 1); B: the same at 30 and 250 + 3/4 (strengths 1 : 3 over 250 and 251)
    da = np.zeros((200, 12))
    db = np.zeros((300, 12))
    da[20, 5] = db[30, 5] = 1.0
    da[100:, 0], da[101:, 1] = 3.0, 1.0  # increments 3 at frame 100, 1 at 101
    db[250:, 1], db[251:, 0] = 1.0, 3.0  # increments 1 at frame 250, 3 at 251 (same pitch classes)
    warp = Warp(np.array([0.0, 20.0, 100.25, 199.0]), np.array([0.0, 30.0, 250.75, 299.0]))
    path = warp.path()
    tm = refine_time_map(path, da, db, frame_rate=RATE)
    assert tm.strict
    np.testing.assert_allclose(tm(np.array([20.0, 100.25]) / RATE), np.array([30.0, 250.75]) / RATE,
                               atol=1e-12)
    # between them (more than a second apart) the straight line: the true map
    t = np.linspace(21, 99, 40)
    np.testing.assert_allclose(tm(t / RATE), warp(t) / RATE, atol=1e-12)
    # the integer anchors are the peak frames
    _, anchors = refine_path(path, da, db, frame_rate=RATE, return_anchors=True)
    assert anchors.tolist() == [[20, 30], [100, 251]]


def test_time_map_follows_the_refined_path():
    on_a = np.r_[np.arange(10, 239, 12), np.arange(400, 590, 12)]
    warp = Warp(np.array([0.0, 238.0, 400.0, 599.0]), np.array([0.0, 238.0, 562.0, 721.0]))
    (ca, da), (cb, db), _ = _versions(on_a, warp)
    path = synchronize((ca, da), (cb, db), frame_rate=RATE, refine=False).path
    fa = Features(da, RATE, "dlnco", {}, None)
    tm = refine_time_map(path, fa, Features(db, RATE, "dlnco", {}, None))
    t = np.arange(0, on_a[-1] + 1, 0.5)
    # as the path: within 1.5 frames (between onsets 12 frames apart the DTW path is kept)
    assert np.abs(tm(t / RATE) - warp(t) / RATE).max() <= 1.5 / RATE
    held = (t > 238) & (t < 400)
    assert np.abs(tm(t[held] / RATE) - warp(t[held]) / RATE).max() <= 0.5 / RATE
    tp = TimeMap.from_path(refine_path(path, da, db, frame_rate=RATE), RATE)
    assert np.abs(tm(t / RATE) - tp(t / RATE)).max() <= 1.0 / RATE


def _bad_call(kind):
    path = np.array([(0, 0), (1, 1), (2, 2)])
    z = np.zeros((3, 12))
    calls = {
        "path_shape": lambda: refine_path(np.zeros((3, 3), int), z, z, frame_rate=RATE),
        "path_not_monotone": lambda: refine_path(np.array([(0, 0), (2, 2), (1, 1)]), z, z, frame_rate=RATE),
        "path_outside": lambda: refine_path(np.array([(0, 0), (5, 5)]), z, z, frame_rate=RATE),
        "onsets_nan": lambda: refine_path(path, np.full((3, 12), np.nan), z, frame_rate=RATE),
        "onsets_3d": lambda: refine_path(path, np.zeros((3, 2, 2)), z, frame_rate=RATE),
        "onsets_dims": lambda: refine_path(path, np.zeros((3, 4)), z, frame_rate=RATE),
        "no_rate": lambda: refine_path(path, z, z),
        "rate_negative": lambda: refine_path(path, z, z, frame_rate=-50.0),
        "rate_disagrees": lambda: refine_path(path, Features(z, 50.0, "dlnco", {}, None), z, frame_rate=25.0),
        "min_gap": lambda: refine_path(path, z, z, frame_rate=RATE, min_gap=-1.0),
        "threshold": lambda: refine_path(path, z, z, frame_rate=RATE, threshold=float("nan")),
        "tolerance_float": lambda: refine_path(path, z, z, frame_rate=RATE, tolerance=1.5),
        "tolerance_negative": lambda: onset_anchors(path, z, z, tolerance=-1),
        "tolerance_bool": lambda: onset_anchors(path, z, z, tolerance=True),
        "similarity": lambda: onset_anchors(path, z, z, min_similarity=2.0),
        "return_anchors": lambda: refine_path(path, z, z, frame_rate=RATE, return_anchors="yes"),
        "time_map_no_rate": lambda: refine_time_map(path, z, z),
        "time_map_gap": lambda: refine_time_map(path, z, z, frame_rate=RATE, min_gap=float("inf")),
    }
    return calls[kind]


@pytest.mark.parametrize("kind", [
    "path_shape", "path_not_monotone", "path_outside", "onsets_nan", "onsets_3d", "onsets_dims", "no_rate",
    "rate_negative", "rate_disagrees", "min_gap", "threshold", "tolerance_float", "tolerance_negative",
    "tolerance_bool", "similarity", "return_anchors", "time_map_no_rate", "time_map_gap",
])
def test_bad_input_raises_parameter_error(kind):
    with pytest.raises(ParameterError):
        _bad_call(kind)()


def test_real_fermata_beats_beethoven_17_1(shared_data, tmp_path):
    """Two real performances (ASAP, rendered): the beats inside the Largo's held fermata chord."""
    from alignkit.corpus import load_corpus
    from alignkit.eval.metrics import alignment_errors
    from alignkit.features import sync_features
    from alignkit.io.audio import load_audio
    from alignkit.synth.asap import render_asap

    asap = shared_data / "asap"
    if not (asap / "Beethoven" / "Piano_Sonatas" / "17-1_no_repeat" / "GuoE02M.mid").is_file():
        pytest.skip(f"ASAP Beethoven 17-1 performances are absent from {asap}")
    root = render_asap(asap, tmp_path / "asap", pieces=["Beethoven/Piano_Sonatas/17-1_no_repeat"],
                       performances=["Giesbrecht02", "GuoE02M"], max_duration=16.0)
    corpus = load_corpus(root)
    work = corpus.works()[0]
    feats, beats = [], []
    for v in ("Giesbrecht02", "GuoE02M"):
        y, sr = load_audio(corpus.get(work, v).path, sr=22050)
        feats.append(sync_features(y, sr, frame_rate=RATE))
        beats.append(corpus.get(work, v).read_annotations("beats").times)
    k = int(np.searchsorted(beats[0], 12.0))  # away from the cut at 16 s
    ta, tb = beats[0][:k], beats[1][:k]
    # the fermata: A holds a chord from 7.91 s to 11.03 s; beats 8.95 and 9.99 have no onset
    held = np.flatnonzero((ta > 8.5) & (ta < 10.5))
    assert len(held) == 2
    # the earlier defaults (DLNCO power 1, weight 1), whose DTW path kinks inside this fermata
    path = synchronize(feats[0], feats[1], refine=False, onset_power=1.0, dlnco_weight=1.0).path
    before = np.abs(alignment_errors(path, ta, tb, frame_rate_a=RATE, frame_rate_b=RATE))
    out = refine_path(path, feats[0][1], feats[1][1])
    after = np.abs(alignment_errors(out, ta, tb, frame_rate_a=RATE, frame_rate_b=RATE))
    assert before[held].min() > 0.2  # the kinked DTW path: hundreds of ms off
    assert after[held].max() < 0.03
    others = np.setdiff1d(np.arange(k), held)
    assert np.all(after[others] <= before[others] + 0.01)
    validate_path(out, (len(feats[0][1].values), len(feats[1][1].values)))
    tm = refine_time_map(path, feats[0][1], feats[1][1])
    assert np.abs(tm(ta[held]) - tb[held]).max() < 0.03
