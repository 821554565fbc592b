"""Tests of alignkit.eval: hand-computed values on tiny cases, and every bad-input branch."""

from __future__ import annotations

import numpy as np
import pytest

from alignkit.eval import (
    DEFAULT_TOLERANCES,
    alignment_errors,
    composition_discrepancy,
    error_summary,
    linear_path,
    match_by_label,
    mean_reciprocal_rank,
    path_discrepancy,
    ranks_from_scores,
    top_k_accuracy,
    transfer_times,
)
from alignkit.exceptions import ParameterError

# A -> B where B is twice as slow (1 A frame = 2 B frames), both at 10 Hz
SLOW2 = np.array([[k, 2 * k] for k in range(6)])  # (0,0),(1,2),...,(5,10), not continuous on purpose


# ---------------------------------------------------------------- transfer and errors


def test_transfer_times_hand_values():
    # (k, 2k) at 10 Hz both: t_b = 2 t_a exactly, extrapolated outside [0, 0.5]
    got = transfer_times(SLOW2, [0.0, 0.05, 0.25, 0.5, 0.7], frame_rate_a=10, frame_rate_b=10)
    np.testing.assert_allclose(got, [0.0, 0.1, 0.5, 1.0, 1.4], atol=1e-12)
    # different frame rates: B at 20 Hz -> the same frames are half the time
    got = transfer_times(SLOW2, [0.25], frame_rate_a=10, frame_rate_b=20)
    np.testing.assert_allclose(got, [0.25], atol=1e-12)


def test_transfer_times_strict_vs_loose_on_a_flat_run():
    # A frame 1 is held against B frames 1..3: strict maps A frame 1 to B 2 (run mean),
    # and so does the loose map; they differ on the vertical run (A 3, 4 -> B 4)
    path = [[0, 0], [1, 1], [1, 2], [1, 3], [2, 4], [3, 4], [4, 5]]
    strict = transfer_times(path, [0.1, 0.2, 0.3], frame_rate_a=10, frame_rate_b=10)
    loose = transfer_times(path, [0.1, 0.2, 0.3], frame_rate_a=10, frame_rate_b=10, strict=False)
    np.testing.assert_allclose(loose, [0.2, 0.4, 0.4], atol=1e-12)
    # strict: anchors (0,0), (1,2), (2.5,4), (4,5) in frames
    np.testing.assert_allclose(
        strict, [0.2, 0.2 + (4 - 2) / 1.5 * 0.1, 0.4 + (5 - 4) / 1.5 * 0.05], atol=1e-12
    )


def test_alignment_errors_signed():
    # true B times of annotations at A = 0.1, 0.3 are 0.25 and 0.55 -> errors -0.05, +0.05
    e = alignment_errors(SLOW2, [0.1, 0.3], [0.25, 0.55], frame_rate_a=10, frame_rate_b=10)
    np.testing.assert_allclose(e, [-0.05, 0.05], atol=1e-12)


def test_alignment_errors_count_mismatch():
    with pytest.raises(ParameterError, match="ref_a has 2 annotations but ref_b has 3"):
        alignment_errors(SLOW2, [0.1, 0.2], [0.1, 0.2, 0.3], frame_rate_a=10, frame_rate_b=10)


@pytest.mark.parametrize("bad", [[[0.1, 0.2]], [0.1, np.nan], [np.inf]])
def test_transfer_times_bad_times(bad):
    with pytest.raises(ParameterError, match="times_a"):
        transfer_times(SLOW2, bad, frame_rate_a=10, frame_rate_b=10)


def test_transfer_times_bad_path_and_rate():
    with pytest.raises(ParameterError, match="not monotone"):
        transfer_times([[0, 0], [2, 1], [1, 2]], [0.1], frame_rate_a=10, frame_rate_b=10)
    with pytest.raises(ParameterError, match="frame_rate"):
        transfer_times(SLOW2, [0.1], frame_rate_a=0, frame_rate_b=10)


def test_match_by_label():
    ta, tb, labels = match_by_label([0.0, 1.0, 2.0, 3.0], ["1", "2", "3", "4"], [0.5, 2.5, 3.5], [1, 3, 4])
    assert ta.tolist() == [0.0, 2.0, 3.0] and tb.tolist() == [0.5, 2.5, 3.5]
    assert labels.tolist() == ["1", "3", "4"]


@pytest.mark.parametrize(
    "args, msg",
    [
        (([0.0, 1.0], ["a"], [0.0], ["a"]), "differ in length"),
        (([0.0, 1.0], ["a", "a"], [0.0], ["a"]), "labels_a repeats label 'a'"),
        (([0.0], ["a"], [0.0, 1.0], ["b", "b"]), "labels_b repeats label 'b'"),
        (([0.0, 1.0], ["a", "b"], [0.0, 1.0], ["b", "a"]), "different order"),
        (([0.0], ["a"], [0.0], ["b"]), "share no label"),
    ],
)
def test_match_by_label_errors(args, msg):
    with pytest.raises(ParameterError, match=msg):
        match_by_label(*args)


# ---------------------------------------------------------------- summary


