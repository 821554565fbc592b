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
