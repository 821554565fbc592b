"""The results store: Zarr v3 arrays and Parquet tables under one URI, and its query API.

- Write side (flows): :func:`open_store` -> :class:`ResultsStore` (``write_features``,
  ``features_complete``, ``read_features``, ``write_alignment``, ``alignment_complete``,
  ``read_alignment``, ``write_table_rows``, ``record_failure``, ``start_run``/``finish_run``,
  ``compact``); see :mod:`alignkit.store.results`.
- Read side (notebooks): :func:`open_results` -> :class:`Results` (``works``, ``versions``,
  ``features``, ``path``, ``transfer``, ``evaluation``, ``failures``, ``sql``, plots); see
  :mod:`alignkit.store.query`.
- Layout and every key: :mod:`alignkit.store.keys`; table schemas: :mod:`alignkit.store.tables`.
"""

from alignkit.store.keys import item_key
from alignkit.store.query import Results, open_results
from alignkit.store.results import ResultsStore, StoredAlignment, library_versions, open_store
from alignkit.store.tables import SCHEMAS, TABLES

__all__ = [
    "open_store",
    "open_results",
    "ResultsStore",
    "Results",
    "StoredAlignment",
    "item_key",
    "library_versions",
    "SCHEMAS",
    "TABLES",
]
