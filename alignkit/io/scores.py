"""Scores in: MIDI, MusicXML and note-list CSV files to :class:`~alignkit.io.notes.Notes`, and piano rolls.

Readers
-------
* MIDI (``.mid``, ``.midi``) through pretty_midi: every instrument, its index in the file kept as
  ``Notes.instrument``; drum tracks only with ``include_drums=True``. Times follow the file's tempo map.
* MusicXML (``.musicxml``, ``.xml``, ``.mxl``) through music21: each part (each staff of a piano
  part) is one instrument index; tied notes are merged; grace notes become short notes at the
  main note's onset; the same pitch struck at the same onset twice in one part (two voices in
  unison) sounds once, as in a MIDI rendering. Quarter-note offsets become seconds through the
  score's metronome marks (sound-only ``<sound tempo>`` marks included), ``default_qpm`` before the
  first one. Repeats are played out with ``expand_repeats=True``.
* Note lists (``.csv``, ``.tsv``): a header row, ``;``, tab or ``,`` separated, with columns (any
  case) ``start``/``onset``, then ``end``/``offset`` or ``duration``, ``pitch``, and optionally
  ``velocity`` and ``instrument`` (numbers, or names numbered by first appearance). Times are
  multiplied by ``time_scale`` (1 for seconds; ``60 / (qpm * ticks_per_quarter)`` for tick lists).

Bad files raise :class:`~alignkit.exceptions.ScoreError` naming the file and the reason.

Piano rolls use one frame convention: frame ``k`` covers ``[k / frame_rate, (k + 1) / frame_rate)``
and a note is active in every frame its interval ``[start, end)`` overlaps (at least its onset frame).
"""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import numpy as np
from numba import njit

from alignkit.exceptions import AlignkitError, ParameterError, ScoreError
from alignkit.io.files import (
    MIDI_EXTENSIONS,
    MUSICXML_EXTENSIONS,
    NOTE_LIST_EXTENSIONS,
    SCORE_EXTENSIONS,
    extension,
)
from alignkit.io.notes import Notes

__all__ = ["load_score", "piano_roll", "onset_roll", "write_midi", "note_frames", "GRACE_QUARTERS"]

#: Length given to a grace note, in quarter notes (a 64th note).
GRACE_QUARTERS = 1.0 / 16.0
# Tolerance (in frames) for float round-off when times that sit on a frame boundary are mapped to frames.
_FRAME_EPS = 1e-9

_START_COLS = ("start", "onset", "onset_sec", "start_time", "onset_time", "starttime")
_END_COLS = ("end", "offset", "offset_sec", "end_time", "offset_time", "endtime")
_DUR_COLS = ("duration", "dur", "duration_sec", "length")
_PITCH_COLS = ("pitch", "midi_pitch", "midipitch", "note_number", "midi")
_VEL_COLS = ("velocity", "vel")
_INST_COLS = ("instrument", "track", "part", "channel", "voice")


def _check_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise ScoreError(p, "file not found")
    if p.is_dir():
        raise ScoreError(p, "is a directory, not a score file")
    if p.stat().st_size == 0:
        raise ScoreError(p, "file is empty (0 bytes)")
    ext = extension(p)
    if ext not in SCORE_EXTENSIONS:
        raise ScoreError(
            p, f"unsupported extension {ext or '(none)'!r}; expected one of {sorted(SCORE_EXTENSIONS)}"
        )
    return p


