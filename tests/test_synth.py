"""alignkit.synth: exact-timing rendering, tempo curves, the demo corpus, rendered ASAP.

Oracles: the first non-zero sample of a rendered note (exact), an energy-rise onset
detector on isolated notes and librosa's onset detector on dense music (independent of
the renderer), superposition (overlapping notes render as the sum of their solo
renders), analytic tempo curves, and ASAP's own beat annotations.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.exceptions import CorpusError, ParameterError, ScoreError
from alignkit.io.notes import Notes
from alignkit.synth import TempoCurve, build_demo_corpus, random_tempo_curve, render_asap, render_notes
from alignkit.synth.asap import apply_sustain_pedal, read_midi_notes
from alignkit.synth.demo import load_music21_score

SR = 22050


# ---------------------------------------------------------------- helpers (independent detectors)
def isolated_onsets(y: np.ndarray, sr: int, *, silence: float = 0.25, rel: float = 0.02) -> np.ndarray:
    """Onsets of notes separated by silence: the first sample above ``rel`` of the note's peak.

    Knows nothing about the annotations: sound segments are split where the signal stays
    below 1e-3 of the global peak for ``silence`` seconds.
    """
    a = np.abs(y.astype(np.float64))
    active = a > 1e-3 * a.max()
    idx = np.flatnonzero(active)
    gaps = np.diff(idx) > silence * sr
    seg_starts = np.concatenate([[idx[0]], idx[1:][gaps]])
    seg_ends = np.concatenate([idx[:-1][gaps], [idx[-1]]])
    out = []
    for s0, s1 in zip(seg_starts, seg_ends, strict=True):
        lo = max(0, s0 - int(0.05 * sr))
        seg = a[lo : min(s1 + 1, s0 + int(0.3 * sr))]
        out.append(lo + np.flatnonzero(seg > rel * seg.max())[0])
    return np.asarray(out) / sr


def librosa_onsets(y: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    return librosa.onset.onset_detect(y=y.astype(np.float32), sr=sr, hop_length=64, backtrack=True,
                                      units="time")


def nearest_signed(detected: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each detected time, detected - nearest reference time."""
    d = detected[:, None] - reference[None, :]
    return d[np.arange(d.shape[0]), np.abs(d).argmin(1)]


def sparse_melody(n: int, *, seed: int, gap=(1.2, 2.0), t0: float = 0.3) -> Notes:
    rng = np.random.default_rng(seed)
    start = t0 + np.concatenate([[0.0], np.cumsum(rng.uniform(*gap, n - 1))])
    start = start + rng.uniform(0, 1.0 / SR, n)  # sub-sample onsets
    dur = rng.uniform(0.15, 0.3, n)
    return Notes.from_arrays(start, start + dur, rng.integers(48, 84, n), velocity=rng.integers(50, 110, n))


# ---------------------------------------------------------------- render
@pytest.mark.parametrize("synth", ["soundfont", "additive"])
def test_first_sample_of_a_note_is_round_start_times_sr(synth):
    for start in [0.0, 0.5, 1234.6 / SR, 3.25 + 0.49 / SR, 7.0 + 0.51 / SR]:
        notes = Notes.from_arrays([start], [start + 0.3], [60], velocity=[100])
        y = render_notes(notes, sr=SR, synth=synth, tail=0.2)
        first = int(np.flatnonzero(y != 0)[0])
        expected = int(round(start * SR))
        # the SoundFont piano sample is non-zero from its first sample; the additive
        # synth starts with sin(0) * 0 = 0 and is non-zero from the next one
        assert first == expected + (synth == "additive"), (synth, start, first, expected)
        assert y.dtype == np.float32 and y.shape == (int(round((start + 0.3) * SR)) + int(0.2 * SR),)


def test_isolated_onsets_match_within_a_few_ms():
    notes = sparse_melody(40, seed=1)
    for program in (0, 24):  # piano, guitar
        y = render_notes(notes, sr=SR, program=program)
        det = isolated_onsets(y, SR)
        assert det.shape == notes.start.shape, (program, det.shape)
        err = np.abs(det - notes.start)
        assert np.median(err) < 0.010 and np.percentile(err, 95) < 0.025, (program, err)


