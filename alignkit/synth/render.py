"""Notes -> audio with every note at its exact sample position.

The SoundFont path drives TinySoundFont (``tinysoundfont``, the C library
TinySoundFont behind a small binding) directly: the events (note on, note off) are
sorted by their absolute sample position ``round(t * sr)`` and the synthesizer renders
exactly the samples between two consecutive events, so a note starts on the very
sample its onset names, however long the piece. TinySoundFont's own
``Sequencer`` is not used: it rounds every inter-event gap up to whole samples and
drifts (about 0.4 s after 8 minutes of notes).

The additive synthesizer is a plain harmonic-series fallback for machines without a
SoundFont; it is only used when asked for (``synth="additive"``), never silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from alignkit.exceptions import ParameterError
from alignkit.io.notes import Notes

__all__ = [
    "render_notes",
    "default_soundfont",
    "GM_PROGRAM_NAMES",
]

#: A few General MIDI programs (0-based) the demo uses, with short names.
GM_PROGRAM_NAMES = {
    0: "piano",
    6: "harpsichord",
    11: "vibraphone",
    19: "organ",
    24: "guitar",
    40: "violin",
    46: "harp",
    48: "strings",
    52: "choir",
    71: "clarinet",
    73: "flute",
}

_SYNTHS = ("soundfont", "additive")
# Non-drum MIDI channels: overlapping notes of the same pitch go to different channels,
# because a note-off releases the oldest sounding voice of that key on its channel.
_CHANNELS = tuple(c for c in range(16) if c != 9)


def default_soundfont() -> Path:
    """Path of the General MIDI SoundFont ``TimGM6mb.sf2`` shipped in the pretty_midi wheel.

    Returns
    -------
    path : pathlib.Path
        The SoundFont file.

    Raises
    ------
    ParameterError
        If pretty_midi is not installed or its wheel lacks the SoundFont.
    """
    try:
        import pretty_midi
    except ImportError as exc:  # pragma: no cover - pretty_midi is a hard dependency
        raise ParameterError("soundfont=None needs pretty_midi (it ships TimGM6mb.sf2)") from exc
    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise ParameterError(f"soundfont=None: {path} is missing from the pretty_midi installation")
    return path


def _program_of(notes: Notes, program) -> np.ndarray:
    """GM program per note from an int or a {instrument index: program} mapping."""
    if isinstance(program, Mapping):
        out = np.empty(len(notes), dtype=np.int64)
        for inst in np.unique(notes.instrument):
            if int(inst) not in program:
                raise ParameterError(f"program mapping has no entry for instrument {int(inst)}")
            out[notes.instrument == inst] = program[int(inst)]
    else:
        out = np.full(len(notes), program, dtype=np.int64)
    bad = out[(out < 0) | (out > 127)]
    if bad.size:
        raise ParameterError(f"program={int(bad[0])} must lie in 0..127 (General MIDI, 0-based)")
    return out


def render_notes(
    notes: Notes,
    *,
    sr: int = 22050,
    soundfont: str | os.PathLike | None = None,
    program: int | Mapping[int, int] = 0,
    synth: str = "soundfont",
    tuning_cents: float = 0.0,
    gain_db: float = 0.0,
    tail: float = 1.0,
    n_samples: int | None = None,
) -> np.ndarray:
    """Render notes to mono audio, each note starting on sample ``round(start * sr)``.

    Parameters
    ----------
    notes : Notes
        The notes; times in seconds, ``start >= 0``.
    sr : int
        Sample rate in Hz (8000-192000).
    soundfont : str or os.PathLike or None
        SoundFont (``.sf2``/``.sf3``) file; ``None`` uses :func:`default_soundfont`.
        Only used with ``synth="soundfont"``.
    program : int or Mapping[int, int]
        General MIDI program (0-based: 0 piano, 48 strings, 19 church organ, ...) for all
        notes, or a mapping from ``notes.instrument`` values to programs.
    synth : {"soundfont", "additive"}
        ``"soundfont"`` renders with TinySoundFont; ``"additive"`` with a harmonic-series
        fallback (no SoundFont needed; an explicit choice, never a silent fallback).
    tuning_cents : float
        Global tuning deviation in cents (-100..100), applied to every channel.
    gain_db : float
        Output gain in dB.
    tail : float
        Seconds of audio after the last note-off (release tails), when ``n_samples`` is None.
    n_samples : int or None
        Exact output length in samples; notes starting at or after it are skipped and
        sound still ringing at the end is cut. ``None``: ``round(max(end) * sr) +
        round(tail * sr)``.

    Returns
    -------
    y : np.ndarray [shape=(n_samples,), dtype=float32]
        Mono audio. Not normalised: its scale follows the SoundFont and ``gain_db``.

    Raises
    ------
    ParameterError
        On a bad sample rate, program, synth name, tuning, tail, length, negative onsets,
        or an unreadable SoundFont.

    Notes
    -----
    Onsets are exact to the sample: the synthesizer renders in segments that end exactly
    at the next event's sample position, so rounding never accumulates. Offsets are
    exact to the sample too. Sustain pedal is not interpreted (TinySoundFont ignores
    controller 64): extend note ends beforehand where a pedal holds them.

    Examples
    --------
    >>> from alignkit.io.notes import Notes
    >>> notes = Notes.from_arrays([0.5, 1.0], [0.9, 1.4], [60, 64])
    >>> y = render_notes(notes, sr=22050)
    >>> int(np.flatnonzero(np.abs(y) > 0)[0])  # the first note starts on sample 11025
    11025
    """
    if not isinstance(notes, Notes):
        raise ParameterError(f"notes must be a Notes instance, got {type(notes).__name__}")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 8000 <= sr <= 192000:
        raise ParameterError(f"sr={sr!r} must be an integer sample rate in 8000..192000")
    sr = int(sr)
    if synth not in _SYNTHS:
        raise ParameterError(f"synth={synth!r} is not one of {list(_SYNTHS)}")
    if not np.isfinite(tuning_cents) or abs(tuning_cents) > 100:
        raise ParameterError(f"tuning_cents={tuning_cents!r} must lie in -100..100")
    if not np.isfinite(gain_db):
        raise ParameterError(f"gain_db={gain_db!r} must be finite")
    if not np.isfinite(tail) or tail < 0:
        raise ParameterError(f"tail={tail!r} must be >= 0 seconds")
    if len(notes) and notes.start.min() < 0:
        raise ParameterError(f"notes start at {notes.start.min()!r} s; onsets must be >= 0")
    programs = _program_of(notes, program)
    on = np.rint(notes.start * sr).astype(np.int64)
    off = np.maximum(np.rint(notes.end * sr).astype(np.int64), on + 1)
    if n_samples is None:
        n_samples = int(off.max() if len(notes) else 0) + int(round(tail * sr))
    elif isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
        raise ParameterError(f"n_samples={n_samples!r} must be a non-negative integer")
    n_samples = int(n_samples)
    keep = on < n_samples
    on, off, programs = on[keep], np.minimum(off[keep], n_samples), programs[keep]
    pitch = notes.pitch[keep].astype(np.int64)
    vel = np.clip(notes.velocity[keep].astype(np.int64), 1, 127)
    out = np.zeros(n_samples, dtype=np.float32)
    if synth == "soundfont":
        sf_path = default_soundfont() if soundfont is None else Path(soundfont)
        for prog in np.unique(programs):
            sel = programs == prog
            _render_soundfont(out, sf_path, int(prog), on[sel], off[sel], pitch[sel], vel[sel], sr,
                              tuning_cents / 100.0, gain_db)
    else:
        _render_additive(out, on, off, pitch + tuning_cents / 100.0, vel, programs, sr, gain_db)
    return out


def _assign_channels(on: np.ndarray, off: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Channel per note so that no two overlapping notes of one pitch share a channel."""
    chan = np.empty(on.shape[0], dtype=np.int64)
    busy_until: dict[tuple[int, int], int] = {}
    for i in np.argsort(on, kind="stable"):
        p = int(pitch[i])
        best, best_end = 0, None
        for c in _CHANNELS:
            end = busy_until.get((c, p), -1)
            if end <= on[i]:
                best = c
                break
            if best_end is None or end < best_end:  # all busy: reuse the one freed first
                best, best_end = c, end
        chan[i] = best
        busy_until[(best, p)] = int(off[i])
    return chan


