"""The work x version grid and its validation.

A :class:`Corpus` is a set of :class:`Version` objects under one root folder. A version is
one rendition of a work: an audio recording or a symbolic score (MIDI, MusicXML), with
optional annotation files (beats, measures, notes). Versions are identified by
``(work, version)``; both ids are strings (a work id may contain ``/``, as in the ASAP
layout ``Bach/Fugue/bwv_848``).

Every corpus is validated when it is built, before any work starts: each file must exist,
lie inside the root (no ``..``, no absolute paths, no symlinks pointing out), have a known
extension, and version ids must be unique within a work. All problems are collected and
raised together as one :class:`~alignkit.exceptions.CorpusError` whose message names each
offending item.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from alignkit.exceptions import CorpusError, ParameterError

__all__ = [
    "AUDIO_EXTENSIONS",
    "SCORE_EXTENSIONS",
    "ANNOTATION_EXTENSIONS",
    "ANNOTATION_ROLES",
    "Version",
    "Corpus",
    "prune",
    "kind_of",
]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".opus")
SCORE_EXTENSIONS = (".mid", ".midi", ".musicxml", ".xml", ".mxl")
ANNOTATION_EXTENSIONS = (".txt", ".csv", ".tsv")
#: annotation roles a version may carry (the file format is detected when read)
ANNOTATION_ROLES = ("beats", "measures", "notes", "times")


def kind_of(path: str | os.PathLike) -> str | None:
    """``'audio'``, ``'score'`` or None (unknown extension) from a file name."""
    ext = Path(path).suffix.lower()
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    if ext in SCORE_EXTENSIONS:
        return "score"
    return None


@dataclass(frozen=True)
class Version:
    """One version (recording or score) of a work.

    Attributes
    ----------
    work : str
        Work id.
    version : str
        Version id, unique within the work.
    relpath : str
        POSIX path of the media file relative to the corpus root.
    path : pathlib.Path
        Absolute path of the media file (``root / relpath``).
    kind : str
        ``'audio'`` or ``'score'``.
    annotations : dict of str -> pathlib.Path
        Annotation files by role (``'beats'``, ``'measures'``, ``'notes'``, ``'times'``).
    meta : dict
        Free metadata (performer, start/end time of an excerpt, ...).
    """

    work: str
    version: str
    relpath: str
    path: Path
    kind: str
    annotations: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        """``'<work>:<version>'``, the version's id in messages and tables."""
        return f"{self.work}:{self.version}"

    @property
    def ext(self) -> str:
        """File extension without the dot, lower case."""
        return Path(self.relpath).suffix.lower().lstrip(".")

    def read_annotations(self, role: str = "beats"):
        """Read the annotation file of ``role`` (see :mod:`alignkit.io.annotations`)."""
        from alignkit.io.annotations import read_annotations

        if role not in self.annotations:
            raise ParameterError(
                f"version {self.id} has no {role!r} annotations (it has {sorted(self.annotations)})"
            )
        ann = read_annotations(self.annotations[role])
        return ann


def _check_relpath(
    rel: str, root: Path, *, item: str, what: str, check_files: bool, extensions: tuple[str, ...] | None
) -> tuple[str | None, Path | None, str | None]:
    """Validate one path of the manifest; returns (relpath, abspath, problem)."""
    if rel is None or str(rel).strip() == "":
        return None, None, f"{item}: empty {what} path"
    s = str(rel).replace("\\", "/")
    if s.startswith("/") or os.path.isabs(str(rel)) or (len(s) > 1 and s[1] == ":"):
        return (
            None,
            None,
            f"{item}: {what} path {rel!r} is absolute; manifest paths must be relative to the root",
        )
    parts = PurePosixPath(s).parts
    if ".." in parts:
        return None, None, f"{item}: {what} path {rel!r} escapes the corpus root via '..'"
    relpath = str(PurePosixPath(*parts))
    ext = PurePosixPath(relpath).suffix.lower()
    if extensions is not None and ext not in extensions:
        return (
            None,
            None,
            (
                f"{item}: {what} path {rel!r} has unknown extension {ext or '(none)'!r} "
                f"(expected one of {list(extensions)})"
            ),
        )
    ab = root / relpath
    if check_files:
        if not ab.exists():
            return None, None, f"{item}: missing file {rel!r} ({what})"
        real = Path(os.path.realpath(ab))
        root_real = Path(os.path.realpath(root))
        if real != root_real and root_real not in real.parents:
            return None, None, f"{item}: {what} path {rel!r} is a symlink out of the corpus root (-> {real})"
        if not real.is_file():
            return None, None, f"{item}: {what} path {rel!r} is not a file"
    return relpath, ab, None


