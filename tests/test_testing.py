"""Tests of alignkit.testing: the ground-truth generators must be right before others rely on them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from alignkit.align import paths as P
from alignkit.exceptions import ParameterError
from alignkit.testing import (
    STEP_SETS,
    Warp,
    brute_force_dtw,
    random_chroma_sequence,
    random_warp,
    warp_features,
)

# ---------------------------------------------------------------- warps


def test_random_warp_reproducible_bounded_and_exact_ends():
    w1 = random_warp(400, rng=np.random.default_rng(5), n_frames_b=300, max_slope=1.8, smoothness=0.05)
    w2 = random_warp(400, rng=5, n_frames_b=300, max_slope=1.8, smoothness=0.05)
    assert np.array_equal(w1.knots_b, w2.knots_b)
    assert (w1.n_a, w1.n_b) == (400, 300)
    assert w1(0.0) == 0.0 and w1(399.0) == 299.0
    r = 299 / 399
    s = w1.slopes()
    assert s.min() >= r / 1.8 - 1e-12 and s.max() <= r * 1.8 + 1e-12
    # the tempo really varies (not a linear map)
    assert s.max() / s.min() > 1.2
    w3 = random_warp(400, rng=6, n_frames_b=300)
    assert not np.array_equal(w1.knots_b, w3.knots_b)


def test_random_warp_smoothness_controls_tempo_changes():
    rough = random_warp(2000, rng=1, smoothness=0.01).slopes()
    smooth = random_warp(2000, rng=1, smoothness=0.5).slopes()
    # mean absolute change of the log tempo from one frame to the next
    assert np.abs(np.diff(np.log(rough))).mean() > 5 * np.abs(np.diff(np.log(smooth))).mean()


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"n_frames": 1}, "n_frames=1"),
        ({"n_frames": 10, "n_frames_b": 1}, "n_frames_b=1"),
        ({"n_frames": 10.0}, "n_frames=10.0"),
        ({"n_frames": 10, "max_slope": 1.0}, "max_slope"),
        ({"n_frames": 10, "smoothness": 0.0}, "smoothness"),
        ({"n_frames": 10, "smoothness": 2.0}, "smoothness"),
    ],
)
def test_random_warp_errors(kwargs, msg):
    n = kwargs.pop("n_frames")
    with pytest.raises(ParameterError, match=msg):
        random_warp(n, rng=0, **kwargs)
    with pytest.raises(ParameterError, match="rng"):
        random_warp(10, rng="seed")


def test_warp_validation_and_inverse():
    w = Warp(np.array([0.0, 2.0, 4.0]), np.array([0.0, 1.0, 6.0]))
    assert (w.n_a, w.n_b) == (5, 7)
    np.testing.assert_allclose(w([1.0, 3.0]), [0.5, 3.5])
    x = np.linspace(0, 4, 33)
    np.testing.assert_allclose(w.inverse()(w(x)), x, atol=1e-12)
    for a, b, msg in [
        ([0.0], [0.0], "length >= 2"),
        ([1.0, 2.0], [0.0, 1.0], "starts at"),
        ([0.0, 2.0, 2.0], [0.0, 1.0, 2.0], "strictly increasing"),
        ([0.0, 2.5], [0.0, 1.0], "whole frames"),
    ]:
        with pytest.raises(ParameterError, match=msg):
            Warp(np.array(a), np.array(b))


@pytest.mark.parametrize("seed", range(3))
def test_warp_path_is_the_closest_global_path(seed):
    w = random_warp(150, rng=seed, n_frames_b=260, max_slope=3.0)
    p = w.path()
    P.validate_path(p, (150, 260))
    # every point lies within one frame of the curve, horizontally or vertically
    d = np.minimum(np.abs(p[:, 1] - w(p[:, 0])), np.abs(p[:, 0] - w.inverse()(p[:, 1])))
    assert d.max() <= 1.0
    # and the true time map of the warp agrees with the path's map within a frame
    tm_true = w.time_map(50.0, 43.0)
    tm_path = P.TimeMap.from_path(p, 50.0, 43.0)
    t = np.linspace(0, 149 / 50, 400)
    assert np.max(np.abs(tm_true(t) - tm_path(t))) <= 1.0 / 43.0


def test_warp_features_exact_on_a_linear_stretch():
    X = np.arange(20, dtype=np.float64).reshape(10, 2)
    w = Warp(np.array([0.0, 9.0]), np.array([0.0, 18.0]))  # B twice as slow
    Y, true_path = warp_features(X, w)
    assert Y.shape == (19, 2) and Y.dtype == np.float64
    np.testing.assert_allclose(Y[::2], X)  # even B frames are A frames
    np.testing.assert_allclose(Y[1::2], (X[:-1] + X[1:]) / 2)  # odd ones lie halfway
    P.validate_path(true_path, (10, 19))
    assert true_path[-1].tolist() == [9, 18]


def test_warp_features_noise_normalisation_and_dtype():
    X = random_chroma_sequence(300, rng=0, noise=0.0)
    w = random_warp(300, rng=1, n_frames_b=250)
    Y0, _ = warp_features(X, w)
    Y1, _ = warp_features(X, w, noise=0.1, rng=2)
    assert Y0.dtype == np.float32 and Y1.dtype == np.float32
    assert np.std(Y1 - Y0) == pytest.approx(0.1, rel=0.05)
    Y2, _ = warp_features(X, w, noise=0.1, rng=2, normalize="l2_nonneg")
    assert Y2.min() >= 0 and np.allclose(np.linalg.norm(Y2, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"X": np.zeros(10)}, "shape"),
        ({"warp": "w"}, "alignkit.testing.Warp"),
        ({"X": np.zeros((11, 3))}, "defined on 10 frames but X has 11"),
        ({"noise": -1.0}, "noise"),
        ({"normalize": "l1"}, "normalize='l1'"),
    ],
)
def test_warp_features_errors(kwargs, msg):
    args = {"X": np.zeros((10, 3)), "warp": random_warp(10, rng=0)} | kwargs
    X, w = args.pop("X"), args.pop("warp")
    with pytest.raises(ParameterError, match=msg):
        warp_features(X, w, **args)


# ---------------------------------------------------------------- chroma-like sequences


def test_random_chroma_sequence_structure():
    X = random_chroma_sequence(2000, rng=3, mean_segment=10.0, noise=0.0)
    assert X.shape == (2000, 12) and X.dtype == np.float32
    assert X.min() >= 0 and np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-6)
    changes = np.flatnonzero(np.any(np.diff(X, axis=0) != 0, axis=1))
    n_segments = len(changes) + 1
    assert 2000 / 10 * 0.7 < n_segments < 2000 / 10 * 1.3  # geometric lengths with mean 10
    # each frame's three or four strongest pitch classes contain a major or minor triad
    for row in X[np.r_[0, changes + 1]]:
        top = set(np.argsort(row)[-4:].tolist())
        root = int(np.argmax(row))
        assert {root, (root + 7) % 12} <= top and ({(root + 4) % 12} <= top or {(root + 3) % 12} <= top)
    Y = random_chroma_sequence(50, rng=3, noise=0.2, dtype=np.float64)
    assert Y.dtype == np.float64 and np.all(np.any(np.diff(Y, axis=0) != 0, axis=1))  # noise varies


@pytest.mark.parametrize(
    "kwargs, msg",
    [({"n": 0}, "n=0"), ({"n": 5, "mean_segment": 0.5}, "mean_segment"), ({"n": 5, "noise": -0.1}, "noise")],
)
def test_random_chroma_sequence_errors(kwargs, msg):
    with pytest.raises(ParameterError, match=msg):
        random_chroma_sequence(rng=0, **kwargs)


# ---------------------------------------------------------------- brute-force DTW oracle


def _delannoy(a: int, b: int) -> int:
    return sum(
        int(np.prod([a - i for i in range(k)]) // np.prod(range(1, k + 1)) if k else 1)
        * int(np.prod([b - i for i in range(k)]) // np.prod(range(1, k + 1)) if k else 1)
        * 2**k
        for k in range(min(a, b) + 1)
    )


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), (3, 5), (4, 4)])
def test_brute_force_enumerates_every_path(shape):
    # on a zero matrix every path is optimal: their number is the Delannoy number
    cost, paths = brute_force_dtw(np.zeros(shape))
    assert cost == 0.0
    assert len(paths) == _delannoy(shape[0] - 1, shape[1] - 1)
    assert len({tuple(map(tuple, p)) for p in paths}) == len(paths)
    for p in paths:
        P.validate_path(p, shape)


def test_brute_force_textbook_ties():
    ones = np.ones((2, 2))
    cost, paths = brute_force_dtw(ones, *STEP_SETS["symmetric1"])
    assert cost == 2.0 and [p.tolist() for p in paths] == [[[0, 0], [1, 1]]]
    # with weight 2 on the diagonal, the diagonal costs as much as the two detours
    cost, paths = brute_force_dtw(ones, *STEP_SETS["symmetric2"])
    assert cost == 3.0 and len(paths) == 3


def test_brute_force_asymmetric_steps():
    z = np.zeros((4, 3))
    cost, paths = brute_force_dtw(z, *STEP_SETS["asymmetric_21"])
    assert cost == 0.0
    assert sorted(p.tolist() for p in paths) == [[[0, 0], [1, 1], [3, 2]], [[0, 0], [2, 1], [3, 2]]]
    # no path from (0, 0) reaches (0, 2) with these steps
    assert brute_force_dtw(np.zeros((1, 3)), *STEP_SETS["asymmetric_21"]) == (float("inf"), [])


def _dp(C, steps, weights, subsequence=False):
    """A plain float64 dynamic programme, independent of the brute force."""
    n, m = C.shape
    D = np.full((n, m), np.inf)
    for i, j in itertools.product(range(n), range(m)):
        if i == 0 and (j == 0 or subsequence):
            D[i, j] = C[i, j]
        for (di, dj), w in zip(steps, weights, strict=False):
            if i - di >= 0 and j - dj >= 0:
                D[i, j] = min(D[i, j], D[i - di, j - dj] + w * C[i, j])
    return D[-1].min() if subsequence else D[-1, -1]


@pytest.mark.parametrize("name", sorted(STEP_SETS))
@pytest.mark.parametrize("seed", range(3))
def test_brute_force_equals_dynamic_programming(name, seed):
    rng = np.random.default_rng(seed)
    C = rng.random((5, 6))
    steps, weights = STEP_SETS[name]
    cost, paths = brute_force_dtw(C, steps, weights)
    assert cost == pytest.approx(_dp(C, steps, weights), rel=1e-12)
    for p in paths:  # each returned path really costs the minimum
        d = np.diff(p, axis=0)
        w = [weights[list(steps).index(tuple(s))] for s in d.tolist()]
        assert C[0, 0] + np.dot(w, C[p[1:, 0], p[1:, 1]]) == pytest.approx(cost, rel=1e-12)
    sc, sp = brute_force_dtw(C[:3], steps, weights, subsequence=True)
    assert sc == pytest.approx(_dp(C[:3], steps, weights, subsequence=True), rel=1e-12)
    for p in sp:
        P.validate_path(P.fill_path(p), (3, 6), subsequence=True)


def test_brute_force_matches_librosa():
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(9)
    C = rng.random((5, 5))
    D, wp = librosa.sequence.dtw(
        C=C, step_sizes_sigma=np.array([[1, 0], [0, 1], [1, 1]]), weights_mul=np.array([1.0, 1.0, 2.0])
    )
    cost, paths = brute_force_dtw(C, *STEP_SETS["symmetric2"])
    assert cost == pytest.approx(D[-1, -1])
    assert any(np.array_equal(p, P.from_librosa(wp)) for p in paths)


@pytest.mark.parametrize(
    "args, kwargs, msg",
    [
        ((np.zeros(3),), {}, "2-D"),
        ((np.zeros((2, 2)), [(0, 0)], [1.0]), {}, "steps="),
        ((np.zeros((2, 2)), [(1, -1)], [1.0]), {}, "steps="),
        ((np.zeros((2, 2)), [(1, 1)], [1.0, 2.0]), {}, "2 weights for 1 steps"),
        ((np.zeros((6, 6)),), {"max_paths": 100}, "max_paths=100"),
    ],
)
def test_brute_force_errors(args, kwargs, msg):
    with pytest.raises(ParameterError, match=msg):
        brute_force_dtw(*args, **kwargs)