def load_score(
    path: str | os.PathLike,
    *,
    include_drums: bool = False,
    expand_repeats: bool = False,
    grace_notes: bool = True,
    default_qpm: float = 120.0,
    time_scale: float = 1.0,
) -> Notes:
    """Read a MIDI, MusicXML or note-list file into a :class:`~alignkit.io.notes.Notes`.

    Parameters
    ----------
    path : str or os.PathLike
        ``.mid``/``.midi``, ``.musicxml``/``.xml``/``.mxl``, or ``.csv``/``.tsv`` (see the module docstring).
    include_drums : bool
        MIDI only: keep drum-channel instruments (their notes are not pitches).
    expand_repeats : bool
        MusicXML only: play repeats, voltas and da capo out as performed.
    grace_notes : bool
        MusicXML only: keep grace notes (as notes of :data:`GRACE_QUARTERS` quarter notes starting at
        the main note's onset, as MIDI renderings of scores play them). False drops them.
    default_qpm : float > 0
        MusicXML only: tempo (quarter notes per minute) before the first metronome mark.
    time_scale : float > 0
        Note lists only: seconds per unit of the time columns.

    Returns
    -------
    notes : Notes
        Onsets and offsets in seconds, sorted by onset then pitch; ``source`` is the path.

    Raises
    ------
    ParameterError
        A bad option.
    ScoreError
        Missing, a directory, empty, an unsupported extension, unparsable, or no notes.

    Examples
    --------
    >>> notes = load_score("midi_score.mid")  # doctest: +SKIP
    >>> len(notes), notes.duration  # doctest: +SKIP
    (1876, 243.1)
    """
    if not (isinstance(default_qpm, (int, float)) and np.isfinite(default_qpm) and default_qpm > 0):
        raise ParameterError(f"default_qpm={default_qpm!r} must be a positive number")
    if not (isinstance(time_scale, (int, float)) and np.isfinite(time_scale) and time_scale > 0):
        raise ParameterError(f"time_scale={time_scale!r} must be a positive number")
    p = _check_path(path)
    ext = extension(p)
    if ext in MIDI_EXTENSIONS:
        cols = _read_midi(p, include_drums=include_drums)
    elif ext in MUSICXML_EXTENSIONS:
        cols = _read_musicxml(
            p, expand_repeats=expand_repeats, grace_notes=grace_notes, default_qpm=float(default_qpm)
        )
    else:
        assert ext in NOTE_LIST_EXTENSIONS
        cols = _read_note_list(p, time_scale=float(time_scale))
    if len(cols[0]) == 0:
        raise ScoreError(p, "score holds no notes")
    try:
        return Notes(*cols, source=os.fspath(p))
    except AlignkitError as exc:
        raise ScoreError(p, f"invalid notes ({exc})") from exc


def parse_midi(path: str | os.PathLike):
    """Parse a MIDI file with pretty_midi; a file that does not parse raises :class:`ScoreError`."""
    import pretty_midi

    try:
        with warnings.catch_warnings():
            # pretty_midi warns about tempo events outside track 0, common in exported scores.
            warnings.simplefilter("ignore", RuntimeWarning)
            return pretty_midi.PrettyMIDI(os.fspath(path))
    except Exception as exc:  # mido/pretty_midi raise OSError, ValueError, EOFError, KeyError, IndexError...
        raise ScoreError(path, f"cannot be parsed as MIDI ({type(exc).__name__}: {exc})") from exc


def midi_note_columns(pm, *, include_drums: bool = False):
    """Note columns (start, end, pitch, velocity, instrument index) of a parsed MIDI file."""
    start, end, pitch, vel, inst = [], [], [], [], []
    for i, instrument in enumerate(pm.instruments):
        if instrument.is_drum and not include_drums:
            continue
        for n in instrument.notes:
            start.append(n.start)
            end.append(max(n.end, n.start))
            pitch.append(n.pitch)
            vel.append(n.velocity)
            inst.append(i)
    return start, end, pitch, vel, inst


def _read_midi(p: Path, *, include_drums: bool):
    return midi_note_columns(parse_midi(p), include_drums=include_drums)


def _musicxml_root(p: Path):
    """Return the ElementTree root of a plain or compressed (.mxl) MusicXML file."""
    import xml.etree.ElementTree as ET
    import zipfile

    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
            target = None
            if "META-INF/container.xml" in names:
                container = ET.fromstring(zf.read("META-INF/container.xml"))
                for el in container.iter():
                    if el.tag.endswith("rootfile") and el.get("full-path"):
                        target = el.get("full-path")
                        break
            if target is None:
                target = next(
                    n for n in names if not n.startswith("META-INF") and n.endswith((".xml", ".musicxml"))
                )
            return ET.fromstring(zf.read(target))
    return ET.parse(p).getroot()


