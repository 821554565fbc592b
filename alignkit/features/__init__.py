"""Feature extraction: a registry of extractors returning :class:`Features`.

Audio extractors (``extract(name, y, sr, **params)``): ``chroma_stft``, ``chroma_cqt``,
``cens``, ``logfreq``, ``dlnco``. Score features (``score_features(notes, name, ...)``):
``chroma``, ``cens``, ``logfreq``, ``dlnco``, each comparable to the audio feature listed in
:data:`alignkit.features.score.COMPARABLE`.
"""

from alignkit.features.base import Features, extract, get_extractor, list_extractors, register_extractor
from alignkit.features.chroma import (  # registers the audio extractors
    cens,
    chroma_cqt,
    chroma_stft,
    estimate_tuning,
    frame_grid,
    logfreq,
)
from alignkit.features.normalize import normalize
from alignkit.features.onsets import dlnco, sync_features  # registers
from alignkit.features.score import COMPARABLE, score_features
from alignkit.features.transpose import optimal_chroma_shift, shift_chroma

__all__ = [
    "Features",
    "extract",
    "get_extractor",
    "list_extractors",
    "register_extractor",
    "chroma_stft",
    "chroma_cqt",
    "cens",
    "logfreq",
    "dlnco",
    "estimate_tuning",
    "frame_grid",
    "normalize",
    "sync_features",
    "score_features",
    "COMPARABLE",
    "optimal_chroma_shift",
    "shift_chroma",
]
