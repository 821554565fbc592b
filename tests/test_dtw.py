"""DTW oracles: a hand-computed textbook example, brute force over all warping paths,
librosa, constraint regions against brute force, anchors as concatenated sub-DTWs,
the fused feature kernel against the cost-matrix kernel, Hypothesis invariants, bad input."""

from __future__ import annotations

import itertools

import librosa
import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from alignkit.align import paths as P
from alignkit.align.cost import cost_matrix
from alignkit.align.dtw import STEP_SETS, band_region, dtw, path_region
from alignkit.exceptions import ParameterError
from alignkit.features.base import Features

STEPS = {name: STEP_SETS[name] for name in ("symmetric1", "symmetric2", "sigma2")}
CUSTOM = (np.array([[1, 1], [1, 0], [1, 2], [0, 1]]), np.array([1.5, 0.7, 2.5, 1.2]))


def brute_force(C, steps, weights, admissible=None):
    """Minimum cost and all argmin paths over every warping path from (0,0) to (N-1,M-1)."""
    N, M = C.shape
    ok = np.ones(C.shape, bool) if admissible is None else admissible
    results = []

    def rec(i, j, cost, path):
        if (i, j) == (N - 1, M - 1):
            results.append((cost, list(path)))
            return
        for (di, dj), w in zip(steps, weights, strict=False):
            a, b = i + di, j + dj
            if a < N and b < M and ok[a, b]:
                path.append((a, b))
                rec(a, b, cost + w * C[a, b], path)
                path.pop()

    if ok[0, 0]:
        rec(0, 0, C[0, 0], [(0, 0)])
    if not results:
        return np.inf, []
    best = min(c for c, _ in results)
    return best, [p for c, p in results if np.isclose(c, best, rtol=1e-12, atol=1e-12)]


def path_cost(C, path, steps, weights):
    """Total weighted cost of a path: start cell once, every other cell times its step's weight."""
    lookup = {tuple(s): w for s, w in zip(np.asarray(steps).tolist(), weights, strict=False)}
    total = C[path[0][0], path[0][1]]
    for a, b in zip(path[:-1], path[1:], strict=False):
        total += lookup[(int(b[0] - a[0]), int(b[1] - a[1]))] * C[b[0], b[1]]
    return total


# --------------------------------------------------------------------------- textbook example

# Müller, FMP chapter 3 style example worked by hand: X = (1, 3, 3, 8, 1), Y = (2, 0, 0, 8, 7, 2),
# local cost |x - y|, steps (1,1), (0,1), (1,0) all weighted 1.
TEXTBOOK_X = np.array([1, 3, 3, 8, 1], float)[:, None]
TEXTBOOK_Y = np.array([2, 0, 0, 8, 7, 2], float)[:, None]
TEXTBOOK_D = np.array([
    [1, 2, 3, 10, 16, 17],
    [2, 4, 5, 8, 12, 13],
    [3, 5, 7, 10, 12, 13],
    [9, 11, 13, 7, 8, 14],
    [10, 10, 11, 14, 13, 9],
], float)
TEXTBOOK_PATH = [(0, 0), (1, 1), (2, 2), (3, 3), (3, 4), (4, 5)]


def test_textbook_accumulated_cost_and_path():
    C = np.abs(TEXTBOOK_X - TEXTBOOK_Y.T)
    res = dtw(C=C, step_sizes="symmetric1", return_accumulated=True)
    np.testing.assert_array_equal(res.accumulated, TEXTBOOK_D)
    assert res.cost == 9.0
    assert res.path.tolist() == [list(p) for p in TEXTBOOK_PATH]
    assert res.normalized_cost == pytest.approx(9.0 / 6)
    assert res.step_sizes == "symmetric1"


@pytest.mark.parametrize("return_accumulated", [False, True])
def test_textbook_from_features_on_the_fly(return_accumulated):
    # 1-D features with the euclidean metric give |x - y|; exercises the fused feature kernels
    res = dtw(TEXTBOOK_X, TEXTBOOK_Y, metric="euclidean", step_sizes="symmetric1",
              return_accumulated=return_accumulated)
    assert res.cost == pytest.approx(9.0)
    assert res.path.tolist() == [list(p) for p in TEXTBOOK_PATH]


