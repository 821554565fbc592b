"""alignkit.testing: ground truth for tests (synthetic warps, chroma-like sequences, a DTW oracle)."""

from alignkit.testing.warps import (
    STEP_SETS,
    Warp,
    brute_force_dtw,
    random_chroma_sequence,
    random_warp,
    warp_features,
)

__all__ = ["STEP_SETS", "Warp", "brute_force_dtw", "random_chroma_sequence", "random_warp", "warp_features"]
