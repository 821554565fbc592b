"""Real-GPU variants of the soft-DTW, CTC and batched DTW checks (``pytest -m gpu``).

They run the CUDA kernels on torch CUDA tensors (zero-copy through
``__cuda_array_interface__``) and compare with the CPU backend. Deselected by default (marker
``gpu``); when selected on a machine without a GPU they fail loudly instead of skipping.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def dev():
    assert torch.cuda.is_available(), "pytest -m gpu needs a CUDA device (torch.cuda.is_available() is False)"
    from numba import cuda

    assert cuda.is_available(), "numba.cuda cannot see the GPU (is numba-cuda installed?)"
    return torch.device("cuda")


def test_soft_dtw_cuda_matches_cpu(dev):
    from alignkit.align.soft_dtw import soft_dtw

    rng = np.random.default_rng(0)
    C = torch.tensor(rng.random((4, 300, 257)))
    lengths = (np.array([300, 120, 299, 7]), np.array([257, 200, 3, 9]))
    for kw in (
        dict(),
        dict(band=20),
        dict(subsequence=True),
        dict(step_weights=(2.0, 1.0, 1.0)),
        dict(lengths=lengths),
    ):
        kw_cpu = kw
        c1 = C.clone().requires_grad_()
        c2 = C.to(dev).requires_grad_()
        v1 = soft_dtw(c1, gamma=0.3, **kw_cpu)
        v2 = soft_dtw(c2, gamma=0.3, **kw)
        assert v2.is_cuda
        v1.sum().backward()
        v2.sum().backward()
        torch.testing.assert_close(v2.cpu(), v1, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(c2.grad.cpu(), c1.grad, rtol=1e-8, atol=1e-10)


def test_soft_dtw_features_on_cuda(dev):
    from alignkit.align.soft_dtw import soft_dtw

    rng = np.random.default_rng(1)
    X = torch.tensor(rng.normal(size=(3, 100, 12)), requires_grad=True)
    Y = torch.tensor(rng.normal(size=(3, 140, 12)), requires_grad=True)
    Xc = X.detach().to(dev).requires_grad_()
    Yc = Y.detach().to(dev).requires_grad_()
    for metric in ("sqeuclidean", "cosine"):
        v1 = soft_dtw(X=X, Y=Y, gamma=0.5, metric=metric, band=30)
        v2 = soft_dtw(X=Xc, Y=Yc, gamma=0.5, metric=metric, band=30)
        g1 = torch.autograd.grad(v1.sum(), (X, Y))
        g2 = torch.autograd.grad(v2.sum(), (Xc, Yc))
        torch.testing.assert_close(v2.cpu(), v1, rtol=1e-10, atol=1e-10)
        for a, b in zip(g1, g2, strict=True):
            torch.testing.assert_close(b.cpu(), a, rtol=1e-8, atol=1e-10)


def test_long_banded_soft_dtw_has_no_length_limit(dev):
    from alignkit.align.soft_dtw import soft_dtw

    C = torch.rand(1, 5000, 5000, device=dev, dtype=torch.float32, requires_grad=True)
    v = soft_dtw(C, gamma=1.0, band=100)
    v.backward()
    assert math.isfinite(v.item()) and torch.isfinite(C.grad).all()


def test_ctc_cuda_matches_cpu(dev):
    from alignkit.align.ctc import ctc_forced_align, ctc_loss

    g = torch.Generator().manual_seed(0)
    lp = torch.randn(64, 200, 30, dtype=torch.float64, generator=g).log_softmax(-1)
    tg = torch.randint(1, 30, (64, 40), generator=g)
    tl = torch.randint(10, 41, (64,), generator=g)
    il = torch.randint(150, 201, (64,), generator=g)
    a = ctc_loss(lp, tg, il, tl, reduction="none", implementation="alignkit")
    b = ctc_loss(lp.to(dev), tg, il, tl, reduction="none", implementation="alignkit")
    torch.testing.assert_close(b.cpu(), a, rtol=1e-10, atol=1e-10)
    t = ctc_loss(lp.to(dev), tg, il, tl, reduction="none")
    torch.testing.assert_close(b.cpu(), t.cpu(), rtol=1e-8, atol=1e-8)
    A = ctc_forced_align(lp, tg, il, tl)
    B = ctc_forced_align(lp.to(dev), tg, il, tl)
    assert np.array_equal(A.states, B.states)


def test_batched_dtw_cuda_equals_cpu_engine(dev):
    from alignkit.align.dtw import dtw
    from alignkit.align.gpu_dtw import dtw_batch

    rng = np.random.default_rng(2)
    Cs = [np.floor(rng.random((n, m)) * 16) / 16 for n, m in [(300, 280), (50, 90), (400, 400)]]
    for kw in (dict(), dict(step_sizes="symmetric1"), dict(band=30), dict(step_sizes="sigma2")):
        got = dtw_batch([torch.tensor(c, device=dev) for c in Cs], **kw)
        for c, r in zip(Cs, got, strict=True):
            want = dtw(C=c, **kw)
            assert r.cost == want.cost and np.array_equal(r.path, want.path)
