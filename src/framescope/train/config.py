"""Typed training configs: dataclasses with a help string per field, loaded from YAML recipes.

Every recipe in ``configs/`` is a :class:`TrainConfig` written as YAML; variants are files, not
scripts. Loading (:func:`load_config`) refuses unknown keys (naming the dotted key, the file and
the closest known key), wrong types and impossible values with a one-line
:class:`~framescope.errors.ConfigError`. Overrides are ``dotted.key=value`` strings whose value is
read as YAML (``optim.lr=1e-5``, ``model.lora=null``, ``data.files=[a.jsonl]``), checked the same
way. :meth:`TrainConfig.save_resolved` writes the config after overrides, to be saved next to
every checkpoint; loading that file gives the same config back.

Paths: data files are relative to the data root (``data.root``, else ``$FRAMESCOPE_DATA``); the
model is a local checkpoint folder (``model.path``, set per run) or an offline tiny preset
(``model.tiny``) — nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framescope import config as cfgs
from framescope.config import option, required, section
from framescope.config import require as _require
from framescope.families import NAMES as FAMILIES
from framescope.settings import Budgets, Sampling


@dataclass
class LoraConfig:
    """LoRA adapter of a role (VideoMind: r 64, alpha 64, dropout 0.1 on q/k/v/o)."""

    r: int = option(64, "adapter rank")
    alpha: int = option(64, "scaling numerator (scale = alpha / r)")
    dropout: float = option(0.1, "dropout on the adapter input")
    target_modules: list[str] = section(
        lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        "LLM modules that get adapters (vision untouched)",
    )
    modules_to_save: list[str] = section(
        list, "modules trained and saved in full with the adapter (grounder/verifier: new tokens)"
    )

    def __post_init__(self) -> None:
        _require(self.r > 0 and self.alpha > 0, "lora.r and lora.alpha must be positive")
        _require(0 <= self.dropout < 1, "lora.dropout must be in [0, 1)")


@dataclass
class ModelConfig:
    """Which model to train and which of its parts."""

    family: str = option("qwen3_vl", "model family", FAMILIES)
    path: str | None = option(
        None, "local checkpoint folder (set per run: model.path=...); never downloaded"
    )
    tiny: str | None = option(
        None,
        "build an offline random-weight preset instead of loading (train: ~1 M parameters, "
        "sized for training from scratch on a CPU)",
        ("tiny", "train", "small"),
    )
    numbers: bool = option(
        False,
        "model.tiny only: add the number vocabulary (whole tokens for 0-99 and 0.0-99.9, so "
        "times in frame stamps and answers are single tokens)",
    )
    dtype: str = option("bfloat16", "weights dtype", ("float32", "bfloat16", "float16"))
    finetune: str = option(
        "full", "train all unfrozen weights, or LoRA adapters only", ("full", "lora")
    )
    freeze: list[str] = section(list, "module-name prefixes kept frozen (full fine-tuning)")
    lora: LoraConfig | None = option(None, "the adapter (finetune: lora)")

    def __post_init__(self) -> None:
        _require(not (self.path and self.tiny), "model.path and model.tiny exclude each other")
        _require(self.tiny is not None or not self.numbers, "model.numbers needs model.tiny")
        _require(
            (self.finetune == "lora") == (self.lora is not None),
            "model.lora must be set exactly when model.finetune is lora",
        )


@dataclass
class DataConfig:
    """Training records (see framescope.data)."""

    format: str = required("record format", ("dm_cot", "dm_rl", "grounder", "verifier", "planner"))
    files: list[str] = required("record files, relative to the data root")
    root: str | None = option(None, "data root; null: $FRAMESCOPE_DATA")
    skip_bad_rows: bool = option(False, "skip malformed rows and report them instead of stopping")
    max_rows: int | None = option(None, "use only the first N records (smoke runs)")
    max_length: int | None = option(
        None, "token limit of one training sequence (longer: truncated)"
    )
    verifier_files: list[str] = section(
        list,
        "recipe grounder only: verifier rows trained into the same adapter — one shared "
        "adapter for both roles instead of Chain-of-LoRA's one per role (the export writes "
        "it as grounder/ and verifier/)",
    )

    def __post_init__(self) -> None:
        _require(bool(self.files), "data.files must list at least one file")
        _require(self.max_rows is None or self.max_rows > 0, "data.max_rows must be positive")


@dataclass
class VideoConfig:
    """How the prompt's video is sampled (for RL: the overview; retrieved clips: grpo.retrieval)."""

    fps: float = option(2.0, "sampling density of the prompt's video, frames per second")
    max_frames: int = option(256, "cap on the prompt video's frames")
    min_pixels: int | None = option(None, "per-frame pixel floor; null: the family's default")
    max_pixels: int | None = option(None, "per-frame pixel ceiling; null: the family's default")
    retrieval_fps: float | None = option(
        None,
        "DynFrame SFT: splice every clip at this density whatever the request says — the "
        "fixed-density arm (rollouts: grpo.retrieval.fixed_fps; evaluation: --fixed-fps); "
        "null: the request's",
    )

    def __post_init__(self) -> None:
        _require(
            self.fps > 0 and self.max_frames > 0, "video.fps and video.max_frames must be positive"
        )
        _require(
            self.retrieval_fps is None or self.retrieval_fps > 0,
            "video.retrieval_fps must be positive",
        )


