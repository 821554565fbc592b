"""File-level helpers: content hashes for cache keys, and what kind of input a path is.

The store keys every result by the *content* of its input files (not their names or modification
times), so a renamed or copied file hits the cache and an edited one does not. :func:`content_hash`
streams the file, so memory stays flat for hour-long recordings.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

from alignkit.exceptions import InputError, ParameterError

__all__ = [
    "AUDIO_EXTENSIONS",
    "SCORE_EXTENSIONS",
    "NOTE_LIST_EXTENSIONS",
    "ANNOTATION_EXTENSIONS",
    "FileKind",
    "content_hash",
    "file_kind",
    "extension",
]

#: Extensions :func:`alignkit.io.audio.load_audio` decodes (through libsndfile, no ffmpeg needed).
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".wav",
        ".wave",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".aif",
        ".aiff",
        ".aifc",
        ".au",
        ".w64",
        ".rf64",
        ".caf",
    }
)
#: Symbolic scores :func:`alignkit.io.scores.load_score` reads: MIDI, MusicXML (plain or .mxl),
#: note lists.
MIDI_EXTENSIONS: frozenset[str] = frozenset({".mid", ".midi"})
MUSICXML_EXTENSIONS: frozenset[str] = frozenset({".musicxml", ".xml", ".mxl"})
NOTE_LIST_EXTENSIONS: frozenset[str] = frozenset({".csv", ".tsv"})
SCORE_EXTENSIONS: frozenset[str] = MIDI_EXTENSIONS | MUSICXML_EXTENSIONS | NOTE_LIST_EXTENSIONS
#: Time annotations (beats, measures, note alignments). ``.csv``/``.tsv`` are shared with note lists;
#: :func:`file_kind` tells them apart by their header.
ANNOTATION_EXTENSIONS: frozenset[str] = frozenset({".txt", ".csv", ".tsv", ".lab", ".match"})

FileKind = Literal["audio", "score", "annotation"]

# Column names that mark a delimited text file as a note list (a score) rather than an annotation.
_PITCH_COLUMNS = frozenset({"pitch", "midi_pitch", "midipitch", "note_number", "midi"})


def extension(path: str | os.PathLike) -> str:
    """Return the lower-cased final suffix of ``path`` including the dot (``"x/Take.WAV"`` -> ``".wav"``)."""
    return Path(path).suffix.lower()


def content_hash(path: str | os.PathLike, *, algo: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file's bytes, read in chunks.

    Parameters
    ----------
    path : str or os.PathLike
        A regular file.
    algo : str
        Any algorithm :func:`hashlib.new` knows (``"sha256"``, ``"blake2b"``, ``"md5"``...).
    chunk : int > 0
        Bytes read at a time.

    Returns
    -------
    digest : str
        Lower-case hexadecimal digest (64 characters for sha256).

    Raises
    ------
    ParameterError
        Unknown ``algo`` or ``chunk`` not a positive integer.
    InputError
        The file is missing, is a directory, or cannot be read.

    Examples
    --------
    >>> content_hash("take1.wav")[:12]  # doctest: +SKIP
    '3f2a9c0d51be'
    """
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk <= 0:
        raise ParameterError(f"chunk={chunk!r} must be a positive integer")
    try:
        h = hashlib.new(algo)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"algo={algo!r} is not a hashlib algorithm") from exc
    p = Path(path)
    if p.is_dir():
        raise InputError(p, "is a directory, not a file")
    try:
        with open(p, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    except FileNotFoundError as exc:
        raise InputError(p, "file not found") from exc
    except OSError as exc:
        raise InputError(p, f"cannot be read ({exc.strerror or exc})") from exc
    if h.name.startswith("shake"):
        return h.hexdigest(32)  # type: ignore[call-arg]
    return h.hexdigest()


def _header_names(path: Path) -> set[str] | None:
    """Lower-cased column names of a delimited text file's first line, or None when unreadable."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            line = fh.readline(4096)
    except OSError:
        return None
    for sep in (";", "\t", ","):
        if sep in line:
            return {c.strip().strip('"').lower() for c in line.split(sep)}
    return {line.strip().lower()}


def file_kind(path: str | os.PathLike, *, sniff: bool = True) -> FileKind | None:
    """Classify a path as ``'audio'``, ``'score'``, ``'annotation'`` or None by its extension.

    ``.csv`` and ``.tsv`` are both note lists (scores) and annotation tables. With ``sniff=True`` and
    a readable file, a header naming a pitch column (``pitch``, ``midi_pitch``...) makes it a score;
    otherwise, or without sniffing, it is an annotation.

    Parameters
    ----------
    path : str or os.PathLike
        Any path; only its suffix (case-insensitive) is used, plus the first line for ``.csv``/``.tsv``.
    sniff : bool
        Read the header of ``.csv``/``.tsv`` files to tell note lists from annotations.

    Returns
    -------
    kind : {'audio', 'score', 'annotation'} or None
        None for extensions alignkit does not read.

    Examples
    --------
    >>> file_kind("take.FLAC"), file_kind("score.mxl"), file_kind("beats.txt"), file_kind("x.pdf")
    ('audio', 'score', 'annotation', None)
    """
    ext = extension(path)
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    if ext in NOTE_LIST_EXTENSIONS:
        if sniff:
            names = _header_names(Path(path))
            if names is not None and names & _PITCH_COLUMNS:
                return "score"
        return "annotation"
    if ext in SCORE_EXTENSIONS:
        return "score"
    if ext in ANNOTATION_EXTENSIONS:
        return "annotation"
    return None