# --------------------------------------------------------------------------- brute force

@pytest.mark.parametrize("steps_name", ["symmetric1", "symmetric2", "sigma2", "custom"])
def test_brute_force_all_paths(steps_name):
    rng = np.random.default_rng(len(steps_name) * 7 + ord(steps_name[-1]))
    steps, weights = CUSTOM if steps_name == "custom" else STEPS[steps_name]
    checked = 0
    for n, m in itertools.product(range(1, 7), repeat=2):
        C = rng.random((n, m))
        best, argmins = brute_force(C, steps.tolist(), weights)
        kw = {"step_sizes": steps_name}
        if steps_name == "custom":
            kw = {"step_sizes": steps, "weights": weights}
        if not np.isfinite(best):
            with pytest.raises(ParameterError, match="no admissible path"):
                dtw(C=C, **kw)
            continue
        res = dtw(C=C, **kw)
        assert res.cost == pytest.approx(best, rel=1e-12), (n, m)
        assert len(argmins) == 1
        assert res.path.tolist() == [list(p) for p in argmins[0]], (n, m)
        checked += 1
    assert checked >= (12 if steps_name == "sigma2" else 30)


@pytest.mark.parametrize("steps_name", ["symmetric2", "sigma2"])
def test_weights_override_changes_the_optimum_like_brute_force(steps_name):
    rng = np.random.default_rng(5)
    steps, _ = STEPS[steps_name]
    weights = np.array([0.3, 2.0, 1.1])
    for _ in range(10):
        C = rng.random((6, 5))
        best, argmins = brute_force(C, steps.tolist(), weights)
        if not np.isfinite(best):
            continue
        res = dtw(C=C, step_sizes=steps_name, weights=weights)
        assert res.cost == pytest.approx(best)
        assert res.path.tolist() == [list(p) for p in argmins[0]]


# --------------------------------------------------------------------------- librosa

@pytest.mark.parametrize("steps_name, wmul", [("symmetric1", [1, 1, 1]), ("symmetric2", [2, 1, 1])])
def test_agrees_with_librosa(steps_name, wmul):
    rng = np.random.default_rng(11)
    for n, m in [(1, 1), (1, 7), (9, 1), (30, 41), (57, 23), (64, 64)]:
        C = rng.random((n, m))
        D, wp = librosa.sequence.dtw(C=C, step_sizes_sigma=np.array([[1, 1], [0, 1], [1, 0]]),
                                     weights_mul=np.array(wmul, float))
        res = dtw(C=C, step_sizes=steps_name, return_accumulated=True)
        np.testing.assert_allclose(res.accumulated, D, rtol=1e-12)
        assert res.cost == pytest.approx(D[-1, -1], rel=1e-12)
        np.testing.assert_array_equal(res.path, P.from_librosa(wp))


@pytest.mark.parametrize("steps_name, wmul", [("symmetric1", [1, 1, 1]), ("symmetric2", [2, 1, 1])])
def test_features_agree_with_librosa_on_cost_matrix(steps_name, wmul):
    rng = np.random.default_rng(12)
    X = np.abs(rng.standard_normal((150, 12)))
    Y = np.abs(rng.standard_normal((170, 12)))
    C = cost_matrix(X, Y).astype(np.float64)
    D, wp = librosa.sequence.dtw(C=C, step_sizes_sigma=np.array([[1, 1], [0, 1], [1, 0]]),
                                 weights_mul=np.array(wmul, float))
    res = dtw(X, Y, step_sizes=steps_name)
    assert res.cost == pytest.approx(D[-1, -1], rel=1e-5)
    np.testing.assert_array_equal(res.path, P.from_librosa(wp))


def test_band_agrees_with_librosa_global_constraints():
    rng = np.random.default_rng(13)
    n = 60
    C = rng.random((n, n))
    D, wp = librosa.sequence.dtw(C=C, global_constraints=True, band_rad=0.1)
    rad = int(np.round(0.1 * n))  # librosa admits |i - j| < rad
    res = dtw(C=C, step_sizes="symmetric1", band=rad - 1)
    assert res.cost == pytest.approx(D[-1, -1])
    np.testing.assert_array_equal(res.path, P.from_librosa(wp))
    assert np.all(np.abs(res.path[:, 0] - res.path[:, 1]) <= rad - 1)


