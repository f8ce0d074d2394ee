"""The recipe options the reproduction needs: a grounder warm start (the whole base + head, no
adapter), a head started from saved weights, one adapter shared by grounder and verifier, the
agent settings a role checkpoint records, and retrievals served at a fixed density."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from framescope.agent.agent import AgentConfig, checkpoint_settings
from framescope.data import read_dm_cot
from framescope.data.collate import VideoSettings, dm_cot_example
from framescope.errors import ConfigError
from framescope.models.hf import load_backend
from framescope.models.videomind_ckpt import read_checkpoint
from framescope.train.runtime import Run
from framescope.train.sft import build_module, train_sft
from framescope.video.sampling import PixelBudget

from .conftest import recipe
from .test_sft import check_two_steps


def test_grounder_warm_start_then_head_init(
    world: Path, bases: dict[str, Path], tmp_path: Path
) -> None:
    warm = recipe(
        "videomind_grounder",
        world,
        bases["qwen2_vl"],
        tmp_path / "warm",
        "model.finetune=full",
        "model.lora=null",
        "video.max_frames=16",  # 8 temporal steps: every pyramid level is used
    )
    after = check_two_steps(warm)
    assert any(n.startswith("model.model.language_model") for n in after)  # the base trains
    ckpt = tmp_path / "warm" / "checkpoint-2"
    assert (ckpt / "model" / "config.json").is_file() and not (ckpt / "videomind").exists()
    head_file = ckpt / "head" / "pytorch_model.safetensors"
    # a role run on the warm base starts from the warm head, exactly
    role = recipe(
        "videomind_grounder", world, ckpt / "model", tmp_path / "role", f"grounder.init={head_file}"
    )
    import contextlib

    with contextlib.ExitStack() as stack:
        module, _ = build_module(role, Run(role), stack)
        for name, tensor in module.head.state_dict().items():
            assert torch.equal(tensor, after[f"head.{name}"])


def test_warm_start_is_for_the_grounder_only(
    world: Path, bases: dict[str, Path], tmp_path: Path
) -> None:
    cfg = recipe(
        "videomind_verifier",
        world,
        bases["qwen2_vl"],
        tmp_path / "v",
        "model.finetune=full",
        "model.lora=null",
    )
    with pytest.raises(ConfigError, match="grounder warm start only"):
        train_sft(cfg)


def test_shared_adapter_trains_on_both_roles_and_exports_both(
    world: Path, bases: dict[str, Path], tmp_path: Path
) -> None:
    cfg = recipe(
        "videomind_grounder",
        world,
        bases["qwen2_vl"],
        tmp_path / "run",
        "data.verifier_files=[videomind/verifier.jsonl]",
        "optim.global_batch_size=4",
        "seed=3",  # both steps draw grounder rows among the verifier rows
        "video.max_frames=16",
    )
    check_two_steps(cfg)
    folder = tmp_path / "run" / "checkpoint-2" / "videomind"
    for role in ("grounder", "verifier"):
        assert (folder / role / "adapter_model.safetensors").is_file()
    assert (folder / "grounder" / "adapter_model.safetensors").read_bytes() == (
        folder / "verifier" / "adapter_model.safetensors"
    ).read_bytes()
    ckpt = read_checkpoint(folder)
    assert list(ckpt.roles) == ["grounder", "verifier"]
    # the frame size the roles were trained at is recorded for the agent
    assert ckpt.agent["role_tokens"] == ckpt.agent["answer_tokens"] == [4, 9]
    agent = checkpoint_settings(AgentConfig(), ckpt.agent)
    assert agent.role_tokens == (4, 9) and agent.answer_tokens == (4, 9)
    mine = AgentConfig(answer_min_len=8.0, role_tokens=(2, 3))  # what a caller sets is kept
    got = checkpoint_settings(mine, ckpt.agent)
    assert got.answer_min_len == 8.0 and got.role_tokens == (2, 3) and got.answer_tokens == (4, 9)


def test_shared_adapter_needs_a_lora_grounder(
    world: Path, bases: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="verifier_files"):
        recipe(
            "videomind_planner",
            world,
            bases["qwen2_vl"],
            tmp_path / "p",
            "data.verifier_files=[videomind/verifier.jsonl]",
        )


def test_fixed_density_splices(world: Path, bases: dict[str, Path]) -> None:
    backend = load_backend(bases["qwen3_vl"])
    record = read_dm_cot(world / "dynframe/dm_cot.json", data_root=world).records[0]
    budget = PixelBudget(64 * 64, 64 * 64, 32)
    own = dm_cot_example(backend, record, VideoSettings(1.0, 8, budget))
    fixed = dm_cot_example(backend, record, VideoSettings(1.0, 8, budget, retrieval_fps=1.0))
    asked = record.requests[0]
    frames = [sum(v.grid_thw[0] for v in ex.segment.vision[1:]) * 2 for ex in (own, fixed)]
    # same text (the request still says its own fps), fewer frames when asked for more than 1 fps
    assert asked.fps > 1.0 and frames[1] < frames[0]
    text = [
        backend.decode([t for t, lab in zip(ex.segment.token_ids, ex.labels) if lab != -100])
        for ex in (own, fixed)
    ]
    assert text[0] == text[1]
    assert json.dumps(text[0]).count("<fps>") == 1
