"""CTC: batched forced alignment and loss + gradient, alignkit against torch / torchaudio.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_ctc.py [--batch 64 --frames 500 --labels 100]

- Forced alignment of a batch: alignkit's batched Viterbi (one call) against a loop of
  one-sequence calls (the shape of torchaudio's ``forced_align``, which takes batch size 1)
  and, when torchaudio is installed (it is not an alignkit dependency), its ``forced_align``
  in a loop.
- Loss + gradient: ``torch.nn.functional.ctc_loss`` against alignkit's own forward-backward
  (which also yields the posteriors).
``--device cuda`` runs the same on a GPU (alignkit's numba.cuda kernels).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _time(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--classes", type=int, default=32)
    ap.add_argument("--labels", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()

    import torch

    from alignkit.align.ctc import ctc_forced_align, ctc_loss

    g = torch.Generator().manual_seed(0)
    B, T, C, L = a.batch, a.frames, a.classes, a.labels
    lp = torch.randn(B, T, C, generator=g).log_softmax(-1).to(a.device)
    tg = torch.randint(1, C, (B, L), generator=g)
    tl = torch.randint(L // 2, L + 1, (B,), generator=g)
    il = torch.randint(T - T // 5, T + 1, (B,), generator=g)
    ctc_forced_align(lp[:2], tg[:2], il[:2], tl[:2])  # load kernels
    ctc_forced_align(lp[0, : il[0]], tg[0, : tl[0]])
    rows = []
    t_batch = _time(lambda: ctc_forced_align(lp, tg, il, tl), a.repeat)
    rows.append(("alignkit batched Viterbi", t_batch))
    t_loop = _time(lambda: [ctc_forced_align(lp[b, : il[b]], tg[b, : tl[b]]) for b in range(B)], a.repeat)
    rows.append(("alignkit, loop of batch-1 calls", t_loop))
    try:
        import torchaudio.functional as taf

        def ta():
            for b in range(B):
                taf.forced_align(lp[b : b + 1, : il[b]], tg[b : b + 1, : tl[b]].to(lp.device).int(), blank=0)

        rows.append(("torchaudio forced_align, loop", _time(ta, a.repeat)))
    except ImportError:
        rows.append(("torchaudio forced_align, loop", None))

    lpd = lp.double()

    def loss_torch():
        x = lpd.detach().requires_grad_()
        ctc_loss(x, tg, il, tl, reduction="sum").backward()

    def loss_ours():
        x = lpd.detach().requires_grad_()
        ctc_loss(x, tg, il, tl, reduction="sum", implementation="alignkit").backward()

    loss_ours()
    rows.append(("torch ctc_loss + grad (float64)", _time(loss_torch, a.repeat)))
    rows.append(("alignkit ctc loss + grad (float64)", _time(loss_ours, a.repeat)))
    print(f"B={B} T={T} C={C} L<={L} device={a.device} torch threads={torch.get_num_threads()}")
    for name, t in rows:
        print(f"  {name:38s} " + ("not installed" if t is None else f"{t * 1000:9.1f} ms"))


if __name__ == "__main__":
    main()
