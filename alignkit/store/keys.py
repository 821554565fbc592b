"""Every key of the results store, in one place.

Layout of a store at ``<root>`` (a local folder or any fsspec URL)::

    <root>/alignkit.json                                  layout marker {"layout": LAYOUT_VERSION}
    <root>/arrays/                                        Zarr v3 hierarchy (consolidated by compact())
        features/<extractor>/<work>/<version>/            item group (attrs: ATTR_* below)
            values          float32|float16 (n_frames, n_dims), dims ("time", "dim")
        alignments/<method>/<work>/<version_a>/<version_b>/   item group
            path            int32 (L, 2), dims ("step", "axis"); column 0 = frame in A
            confidence      float32 (n_frames_a,), dims ("time_a",)            optional
            soft            float16 (n_frames_a, n_frames_b), dims ("time_a", "time_b")  optional, dense
            soft_band       float16 (n_frames_a, 2 * half_width + 1), dims ("time_a", "band") optional, banded
            soft_offset     int32 (n_frames_a,), dims ("time_a",): column of band cell 0 in row i
    <root>/tables/<table>/_staging/<task_id>.parquet      one file per task (written atomically)
    <root>/tables/<table>/_compacted.json                 which staging files the compacted copy holds
    <root>/tables/<table>/<compaction id>/<k>=<v>/...     hive-partitioned dataset (compact())

Ids (work, version, method, extractor) are arbitrary non-empty strings: they are encoded
into one path segment each with :func:`encode` (characters outside ``[A-Za-z0-9._-]``
become ``~XX`` hex bytes, so ``Bach/Fugue/bwv_848`` -> ``Bach~2FFugue~2Fbwv_848``), and the
original ids are kept in the item's attributes.

An item (one features or alignment group) is complete only when its attribute
:data:`ATTR_COMPLETE` is true; it is written last, after every array and the item's table
row. Readers ignore incomplete items; writers delete and rewrite them.
"""

from __future__ import annotations

import hashlib
import json
import re

from alignkit.exceptions import ParameterError

__all__ = [
    "LAYOUT_VERSION",
    "LAYOUT_FILE",
    "ARRAYS",
    "TABLES",
    "FEATURES",
    "ALIGNMENTS",
    "STAGING",
    "COMPACTED",
    "VALUES",
    "PATH",
    "CONFIDENCE",
    "SOFT",
    "SOFT_BAND",
    "SOFT_OFFSET",
    "ATTR_COMPLETE",
    "ATTR_KEY",
    "ATTR_META",
    "encode",
    "decode",
    "features_item",
    "alignment_item",
    "table_dir",
    "staging_dir",
    "staging_file",
    "compacted_marker",
    "item_key",
    "task_id_for",
]

LAYOUT_VERSION = 1
LAYOUT_FILE = "alignkit.json"
ARRAYS = "arrays"
TABLES = "tables"
FEATURES = "features"
ALIGNMENTS = "alignments"
STAGING = "_staging"
COMPACTED = "_compacted.json"

VALUES = "values"
PATH = "path"
CONFIDENCE = "confidence"
SOFT = "soft"
SOFT_BAND = "soft_band"
SOFT_OFFSET = "soft_offset"

#: group attribute set to True last: the completion marker of an item
ATTR_COMPLETE = "alignkit_complete"
#: group attribute holding the item's skip key (input content hash + params hash + code version)
ATTR_KEY = "alignkit_key"
#: group attribute holding the item's metadata (ids, frame rates, params, hashes, versions)
ATTR_META = "alignkit"

_SAFE = re.compile(r"[A-Za-z0-9._-]")


def encode(name: str) -> str:
    """Encode an id as one safe path segment (reversible with :func:`decode`).

    Characters outside ``[A-Za-z0-9._-]`` (and ``~``) become ``~XX`` per UTF-8 byte; a
    leading ``.`` or ``_`` is encoded too, so no segment is hidden, ``.``/``..``, or
    reserved (``__``-prefixed) in Zarr.

    Raises
    ------
    ParameterError
        For an empty or non-string id.
    """
    if not isinstance(name, str) or name == "":
        raise ParameterError(f"store id must be a non-empty string, got {name!r}")
    out = []
    for i, ch in enumerate(name):
        if _SAFE.fullmatch(ch) and not (i == 0 and ch in "._"):
            out.append(ch)
        else:
            out.extend(f"~{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def decode(segment: str) -> str:
    """Invert :func:`encode`."""
    raw = bytearray()
    i = 0
    while i < len(segment):
        if segment[i] == "~":
            raw.append(int(segment[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(segment[i].encode())
            i += 1
    return raw.decode("utf-8")


def features_item(extractor: str, work: str, version: str) -> str:
    """Zarr path (below ``arrays/``) of a features item."""
    return "/".join([FEATURES, encode(extractor), encode(work), encode(version)])


def alignment_item(method: str, work: str, version_a: str, version_b: str) -> str:
    """Zarr path (below ``arrays/``) of an alignment item."""
    return "/".join([ALIGNMENTS, encode(method), encode(work), encode(version_a), encode(version_b)])


def table_dir(table: str) -> str:
    """Folder (below the root) of a table."""
    return f"{TABLES}/{table}"


def staging_dir(table: str) -> str:
    """Folder (below the root) of a table's per-task files."""
    return f"{TABLES}/{table}/{STAGING}"


def staging_file(table: str, task_id: str) -> str:
    """Per-task Parquet file (below the root)."""
    return f"{staging_dir(table)}/{encode(task_id)}.parquet"


def compacted_marker(table: str) -> str:
    """Marker file (below the root) naming the current compacted copy of a table."""
    return f"{TABLES}/{table}/{COMPACTED}"


def item_key(*parts) -> str:
    """Skip key of an item: a short stable hash of its inputs.

    Typically ``item_key(source_content_hash, params_hash, code_version)``; an item is
    skipped on a rerun only when its stored key equals the key of the new request.
    """
    blob = json.dumps(
        [p if isinstance(p, (str, int, float, bool, type(None))) else repr(p) for p in parts], sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def task_id_for(item_path: str) -> str:
    """Task id under which an item's own table row is staged (stable across reruns)."""
    return "item-" + hashlib.sha1(item_path.encode()).hexdigest()[:20]
