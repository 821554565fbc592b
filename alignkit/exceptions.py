"""One exception tree for alignkit.

Every error alignkit raises on purpose derives from :class:`AlignkitError`, so a
flow can catch one type per item, record it in the failures table and carry on.
Errors about an input file carry the file's path and the reason as attributes,
and both appear in the message.
"""

from __future__ import annotations

import os

__all__ = [
    "AlignkitError",
    "ParameterError",
    "InputError",
    "AudioError",
    "ScoreError",
    "AnnotationError",
    "CorpusError",
    "StoreError",
    "BackendError",
]


class AlignkitError(Exception):
    """Base class of every error alignkit raises on purpose."""


class ParameterError(AlignkitError, ValueError):
    """A bad argument: wrong shape, out of range, unknown option.

    The message names the parameter and the bad value, e.g.
    ``step_sizes='diag' is not one of ['symmetric1', 'symmetric2', 'asymmetric_21']``.
    """


class InputError(AlignkitError):
    """A bad input file. ``path`` and ``reason`` are kept as attributes.

    Parameters
    ----------
    path : str or os.PathLike
        The offending file.
    reason : str
        Why it was rejected, in a few words (``"file is empty"``).
    """

    def __init__(self, path: str | os.PathLike | None, reason: str):
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path is not None else reason)

    def __reduce__(self):  # keep path/reason across process boundaries (Dask, Ray)
        return (type(self), (self.path, self.reason))


class AudioError(InputError):
    """Audio that cannot be used: missing, empty, not audio, corrupt, silent, too short, NaN/inf."""


class ScoreError(InputError):
    """A score (MIDI, MusicXML, note list) that cannot be read or holds no notes."""


class AnnotationError(InputError):
    """An annotation file (beats, measures, notes) that cannot be parsed."""


class CorpusError(AlignkitError):
    """A bad corpus description: manifest errors, duplicate ids, paths escaping the root."""


class StoreError(AlignkitError):
    """The results store is unreachable, inconsistent, or misses a requested item."""


class BackendError(AlignkitError):
    """A requested compute backend is not available (e.g. CUDA without a GPU). Never a silent fallback."""
