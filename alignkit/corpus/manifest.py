"""Building a corpus from a folder layout or an explicit manifest.

Folder layout (:func:`from_folder`)
-----------------------------------
::

    <root>/<work>/<version>.<ext>                 audio (.wav .flac .ogg .mp3 .opus)
                                                  or score (.mid .midi .musicxml .xml .mxl)
    <root>/<work>/<version>_annotations.txt       beats, ASAP-style TSV
    <root>/<work>/<version>_beats.{txt,csv,tsv}   beats
    <root>/<work>/<version>_measures.{csv,txt}    measures (SWD-style ``start;measure``)
    <root>/<work>/<version>_notes.csv             note list

Hidden files and other text/data files (``.txt .csv .tsv .json .yaml .yml .md .npy .npz
.match .parquet``) are ignored; any other extension is an error, and so is a sidecar whose
version does not exist.

Manifest (:func:`from_manifest`)
--------------------------------
A table with one row per version: ``work``, ``version``, ``path`` (relative to the root),
optional ``kind`` (``audio``/``score``, else from the extension), optional annotation
columns ``beats``, ``measures``, ``notes``, ``times`` (relative paths); further columns are
kept as metadata. Rows with a ``role`` column naming an annotation role (``beats`` ...)
attach that annotation file to an existing ``(work, version)`` instead of adding a version.

- CSV (``,``, ``;`` or tab separated) and Parquet: that table; the root is the manifest's
  folder unless ``root=`` is given.
- YAML: either a list of row mappings, or a mapping with ``versions`` (list of rows),
  optional ``annotations`` (list of ``work, version, role, path``), optional ``root``
  (relative to the manifest's folder) and ``name``.
"""

from __future__ import annotations

import os
from pathlib import Path

from alignkit.corpus.model import (
    ANNOTATION_ROLES,
    Corpus,
    kind_of,
)
from alignkit.exceptions import CorpusError

__all__ = ["from_folder", "from_manifest", "write_manifest", "load_corpus", "MANIFEST_NAMES"]

_IGNORED = {".txt", ".csv", ".tsv", ".json", ".yaml", ".yml", ".md", ".npy", ".npz", ".match", ".parquet"}
_SIDECARS = (
    ("_annotations", (".txt",), "beats"),
    ("_beats", (".txt", ".csv", ".tsv"), "beats"),
    ("_measures", (".csv", ".txt", ".tsv"), "measures"),
    ("_notes", (".csv", ".tsv"), "notes"),
)
MANIFEST_NAMES = ("manifest.yaml", "manifest.yml", "manifest.csv", "manifest.parquet")


def _sidecar(name: str) -> tuple[str, str] | None:
    p = Path(name)
    for suffix, exts, role in _SIDECARS:
        if p.suffix.lower() in exts and p.stem.endswith(suffix) and len(p.stem) > len(suffix):
            return p.stem[: -len(suffix)], role
    return None


def from_folder(root: str | os.PathLike, *, name: str | None = None) -> Corpus:
    """Scan ``<root>/<work>/<version>.<ext>`` with annotation sidecars (see module docstring).

    Parameters
    ----------
    root : str or os.PathLike
    name : str, optional
        Corpus name (default: the folder's name).

    Raises
    ------
    CorpusError
        Root missing, two files with the same version id, unknown extensions, a sidecar
        for an unknown version, a symlink pointing out of the root.
    """
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise CorpusError(f"corpus root {root} is not a directory")
    records, annotations = [], []
    for wdir in sorted(root.iterdir()):
        if wdir.name.startswith(".") or not wdir.is_dir():
            continue
        for f in sorted(wdir.iterdir()):
            if f.name.startswith(".") or f.is_dir():
                continue
            rel = f"{wdir.name}/{f.name}"
            side = _sidecar(f.name)
            if side is not None:
                annotations.append({"work": wdir.name, "version": side[0], "role": side[1], "path": rel})
            elif kind_of(f) is not None or f.suffix.lower() not in _IGNORED:
                # unknown extensions are passed on so validation reports them by name
                records.append({"work": wdir.name, "version": f.stem, "path": rel})
    if not records:
        raise CorpusError(
            f"no audio or score files found under {root} (expected <root>/<work>/<version>.<ext>)"
        )
    return Corpus.from_records(
        root, records, annotations=annotations, name=name or root.name, source=os.fspath(root)
    )


def _read_table(path: Path):
    import pandas as pd

    ext = path.suffix.lower()
    try:
        if ext == ".parquet":
            return pd.read_parquet(path)
        with open(path, encoding="utf-8-sig") as fh:
            head = fh.readline()
        sep = "\t" if "\t" in head else (";" if ";" in head else ",")
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise CorpusError(f"cannot read manifest {path}: {exc}") from exc


