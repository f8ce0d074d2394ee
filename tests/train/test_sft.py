"""Two-step SFT smoke runs: DynFrame CoT (full and LoRA), VideoMind verifier and planner. The
loss is finite, every trainable parameter changed, every frozen one did not, the checkpoint
holds what it says."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from framescope.train.config import TrainConfig
from framescope.train.runtime import Run, read_metrics, seed_everything
from framescope.train.sft import build_module, train_sft

from .conftest import recipe


def initial_state(cfg: TrainConfig) -> tuple[dict[str, torch.Tensor], set[str]]:
    """The module's parameters before training (built as the recipe builds it) and the names
    of those that train."""
    seed_everything(cfg.seed)
    with contextlib.ExitStack() as stack:
        module, _ = build_module(cfg, Run(cfg), stack)
        params = dict(module.named_parameters())
        return {n: p.detach().clone() for n, p in params.items()}, {
            n for n, p in params.items() if p.requires_grad
        }


def check_two_steps(cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """Train 2 steps; returns the trained parameters."""
    before, trainable = initial_state(cfg)
    result = train_sft(cfg)
    rows = read_metrics(cfg.output_dir)
    assert [r["step"] for r in rows] == [1, 2]
    assert all(math.isfinite(r["loss"]) and r["loss"] > 0 for r in rows)
    after = {n: p.detach() for n, p in result.module.named_parameters()}
    assert set(after) == set(before) and trainable
    unchanged = [n for n in trainable if torch.equal(before[n], after[n])]
    assert not unchanged, f"trainable parameters that did not change: {unchanged[:5]}"
    moved = [n for n in set(before) - trainable if not torch.equal(before[n], after[n])]
    assert not moved, f"frozen parameters that changed: {moved[:5]}"
    ckpt = Path(cfg.output_dir) / "checkpoint-2"
    saved = load_file(str(ckpt / "trainable.safetensors"))
    assert set(saved) == trainable
    for name in trainable:
        assert torch.equal(saved[name], after[name])
    assert (ckpt / "config.yaml").is_file() and (ckpt / "rng" / "rank0.pt").is_file()
    return after


def test_dynframe_cot_full(world: Path, bases: dict[str, Path], tmp_path: Path) -> None:
    cfg = recipe("dynframe_sft", world, bases["qwen3_vl"], tmp_path / "run")
    after = check_two_steps(cfg)
    assert any(n.startswith("model.model.visual.merger") for n in after)
    export = tmp_path / "run" / "checkpoint-2" / "model"  # a checkpoint inference loads
    from framescope.models.hf import load_backend

    backend = load_backend(export)
    for name, p in backend.model.named_parameters():
        torch.testing.assert_close(p, after[f"model.{name}"], rtol=0, atol=0)


def test_dynframe_cot_lora(world: Path, bases: dict[str, Path], tmp_path: Path) -> None:
    lora = "model.lora={r: 4, alpha: 8, dropout: 0.0, target_modules: [q_proj, v_proj]}"
    sets = ["model.family=qwen2_5_vl", "model.finetune=lora", lora]
    cfg = recipe("dynframe_sft", world, bases["qwen2_5_vl"], tmp_path / "run", *sets)
    check_two_steps(cfg)
    adapter = tmp_path / "run" / "checkpoint-2" / "adapter"
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 4


@pytest.mark.parametrize("role", ["verifier", "planner"])
def test_videomind_role(role: str, world: Path, bases: dict[str, Path], tmp_path: Path) -> None:
    cfg = recipe(f"videomind_{role}", world, bases["qwen2_vl"], tmp_path / "run")
    after = check_two_steps(cfg)
    assert all(f".{role}." in n for n in after if "lora_" in n)
    folder = tmp_path / "run" / "checkpoint-2" / "videomind"
    assert (folder / role / "adapter_model.safetensors").is_file()
    resolved = json.loads((folder / "framescope.json").read_text())
    assert list(resolved["roles"]) == [role]
    saves = resolved["roles"][role]["modules_to_save"]
    assert saves == (["embed_tokens", "lm_head"] if role == "verifier" else [])
