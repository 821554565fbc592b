"""DTW benchmark: alignkit against librosa, libfmp, dtaidistance and the Sync Toolbox.

Same inputs for everyone, in the same run: chroma-like sequences (``alignkit.testing``) and a
version of them warped through a known smooth tempo curve, so every path can be scored
against the truth as well as against the exact DTW path.

- exact DTW with path (cosine cost, steps (1,1), (0,1), (1,0), weights 1, which every peer
  implements), sizes ``--sizes`` (default 1000 4000 16000, square);
- multiscale DTW (alignkit ``multiscale_dtw``) against the Sync Toolbox's MrMsDTW at
  ``--ms-sizes`` (default 30000 90000); accuracy against the exact path where it fits
  (``--exact-max``) and always against the ground truth.

Each case runs in a fresh subprocess (peers in the separate environment made by
``bench/peers/setup.sh``, because the Sync Toolbox pins old numba/numpy), reading the inputs
from ``.npy`` files: wall time is the median of ``--repeats`` runs after a warm-up call on a
small input (the warm-up's first call, i.e. JIT compilation or cache loading, is reported
separately), peak memory is the process's ``ru_maxrss`` (and its growth over the RSS before
the timed runs). Output: a table on stdout and a Markdown fragment (``--markdown``).

Usage::

    bash bench/peers/setup.sh                      # once: bench/.venv-peers
    .venv/bin/python bench/bench_dtw.py            # everything (tens of minutes, ~9 GB peak)
    .venv/bin/python bench/bench_dtw.py --sizes 1000 4000 --ms-sizes 30000 --methods alignkit librosa
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEER_PY = ROOT / "bench" / ".venv-peers" / "bin" / "python"
FRAME_RATE = 50.0  # the inputs are treated as 50 Hz features (MrMsDTW's default rate)

EXACT_METHODS = ("alignkit", "alignkit_sym2", "librosa", "libfmp", "dtaidistance", "synctoolbox")
MS_METHODS = ("alignkit_ms", "mrmsdtw")
PEER_METHODS = {"librosa", "libfmp", "dtaidistance", "synctoolbox", "mrmsdtw"}
THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


# ==================================================================== worker side (one case)


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _runner(method: str):
    """Import the library and return ``run(X, Y) -> path (L, 2) start -> end``; X, Y time-first."""
    if method in ("alignkit", "alignkit_sym2", "alignkit_ms"):
        sys.path.insert(0, str(ROOT))
        from alignkit.align.dtw import dtw
        from alignkit.align.multiscale import multiscale_dtw

        if method == "alignkit":
            return lambda X, Y: dtw(X, Y, metric="cosine", step_sizes="symmetric1").path
        if method == "alignkit_sym2":
            return lambda X, Y: dtw(X, Y, metric="cosine", step_sizes="symmetric2").path
        return lambda X, Y: multiscale_dtw(X, Y, metric="cosine", step_sizes="symmetric1").path
    if method == "librosa":
        import librosa

        def run(X, Y):
            _, wp = librosa.sequence.dtw(X=X.T, Y=Y.T, metric="cosine")
            return wp[::-1]

        return run
    if method == "libfmp":
        import libfmp.c3

        def run(X, Y):
            C = libfmp.c3.compute_cost_matrix(X.T, Y.T, metric="cosine")
            D = libfmp.c3.compute_accumulated_cost_matrix(C)
            return libfmp.c3.compute_optimal_warping_path(D)

        return run
    if method == "dtaidistance":
        from dtaidistance import dtw as ddtw

        if not ddtw.try_import_c():
            raise RuntimeError("dtaidistance has no compiled C library here")

        def run(X, Y):
            # squared Euclidean between unit vectors = 2 x cosine cost: the same optimal path
            return np.asarray(ddtw.warping_path_fast(X, Y, use_ndim=True), dtype=np.int64)

        return run
    if method == "synctoolbox":
        from synctoolbox.dtw.core import compute_warping_path
        from synctoolbox.dtw.cost import cosine_distance

        def run(X, Y):
            # plain cosine cost (its default rescales the cost to [1, 2])
            C = cosine_distance(X.T, Y.T, cos_meas_max=1.0, cos_meas_min=0.0)
            _, _, wp = compute_warping_path(C)
            return wp.T

        return run
    if method == "mrmsdtw":
        from synctoolbox.dtw.mrmsdtw import sync_via_mrmsdtw

        def run(X, Y):
            wp = sync_via_mrmsdtw(
                np.ascontiguousarray(X.T), np.ascontiguousarray(Y.T), input_feature_rate=int(FRAME_RATE)
            )
            return wp.T

        return run
    raise SystemExit(f"unknown method {method!r}")


def worker(args) -> None:
    t0 = time.perf_counter()
    run = _runner(args.worker)
    t_import = time.perf_counter() - t0
    X = np.load(args.x)
    Y = np.load(args.y)
    # warm-up on a small slice: the first call compiles (or loads the JIT cache)
    k = min(300, len(X), len(Y))
    t0 = time.perf_counter()
    run(X[:k], Y[:k])
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    run(X[:k], Y[:k])
    t_second = time.perf_counter() - t0
    rss_before = _rss_bytes()
    times = []
    path = None
    for _ in range(args.repeats):
        path = None
        t0 = time.perf_counter()
        path = run(X, Y)
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    np.save(args.path_out, np.asarray(path, dtype=np.int64))
    out = {
        "method": args.worker,
        "times": times,
        "median_s": statistics.median(times),
        "import_s": t_import,
        "first_call_s": t_first,
        "jit_s": max(t_first - t_second, 0.0),
        "rss_before": rss_before,
        "peak_rss": peak,
        "python": sys.version.split()[0],
        "versions": _versions(args.worker),
    }
    Path(args.out).write_text(json.dumps(out))


def _versions(method: str) -> dict:
    from importlib import metadata

    names = {
        "alignkit": ["numba", "numpy"],
        "alignkit_sym2": ["numba", "numpy"],
        "alignkit_ms": ["numba", "numpy"],
        "librosa": ["librosa", "numba"],
        "libfmp": ["libfmp", "numba"],
        "dtaidistance": ["dtaidistance"],
        "synctoolbox": ["synctoolbox", "numba"],
        "mrmsdtw": ["synctoolbox", "numba"],
    }[method]
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "?"
    return out


# ==================================================================== driver side


def _inputs(n: int, seed: int, tmp: Path):
    """Chroma-like X (n x 12) and Y = X through a random smooth warp plus noise; truth path."""
    sys.path.insert(0, str(ROOT))
    from alignkit.testing import random_chroma_sequence, random_warp, warp_features

    rng = np.random.default_rng(seed)
    X = random_chroma_sequence(n, rng=rng, mean_segment=25.0, noise=0.05, dtype=np.float64)
    warp = random_warp(n, rng=rng, n_frames_b=n, max_slope=1.6, smoothness=min(0.1, 2000 / n))
    Y, truth = warp_features(X, warp, noise=0.05, rng=rng, normalize="l2_nonneg")
    px, py = tmp / f"X_{n}.npy", tmp / f"Y_{n}.npy"
    np.save(px, X)
    np.save(py, Y)
    return px, py, truth, warp


DEFAULT_ASAP = (
    "Bach/Prelude/bwv_848:Denisova06M:Lee01M",
    "Beethoven/Piano_Sonatas/17-1_no_repeat:Giesbrecht02:GuoE02M",
)


def _asap_inputs(data: Path, spec: str, tmp: Path):
    """Chroma at 50 Hz from two ASAP performance MIDIs, and their annotated beats."""
    import pretty_midi

    piece, a, b = spec.split(":")
    folder = data / "asap" / piece
    feats, beats = [], []
    for perf in (a, b):
        c = pretty_midi.PrettyMIDI(str(folder / f"{perf}.mid")).get_chroma(fs=FRAME_RATE).T.astype(np.float64)
        c = c + 1e-3
        feats.append(c / np.linalg.norm(c, axis=1, keepdims=True))
        with open(folder / f"{perf}_annotations.txt") as f:
            beats.append(np.array([float(line.split("\t")[0]) for line in f if line.strip()]))
    if len(beats[0]) != len(beats[1]):
        raise ValueError(f"{spec}: beat counts differ ({len(beats[0])} vs {len(beats[1])})")
    tag = f"asap_{a}_{b}"
    px, py = tmp / f"X_{tag}.npy", tmp / f"Y_{tag}.npy"
    np.save(px, feats[0])
    np.save(py, feats[1])
    return px, py, beats[0], beats[1], (len(feats[0]), len(feats[1]))


def _run_case(method: str, px: Path, py: Path, tmp: Path, repeats: int, timeout: float) -> dict:
    py_exe = str(PEER_PY) if method in PEER_METHODS else sys.executable
    if method in PEER_METHODS and not PEER_PY.exists():
        return {"method": method, "error": f"peer environment missing ({PEER_PY}); run bench/peers/setup.sh"}
    out = tmp / f"{method}_{px.stem}.json"
    path_out = tmp / f"{method}_{px.stem}_path.npy"
    cmd = [
        py_exe,
        str(Path(__file__).resolve()),
        "--worker",
        method,
        "--x",
        str(px),
        "--y",
        str(py),
        "--out",
        str(out),
        "--path-out",
        str(path_out),
        "--repeats",
        str(repeats),
    ]
    env = dict(os.environ) | THREAD_ENV
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"method": method, "error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"method": method, "error": f"exit {proc.returncode}: {tail[0][:200]}"}
    res = json.loads(out.read_text())
    res["path"] = np.load(path_out)
    return res


def _agreement(path: np.ndarray, ref: np.ndarray | None) -> dict:
    from alignkit.align.paths import fill_path
    from alignkit.eval import path_discrepancy

    if ref is None:
        return {}
    p = fill_path(path)
    d = path_discrepancy(p, ref)
    return {
        "identical": bool(p.shape == ref.shape and np.array_equal(p, ref)),
        "within_0": d["within_0"],
        "within_1": d["within_1"],
        "mean_distance": d["mean_distance"],
    }


def _truth_error_ms(path: np.ndarray, warp) -> float:
    """Mean |transferred - true| time over 2,000 evenly spread positions, milliseconds."""
    from alignkit.align.paths import TimeMap

    t = np.linspace(0, (warp.n_a - 1) / FRAME_RATE, 2000)
    est = TimeMap.from_path(path, FRAME_RATE, FRAME_RATE)(t)
    true = warp(t * FRAME_RATE) / FRAME_RATE
    return float(np.mean(np.abs(est - true)) * 1000)


def _fmt_bytes(b: float) -> str:
    return f"{b / 2**30:.2f} GB" if b >= 2**30 else f"{b / 2**20:.0f} MB"


def _machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    py = platform.python_version()
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GB RAM, Python {py}, load average {load:.1f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 4000, 16000])
    ap.add_argument("--ms-sizes", type=int, nargs="*", default=[30000, 90000])
    ap.add_argument("--methods", nargs="*", default=list(EXACT_METHODS) + list(MS_METHODS))
    ap.add_argument(
        "--skip",
        nargs="*",
        default=[],
        metavar="METHOD@SIZE",
        help="cases to leave out, e.g. synctoolbox@16000 (its 8 GB do not fit a shared box)",
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--exact-max",
        type=int,
        default=30000,
        help="largest size for which the exact path is computed as the multiscale reference",
    )
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per case")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--asap",
        nargs="*",
        default=list(DEFAULT_ASAP),
        metavar="PIECE:PERF_A:PERF_B",
        help="ASAP performance pairs for beat accuracy (exact vs multiscale vs MrMsDTW)",
    )
    ap.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared" / "data", help="shared real-data folder"
    )
    ap.add_argument("--markdown", type=Path, default=None, help="write the Markdown fragment here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--x", help=argparse.SUPPRESS)
    ap.add_argument("--y", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--path-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args)
        return 0

    os.environ.update(THREAD_ENV)
    sys.path.insert(0, str(ROOT))
    skip = set(args.skip)
    rows = []  # (kind, size, method, result dict)
    asap_rows = []  # (spec, method, result dict)
    started = _dt.datetime.now(_dt.timezone.utc)
    machine = _machine()
    print(f"# DTW benchmark, {started:%Y-%m-%d %H:%M} UTC, {machine}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_dtw_") as td:
        tmp = Path(td)
        exact_ref: dict[int, np.ndarray] = {}
        for n in args.sizes:
            px, py, truth, warp = _inputs(n, args.seed, tmp)
            ref = None
            for m in [m for m in EXACT_METHODS if m in args.methods]:
                if f"{m}@{n}" in skip:
                    rows.append(("exact", n, m, {"method": m, "error": "skipped (--skip)"}))
                    continue
                r = _run_case(m, px, py, tmp, args.repeats, args.timeout)
                if "path" in r:
                    if m == "alignkit":
                        from alignkit.align.paths import fill_path

                        ref = fill_path(r["path"])
                        exact_ref[n] = ref
                    r["vs_exact"] = _agreement(r["path"], ref) if m != "alignkit" else {}
                    r["truth_ms"] = _truth_error_ms(r["path"], warp)
                    r["vs_truth"] = _agreement(r["path"], truth)
                rows.append(("exact", n, m, r))
                _print_row("exact", n, m, r)
        for n in args.ms_sizes:
            px, py, truth, warp = _inputs(n, args.seed, tmp)
            ref = exact_ref.get(n)
            if ref is None and n <= args.exact_max and "alignkit" in args.methods:
                r = _run_case("alignkit", px, py, tmp, 1, args.timeout)
                if "path" in r:
                    from alignkit.align.paths import fill_path

                    ref = fill_path(r["path"])
                    r["truth_ms"] = _truth_error_ms(r["path"], warp)
                    r["vs_truth"] = _agreement(r["path"], truth)
                    r["vs_exact"] = {}
                rows.append(("exact", n, "alignkit", r))
                _print_row("exact", n, "alignkit", r)
            for m in [m for m in MS_METHODS if m in args.methods]:
                if f"{m}@{n}" in skip:
                    rows.append(("multiscale", n, m, {"method": m, "error": "skipped (--skip)"}))
                    continue
                r = _run_case(m, px, py, tmp, args.repeats, args.timeout)
                if "path" in r:
                    r["vs_exact"] = _agreement(r["path"], ref)
                    r["truth_ms"] = _truth_error_ms(r["path"], warp)
                    r["vs_truth"] = _agreement(r["path"], truth)
                rows.append(("multiscale", n, m, r))
                _print_row("multiscale", n, m, r)
        for spec in args.asap:
            if not (args.data / "asap").is_dir():
                print(f"ASAP data absent under {args.data}: skipping the beat cases", flush=True)
                break
            px, py, ba, bb, shape = _asap_inputs(args.data, spec, tmp)
            ref = None
            for m in ("alignkit", "alignkit_ms", "mrmsdtw"):
                if m not in args.methods and not (m == "alignkit" and "alignkit_ms" in args.methods):
                    continue
                r = _run_case(m, px, py, tmp, 1, args.timeout)
                if "path" in r:
                    from alignkit.align.paths import fill_path
                    from alignkit.eval import alignment_errors, error_summary

                    if m == "alignkit":
                        ref = fill_path(r["path"])
                    r["vs_exact"] = _agreement(r["path"], ref) if m != "alignkit" else {}
                    r["beats"] = error_summary(
                        alignment_errors(r["path"], ba, bb, frame_rate_a=FRAME_RATE, frame_rate_b=FRAME_RATE)
                    )
                r["shape"] = shape
                asap_rows.append((spec, m, r))
                _print_asap_row(spec, m, r)
    md = _markdown(rows, started, machine, args) + _markdown_asap(asap_rows)
    print()
    print(md)
    if args.markdown:
        args.markdown.write_text(md)
    return 0


def _cells(r: dict) -> list[str]:
    if "error" in r:
        return [r["error"]] + [""] * 7
    ve = r.get("vs_exact") or {}
    vt = r.get("vs_truth") or {}
    same = "" if not ve else ("yes" if ve["identical"] else f"no ({ve['within_0']:.4f} on it)")
    within = "" if not ve else f"{100 * ve['within_1']:.2f} %"
    return [
        f"{r['median_s']:.3f} s",
        f"{r['jit_s']:.2f} s",
        _fmt_bytes(r["peak_rss"]),
        _fmt_bytes(max(r["peak_rss"] - r["rss_before"], 0)),
        same,
        within,
        f"{100 * vt.get('within_1', float('nan')):.1f} %",
        f"{r.get('truth_ms', float('nan')):.1f}",
    ]


HEADER = [
    "kind",
    "size",
    "method",
    "median time",
    "first-call overhead",
    "peak RSS",
    "peak - RSS before",
    "same path as exact",
    "within 1 frame of exact",
    "within 1 frame of truth",
    "mean error vs truth (ms)",
]


def _print_row(kind, n, m, r) -> None:
    print(" | ".join([kind, str(n), m] + _cells(r)), flush=True)


ASAP_HEADER = [
    "pair",
    "frames",
    "method",
    "time",
    "peak RSS",
    "within 1 frame of exact",
    "mean beat error (ms)",
    "median (ms)",
    "within 50 ms",
    "within 100 ms",
]


def _asap_cells(spec: str, m: str, r: dict) -> list[str]:
    pair = spec.replace(":", " ")
    shape = r.get("shape", ("?", "?"))
    if "error" in r:
        return [pair, f"{shape[0]} x {shape[1]}", m, r["error"]] + [""] * 6
    b = r["beats"]
    ve = r.get("vs_exact") or {}
    return [
        pair,
        f"{shape[0]:,} x {shape[1]:,}",
        m,
        f"{r['median_s']:.3f} s",
        _fmt_bytes(r["peak_rss"]),
        f"{100 * ve['within_1']:.2f} %" if ve else "",
        f"{b['mean_ms']:.1f}",
        f"{b['median_ms']:.1f}",
        f"{100 * b['within_50ms']:.1f} %",
        f"{100 * b['within_100ms']:.1f} %",
    ]


def _print_asap_row(spec, m, r) -> None:
    print(" | ".join(["asap"] + _asap_cells(spec, m, r)), flush=True)


def _markdown_asap(asap_rows) -> str:
    if not asap_rows:
        return ""
    lines = [
        "",
        "Beat accuracy on real performances (ASAP performance MIDIs -> piano-roll chroma at 50 Hz; "
        "beats of A transferred to B through the path and compared with B's annotated beats):",
        "",
        "| " + " | ".join(ASAP_HEADER) + " |",
        "|" + "---|" * len(ASAP_HEADER),
    ]
    for spec, m, r in asap_rows:
        lines.append("| " + " | ".join(_asap_cells(spec, m, r)) + " |")
    return "\n".join(lines) + "\n"


def _markdown(rows, started, machine, args) -> str:
    lines = [
        "## DTW",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {machine}; `bench/bench_dtw.py` "
        f"(sizes {args.sizes}, multiscale {args.ms_sizes}, {args.repeats} repeats, seed {args.seed}).",
        "Inputs: chroma-like sequences (`alignkit.testing.random_chroma_sequence`) against the same "
        "sequence warped through a random smooth tempo curve plus noise (known truth), treated as 50 Hz. "
        "Exact DTW: cosine cost, steps (1,1), (0,1), (1,0), weights 1 in every library. "
        "Each case ran in a fresh process, single-threaded; time = median of the repeats after a warm-up, "
        "first-call overhead = JIT compilation / cache loading on the warm-up, peak RSS = `ru_maxrss` of the "
        "process (includes the interpreter and imports; the next column is the growth over the RSS before "
        "the timed calls). 'Exact' is alignkit's exact path.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    for kind, n, m, r in rows:
        lines.append("| " + " | ".join([kind, f"{n:,}", m] + _cells(r)) + " |")
    vers = {}
    for _, _, _, r in rows:
        vers.update(r.get("versions", {}))
    if vers:
        lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(vers.items())) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