def _sound_tempos(p: Path) -> tuple[int, list[tuple[int, float, float]]]:
    """Playback tempos ``<sound tempo="...">`` of a partwise MusicXML file.

    music21 drops a ``<sound tempo>`` that shares its ``<direction>`` with a displayed
    ``<metronome>`` (it keeps the displayed number, which is often only indicative), so the
    playback tempos are read here. Returns the number of measures of the first part and
    ``(measure index, offset in quarters inside the measure, quarter notes per minute)`` for every
    sound tempo of any part.
    """
    root = _musicxml_root(p)
    found: dict[tuple[int, float], float] = {}
    n_measures = 0
    for k, part in enumerate(root.findall("part")):
        divisions = 1.0
        measures = part.findall("measure")
        if k == 0:
            n_measures = len(measures)
        for mi, measure in enumerate(measures):
            pos = 0.0
            for el in measure:
                tag = el.tag
                if tag == "attributes":
                    d = el.findtext("divisions")
                    if d:
                        divisions = float(d)
                elif tag == "note":
                    if el.find("chord") is None and el.find("grace") is None:
                        pos += float(el.findtext("duration") or 0.0)
                elif tag == "backup":
                    pos -= float(el.findtext("duration") or 0.0)
                elif tag == "forward":
                    pos += float(el.findtext("duration") or 0.0)
                elif tag in ("direction", "sound"):
                    snd = el if tag == "sound" else el.find("sound")
                    if snd is not None and snd.get("tempo"):
                        try:
                            qpm = float(snd.get("tempo"))
                        except ValueError:
                            continue
                        shift = float(el.findtext("offset") or 0.0) if tag == "direction" else 0.0
                        if np.isfinite(qpm) and qpm > 0:
                            found.setdefault((mi, max(pos + shift, 0.0) / divisions), qpm)
    return n_measures, [(mi, off, qpm) for (mi, off), qpm in sorted(found.items())]


def _add_sound_tempos(p: Path, score) -> None:
    """Insert the file's playback tempos into the first part as playback-only metronome marks."""
    from music21 import stream, tempo

    try:
        n_measures, sounds = _sound_tempos(p)
    except Exception:  # an exotic file (timewise, odd encoding): keep music21's marks only
        return
    if not sounds or not score.parts:
        return
    measures = list(score.parts[0].getElementsByClass(stream.Measure))
    if len(measures) != n_measures:
        return
    for mi, off, qpm in sounds:
        mark = tempo.MetronomeMark(numberSounding=qpm)
        mark.priority = -10
        measures[mi].insert(off, mark)


def _tempo_map(score, default_qpm: float):
    """Breakpoints (quarter offsets, seconds at them, quarters per second) of the score's tempo marks.

    At one offset a playback-only mark (``<sound tempo>``) wins over a displayed one.
    """
    from music21 import tempo

    shown: dict[float, float] = {}
    played: dict[float, float] = {}
    for mm in score.recurse().getElementsByClass(tempo.MetronomeMark):
        try:
            qpm = mm.getQuarterBPM()
        except (ZeroDivisionError, TypeError, ValueError):  # a mark like "quarter = 0"
            continue
        if qpm is None or not np.isfinite(qpm) or qpm <= 0:
            continue
        off = float(mm.getOffsetInHierarchy(score))
        target = played if (mm.number is None and mm.numberSounding is not None) else shown
        target.setdefault(off, float(qpm))  # the same mark repeated in every part: keep the first
    marks = {**shown, **played}
    offs = sorted(marks)
    if not offs or offs[0] > 0:
        offs.insert(0, 0.0)
        marks[0.0] = default_qpm
    q = np.asarray(offs, dtype=np.float64)
    qps = np.asarray([marks[o] / 60.0 for o in offs], dtype=np.float64)
    secs = np.concatenate([[0.0], np.cumsum(np.diff(q) / qps[:-1])])
    return q, secs, qps


def _quarters_to_seconds(x: np.ndarray, q: np.ndarray, secs: np.ndarray, qps: np.ndarray) -> np.ndarray:
    seg = np.clip(np.searchsorted(q, x, side="right") - 1, 0, len(q) - 1)
    return secs[seg] + (x - q[seg]) / qps[seg]


