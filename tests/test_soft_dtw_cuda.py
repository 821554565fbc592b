"""Soft-DTW CUDA kernels against the CPU backend, under numba's CUDA simulator.

The simulator must be switched on before numba is imported, so the checks run in a fresh
Python process (``python tests/test_soft_dtw_cuda.py``) started by the test below; the other
tests of the pytest process are untouched. Sizes stay small (the simulator runs every GPU
thread as a Python thread).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

HERE = os.path.abspath(__file__)


def _checks():
    import numpy as np
    import torch

    from alignkit.align.soft_dtw import cuda_simulated, expected_alignment, soft_dtw

    assert cuda_simulated()
    rng = np.random.default_rng(0)
    C = torch.tensor(rng.random((2, 9, 7)) * 2 - 0.5, requires_grad=True)
    X = torch.tensor(rng.normal(size=(2, 8, 3)), requires_grad=True)
    Y = torch.tensor(rng.normal(size=(2, 10, 3)), requires_grad=True)
    cases = [
        ("dense", dict(C=C)),
        ("band", dict(C=C, band=2)),
        ("subsequence", dict(C=C, subsequence=True)),
        ("weights", dict(C=C, step_weights=(2.0, 1.0, math.inf))),
        ("lengths", dict(C=C, lengths=(np.array([9, 5]), np.array([7, 4])))),
        ("mask", dict(C=C, mask=np.tril(np.ones((9, 7), bool), 1))),
        ("features", dict(X=X, Y=Y, band=3, metric="cosine")),
    ]
    for name, kw in cases:
        leaves = [t for t in (kw.get("C"), kw.get("X"), kw.get("Y")) if t is not None]
        args = dict(kw)
        c = args.pop("C", None)
        v1 = soft_dtw(c, gamma=0.5, **args)
        g1 = torch.autograd.grad(v1.sum(), leaves)
        v2 = soft_dtw(c, gamma=0.5, backend="cuda", **args)
        g2 = torch.autograd.grad(v2.sum(), leaves)
        assert torch.allclose(v1, v2, rtol=1e-12, atol=1e-12), (name, v1, v2)
        for a, b in zip(g1, g2, strict=True):
            assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), (name, (a - b).abs().max())
    # expected alignment with rows wider than one block of threads (grid-stride), and float32
    Cl = rng.random((5, 70))
    E1 = expected_alignment(Cl, gamma=0.3, subsequence=True)
    E2 = expected_alignment(Cl, gamma=0.3, subsequence=True, backend="cuda")
    assert torch.allclose(E1, E2, rtol=1e-10, atol=1e-12), (E1 - E2).abs().max()
    C32 = rng.random((6, 5)).astype(np.float32)
    v1, v2 = soft_dtw(C32, gamma=0.5), soft_dtw(C32, gamma=0.5, backend="cuda")
    assert v2.dtype == torch.float32 and torch.allclose(v1, v2, rtol=1e-5)
    print("soft-DTW CUDA simulator checks passed")


def test_cuda_kernels_match_cpu_under_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    res = subprocess.run([sys.executable, HERE], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "checks passed" in res.stdout


if __name__ == "__main__":
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        pytest.exit("run with NUMBA_ENABLE_CUDASIM=1")
    _checks()
