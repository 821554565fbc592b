"""Benchmark of the corpus flows: start-up, throughput, orchestration overhead, 1 -> 2 workers.

    .venv/bin/python bench/bench_flows.py                      # demo-sized corpus (3 works x 5 versions)
    .venv/bin/python bench/bench_flows.py --size 6 --workers 1,2 --out /tmp/flows.md

What is measured (all on the embedded default: one Prefect server, a local Dask cluster):

- start-up: seconds from nothing to a usable task runner (server + cluster, booted in parallel);
- throughput: recordings extracted and pairs aligned per minute, per worker count, each on a fresh store;
- orchestration overhead: the align stage through Prefect tasks against the *same* batches run with
  plain ``client.map`` of :func:`alignkit.pipeline.align_group` on the same cluster (fresh stores,
  same features): ``(T_prefect - T_plain) / T_plain`` (target: at most 10 % at 200+ pairs);
- speed-up from 1 to 2 workers of the align stage (target: at least 1.7x; it needs 2 idle cores).

Machine load changes every number: the script prints the load average next to them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _load() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _plain_align(address: str, store: str, corpus: str, group_size: int) -> float:
    """The align stage without Prefect: the same batches through ``client.map``."""
    from distributed import Client

    from alignkit import pipeline
    from flows.corpus_flow import _pair_batches

    c = pipeline.load_corpus(corpus)
    batches = list(_pair_batches(c, "all", None, group_size))
    with Client(address) as client:
        t0 = time.perf_counter()
        def run_batch(chunk):  # what the align task does, without Prefect
            by_work: dict = {}
            for w, a, b in chunk:
                by_work.setdefault(w, []).append((a, b))
            return [r for w, ps in by_work.items() for r in pipeline.align_group(store, w, ps)]

        futs = client.map(run_batch, batches, pure=False)
        res = client.gather(futs)
        t = time.perf_counter() - t0
    assert all(r["status"] == "done" for rs in res for r in rs), "plain run failed"
    return t


def _copy_features(src: str, dst: str) -> None:
    """A fresh store holding only the features of ``src`` (so only alignment is timed)."""
    shutil.copytree(Path(src), Path(dst))
    shutil.rmtree(Path(dst, "arrays", "alignments"), ignore_errors=True)
    for t in ("alignments", "evaluation"):
        shutil.rmtree(Path(dst, "tables", t), ignore_errors=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="small", help="demo corpus size: tiny | small | bench | N works")
    p.add_argument("--workers", default="1,2", help="worker counts to compare")
    p.add_argument("--group-size", type=int, default=None, help="pairs per task (default: automatic)")
    p.add_argument("--out", default=None, help="also write the Markdown table here")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = p.parse_args(argv)

    from flows.server import quiet_environment

    quiet_environment()
    from alignkit import pipeline
    from alignkit.synth.demo import build_demo_corpus
    from flows.corpus_flow import run_corpus
    from flows.runners import RunnerInfo, task_runner

    tmp = Path(tempfile.mkdtemp(prefix="alignkit-bench-flows-"))
    size = int(args.size) if args.size.isdigit() else args.size
    t0 = time.perf_counter()
    corpus = str(build_demo_corpus(tmp / "corpus", size=size, seed=0))
    t_build = time.perf_counter() - t0
    c = pipeline.load_corpus(corpus)
    n_rec = len(pipeline.corpus_items(c))
    n_pairs = pipeline.count_pairs(c, strategy="all")
    print(f"corpus: {n_rec} versions, {n_pairs} pairs (built in {t_build:.1f} s); load {_load()}", flush=True)

    rows = []
    for n in [int(x) for x in args.workers.split(",")]:
        info = RunnerInfo("local")
        t0 = time.perf_counter()
        with task_runner("local", n_workers=n, prefect_home=tmp / f"prefect{n}", info=info) as tr:
            t_start = time.perf_counter() - t0
            store = str(tmp / f"store{n}")
            r = run_corpus.with_options(task_runner=tr)(corpus=corpus, store=store, evaluate=False,
                                                        group_size=args.group_size)
            ex, al = r["stages"]["extract"], r["stages"]["align"]
            gs = al["group_size"]  # what the flow chose (automatic unless --group-size)
            # the same align batches again: through Prefect, and with plain client.map
            s_prefect, s_plain = str(tmp / f"store{n}-prefect"), str(tmp / f"store{n}-plain")
            _copy_features(store, s_prefect)
            _copy_features(store, s_plain)
            r2 = run_corpus.with_options(task_runner=tr)(corpus=corpus, store=s_prefect, evaluate=False,
                                                         group_size=gs)
            t_prefect = r2["stages"]["align"]["wall_s"]
            t_plain = _plain_align(info.address, s_plain, corpus, gs)
        rows.append(dict(workers=n, startup_s=t_start, extract_s=ex["wall_s"], align_s=al["wall_s"],
                         rec_per_min=60 * n_rec / ex["wall_s"], pairs_per_min=60 * n_pairs / al["wall_s"],
                         group_size=gs, tasks=al["tasks"], align_prefect_s=t_prefect, align_plain_s=t_plain,
                         overhead=(t_prefect - t_plain) / t_plain, compute_s=al["seconds"],
                         flow_s=r["seconds"], load=_load()))
        print(rows[-1], flush=True)

    lines = [f"Corpus: demo `size={args.size}`: {n_rec} versions, {n_pairs} pairs (all pairs within a work), "
             f"the default method (sync: {' + '.join(pipeline.SYNC_FEATURES)} at 50 Hz). "
             f"Machine: {os.cpu_count()} cores, "
             f"load average at the end {_load()}.",
             "",
             "| workers | start-up s | extract s | recordings/min | align s | pairs/min | pairs/task | "
             "align via Prefect s | plain client.map s | orchestration overhead |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['startup_s']:.1f} | {r['extract_s']:.1f} | "
                     f"{r['rec_per_min']:.0f} | "
                     f"{r['align_s']:.1f} | {r['pairs_per_min']:.0f} | {r['group_size']} | "
                     f"{r['align_prefect_s']:.1f} | {r['align_plain_s']:.1f} | {100 * r['overhead']:.0f} % |")
    if len(rows) >= 2:
        a, b = rows[0], rows[1]
        lines += ["", f"Speed-up {a['workers']} -> {b['workers']} workers: extract "
                      f"{a['extract_s'] / b['extract_s']:.2f}x, align (Prefect) "
                      f"{a['align_prefect_s'] / b['align_prefect_s']:.2f}x, "
                      f"align (plain) {a['align_plain_s'] / b['align_plain_s']:.2f}x."]
    text = "\n".join(lines)
    print("\n" + text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
