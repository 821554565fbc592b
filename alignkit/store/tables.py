"""Parquet tables of the store: schemas (declared once, here), per-task writes, compaction, reads.

Tables
------
``recordings``   one row per version seen by a run (partitioned by work)
``features``     one row per stored features item (written by ``write_features``; by work)
``alignments``   one row per stored alignment item (written by ``write_alignment``; by method, work)
``evaluation``   one row per pair x metric x tolerance (by method, work)
``failures``     one row per failed item: item, stage, error type, message, time
``runs``         run events: run id, parameters, library versions, time

Every write is one Parquet file per task (``tables/<table>/_staging/<task_id>.parquet``),
written to a temporary name and renamed, so a reader never sees half a file and a retried
task replaces its own file. :func:`compact` rewrites all staging files of a table into one
hive-partitioned dataset; readers use it while it is current (the set of staging files is
unchanged) and fall back to the staging files otherwise, so results are never stale.

Rows are checked against the schema: unknown columns, missing required columns and values
of the wrong type raise :class:`~alignkit.exceptions.ParameterError`. A few conveniences
are applied first: ``time`` given as epoch seconds becomes a UTC timestamp; dicts and lists
in string columns are JSON-encoded; ``a``/``b`` are accepted for ``version_a``/``version_b``.
"""

from __future__ import annotations

import datetime as _dt
import json
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from alignkit.exceptions import ParameterError, StoreError
from alignkit.store import keys

__all__ = [
    "TableSpec",
    "TABLES",
    "SCHEMAS",
    "normalize_rows",
    "write_rows",
    "read_table",
    "compact_table",
    "staging_listing",
]

_TS = pa.timestamp("us", tz="UTC")


def _f(name, typ, required=False):
    return pa.field(name, typ, nullable=not required)


@dataclass(frozen=True)
class TableSpec:
    """A table's schema and partition columns (the partition columns are required strings)."""

    name: str
    schema: pa.Schema
    partition_by: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        """Columns that must be present and non-null."""
        return tuple(f.name for f in self.schema if not f.nullable)

    @property
    def file_schema(self) -> pa.Schema:
        """Schema of the compacted files (partition columns live in the directory names)."""
        return pa.schema([f for f in self.schema if f.name not in self.partition_by])


TABLES: dict[str, TableSpec] = {
    "recordings": TableSpec(
        "recordings",
        pa.schema(
            [
                _f("work", pa.string(), True),
                _f("version", pa.string(), True),
                _f("kind", pa.string()),
                _f("path", pa.string()),
                _f("content_hash", pa.string()),
                _f("duration_s", pa.float64()),
                _f("sample_rate", pa.float64()),
                _f("n_annotations", pa.int64()),
                _f("run_id", pa.string()),
                _f("task_id", pa.string(), True),
            ]
        ),
        ("work",),
    ),
    "features": TableSpec(
        "features",
        pa.schema(
            [
                _f("work", pa.string(), True),
                _f("version", pa.string(), True),
                _f("extractor", pa.string(), True),
                _f("key", pa.string(), True),
                _f("name", pa.string()),
                _f("params", pa.string()),
                _f("params_hash", pa.string()),
                _f("frame_rate", pa.float64(), True),
                _f("n_frames", pa.int64(), True),
                _f("n_dims", pa.int64(), True),
                _f("dtype", pa.string()),
                _f("source_hash", pa.string()),
                _f("source_path", pa.string()),
                _f("kind", pa.string()),
                _f("code_version", pa.string()),
                _f("store_path", pa.string(), True),
                _f("time", _TS),
                _f("task_id", pa.string(), True),
            ]
        ),
        ("work",),
    ),
    "alignments": TableSpec(
        "alignments",
        pa.schema(
            [
                _f("method", pa.string(), True),
                _f("work", pa.string(), True),
                _f("version_a", pa.string(), True),
                _f("version_b", pa.string(), True),
                _f("key", pa.string(), True),
                _f("feature", pa.string()),
                _f("cost", pa.float64()),
                _f("path_length", pa.int64()),
                _f("n_frames_a", pa.int64()),
                _f("n_frames_b", pa.int64()),
                _f("frame_rate_a", pa.float64()),
                _f("frame_rate_b", pa.float64()),
                _f("soft", pa.string()),
                _f("params", pa.string()),
                _f("code_version", pa.string()),
                _f("store_path", pa.string(), True),
                _f("time", _TS),
                _f("task_id", pa.string(), True),
            ]
        ),
        ("method", "work"),
    ),
    "evaluation": TableSpec(
        "evaluation",
        pa.schema(
            [
                _f("method", pa.string(), True),
                _f("work", pa.string(), True),
                _f("version_a", pa.string(), True),
                _f("version_b", pa.string(), True),
                _f("metric", pa.string(), True),
                _f("value", pa.float64(), True),
                _f("tolerance_s", pa.float64()),
                _f("n_events", pa.int64()),
                _f("feature", pa.string()),
                _f("run_id", pa.string()),
                _f("task_id", pa.string(), True),
            ]
        ),
        ("method", "work"),
    ),
    "failures": TableSpec(
        "failures",
        pa.schema(
            [
                _f("item", pa.string(), True),
                _f("stage", pa.string(), True),
                _f("error_type", pa.string(), True),
                _f("message", pa.string(), True),
                _f("time", _TS, True),
                _f("work", pa.string()),
                _f("run_id", pa.string()),
                _f("traceback", pa.string()),
                _f("task_id", pa.string(), True),
            ]
        ),
    ),
    "runs": TableSpec(
        "runs",
        pa.schema(
            [
                _f("run_id", pa.string(), True),
                _f("event", pa.string()),
                _f("stage", pa.string()),
                _f("corpus", pa.string()),
                _f("params", pa.string()),
                _f("versions", pa.string()),
                _f("code_version", pa.string()),
                _f("alignkit_version", pa.string()),
                _f("time", _TS, True),
                _f("task_id", pa.string(), True),
            ]
        ),
    ),
}
SCHEMAS = {k: v.schema for k, v in TABLES.items()}
_ALIASES = {"a": "version_a", "b": "version_b"}


