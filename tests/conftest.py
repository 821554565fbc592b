"""Shared fixtures: the real-data folder beside the project, and quiet thread settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ALIGNKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real music data); skips the test with a clear reason when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it sits beside the project in CI); "
                    "set ALIGNKIT_SHARED_DATA to point elsewhere")
    return SHARED_DATA


def shared_path(*parts: str) -> Path:
    """A path inside the shared data folder; skips when that file or folder is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data {p} is absent")
    return p
