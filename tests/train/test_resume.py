"""Checkpoints: 4 steps straight and 2 steps + resume + 2 steps give bit-identical weights and
losses on CPU (LoRA dropout, the head's drop-path and its sampled contrastive positives included:
RNG states, optimiser, schedule and data position all come back); checkpoints are complete
folders with the resolved config; the CLI resumes from an output folder."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from framescope.cli import main
from framescope.train.config import load_config
from framescope.train.runtime import read_metrics
from framescope.train.sft import train_sft

from .conftest import recipe


def test_resume_is_bit_identical(world: Path, bases: dict[str, Path], tmp_path: Path) -> None:
    def cfg(out: str):
        return recipe(
            "videomind_grounder", world, bases["qwen2_vl"], tmp_path / out,
            "optim.max_steps=4",
        )  # fmt: skip

    train_sft(cfg("straight"))
    split = cfg("split")
    train_sft(split, stop_after=2)
    assert sorted(p.name for p in (tmp_path / "split").iterdir() if "checkpoint" in p.name) == [
        "checkpoint-2"
    ]
    assert len(read_metrics(tmp_path / "split")) == 2
    train_sft(split, resume=tmp_path / "split")  # the output folder: its latest checkpoint

    straight, resumed = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "split")
    assert [r["step"] for r in resumed] == [1, 2, 3, 4]
    for a, b in zip(straight, resumed):
        for key in ("loss", "lm_loss", "focal", "l1", "contrastive", "lr", "grad_norm"):
            assert a[key] == b[key], (a["step"], key)
    wa = load_file(str(tmp_path / "straight" / "checkpoint-4" / "trainable.safetensors"))
    wb = load_file(str(tmp_path / "split" / "checkpoint-4" / "trainable.safetensors"))
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)

    ckpt = tmp_path / "split" / "checkpoint-4"
    assert load_config(ckpt / "config.yaml") == split  # the resolved config, with overrides
    assert not list((tmp_path / "split").glob(".*tmp*"))  # assembled aside, renamed into place


def test_cli_resumes_from_the_checkpoint_config(
    world: Path, bases: dict[str, Path], tmp_path: Path
) -> None:
    cfg = recipe("dynframe_sft", world, bases["qwen2_vl"], tmp_path / "run",
                 "model.family=qwen2_vl", "optim.max_steps=3", "data.max_rows=4")  # fmt: skip
    config = tmp_path / "recipe.yaml"
    cfg.save_resolved(config)
    assert main(["train", "sft", "--config", str(config), "--stop-after", "2"]) == 0
    assert main(["train", "sft", "--resume", str(tmp_path / "run")]) == 0  # no --config
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [1, 2, 3]
    assert (tmp_path / "run" / "checkpoint-3" / "model" / "config.json").is_file()
