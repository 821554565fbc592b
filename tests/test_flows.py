"""Corpus flows on real engines: Prefect with one shared server, local Dask processes, a Dask
cluster started with the ``dask scheduler`` / ``dask worker`` CLIs on 127.0.0.1, and local Ray.

Oracles: every stored alignment equals a DTW computed directly, in this process, on the
stored features (the orchestration must not change results); counts against the corpus
grid; a rerun recomputes nothing (skip keys and files untouched); a corpus with a bad file
completes the good items and names the bad one; a worker killed by its PID mid-flow, and a
flow killed mid-run, end with results identical to a clean run.

The default run holds one end-to-end test on the default runner (``local``); the Dask CLI,
Ray and fault tests are marked ``cluster`` and ``slow``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from alignkit import pipeline
from alignkit.store.results import open_store
from flows.corpus_flow import auto_group_size, run_corpus
from flows.runners import task_runner
from flows.testing import dask_cli_cluster, shared_prefect_api

ROOT = Path(__file__).resolve().parents[1]
FEATURES = [{"name": "chroma_stft", "params": {}}]


@pytest.fixture(scope="module")
def api():
    return shared_prefect_api()


@pytest.fixture(scope="module")
def good_corpus(tmp_path_factory):
    from alignkit.synth.demo import build_demo_corpus

    root = tmp_path_factory.mktemp("flows") / "good"
    build_demo_corpus(root, size="tiny", seed=5)
    return root


@pytest.fixture(scope="module")
def bad_corpus(good_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("flows") / "bad"
    shutil.copytree(good_corpus, root)
    for m in root.glob("manifest.*"):
        m.unlink()  # scan the folder, so the extra file is part of the corpus
    work = sorted(p for p in root.iterdir() if p.is_dir())[0]
    (work / "v09_broken.flac").write_bytes(np.random.default_rng(0).bytes(4000))  # not audio
    return root


def _grid(corpus):
    c = pipeline.load_corpus(str(corpus))
    items = pipeline.corpus_items(c)
    pairs = [(w, a, b) for w, ps in pipeline.plan_pairs(c, strategy="all") for a, b in ps]
    return items, pairs


def _stored_paths(store, method: str = "sync") -> dict:
    s = open_store(store)
    df = s.list_alignments()
    return {(r.work, r.version_a, r.version_b):
            s.read_alignment(method, r.work, r.version_a, r.version_b, soft=False).path
            for r in df.itertuples() if r.method == method}


def _check_against_direct_dtw(store, pairs):
    """Stored paths of the default method (sync) equal a direct synchronize of the stored features."""
    from alignkit.align.sync import synchronize

    s = open_store(store)
    got = _stored_paths(store)
    assert set(got) == set(pairs)
    for w, a, b in pairs:
        fa = tuple(s.read_features(w, a, n) for n in pipeline.SYNC_FEATURES)
        fb = tuple(s.read_features(w, b, n) for n in pipeline.SYNC_FEATURES)
        al = s.read_alignment("sync", w, a, b, soft=False)
        ref = synchronize(fa, fb)
        np.testing.assert_array_equal(got[(w, a, b)], ref.path)
        assert al.frame_rate_a == al.frame_rate_b == ref.frame_rate
    return got


def _item_files(store) -> dict:
    """zarr.json of every item with its modification time (unchanged when an item is skipped)."""
    return {str(p): p.stat().st_mtime_ns for p in Path(store, "arrays").rglob("zarr.json")
            if len(p.relative_to(Path(store, "arrays")).parts) >= 5}


def _summary_artifacts():
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["alignkit-summary"])))


def test_auto_group_size_keeps_tasks_few_but_balanced():
    assert auto_group_size(0, 4) == 1
    assert auto_group_size(10, 2) == 2            # 5 tasks for 2 workers
    assert auto_group_size(10_000, 8) == 313      # 32 tasks, 4 per worker
    assert auto_group_size(200, 2) == 25          # 8 tasks
    assert auto_group_size(3, 16) == 1
    assert auto_group_size(100_000, 8) == 512     # capped
    # with a cost estimate: enough pairs per task for <= 10 % overhead, while every worker gets work
    assert auto_group_size(200, 2, pair_seconds=0.02) == 100
    assert auto_group_size(30, 2, pair_seconds=0.02) == 15
    assert auto_group_size(200, 2, pair_seconds=5.0) == 25
    for n in (50, 200, 1000, 10_000):
        for w in (1, 2, 8):
            for p in (0.005, 0.02, 0.1, 1.0):
                g = auto_group_size(n, w, pair_seconds=p)
                n_tasks = -(-n // g)
                assert n_tasks >= min(w, n) or g == 512
                if 0.2 / (0.1 * p) <= n / w and g < 512:
                    assert 0.2 / (g * p) <= 0.1 + 1e-9  # Prefect's share of a task's time


def test_feature_specs_are_checked_before_any_task():
    from alignkit.exceptions import ParameterError
    from flows.corpus_flow import _feature_specs

    assert _feature_specs("chroma_stft,cens", {"cens": {"smooth_length": 21}}) == [
        {"name": "chroma_stft", "params": {}}, {"name": "cens", "params": {"smooth_length": 21}}]
    with pytest.raises(ParameterError, match="mfcc"):
        _feature_specs(["mfcc"], None)
    with pytest.raises(ParameterError, match="hop"):
        _feature_specs(["chroma_stft"], {"chroma_stft": {"hop": 3}})
    with pytest.raises(ParameterError, match="logfreq"):
        _feature_specs(["chroma_stft"], {"logfreq": {}})
    with pytest.raises(ParameterError, match="at least one"):
        _feature_specs([], None)


def test_local_runner_end_to_end_bad_file_and_rerun(api, bad_corpus, tmp_path):
    """The default runner: one server, a local Dask cluster of 2 processes, the whole flow, then a rerun."""
    store = str(tmp_path / "store")
    items, pairs = _grid(bad_corpus)
    broken = [it for it in items if it["version"] == "v09_broken"]
    assert len(broken) == 1
    good_pairs = [p for p in pairs if "v09_broken" not in p[1:]]
    with task_runner("local", n_workers=2) as tr:
        r1 = run_corpus.with_options(task_runner=tr)(corpus=str(bad_corpus), store=store)
        files1 = _item_files(store)
        artifacts = _summary_artifacts()
        r2 = run_corpus.with_options(task_runner=tr)(corpus=str(bad_corpus), store=store)
        files2 = _item_files(store)

    ex, al, ev = (r1["stages"][k] for k in ("extract", "align", "evaluate"))
    assert (ex["done"], ex["failed"]) == (len(items) - 1, 1)
    assert (al["done"], al["failed"]) == (len(good_pairs), len(pairs) - len(good_pairs))
    assert ev["done"] == len(good_pairs) and ev["failed"] == 0  # pairs without an alignment are skipped
    assert r1["n_failed"] == 1 + len(pairs) - len(good_pairs)

    # the Markdown summary artifact of the run: counts per stage and the failing item
    md = next(a for a in artifacts if r1["run_id"] in (a.description or ""))
    assert f"| extract | {len(items) - 1} | 0 | 1 |" in md.data
    assert f"| align | {len(good_pairs)} | 0 | {len(pairs) - len(good_pairs)} |" in md.data
    assert "v09_broken" in md.data

    # orchestration changes nothing: stored paths equal a direct DTW on the stored features
    _check_against_direct_dtw(store, good_pairs)

    s = open_store(store)
    fails = s.read_table("failures")
    fails = fails[fails.run_id == r1["run_id"]]
    ex_fail = fails[fails.stage == "extract"]
    assert list(ex_fail["item"]) == [f"{broken[0]['work']}/v09_broken"]
    assert ex_fail["error_type"].iloc[0] == "AudioError" and "v09_broken.flac" in ex_fail["message"].iloc[0]
    assert set(fails[fails.stage == "align"]["error_type"]) == {"StoreError"}

    ev_tab = s.read_table("evaluation")
    mean = ev_tab[ev_tab.metric == "mean_ms"]
    assert len(mean) == len(good_pairs)
    # the demo's recordings follow the same score: audio-to-audio alignment errors are small
    audio_pairs = mean[(mean.version_a != "score") & (mean.version_b != "score")]
    assert len(audio_pairs) and audio_pairs["value"].max() < 100.0

    # rerun: everything complete is skipped, nothing rewritten; the bad file fails again
    assert r2["stages"]["extract"]["skipped"] == len(items) - 1 and r2["stages"]["extract"]["done"] == 0
    assert r2["stages"]["align"]["skipped"] == len(good_pairs) and r2["stages"]["align"]["done"] == 0
    assert files2 == files1
    # re-evaluating the same alignments replaces their rows instead of adding new ones
    assert len(s.read_table("evaluation").query("metric == 'mean_ms'")) == len(good_pairs)


# ----------------------------------------------------------------------------- real clusters


def _reference_paths(api, corpus, tmp_path_factory):
    store = str(tmp_path_factory.mktemp("ref") / "store")
    with task_runner("thread", n_workers=2) as tr:
        run_corpus.with_options(task_runner=tr)(corpus=str(corpus), store=store, evaluate=False)
    return _stored_paths(store)


@pytest.fixture(scope="module")
def reference(api, good_corpus, tmp_path_factory):
    return _reference_paths(api, good_corpus, tmp_path_factory)


@pytest.mark.cluster
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["dask-cli", "ray"])
def test_same_flow_on_dask_cli_and_ray(kind, api, good_corpus, reference, tmp_path):
    store = str(tmp_path / "store")
    _, pairs = _grid(good_corpus)
    if kind == "dask-cli":
        with dask_cli_cluster(2) as cl, task_runner("dask", address=cl.address) as tr:
            r = run_corpus.with_options(task_runner=tr)(corpus=str(good_corpus), store=store)
    else:
        pytest.importorskip("ray")
        with task_runner("ray", n_workers=2) as tr:
            r = run_corpus.with_options(task_runner=tr)(corpus=str(good_corpus), store=store)
    assert r["n_failed"] == 0 and r["stages"]["align"]["done"] == len(pairs)
    got = _check_against_direct_dtw(store, pairs)
    for k, p in reference.items():
        np.testing.assert_array_equal(got[k], p)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    from alignkit.synth.demo import build_demo_corpus

    root = tmp_path_factory.mktemp("flows") / "small"
    build_demo_corpus(root, size="small", seed=7)
    return root


@pytest.mark.cluster
@pytest.mark.slow
def test_worker_killed_mid_flow_gives_identical_results(api, small_corpus, tmp_path_factory):
    """SIGKILL one of two ``dask worker`` processes once the flow is under way."""
    ref = _reference_paths(api, small_corpus, tmp_path_factory)
    store = str(tmp_path_factory.mktemp("kill") / "store")
    killed = {}
    with dask_cli_cluster(2) as cl, task_runner("dask", address=cl.address) as tr:
        def killer():
            s = open_store(store)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 600:
                if len(s.list_features()) >= 2:  # extraction under way: tasks are running
                    killed["pid"] = cl.kill_worker()
                    killed["at"] = len(s.list_features())
                    cl.add_worker()  # the cluster keeps its size, as a supervisor would
                    return
                time.sleep(0.2)

        th = threading.Thread(target=killer, daemon=True)
        th.start()
        r = run_corpus.with_options(task_runner=tr)(corpus=str(small_corpus), store=store, evaluate=False,
                                                    group_size=2)
        th.join(5)
    assert "pid" in killed, "the worker was never killed"
    assert r["n_failed"] == 0 and r["n_tasks_failed"] == 0
    got = _stored_paths(store)
    assert set(got) == set(ref)
    for k, p in ref.items():
        np.testing.assert_array_equal(got[k], p)


@pytest.mark.cluster
@pytest.mark.slow
def test_killed_flow_resumes_without_recomputing(api, small_corpus, tmp_path_factory):
    """Kill ``alignkit run`` (and its local cluster) mid-run; the rerun skips finished items."""
    ref = _reference_paths(api, small_corpus, tmp_path_factory)
    store = str(tmp_path_factory.mktemp("resume") / "store")
    cmd = [sys.executable, "-m", "alignkit.cli", "run", str(small_corpus), "--store", store, "--workers", "2",
           "--no-evaluate"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    s = open_store(store)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < 600 and proc.poll() is None:
            feats = s.list_features()
            if (feats["extractor"] == "dlnco").sum() >= 2 if len(feats) else False:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI, its Dask workers and its Prefect server
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    feats = s.list_features()  # a version is fully extracted once its last feature (dlnco) is
    done_before = {(r.work, r.version): r.key for r in feats[feats["extractor"] == "dlnco"].itertuples()}
    # files of the *complete* items (an item killed mid-write is incomplete and rightly rewritten)
    from alignkit.store.keys import features_item

    complete_dirs = tuple(str(Path(store, "arrays", features_item("chroma_stft", w, v))) + os.sep
                          for w, v in done_before)
    mtimes_before = {k: v for k, v in _item_files(store).items() if k.startswith(complete_dirs)}
    assert len(mtimes_before) >= 2 * len(done_before)  # group and values array of each
    assert done_before and len(done_before) < len(_grid(small_corpus)[0])

    with task_runner("local", n_workers=2) as tr:
        r = run_corpus.with_options(task_runner=tr)(corpus=str(small_corpus), store=store, evaluate=False)
    assert r["stages"]["extract"]["skipped"] >= len(done_before)
    assert r["stages"]["extract"]["done"] == len(_grid(small_corpus)[0]) - r["stages"]["extract"]["skipped"]
    after = {k: v for k, v in _item_files(store).items() if k in mtimes_before}
    assert after == mtimes_before  # finished items untouched
    got = _stored_paths(store)
    assert set(got) == set(ref)
    for k, p in ref.items():
        np.testing.assert_array_equal(got[k], p)
