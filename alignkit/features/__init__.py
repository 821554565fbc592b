"""Feature extraction: a registry of extractors returning :class:`Features`."""

from alignkit.features.base import Features, extract, get_extractor, list_extractors, register_extractor

__all__ = ["Features", "extract", "get_extractor", "list_extractors", "register_extractor"]