def _load_soundfont(path: Path, sr: int, gain_db: float):
    try:
        import tinysoundfont._tinysoundfont as tsf
    except ImportError as exc:
        raise ParameterError(
            "synth='soundfont' needs tinysoundfont: pip install --no-deps tinysoundfont==0.3.7 "
            "(or pass synth='additive')"
        ) from exc
    if not path.is_file():
        raise ParameterError(f"soundfont={str(path)!r} is not a file")
    try:
        sf = tsf.SoundFont(str(path))
    except Exception as exc:
        raise ParameterError(f"soundfont={str(path)!r} cannot be loaded: {exc}") from exc
    sf.set_output(tsf.OutputMode.Mono, sr, float(gain_db))
    sf.set_max_voices(1024)
    return sf


def _render_soundfont(out, path, prog, on, off, pitch, vel, sr, tuning_semitones, gain_db):
    """Mix one program's notes into ``out``, rendering exactly between event samples."""
    if on.size == 0:
        return
    sf = _load_soundfont(path, sr, gain_db)
    chan = _assign_channels(on, off, pitch)
    for c in np.unique(chan):
        try:
            sf.channel_set_preset_number(int(c), prog, False)
        except RuntimeError as exc:
            raise ParameterError(f"program={prog} is not in soundfont {str(path)!r}") from exc
        if tuning_semitones:
            sf.channel_set_tuning(int(c), float(tuning_semitones))
    n = on.size
    # events: (sample, kind 0=off 1=on, channel, pitch, velocity); offs first at equal samples
    pos = np.concatenate([off, on])
    kind = np.concatenate([np.zeros(n, np.int64), np.ones(n, np.int64)])
    ev_chan = np.concatenate([chan, chan])
    ev_pitch = np.concatenate([pitch, pitch])
    ev_vel = np.concatenate([vel, vel])
    order = np.lexsort((ev_pitch, ev_chan, kind, pos))
    # render into a scratch buffer (mix=False) and add, so programs mix linearly
    scratch = np.zeros(out.shape[0], dtype=np.float32)
    raw = scratch.view(np.uint8)
    cur = 0
    total = out.shape[0]
    for j in order:
        p = int(pos[j])
        if p > cur:
            sf.render(raw[cur * 4 : p * 4], False)
            cur = p
        if kind[j]:
            sf.channel_note_on(int(ev_chan[j]), int(ev_pitch[j]), float(ev_vel[j]) / 127.0)
        else:
            sf.channel_note_off(int(ev_chan[j]), int(ev_pitch[j]))
    if total > cur:
        sf.render(raw[cur * 4 :], False)
    out += scratch