# --------------------------------------------------------------------------- fused kernel vs matrix kernel

@pytest.mark.parametrize("metric", ["cosine", "euclidean", "sqeuclidean"])
@pytest.mark.parametrize("d", [12, 5])
def test_fused_feature_kernel_equals_cost_matrix_kernel(metric, d):
    rng = np.random.default_rng(d)
    X = np.abs(rng.standard_normal((311, d))).astype(np.float32)
    Y = np.abs(rng.standard_normal((257, d))).astype(np.float32)
    fused = dtw(X, Y, metric=metric)  # anti-diagonal kernel, cost computed on the fly
    rows = dtw(X, Y, metric=metric, return_accumulated=True)  # row kernel, on the fly
    onmat = dtw(C=cost_matrix(X, Y, metric=metric), return_accumulated=True)  # row kernel, matrix
    assert fused.cost == pytest.approx(onmat.cost, rel=1e-5)
    assert rows.cost == pytest.approx(onmat.cost, rel=1e-5)
    np.testing.assert_array_equal(fused.path, onmat.path)
    np.testing.assert_array_equal(rows.path, onmat.path)
    np.testing.assert_allclose(rows.accumulated, onmat.accumulated, rtol=1e-4)
    assert fused.n_cells == 311 * 257


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (6, 1), (2, 3), (7, 2), (1500, 3)])
def test_fused_kernel_edge_shapes(shape):
    rng = np.random.default_rng(sum(shape))
    X, Y = rng.random((shape[0], 3)), rng.random((shape[1], 3))
    a = dtw(X, Y, metric="sqeuclidean")
    b = dtw(C=cost_matrix(X, Y, metric="sqeuclidean"))
    np.testing.assert_array_equal(a.path, b.path)
    assert a.cost == pytest.approx(b.cost, rel=1e-5)


def test_accumulated_matches_a_plain_float64_loop():
    rng = np.random.default_rng(2)
    C = rng.random((23, 31))
    ref = np.full((24, 32), np.inf)
    ref[0, 0] = 0.0
    D = np.full((23, 31), np.inf)
    for i in range(23):
        for j in range(31):
            if i == 0 and j == 0:
                D[0, 0] = C[0, 0]
                continue
            cands = []
            if i > 0 and j > 0:
                cands.append(D[i - 1, j - 1] + 2 * C[i, j])
            if j > 0:
                cands.append(D[i, j - 1] + C[i, j])
            if i > 0:
                cands.append(D[i - 1, j] + C[i, j])
            D[i, j] = min(cands)
    res = dtw(C=C, return_accumulated=True)
    np.testing.assert_allclose(res.accumulated, D, rtol=1e-13)
    assert res.normalized_cost == pytest.approx(res.cost / (23 + 31))


# --------------------------------------------------------------------------- constraints vs brute force

def _random_mask(rng, n, m, p=0.75):
    mask = rng.random((n, m)) < p
    mask[0, 0] = mask[-1, -1] = True
    return mask


@pytest.mark.parametrize("steps_name", ["symmetric1", "symmetric2", "sigma2"])
def test_mask_equals_restricted_brute_force(steps_name):
    rng = np.random.default_rng(21)
    steps, weights = STEPS[steps_name]
    checked = 0
    for _ in range(40):
        n, m = rng.integers(2, 7, 2)
        C = rng.random((n, m))
        mask = _random_mask(rng, n, m)
        best, argmins = brute_force(C, steps.tolist(), weights, admissible=mask)
        if not np.isfinite(best):
            with pytest.raises(ParameterError):
                dtw(C=C, step_sizes=steps_name, mask=mask)
            continue
        for form in (mask, scipy.sparse.csr_array(mask)):
            res = dtw(C=C, step_sizes=steps_name, mask=form)
            assert res.cost == pytest.approx(best)
            assert res.path.tolist() == [list(p) for p in argmins[0]]
            assert mask[res.path[:, 0], res.path[:, 1]].all()
        checked += 1
    assert checked >= 10


