"""The write side of the results store: Zarr v3 arrays + Parquet tables under one URI.

Open a store with :func:`open_store` (a local folder, ``file://``, ``memory://``, ``s3://``,
``gs://`` ... through fsspec) and use the :class:`ResultsStore` methods. The layout and every
key live in :mod:`alignkit.store.keys`, the table schemas in :mod:`alignkit.store.tables`.

Items and completion
--------------------
A *features item* is one extractor's output for one version; an *alignment item* is one
method's result for one pair of versions. Each is a Zarr group whose attribute
``alignkit_complete`` is set to true **last**, after its arrays and its table row. Readers
only see complete items; a partially written item (a writer killed mid-write) is invisible
and is deleted and rewritten by the next writer. Each item stores a *skip key*, by default
``item_key(input content hash, parameter hash, code version)``; ``features_complete`` /
``alignment_complete`` return True only for a complete item whose key matches, so a rerun
skips exactly the items whose inputs, parameters and code are unchanged.

Different processes may write different items at the same time (tested with four
processes); two writers of the *same* item at once are not supported (the flows never
schedule that). Writers open Zarr with ``use_consolidated=False``; :meth:`ResultsStore.compact` consolidates
the Zarr metadata once and compacts the Parquet tables at the end of a run.

API
---
``open_store(uri, *, storage_options=None) -> ResultsStore``

``ResultsStore.write_features(work, version, features, *, source_hash, code_version=None,
extractor=None, key=None, dtype="float32", chunk_frames=4096, source_path=None, kind=None,
attrs=None) -> str`` (the key); ``features_complete(work, version, extractor, *, key=None,
source_hash=None, params_hash=None, code_version=None) -> bool``; ``features_key(...)``;
``read_features(work, version, extractor) -> Features``; ``list_features() -> DataFrame``.

``ResultsStore.write_alignment(method, work, version_a, version_b, result=None, *, path, cost,
frame_rate_a, frame_rate_b, soft=None, confidence=None, attrs=None, key=None, input_hash=None,
params=None, feature=None, code_version=None, n_frames_a=None, n_frames_b=None,
soft_cap=2**24, soft_half_width=32) -> str``; ``alignment_complete(method, work, version_a,
version_b, *, key=None, input_hash=None, params=None, code_version=None) -> bool``;
``read_alignment(...) -> StoredAlignment``; ``list_alignments() -> DataFrame``.

``ResultsStore.write_table_rows(table, rows, *, task_id) -> str``; ``read_table(table)``;
``record_failure(item, stage, error, *, task_id, ...)``; ``start_run(...)`` /
``finish_run(...)``; ``compact(*, stale_after_s=3600) -> dict``; ``remove_stale_temporaries(...)``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import traceback as _tb
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alignkit.exceptions import ParameterError, StoreError
from alignkit.features.base import jsonable
from alignkit.store import keys
from alignkit.store import tables as _tables

__all__ = ["ResultsStore", "StoredAlignment", "open_store", "library_versions", "code_version"]


# ----------------------------------------------------------------------------- versions


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape stored results (recorded in every item)."""
    from importlib import metadata

    out = {}
    for pkg in ("alignkit", "numpy", "numba", "librosa", "zarr", "pyarrow", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def _default_code_version() -> str:
    """Default code version in skip keys: alignkit's package version."""
    return library_versions().get("alignkit", "0+unknown")


code_version = _default_code_version


def _json_clean(d) -> Any:
    return json.loads(json.dumps(d, default=jsonable, sort_keys=True))


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


# ----------------------------------------------------------------------------- alignment record


@dataclass
class StoredAlignment:
    """An alignment read back from the store.

    Attributes
    ----------
    path : np.ndarray [shape=(L, 2), dtype=int64]
        Column 0 = frame in A (``version_a``), column 1 = frame in B.
    cost : float
    frame_rate_a, frame_rate_b : float
    confidence : np.ndarray [shape=(n_frames_a,)] or None
    soft : np.ndarray [shape=(n_frames_a, n_frames_b), dtype=float32] or None
        Dense soft alignment, when stored densely.
    soft_band : np.ndarray [shape=(n_frames_a, 2w+1)] or None
        Banded soft alignment: row ``i`` holds columns ``soft_offset[i] + k``.
    soft_offset : np.ndarray [shape=(n_frames_a,)] or None
    attrs : dict
        Everything stored with the item (ids, params, hashes, library versions, ...).

    Also readable like a dict (``al["path"]``, ``al.get("feature")``).
    """

    method: str
    work: str
    version_a: str
    version_b: str
    path: np.ndarray
    cost: float
    frame_rate_a: float
    frame_rate_b: float
    n_frames_a: int
    n_frames_b: int
    confidence: np.ndarray | None = None
    soft: np.ndarray | None = None
    soft_band: np.ndarray | None = None
    soft_offset: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)

    def __getitem__(self, k):
        if hasattr(self, k) and k != "attrs":
            return getattr(self, k)
        return self.attrs[k]

    def get(self, k, default=None):
        """Dict-style access to fields and attributes."""
        try:
            return self[k]
        except KeyError:
            return default

    @property
    def feature(self) -> str | None:
        """The features the alignment was computed on (extractor slot name), if recorded."""
        return self.attrs.get("feature")

    def soft_matrix(self) -> np.ndarray | None:
        """Return the soft alignment as a dense float32 ``(n_frames_a, n_frames_b)`` matrix (or None)."""
        if self.soft is not None:
            return self.soft
        if self.soft_band is None:
            return None
        out = np.zeros((self.n_frames_a, self.n_frames_b), dtype=np.float32)
        w = self.soft_band.shape[1]
        for i in range(self.n_frames_a):
            o = int(self.soft_offset[i])
            n = min(w, self.n_frames_b - o)
            out[i, o : o + n] = self.soft_band[i, :n]
        return out

    def time_map(self, *, strict: bool = True):
        """:class:`alignkit.align.paths.TimeMap` A -> B of this path."""
        from alignkit.align.paths import TimeMap

        return TimeMap.from_path(self.path, self.frame_rate_a, self.frame_rate_b, strict=strict)


