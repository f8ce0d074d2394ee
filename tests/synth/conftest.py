"""One small synthetic world shared by the package's tests (made once, in the test run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from framescope.synth import generate_world

SEED = 7
SMALL = {"duration": (16, 20), "fps": 10, "size": (160, 120), "num_objects": (3, 5)}


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Three videos of seed ``SEED`` at the ``SMALL`` settings, and the manifest."""
    out = tmp_path_factory.mktemp("world")
    return out, generate_world(out, seed=SEED, num_videos=3, **SMALL)