def test_band_equals_restricted_brute_force_and_is_the_diagonal_band():
    rng = np.random.default_rng(22)
    for n, m in [(6, 6), (5, 6), (4, 6), (6, 3)]:
        for band in (0, 1, 2):
            reg = band_region((n, m), band)
            dense = reg.to_dense()
            if n == m:
                i, j = np.indices((n, n))
                np.testing.assert_array_equal(dense, np.abs(i - j) <= band)
            C = rng.random((n, m))
            best, argmins = brute_force(C, STEPS["symmetric2"][0].tolist(), STEPS["symmetric2"][1], dense)
            res = dtw(C=C, band=band)
            assert res.cost == pytest.approx(best)
            assert res.path.tolist() == [list(p) for p in argmins[0]]
            assert res.n_cells == dense.sum()


def test_band_fraction_and_non_square_stays_connected():
    rng = np.random.default_rng(23)
    C = rng.random((40, 200))
    res = dtw(C=C, band=0)  # only the digital straight line: a unique admissible path
    line = P.fill_path(np.array([[0, 0], [39, 199]]))
    np.testing.assert_array_equal(res.path, line)
    reg = band_region((100, 50), 0.05)  # 5 % of max(N, M) = 5 frames
    assert reg.to_dense().sum() == band_region((100, 50), 5).to_dense().sum()


def test_around_path_equals_restricted_brute_force():
    rng = np.random.default_rng(24)
    for _ in range(15):
        n, m = rng.integers(3, 7, 2)
        C = rng.random((n, m))
        coarse = P.fill_path(np.array([[0, 0], [n - 1, m - 1]]))
        for radius in (0, 1):
            dense = path_region(coarse, (n, m), radius).to_dense()
            ii, jj = np.indices((n, m))
            dist = np.maximum(np.abs(ii[..., None] - coarse[:, 0]), np.abs(jj[..., None] - coarse[:, 1]))
            cheb = dist.min(axis=-1)
            np.testing.assert_array_equal(dense, cheb <= radius)
            best, argmins = brute_force(C, STEPS["symmetric2"][0].tolist(), STEPS["symmetric2"][1], dense)
            res = dtw(C=C, around_path=coarse, radius=radius)
            assert res.cost == pytest.approx(best)
            assert res.path.tolist() == [list(p) for p in argmins[0]]


def test_row_range_mask_and_combined_constraints():
    rng = np.random.default_rng(25)
    n, m = 30, 35
    C = rng.random((n, m))
    lo = np.maximum(np.arange(n) - 4, 0)
    hi = np.minimum(np.arange(n) + 10, m)
    hi[-1] = m
    dense = np.zeros((n, m), bool)
    for i in range(n):
        dense[i, lo[i]:hi[i]] = True
    a = dtw(C=C, mask=(lo, hi), return_accumulated=True)
    b = dtw(C=C, mask=dense, return_accumulated=True)
    np.testing.assert_array_equal(a.path, b.path)
    np.testing.assert_array_equal(a.accumulated, b.accumulated)
    assert np.all(np.isinf(a.accumulated[~dense]))
    # band and mask together = their intersection
    both = dtw(C=C, mask=dense, band=3, return_accumulated=True)
    inter = dense & band_region((n, m), 3).to_dense()
    ref = dtw(C=C, mask=inter, return_accumulated=True)
    np.testing.assert_array_equal(both.path, ref.path)
    np.testing.assert_array_equal(both.accumulated, ref.accumulated)


# --------------------------------------------------------------------------- anchors