def test_error_summary_hand_values():
    e = [-0.005, 0.02, -0.04, 0.3, 1.2]
    s = error_summary(e)
    assert s["n"] == 5
    assert s["mean_ms"] == pytest.approx((5 + 20 + 40 + 300 + 1200) / 5)
    assert s["median_ms"] == pytest.approx(40.0)
    assert s["max_ms"] == pytest.approx(1200.0)
    assert s["mean_signed_ms"] == pytest.approx((-5 + 20 - 40 + 300 + 1200) / 5)
    assert s["within_10ms"] == pytest.approx(0.2)
    assert s["within_25ms"] == pytest.approx(0.4)
    assert s["within_50ms"] == pytest.approx(0.6)
    assert s["within_100ms"] == pytest.approx(0.6)
    assert s["within_250ms"] == pytest.approx(0.6)
    assert s["within_500ms"] == pytest.approx(0.8)
    assert s["within_1000ms"] == pytest.approx(0.8)
    assert len(DEFAULT_TOLERANCES) == 7


def test_error_summary_boundary_counts_as_within_and_custom_keys():
    s = error_summary([0.01, -0.025, 0.0025], tolerances=(0.01, 0.0025))
    assert s["within_10ms"] == pytest.approx(2 / 3)
    assert s["within_2p5ms"] == pytest.approx(1 / 3)
    assert "within_25ms" not in s


@pytest.mark.parametrize(
    "errors, tol, msg",
    [
        ([], DEFAULT_TOLERANCES, "empty"),
        ([np.nan], DEFAULT_TOLERANCES, "non-finite"),
        ([0.1], (0.0,), "tolerance"),
    ],
)
def test_error_summary_errors(errors, tol, msg):
    with pytest.raises(ParameterError, match=msg):
        error_summary(errors, tolerances=tol)


# ---------------------------------------------------------------- paths: baseline and discrepancy


def test_linear_path():
    assert linear_path(1, 1).tolist() == [[0, 0]]
    assert linear_path(3, 3).tolist() == [[0, 0], [1, 1], [2, 2]]
    p = linear_path(3, 5)
    assert p.tolist() == [[0, 0], [0, 1], [1, 2], [2, 3], [2, 4]]  # halves round to even
    q = linear_path(40, 97)
    assert q.shape == (97, 2) and q[0].tolist() == [0, 0] and q[-1].tolist() == [39, 96]
    assert np.all(np.abs(q[:, 0] - q[:, 1] * 39 / 96) <= 0.5 + 1e-12)  # on the diagonal, rounded
    assert linear_path(1, 3).tolist() == [[0, 0], [0, 1], [0, 2]]
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ParameterError, match="positive integer"):
            linear_path(bad, 3)


def test_path_discrepancy_identical_and_hand_example():
    p = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])
    d = path_discrepancy(p, p)
    assert d == {
        "n": 4,
        "within_0": 1.0,
        "within_1": 1.0,
        "within_2": 1.0,
        "mean_distance": 0.0,
        "max_distance": 0,
    }
    # q goes right first: its points (0,1), (0,2) are 1 and 2 away in B from p; (1,3) is 1 away
    q = np.array([[0, 0], [0, 1], [0, 2], [1, 3], [2, 3], [3, 3]])
    d = path_discrepancy(q, p)
    # Chebyshev distances of q's points to p: 0, 1, 2 -> nearest is (1,1): max(1, 1)=1, ...
    # (0,0)->0, (0,1)->1 [(1,1)], (0,2)->1 [(1,1)], (1,3)->1 [(2,2)], (2,3)->1 [(3,3) or (2,2)], (3,3)->0
    assert d["n"] == 6
    assert d["within_0"] == pytest.approx(2 / 6)
    assert d["within_1"] == 1.0 and d["within_2"] == 1.0
    # p to q: (0,0)->0, (1,1)->1 [(0,1)? max(1,0)=1], (2,2)->1 [(1,3)], (3,3)->0
    assert d["mean_distance"] == pytest.approx(0.5 * (4 / 6 + 2 / 4))
    assert d["max_distance"] == 1


def test_path_discrepancy_far_path_and_radii():
    p = np.array([[k, k] for k in range(11)])
    q = np.array([[0, 0]] + [[k, min(k + 3, 10)] for k in range(1, 11)])  # 3 frames above, then merge
    q = np.vstack([[0, 0], [0, 1], [0, 2], q[1:]])
    d = path_discrepancy(q, p, radii=(0, 1, 3))
    assert set(d) == {"n", "within_0", "within_1", "within_3", "mean_distance", "max_distance"}
    assert d["within_3"] == 1.0 and d["within_1"] < 1.0
    assert d["max_distance"] == 2  # (k, k+3) is 2 away from (k+1.5, k+1.5) rounded: (k+2, k+2) -> max(2, 1)
    with pytest.raises(ParameterError, match="radii"):
        path_discrepancy(q, p, radii=(-1,))
    with pytest.raises(ParameterError, match="not monotone"):
        path_discrepancy([[0, 0], [1, 2], [2, 1]], p)