def _render_additive(out, on, off, pitch, vel, programs, sr, gain_db):
    """Harmonic-series notes with a 5 ms attack, exponential decay and a 60 ms release."""
    total = out.shape[0]
    gain = 10.0 ** (gain_db / 20.0) * 0.1
    attack = max(1, int(round(0.005 * sr)))
    release = int(round(0.06 * sr))
    for i in range(on.shape[0]):
        start, stop = int(on[i]), int(min(off[i] + release, total))
        if stop <= start:
            continue
        n = stop - start
        t = np.arange(n, dtype=np.float64) / sr
        f0 = 440.0 * 2.0 ** ((pitch[i] - 69.0) / 12.0)
        # sustained GM families (organ 16-23, strings 40-55, winds 56-79) decay slowly
        sustained = 16 <= programs[i] <= 23 or 40 <= programs[i] <= 79
        decay = 0.3 if sustained else 2.5
        y = np.zeros(n)
        for k in range(1, 7):
            if k * f0 >= sr / 2:
                break
            y += np.sin(2.0 * np.pi * k * f0 * t) / k
        env = np.exp(-decay * t)
        env[:attack] *= np.arange(attack)[: min(attack, n)] / attack
        key_up = int(off[i]) - start
        if key_up < n:
            env[key_up:] *= np.exp(-np.arange(n - key_up) / (release / 6.0))
        out[start:stop] += (gain * vel[i] / 127.0 * env * y).astype(np.float32)
