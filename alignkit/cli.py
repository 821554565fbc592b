"""The ``alignkit`` command line: thin, it only forwards arguments to the library and the flows.

``alignkit demo`` builds the demo corpus and runs it through the whole flow; ``alignkit run``
does the same for any corpus on any runner; ``status``, ``query``, ``transfer`` and
``report`` read a store; ``serve`` keeps a scheduled deployment of the corpus flow running.

Errors print as one line (``error: ...``) and exit with status 1; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(name="alignkit", help="Music alignment at corpus scale: features, DTW, flows, results.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

_STATE = {"debug": False, "verbose": False}

RunnerOpt = Annotated[str, typer.Option("--runner", "-r",
                                         help="Where tasks run: local | dask | ray | thread.")]
AddressOpt = Annotated[Optional[str], typer.Option(  # noqa: UP045 - typer needs Optional
    "--address", "-a", help="Existing cluster: Dask tcp://host:8786, Ray auto or ray://host:10001.")]
WorkersOpt = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--workers", "-w", min=1, help="Worker processes of a cluster started here (default: CPU count).")]


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
          verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Prefect logs at INFO.")] = False):
    """Music alignment at corpus scale."""
    _STATE["debug"], _STATE["verbose"] = debug, verbose
    from flows.server import quiet_environment

    quiet_environment(verbose=verbose)


def _fail(exc: BaseException) -> None:
    if _STATE["debug"]:
        raise exc
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    from alignkit.exceptions import AlignkitError

    prefix = "error" if isinstance(exc, AlignkitError) else f"error ({type(exc).__name__})"
    typer.secho(f"{prefix}: {msg}", err=True, fg="red")
    raise typer.Exit(1)


def _guard(fn):
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - one clear line unless --debug
            _fail(exc)

    return wrapper


def _progress_run(flow_fn, runner: str, address: str | None, workers: int | None, prefect_home,
                  **params) -> dict:
    """Run a flow on a runner with a rich progress bar; return its result dict."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from flows.corpus_flow import set_progress_callback
    from flows.runners import RunnerInfo, task_runner

    console = Console(stderr=True)
    info = RunnerInfo(runner)
    with Progress(TextColumn("[bold]{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        boot = progress.add_task("start-up", total=None)
        bars: dict[str, int] = {}

        def on_progress(stage, done, total):
            if stage not in bars:
                bars[stage] = progress.add_task(stage, total=total)
            progress.update(bars[stage], completed=done, total=total)

        set_progress_callback(on_progress)
        try:
            with task_runner(runner, address=address, n_workers=workers, prefect_home=prefect_home,
                             info=info) as tr:
                progress.update(boot, total=1, completed=1,
                                description="start-up")
                return flow_fn.with_options(task_runner=tr)(**params)
        finally:
            set_progress_callback(None)


def _print_summary(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title=f"run {result['run_id']} ({result['seconds']:.1f} s)")
    for col in ("stage", "done", "skipped", "failed", "tasks"):
        t.add_column(col, justify="left" if col == "stage" else "right")
    for name, s in result["stages"].items():
        t.add_row(name, str(s["done"]), str(s["skipped"]), str(s["failed"]), str(s["tasks"]))
    console.print(t)
    if result["n_failed"] or result.get("n_tasks_failed"):
        console.print(f"[yellow]{result['n_failed']} items failed[/]; see why with:\n"
                      f"  alignkit query {result['store']} \"SELECT stage, item, message FROM failures\"")
        for s in result["stages"].values():
            for f in s.get("failures", [])[:5]:
                console.print(f"  [red]{f['item']}[/]: {f['error']}")
            for e in s.get("task_errors", [])[:3]:
                console.print(f"  [red]task failed[/]: {e}")


@app.command()
@_guard
def demo(out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (corpus, store, Prefect db).")]
         = Path("demo_out"),
         runner: RunnerOpt = "local", address: AddressOpt = None, workers: WorkersOpt = None,
         size: Annotated[str, typer.Option(help="Demo corpus size: tiny | small | bench.")] = "small",
         seed: Annotated[int, typer.Option(help="Random seed of the demo corpus.")] = 0,
         method: Annotated[str, typer.Option(help="sync | dtw | mrmsdtw | softdtw.")] = "sync"):
    """Build the demo corpus, run the whole flow on it, print a summary and where to look next."""
    from alignkit.synth.demo import build_demo_corpus
    from flows.corpus_flow import run_corpus

    out = out.resolve()
    corpus_dir, store = out / "corpus", out / "store"
    t0 = time.monotonic()
    if not (corpus_dir.is_dir() and any(corpus_dir.iterdir())):
        typer.echo(f"building the demo corpus in {corpus_dir} ...", err=True)
        build_demo_corpus(corpus_dir, size=size, seed=seed)
    else:
        typer.echo(f"using the demo corpus in {corpus_dir} (delete it to rebuild)", err=True)
    t_build = time.monotonic() - t0
    result = _progress_run(run_corpus, runner, address, workers, out / "prefect",
                           corpus=str(corpus_dir), store=str(store), method=method, pairs="all")
    _print_summary(result)
    _print_eval(str(store))
    typer.echo(f"\ncorpus built in {t_build:.1f} s, flow ran in {result['seconds']:.1f} s\n"
               f"Next:\n"
               f"  alignkit status {store}\n"
               f"  alignkit query {store} \"SELECT * FROM evaluation LIMIT 10\"\n"
               f"  alignkit report {store}\n"
               f"  notebooks/ (open the results with alignkit.store.open_results('{store}'))\n"
               f"  Prefect UI: PREFECT_HOME={out / 'prefect'} prefect server start  (then http://127.0.0.1:4200)")


def _print_eval(store: str) -> None:
    """Print mean beat error and share within 100 ms per method (nothing when not evaluated)."""
    try:
        from alignkit.store import open_results

        df = open_results(store).sql(
            "SELECT method, "
            "CASE WHEN version_a = 'score' OR version_b = 'score' THEN 'score-audio' ELSE 'audio-audio' END "
            "AS pairs, count(DISTINCT version_a || '~' || version_b || work) AS n, "
            "round(avg(value) FILTER (WHERE metric = 'mean_ms'), 1) AS mean_error_ms, "
            "round(100 * avg(value) FILTER (WHERE metric = 'within_100ms'), 1) AS pct_within_100ms "
            "FROM evaluation GROUP BY 1, 2 ORDER BY 1, 2")
    except Exception as exc:  # noqa: BLE001 - no evaluation rows is fine
        if _STATE["debug"]:
            raise
        typer.echo(f"(no evaluation to show: {type(exc).__name__}: {exc})", err=True)
        return
    if len(df):
        typer.echo("\nalignment error at the annotated beats (ground truth):")
        typer.echo(df.to_string(index=False))


@app.command()
@_guard
def run(corpus: Annotated[str, typer.Argument(help="Corpus folder or manifest.")],
        store: Annotated[str, typer.Option("--store", "-s", help="Store URI (directory or fsspec URL).")],
        runner: RunnerOpt = "local", address: AddressOpt = None, workers: WorkersOpt = None,
        method: Annotated[str, typer.Option(help="sync | dtw | mrmsdtw | softdtw | ctc.")] = "sync",
        pairs: Annotated[str, typer.Option(help="all | star | score.")] = "all",
        reference: Annotated[Optional[str], typer.Option(help="Star centre version.")] = None,  # noqa: UP045
        features: Annotated[Optional[str], typer.Option(  # noqa: UP045
            help="Comma-separated extractors; the first aligns (default: what the method needs; "
                 "sync reads chroma_cqt and dlnco, added when missing).")] = None,
        group_size: Annotated[Optional[int], typer.Option(min=1, help="Pairs per task.")] = None,  # noqa: UP045
        gpus: Annotated[float, typer.Option(min=0, help="GPUs per alignment task.")] = 0.0,
        evaluate: Annotated[bool, typer.Option(help="Evaluate against annotations.")] = True,
        prefect_home: Annotated[Optional[Path], typer.Option(  # noqa: UP045
            help="PREFECT_HOME of the server started here.")] = None):
    """Extract, align and evaluate a corpus on the chosen runner (reruns compute only what is missing)."""
    from alignkit import pipeline
    from flows.corpus_flow import run_corpus

    pipeline.check_method(method, pairs)
    from flows.corpus_flow import _feature_specs

    _feature_specs(features, None, method=method)  # unknown extractors fail here too
    pipeline.load_corpus(corpus)  # a bad corpus fails here, before any server or cluster starts
    result = _progress_run(run_corpus, runner, address, workers, prefect_home, corpus=corpus, store=store,
                           features=None if features is None else features.split(","), method=method,
                           pairs=pairs, reference=reference,
                           group_size=group_size, gpus=gpus, evaluate=evaluate)
    _print_summary(result)
    if result["n_failed"] or result.get("n_tasks_failed"):
        raise typer.Exit(2)


@app.command("evaluate")
@_guard
def evaluate_cmd(corpus: Annotated[str, typer.Argument(help="Corpus folder or manifest.")],
                 store: Annotated[str, typer.Option("--store", "-s", help="Store URI.")],
                 runner: RunnerOpt = "local", address: AddressOpt = None, workers: WorkersOpt = None,
                 method: Annotated[str, typer.Option(help="Method whose alignments to evaluate.")]
                 = "sync",
                 pairs: Annotated[str, typer.Option(help="all | star | score.")] = "all"):
    """Evaluate stored alignments against the corpus annotations."""
    from flows.corpus_flow import evaluate as evaluate_flow

    result = _progress_run(evaluate_flow, runner, address, workers, None, corpus=corpus, store=store,
                           method=method, pairs=pairs)
    _print_summary(result)
    _print_eval(store)


@app.command()
@_guard
def status(store: Annotated[str, typer.Argument(help="Store URI.")]):
    """Show row counts of the store's tables and its last run."""
    from alignkit.store import open_results

    r = open_results(store)
    for table in ("recordings", "features", "alignments", "evaluation", "failures", "runs"):
        try:
            n = int(r.sql(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0])
        except Exception:  # noqa: BLE001 - a table not written yet
            n = 0
        typer.echo(f"{table:<11} {n:>8} rows")
    try:
        last = r.sql("SELECT run_id, event, stage, time FROM runs ORDER BY time DESC LIMIT 1")
        if len(last):
            row = last.iloc[0]
            typer.echo(f"last run: {row['run_id']} ({row['event']}, {row['stage']})")
    except Exception:  # noqa: BLE001
        pass


@app.command()
@_guard
def query(store: Annotated[str, typer.Argument(help="Store URI.")],
          sql: Annotated[str, typer.Argument(help="SQL over the tables (DuckDB).")],
          limit: Annotated[int, typer.Option(help="Rows to print at most.")] = 50):
    """Run SQL over a store's Parquet tables and print the result."""
    import pandas as pd

    from alignkit.store import open_results

    df = open_results(store).sql(sql)
    with pd.option_context("display.width", 160, "display.max_columns", 30, "display.max_colwidth", 60):
        typer.echo(df.head(limit).to_string(index=False) if len(df) else "(no rows)")


@app.command()
@_guard
def transfer(store: Annotated[str, typer.Argument(help="Store URI.")],
             work: Annotated[str, typer.Argument(help="Work id.")],
             a: Annotated[str, typer.Argument(help="Source version.")],
             b: Annotated[str, typer.Argument(help="Target version.")],
             times: Annotated[list[float], typer.Argument(help="Times in seconds in version A.")]):
    """Map times in version A of a work to version B through the stored alignments."""
    from alignkit.store import open_results

    out = open_results(store).transfer(work, a, b, times)
    for t, u in zip(times, out, strict=True):
        typer.echo(f"{t:.3f}\t{float(u):.3f}")


@app.command()
@_guard
def report(store: Annotated[str, typer.Argument(help="Store URI.")],
           out: Annotated[Optional[Path], typer.Option(help="Write the report here.")] = None):  # noqa: UP045
    """Write a Markdown report of a store's evaluation (delegates to alignkit.eval when it has one)."""
    try:
        from alignkit.eval.report import make_report
    except ImportError:
        make_report = _basic_report
    text = make_report(store, out=out)
    if out is None:
        typer.echo(text)
    else:
        typer.echo(f"report written to {out}")


def _basic_report(store: str, out: Path | None = None) -> str:
    """Methods x metrics, the worst pairs and the failures, as Markdown."""
    from alignkit.store import open_results

    r = open_results(store)
    summary = r.sql(
        "SELECT method, count(DISTINCT work || version_a || '~' || version_b) AS pairs, "
        "round(avg(value) FILTER (WHERE metric = 'mean_ms'), 1) AS mean_ms, "
        "round(avg(value) FILTER (WHERE metric = 'median_ms'), 1) AS median_ms, "
        "round(100 * avg(value) FILTER (WHERE metric = 'within_50ms'), 1) AS pct_50ms, "
        "round(100 * avg(value) FILTER (WHERE metric = 'within_100ms'), 1) AS pct_100ms "
        "FROM evaluation GROUP BY method ORDER BY method")
    worst = r.sql("SELECT method, work, version_a, version_b, round(value, 1) AS mean_ms FROM evaluation "
                  "WHERE metric = 'mean_ms' ORDER BY value DESC LIMIT 10")
    fails = r.sql("SELECT stage, item, error_type, message FROM failures ORDER BY time DESC LIMIT 20")
    parts = [f"# alignkit report: `{store}`", "", "## Methods", "", _md(summary), "",
             "## Worst pairs (mean absolute beat error)", "", _md(worst), "", "## Failures", "",
             _md(fails) if len(fails) else "none"]
    text = "\n".join(parts) + "\n"
    if out is not None:
        Path(out).write_text(text)
    return text


def _md(df) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "/").replace("\n", " ")[:120] for v in row) + " |")
    return "\n".join(lines)


