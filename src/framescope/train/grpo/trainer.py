"""The SD-GRPO / GRPO recipe (DynFrame, span-density retrieval): a short loop over pure parts.

Per step (``optim.global_batch_size`` rollouts = ``global_batch_size / group_size`` prompts,
spread over the processes by prompt)::

    prompts ─► rollouts via the retrieval loop (rollout.py)           eval mode, no gradients
            ─► rewards (rewards.py), gathered over all processes
            ─► advantages (advantages.py: trajectory | segment)       per token, injected = 0
            ─► for each of grpo.num_iterations:
                   teacher-forced forward over the same sequences (spliced clips included)
                   ─► log-probs of the generated tokens
                   ─► clipped policy loss (loss.py; KL to the reference when beta > 0)
                   ─► backward (micro-batches), clip, AdamW step, schedule step

The old log-probs are the engine's, recorded while sampling under ``softmax(logits / T)`` at the
rollout temperature; the new and the reference ones are recomputed at the same ``T``
(:class:`PolicyModule`), as the release (TRL) does. With one iteration the ratio is 1 up to the
numerical difference between the cached rollout and the full forward. Both passes run in
eval mode (no dropout), so the ratio measures the policy change only. The reference is the model
as the run started: for LoRA the base with the adapter disabled, for full fine-tuning a frozen
copy made before training (rebuilt from the same base on resume). How SD-GRPO departs from GRPO,
and the decisions on rollouts that never retrieve or retrieve several times, are in the package
docstring (:mod:`framescope.train.grpo`).

Normalisation over processes: advantages use the rewards of the whole global batch (every
normalisation is per prompt group, and a process holds whole groups); the loss is the sequence
mean over all rollouts with sampled tokens (or the token mean over all sampled tokens), counted
globally — so two processes compute the same step as one.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from framescope.errors import ConfigError, FramescopeError
from framescope.models.backend import Segment
from framescope.models.engine import pad_left
from framescope.train import driver
from framescope.train.checkpoint import find_checkpoint, load_checkpoint
from framescope.train.config import GRPOConfig, TrainConfig
from framescope.train.driver import TrainResult
from framescope.train.export import export_for
from framescope.train.grpo import advantages as adv
from framescope.train.grpo import rewards as rw
from framescope.train.grpo.loss import policy_loss
from framescope.train.grpo.rollout import Rollout, generate, infer_config
from framescope.train.model import (
    Trainable,
    forward_inputs,
    load_trainable,
    trainable_parameters,
)
from framescope.train.records import Records, load_records
from framescope.train.runtime import (
    Run,
    StepPlan,
    make_optimizer,
    seed_everything,
    total_steps,
)
from framescope.video.cache import FrameCache

REWARD_NAMES = tuple(rw.REWARDS)  # format, accuracy, fps, span_iou


class PolicyModule(nn.Module):
    """``forward(rows)`` = log-probs ``(B, W)`` of the last ``W`` tokens of each left-padded row
    (the generated tokens, right-aligned) under ``softmax(logits / temperature)``, recomputed
    with gradients. The temperature is the rollouts' (the release: TRL divides the logits by
    it for the new, the old and the reference log-probs), so ratio, clip region and KL target
    are all taken on the distribution that sampled."""

    def __init__(self, model: nn.Module, temperature: float = 1.0) -> None:
        super().__init__()
        self.model = model
        self.temperature = temperature

    def forward(self, inputs: dict[str, Any], width: int) -> Tensor:
        out = self.model(**inputs, logits_to_keep=width + 1)
        logits = out.logits[:, :-1].float()  # (B, W, V): position j predicts token T - W + j
        targets = inputs["input_ids"][:, -width:]  # (B, W)
        logps = torch.log_softmax(logits / self.temperature, dim=-1)
        return logps.gather(2, targets[..., None])[..., 0]


def model_inputs(backend: Any, rollouts: list[Rollout], device: torch.device) -> dict[str, Any]:
    """The rollouts' full sequences left-padded, with 3-D positions and their vision inputs."""
    padded = pad_left(backend, [Segment(r.tokens, r.vision) for r in rollouts])
    return forward_inputs(padded, device, backend.dtype)


def right_aligned(rows: list[list[float]], width: int, dtype: torch.dtype) -> Tensor:
    """Per-rollout values of its generated tokens, right-aligned into ``(B, width)`` (zeros left)."""
    out = torch.zeros(len(rows), width, dtype=dtype)
    for b, values in enumerate(rows):
        if values:
            out[b, width - len(values) :] = torch.tensor(values, dtype=dtype)
    return out


