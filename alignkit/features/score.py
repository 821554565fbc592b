"""Features from a score (a :class:`~alignkit.io.notes.Notes` list), comparable to audio features.

A score aligns against a recording when both are turned into the same kind of feature on
the same kind of time grid. :func:`score_features` builds, at any frame rate:

============  ====================================================  ===========================
name          what                                                  compare with (audio)
============  ====================================================  ===========================
``chroma``    pitch-class activity from note durations              ``chroma_stft``, ``chroma_cqt``
``logfreq``   piano roll of MIDI 21-108 (88 dims)                   ``logfreq``
``dlnco``     unit onsets -> the audio DLNCO's normalisation/decay  ``dlnco``
``cens``      CENS of the ``chroma`` activity                       ``cens``
============  ====================================================  ===========================

The resulting :class:`Features` are named ``"score_<name>"`` and their ``params`` hold a
``comparable_to`` list with the audio extractor names (also in :data:`COMPARABLE`).

Time grid: frame ``n`` stands for ``n / frame_rate`` seconds and covers
``[(n - 1/2) / frame_rate, (n + 1/2) / frame_rate)``, like the centred audio frames.
``n_frames`` defaults to ``ceil(notes.duration * frame_rate)`` (every frame centre before the
last offset, as for audio of that length). A note's activity in a frame is the fraction
of the frame it covers, times ``exp(-(t_n - onset) / decay)`` at the frame centre ``t_n``
when ``decay`` is set (``t_n`` before the onset counts as the onset), times
``velocity / 127`` when ``velocity=True``. With ``harmonics=h`` the partials ``2..h`` of each
note add ``1 / k**2`` of its activity at ``round(12 * log2(k))`` semitones above.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from alignkit.exceptions import ParameterError
from alignkit.features.base import Features
from alignkit.features.chroma import (
    CHROMA_LABELS,
    MIDI_MAX,
    MIDI_MIN,
    PITCH_LABELS,
    cens_from_chroma,
    check_nonneg,
    check_norm,
    check_positive,
    check_positive_int,
    check_threshold,
)
from alignkit.features.normalize import normalize
from alignkit.features.onsets import dlnco_from_chroma_onsets
from alignkit.io.notes import Notes

__all__ = ["COMPARABLE", "SCORE_FEATURES", "score_features", "note_activity"]

#: Score feature name -> audio extractors it is comparable to.
COMPARABLE = {
    "chroma": ("chroma_stft", "chroma_cqt"),
    "logfreq": ("logfreq",),
    "dlnco": ("dlnco",),
    "cens": ("cens",),
}

_ACTIVITY = dict(decay=None, velocity=False, harmonics=1)
#: Parameters (with defaults) of every score feature, besides ``frame_rate`` and ``n_frames``.
SCORE_FEATURES = {
    "chroma": dict(_ACTIVITY, norm="l2", norm_threshold=0.0),
    "logfreq": dict(_ACTIVITY, norm="none", norm_threshold=0.0),
    "dlnco": dict(velocity=False, ln_window=0.8, ln_threshold=0.1, decay_length=0.2),
    "cens": dict(_ACTIVITY, smooth_length=41, downsample=10, norm_threshold=0.0),
}


def _check_notes(notes) -> Notes:
    if not isinstance(notes, Notes):
        raise ParameterError(f"notes must be an alignkit.io.notes.Notes, got {type(notes).__name__}")
    return notes


def _n_frames(notes: Notes, rate: float, n_frames) -> int:
    if n_frames is None:
        return max(1, int(math.ceil(notes.duration * rate - 1e-9)))
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ParameterError(f"n_frames={n_frames!r} must be a positive integer (or None)")
    return int(n_frames)


def note_activity(notes: Notes, *, frame_rate: float = 50.0, n_frames: int | None = None,
                  decay: float | None = None, velocity: bool = False, harmonics: int = 1) -> np.ndarray:
    """Per-pitch activity (a soft piano roll over all 128 MIDI pitches).

    Parameters
    ----------
    notes : Notes
    frame_rate : float
    n_frames : int, optional
        Defaults to ``ceil(notes.duration * frame_rate)``.
    decay : float or None
        Exponential decay time constant in seconds; ``None`` keeps notes constant.
    velocity : bool
        Weight notes by ``velocity / 127``.
    harmonics : int >= 1
        Number of partials per note (1 = fundamental only).

    Returns
    -------
    activity : np.ndarray [shape=(n_frames, 128), dtype=float32]
    """
    notes = _check_notes(notes)
    rate = check_positive(frame_rate, "frame_rate")
    n = _n_frames(notes, rate, n_frames)
    tau = 0.0 if decay is None else check_positive(decay, "decay")
    if not isinstance(velocity, (bool, np.bool_)):
        raise ParameterError(f"velocity={velocity!r} must be True or False")
    h = check_positive_int(harmonics, "harmonics")
    w = notes.velocity.astype(np.float64) / 127.0 if velocity else np.ones(len(notes))
    act = np.zeros((n, 128), dtype=np.float64)
    offsets = np.array([int(round(12 * math.log2(k))) for k in range(1, h + 1)], dtype=np.int64)
    gains = np.array([1.0 / k ** 2 for k in range(1, h + 1)])
    _activity_kernel(notes.start, notes.end, notes.pitch.astype(np.int64), w, rate, tau, offsets, gains, act)
    return act.astype(np.float32)


@njit(cache=True)
def _activity_kernel(start, end, pitch, weight, rate, tau, offsets, gains, act):
    n = act.shape[0]
    for i in range(start.shape[0]):
        s = start[i]
        e = end[i]
        if e <= s:
            continue
        f0 = max(0, int(np.floor(s * rate + 0.5)))
        f1 = min(n - 1, int(np.ceil(e * rate + 0.5)))
        for f in range(f0, f1 + 1):
            lo = max(s, (f - 0.5) / rate)
            hi = min(e, (f + 0.5) / rate)
            if hi <= lo:
                continue
            a = (hi - lo) * rate * weight[i]
            if tau > 0.0:
                age = f / rate - s
                if age > 0.0:
                    a *= np.exp(-age / tau)
            for k in range(offsets.shape[0]):
                p = pitch[i] + offsets[k]
                if p < 128:
                    act[f, p] += a * gains[k]


def _fold_chroma(act128: np.ndarray) -> np.ndarray:
    out = np.zeros((act128.shape[0], 12), dtype=np.float32)
    for c in range(12):
        out[:, c] = act128[:, c::12].sum(axis=1)
    return out


def score_features(notes: Notes, name: str, *, frame_rate: float = 50.0, n_frames: int | None = None,
                   **params) -> Features:
    """Features of a score on a frame grid, comparable to audio features.

    Parameters
    ----------
    notes : Notes
        The score (seconds; from ``alignkit.io.scores.load_score`` or built by hand).
    name : {"chroma", "logfreq", "dlnco", "cens"}
        See the module docstring and :data:`COMPARABLE`.
    frame_rate : float
        Frames per second; pass the audio features' exact ``frame_rate`` to compare.
        For ``"cens"`` the rate before downsampling (as for the audio ``cens``).
    n_frames : int, optional
        Number of frames (for ``"cens"``: before downsampling). Default
        ``ceil(notes.duration * frame_rate)``.
    **params
        The feature's options, defaults in :data:`SCORE_FEATURES`:

        - ``decay`` (seconds or None), ``velocity`` (bool), ``harmonics`` (int): activity.
        - ``norm``, ``norm_threshold``: frame normalisation (chroma, logfreq).
        - ``ln_window``, ``ln_threshold``, ``decay_length``: as for audio ``dlnco``;
          ``velocity`` there weights each onset by ``velocity / 127`` instead of 1.
        - ``smooth_length``, ``downsample``, ``norm_threshold``: as for audio ``cens``.

    Returns
    -------
    Features
        Named ``"score_<name>"``, ``params`` with every option, ``frame_rate``, ``n_frames``
        and ``comparable_to``. Values [shape=(n_frames, 12)] (88 for ``"logfreq"``,
        ``ceil(n_frames / downsample)`` frames for ``"cens"``).

    Raises
    ------
    ParameterError
        Unknown ``name`` or parameter, or a bad value.

    Examples
    --------
    >>> notes = Notes.from_arrays([0.0], [0.1], [69])
    >>> score_features(notes, "chroma", frame_rate=10).values.argmax(axis=1)
    array([9])
    """
    notes = _check_notes(notes)
    if name not in SCORE_FEATURES:
        raise ParameterError(f"name={name!r} is not one of {sorted(SCORE_FEATURES)}")
    defaults = SCORE_FEATURES[name]
    unknown = set(params) - set(defaults)
    if unknown:
        raise ParameterError(f"unknown parameters {sorted(unknown)} for score feature {name!r}; "
                             f"it accepts {sorted(defaults)}")
    p = {**defaults, **params}
    rate = check_positive(frame_rate, "frame_rate")
    n = _n_frames(notes, rate, n_frames)
    full = {**p, "frame_rate": frame_rate, "n_frames": n_frames, "comparable_to": list(COMPARABLE[name])}
    out_rate = rate
    if name in ("chroma", "logfreq", "cens"):
        act = note_activity(notes, frame_rate=rate, n_frames=n, decay=p["decay"], velocity=p["velocity"],
                            harmonics=p["harmonics"])
        if name == "chroma":
            vals = normalize(_fold_chroma(act), norm=check_norm(p["norm"]),
                             threshold=check_threshold(p["norm_threshold"]))
            labels = CHROMA_LABELS
        elif name == "logfreq":
            vals = normalize(act[:, MIDI_MIN:MIDI_MAX + 1], norm=check_norm(p["norm"]),
                             threshold=check_threshold(p["norm_threshold"]))
            labels = PITCH_LABELS
        else:
            ds = check_positive_int(p["downsample"], "downsample")
            vals = cens_from_chroma(_fold_chroma(act), smooth_length=p["smooth_length"], downsample=ds,
                                    threshold=check_threshold(p["norm_threshold"]))
            out_rate = rate / ds
            labels = CHROMA_LABELS
    else:  # dlnco
        if not isinstance(p["velocity"], (bool, np.bool_)):
            raise ParameterError(f"velocity={p['velocity']!r} must be True or False")
        check_nonneg(p["decay_length"], "decay_length")
        co = np.zeros((n, 12), dtype=np.float64)
        frames = np.floor(notes.start * rate + 0.5).astype(np.int64)
        ok = (frames >= 0) & (frames < n)
        w = notes.velocity / 127.0 if p["velocity"] else np.ones(len(notes))
        np.add.at(co, (frames[ok], notes.pitch[ok].astype(np.int64) % 12), w[ok])
        vals = dlnco_from_chroma_onsets(co, rate, ln_window=p["ln_window"], ln_threshold=p["ln_threshold"],
                                        decay_length=p["decay_length"])
        labels = CHROMA_LABELS
    return Features(vals, out_rate, f"score_{name}", full, labels)
