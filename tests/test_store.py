import json
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.exceptions import ParameterError, StoreError
from alignkit.features.base import Features
from alignkit.store import keys, open_store
from alignkit.store.tables import TABLES


def _feat(n=50, d=12, seed=0, name="chroma", params=None, labels=None):
    rng = np.random.default_rng(seed)
    return Features(
        values=rng.random((n, d)).astype(np.float32),
        frame_rate=21.5,
        name=name,
        params=params or {"hop": 1024},
        dim_labels=labels,
    )


# ----------------------------------------------------------------------------- keys


@given(st.text(min_size=1, max_size=40))
@settings(max_examples=60, deadline=None)
def test_encode_is_reversible_and_one_safe_segment(s):
    e = keys.encode(s)
    assert keys.decode(e) == s
    assert "/" not in e and e not in (".", "..") and not e.startswith((".", "__"))
    assert all(c.isascii() and (c.isalnum() or c in "._-~") for c in e)


def test_encode_rejects_empty():
    with pytest.raises(ParameterError):
        keys.encode("")
    assert keys.encode("Bach/Fugue/bwv_848") == "Bach~2FFugue~2Fbwv_848"


# ----------------------------------------------------------------------------- features


@pytest.mark.parametrize("uri_kind", ["local", "file", "memory"])
def test_features_round_trip_and_attributes(tmp_path, uri_kind):
    uri = {
        "local": str(tmp_path / "s"),
        "file": f"file://{tmp_path}/s",
        "memory": f"memory://feat-{os.getpid()}-{time.time_ns()}",
    }[uri_kind]
    s = open_store(uri)
    f = _feat(labels=tuple("C C# D D# E F F# G G# A A# B".split()))
    key = s.write_features(
        "Bach/Fugue/bwv_848",
        "Lee01M",
        f,
        source_hash="h1",
        code_version="cv1",
        source_path="/x/Lee01M.mid",
        kind="score",
        chunk_frames=16,
    )
    g = s.read_features("Bach/Fugue/bwv_848", "Lee01M", "chroma")
    np.testing.assert_array_equal(g.values, f.values)
    assert (g.frame_rate, g.name, g.params, g.dim_labels) == (f.frame_rate, f.name, f.params, f.dim_labels)
    assert key == keys.item_key("h1", f.hash, "cv1")
    meta = s.features_attrs("Bach/Fugue/bwv_848", "Lee01M", "chroma")
    assert meta["source_hash"] == "h1" and meta["params_hash"] == f.hash and meta["frame_rate"] == 21.5
    assert {"numpy", "zarr"} <= set(meta["library_versions"])
    # the Zarr array: float32, time first, dimension names for xarray, several chunks
    grp = zarr.open_group(
        s._zstore,
        path=keys.features_item("chroma", "Bach/Fugue/bwv_848", "Lee01M"),
        mode="r",
        use_consolidated=False,
    )
    arr = grp[keys.VALUES]
    assert (
        arr.dtype == np.float32 and arr.metadata.dimension_names == ("time", "dim") and arr.chunks == (16, 12)
    )
    assert grp.attrs[keys.ATTR_COMPLETE] is True
    # float16 option: within half-precision rounding
    s.write_features("w", "v", f, source_hash="h", extractor="chroma16", dtype="float16")
    h = s.read_features("w", "v", "chroma16")
    np.testing.assert_allclose(h.values, f.values, rtol=1e-3, atol=1e-3)
    assert not np.array_equal(h.values, f.values)
    lst = s.list_features()
    assert sorted(zip(lst.extractor, lst.work, lst.version, strict=False)) == [
        ("chroma", "Bach/Fugue/bwv_848", "Lee01M"),
        ("chroma16", "w", "v"),
    ]


