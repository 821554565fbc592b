"""High-resolution music synchronisation: chroma + DLNCO, coarse to fine, at 50 Hz.

:func:`synchronize` is alignkit's default way to align two versions of a piece (audio to
audio, or a score to audio). It follows the Sync Toolbox's high-resolution pipeline
(Müller et al.: chroma for the global, harmonic match; decaying locally adaptive
normalised chroma onsets, DLNCO, for the precise timing of note onsets), on alignkit's
engine:

1. Features at ``frame_rate`` (default 50 Hz) for both sides (:func:`audio_sync_features`
   for audio, :func:`alignkit.features.score.score_features` for a score), unless given:
   chroma (constant-Q by default; quantised as in the Sync Toolbox, see
   :func:`quantize_chroma`, then scaled to unit length) and DLNCO (compressed by
   ``onset_power``). A score's chroma also holds the pitch classes of each note's second and
   third partials (``harmonics=3``), as audio chroma does: measured on the demo corpus,
   score-audio 60.6 -> 56.5 ms mean beat error; ASAP scores to rendered performances 39.9 ->
   40.2 ms, i.e. unchanged.
2. One combined local cost, evaluated inside the DTW kernels (never an ``N x M`` matrix)::

       C[n, m] = |c_a[n] - c_b[m]|^2 + w |d_a[n] - d_b[m]|^2 + cost_offset
               = 2 (1 - cos(c_a[n], c_b[m])) + w |d_a[n] - d_b[m]|^2 + cost_offset

   i.e. the squared euclidean distance of the stacked vectors ``[c, sqrt(w) d]`` plus a
   constant per path cell (``w`` = ``dlnco_weight``).
3. Memory-bounded coarse-to-fine DTW (:func:`alignkit.align.multiscale.multiscale_dtw`):
   exact DTW on average-pooled features at a coarse rate, the path projected to finer
   levels and refined inside a band around it, down to ``frame_rate``. Memory is about one
   byte per cell of the coarsest grid and of the bands: two 30-minute recordings need well
   under 100 MB.
4. Refinement (:func:`alignkit.align.refine.refine_path`): where matched note onsets of both
   versions are at least a second apart (held chords, fermatas: the local cost is flat and
   the DTW path kinks anywhere), the path becomes the straight line between them.

Measured, 18 pairs of rendered ASAP piano performances (real pianists' timing, 90 s each;
mean beat error / beats within 100 ms) and the multi-timbre demo corpus (mean beat error
audio-audio / score-audio); the Sync Toolbox's MrMsDTW with chroma + DLNCO had 25.6 ms /
95.7 % on the same ASAP pairs:

==========================================================  ===============  ===============
variant                                                     ASAP             demo
==========================================================  ===============  ===============
STFT chroma, DLNCO power 1, weight 1, no refinement         25.2 ms, 95.8 %  40.9 / 56.5 ms
+ refinement                                                20.3 ms, 96.7 %  40.6 / 60.1 ms
+ refinement, DLNCO power 0.35, weight 0.5                  18.9 ms, 97.0 %  41.5 / 60.1 ms
CQT chroma + refinement + DLNCO power 0.35, weight 0.5      17.0 ms, 97.7 %  38.8 / 60.2 ms
(the defaults)
==========================================================  ===============  ===============

Defaults (measured, see ``bench/RESULTS.md``, "High-resolution sync (accuracy)")
--------------------------------------------------------------------------------
``step_sizes="symmetric1"`` with ``cost_offset``
    With steps (1,1), (0,1), (1,0) all weighted 1 and a positive offset, every path cell
    costs at least the offset, so where the features are flat (held chords, silence,
    repeated patterns) the shortest, most diagonal path wins instead of one that follows
    the noise. ``"symmetric2"`` (diagonal weighted 2) gives every admissible path the same
    total weight, so no offset can help it; on synthetic warps it was ten times less
    accurate. The Sync Toolbox's rescaling of the cosine cost into [1, 2] corresponds to an
    offset of 1 on the cosine cost (2 on this cost's scale).
``dlnco_weight``
    Weight of the onset term against the chroma term.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from alignkit.align.dtw import check_cost_offset, resolve_step_sizes
from alignkit.align.multiscale import multiscale_dtw
from alignkit.exceptions import ParameterError

__all__ = [
    "synchronize",
    "SyncResult",
    "sync_inputs",
    "quantize_chroma",
    "DEFAULT_FRAME_RATE",
    "DEFAULT_COST_OFFSET",
    "DEFAULT_DLNCO_WEIGHT",
    "DEFAULT_ONSET_POWER",
    "DEFAULT_CHROMA_FEATURE",
    "audio_sync_features",
    "DEFAULT_STEP_SIZES",
    "SCORE_CHROMA_HARMONICS",
    "CHROMA_FEATURES",
]

#: Feature rate of the final path, Hz.
DEFAULT_FRAME_RATE = 50.0
#: Constant added to every local cost (scale: the combined cost of the module docstring).
DEFAULT_COST_OFFSET = 0.5
#: Weight of the DLNCO term of the combined cost.
DEFAULT_DLNCO_WEIGHT = 0.5
#: Exponent applied to the DLNCO values (compression: weak onsets count more).
DEFAULT_ONSET_POWER = 0.35
#: Chroma extractor for audio inputs.
DEFAULT_CHROMA_FEATURE = "chroma_cqt"
#: Step-size set of the DTW at every level.
DEFAULT_STEP_SIZES = "symmetric1"


@dataclass(frozen=True)
class SyncResult:
    """Result of :func:`synchronize`.

    Attributes
    ----------
    path : np.ndarray [shape=(L, 2), dtype=int64]
        Warping path A -> B in frames at ``frame_rate`` (alignkit convention, continuous,
        from ``(0, 0)`` to ``(N - 1, M - 1)``).
    frame_rate : float
        Frames per second of both sides (frame ``n`` is at ``n / frame_rate`` s).
    cost : float
        Total cost of the path (combined cost, offset included).
    normalized_cost : float
        ``cost / L``.
    step_sizes : str
    n_cells : int
        DTW cells evaluated over all levels.
    shape : (int, int)
        ``(N, M)``: frames of A and B.
    info : dict
        ``levels`` (multiscale levels), ``features_s`` / ``align_s`` (seconds spent),
        and the parameters used.
    """

    path: np.ndarray
    frame_rate: float
    cost: float
    normalized_cost: float
    step_sizes: str
    n_cells: int
    shape: tuple[int, int]
    info: dict = field(default_factory=dict)

    def path_seconds(self) -> np.ndarray:
        """``path / frame_rate``: the path in seconds [shape=(L, 2), dtype=float64]."""
        return self.path.astype(np.float64) / self.frame_rate

    def transfer(self, times_a) -> np.ndarray:
        """Map times of A (seconds) to B through the strictly monotone time map of the path."""
        from alignkit.align.paths import TimeMap

        tm = TimeMap.from_path(self.path, self.frame_rate, self.frame_rate, strict=True)
        return np.asarray(tm(np.asarray(times_a, dtype=np.float64)), dtype=np.float64)


# ----------------------------------------------------------------------------- inputs


def _is_notes(x) -> bool:
    return all(hasattr(x, k) for k in ("start", "end", "pitch")) and not hasattr(x, "frame_rate")


def _is_features(x) -> bool:
    return hasattr(x, "values") and hasattr(x, "frame_rate")


def _check_rate(frame_rate) -> float:
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, numbers.Real) \
            or not np.isfinite(frame_rate) or frame_rate <= 0:
        raise ParameterError(f"frame_rate={frame_rate!r} must be a positive number of frames per second")
    return float(frame_rate)


#: Audio chroma extractors :func:`synchronize` can use (``chroma_feature``).
CHROMA_FEATURES = ("chroma_stft", "chroma_cqt")


def audio_sync_features(y, sr, *, frame_rate: float = DEFAULT_FRAME_RATE,
                        chroma_feature: str = DEFAULT_CHROMA_FEATURE, chroma_params: dict | None = None,
                        onset_params: dict | None = None, side: str = "audio"):
    """Chroma and DLNCO of one recording, as :func:`synchronize` computes them.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio.
    sr : float
        Its sample rate.
    frame_rate : float
        Feature rate, Hz.
    chroma_feature : {"chroma_cqt", "chroma_stft"}
        Chroma extractor; DLNCO comes from :func:`alignkit.features.dlnco` either way, with the
        same (once estimated) tuning.
    chroma_params, onset_params : dict, optional
        Further parameters of the chroma extractor and of ``dlnco``.
    side : str
        Name used in error messages.

    Returns
    -------
    chroma, dlnco : Features
        On the same frames.
    """
    from alignkit.features import sync_features

    _check_chroma_feature(chroma_feature)
    if sr is None:
        raise ParameterError(f"{side} is an audio array: pass its sample rate (sr=... / sr_b=...)")
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ParameterError(f"{side}: audio must be a mono 1-D array, got shape {arr.shape}")
    return sync_features(arr, sr, frame_rate=frame_rate, chroma=chroma_params, onsets=onset_params,
                         chroma_feature=chroma_feature)


def _check_chroma_feature(name) -> None:
    if name not in CHROMA_FEATURES:
        raise ParameterError(f"chroma_feature={name!r} is not one of {list(CHROMA_FEATURES)}")


def _audio_features(y, sr, frame_rate: float, side: str, chroma_params=None, onset_params=None,
                    chroma_feature: str = DEFAULT_CHROMA_FEATURE):
    chroma, onsets = audio_sync_features(y, sr, frame_rate=frame_rate, chroma_feature=chroma_feature,
                                         chroma_params=chroma_params, onset_params=onset_params, side=side)
    return np.asarray(chroma.values), np.asarray(onsets.values), float(chroma.frame_rate)


def _given_features(x, side: str):
    if not (isinstance(x, (tuple, list)) and len(x) == 2):
        raise ParameterError(
            f"{side} must be an audio array (with sr), a (chroma, dlnco) pair of Features or arrays, "
            f"or a score (Notes); got {type(x).__name__}"
        )
    c, d = x
    rate = None
    for f in (c, d):
        if _is_features(f):
            r = float(f.frame_rate)
            if rate is not None and not np.isclose(r, rate, rtol=1e-9, atol=0.0):
                raise ParameterError(f"{side}: chroma at {rate} Hz but DLNCO at {r} Hz")
            rate = r
    cv = np.asarray(c.values if _is_features(c) else c)
    dv = np.asarray(d.values if _is_features(d) else d)
    for name, v in (("chroma", cv), ("dlnco", dv)):
        if v.ndim != 2 or v.shape[0] < 1 or v.shape[1] < 1 or v.dtype.kind not in "fiu":
            raise ParameterError(f"{side}: {name} must be a numeric (n_frames, n_dims) array, got {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ParameterError(f"{side}: {name} holds NaN or infinite values")
    if abs(cv.shape[0] - dv.shape[0]) > 2:
        raise ParameterError(f"{side}: chroma has {cv.shape[0]} frames but DLNCO {dv.shape[0]}")
    return cv, dv, rate


#: Partials per note in a score's chroma (:func:`alignkit.features.score.score_features`'s
#: ``harmonics``): the audio chroma holds the pitch classes of the partials too.
SCORE_CHROMA_HARMONICS = 3


def _score_features(notes, frame_rate: float):
    from alignkit.features.score import score_features

    c = score_features(notes, "chroma", frame_rate=frame_rate, harmonics=SCORE_CHROMA_HARMONICS)
    d = score_features(notes, "dlnco", frame_rate=frame_rate)
    return np.asarray(c.values), np.asarray(d.values), float(c.frame_rate)


#: Thresholds of the chroma quantisation (on l1-normalised chroma), as in the Sync Toolbox.
QUANTIZE_STEPS = (0.4, 0.2, 0.1, 0.05)


def quantize_chroma(chroma: np.ndarray, *, steps=QUANTIZE_STEPS, threshold: float = 1e-3) -> np.ndarray:
    """Coarsely quantised chroma: l1-normalise each frame, then count the thresholds exceeded.

    Parameters
    ----------
    chroma : np.ndarray [shape=(n_frames, 12)]
        Non-negative chroma, time first.
    steps : sequence of float
        Thresholds on the l1-normalised values; each exceeded adds ``1 / len(steps)``.
    threshold : float
        Frames whose l1 norm is at most this stay zero.

    Returns
    -------
    np.ndarray [shape=(n_frames, 12), dtype=float64]
        Values in ``{0, 1/len(steps), ..., 1}``.
    """
    c = np.maximum(np.asarray(chroma, dtype=np.float64), 0.0)
    l1 = c.sum(axis=1, keepdims=True)
    c = np.divide(c, l1, out=np.zeros_like(c), where=l1 > threshold)
    q = np.zeros_like(c)
    for t in steps:
        q += c > t
    return q / len(steps)


def _stack(chroma: np.ndarray, onsets: np.ndarray, weight: float, quantize: bool = False,
           chroma_power: float = 1.0, onset_power: float = 1.0) -> np.ndarray:
    """``[c' / |c'|, sqrt(weight) d']`` (float32), cut to the shorter of the two.

    ``c'`` is ``max(c, 0) ** chroma_power``, quantised when asked; ``d' = max(d, 0) ** onset_power``.
    """
    n = min(len(chroma), len(onsets))
    c = np.asarray(chroma[:n], dtype=np.float64)
    if chroma_power != 1.0:
        c = np.maximum(c, 0.0) ** chroma_power
    if quantize:
        c = quantize_chroma(c)
    norm = np.linalg.norm(c, axis=1, keepdims=True)
    c = np.divide(c, norm, out=np.zeros_like(c), where=norm > 0)
    d = np.asarray(onsets[:n], dtype=np.float64)
    if onset_power != 1.0:
        d = np.maximum(d, 0.0) ** onset_power
    d = np.sqrt(weight) * d
    return np.ascontiguousarray(np.hstack([c, d]), dtype=np.float32)


def _check_power(p, name: str) -> float:
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real) or not np.isfinite(p) or p <= 0:
        raise ParameterError(f"{name}={p!r} must be a finite number > 0")
    return float(p)


def sync_inputs(a, b, *, sr=None, sr_b=None, frame_rate: float = DEFAULT_FRAME_RATE,
                dlnco_weight: float = DEFAULT_DLNCO_WEIGHT, chroma_params: dict | None = None,
                onset_params: dict | None = None, quantize: bool = True,
                chroma_power: float = 1.0, onset_power: float = DEFAULT_ONSET_POWER,
                chroma_feature: str = DEFAULT_CHROMA_FEATURE) -> tuple[np.ndarray, np.ndarray, float]:
    """The stacked feature sequences :func:`synchronize` aligns.

    Parameters
    ----------
    a, b, sr, sr_b, frame_rate, dlnco_weight, chroma_params, onset_params, quantize
        See :func:`synchronize`.
    chroma_power, onset_power, chroma_feature
        See :func:`synchronize`.

    Returns
    -------
    X : np.ndarray [shape=(N, 24), dtype=float32]
    Y : np.ndarray [shape=(M, 24), dtype=float32]
        ``[unit chroma ** chroma_power, sqrt(dlnco_weight) * DLNCO ** onset_power]`` per frame
        (the chroma compressed, quantised, then scaled to unit length).
    frame_rate : float
        The frame rate of both (the audio side's exact rate when a score is involved).
    """
    sides, rate = _sides(a, b, sr=sr, sr_b=sr_b, frame_rate=frame_rate, chroma_params=chroma_params,
                         onset_params=onset_params, chroma_feature=chroma_feature)
    X, Y = _stack_sides(sides, dlnco_weight, quantize, chroma_power, onset_power)
    return X, Y, float(rate)


def _stack_sides(sides, dlnco_weight, quantize, chroma_power, onset_power):
    w = _check_weight(dlnco_weight)
    cp = _check_power(chroma_power, "chroma_power")
    op = _check_power(onset_power, "onset_power")
    if not isinstance(quantize, (bool, np.bool_)):
        raise ParameterError(f"quantize={quantize!r} must be a bool")
    X = _stack(sides[0][0], sides[0][1], w, bool(quantize), cp, op)
    Y = _stack(sides[1][0], sides[1][1], w, bool(quantize), cp, op)
    if X.shape[1] != Y.shape[1]:
        raise ParameterError(f"feature dimensions differ: a has {X.shape[1]}, b has {Y.shape[1]}")
    return X, Y


def _sides(a, b, *, sr, sr_b, frame_rate, chroma_params, onset_params, chroma_feature):
    """``([(chroma, dlnco, rate), (chroma, dlnco, rate)], rate)``: the raw features of both sides."""
    fr = _check_rate(frame_rate)
    _check_chroma_feature(chroma_feature)
    if sr_b is None:
        sr_b = sr
    if _is_notes(a) and _is_notes(b):
        raise ParameterError("both a and b are scores; synchronize aligns a score to audio or two versions")
    sides = []
    for x, s, side in ((a, sr, "a"), (b, sr_b, "b")):
        if _is_notes(x):
            sides.append(None)
        elif isinstance(x, np.ndarray) and x.ndim == 1:
            sides.append(_audio_features(x, s, fr, side, chroma_params, onset_params, chroma_feature))
        else:
            sides.append(_given_features(x, side))
    rates = [r for s in sides if s is not None and (r := s[2]) is not None]
    rate = rates[0] if rates else fr
    if rates and not np.allclose(rates, rate, rtol=1e-9, atol=0.0):
        raise ParameterError(f"the two sides have different frame rates: {rates}; resample one first")
    for k, x in enumerate((a, b)):
        if sides[k] is None:
            sides[k] = _score_features(x, rate)
    return sides, float(rate)


def _check_weight(w) -> float:
    if isinstance(w, bool) or not isinstance(w, numbers.Real) or not np.isfinite(w) or w < 0:
        raise ParameterError(f"dlnco_weight={w!r} must be a finite number >= 0")
    return float(w)


# ----------------------------------------------------------------------------- synchronize


def synchronize(a, b, *, sr=None, sr_b=None, frame_rate: float = DEFAULT_FRAME_RATE,
                dlnco_weight: float = DEFAULT_DLNCO_WEIGHT, cost_offset: float = DEFAULT_COST_OFFSET,
                step_sizes=DEFAULT_STEP_SIZES, weights=None, factors=None, radius: int | None = None,
                memory_limit: int | None = None, chroma_params: dict | None = None,
                onset_params: dict | None = None, quantize: bool = True, chroma_power: float = 1.0,
                onset_power: float = DEFAULT_ONSET_POWER, chroma_feature: str = DEFAULT_CHROMA_FEATURE,
                refine: bool = True, refine_params: dict | None = None) -> SyncResult:
    """Align two versions of a piece at high resolution (chroma + DLNCO, coarse to fine).

    Parameters
    ----------
    a, b : np.ndarray [shape=(n_samples,)] or (chroma, dlnco) or Notes
        Each side is one of: mono audio samples (give ``sr``; ``sr_b`` for ``b`` if it
        differs), a pair ``(chroma, dlnco)`` of ``Features`` or arrays
        [shape=(n_frames, 12)] on the same frames (e.g. from
        :func:`alignkit.features.sync_features`), or a score as
        :class:`alignkit.io.notes.Notes` (at most one side).
    sr, sr_b : float, optional
        Sample rates of audio inputs.
    frame_rate : float
        Feature rate for audio and score inputs, Hz (given features keep their own rate,
        which both sides must share).
    dlnco_weight : float >= 0
        Weight ``w`` of the onset term (0: chroma only; default 0.5, see ``onset_power``).
    cost_offset : float
        Constant added to every local cost (see the module docstring); fused into the kernels.
    step_sizes : str or np.ndarray [shape=(S, 2)]
        Step-size set, as in :func:`alignkit.align.dtw.dtw` (default ``"symmetric1"``).
    weights : np.ndarray [shape=(S,)], optional
        Step weights overriding the set's.
    factors, radius, memory_limit
        Coarse-to-fine ladder, band radius and memory bound of
        :func:`alignkit.align.multiscale.multiscale_dtw` (``None``: its defaults; a
        ``memory_limit`` in bytes bounds every level).
    chroma_params, onset_params : dict, optional
        Further parameters of the chroma extractor and of ``dlnco`` for audio inputs (not used
        for given features or scores). Measured: log compression ``chroma_params={"gamma": 1e7}``
        of the STFT chroma lowered the mean beat error on rendered solo piano (ASAP, 27.6 ->
        24.6 ms) but raised it on the multi-timbre demo corpus (41.6 -> 45.4 ms), so the default
        stays uncompressed.
    chroma_feature : {"chroma_cqt", "chroma_stft"}
        Chroma extractor for audio inputs (:func:`audio_sync_features`; DLNCO comes from
        :func:`alignkit.features.dlnco` either way, with the same tuning). ``"chroma_cqt"``
        (librosa's constant-Q magnitudes, 36 bins per octave: shorter windows for high pitches,
        longer for low ones) against ``"chroma_stft"``: ASAP 18 pairs 25.2 -> 22.4 ms mean beat
        error (Beethoven 17-1 30.7 -> 26.4 ms), demo corpus audio-audio 40.9 -> 38.8 ms,
        score-audio unchanged; slower: a pair of 80 s recordings about 1.4 s of features instead
        of 0.4 s (plus about 4 s for librosa's first call in a process).
    quantize : bool
        Quantise the chroma (:func:`quantize_chroma`, as the Sync Toolbox does) before the
        cost. Measured: ASAP 27.6 -> 24.8 ms mean beat error, demo 41.6 -> 40.9 ms.
    chroma_power, onset_power : float > 0
        Exponents applied to the chroma (before quantisation) and to the DLNCO values of both
        sides (1: unchanged). Powers below 1 compress: weak pitch classes and weak onsets (soft
        accompaniment under a loud melody, decaying onsets) count more, which helps where one
        version's weak onsets must outvote a loud, asynchronous melody note. Measured on 18
        pairs of rendered ASAP piano performances (90 s, ``bench/bench_accuracy.py``, STFT
        chroma, no refinement): both 0.25 lowered the mean beat error from 25.2 to 22.3 ms
        (Schubert D.899/3 35.8 -> 24.2 ms) but raised it on the multi-timbre demo corpus
        (audio-audio 40.9 -> 49.3 ms, score-audio 60.6 -> 76.6 ms: in vibraphone, strings and
        organ versions spurious weak onsets gain weight). The milder default
        ``onset_power=0.35`` with ``dlnco_weight=0.5`` keeps the gain on piano without the loss
        on the demo (see the table in the module docstring). For clean solo piano
        ``chroma_power=0.25, onset_power=0.25`` is better still.
    refine : bool
        Straighten the path between matched note onsets at least a second apart (held chords,
        fermatas), with :func:`alignkit.align.refine.refine_path` on the raw DLNCO of both
        sides; ``cost`` stays the DTW path's. Measured (18 ASAP pairs, STFT chroma, powers 1):
        25.2 -> 20.3 ms mean beat error, 95.8 -> 96.7 % within 100 ms; demo corpus audio-audio
        40.9 -> 40.6 ms, score-audio 60.6 -> 60.1 ms; about 5 ms per pair.
    refine_params : dict, optional
        Options of :func:`alignkit.align.refine.refine_path` (``min_gap``, ``threshold``,
        ``tolerance``, ``min_similarity``).

    Returns
    -------
    SyncResult
        ``path`` at ``frame_rate`` (A rows, B columns).

    Raises
    ------
    ParameterError
        Bad inputs or options (the message names the bad value).
    alignkit.exceptions.AudioError
        Raised by the feature extractors for unusable audio.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> c = rng.random((100, 12)); d = np.zeros((100, 12))
    >>> res = synchronize((c, d), (c, d), frame_rate=50)
    >>> bool(np.all(res.path[:, 0] == res.path[:, 1]))
    True
    """
    off = check_cost_offset(cost_offset)
    resolve_step_sizes(step_sizes, weights)  # validate before the (slow) features
    if not isinstance(refine, (bool, np.bool_)):
        raise ParameterError(f"refine={refine!r} must be a bool")
    if refine_params is not None and not isinstance(refine_params, dict):
        raise ParameterError(f"refine_params={refine_params!r} must be a dict")
    t0 = time.perf_counter()
    sides, rate = _sides(a, b, sr=sr, sr_b=sr_b, frame_rate=frame_rate, chroma_params=chroma_params,
                         onset_params=onset_params, chroma_feature=chroma_feature)
    X, Y = _stack_sides(sides, dlnco_weight, quantize, chroma_power, onset_power)
    t1 = time.perf_counter()
    kw = {}
    if radius is not None:
        kw["radius"] = radius
    res = multiscale_dtw(X, Y, metric="sqeuclidean", step_sizes=step_sizes, weights=weights,
                         factors=factors, memory_limit=memory_limit, cost_offset=off, **kw)
    path, n_anchors = res.path, 0
    if refine:
        from alignkit.align.refine import refine_path

        # on the raw DLNCO (not the compressed, weighted one in X, Y): onsets are its peaks
        path, anchors = refine_path(res.path, sides[0][1][: len(X)], sides[1][1][: len(Y)], frame_rate=rate,
                                    return_anchors=True, **dict(refine_params or {}))
        n_anchors = len(anchors)
    t2 = time.perf_counter()
    info = dict(res.info)
    info.update(features_s=t1 - t0, align_s=t2 - t1, dlnco_weight=float(dlnco_weight), cost_offset=off,
                quantize=bool(quantize), chroma_power=float(chroma_power), onset_power=float(onset_power),
                chroma_feature=chroma_feature, refine=bool(refine), n_anchors=int(n_anchors))
    return SyncResult(path=path, frame_rate=rate, cost=float(res.cost),
                      normalized_cost=float(res.cost) / len(res.path), step_sizes=res.step_sizes,
                      n_cells=int(res.n_cells), shape=(int(X.shape[0]), int(Y.shape[0])), info=info)
