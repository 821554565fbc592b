"""Pitch and chroma features from audio: log-frequency pitch spectrogram, chroma (STFT, CQT), CENS.

Time grid (shared by every audio extractor in :mod:`alignkit.features`)
-----------------------------------------------------------------------
For a requested ``frame_rate`` the hop is ``hop = round(sr / frame_rate)`` samples and the
exact rate ``sr / hop`` is what :attr:`Features.frame_rate` reports (``sr=22050``,
``frame_rate=50`` gives ``hop=441`` and exactly 50 Hz; ``sr=11025`` gives ``hop=220`` and
50.11... Hz). Frame ``n`` is centred on sample ``n * hop`` (the analysis window is centred,
the signal zero-padded at both ends), i.e. it describes the audio around ``n / frame_rate``
seconds, and there are ``n_frames = ceil(len(y) / hop)`` frames: every frame centre lies
inside the signal, ``ceil(duration * frame_rate)`` with the exact rate.

Pitch representation
--------------------
One windowed FFT per frame (Hann, ``n_fft`` samples, about 186 ms by default: 4096 at
22.05 kHz) gives a power spectrum scaled to mean power per sample (a sine of amplitude
``A`` carries ``A**2 / 2``). A fixed sparse filterbank pools it into the 88 piano pitches
MIDI 21-108, tuned by ``tuning`` (fractions of a semitone, librosa's convention): each
pitch takes a triangle one semitone wide on each side in log frequency (the triangles of
neighbouring pitches add up to one, so every bin's power is shared and none is lost); where
the FFT bins are coarser than a semitone (low pitches) the pitch takes the linear
interpolation of the two nearest bins instead. Chroma sums the pitch energies over
octaves; CENS quantises and smooths chroma. ``chroma_cqt`` is the alternative pitch front
end from librosa's constant-Q transform.

Extractors registered here: ``logfreq``, ``chroma_stft``, ``chroma_cqt``, ``cens``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
import scipy.ndimage
from numba import njit

from alignkit.exceptions import ParameterError
from alignkit.features.base import Features, register_extractor
from alignkit.features.normalize import check_norm, check_threshold, normalize

__all__ = [
    "CHROMA_LABELS",
    "MIDI_MIN",
    "MIDI_MAX",
    "PITCH_LABELS",
    "frame_grid",
    "default_n_fft",
    "estimate_tuning",
    "pitch_filterbank",
    "pitch_energy",
    "pitch_to_chroma",
    "cens_from_chroma",
    "chroma_stft",
    "chroma_cqt",
    "cens",
    "logfreq",
]

#: Pitch-class names, index 0 = C.
CHROMA_LABELS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
#: The pitch range of the log-frequency features (the 88 piano keys).
MIDI_MIN = 21
MIDI_MAX = 108
#: Names of the 88 pitch dimensions ("A0" ... "C8").
PITCH_LABELS = tuple(f"{CHROMA_LABELS[m % 12]}{m // 12 - 1}" for m in range(MIDI_MIN, MIDI_MAX + 1))

#: Default analysis window lengths in seconds (rounded to the nearest power of two in samples).
PITCH_WINDOW_S = 0.186
CENS_QUANT_STEPS = (0.05, 0.1, 0.2, 0.4)

_CQT_FMIN_MIDI = 24  # C1


# ----------------------------------------------------------------------------------------------
# validation helpers (shared with onsets.py)
# ----------------------------------------------------------------------------------------------

def check_audio(y, sr) -> tuple[np.ndarray, float]:
    """Validate mono audio and its sample rate; return ``(y as float32, sr as float)``."""
    if isinstance(sr, bool) or not isinstance(sr, (int, float, np.integer, np.floating)):
        raise ParameterError(f"sr={sr!r} must be a positive number")
    sr = float(sr)
    if not np.isfinite(sr) or sr <= 0:
        raise ParameterError(f"sr={sr!r} must be a positive finite number")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"y must be mono audio of shape (n_samples,), got shape {y.shape}")
    if y.size == 0:
        raise ParameterError("y is empty (0 samples)")
    if y.dtype.kind not in "fiu":
        raise ParameterError(f"y must hold real numbers, got dtype {y.dtype}")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not np.all(np.isfinite(y)):
        raise ParameterError("y contains NaN or inf samples")
    return y, sr


def frame_grid(sr: float, frame_rate: float) -> tuple[int, float]:
    """Hop length and exact frame rate for a requested rate.

    Parameters
    ----------
    sr : float
        Sample rate in Hz.
    frame_rate : float
        Requested frames per second.

    Returns
    -------
    hop : int
        ``round(sr / frame_rate)`` samples (at least 1).
    rate : float
        The exact rate ``sr / hop``.

    Raises
    ------
    ParameterError
        If ``frame_rate`` is not positive or exceeds ``sr``.
    """
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, (int, float, np.integer, np.floating)):
        raise ParameterError(f"frame_rate={frame_rate!r} must be a positive number")
    fr = float(frame_rate)
    if not np.isfinite(fr) or fr <= 0:
        raise ParameterError(f"frame_rate={frame_rate!r} must be a positive finite number")
    hop = int(round(sr / fr))
    if hop < 1:
        raise ParameterError(f"frame_rate={frame_rate!r} exceeds the sample rate sr={sr}")
    return hop, sr / hop


def default_n_fft(sr: float, seconds: float = PITCH_WINDOW_S) -> int:
    """Power of two nearest ``seconds * sr`` (4096 for 0.186 s at 22.05 kHz)."""
    return int(2 ** round(math.log2(max(seconds * sr, 16.0))))


def check_n_fft(n_fft, sr: float, seconds: float = PITCH_WINDOW_S) -> int:
    """Validate ``n_fft`` (``None`` means :func:`default_n_fft`)."""
    if n_fft is None:
        return default_n_fft(sr, seconds)
    if isinstance(n_fft, bool) or not isinstance(n_fft, (int, np.integer)) or n_fft < 32:
        raise ParameterError(f"n_fft={n_fft!r} must be an integer >= 32 (or None)")
    return int(n_fft)


def check_tuning(tuning) -> float | None:
    """Validate ``tuning`` (``None`` = estimate, else a float in [-0.5, 0.5] semitones)."""
    if tuning is None:
        return None
    if isinstance(tuning, bool) or not isinstance(tuning, (int, float, np.integer, np.floating)):
        raise ParameterError(f"tuning={tuning!r} must be None (estimate) or a number in [-0.5, 0.5]")
    t = float(tuning)
    if not np.isfinite(t) or abs(t) > 0.5:
        raise ParameterError(f"tuning={tuning!r} must lie in [-0.5, 0.5] semitones")
    return t


def check_nonneg(value, name: str) -> float:
    """Validate a non-negative finite number."""
    return check_threshold(value, name)


def check_positive_int(value, name: str) -> int:
    """Validate a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name}={value!r} must be a positive integer")
    return int(value)


