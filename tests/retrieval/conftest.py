"""Tiny random-weight checkpoints and a synthetic demo video, made once per test session."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may download

from pathlib import Path
from typing import Any

import pytest

from framescope.models.tiny import FAMILIES, save_tiny_model
from framescope.synth import demo_video
from framescope.types import Window


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One saved tiny checkpoint folder per family (seed 0)."""
    root = tmp_path_factory.mktemp("retrieval_models")
    return {family: save_tiny_model(family, root / family) for family in FAMILIES}


@pytest.fixture(scope="session")
def backends(model_dirs: dict[str, Path]) -> dict[str, Any]:
    from framescope.models.hf import load_backend

    return {family: load_backend(path) for family, path in model_dirs.items()}


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Window]:
    """The 20 s demo video (320x240, 10 fps) and its main event's window."""
    path, event = demo_video(tmp_path_factory.mktemp("retrieval_video") / "demo.mp4")
    return path, event.window
