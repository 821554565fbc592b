"""Score features: hand-computed matrices from hand-made notes, and real audio vs its real score."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from alignkit.exceptions import ParameterError
from alignkit.features import (
    COMPARABLE,
    extract,
    list_extractors,
    optimal_chroma_shift,
    score_features,
    shift_chroma,
)
from alignkit.features.score import note_activity
from alignkit.io.notes import Notes
from tests.conftest import shared_path

# three notes at 10 Hz: frame n covers [n/10 - 0.05, n/10 + 0.05)
#   A4 [0.00, 0.25)  -> frames 0: 0.5, 1: 1, 2: 1
#   C4 [0.10, 0.30)  -> frames 1: 0.5, 2: 1, 3: 0.5
#   E5 [0.35, 0.50)  -> frame 4: 1   (duration 0.5 s -> ceil(5.0) = 5 frames)
NOTES = Notes.from_arrays(start=[0.0, 0.1, 0.35], end=[0.25, 0.3, 0.5], pitch=[69, 60, 76],
                          velocity=[127, 64, 100])
A, C, E = 9, 0, 4


def _expected_activity():
    act = np.zeros((5, 128))
    act[[0, 1, 2], 69] = [0.5, 1, 1]
    act[[1, 2, 3], 60] = [0.5, 1, 0.5]
    act[4, 76] = 1
    return act


def test_chroma_and_logfreq_equal_hand_computed_matrices():
    ch = score_features(NOTES, "chroma", frame_rate=10, norm="none")
    ref = np.zeros((5, 12))
    ref[[0, 1, 2], A] = [0.5, 1, 1]
    ref[[1, 2, 3], C] = [0.5, 1, 0.5]
    ref[4, E] = 1
    assert ch.name == "score_chroma" and ch.frame_rate == 10 and ch.n_frames == 5
    assert np.allclose(ch.values, ref, atol=1e-6)
    lf = score_features(NOTES, "logfreq", frame_rate=10)
    assert lf.values.shape == (5, 88) and lf.dim_labels[69 - 21] == "A4"
    assert np.allclose(lf.values, _expected_activity()[:, 21:109], atol=1e-6)
    l2 = score_features(NOTES, "chroma", frame_rate=10)  # default l2
    assert np.allclose(l2.values, ref / np.linalg.norm(ref, axis=1, keepdims=True), atol=1e-6)


def test_activity_options_by_hand():
    act = _expected_activity()
    dec = note_activity(NOTES, frame_rate=10, decay=0.1)
    t = np.arange(5) / 10
    ref = act.copy()
    ref[:, 69] *= np.exp(-np.maximum(0, t - 0.0) / 0.1)
    ref[:, 60] *= np.exp(-np.maximum(0, t - 0.1) / 0.1)
    ref[:, 76] *= np.exp(-np.maximum(0, t - 0.35) / 0.1)
    assert np.allclose(dec, ref, atol=1e-6)
    vel = note_activity(NOTES, frame_rate=10, velocity=True)
    ref = act.copy()
    ref[:, 69] *= 127 / 127
    ref[:, 60] *= 64 / 127
    ref[:, 76] *= 100 / 127
    assert np.allclose(vel, ref, atol=1e-6)
    harm = note_activity(NOTES, frame_rate=10, harmonics=3)  # + octave (1/4) + twelfth (1/9)
    ref = act.copy()
    for p in (69, 60, 76):
        ref[:, p + 12] += act[:, p] / 4
        ref[:, p + 19] += act[:, p] / 9
    assert np.allclose(harm, ref, atol=1e-6)


def test_n_frames_pads_with_uniform_silence_and_truncates():
    long = score_features(NOTES, "chroma", frame_rate=10, n_frames=8)
    # frame 5 covers [0.45, 0.55): the last half of E5; frames 6, 7 are empty -> uniform
    assert long.n_frames == 8 and np.allclose(long.values[5], np.eye(12)[E])
    assert np.allclose(long.values[6:], 1 / np.sqrt(12))
    short = score_features(NOTES, "chroma", frame_rate=10, n_frames=2, norm="none")
    assert short.values.shape == (2, 12) and np.allclose(short.values[1, [C, A]], [0.5, 1])
    # default count: every frame centre before the last offset (as ceil for audio)
    assert score_features(NOTES, "chroma", frame_rate=50).n_frames == math.ceil(0.5 * 50)
    assert score_features(NOTES, "chroma", frame_rate=7.3).n_frames == math.ceil(0.5 * 7.3)


def test_dlnco_by_hand():
    F = score_features(NOTES, "dlnco", frame_rate=10)
    # onsets at frames round(0)=0 (A), round(1.0)=1 (C), round(3.5)=4 (E); kernel at 10 Hz over
    # 0.2 s: [1, 1/sqrt(1 + 50 * 0.1)]; every local norm is 1
    k1 = 1 / math.sqrt(6)
    ref = np.zeros((5, 12))
    ref[[0, 1], A] = [1, k1]
    ref[[1, 2], C] = [1, k1]
    ref[4, E] = 1
    assert F.name == "score_dlnco" and F.params["comparable_to"] == ["dlnco"]
    assert np.allclose(F.values, ref, atol=1e-6)
    # velocity weighting with local normalisation: C (64/127) beside A (127/127) within 0.8 s
    Fv = score_features(NOTES, "dlnco", frame_rate=10, velocity=True)
    assert Fv.values[1, C] == pytest.approx(64 / 127, abs=1e-6)
    # E's window (+-4 frames) still holds A's onset at frame 0, the largest norm
    assert Fv.values[4, E] == pytest.approx(100 / 127, abs=1e-6)
    # two notes of one pitch class at the same frame add up before normalisation
    two = Notes.from_arrays([1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [60, 72, 64])
    V = score_features(two, "dlnco", frame_rate=50).values
    assert np.allclose(V[50, [C, E]], np.array([2, 1]) / math.sqrt(5), atol=1e-6)


def test_cens_by_hand():
    F = score_features(NOTES, "cens", frame_rate=10, smooth_length=1, downsample=1)
    # l1 shares -> quantised (0.25 per step exceeded) -> l2
    ref = np.zeros((5, 12))
    ref[0, A] = 1
    ref[1, [A, C]] = [0.8, 0.6]  # shares 2/3, 1/3 -> 1, 0.75
    ref[2, [A, C]] = 1 / math.sqrt(2)
    ref[3, C] = 1
    ref[4, E] = 1
    assert np.allclose(F.values, ref, atol=1e-6)
    G = score_features(NOTES, "cens", frame_rate=10, smooth_length=1, downsample=2)
    assert G.frame_rate == 5 and np.allclose(G.values, ref[::2], atol=1e-6)


def test_comparable_names_are_registered_audio_extractors():
    audio = set(list_extractors())
    for name, targets in COMPARABLE.items():
        assert set(targets) <= audio
        F = score_features(NOTES, name, frame_rate=10)
        assert F.name == f"score_{name}" and F.params["comparable_to"] == list(targets)
        assert F.params["frame_rate"] == 10 and "n_frames" in F.params


@pytest.mark.parametrize("name,kwargs", [
    ("piano", {}),
    ("chroma", dict(frame_rate=0)),
    ("chroma", dict(frame_rate=-10.0)),
    ("chroma", dict(frame_rate="50")),
    ("chroma", dict(n_frames=0)),
    ("chroma", dict(n_frames=2.5)),
    ("chroma", dict(decay=-1.0)),
    ("chroma", dict(decay=0)),
    ("chroma", dict(harmonics=0)),
    ("chroma", dict(velocity="yes")),
    ("chroma", dict(norm="l7")),
    ("chroma", dict(norm_threshold=-0.5)),
    ("chroma", dict(ln_window=0.8)),
    ("logfreq", dict(harmonics=1.5)),
    ("dlnco", dict(ln_threshold=0)),
    ("dlnco", dict(decay_length=-1)),
    ("dlnco", dict(velocity=1)),
    ("dlnco", dict(decay=0.5)),
    ("cens", dict(smooth_length=0)),
    ("cens", dict(downsample=0)),
])
def test_bad_parameters_raise_parameter_error(name, kwargs):
    with pytest.raises(ParameterError):
        score_features(NOTES, name, **kwargs)


def test_notes_must_be_notes():
    with pytest.raises(ParameterError):
        score_features([(0.0, 1.0, 60)], "chroma")


# ---------------------------------------------------------------------------------------------
# real data: Chopin op. 10/3, score MIDI against two real recordings
# ---------------------------------------------------------------------------------------------

def _chopin_notes() -> Notes:
    import pretty_midi

    path = shared_path("chopin_op10_3_real", "Chopin_Op010-03-Measures1-8_MIDI.mid")
    with warnings.catch_warnings():  # "tempo ... on non-zero tracks": harmless here
        warnings.simplefilter("ignore", RuntimeWarning)
        pm = pretty_midi.PrettyMIDI(str(path))
    rows = [(n.start, n.end, n.pitch, n.velocity)
            for ins in pm.instruments if not ins.is_drum for n in ins.notes]
    a = np.array(rows)
    return Notes.from_arrays(a[:, 0], a[:, 1], a[:, 2].astype(int), a[:, 3].astype(int), source=str(path))


def _dtw_path(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    import librosa

    _, wp = librosa.sequence.dtw(X=X.T, Y=Y.T, metric="cosine")
    return wp[::-1]


@pytest.mark.parametrize("performer", ["Igoshina", "Varsi"])
def test_score_chroma_matches_real_audio_after_dtw(performer):
    import soundfile as sf

    y, sr = sf.read(shared_path("chopin_op10_3_real", f"Chopin_Op010-03-Measures1-8_{performer}.wav"))
    notes = _chopin_notes()
    audio = extract("chroma_stft", y.astype(np.float32), sr)
    score = score_features(notes, "chroma", frame_rate=audio.frame_rate)

    def aligned_similarity(S):
        wp = _dtw_path(audio.values, S)
        return float(np.mean(np.sum(audio.values[wp[:, 0]] * S[wp[:, 1]], axis=1))), wp

    sim, wp = aligned_similarity(score.values)
    shuffled = score.values[np.random.default_rng(0).permutation(score.n_frames)]
    sim_shuffled, _ = aligned_similarity(shuffled)
    sim_transposed, _ = aligned_similarity(shift_chroma(score.values, 1))
    assert sim > 0.72
    assert sim > sim_shuffled + 0.05
    assert sim > sim_transposed + 0.1
    # the path runs from start to end roughly along the diagonal (the tempo is not wild)
    slope = np.polyfit(wp[:, 1], wp[:, 0], 1)[0]
    assert 0.5 * audio.n_frames / score.n_frames < slope < 2.0 * audio.n_frames / score.n_frames
    # transposition detection on real data: the score is in the recording's key, and a
    # transposed score is recognised as such
    assert optimal_chroma_shift(audio, score) == 0
    assert optimal_chroma_shift(audio, shift_chroma(score, 5)) == 7
    assert optimal_chroma_shift(audio, shift_chroma(score, 5), method="dtw") == 7

    # onsets: along the chroma path, score DLNCO agrees with audio DLNCO far better than when
    # the score onsets are displaced in time by a quarter second
    d_audio = extract("dlnco", y.astype(np.float32), sr).values
    d_score = score_features(notes, "dlnco", frame_rate=audio.frame_rate).values
    agree = np.mean(np.sum(d_audio[wp[:, 0]] * d_score[wp[:, 1]], axis=1))
    moved = np.roll(d_score, 12, axis=0)
    agree_moved = np.mean(np.sum(d_audio[wp[:, 0]] * moved[wp[:, 1]], axis=1))
    assert agree > 1.3 * agree_moved
