"""Shared fixtures. Data from ``../shared`` (beside the checkout) is optional: tests using it skip
when it is absent (a user's clone); ``FRAMESCOPE_SHARED`` points elsewhere."""

from __future__ import annotations

import os

# Nothing may download, in any test: set before transformers / huggingface_hub are imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("FRAMESCOPE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
REAL_VIDEOS = SHARED / "data" / "real_videos"
DYNFRAME_EXAMPLES = SHARED / "data" / "dynframe_examples"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")
    return path


@pytest.fixture(scope="session")
def real_videos() -> Path:
    """Folder of the nine real clips (skips when ../shared is absent)."""
    return _require(REAL_VIDEOS)


@pytest.fixture(scope="session")
def dynframe_examples() -> Path:
    """DynFrame's released example rows (skips when ../shared is absent)."""
    return _require(DYNFRAME_EXAMPLES)