def _read_musicxml(p: Path, *, expand_repeats: bool, grace_notes: bool, default_qpm: float):
    import music21

    # forceSource: no pickle cache in music21's shared temp folder (parallel workers would race
    # on it, and the result must depend on the file alone). music21 raises many exception types
    # (ConverterException, ParseError, MusicXMLImportException...), hence the broad except.
    try:
        score = music21.converter.parse(os.fspath(p), forceSource=True)
    except Exception as exc:
        raise ScoreError(p, f"cannot be parsed as MusicXML ({type(exc).__name__}: {exc})") from exc
    if not hasattr(score, "parts"):
        raise ScoreError(p, f"parsed to a {type(score).__name__}, not a score")
    _add_sound_tempos(p, score)
    if expand_repeats:
        try:
            score = score.expandRepeats()
        except Exception as exc:
            raise ScoreError(p, f"repeats cannot be expanded ({type(exc).__name__}: {exc})") from exc
    q, secs, qps = _tempo_map(score, default_qpm)
    # (onset, pitch, part) -> [onset, end, pitch, velocity, part], onset and end in quarter notes
    rows: dict[tuple[float, int, int], list] = {}
    parts = list(score.parts) or [score]
    for pi, part in enumerate(parts):
        base = float(part.getOffsetInHierarchy(score)) if part is not score else 0.0
        open_ties: dict[int, list] = {}
        for el in part.flatten().notes:
            members = list(el.notes) if el.isChord else [el]
            on = base + float(el.offset)
            grace = el.duration.isGrace
            if grace and not grace_notes:
                continue
            end = on + (GRACE_QUARTERS if grace else float(el.quarterLength))
            vel = el.volume.velocity if el.hasVolumeInformation() else None
            for n in members:
                if not hasattr(n, "pitch"):  # unpitched percussion
                    continue
                midi = int(n.pitch.midi)
                tie = n.tie if n.tie is not None else (el.tie if el.isChord else None)
                kind = None if (tie is None or grace) else tie.type
                if kind in ("continue", "stop") and midi in open_ties:
                    rec = open_ties[midi]
                    rec[1] = max(rec[1], end)
                    if kind == "stop":
                        del open_ties[midi]
                    continue
                v = n.volume.velocity if n.hasVolumeInformation() else vel
                key = (on, midi, pi)
                rec = rows.get(key)
                if rec is None:
                    rec = [on, end, midi, 64 if v is None else int(np.clip(v, 1, 127)), pi]
                    rows[key] = rec
                else:  # unison of two voices: one note, the longer of the two
                    rec[1] = max(rec[1], end)
                if kind in ("start", "continue"):
                    open_ties[midi] = rec
    if not rows:
        return [], [], [], [], []
    arr = np.asarray(list(rows.values()), dtype=np.float64)
    start = _quarters_to_seconds(arr[:, 0], q, secs, qps)
    end = np.maximum(_quarters_to_seconds(arr[:, 1], q, secs, qps), start)
    return start, end, arr[:, 2], arr[:, 3], arr[:, 4]


def _pick(names: list[str], aliases: tuple[str, ...]) -> int | None:
    for a in aliases:
        if a in names:
            return names.index(a)
    return None


