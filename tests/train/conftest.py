"""A tiny synthetic world (with a verifier file made from its grounder rows) and tiny base
checkpoints, built once per test session; recipe overrides that point the synth recipes at them."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may download

import json
from pathlib import Path

import pytest

from framescope.models.tiny import FAMILIES, save_tiny_model
from framescope.synth import generate_world
from framescope.train.config import TrainConfig, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SMALL_WORLD = {"duration": (16, 18), "fps": 10, "size": (160, 120), "num_objects": (3, 4)}


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short videos with every training file, plus ``videomind/verifier.jsonl``: each
    grounder row with three candidates (the truth, a shifted copy, the video's start)."""
    out = tmp_path_factory.mktemp("train_world")
    generate_world(out, seed=3, num_videos=2, **SMALL_WORLD)
    rows = [
        json.loads(line) for line in (out / "videomind/grounder.jsonl").read_text().splitlines()
    ]
    with open(out / "videomind/verifier.jsonl", "w") as f:
        for row in rows:
            s, e = row["span"][0]
            row["pred"] = [[s, e], [s + 3, e + 3], [0.0, 2.0]]
            f.write(json.dumps(row) + "\n")
    return out


@pytest.fixture(scope="session")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny random-weight base checkpoint per family (seed 0)."""
    root = tmp_path_factory.mktemp("train_bases")
    return {family: save_tiny_model(family, root / family) for family in FAMILIES}


def recipe(name: str, world: Path, base: Path, out: Path, *overrides: str) -> TrainConfig:
    """``configs/synth_<name>.yaml`` on the test world and base, 2 steps (of 2 sequences for
    SFT), small role clips (fast on 2 cores), output in ``out``."""
    sets = [
        f"data.root={world}",
        f"model.path={base}",
        "model.tiny=null",
        f"output_dir={out}",
        "optim.max_steps=2",
        "save_steps=2",
        "video.max_frames=8",
    ]
    if "grpo" not in name:  # GRPO keeps its 2 prompts x 4 rollouts
        sets.append("optim.global_batch_size=2")
    if "videomind" in name:  # role clips: 4-9 merged tokens per frame instead of 36-64
        sets += ["video.min_pixels=3136", "video.max_pixels=7056"]
    return load_config(CONFIGS / f"synth_{name}.yaml", [*sets, *overrides])
