"""alignkit.eval: alignment errors at annotations, path discrepancy, retrieval metrics."""

from alignkit.eval.metrics import (
    DEFAULT_TOLERANCES,
    alignment_errors,
    composition_discrepancy,
    error_summary,
    linear_path,
    match_by_label,
    path_discrepancy,
    transfer_times,
)
from alignkit.eval.retrieval import mean_reciprocal_rank, ranks_from_scores, top_k_accuracy

__all__ = [
    "DEFAULT_TOLERANCES",
    "alignment_errors",
    "composition_discrepancy",
    "error_summary",
    "linear_path",
    "match_by_label",
    "path_discrepancy",
    "transfer_times",
    "mean_reciprocal_rank",
    "ranks_from_scores",
    "top_k_accuracy",
]
