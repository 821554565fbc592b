"""Batched hard DTW (``dtw_batch``): CPU route equals the CPU engine; the CUDA kernel equals the
CPU engine exactly under numba's CUDA simulator (fresh process; see test_soft_dtw_cuda.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from alignkit.align._kernels import naive
from alignkit.align.dtw import dtw
from alignkit.align.gpu_dtw import dtw_batch
from alignkit.exceptions import BackendError, ParameterError


def _dyadic(shapes, seed=0):
    # costs that are exact in binary: sums are exact on every backend, so ties are real ties
    rng = np.random.default_rng(seed)
    return [np.floor(rng.random(s) * 8) / 8 for s in shapes]


SHAPES = [(9, 7), (5, 9), (10, 10), (1, 4), (6, 1)]


def _same(a, b):
    assert a.cost == b.cost and np.array_equal(a.path, b.path)
    assert a.n_cells == b.n_cells and a.step_sizes == b.step_sizes
    assert a.normalized_cost == pytest.approx(b.normalized_cost, rel=1e-15)


def _cases(Cs):
    masks = [
        (c > 0.1)
        | np.eye(*c.shape, dtype=bool)
        | (np.arange(c.shape[0])[:, None] == c.shape[0] - 1)
        | (np.arange(c.shape[1])[None, :] == 0)
        for c in Cs
    ]
    return [
        dict(),
        dict(step_sizes="symmetric1"),
        dict(band=2),
        dict(mask=masks),
        dict(step_sizes=np.array([[1, 1], [1, 0], [0, 1]]), weights=[1.0, 3.0, 0.5]),
    ]


def _compare(Cs, backend):
    for kw in _cases(Cs):
        got = dtw_batch(Cs, backend=backend, **kw)
        for i, c in enumerate(Cs):
            one = {k: (v[i] if k == "mask" else v) for k, v in kw.items()}
            _same(got[i], dtw(C=c, **one))
    sq = _dyadic([(8, 8), (6, 9), (12, 8)], seed=3)
    got = dtw_batch(sq, step_sizes="sigma2", backend=backend)
    for i, c in enumerate(sq):
        _same(got[i], dtw(C=c, step_sizes="sigma2"))


def test_cpu_route_equals_the_engine_and_the_naive_reference():
    Cs = _dyadic(SHAPES)
    _compare(Cs, "auto")
    res = dtw_batch(Cs, step_sizes="symmetric1")
    for r, c in zip(res, Cs, strict=True):
        cost, path = naive.dtw_dp(c, steps=((1, 1), (0, 1), (1, 0)))
        assert r.cost == cost and np.array_equal(r.path, path)


def test_padded_batches_with_lengths_and_features():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 9, 4)).astype(np.float32)
    Y = rng.normal(size=(3, 11, 4)).astype(np.float32)
    xl, yl = np.array([9, 4, 7]), np.array([11, 6, 3])
    res = dtw_batch(X=torch.from_numpy(X), Y=torch.from_numpy(Y), lengths=(xl, yl), metric="euclidean")
    for b in range(3):
        _same(res[b], dtw(X[b, : xl[b]], Y[b, : yl[b]], metric="euclidean"))
    C = np.zeros((2, 5, 6))
    C[0, :3, :4] = _dyadic([(3, 4)])[0]
    C[0, 3:, :] = C[0, :, 4:] = -100  # padding must not matter
    C[1] = _dyadic([(5, 6)], seed=2)[0]
    r = dtw_batch(C, lengths=(np.array([3, 5]), np.array([4, 6])))
    _same(r[0], dtw(C=C[0, :3, :4]))
    _same(r[1], dtw(C=C[1]))


def test_bad_inputs():
    c = _dyadic([(4, 4)])
    with pytest.raises(ParameterError, match="not both"):
        dtw_batch(c, X=c, Y=c)
    with pytest.raises(ParameterError, match="lists"):
        dtw_batch(X=c, Y=np.zeros((1, 4, 4)))
    with pytest.raises(ParameterError, match="pair 0"):
        dtw_batch(c, band=(0.5, 0.5))
    with pytest.raises(ParameterError, match="backend"):
        dtw_batch(c, backend="gpu")
    assert dtw_batch([]) == []
    if not torch.cuda.is_available():
        with pytest.raises(BackendError, match="cuda"):
            dtw_batch(c, backend="cuda")


def _checks():
    Cs = _dyadic(SHAPES)
    _compare(Cs, "cuda")
    rng = np.random.default_rng(4)
    X = [rng.normal(size=(n, 3)) for n in (7, 5)]
    Y = [rng.normal(size=(m, 3)) for m in (6, 8)]
    for metric in ("cosine", "sqeuclidean"):
        got = dtw_batch(X=X, Y=Y, metric=metric, backend="cuda")
        for i in range(2):
            want = dtw(X[i], Y[i], metric=metric)
            assert np.array_equal(got[i].path, want.path)
            assert got[i].cost == pytest.approx(want.cost, rel=1e-5)
    try:
        dtw_batch(_dyadic([(3, 9)]), step_sizes="sigma2", backend="cuda")
    except ParameterError as exc:
        assert "pair 0" in str(exc)
    else:
        raise AssertionError("sigma2 on a 3 x 9 matrix has no path")
    print("DTW CUDA simulator checks passed")


def test_cuda_kernel_equals_cpu_engine_under_the_simulator():
    # runs in the session's one simulator process (see tests/test_soft_dtw_cuda.py)
    from test_soft_dtw_cuda import assert_simulator_passed

    assert_simulator_passed("test_gpu_dtw.py")


if __name__ == "__main__":
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        pytest.exit("run with NUMBA_ENABLE_CUDASIM=1")
    _checks()
