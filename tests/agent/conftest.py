"""A tiny VideoMind checkpoint in the released layout, one whose grounder always writes <|reg|>,
their backends and a short synthetic video; built once per test session."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may download

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from safetensors.torch import load_file, save_file

from framescope.settings import AgentConfig
from framescope.synth import demo_video
from framescope.types import Window
from models.released_videomind import ReleasedFixture, build_released_checkpoint

# Smaller clips than the release's (same code paths): keeps every test file fast on 2 cores.
FAST = AgentConfig(
    grounder_max_frames=16,
    verifier_max_frames=16,
    role_tokens=(16, 36),
    answer_max_frames=8,
    answer_tokens=(16, 36),
)


@dataclass
class Checkpoints:
    released: ReleasedFixture
    reg: Path  # the same checkpoint, its grounder rigged to write <|reg|> first


def rig_grounder(src: Path, dst: Path, reg_id: int) -> Path:
    """A copy of ``src`` whose grounder adapter's own embed_tokens/lm_head copies make <|reg|>
    the most likely next token everywhere (random weights almost never write it): every
    embedding gets +1e4 on dimension 0, so the final norm's output is ~sqrt(H)·e0 at text
    positions, and the <|reg|> row of the lm_head copy reads that dimension."""
    shutil.copytree(src, dst)
    path = dst / "grounder" / "adapter_model.safetensors"
    weights = load_file(str(path))
    emb = weights["base_model.model.model.embed_tokens.weight"]
    emb[:, 0] += 1e4
    head = weights["base_model.model.lm_head.weight"]
    head[reg_id] = 0.0
    head[reg_id, 0] = 10.0
    save_file(weights, str(path), metadata={"format": "pt"})
    return dst


@pytest.fixture(scope="session")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> Checkpoints:
    root = tmp_path_factory.mktemp("videomind_agent")
    released = build_released_checkpoint(root)
    reg = rig_grounder(released.ckpt, root / "VideoMind-reg", released.token_ids["reg_token_id"])
    return Checkpoints(released, reg)


@pytest.fixture(scope="session")
def backend(ckpts: Checkpoints) -> Any:
    """The released tiny checkpoint loaded through load_backend (all three roles)."""
    from framescope.models.hf import load_backend

    return load_backend(ckpts.released.ckpt)


@pytest.fixture(scope="session")
def reg_backend(ckpts: Checkpoints) -> Any:
    from framescope.models.hf import load_backend

    return load_backend(ckpts.reg)


@pytest.fixture(scope="session")
def video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Window]:
    """The 20 s demo video (320x240, 10 fps) and its main event's window."""
    path, event = demo_video(tmp_path_factory.mktemp("agent_video") / "demo.mp4")
    return path, event.window