@dataclass
class OptimConfig:
    """Optimiser and schedule."""

    lr: float = option(1e-5, "peak learning rate")
    scheduler: str = option(
        "cosine", "learning-rate schedule after warm-up", ("cosine", "linear", "constant")
    )
    warmup_ratio: float = option(0.03, "share of the steps spent warming up linearly")
    weight_decay: float = option(0.0, "AdamW weight decay")
    max_grad_norm: float = option(1.0, "gradient clipping norm")
    global_batch_size: int = option(
        32, "sequences per optimiser step, over all devices (GRPO: rollouts)"
    )
    per_device_batch_size: int = option(1, "sequences per forward pass on one device")
    epochs: float = option(1.0, "passes over the data (ignored when max_steps is set)")
    max_steps: int | None = option(None, "optimiser steps; null: from epochs")
    precision: str = option("bf16", "mixed precision", ("fp32", "bf16", "fp16"))

    def __post_init__(self) -> None:
        _require(self.lr > 0, "optim.lr must be positive")
        _require(0 <= self.warmup_ratio < 1, "optim.warmup_ratio must be in [0, 1)")
        _require(
            self.global_batch_size % self.per_device_batch_size == 0,
            "optim.global_batch_size must be a multiple of optim.per_device_batch_size",
        )
        _require(self.max_steps is None or self.max_steps > 0, "optim.max_steps must be positive")


@dataclass
class RewardWeights:
    """Reward weights (framescope.train.grpo.rewards; the release: 0.1 / 0.6 / 0.3 / 0)."""

    format: float = option(0.1, "think / answer blocks and paired request tags (answer segment)")
    accuracy: float = option(
        0.6, "option exact match or difficulty-scaled span IoU (answer segment)"
    )
    fps: float = option(0.3, "closeness of the first request's fps (retrieval segment)")
    span_iou: float = option(0.3, "IoU of the first request's window (retrieval segment)")

    def __post_init__(self) -> None:
        _require(
            min(self.format, self.accuracy, self.fps, self.span_iou) >= 0,
            "reward weights must not be negative",
        )


@dataclass
class GRPOConfig:
    """SD-GRPO / GRPO (framescope.train.grpo)."""

    group_size: int = option(8, "rollouts per prompt (G)")
    advantage: str = option(
        "segment", "SD-GRPO segments, or one advantage per rollout", ("segment", "trajectory")
    )
    aggregation: str = option(
        "normalize_then_sum",
        "combine rewards: normalise each then sum (released), or sum then normalise",
        ("normalize_then_sum", "sum_then_normalize"),
    )
    rewards: RewardWeights = section(RewardWeights, "reward weights")
    beta: float = option(0.02, "KL weight to the reference model (0: no reference)")
    epsilon_low: float = option(0.3, "ratio clip below 1 (released: 0.3)")
    epsilon_high: float | None = option(None, "ratio clip above 1; null: epsilon_low")
    normalization: str = option(
        "sequence",
        "token mean per rollout then over rollouts, or one global token mean",
        ("sequence", "token"),
    )
    num_iterations: int = option(1, "optimiser steps per batch of rollouts")
    sampling: Sampling = section(
        lambda: Sampling(temperature=0.7, top_p=0.8, top_k=100, repetition_penalty=1.05),
        "rollout sampling (the release: temperature 0.7, top-p 0.8, top-k 100, repetition "
        "penalty 1.05); log-probs are taken at the same temperature",
    )
    max_new_tokens: int = option(20480, "sampled tokens per rollout (injected ones do not count)")
    retrieval: Budgets = section(Budgets, "retrieval budgets during rollouts")

    def __post_init__(self) -> None:
        _require(self.group_size >= 2, "grpo.group_size must be at least 2 (advantages compare)")
        _require(0 < self.epsilon_low < 1, "grpo.epsilon_low must be in (0, 1)")
        _require(
            self.epsilon_high is None or self.epsilon_high > 0, "grpo.epsilon_high must be positive"
        )
        _require(
            self.beta >= 0 and self.sampling.temperature > 0,
            "grpo.beta >= 0 and grpo.sampling.temperature > 0 (rollouts must sample)",
        )


