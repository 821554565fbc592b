"""Render the ASAP performance MIDIs into a real-timing multi-version audio corpus.

ASAP (``../shared/data/asap``) holds human piano performances as MIDI with annotated
beats. Rendering each performance with :func:`alignkit.synth.render.render_notes` keeps
every note at its MIDI time to the sample, so the annotated beat times stay valid for
the audio: the tempo curves are real pianists', the ground truth is their annotations.

Output layout (the same as the demo corpus)::

    <out>/manifest.yaml
    <out>/<work>/<performance>.flac              rendered performance (piano, mono, 16 bit)
    <out>/<work>/<performance>_annotations.txt   ASAP beat annotations, lines copied verbatim
    <out>/<work>/<performance>_notes.csv         the performance's notes (MIDI key times)
    <out>/<work>/score.mid                       ASAP's midi_score.mid
    <out>/<work>/score_annotations.txt           its beat annotations, copied verbatim
    <out>/<work>/score_notes.csv                 its notes

``<work>`` is ASAP's folder with ``/`` replaced by ``_`` (``Bach_Fugue_bwv_848``),
``<performance>`` the performance MIDI's file stem. Labels keep ASAP's form (``db``,
``b``, ``bR``, optionally followed by ``,time signature,key``).
"""

from __future__ import annotations

import csv
import os
import shutil
import warnings
from concurrent.futures import Executor
from pathlib import Path

import numpy as np

from alignkit.exceptions import AnnotationError, CorpusError, ParameterError, ScoreError
from alignkit.io.notes import Notes
from alignkit.io.scores import midi_note_columns, parse_midi
from alignkit.synth.demo import _flat_versions, write_notes_csv
from alignkit.synth.render import render_notes

__all__ = ["render_asap", "read_midi_notes", "apply_sustain_pedal", "asap_work_id"]


def asap_work_id(folder: str) -> str:
    """Work id of an ASAP folder: ``"Bach/Fugue/bwv_848"`` -> ``"Bach_Fugue_bwv_848"``."""
    return folder.strip("/").replace("/", "_")


def read_midi_notes(path: str | os.PathLike) -> tuple[Notes, np.ndarray]:
    """Read the notes and sustain-pedal intervals of a MIDI file (times from its tempo map).

    Parameters
    ----------
    path : str or os.PathLike
        A standard MIDI file.

    Returns
    -------
    notes : Notes
        All non-drum notes; ``instrument`` is the track (instrument) index.
    pedal : np.ndarray [shape=(n_intervals, 2)]
        Sustain pedal (controller 64 >= 64) down/up times, merged over tracks.

    Raises
    ------
    ScoreError
        If the file cannot be read or holds no notes.
    """
    path = Path(path)
    pm = parse_midi(path)
    start, end, pitch, vel, inst = midi_note_columns(pm)
    events = [(c.time, c.value >= 64) for ins in pm.instruments if not ins.is_drum
              for c in ins.control_changes if c.number == 64]
    if not start:
        raise ScoreError(path, "no notes")
    notes = Notes.from_arrays(start, end, pitch, velocity=vel, instrument=inst, source=str(path))
    events.sort(key=lambda e: e[0])
    intervals, down_at = [], None
    for t, down in events:
        if down and down_at is None:
            down_at = t
        elif not down and down_at is not None:
            intervals.append((down_at, t))
            down_at = None
    if down_at is not None:
        intervals.append((down_at, max(notes.duration, down_at)))
    return notes, np.array(intervals, dtype=np.float64).reshape(-1, 2)


