"""Subsequence DTW: brute-force matching function, librosa's subseq mode, planted queries."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from alignkit.align import paths as P
from alignkit.align.dtw import STEP_SETS
from alignkit.align.subsequence import subsequence_dtw
from alignkit.exceptions import ParameterError


def brute_force_matching(C, steps, weights):
    """Delta[m] = min cost over all paths from any (0, b) to (N-1, m); plus the argmin paths."""
    N, M = C.shape
    best = np.full(M, np.inf)
    arg = [None] * M

    def rec(i, j, cost, path):
        if i == N - 1 and cost < best[j]:
            best[j] = cost
            arg[j] = list(path)
        for (di, dj), w in zip(steps, weights, strict=False):
            a, b = i + di, j + dj
            if a < N and b < M:
                path.append((a, b))
                rec(a, b, cost + w * C[a, b], path)
                path.pop()

    for b in range(M):
        rec(0, b, C[0, b], [(0, b)])
    return best, arg


@pytest.mark.parametrize("steps_name", ["symmetric1", "symmetric2", "sigma2"])
def test_matching_function_equals_brute_force(steps_name):
    rng = np.random.default_rng(7)
    steps, weights = STEP_SETS[steps_name]
    for n, m in [(1, 5), (3, 6), (4, 7), (2, 2)]:
        C = rng.random((n, m))
        delta, arg = brute_force_matching(C, steps.tolist(), weights)
        res = subsequence_dtw(C=C, step_sizes=steps_name, k=1)
        np.testing.assert_allclose(res.matching_function, delta, rtol=1e-12)
        end = int(np.argmin(delta))
        assert res.best.end == end
        assert res.best.cost == pytest.approx(delta[end])
        assert res.best.path.tolist() == [list(p) for p in arg[end]]
        assert res.best.start == arg[end][0][1]
        P.validate_path(res.best.path, C.shape, continuous=steps_name != "sigma2", subsequence=True)


def test_agrees_with_librosa_subseq():
    rng = np.random.default_rng(8)
    C = rng.random((20, 90))
    D, wp = librosa.sequence.dtw(C=C, subseq=True)  # steps (1,1), (0,1), (1,0), weights 1
    res = subsequence_dtw(C=C, step_sizes="symmetric1")
    np.testing.assert_allclose(res.matching_function, D[-1], rtol=1e-12)
    np.testing.assert_array_equal(res.best.path, P.from_librosa(wp))


def _chroma_like(rng, n, d=12):
    x = np.abs(rng.standard_normal((n, d))) ** 3
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_finds_a_cut_out_query_at_the_exact_position():
    rng = np.random.default_rng(9)
    Y = _chroma_like(rng, 2000)
    start, length = 1234, 80
    X = np.abs(Y[start:start + length] + 0.01 * rng.standard_normal((length, 12)))
    res = subsequence_dtw(X, Y)
    assert (res.best.start, res.best.end) == (start, start + length - 1)
    # the diagonal through the planted copy is the path
    np.testing.assert_array_equal(res.best.path, np.stack([np.arange(length), start + np.arange(length)], 1))
    # far away from the match the matching function is much worse
    assert np.median(res.matching_function) > 10 * res.best.cost


def test_top_k_finds_planted_copies_non_overlapping():
    rng = np.random.default_rng(10)
    Y = _chroma_like(rng, 3000)
    Xq = _chroma_like(rng, 60)
    planted = [200, 1100, 1900, 2600]
    for s in planted:
        Y[s:s + 60] = np.abs(Xq + 0.02 * rng.standard_normal(Xq.shape))
    # a slower (time-stretched) copy: each query frame twice
    slow_at = 500
    Y[slow_at:slow_at + 120] = np.repeat(Xq, 2, axis=0)
    res = subsequence_dtw(Xq, Y, k=5)
    spans = sorted((m.start, m.end) for m in res.matches)
    expected = sorted([(s, s + 59) for s in planted] + [(slow_at, slow_at + 119)])
    # exact copies exactly; the doubled copy starts/ends on either of its repeated frames
    assert len(spans) == 5
    for got, want in zip(spans, expected, strict=False):
        tol = 1 if want[0] == slow_at else 0
        assert abs(got[0] - want[0]) <= tol and abs(got[1] - want[1]) <= tol, (got, want)
    for a, b in zip(spans[:-1], spans[1:], strict=False):
        assert a[1] < b[0]
    costs = [m.cost for m in res.matches]
    assert costs == sorted(costs)
    # asking for more than exist still returns non-overlapping matches only
    many = subsequence_dtw(Xq, Y, k=40, exclusion=0)
    s = sorted((m.start, m.end) for m in many.matches)
    assert all(a[1] < b[0] for a, b in zip(s[:-1], s[1:], strict=False))
    assert {(a, b) for a, b in expected if a != slow_at} <= set(s)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"C": np.ones((3, 5)), "k": 0}, "k="),
        ({"C": np.ones((3, 5)), "k": 1.5}, "k="),
        ({"C": np.ones((3, 5)), "exclusion": -1}, "exclusion"),
        ({"C": np.ones((3, 5)), "step_sizes": "nope"}, "step_sizes"),
        ({"C": np.ones((5, 2)), "step_sizes": "sigma2"}, "no admissible match"),
        ({"X": np.ones((3, 2))}, "give both"),
        ({"X": np.ones((3, 2)), "Y": np.ones((3, 3))}, "dimensions"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        subsequence_dtw(**kwargs)
