"""The demo corpus: several works x several rendered versions, with exact ground truth.

Everything comes from what PyPI packages ship: the scores from music21's bundled corpus,
the timbres from the General MIDI SoundFont in the pretty_midi wheel. Each audio version
of a work is its own rendition: a smooth random tempo curve with rubato and a lead-in, an
instrument (General MIDI program), its own dynamics, a tuning deviation of a few cents,
optionally a transposition, and white noise at a chosen SNR. The score version is the
excerpt at its nominal tempo as a MIDI file.

Layout (the contract the corpus reader relies on)::

    <root>/manifest.yaml                     works, versions, files, seed, parameters
    <root>/<work>/score.mid                  the score version (nominal tempo)
    <root>/<work>/score_annotations.txt      its beats, in score seconds
    <root>/<work>/score_notes.csv            its notes, in score seconds
    <root>/<work>/<version>.flac             an audio version (mono, 16 bit)
    <root>/<work>/<version>_annotations.txt  its beats: "time<TAB>time<TAB>label", db / b
    <root>/<work>/<version>_notes.csv        its notes: start;duration;pitch;velocity;instrument

Annotation times are the exact times at which the renderer placed the notes (rounded
to 1 us in the text files; audio onsets are exact to the sample). The same seed gives
byte-identical annotations and identical audio samples; each version draws from its
own random stream ``(seed, work index, version index)``, so a smaller corpus is a
prefix of a larger one with the same seed.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from alignkit.exceptions import CorpusError, ParameterError, ScoreError
from alignkit.io.notes import Notes
from alignkit.synth.render import GM_PROGRAM_NAMES, render_notes
from alignkit.synth.tempo import random_tempo_curve

__all__ = [
    "build_demo_corpus",
    "load_music21_score",
    "ScoreExcerpt",
    "write_annotations",
    "write_notes_csv",
    "write_score_midi",
    "DEMO_WORKS",
    "SIZES",
]

#: Curated works from music21's corpus: (corpus path, work id, nominal quarter-note bpm).
DEMO_WORKS = (
    ("bach/bwv66.6", "bach-bwv66-6", 80.0),
    ("joplin/maple_leaf_rag", "joplin-maple-leaf-rag", 100.0),
    ("mozart/k545/movement1_exposition", "mozart-k545-1", 120.0),
    ("corelli/opus3no1/1grave", "corelli-op3-1-grave", 60.0),
    ("schubert/Lindenbaum.xml", "schubert-lindenbaum", 90.0),
    ("handel/rinaldo/Lascia_chio_pianga", "handel-lascia-chio-pianga", 60.0),
    ("mozart/k80/movement1", "mozart-k80-1", 60.0),
)
#: Nominal bpm of the Bach chorales that extend the curated list.
CHORALE_BPM = 80.0

#: Size presets: works, versions per work, target excerpt length in score seconds.
SIZES = {
    "tiny": {"n_works": 1, "n_versions": 2, "excerpt": 10.0},
    "small": {"n_works": 3, "n_versions": 4, "excerpt": 35.0},
    "bench": {"n_works": 16, "n_versions": 8, "excerpt": 60.0},
}

#: Programs for versions 2, 3, ...: version 1 of every work is the piano.
DEMO_PROGRAMS = (48, 19, 24, 6, 73, 71, 46, 11, 40)


@dataclass(frozen=True)
class ScoreExcerpt:
    """A score excerpt in score seconds at its nominal tempo.

    Attributes
    ----------
    notes : Notes
        Notes in score seconds; ``instrument`` is the part index, velocity 64.
    beats : np.ndarray [shape=(n_beats,)]
        Beat times in score seconds.
    downbeat : np.ndarray [shape=(n_beats,), dtype=bool]
        True where the beat starts a measure.
    bpm : float
        Nominal tempo in quarter notes per minute.
    duration : float
        End of the excerpt (a measure boundary), score seconds.
    source : str
        Where the score came from.
    n_measures : int
        Measures kept.
    """

    notes: Notes
    beats: np.ndarray
    downbeat: np.ndarray
    bpm: float
    duration: float
    source: str
    n_measures: int


def load_music21_score(source: str, *, bpm: float, max_duration: float | None = None) -> ScoreExcerpt:
    """Read a score from music21's corpus (offline) and cut it at a measure boundary.

    Parameters
    ----------
    source : str
        A music21 corpus path, e.g. ``"bach/bwv66.6"``.
    bpm : float
        Nominal tempo, quarter notes per minute, that turns quarter lengths into seconds.
    max_duration : float or None
        Keep whole measures from the start until the first measure boundary at or after this
        many score seconds (``None``: the whole score; repeats are not expanded).

    Returns
    -------
    excerpt : ScoreExcerpt

    Raises
    ------
    ScoreError
        If music21 cannot find or parse the score, or it holds no pitched notes.
    ParameterError
        On a non-positive ``bpm`` or ``max_duration``.
    """
    if not np.isfinite(bpm) or bpm <= 0:
        raise ParameterError(f"bpm={bpm!r} must be positive")
    if max_duration is not None and (not np.isfinite(max_duration) or max_duration <= 0):
        raise ParameterError(f"max_duration={max_duration!r} must be positive or None")
    try:
        from music21 import corpus, meter
    except ImportError as exc:  # pragma: no cover - hard dependency
        raise ScoreError(source, "music21 is not installed") from exc
    try:
        score = corpus.parse(source)
    except Exception as exc:
        raise ScoreError(source, f"music21 cannot load it from its corpus: {exc}") from exc
    sec_per_q = Fraction(60) / Fraction(bpm).limit_denominator(1000)

    # measures of the first part define the beat grid and the cut
    part0 = score.parts[0]
    measures = list(part0.getElementsByClass("Measure"))
    if not measures:
        raise ScoreError(source, "the first part has no measures")
    beats_q: list[Fraction] = []
    down: list[bool] = []
    ts = None
    cut_q = None
    n_measures = 0
    for i, m in enumerate(measures):
        off = Fraction(m.offset)
        length = Fraction(m.duration.quarterLength)
        if m.timeSignature is not None:
            ts = m.timeSignature
        if ts is None:
            found = m.getContextByClass(meter.TimeSignature)
            ts = found if found is not None else meter.TimeSignature("4/4")
        beat = Fraction(ts.beatDuration.quarterLength)
        bar = Fraction(ts.barDuration.quarterLength)
        pad = Fraction(m.paddingLeft or 0)
        if i == 0 and pad == 0 and length < bar:
            pad = bar - length  # an anacrusis without padding information
        k = 0
        while True:
            pos = off - pad + k * beat
            if pos >= off + length:
                break
            if pos >= off:
                beats_q.append(pos)
                down.append(k == 0)
            k += 1
        n_measures += 1
        end_q = off + length
        if max_duration is not None and float(end_q * sec_per_q) >= max_duration:
            cut_q = end_q
            break
    if cut_q is None:
        cut_q = Fraction(measures[-1].offset) + Fraction(measures[-1].duration.quarterLength)

    start, end, pitch, inst = [], [], [], []
    for pi, part in enumerate(score.parts):
        # ties merged by hand (music21's stripTies deep-copies the whole score: seconds per work)
        open_ties: dict[int, int] = {}  # midi pitch -> index of the note a tie continues
        for el in part.flatten().notes:
            if el.duration.isGrace or el.quarterLength <= 0:
                continue
            on = Fraction(el.offset)
            if on >= cut_q:
                continue
            off = min(on + Fraction(el.quarterLength), cut_q)
            members = el.notes if el.isChord else (el,)
            for n in members:
                if not hasattr(n, "pitch"):
                    continue
                midi = int(n.pitch.midi)
                tie = n.tie.type if n.tie is not None else None
                k = open_ties.get(midi)
                # a tie continues the open note of that pitch only where it ends (same voice)
                contiguous = k is not None and abs(end[k] - float(on * sec_per_q)) < 1e-9
                if tie in ("continue", "stop") and contiguous:
                    end[k] = max(end[k], float(off * sec_per_q))
                    if tie == "stop":
                        del open_ties[midi]
                    continue
                start.append(float(on * sec_per_q))
                end.append(float(off * sec_per_q))
                pitch.append(midi)
                inst.append(pi)
                if tie in ("start", "continue"):
                    open_ties[midi] = len(start) - 1
                else:
                    open_ties.pop(midi, None)
    if not start:
        raise ScoreError(source, "no pitched notes in the excerpt")
    notes = Notes.from_arrays(start, end, pitch, velocity=np.full(len(start), 64), instrument=inst,
                              source=f"music21:{source}")
    beats = np.array([float(b * sec_per_q) for b in beats_q])
    return ScoreExcerpt(notes=notes, beats=beats, downbeat=np.array(down, dtype=bool), bpm=float(bpm),
                        duration=float(cut_q * sec_per_q), source=f"music21:{source}",
                        n_measures=n_measures)


def write_annotations(path: str | os.PathLike, beats: np.ndarray, downbeat: np.ndarray) -> Path:
    """Write beats as ASAP-style TSV: ``time<TAB>time<TAB>label``, label ``db`` or ``b``, 6 decimals."""
    path = Path(path)
    beats = np.asarray(beats, dtype=np.float64)
    downbeat = np.asarray(downbeat, dtype=bool)
    if beats.shape != downbeat.shape:
        raise ParameterError(f"beats {beats.shape} and downbeat {downbeat.shape} differ in shape")
    lines = [f"{t:.6f}\t{t:.6f}\t{'db' if d else 'b'}\n" for t, d in zip(beats, downbeat, strict=True)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def write_notes_csv(path: str | os.PathLike, notes: Notes) -> Path:
    """Write notes as ``start;duration;pitch;velocity;instrument`` (seconds with 6 decimals)."""
    path = Path(path)
    rows = ["start;duration;pitch;velocity;instrument\n"]
    for s, e, p, v, i in zip(notes.start, notes.end, notes.pitch, notes.velocity, notes.instrument,
                             strict=True):
        rows.append(f"{s:.6f};{e - s:.6f};{int(p)};{int(v)};{int(i)}\n")
    path.write_text("".join(rows), encoding="utf-8")
    return path


def write_score_midi(path: str | os.PathLike, notes: Notes, *, bpm: float, program: int = 0,
                     resolution: int = 960) -> Path:
    """Write notes (score seconds at ``bpm``) as a MIDI file with one constant tempo.

    One track per ``notes.instrument`` value. Times are quantised to MIDI ticks
    (``resolution`` per quarter note: under 1 ms at common tempi); the notes CSV
    beside it keeps the exact times.
    """
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=float(bpm), resolution=resolution)
    for inst in np.unique(notes.instrument):
        track = pretty_midi.Instrument(program=program, name=f"part{int(inst)}")
        sel = notes.instrument == inst
        for s, e, p, v in zip(notes.start[sel], notes.end[sel], notes.pitch[sel], notes.velocity[sel],
                              strict=True):
            track.notes.append(pretty_midi.Note(velocity=int(v), pitch=int(p), start=float(s), end=float(e)))
        pm.instruments.append(track)
    pm.write(str(path))
    return Path(path)


def _flat_versions(works: list[dict]) -> list[dict]:
    """One row per version (``work``, ``version``, ``path``, ``kind``, ``beats``, ``notes``, metadata).

    The flat form of the manifest that :func:`alignkit.corpus.load_corpus` reads; paths are
    relative to the corpus root.
    """
    rows = []
    for w in works:
        for v in [w["score"], *w["versions"]]:
            row = {"work": w["id"], "version": v["id"], "path": f"{w['id']}/{v['file']}", "kind": v["kind"],
                   "beats": f"{w['id']}/{v['annotations']}", "notes": f"{w['id']}/{v['notes']}"}
            row.update({k: val for k, val in v.items()
                        if k not in ("id", "file", "annotations", "notes", "kind")})
            rows.append(row)
    return rows


def _chorales() -> list[str]:
    from music21 import corpus

    out = []
    for p in sorted(corpus.getComposer("bach"), key=lambda p: p.name):
        name = p.name.rsplit(".", 1)[0]
        if name.startswith("bwv") and p.suffix in (".mxl", ".xml", ".musicxml"):
            out.append(f"bach/{name}")
    return out


def _work_list(n_works: int) -> list[tuple[str, str, float]]:
    works = list(DEMO_WORKS[:n_works])
    if n_works > len(works):
        used = {w[0] for w in works}
        for src in _chorales():
            if len(works) >= n_works:
                break
            if src in used:
                continue
            works.append((src, src.replace("/", "-").replace(".", "-"), CHORALE_BPM))
    if len(works) < n_works:
        raise ParameterError(f"n_works={n_works} exceeds the {len(works)} works available")
    return works


def _resolve_size(size, n_works, n_versions, excerpt):
    if isinstance(size, str):
        if size not in SIZES:
            raise ParameterError(f"size={size!r} is not one of {list(SIZES)} or a positive int")
        preset = SIZES[size]
    elif isinstance(size, (int, np.integer)) and not isinstance(size, bool) and size > 0:
        preset = dict(SIZES["small"], n_works=int(size))
    else:
        raise ParameterError(f"size={size!r} is not one of {list(SIZES)} or a positive int")
    n_works = preset["n_works"] if n_works is None else n_works
    n_versions = preset["n_versions"] if n_versions is None else n_versions
    excerpt = preset["excerpt"] if excerpt is None else excerpt
    for name, val in (("n_works", n_works), ("n_versions", n_versions)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ParameterError(f"{name}={val!r} must be a positive integer")
    if not np.isfinite(excerpt) or excerpt <= 0:
        raise ParameterError(f"excerpt={excerpt!r} must be a positive number of seconds")
    return int(n_works), int(n_versions), float(excerpt)


def _check_range(name, rng_pair, lo=-np.inf):
    try:
        a, b = (float(x) for x in rng_pair)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name}={rng_pair!r} must be a (low, high) pair of numbers") from exc
    if not (np.isfinite(a) and np.isfinite(b)) or a > b or a < lo:
        raise ParameterError(f"{name}={tuple(rng_pair)!r} must be a (low, high) pair with low <= high")
    return a, b


def _render_version(score: ScoreExcerpt, rng: np.random.Generator, *, program, tempo_range, lead_in,
                    p_transpose, max_transpose, max_tuning_cents, snr_db, onset_jitter, sr, synth,
                    soundfont, tail):
    """Draw one rendition; return (audio float32, performed notes, beat times, info dict)."""
    factor = float(np.exp(rng.uniform(np.log(tempo_range[0]), np.log(tempo_range[1]))))
    offset = float(rng.uniform(*lead_in))
    curve = random_tempo_curve(score.duration, seed=rng, factor=factor, offset=offset)
    transpose = 0
    if max_transpose > 0 and rng.uniform() < p_transpose:
        transpose = int(rng.choice([-1, 1]) * rng.integers(1, max_transpose + 1))
    tuning = float(rng.uniform(-max_tuning_cents, max_tuning_cents)) if max_tuning_cents > 0 else 0.0
    snr = float(rng.uniform(*snr_db))
    n = len(score.notes)
    base = rng.uniform(60, 90)
    vel = base + 8.0 * (score.notes.instrument == 0) + rng.normal(0.0, 6.0, n)
    vel = np.clip(np.rint(vel), 1, 127)
    start = curve.to_performance(score.notes.start)
    end = curve.to_performance(score.notes.end)
    if onset_jitter > 0:
        start = np.maximum(start + rng.normal(0.0, onset_jitter, n), 0.0)
        end = np.maximum(end, start + 1e-3)
    pitch = np.clip(score.notes.pitch.astype(np.int64) + transpose, 0, 127)
    played = Notes(start=start, end=end, pitch=pitch, velocity=vel, instrument=score.notes.instrument,
                   source=score.source)
    y = render_notes(played, sr=sr, soundfont=soundfont, program=program, synth=synth,
                     tuning_cents=tuning, tail=tail).astype(np.float64)
    peak = np.abs(y).max()
    if peak > 0:
        y *= 0.5 / peak
    noise = rng.standard_normal(y.shape[0])
    p_sig = np.mean(y**2)
    noise *= np.sqrt(p_sig / 10.0 ** (snr / 10.0)) if p_sig > 0 else 0.0
    y = np.clip(y + noise, -1.0, 1.0).astype(np.float32)
    info = {
        "program": int(program),
        "instrument": GM_PROGRAM_NAMES.get(int(program), f"gm{int(program)}"),
        "synth": synth,
        "transpose": transpose,
        "tuning_cents": round(tuning, 6),
        "snr_db": round(snr, 6),
        "tempo_factor": round(factor, 6),
        "lead_in": round(offset, 6),
        "duration": round(y.shape[0] / sr, 6),
        "n_notes": n,
    }
    return y, played, curve.to_performance(score.beats), info


def _build_work(task) -> dict:
    """Write one work (score version + audio versions); return its manifest entry."""
    import soundfile as sf

    root, wi, src, work_id, bpm, o = task
    score = load_music21_score(src, bpm=bpm, max_duration=o["excerpt"])
    wdir = Path(root) / work_id
    wdir.mkdir(exist_ok=True)
    write_score_midi(wdir / "score.mid", score.notes, bpm=score.bpm)
    write_annotations(wdir / "score_annotations.txt", score.beats, score.downbeat)
    write_notes_csv(wdir / "score_notes.csv", score.notes)
    if o["programs"] is None:
        prog_rng = np.random.default_rng([o["seed"], wi, 10_000])
        order = [0] + [int(p) for p in prog_rng.permutation(DEMO_PROGRAMS)]
    else:
        order = list(o["programs"])
    versions = []
    for vi in range(o["n_versions"]):
        rng = np.random.default_rng([o["seed"], wi, vi])
        y, played, beats, info = _render_version(
            score, rng, program=order[vi % len(order)], tempo_range=o["tempo_range"], lead_in=o["lead_in"],
            p_transpose=o["p_transpose"], max_transpose=o["max_transpose"],
            max_tuning_cents=o["max_tuning_cents"], snr_db=o["snr_db"], onset_jitter=o["onset_jitter"],
            sr=o["sr"], synth=o["synth"], soundfont=o["soundfont"], tail=o["tail"])
        vid = f"v{vi + 1:02d}_{info['instrument']}"
        audio = f"{vid}.{o['audio_format']}"
        sf.write(wdir / audio, y, o["sr"], subtype="PCM_16", format=o["audio_format"].upper())
        write_annotations(wdir / f"{vid}_annotations.txt", beats, score.downbeat)
        write_notes_csv(wdir / f"{vid}_notes.csv", played)
        versions.append({"id": vid, "kind": "audio", "file": audio,
                         "annotations": f"{vid}_annotations.txt", "notes": f"{vid}_notes.csv", **info})
    return {
        "id": work_id,
        "source": score.source,
        "nominal_bpm": score.bpm,
        "n_measures": score.n_measures,
        "n_beats": int(score.beats.shape[0]),
        "score": {"id": "score", "kind": "score", "file": "score.mid",
                  "annotations": "score_annotations.txt", "notes": "score_notes.csv",
                  "duration": round(score.duration, 6), "n_notes": len(score.notes)},
        "versions": versions,
    }


def build_demo_corpus(
    root: str | os.PathLike,
    *,
    n_works: int | None = None,
    n_versions: int | None = None,
    seed: int = 0,
    size: str | int = "small",
    sr: int = 22050,
    excerpt: float | None = None,
    audio_format: str = "flac",
    synth: str = "soundfont",
    soundfont: str | os.PathLike | None = None,
    programs: tuple[int, ...] | None = None,
    tempo_range: tuple[float, float] = (0.8, 1.25),
    lead_in: tuple[float, float] = (0.3, 1.5),
    snr_db: tuple[float, float] = (25.0, 40.0),
    max_tuning_cents: float = 8.0,
    p_transpose: float = 0.0,
    max_transpose: int = 2,
    onset_jitter: float = 0.0,
    tail: float = 1.5,
    overwrite: bool = False,
    executor: Executor | None = None,
) -> Path:
    """Build the demo corpus: works x rendered audio versions plus one score version per work.

    Parameters
    ----------
    root : str or os.PathLike
        Output folder (created). See the module docstring for the layout.
    n_works, n_versions : int or None
        Works, and audio versions per work; ``None`` takes them from ``size``.
    seed : int
        Randomness of everything (tempo curves, dynamics, tuning, noise, instruments).
    size : {"tiny", "small", "bench"} or int
        Preset: ``"small"`` (default) 3 works x 4 versions of ~35 s excerpts, a few minutes of
        audio; ``"bench"`` 16 works x 8 versions of ~60 s (448 version pairs plus 128
        score-audio pairs); ``"tiny"`` 1 x 2 of ~10 s (tests); an int N: N works at the
        ``"small"`` settings.
    sr : int
        Sample rate of the audio, Hz.
    excerpt : float or None
        Target excerpt length in score seconds (cut at the next measure boundary); ``None``
        from ``size``.
    audio_format : {"flac", "wav"}
        Audio container; 16-bit PCM either way.
    synth : {"soundfont", "additive"}
        Renderer, see :func:`alignkit.synth.render.render_notes`.
    soundfont : str or os.PathLike or None
        SoundFont file; ``None`` uses the pretty_midi wheel's ``TimGM6mb.sf2``.
    programs : tuple of int or None
        General MIDI programs of versions 1, 2, ... (cycled); ``None``: piano for version 1,
        the others a seeded draw from strings, organ, guitar, harpsichord, flute, clarinet,
        harp, vibraphone, violin.
    tempo_range : (float, float)
        Range of the global tempo factor (log-uniform), relative to the nominal tempo.
    lead_in : (float, float)
        Range of the silence before the first note, seconds.
    snr_db : (float, float)
        Range of the signal-to-noise ratio of the added white noise, dB.
    max_tuning_cents : float
        Tuning deviation drawn uniformly in +-this many cents (TinySoundFont channel tuning,
        i.e. every note shifted, not a pitch bend); 0 disables.
    p_transpose : float
        Probability that a version is transposed by 1..``max_transpose`` semitones up or down
        (default 0: no transpositions). The notes CSV holds the sounding pitches and the
        manifest the shift.
    max_transpose : int
        Largest transposition, semitones.
    onset_jitter : float
        Standard deviation of random per-note onset deviations, seconds (0: none). The notes
        CSV holds the jittered onsets; beats follow the tempo curve alone.
    tail : float
        Seconds of audio after the last note-off.
    overwrite : bool
        Rebuild even when ``root/manifest.yaml`` describes the same build.
    executor : concurrent.futures.Executor or None
        Builds the works in parallel through ``executor.map`` (a process pool, a Dask or Ray
        executor); ``None`` builds them one after the other. The result is the same.

    Returns
    -------
    root : pathlib.Path
        The corpus folder; ``root/manifest.yaml`` is written last, so its presence marks a
        complete build. A build whose manifest parameters match is not redone.

    Raises
    ------
    ParameterError
        On bad sizes, ranges, formats or programs.
    ScoreError
        If a music21 corpus score cannot be read.
    CorpusError
        If ``root`` exists and is not a folder.
    """
    import yaml

    n_works, n_versions, excerpt = _resolve_size(size, n_works, n_versions, excerpt)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a non-negative integer")
    if audio_format not in ("flac", "wav"):
        raise ParameterError(f"audio_format={audio_format!r} is not one of ['flac', 'wav']")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 8000 <= sr <= 192000:
        raise ParameterError(f"sr={sr!r} must be an integer sample rate in 8000..192000")
    if synth not in ("soundfont", "additive"):
        raise ParameterError(f"synth={synth!r} is not one of ['soundfont', 'additive']")
    tempo_range = _check_range("tempo_range", tempo_range)
    if tempo_range[0] <= 0:
        raise ParameterError(f"tempo_range={tempo_range!r} must be positive")
    lead_in = _check_range("lead_in", lead_in, lo=0.0)
    snr_db = _check_range("snr_db", snr_db)
    if not 0.0 <= p_transpose <= 1.0:
        raise ParameterError(f"p_transpose={p_transpose!r} must lie in [0, 1]")
    if isinstance(max_transpose, bool) or not isinstance(max_transpose, (int, np.integer)) \
            or not 0 <= max_transpose <= 12:
        raise ParameterError(f"max_transpose={max_transpose!r} must be an integer in 0..12")
    if not np.isfinite(max_tuning_cents) or not 0 <= max_tuning_cents <= 50:
        raise ParameterError(f"max_tuning_cents={max_tuning_cents!r} must lie in 0..50")
    if not np.isfinite(onset_jitter) or not 0 <= onset_jitter <= 0.1:
        raise ParameterError(f"onset_jitter={onset_jitter!r} must lie in 0..0.1 s")
    if not np.isfinite(tail) or tail < 0:
        raise ParameterError(f"tail={tail!r} must be >= 0")
    if programs is not None:
        programs = tuple(int(p) for p in programs)
        if not programs or any(not 0 <= p <= 127 for p in programs):
            raise ParameterError(f"programs={programs!r} must be a non-empty tuple of 0..127")

    root = Path(root)
    if root.exists() and not root.is_dir():
        raise CorpusError(f"root={str(root)!r} exists and is not a folder")
    parameters = {
        "size": size if isinstance(size, str) else int(size),
        "n_works": n_works, "n_versions": n_versions, "excerpt": excerpt, "sample_rate": int(sr),
        "audio_format": audio_format, "synth": synth,
        "soundfont": "TimGM6mb.sf2 (pretty_midi)" if soundfont is None else str(soundfont),
        "programs": None if programs is None else list(programs),
        "tempo_range": list(tempo_range), "lead_in": list(lead_in), "snr_db": list(snr_db),
        "max_tuning_cents": float(max_tuning_cents), "p_transpose": float(p_transpose),
        "max_transpose": int(max_transpose), "onset_jitter": float(onset_jitter), "tail": float(tail),
    }
    manifest_path = root / "manifest.yaml"
    if manifest_path.is_file() and not overwrite:
        try:
            old = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            old = None
        same = isinstance(old, dict) and old.get("seed") == int(seed) and old.get("parameters") == parameters
        if same and all((root / r[k]).is_file() for r in old.get("versions") or []
                        for k in ("path", "beats", "notes")):
            return root
    root.mkdir(parents=True, exist_ok=True)
    if manifest_path.exists():
        manifest_path.unlink()

    opts = {"seed": int(seed), "n_versions": n_versions, "excerpt": excerpt, "sr": int(sr),
            "audio_format": audio_format, "synth": synth, "soundfont": soundfont, "programs": programs,
            "tempo_range": tempo_range, "lead_in": lead_in, "snr_db": snr_db,
            "max_tuning_cents": float(max_tuning_cents), "p_transpose": float(p_transpose),
            "max_transpose": int(max_transpose), "onset_jitter": float(onset_jitter), "tail": float(tail)}
    tasks = [(root, wi, src, work_id, bpm, opts)
             for wi, (src, work_id, bpm) in enumerate(_work_list(n_works))]
    if executor is None:
        works_out = [_build_work(t) for t in tasks]
    else:
        works_out = list(executor.map(_build_work, tasks))
    manifest = {
        "name": "alignkit-demo",
        "generator": "alignkit.synth.demo.build_demo_corpus",
        "seed": int(seed),
        "parameters": parameters,
        "layout": "<root>/<work>/<version>.<ext> with <version>_annotations.txt (time<TAB>time<TAB>db|b, "
                  "seconds) and <version>_notes.csv (start;duration;pitch;velocity;instrument); "
                  "score version: score.mid, score_annotations.txt, score_notes.csv (score seconds)",
        "works": works_out,
        "versions": _flat_versions(works_out),
    }
    tmp = manifest_path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, manifest_path)
    return root