@pytest.mark.parametrize("steps_name", ["symmetric1", "symmetric2"])
def test_anchors_are_concatenated_sub_dtws(steps_name):
    rng = np.random.default_rng(31)
    C = rng.random((40, 50))
    anchors = [(10, 5), (10, 9), (25, 30), (39, 40)]
    res = dtw(C=C, step_sizes=steps_name, anchors=anchors, return_accumulated=True)
    P.validate_path(res.path, C.shape)
    rows = {tuple(p) for p in res.path.tolist()}
    assert all(tuple(a) in rows for a in anchors)
    pts = [(0, 0)] + anchors + [(39, 49)]
    pieces = []
    total = 0.0
    for k, ((i0, j0), (i1, j1)) in enumerate(zip(pts[:-1], pts[1:], strict=False)):
        sub = dtw(C=C[i0:i1 + 1, j0:j1 + 1], step_sizes=steps_name)
        p = sub.path + [i0, j0]
        pieces.append(p if k == 0 else p[1:])
        total += sub.cost - (C[i0, j0] if k > 0 else 0.0)
    np.testing.assert_array_equal(res.path, np.concatenate(pieces))
    steps, weights = STEPS[steps_name]
    assert res.cost == pytest.approx(total)
    assert res.cost == pytest.approx(path_cost(C, res.path, steps, weights))
    assert res.accumulated[-1, -1] == pytest.approx(res.cost)
    # the anchored optimum is never better than the free one
    assert res.cost >= dtw(C=C, step_sizes=steps_name).cost - 1e-12


def test_anchors_with_mask_equal_brute_force_through_the_anchor():
    rng = np.random.default_rng(33)
    steps, weights = STEPS["symmetric2"]
    checked = 0
    N = M = 6
    for _ in range(30):
        C = rng.random((N, M))
        mask = _random_mask(rng, N, M, p=0.8)
        anchor = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        mask[anchor] = True
        results = []

        def rec(i, j, cost, path, C=C, mask=mask, results=results):
            if (i, j) == (N - 1, M - 1):
                results.append((cost, list(path)))
                return
            for (di, dj), w in zip(steps.tolist(), weights, strict=True):
                a, b = i + di, j + dj
                if a < N and b < M and mask[a, b]:
                    path.append((a, b))
                    rec(a, b, cost + w * C[a, b], path)
                    path.pop()

        rec(0, 0, C[0, 0], [(0, 0)])
        through = [(c, p) for c, p in results if anchor in p]
        if not through:
            with pytest.raises(ParameterError):
                dtw(C=C, mask=mask, anchors=[anchor])
            continue
        best_cost, best_path = min(through, key=lambda t: t[0])
        res = dtw(C=C, mask=mask, anchors=[anchor])
        assert res.cost == pytest.approx(best_cost)
        assert res.path.tolist() == [list(p) for p in best_path]
        checked += 1
    assert checked >= 10


