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


# The simulator checks of the three CUDA test modules run together in ONE fresh process per
# pytest session (importing torch and numba once instead of three times).
SIM_MODULES = ("test_soft_dtw_cuda.py", "test_ctc_cuda.py", "test_gpu_dtw.py")
_RUNNER = """
import os, runpy, sys, traceback
ok = True
for path in sys.argv[1:]:
    name = os.path.basename(path)
    try:
        runpy.run_path(path, run_name="__sim__")["_checks"]()
        print("SIMULATOR-OK", name, flush=True)
    except BaseException:
        ok = False
        print("SIMULATOR-FAILED", name, flush=True)
        traceback.print_exc(file=sys.stdout)
sys.exit(0 if ok else 1)
"""
_CACHE: dict = {}


def simulator_output() -> str:
    """Output of the combined simulator run (started once, on first use)."""
    if "out" not in _CACHE:
        here = os.path.dirname(HERE)
        env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        res = subprocess.run(
            [sys.executable, "-c", _RUNNER, *(os.path.join(here, m) for m in SIM_MODULES)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        _CACHE["out"] = res.stdout + res.stderr
    return _CACHE["out"]


def assert_simulator_passed(module: str) -> None:
    """Fail with the module's traceback unless its simulator checks passed."""
    out = simulator_output()
    assert f"SIMULATOR-OK {module}" in out, out[-6000:]


def test_cuda_kernels_match_cpu_under_the_simulator():
    assert_simulator_passed("test_soft_dtw_cuda.py")


if __name__ == "__main__":
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        pytest.exit("run with NUMBA_ENABLE_CUDASIM=1")
    _checks()
