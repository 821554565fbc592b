"""Multiscale DTW against exact DTW and a known synthetic warp; memory bound; bad input."""

from __future__ import annotations

import numpy as np
import pytest

from alignkit.align import paths as P
from alignkit.align.dtw import dtw, path_region
from alignkit.align.multiscale import multiscale_dtw, pool_features
from alignkit.exceptions import ParameterError
from alignkit.features.base import Features


def smooth_chroma(rng, n, d=12, smooth=12):
    """Chroma-like frames that change slowly (interpolated random anchors), l2-normalised."""
    k = n // smooth + 2
    anchors = np.abs(rng.standard_normal((k, d))) ** 2
    t = np.linspace(0, k - 1, n)
    x = np.stack([np.interp(t, np.arange(k), anchors[:, c]) for c in range(d)], axis=1)
    x += 0.02 * rng.random((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def warped_copy(rng, X, m, noise=0.01):
    """Y[j] = X at the (fractional) position g(j) of a smooth monotone warp, plus noise."""
    n = len(X)
    u = np.linspace(0.0, 1.0, m)
    g = u + 0.02 * np.sin(2 * np.pi * 3 * u) + 0.008 * np.sin(2 * np.pi * 7 * u + 1.0)
    g = (g - g[0]) / (g[-1] - g[0]) * (n - 1)
    assert np.all(np.diff(g) > 0)
    Y = np.stack([np.interp(g, np.arange(n), X[:, c]) for c in range(X.shape[1])], axis=1)
    Y = np.abs(Y + noise * rng.standard_normal(Y.shape))
    return Y, g


def share_within(path, ref, shape, tol=1):
    """Share of ``path`` points within Chebyshev distance ``tol`` of some point of ``ref``."""
    reg = path_region(ref, shape, tol)
    i, j = path[:, 0], path[:, 1]
    return float(np.mean((j >= reg.lo[i]) & (j < reg.hi[i])))


def warp_error(path, g):
    """Mean |i - g(j)| in frames over the path (g maps Y frames to X positions)."""
    return float(np.mean(np.abs(path[:, 0] - g[path[:, 1]])))


@pytest.fixture(scope="module")
def warped_pair():
    rng = np.random.default_rng(2026)
    X = smooth_chroma(rng, 4000)
    Y, g = warped_copy(rng, X, 4600)
    return X.astype(np.float32), Y.astype(np.float32), g


def test_agrees_with_exact_dtw_and_true_warp(warped_pair):
    X, Y, g = warped_pair
    exact = dtw(X, Y)
    ms = multiscale_dtw(X, Y, factors=(25, 5), radius=8)
    P.validate_path(ms.path, (len(X), len(Y)))
    assert share_within(ms.path, exact.path, (len(X), len(Y))) >= 0.99
    assert ms.cost == pytest.approx(exact.cost, rel=1e-3)
    # both follow the true warp closely; the linear map does not
    assert warp_error(ms.path, g) < 1.5
    assert warp_error(exact.path, g) < 1.5
    linear = np.stack([np.round(np.linspace(0, len(X) - 1, len(Y))).astype(int), np.arange(len(Y))], 1)
    assert warp_error(linear, g) > 40
    # far fewer cells than the full grid
    assert ms.n_cells < 0.1 * len(X) * len(Y)
    assert [lv["factor"] for lv in ms.info["levels"]] == [25, 5, 1]


def test_default_ladder_and_features_objects(warped_pair):
    X, Y, g = warped_pair
    a = Features(X, 50.0, "chroma")
    b = Features(Y, 50.0, "chroma")
    ms = multiscale_dtw(a, b)
    levels = ms.info["levels"]
    assert levels[-1]["factor"] == 1 and len(levels) >= 2
    n0, m0 = levels[0]["shape"]
    assert n0 * m0 <= 4_000_000
    assert warp_error(ms.path, g) < 1.5
    with pytest.raises(ParameterError, match="frame rates"):
        multiscale_dtw(a, Features(Y, 25.0, "chroma"))


def test_no_factors_is_exact_dtw():
    rng = np.random.default_rng(3)
    X, Y = rng.random((200, 12)), rng.random((230, 12))
    ms = multiscale_dtw(X, Y, factors=())
    ex = dtw(X, Y)
    np.testing.assert_array_equal(ms.path, ex.path)
    assert ms.cost == pytest.approx(ex.cost)


@pytest.mark.parametrize("steps", ["symmetric1", "sigma2"])
def test_other_step_sizes_match_exact(warped_pair, steps):
    X, Y, _ = warped_pair
    X, Y = X[:1500], Y[:1700]
    exact = dtw(X, Y, step_sizes=steps)
    ms = multiscale_dtw(X, Y, step_sizes=steps, factors=(10,), radius=10)
    shape = (len(X), len(Y))
    assert share_within(P.fill_path(ms.path), P.fill_path(exact.path), shape) >= 0.99


def test_memory_limit_picks_coarser_levels_and_fails_when_impossible(warped_pair):
    X, Y, g = warped_pair
    limit = 3_000_000
    ms = multiscale_dtw(X, Y, memory_limit=limit)
    levels = ms.info["levels"]
    assert len(levels) >= 2 and levels[0]["factor"] > 1  # the full grid (18.4 M cells) does not fit
    for lv in levels:
        assert lv["cells"] <= limit
    n0, m0 = levels[0]["shape"]
    assert n0 * m0 <= limit
    assert warp_error(ms.path, g) < 1.5
    with pytest.raises(ParameterError, match="memory_limit"):
        multiscale_dtw(X, Y, memory_limit=200_000)
    with pytest.raises(ParameterError, match="memory_limit"):
        multiscale_dtw(X, Y, factors=(2,), memory_limit=1_000_000)


def plateau_chroma(rng, n, seg=25, noise=0.05):
    """Piecewise-constant chroma (held notes) plus noise: many nearly-equal DTW paths."""
    lab = np.abs(rng.standard_normal((n // seg + 1, 12))) ** 3
    x = np.repeat(lab, seg, axis=0)[:n] + noise * rng.random((n, 12))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_border_refinement_recovers_the_exact_path_on_plateaus():
    rng = np.random.default_rng(0)
    X = plateau_chroma(rng, 4000)
    Y, _ = warped_copy(rng, X, 4400, noise=0.05)
    shape = (len(X), len(Y))
    exact = dtw(X, Y)
    plain = multiscale_dtw(X, Y, radius=4, max_refinements=0)
    border_only = multiscale_dtw(X, Y, radius=4, verify=False)
    refined = multiscale_dtw(X, Y, radius=4)
    # the narrow region alone misses the optimum (so this case is a real test of refinement)
    assert share_within(plain.path, exact.path, shape) < 0.95
    assert plain.cost > exact.cost * 1.005
    assert refined.info["levels"][-1]["rounds"] > 1
    assert plain.cost >= border_only.cost >= refined.cost - 1e-9
    assert share_within(refined.path, exact.path, shape) >= 0.99
    assert refined.cost == pytest.approx(exact.cost, rel=1e-4)


def test_pool_features_averages_blocks():
    x = np.arange(14, dtype=float).reshape(7, 2)
    p = pool_features(x, 3)
    np.testing.assert_allclose(p, [[2, 3], [8, 9], [12, 13]])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"factors": (6, 4)}, "multiple"),
        ({"factors": (0,)}, "factor"),
        ({"factors": 5}, "sequence"),
        ({"radius": -1}, "radius"),
        ({"radius": 2.5}, "radius"),
        ({"memory_limit": 0}, "memory_limit"),
        ({"max_refinements": -1}, "max_refinements"),
        ({"verify": "yes"}, "verify"),
        ({"memory_limit": "1GB"}, "memory_limit"),
        ({"metric": "l1"}, "metric"),
        ({"step_sizes": "x"}, "step_sizes"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    X = np.random.default_rng(0).random((50, 12))
    with pytest.raises(ParameterError, match=match):
        multiscale_dtw(X, X, **kwargs)


@pytest.mark.slow
def test_two_30_minute_recordings_at_50_hz():
    """90,000 x 90,000 frames: aligns with a small memory limit and follows the true warp."""
    rng = np.random.default_rng(90)
    X = smooth_chroma(rng, 90_000, smooth=25).astype(np.float32)
    Y, g = warped_copy(rng, X, 90_000)
    ms = multiscale_dtw(X, Y.astype(np.float32), memory_limit=200_000_000)
    P.validate_path(ms.path, (90_000, 90_000))
    assert warp_error(ms.path, g) < 1.5


def _winterreise(version):
    from conftest import shared_path

    return np.load(shared_path("winterreise_d911_01_pitchclass", f"Schubert_D911-01_{version}.npy")).T


def _measures(version):
    from conftest import shared_path

    rows = np.loadtxt(shared_path("schubert_measures", f"Schubert_D911-01_{version}.csv"), delimiter=";",
                      skiprows=1)
    return rows[:, 0]


def test_real_winterreise_versions_multiscale_equals_exact_and_hits_measures(shared_data):
    """Two real performances (HU33, SC06) of Winterreise no. 1 at 43 Hz (~13,400 x 14,000 frames)."""
    A, B = _winterreise("HU33"), _winterreise("SC06")
    rate = 22050 / 512
    exact = dtw(A, B)
    ms = multiscale_dtw(A, B, radius=8)
    assert share_within(ms.path, exact.path, (len(A), len(B))) >= 0.99
    # measure starts of HU33 carried through the path land near SC06's annotated measure starts
    ma, mb = _measures("HU33"), _measures("SC06")
    assert len(ma) == len(mb)
    tm = P.TimeMap.from_path(ms.path, rate, rate)
    err = np.abs(tm(ma) - mb)
    linear_err = np.abs(ma * len(B) / len(A) - mb)
    assert np.mean(err) < 0.15 and np.median(err) < 0.1
    assert np.mean(err) < 0.05 * np.mean(linear_err)
