"""The note list: what every score reader returns and every score feature consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alignkit.exceptions import ParameterError

__all__ = ["Notes"]


@dataclass(frozen=True)
class Notes:
    """Notes of a score or performance, sorted by onset.

    Attributes
    ----------
    start : np.ndarray [shape=(n,), dtype=float64]
        Onset times in seconds.
    end : np.ndarray [shape=(n,), dtype=float64]
        Offset times in seconds (``end >= start``).
    pitch : np.ndarray [shape=(n,), dtype=int16]
        MIDI pitch numbers 0-127.
    velocity : np.ndarray [shape=(n,), dtype=int16]
        MIDI velocities 1-127 (scores without dynamics use 64).
    instrument : np.ndarray [shape=(n,), dtype=int16]
        Track or instrument index (0 when unknown).
    source : str or None
        Path of the file the notes came from.
    """

    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    instrument: np.ndarray
    source: str | None = None

    def __post_init__(self):
        start = np.asarray(self.start, dtype=np.float64)
        n = start.shape[0]
        fields = {
            "end": np.asarray(self.end, dtype=np.float64),
            "pitch": np.asarray(self.pitch, dtype=np.int16),
            "velocity": np.asarray(self.velocity, dtype=np.int16),
            "instrument": np.asarray(self.instrument, dtype=np.int16),
        }
        for k, v in fields.items():
            if v.shape != (n,):
                raise ParameterError(f"Notes.{k} has shape {v.shape}, expected ({n},)")
        if n and (np.any(fields["end"] < start) or not np.all(np.isfinite(start))):
            raise ParameterError("Notes need finite onsets and end >= start")
        if n and (fields["pitch"].min() < 0 or fields["pitch"].max() > 127):
            raise ParameterError("Notes.pitch must lie in 0..127")
        order = np.lexsort((fields["pitch"], start))
        object.__setattr__(self, "start", start[order])
        for k, v in fields.items():
            object.__setattr__(self, k, v[order])

    @classmethod
    def from_arrays(cls, start, end, pitch, velocity=None, instrument=None, source=None) -> Notes:
        """Build from arrays; velocity defaults to 64 and instrument to 0."""
        start = np.asarray(start, dtype=np.float64)
        n = start.shape[0]
        return cls(
            start=start,
            end=end,
            pitch=pitch,
            velocity=np.full(n, 64) if velocity is None else velocity,
            instrument=np.zeros(n) if instrument is None else instrument,
            source=source,
        )

    def __len__(self) -> int:
        return int(self.start.shape[0])

    @property
    def duration(self) -> float:
        """Time of the last offset in seconds (0 for no notes)."""
        return float(self.end.max()) if len(self) else 0.0

    def _with(self, **fields) -> Notes:
        base = {k: getattr(self, k) for k in ("start", "end", "pitch", "velocity", "instrument", "source")}
        return Notes(**{**base, **fields})

    def shifted(self, seconds: float) -> Notes:
        """Return a copy with every onset and offset moved by ``seconds`` (may be negative)."""
        if not np.isfinite(seconds):
            raise ParameterError(f"seconds={seconds!r} must be finite")
        return self._with(start=self.start + seconds, end=self.end + seconds)

    def time_scaled(self, factor: float) -> Notes:
        """Return a copy with all times multiplied by ``factor > 0`` (2 plays twice as slow)."""
        if not (np.isfinite(factor) and factor > 0):
            raise ParameterError(f"factor={factor!r} must be a positive number")
        return self._with(start=self.start * factor, end=self.end * factor)

    def transposed(self, semitones: int) -> Notes:
        """Return a copy with every pitch moved by ``semitones``; pitches must stay within 0..127."""
        if int(semitones) != semitones:
            raise ParameterError(f"semitones={semitones!r} must be a whole number")
        pitch = self.pitch.astype(np.int64) + int(semitones)
        if len(self) and (pitch.min() < 0 or pitch.max() > 127):
            raise ParameterError(f"transposing by {semitones} moves pitches outside 0..127")
        return self._with(pitch=pitch)