def rollout_advantages(
    g: GRPOConfig, table: Tensor, rollouts: list[Rollout], offset: int
) -> list[list[float]]:
    """Per-token advantages of this process's rollouts (rows ``offset…`` of the global reward
    ``table`` (N, K) in :data:`REWARD_NAMES` order), one list per rollout."""
    weights = {name: getattr(g.rewards, name) for name in REWARD_NAMES}

    def combined(names: tuple[str, ...]) -> Tensor:
        cols = [REWARD_NAMES.index(n) for n in names]
        w = torch.tensor([weights[n] for n in names], dtype=table.dtype)
        return adv.rollout_advantages(table[:, cols], w, g.group_size, g.aggregation)

    n = len(rollouts)
    if g.advantage == "segment":
        answer = combined(rw.ANSWER_REWARDS)[offset : offset + n]
        retrieval = combined(rw.RETRIEVAL_REWARDS)[offset : offset + n]
    else:
        answer, retrieval = combined(REWARD_NAMES)[offset : offset + n], None
    width = max(len(r.mask) for r in rollouts)
    mask = right_padded([r.mask for r in rollouts], width)
    bounds = torch.tensor([r.boundary for r in rollouts])
    per_token = adv.token_advantages(g.advantage, mask, bounds, answer, retrieval)  # (n, width)
    return [per_token[i, : len(r.mask)].tolist() for i, r in enumerate(rollouts)]


def right_padded(rows: list[list[int]], width: int) -> Tensor:
    out = torch.zeros(len(rows), width, dtype=torch.long)
    for b, values in enumerate(rows):
        out[b, : len(values)] = torch.tensor(values, dtype=torch.long)
    return out


@dataclass
class _GRPOLoop:
    cfg: TrainConfig
    run: Run
    plan: StepPlan
    trainable: Trainable
    records: Records
    module: nn.Module  # PolicyModule, wrapped when there are several processes
    reference: nn.Module | None  # frozen copy (full fine-tuning); None: adapters disabled or beta 0
    optimizer: torch.optim.Optimizer
    scheduler: Any
    params: list[nn.Parameter]
    cache: FrameCache

    @property
    def g(self) -> GRPOConfig:
        assert self.cfg.grpo is not None
        return self.cfg.grpo

    def rollouts(self, step: int) -> list[Rollout]:
        prompts = [i for m in self.plan.rank_micro_batches(step, self.run.rank) for i in m]
        self.trainable.model.eval()
        return generate(
            self.trainable.backend,
            self.records.items,
            prompts,
            step,
            infer_config(self.cfg, self.cache),
            self.g.group_size,
        )

    def reference_logps(self, inputs: dict[str, Any], width: int) -> Tensor:
        """Log-probs ``(B, W)`` under the reference: the frozen copy, or the adapters off."""
        with torch.no_grad():
            if self.reference is not None:
                out: Tensor = PolicyModule(self.reference, self.g.sampling.temperature)(
                    inputs, width
                )
                return out
            with self.trainable.model.disable_adapter():  # type: ignore[operator]
                out = PolicyModule(self.trainable.model, self.g.sampling.temperature)(inputs, width)
                return out

    def step(self, step: int) -> dict[str, float]:
        run, g = self.run, self.g
        rollouts = self.rollouts(step)
        records = [self.records.items[r.prompt] for r in rollouts]
        local = rw.score(REWARD_NAMES, [r.text for r in rollouts], records)
        table = run.all_gather_rows(
            torch.tensor([local[n] for n in REWARD_NAMES], dtype=torch.float64).T
        )
        advantages = rollout_advantages(g, table, rollouts, run.rank * len(rollouts))
        sampled = [sum(r.mask) for r in rollouts]
        seqs, tokens = run.all_sum([sum(s > 0 for s in sampled), sum(sampled)])
        denominator = seqs if g.normalization == "sequence" else tokens
        per = self.cfg.optim.per_device_batch_size
        micro = [list(range(k, min(k + per, len(rollouts)))) for k in range(0, len(rollouts), per)]
        stats: dict[str, float] = {}
        for _ in range(g.num_iterations):
            stats = self.update(rollouts, advantages, micro, max(denominator, 1))
        rewards = table.mean(0).tolist()
        weights = [getattr(g.rewards, n) for n in REWARD_NAMES]
        values = {f"reward/{n}": v for n, v in zip(REWARD_NAMES, rewards)}
        values["reward"] = float((table @ torch.tensor(weights, dtype=table.dtype)).mean())
        retrieved, length = run.all_sum([sum(r.boundary >= 0 for r in rollouts), sum(sampled)])
        values.update(stats)
        values["retrieval_rate"] = retrieved / table.shape[0]
        values["completion_tokens"] = length / table.shape[0]
        return values

    def update(
        self,
        rollouts: list[Rollout],
        advantages: list[list[float]],
        micro: list[list[int]],
        denominator: float,
    ) -> dict[str, float]:
        """One optimiser step over the rollouts (micro-batches; global normalisation)."""
        run, g = self.run, self.g
        backend = self.trainable.backend
        scale = run.world * (len(micro) if run.deepspeed else 1)
        totals = dict.fromkeys(("loss", "clip_fraction", "kl", "ratio_mean"), 0.0)
        count = 0.0
        for k, rows in enumerate(micro):
            batch = [rollouts[i] for i in rows]
            width = max(len(r.mask) for r in batch)
            inputs = model_inputs(backend, batch, backend.device)
            with run.no_sync(self.module, sync=k == len(micro) - 1), run.accelerator.autocast():
                logps = self.module(inputs, width)  # (B, W)
                old = right_aligned([r.logprobs for r in batch], width, logps.dtype)
                mask = right_aligned(
                    [[float(m) for m in r.mask] for r in batch], width, logps.dtype
                )
                per_token = right_aligned([advantages[i] for i in rows], width, logps.dtype)
                ref = self.reference_logps(inputs, width) if g.beta > 0 else None
                out = policy_loss(
                    logps,
                    old.to(logps.device),
                    per_token.to(logps.device),
                    mask.to(logps.device),
                    epsilon_low=g.epsilon_low,
                    epsilon_high=g.epsilon_high,
                    beta=g.beta,
                    ref_logps=ref,
                    normalization=g.normalization,
                )
                share = (
                    float(sum(sum(r.mask) > 0 for r in batch))
                    if g.normalization == "sequence"
                    else float(out.tokens)
                )
                run.accelerator.backward(out.loss * (share / denominator) * scale)
            totals["loss"] += float(out.loss.detach()) * share / denominator
            for name in ("clip_fraction", "kl", "ratio_mean"):
                totals[name] += getattr(out, name) * out.tokens
            count += out.tokens
        tail = driver.optimizer_step(
            run, self.params, self.optimizer, self.scheduler, self.cfg.optim.max_grad_norm
        )
        loss, clip, kl, ratio, n = run.all_sum(
            [totals["loss"], totals["clip_fraction"], totals["kl"], totals["ratio_mean"], count]
        )
        n = max(n, 1)
        values = {"loss": loss, "clip_fraction": clip / n, "kl": kl / n, "ratio_mean": ratio / n}
        values.update(tail)
        if not math.isfinite(loss):
            raise FramescopeError(f"the GRPO loss is not finite ({values}); lower optim.lr?")
        return values


