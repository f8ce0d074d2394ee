"""Helpers for writing benchmark fixtures in their official formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def jsonl():
    return write_jsonl


@pytest.fixture
def dump():
    return write_json


# ---------------------------------------------------------------- framescope eval (runner tests)


@pytest.fixture(scope="session")
def eval_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-video synthetic world (15 s): ~20 samples over its three tasks."""
    from framescope.synth import generate_world

    root = tmp_path_factory.mktemp("eval_world") / "world"
    generate_world(root, seed=0, num_videos=1, duration=(15, 15))
    return root


@pytest.fixture(scope="session")
def eval_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Qwen2-VL checkpoint folder."""
    from framescope.models.tiny import save_tiny_model

    return save_tiny_model("qwen2_vl", tmp_path_factory.mktemp("eval_model") / "qwen2_vl")