@dataclass
class GrounderHeadConfig:
    """VideoMind's timestamp decoder and its losses (the release's values)."""

    dim: int = option(256, "decoder width")
    layers: int = option(3, "transformer layers over [video; query]")
    heads: int = option(8, "attention heads")
    focal_weight: float = option(5.0, "focal loss weight (gamma 2) on the point classification")
    l1_weight: float = option(1.0, "L1 boundary-regression weight on positives")
    contrastive_weight: float = option(0.05, "frame-query contrastive loss weight (tau 0.07)")
    init: str | None = option(
        None,
        "start from these decoder weights (a VideoMind pytorch_model.safetensors, e.g. a warm "
        "start's checkpoint-N/head/); null: freshly initialised",
    )


# recipe -> the record format it trains on
RECIPE_FORMATS = {
    "sft": "dm_cot",
    "grpo": "dm_rl",
    "grounder": "grounder",
    "verifier": "verifier",
    "planner": "planner",
}


@dataclass
class TrainConfig:
    """One training run."""

    recipe: str = required("what is trained", tuple(RECIPE_FORMATS))
    method: str = required("which method's model", ("dynframe", "videomind"))
    data: DataConfig = required("training records")
    model: ModelConfig = section(ModelConfig, "model")
    video: VideoConfig = section(VideoConfig, "prompt video sampling")
    optim: OptimConfig = section(OptimConfig, "optimiser")
    grpo: GRPOConfig | None = option(None, "RL settings (recipe: grpo)")
    grounder: GrounderHeadConfig | None = option(None, "timestamp head (recipe: grounder)")
    output_dir: str = option("runs/train", "checkpoints, logs and the resolved config go here")
    seed: int = option(0, "seed of data order, sampling and initialisation")
    save_steps: int = option(100, "save a checkpoint every N optimiser steps")
    logging_steps: int = option(1, "log every N optimiser steps")

    def __post_init__(self) -> None:
        expected = RECIPE_FORMATS[self.recipe]
        _require(
            self.data.format == expected,
            f"recipe {self.recipe} trains on data.format {expected}, not {self.data.format}",
        )
        _require(
            (self.recipe == "grpo") == (self.grpo is not None),
            "grpo must be set exactly for recipe grpo",
        )
        _require(
            (self.recipe == "grounder") == (self.grounder is not None),
            "grounder must be set exactly for recipe grounder",
        )
        _require(
            not self.data.verifier_files
            or (self.recipe == "grounder" and self.model.finetune == "lora"),
            "data.verifier_files (a shared adapter) needs recipe grounder with finetune lora",
        )
        if self.grpo is not None:
            _require(
                self.optim.global_batch_size % self.grpo.group_size == 0,
                "optim.global_batch_size (rollouts) must be a multiple of grpo.group_size",
            )

    def to_dict(self) -> dict[str, Any]:
        return cfgs.to_data(self)

    def save_resolved(self, path: str | os.PathLike[str]) -> Path:
        """Write this config as YAML (atomically); :func:`load_config` reads it back equal."""
        header = "framescope resolved training config (all defaults and overrides applied)"
        return cfgs.save(self, path, header)


# ---------------------------------------------------------------------------- loading


def field_help(cls: type = TrainConfig, prefix: str = "") -> dict[str, str]:
    """Every field's dotted name and help string (nested sections included)."""
    return cfgs.field_help(cls, prefix)


def config_from_dict(data: dict[str, Any], overrides: Sequence[str] = ()) -> TrainConfig:
    """A :class:`TrainConfig` from plain data plus ``key=value`` overrides."""
    return cfgs.from_data(TrainConfig, data, overrides)


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML recipe, apply overrides, check everything; errors name the file."""
    return cfgs.load(TrainConfig, path, overrides)