@app.command()
@_guard
def serve(corpus: Annotated[str, typer.Argument(help="Corpus folder or manifest.")],
          store: Annotated[str, typer.Option("--store", "-s", help="Store URI.")],
          cron: Annotated[str, typer.Option(help="Cron schedule, e.g. '0 2 * * *'.")] = "0 2 * * *",
          name: Annotated[str, typer.Option(help="Deployment name.")] = "alignkit-nightly",
          runner: RunnerOpt = "local", address: AddressOpt = None,
          method: Annotated[str, typer.Option(help="sync | dtw | mrmsdtw | softdtw.")] = "sync",
          pairs: Annotated[str, typer.Option(help="all | star | score.")] = "all"):
    """Serve the corpus flow as a scheduled Prefect deployment (needs PREFECT_API_URL; Ctrl-C stops)."""
    from alignkit import pipeline
    from alignkit.exceptions import BackendError
    from flows.deployments import scheduled_corpus_run

    pipeline.check_method(method, pairs)
    if not os.environ.get("PREFECT_API_URL"):
        raise BackendError("serve needs a long-running Prefect server: run `prefect server start` and set "
                           "PREFECT_API_URL=http://127.0.0.1:4200/api")
    scheduled_corpus_run.serve(name=name, cron=cron, parameters={
        "corpus": corpus, "store": store, "runner": runner, "address": address, "method": method,
        "pairs": pairs})


def main() -> None:  # pragma: no cover - python -m alignkit.cli
    """Entry point for ``python -m alignkit.cli``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
