"""The ``alignkit`` command line: help everywhere, one-line errors, and the read-side commands
on a store filled by the pipeline functions directly (no server needed).

``alignkit demo`` itself (the README's main command) runs end to end in the slow test.
"""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from alignkit import pipeline
from alignkit.cli import app
from alignkit.exceptions import CorpusError

COMMANDS = ["demo", "run", "evaluate", "status", "query", "transfer", "report", "serve"]
runner = CliRunner()


def _invoke(*args):
    return runner.invoke(app, list(args), catch_exceptions=True)


def test_help_everywhere():
    r = _invoke("--help")
    assert r.exit_code == 0
    for c in COMMANDS:
        assert c in r.output
    for c in COMMANDS:
        r = _invoke(c, "--help")
        assert r.exit_code == 0, (c, r.output)
        assert "Usage" in r.output
    r = _invoke("run", "--help")
    for opt in ("--store", "--runner", "--address", "--method", "--pairs", "--workers", "--gpus"):
        assert opt in r.output


@pytest.mark.parametrize("args, needle", [
    (["run", "/definitely/not/here", "--store", "/tmp/x"], "/definitely/not/here"),
    (["run", ".", "--store", "/tmp/x", "--method", "fastdtw"], "fastdtw"),
    (["run", ".", "--store", "/tmp/x", "--pairs", "ring"], "ring"),
    (["serve", ".", "--store", "/tmp/x", "--method", "ctc", "--pairs", "all"], "ctc"),
    (["run", ".", "--store", "/tmp/x", "--features", "mfcc"], "mfcc"),
])
def test_errors_are_one_clear_line(args, needle):
    r = _invoke(*args)
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1, r.output
    assert lines[0].startswith("error") and needle in lines[0]
    assert "Traceback" not in r.output


def test_sync_is_the_default_method_of_every_command():
    import inspect

    from alignkit import cli

    for cmd in (cli.run, cli.demo, cli.evaluate_cmd, cli.serve):
        assert inspect.signature(cmd).parameters["method"].default == "sync", cmd.__name__
    assert inspect.signature(cli.run).parameters["features"].default is None  # the method's features
    r = _invoke("run", "--help")
    assert "sync" in r.output


def test_debug_shows_the_exception():
    r = _invoke("--debug", "run", "/definitely/not/here", "--store", "/tmp/x")
    assert r.exit_code != 0
    assert isinstance(r.exception, CorpusError)


def test_unknown_runner_fails_before_starting_anything(tmp_path, monkeypatch):
    from alignkit.synth.demo import build_demo_corpus

    root = build_demo_corpus(tmp_path / "c", size="tiny", seed=1)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    r = _invoke("run", str(root), "--store", str(tmp_path / "s"), "--runner", "spark")
    assert r.exit_code == 1 and "runner='spark'" in r.output


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory):
    """A store filled by the pipeline functions themselves (what every flow task runs)."""
    from alignkit.synth.demo import build_demo_corpus

    base = tmp_path_factory.mktemp("cli")
    root = build_demo_corpus(base / "corpus", size="tiny", seed=2)
    store = str(base / "store")
    c = pipeline.load_corpus(str(root))
    items = pipeline.corpus_items(c)
    run_id = pipeline.start_run(store, corpus=str(root), stage="run", params={})
    for it in items:
        specs = [{"name": n, "params": {}} for n in pipeline.SYNC_FEATURES]  # what the default method reads
        assert pipeline.extract_item(store, it, features=specs, run_id=run_id)["status"] == "done"
    ann = {it["version"]: it["annotations"] for it in items}
    pairs = list(pipeline.plan_pairs(c, strategy="all"))
    for work, ps in pairs:
        assert {r["status"] for r in pipeline.align_group(store, work, ps, run_id=run_id)} == {"done"}
        assert {r["status"] for r in pipeline.evaluate_group(store, work, ps, annotations=ann,
                                                               run_id=run_id)} == {"done"}
    pipeline.finish_run(store, run_id)
    return store, items, pairs


def test_status_counts_match_the_corpus(filled_store):
    store, items, pairs = filled_store
    r = _invoke("status", store)
    assert r.exit_code == 0, r.output
    counts = {ln.split()[0]: int(ln.split()[1]) for ln in r.output.splitlines() if ln.endswith(" rows")}
    n_pairs = sum(len(p) for _, p in pairs)
    assert counts["features"] == 2 * len(items)  # chroma_stft and dlnco of each version
    assert counts["recordings"] == len(items)
    assert counts["alignments"] == n_pairs
    assert counts["failures"] == 0
    assert counts["evaluation"] > 0 and counts["evaluation"] % n_pairs == 0  # same metrics for every pair


def test_query_runs_sql_over_the_tables(filled_store):
    store, _, pairs = filled_store
    r = _invoke("query", store, "SELECT version_a, version_b FROM alignments ORDER BY 1, 2")
    assert r.exit_code == 0, r.output
    rows = [tuple(ln.split()) for ln in r.output.splitlines()[1:] if ln.strip()]
    assert rows == sorted((a, b) for _, ps in pairs for a, b in ps)
    r = _invoke("query", store, "SELECT nonsense FROM nowhere")
    assert r.exit_code == 1 and len([ln for ln in r.output.splitlines() if ln.strip()]) == 1


def test_transfer_maps_times_through_the_stored_path(filled_store):
    from alignkit.eval.metrics import transfer_times
    from alignkit.store.results import open_store

    store, _, pairs = filled_store
    work, ps = pairs[0]
    a, b = ps[-1]
    times = [0.5, 1.0, 2.5]
    r = _invoke("transfer", store, work, a, b, *map(str, times))
    assert r.exit_code == 0, r.output
    got = np.array([[float(x) for x in ln.split()] for ln in r.output.splitlines() if ln.strip()])
    al = open_store(store).read_alignment("sync", work, a, b)  # the default method
    want = transfer_times(al.path, np.array(times), frame_rate_a=al.frame_rate_a,
                          frame_rate_b=al.frame_rate_b)
    np.testing.assert_allclose(got[:, 0], times)
    np.testing.assert_allclose(got[:, 1], want, atol=1e-3)  # printed with 3 decimals


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, monkeypatch):
    """``alignkit demo`` (what ``./run.sh demo`` runs): builds, runs, prints a summary and next steps."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    r = _invoke("demo", "--out", str(tmp_path / "demo"), "--size", "tiny", "--workers", "2")
    assert r.exit_code == 0, r.output
    assert "extract" in r.output and "align" in r.output and "Next:" in r.output
    assert "alignment error at the annotated beats" in r.output
    from alignkit.store.results import open_store

    s = open_store(str(tmp_path / "demo" / "store"))
    assert len(s.list_alignments()) == 3 and len(s.read_table("failures")) == 0


def test_report_names_the_method_and_the_pairs(filled_store, tmp_path):
    store, _, pairs = filled_store
    out = tmp_path / "report.md"
    r = _invoke("report", store, "--out", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "sync" in text
    work, ps = pairs[0]
    assert work in text