def test_eight_minute_render_does_not_drift():
    notes = sparse_melody(320, seed=2, gap=(1.4, 1.8))
    assert notes.start[-1] > 8 * 60
    t0 = time.perf_counter()
    y = render_notes(notes, sr=SR, program=0)
    elapsed = time.perf_counter() - t0
    assert elapsed < 20.0, f"8-minute sparse render took {elapsed:.1f} s"
    det = isolated_onsets(y, SR)
    assert det.shape == notes.start.shape
    err = det - notes.start
    assert np.median(np.abs(err)) < 0.010 and np.percentile(np.abs(err), 95) < 0.025
    assert np.max(np.abs(err[-20:])) < 0.010, err[-20:]  # the last onsets, after 8 minutes
    slope = np.polyfit(notes.start, err, 1)[0]
    assert abs(slope) * 480 < 0.003, f"drift of {slope * 480 * 1e3:.2f} ms over 8 minutes"


def test_overlapping_same_pitch_notes_superpose():
    # a long note and a short unison inside it: a shared channel would let the short
    # note's note-off release the long one
    long = Notes.from_arrays([0.1], [2.0], [64], velocity=[90])
    short = Notes.from_arrays([0.5], [0.7], [64], velocity=[70])
    both = Notes.from_arrays([0.1, 0.5], [2.0, 0.7], [64, 64], velocity=[90, 70])
    n = int(2.5 * SR)
    y_both = render_notes(both, n_samples=n)
    y_sum = render_notes(long, n_samples=n) + render_notes(short, n_samples=n)
    # equal up to TinySoundFont's 64-sample envelope blocks, whose phase follows the
    # event pattern (differences below 0.5 % of the peak; a released voice differs by 100 %)
    peak = np.abs(y_sum).max()
    np.testing.assert_allclose(y_both, y_sum, atol=5e-3 * peak)
    assert np.abs(y_both[int(1.5 * SR) : int(1.9 * SR)]).max() > 1e-3  # the long note still sounds


def test_program_mapping_mixes_programs_linearly():
    notes = Notes.from_arrays([0.1, 0.3, 0.6], [0.8, 0.9, 1.2], [60, 67, 72], instrument=[0, 1, 0])
    y = render_notes(notes, program={0: 0, 1: 48}, n_samples=SR * 2)
    sel0, sel1 = notes.instrument == 0, notes.instrument == 1
    part = lambda m: Notes(notes.start[m], notes.end[m], notes.pitch[m], notes.velocity[m],  # noqa: E731
                           notes.instrument[m])
    ref = render_notes(part(sel0), program=0, n_samples=SR * 2) + render_notes(
        part(sel1), program=48, n_samples=SR * 2)
    np.testing.assert_allclose(y, ref, atol=1e-6)
    assert not np.allclose(y, render_notes(notes, program=0, n_samples=SR * 2), atol=1e-3)


