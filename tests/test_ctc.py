"""CTC: loss and gradients against torch's ctc_loss and brute force, posteriors, batched Viterbi
against brute force, multi-label CTC, chroma post-processing, and soft-DTW reproducing CTC."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from alignkit.align._kernels import naive
from alignkit.align.ctc import (
    ctc_forced_align,
    ctc_loss,
    ctc_posteriors,
    ctc_to_chroma,
    multilabel_ctc_forced_align,
    multilabel_ctc_loss,
    multilabel_ctc_posteriors,
    multilabel_emissions,
)
from alignkit.align.soft_dtw import expected_alignment, soft_dtw
from alignkit.exceptions import BackendError, ParameterError


def _batch(seed=0, B=4, T=9, C=5):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, C, dtype=torch.float64, generator=g)
    targets = torch.tensor([[1, 2, 2, 3], [3, 1, 0, 0], [4, 4, 4, 0], [2, 3, 4, 1]])[:B]
    tl = torch.tensor([4, 2, 3, 4])[:B]
    il = torch.tensor([T, 6, 7, T - 1])[:B]
    return logits, targets, il, tl


def test_loss_and_gradients_match_torch_and_brute_force():
    logits, tg, il, tl = _batch()
    logits.requires_grad_()
    lp = logits.log_softmax(-1)
    want = ctc_loss(lp, tg, il, tl, reduction="none")  # torch's implementation
    got = ctc_loss(lp, tg, il, tl, reduction="none", implementation="alignkit")
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    for b in range(4):
        ref = naive.ctc_brute(lp[b, : il[b]].detach().numpy(), tg[b, : tl[b]].tolist())
        assert got[b].item() == pytest.approx(ref, rel=1e-12)
        assert got[b].item() == pytest.approx(
            naive.ctc_alpha(lp[b, : il[b]].detach().numpy(), tg[b, : tl[b]].tolist()), rel=1e-12
        )
    for red in ("mean", "sum"):
        g1 = torch.autograd.grad(ctc_loss(lp, tg, il, tl, reduction=red), logits, retain_graph=True)[0]
        g2 = torch.autograd.grad(
            ctc_loss(lp, tg, il, tl, reduction=red, implementation="alignkit"), logits, retain_graph=True
        )[0]
        torch.testing.assert_close(g2, g1, rtol=1e-10, atol=1e-12)


def test_own_ctc_gradcheck_in_float64():
    logits, tg, il, tl = _batch(seed=1, B=2, T=6)
    logits.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda z: ctc_loss(z.log_softmax(-1), tg, il, tl, reduction="sum", implementation="alignkit"),
        (logits,),
    )


def test_too_short_input_gives_inf_and_zero_infinity():
    lp = torch.randn(1, 2, 4, dtype=torch.float64).log_softmax(-1)
    tg = torch.tensor([[1, 1]])  # needs three frames (1, blank, 1)
    ours = ctc_loss(lp, tg, reduction="none", implementation="alignkit")
    assert ours.item() == math.inf
    assert ctc_loss(lp, tg, reduction="none", zero_infinity=True, implementation="alignkit").item() == 0
    assert ctc_loss(lp, tg, reduction="none").item() == math.inf


def test_posteriors_are_distributions_and_match_autograd():
    logits, tg, il, tl = _batch(seed=2)
    lp = logits.log_softmax(-1).requires_grad_()
    post = ctc_posteriors(lp, tg, il, tl)
    for b in range(4):
        s = post.class_posteriors[b].sum(-1)
        torch.testing.assert_close(s[: il[b]], torch.ones(int(il[b]), dtype=s.dtype))
        assert torch.all(s[il[b] :] == 0)
        # every target position is visited once in expectation... at least with total mass >= 1
        assert torch.all(post.token_posteriors[b, :, : tl[b]].sum(0) >= 1 - 1e-9)
    # d(-log p)/d log_probs = -posterior (true partial derivative, no softmax shortcut)
    loss = ctc_loss(lp, tg, il, tl, reduction="sum", implementation="alignkit")
    (g,) = torch.autograd.grad(loss, lp)
    torch.testing.assert_close(-g, post.class_posteriors, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- Viterbi


def test_batched_viterbi_matches_brute_force_and_one_by_one():
    logits, tg, il, tl = _batch(seed=3)
    lp = logits.log_softmax(-1)
    ali = ctc_forced_align(lp, tg, il, tl)
    for b in range(4):
        score, states = naive.ctc_viterbi_brute(lp[b, : il[b]].numpy(), tg[b, : tl[b]].tolist())
        assert ali.scores[b] == pytest.approx(score, rel=1e-12)
        np.testing.assert_array_equal(ali.states[b, : il[b]], states)
        assert np.all(ali.states[b, il[b] :] == -1)
        one = ctc_forced_align(lp[b, : il[b]], tg[b, : tl[b]])
        np.testing.assert_array_equal(one.states, states)
        # spans: label k occupies [start, end) and frame_labels agree with the targets
        for k in range(int(tl[b])):
            s, e = ali.starts[b, k], ali.ends[b, k]
            assert 0 <= s < e <= il[b]
            assert np.all(ali.token_index[b, s:e] == k)
            assert np.all(ali.frame_labels[b, s:e] == tg[b, k].item())
        assert np.all(ali.starts[b, tl[b] :] == -1)
        blank_frames = ali.token_index[b, : il[b]] == -1
        assert np.all(ali.frame_labels[b, : il[b]][blank_frames] == 0)


def test_viterbi_recovers_a_synthetic_alignment():
    # emissions that strongly favour a known segmentation
    T, C = 30, 4
    truth = [1] * 5 + [0] * 3 + [2] * 10 + [3] * 7 + [0] * 5
    lp = torch.full((T, C), -8.0, dtype=torch.float64)
    lp[torch.arange(T), torch.tensor(truth)] = 0.0
    lp = lp.log_softmax(-1)
    ali = ctc_forced_align(lp, [1, 2, 3])
    assert ali.starts.tolist() == [0, 8, 18] and ali.ends.tolist() == [5, 18, 25]
    assert ali.frame_labels.tolist() == truth


def test_no_path_gives_minus_inf_and_minus_one_states():
    lp = torch.randn(2, 4, dtype=torch.float64).log_softmax(-1)
    ali = ctc_forced_align(lp, [1, 1])
    assert ali.scores == -math.inf and np.all(ali.states == -1) and np.all(ali.starts == -1)


# ----------------------------------------------------------------------------- multi-label


def _sets_batch(seed=4):
    g = torch.Generator().manual_seed(seed)
    K = 3
    logits = torch.randn(2, 7, K, dtype=torch.float64, generator=g)
    sets = np.zeros((2, 3, K), bool)
    sets[0, 0, [0, 2]] = True
    sets[0, 1, [1]] = True
    sets[0, 2, [1]] = True  # repeated set: needs a blank in between
    sets[1, 0, [0, 1, 2]] = True
    sets[1, 1, [2]] = True
    return logits, sets, torch.tensor([7, 5]), torch.tensor([3, 2])


def test_multilabel_emissions_are_a_distribution_over_sets():
    z = torch.randn(1, 4, 3, dtype=torch.float64)
    subsets = np.array(list(itertools.product([0, 1], repeat=3)), dtype=bool)[1:]  # non-empty
    le, lb = multilabel_emissions(z, torch.from_numpy(subsets)[None])
    total = le.exp().sum(-1) + lb.exp()
    torch.testing.assert_close(total, torch.ones_like(total))


def test_multilabel_ctc_matches_brute_force_over_set_labels():
    logits, sets, il, tl = _sets_batch()
    loss = multilabel_ctc_loss(logits, sets, il, tl, reduction="none")
    ali = multilabel_ctc_forced_align(logits, sets, il, tl)
    for b in range(2):
        n = int(tl[b])
        uniq = {}
        ids = [uniq.setdefault(tuple(sets[b, k]), len(uniq) + 1) for k in range(n)]
        le, lb = multilabel_emissions(
            logits[b : b + 1], torch.from_numpy(np.array([list(u) for u in uniq]))[None]
        )
        table = torch.cat([lb[0, :, None], le[0]], dim=1)[: il[b]].numpy()  # class 0 = blank = empty set
        assert loss[b].item() == pytest.approx(naive.ctc_brute(table, ids), rel=1e-12)
        score, states = naive.ctc_viterbi_brute(table, ids)
        assert ali.scores[b] == pytest.approx(score, rel=1e-12)
        np.testing.assert_array_equal(ali.states[b, : il[b]], states)


def test_multilabel_gradcheck_and_class_posteriors():
    logits, sets, il, tl = _sets_batch(seed=5)
    z = logits.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: multilabel_ctc_loss(x, sets, il, tl, reduction="sum"), (z,))
    post = multilabel_ctc_posteriors(logits, sets, il, tl)
    # a class's activity posterior is the mass of the target sets that contain it
    want = torch.einsum("btl,blc->btc", post.token_posteriors, torch.from_numpy(sets).double())
    torch.testing.assert_close(post.class_posteriors, want)
    tot = post.token_posteriors.sum(-1) + post.blank_posteriors
    torch.testing.assert_close(tot[1, :5], torch.ones(5, dtype=tot.dtype))
    assert torch.all(post.class_posteriors <= 1 + 1e-12)


def test_multilabel_bad_sets():
    z = torch.randn(5, 3)
    with pytest.raises(ParameterError, match="empty"):
        multilabel_ctc_loss(z, np.array([[1, 0, 0], [0, 0, 0]]))
    with pytest.raises(ParameterError, match="multi-hot"):
        multilabel_ctc_loss(z, np.array([[2, 0, 0]]))
    with pytest.raises(ParameterError, match="shape"):
        multilabel_ctc_loss(z, np.array([[1, 0]]))


# ----------------------------------------------------------------------------- chroma and soft-DTW


def test_ctc_to_chroma_drops_blank_and_normalises():
    p = np.array([[0.5, 0.3, 0.4, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.6, 0.0, 0.8]])
    out = ctc_to_chroma(p, blank=0)
    np.testing.assert_allclose(out, [[0.6, 0.8, 0.0], [0, 0, 0], [0.6, 0.0, 0.8]])
    t = ctc_to_chroma(torch.tensor(np.log(p[2:] + 1e-300)), blank=3, log=True)
    torch.testing.assert_close(t, torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64))
    with pytest.raises(ParameterError, match="blank"):
        ctc_to_chroma(p, blank=4)


def test_soft_dtw_reproduces_ctc_without_blanks():
    """With the blank switched off, CTC sums over monotone frame->label maps in which every
    frame emits one label and every label gets at least one frame: exactly soft-DTW with
    gamma = 1 over C[t, k] = -log p_t(label_k) with steps (1, 1) and (1, 0) only."""
    g = torch.Generator().manual_seed(6)
    T, C = 12, 6
    lp = torch.randn(T, C, dtype=torch.float64, generator=g).log_softmax(-1)
    labels = [2, 5, 1, 2, 4]  # no immediate repeats
    lp_noblank = lp.clone()
    lp_noblank[:, 0] = -math.inf
    want = ctc_loss(lp_noblank, labels, reduction="none").item()
    cost = -lp[:, labels]
    got = soft_dtw(cost, gamma=1.0, step_weights=(1.0, 1.0, math.inf)).item()
    assert got == pytest.approx(want, rel=1e-12)
    # and the expected alignment is CTC's token posterior
    E = expected_alignment(cost, gamma=1.0, step_weights=(1.0, 1.0, math.inf))
    post = ctc_posteriors(lp_noblank, labels)
    torch.testing.assert_close(E, post.token_posteriors, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- bad input


def test_bad_inputs():
    lp = torch.randn(2, 6, 4).log_softmax(-1)
    with pytest.raises(ParameterError, match="blank"):
        ctc_loss(lp, [[1, 0], [1, 2]])
    with pytest.raises(ParameterError, match="lie in"):
        ctc_loss(lp, [[1, 7], [1, 2]])
    with pytest.raises(ParameterError, match="blank="):
        ctc_loss(lp, [[1, 2], [1, 2]], blank=5)
    with pytest.raises(ParameterError, match="input_lengths"):
        ctc_loss(lp, [[1, 2], [1, 2]], input_lengths=[7, 6])
    with pytest.raises(ParameterError, match="reduction"):
        ctc_loss(lp, [[1, 2], [1, 2]], reduction="avg")
    with pytest.raises(ParameterError, match="implementation"):
        ctc_loss(lp, [[1, 2], [1, 2]], implementation="cudnn")
    with pytest.raises(ParameterError, match="shape"):
        ctc_loss(torch.randn(3), [1])
    with pytest.raises(ParameterError, match="concatenated"):
        ctc_loss(lp, [1, 2, 3])
    # concatenated targets with lengths are accepted and equal the padded form
    a = ctc_loss(lp, [1, 2, 3], target_lengths=[2, 1], reduction="none", implementation="alignkit")
    b = ctc_loss(lp, [[1, 2], [3, 3]], target_lengths=[2, 1], reduction="none", implementation="alignkit")
    torch.testing.assert_close(a, b)


def test_cuda_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    lp = torch.randn(6, 4).log_softmax(-1)
    with pytest.raises(BackendError):
        ctc_forced_align(lp, [1, 2], backend="cuda")


def test_parallel_kernels_equal_serial(monkeypatch):
    from alignkit.align._kernels import ctc_cpu

    logits, tg, il, tl = _batch(seed=7)
    lp = logits.log_softmax(-1)
    a = ctc_loss(lp, tg, il, tl, reduction="none", implementation="alignkit")
    pa = ctc_posteriors(lp, tg, il, tl).class_posteriors
    va = ctc_forced_align(lp, tg, il, tl)
    monkeypatch.setattr(ctc_cpu, "PARALLEL_MIN_CELLS", 0)
    b = ctc_loss(lp, tg, il, tl, reduction="none", implementation="alignkit")
    pb = ctc_posteriors(lp, tg, il, tl).class_posteriors
    vb = ctc_forced_align(lp, tg, il, tl)
    assert torch.equal(a, b) and torch.equal(pa, pb)
    assert np.array_equal(va.states, vb.states) and np.array_equal(va.scores, vb.scores)