def test_path_discrepancy_matches_brute_force_distances():
    rng = np.random.default_rng(1)
    from alignkit.testing import random_warp

    for seed in range(3):
        a = random_warp(60, rng=rng, n_frames_b=80, max_slope=3).path()
        b = random_warp(60, rng=np.random.default_rng(seed + 10), n_frames_b=80, max_slope=3).path()
        dist = np.abs(a[:, None, :] - b[None, :, :]).max(axis=2)
        d_ab, d_ba = dist.min(axis=1), dist.min(axis=0)
        d = path_discrepancy(a, b)
        assert d["within_0"] == pytest.approx(np.mean(d_ab == 0))
        assert d["within_1"] == pytest.approx(np.mean(d_ab <= 1))
        assert d["within_2"] == pytest.approx(np.mean(d_ab <= 2))
        assert d["mean_distance"] == pytest.approx(0.5 * (d_ab.mean() + d_ba.mean()))
        assert d["max_distance"] == max(d_ab.max(), d_ba.max())


def test_composition_discrepancy():
    from alignkit.testing import Warp

    # A's first half takes B's first 100 frames, B's first 100 take C's first 20: far from linear
    ab = Warp(np.array([0.0, 40.0, 79.0]), np.array([0.0, 100.0, 119.0])).path()
    bc = Warp(np.array([0.0, 100.0, 119.0]), np.array([0.0, 20.0, 89.0])).path()
    ac_bad = linear_path(80, 90)
    # the direct path equal to the composition agrees perfectly; the linear path does not
    from alignkit.align.paths import compose_paths

    good = composition_discrepancy(ab, bc, compose_paths(ab, bc))
    assert good["within_0"] == 1.0 and good["mean_distance"] == 0.0
    bad = composition_discrepancy(ab, bc, ac_bad)
    assert bad["mean_distance"] > 1.0 and bad["within_0"] < 0.5
    with pytest.raises(ParameterError, match="do not share B frame"):
        composition_discrepancy(ab, bc[:50], ac_bad)


# ---------------------------------------------------------------- retrieval


def test_ranks_top_k_mrr_from_ranks():
    r = [1, 3, 2, 5]
    assert top_k_accuracy(r, 1) == 0.25
    assert top_k_accuracy(r, 2) == 0.5
    assert top_k_accuracy(r, 5) == 1.0
    assert mean_reciprocal_rank(r) == pytest.approx((1 + 1 / 3 + 1 / 2 + 1 / 5) / 4)
    assert mean_reciprocal_rank(np.array([1.0, 2.0])) == pytest.approx(0.75)


def test_ranks_from_scores_hand_example():
    S = np.array(
        [
            [0.9, 0.1, 0.5],  # target 0 is best -> rank 1
            [0.8, 0.7, 0.9],  # target 1 is third -> rank 3
            [0.3, 0.6, 0.6],  # target 2 ties with item 1 -> pessimistic rank 2
        ]
    )
    assert ranks_from_scores(S).tolist() == [1, 3, 2]
    assert mean_reciprocal_rank(S) == pytest.approx((1 + 1 / 3 + 1 / 2) / 3)
    assert top_k_accuracy(S, 2) == pytest.approx(2 / 3)
    # distances: smaller is better
    assert ranks_from_scores(-S, larger_is_better=False).tolist() == [1, 3, 2]
    # explicit targets and a relevance mask (best-ranked relevant item counts)
    assert ranks_from_scores(S, [2, 2, 0]).tolist() == [2, 1, 3]
    mask = np.array([[False, True, True], [True, False, False], [True, False, False]])
    assert ranks_from_scores(S, mask).tolist() == [2, 2, 3]
    # a constant score matrix ranks every correct item last
    assert ranks_from_scores(np.ones((3, 3))).tolist() == [3, 3, 3]


@pytest.mark.parametrize(
    "call, msg",
    [
        (lambda: top_k_accuracy([1, 2], 0), "k=0"),
        (lambda: top_k_accuracy([1, 2], 1.5), "k=1.5"),
        (lambda: top_k_accuracy([0, 2], 1), "ranks must be integers >= 1"),
        (lambda: top_k_accuracy([1.5], 1), "ranks must be integers >= 1"),
        (lambda: mean_reciprocal_rank([]), "non-empty"),
        (lambda: mean_reciprocal_rank([1, 2], targets=[0, 1]), "targets only go with"),
        (lambda: ranks_from_scores(np.ones(3)), "shape"),
        (lambda: ranks_from_scores(np.array([[np.nan, 1.0]])), "NaN"),
        (lambda: ranks_from_scores(np.ones((3, 2))), "n_queries <= n_items"),
        (lambda: ranks_from_scores(np.ones((2, 2)), [0, 2]), r"lie in \[0, 2\)"),
        (lambda: ranks_from_scores(np.ones((2, 2)), [0]), "2 integer item indices"),
        (lambda: ranks_from_scores(np.ones((2, 2)), np.zeros((2, 3), bool)), "relevance mask"),
        (
            lambda: ranks_from_scores(np.ones((2, 2)), np.array([[True, False], [False, False]])),
            "query 1 has no relevant item",
        ),
    ],
)
def test_retrieval_errors(call, msg):
    with pytest.raises(ParameterError, match=msg):
        call()
