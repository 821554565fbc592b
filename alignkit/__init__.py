"""alignkit: music synchronization at corpus scale.

The curated public API. Heavy submodules load on first use, so ``import alignkit`` stays cheap
in flow workers and notebooks.

- :func:`open` -- the results of a run (works, versions, features, paths, transfer, evaluation,
  failures, SQL, plots); see :class:`alignkit.store.Results`.
- :func:`load_audio`, :func:`load_score` -- inputs; :func:`extract` -- features by name.
- :func:`dtw`, :func:`multiscale_dtw`, :func:`subsequence_dtw`, :func:`cost_matrix` -- the DTW family.
- :class:`TimeMap` and :mod:`alignkit.align.paths` -- the one warping-path convention.
- :mod:`alignkit.align.soft_dtw`, :mod:`alignkit.align.ctc` -- differentiable alignment (torch).
"""

from __future__ import annotations

import importlib

from alignkit.exceptions import (
    AlignkitError,
    AnnotationError,
    AudioError,
    BackendError,
    CorpusError,
    InputError,
    ParameterError,
    ScoreError,
    StoreError,
)

__version__ = "0.1.0"

_LAZY = {
    "open": ("alignkit.store.query", "open_results"),
    "open_store": ("alignkit.store.results", "open_store"),
    "load_audio": ("alignkit.io.audio", "load_audio"),
    "load_score": ("alignkit.io.scores", "load_score"),
    "Notes": ("alignkit.io.notes", "Notes"),
    "Features": ("alignkit.features.base", "Features"),
    "extract": ("alignkit.features.base", "extract"),
    "list_extractors": ("alignkit.features.base", "list_extractors"),
    "score_features": ("alignkit.features.score", "score_features"),
    "cost_matrix": ("alignkit.align.cost", "cost_matrix"),
    "dtw": ("alignkit.align.dtw", "dtw"),
    "DTWResult": ("alignkit.align.dtw", "DTWResult"),
    "multiscale_dtw": ("alignkit.align.multiscale", "multiscale_dtw"),
    "subsequence_dtw": ("alignkit.align.subsequence", "subsequence_dtw"),
    "TimeMap": ("alignkit.align.paths", "TimeMap"),
    "Corpus": ("alignkit.corpus", "Corpus"),
}

__all__ = [
    "__version__",
    "AlignkitError",
    "AnnotationError",
    "AudioError",
    "BackendError",
    "CorpusError",
    "InputError",
    "ParameterError",
    "ScoreError",
    "StoreError",
    *_LAZY,
]


def __getattr__(name: str):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'alignkit' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
