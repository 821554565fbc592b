"""Audio feature extractors: chroma (STFT, CQT), CENS, logfreq, DLNCO, normalisation, transposition.

Oracles: synthesized tones of known pitch, tuning and onset times; Parseval for the pitch
energies; hand-computed CENS quantisation and DLNCO decay; float64 references for the
normalisation and the local-normalisation/decay kernel; exhaustive cyclic shifts.
"""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from alignkit.exceptions import ParameterError
from alignkit.features import (
    Features,
    estimate_tuning,
    extract,
    list_extractors,
    normalize,
    optimal_chroma_shift,
    shift_chroma,
    sync_features,
)
from alignkit.features.base import resolve_params
from alignkit.features.chroma import cens_from_chroma, frame_grid, pitch_filterbank
from alignkit.features.onsets import decay_kernel, dlnco_from_chroma_onsets
from alignkit.features.transpose import chroma_shift_costs

SR = 22050
A = 9  # pitch class of A with C = 0


def midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


def harmonic_tone(f0: float, dur: float, sr: int = SR, amps=(1.0, 0.5, 0.33, 0.25), level=0.2) -> np.ndarray:
    t = np.arange(int(round(dur * sr))) / sr
    y = level * sum(a * np.sin(2 * np.pi * f0 * (h + 1) * t) for h, a in enumerate(amps))
    return y.astype(np.float32)


def plucked(f0: float, dur: float, sr: int = SR, tau: float = 0.6, release: float = 0.05) -> np.ndarray:
    """A piano-like note: 3 ms attack, exponential decay, smooth release at the end."""
    t = np.arange(int(round(dur * sr))) / sr
    env = np.exp(-t / tau) * np.minimum(1.0, t / 0.003)
    env *= np.clip((dur - t) / release, 0.0, 1.0)
    amps = (1.0, 0.6, 0.4, 0.25, 0.15)
    return env * sum(a * np.sin(2 * np.pi * f0 * (h + 1) * t) for h, a in enumerate(amps))


# ---------------------------------------------------------------------------------------------
# registry and time grid
# ---------------------------------------------------------------------------------------------

def test_registry_lists_every_audio_extractor():
    names = set(list_extractors())
    assert {"chroma_stft", "chroma_cqt", "cens", "logfreq", "dlnco"} <= names


@pytest.mark.parametrize("sr,rate", [(22050, 50), (44100, 50), (16000, 50), (11025, 50), (8000, 43.07),
                                     (22050, 10), (48000, 100), (22050, 21.5)])
def test_frame_rate_is_exact_and_frame_count_is_ceil(sr, rate):
    n = int(1.37 * sr) + 3
    y = np.random.default_rng(0).standard_normal(n).astype(np.float32) * 0.1
    hop = round(sr / rate)
    for name in ("chroma_stft", "logfreq", "dlnco"):
        F = extract(name, y, sr, frame_rate=rate, tuning=0.0)
        assert F.frame_rate == sr / hop  # the exact rate, not the requested one
        assert F.params["frame_rate"] == rate
        assert F.n_frames == math.ceil(n / hop) == math.ceil(n / sr * F.frame_rate - 1e-9)
        assert F.values.dtype == np.float32 and F.values.ndim == 2
    assert frame_grid(sr, rate) == (hop, sr / hop)


def test_every_result_carries_its_full_params():
    y = harmonic_tone(440.0, 1.0)
    for name in ("chroma_stft", "chroma_cqt", "cens", "logfreq", "dlnco"):
        F = extract(name, y, SR, tuning=0.0)
        assert isinstance(F, Features) and F.name == name
        assert F.params == resolve_params(name, {"tuning": 0.0})
        assert F.hash == extract(name, y, SR, tuning=0.0).hash