def _peak_frequency(y: np.ndarray, sr: int) -> float:
    seg = y[int(0.2 * sr) : int(1.2 * sr)].astype(np.float64) * np.hanning(sr)
    spec = np.abs(np.fft.rfft(seg, 16 * sr))
    k = int(np.argmax(spec))
    # parabolic interpolation of the peak
    a, b, c = np.log(spec[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / (16 * sr)


@pytest.mark.parametrize("synth", ["soundfont", "additive"])
def test_tuning_cents_shift_the_pitch(synth):
    notes = Notes.from_arrays([0.0], [1.5], [69], velocity=[100])
    f0 = _peak_frequency(render_notes(notes, synth=synth, program=19), SR)
    f1 = _peak_frequency(render_notes(notes, synth=synth, program=19, tuning_cents=30.0), SR)
    assert f1 / f0 == pytest.approx(2 ** (30 / 1200), rel=5e-4)
    harmonic = f0 / 440.0  # the organ's strongest partial may be an upper harmonic of A4
    assert abs(harmonic - round(harmonic)) < 0.01 * harmonic and round(harmonic) >= 1


def test_n_samples_cuts_and_skips_late_notes():
    notes = Notes.from_arrays([0.1, 2.0], [0.5, 2.5], [60, 62])
    y = render_notes(notes, n_samples=SR)
    assert y.shape == (SR,)
    np.testing.assert_allclose(y, render_notes(Notes.from_arrays([0.1], [0.5], [60]), n_samples=SR),
                               atol=1e-7)
    assert render_notes(Notes.from_arrays([], [], []), n_samples=100).shape == (100,)


@pytest.mark.parametrize(
    "kwargs",
    [{"sr": 0}, {"sr": 22050.5}, {"sr": True}, {"synth": "fluidsynth"}, {"program": 128}, {"program": -1},
     {"program": {1: 0}}, {"tuning_cents": 500.0}, {"tuning_cents": float("nan")}, {"tail": -1.0},
     {"n_samples": -5}, {"soundfont": "/nonexistent/x.sf2"}, {"gain_db": float("inf")}],
)
def test_render_rejects_bad_parameters(kwargs):
    notes = Notes.from_arrays([0.1], [0.2], [60])
    with pytest.raises(ParameterError):
        render_notes(notes, **kwargs)


def test_render_rejects_negative_onsets_and_non_notes():
    with pytest.raises(ParameterError, match="-0.5"):
        render_notes(Notes.from_arrays([-0.5], [0.2], [60]))
    with pytest.raises(ParameterError):
        render_notes(np.zeros((3, 2)))


# ---------------------------------------------------------------- tempo curves
def test_constant_tempo_curve_is_analytic():
    c = TempoCurve.constant(2.0, offset=1.0)
    np.testing.assert_allclose(c.to_performance([0.0, 4.0, -2.0, 10.0]), [1.0, 3.0, 0.0, 6.0])
    np.testing.assert_allclose(c.to_score([1.0, 3.0]), [0.0, 4.0])
    np.testing.assert_allclose(c.tempo_factor([0.0, 5.0]), [2.0, 2.0])
    flat = random_tempo_curve(30.0, seed=3, factor=1.25, walk_std=0.0, n_rubato=0, final_ritardando=0.0,
                              offset=0.5)
    s = np.linspace(0, 40, 101)
    np.testing.assert_allclose(flat.to_performance(s), 0.5 + s / 1.25, rtol=0, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), duration=st.floats(1.0, 120.0), factor=st.floats(0.5, 2.0))
def test_random_tempo_curve_monotone_and_invertible(seed, duration, factor):
    c = random_tempo_curve(duration, seed=seed, factor=factor, offset=0.3)
    s = np.sort(np.random.default_rng(seed).uniform(-5, duration + 5, 500))
    t = c.to_performance(s)
    assert np.all(np.diff(t) >= 0) and np.all(np.diff(c.perf_times) > 0)
    np.testing.assert_allclose(c.to_score(t), s, rtol=0, atol=1e-9)
    np.testing.assert_allclose(c.to_performance(c.to_score(t)), t, rtol=0, atol=1e-9)
    f = c.tempo_factor(np.linspace(0, duration, 200))
    assert np.all(f <= factor * np.exp(0.5) * (1 + 1e-9)) and np.all(f >= factor * np.exp(-0.5) * (1 - 1e-9))
    assert c.to_performance(0.0) == pytest.approx(0.3)


def test_tempo_curves_deterministic_by_seed_and_varied():
    a, b, c = (random_tempo_curve(60.0, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.perf_times, b.perf_times)
    assert np.abs(a.perf_times - c.perf_times).max() > 0.05
    f = a.tempo_factor(np.linspace(0, 60, 600))
    assert f.max() / f.min() > 1.1  # there is rubato
    # smooth: the tempo changes by under 2 % between neighbouring 20 ms knots
    assert np.abs(np.diff(np.log(f))).max() < 0.02


def test_tempo_curve_apply_maps_notes():
    notes = Notes.from_arrays([0.0, 1.0, 2.0], [0.5, 1.5, 3.0], [60, 62, 64], velocity=[10, 20, 30])
    c = random_tempo_curve(5.0, seed=0, offset=0.2)
    out = c.apply(notes)
    np.testing.assert_allclose(out.start, c.to_performance(notes.start))
    np.testing.assert_allclose(out.end, c.to_performance(notes.end))
    np.testing.assert_array_equal(out.velocity, notes.velocity)


@pytest.mark.parametrize(
    "kwargs",
    [{"duration": 0.0}, {"duration": float("nan")}, {"factor": -1.0}, {"step": 0.0}, {"walk_std": -0.1},
     {"n_rubato": -1}, {"smooth": 0.0}, {"offset": float("inf")}],
)
def test_random_tempo_curve_rejects_bad_parameters(kwargs):
    args = {"duration": 10.0, **kwargs}
    with pytest.raises(ParameterError):
        random_tempo_curve(args.pop("duration"), **args)


def test_tempo_curve_rejects_non_monotone_knots():
    with pytest.raises(ParameterError):
        TempoCurve(np.array([0.0, 1.0, 1.0]), np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ParameterError):
        TempoCurve(np.array([0.0, 1.0]), np.array([1.0, 0.5]))


# ---------------------------------------------------------------- demo corpus
def _read_times(path: Path) -> np.ndarray:
    return np.array([float(ln.split("\t")[0]) for ln in path.read_text().splitlines()])


def _read_notes_csv(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=";", skiprows=1, ndmin=2)


@pytest.fixture(scope="module")
def tiny_corpora(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    times = {}
    out = {}
    for name, seed, p_transpose in (("a", 0, 0.0), ("b", 0, 0.0), ("c", 1, 1.0)):
        t0 = time.perf_counter()
        out[name] = build_demo_corpus(base / name, size="tiny", seed=seed, p_transpose=p_transpose)
        times[name] = time.perf_counter() - t0
    return out, times


def test_demo_build_is_fast(tiny_corpora):
    _, times = tiny_corpora
    assert times["a"] < 30.0, times


def test_demo_layout_and_manifest(tiny_corpora):
    roots, _ = tiny_corpora
    root = roots["a"]
    man = yaml.safe_load((root / "manifest.yaml").read_text())
    assert man["seed"] == 0 and len(man["works"]) == 1
    work = man["works"][0]
    assert len(work["versions"]) == 2
    assert len({v["program"] for v in work["versions"]}) == 2  # two timbres
    wdir = root / work["id"]
    for v in [work["score"], *work["versions"]]:
        for key in ("file", "annotations", "notes"):
            assert (wdir / v[key]).is_file(), v[key]
    assert (wdir / "score.mid").is_file()
    for v in work["versions"]:
        assert v["file"] == f"{v['id']}.flac"
        assert v["annotations"] == f"{v['id']}_annotations.txt"
    head = (wdir / "score_notes.csv").read_text().splitlines()[0]
    assert head == "start;duration;pitch;velocity;instrument"
    line = (wdir / work["score"]["annotations"]).read_text().splitlines()[0].split("\t")
    assert len(line) == 3 and line[0] == line[1] and line[2] in ("db", "b")
    assert len(line[0].split(".")[1]) == 6


def test_demo_manifest_rows_match_the_folder(tiny_corpora):
    roots, _ = tiny_corpora
    root = roots["a"]
    man = yaml.safe_load((root / "manifest.yaml").read_text())
    rows = man["versions"]
    assert len(rows) == 3  # score + 2 audio versions
    on_disk = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*")
                     if p.suffix in (".flac", ".mid"))
    assert sorted(r["path"] for r in rows) == on_disk
    for r in rows:
        assert (root / r["beats"]).is_file() and (root / r["notes"]).is_file()
        assert r["kind"] == ("score" if r["path"].endswith(".mid") else "audio")


def test_demo_reads_as_a_corpus(tiny_corpora):
    manifest = pytest.importorskip("alignkit.corpus.manifest")
    roots, _ = tiny_corpora
    corpus = manifest.load_corpus(roots["a"])
    versions = list(corpus)
    assert len(versions) == 3
    assert sorted(v.kind for v in versions) == ["audio", "audio", "score"]
    for v in versions:
        assert set(v.annotations) == {"beats", "notes"}
    audio = [v for v in versions if v.kind == "audio"]
    assert {v.meta["transpose"] for v in audio} == {0}


def test_demo_is_deterministic_by_seed(tiny_corpora):
    import soundfile as sf

    roots, _ = tiny_corpora
    a, b, c = roots["a"], roots["b"], roots["c"]
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files_a:
        if rel.suffix == ".flac":
            ya, _ = sf.read(a / rel, dtype="int16")
            yb, _ = sf.read(b / rel, dtype="int16")
            np.testing.assert_array_equal(ya, yb)
        else:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    # another seed: other tempo curves, same beat count
    ann_a = sorted(a.rglob("v*_annotations.txt"))
    ann_c = sorted(c.rglob("v*_annotations.txt"))
    assert len(ann_a) == len(ann_c) == 2
    for pa, pc in zip(ann_a, ann_c, strict=True):
        ta, tc = _read_times(pa), _read_times(pc)
        assert ta.shape == tc.shape and np.abs(ta - tc).max() > 0.05


def test_demo_ground_truth_is_consistent(tiny_corpora):
    roots, _ = tiny_corpora
    root = roots["a"]
    man = yaml.safe_load((root / "manifest.yaml").read_text())
    work = man["works"][0]
    wdir = root / work["id"]
    score_beats = _read_times(wdir / "score_annotations.txt")
    # the first work is a 4/4 chorale at quarter = 80: beats every 0.75 s of score time
    np.testing.assert_allclose(np.diff(score_beats), 0.75, atol=2e-6)
    score_notes = _read_notes_csv(wdir / "score_notes.csv")
    # score.mid holds the same notes (to the MIDI tick: under 1 ms at quarter = 80, 960 ticks)
    midi_notes, _ = read_midi_notes(wdir / "score.mid")
    np.testing.assert_allclose(midi_notes.start, score_notes[:, 0], atol=1e-3)
    np.testing.assert_array_equal(midi_notes.pitch, score_notes[:, 2])
    for v in work["versions"]:
        beats = _read_times(wdir / v["annotations"])
        assert beats.shape == score_beats.shape and np.all(np.diff(beats) > 0)
        notes = _read_notes_csv(wdir / v["notes"])
        assert notes.shape == score_notes.shape
        np.testing.assert_array_equal(notes[:, 2], score_notes[:, 2] + v["transpose"])
        # every annotated beat of a chorale falls on note onsets of the same version
        on = np.unique(notes[:, 0])
        hit = np.abs(beats[:, None] - on[None, :]).min(1) < 2e-6
        assert hit.mean() > 0.9
        # the score -> version map is monotone
        order = np.lexsort((score_notes[:, 2], score_notes[:, 0]))
        assert np.all(np.diff(notes[order, 0]) >= -2e-6)


def _pitch_class_profile(pitches: np.ndarray, durations: np.ndarray) -> np.ndarray:
    prof = np.bincount(pitches.astype(int) % 12, weights=durations, minlength=12)
    return prof / np.linalg.norm(prof)


def test_demo_transposition_is_in_audio_and_annotations(tiny_corpora):
    import librosa
    import soundfile as sf

    roots, _ = tiny_corpora
    root = roots["c"]  # built with p_transpose=1: every version transposed
    man = yaml.safe_load((root / "manifest.yaml").read_text())
    work = man["works"][0]
    score = _read_notes_csv(root / work["id"] / "score_notes.csv")
    for v in work["versions"]:
        assert v["transpose"] in (-2, -1, 1, 2)
        notes = _read_notes_csv(root / work["id"] / v["notes"])
        np.testing.assert_array_equal(notes[:, 2], score[:, 2] + v["transpose"])
        y, sr = sf.read(root / work["id"] / v["file"], dtype="float32")
        chroma = librosa.feature.chroma_stft(y=y, sr=sr, n_fft=4096, hop_length=2048).mean(1)
        chroma /= np.linalg.norm(chroma)
        played = _pitch_class_profile(notes[:, 2], notes[:, 1])
        unshifted = _pitch_class_profile(score[:, 2], score[:, 1])
        assert chroma @ played > chroma @ unshifted + 0.05, (v["id"], chroma @ played, chroma @ unshifted)


def test_demo_onsets_match_audio(tiny_corpora):
    import soundfile as sf

    roots, _ = tiny_corpora
    root = roots["a"]
    man = yaml.safe_load((root / "manifest.yaml").read_text())
    work = man["works"][0]
    piano = next(v for v in work["versions"] if v["program"] == 0)
    y, sr = sf.read(root / work["id"] / piano["file"], dtype="float32")
    assert sr == SR and y.shape[0] / sr == pytest.approx(piano["duration"], abs=1e-3)
    onsets = np.unique(_read_notes_csv(root / work["id"] / piano["notes"])[:, 0])
    det = librosa_onsets(y, sr)
    err = nearest_signed(det, onsets)
    assert np.median(np.abs(err)) < 0.010 and np.percentile(np.abs(err), 95) < 0.025, err
    # recall: most annotated onsets are found
    rec = np.abs(onsets[:, None] - det[None, :]).min(1) < 0.03
    assert rec.mean() > 0.8
    # a renderer 40 ms late would fail the same check
    late = nearest_signed(det, onsets + 0.04)
    assert np.median(np.abs(late)) > 0.010


def test_demo_parallel_build_equals_serial(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    kw = {"n_works": 2, "n_versions": 1, "excerpt": 4.0, "seed": 5}
    a = build_demo_corpus(tmp_path / "serial", **kw)
    with ThreadPoolExecutor(2) as ex:
        b = build_demo_corpus(tmp_path / "parallel", executor=ex, **kw)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 1 + 2 * 6
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_demo_additive_synth_is_an_explicit_option(tmp_path):
    import soundfile as sf

    root = build_demo_corpus(tmp_path / "add", n_works=1, n_versions=1, excerpt=4.0, synth="additive")
    man = yaml.safe_load((root / "manifest.yaml").read_text())
    assert man["parameters"]["synth"] == "additive"
    v = man["works"][0]["versions"][0]
    assert v["synth"] == "additive"
    y, sr = sf.read(root / man["works"][0]["id"] / v["file"], dtype="float32")
    first = np.unique(_read_notes_csv(root / man["works"][0]["id"] / v["notes"])[:, 0])[0]
    # noise only before the first note, music right after it
    pre = y[: int((first - 0.05) * sr)]
    post = y[int(first * sr) : int((first + 0.2) * sr)]
    assert np.sqrt(np.mean(post**2)) > 10 * np.sqrt(np.mean(pre**2))


def test_demo_rebuild_is_skipped_when_unchanged(tiny_corpora, tmp_path):
    roots, _ = tiny_corpora
    root = roots["a"]
    stamp = (root / "manifest.yaml").stat().st_mtime_ns
    t0 = time.perf_counter()
    build_demo_corpus(root, size="tiny", seed=0)
    assert time.perf_counter() - t0 < 2.0
    assert (root / "manifest.yaml").stat().st_mtime_ns == stamp
    # a missing file makes it rebuild
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(root, copy)
    audio = next(copy.rglob("*.flac"))
    audio.unlink()
    build_demo_corpus(copy, size="tiny", seed=0)
    assert audio.is_file()
    assert audio.read_bytes() == (root / audio.relative_to(copy)).read_bytes()


@pytest.mark.parametrize(
    "kwargs",
    [{"size": "huge"}, {"size": 0}, {"n_works": 0}, {"n_versions": -1}, {"seed": -1}, {"audio_format": "mp3"},
     {"tempo_range": (1.2, 0.8)}, {"snr_db": (40.0, 20.0)}, {"p_transpose": 2.0}, {"max_tuning_cents": 80.0},
     {"programs": (0, 300)}, {"excerpt": -1.0}, {"n_works": 10_000}, {"sr": 100}, {"synth": "sine"},
     {"lead_in": 3.0}, {"onset_jitter": -0.1}],
)
def test_demo_rejects_bad_parameters(kwargs, tmp_path):
    with pytest.raises(ParameterError):
        build_demo_corpus(tmp_path / "x", **kwargs)


def test_demo_root_must_be_a_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(CorpusError):
        build_demo_corpus(f, size="tiny")


def test_load_music21_score_errors_and_pickup():
    with pytest.raises(ScoreError):
        load_music21_score("no/such/work", bpm=80)
    with pytest.raises(ParameterError):
        load_music21_score("bach/bwv66.6", bpm=0)
    ex = load_music21_score("bach/bwv66.6", bpm=60, max_duration=8.0)
    # bwv66.6 starts with a one-quarter pickup: beat 0 at 0 s is not a downbeat, beat 1 is
    assert ex.beats[0] == 0.0 and not ex.downbeat[0] and ex.downbeat[1] and ex.beats[1] == 1.0
    assert ex.duration == pytest.approx(9.0) and ex.notes.end.max() <= ex.duration + 1e-9


@pytest.mark.slow
def test_default_demo_builds_in_under_a_minute(tmp_path):
    t0 = time.perf_counter()
    root = build_demo_corpus(tmp_path / "demo")
    elapsed = time.perf_counter() - t0
    man = yaml.safe_load((root / "manifest.yaml").read_text())
    total = sum(v["duration"] for w in man["works"] for v in w["versions"])
    assert len(man["works"]) == 3 and all(len(w["versions"]) == 4 for w in man["works"])
    assert 120 < total < 600, total
    assert elapsed < 60.0, f"default demo build took {elapsed:.1f} s"


# ---------------------------------------------------------------- ASAP
def test_sustain_pedal_extends_ends_only():
    notes = Notes.from_arrays([0.0, 0.2, 1.0, 1.5], [0.3, 0.4, 1.2, 1.7], [60, 64, 60, 67])
    out = apply_sustain_pedal(notes, np.array([[0.25, 1.1]]))
    np.testing.assert_array_equal(out.start, notes.start)
    # note 0 released at 0.3 under the pedal: sounds until the key is struck again at 1.0
    # note 1 released at 0.4: until the pedal lifts at 1.1; notes 2, 3: released without pedal
    np.testing.assert_allclose(out.end, [1.0, 1.1, 1.2, 1.7])


def test_asap_rendering_keeps_beats_in_sync(shared_data, tmp_path):
    import soundfile as sf

    asap = shared_data / "asap"
    if not (asap / "metadata.csv").is_file():
        pytest.skip(f"{asap}/metadata.csv is absent")
    out = render_asap(asap, tmp_path / "asap", pieces=["Bach/Prelude/bwv_848"], max_performances=1,
                      max_duration=30.0)
    man = yaml.safe_load((out / "manifest.yaml").read_text())
    work = man["works"][0]
    assert work["id"] == "Bach_Prelude_bwv_848"
    v = work["versions"][0]
    wdir = out / work["id"]
    # annotations copied verbatim (times unchanged), cut at 30 s
    src_lines = (asap / "Bach/Prelude/bwv_848" / f"{v['id']}_annotations.txt").read_text().splitlines()
    kept = [ln for ln in src_lines if float(ln.split("\t")[0]) < 30.0]
    assert (wdir / v["annotations"]).read_text().splitlines() == kept and len(kept) > 20
    score_lines = (wdir / "score_annotations.txt").read_text().splitlines()
    src_score = (asap / "Bach/Prelude/bwv_848/midi_score_annotations.txt").read_text().splitlines()
    assert score_lines == src_score[: len(kept)]
    # the notes CSV holds the MIDI's own note times
    midi_notes, _ = read_midi_notes(asap / "Bach/Prelude/bwv_848" / f"{v['id']}.mid")
    csv_notes = _read_notes_csv(wdir / v["notes"])
    ref = midi_notes.start[midi_notes.start < 30.0]
    np.testing.assert_allclose(csv_notes[:, 0], ref, atol=1e-6)
    # the audio: exactly 30 s, onsets where the MIDI puts them, beats on detected onsets
    y, sr = sf.read(wdir / v["file"], dtype="float32")
    assert y.shape == (30 * SR,) and sr == SR
    det = librosa_onsets(y, sr)
    onsets = np.unique(ref)
    err = nearest_signed(det, onsets)
    assert np.median(np.abs(err)) < 0.010 and np.percentile(np.abs(err), 90) < 0.025, err
    # no drift: the signed error in the last third equals the one in the first third
    first, last = err[det < 10.0], err[det > 20.0]
    assert abs(np.median(first) - np.median(last)) < 0.005
    beats = np.array([float(ln.split("\t")[0]) for ln in kept])
    beat_err = np.abs(beats[:, None] - det[None, :]).min(1)
    assert np.median(beat_err) < 0.015


@pytest.mark.slow
def test_asap_full_length_render_does_not_drift(shared_data, tmp_path):
    import soundfile as sf

    asap = shared_data / "asap"
    if not (asap / "metadata.csv").is_file():
        pytest.skip(f"{asap}/metadata.csv is absent")
    midi = asap / "Beethoven/Piano_Sonatas/23-1/Duepree01.mid"
    if not midi.is_file():
        pytest.skip(f"{midi} is absent")
    out = render_asap(asap, tmp_path / "asap", pieces=["Beethoven/Piano_Sonatas/23-1"],
                      performances=["Duepree01"])
    wdir = out / "Beethoven_Piano_Sonatas_23-1"
    y, sr = sf.read(wdir / "Duepree01.flac", dtype="float32")
    assert y.shape[0] / sr > 600  # a 10-minute performance
    onsets = np.unique(_read_notes_csv(wdir / "Duepree01_notes.csv")[:, 0])
    det = librosa_onsets(y, sr)
    err = nearest_signed(det, onsets)
    first, last = err[det < 60.0], err[det > det[-1] - 60.0]
    assert np.median(np.abs(last)) < 0.010, np.median(np.abs(last))
    assert abs(np.median(first) - np.median(last)) < 0.005


def test_asap_parallel_render_equals_serial(shared_data, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    asap = shared_data / "asap"
    if not (asap / "metadata.csv").is_file():
        pytest.skip(f"{asap}/metadata.csv is absent")
    kw = {"pieces": ["Bach_Fugue_bwv_848"], "max_performances": 2, "max_duration": 8.0}
    a = render_asap(asap, tmp_path / "serial", **kw)
    with ThreadPoolExecutor(2) as ex:
        b = render_asap(asap, tmp_path / "parallel", executor=ex, **kw)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 1 + 3 * 3
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_render_asap_errors(shared_data, tmp_path):
    asap = shared_data / "asap"
    if not (asap / "metadata.csv").is_file():
        pytest.skip(f"{asap}/metadata.csv is absent")
    with pytest.raises(CorpusError, match="Nope"):
        render_asap(asap, tmp_path / "o", pieces=["Nope/Nothing"])
    with pytest.raises(CorpusError):
        render_asap(tmp_path, tmp_path / "o")
    with pytest.raises(CorpusError):
        render_asap(asap, asap / "inside")
    with pytest.raises(ParameterError):
        render_asap(asap, tmp_path / "o", max_performances=0)
    with pytest.raises(CorpusError, match="no performances"):
        render_asap(asap, tmp_path / "o", performances=["NoSuchPianist"])
