"""CTC CUDA kernels (forward-backward, Viterbi) against the CPU backend, under numba's CUDA
simulator, in a fresh process (see tests/test_soft_dtw_cuda.py for why)."""

from __future__ import annotations

import os

import pytest


def _checks():
    import numpy as np
    import torch

    from alignkit.align.ctc import (
        ctc_forced_align,
        ctc_loss,
        ctc_posteriors,
        multilabel_ctc_forced_align,
        multilabel_ctc_loss,
    )

    g = torch.Generator().manual_seed(0)
    lp = torch.randn(4, 12, 5, dtype=torch.float64, generator=g).log_softmax(-1).requires_grad_()
    tg = torch.tensor([[1, 2, 2, 3], [3, 1, 0, 0], [4, 4, 4, 0], [2, 3, 4, 1]])
    tl = torch.tensor([4, 2, 3, 4])
    il = torch.tensor([12, 6, 4, 11])  # item 2 is too short: inf loss, no path
    a = ctc_loss(lp, tg, il, tl, reduction="none", implementation="alignkit")
    b = ctc_loss(lp, tg, il, tl, reduction="none", implementation="alignkit", backend="cuda")
    assert torch.allclose(a, b, rtol=1e-12), (a, b)
    ga = torch.autograd.grad(a[torch.isfinite(a)].sum(), lp)[0]
    gb = torch.autograd.grad(b[torch.isfinite(b)].sum(), lp)[0]
    assert torch.allclose(ga, gb, rtol=1e-10, atol=1e-12)
    p1 = ctc_posteriors(lp, tg, il, tl)
    p2 = ctc_posteriors(lp, tg, il, tl, backend="cuda")
    assert torch.allclose(p1.class_posteriors, p2.class_posteriors, atol=1e-12)
    A1 = ctc_forced_align(lp, tg, il, tl)
    A2 = ctc_forced_align(lp, tg, il, tl, backend="cuda")
    for f in ("states", "starts", "ends", "frame_labels"):
        assert np.array_equal(getattr(A1, f), getattr(A2, f)), f
    assert np.allclose(A1.scores, A2.scores, rtol=1e-12)
    # a target longer than one block of threads (S = 2 L + 1 > 32: grid-stride over states)
    lp2 = torch.randn(1, 60, 6, dtype=torch.float64, generator=g).log_softmax(-1)
    tg2 = torch.randint(1, 6, (1, 25), generator=g)
    assert np.array_equal(
        ctc_forced_align(lp2, tg2).states, ctc_forced_align(lp2, tg2, backend="cuda").states
    )
    # multi-label
    z = torch.randn(2, 7, 3, dtype=torch.float64, generator=g)
    sets = np.zeros((2, 2, 3), bool)
    sets[0, 0, [0, 2]] = sets[0, 1, 1] = sets[1, 0, 1] = sets[1, 1, [0, 1]] = True
    m1 = multilabel_ctc_loss(z, sets, reduction="none")
    m2 = multilabel_ctc_loss(z, sets, reduction="none", backend="cuda")
    assert torch.allclose(m1, m2, rtol=1e-12)
    assert np.array_equal(
        multilabel_ctc_forced_align(z, sets).states,
        multilabel_ctc_forced_align(z, sets, backend="cuda").states,
    )
    print("CTC CUDA simulator checks passed")


def test_cuda_kernels_match_cpu_under_the_simulator():
    # runs in the session's one simulator process (see tests/test_soft_dtw_cuda.py)
    from test_soft_dtw_cuda import assert_simulator_passed

    assert_simulator_passed("test_ctc_cuda.py")


if __name__ == "__main__":
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        pytest.exit("run with NUMBA_ENABLE_CUDASIM=1")
    _checks()