def apply_sustain_pedal(notes: Notes, pedal: np.ndarray) -> Notes:
    """Extend note ends held by the sustain pedal; onsets are unchanged.

    A note released while the pedal is down sounds until the pedal comes up, or until
    the same key is struck again, whichever is first.

    Parameters
    ----------
    notes : Notes
    pedal : np.ndarray [shape=(n_intervals, 2)]
        Pedal down/up times in seconds (sorted, non-overlapping).

    Returns
    -------
    notes : Notes
        Same onsets, pitches and velocities; sounding ends.
    """
    pedal = np.asarray(pedal, dtype=np.float64).reshape(-1, 2)
    end = notes.end.copy()
    if pedal.shape[0]:
        k = np.searchsorted(pedal[:, 0], end, side="right") - 1
        held = (k >= 0) & (end < pedal[np.maximum(k, 0), 1])
        end[held] = np.maximum(end[held], pedal[k[held], 1])
        # a re-struck key cuts the previous sound of that key
        for p in np.unique(notes.pitch):
            idx = np.flatnonzero(notes.pitch == p)
            if idx.size > 1:
                nxt = notes.start[idx[1:]]
                cur = idx[:-1]
                end[cur] = np.where(end[cur] > nxt, np.maximum(nxt, notes.end[cur]), end[cur])
    return Notes(start=notes.start, end=end, pitch=notes.pitch, velocity=notes.velocity,
                 instrument=notes.instrument, source=notes.source)


def _read_beat_lines(path: Path) -> tuple[list[str], np.ndarray]:
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        times = np.array([float(ln.split("\t")[0]) for ln in lines])
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise AnnotationError(path, f"cannot parse ASAP beat annotations: {exc}") from exc
    return lines, times


def _write_cut_score(src: Path, dst: Path, cut: float) -> Notes:
    """Copy a score MIDI keeping notes that start before ``cut`` (tempo map kept)."""
    import pretty_midi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pm = pretty_midi.PrettyMIDI(str(src))
    for ins in pm.instruments:
        ins.notes = [n for n in ins.notes if n.start < cut]
        ins.control_changes = [c for c in ins.control_changes if c.time < cut]
    pm.write(str(dst))
    notes, _ = read_midi_notes(src)
    keep = notes.start < cut
    return Notes(start=notes.start[keep], end=notes.end[keep], pitch=notes.pitch[keep],
                 velocity=notes.velocity[keep], instrument=notes.instrument[keep], source=notes.source)


def _render_performance(task) -> dict:
    """Render one ASAP performance and write its sidecars; return its manifest entry."""
    import soundfile as sf

    asap_root, wdir, r, o = task
    sr, max_duration, audio_format = o["sr"], o["max_duration"], o["audio_format"]
    vid = Path(r["midi_performance"]).stem
    notes, pedal = read_midi_notes(asap_root / r["midi_performance"])
    lines, times = _read_beat_lines(asap_root / r["performance_annotations"])
    n_samples = None
    if max_duration is not None:
        keep = notes.start < max_duration
        notes = Notes(start=notes.start[keep], end=notes.end[keep], pitch=notes.pitch[keep],
                      velocity=notes.velocity[keep], instrument=notes.instrument[keep], source=notes.source)
        lines = [ln for ln, t in zip(lines, times, strict=True) if t < max_duration]
        n_samples = int(round(max_duration * sr))
    audio = f"{vid}.{audio_format}"
    if o["overwrite"] or not (wdir / audio).is_file():
        y = render_notes(apply_sustain_pedal(notes, pedal), sr=sr, soundfont=o["soundfont"],
                         program=o["program"], tail=o["tail"], n_samples=n_samples).astype(np.float64)
        peak = np.abs(y).max()
        if peak > 0:
            y *= 0.7 / peak
        tmp = wdir / f".{vid}.tmp.{audio_format}"
        sf.write(tmp, y.astype(np.float32), sr, subtype="PCM_16", format=audio_format.upper())
        os.replace(tmp, wdir / audio)
        duration = y.shape[0] / sr
    else:
        duration = sf.info(str(wdir / audio)).duration
    (wdir / f"{vid}_annotations.txt").write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    write_notes_csv(wdir / f"{vid}_notes.csv", notes)
    return {
        "id": vid, "kind": "audio", "file": audio, "annotations": f"{vid}_annotations.txt",
        "notes": f"{vid}_notes.csv", "source": r["midi_performance"], "program": int(o["program"]),
        "duration": round(float(duration), 6), "n_notes": len(notes), "n_beats": len(lines),
    }


