"""Local cost matrices: float64 references, zero vectors, Features, multi-feature sums, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from alignkit.align.cost import cost_matrix, prepare_features
from alignkit.exceptions import ParameterError
from alignkit.features.base import Features


def _reference(X, Y, metric):
    X = np.asarray(X, np.float64)
    Y = np.asarray(Y, np.float64)
    out = np.empty((len(X), len(Y)))
    for i, x in enumerate(X):
        for j, y in enumerate(Y):
            if metric == "cosine":
                nx, ny = np.linalg.norm(x), np.linalg.norm(y)
                out[i, j] = 1.0 - (x @ y / (nx * ny) if nx > 0 and ny > 0 else 0.0)
            elif metric == "euclidean":
                out[i, j] = np.linalg.norm(x - y)
            else:
                out[i, j] = np.sum((x - y) ** 2)
    return out


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "sqeuclidean"])
def test_matches_float64_reference(metric):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((17, 12))
    Y = rng.standard_normal((23, 12))
    C = cost_matrix(X, Y, metric=metric)
    assert C.dtype == np.float32 and C.shape == (17, 23)
    np.testing.assert_allclose(C, _reference(X, Y, metric), rtol=1e-5, atol=1e-5)


def test_cosine_of_identical_orthogonal_and_opposite_vectors():
    X = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
    C = cost_matrix(X, X[:1])
    np.testing.assert_allclose(C[:, 0], [0.0, 1.0, 2.0], atol=1e-7)


def test_cosine_zero_vectors_cost_one():
    X = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 0.0]])
    Y = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    C = cost_matrix(X, Y)
    assert np.all(np.isfinite(C))
    np.testing.assert_allclose(C[0], [1.0, 1.0])
    np.testing.assert_allclose(C[:, 0], [1.0, 1.0])
    xp, yp = prepare_features(X, Y, "cosine")
    np.testing.assert_allclose(1.0 - xp @ yp.T, C, atol=1e-6)


def test_features_input_and_rate_check():
    rng = np.random.default_rng(0)
    a = Features(rng.random((5, 12)).astype(np.float32), 10.0, "chroma")
    b = Features(rng.random((7, 12)).astype(np.float32), 10.0, "chroma")
    np.testing.assert_array_equal(cost_matrix(a, b), cost_matrix(a.values, b.values))
    c = Features(b.values, 20.0, "chroma")
    with pytest.raises(ParameterError, match="frame rates differ"):
        cost_matrix(a, c)


def test_multi_feature_weighted_sum():
    rng = np.random.default_rng(1)
    X1, Y1 = rng.random((6, 12)), rng.random((8, 12))
    X2, Y2 = rng.random((6, 4)), rng.random((8, 4))
    C = cost_matrix([(X1, Y1), (X2, Y2)], weights=[1.0, 0.5], metric="euclidean")
    ref = _reference(X1, Y1, "euclidean") + 0.5 * _reference(X2, Y2, "euclidean")
    np.testing.assert_allclose(C, ref, rtol=1e-5)
    np.testing.assert_allclose(cost_matrix([(X1, Y1), (X2, Y2)]),
                               _reference(X1, Y1, "cosine") + _reference(X2, Y2, "cosine"), atol=1e-5)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((np.ones((3, 2)), np.ones((4, 2))), {"metric": "manhattan"}, "metric"),
        ((np.ones((3, 2)), np.ones((4, 3))), {}, "dimensions"),
        ((np.ones(3), np.ones((4, 1))), {}, "2-D"),
        ((np.ones((0, 2)), np.ones((4, 2))), {}, "at least one frame"),
        ((np.array([[np.nan, 1.0]]), np.ones((4, 2))), {}, "NaN"),
        ((np.array([["a", "b"]]), np.ones((4, 2))), {}, "numeric"),
        (([(np.ones((3, 2)), np.ones((4, 2)))],), {"weights": [1.0, 2.0]}, "weights"),
        (([(np.ones((3, 2)), np.ones((4, 2)))],), {"weights": [-1.0]}, "non-negative"),
        (([(np.ones((3, 2)), np.ones((4, 2))), (np.ones((3, 2)), np.ones((5, 2)))],), {}, "pair 1"),
        (([],), {}, "non-empty"),
        ((np.ones((3, 2)), np.ones((4, 2))), {"weights": [1.0]}, "multi-feature"),
    ],
)
def test_bad_input_raises(args, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        cost_matrix(*args, **kwargs)
