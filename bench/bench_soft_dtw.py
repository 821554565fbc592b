"""Soft-DTW value + gradient on the CPU: alignkit against tslearn (and pysdtw when installed).

Every measurement runs in a fresh process so that its peak resident memory can be read
(``ru_maxrss``, minus the baseline after imports and input creation) and nothing is shared.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_soft_dtw.py            # defaults
    .venv/bin/python bench/bench_soft_dtw.py --sizes 1000 4000 --band-size 16000 --band 1000

Peers (not alignkit dependencies): ``pip install tslearn`` (0.10 measured), ``pip install pysdtw``.
The GPU part of the issue (pysdtw on CUDA, B = 32, N = 512, D = 64 ...) needs a CUDA machine:
run with ``--device cuda`` there (alignkit only unless pysdtw is installed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _one(impl: str, n: int, band: int | None, gamma: float, repeat: int, device: str):
    import numpy as np

    rng = np.random.default_rng(0)
    out = {"impl": impl, "n": n, "band": band, "gamma": gamma}
    if band is None:
        C = rng.random((n, n))  # float64 cost matrix, as tslearn takes it
    else:
        X = rng.random((n, 12))
        Y = rng.random((n, 12))
    if impl.startswith("alignkit"):
        import torch

        from alignkit.align.soft_dtw import soft_dtw

        dt = torch.float32 if impl == "alignkit32" else torch.float64

        def run():
            if band is None:
                c = torch.from_numpy(C).to(device=device, dtype=dt).requires_grad_()
                v = soft_dtw(c, gamma=gamma)
                v.backward()
                return float(v), c.grad
            x = torch.from_numpy(X).to(device=device, dtype=dt).requires_grad_()
            y = torch.from_numpy(Y).to(device=device, dtype=dt).requires_grad_()
            v = soft_dtw(X=x, Y=y, gamma=gamma, band=band)
            v.backward()
            return float(v), x.grad

        # compile / load the kernels on a small input first
        small = torch.rand(50, 50, dtype=dt, device=device, requires_grad=True)
        soft_dtw(small, gamma=gamma).backward()
        soft_dtw(
            X=torch.rand(50, 12, dtype=dt, device=device, requires_grad=True),
            Y=torch.rand(60, 12, dtype=dt, device=device),
            gamma=gamma,
            band=5,
        ).backward()
    elif impl == "tslearn":
        from tslearn.metrics import SoftDTW

        def run():
            sd = SoftDTW(C, gamma=gamma)
            v = sd.compute()
            return float(v), sd.grad()

        SoftDTW(rng.random((50, 50)), gamma=gamma).compute()
    elif impl == "pysdtw":
        import torch
        from pysdtw.sdtw_cpu import SoftDTWcpu

        # pysdtw's CPU autograd function on the same cost matrix (batch of one)
        lens = torch.tensor([[n, n]])

        def run():
            c = torch.from_numpy(C)[None].requires_grad_()
            v = SoftDTWcpu.apply(c, lens, gamma, 0.0)
            v.sum().backward()
            return float(v.sum().detach()), c.grad

        c0 = torch.rand(1, 50, 50, dtype=torch.float64, requires_grad=True)
        SoftDTWcpu.apply(c0, torch.tensor([[50, 50]]), gamma, 0.0).sum().backward()
    else:
        raise SystemExit(f"unknown impl {impl}")
    cuda = device.startswith("cuda")
    if cuda:
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        gbase = torch.cuda.memory_allocated()
    base = _rss_mb()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        value, _g = run()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
        del _g
    out.update(value=value, seconds=statistics.median(times), best=min(times), peak_extra_mb=_rss_mb() - base)
    if cuda:  # on a GPU the interesting peak is device memory
        out["peak_extra_mb"] = (torch.cuda.max_memory_allocated() - gbase) / 2**20
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 4000])
    ap.add_argument("--impls", nargs="*", default=["alignkit", "alignkit32", "tslearn"])
    ap.add_argument("--band-size", type=int, default=16000)
    ap.add_argument("--band", type=int, default=1000)
    ap.add_argument("--gamma", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--one", nargs=3, metavar=("IMPL", "N", "BAND"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        impl, n, band = a.one
        _one(impl, int(n), None if band == "none" else int(band), a.gamma, a.repeat, a.device)
        return
    jobs = [(i, n, "none") for n in a.sizes for i in a.impls]
    if a.band_size:
        jobs += [(i, a.band_size, str(a.band)) for i in a.impls if i.startswith("alignkit")]
    rows = []
    for impl, n, band in jobs:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            impl,
            str(n),
            band,
            "--gamma",
            str(a.gamma),
            "--repeat",
            str(a.repeat),
            "--device",
            a.device,
        ]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            print(f"{impl} n={n} band={band}: failed: {res.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        row = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{impl:11s} n={n:6d} band={band:>5s}  {row['seconds']:8.3f} s (median; best {row['best']:.3f})  "
            f"+{row['peak_extra_mb']:8.1f} MB  value={row['value']:.6g}",
            flush=True,
        )


if __name__ == "__main__":
    main()
