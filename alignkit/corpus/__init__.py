"""The corpus: a work x version grid of recordings and scores with their annotations.

Build one from a folder (:func:`from_folder`), a manifest (:func:`from_manifest`), either
(:func:`load_corpus`), or a dataset recipe (:func:`asap`, :func:`winterreise`, :func:`bpsd`,
:func:`wrd`, :func:`mtd`, :func:`from_naming`). Every constructor validates all files before
any work starts and raises :class:`~alignkit.exceptions.CorpusError` naming each bad item.
:func:`prune` keeps the first k works x m versions for smoke runs.
"""

from alignkit.corpus.manifest import from_folder, from_manifest, load_corpus, write_manifest
from alignkit.corpus.model import (
    ANNOTATION_ROLES,
    AUDIO_EXTENSIONS,
    SCORE_EXTENSIONS,
    Corpus,
    Version,
    kind_of,
    prune,
)
from alignkit.corpus.recipes import asap, bpsd, from_naming, mtd, winterreise, wrd

__all__ = [
    "Corpus",
    "Version",
    "from_folder",
    "from_manifest",
    "load_corpus",
    "write_manifest",
    "prune",
    "asap",
    "winterreise",
    "bpsd",
    "wrd",
    "mtd",
    "from_naming",
    "kind_of",
    "AUDIO_EXTENSIONS",
    "SCORE_EXTENSIONS",
    "ANNOTATION_ROLES",
]