@dataclass(frozen=True)
class Corpus:
    """A validated work x version grid under one root folder.

    Build one with :func:`alignkit.corpus.from_folder`, :func:`~alignkit.corpus.from_manifest`
    or a recipe (:mod:`alignkit.corpus.recipes`); the constructor :meth:`from_records` checks
    everything.

    Attributes
    ----------
    root : pathlib.Path
    items : tuple of Version
        Sorted by work, then version (also :meth:`versions`).
    name : str
    """

    root: Path
    items: tuple[Version, ...]
    name: str = "corpus"

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_records(
        cls,
        root: str | os.PathLike,
        records,
        *,
        annotations=(),
        name: str = "corpus",
        check_files: bool = True,
        source: str | None = None,
    ) -> Corpus:
        """Validate version records and build a corpus.

        Parameters
        ----------
        root : str or os.PathLike
            Folder every path is relative to.
        records : iterable of mapping
            One per version: ``work``, ``version``, ``path`` (relative), optional
            ``kind``, annotation roles (``beats``, ``measures``, ``notes``, ``times``: a
            relative path) and any further keys, kept as ``meta``.
        annotations : iterable of mapping
            Extra annotation records: ``work``, ``version``, ``role``, ``path``.
        name : str
        check_files : bool
            Check that files exist and stay inside the root (symlinks resolved). Turn off
            only to describe a dataset that is not on this machine.
        source : str, optional
            Where the records came from (a manifest path), for error messages.

        Raises
        ------
        CorpusError
            Listing every problem, each naming its item: missing file, unknown extension,
            duplicate version id, annotation for an unknown version, a path escaping the
            root (``..``, absolute, symlink out).
        """
        root = Path(root).expanduser().absolute()
        if check_files and not root.is_dir():
            raise CorpusError(f"corpus root {root} is not a directory")
        problems: list[str] = []
        by_id: dict[tuple[str, str], dict] = {}
        for i, rec in enumerate(records):
            rec = dict(rec)
            work = _clean_id(rec.pop("work", None))
            ver = _clean_id(rec.pop("version", None))
            item = f"{work}:{ver}" if work and ver else f"row {i + 1}"
            if not work or not ver:
                problems.append(f"{item}: needs non-empty 'work' and 'version' ids (got {work!r}, {ver!r})")
                continue
            if (work, ver) in by_id:
                problems.append(f"{item}: duplicate version id {ver!r} in work {work!r}")
                continue
            relpath, ab, prob = _check_relpath(
                rec.pop("path", None),
                root,
                item=item,
                what="media",
                check_files=check_files,
                extensions=AUDIO_EXTENSIONS + SCORE_EXTENSIONS,
            )
            if prob:
                problems.append(prob)
                continue
            kind = rec.pop("kind", None) or kind_of(relpath)
            if kind not in ("audio", "score"):
                problems.append(f"{item}: kind={kind!r} is not 'audio' or 'score'")
                continue
            ann = {}
            for role in ANNOTATION_ROLES:
                val = rec.pop(role, None)
                if val is None or (isinstance(val, float) and val != val) or str(val).strip() == "":
                    continue
                arel, aab, prob = _check_relpath(
                    val,
                    root,
                    item=item,
                    what=f"{role} annotation",
                    check_files=check_files,
                    extensions=ANNOTATION_EXTENSIONS,
                )
                if prob:
                    problems.append(prob)
                else:
                    ann[role] = aab
            meta = {k: v for k, v in rec.items() if not (isinstance(v, float) and v != v) and v is not None}
            by_id[(work, ver)] = dict(
                work=work, version=ver, relpath=relpath, path=ab, kind=kind, annotations=ann, meta=meta
            )
        for a in annotations:
            a = dict(a)
            work, ver, role = _clean_id(a.get("work")), _clean_id(a.get("version")), a.get("role", "beats")
            item = f"{work}:{ver}"
            if (work, ver) not in by_id:
                problems.append(f"{item}: annotation {a.get('path')!r} for an unknown version")
                continue
            if role not in ANNOTATION_ROLES:
                problems.append(f"{item}: annotation role {role!r} is not one of {list(ANNOTATION_ROLES)}")
                continue
            arel, aab, prob = _check_relpath(
                a.get("path"),
                root,
                item=item,
                what=f"{role} annotation",
                check_files=check_files,
                extensions=ANNOTATION_EXTENSIONS,
            )
            if prob:
                problems.append(prob)
                continue
            if role in by_id[(work, ver)]["annotations"]:
                problems.append(f"{item}: two {role} annotations")
                continue
            by_id[(work, ver)]["annotations"][role] = aab
        if problems:
            where = f" in {source}" if source else ""
            head = f"{len(problems)} problem(s){where}:\n  "
            more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
            raise CorpusError(head + "\n  ".join(problems[:20]) + more)
        versions = tuple(Version(**by_id[k]) for k in sorted(by_id))
        return cls(root=root, items=versions, name=name)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Version]:
        return iter(self.items)

    def works(self) -> list[str]:
        """Work ids, sorted."""
        return sorted({v.work for v in self.items})

    def versions(self, work: str | None = None) -> list[Version]:
        """Every version (sorted by work, then version id), or those of ``work``."""
        return list(self.items) if work is None else self.versions_of(work)

    def versions_of(self, work: str) -> list[Version]:
        """Return the versions of ``work``, sorted by version id."""
        out = [v for v in self.items if v.work == work]
        if not out:
            raise CorpusError(f"work {work!r} is not in corpus {self.name!r} (works: {self.works()[:10]})")
        return out

    def get(self, work: str, version: str) -> Version:
        """Return the version ``(work, version)``."""
        for v in self.versions_of(work):
            if v.version == version:
                return v
        raise CorpusError(f"version {version!r} is not in work {work!r} of corpus {self.name!r}")

    def pairs(
        self, *, work: str | None = None, reference: str | None = None
    ) -> list[tuple[Version, Version]]:
        """Version pairs to align.

        Parameters
        ----------
        work : str, optional
            Only this work (default: all).
        reference : str, optional
            A version id: pair it with every other version of its work. Default: all
            unordered pairs ``(a, b)`` with ``a.version < b.version``.
        """
        works = [work] if work is not None else self.works()
        out = []
        for w in works:
            vs = self.versions_of(w)
            if reference is None:
                out.extend(itertools.combinations(vs, 2))
            else:
                ref = [v for v in vs if v.version == reference]
                if ref:
                    out.extend((ref[0], v) for v in vs if v.version != reference)
        return out

    def to_records(self) -> list[dict]:
        """One dict per version (``work``, ``version``, ``path``, ``kind``, annotation roles, meta)."""
        recs = []
        for v in self.items:
            r = {"work": v.work, "version": v.version, "path": v.relpath, "kind": v.kind}
            for role, p in v.annotations.items():
                r[role] = Path(os.path.relpath(p, self.root)).as_posix()
            r.update(v.meta)
            recs.append(r)
        return recs

    def to_frame(self):
        """Return the corpus as a pandas DataFrame (one row per version)."""
        import pandas as pd

        return pd.DataFrame(self.to_records())

    def to_manifest(self, path: str | os.PathLike) -> Path:
        """Write a manifest (``.csv``, ``.parquet`` or ``.yaml``) that :func:`from_manifest` reads back."""
        from alignkit.corpus.manifest import write_manifest

        return write_manifest(self, path)

    def subset(
        self, keep: Mapping[str, list[str]] | None = None, *, works: list[str] | None = None
    ) -> Corpus:
        """Return a corpus with only some works (``works``) or some versions per work (``keep``)."""
        vs = self.items
        if works is not None:
            vs = tuple(v for v in vs if v.work in set(works))
        if keep is not None:
            vs = tuple(v for v in vs if v.work in keep and v.version in set(keep[v.work]))
        return replace(self, items=vs)


def prune(corpus: Corpus, n_works: int = 2, n_versions: int = 2) -> Corpus:
    """Keep the first ``n_works`` works x first ``n_versions`` versions of each (for smoke runs).

    Works and versions are taken in sorted order, so the result is deterministic.
    """
    for name, val in (("n_works", n_works), ("n_versions", n_versions)):
        if not isinstance(val, int) or isinstance(val, bool) or val < 1:
            raise ParameterError(f"{name}={val!r} must be a positive integer")
    works = corpus.works()[:n_works]
    keep = {w: [v.version for v in corpus.versions_of(w)][:n_versions] for w in works}
    return corpus.subset(keep)


def _clean_id(x) -> str | None:
    if x is None or (isinstance(x, float) and x != x):
        return None
    s = str(x).strip()
    return s or None
