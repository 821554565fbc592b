"""alignkit.align: warping paths, the DTW family and multiscale DTW (CPU engine).

Public API
----------
- :func:`cost_matrix`: local cost between feature sequences (cosine, euclidean, sqeuclidean).
- :func:`dtw` / :class:`DTWResult`: DTW with step-size sets, band/mask/path constraints, anchors.
- :func:`subsequence_dtw`: a query inside a long recording (matching function, top-k matches).
- :func:`multiscale_dtw`: memory-bounded coarse-to-fine DTW for long recordings.
- :func:`synchronize` / :class:`SyncResult`: high-resolution music synchronisation (chroma +
  DLNCO, cost offset, coarse to fine at 50 Hz, refined at held notes): the default way to align
  two versions.
- :func:`refine_path` / :func:`refine_time_map`: onset-anchored straightening of a path across
  passages without onsets (held chords, fermatas).
- :mod:`alignkit.align.paths`: THE warping-path convention.

Soft-DTW and CTC live in their own modules and are loaded lazily on first access.
"""

from __future__ import annotations

import importlib

from alignkit.align import paths
from alignkit.align.cost import cost_matrix
from alignkit.align.dtw import STEP_SETS, DTWResult, dtw
from alignkit.align.multiscale import multiscale_dtw
from alignkit.align.refine import refine_path, refine_time_map
from alignkit.align.subsequence import SubsequenceMatch, SubsequenceResult, subsequence_dtw
from alignkit.align.sync import SyncResult, synchronize

__all__ = [
    "paths",
    "cost_matrix",
    "dtw",
    "DTWResult",
    "STEP_SETS",
    "subsequence_dtw",
    "SubsequenceResult",
    "SubsequenceMatch",
    "multiscale_dtw",
    "synchronize",
    "SyncResult",
    "refine_path",
    "refine_time_map",
]

# Submodules and names that need torch: imported on first attribute access, because torch
# is slow to import and most of the engine does not need it.
_LAZY_MODULES = {
    "soft_dtw": "alignkit.align.soft_dtw",
    "ctc": "alignkit.align.ctc",
    "gpu_dtw": "alignkit.align.gpu_dtw",
}
_LAZY_NAMES = {
    **{n: "alignkit.align.soft_dtw" for n in (
        "SoftDTW", "expected_alignment", "soft_dtw_divergence", "gamma_schedule", "band_from_path",
        "sakoe_chiba_window")},
    **{n: "alignkit.align.ctc" for n in (
        "ctc_loss", "ctc_posteriors", "ctc_forced_align", "CTCAlignment", "CTCPosteriors",
        "multilabel_ctc_loss", "multilabel_ctc_posteriors", "multilabel_ctc_forced_align", "ctc_to_chroma")},
    "dtw_batch": "alignkit.align.gpu_dtw",
}


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return importlib.import_module(_LAZY_MODULES[name])
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'alignkit.align' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES) | set(_LAZY_NAMES))