def test_anchor_on_the_free_optimal_path_changes_nothing():
    rng = np.random.default_rng(32)
    X, Y = rng.random((60, 12)), rng.random((70, 12))
    free = dtw(X, Y)
    mid = free.path[len(free.path) // 2]
    anchored = dtw(X, Y, anchors=[tuple(mid)])
    np.testing.assert_array_equal(anchored.path, free.path)
    assert anchored.cost == pytest.approx(free.cost, rel=1e-6)


# --------------------------------------------------------------------------- inputs

def test_features_objects_and_rates():
    rng = np.random.default_rng(41)
    a = Features(rng.random((20, 12)).astype(np.float32), 10.0, "chroma")
    b = Features(rng.random((25, 12)).astype(np.float32), 10.0, "chroma")
    r1 = dtw(a, b)
    r2 = dtw(a.values, b.values)
    np.testing.assert_array_equal(r1.path, r2.path)
    with pytest.raises(ParameterError, match="frame rates"):
        dtw(a, Features(b.values, 12.5, "chroma"))


def test_sigma2_path_is_raw_cells_and_fills_continuous():
    rng = np.random.default_rng(42)
    C = rng.random((20, 30))
    res = dtw(C=C, step_sizes="sigma2")
    d = np.diff(res.path, axis=0)
    assert {tuple(s) for s in d.tolist()} <= {(1, 1), (2, 1), (1, 2)}
    P.validate_path(P.fill_path(res.path), C.shape)
    assert res.normalized_cost == pytest.approx(res.cost / len(res.path))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "give both X and Y"),
        ({"X": np.ones((3, 2))}, "give both X and Y"),
        ({"X": np.ones((3, 2)), "Y": np.ones((3, 2)), "C": np.ones((3, 3))}, "not both"),
        ({"C": np.ones(3)}, "2-D"),
        ({"C": np.array([[np.nan]])}, "NaN"),
        ({"C": np.ones((3, 3)), "metric": "foo"}, "metric"),
        ({"C": np.ones((3, 3)), "step_sizes": "diag"}, "step_sizes"),
        ({"C": np.ones((3, 3)), "step_sizes": np.array([[1, 1], [0, 0]])}, "not \\(0, 0\\)"),
        ({"C": np.ones((3, 3)), "step_sizes": np.array([[1, -1]])}, "di >= 0"),
        ({"C": np.ones((3, 3)), "step_sizes": np.array([[1.0, 1.0]])}, "integers"),
        ({"C": np.ones((3, 3)), "step_sizes": np.array([1, 1])}, "shape"),
        ({"C": np.ones((3, 3)), "step_sizes": np.array([[1, 1], [1, 1]])}, "duplicate"),
        ({"C": np.ones((3, 3)), "weights": [1, 2]}, "weights"),
        ({"C": np.ones((3, 3)), "weights": [1, -2, 1]}, "non-negative"),
        ({"C": np.ones((3, 3)), "band": -1}, "band"),
        ({"C": np.ones((3, 3)), "band": 1.5}, "whole number"),
        ({"C": np.ones((3, 3)), "band": "wide"}, "band"),
        ({"C": np.ones((3, 3)), "band": True}, "band"),
        ({"C": np.ones((3, 3)), "mask": np.ones((3, 4), bool)}, "shape"),
        ({"C": np.ones((3, 3)), "mask": np.ones((3, 3))}, "boolean"),
        ({"C": np.ones((3, 3)), "mask": ~np.eye(3, dtype=bool)}, "start cell"),
        ({"C": np.ones((3, 3)), "mask": np.array([[1, 0, 0], [0, 0, 0], [0, 0, 1]], bool)}, "no admissible"),
        ({"C": np.ones((3, 3)), "mask": (np.zeros(2, int), np.ones(2, int))}, "shape"),
        ({"C": np.ones((3, 3)), "around_path": np.array([[0, 0], [2, 2]])}, "radius"),
        ({"C": np.ones((3, 3)), "radius": 2}, "around_path"),
        ({"C": np.ones((3, 3)), "around_path": np.array([[0, 0], [2, 2]]), "radius": -1}, "radius"),
        ({"C": np.ones((3, 3)), "around_path": np.array([[0, 0], [5, 5]]), "radius": 1}, "leaves"),
        ({"C": np.ones((3, 3)), "around_path": np.array([[2, 2], [0, 0]]), "radius": 1}, "monotone"),
        ({"C": np.ones((3, 3)), "anchors": [(1, 1), (0, 2)]}, "monotone"),
        ({"C": np.ones((3, 3)), "anchors": [(1, 5)]}, "leave"),
        ({"C": np.ones((3, 3)), "anchors": [(1.5, 1)]}, "integer"),
        ({"C": np.ones((4, 8)), "step_sizes": "sigma2"}, "no admissible path"),
        ({"C": np.ones((6, 6)), "step_sizes": "sigma2", "anchors": [(1, 4)]}, "between anchors"),
        ({"C": np.ones((3, 3)), "return_accumulated": "yes"}, "bool"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        dtw(**kwargs)


# --------------------------------------------------------------------------- Hypothesis

_cost_arrays = st.tuples(st.integers(1, 9), st.integers(1, 9)).flatmap(
    lambda s: arrays(np.float64, s, elements=st.floats(0.0, 10.0, allow_nan=False, allow_infinity=False)))


@settings(max_examples=60, deadline=None)
@given(C=_cost_arrays, steps_name=st.sampled_from(["symmetric1", "symmetric2", "custom"]),
       want_acc=st.booleans())
def test_hypothesis_path_valid_and_cost_is_weighted_sum(C, steps_name, want_acc):
    if steps_name == "custom":
        steps, weights = CUSTOM
        kw = {"step_sizes": steps, "weights": weights}
    else:
        steps, weights = STEPS[steps_name]
        kw = {"step_sizes": steps_name}
    res = dtw(C=C, return_accumulated=want_acc, **kw)
    P.validate_path(res.path if steps_name != "custom" else P.fill_path(res.path), C.shape)
    assert res.cost == pytest.approx(path_cost(C, res.path, steps, weights), rel=1e-9, abs=1e-9)
    if want_acc:
        assert res.accumulated[-1, -1] == pytest.approx(res.cost)
        if steps_name != "custom":  # all weights >= 1: a cell's accumulated cost includes its own cost
            assert np.all(res.accumulated >= C - 1e-12)


# --------------------------------------------------------------------------- cost offset

@pytest.mark.parametrize("steps_name", ["symmetric1", "symmetric2", "sigma2", "custom"])
@pytest.mark.parametrize("offset", [0.25, 1.0])
def test_cost_offset_equals_brute_force_on_shifted_costs(steps_name, offset):
    rng = np.random.default_rng(31 + len(steps_name))
    steps, weights = CUSTOM if steps_name == "custom" else STEPS[steps_name]
    kw = {"step_sizes": steps, "weights": weights} if steps_name == "custom" else {"step_sizes": steps_name}
    checked = 0
    for n, m in itertools.product(range(2, 7), repeat=2):
        X = rng.random((n, 3))
        Y = rng.random((m, 3))
        C = cost_matrix(X, Y, metric="euclidean").astype(np.float64)
        best, argmins = brute_force(C + offset, steps.tolist(), weights)
        if not np.isfinite(best):
            continue
        # the cost-matrix kernel, the fused feature kernels (full and region), and a precomputed C + offset
        for res in (dtw(C=C, cost_offset=offset, **kw),
                    dtw(X, Y, metric="euclidean", cost_offset=offset, **kw),
                    dtw(X, Y, metric="euclidean", cost_offset=offset, band=max(n, m), **kw),
                    dtw(C=cost_matrix(X, Y, metric="euclidean", cost_offset=offset), **kw)):
            assert res.cost == pytest.approx(best, rel=1e-5), (n, m)
            assert len(argmins) == 1
            assert res.path.tolist() == [list(p) for p in argmins[0]], (n, m)
        checked += 1
    assert checked >= 8


def test_cost_offset_prefers_the_diagonal_through_a_flat_region():
    # a flat stretch: the diagonal costs 0.1 a cell, a detour along row 0 and column 5 costs 0
    C = np.full((6, 6), 5.0)
    np.fill_diagonal(C, 0.1)
    C[0, :] = 0.0
    C[:, 5] = 0.0
    plain = dtw(C=C, step_sizes="symmetric1")
    assert plain.cost == 0.0  # the detour (the cheaper path without offset)
    assert plain.path[:5].tolist() == [[0, j] for j in range(5)]
    shifted = dtw(C=C, step_sizes="symmetric1", cost_offset=1.0)
    assert shifted.path.tolist() == [[i, i] for i in range(6)]
    assert shifted.cost == pytest.approx(0.0 + 4 * 0.1 + 0.0 + 6 * 1.0)


def test_cost_offset_leaves_symmetric2_paths_alone_and_shifts_cost_by_total_weight():
    rng = np.random.default_rng(8)
    X, Y = rng.random((30, 12)), rng.random((41, 12))
    a = dtw(X, Y, step_sizes="symmetric2")
    b = dtw(X, Y, step_sizes="symmetric2", cost_offset=0.5)
    np.testing.assert_array_equal(a.path, b.path)
    assert b.cost == pytest.approx(a.cost + 0.5 * (30 + 41 - 1), rel=1e-6)


def test_cost_offset_with_anchors_counts_the_anchor_once():
    rng = np.random.default_rng(9)
    C = rng.random((9, 8))
    res = dtw(C=C, step_sizes="symmetric1", cost_offset=0.3, anchors=[(4, 3)])
    ref = dtw(C=C + 0.3, step_sizes="symmetric1", anchors=[(4, 3)])
    np.testing.assert_array_equal(res.path, ref.path)
    assert res.cost == pytest.approx(ref.cost)
    assert res.cost == pytest.approx(path_cost(C + 0.3, res.path, STEPS["symmetric1"][0], [1, 1, 1]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, "1", True, None])
def test_cost_offset_rejects_bad_values(bad):
    with pytest.raises(ParameterError, match="cost_offset"):
        dtw(C=np.ones((3, 3)), cost_offset=bad)
    with pytest.raises(ParameterError, match="cost_offset"):
        cost_matrix(np.ones((3, 2)), np.ones((3, 2)), cost_offset=bad)