def test_xarray_reads_feature_arrays_with_time_first(tmp_path):
    import xarray as xr

    s = open_store(tmp_path / "s")
    f = _feat(n=30, d=4)
    s.write_features("w", "v", f, source_hash="h")
    ds = xr.open_zarr(
        str(tmp_path / "s" / keys.ARRAYS),
        group=keys.features_item("chroma", "w", "v"),
        consolidated=False,
        zarr_format=3,
    )
    assert ds[keys.VALUES].dims == ("time", "dim")
    np.testing.assert_array_equal(ds[keys.VALUES].values, f.values)


def test_skip_key_matches_only_identical_inputs(tmp_path):
    s = open_store(tmp_path / "s")
    f = _feat()
    s.write_features("w", "v", f, source_hash="h1", code_version="c1")
    ok = dict(source_hash="h1", params_hash=f.hash, code_version="c1")
    assert s.features_complete("w", "v", "chroma", **ok)
    assert not s.features_complete("w", "v", "chroma", **{**ok, "source_hash": "h2"})
    assert not s.features_complete(
        "w", "v", "chroma", **{**ok, "params_hash": _feat(params={"hop": 512}).hash}
    )
    assert not s.features_complete("w", "v", "chroma", **{**ok, "code_version": "c2"})
    assert not s.features_complete("w", "other", "chroma")
    # a rewrite with new inputs replaces the item and its key
    f2 = _feat(seed=1, n=20)
    k2 = s.write_features("w", "v", f2, source_hash="h2", code_version="c1")
    assert s.features_key("w", "v", "chroma") == k2 and s.has_features("w", "v", "chroma", key=k2)
    np.testing.assert_array_equal(s.read_features("w", "v", "chroma").values, f2.values)
    assert len(s.read_table("features")) == 1  # the item's row was replaced, not appended


def test_feature_write_validation(tmp_path):
    s = open_store(tmp_path / "s")
    with pytest.raises(ParameterError, match="Features object"):
        s.write_features("w", "v", np.zeros((3, 3)), source_hash="h")
    bad = _feat().replace(values=np.full((4, 2), np.nan, dtype=np.float32))
    with pytest.raises(ParameterError, match="NaN"):
        s.write_features("w", "v", bad, source_hash="h")
    with pytest.raises(ParameterError, match="dtype"):
        s.write_features("w", "v", _feat(), source_hash="h", dtype="int8")
    with pytest.raises(StoreError, match="missing"):
        s.read_features("w", "v", "chroma")


def test_incomplete_item_is_invisible_and_rewritten(tmp_path):
    s = open_store(tmp_path / "s")
    item = keys.features_item("chroma", "w", "v")
    g = s._fresh_group(item, {"work": "w"})
    a = g.create_array(keys.VALUES, shape=(100, 12), chunks=(10, 12), dtype="float32", fill_value=np.nan)
    a[:30] = 1.0  # a writer died here: no completion marker
    assert not s.features_complete("w", "v", "chroma")
    assert s.list_features().empty
    with pytest.raises(StoreError):
        s.read_features("w", "v", "chroma")
    f = _feat(n=100)
    s.write_features("w", "v", f, source_hash="h")
    np.testing.assert_array_equal(s.read_features("w", "v", "chroma").values, f.values)


# ----------------------------------------------------------------------------- alignments


