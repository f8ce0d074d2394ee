"""Tiny random-weight checkpoints, saved once per test session, and short synthetic clips."""

from __future__ import annotations

import os

# Nothing may download: set before transformers / huggingface_hub read it.
os.environ["HF_HUB_OFFLINE"] = "1"

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from framescope.models.tiny import FAMILIES, save_tiny_model
from framescope.types import Clip, Window


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One saved tiny checkpoint folder per family (seed 0)."""
    root = tmp_path_factory.mktemp("tiny_models")
    return {family: save_tiny_model(family, root / family) for family in FAMILIES}


@pytest.fixture(scope="session")
def loaded(tiny_dirs: dict[str, Path]) -> dict[str, tuple[Any, Any]]:
    """``family -> (processor, model)`` loaded through the Auto classes, as a real checkpoint is."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    return {
        family: (
            AutoProcessor.from_pretrained(path),
            AutoModelForImageTextToText.from_pretrained(path).eval(),
        )
        for family, path in tiny_dirs.items()
    }


@pytest.fixture(scope="module")
def backends(tiny_dirs: dict[str, Path]) -> dict[str, Any]:
    """``family -> HFBackend`` loaded through ``load_backend``, once per test module."""
    from framescope.models.hf import load_backend

    return {family: load_backend(path) for family, path in tiny_dirs.items()}


def make_clip(n: int, fps: float, start: float = 0.0, seed: int = 0, size: int = 64) -> Clip:
    """``n`` noise frames of ``size``² sampled at ``fps`` from ``start`` seconds."""
    frames = np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return Clip(frames=frames, timestamps=tuple(start + k / fps for k in range(n)))


def clip_for(backend: Any, n: int, fps: float, start: float = 0.0, seed: int = 0) -> Clip:
    """Noise frames sized for the family (2×2 merged tokens per patch), window from ``start``."""
    clip = make_clip(n, fps=fps, start=start, seed=seed, size=2 * backend.factor)
    clip.window = Window(start, start + n / fps)
    return clip


def video_kwargs(clips: list[Clip]) -> dict[str, Any]:
    """Processor keyword arguments for pre-sampled clips (frame rate from their timestamps)."""
    metadata = []
    for clip in clips:
        fps = (len(clip) - 1) / (clip.timestamps[-1] - clip.timestamps[0])
        metadata.append(
            {"total_num_frames": len(clip), "fps": fps, "frames_indices": list(range(len(clip)))}
        )
    return {
        "videos": [clip.frames for clip in clips],
        "video_metadata": metadata,
        "do_sample_frames": False,
    }
