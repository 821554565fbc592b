"""Audio in and out: decode any file libsndfile reads, check it, mix to mono, resample.

Every way a file can be unusable ends in one :class:`~alignkit.exceptions.AudioError` whose
``path`` is the file and whose ``reason`` says what is wrong, so a batch run can record the
failure and go on:

=============================  =====================================================
reason starts with             when
=============================  =====================================================
``file not found``             the path does not exist
``is a directory``             the path is a folder
``file is empty``              0 bytes
``unsupported extension``      a suffix not in :data:`~alignkit.io.files.AUDIO_EXTENSIONS`
``not an audio file``          libsndfile does not recognise the bytes (text renamed .wav)
``corrupt or truncated``       the header promises more than the file holds, or the decoder
                               loses sync in the middle of the data
``contains NaN or inf``        non-finite samples (float WAV/FLAC written by a buggy tool)
``too short``                  fewer than ``min_duration`` seconds were decoded
``silent``                     every sample (after mixing) is below ``silence_threshold``
=============================  =====================================================

Decoding goes through soundfile (libsndfile 1.2), which handles WAV, FLAC, Ogg Vorbis, Opus
and MP3 without ffmpeg; resampling uses soxr (the library behind librosa's ``soxr_*`` modes).
Arrays are time-first: mono is ``(n_samples,)``, multichannel ``(n_samples, n_channels)``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from alignkit.exceptions import AudioError, ParameterError
from alignkit.io.files import AUDIO_EXTENSIONS, extension

__all__ = ["AudioInfo", "audio_info", "load_audio", "write_audio", "RES_TYPES"]

#: Resampler qualities accepted by :func:`load_audio` (soxr's; librosa's names for them).
RES_TYPES = {"soxr_vhq": "VHQ", "soxr_hq": "HQ", "soxr_mq": "MQ", "soxr_lq": "LQ", "soxr_qq": "QQ"}

# Shortfall (in samples) tolerated between the frame count a lossy stream declares and what it decodes:
# MP3/Vorbis headers can be a frame or two off without the file being damaged.
_LOSSY_SLACK = 2304
_LOSSY_FORMATS = {"MP3", "OGG"}
_DATA_SIZE_RE = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# Frames per read call. libsndfile 1.2.2 mis-decodes Opus streams whose first granule position is
# not zero (common in files cut from web streams) when one read call asks for ~85,000 frames or more:
# from some point on, the output is shifted by the 312-sample pre-skip. Reads of up to 65,536 frames
# agree with each other, with 960-frame reads and with seek(); 16,384 leaves a margin.
_READ_BLOCK = 1 << 14
# Data sizes that streaming writers leave in a header they never finalise: not a truncation.
_UNFINALISED_SIZES = {0, 0xFFFFFFFF, 0x7FFFFFFF}


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, read without decoding the samples.

    Attributes
    ----------
    path : str
        The file.
    duration : float
        Length in seconds (``frames / samplerate``).
    samplerate : int
        Native sample rate in Hz.
    channels : int
        Number of channels.
    frames : int
        Number of samples per channel.
    format : str
        libsndfile container name (``"WAV"``, ``"FLAC"``, ``"OGG"``, ``"MP3"``...).
    subtype : str
        Encoding (``"PCM_16"``, ``"FLOAT"``, ``"VORBIS"``, ``"OPUS"``, ``"MPEG_LAYER_III"``...).
    """

    path: str
    duration: float
    samplerate: int
    channels: int
    frames: int
    format: str
    subtype: str