def check_positive(value, name: str) -> float:
    """Validate a positive finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name}={value!r} must be a positive number")
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive finite number")
    return v


# ----------------------------------------------------------------------------------------------
# STFT -> pitch energies
# ----------------------------------------------------------------------------------------------

def _window(n_fft: int) -> np.ndarray:
    # periodic Hann, as in librosa/scipy get_window(..., fftbins=True)
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def pitch_filterbank(sr: float, n_fft: int, tuning: float = 0.0, *, midi_min: int = MIDI_MIN,
                     midi_max: int = MIDI_MAX) -> tuple[np.ndarray, int]:
    """Weights that pool an FFT power spectrum into semitone pitch bands.

    Parameters
    ----------
    sr : float
        Sample rate in Hz.
    n_fft : int
        FFT length.
    tuning : float
        Tuning deviation from A440 in fractions of a semitone (``0.3`` = 30 cents sharp).
    midi_min, midi_max : int
        Pitch range (inclusive).

    Returns
    -------
    weights : np.ndarray [shape=(n_bins_used, n_pitches), dtype=float32]
        ``power[:, k0:k0 + n_bins_used] @ weights`` gives the pitch energies.
    k0 : int
        First FFT bin used.
    """
    n_bins = n_fft // 2 + 1
    df = sr / n_fft
    freqs = np.arange(n_bins) * df
    pitches = np.arange(midi_min, midi_max + 1)
    fp = 440.0 * 2.0 ** ((pitches - 69 + tuning) / 12.0)
    with np.errstate(divide="ignore"):
        m_bins = 69.0 + 12.0 * np.log2(np.where(freqs > 0, freqs, np.nan) / 440.0)  # MIDI of each bin
    m_bins = np.nan_to_num(m_bins, nan=-1e9)
    W = np.zeros((n_bins, pitches.size), dtype=np.float64)
    for i, p in enumerate(pitches):
        gap = fp[i] * (1.0 - 2.0 ** (-1.0 / 12.0))  # distance to the lower neighbour in Hz
        if df >= gap:  # bins coarser than a semitone: interpolate the spectrum at f_p
            W[:, i] = np.maximum(0.0, 1.0 - np.abs(freqs - fp[i]) / df)
        else:  # semitone triangle in log frequency
            W[:, i] = np.maximum(0.0, 1.0 - np.abs(m_bins - (p + tuning)))
    W[0] = 0.0  # never DC
    used = np.nonzero(W.any(axis=1))[0]
    if used.size == 0:
        raise ParameterError(f"n_fft={n_fft} at sr={sr} covers none of MIDI {midi_min}-{midi_max}")
    k0, k1 = int(used[0]), int(used[-1]) + 1
    return np.ascontiguousarray(W[k0:k1], dtype=np.float32), k0


def _frames_view(y: np.ndarray, hop: int, n_fft: int, n_frames: int) -> np.ndarray:
    pad = n_fft // 2
    need = (n_frames - 1) * hop + n_fft
    ypad = np.zeros(max(need, y.size + 2 * pad), dtype=np.float32)
    ypad[pad:pad + y.size] = y
    return np.lib.stride_tricks.sliding_window_view(ypad, n_fft)[::hop][:n_frames]


def _band_power_blocks(y, hop, n_fft, n_frames, k0, k1, block=256):
    """Yield ``(start, power[block, k0:k1])`` of centred Hann frames, mean-power scaled."""
    frames = _frames_view(y, hop, n_fft, n_frames)
    win = _window(n_fft)
    scale = np.float32(2.0 / (n_fft * float(np.sum(win.astype(np.float64) ** 2))))
    for s in range(0, n_frames, block):
        X = scipy.fft.rfft(frames[s:s + block] * win, axis=1, workers=1)[:, k0:k1]
        P = X.real * X.real
        P += X.imag * X.imag
        P *= scale
        yield s, P


def pitch_energy(y: np.ndarray, sr: float, *, hop: int, n_fft: int, tuning: float,
                 n_frames: int | None = None) -> np.ndarray:
    """Energy of the 88 piano pitches per frame (the shared pitch representation).

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), dtype=float32]
        Validated mono audio.
    sr : float
    hop : int
        Hop in samples (frame ``n`` is centred on sample ``n * hop``).
    n_fft : int
        Window and FFT length.
    tuning : float
        In fractions of a semitone.
    n_frames : int, optional
        Defaults to ``ceil(len(y) / hop)``.

    Returns
    -------
    energy : np.ndarray [shape=(n_frames, 88), dtype=float32]
        Mean power per sample in each semitone band, MIDI 21 (column 0) to 108.
    """
    if n_frames is None:
        n_frames = -(-y.size // hop)
    W, k0 = pitch_filterbank(sr, n_fft, tuning)
    k1 = k0 + W.shape[0]
    out = np.empty((n_frames, W.shape[1]), dtype=np.float32)
    for s, P in _band_power_blocks(y, hop, n_fft, n_frames, k0, k1):
        np.matmul(P, W, out=out[s:s + P.shape[0]])
    np.maximum(out, 0.0, out=out)
    return out


def pitch_to_chroma(pitch: np.ndarray, midi_min: int = MIDI_MIN) -> np.ndarray:
    """Sum pitch energies over octaves.

    Parameters
    ----------
    pitch : np.ndarray [shape=(n_frames, n_pitches)]
        Column ``i`` is MIDI pitch ``midi_min + i``.
    midi_min : int

    Returns
    -------
    chroma : np.ndarray [shape=(n_frames, 12), dtype=float32]
        Column 0 is C.
    """
    pitch = np.asarray(pitch, dtype=np.float32)
    n, d = pitch.shape
    out = np.zeros((n, 12), dtype=np.float32)
    for c in range(12):
        first = (c - midi_min) % 12
        out[:, c] = pitch[:, first::12].sum(axis=1)
    return out


# ----------------------------------------------------------------------------------------------
# tuning
# ----------------------------------------------------------------------------------------------

def estimate_tuning(y: np.ndarray, sr: float, *, max_frames: int = 600, fmin: float = 100.0,
                    fmax: float = 2500.0) -> float:
    """Estimate the deviation of the audio's tuning from A440, in fractions of a semitone.

    Spectral peaks between ``fmin`` and ``fmax`` (local maxima no more than 40 dB below the
    frame's strongest bin) are located to sub-bin precision by parabolic interpolation of
    the log power; their deviations from the nearest equal-tempered pitch are averaged on
    the circle (so +0.49 and -0.49 agree), weighted by peak magnitude. At most
    ``max_frames`` frames, evenly spread, are analysed, so the cost is fixed.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
    sr : float
    max_frames : int
    fmin, fmax : float
        Frequency range of the peaks used, Hz.

    Returns
    -------
    tuning : float
        In [-0.5, 0.5), rounded to 0.01 (one cent); 0.0 for silence.

    Examples
    --------
    >>> sr = 22050; t = np.arange(sr) / sr
    >>> round(estimate_tuning(np.sin(2 * np.pi * 440 * 2 ** (0.3 / 12) * t), sr), 2)
    0.3
    """
    y, sr = check_audio(y, sr)
    max_frames = check_positive_int(max_frames, "max_frames")
    n_fft = default_n_fft(sr)
    hop = max(n_fft // 4, -(-y.size // max_frames))
    n_frames = -(-y.size // hop)
    k0 = max(2, int(fmin * n_fft / sr))
    k1 = min(n_fft // 2 - 1, int(math.ceil(fmax * n_fft / sr)) + 1)
    if k1 <= k0 + 2:
        return 0.0
    c_sum = 0.0
    s_sum = 0.0
    for _, P in _band_power_blocks(y, hop, n_fft, n_frames, k0 - 1, k1 + 1):
        c, s = _tuning_kernel(P.astype(np.float64), float(k0 - 1), sr / n_fft)
        c_sum += c
        s_sum += s
    if c_sum == 0.0 and s_sum == 0.0:
        return 0.0
    t = math.atan2(s_sum, c_sum) / (2 * math.pi)
    t = round(t, 2)
    return -0.5 if t >= 0.5 else t


@njit(cache=True)
def _tuning_kernel(P, k_offset, df):
    c_sum = 0.0
    s_sum = 0.0
    n, K = P.shape
    for i in range(n):
        pmax = 0.0
        for k in range(K):
            if P[i, k] > pmax:
                pmax = P[i, k]
        if pmax <= 1e-12:
            continue
        floor = pmax * 1e-4
        for k in range(1, K - 1):
            b = P[i, k]
            if b > floor and b > P[i, k - 1] and b >= P[i, k + 1]:
                la = np.log(max(P[i, k - 1], 1e-30))
                lb = np.log(b)
                lc = np.log(max(P[i, k + 1], 1e-30))
                den = la - 2.0 * lb + lc
                delta = 0.0
                if den < 0.0:
                    delta = 0.5 * (la - lc) / den
                    if delta > 0.5:
                        delta = 0.5
                    elif delta < -0.5:
                        delta = -0.5
                f = (k + k_offset + delta) * df
                m = 69.0 + 12.0 * np.log2(f / 440.0)
                dev = m - np.floor(m + 0.5)
                w = np.sqrt(b)
                c_sum += w * np.cos(2.0 * np.pi * dev)
                s_sum += w * np.sin(2.0 * np.pi * dev)
    return c_sum, s_sum


def resolve_tuning(tuning, y, sr) -> float:
    """``tuning`` if given, else :func:`estimate_tuning` of the audio."""
    t = check_tuning(tuning)
    return estimate_tuning(y, sr) if t is None else t


# ----------------------------------------------------------------------------------------------
# CENS
# ----------------------------------------------------------------------------------------------

def cens_from_chroma(chroma: np.ndarray, *, smooth_length: int = 41, downsample: int = 10,
                     threshold: float = 0.0) -> np.ndarray:
    """Chroma Energy Normalized Statistics (CENS) from a chroma energy sequence.

    The classic recipe (Müller, Kurth & Clausen 2005): l1-normalise each frame (frames
    below ``threshold`` become uniform), quantise each entry to 0, 0.25, 0.5, 0.75, 1 by
    the steps 0.05, 0.1, 0.2, 0.4 (an entry counts 0.25 for every step it exceeds),
    smooth each pitch class in time with a Hann window of ``smooth_length`` frames
    (centred, zero beyond the ends), keep every ``downsample``-th frame starting with
    frame 0, and l2-normalise.

    Parameters
    ----------
    chroma : np.ndarray [shape=(n_frames, 12)]
        Non-negative chroma energies (not yet normalised), time first.
    smooth_length : int >= 1
    downsample : int >= 1
    threshold : float >= 0
        For the l1 normalisation.

    Returns
    -------
    cens : np.ndarray [shape=(ceil(n_frames / downsample), 12), dtype=float32]
        Output frame ``m`` describes the time of input frame ``m * downsample``.
    """
    smooth_length = check_positive_int(smooth_length, "smooth_length")
    downsample = check_positive_int(downsample, "downsample")
    x = normalize(chroma, norm="l1", threshold=threshold)
    q = np.zeros_like(x)
    for step in CENS_QUANT_STEPS:
        q += 0.25 * (x > step)
    if smooth_length > 1:
        win = np.hanning(smooth_length + 2)[1:-1].astype(np.float32)
        q = scipy.ndimage.convolve1d(q, win, axis=0, mode="constant", cval=0.0)
    q = q[::downsample]
    return normalize(q, norm="l2", threshold=0.0)


# ----------------------------------------------------------------------------------------------
# extractors
# ----------------------------------------------------------------------------------------------

def _compress(x: np.ndarray, gamma: float) -> np.ndarray:
    if gamma > 0:
        return np.log1p(gamma * x).astype(np.float32)
    return x


def _check_common(params: dict, y, sr):
    y, sr = check_audio(y, sr)
    hop, rate = frame_grid(sr, params["frame_rate"])
    return y, sr, hop, rate


@register_extractor("logfreq", frame_rate=50.0, n_fft=None, tuning=None, gamma=0.0, norm="none",
                    norm_threshold=0.0)
def logfreq(y, sr, *, frame_rate=50.0, n_fft=None, tuning=None, gamma=0.0, norm="none", norm_threshold=0.0):
    """Log-frequency pitch spectrogram: energy of the 88 piano pitches MIDI 21-108.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio.
    sr : float
        Sample rate in Hz.
    frame_rate : float
        Requested frames per second (exact rate ``sr / round(sr / frame_rate)``).
    n_fft : int or None
        Window length in samples; ``None``: the power of two nearest 0.186 s.
    tuning : float or None
        Fractions of a semitone from A440; ``None`` estimates it (:func:`estimate_tuning`).
    gamma : float >= 0
        Log compression ``log(1 + gamma * energy)``; 0 keeps the energies.
    norm : {"l1", "l2", "max", "none"}
    norm_threshold : float >= 0
        See :func:`alignkit.features.normalize.normalize`.

    Returns
    -------
    Features
        ``values`` [shape=(ceil(len(y) / hop), 88)], column ``i`` = MIDI ``21 + i``, labels "A0".."C8".
    """
    params = dict(frame_rate=frame_rate, n_fft=n_fft, tuning=tuning, gamma=gamma, norm=norm,
                  norm_threshold=norm_threshold)
    y, sr, hop, rate = _check_common(params, y, sr)
    nf = check_n_fft(n_fft, sr)
    g = check_nonneg(gamma, "gamma")
    nrm = check_norm(norm)
    thr = check_threshold(norm_threshold)
    t = resolve_tuning(tuning, y, sr)
    P = _compress(pitch_energy(y, sr, hop=hop, n_fft=nf, tuning=t), g)
    return Features(normalize(P, norm=nrm, threshold=thr), rate, "logfreq", params, PITCH_LABELS)


def _chroma_stft_values(y, sr, hop, nf, t, g, nrm, thr, pitch=None):
    if pitch is None:
        pitch = pitch_energy(y, sr, hop=hop, n_fft=nf, tuning=t)
    return normalize(pitch_to_chroma(_compress(pitch, g)), norm=nrm, threshold=thr)


@register_extractor("chroma_stft", frame_rate=50.0, n_fft=None, tuning=None, gamma=0.0, norm="l2",
                    norm_threshold=1e-7)
def chroma_stft(y, sr, *, frame_rate=50.0, n_fft=None, tuning=None, gamma=0.0, norm="l2",
                norm_threshold=1e-7):
    """Chroma from the STFT pitch energies (MIDI 21-108 summed over octaves).

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
    sr : float
    frame_rate : float
    n_fft : int or None
        ``None``: the power of two nearest 0.186 s (4096 at 22.05 kHz).
    tuning : float or None
        ``None`` estimates it.
    gamma : float >= 0
        Log compression of the pitch energies before folding (0 = none).
    norm : {"l1", "l2", "max", "none"}
    norm_threshold : float >= 0
        In the units of the (compressed) chroma energy: with ``gamma=0`` mean power per
        sample, so the default 1e-7 treats frames quieter than about -65 dBFS as silence
        (uniform vector).

    Returns
    -------
    Features
        ``values`` [shape=(ceil(len(y) / hop), 12)], column 0 = C.
    """
    params = dict(frame_rate=frame_rate, n_fft=n_fft, tuning=tuning, gamma=gamma, norm=norm,
                  norm_threshold=norm_threshold)
    y, sr, hop, rate = _check_common(params, y, sr)
    nf = check_n_fft(n_fft, sr)
    g = check_nonneg(gamma, "gamma")
    nrm = check_norm(norm)
    thr = check_threshold(norm_threshold)
    t = resolve_tuning(tuning, y, sr)
    return Features(_chroma_stft_values(y, sr, hop, nf, t, g, nrm, thr), rate, "chroma_stft", params,
                    CHROMA_LABELS)


def _cqt_chroma_energy(y, sr, hop, rate, tuning, n_octaves, bins_per_octave):
    import librosa

    unit = 2 ** (n_octaves - 1)
    hop_c = max(unit, unit * int(round(hop / unit)))
    # librosa's tuning is in fractions of a CQT bin; ours in fractions of a semitone
    C = librosa.feature.chroma_cqt(
        y=y, sr=sr, hop_length=hop_c, fmin=librosa.midi_to_hz(_CQT_FMIN_MIDI), norm=None,
        threshold=0.0, tuning=tuning * bins_per_octave / 12.0, n_chroma=12, n_octaves=n_octaves,
        bins_per_octave=bins_per_octave,
    )  # (12, m), frame j centred at sample j * hop_c
    n_frames = -(-y.size // hop)
    t_src = np.arange(C.shape[1]) * hop_c
    t_dst = np.arange(n_frames) * hop
    out = np.empty((n_frames, 12), dtype=np.float32)
    for c in range(12):
        out[:, c] = np.interp(t_dst, t_src, C[c])
    return np.maximum(out, 0.0)


@register_extractor("chroma_cqt", frame_rate=50.0, tuning=None, n_octaves=7, bins_per_octave=36,
                    norm="l2", norm_threshold=1e-4)
def chroma_cqt(y, sr, *, frame_rate=50.0, tuning=None, n_octaves=7, bins_per_octave=36, norm="l2",
               norm_threshold=1e-4):
    """Chroma from librosa's constant-Q transform (C1 upwards), on the common frame grid.

    The CQT runs at the hop nearest ``sr / frame_rate`` that is a multiple of
    ``2**(n_octaves - 1)`` (so librosa can decimate octave by octave) and is linearly
    interpolated onto the exact frame centres ``n * hop``.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
    sr : float
    frame_rate : float
    tuning : float or None
        Fractions of a semitone; ``None`` estimates it (:func:`estimate_tuning`).
    n_octaves : int >= 1
    bins_per_octave : int, a positive multiple of 12
    norm : {"l1", "l2", "max", "none"}
    norm_threshold : float >= 0
        In CQT magnitude units (librosa's scaled CQT; a full-scale sine is about 1).

    Returns
    -------
    Features
        ``values`` [shape=(ceil(len(y) / hop), 12)], column 0 = C.
    """
    params = dict(frame_rate=frame_rate, tuning=tuning, n_octaves=n_octaves, bins_per_octave=bins_per_octave,
                  norm=norm, norm_threshold=norm_threshold)
    y, sr, hop, rate = _check_common(params, y, sr)
    t = check_tuning(tuning)
    no = check_positive_int(n_octaves, "n_octaves")
    bpo = check_positive_int(bins_per_octave, "bins_per_octave")
    if bpo % 12:
        raise ParameterError(f"bins_per_octave={bins_per_octave!r} must be a multiple of 12")
    nrm = check_norm(norm)
    thr = check_threshold(norm_threshold)
    fmax = 440.0 * 2 ** ((_CQT_FMIN_MIDI + 12 * no - 69) / 12)
    if fmax >= sr / 2:
        raise ParameterError(
            f"n_octaves={n_octaves!r} from C1 reaches {fmax:.0f} Hz, above Nyquist of sr={sr}")
    t = estimate_tuning(y, sr) if t is None else t
    C = _cqt_chroma_energy(y, sr, hop, rate, t, no, bpo)
    return Features(normalize(C, norm=nrm, threshold=thr), rate, "chroma_cqt", params, CHROMA_LABELS)


@register_extractor("cens", frame_rate=50.0, smooth_length=41, downsample=10, source="stft", n_fft=None,
                    tuning=None, norm_threshold=1e-7)
def cens(y, sr, *, frame_rate=50.0, smooth_length=41, downsample=10, source="stft", n_fft=None, tuning=None,
         norm_threshold=1e-7):
    """CENS (Chroma Energy Normalized Statistics) from STFT or CQT chroma.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
    sr : float
    frame_rate : float
        Rate of the underlying chroma; the output rate is ``exact rate / downsample``
        (defaults: 50 Hz chroma, Hann of 41 frames = 0.82 s, 5 Hz output).
    smooth_length : int >= 1
    downsample : int >= 1
    source : {"stft", "cqt"}
        The chroma front end.
    n_fft : int or None
        Window of the STFT front end (ignored for ``"cqt"``).
    tuning : float or None
    norm_threshold : float >= 0
        Frames of smaller chroma energy (l1) count as silence (uniform before quantisation).

    Returns
    -------
    Features
        ``values`` [shape=(ceil(n_chroma_frames / downsample), 12)], l2-normalised; output
        frame ``m`` is centred on input frame ``m * downsample``.
    """
    params = dict(frame_rate=frame_rate, smooth_length=smooth_length, downsample=downsample, source=source,
                  n_fft=n_fft, tuning=tuning, norm_threshold=norm_threshold)
    y, sr, hop, rate = _check_common(params, y, sr)
    sl = check_positive_int(smooth_length, "smooth_length")
    ds = check_positive_int(downsample, "downsample")
    thr = check_threshold(norm_threshold)
    if source not in ("stft", "cqt"):
        raise ParameterError(f"source={source!r} is not one of ['stft', 'cqt']")
    if source == "stft":
        nf = check_n_fft(n_fft, sr)
        t = resolve_tuning(tuning, y, sr)
        C = pitch_to_chroma(pitch_energy(y, sr, hop=hop, n_fft=nf, tuning=t))
    else:
        C = _cqt_chroma_energy(y, sr, hop, rate, resolve_tuning(tuning, y, sr), 7, 36)
    vals = cens_from_chroma(C, smooth_length=sl, downsample=ds, threshold=thr)
    return Features(vals, rate / ds, "cens", params, CHROMA_LABELS)