def _read_note_list(p: Path, *, time_scale: float):
    try:
        with open(p, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ScoreError(p, f"cannot be read as a text note list ({exc})") from exc
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ScoreError(p, "score holds no notes (no lines)")
    header = lines[0]
    delim = max((";", "\t", ","), key=header.count)
    if header.count(delim) == 0:
        raise ScoreError(
            p, f"not a delimited note list: header {header[:80]!r} has no ';', tab or ',' separator"
        )
    names = [c.strip().strip('"').lower() for c in next(csv.reader([header], delimiter=delim))]
    i_start, i_pitch = _pick(names, _START_COLS), _pick(names, _PITCH_COLS)
    i_end, i_dur = _pick(names, _END_COLS), _pick(names, _DUR_COLS)
    i_vel, i_inst = _pick(names, _VEL_COLS), _pick(names, _INST_COLS)
    if i_start is None or i_pitch is None or (i_end is None and i_dur is None):
        raise ScoreError(
            p,
            f"note list header {names} needs a start/onset column, an end/offset or duration column "
            "and a pitch column",
        )
    start, end, pitch, vel, inst = [], [], [], [], []
    inst_ids: dict[str, int] = {}
    for row_no, row in enumerate(csv.reader(lines[1:], delimiter=delim), start=2):
        try:
            s = float(row[i_start]) * time_scale
            e = float(row[i_end]) * time_scale if i_end is not None else s + float(row[i_dur]) * time_scale
            pt = float(row[i_pitch])
            v = float(row[i_vel]) if i_vel is not None and row[i_vel].strip() else 64.0
        except (ValueError, IndexError) as exc:
            raise ScoreError(p, f"row {row_no} cannot be parsed ({row!r}: {exc})") from exc
        if not (np.isfinite(s) and np.isfinite(e) and pt == round(pt) and 0 <= pt <= 127):
            raise ScoreError(p, f"row {row_no} has a non-finite time or a pitch outside 0..127 ({row!r})")
        if e < s:
            raise ScoreError(p, f"row {row_no} ends before it starts ({row!r})")
        if i_inst is not None and i_inst < len(row):
            label = row[i_inst].strip()
            try:
                k = int(float(label))
            except ValueError:
                k = inst_ids.setdefault(label, len(inst_ids))
        else:
            k = 0
        start.append(s)
        end.append(e)
        pitch.append(int(pt))
        vel.append(int(np.clip(round(v), 1, 127)))
        inst.append(k)
    return start, end, pitch, vel, inst


# ----------------------------------------------------------------------------------------------
# Piano rolls


def _check_frame_rate(frame_rate) -> float:
    if (
        isinstance(frame_rate, bool)
        or not isinstance(frame_rate, (int, float, np.integer, np.floating))
        or not np.isfinite(frame_rate)
        or frame_rate <= 0
    ):
        raise ParameterError(f"frame_rate={frame_rate!r} must be a positive number (frames per second)")
    return float(frame_rate)


def note_frames(notes: Notes, frame_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last frame of every note.

    Parameters
    ----------
    notes : Notes
        ``n`` notes.
    frame_rate : float > 0
        Frames per second; frame ``k`` covers ``[k / frame_rate, (k + 1) / frame_rate)``.

    Returns
    -------
    first : np.ndarray [shape=(n,), dtype=int64]
        ``floor(start * frame_rate)``, the frame holding the onset.
    stop : np.ndarray [shape=(n,), dtype=int64]
        ``max(first + 1, ceil(end * frame_rate))``: every frame the note overlaps, at least one.
        Times within 1e-9 frames of a boundary count as on it (so 0.3 s at 10 Hz is frame 3).
    """
    fr = _check_frame_rate(frame_rate)
    first = np.floor(notes.start * fr + _FRAME_EPS).astype(np.int64)
    stop = np.maximum(first + 1, np.ceil(notes.end * fr - _FRAME_EPS).astype(np.int64))
    return first, stop


@njit(cache=True)
def _fill_roll(first, stop, col, weight, n_frames, n_pitches, onset_only):  # pragma: no cover - numba
    roll = np.zeros((n_frames, n_pitches), dtype=np.float32)
    for i in range(first.shape[0]):
        c = col[i]
        if c < 0 or c >= n_pitches:
            continue
        a = first[i]
        b = a + 1 if onset_only else stop[i]
        if b > n_frames:
            b = n_frames
        w = weight[i]
        for t in range(max(a, 0), b):
            if roll[t, c] < w:
                roll[t, c] = w
    return roll


def _roll(notes, frame_rate, n_frames, pitch_range, weighting, onset_only):
    if not isinstance(notes, Notes):
        raise ParameterError(f"notes must be an alignkit.io.notes.Notes, got {type(notes).__name__}")
    first, stop = note_frames(notes, frame_rate)
    try:
        lo, hi = (int(v) for v in pitch_range)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"pitch_range={pitch_range!r} must be a pair (low, high) of MIDI pitches"
        ) from exc
    if not (0 <= lo < hi <= 128):
        raise ParameterError(
            f"pitch_range={pitch_range!r} must satisfy 0 <= low < high <= 128 (high excluded)"
        )
    if weighting == "binary":
        weight = np.ones(len(notes), dtype=np.float32)
    elif weighting == "velocity":
        weight = notes.velocity.astype(np.float32) / np.float32(127.0)
    else:
        raise ParameterError(f"weighting={weighting!r} is not one of ['binary', 'velocity']")
    if n_frames is None:
        n_frames = int(stop.max()) if len(notes) else 0
    elif isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 0:
        raise ParameterError(f"n_frames={n_frames!r} must be an integer >= 0 or None")
    col = notes.pitch.astype(np.int64) - lo
    return _fill_roll(first, stop, col, weight, int(n_frames), hi - lo, onset_only)


def piano_roll(
    notes: Notes,
    frame_rate: float,
    *,
    n_frames: int | None = None,
    pitch_range: tuple[int, int] = (0, 128),
    weighting: str = "binary",
) -> np.ndarray:
    """Frame-wise pitch activity of a note list.

    Parameters
    ----------
    notes : Notes
        The notes (seconds).
    frame_rate : float > 0
        Frames per second. Frame ``k`` covers ``[k / frame_rate, (k + 1) / frame_rate)``; a note is
        active in every frame its ``[start, end)`` overlaps, and in at least its onset frame.
    n_frames : int >= 0 or None
        Number of frames; None ends at the last note's last frame. Notes past it are cut.
    pitch_range : (int, int)
        MIDI pitches ``low`` (included) to ``high`` (excluded); column ``j`` is pitch ``low + j``.
        Notes outside are dropped.
    weighting : {'binary', 'velocity'}
        1 for an active note, or its velocity / 127. Overlapping notes of one pitch take the maximum.

    Returns
    -------
    roll : np.ndarray [shape=(n_frames, high - low), dtype=float32]
        Time-first, like every feature in alignkit.

    Examples
    --------
    >>> n = Notes.from_arrays(start=[0.0, 0.25], end=[0.5, 0.45], pitch=[60, 64])
    >>> piano_roll(n, 10, pitch_range=(60, 65))[:, [0, 4]].T
    array([[1., 1., 1., 1., 1.],
           [0., 0., 1., 1., 1.]], dtype=float32)
    """
    return _roll(notes, frame_rate, n_frames, pitch_range, weighting, False)


def onset_roll(
    notes: Notes,
    frame_rate: float,
    *,
    n_frames: int | None = None,
    pitch_range: tuple[int, int] = (0, 128),
    weighting: str = "binary",
) -> np.ndarray:
    """Note onsets as a frame-wise matrix: 1 (or velocity / 127) at each note's onset frame.

    Same parameters, frame convention and default length as :func:`piano_roll`, so the two rolls of
    one note list have the same shape.

    Returns
    -------
    roll : np.ndarray [shape=(n_frames, high - low), dtype=float32]
        ``roll[floor(start * frame_rate), pitch - low]`` set for every note.
    """
    return _roll(notes, frame_rate, n_frames, pitch_range, weighting, True)


# ----------------------------------------------------------------------------------------------
# Writing


def write_midi(
    notes: Notes, path: str | os.PathLike, *, resolution: int = 960, qpm: float = 120.0, program: int = 0
) -> Path:
    """Write notes to a standard MIDI file, one track per instrument index.

    Parameters
    ----------
    notes : Notes
        The notes; times are rounded to the tick grid (``60 / (qpm * resolution)`` s, 0.52 ms by default).
    path : str or os.PathLike
        Target ``.mid``/``.midi`` file; its folder must exist.
    resolution : int > 0
        Ticks per quarter note.
    qpm : float > 0
        The file's (single) tempo.
    program : int in 0..127
        General MIDI program of every track (0: acoustic grand piano).

    Returns
    -------
    path : pathlib.Path
        The written file. Reading it with :func:`load_score` returns the same notes (on the tick
        grid) and the same instrument indices when those are 0..k-1 and every index has notes;
        overlapping notes of one pitch in one instrument are ambiguous in MIDI and may pair differently.
    """
    import pretty_midi

    if not isinstance(notes, Notes):
        raise ParameterError(f"notes must be an alignkit.io.notes.Notes, got {type(notes).__name__}")
    p = Path(path)
    if extension(p) not in MIDI_EXTENSIONS:
        raise ParameterError(f"path={os.fspath(p)!r} must end in .mid or .midi")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution <= 0:
        raise ParameterError(f"resolution={resolution!r} must be a positive integer")
    if not (isinstance(qpm, (int, float)) and np.isfinite(qpm) and qpm > 0):
        raise ParameterError(f"qpm={qpm!r} must be a positive number")
    if not (isinstance(program, (int, np.integer)) and 0 <= program <= 127):
        raise ParameterError(f"program={program!r} must be an integer in 0..127")
    if len(notes) and notes.start.min() < 0:
        raise ParameterError("notes must not start before 0 s to be written as MIDI")
    pm = pretty_midi.PrettyMIDI(resolution=int(resolution), initial_tempo=float(qpm))
    n_inst = int(notes.instrument.max()) + 1 if len(notes) else 0
    tracks = [
        pretty_midi.Instrument(program=int(program), name=f"instrument {k}") for k in range(max(n_inst, 0))
    ]
    for s, e, pt, v, k in zip(
        notes.start, notes.end, notes.pitch, notes.velocity, notes.instrument, strict=True
    ):
        if k < 0:
            raise ParameterError(f"instrument index {k} < 0 cannot be written as a MIDI track")
        tracks[k].notes.append(
            pretty_midi.Note(velocity=int(np.clip(v, 1, 127)), pitch=int(pt), start=float(s), end=float(e))
        )
    pm.instruments.extend(tracks)
    try:
        pm.write(os.fspath(p))
    except (OSError, ValueError) as exc:
        raise ScoreError(p, f"cannot be written as MIDI ({exc})") from exc
    return p