def _diag_path(n, m):
    i = np.arange(max(n, m))
    return np.stack([np.minimum(i * n // max(n, m), n - 1), np.minimum(i * m // max(n, m), m - 1)], 1)


def test_alignment_round_trip_dense_soft_and_confidence(tmp_path):
    s = open_store(tmp_path / "s")
    rng = np.random.default_rng(0)
    n, m = 40, 60
    p = _diag_path(n, m)
    soft = rng.random((n, m)).astype(np.float32)
    key = s.write_alignment(
        "softdtw",
        "w",
        "a",
        "b",
        path=p,
        cost=3.25,
        frame_rate_a=10.0,
        frame_rate_b=20.0,
        soft=soft,
        params={"gamma": 0.1},
        input_hash="ih",
        feature="chroma",
    )
    r = s.read_alignment("softdtw", "w", "a", "b")
    np.testing.assert_array_equal(r.path, p)
    assert r.path.dtype == np.int64 and r.cost == 3.25 and (r.frame_rate_a, r.frame_rate_b) == (10.0, 20.0)
    assert r["path"] is r.path and r.get("feature") == "chroma" and r.attrs["params"] == {"gamma": 0.1}
    np.testing.assert_allclose(r.soft, soft, rtol=1e-3, atol=1e-3)
    # confidence oracle: share of each row's mass on that row's path cells (float64 loop)
    conf = np.zeros(n)
    for i, j in p:
        conf[i] += soft[i, j]
    conf /= soft.sum(axis=1)
    np.testing.assert_allclose(r.confidence, conf, rtol=1e-5)
    grp = zarr.open_group(
        s._zstore, path=keys.alignment_item("softdtw", "w", "a", "b"), mode="r", use_consolidated=False
    )
    assert grp[keys.PATH].dtype == np.int32 and grp[keys.PATH].metadata.dimension_names == ("step", "axis")
    assert grp[keys.SOFT].dtype == np.float16
    assert s.alignment_complete("softdtw", "w", "a", "b", key=key)
    assert not s.alignment_complete("softdtw", "w", "a", "b", key="other")
    assert not s.alignment_complete("softdtw", "w", "b", "a")


def test_alignment_banded_soft_over_the_cap(tmp_path):
    s = open_store(tmp_path / "s")
    n, m, hw = 50, 80, 3
    p = _diag_path(n, m)
    rng = np.random.default_rng(1)
    soft = rng.random((n, m)).astype(np.float32)
    s.write_alignment(
        "sd",
        "w",
        "a",
        "b",
        path=p,
        cost=1.0,
        frame_rate_a=10,
        frame_rate_b=10,
        soft=soft,
        soft_cap=100,
        soft_half_width=hw,
    )
    r = s.read_alignment("sd", "w", "a", "b")
    assert r.soft is None and r.soft_band.shape == (n, 2 * hw + 1)
    full = r.soft_matrix()
    for i in range(n):
        o = r.soft_offset[i]
        np.testing.assert_allclose(
            full[i, o : o + 2 * hw + 1], soft[i, o : o + 2 * hw + 1], rtol=1e-3, atol=1e-3
        )
        assert np.all(full[i, :o] == 0) and np.all(full[i, o + 2 * hw + 1 :] == 0)
        js = p[p[:, 0] == i, 1]
        assert o <= js.min() and js.max() <= o + 2 * hw  # the band covers the path
    # confidence was derived from the full matrix before banding
    assert r.confidence.shape == (n,)


def test_alignment_from_result_object_and_validation(tmp_path):
    s = open_store(tmp_path / "s")

    class Res:
        path = np.array([[0, 0], [1, 1], [2, 1], [3, 2]])
        cost = 0.5

    s.write_alignment("dtw", "w", "a", "b", Res(), frame_rate_a=5, frame_rate_b=5)
    r = s.read_alignment("dtw", "w", "a", "b")
    np.testing.assert_array_equal(r.path, Res.path)
    assert r.confidence is None and r.soft_matrix() is None and (r.n_frames_a, r.n_frames_b) == (4, 3)
    with pytest.raises(ParameterError, match="monotone"):
        s.write_alignment(
            "dtw", "w", "a", "c", path=[[0, 0], [2, 1], [1, 2]], cost=1, frame_rate_a=5, frame_rate_b=5
        )
    with pytest.raises(ParameterError, match="frame_rate_b"):
        s.write_alignment("dtw", "w", "a", "c", path=Res.path, cost=1, frame_rate_a=5, frame_rate_b=0)
    with pytest.raises(ParameterError, match="confidence"):
        s.write_alignment(
            "dtw", "w", "a", "c", path=Res.path, cost=1, frame_rate_a=5, frame_rate_b=5, confidence=np.ones(7)
        )
    with pytest.raises(StoreError, match="missing"):
        s.read_alignment("dtw", "w", "a", "c")
    lst = s.list_alignments()
    got = list(zip(lst.method, lst.work, lst.version_a, lst.version_b, strict=True))
    assert got == [("dtw", "w", "a", "b")]


# ----------------------------------------------------------------------------- tables


SAMPLE_ROWS = {
    "recordings": {
        "work": "w/1",
        "version": "v",
        "kind": "audio",
        "path": "w/v.wav",
        "content_hash": "h",
        "duration_s": 12.5,
        "sample_rate": 22050.0,
        "n_annotations": 10,
        "run_id": "r",
    },
    "features": {
        "work": "w/1",
        "version": "v",
        "extractor": "chroma",
        "key": "k",
        "frame_rate": 10.0,
        "n_frames": 5,
        "n_dims": 12,
        "store_path": "features/x",
        "params": {"hop": 512},
    },
    "alignments": {
        "method": "dtw",
        "work": "w/1",
        "version_a": "a",
        "version_b": "b",
        "key": "k",
        "cost": 1.0,
        "store_path": "alignments/x",
    },
    "evaluation": {
        "method": "dtw",
        "work": "w/1",
        "version_a": "a",
        "version_b": "b",
        "metric": "accuracy",
        "value": 0.9,
        "tolerance_s": 0.05,
        "n_events": 100,
    },
    "failures": {
        "item": "w/1:v",
        "stage": "extract",
        "error_type": "AudioError",
        "message": "bad",
        "time": 1_700_000_000.0,
        "work": "w/1",
    },
    "runs": {"run_id": "r1", "event": "start", "params": {"a": 1}, "time": 1_700_000_000.0},
}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_table_round_trip_before_and_after_compaction(tmp_path, table):
    s = open_store(tmp_path / "s")
    rows = []
    for i in range(3):
        r = dict(SAMPLE_ROWS[table])
        for c in ("work", "version", "version_b", "item", "run_id"):
            if c in r:
                r[c] = f"{r[c]}-{i}"
        rows.append(r)
    s.write_table_rows(table, rows[:2], task_id="task-1")
    s.write_table_rows(table, rows[2:], task_id="task-2")
    before = s.read_table(table)
    assert len(before) == 3 and set(before.task_id) == {"task-1", "task-2"}
    counts = s.compact()
    assert counts[table] == 3
    after = s.read_table(table)
    cols = [c for c in TABLES[table].schema.names]
    key = [c for c in cols if c in ("work", "version", "version_b", "item", "run_id")][:1]
    pd.testing.assert_frame_equal(
        before[cols].sort_values(key).reset_index(drop=True),
        after[cols].sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    if "params" in SAMPLE_ROWS[table]:
        assert json.loads(after["params"].iloc[0]) == SAMPLE_ROWS[table]["params"]
    if "time" in SAMPLE_ROWS[table]:
        assert after["time"].iloc[0] == pd.Timestamp(1_700_000_000, unit="s", tz="UTC")
    # the compacted copy is partitioned by the declared columns
    tdir = tmp_path / "s" / keys.TABLES / table
    for col in TABLES[table].partition_by:
        assert list(tdir.glob(f"c-*/**/{col}=*")), f"no {col}= partition folders"
    # a later task is visible at once (readers never serve a stale compacted copy)
    s.write_table_rows(table, rows[:1], task_id="task-3")
    assert len(s.read_table(table)) == 4


def test_table_rows_are_schema_checked(tmp_path):
    s = open_store(tmp_path / "s")
    ok = SAMPLE_ROWS["evaluation"]
    with pytest.raises(ParameterError, match="unknown columns"):
        s.write_table_rows("evaluation", [{**ok, "colour": "red"}], task_id="t")
    with pytest.raises(ParameterError, match="required column 'metric'"):
        s.write_table_rows("evaluation", [{k: v for k, v in ok.items() if k != "metric"}], task_id="t")
    with pytest.raises(ParameterError, match="schema"):
        s.write_table_rows("evaluation", [{**ok, "value": "high"}], task_id="t")
    with pytest.raises(ParameterError, match="not one of"):
        s.write_table_rows("nope", [ok], task_id="t")
    with pytest.raises(ParameterError, match="task_id"):
        s.write_table_rows("evaluation", [ok], task_id="")
    # a retried task replaces its own file
    s.write_table_rows("evaluation", [ok], task_id="t")
    s.write_table_rows("evaluation", [ok, ok], task_id="t")
    assert len(s.read_table("evaluation")) == 2
    # the 'a'/'b' aliases used by older callers
    s.write_table_rows(
        "evaluation",
        [{**{k: v for k, v in ok.items() if not k.startswith("version")}, "a": "x", "b": "y"}],
        task_id="u",
    )
    ev = s.read_table("evaluation")
    assert ("x", "y") in set(zip(ev.version_a, ev.version_b, strict=False))


def test_failures_runs_and_readonly(tmp_path):
    s = open_store(tmp_path / "s")
    rid = s.start_run(params={"method": "dtw"}, corpus="c")
    try:
        raise ValueError("broken file")
    except ValueError as exc:
        s.record_failure("w:v", "extract", exc, run_id=rid, work="w", task_id="f1")
    s.finish_run(rid)
    f = s.read_table("failures")
    assert f.error_type.tolist() == ["ValueError"] and f.message.tolist() == ["broken file"]
    assert "Traceback" in f.traceback.iloc[0]
    runs = s.read_table("runs")
    assert sorted(runs.event) == ["finish", "start"] and set(runs.run_id) == {rid}
    ro = open_store(tmp_path / "s", read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        ro.write_table_rows("runs", [], task_id="x")
    with pytest.raises(StoreError, match="not an alignkit results store"):
        open_store(tmp_path / "empty", read_only=True)


def test_compact_consolidates_zarr_metadata(tmp_path):
    s = open_store(tmp_path / "s")
    s.write_features("w", "v", _feat(), source_hash="h")
    s.compact()
    g = zarr.open_group(str(tmp_path / "s" / keys.ARRAYS), mode="r", use_consolidated=True)
    assert g.metadata.consolidated_metadata is not None
    assert keys.features_item("chroma", "w", "v") in g.metadata.consolidated_metadata.flattened_metadata
    # writers ignore the (now stale) consolidated metadata
    s.write_features("w", "v2", _feat(), source_hash="h")
    assert s.features_complete("w", "v2", "chroma")


# ----------------------------------------------------------------------------- concurrency


def _write_worker(args):
    uri, wid = args
    from alignkit.store import open_store as _open

    s = _open(uri)
    for j in range(3):
        f = _feat(n=200, seed=100 * wid + j)
        s.write_features(f"work{wid}", f"v{j}", f, source_hash=f"h{wid}{j}", chunk_frames=32)
    s.write_alignment(
        "dtw",
        f"work{wid}",
        "v0",
        "v1",
        path=_diag_path(200, 200),
        cost=float(wid),
        frame_rate_a=21.5,
        frame_rate_b=21.5,
    )
    s.write_table_rows(
        "evaluation",
        [{**SAMPLE_ROWS["evaluation"], "work": f"work{wid}", "value": wid / 10}],
        task_id=f"eval-{wid}",
    )
    return wid


def test_four_processes_write_one_store(tmp_path):
    uri = str(tmp_path / "s")
    open_store(uri)
    ctx = mp.get_context("fork")  # zarr and fsspec reset their event loops after fork
    with ctx.Pool(4) as pool:
        assert sorted(pool.map(_write_worker, [(uri, w) for w in range(4)])) == [0, 1, 2, 3]
    s = open_store(uri)
    assert len(s.list_features()) == 12 and len(s.list_alignments()) == 4
    for w in range(4):
        for j in range(3):
            np.testing.assert_array_equal(
                s.read_features(f"work{w}", f"v{j}", "chroma").values, _feat(n=200, seed=100 * w + j).values
            )
        assert s.read_alignment("dtw", f"work{w}", "v0", "v1").cost == w
    assert sorted(s.read_table("evaluation").value) == [0.0, 0.1, 0.2, 0.3]
    assert len(s.read_table("features")) == 12
    s.compact()
    assert len(s.read_table("alignments")) == 4


# ----------------------------------------------------------------------------- kill test


def _kill_writer(uri: str, hang_at: int, ready: str | None) -> int:
    """Write 6 items (features + alignment + table rows); hang mid-array at item ``hang_at``."""
    import alignkit.store.results as R

    state = {"item": -1}
    orig = R._write_blocks
    if hang_at >= 0:  # only ever called so in a forked child: the patch dies with it

        def slow_blocks(arr, values, block):
            if state["item"] == hang_at and values.ndim == 2 and values.shape[1] == 12:
                half = (values.shape[0] // block // 2) * block
                for s0 in range(0, half, block):
                    arr[s0 : s0 + block] = values[s0 : s0 + block]
                Path(ready).touch()
                time.sleep(120)
            orig(arr, values, block)

        R._write_blocks = slow_blocks
    s = open_store(uri)
    written = 0
    for i in range(6):
        state["item"] = i
        rng = np.random.default_rng(i)
        f = Features(
            values=rng.random((4000, 12)).astype(np.float32), frame_rate=20.0, name="chroma", params={"i": i}
        )
        # each stage has its own skip check, as in the flows
        did = False
        if not s.features_complete(f"work{i}", "v", "chroma", source_hash=f"h{i}", params_hash=f.hash):
            s.write_features(f"work{i}", "v", f, source_hash=f"h{i}", chunk_frames=250)
            did = True
        if not s.alignment_complete("dtw", f"work{i}", "v", "ref", input_hash=f"h{i}", params={}):
            p = np.stack([np.arange(4000), np.arange(4000)], 1)
            s.write_alignment(
                "dtw",
                f"work{i}",
                "v",
                "ref",
                path=p,
                cost=float(i),
                frame_rate_a=20.0,
                frame_rate_b=20.0,
                input_hash=f"h{i}",
            )
            did = True
        row = dict(
            method="dtw",
            work=f"work{i}",
            version_a="v",
            version_b="ref",
            metric="accuracy",
            value=i / 10,
            tolerance_s=0.05,
        )
        s.write_table_rows("evaluation", [row], task_id=f"eval-{i}")  # idempotent per task id
        written += did
    return written


def _snapshot(uri: str) -> dict:
    s = open_store(uri)
    out = {"features": {}, "alignments": {}}
    for _, r in s.list_features().iterrows():
        out["features"][(r.work, r.version)] = (s.read_features(r.work, r.version, r.extractor).values, r.key)
    for _, r in s.list_alignments().iterrows():
        al = s.read_alignment(r.method, r.work, r.version_a, r.version_b)
        out["alignments"][(r.work,)] = (al.path, al.cost, r.key)
    tabs = {}
    for t in ("features", "alignments", "evaluation"):
        df = s.read_table(t).drop(columns=["time"], errors="ignore")
        tabs[t] = df.sort_values(list(df.columns[:4])).reset_index(drop=True)
    out["tables"] = tabs
    return out


def test_writer_killed_mid_write_then_rerun_matches_clean_run(tmp_path):
    uri = str(tmp_path / "killed")
    ready = Path(uri + ".ready")
    proc = mp.get_context("fork").Process(target=_kill_writer, args=(uri, 3, str(ready)))
    proc.start()
    t0 = time.time()
    while not ready.exists():
        assert proc.is_alive(), f"writer exited early with code {proc.exitcode}"
        # the store is readable throughout: every listed item reads back whole
        if Path(uri, "alignkit.json").exists():
            s = open_store(uri, read_only=True)
            for _, r in s.list_features().iterrows():
                assert s.read_features(r.work, r.version, r.extractor).values.shape == (4000, 12)
        assert time.time() - t0 < 120, "writer never reached the hang point"
        time.sleep(0.05)
    # mid-write (the writer is inside item 3's array): readers see exactly the complete items
    live = open_store(uri, read_only=True)
    assert sorted(live.list_features().work) == ["work0", "work1", "work2"]
    assert not live.features_complete("work3", "v", "chroma")
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert proc.exitcode == -signal.SIGKILL
    s = open_store(uri)
    # items 0-2 complete; item 3 half-written: its chunks exist but it is invisible
    assert sorted(s.list_features().work) == ["work0", "work1", "work2"]
    item_dir = Path(uri, keys.ARRAYS, keys.features_item("chroma", "work3", "v"))
    assert item_dir.is_dir() and any((item_dir / keys.VALUES).rglob("*"))
    assert not s.features_complete("work3", "v", "chroma")
    with pytest.raises(StoreError):
        s.read_features("work3", "v", "chroma")
    # rerun: skips the 3 complete items, rewrites the partial one, finishes the rest
    assert _kill_writer(uri, -1, None) == 3
    clean = str(tmp_path / "clean")
    assert _kill_writer(clean, -1, None) == 6
    a, b = _snapshot(uri), _snapshot(clean)
    assert a["features"].keys() == b["features"].keys() and len(a["features"]) == 6
    for k in a["features"]:
        np.testing.assert_array_equal(a["features"][k][0], b["features"][k][0])
        assert a["features"][k][1] == b["features"][k][1]
    for k in b["alignments"]:
        np.testing.assert_array_equal(a["alignments"][k][0], b["alignments"][k][0])
        assert a["alignments"][k][1:] == b["alignments"][k][1:]
    for t in a["tables"]:
        pd.testing.assert_frame_equal(a["tables"][t], b["tables"][t])


def test_alignment_skip_key_from_parts_and_source_hash_from_file(tmp_path):
    from alignkit.io.files import content_hash

    s = open_store(tmp_path / "s")
    p = np.stack([np.arange(5), np.arange(5)], 1)
    s.write_alignment(
        "dtw",
        "w",
        "a",
        "b",
        path=p,
        cost=0.0,
        frame_rate_a=10,
        frame_rate_b=10,
        input_hash="in1",
        params={"metric": "cosine"},
        code_version="c1",
    )
    ok = dict(input_hash="in1", params={"metric": "cosine"}, code_version="c1")
    assert s.alignment_complete("dtw", "w", "a", "b", **ok)
    assert not s.alignment_complete("dtw", "w", "a", "b", **{**ok, "input_hash": "in2"})
    assert not s.alignment_complete("dtw", "w", "a", "b", **{**ok, "params": {"metric": "euclidean"}})
    assert not s.alignment_complete("dtw", "w", "a", "b", **{**ok, "code_version": "c2"})
    src = tmp_path / "take.wav"
    src.write_bytes(b"RIFF-not-really-audio")
    s.write_features("w", "a", _feat(), source_hash=None, source_path=src, code_version="c1")
    assert s.features_attrs("w", "a", "chroma")["source_hash"] == content_hash(src)
    assert s.features_complete(
        "w", "a", "chroma", source_hash=content_hash(src), params_hash=_feat().hash, code_version="c1"
    )


def _expected_item(i):
    return np.random.default_rng(i).random((4000, 12)).astype(np.float32)


def test_writers_killed_at_random_moments_never_expose_partial_items(tmp_path):
    uri = str(tmp_path / "s")
    rng = np.random.default_rng(7)
    ctx = mp.get_context("fork")
    for _ in range(4):
        proc = ctx.Process(target=_kill_writer, args=(uri, -1, None))
        proc.start()
        time.sleep(float(rng.uniform(0.05, 0.6)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        if not Path(uri, "alignkit.json").exists():
            continue
        s = open_store(uri, read_only=True)
        for _, r in s.list_features().iterrows():  # every visible item is whole and right
            i = int(r.work[4:])
            np.testing.assert_array_equal(
                s.read_features(r.work, r.version, "chroma").values, _expected_item(i)
            )
        for _, r in s.list_alignments().iterrows():
            assert s.read_alignment("dtw", r.work, "v", "ref").path.shape == (4000, 2)
    _kill_writer(uri, -1, None)
    s = open_store(uri)
    assert len(s.list_features()) == 6 and len(s.list_alignments()) == 6
    assert sorted(s.read_table("evaluation").value) == [i / 10 for i in range(6)]


def test_rewriting_a_complete_item_withdraws_its_marker_first(tmp_path, monkeypatch):
    s = open_store(tmp_path / "s")
    s.write_features("w", "v", _feat(), source_hash="h1")
    seen = []
    orig_rm = s.fs.rm

    def spy_rm(path, *a, **k):
        seen.append(s.features_complete("w", "v", "chroma"))
        return orig_rm(path, *a, **k)

    monkeypatch.setattr(s.fs, "rm", spy_rm)
    s.write_features("w", "v", _feat(seed=3), source_hash="h2")
    assert seen and seen[0] is False  # the old item was already invisible when deletion began
    np.testing.assert_array_equal(s.read_features("w", "v", "chroma").values, _feat(seed=3).values)


def test_compact_removes_only_stale_temporaries(tmp_path):
    s = open_store(tmp_path / "s")
    s.write_features("w", "v", _feat(), source_hash="h")
    s.write_table_rows("evaluation", [SAMPLE_ROWS["evaluation"]], task_id="t")
    staging = tmp_path / "s" / keys.staging_dir("evaluation")
    old_tmp, new_tmp = staging / ".tmp-old.parquet", staging / ".tmp-new.parquet"
    partial = (
        tmp_path
        / "s"
        / keys.ARRAYS
        / keys.features_item("chroma", "w", "v")
        / "values"
        / "c"
        / "x.abc.partial"
    )
    for f in (old_tmp, new_tmp, partial):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"junk")
    two_hours_ago = time.time() - 7200
    os.utime(old_tmp, (two_hours_ago, two_hours_ago))
    os.utime(partial, (two_hours_ago, two_hours_ago))
    s.compact()
    assert not old_tmp.exists() and not partial.exists() and new_tmp.exists()
    assert len(s.read_table("evaluation")) == 1
    np.testing.assert_array_equal(s.read_features("w", "v", "chroma").values, _feat().values)


def test_compacted_copy_is_not_used_after_a_same_size_rewrite(tmp_path):
    s = open_store(tmp_path / "s")
    s.write_table_rows("evaluation", [{**SAMPLE_ROWS["evaluation"], "value": 0.25}], task_id="t")
    s.compact()
    time.sleep(0.01)
    s.write_table_rows("evaluation", [{**SAMPLE_ROWS["evaluation"], "value": 0.75}], task_id="t")
    assert s.read_table("evaluation").value.tolist() == [0.75]
    s.compact()
    assert s.read_table("evaluation").value.tolist() == [0.75]


def test_reader_falls_back_to_staging_when_the_compacted_copy_vanished(tmp_path):
    import shutil

    s = open_store(tmp_path / "s")
    s.write_table_rows("evaluation", [SAMPLE_ROWS["evaluation"]], task_id="t")
    s.compact()
    for d in (tmp_path / "s" / keys.table_dir("evaluation")).glob("c-*"):
        shutil.rmtree(d)  # as if a concurrent compaction had removed it
    assert s.read_table("evaluation").value.tolist() == [0.9]