def train_grpo(
    cfg: TrainConfig,
    resume: str | Path | None = None,
    stop_after: int | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Run a GRPO recipe (SD-GRPO with ``grpo.advantage: segment``, the released trajectory-level
    baseline with ``trajectory``). ``resume``: a checkpoint folder or an output folder;
    ``stop_after``: stop after that step (the schedule still spans the whole run), e.g. to split
    a run into jobs that each resume the last; ``overwrite``: replace what a non-empty
    ``output_dir`` holds."""
    if cfg.recipe != "grpo" or cfg.grpo is None:
        raise ConfigError(f"recipe {cfg.recipe} is trained by `framescope train sft`")
    driver.prepare_output(cfg, resume, overwrite, stop_after)
    g = cfg.grpo
    records = load_records(cfg)
    o = cfg.optim
    prompts_per_step = o.global_batch_size // g.group_size
    seed_everything(cfg.seed)
    run = Run(cfg)
    driver.clear_output(run, cfg, resume, overwrite)
    per_rank = prompts_per_step // run.world
    if prompts_per_step % run.world:
        raise ConfigError(
            f"{prompts_per_step} prompts per step (optim.global_batch_size / grpo.group_size) do "
            f"not split over {run.world} processes"
        )
    plan = StepPlan(len(records.items), prompts_per_step, per_rank, run.world, cfg.seed)
    steps = total_steps(cfg, len(records.items), prompts_per_step)
    driver.report_skipped(run, records)
    trainable = load_trainable(cfg, run)
    reference = None
    if g.beta > 0 and not trainable.peft:
        reference = copy.deepcopy(trainable.model).requires_grad_(False).eval()
    module = PolicyModule(trainable.model, g.sampling.temperature)
    params = [p for _, p in trainable_parameters(module)]
    optimizer, scheduler = make_optimizer(cfg, params, steps * g.num_iterations)
    start = 0
    if resume is not None:
        start = load_checkpoint(find_checkpoint(resume), run, module, optimizer, scheduler)
    if run.is_main:
        cfg.save_resolved(run.out / "config.yaml")
    wrapped, optimizer = run.accelerator.prepare(module, optimizer)
    loop = _GRPOLoop(
        cfg,
        run,
        plan,
        trainable,
        records,
        wrapped,
        reference,
        optimizer,
        scheduler,
        params,
        FrameCache(),
    )
    export = export_for(trainable, None)
    end, last, saved = driver.drive(
        cfg, run, loop.step, start, steps, stop_after, wrapped, optimizer, scheduler, export
    )
    return TrainResult(run.out, steps, start, end, last, saved, module, trainable)