# ---------------------------------------------------------------------------------------------
# pitch and chroma of synthesized tones
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["chroma_stft", "chroma_cqt"])
def test_chroma_of_a4_peaks_at_a(name):
    F = extract(name, harmonic_tone(440.0, 2.0), SR)
    assert F.n_dims == 12 and F.dim_labels[A] == "A"
    assert np.mean(F.values.argmax(axis=1) == A) > 0.95
    assert np.allclose(np.linalg.norm(F.values, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("cents", [-45, -30, -10, 0, 20, 30, 45])
def test_estimate_tuning_recovers_detuning(cents):
    y = harmonic_tone(440.0 * 2 ** (cents / 1200), 2.0)
    assert abs(estimate_tuning(y, SR) - cents / 100) <= 0.02


def test_estimate_tuning_of_real_piano_chord_sequence():
    # four triads 30 cents flat: the estimate is the detuning, not the chords
    chords = ([60, 64, 67], [62, 65, 69], [55, 59, 62], [60, 64, 67])
    y = np.concatenate([sum(plucked(midi_hz(m - 0.3), 0.6) for m in ch) for ch in chords]).astype(np.float32)
    assert abs(estimate_tuning(y, SR) + 0.30) <= 0.03


@pytest.mark.parametrize("name", ["chroma_stft", "chroma_cqt"])
def test_sharp_tone_maps_to_a_with_tuning_estimation(name):
    y = harmonic_tone(440.0 * 2 ** (45 / 1200), 2.0)  # 45 cents sharp: almost A#
    tuned = extract(name, y, SR)  # tuning=None: estimated
    naive = extract(name, y, SR, tuning=0.0)
    assert np.mean(tuned.values.argmax(axis=1) == A) > 0.95
    # with tuning the energy stays in A; without, a large part leaks into A# (index 10)
    assert np.median(tuned.values[:, A]) > 0.95
    assert np.median(tuned.values[:, 10]) < 0.1
    assert np.median(naive.values[:, 10]) > 0.25


def test_thirty_cents_sharp_still_a():
    y = harmonic_tone(440.0 * 2 ** (30 / 1200), 2.0)
    F = extract("chroma_stft", y, SR)
    assert np.mean(F.values.argmax(axis=1) == A) > 0.95


@pytest.mark.parametrize("midi", [33, 45, 57, 69, 81, 100])
def test_logfreq_peaks_at_the_sine_pitch_and_keeps_its_power(midi):
    t = np.arange(2 * SR) / SR
    amp = 0.3
    y = (amp * np.sin(2 * np.pi * midi_hz(midi) * t)).astype(np.float32)
    F = extract("logfreq", y, SR, tuning=0.0)
    assert F.n_dims == 88 and F.dim_labels[69 - 21] == "A4"
    inner = F.values[10:-10]
    assert np.all(inner.argmax(axis=1) == midi - 21)
    if midi >= 57:  # semitone triangles share each bin's power: Parseval holds (sine power A^2/2)
        assert np.allclose(inner.sum(axis=1), amp ** 2 / 2, rtol=0.02)


def test_logfreq_of_440_hz_is_midi_69():
    t = np.arange(SR) / SR
    F = extract("logfreq", np.sin(2 * np.pi * 440 * t), SR, tuning=0.0)
    assert np.all(F.values[5:-5].argmax(axis=1) + 21 == 69)


def test_pitch_filterbank_is_a_partition_of_unity_in_the_dense_range():
    W, k0 = pitch_filterbank(SR, 4096, 0.0)
    f = (np.arange(W.shape[0]) + k0) * SR / 4096
    m = 69 + 12 * np.log2(f / 440)
    dense = (m > 50) & (m < 107)
    assert np.allclose(W[dense].sum(axis=1), 1.0, atol=1e-5)


def test_silence_gives_uniform_chroma():
    F = extract("chroma_stft", np.zeros(SR, dtype=np.float32), SR, tuning=0.0)
    assert np.allclose(F.values, 1 / np.sqrt(12))


# ---------------------------------------------------------------------------------------------
# CENS
# ---------------------------------------------------------------------------------------------

def test_cens_of_constant_chord_is_constant_and_unit_norm():
    y = sum(harmonic_tone(midi_hz(m), 6.0, amps=(1.0,)) for m in (60, 64, 67))
    y *= np.clip(np.minimum(np.arange(y.size), np.arange(y.size)[::-1]) / (0.02 * SR), 0, 1)  # 20 ms fades
    F = extract("cens", y, SR, tuning=0.0)
    assert F.frame_rate == 5.0 and F.n_frames == math.ceil(math.ceil(y.size / 441) / 10)
    assert np.allclose(np.linalg.norm(F.values, axis=1), 1.0, atol=1e-5)
    # frames whose 41-frame smoothing window reaches the half-window STFT frames at the signal
    # edges (about n_fft / 2 / hop = 5 chroma frames) see the onset/offset; the rest is constant
    ref = np.isin(np.arange(12), [0, 4, 7]) / np.sqrt(3)
    assert np.max(np.abs(F.values[3:-3] - ref)) < 1e-5
    assert np.all(np.sort(F.values, axis=1)[:, -3:].sum(axis=1) > 1.6)


def test_cens_quantisation_by_hand():
    v = np.array([[0.45, 0.25, 0.15, 0.08, 0.04, 0.03, 0, 0, 0, 0, 0, 0]]) * 7.0
    out = cens_from_chroma(v, smooth_length=1, downsample=1)
    q = np.array([1.0, 0.75, 0.5, 0.25, 0, 0, 0, 0, 0, 0, 0, 0])
    assert np.allclose(out[0], q / np.linalg.norm(q), atol=1e-6)


def test_cens_smoothing_and_downsampling_by_hand():
    x = np.zeros((7, 12))
    x[:, 0] = 1.0
    x[3, :] = 0.0
    x[3, 5] = 1.0  # one frame of F amid C
    out = cens_from_chroma(x, smooth_length=3, downsample=2)
    w = np.hanning(5)[1:-1]  # [0.5, 1, 0.5]
    c = np.convolve(np.r_[1, 1, 1, 0, 1, 1, 1], w, mode="same")
    f = np.convolve(np.r_[0, 0, 0, 1, 0, 0, 0], w, mode="same")
    ref = np.zeros((4, 12))
    ref[:, 0] = c[::2]
    ref[:, 5] = f[::2]
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    assert np.allclose(out, ref, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm,ord_", [("l1", 1), ("l2", 2), ("max", np.inf)])
def test_normalize_matches_float64_reference(norm, ord_):
    x = np.random.default_rng(1).random((50, 12))
    out = normalize(x, norm=norm)
    ref = x / np.linalg.norm(x, ord=ord_, axis=1, keepdims=True)
    assert out.dtype == np.float32
    assert np.allclose(out, ref, atol=1e-6)


@pytest.mark.parametrize("norm,uniform", [("l1", 1 / 12), ("l2", 1 / np.sqrt(12)), ("max", 1.0)])
def test_normalize_zero_and_quiet_frames_become_uniform(norm, uniform):
    x = np.zeros((4, 12))
    x[1, 3] = 1e-3  # below the threshold
    x[2, 3] = 2.0  # above
    out = normalize(x, norm=norm, threshold=1e-2)
    assert np.allclose(out[[0, 1, 3]], uniform)
    assert np.allclose(out[2], np.eye(12)[3])
    # threshold 0: only the all-zero frames become uniform
    out0 = normalize(x, norm=norm, threshold=0.0)
    assert np.allclose(out0[1], np.eye(12)[3]) and np.allclose(out0[0], uniform)


def test_normalize_none_is_identity():
    x = np.random.default_rng(2).random((5, 3))
    assert np.array_equal(normalize(x, norm="none", threshold=5.0), x.astype(np.float32))
    assert np.array_equal(normalize(x, norm=None), x.astype(np.float32))


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(np.int64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=20),
                   elements=st.integers(0, 1000)),
       c=st.floats(0.01, 100.0), norm=st.sampled_from(["l1", "l2", "max"]))
def test_normalize_is_scale_invariant_and_unit_norm(x, c, norm):
    out = normalize(x.astype(np.float64), norm=norm)
    assert np.allclose(normalize(c * x.astype(np.float64), norm=norm), out, atol=1e-5)
    if x.shape[1]:
        ord_ = {"l1": 1, "l2": 2, "max": np.inf}[norm]
        assert np.allclose(np.linalg.norm(out.astype(np.float64), ord=ord_, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("kwargs", [dict(norm="l3"), dict(norm=2), dict(threshold=-1.0),
                                    dict(threshold=float("nan")), dict(threshold="0.1")])
def test_normalize_rejects_bad_options(kwargs):
    with pytest.raises(ParameterError):
        normalize(np.ones((2, 12)), **kwargs)


@pytest.mark.parametrize("x", [np.ones(12), np.full((2, 12), np.nan), np.array([["a"] * 12])])
def test_normalize_rejects_bad_values(x):
    with pytest.raises(ParameterError):
        normalize(x)


# ---------------------------------------------------------------------------------------------
# DLNCO
# ---------------------------------------------------------------------------------------------

ONSETS = [0.30, 0.91, 1.37, 2.02, 2.66, 3.31, 3.88, 4.52]
PITCHES = [60, 64, 67, 72, 62, 69, 57, 65]


@pytest.fixture(scope="module")
def tone_sequence():
    dur = 5.6
    y = np.zeros(int(dur * SR))
    for t0, p in zip(ONSETS, PITCHES, strict=True):
        s = int(round(t0 * SR))
        x = plucked(midi_hz(p), 0.9)
        y[s:s + x.size] += 0.2 * x
    return y.astype(np.float32)


def test_dlnco_peaks_at_note_onsets(tone_sequence):
    F = extract("dlnco", tone_sequence, SR)
    V = F.values
    assert F.n_dims == 12 and F.frame_rate == 50.0
    for t0, p in zip(ONSETS, PITCHES, strict=True):
        n = t0 * 50
        seg = V[int(n) - 8:int(n) + 9, p % 12]
        peak = int(n) - 8 + int(np.argmax(seg))
        assert abs(peak - n) <= 1.0, (t0, p, peak)  # within one frame (20 ms)
        assert V[peak, p % 12] > 0.5


def test_dlnco_onset_timing_on_random_note_sequences():
    # 3 random sequences (pitches MIDI 40-89, decay times 0.2-1 s): the DLNCO peak of each note's
    # pitch class lies within one frame of the true onset, and on average within 0.4 frames
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(3):
        onsets = np.sort(rng.uniform(0.2, 9.5, 14))
        onsets = onsets[np.r_[True, np.diff(onsets) > 0.25]]
        pitches = rng.integers(40, 90, onsets.size)
        y = np.zeros(int(10.5 * SR))
        for t0, p in zip(onsets, pitches, strict=True):
            s = int(round(t0 * SR))
            x = plucked(midi_hz(p), 0.9, tau=rng.uniform(0.2, 1.0))
            y[s:s + x.size] += 0.2 * x
        V = extract("dlnco", y.astype(np.float32), SR, tuning=0.0).values
        for t0, p in zip(onsets, pitches, strict=True):
            n = t0 * 50
            seg = V[int(n) - 6:int(n) + 7, p % 12]
            errors.append(int(n) - 6 + int(np.argmax(seg)) - n)
    errors = np.abs(np.array(errors))
    assert errors.max() <= 1.0 and errors.mean() < 0.4


def test_features_follow_a_time_shift_of_the_audio_frame_by_frame(tone_sequence):
    # delaying the audio by k hops delays every feature by exactly k frames (a grid check)
    k = 17
    delayed = np.concatenate([np.zeros(k * 441, dtype=np.float32), tone_sequence])
    for name in ("chroma_stft", "logfreq", "dlnco"):
        F = extract(name, tone_sequence, SR, tuning=0.0)
        G = extract(name, delayed, SR, tuning=0.0)
        assert G.n_frames == F.n_frames + k
        assert np.allclose(G.values[k:], F.values, atol=1e-4), name


def test_dlnco_is_near_zero_in_sustained_parts(tone_sequence):
    V = extract("dlnco", tone_sequence, SR).values
    t = np.arange(V.shape[0]) / 50
    quiet = np.ones(V.shape[0], dtype=bool)
    for t0 in ONSETS:
        quiet &= ~((t > t0 - 0.1) & (t < t0 + 0.3))
    assert quiet.sum() > 50
    assert V[quiet].max() < 0.05
    loud = ~quiet
    assert V[loud].max(axis=1).mean() > 10 * max(V[quiet].max(axis=1).mean(), 1e-6)


def test_dlnco_decay_and_local_normalisation_by_hand():
    co = np.zeros((60, 12))
    co[10, 3] = 2.0  # alone: normalised to 1, then decays as sqrt(1/k)
    co[40, 5] = 4.0  # two onsets 0.1 s apart: both divided by the larger norm
    co[45, 7] = 1.0
    out = dlnco_from_chroma_onsets(co, 50.0)
    kern = np.sqrt(1.0 / np.arange(1, 11))
    assert np.allclose(out[10:20, 3], kern, atol=1e-6)
    assert np.allclose(out[40:50, 5], kern, atol=1e-6)
    assert np.allclose(out[45:55, 7], 0.25 * kern, atol=1e-6)
    mask = np.zeros_like(out, dtype=bool)
    mask[10:20, 3] = mask[40:50, 5] = mask[45:55, 7] = True
    assert np.all(out[~mask] == 0)
    assert np.allclose(decay_kernel(50.0, 0.2), kern)


def _dlnco_reference(co, rate, ln_window=0.8, ln_threshold=0.1, decay_length=0.2):
    n = co.shape[0]
    norms = np.linalg.norm(co, axis=1)
    L = int(ln_window * rate)
    half = (L - L % 2) // 2
    local = np.array([max(norms[max(0, i - half):i + half + 1].max(), ln_threshold) for i in range(n)])
    ln = co / local[:, None]
    kern = 1 / np.sqrt(1 + 50 * np.arange(max(1, round(decay_length * rate))) / rate)
    out = np.zeros_like(co)
    for i in range(n):
        for k in range(min(len(kern), i + 1)):
            out[i] = np.maximum(out[i], kern[k] * ln[i - k])
    return out


@pytest.mark.parametrize("rate,ln_window,decay", [(50.0, 0.8, 0.2), (100.0, 0.5, 0.3), (20.0, 1.0, 0.1)])
def test_dlnco_kernel_matches_float64_reference(rate, ln_window, decay):
    rng = np.random.default_rng(3)
    co = rng.random((300, 12)) * (rng.random((300, 12)) < 0.05) * 3
    out = dlnco_from_chroma_onsets(co, rate, ln_window=ln_window, decay_length=decay)
    assert np.allclose(out, _dlnco_reference(co, rate, ln_window, 0.1, decay), atol=1e-6)


def test_sync_features_equal_separate_extraction(tone_sequence):
    c, d = sync_features(tone_sequence, SR)
    c2 = extract("chroma_stft", tone_sequence, SR)
    d2 = extract("dlnco", tone_sequence, SR)
    assert np.array_equal(c.values, c2.values) and np.array_equal(d.values, d2.values)
    assert c.params == c2.params and d.params == d2.params
    # one shared window: the pitch energies are reused, results still equal separate extraction
    c3, d3 = sync_features(tone_sequence, SR, onsets={"n_fft": 4096})
    assert np.array_equal(d3.values, extract("dlnco", tone_sequence, SR, n_fft=4096).values)


# ---------------------------------------------------------------------------------------------
# transposition
# ---------------------------------------------------------------------------------------------

def _chord_sequence(n=200, seed=4):
    rng = np.random.default_rng(seed)
    triads = [(0, 4, 7), (5, 9, 0), (7, 11, 2), (9, 0, 4), (2, 5, 9)]  # C major diatonic
    X = np.full((n, 12), 0.02)
    for i in range(0, n, 10):
        X[i:i + 10, list(triads[rng.integers(len(triads))])] += 1.0
    return X + rng.random((n, 12)) * 0.05


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("method", ["global", "dtw"])
def test_optimal_shift_recovers_every_cyclic_shift(metric, method):
    X = _chord_sequence()
    Y = _chord_sequence(seed=5)[::2]  # another "version": other chords order, other tempo
    for k in range(12):
        assert optimal_chroma_shift(X, shift_chroma(X, k), metric=metric, method=method) == (-k) % 12
        if method == "dtw":
            assert optimal_chroma_shift(X, shift_chroma(X[::3], k), metric=metric, method=method) == (-k) % 12
        assert optimal_chroma_shift(X, shift_chroma(Y, k), metric=metric, method=method) == (-k) % 12


def test_shift_chroma_semantics_and_features():
    X = np.eye(12)[[0, 4, 7]]
    assert np.array_equal(shift_chroma(X, 2).argmax(axis=1), [2, 6, 9])
    assert np.array_equal(shift_chroma(X, -1).argmax(axis=1), [11, 3, 6])
    assert np.array_equal(shift_chroma(X, 12), X)
    F = Features(X.astype(np.float32), 50.0, "chroma_stft", {"norm": "l2"})
    G = shift_chroma(shift_chroma(F, 5), 9)
    assert G.params["chroma_shift"] == 2 and G.frame_rate == 50.0 and G.name == "chroma_stft"
    assert np.array_equal(G.values, shift_chroma(X, 2))
    costs = chroma_shift_costs(X, shift_chroma(X, 5))
    assert costs.shape == (12,) and costs[7] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("kwargs", [dict(metric="l1"), dict(method="exact"), dict(max_frames=0)])
def test_transpose_rejects_bad_options(kwargs):
    X = _chord_sequence(20)
    with pytest.raises(ParameterError):
        optimal_chroma_shift(X, X, **kwargs)


@pytest.mark.parametrize("bad", [np.ones((5, 11)), np.ones(12), np.zeros((0, 12))])
def test_transpose_rejects_bad_shapes(bad):
    with pytest.raises(ParameterError):
        optimal_chroma_shift(np.ones((5, 12)), bad)
    with pytest.raises(ParameterError):
        shift_chroma(np.ones((5, 12)), 1.5)


# ---------------------------------------------------------------------------------------------
# bad parameters
# ---------------------------------------------------------------------------------------------

_BAD = [
    ("chroma_stft", dict(frame_rate=0)),
    ("chroma_stft", dict(frame_rate=-5.0)),
    ("chroma_stft", dict(frame_rate="50")),
    ("chroma_stft", dict(frame_rate=float("nan"))),
    ("chroma_stft", dict(frame_rate=1e6)),
    ("chroma_stft", dict(n_fft=16)),
    ("chroma_stft", dict(n_fft=2048.0)),
    ("chroma_stft", dict(tuning=0.7)),
    ("chroma_stft", dict(tuning="sharp")),
    ("chroma_stft", dict(norm="l3")),
    ("chroma_stft", dict(norm_threshold=-1.0)),
    ("chroma_stft", dict(gamma=-1.0)),
    ("chroma_stft", dict(hop_length=512)),
    ("logfreq", dict(norm="euclid")),
    ("chroma_cqt", dict(bins_per_octave=13)),
    ("chroma_cqt", dict(n_octaves=0)),
    ("chroma_cqt", dict(n_octaves=9)),
    ("chroma_cqt", dict(tuning=-0.51)),
    ("cens", dict(smooth_length=0)),
    ("cens", dict(downsample=0)),
    ("cens", dict(downsample=2.5)),
    ("cens", dict(source="iir")),
    ("dlnco", dict(gamma=0)),
    ("dlnco", dict(ln_threshold=0)),
    ("dlnco", dict(ln_window=-1)),
    ("dlnco", dict(peak_threshold=1.5)),
    ("dlnco", dict(rel_threshold=-0.1)),
    ("dlnco", dict(min_strength=-1)),
    ("dlnco", dict(decay_length=-0.2)),
    ("dlnco", dict(onset_offset=float("nan"))),
    ("dlnco", dict(n_fft=8)),
    ("no_such_feature", dict()),
]


@pytest.mark.parametrize("name,kwargs", _BAD)
def test_bad_parameters_raise_parameter_error(name, kwargs):
    with pytest.raises(ParameterError):
        extract(name, harmonic_tone(440.0, 0.5), SR, **kwargs)


@pytest.mark.parametrize("y,sr", [
    (np.ones((2, 100), dtype=np.float32), SR),
    (np.zeros(0, dtype=np.float32), SR),
    (np.array([0.0, np.nan, 0.0]), SR),
    (np.array([0.0, np.inf, 0.0]), SR),
    (np.ones(100), 0),
    (np.ones(100), -22050),
    (np.ones(100), "22050"),
])
@pytest.mark.parametrize("name", ["chroma_stft", "dlnco", "cens"])
def test_bad_audio_raises_parameter_error(name, y, sr):
    with pytest.raises(ParameterError):
        extract(name, y, sr)