def render_asap(
    asap_root: str | os.PathLike,
    out_root: str | os.PathLike,
    *,
    pieces: list[str] | tuple[str, ...] | None = None,
    performances: list[str] | tuple[str, ...] | None = None,
    max_performances: int | None = None,
    sr: int = 22050,
    max_duration: float | None = None,
    soundfont: str | os.PathLike | None = None,
    program: int = 0,
    audio_format: str = "flac",
    tail: float = 1.0,
    overwrite: bool = False,
    executor: Executor | None = None,
) -> Path:
    """Render ASAP performance MIDIs to audio with their beat annotations as sidecars.

    Parameters
    ----------
    asap_root : str or os.PathLike
        The ASAP folder holding ``metadata.csv`` (e.g. ``../shared/data/asap``). Read only.
    out_root : str or os.PathLike
        Output folder (created); never inside ``asap_root``.
    pieces : sequence of str or None
        ASAP folders (``"Bach/Fugue/bwv_848"``) or work ids (``"Bach_Fugue_bwv_848"``) to
        render; ``None``: all.
    performances : sequence of str or None
        Only these performances (MIDI file stems, e.g. ``"Denisova06M"``); ``None``: all.
    max_performances : int or None
        At most this many performances per piece, in ``metadata.csv`` order (after
        ``performances``).
    sr : int
        Sample rate, Hz.
    max_duration : float or None
        Render only the first ``max_duration`` seconds of each performance (notes starting
        before it; audio cut there) and keep the beats before it. The score is cut after
        the largest number of beats any rendered performance of the piece kept.
    soundfont : str or os.PathLike or None
        SoundFont; ``None``: the pretty_midi wheel's ``TimGM6mb.sf2``.
    program : int
        General MIDI program (0 = acoustic grand piano).
    audio_format : {"flac", "wav"}
    tail : float
        Seconds after the last note-off (without ``max_duration``).
    overwrite : bool
        Re-render audio files that already exist (by default an existing audio file is
        kept, so an interrupted run resumes).
    executor : concurrent.futures.Executor or None
        Renders the performances in parallel through ``executor.map``; ``None``: one by one.

    Returns
    -------
    out_root : pathlib.Path
        The corpus folder, with ``manifest.yaml`` written last.

    Raises
    ------
    CorpusError
        If ``metadata.csv`` is missing or malformed, a requested piece is unknown, or
        ``out_root`` lies inside ``asap_root``.
    ScoreError, AnnotationError
        If a MIDI or annotation file cannot be read.
    ParameterError
        On bad numeric options.
    """
    import yaml

    asap_root = Path(asap_root)
    out_root = Path(out_root)
    meta_path = asap_root / "metadata.csv"
    if not meta_path.is_file():
        raise CorpusError(f"asap_root={str(asap_root)!r} has no metadata.csv")
    if out_root.resolve().is_relative_to(asap_root.resolve()):
        raise CorpusError(f"out_root={str(out_root)!r} lies inside asap_root; render elsewhere")
    if max_performances is not None and (isinstance(max_performances, bool) or
                                         not isinstance(max_performances, (int, np.integer))
                                         or max_performances < 1):
        raise ParameterError(f"max_performances={max_performances!r} must be a positive integer or None")
    if max_duration is not None and (not np.isfinite(max_duration) or max_duration <= 0):
        raise ParameterError(f"max_duration={max_duration!r} must be positive or None")
    if audio_format not in ("flac", "wav"):
        raise ParameterError(f"audio_format={audio_format!r} is not one of ['flac', 'wav']")
    with meta_path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    need = {"folder", "midi_score", "midi_performance", "performance_annotations", "midi_score_annotations"}
    if not rows or not need <= set(rows[0]):
        raise CorpusError(f"{meta_path}: expected columns {sorted(need)}")
    by_piece: dict[str, list[dict]] = {}
    for r in rows:
        by_piece.setdefault(r["folder"], []).append(r)
    if pieces is not None:
        wanted = {}
        for p in pieces:
            match = [f for f in by_piece if p in (f, asap_work_id(f))]
            if not match:
                raise CorpusError(f"piece {p!r} is not in {meta_path} (known: {sorted(by_piece)})")
            wanted[match[0]] = by_piece[match[0]]
        by_piece = wanted

    out_root.mkdir(parents=True, exist_ok=True)
    manifest_path = out_root / "manifest.yaml"
    works = []
    opts = {"sr": int(sr), "max_duration": max_duration, "soundfont": soundfont, "program": int(program),
            "audio_format": audio_format, "tail": float(tail), "overwrite": bool(overwrite)}
    tasks, piece_rows = [], {}
    for folder, perf_rows in by_piece.items():
        if performances is not None:
            perf_rows = [r for r in perf_rows if Path(r["midi_performance"]).stem in set(performances)]
            if not perf_rows:
                continue
        if max_performances is not None:
            perf_rows = perf_rows[:max_performances]
        piece_rows[folder] = perf_rows
        (out_root / asap_work_id(folder)).mkdir(exist_ok=True)
        tasks.extend((asap_root, out_root / asap_work_id(folder), r, opts) for r in perf_rows)
    if not tasks:
        raise CorpusError(f"no performances selected (pieces={pieces!r}, performances={performances!r})")
    if executor is None:
        done = [_render_performance(t) for t in tasks]
    else:
        done = list(executor.map(_render_performance, tasks))
    results = iter(done)
    for folder, perf_rows in piece_rows.items():
        work_id = asap_work_id(folder)
        wdir = out_root / work_id
        versions = [next(results) for _ in perf_rows]
        max_beats = max(v["n_beats"] for v in versions)
        # the score version
        s_lines, s_times = _read_beat_lines(asap_root / perf_rows[0]["midi_score_annotations"])
        src_score = asap_root / perf_rows[0]["midi_score"]
        if max_duration is not None and max_beats < len(s_lines):
            cut = float(s_times[max_beats])
            s_lines = s_lines[:max_beats]
            s_notes = _write_cut_score(src_score, wdir / "score.mid", cut)
        else:
            shutil.copyfile(src_score, wdir / "score.mid")
            s_notes, _ = read_midi_notes(src_score)
        (wdir / "score_annotations.txt").write_text("".join(ln + "\n" for ln in s_lines), encoding="utf-8")
        write_notes_csv(wdir / "score_notes.csv", s_notes)
        works.append({
            "id": work_id, "source": f"asap:{folder}", "composer": perf_rows[0].get("composer", ""),
            "title": perf_rows[0].get("title", ""),
            "score": {"id": "score", "kind": "score", "file": "score.mid",
                      "annotations": "score_annotations.txt", "notes": "score_notes.csv",
                      "source": perf_rows[0]["midi_score"], "n_beats": len(s_lines)},
            "versions": versions,
        })
    manifest = {
        "name": "asap-rendered",
        "generator": "alignkit.synth.asap.render_asap",
        "license": "ASAP data: CC BY-NC-SA 4.0 (see the ASAP folder's LICENSE.md)",
        "parameters": {"sample_rate": int(sr), "program": int(program), "max_duration": max_duration,
                       "max_performances": max_performances, "audio_format": audio_format,
                       "soundfont": "TimGM6mb.sf2 (pretty_midi)" if soundfont is None else str(soundfont),
                       "sustain_pedal": "note ends extended while controller 64 is down"},
        "layout": "<root>/<work>/<version>.<ext> with <version>_annotations.txt (ASAP beats, verbatim) "
                  "and <version>_notes.csv; score version: score.mid, score_annotations.txt, "
                  "score_notes.csv",
        "works": works,
        "versions": _flat_versions(works),
    }
    tmp = manifest_path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, manifest_path)
    return out_root