def _check_path(path: str | os.PathLike) -> Path:
    """Reject what can be rejected without opening the file."""
    p = Path(path)
    if not p.exists():
        raise AudioError(p, "file not found")
    if p.is_dir():
        raise AudioError(p, "is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(p, "file is empty (0 bytes)")
    ext = extension(p)
    if ext not in AUDIO_EXTENSIONS:
        raise AudioError(
            p, f"unsupported extension {ext or '(none)'!r}; expected one of {sorted(AUDIO_EXTENSIONS)}"
        )
    return p


def _open_error(p: Path, exc: Exception) -> AudioError:
    msg = str(exc)
    detail = msg.split("': ", 1)[-1].strip() if msg.startswith("Error opening") else msg
    if "malformed" in msg.lower() or "truncat" in msg.lower():
        return AudioError(p, f"corrupt or truncated file (libsndfile: {detail})")
    # The path was checked to be a non-empty regular file, so any other refusal (libsndfile's
    # "Format not recognised", or mpg123 finding no frame sync and reporting "not a regular file")
    # means the bytes are not audio in a format libsndfile decodes.
    return AudioError(p, f"not an audio file (libsndfile: {detail})")


def _open(p: Path) -> sf.SoundFile:
    try:
        return sf.SoundFile(p)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as exc:
        raise _open_error(p, exc) from exc


def _declared_truncation(p: Path, fh: sf.SoundFile) -> str | None:
    """For RIFF-like files: the reason when the header's data size exceeds the bytes present."""
    try:
        log = fh.extra_info
    except Exception:  # pragma: no cover - the log is informational only
        return None
    m = _DATA_SIZE_RE.search(log)
    if m is None:
        return None
    declared, present = int(m.group(1)), int(m.group(2))
    if declared > present and declared not in _UNFINALISED_SIZES:
        return f"corrupt or truncated file: header declares {declared} data bytes, only {present} present"
    return None


def _read_blocks(fh: sf.SoundFile, n: int, block: int = _READ_BLOCK) -> np.ndarray:
    """Read up to ``n`` frames as float32 ``(frames, channels)`` in blocks of ``block`` frames."""
    out = np.empty((n, fh.channels), dtype=np.float32)
    got = 0
    while got < n:
        part = fh.read(
            frames=min(block, n - got), dtype="float32", always_2d=True, out=out[got : got + block]
        )
        if part.shape[0] == 0:
            break
        got += part.shape[0]
    return out[:got]


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Read an audio file's header (duration, rate, channels, format) without decoding it.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file with an extension in :data:`~alignkit.io.files.AUDIO_EXTENSIONS`.

    Returns
    -------
    info : AudioInfo
        For a WAV whose data chunk was cut short, ``frames`` counts the samples actually present
        (:func:`load_audio` raises on such a file).

    Raises
    ------
    AudioError
        Missing, a directory, empty, unsupported extension, or not audio.

    Examples
    --------
    >>> info = audio_info("take1.flac")  # doctest: +SKIP
    >>> info.duration, info.samplerate, info.channels  # doctest: +SKIP
    (184.0135, 48000, 2)
    """
    p = _check_path(path)
    with _open(p) as fh:
        frames, rate = int(fh.frames), int(fh.samplerate)
        return AudioInfo(
            path=os.fspath(p),
            duration=frames / rate,
            samplerate=rate,
            channels=int(fh.channels),
            frames=frames,
            format=str(fh.format),
            subtype=str(fh.subtype),
        )


def _is_rate(v) -> bool:
    """Tell whether ``v`` is a positive whole number of Hz (22050 or 22050.0; not True or 22050.5)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return False
    return bool(np.isfinite(v) and v > 0 and float(v).is_integer())


def _check_params(sr, offset, duration, min_duration, silence_threshold, res_type) -> None:
    if sr is not None and not _is_rate(sr):
        raise ParameterError(f"sr={sr!r} must be a positive whole number (Hz) or None for the native rate")
    if not (isinstance(offset, (int, float)) and np.isfinite(offset) and offset >= 0):
        raise ParameterError(f"offset={offset!r} must be a finite number of seconds >= 0")
    if duration is not None and not (
        isinstance(duration, (int, float)) and np.isfinite(duration) and duration > 0
    ):
        raise ParameterError(f"duration={duration!r} must be a positive number of seconds or None")
    if not (isinstance(min_duration, (int, float)) and np.isfinite(min_duration) and min_duration >= 0):
        raise ParameterError(f"min_duration={min_duration!r} must be a number of seconds >= 0")
    if silence_threshold is not None and not (
        isinstance(silence_threshold, (int, float))
        and np.isfinite(silence_threshold)
        and silence_threshold >= 0
    ):
        raise ParameterError(f"silence_threshold={silence_threshold!r} must be >= 0 or None")
    if res_type not in RES_TYPES:
        raise ParameterError(f"res_type={res_type!r} is not one of {sorted(RES_TYPES)}")


def resample(y: np.ndarray, orig_sr: int, target_sr: int, *, res_type: str = "soxr_hq") -> np.ndarray:
    """Resample time-first audio with soxr.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n, n_channels)]
        Samples, time first.
    orig_sr, target_sr : int > 0
        Rates in Hz.
    res_type : str
        One of :data:`RES_TYPES` (``"soxr_hq"`` is transparent for analysis and fast).

    Returns
    -------
    y_res : np.ndarray [shape=(m,) or (m, n_channels), dtype=float32]
        ``m = round(n * target_sr / orig_sr)`` (soxr's rounding; within one sample of the exact ratio).
    """
    if res_type not in RES_TYPES:
        raise ParameterError(f"res_type={res_type!r} is not one of {sorted(RES_TYPES)}")
    for name, v in (("orig_sr", orig_sr), ("target_sr", target_sr)):
        if not _is_rate(v):
            raise ParameterError(f"{name}={v!r} must be a positive whole number (Hz)")
    orig_sr, target_sr = int(orig_sr), int(target_sr)
    y = np.asarray(y, dtype=np.float32)
    if orig_sr == target_sr:
        return y
    import soxr  # a dependency of librosa; imported here to keep `import alignkit.io.audio` light

    return np.ascontiguousarray(
        soxr.resample(y, int(orig_sr), int(target_sr), quality=RES_TYPES[res_type]), dtype=np.float32
    )


def load_audio(
    path: str | os.PathLike,
    *,
    sr: int | None = 22050,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
    min_duration: float = 0.1,
    silence_threshold: float | None = 1e-4,
    res_type: str = "soxr_hq",
) -> tuple[np.ndarray, int]:
    """Decode, check, mix down and resample an audio file.

    Parameters
    ----------
    path : str or os.PathLike
        WAV, FLAC, Ogg Vorbis, Opus, MP3, AIFF... (see :data:`~alignkit.io.files.AUDIO_EXTENSIONS`),
        any sample rate and channel count.
    sr : int > 0 or None
        Target rate in Hz; None keeps the file's native rate.
    mono : bool
        Average the channels (each with weight ``1/n_channels``). False keeps them.
    offset : float >= 0
        Start reading this many seconds into the file: ``y`` equals the matching slice of the
        whole file's decode.
    duration : float > 0 or None
        Read at most this many seconds (None: to the end).
    min_duration : float >= 0
        Reject segments shorter than this (seconds): e.g. the analysis window of the features.
    silence_threshold : float >= 0 or None
        Reject audio whose peak absolute sample (after mixing) is at or below this value
        (1e-4 = -80 dBFS). None disables the check.
    res_type : str
        Resampler quality, one of :data:`RES_TYPES`.

    Returns
    -------
    y : np.ndarray [shape=(n,) if mono else (n, n_channels), dtype=float32]
        Samples in [-1, 1] (float files may exceed it), time first.
    sr : int
        The rate of ``y`` (the native rate when ``sr=None``).

    Raises
    ------
    ParameterError
        A bad option (negative offset, unknown ``res_type``...).
    AudioError
        The file is unusable; ``reason`` tells why (see the module docstring). Errors from the
        decoder are chained (``raise ... from exc``).

    Examples
    --------
    >>> y, sr = load_audio("take1.mp3", sr=22050, duration=5.0)  # doctest: +SKIP
    >>> y.shape, y.dtype, sr  # doctest: +SKIP
    ((110250,), dtype('float32'), 22050)
    """
    _check_params(sr, offset, duration, min_duration, silence_threshold, res_type)
    p = _check_path(path)
    with _open(p) as fh:
        reason = _declared_truncation(p, fh)
        if reason is not None:
            raise AudioError(p, reason)
        native, total, fmt = int(fh.samplerate), int(fh.frames), str(fh.format)
        start = int(round(offset * native))
        if total == 0:
            raise AudioError(p, "too short: the file holds no audio frames (a header only)")
        if start >= total:
            raise AudioError(
                p, f"too short: offset={offset} s is at or beyond the end ({total / native:.3f} s)"
            )
        n_req = total - start if duration is None else min(int(round(duration * native)), total - start)
        try:
            if start:
                fh.seek(start)
            y = _read_blocks(fh, n_req)
        except (sf.SoundFileError, RuntimeError, OSError, ValueError) as exc:
            raise AudioError(
                p, f"corrupt or truncated audio data ({str(exc).split(':')[-1].strip()})"
            ) from exc
    slack = _LOSSY_SLACK if fmt in _LOSSY_FORMATS else 0
    if y.shape[0] < n_req - slack:
        raise AudioError(
            p,
            f"corrupt or truncated file: header declares {total} frames, "
            f"decoding stopped after {start + y.shape[0]}",
        )
    bad = ~np.isfinite(y)
    if bad.any():
        raise AudioError(p, f"contains NaN or inf samples ({int(bad.sum())} of {bad.size})")
    got = y.shape[0] / native
    if got < min_duration:
        raise AudioError(p, f"too short: {got:.4f} s decoded < min_duration={min_duration} s")
    if mono:
        y = y[:, 0] if y.shape[1] == 1 else y.astype(np.float64).mean(axis=1).astype(np.float32)
    if silence_threshold is not None:
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak <= silence_threshold:
            raise AudioError(p, f"silent: peak |sample| {peak:.3g} <= silence_threshold={silence_threshold}")
    out_sr = native if sr is None else int(sr)
    if out_sr != native:
        y = resample(y, native, out_sr, res_type=res_type)
    return np.ascontiguousarray(y, dtype=np.float32), out_sr


_WRITE_FORMATS = {
    ".wav": ("WAV", None),
    ".flac": ("FLAC", None),
    ".ogg": ("OGG", "VORBIS"),
    ".oga": ("OGG", "VORBIS"),
    ".opus": ("OGG", "OPUS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
    ".aif": ("AIFF", None),
    ".aiff": ("AIFF", None),
}


def write_audio(path: str | os.PathLike, y: np.ndarray, sr: int, *, subtype: str | None = None) -> Path:
    """Write samples to WAV, FLAC, Ogg Vorbis, Opus, MP3 or AIFF (chosen by extension).

    Parameters
    ----------
    path : str or os.PathLike
        Target file; its folder must exist. Overwritten if present.
    y : np.ndarray [shape=(n,) or (n, n_channels)]
        Finite samples, time first; PCM formats clip to [-1, 1].
    sr : int > 0
        Sample rate in Hz (Opus needs 8000, 12000, 16000, 24000 or 48000).
    subtype : str or None
        libsndfile subtype (``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"``...); None takes the format's default
        (PCM_16 for WAV/FLAC/AIFF).

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    ParameterError
        Bad shape, non-finite samples, bad rate or an unsupported extension.
    AudioError
        libsndfile refused to write (e.g. a rate the codec does not support).
    """
    p = Path(path)
    ext = extension(p)
    if ext not in _WRITE_FORMATS:
        raise ParameterError(
            f"cannot write audio with extension {ext or '(none)'!r}; use one of {sorted(_WRITE_FORMATS)}"
        )
    if not _is_rate(sr):
        raise ParameterError(f"sr={sr!r} must be a positive whole number (Hz)")
    y = np.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] == 0 or (y.ndim == 2 and y.shape[1] == 0):
        raise ParameterError(f"y has shape {y.shape}; expected (n,) or (n, n_channels) with n > 0")
    if not np.issubdtype(y.dtype, np.number) or not np.all(np.isfinite(y)):
        raise ParameterError("y must hold finite numbers (found NaN/inf or a non-numeric dtype)")
    fmt, default_subtype = _WRITE_FORMATS[ext]
    try:
        sf.write(p, y, int(sr), format=fmt, subtype=subtype or default_subtype)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError) as exc:
        raise AudioError(
            p, f"cannot be written as {fmt}/{subtype or default_subtype or 'default'} at {sr} Hz ({exc})"
        ) from exc
    return p
