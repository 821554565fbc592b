"""Soft-DTW on the CPU: the oracle ladder (brute force, triple-loop DP, gamma -> 0, gradcheck,
padding invariance, batched == one by one) plus bands, masks, subsequence and bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from alignkit.align._kernels import naive
from alignkit.align.soft_dtw import (
    SoftDTW,
    band_from_path,
    expected_alignment,
    gamma_schedule,
    mask_window,
    sakoe_chiba_window,
    soft_dtw,
    soft_dtw_divergence,
)
from alignkit.exceptions import BackendError, ParameterError

WEIGHTS = [(1.0, 1.0, 1.0), (2.0, 1.0, 1.0), (1.0, 1.0, math.inf), (1.5, math.inf, 3.0)]


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).random(shape)


def _windows_to_mask(lo, hi, m):
    j = np.arange(m)[None, :]
    return (j >= np.asarray(lo)[:, None]) & (j < np.asarray(hi)[:, None])


# ----------------------------------------------------------------------------- brute force


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("subsequence", [False, True])
@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (1, 3), (3, 1)])
def test_value_and_gradient_match_brute_force(weights, subsequence, shape):
    n, m = shape
    if weights[2] == math.inf and m > n and not subsequence:
        shape = (m, n)  # without horizontal steps a global path needs n >= m
    if weights[1] == math.inf and shape[0] > shape[1]:
        shape = shape[::-1]
    C = _rand(*shape, seed=1) * 2 - 0.5  # negative costs are allowed too
    gamma = 0.7
    try:
        want = naive.soft_dtw_brute(C, gamma, weights=weights, subsequence=subsequence)
    except ValueError:
        pytest.skip("no path exists")
    if not math.isfinite(want):
        return
    Ct = torch.tensor(C, requires_grad=True)
    got = soft_dtw(Ct, gamma=gamma, step_weights=weights, subsequence=subsequence)
    assert got.item() == pytest.approx(want, rel=1e-12, abs=1e-12)
    got.backward()
    E = naive.soft_dtw_expected_brute(C, gamma, weights=weights, subsequence=subsequence)
    np.testing.assert_allclose(Ct.grad.numpy(), E, rtol=1e-10, atol=1e-12)
    E2 = expected_alignment(C, gamma=gamma, step_weights=weights, subsequence=subsequence).numpy()
    np.testing.assert_allclose(E2, E, rtol=1e-10, atol=1e-12)


def test_masked_cells_match_brute_force():
    C = _rand(4, 4, seed=2)
    mask = np.ones((4, 4), bool)
    mask[1, 1] = mask[2, 1] = False
    want = naive.soft_dtw_brute(C, 0.5, mask=mask)
    got = soft_dtw(torch.tensor(C), gamma=0.5, mask=mask).item()
    assert got == pytest.approx(want, rel=1e-12)
    E = expected_alignment(C, gamma=0.5, mask=mask).numpy()
    np.testing.assert_allclose(E, naive.soft_dtw_expected_brute(C, 0.5, mask=mask), atol=1e-12)
    assert E[1, 1] == 0 and E[2, 1] == 0


# ----------------------------------------------------------------------------- triple-loop DP


@pytest.mark.parametrize("weights", WEIGHTS[:2])
@pytest.mark.parametrize("subsequence", [False, True])
def test_value_matches_triple_loop_dp(weights, subsequence):
    C = _rand(13, 17, seed=3)
    for gamma in (0.05, 1.0, 10.0):
        want, _ = naive.soft_dtw_dp(C, gamma, weights=weights, subsequence=subsequence)
        got = soft_dtw(C, gamma=gamma, step_weights=weights, subsequence=subsequence).item()
        assert got == pytest.approx(want, rel=1e-12)


def test_band_equals_dense_with_band_mask_and_stores_only_the_band():
    C = _rand(40, 30, seed=4)
    lo, hi = sakoe_chiba_window(40, 30, 3)
    mask = _windows_to_mask(lo, hi, 30)
    want, _ = naive.soft_dtw_dp(C, 0.3, mask=mask)
    got = soft_dtw(C, gamma=0.3, band=3).item()
    assert got == pytest.approx(want, rel=1e-12)
    # explicit windows, and the mask route, give the same value
    assert soft_dtw(C, gamma=0.3, band=(lo, hi)).item() == pytest.approx(want, rel=1e-12)
    assert soft_dtw(C, gamma=0.3, mask=mask).item() == pytest.approx(want, rel=1e-12)
    Eb, blo, bhi = expected_alignment(C, gamma=0.3, band=3, dense=False)
    assert Eb.shape == (1, 40, int((hi - lo).max()))  # band storage, not 40 x 30
    Ed = expected_alignment(C, gamma=0.3, band=3).numpy()
    assert np.all(Ed[~mask] == 0)
    # the band gradient equals the dense gradient of the masked problem
    Em = expected_alignment(C, gamma=0.3, mask=mask).numpy()
    np.testing.assert_allclose(Ed, Em, atol=1e-12)


def test_band_on_features_matches_dense_cost():
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(25, 3)), rng.normal(size=(31, 3))
    C = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    lo, hi = sakoe_chiba_window(25, 31, 4)
    want, _ = naive.soft_dtw_dp(C, 0.5, mask=_windows_to_mask(lo, hi, 31))
    assert soft_dtw(X=X, Y=Y, gamma=0.5, band=4).item() == pytest.approx(want, rel=1e-12)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Yn = Y / np.linalg.norm(Y, axis=1, keepdims=True)
    Ccos = 1 - Xn @ Yn.T
    assert soft_dtw(X=X, Y=Y, gamma=0.5, metric="cosine").item() == pytest.approx(
        naive.soft_dtw_dp(Ccos, 0.5)[0], rel=1e-12
    )


def test_diagonal_prior_adds_the_documented_penalty():
    C = _rand(6, 9, seed=6)
    i, j = np.meshgrid(np.arange(6) / 5, np.arange(9) / 8, indexing="ij")
    want, _ = naive.soft_dtw_dp(C + 2.0 * (i - j) ** 2, 0.4)
    assert soft_dtw(C, gamma=0.4, diagonal_prior=2.0).item() == pytest.approx(want, rel=1e-12)


# ----------------------------------------------------------------------------- gamma -> 0


@pytest.mark.parametrize("weights,steps", [((1.0, 1.0, 1.0), None), ((2.0, 1.0, 1.0), None)])
def test_small_gamma_gives_hard_dtw_value_and_path(weights, steps):
    C = _rand(15, 11, seed=7)
    cost, path = naive.dtw_dp(C, weights=weights)
    gamma = 1e-4
    v = soft_dtw(C, gamma=gamma, step_weights=weights).item()
    # softmin lies within gamma * log(#paths) below the minimum
    assert cost - gamma * 30 <= v <= cost + 1e-12
    E = expected_alignment(C, gamma=gamma, step_weights=weights).numpy()
    on_path = np.zeros_like(C, bool)
    on_path[path[:, 0], path[:, 1]] = True
    assert np.all(E[~on_path] < 1e-6)
    assert np.all(E[on_path] > 0.99)  # weight 1 or 2 on the path


# ----------------------------------------------------------------------------- gradcheck


def test_gradcheck_cost_matrix_dense_band_subsequence():
    C = torch.tensor(_rand(2, 5, 6, seed=8), requires_grad=True)
    for kw in (
        dict(),
        dict(band=1),
        dict(step_weights=(2.0, 1.0, 1.5)),
        dict(subsequence=True),
        dict(lengths=(torch.tensor([5, 3]), torch.tensor([4, 6]))),
        dict(diagonal_prior=0.5),
    ):
        assert torch.autograd.gradcheck(lambda c, kw=kw: soft_dtw(c, gamma=0.3, **kw), (C,))


@pytest.mark.parametrize("metric", ["sqeuclidean", "cosine"])
def test_gradcheck_features(metric):
    rng = np.random.default_rng(9)
    X = torch.tensor(rng.normal(size=(2, 5, 3)), requires_grad=True)
    Y = torch.tensor(rng.normal(size=(2, 7, 3)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: soft_dtw(X=x, Y=y, gamma=0.5, metric=metric), (X, Y))
    assert torch.autograd.gradcheck(lambda x, y: soft_dtw(X=x, Y=y, gamma=0.5, metric=metric, band=2), (X, Y))
    assert torch.autograd.gradcheck(lambda x, y: soft_dtw_divergence(x, y, gamma=0.5, metric=metric), (X, Y))


# ----------------------------------------------------------------------------- batches


def test_padding_invariance_and_zero_gradient_on_padding():
    rng = np.random.default_rng(10)
    sizes = [(7, 9), (4, 5), (9, 3)]
    N, M, D = 9, 9, 4
    X = torch.tensor(rng.normal(size=(3, N, D)), requires_grad=True)
    Y = torch.tensor(rng.normal(size=(3, M, D)), requires_grad=True)
    xl = torch.tensor([s[0] for s in sizes])
    yl = torch.tensor([s[1] for s in sizes])
    v = soft_dtw(X=X, Y=Y, gamma=0.2, lengths=(xl, yl))
    v.sum().backward()
    for b, (n, m) in enumerate(sizes):
        Xb = X[b, :n].detach().clone().requires_grad_()
        Yb = Y[b, :m].detach().clone().requires_grad_()
        vb = soft_dtw(X=Xb, Y=Yb, gamma=0.2)
        vb.backward()
        assert v[b].item() == pytest.approx(vb.item(), rel=1e-12)
        np.testing.assert_allclose(X.grad[b, :n].numpy(), Xb.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(Y.grad[b, :m].numpy(), Yb.grad.numpy(), atol=1e-12)
        assert torch.all(X.grad[b, n:] == 0) and torch.all(Y.grad[b, m:] == 0)
    # changing the padding changes nothing
    X2 = X.detach().clone()
    X2[0, 7:] = 1e3
    assert torch.equal(soft_dtw(X=X2, Y=Y.detach(), gamma=0.2, lengths=(xl, yl)), v.detach())


def test_batched_equals_one_by_one_with_cost_matrices_and_bands():
    C = torch.tensor(_rand(4, 20, 16, seed=11), requires_grad=True)
    v = soft_dtw(C, gamma=0.1, band=4)
    v.sum().backward()
    for b in range(4):
        cb = C[b].detach().clone().requires_grad_()
        vb = soft_dtw(cb, gamma=0.1, band=4)
        vb.backward()
        assert v[b].item() == vb.item()
        assert torch.equal(C.grad[b], cb.grad)


def test_expected_alignment_is_a_distribution_over_paths():
    C = _rand(12, 8, seed=12)
    E = expected_alignment(C, gamma=1.0).numpy()
    assert E[0, 0] == pytest.approx(1) and E[-1, -1] == pytest.approx(1)
    assert np.all(E >= 0) and np.all(E <= 1 + 1e-12)
    assert np.all(E.sum(axis=1) >= 1 - 1e-12) and np.all(E.sum(axis=0) >= 1 - 1e-12)


# ----------------------------------------------------------------------------- helpers


def test_sakoe_chiba_windows_are_connected_for_unequal_lengths():
    for n, m, r in [(10, 100, 0), (100, 10, 0), (50, 50, 2), (1, 7, 1), (7, 1, 1)]:
        lo, hi = sakoe_chiba_window(n, m, r)
        assert lo[0] == 0 and hi[-1] == m
        assert np.all(lo[1:] <= hi[:-1]) and np.all(hi > lo)
        assert np.isfinite(soft_dtw(_rand(n, m), gamma=0.1, band=r).item())


def test_band_from_coarse_path_contains_the_upsampled_path():
    path = np.array([[0, 0], [1, 0], [2, 1], [3, 2], [3, 3], [4, 4]])
    lo, hi = band_from_path(path, (50, 50), 2, scale=10)
    for i, j in path:
        for a in range(10 * i, 10 * i + 10):
            assert lo[a] <= 10 * j and 10 * j + 9 < hi[a]
    assert np.all(lo[1:] >= lo[:-1]) and np.all(hi[1:] >= hi[:-1])
    assert hi.max() - lo.min() > 0 and (hi - lo).max() < 50
    assert np.isfinite(soft_dtw(_rand(50, 50), gamma=0.1, band=(lo, hi)).item())


def test_mask_window_is_the_monotone_hull():
    mask = np.zeros((4, 6), bool)
    mask[0, 0:2] = mask[1, 3] = mask[2, 1:3] = mask[3, 5] = True
    lo, hi = mask_window(mask)
    assert lo.tolist() == [0, 1, 1, 5] and hi.tolist() == [2, 4, 4, 6]


def test_divergence_is_zero_on_itself_and_positive_otherwise():
    rng = np.random.default_rng(13)
    X = torch.tensor(rng.normal(size=(10, 3)))
    Y = torch.tensor(rng.normal(size=(12, 3)))
    assert soft_dtw_divergence(X, X, gamma=1.0).item() == pytest.approx(0, abs=1e-10)
    assert soft_dtw_divergence(X, Y, gamma=1.0).item() > 0


def test_gamma_schedule():
    g = gamma_schedule(1.0, 0.01, 5)
    assert g[0] == pytest.approx(1.0) and g[-1] == pytest.approx(0.01)
    np.testing.assert_allclose(g[1:] / g[:-1], 10**-0.5)
    assert gamma_schedule(1.0, 0.5, 3, kind="linear").tolist() == pytest.approx([1.0, 0.75, 0.5])
    assert gamma_schedule(1.0, 0.5, 1).tolist() == [0.5]
    with pytest.raises(ParameterError):
        gamma_schedule(1.0, 0.5, 3, kind="exp")


def test_module_matches_function_and_reduces():
    rng = np.random.default_rng(14)
    X = torch.tensor(rng.normal(size=(3, 6, 2)))
    Y = torch.tensor(rng.normal(size=(3, 8, 2)))
    mod = SoftDTW(gamma=0.3, reduction="mean")
    assert mod(X, Y).item() == pytest.approx(soft_dtw(X=X, Y=Y, gamma=0.3).mean().item())
    assert SoftDTW(gamma=0.3, normalize=True)(X, Y).shape == (3,)
    C = torch.tensor(_rand(6, 8))
    assert SoftDTW(gamma=0.3)(C=C).item() == pytest.approx(soft_dtw(C, gamma=0.3).item())


def test_float32_agrees_with_float64():
    C = _rand(60, 50, seed=15)
    v64 = soft_dtw(C, gamma=0.5).item()
    v32 = soft_dtw(C.astype(np.float32), gamma=0.5)
    assert v32.dtype == torch.float32 and v32.item() == pytest.approx(v64, rel=1e-5)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("gamma", [-1, 0, float("nan"), float("inf"), "foo"])
def test_bad_gamma(gamma):
    with pytest.raises(ParameterError, match="gamma"):
        soft_dtw(_rand(3, 3), gamma=gamma)


@pytest.mark.parametrize("weights", [(1, 1), (0, 1, 1), (-1, 1, 1), (math.inf, 1, 1), "abc"])
def test_bad_step_weights(weights):
    with pytest.raises(ParameterError, match="step_weights"):
        soft_dtw(_rand(3, 3), step_weights=weights)


def test_bad_inputs():
    C = _rand(5, 5)
    with pytest.raises(ParameterError, match="not both"):
        soft_dtw(C, X=C, Y=C)
    with pytest.raises(ParameterError, match="cost matrix C"):
        soft_dtw(X=C)
    with pytest.raises(ParameterError, match="shape"):
        soft_dtw(np.zeros(5))
    with pytest.raises(ParameterError, match="NaN"):
        soft_dtw(np.full((3, 3), np.nan))
    with pytest.raises(ParameterError, match="metric"):
        soft_dtw(X=C, Y=C, metric="manhattan")
    with pytest.raises(ParameterError, match="differ"):
        soft_dtw(X=np.zeros((3, 2)), Y=np.zeros((3, 4)))
    with pytest.raises(ParameterError, match="x_lengths"):
        soft_dtw(C[None], lengths=(np.array([6]), np.array([5])))
    with pytest.raises(ParameterError, match="must contain"):
        soft_dtw(_rand(5, 40), band=(np.zeros(5, int), np.full(5, 3)))
    with pytest.raises(ParameterError, match="no path"):
        soft_dtw(_rand(5, 40), band=(np.array([0, 0, 20, 20, 20]), np.array([3, 3, 40, 40, 40])))
    with pytest.raises(ParameterError, match="boolean"):
        soft_dtw(C, mask=np.ones((5, 5)))
    with pytest.raises(ParameterError, match="backend"):
        soft_dtw(C, backend="tpu")


def test_cuda_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(BackendError, match="cuda"):
        soft_dtw(_rand(4, 4), backend="cuda")


def test_unreachable_end_under_a_mask_gives_inf_and_zero_gradient():
    C = torch.tensor(_rand(3, 3), requires_grad=True)
    mask = np.ones((3, 3), bool)
    mask[1, :] = False
    mask[1, 0] = True  # the window stays connected but no path survives row 1 -> (2, 2)? it does: check
    v = soft_dtw(C, gamma=0.5, mask=mask)
    want = naive.soft_dtw_brute(C.detach().numpy(), 0.5, mask=mask)
    assert v.item() == pytest.approx(want)
    mask2 = np.ones((3, 3), bool)
    mask2[1, 1] = mask2[1, 0] = mask2[0, 1] = mask2[1, 2] = False
    mask2[0, 2] = True
    v2 = soft_dtw(C, gamma=0.5, mask=mask2)
    assert v2.item() == math.inf
    v2.backward()
    assert torch.all(C.grad == 0)


def test_parallel_kernels_equal_serial(monkeypatch):
    """Big batches use the prange kernels: same values and gradients as the serial twins."""
    from alignkit.align._kernels import softdtw_cpu

    rng = np.random.default_rng(16)
    X = torch.tensor(rng.normal(size=(3, 12, 2)), requires_grad=True)
    Y = torch.tensor(rng.normal(size=(3, 10, 2)), requires_grad=True)
    C = torch.tensor(rng.random((3, 12, 10)), requires_grad=True)
    lens = (np.array([12, 7, 9]), np.array([10, 10, 4]))

    def run():
        v1 = soft_dtw(X=X, Y=Y, gamma=0.3, lengths=lens)
        v2 = soft_dtw(C, gamma=0.3, band=3, subsequence=False)
        g = torch.autograd.grad(v1.sum() + v2.sum(), (X, Y, C))
        return v1.detach(), v2.detach(), g

    serial = run()
    monkeypatch.setattr(softdtw_cpu, "PARALLEL_MIN_CELLS", 0)
    parallel = run()
    for a, b in zip(serial[:2] + serial[2], parallel[:2] + parallel[2], strict=True):
        assert torch.equal(a, b)


def test_second_backward_with_retain_graph_gives_the_same_gradient():
    """The CPU backward turns the stored R into E in place; a second backward recomputes R."""
    C0 = _rand(9, 7, seed=21)
    want = naive.soft_dtw_expected_brute(C0[:4, :3], 0.5)
    for band in (None, 2):
        C = torch.tensor(C0, requires_grad=True)
        v = soft_dtw(C, gamma=0.5, band=band)
        g1 = torch.autograd.grad(v, C, retain_graph=True)[0].clone()
        g2 = torch.autograd.grad(v, C, retain_graph=True)[0]
        g3 = torch.autograd.grad(2.0 * v, C)[0]
        assert torch.equal(g1, g2)
        torch.testing.assert_close(g3, 2.0 * g1, rtol=1e-14, atol=0.0)
    Cs = torch.tensor(C0[:4, :3], requires_grad=True)
    v = soft_dtw(Cs, gamma=0.5)
    torch.autograd.grad(v, Cs, retain_graph=True)
    np.testing.assert_allclose(torch.autograd.grad(v, Cs)[0].numpy(), want, rtol=1e-10, atol=1e-12)


def test_gradient_buffer_is_the_only_band_sized_allocation():
    """Forward + backward allocate one float per stored cell (R, overwritten by E), not three."""
    import tracemalloc

    # long enough that the kernels' fixed scratch (strip x block buffers, ~0.4 MB) is small next
    # to one band
    n, band = 5000, 20
    C = torch.tensor(_rand(n, n, seed=22), requires_grad=True)
    soft_dtw(C, gamma=1.0, band=band).backward()  # compile / warm up
    C.grad = None
    W = 2 * band + 1
    tracemalloc.start()
    try:
        soft_dtw(C, gamma=1.0, band=band).backward()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    cell = 8 * n * W  # one float64 band
    # tracemalloc sees the kernels' numpy buffers (not torch's): R, reused for E, and row
    # and block buffers; the former layout (two soft-min weights per cell) traced twice this
    assert cell <= peak < cell + cell // 2, (peak, cell)


# ----------------------------------------------------------------------------- strip / block kernels


def _grad_dp(C, gamma, weights, mask, subsequence):
    """Textbook expected alignment (Cuturi & Blondel's backward recursion, pull form) in float64."""
    value, R = naive.soft_dtw_dp(C, gamma, weights=weights, mask=mask, subsequence=subsequence)
    n, m = C.shape
    Cm = np.where(mask, C, np.inf)
    steps = ((1, 1), (1, 0), (0, 1))
    G = np.zeros((n, m))
    if subsequence:
        last = R[n - 1]
        ok = np.isfinite(last)
        G[n - 1, ok] = np.exp(-(last[ok] - value) / gamma)
    else:
        G[n - 1, m - 1] = 1.0
    E = np.zeros((n, m))
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            if not np.isfinite(R[i, j]):
                continue
            for (di, dj), w in zip(steps, weights, strict=True):
                a, b = i + di, j + dj
                if a < n and b < m and np.isfinite(w) and np.isfinite(R[a, b]):
                    if subsequence and a == 0:
                        continue  # row 0 cells are starts: nothing flows into them
                    G[i, j] += G[a, b] * math.exp((R[a, b] - R[i, j] - w * Cm[a, b]) / gamma)
            if i == 0 and (subsequence or j == 0):
                E[i, j] = G[i, j]
                continue
            f = 0.0
            for (di, dj), w in zip(steps, weights, strict=True):
                a, b = i - di, j - dj
                if a >= 0 and b >= 0 and np.isfinite(w) and np.isfinite(R[a, b]):
                    f += w * math.exp((R[i, j] - R[a, b] - w * Cm[i, j]) / gamma)
            E[i, j] = G[i, j] * f
    return value, E


def _staircase_mask(n, m, rng):
    """A random monotone region with jumps: windows whose ends move by several columns at once."""
    lo = np.sort(rng.integers(0, m, n))
    lo[0] = 0
    width = rng.integers(1, max(2, m // 3), n)
    hi = np.maximum.accumulate(np.minimum(lo + width, m))
    hi[-1] = m
    hi = np.maximum(hi, np.r_[lo[1:] + 1, m])  # consecutive windows overlap: the end is reachable
    hi = np.minimum(hi, m)
    return _windows_to_mask(lo, hi, m)


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("subsequence", [False, True])
def test_strip_and_block_sizes_match_the_textbook_recursion(weights, subsequence):
    """The kernels sweep strips of S rows, anti-diagonal by anti-diagonal, in blocks of T steps;
    value and expected alignment must not depend on S or T (strip and block seams, rows whose
    windows jump by several columns, empty lanes), and equal the plain float64 recursion."""
    from alignkit.align._kernels import softdtw_cpu as K

    rng = np.random.default_rng(7)
    n, m = 23, 31
    C = rng.random((n, m)) * 2
    masks = {
        "dense": np.ones((n, m), bool),
        "band": _windows_to_mask(*sakoe_chiba_window(n, m, 3), m),
        "staircase": _staircase_mask(n, m, rng),
    }
    for name, mask in masks.items():
        lo, hi = mask_window(mask)
        W = int((hi - lo).max())
        Cb = np.full((n, W), np.inf)
        for i in range(n):
            for k in range(hi[i] - lo[i]):
                j = lo[i] + k
                Cb[i, k] = C[i, j] if mask[i, j] else np.inf
        gamma = 0.7
        want_v, want_E = _grad_dp(C, gamma, weights, mask, subsequence)
        wd, wv, wh = weights
        for S, T in [(1, 1), (2, 3), (3, 2), (5, 7), (7, 1), (128, 64)]:
            # the serial sweep, then the same tiles as a pipeline of strips over the threads
            got = []
            for fwd, bwd in [(K._forward_one, K._backward_one), (K._forward_wave, K._backward_wave)]:
                R = np.empty((n, W))
                endw = np.zeros(W)
                v = fwd(Cb, lo, hi, n, m, gamma, wd, wv, wh, subsequence, True, R, endw, S, T)
                assert v == pytest.approx(want_v, rel=1e-12), (name, S, T, fwd.__name__)
                bwd(Cb, R, lo, hi, n, m, gamma, wd, wv, wh, subsequence, endw, 1.0, S, T)
                E = np.zeros((n, m))
                for i in range(n):
                    E[i, lo[i]:hi[i]] = R[i, : hi[i] - lo[i]]
                np.testing.assert_allclose(E, want_E, rtol=1e-10, atol=1e-12, err_msg=f"{name} S={S} T={T}")
                got.append((v, E))
            assert got[0][0] == got[1][0] and np.array_equal(got[0][1], got[1][1]), (name, S, T)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_pair_over_all_threads_equals_the_serial_sweep(dtype):
    """One pair runs as a pipeline of strips over the threads: strip k's block waits until strip
    k - 1 (backward: k + 1) is far enough. Dense, banded and jumping windows, small strips and
    blocks so that many strips are in flight: value and gradient bit for bit the serial ones."""
    from alignkit.align._kernels import softdtw_cpu as K

    rng = np.random.default_rng(11)
    n, m = 157, 203
    C = (rng.random((n, m)) * 2).astype(dtype)
    masks = {
        "dense": np.ones((n, m), bool),
        "band": _windows_to_mask(*sakoe_chiba_window(n, m, 9), m),
        "staircase": _staircase_mask(n, m, rng),
    }
    one = dtype(1.0)
    for name, mask in masks.items():
        lo, hi = mask_window(mask)
        W = int((hi - lo).max())
        Cb = np.full((n, W), np.inf, dtype)
        for i in range(n):
            Cb[i, : hi[i] - lo[i]] = np.where(mask[i, lo[i]:hi[i]], C[i, lo[i]:hi[i]], np.inf)
        for (S, T), subseq, (wd, wv, wh) in [((4, 5), False, WEIGHTS[0]), ((8, 3), True, WEIGHTS[3]),
                                             ((16, 16), False, WEIGHTS[2]), ((3, 9), True, WEIGHTS[1])]:
            got = []
            for fwd, bwd in [(K._forward_one, K._backward_one), (K._forward_wave, K._backward_wave)]:
                R = np.empty((n, W), dtype)
                endw = np.zeros(W, dtype)
                v = fwd(Cb, lo, hi, n, m, dtype(0.4), dtype(wd), dtype(wv), dtype(wh), subseq, True, R, endw,
                        S, T)
                bwd(Cb, R, lo, hi, n, m, dtype(0.4), dtype(wd), dtype(wv), dtype(wh), subseq, endw, one, S, T)
                got.append((v, R))
            if math.isinf(wh) and not subseq:  # no horizontal step and n < m: no path at all
                assert got[0][0] == np.inf
            elif math.isfinite(wv):  # every window here has paths with all three steps
                assert np.isfinite(got[0][0]) and np.abs(got[0][1]).sum() > 0, (name, S, T)
            assert got[0][0] == got[1][0], (name, S, T)
            assert np.array_equal(got[0][1], got[1][1]), (name, S, T)


def test_one_pair_uses_the_parallel_kernels(monkeypatch):
    """Above PARALLEL_MIN_CELLS even a single pair takes the parallel kernels (soft-DTW, the
    banded cost and its gradient, band gather/scatter), with the serial twins' values and
    gradients."""
    from alignkit.align._kernels import softdtw_cpu

    assert softdtw_cpu.pick("sdtw_forward", 1, 2_000_000) is softdtw_cpu.sdtw_forward
    assert softdtw_cpu.pick("sdtw_backward", 1, 10) is softdtw_cpu.sdtw_backward_serial
    assert softdtw_cpu.pick("banded_cost_backward", 1, 2_000_000) is softdtw_cpu.banded_cost_backward
    C0 = _rand(300, 280, seed=5)
    rng = np.random.default_rng(5)
    X0, Y0 = rng.normal(size=(300, 4)), rng.normal(size=(260, 4))

    def run():
        out = []
        for band, sub in [(None, False), (20, False), (None, True)]:
            C = torch.tensor(C0, requires_grad=True)
            v = soft_dtw(C, gamma=0.3, band=band, subsequence=sub)
            out += [v.detach(), torch.autograd.grad(v, C)[0]]
            X = torch.tensor(X0, requires_grad=True)
            Y = torch.tensor(Y0, requires_grad=True)
            v = soft_dtw(X=X, Y=Y, gamma=0.3, band=band, subsequence=sub)
            out += [v.detach(), *torch.autograd.grad(v, (X, Y))]
        return out

    serial = run()
    monkeypatch.setattr(softdtw_cpu, "PARALLEL_MIN_CELLS", 0)
    parallel = run()
    for a, b in zip(serial, parallel, strict=True):
        assert torch.equal(a, b)


def test_kernels_off_the_main_thread_avoid_an_unsafe_threading_layer(monkeypatch):
    """numba's workqueue layer aborts on parallel launches from several threads: off the main
    thread, pick() then returns the serial twins (and the main thread keeps the parallel ones)."""
    import threading

    import numba

    from alignkit.align._kernels import softdtw_cpu as K

    big = K.PARALLEL_MIN_CELLS
    got = {}

    def run():
        got["kernel"] = K.pick("sdtw_forward", 1, big)

    for layer, want in (("workqueue", K.sdtw_forward_serial), ("omp", K.sdtw_forward)):
        monkeypatch.setattr(numba, "threading_layer", lambda layer=layer: layer)
        t = threading.Thread(target=run)
        t.start()
        t.join()
        assert got["kernel"] is want, layer
        assert K.pick("sdtw_forward", 1, big) is K.sdtw_forward  # the main thread: always parallel