# ----------------------------------------------------------------------------- the store


def open_store(
    uri: str | os.PathLike, *, storage_options: dict | None = None, read_only: bool = False
) -> ResultsStore:
    """Open (creating if needed) the results store at ``uri``.

    Parameters
    ----------
    uri : str or os.PathLike
        Local folder, ``file://...``, ``memory://...`` or any fsspec URL (``s3://bucket/x``).
    storage_options : dict, optional
        Passed to fsspec (credentials, endpoint).
    read_only : bool
        Refuse writes.
    """
    return ResultsStore(uri, storage_options=storage_options, read_only=read_only)


class ResultsStore:
    """Arrays and tables of one results location. See the module docstring for the API."""

    def __init__(
        self, uri: str | os.PathLike, *, storage_options: dict | None = None, read_only: bool = False
    ):
        import fsspec

        self.uri = os.fspath(uri)
        self.storage_options = dict(storage_options or {})
        self.read_only = read_only
        try:
            fs, path = fsspec.core.url_to_fs(self.uri, **self.storage_options)
        except (ImportError, ValueError) as exc:
            raise StoreError(f"cannot open store {self.uri!r}: {exc}") from exc
        self.fs = fs
        self.root = path.rstrip("/") if path not in ("/", "") else path
        self._local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
        if self._local:
            self.root = os.path.abspath(self.root)
        self._zstore_cache = None
        if not read_only:
            self._ensure_layout()
        elif not self.fs.exists(self._p(keys.LAYOUT_FILE)):
            raise StoreError(f"{self.uri!r} is not an alignkit results store (no {keys.LAYOUT_FILE})")

    def __repr__(self) -> str:
        return f"ResultsStore({self.uri!r})"

    def __getstate__(self):  # picklable for Dask/Ray: reopen on the other side
        return {"uri": self.uri, "storage_options": self.storage_options, "read_only": self.read_only}

    def __setstate__(self, state):
        self.__init__(state["uri"], storage_options=state["storage_options"], read_only=state["read_only"])

    # ------------------------------------------------------------------ plumbing
    def _p(self, rel: str) -> str:
        return f"{self.root}/{rel}" if self.root else rel

    def _ensure_layout(self) -> None:
        marker = self._p(keys.LAYOUT_FILE)
        try:
            if not self.fs.exists(marker):
                self.fs.makedirs(self.root or "/", exist_ok=True)
                tmp = f"{marker}.{uuid.uuid4().hex}.tmp"
                with self.fs.open(tmp, "wb") as fh:
                    fh.write(json.dumps({"layout": keys.LAYOUT_VERSION, "created": _now()}).encode())
                self.fs.mv(tmp, marker)
            else:
                with self.fs.open(marker, "rb") as fh:
                    doc = json.loads(fh.read())
                if doc.get("layout") != keys.LAYOUT_VERSION:
                    raise StoreError(
                        f"store {self.uri!r} has layout {doc.get('layout')!r}, "
                        f"this alignkit writes layout {keys.LAYOUT_VERSION}"
                    )
        except OSError as exc:
            raise StoreError(f"cannot open store {self.uri!r}: {exc}") from exc

    @property
    def _zstore(self):
        if self._zstore_cache is None:
            from zarr.storage import FsspecStore, LocalStore

            arrays = self._p(keys.ARRAYS)
            if self._local:
                os.makedirs(arrays, exist_ok=True)
                self._zstore_cache = LocalStore(arrays, read_only=self.read_only)
            else:
                url = self.uri.rstrip("/") + "/" + keys.ARRAYS
                self._zstore_cache = FsspecStore.from_url(
                    url, storage_options=self.storage_options or None, read_only=self.read_only
                )
        return self._zstore_cache

    def _check_writable(self):
        if self.read_only:
            raise StoreError(f"store {self.uri!r} is open read-only")

    def _open_item(self, item: str):
        """Return the item's Zarr group if it exists and is complete, else None."""
        import zarr

        meta = self._item_json(item)
        if meta is None or not meta.get("attributes", {}).get(keys.ATTR_COMPLETE):
            return None
        return zarr.open_group(self._zstore, path=item, mode="r", use_consolidated=False)

    def _item_json(self, item: str) -> dict | None:
        try:
            with self.fs.open(self._p(f"{keys.ARRAYS}/{item}/zarr.json"), "rb") as fh:
                return json.loads(fh.read())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _fresh_group(self, item: str, meta: dict):
        """Delete whatever is at ``item`` and create an empty, incomplete group there."""
        import zarr

        full = self._p(f"{keys.ARRAYS}/{item}")
        js = self._item_json(item)
        if js is not None and js.get("attributes", {}).get(keys.ATTR_COMPLETE):
            # withdraw the completion marker first (one atomic write): a writer killed while
            # deleting the old arrays must not leave a "complete" item with missing chunks
            old = zarr.open_group(self._zstore, path=item, mode="r+", use_consolidated=False)
            old.attrs[keys.ATTR_COMPLETE] = False
        if self.fs.exists(full):
            self.fs.rm(full, recursive=True)
        attrs = {keys.ATTR_META: meta, keys.ATTR_COMPLETE: False}
        for attempt in range(5):  # parents may be created by another process at the same time
            try:
                return zarr.create_group(self._zstore, path=item, overwrite=True, attributes=attrs)
            except (FileExistsError, zarr.errors.ContainsGroupError, zarr.errors.ContainsArrayError):
                if attempt == 4:
                    raise
        raise StoreError(f"cannot create item {item}")  # pragma: no cover

    def _mark_complete(self, group, key: str) -> None:
        group.attrs.update({keys.ATTR_KEY: key, keys.ATTR_COMPLETE: True})

    def _stage_item_row(self, table: str, item: str, row: dict) -> None:
        _tables.write_rows(self.fs, self.root, table, [row], task_id=keys.task_id_for(item))

    # ------------------------------------------------------------------ features
    def write_features(
        self,
        work: str,
        version: str,
        features,
        *,
        source_hash: str | None,
        code_version: str | None = None,
        extractor: str | None = None,
        key: str | None = None,
        dtype: str = "float32",
        chunk_frames: int = 4096,
        source_path: str | None = None,
        kind: str | None = None,
        attrs: dict | None = None,
    ) -> str:
        """Store one version's features; return the item's skip key.

        Parameters
        ----------
        work, version : str
        features : alignkit.features.base.Features
            Values ``(n_frames, n_dims)``, finite.
        source_hash : str or None
            Content hash of the input file (see :func:`alignkit.io.files.content_hash`);
            computed from ``source_path`` when None and a path is given.
        code_version : str, optional
            Default: alignkit's version.
        extractor : str, optional
            Slot name in the store (default ``features.name``).
        key : str, optional
            Explicit skip key (default ``item_key(source_hash, features.hash, code_version)``).
        dtype : {"float32", "float16"}
        chunk_frames : int
            Frames per chunk.
        source_path, kind : str, optional
            Recorded in the attributes and the ``features`` table.
        attrs : dict, optional
            Extra JSON-able attributes.

        Raises
        ------
        ParameterError
            Not a Features object, empty or non-finite values, bad dtype or chunk size.
        """
        from alignkit.features.base import Features

        self._check_writable()
        if not isinstance(features, Features):
            raise ParameterError(
                f"features must be an alignkit Features object, got {type(features).__name__}"
            )
        if dtype not in ("float32", "float16"):
            raise ParameterError(f"dtype={dtype!r} is not one of ['float32', 'float16']")
        if not isinstance(chunk_frames, int) or chunk_frames < 1:
            raise ParameterError(f"chunk_frames={chunk_frames!r} must be a positive integer")
        values = np.asarray(features.values)
        if values.shape[0] < 1 or values.shape[1] < 1:
            raise ParameterError(f"features of {work}:{version} are empty (shape {values.shape})")
        if not np.all(np.isfinite(values)):
            raise ParameterError(f"features of {work}:{version} hold NaN or inf")
        if source_hash is None and source_path is not None:
            from alignkit.io.files import content_hash

            source_hash = content_hash(source_path)
        ext = extractor or features.name
        cv = code_version if code_version is not None else _default_code_version()
        key = key or keys.item_key(source_hash, features.hash, cv)
        item = keys.features_item(ext, work, version)
        meta = _json_clean(
            {
                "work": work,
                "version": version,
                "extractor": ext,
                "name": features.name,
                "frame_rate": float(features.frame_rate),
                "params": features.params,
                "params_hash": features.hash,
                "source_hash": source_hash,
                "source_path": None if source_path is None else os.fspath(source_path),
                "kind": kind,
                "code_version": cv,
                "dim_labels": None if features.dim_labels is None else list(features.dim_labels),
                "n_frames": int(values.shape[0]),
                "n_dims": int(values.shape[1]),
                "dtype": dtype,
                "library_versions": library_versions(),
                "created": _now(),
                "extra": attrs or {},
            }
        )
        g = self._fresh_group(item, meta)
        chunks = (min(chunk_frames, values.shape[0]), values.shape[1])
        arr = g.create_array(
            keys.VALUES,
            shape=values.shape,
            chunks=chunks,
            dtype=dtype,
            dimension_names=("time", "dim"),
            fill_value=np.nan,
            attributes={"frame_rate": float(features.frame_rate), "units": "frames"},
        )
        _write_blocks(arr, values.astype(dtype, copy=False), chunks[0])
        self._stage_item_row(
            "features",
            item,
            {
                "work": work,
                "version": version,
                "extractor": ext,
                "key": key,
                "name": features.name,
                "params": meta["params"],
                "params_hash": features.hash,
                "frame_rate": float(features.frame_rate),
                "n_frames": int(values.shape[0]),
                "n_dims": int(values.shape[1]),
                "dtype": dtype,
                "source_hash": source_hash,
                "source_path": meta["source_path"],
                "kind": kind,
                "code_version": cv,
                "store_path": item,
                "time": _dt.datetime.now(_dt.UTC),
            },
        )
        self._mark_complete(g, key)
        return key

    def features_key(self, work: str, version: str, extractor: str) -> str | None:
        """Skip key of a complete features item (None when absent or incomplete)."""
        js = self._item_json(keys.features_item(extractor, work, version))
        if js is None:
            return None
        at = js.get("attributes", {})
        return at.get(keys.ATTR_KEY) if at.get(keys.ATTR_COMPLETE) else None

    def features_complete(
        self,
        work: str,
        version: str,
        extractor: str,
        *,
        key: str | None = None,
        source_hash: str | None = None,
        params_hash: str | None = None,
        code_version: str | None = None,
    ) -> bool:
        """Whether a complete features item exists and matches.

        Pass either the skip ``key`` or its parts (``source_hash``, ``params_hash``,
        ``code_version``; the default code version is alignkit's). With neither, any
        complete item counts.
        """
        stored = self.features_key(work, version, extractor)
        if stored is None:
            return False
        if key is None and (source_hash is not None or params_hash is not None):
            cv = code_version if code_version is not None else _default_code_version()
            key = keys.item_key(source_hash, params_hash, cv)
        return key is None or stored == key

    def has_features(self, work: str, version: str, extractor: str, *, key: str | None = None) -> bool:
        """Alias of :meth:`features_complete` with a key."""
        return self.features_complete(work, version, extractor, key=key)

    def features_attrs(self, work: str, version: str, extractor: str) -> dict:
        """Return the stored metadata of a complete features item."""
        js = self._item_json(keys.features_item(extractor, work, version))
        if js is None or not js.get("attributes", {}).get(keys.ATTR_COMPLETE):
            raise StoreError(f"features {extractor!r} of {work}:{version} are missing from {self.uri}")
        return dict(js["attributes"][keys.ATTR_META])

    def read_features(self, work: str, version: str, extractor: str):
        """Read a complete features item back as :class:`~alignkit.features.base.Features`.

        Raises
        ------
        StoreError
            The item is missing or incomplete.
        """
        from alignkit.features.base import Features

        g = self._open_item(keys.features_item(extractor, work, version))
        if g is None:
            raise StoreError(f"features {extractor!r} of {work}:{version} are missing from {self.uri}")
        meta = g.attrs[keys.ATTR_META]
        vals = np.asarray(g[keys.VALUES][...], dtype=np.float32)
        labels = meta.get("dim_labels")
        return Features(
            values=vals,
            frame_rate=float(meta["frame_rate"]),
            name=meta["name"],
            params=dict(meta.get("params") or {}),
            dim_labels=tuple(labels) if labels else None,
        )

    # ------------------------------------------------------------------ alignments
    def write_alignment(
        self,
        method: str,
        work: str,
        version_a: str,
        version_b: str,
        result=None,
        *,
        path=None,
        cost: float | None = None,
        frame_rate_a: float,
        frame_rate_b: float,
        soft=None,
        confidence=None,
        attrs: dict | None = None,
        key: str | None = None,
        input_hash: str | None = None,
        params: dict | None = None,
        options: dict | None = None,
        feature: str | None = None,
        code_version: str | None = None,
        n_frames_a: int | None = None,
        n_frames_b: int | None = None,
        soft_cap: int = 2**24,
        soft_half_width: int = 32,
    ) -> str:
        """Store one pair's alignment; return the item's skip key.

        Parameters
        ----------
        method, work, version_a, version_b : str
        result : object, optional
            An alignment result with ``path`` and ``cost`` (and optionally ``soft`` /
            ``confidence``) attributes or keys, instead of passing them one by one.
        path : array-like [shape=(L, 2)]
            Monotone, column 0 in A's frames (see :mod:`alignkit.align.paths`); stored int32.
        cost : float
            Total alignment cost.
        frame_rate_a, frame_rate_b : float
        soft : np.ndarray [shape=(n_frames_a, n_frames_b)], optional
            Soft alignment matrix. Stored densely as float16 when it has at most ``soft_cap``
            cells, else as a band of ``2 * soft_half_width + 1`` cells per row around the path.
        confidence : np.ndarray [shape=(n_frames_a,)], optional
            Per-frame confidence; derived from ``soft`` when omitted (share of row ``i``'s
            soft mass on the path's cells).
        key : str, optional
            Skip key (default ``item_key(input_hash, params_hash(method, params), code_version)``).
        params, options : dict, optional
            Method parameters (recorded; ``options`` is an alias).
        feature : str, optional
            Features the alignment was computed on (extractor slot name).
        n_frames_a, n_frames_b : int, optional
            Sequence lengths (default: from ``soft`` or the path's extent).

        Raises
        ------
        ParameterError
            Bad path, non-finite cost, shapes that disagree.
        """
        from alignkit.align.paths import validate_path
        from alignkit.features.base import params_hash as _ph

        self._check_writable()
        if result is not None:
            path = _pick(result, "path") if path is None else path
            cost = _pick(result, "cost", "total_cost", "distance") if cost is None else cost
            soft = _pick(result, "soft", "E", "expected_alignment") if soft is None else soft
            confidence = _pick(result, "confidence") if confidence is None else confidence
        if path is None:
            raise ParameterError("write_alignment needs a path (or a result with one)")
        p = validate_path(path, continuous=False, boundary=False)
        if p.max() >= 2**31:
            raise ParameterError("path indices exceed the int32 range")
        cost = float("nan") if cost is None else float(cost)
        if not np.isfinite(cost) and not np.isnan(cost):
            raise ParameterError(f"cost={cost!r} must be finite")
        for nm, r in (("frame_rate_a", frame_rate_a), ("frame_rate_b", frame_rate_b)):
            if not np.isfinite(r) or r <= 0:
                raise ParameterError(f"{nm}={r!r} must be a positive finite number")
        params = dict(params if params is not None else (options or {}))
        if soft is not None:
            soft = np.asarray(soft, dtype=np.float32)
            if soft.ndim != 2:
                raise ParameterError(f"soft must be 2-D (n_frames_a, n_frames_b), got shape {soft.shape}")
            n_frames_a = soft.shape[0] if n_frames_a is None else n_frames_a
            n_frames_b = soft.shape[1] if n_frames_b is None else n_frames_b
            if soft.shape != (n_frames_a, n_frames_b):
                raise ParameterError(f"soft has shape {soft.shape}, expected {(n_frames_a, n_frames_b)}")
        n_frames_a = int(p[:, 0].max()) + 1 if n_frames_a is None else int(n_frames_a)
        n_frames_b = int(p[:, 1].max()) + 1 if n_frames_b is None else int(n_frames_b)
        if p[:, 0].max() >= n_frames_a or p[:, 1].max() >= n_frames_b:
            raise ParameterError(f"path leaves the {n_frames_a} x {n_frames_b} grid")
        if confidence is None and soft is not None:
            confidence = _confidence_from_soft(soft, p)
        if confidence is not None:
            confidence = np.asarray(confidence, dtype=np.float32).reshape(-1)
            if confidence.shape != (n_frames_a,):
                raise ParameterError(f"confidence has shape {confidence.shape}, expected ({n_frames_a},)")
        cv = code_version if code_version is not None else _default_code_version()
        ph = _ph(method, params)
        key = key or keys.item_key(input_hash, ph, cv)
        item = keys.alignment_item(method, work, version_a, version_b)
        soft_mode = "none" if soft is None else ("dense" if soft.size <= soft_cap else "banded")
        meta = _json_clean(
            {
                "method": method,
                "work": work,
                "version_a": version_a,
                "version_b": version_b,
                "cost": cost,
                "frame_rate_a": float(frame_rate_a),
                "frame_rate_b": float(frame_rate_b),
                "n_frames_a": n_frames_a,
                "n_frames_b": n_frames_b,
                "path_length": int(len(p)),
                "params": params,
                "params_hash": ph,
                "input_hash": input_hash,
                "feature": feature,
                "code_version": cv,
                "soft": soft_mode,
                "library_versions": library_versions(),
                "created": _now(),
                "extra": attrs or {},
            }
        )
        g = self._fresh_group(item, meta)
        pa_ = g.create_array(
            keys.PATH,
            shape=p.shape,
            chunks=(min(len(p), 65536), 2),
            dtype="int32",
            dimension_names=("step", "axis"),
            fill_value=-1,
        )
        _write_blocks(pa_, p.astype(np.int32), 65536)
        if confidence is not None:
            c = g.create_array(
                keys.CONFIDENCE,
                shape=confidence.shape,
                chunks=(min(n_frames_a, 65536),),
                dtype="float32",
                dimension_names=("time_a",),
                fill_value=np.nan,
            )
            c[...] = confidence
        if soft_mode == "dense":
            s = g.create_array(
                keys.SOFT,
                shape=soft.shape,
                chunks=(min(512, n_frames_a), min(512, n_frames_b)),
                dtype="float16",
                dimension_names=("time_a", "time_b"),
                fill_value=0.0,
            )
            _write_blocks(s, soft.astype(np.float16), 512)
        elif soft_mode == "banded":
            band, offset = _band(soft, p, soft_half_width)
            s = g.create_array(
                keys.SOFT_BAND,
                shape=band.shape,
                chunks=(min(4096, n_frames_a), band.shape[1]),
                dtype="float16",
                dimension_names=("time_a", "band"),
                fill_value=0.0,
            )
            _write_blocks(s, band.astype(np.float16), 4096)
            o = g.create_array(
                keys.SOFT_OFFSET,
                shape=offset.shape,
                chunks=(min(65536, n_frames_a),),
                dtype="int32",
                dimension_names=("time_a",),
                fill_value=-1,
            )
            o[...] = offset
        self._stage_item_row(
            "alignments",
            item,
            {
                "method": method,
                "work": work,
                "version_a": version_a,
                "version_b": version_b,
                "key": key,
                "feature": feature,
                "cost": cost,
                "path_length": int(len(p)),
                "n_frames_a": n_frames_a,
                "n_frames_b": n_frames_b,
                "frame_rate_a": float(frame_rate_a),
                "frame_rate_b": float(frame_rate_b),
                "soft": soft_mode,
                "params": meta["params"],
                "code_version": cv,
                "store_path": item,
                "time": _dt.datetime.now(_dt.UTC),
            },
        )
        self._mark_complete(g, key)
        return key

    def alignment_key(self, method: str, work: str, version_a: str, version_b: str) -> str | None:
        """Skip key of a complete alignment item (None when absent or incomplete)."""
        js = self._item_json(keys.alignment_item(method, work, version_a, version_b))
        if js is None:
            return None
        at = js.get("attributes", {})
        return at.get(keys.ATTR_KEY) if at.get(keys.ATTR_COMPLETE) else None

    def alignment_complete(
        self,
        method: str,
        work: str,
        version_a: str,
        version_b: str,
        *,
        key: str | None = None,
        input_hash: str | None = None,
        params: dict | None = None,
        code_version: str | None = None,
    ) -> bool:
        """Whether a complete alignment item exists and matches.

        Pass the skip ``key``, or its parts as given to :meth:`write_alignment`
        (``input_hash``, ``params``, ``code_version``); with neither, any complete item counts.
        """
        from alignkit.features.base import params_hash as _ph

        stored = self.alignment_key(method, work, version_a, version_b)
        if stored is None:
            return False
        if key is None and (input_hash is not None or params is not None):
            cv = code_version if code_version is not None else _default_code_version()
            key = keys.item_key(input_hash, _ph(method, dict(params or {})), cv)
        return key is None or stored == key

    def has_alignment(
        self, method: str, work: str, version_a: str, version_b: str, *, key: str | None = None
    ) -> bool:
        """Alias of :meth:`alignment_complete`."""
        return self.alignment_complete(method, work, version_a, version_b, key=key)

    def read_alignment(
        self, method: str, work: str, version_a: str, version_b: str, *, soft: bool = True
    ) -> StoredAlignment:
        """Read a complete alignment item (exactly as stored: A = ``version_a``).

        Raises
        ------
        StoreError
            The item is missing or incomplete.
        """
        g = self._open_item(keys.alignment_item(method, work, version_a, version_b))
        if g is None:
            raise StoreError(
                f"alignment {method!r} of {work}:{version_a}~{version_b} is missing from {self.uri}"
            )
        meta = dict(g.attrs[keys.ATTR_META])
        names = set(g.array_keys())

        def arr(name, dtype):
            return np.asarray(g[name][...], dtype=dtype) if name in names else None

        return StoredAlignment(
            method=method,
            work=work,
            version_a=version_a,
            version_b=version_b,
            path=arr(keys.PATH, np.int64),
            cost=float(meta["cost"]) if meta.get("cost") is not None else np.nan,
            frame_rate_a=float(meta["frame_rate_a"]),
            frame_rate_b=float(meta["frame_rate_b"]),
            n_frames_a=int(meta["n_frames_a"]),
            n_frames_b=int(meta["n_frames_b"]),
            confidence=arr(keys.CONFIDENCE, np.float32),
            soft=arr(keys.SOFT, np.float32) if soft else None,
            soft_band=arr(keys.SOFT_BAND, np.float32) if soft else None,
            soft_offset=arr(keys.SOFT_OFFSET, np.int64) if soft else None,
            attrs=meta,
        )

    # ------------------------------------------------------------------ listings
    def _complete_items(self, prefix: str, depth: int) -> list[tuple[tuple[str, ...], dict]]:
        base = self._p(f"{keys.ARRAYS}/{prefix}")
        pattern = base + "/*" * depth + "/zarr.json"
        try:
            found = sorted(self.fs.glob(pattern))
        except FileNotFoundError:
            return []
        if not found:
            return []
        blobs = self.fs.cat(found, on_error="omit")
        out = []
        for f in found:
            raw = blobs.get(f) if isinstance(blobs, dict) else None
            if raw is None:
                continue
            try:
                at = json.loads(raw).get("attributes", {})
            except json.JSONDecodeError:
                continue
            if at.get(keys.ATTR_COMPLETE):
                segs = f[len(base) + 1 :].split("/")[:-1]
                out.append((tuple(keys.decode(s) for s in segs), at))
        return out

    def list_features(self):
        """Return the complete features items (extractor, work, version, frame rate, shape, key)."""
        import pandas as pd

        rows = [
            {
                "extractor": ids[0],
                "work": ids[1],
                "version": ids[2],
                "frame_rate": at[keys.ATTR_META].get("frame_rate"),
                "n_frames": at[keys.ATTR_META].get("n_frames"),
                "n_dims": at[keys.ATTR_META].get("n_dims"),
                "key": at.get(keys.ATTR_KEY),
            }
            for ids, at in self._complete_items(keys.FEATURES, 3)
        ]
        return pd.DataFrame(
            rows, columns=["extractor", "work", "version", "frame_rate", "n_frames", "n_dims", "key"]
        )

    def list_alignments(self):
        """Complete alignment items: DataFrame with method, work, version_a, version_b, cost, feature, key."""
        import pandas as pd

        rows = [
            {
                "method": ids[0],
                "work": ids[1],
                "version_a": ids[2],
                "version_b": ids[3],
                "cost": at[keys.ATTR_META].get("cost"),
                "feature": at[keys.ATTR_META].get("feature"),
                "frame_rate_a": at[keys.ATTR_META].get("frame_rate_a"),
                "frame_rate_b": at[keys.ATTR_META].get("frame_rate_b"),
                "key": at.get(keys.ATTR_KEY),
            }
            for ids, at in self._complete_items(keys.ALIGNMENTS, 4)
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "method",
                "work",
                "version_a",
                "version_b",
                "cost",
                "feature",
                "frame_rate_a",
                "frame_rate_b",
                "key",
            ],
        )

    # ------------------------------------------------------------------ tables
    def write_table_rows(self, table: str, rows, *, task_id: str) -> str:
        """Write one task's rows of ``table`` (one Parquet file per task, schema-checked).

        A retried task with the same ``task_id`` replaces its earlier file. Returns the file path.

        Raises
        ------
        ParameterError
            Unknown table, rows not matching the schema (see :mod:`alignkit.store.tables`).
        """
        self._check_writable()
        if not isinstance(task_id, str) or not task_id:
            raise ParameterError(f"task_id={task_id!r} must be a non-empty string")
        return _tables.write_rows(self.fs, self.root, table, rows, task_id=task_id)

    def write_table(self, table: str, rows, *, task_id: str | None = None) -> str:
        """Like :meth:`write_table_rows`; without ``task_id`` every call gets its own file."""
        return self.write_table_rows(table, rows, task_id=task_id or f"auto-{uuid.uuid4().hex}")

    def read_table(self, table: str):
        """All current rows of ``table`` as a pandas DataFrame (partition columns as str)."""
        return _to_pandas(_tables.read_table(self.fs, self.root, table))

    def table_dataset(self, table: str):
        """Lazy :class:`pyarrow.dataset.Dataset` over the current rows of ``table``."""
        return _tables.dataset(self.fs, self.root, table)

    def record_failure(
        self,
        item: str,
        stage: str,
        error: BaseException | str,
        *,
        task_id: str | None = None,
        run_id: str | None = None,
        work: str | None = None,
    ) -> str:
        """Write one row to the ``failures`` table (error type, message, traceback, time)."""
        if isinstance(error, BaseException):
            etype, msg = type(error).__name__, str(error)
            tb = "".join(_tb.format_exception(type(error), error, error.__traceback__))[-8000:]
        else:
            etype, msg, tb = "Error", str(error), None
        row = {
            "item": item,
            "stage": stage,
            "error_type": etype,
            "message": msg or etype,
            "time": _dt.datetime.now(_dt.UTC),
            "work": work,
            "run_id": run_id,
            "traceback": tb,
        }
        return self.write_table("failures", [row], task_id=task_id)

    def start_run(
        self,
        run_id: str | None = None,
        *,
        params: dict | None = None,
        corpus: str | None = None,
        stage: str | None = None,
    ) -> str:
        """Record the start of a run in the ``runs`` table; return the run id."""
        run_id = run_id or (_dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6])
        self.write_table_rows(
            "runs",
            [
                {
                    "run_id": run_id,
                    "event": "start",
                    "stage": stage,
                    "corpus": None if corpus is None else str(corpus),
                    "params": params or {},
                    "versions": library_versions(),
                    "code_version": _default_code_version(),
                    "alignkit_version": library_versions().get("alignkit"),
                    "time": _dt.datetime.now(_dt.UTC),
                }
            ],
            task_id=f"run-{run_id}-start",
        )
        return run_id

    def finish_run(self, run_id: str, *, compact: bool = True) -> dict:
        """Record the end of a run and (by default) compact the store."""
        self.write_table_rows(
            "runs",
            [
                {
                    "run_id": run_id,
                    "event": "finish",
                    "versions": library_versions(),
                    "code_version": _default_code_version(),
                    "alignkit_version": library_versions().get("alignkit"),
                    "time": _dt.datetime.now(_dt.UTC),
                }
            ],
            task_id=f"run-{run_id}-finish",
        )
        return self.compact() if compact else {}

    def compact(self, *, stale_after_s: float = 3600.0) -> dict[str, int]:
        """Compact every table into its partitioned dataset and consolidate the Zarr metadata once.

        Temporary files that killed writers left behind (``.tmp-*`` staging files, Zarr's
        ``*.partial`` files) are removed when older than ``stale_after_s`` seconds (only on
        filesystems that report modification times).

        Returns
        -------
        dict
            Rows per table.
        """
        import zarr

        self._check_writable()
        self.remove_stale_temporaries(older_than_s=stale_after_s)
        counts = {t: _tables.compact_table(self.fs, self.root, t) for t in _tables.TABLES}
        if self.fs.exists(self._p(f"{keys.ARRAYS}/zarr.json")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                zarr.consolidate_metadata(self._zstore)
        return counts

    def remove_stale_temporaries(self, *, older_than_s: float = 3600.0) -> int:
        """Delete temporary files of killed writers older than ``older_than_s``; return how many."""
        import time

        self._check_writable()
        patterns = [self._p(f"{keys.TABLES}/*/{keys.STAGING}/.tmp-*"), self._p(f"{keys.ARRAYS}/**/*.partial")]
        now, n = time.time(), 0
        for pat in patterns:
            try:
                found = self.fs.glob(pat)
            except (FileNotFoundError, OSError):
                continue
            for f in found:
                try:
                    info = self.fs.info(f)
                except FileNotFoundError:
                    continue
                mtime = info.get("mtime") or info.get("created")
                if hasattr(mtime, "timestamp"):
                    mtime = mtime.timestamp()
                if isinstance(mtime, (int, float)) and now - float(mtime) > older_than_s:
                    self.fs.rm(f)
                    n += 1
        return n


# ----------------------------------------------------------------------------- helpers


def _pick(obj, *names):
    for n in names:
        if isinstance(obj, dict) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    return None


def _write_blocks(arr, values: np.ndarray, block: int) -> None:
    """Write ``values`` into ``arr`` in blocks of ``block`` rows (chunk-aligned)."""
    n = values.shape[0]
    for s in range(0, n, block):
        arr[s : s + block] = values[s : s + block]


def _confidence_from_soft(soft: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Share of each row's soft mass that lies on the path's cells of that row."""
    on = np.zeros(soft.shape[0], dtype=np.float64)
    np.add.at(on, path[:, 0], soft[path[:, 0], path[:, 1]].astype(np.float64))
    tot = soft.astype(np.float64).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(tot > 0, on / tot, 0.0)
    return np.clip(conf, 0.0, 1.0).astype(np.float32)


def _band(soft: np.ndarray, path: np.ndarray, half_width: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut a band of ``2 * half_width + 1`` cells per row around the path's mean column."""
    n, m = soft.shape
    w = 2 * int(half_width) + 1
    sums = np.bincount(path[:, 0], weights=path[:, 1], minlength=n)
    cnt = np.bincount(path[:, 0], minlength=n)
    centre = np.where(cnt > 0, np.round(sums / np.maximum(cnt, 1)), np.nan)
    # rows the path skips (non-continuous paths) take the previous row's centre
    idx = np.where(np.isfinite(centre), np.arange(n), 0)
    np.maximum.accumulate(idx, out=idx)
    centre = np.nan_to_num(centre[idx], nan=0.0).astype(np.int64)
    offset = np.clip(centre - half_width, 0, max(m - w, 0)).astype(np.int32)
    band = np.zeros((n, w), dtype=np.float32)
    for i in range(n):
        seg = soft[i, offset[i] : offset[i] + w]
        band[i, : seg.shape[0]] = seg
    return band, offset


def _to_pandas(tab):
    df = tab.to_pandas()
    for c in df.columns:
        if str(df[c].dtype) == "category":
            df[c] = df[c].astype(str)
    return df
