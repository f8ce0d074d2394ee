"""Two CPU processes (torchrun, gloo) train the same steps as one process with the same global
batch: the same losses and the same updated weights, for SFT and for SD-GRPO (whose advantages
need every process's rewards)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from framescope.train.config import TrainConfig
from framescope.train.grpo.trainer import train_grpo
from framescope.train.runtime import read_metrics
from framescope.train.sft import train_sft

from .conftest import recipe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(trainer: str, cfg: TrainConfig, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    cfg.save_resolved(config)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
        "-m", "framescope.cli", "train", trainer, "--config", str(config),
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def assert_same_run(one: Path, two: Path, keys: tuple[str, ...]) -> None:
    a, b = read_metrics(one), read_metrics(two)
    assert [r["step"] for r in a] == [r["step"] for r in b] == [1, 2]
    for ra, rb in zip(a, b):
        for key in keys:
            assert rb[key] == pytest.approx(ra[key], rel=1e-5, abs=1e-7), key
    wa = load_file(str(one / "checkpoint-2" / "trainable.safetensors"))
    wb = load_file(str(two / "checkpoint-2" / "trainable.safetensors"))
    assert wa.keys() == wb.keys()
    for name in wa:
        torch.testing.assert_close(wb[name], wa[name], rtol=1e-4, atol=1e-5)


def test_sft_two_processes_equal_one(world: Path, bases: dict[str, Path], tmp_path: Path) -> None:
    def cfg(out: str) -> TrainConfig:
        return recipe(
            "dynframe_sft", world, bases["qwen3_vl"], tmp_path / out,
            "optim.global_batch_size=4", "data.max_rows=8",
        )  # fmt: skip

    train_sft(cfg("one"))
    torchrun("sft", cfg("two"), tmp_path)
    assert_same_run(tmp_path / "one", tmp_path / "two", ("loss", "grad_norm", "tokens", "lr"))


def test_grpo_two_processes_equal_one(world: Path, bases: dict[str, Path], tmp_path: Path) -> None:
    def cfg(out: str) -> TrainConfig:
        return recipe(
            "dynframe_grpo", world, bases["qwen3_vl"], tmp_path / out,
            "grpo.max_new_tokens=24", "seed=0",
        )  # fmt: skip

    train_grpo(cfg("one"))
    assert any(r["grad_norm"] > 0 for r in read_metrics(tmp_path / "one"))  # a real update
    torchrun("grpo", cfg("two"), tmp_path)
    assert_same_run(tmp_path / "one", tmp_path / "two", ("loss", "reward", "kl", "grad_norm"))


@pytest.mark.parametrize("name", ["ddp_gpus", "fsdp", "deepspeed_zero2"])
def test_accelerate_launch_configs_parse(name: str) -> None:
    """The shipped launch configs are valid accelerate configs (they cannot run here: no GPUs)."""
    from accelerate.commands.config.config_args import load_config_from_file

    from .conftest import CONFIGS

    cfg = load_config_from_file(str(CONFIGS / "accelerate" / f"{name}.yaml"))
    kind = {"ddp_gpus": "MULTI_GPU", "fsdp": "FSDP", "deepspeed_zero2": "DEEPSPEED"}[name]
    assert cfg.distributed_type.value == kind and cfg.mixed_precision == "bf16"
