"""alignkit.align: warping paths, the DTW family and multiscale DTW (CPU engine).

Public API
----------
- :func:`cost_matrix`: local cost between feature sequences (cosine, euclidean, sqeuclidean).
- :func:`dtw` / :class:`DTWResult`: DTW with step-size sets, band/mask/path constraints, anchors.
- :func:`subsequence_dtw`: a query inside a long recording (matching function, top-k matches).
- :func:`multiscale_dtw`: memory-bounded coarse-to-fine DTW for long recordings.
- :func:`synchronize` / :class:`SyncResult`: high-resolution music synchronisation (chroma +
  DLNCO, cost offset, coarse to fine at 50 Hz): the default way to align two versions.
- :mod:`alignkit.align.paths`: THE warping-path convention.

Soft-DTW and CTC live in their own modules and are loaded lazily on first access.
"""

from __future__ import annotations

import importlib

from alignkit.align import paths
from alignkit.align.cost import cost_matrix
from alignkit.align.dtw import STEP_SETS, DTWResult, dtw
from alignkit.align.multiscale import multiscale_dtw
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
]

# name -> module holding it; imported on first attribute access (if the module exists)
_LAZY = {
    "soft_dtw": "alignkit.align.soft_dtw",
    "ctc": "alignkit.align.ctc",
}


def __getattr__(name: str):
    if name in _LAZY:
        try:
            return importlib.import_module(_LAZY[name])
        except ModuleNotFoundError as exc:
            if exc.name == _LAZY[name]:
                raise AttributeError(f"module 'alignkit.align' has no attribute {name!r} "
                                     f"({_LAZY[name]} is not installed)") from None
            raise
    raise AttributeError(f"module 'alignkit.align' has no attribute {name!r}")
