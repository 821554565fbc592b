"""Annotation files: beats, measures, plain event times and note lists.

Every reader returns an :class:`Annotations` object: event times in seconds (float64,
sorted), one label per event, the kind of event (``'beat'``, ``'measure'``, ``'note'`` or
``'time'``), the source path, and any extra columns the format carries.

Formats
-------
ASAP-style TSV (:func:`read_asap_tsv`)
    ``time<TAB>time<TAB>label`` per beat, the label ``db`` (downbeat), ``b`` (beat) or
    ``bR`` optionally followed by ``,<time signature>`` and ``,<key>``
    (``2.0085<TAB>2.0085<TAB>db,4/4,0``). Extra tab-separated columns are kept as strings.
SWD-style CSV (:func:`read_swd_csv`)
    ``start;measure`` with a header (Schubert Winterreise Dataset measure positions).
Plain times (:func:`read_times`)
    One event per line, the time in the first column, comma, semicolon, tab or space
    separated, with or without a header; a second column, when present, is the label.
Note lists (:func:`read_note_list`)
    ``start;duration;pitch;velocity;instrument`` with a header (case-insensitive; ``,``
    also accepted as separator). :meth:`Annotations.to_notes` turns them into
    :class:`alignkit.io.notes.Notes`.

:func:`read_annotations` picks the format from the file's content. Files that cannot be
parsed raise :class:`~alignkit.exceptions.AnnotationError` with the path and the reason.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alignkit.exceptions import AnnotationError, ParameterError

__all__ = [
    "Annotations",
    "KINDS",
    "ASAP_LABELS",
    "read_annotations",
    "read_asap_tsv",
    "read_swd_csv",
    "read_times",
    "read_note_list",
    "write_asap_tsv",
]

KINDS = ("beat", "measure", "note", "time")
ASAP_LABELS = ("db", "b", "bR")
_NOTE_COLUMNS = ("start", "duration", "pitch", "velocity", "instrument")


@dataclass(frozen=True)
class Annotations:
    """Timed events read from an annotation file.

    Attributes
    ----------
    times : np.ndarray [shape=(n,), dtype=float64]
        Event times in seconds, non-decreasing.
    labels : tuple of str [length n]
        One label per event (``'db'``/``'b'`` for beats, the measure number for measures,
        the MIDI pitch for notes, ``''`` when the file has none).
    kind : str
        ``'beat'``, ``'measure'``, ``'note'`` or ``'time'``.
    source : str or None
        The file the events came from.
    extra : dict of str -> np.ndarray [shape=(n,)]
        Further columns (ASAP: ``time_signature``, ``key``; notes: ``duration``, ``pitch``,
        ``velocity``, ``instrument``).
    """

    times: np.ndarray
    labels: tuple[str, ...]
    kind: str = "time"
    source: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        t = np.asarray(self.times, dtype=np.float64).reshape(-1)
        labels = tuple(str(x) for x in self.labels)
        if len(labels) != t.shape[0]:
            raise ParameterError(f"{len(labels)} labels for {t.shape[0]} annotation times")
        if self.kind not in KINDS:
            raise ParameterError(f"kind={self.kind!r} is not one of {list(KINDS)}")
        if not np.all(np.isfinite(t)):
            raise ParameterError("annotation times must be finite")
        extra = {k: np.asarray(v) for k, v in dict(self.extra).items()}
        for k, v in extra.items():
            if v.shape != t.shape:
                raise ParameterError(f"extra column {k!r} has shape {v.shape}, expected {t.shape}")
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "extra", extra)

    def __len__(self) -> int:
        return int(self.times.shape[0])

    def select(self, mask) -> Annotations:
        """Return the events where ``mask`` (bool array of shape (n,)) is true."""
        m = np.asarray(mask, dtype=bool)
        if m.shape != self.times.shape:
            raise ParameterError(f"mask has shape {m.shape}, expected {self.times.shape}")
        return Annotations(
            times=self.times[m],
            labels=tuple(lab for lab, keep in zip(self.labels, m, strict=True) if keep),
            kind=self.kind,
            source=self.source,
            extra={k: v[m] for k, v in self.extra.items()},
        )

    def downbeats(self) -> Annotations:
        """Beat annotations labelled ``db`` (downbeats)."""
        return self.select(np.array([lab == "db" for lab in self.labels], dtype=bool))

    def to_notes(self):
        """Note-list annotations as :class:`alignkit.io.notes.Notes`.

        Instruments given as names are numbered in order of first appearance.
        """
        from alignkit.io.notes import Notes

        if self.kind != "note":
            raise ParameterError(f"to_notes() needs kind='note' annotations, got kind={self.kind!r}")
        inst = self.extra["instrument"]
        if inst.dtype.kind in "iuf":
            inst_idx = inst.astype(np.int16)
        else:
            names = list(dict.fromkeys(inst.tolist()))
            inst_idx = np.array([names.index(x) for x in inst.tolist()], dtype=np.int16)
        return Notes(
            start=self.times,
            end=self.times + self.extra["duration"],
            pitch=self.extra["pitch"],
            velocity=self.extra["velocity"],
            instrument=inst_idx,
            source=self.source,
        )


# ----------------------------------------------------------------------------- helpers


def _read_lines(path) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise AnnotationError(p, "file does not exist")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnnotationError(p, f"not a text file ({exc.reason})") from exc
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise AnnotationError(p, "file is empty")
    return lines


def _float(path, s: str, where: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise AnnotationError(path, f"{where}: {s!r} is not a number") from None
    if not np.isfinite(v):
        raise AnnotationError(path, f"{where}: {s!r} is not a finite number")
    return v


def _check_sorted(path, times: np.ndarray) -> None:
    d = np.diff(times)
    if np.any(d < 0):
        k = int(np.argmax(d < 0))
        raise AnnotationError(
            path,
            f"times are not sorted: {float(times[k])!r} then {float(times[k + 1])!r} (event {k + 1})",
        )
    if times.size and times[0] < 0:
        raise AnnotationError(path, f"negative time {float(times[0])!r}")


def _split(line: str, sep: str | None) -> list[str]:
    if sep is None:
        return line.split()
    return [c.strip() for c in line.split(sep)]


def _guess_sep(line: str) -> str | None:
    for sep in ("\t", ";", ","):
        if sep in line:
            return sep
    return None


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------------------- readers


def read_asap_tsv(path: str | os.PathLike) -> Annotations:
    """Read ASAP-style beat annotations (``time<TAB>time<TAB>label[,ts[,key]]``).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Annotations
        ``kind='beat'``; ``labels`` are ``'db'``, ``'b'`` or ``'bR'``; ``extra`` holds
        ``time_signature`` and ``key`` (strings, ``''`` where absent) and ``columns``
        (further tab-separated columns joined by tabs, ``''`` where absent).

    Raises
    ------
    AnnotationError
        Missing or empty file, fewer than 3 columns, a non-numeric time, two different
        times on one row, an unknown label, unsorted times.
    """
    lines = _read_lines(path)
    times, labels, ts, keys, more = [], [], [], [], []
    for i, ln in enumerate(lines, start=1):
        cols = ln.split("\t")
        if len(cols) < 3:
            raise AnnotationError(path, f"line {i}: expected time<TAB>time<TAB>label, got {ln!r}")
        t0 = _float(path, cols[0], f"line {i}")
        t1 = _float(path, cols[1], f"line {i}")
        if abs(t1 - t0) > 1e-6:
            raise AnnotationError(path, f"line {i}: the two time columns differ ({t0!r} vs {t1!r})")
        parts = [p.strip() for p in cols[2].split(",")]
        if parts[0] not in ASAP_LABELS:
            raise AnnotationError(path, f"line {i}: label {parts[0]!r} is not one of {list(ASAP_LABELS)}")
        times.append(t0)
        labels.append(parts[0])
        ts.append(parts[1] if len(parts) > 1 else "")
        keys.append(parts[2] if len(parts) > 2 else "")
        more.append("\t".join(c.strip() for c in cols[3:]))
    t = np.asarray(times, dtype=np.float64)
    _check_sorted(path, t)
    return Annotations(
        times=t,
        labels=tuple(labels),
        kind="beat",
        source=os.fspath(path),
        extra={
            "time_signature": np.asarray(ts, dtype=object),
            "key": np.asarray(keys, dtype=object),
            "columns": np.asarray(more, dtype=object),
        },
    )


def read_swd_csv(path: str | os.PathLike, *, kind: str = "measure") -> Annotations:
    """Read SWD-style measure positions (``start;measure`` with a header).

    Parameters
    ----------
    path : str or os.PathLike
    kind : str
        Kind of the events (``'measure'``; SWD beat files use the same layout: ``'beat'``).

    Returns
    -------
    Annotations
        ``labels`` are the measure numbers as written (``'1'``, ``'0.750'`` for an upbeat).

    Raises
    ------
    AnnotationError
        Missing or empty file, no ``start`` column in the header, a row with too few
        fields or a non-numeric start, unsorted times.
    """
    lines = _read_lines(path)
    header = [c.lower() for c in _split(lines[0], ";")]
    if "start" not in header:
        raise AnnotationError(path, f"header {lines[0]!r} has no 'start' column (expected 'start;measure')")
    i_start = header.index("start")
    label_col = next((c for c in ("measure", "beat", "label") if c in header), None)
    i_label = header.index(label_col) if label_col else None
    times, labels = [], []
    for i, ln in enumerate(lines[1:], start=2):
        cols = _split(ln, ";")
        if len(cols) < len(header):
            raise AnnotationError(path, f"line {i}: {len(cols)} fields, header has {len(header)}")
        times.append(_float(path, cols[i_start], f"line {i}"))
        labels.append(cols[i_label] if i_label is not None else "")
    if not times:
        raise AnnotationError(path, "no rows after the header")
    t = np.asarray(times, dtype=np.float64)
    _check_sorted(path, t)
    return Annotations(times=t, labels=tuple(labels), kind=kind, source=os.fspath(path))


def read_times(path: str | os.PathLike, *, kind: str = "time") -> Annotations:
    """Read a plain CSV/TSV of event times (first column, seconds; optional label column).

    Parameters
    ----------
    path : str or os.PathLike
    kind : str
        Kind of the events (``'time'``, ``'beat'`` or ``'measure'``).

    Raises
    ------
    AnnotationError
        Missing or empty file, a non-numeric time, unsorted times.
    """
    if kind not in KINDS:
        raise ParameterError(f"kind={kind!r} is not one of {list(KINDS)}")
    lines = _read_lines(path)
    sep = _guess_sep(lines[0])
    first = _split(lines[0], sep)
    body = lines[1:] if not _is_number(first[0]) else lines
    times, labels = [], []
    offset = len(lines) - len(body)
    for i, ln in enumerate(body, start=1 + offset):
        cols = _split(ln, sep)
        times.append(_float(path, cols[0], f"line {i}"))
        labels.append(cols[1] if len(cols) > 1 else "")
    if not times:
        raise AnnotationError(path, "no rows after the header")
    t = np.asarray(times, dtype=np.float64)
    _check_sorted(path, t)
    return Annotations(times=t, labels=tuple(labels), kind=kind, source=os.fspath(path))


def read_note_list(path: str | os.PathLike) -> Annotations:
    """Read a note list ``start;duration;pitch;velocity;instrument`` (seconds, with header).

    Returns
    -------
    Annotations
        ``kind='note'``, sorted by onset then pitch; ``labels`` are the MIDI pitches;
        ``extra`` holds ``duration`` (float64), ``pitch`` and ``velocity`` (int16) and
        ``instrument`` (int16 if numeric, else the names as strings).

    Raises
    ------
    AnnotationError
        Missing or empty file, a header without the five columns, a malformed row, a
        negative duration, a pitch outside 0..127.
    """
    lines = _read_lines(path)
    sep = ";" if ";" in lines[0] else ("\t" if "\t" in lines[0] else ",")
    header = [c.lower() for c in _split(lines[0], sep)]
    missing = [c for c in _NOTE_COLUMNS if c not in header]
    if missing:
        raise AnnotationError(
            path, f"header {lines[0]!r} lacks columns {missing} (expected {';'.join(_NOTE_COLUMNS)})"
        )
    idx = {c: header.index(c) for c in _NOTE_COLUMNS}
    rows = {c: [] for c in _NOTE_COLUMNS}
    for i, ln in enumerate(lines[1:], start=2):
        cols = _split(ln, sep)
        if len(cols) < len(header):
            raise AnnotationError(path, f"line {i}: {len(cols)} fields, header has {len(header)}")
        for c in ("start", "duration", "pitch", "velocity"):
            rows[c].append(_float(path, cols[idx[c]], f"line {i} ({c})"))
        rows["instrument"].append(cols[idx["instrument"]])
    if not rows["start"]:
        raise AnnotationError(path, "no notes after the header")
    start = np.asarray(rows["start"], dtype=np.float64)
    dur = np.asarray(rows["duration"], dtype=np.float64)
    pitch = np.asarray(rows["pitch"], dtype=np.float64)
    vel = np.asarray(rows["velocity"], dtype=np.float64)
    if np.any(dur < 0):
        raise AnnotationError(path, f"negative duration {float(dur[np.argmax(dur < 0)])!r}")
    if np.any(start < 0):
        raise AnnotationError(path, f"negative start {float(start[np.argmax(start < 0)])!r}")
    if np.any((pitch < 0) | (pitch > 127) | (pitch != np.round(pitch))):
        bad = pitch[np.argmax((pitch < 0) | (pitch > 127) | (pitch != np.round(pitch)))]
        raise AnnotationError(path, f"pitch {float(bad):g} is not an integer in 0..127")
    inst_raw = rows["instrument"]
    if all(_is_number(x) for x in inst_raw):
        inst = np.asarray([float(x) for x in inst_raw]).astype(np.int16)
    else:
        inst = np.asarray(inst_raw, dtype=object)
    order = np.lexsort((pitch, start))
    pitch_i = pitch.astype(np.int16)[order]
    return Annotations(
        times=start[order],
        labels=tuple(str(int(p)) for p in pitch_i),
        kind="note",
        source=os.fspath(path),
        extra={
            "duration": dur[order],
            "pitch": pitch_i,
            "velocity": vel.astype(np.int16)[order],
            "instrument": inst[order],
        },
    )


_ASAP_LINE = re.compile(r"^[-+0-9.eE]+\t[-+0-9.eE]+\t")


def read_annotations(path: str | os.PathLike, *, kind: str | None = None) -> Annotations:
    """Read an annotation file in any supported format, detected from its content.

    ASAP TSV when rows look like ``time<TAB>time<TAB>label``; a note list when the header
    names ``pitch``; SWD CSV when the header names ``start`` and ``measure``; otherwise a
    plain list of times.

    Parameters
    ----------
    path : str or os.PathLike
    kind : str, optional
        Override the kind of the events (not for note lists and ASAP beats).

    Raises
    ------
    AnnotationError
        When no reader accepts the file.
    """
    lines = _read_lines(path)
    head = lines[0]
    low = head.lower()
    if _ASAP_LINE.match(head) and len(head.split("\t")) >= 3 and not _is_number(head.split("\t")[2]):
        ann = read_asap_tsv(path)
    elif "pitch" in low and "start" in low:
        ann = read_note_list(path)
    elif "start" in low and ("measure" in low or "beat" in low):
        ann = read_swd_csv(path, kind="beat" if "beat" in low and "measure" not in low else "measure")
    else:
        ann = read_times(path)
    if kind is not None and kind != ann.kind:
        if ann.kind in ("note",) or kind == "note":
            raise ParameterError(f"cannot read {os.fspath(path)} ({ann.kind}) as kind={kind!r}")
        ann = Annotations(times=ann.times, labels=ann.labels, kind=kind, source=ann.source, extra=ann.extra)
    return ann


def write_asap_tsv(path: str | os.PathLike, times, labels) -> None:
    """Write beats as ASAP-style TSV (``time<TAB>time<TAB>label`` per row).

    Times are written with Python's shortest round-trip representation, so
    :func:`read_asap_tsv` returns exactly the values written.

    Parameters
    ----------
    path : str or os.PathLike
    times : array-like [shape=(n,)]
        Seconds, finite, non-negative, non-decreasing.
    labels : sequence of str [length n]
        ``'db'``, ``'b'`` or ``'bR'``, optionally followed by ``,<time signature>[,<key>]``.

    Raises
    ------
    ParameterError
        Mismatched lengths, non-finite or unsorted times, a label with an unknown beat type
        or containing a tab or newline.
    """
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    labels = [str(x) for x in labels]
    if len(labels) != t.shape[0]:
        raise ParameterError(f"{len(labels)} labels for {t.shape[0]} times")
    if not np.all(np.isfinite(t)) or (t.size and t.min() < 0):
        raise ParameterError("times must be finite and non-negative")
    if np.any(np.diff(t) < 0):
        raise ParameterError("times must be non-decreasing")
    for lab in labels:
        if "\t" in lab or "\n" in lab or lab.split(",")[0] not in ASAP_LABELS:
            raise ParameterError(f"label {lab!r} must start with one of {list(ASAP_LABELS)} and hold no tabs")
    body = "".join(f"{x!r}\t{x!r}\t{lab}\n" for x, lab in zip(t.tolist(), labels, strict=True))
    Path(path).write_text(body, encoding="utf-8")