def from_manifest(
    path: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    name: str | None = None,
    check_files: bool = True,
) -> Corpus:
    """Build a corpus from a CSV, Parquet or YAML manifest (see module docstring).

    Parameters
    ----------
    path : str or os.PathLike
    root : str or os.PathLike, optional
        Folder the manifest's paths are relative to (default: the manifest's folder, or
        the YAML ``root`` key relative to it).
    name : str, optional
    check_files : bool
        Check existence and containment of every file (see :meth:`Corpus.from_records`).

    Raises
    ------
    CorpusError
        Unreadable manifest, missing columns, or any validation problem.
    """
    path = Path(path).expanduser().absolute()
    if not path.is_file():
        raise CorpusError(f"manifest {path} does not exist")
    ext = path.suffix.lower()
    annotations: list[dict] = []
    yaml_root = None
    if ext in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CorpusError(f"cannot read manifest {path}: {exc}") from exc
        if isinstance(doc, list):
            rows = doc
        elif isinstance(doc, dict) and isinstance(doc.get("versions"), list):
            rows = doc["versions"]
            annotations = list(doc.get("annotations") or [])
            yaml_root = doc.get("root")
            name = name or doc.get("name")
        else:
            raise CorpusError(f"manifest {path}: expected a list of versions or a mapping with 'versions'")
        if not all(isinstance(r, dict) for r in rows + annotations):
            raise CorpusError(f"manifest {path}: every version and annotation entry must be a mapping")
    elif ext in (".csv", ".tsv", ".parquet"):
        df = _read_table(path)
        rows = df.to_dict(orient="records")
    else:
        raise CorpusError(f"manifest {path}: unknown manifest format {ext!r} (use .csv, .parquet or .yaml)")
    missing = [c for c in ("work", "version", "path") if rows and not all(c in r for r in rows)]
    if missing or not rows:
        raise CorpusError(f"manifest {path}: needs columns work, version, path (missing {missing or 'rows'})")
    versions = []
    for r in rows:
        role = r.get("role")
        if role not in (None, "", "version") and not (isinstance(role, float) and role != role):
            annotations.append(
                {"work": r.get("work"), "version": r.get("version"), "role": role, "path": r.get("path")}
            )
        else:
            versions.append(
                {
                    k: v
                    for k, v in r.items()
                    if k != "role" and not (isinstance(v, str) and v == "" and k in ANNOTATION_ROLES)
                }
            )
    if root is None:
        root = path.parent / yaml_root if yaml_root else path.parent
    return Corpus.from_records(
        root,
        versions,
        annotations=annotations,
        name=name or path.stem,
        check_files=check_files,
        source=os.fspath(path),
    )


def write_manifest(corpus: Corpus, path: str | os.PathLike) -> Path:
    """Write ``corpus`` as a manifest (``.csv``, ``.parquet`` or ``.yaml``); paths relative to its root.

    For CSV and Parquet the manifest must be read back with ``root=corpus.root`` unless it
    is written into the root; YAML records the root relative to the manifest's folder.
    """
    path = Path(path)
    recs = corpus.to_records()
    ext = path.suffix.lower()
    if ext in (".yaml", ".yml"):
        import yaml

        rel_root = os.path.relpath(corpus.root, path.parent.absolute())
        doc = {"name": corpus.name, "root": Path(rel_root).as_posix(), "versions": recs}
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    elif ext in (".csv", ".parquet"):
        import pandas as pd

        df = pd.DataFrame(recs)
        for c in df.columns:
            df[c] = df[c].map(lambda x: "" if x is None or (isinstance(x, float) and x != x) else str(x))
        if ext == ".csv":
            df.to_csv(path, index=False)
        else:
            df.to_parquet(path, index=False)
    else:
        raise CorpusError(f"unknown manifest format {ext!r} (use .csv, .parquet or .yaml)")
    return path


def load_corpus(path: str | os.PathLike, **kwargs) -> Corpus:
    """Open a corpus from a manifest file, or from a folder.

    A folder holding ``manifest.yaml``/``.yml``/``.csv``/``.parquet`` whose entries follow
    the manifest format above is read from that manifest; otherwise the folder layout is
    scanned.
    """
    p = Path(path).expanduser()
    if p.is_file():
        return from_manifest(p, **kwargs)
    if not p.is_dir():
        raise CorpusError(f"corpus {os.fspath(path)!r} is neither a folder nor a manifest file")
    for n in MANIFEST_NAMES:
        m = p / n
        if m.is_file() and _looks_like_manifest(m):
            return from_manifest(m, **kwargs)
    return from_folder(p, **kwargs)


def _looks_like_manifest(path: Path) -> bool:
    """Whether ``path`` is an alignkit manifest (not some other metadata file with that name)."""
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            rows = doc if isinstance(doc, list) else (doc.get("versions") if isinstance(doc, dict) else None)
            return (
                isinstance(rows, list)
                and bool(rows)
                and isinstance(rows[0], dict)
                and "path" in rows[0]
                and "work" in rows[0]
            )
        df = _read_table(path)
        return {"work", "version", "path"} <= set(df.columns)
    except Exception:  # noqa: BLE001 - not ours: fall back to scanning
        return False
