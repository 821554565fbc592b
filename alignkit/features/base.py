"""The feature container and the extractor registry.

A feature never travels without its frame rate: every extractor returns a
:class:`Features` object holding a time-first ``(n_frames, n_dims)`` float32 array, the
frame rate in Hz, the extractor's name and the full parameter set (defaults filled in),
plus a stable hash of those parameters that the store uses as part of its keys.

Extractors register themselves with :func:`register_extractor`; :func:`extract` looks
them up by name, so flows and the CLI select features by a string.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alignkit.exceptions import ParameterError

__all__ = [
    "Features",
    "extract",
    "get_extractor",
    "jsonable",
    "list_extractors",
    "params_hash",
    "register_extractor",
]


def params_hash(name: str, params: dict[str, Any]) -> str:
    """Stable short hash of an extractor name and its parameters (order-independent)."""
    blob = json.dumps({"name": name, "params": params}, sort_keys=True, default=jsonable)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def jsonable(x):
    """JSON fallback for numpy scalars/arrays and sets: the one encoding behind every params hash."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (set, frozenset, tuple)):
        return list(x)
    return str(x)


@dataclass(frozen=True)
class Features:
    """A feature sequence with its frame rate and parameters.

    Attributes
    ----------
    values : np.ndarray [shape=(n_frames, n_dims), dtype=float32]
        Time first. Frame ``n`` describes the signal around ``n / frame_rate`` seconds.
    frame_rate : float
        Frames per second.
    name : str
        Registered extractor name (``"chroma_stft"``, ``"cens"``, ...).
    params : dict
        Every parameter the extractor used, defaults included.
    dim_labels : tuple of str, optional
        Labels of the feature dimensions (pitch classes, MIDI pitches), if meaningful.
    """

    values: np.ndarray
    frame_rate: float
    name: str
    params: dict = field(default_factory=dict)
    dim_labels: tuple[str, ...] | None = None

    def __post_init__(self):
        v = np.asarray(self.values)
        if v.ndim != 2:
            raise ParameterError(f"Features.values must be 2-D (n_frames, n_dims), got shape {v.shape}")
        if not np.isfinite(self.frame_rate) or self.frame_rate <= 0:
            raise ParameterError(f"frame_rate={self.frame_rate!r} must be positive")
        if self.dim_labels is not None and len(self.dim_labels) != v.shape[1]:
            raise ParameterError(f"{len(self.dim_labels)} dim_labels for {v.shape[1]} dimensions")
        object.__setattr__(self, "values", v)

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.values.shape[0])

    @property
    def n_dims(self) -> int:
        """Number of feature dimensions."""
        return int(self.values.shape[1])

    @property
    def duration(self) -> float:
        """Covered duration in seconds (``n_frames / frame_rate``)."""
        return self.n_frames / self.frame_rate

    @property
    def times(self) -> np.ndarray:
        """Time of each frame in seconds."""
        return np.arange(self.n_frames) / self.frame_rate

    @property
    def hash(self) -> str:
        """Hash of ``name`` and ``params`` (not of the values)."""
        return params_hash(self.name, self.params)

    def replace(self, **changes) -> Features:
        """A copy with some fields changed."""
        d = dict(values=self.values, frame_rate=self.frame_rate, name=self.name,
                 params=self.params, dim_labels=self.dim_labels)
        d.update(changes)
        return Features(**d)


@dataclass(frozen=True)
class _Entry:
    name: str
    func: Callable[..., Features]
    defaults: dict
    doc: str


_REGISTRY: dict[str, _Entry] = {}


def register_extractor(name: str, **defaults):
    """Register ``func(y, sr, **params) -> Features`` under ``name``.

    ``defaults`` declares every parameter the extractor accepts with its default; unknown
    parameters passed to :func:`extract` are rejected with a :class:`ParameterError`.
    """

    def deco(func):
        if name in _REGISTRY and _REGISTRY[name].func is not func:
            raise ParameterError(f"feature extractor {name!r} is already registered")
        _REGISTRY[name] = _Entry(name, func, dict(defaults), (func.__doc__ or "").strip().split("\n")[0])
        return func

    return deco


def get_extractor(name: str) -> _Entry:
    """The registry entry of ``name``."""
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ParameterError(f"feature={name!r} is not one of {sorted(_REGISTRY)}") from None


def list_extractors() -> dict[str, str]:
    """Registered extractor names with their one-line descriptions."""
    _ensure_loaded()
    return {k: v.doc for k, v in sorted(_REGISTRY.items())}


def resolve_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Fill in defaults and reject unknown parameters of extractor ``name``."""
    entry = get_extractor(name)
    unknown = set(params) - set(entry.defaults)
    if unknown:
        raise ParameterError(
            f"unknown parameters {sorted(unknown)} for feature {name!r}; it accepts {sorted(entry.defaults)}"
        )
    return {**entry.defaults, **params}


def extract(name: str, y: np.ndarray, sr: float, **params) -> Features:
    """Run extractor ``name`` on mono audio ``y`` at sample rate ``sr``.

    Parameters
    ----------
    name : str
        A registered extractor (see :func:`list_extractors`).
    y : np.ndarray [shape=(n_samples,)]
    sr : float
    **params
        Extractor parameters; unknown names raise :class:`ParameterError`.
    """
    full = resolve_params(name, params)
    return get_extractor(name).func(y, sr, **full)


def _ensure_loaded():
    # the extractor modules register on import
    import alignkit.features  # noqa: F401
