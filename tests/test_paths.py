"""Tests of THE warping-path convention (alignkit/align/paths.py).

Oracles: hand-computed small cases, exact linear maps, synthetic warps with known truth
(alignkit.testing), librosa as the reference for its own convention, Hypothesis invariants.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.align import paths as P
from alignkit.eval import path_discrepancy
from alignkit.exceptions import AlignkitError, ParameterError
from alignkit.testing import Warp, random_warp

DIAG4 = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])
# a 4 x 5 global continuous path with all three step kinds
GOOD = np.array([[0, 0], [0, 1], [1, 2], [2, 2], [3, 3], [3, 4]])


# ---------------------------------------------------------------- as_path / validators


def test_as_path_returns_contiguous_int64():
    p = P.as_path([[0, 0], [1, 1]])
    assert p.dtype == np.int64 and p.flags.c_contiguous and p.shape == (2, 2)
    q = P.as_path(np.array([[0.0, 0.0], [1.0, 2.0]]))  # integral floats are accepted
    assert q.dtype == np.int64 and q.tolist() == [[0, 0], [1, 2]]
    r = P.as_path(np.asfortranarray(np.array([[0, 0], [1, 1]], dtype=np.int32)))
    assert r.dtype == np.int64 and r.flags.c_contiguous


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((0, 2), dtype=int),  # empty
        np.zeros(3, dtype=int),  # 1-D
        np.zeros((3, 3), dtype=int),  # wrong width
        np.zeros((2, 3, 2), dtype=int),  # 3-D
        np.array([[0.0, 0.5], [1.0, 1.0]]),  # fractional
        np.array([[0.0, np.nan], [1.0, 1.0]]),  # NaN
        np.array([["a", "b"], ["c", "d"]]),  # strings
        np.array([[True, False], [True, True]]),  # booleans
    ],
)
def test_as_path_rejects(bad):
    with pytest.raises(ParameterError):
        P.as_path(bad)


def test_parameter_error_is_alignkit_and_value_error():
    with pytest.raises(AlignkitError):
        P.as_path(np.zeros(3))
    with pytest.raises(ValueError):
        P.as_path(np.zeros(3))


def test_validate_good_global_path():
    out = P.validate_path(GOOD, (4, 5))
    assert out.dtype == np.int64 and np.array_equal(out, GOOD)
    assert P.is_monotone(GOOD) and P.is_continuous(GOOD) and P.check_boundary(GOOD, (4, 5))


def test_validate_negative_index():
    with pytest.raises(ParameterError, match="negative indices at row 1"):
        P.validate_path([[0, 0], [-1, 1]])


def test_validate_not_monotone_names_the_step():
    bad = [[0, 0], [1, 1], [2, 0], [3, 1]]
    assert not P.is_monotone(bad)
    with pytest.raises(ParameterError, match=r"not monotone: step \[1, 1\] -> \[2, 0\] at row 1"):
        P.validate_path(bad)
    with pytest.raises(ParameterError, match="not monotone"):
        P.validate_path(bad, continuous=False)


@pytest.mark.parametrize(
    "bad, where",
    [
        ([[0, 0], [2, 1], [3, 2]], r"\[0, 0\] -> \[2, 1\] at row 0"),  # jump in A
        ([[0, 0], [1, 1], [1, 3]], r"\[1, 1\] -> \[1, 3\] at row 1"),  # jump in B
        ([[0, 0], [1, 1], [1, 1], [2, 2]], r"\[1, 1\] -> \[1, 1\] at row 1"),  # repeat
    ],
)
def test_validate_not_continuous(bad, where):
    assert not P.is_continuous(bad)
    with pytest.raises(ParameterError, match="not continuous: step " + where):
        P.validate_path(bad)


def test_validate_noncontinuous_allowed_but_repeats_rejected():
    p = [[0, 0], [2, 1], [3, 3]]
    assert np.array_equal(P.validate_path(p, (4, 4), continuous=False), p)
    with pytest.raises(ParameterError, match=r"repeats point \[2, 1\] at row 1"):
        P.validate_path([[0, 0], [2, 1], [2, 1], [3, 3]], continuous=False)


def test_validate_leaves_matrix():
    with pytest.raises(ParameterError, match="leaves the 4 x 4 matrix"):
        P.validate_path(GOOD, (4, 4))
    with pytest.raises(ParameterError, match="leaves the 3 x 5 matrix"):
        P.validate_path(GOOD, (3, 5))


@pytest.mark.parametrize(
    "path, shape",
    [
        ([[1, 1], [2, 2], [3, 3]], (4, 4)),  # starts late
        ([[0, 1], [1, 2], [2, 3], [3, 3]], (4, 4)),  # starts at (0, 1)
        ([[0, 0], [1, 1], [2, 2]], (4, 4)),  # ends early in A
        ([[0, 0], [1, 1], [2, 2], [3, 2]], (4, 4)),  # ends early in B
    ],
)
def test_validate_global_boundary(path, shape):
    assert not P.check_boundary(path, shape)
    with pytest.raises(ParameterError, match="global boundary condition for a 4 x 4 matrix"):
        P.validate_path(path, shape)
    # without the boundary check the same path is fine
    P.validate_path(path, shape, boundary=False)


def test_validate_subsequence_boundary():
    sub = [[0, 2], [1, 3], [2, 3], [3, 4]]
    assert P.check_boundary(sub, (4, 8), subsequence=True)
    assert not P.check_boundary(sub, (4, 8))
    P.validate_path(sub, (4, 8), subsequence=True)
    with pytest.raises(ParameterError, match="subsequence boundary"):
        P.validate_path([[1, 2], [2, 3], [3, 4]], (4, 8), subsequence=True)  # does not start at row 0
    with pytest.raises(ParameterError, match="subsequence boundary"):
        P.validate_path([[0, 2], [1, 3], [2, 4]], (4, 8), subsequence=True)  # does not reach row 3


def test_boundary_not_checked_without_shape():
    # documented: shape is needed for the boundary and range checks
    P.validate_path([[5, 5], [6, 6]])


# ---------------------------------------------------------------- fill_path


def test_fill_path_hand_example():
    # a (2, 1) step and a (1, 2) step, as left by the asymmetric step set
    got = P.fill_path([[0, 0], [2, 1], [3, 3]])
    assert got.tolist() == [[0, 0], [1, 0], [2, 1], [2, 2], [3, 3]]  # halves round to even
    assert P.is_continuous(got)


def test_fill_path_long_jump_is_a_straight_line():
    got = P.fill_path([[0, 0], [6, 3]])
    assert P.is_continuous(got) and got[0].tolist() == [0, 0] and got[-1].tolist() == [6, 3]
    assert len(got) == 7  # max(di, dj) + 1 points
    # every point lies within half a frame of the line j = i / 2
    assert np.all(np.abs(got[:, 1] - got[:, 0] / 2) <= 0.5)


def test_fill_path_keeps_continuous_paths_and_drops_repeats():
    assert np.array_equal(P.fill_path(GOOD), GOOD)
    rep = np.insert(GOOD, 2, GOOD[1], axis=0)
    assert np.array_equal(P.fill_path(rep), GOOD)
    assert P.fill_path([[3, 4]]).tolist() == [[3, 4]]


def test_fill_path_rejects_non_monotone():
    with pytest.raises(ParameterError, match="not monotone"):
        P.fill_path([[0, 0], [2, 1], [1, 3]])


# ---------------------------------------------------------------- frames <-> seconds, matrix


def test_frames_seconds():
    assert np.array_equal(P.frames_to_seconds([0, 1, 50], 50.0), [0.0, 0.02, 1.0])
    assert np.array_equal(P.seconds_to_frames([0.0, 0.029, 0.031, 1.0], 50), [0, 1, 2, 50])
    assert np.array_equal(P.seconds_to_frames([0.029], 50, rounding="floor"), [1])
    assert np.array_equal(P.seconds_to_frames([0.021], 50, rounding="ceil"), [2])
    f = np.arange(1000)
    assert np.array_equal(P.seconds_to_frames(P.frames_to_seconds(f, 22050 / 512), 22050 / 512), f)
    assert P.seconds_to_frames([0.5], 10).dtype == np.int64


@pytest.mark.parametrize("rate", [0, -1.0, np.nan, np.inf, "50", None, True])
def test_bad_frame_rates(rate):
    with pytest.raises(ParameterError, match="frame_rate"):
        P.frames_to_seconds([1], rate)
    with pytest.raises(ParameterError, match="frame_rate"):
        P.seconds_to_frames([1.0], rate)
    with pytest.raises(ParameterError, match="frame_rate"):
        P.TimeMap.from_path(DIAG4, rate)


def test_seconds_to_frames_bad_rounding_and_nonfinite():
    with pytest.raises(ParameterError, match="rounding='up'"):
        P.seconds_to_frames([1.0], 10, rounding="up")
    with pytest.raises(ParameterError, match="finite"):
        P.seconds_to_frames([np.nan], 10)


def test_path_to_seconds_two_rates():
    s = P.path_to_seconds([[0, 0], [10, 20]], 10.0, 20.0)
    assert s.dtype == np.float64 and s.tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert P.path_to_seconds([[4, 8]], 4.0).tolist() == [[1.0, 2.0]]


def test_path_to_matrix():
    m = P.path_to_matrix(GOOD)
    assert m.shape == (4, 5) and m.nnz == len(GOOD)
    dense = m.toarray()
    assert dense.dtype == bool and dense.sum() == len(GOOD)
    assert sorted(zip(*np.nonzero(dense), strict=False)) == [tuple(x) for x in GOOD.tolist()]
    assert P.path_to_matrix(GOOD, (10, 10)).shape == (10, 10)
    with pytest.raises(ParameterError, match="does not fit"):
        P.path_to_matrix(GOOD, (4, 4))
    with pytest.raises(ParameterError, match="negative"):
        P.path_to_matrix([[0, -1], [1, 0]])


# ---------------------------------------------------------------- time maps


def test_strictly_monotone_points_hand_example():
    # row 0 spans columns 0..2 (mean 1); rows 1 and 2 both sit on column 3 (mean row 1.5)
    p = [[0, 0], [0, 1], [0, 2], [1, 3], [2, 3], [3, 4]]
    assert P.strictly_monotone_points(p).tolist() == [[0.0, 1.0], [1.5, 3.0], [3.0, 4.0]]


def test_time_map_exact_on_linear_path():
    # every second A frame advances B by one frame, rates 10 and 25 Hz: t_b = (t_a * 10 / 2) / 25
    path = np.array([[2 * k, k] for k in range(11)])
    tm = P.TimeMap.from_path(path, 10.0, 25.0)
    t = np.array([-1.0, 0.0, 0.05, 0.37, 1.0, 2.0, 5.0])  # inside and outside (extrapolated)
    np.testing.assert_allclose(tm(t), t * 5 / 25, rtol=0, atol=1e-12)
    # the diagonal at equal rates is the identity
    tm2 = P.TimeMap.from_path(DIAG4, 43.0)
    np.testing.assert_allclose(tm2([0.0, 0.01, 3 / 43, 1.0]), [0.0, 0.01, 3 / 43, 1.0], atol=1e-15)


def test_time_map_extrapolates_with_the_global_slope():
    path = [[0, 0], [1, 1], [2, 4]]  # slope 1 then 3; overall (4 - 0) / (2 - 0) = 2
    tm = P.TimeMap.from_path(path, 1.0, strict=True)
    np.testing.assert_allclose(tm([-1.0, 0.5, 1.5, 3.0]), [-2.0, 0.5, 2.5, 6.0])


def test_time_map_strict_inverse_round_trip():
    rng = np.random.default_rng(3)
    w = random_warp(300, rng=rng, n_frames_b=420, max_slope=3.0)
    tm = P.TimeMap.from_path(w.path(), 50.0, 43.0)
    t = np.concatenate([rng.uniform(-2, 8, 500), [0.0, 299 / 50]])
    np.testing.assert_allclose(tm.inverse()(tm(t)), t, rtol=0, atol=1e-9)
    s = rng.uniform(-2, 12, 500)
    np.testing.assert_allclose(tm(tm.inverse()(s)), s, rtol=0, atol=1e-9)
    assert np.all(np.diff(tm(np.sort(t))) >= 0)


def test_time_map_nonstrict_is_not_invertible():
    tm = P.TimeMap.from_path([[0, 0], [1, 0], [2, 1]], 10.0, strict=False)
    assert not tm.strict
    # rows 0 and 1 both map to column 0: a flat piece
    np.testing.assert_allclose(tm([0.0, 0.1, 0.2]), [0.0, 0.0, 0.1])
    with pytest.raises(ParameterError, match="only a strict TimeMap"):
        tm.inverse()


def test_time_map_tracks_a_known_warp():
    # the strict map of the true path of a synthetic warp stays within one frame of the warp
    w = random_warp(500, rng=np.random.default_rng(7), n_frames_b=350, max_slope=2.5)
    tm = P.TimeMap.from_path(w.path(), 1.0)
    a = np.linspace(0, 499, 2000)
    assert np.max(np.abs(tm(a) - w(a))) <= 1.0


def test_time_map_single_point_and_validation():
    tm = P.TimeMap.from_path([[3, 5]], 1.0)
    assert tm([0.0, 10.0]).tolist() == [2.0, 12.0]  # slope 1 through the only anchor
    assert tm.inverse()(tm([0.0, 10.0])).tolist() == [0.0, 10.0]
    # a pure vertical run collapses to one anchor at its mean, and stays invertible
    tv = P.TimeMap.from_path([[0, 0], [1, 0], [2, 0]], 1.0)
    assert tv.points.tolist() == [[1.0, 0.0]] and tv([1.0, 2.0]).tolist() == [0.0, 1.0]
    with pytest.raises(ParameterError, match="shape"):
        P.TimeMap(points=np.zeros((3, 3)))
    with pytest.raises(ParameterError, match="strictly increasing"):
        P.TimeMap(points=np.array([[0.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ParameterError, match="non-decreasing"):
        P.TimeMap(points=np.array([[0.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(ParameterError, match="strict map"):
        P.TimeMap(points=np.array([[0.0, 1.0], [1.0, 1.0]]), strict=True)
    with pytest.raises(ParameterError, match="finite"):
        P.TimeMap(points=np.array([[0.0, 1.0], [np.inf, 2.0]]))


# ---------------------------------------------------------------- inversion and composition


def test_invert_path():
    inv = P.invert_path(GOOD)
    assert inv.tolist() == [[b, a] for a, b in GOOD.tolist()]
    P.validate_path(inv, (5, 4))
    assert np.array_equal(P.invert_path(inv), GOOD)


def test_compose_with_identity_is_identity():
    ident_a = np.stack([np.arange(4), np.arange(4)], axis=1)
    ident_b = np.stack([np.arange(5), np.arange(5)], axis=1)
    assert np.array_equal(P.compose_paths(GOOD, ident_b), GOOD)
    assert np.array_equal(P.compose_paths(ident_a, GOOD), GOOD)


def test_compose_hand_example_block():
    # B frame 1 is aligned to A frames 1, 2 and to C frames 1, 2: the block becomes a staircase
    ab = [[0, 0], [1, 1], [2, 1], [3, 2]]
    bc = [[0, 0], [1, 1], [1, 2], [2, 3]]
    got = P.compose_paths(ab, bc)
    P.validate_path(got, (4, 4))
    assert got.tolist() == [[0, 0], [1, 1], [1, 2], [2, 2], [3, 3]]


def _composed_warp(w1: Warp, w2: Warp) -> Warp:
    xa = np.union1d(w1.knots_a, w1.inverse()(w2.knots_a))
    return Warp(xa, w2(w1(xa)))


@pytest.mark.parametrize("seed", range(4))
def test_compose_matches_direct_synthetic_truth(seed):
    rng = np.random.default_rng(seed)
    w_ab = random_warp(240, rng=rng, n_frames_b=310, max_slope=3.0)
    w_bc = random_warp(310, rng=rng, n_frames_b=200, max_slope=3.0)
    composed = P.compose_paths(w_ab.path(), w_bc.path())
    P.validate_path(composed, (240, 200))
    d = path_discrepancy(composed, _composed_warp(w_ab, w_bc).path())
    assert d["within_1"] == 1.0 and d["within_0"] > 0.6 and d["mean_distance"] < 0.35


def test_compose_requires_shared_b_frames():
    with pytest.raises(ParameterError, match="do not share B frame 3"):
        P.compose_paths([[0, 0], [1, 1], [2, 2], [3, 3]], [[0, 0], [1, 1], [2, 2]])


def test_compose_then_invert():
    # (A->B then B->A) contains the diagonal's end points and is a valid global A->A path
    w = random_warp(100, rng=np.random.default_rng(11), n_frames_b=160)
    p = w.path()
    aa = P.compose_paths(p, P.invert_path(p))
    P.validate_path(aa, (100, 100))
    d = path_discrepancy(aa, np.stack([np.arange(100)] * 2, axis=1))
    assert d["max_distance"] <= 1


# ---------------------------------------------------------------- other libraries' conventions


def test_librosa_convention_round_trip():
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(0)
    C = rng.random((7, 9))
    _, wp = librosa.sequence.dtw(C=C)
    assert tuple(wp[0]) == (6, 8)  # librosa runs end -> start
    p = P.from_librosa(wp)
    P.validate_path(p, (7, 9))
    assert tuple(p[0]) == (0, 0) and tuple(p[-1]) == (6, 8)
    assert np.array_equal(P.to_librosa(p), wp)
    # the path's cost as librosa defines it equals librosa's accumulated cost
    D, _ = librosa.sequence.dtw(
        C=C, step_sizes_sigma=np.array([[1, 1], [0, 1], [1, 0]]), weights_mul=np.array([1.0, 1.0, 1.0])
    )
    assert np.isclose(C[p[:, 0], p[:, 1]].sum(), D[-1, -1])


def test_synctoolbox_convention_round_trip():
    wp = np.array([[0, 1, 1, 2], [0, 0, 1, 2]])  # shape (2, L), start -> end
    p = P.from_synctoolbox(wp)
    assert p.tolist() == [[0, 0], [1, 0], [1, 1], [2, 2]]
    assert np.array_equal(P.to_synctoolbox(p), wp)
    with pytest.raises(ParameterError):
        P.from_synctoolbox(wp.T[:, :1])


def test_path_from_pairs():
    assert P.path_from_pairs([(0, 0), (1, 2)]).tolist() == [[0, 0], [1, 2]]


# ---------------------------------------------------------------- Hypothesis invariants

_steps = st.lists(st.sampled_from([(1, 0), (0, 1), (1, 1)]), min_size=1, max_size=60)


def _path_from_steps(steps) -> np.ndarray:
    return np.cumsum(np.vstack([[0, 0], np.array(steps)]), axis=0)


@settings(max_examples=60, deadline=None)
@given(_steps, st.floats(5, 100), st.floats(5, 100))
def test_hyp_time_map_monotone_and_invertible(steps, ra, rb):
    p = _path_from_steps(steps)
    P.validate_path(p, tuple(p[-1] + 1))
    tm = P.TimeMap.from_path(p, ra, rb)
    t = np.linspace(-1.0, (p[-1, 0] + 1) / ra + 1.0, 200)
    y = tm(t)
    assert np.all(np.diff(y) > 0)  # strictly monotone
    np.testing.assert_allclose(tm.inverse()(y), t, rtol=0, atol=1e-9)
    # every anchor lies within the path's bounding box, in seconds
    assert tm.points[:, 1].min() >= 0 and tm.points[:, 1].max() <= p[-1, 1] / rb + 1e-12
    loose = P.TimeMap.from_path(p, ra, rb, strict=False)
    assert np.all(np.diff(loose(t)) >= 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=30))
def test_hyp_fill_path(jumps):
    jumps = [j for j in jumps if j != (0, 0)] or [(1, 1)]
    p = _path_from_steps(jumps)
    f = P.fill_path(p)
    assert P.is_continuous(f) and P.is_monotone(f)
    assert np.array_equal(f[0], p[0]) and np.array_equal(f[-1], p[-1])
    # every original point is kept
    fs = {tuple(x) for x in f.tolist()}
    assert all(tuple(x) in fs for x in p.tolist())
    assert len(f) == int(np.abs(np.diff(p, axis=0)).max(axis=1).sum()) + 1


@settings(max_examples=40, deadline=None)
@given(_steps, _steps)
def test_hyp_invert_and_compose_stay_valid(s1, s2):
    ab = _path_from_steps(s1)
    inv = P.invert_path(ab)
    P.validate_path(inv, (ab[-1, 1] + 1, ab[-1, 0] + 1))
    # build B->C over the same B frames by stretching s2 onto B's length
    nb = int(ab[-1, 1]) + 1
    bc = P.fill_path(np.array([[0, 0], [nb - 1, len(s2)]])) if nb > 1 else np.array([[0, 0], [0, 1]])
    ac = P.compose_paths(ab, bc)
    P.validate_path(ac, (ab[-1, 0] + 1, bc[-1, 1] + 1))