def spec(table: str) -> TableSpec:
    """Return the :class:`TableSpec` of ``table``."""
    try:
        return TABLES[table]
    except KeyError:
        raise ParameterError(f"table={table!r} is not one of {sorted(TABLES)}") from None


def _to_ts(v):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _dt.datetime.fromtimestamp(float(v), tz=_dt.UTC)
    if isinstance(v, _dt.datetime) and v.tzinfo is None:
        return v.replace(tzinfo=_dt.UTC)
    return v


def normalize_rows(table: str, rows, *, task_id: str) -> pa.Table:
    """Check ``rows`` against the schema of ``table`` and return them as an Arrow table.

    Parameters
    ----------
    table : str
    rows : list of dict, pandas.DataFrame or pyarrow.Table
    task_id : str
        Filled into the ``task_id`` column.

    Raises
    ------
    ParameterError
        Unknown table or column, a missing or null required column, a value of the wrong type.
    """
    sp = spec(table)
    if isinstance(rows, pa.Table):
        rows = rows.to_pylist()
    elif hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        rows = rows.to_dict(orient="records")
    rows = [dict(r) for r in rows]
    names = set(sp.schema.names)
    types = {f.name: f.type for f in sp.schema}
    out = []
    for i, r in enumerate(rows):
        for alias, real in _ALIASES.items():
            if alias in r and real in names and real not in r:
                r[real] = r.pop(alias)
        unknown = sorted(set(r) - names)
        if unknown:
            raise ParameterError(
                f"table {table!r} row {i}: unknown columns {unknown} (schema: {sp.schema.names})"
            )
        r["task_id"] = task_id
        for k, v in list(r.items()):
            t = types[k]
            if pa.types.is_timestamp(t):
                r[k] = _to_ts(v)
            elif pa.types.is_string(t) and isinstance(v, (dict, list, tuple)):
                r[k] = json.dumps(v, sort_keys=True, default=str)
            elif pa.types.is_string(t) and v is not None and not isinstance(v, str):
                r[k] = str(v)
        out.append(r)
    try:
        tab = pa.Table.from_pylist(out, schema=sp.schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise ParameterError(f"table {table!r}: rows do not match the schema: {exc}") from exc
    for col in sp.required:
        if tab.column(col).null_count:
            raise ParameterError(f"table {table!r}: required column {col!r} is missing or null in some rows")
    for col in sp.partition_by:
        if any(v == "" for v in tab.column(col).to_pylist()):
            raise ParameterError(f"table {table!r}: partition column {col!r} must not be empty")
    return tab


def _join(root: str, rel: str) -> str:
    return f"{root.rstrip('/')}/{rel}" if root else rel


def write_rows(fs, root: str, table: str, rows, *, task_id: str) -> str:
    """Write one task's rows to its own staging file, atomically; return its path."""
    tab = normalize_rows(table, rows, task_id=task_id)
    final = _join(root, keys.staging_file(table, task_id))
    folder = final.rsplit("/", 1)[0]
    tmp = f"{folder}/.tmp-{uuid.uuid4().hex}.parquet"
    fs.makedirs(folder, exist_ok=True)
    try:
        with fs.open(tmp, "wb") as fh:
            pq.write_table(tab, fh)
        fs.mv(tmp, final)
    except OSError as exc:
        raise StoreError(f"cannot write table {table!r} file {final}: {exc}") from exc
    finally:
        if fs.exists(tmp):
            fs.rm(tmp)
    return final


def staging_listing(fs, root: str, table: str) -> dict[str, list]:
    """Staging files of ``table``: ``{file name: [size, version token]}`` (temporaries excluded).

    The token (modification time, ETag or creation time, whichever the filesystem reports)
    changes when a retried task replaces its file, even with the same size.
    """
    folder = _join(root, keys.staging_dir(table))
    try:
        entries = fs.ls(folder, detail=True)
    except FileNotFoundError:
        return {}
    out = {}
    for e in entries:
        name = e["name"].rstrip("/").rsplit("/", 1)[-1]
        if e.get("type") == "file" and name.endswith(".parquet") and not name.startswith("."):
            token = next(
                (e[k] for k in ("mtime", "ETag", "LastModified", "created", "updated") if e.get(k)), ""
            )
            out[name] = [int(e.get("size") or 0), token if isinstance(token, (int, float)) else str(token)]
    return out


def _partitioning(sp: TableSpec):
    if not sp.partition_by:
        return None
    return ds.partitioning(
        pa.schema([sp.schema.field(c).with_nullable(True) for c in sp.partition_by]), flavor="hive"
    )


def _marker(fs, root: str, table: str) -> dict | None:
    path = _join(root, keys.compacted_marker(table))
    try:
        with fs.open(path, "rb") as fh:
            return json.loads(fh.read())
    except FileNotFoundError:
        return None


def dataset(fs, root: str, table: str) -> ds.Dataset:
    """Return a lazy Arrow dataset over the current rows of ``table`` (empty when none)."""
    sp = spec(table)
    files = staging_listing(fs, root, table)
    mk = _marker(fs, root, table)
    schema = sp.schema
    if mk is not None and mk.get("files") == files and files:
        folder = _join(root, f"{keys.table_dir(table)}/{mk['id']}")
        try:
            return ds.dataset(
                folder, filesystem=fs, format="parquet", schema=schema, partitioning=_partitioning(sp)
            )
        except (FileNotFoundError, OSError, pa.ArrowInvalid):
            pass  # a concurrent compaction replaced that copy: the staging files are the truth
    paths = [_join(root, f"{keys.staging_dir(table)}/{n}") for n in sorted(files)]
    if not paths:
        return ds.dataset(pa.Table.from_pylist([], schema=schema))
    return ds.dataset(paths, filesystem=fs, format="parquet", schema=schema)


def read_table(fs, root: str, table: str, *, filter=None) -> pa.Table:
    """All current rows of ``table`` (optionally filtered by an Arrow expression)."""
    return dataset(fs, root, table).to_table(filter=filter)


def compact_table(fs, root: str, table: str) -> int:
    """Rewrite all staging files of ``table`` into one partitioned dataset; return its row count.

    The new copy is written under a fresh id, then the marker is replaced, then older
    copies are deleted; a reader that opened the old copy keeps working until that step.
    """
    sp = spec(table)
    files = staging_listing(fs, root, table)
    if not files:
        return 0
    mk = _marker(fs, root, table)
    if mk is not None and mk.get("files") == files:
        return int(mk.get("rows", 0))
    paths = [_join(root, f"{keys.staging_dir(table)}/{n}") for n in sorted(files)]
    tab = ds.dataset(paths, filesystem=fs, format="parquet", schema=sp.schema).to_table()
    sort_cols = [
        c
        for c in (*sp.partition_by, "version", "version_a", "version_b", "metric", "time")
        if c in tab.column_names
    ]
    if sort_cols:
        tab = tab.sort_by([(c, "ascending") for c in sort_cols])
    cid = "c-" + uuid.uuid4().hex[:12]
    folder = _join(root, f"{keys.table_dir(table)}/{cid}")
    fs.makedirs(folder, exist_ok=True)
    if sp.partition_by:
        ds.write_dataset(
            tab,
            folder,
            filesystem=fs,
            format="parquet",
            partitioning=_partitioning(sp),
            basename_template="part-{i}.parquet",
            existing_data_behavior="overwrite_or_ignore",
        )
    else:
        with fs.open(f"{folder}/part-0.parquet", "wb") as fh:
            pq.write_table(tab, fh)
    marker = _join(root, keys.compacted_marker(table))
    tmp = f"{marker}.{uuid.uuid4().hex}.tmp"
    with fs.open(tmp, "wb") as fh:
        fh.write(json.dumps({"id": cid, "files": files, "rows": tab.num_rows}).encode())
    fs.mv(tmp, marker)
    current = (_marker(fs, root, table) or {}).get("id", cid)  # another compaction may have won
    for e in fs.ls(_join(root, keys.table_dir(table)), detail=False):
        name = e.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith("c-") and name not in (cid, current):
            fs.rm(e, recursive=True)
    return tab.num_rows
