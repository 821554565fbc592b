"""Recipes: corpora from the layouts of known datasets.

- :func:`asap`: (n)ASAP, ``<Composer>/<...>/<piece>/<Performer>.mid`` with
  ``<Performer>_annotations.txt`` beats, ``midi_score.mid`` (+ annotations) and
  ``xml_score.musicxml`` per piece, listed in ``metadata.csv``. Work id: the piece folder
  (``Bach/Fugue/bwv_848``); version ids: the performance file stems, ``midi_score`` and
  ``xml_score``.
- :func:`from_naming` and its presets :func:`winterreise` (SWD, ``Schubert_D911-01_HU33.wav``),
  :func:`bpsd` (``Beethoven_Op002No1-01_WK64.wav``) and :func:`wrd`
  (``Wagner_WWV086B-1_DG2012.wav``): ``<work>_<version>.<ext>`` anywhere under the root; a
  score named ``<work>.<ext>`` becomes version ``score``; annotation CSVs with the same stem
  attach to the version, their role taken from the folder name (``..._measure`` ->
  measures, ``..._beat`` -> beats, ``..._note`` -> notes; default measures).
- :func:`mtd`: Musical Theme Dataset from ``MTD.csv``; each theme occurrence (MTDID) is a
  work with two versions: ``score`` (the theme's MIDI) and the performance (audio excerpt).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from alignkit.corpus.model import AUDIO_EXTENSIONS, SCORE_EXTENSIONS, Corpus
from alignkit.exceptions import CorpusError

__all__ = [
    "asap",
    "from_naming",
    "winterreise",
    "bpsd",
    "wrd",
    "mtd",
    "SWD_PATTERN",
    "BPSD_PATTERN",
    "WRD_PATTERN",
]

SWD_PATTERN = r"(?P<work>Schubert_D911-\d{2})_(?P<version>[A-Za-z0-9]+)"
BPSD_PATTERN = r"(?P<work>Beethoven_Op\d{3}(?:No\d)?-\d{2})_(?P<version>[A-Za-z0-9]+)"
WRD_PATTERN = r"(?P<work>Wagner_WWV086[A-D](?:-\d)?)_(?P<version>[A-Za-z0-9]+)"


def asap(
    root: str | os.PathLike, *, include_xml: bool = True, skip_missing: bool = False, name: str = "asap"
) -> Corpus:
    """Build the (n)ASAP layout, driven by ``metadata.csv``.

    Parameters
    ----------
    root : str or os.PathLike
        Folder holding ``metadata.csv``.
    include_xml : bool
        Add ``xml_score`` versions where the MusicXML file exists.
    skip_missing : bool
        Leave out performances whose files are absent (a partial download) instead of
        raising :class:`CorpusError`.
    """
    import pandas as pd

    root = Path(root).expanduser().absolute()
    meta_path = root / "metadata.csv"
    if not meta_path.is_file():
        raise CorpusError(f"ASAP root {root} has no metadata.csv")
    df = pd.read_csv(meta_path, dtype=str, keep_default_na=False)
    need = {"folder", "midi_performance", "performance_annotations", "midi_score", "midi_score_annotations"}
    if not need <= set(df.columns):
        raise CorpusError(f"{meta_path}: missing columns {sorted(need - set(df.columns))}")
    records, seen_works = [], {}
    for row in df.to_dict(orient="records"):
        work = row["folder"].strip("/")
        perf = row["midi_performance"]
        if skip_missing and not (root / perf).is_file():
            continue
        # performance MIDI: a symbolic file, so its kind is 'score' (media kind, not role)
        rec = {"work": work, "version": Path(perf).stem, "path": perf}
        rec["performance"] = True
        rec["composer"] = row.get("composer", "")
        rec["title"] = row.get("title", "")
        ann = row["performance_annotations"]
        if ann and (not skip_missing or (root / ann).is_file()):
            rec["beats"] = row["performance_annotations"]
        records.append(rec)
        seen_works.setdefault(work, row)
    for work, row in seen_works.items():
        score = {
            "work": work,
            "version": "midi_score",
            "path": row["midi_score"],
            "performance": False,
            "composer": row.get("composer", ""),
            "title": row.get("title", ""),
        }
        if row["midi_score_annotations"]:
            score["beats"] = row["midi_score_annotations"]
        records.append(score)
        xml = row.get("xml_score", "")
        if include_xml and xml and (root / xml).is_file():
            records.append(
                {
                    "work": work,
                    "version": "xml_score",
                    "path": xml,
                    "performance": False,
                    "composer": row.get("composer", ""),
                    "title": row.get("title", ""),
                }
            )
    return Corpus.from_records(root, records, name=name, source=os.fspath(meta_path))


def _role_from_folder(folder: str) -> str:
    f = folder.lower()
    if "note" in f:
        return "notes"
    if "beat" in f:
        return "beats"
    return "measures"


def from_naming(
    root: str | os.PathLike, pattern: str, *, name: str = "corpus", score_version: str = "score"
) -> Corpus:
    """Versions named ``<work>_<version>.<ext>`` anywhere under ``root``.

    Parameters
    ----------
    root : str or os.PathLike
    pattern : str
        Regular expression with named groups ``work`` and ``version``, matched against the
        whole file stem. A stem matching only the ``work`` part of the pattern is a score.
    name : str
    score_version : str
        Version id given to scores.

    Raises
    ------
    CorpusError
        Nothing found, duplicate versions, annotation CSVs for unknown versions.
    """
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise CorpusError(f"corpus root {root} is not a directory")
    full = re.compile(rf"^{pattern}$")
    work_part = pattern.split(")_(?P<version>")[0] + ")" if ")_(?P<version>" in pattern else None
    score_re = re.compile(rf"^{work_part}$") if work_part else None
    records, annotations = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if fn.startswith("."):
                continue
            p = Path(dirpath) / fn
            rel = p.relative_to(root).as_posix()
            ext = p.suffix.lower()
            m = full.match(p.stem)
            if m and ext in AUDIO_EXTENSIONS + SCORE_EXTENSIONS:
                records.append({"work": m["work"], "version": m["version"], "path": rel})
            elif m and ext in (".csv", ".tsv", ".txt"):
                annotations.append(
                    {
                        "work": m["work"],
                        "version": m["version"],
                        "role": _role_from_folder(Path(dirpath).name),
                        "path": rel,
                    }
                )
            elif score_re is not None and ext in SCORE_EXTENSIONS and (ms := score_re.match(p.stem)):
                records.append({"work": ms["work"], "version": score_version, "path": rel})
            elif score_re is not None and ext in (".csv", ".tsv", ".txt") and (ms := score_re.match(p.stem)):
                annotations.append(
                    {
                        "work": ms["work"],
                        "version": score_version,
                        "role": _role_from_folder(Path(dirpath).name),
                        "path": rel,
                    }
                )
    if not records:
        raise CorpusError(f"no files matching {pattern!r} under {root}")
    return Corpus.from_records(root, records, annotations=annotations, name=name, source=os.fspath(root))


def winterreise(root: str | os.PathLike, *, name: str = "winterreise") -> Corpus:
    """Schubert Winterreise Dataset naming: ``Schubert_D911-01_HU33.wav`` + measure CSVs."""
    return from_naming(root, SWD_PATTERN, name=name)


def bpsd(root: str | os.PathLike, *, name: str = "bpsd") -> Corpus:
    """Beethoven Piano Sonata Dataset naming: ``Beethoven_Op002No1-01_WK64.wav``."""
    return from_naming(root, BPSD_PATTERN, name=name)


def wrd(root: str | os.PathLike, *, name: str = "wrd") -> Corpus:
    """Wagner Ring Dataset naming: ``Wagner_WWV086B-1_DG2012.wav``."""
    return from_naming(root, WRD_PATTERN, name=name)


def mtd(
    csv_path: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    audio_dir: str = "data_AUDIO",
    midi_dir: str = "data_EDM-corrMIDI",
    check_files: bool = True,
    name: str = "mtd",
) -> Corpus:
    """Musical Theme Dataset: one work per theme occurrence, versions ``score`` and the performer.

    Parameters
    ----------
    csv_path : str or os.PathLike
        ``MTD.csv`` (``;``-separated).
    root : str or os.PathLike, optional
        Dataset folder holding ``audio_dir`` and ``midi_dir`` (default: the CSV's folder).
    audio_dir, midi_dir : str
        Sub-folders with the ``WAV_MTD`` audio excerpts and the ``MIDI_EDM`` theme MIDIs.
    check_files : bool
        Set False to list the themes without the media present.

    Notes
    -----
    Metadata kept per version: ``mtd_id``, ``work_id``, ``composer``, ``start`` and ``end``
    (seconds of the theme in the full recording), ``transposition``.
    """
    import pandas as pd

    csv_path = Path(csv_path).expanduser().absolute()
    if not csv_path.is_file():
        raise CorpusError(f"MTD table {csv_path} does not exist")
    df = pd.read_csv(csv_path, sep=";", dtype=str, keep_default_na=False)
    need = {"MTDID", "MIDI_EDM", "WAV_MTD", "PerformanceID", "WorkID", "StartTime", "EndTime"}
    if not need <= set(df.columns):
        raise CorpusError(f"{csv_path}: missing columns {sorted(need - set(df.columns))}")
    records = []
    for row in df.to_dict(orient="records"):
        work = Path(row["WAV_MTD"]).stem
        meta = {
            "mtd_id": row["MTDID"],
            "work_id": row["WorkID"],
            "composer": row.get("ComposerID", ""),
            "start": _mmss(row["StartTime"]),
            "end": _mmss(row["EndTime"]),
            "transposition": row.get("MidiTransposition", ""),
        }
        records.append({"work": work, "version": "score", "path": f"{midi_dir}/{row['MIDI_EDM']}", **meta})
        perf = row["PerformanceID"] or "performance"
        if perf == "score":
            perf = "performance"
        records.append({"work": work, "version": perf, "path": f"{audio_dir}/{row['WAV_MTD']}", **meta})
    return Corpus.from_records(
        root if root is not None else csv_path.parent,
        records,
        name=name,
        check_files=check_files,
        source=os.fspath(csv_path),
    )


def _mmss(s: str) -> float | None:
    """``'01:02.5'`` -> 62.5 seconds (None for empty)."""
    s = (s or "").strip()
    if not s:
        return None
    parts = s.split(":")
    try:
        out = 0.0
        for p in parts:
            out = out * 60 + float(p)
    except ValueError:
        return None
    return out
