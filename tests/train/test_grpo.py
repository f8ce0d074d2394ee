"""SD-GRPO's loop: the retrieval boundary read off a rollout, per-token advantages by hand, and
2-step smoke runs of the segment (SD-GRPO) and trajectory (released) recipes through the
retrieval loop: loss finite, every trainable parameter changed, frozen ones did not."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch

from framescope.models.hf import load_backend
from framescope.retrieval.loop import InferConfig
from framescope.train.config import TrainConfig
from framescope.train.grpo.rollout import Rollout, boundary, generate, infer_config
from framescope.train.grpo.trainer import REWARD_NAMES, rollout_advantages, train_grpo
from framescope.train.model import trainable_parameters
from framescope.train.records import load_records
from framescope.train.runtime import read_metrics
from framescope.types import Trace

from .conftest import recipe

FPS_CLOSE = 7  # a stand-in id for </fps> in the hand-made rows


def test_boundary_is_the_token_before_the_first_injection() -> None:
    #        sampled ........ </fps>  clip  clip  sampled
    assert boundary([1, 1, 1, 0, 0, 1], [5, 6, FPS_CLOSE, 9, 9, 4], FPS_CLOSE) == 2
    # two retrievals: the first counts
    assert boundary([1, 1, 0, 1, 0, 1], [5, FPS_CLOSE, 9, FPS_CLOSE, 9, 4], FPS_CLOSE) == 1
    # a request written as the last allowed token is never served, still the boundary
    assert boundary([1, 1, 1], [5, 6, FPS_CLOSE], FPS_CLOSE) == 2
    assert boundary([1, 1, 1], [5, 6, 4], FPS_CLOSE) == -1  # never retrieves


def fake(mask: list[int], bound: int) -> Rollout:
    return Rollout(
        0,
        [0] * (3 + len(mask)),
        mask,
        [0.0] * len(mask),
        [],
        bound,
        Trace("x", "dynframe", "v.mp4", "q"),
        "",
    )


def test_segment_and_trajectory_advantages_by_hand(world: Path, bases: dict[str, Path]) -> None:
    """One prompt, two rollouts. Rewards (format, accuracy, fps, span_iou): rollout 0 retrieves
    well and answers right, rollout 1 never retrieves and answers wrong."""
    sets = ("grpo.group_size=2", "optim.global_batch_size=2")
    cfg = recipe("dynframe_grpo", world, bases["qwen3_vl"], Path("unused"), *sets)
    assert cfg.grpo is not None and REWARD_NAMES == ("format", "accuracy", "fps", "span_iou")
    table = torch.tensor([[0.2, 1.0, 1.0, 0.5], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    rollouts = [fake([1, 1, 0, 0, 1], 1), fake([1, 1, 1], -1)]

    # each reward: (r - mean) / (sample std + 1e-4); with two values, ±d/2 / (|d|/sqrt(2) + 1e-4)
    def z(d: float) -> float:
        return (d / 2) / (abs(d) / math.sqrt(2) + 1e-4)

    def group_scaled(s: float) -> float:  # a group's two sums ±s: over std (s·sqrt(2)) + 1e-4
        return s / (abs(s) * math.sqrt(2) + 1e-4)

    answer = group_scaled(0.1 * z(0.2) + 0.6 * z(1.0))  # format, accuracy
    retrieval = group_scaled(0.3 * z(0.5) + 0.3 * z(1.0))  # span_iou, fps (SD-GRPO weights)
    got = rollout_advantages(cfg.grpo, table, rollouts, 0)
    want = [[retrieval, retrieval, 0.0, 0.0, answer], [-retrieval, -retrieval, -retrieval]]
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=1e-9)

    trajectory = copy.deepcopy(cfg.grpo)
    trajectory.advantage = "trajectory"
    trajectory.rewards.span_iou = 0.0  # the released weights
    whole = group_scaled(0.1 * z(0.2) + 0.6 * z(1.0) + 0.3 * z(1.0))
    got = rollout_advantages(trajectory, table, rollouts, 0)
    assert got[0] == pytest.approx([whole, whole, 0.0, 0.0, whole], rel=1e-9)
    assert got[1] == pytest.approx([-whole] * 3, rel=1e-9)
    # a process's rows of a global batch: its group (rows 2-3) is scaled by its own std, so the
    # other process's group (the same rewards in the other order) changes nothing
    both = torch.cat([table.flip(0), table])
    got = rollout_advantages(cfg.grpo, both, rollouts, 2)
    assert got[0] == pytest.approx([retrieval, retrieval, 0.0, 0.0, answer], rel=1e-9)
    assert got[1] == pytest.approx([-retrieval] * 3, rel=1e-9)


def test_rollouts_come_from_the_retrieval_loop(world: Path, bases: dict[str, Path]) -> None:
    cfg = recipe("dynframe_grpo", world, bases["qwen3_vl"], Path("unused"), "grpo.max_new_tokens=8")
    config = infer_config(cfg)
    assert isinstance(config, InferConfig) and config.batch_size == 4
    backend = load_backend(bases["qwen3_vl"])
    records = load_records(cfg).items
    rollouts = generate(backend, records, [0, 1], step=0, config=config, group_size=4)
    assert [r.prompt for r in rollouts] == [0] * 4 + [1] * 4
    for r in rollouts:
        assert r.trace.method == "dynframe" and r.trace.stop_reason in ("stop", "length")
        assert len(r.mask) == len(r.tokens) - r.prompt_len == len(r.logprobs)
        assert sum(r.mask) == r.trace.usage.generated_tokens <= 8
        assert all(lp <= 0 for lp, m in zip(r.logprobs, r.mask) if m)
        assert len(r.vision) >= 1  # the prompt's video
    again = generate(backend, records, [0, 1], step=0, config=config, group_size=4)
    assert [r.tokens for r in again] == [r.tokens for r in rollouts]  # seeded per rollout


def smoke(cfg: TrainConfig) -> list[dict]:
    from framescope.models.hf import load_backend as load

    base = load(cfg.model.path)
    before = {n: p.detach().clone() for n, p in base.model.named_parameters()}
    result = train_grpo(cfg)
    rows = read_metrics(cfg.output_dir)
    assert [r["step"] for r in rows] == [1, 2]
    assert all(math.isfinite(r["loss"]) for r in rows)
    trainable = {n.removeprefix("model.") for n, _ in trainable_parameters(result.module)}
    after = {n: p.detach() for n, p in result.trainable.model.named_parameters()}
    unchanged = [n for n in trainable if torch.equal(before[n], after[n])]
    assert not unchanged, f"trainable parameters that did not change: {unchanged[:5]}"
    frozen = set(before) - trainable
    assert frozen and all(n.startswith("model.visual.") for n in frozen)
    assert all(torch.equal(before[n], after[n]) for n in frozen)
    assert (Path(cfg.output_dir) / "checkpoint-2" / "model" / "config.json").is_file()
    return rows


# seed 0 of this world and base: some rollouts write </fps> (random weights rarely do), so the
# retrieval segment, the answer segment and the in-band rejection note are all exercised
SMOKE = ("grpo.max_new_tokens=64", "seed=0")


def test_sd_grpo_segment(world: Path, bases: dict[str, Path], tmp_path: Path) -> None:
    cfg = recipe("dynframe_grpo", world, bases["qwen3_vl"], tmp_path / "run", *SMOKE)
    assert cfg.grpo is not None and cfg.grpo.advantage == "segment"
    rows = smoke(cfg)
    assert any(r["retrieval_rate"] > 0 for r in rows), "no rollout retrieved: pick another seed"
    assert rows[1]["kl"] > 0  # the reference is the starting model


def test_trajectory_baseline(world: Path, bases: dict[str, Path], tmp_path: Path) -> None:
    cfg = recipe("dynframe_grpo_trajectory", world, bases["qwen3_vl"], tmp_path / "run", *SMOKE)
    assert cfg.grpo is not None and cfg.grpo.advantage == "trajectory"
    smoke(cfg)
