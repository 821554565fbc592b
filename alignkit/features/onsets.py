"""Onset features for high-resolution synchronisation: DLNCO.

DLNCO (decaying, locally adaptive normalised chroma onsets) follows Ewert, Müller &
Grosche, "High resolution audio synchronization using chroma onset features" (ICASSP
2009) and the Sync Toolbox. The audio front end differs (one STFT instead of an IIR
filterbank, which is what makes it fast); the back end is the same:

1. **Pitch onsets.** For each of the 88 pitches the energy curve ``E`` (from a short
   window, about 93 ms, so onsets stay sharp) gives the half-wave rectified centred
   difference ``d[n] = max(0, (E[n+1] - E[n-1]) / 2)`` (centred, so a sudden onset at
   time ``t`` peaks at frame ``round(t * rate)``). Its peaks are kept where
   ``d`` is a local maximum, at least ``peak_threshold`` times the largest ``d`` of that
   pitch within ``+-peak_window`` seconds, and a relative energy increase
   ``E[n+1] / E[n-1] - 1`` of at least ``rel_threshold`` (this rejects the small
   fluctuations of sustained notes) and ``d`` of at least ``min_strength`` times the frame's
   total energy (this rejects noise in empty bands). A peak contributes ``log(1 + gamma * d)``.
2. **Chroma onsets (CO).** Peaks are added into their pitch class at their frame
   (shifted by ``onset_offset`` seconds).
3. **Local normalisation (LNCO).** Each frame of CO is divided by the largest l2 norm of
   CO within a centred window of ``ln_window`` seconds, floored at ``ln_threshold``.
4. **Decay (DLNCO).** Each pitch class takes the running maximum of the LNCO values of
   the last ``decay_length`` seconds weighted by ``1 / sqrt(1 + 50 * tau)`` (``tau`` the
   age in seconds): at 50 Hz exactly the Sync Toolbox's ``sqrt(1 / [1..10])``.

Steps 2-4 are shared with the score version (:func:`alignkit.features.score.score_features`
with ``"dlnco"``), which puts one unit onset per note instead of step 1, so score and audio
DLNCO are directly comparable.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alignkit.exceptions import ParameterError
from alignkit.features.base import Features, register_extractor, resolve_params
from alignkit.features.chroma import (
    CHROMA_LABELS,
    MIDI_MIN,
    _chroma_stft_values,
    check_audio,
    check_n_fft,
    check_nonneg,
    check_norm,
    check_positive,
    check_threshold,
    check_tuning,
    estimate_tuning,
    frame_grid,
    pitch_energy,
)

__all__ = ["ONSET_WINDOW_S", "dlnco", "dlnco_from_chroma_onsets", "pitch_onsets", "decay_kernel",
           "sync_features"]

#: Default onset analysis window in seconds (the power of two nearest: 2048 at 22.05 kHz).
ONSET_WINDOW_S = 0.093


def decay_kernel(frame_rate: float, decay_length: float) -> np.ndarray:
    """Decay weights ``1 / sqrt(1 + 50 * j / frame_rate)`` for ``j < round(decay_length * frame_rate)``.

    Returns
    -------
    kernel : np.ndarray [shape=(n,), dtype=float64]
        At 50 Hz and 0.2 s: ``sqrt(1 / [1, 2, ..., 10])``. At least one coefficient (1.0).
    """
    n = max(1, int(round(decay_length * frame_rate)))
    return 1.0 / np.sqrt(1.0 + 50.0 * np.arange(n) / frame_rate)


def dlnco_from_chroma_onsets(co: np.ndarray, frame_rate: float, *, ln_window: float = 0.8,
                             ln_threshold: float = 0.1, decay_length: float = 0.2) -> np.ndarray:
    """Local normalisation and decay of a chroma onset sequence (steps 3-4 of DLNCO).

    Parameters
    ----------
    co : np.ndarray [shape=(n_frames, 12)]
        Non-negative chroma onset strengths, time first.
    frame_rate : float
    ln_window : float >= 0
        Seconds; the local norm is the maximum frame norm within ``+-floor(ln_window *
        frame_rate / 2)`` frames (the Sync Toolbox rounds the length down to an even count).
    ln_threshold : float > 0
        Floor of the local norm.
    decay_length : float >= 0
        Seconds of decay (see :func:`decay_kernel`).

    Returns
    -------
    dlnco : np.ndarray [shape=(n_frames, 12), dtype=float32]
        Values in [0, 1] when every onset frame's own norm exceeds ``ln_threshold``.
    """
    co = np.asarray(co, dtype=np.float64)
    if co.ndim != 2:
        raise ParameterError(f"co must be 2-D (n_frames, 12), got shape {co.shape}")
    fr = check_positive(frame_rate, "frame_rate")
    lw = check_nonneg(ln_window, "ln_window")
    lt = check_positive(ln_threshold, "ln_threshold")
    dl = check_nonneg(decay_length, "decay_length")
    L = int(lw * fr)
    half = (L - (L % 2)) // 2
    out = np.empty(co.shape, dtype=np.float32)
    _ln_decay_kernel(np.ascontiguousarray(co), half, lt, decay_kernel(fr, dl), out)
    return out


@njit(cache=True)
def _ln_decay_kernel(co, half, floor, kern, out):
    n, d = co.shape
    norms = np.empty(n)
    for i in range(n):
        s = 0.0
        for j in range(d):
            s += co[i, j] * co[i, j]
        norms[i] = np.sqrt(s)
    # running maximum over [i - half, i + half] (monotone deque)
    local = np.empty(n)
    dq = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    nxt = 0
    for i in range(n):
        hi = min(n - 1, i + half)
        while nxt <= hi:
            while tail > head and norms[dq[tail - 1]] <= norms[nxt]:
                tail -= 1
            dq[tail] = nxt
            tail += 1
            nxt += 1
        while dq[head] < i - half:
            head += 1
        local[i] = max(norms[dq[head]], floor)
    m = kern.shape[0]
    for j in range(d):
        for i in range(n):
            best = 0.0
            for k in range(min(m, i + 1)):
                v = kern[k] * co[i - k, j] / local[i - k]
                if v > best:
                    best = v
            out[i, j] = best


def pitch_onsets(energy: np.ndarray, frame_rate: float, *, peak_window: float = 0.1,
                 peak_threshold: float = 2.0 / 3.0, rel_threshold: float = 0.25,
                 min_strength: float = 0.0) -> np.ndarray:
    """Onset strengths per pitch from a pitch energy sequence (step 1 of DLNCO, before compression).

    Parameters
    ----------
    energy : np.ndarray [shape=(n_frames, n_pitches)]
        Non-negative energies (e.g. :func:`alignkit.features.chroma.pitch_energy`).
    frame_rate : float
    peak_window : float >= 0
        Seconds on each side for the local-maximum threshold.
    peak_threshold : float in [0, 1]
    rel_threshold : float >= 0
        Minimum relative energy increase across the peak frame.
    min_strength : float >= 0
        Minimum ``d[n]`` as a fraction of the total energy of all pitches in frame ``n + 1``
        (rejects increases too small to matter in the mix, e.g. noise in empty bands).

    Returns
    -------
    onsets : np.ndarray [shape=(n_frames, n_pitches), dtype=float32]
        ``d[n]`` at kept peaks, 0 elsewhere.
    """
    E = np.ascontiguousarray(energy, dtype=np.float64)
    if E.ndim != 2:
        raise ParameterError(f"energy must be 2-D, got shape {E.shape}")
    fr = check_positive(frame_rate, "frame_rate")
    pw = check_nonneg(peak_window, "peak_window")
    pt = check_threshold(peak_threshold, "peak_threshold")
    if pt > 1:
        raise ParameterError(f"peak_threshold={peak_threshold!r} must lie in [0, 1]")
    rt = check_nonneg(rel_threshold, "rel_threshold")
    ms = check_nonneg(min_strength, "min_strength")
    out = np.zeros(E.shape, dtype=np.float32)
    _onset_kernel(E, E.sum(axis=1), int(round(pw * fr)), pt, rt, ms, out)
    return out


@njit(cache=True)
def _onset_kernel(E, total, w, pt, rt, ms, out):
    n, P = E.shape
    d = np.empty(n)
    for p in range(P):
        for i in range(n):
            prev = E[i - 1, p] if i > 0 else 0.0
            nxt = E[i + 1, p] if i + 1 < n else E[i, p]
            v = 0.5 * (nxt - prev)
            d[i] = v if v > 0.0 else 0.0
        for i in range(n):
            v = d[i]
            if v <= 0.0:
                continue
            if i > 0 and d[i - 1] > v:
                continue
            if i + 1 < n and d[i + 1] >= v:
                continue
            prev = E[i - 1, p] if i > 0 else 0.0
            if 2.0 * v < rt * prev:
                continue
            if v < ms * total[min(i + 1, n - 1)]:
                continue
            lo = max(0, i - w)
            hi = min(n - 1, i + w)
            m = 0.0
            for k in range(lo, hi + 1):
                if d[k] > m:
                    m = d[k]
            if v >= pt * m:
                out[i, p] = v


def _onsets_to_chroma(ons: np.ndarray, gamma: float, shift: int, midi_min: int = MIDI_MIN) -> np.ndarray:
    n, P = ons.shape
    co = np.zeros((n, 12), dtype=np.float64)
    vals = np.log1p(gamma * ons.astype(np.float64))
    idx, p = np.nonzero(ons)
    tgt = idx + shift
    ok = (tgt >= 0) & (tgt < n)
    np.add.at(co, (tgt[ok], (p[ok] + midi_min) % 12), vals[idx[ok], p[ok]])
    return co


_DLNCO_DEFAULTS = dict(frame_rate=50.0, n_fft=None, tuning=None, gamma=1e3, peak_window=0.1,
                       peak_threshold=2.0 / 3.0, rel_threshold=0.25, min_strength=0.003, onset_offset=0.0,
                       ln_window=0.8, ln_threshold=0.1, decay_length=0.2)


def _dlnco_values(y, sr, hop, rate, t, p, energy=None):
    nf = check_n_fft(p["n_fft"], sr, ONSET_WINDOW_S)
    g = check_positive(p["gamma"], "gamma")
    off = p["onset_offset"]
    if (isinstance(off, bool) or not isinstance(off, (int, float, np.integer, np.floating))
            or not np.isfinite(off)):
        raise ParameterError(f"onset_offset={off!r} must be a finite number of seconds")
    if energy is None:
        energy = pitch_energy(y, sr, hop=hop, n_fft=nf, tuning=t)
    ons = pitch_onsets(energy, rate, peak_window=p["peak_window"], peak_threshold=p["peak_threshold"],
                       rel_threshold=p["rel_threshold"], min_strength=p["min_strength"])
    co = _onsets_to_chroma(ons, g, int(round(float(off) * rate)))
    return dlnco_from_chroma_onsets(co, rate, ln_window=p["ln_window"], ln_threshold=p["ln_threshold"],
                                    decay_length=p["decay_length"])


@register_extractor("dlnco", **_DLNCO_DEFAULTS)
def dlnco(y, sr, **params):
    """DLNCO onset features (12 dims) for high-resolution synchronisation.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
    sr : float
    frame_rate : float, default 50
    n_fft : int or None
        Onset window; ``None``: the power of two nearest 0.093 s (2048 at 22.05 kHz).
    tuning : float or None
        Fractions of a semitone; ``None`` estimates it.
    gamma : float > 0, default 1e3
        Log compression of the onset strengths (mean-power units).
    peak_window, peak_threshold, rel_threshold, min_strength
        Peak picking, see the module docstring and :func:`pitch_onsets`.
    onset_offset : float, default 0
        Seconds added to every detected onset before it is placed in a frame.
    ln_window : float, default 0.8
        Local normalisation window in seconds.
    ln_threshold : float, default 0.1
        Floor of the local norm.
    decay_length : float, default 0.2
        Seconds of decay.

    Returns
    -------
    Features
        ``values`` [shape=(ceil(len(y) / hop), 12)], column 0 = C, in [0, 1].
    """
    unknown = set(params) - set(_DLNCO_DEFAULTS)
    if unknown:
        raise ParameterError(f"unknown parameters {sorted(unknown)} for feature 'dlnco'")
    p = {**_DLNCO_DEFAULTS, **params}
    y, sr = check_audio(y, sr)
    hop, rate = frame_grid(sr, p["frame_rate"])
    t = check_tuning(p["tuning"])
    if t is None:
        t = estimate_tuning(y, sr)
    return Features(_dlnco_values(y, sr, hop, rate, t, p), rate, "dlnco", p, CHROMA_LABELS)


def sync_features(y: np.ndarray, sr: float, *, frame_rate: float = 50.0, tuning: float | None = None,
                  chroma: dict | None = None, onsets: dict | None = None,
                  chroma_feature: str = "chroma_stft") -> tuple[Features, Features]:
    """Chroma and DLNCO for high-resolution synchronisation in one pass.

    The tuning is estimated once (when ``tuning=None``) and shared; with ``chroma_stft`` and
    both on the same window the pitch energies are computed once too. The results equal
    ``extract(chroma_feature, y, sr, frame_rate=..., tuning=..., **chroma)`` and
    ``extract("dlnco", y, sr, frame_rate=..., tuning=..., **onsets)``, parameters included.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
    sr : float
    frame_rate : float
    tuning : float or None
    chroma : dict, optional
        Further parameters of the chroma extractor.
    onsets : dict, optional
        Further ``dlnco`` parameters.
    chroma_feature : str
        The chroma extractor (a registry name, e.g. ``"chroma_stft"`` or ``"chroma_cqt"``).

    Returns
    -------
    chroma : Features
        ``chroma_feature`` [shape=(n_frames, 12)].
    dlnco : Features
        ``dlnco`` [shape=(n_frames, 12)] on the same frames.
    """
    for key, d in (("chroma", chroma), ("onsets", onsets)):
        if d is not None and ("frame_rate" in d or "tuning" in d):
            raise ParameterError(f"pass frame_rate and tuning directly, not inside {key}={d!r}")
    if chroma_feature != "chroma_stft":  # no shared pitch energies: one tuning, two extractors
        from alignkit.features.base import extract

        t = check_tuning(tuning)
        if t is None:
            t = estimate_tuning(*check_audio(y, sr))
        return (extract(chroma_feature, y, sr, frame_rate=frame_rate, tuning=t, **(chroma or {})),
                extract("dlnco", y, sr, frame_rate=frame_rate, tuning=t, **(onsets or {})))
    cp = resolve_params("chroma_stft", {**(chroma or {}), "frame_rate": frame_rate, "tuning": tuning})
    op = resolve_params("dlnco", {**(onsets or {}), "frame_rate": frame_rate, "tuning": tuning})
    y, sr = check_audio(y, sr)
    hop, rate = frame_grid(sr, frame_rate)
    t = check_tuning(tuning)
    if t is None:
        t = estimate_tuning(y, sr)
    nf_c = check_n_fft(cp["n_fft"], sr)
    nf_o = check_n_fft(op["n_fft"], sr, ONSET_WINDOW_S)
    g = check_nonneg(cp["gamma"], "gamma")
    nrm = check_norm(cp["norm"])
    thr = check_threshold(cp["norm_threshold"])
    pitch = pitch_energy(y, sr, hop=hop, n_fft=nf_c, tuning=t)
    cvals = _chroma_stft_values(y, sr, hop, nf_c, t, g, nrm, thr, pitch=pitch)
    dvals = _dlnco_values(y, sr, hop, rate, t, op, energy=pitch if nf_o == nf_c else None)
    return (Features(cvals, rate, "chroma_stft", cp, CHROMA_LABELS),
            Features(dvals, rate, "dlnco", op, CHROMA_LABELS))
