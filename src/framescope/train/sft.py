"""Supervised fine-tuning: DynFrame's cold start on DM-CoT and VideoMind's role training.

One recipe for the ``sft``, ``grounder``, ``verifier`` and ``planner`` configs:

    records → sequences built with the inference code (:mod:`framescope.data.collate`: injected
    tokens get no loss) → teacher-forced forward → token-mean cross-entropy over the global batch
    (+ for the grounder the timestamp head's losses, mean over the global batch's samples) →
    AdamW step with clipping and the warm-up schedule → checkpoint.

- ``sft`` (DynFrame): full fine-tuning (vision patch embedding and blocks frozen, as released) or
  LoRA; each ``<video>`` after ``</fps>`` is the clip the loop would splice.
- ``grounder`` / ``verifier`` / ``planner`` (VideoMind, Chain-of-LoRA): one named LoRA adapter
  per run, created on the base model (roles are trained from the base, as released); the
  grounder trains the head jointly (:mod:`framescope.train.grounder_head`). Checkpoints hold
  ``videomind/`` in the layout :func:`~framescope.models.videomind_ckpt.load_videomind` reads;
  put the role folders of several runs side by side to assemble a full agent.

Logits are computed only at positions whose next token learns (``logits_to_keep`` with their
indices), so the vocabulary projection costs nothing over the prompt and the frames.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framescope.data.collate import EXAMPLES, IGNORE, Batch, VideoSettings, collate
from framescope.data.videomind import VerifierRecord
from framescope.errors import ConfigError, FramescopeError, RecordError
from framescope.models.head_features import PreNormCapture
from framescope.models.timestamp_head import TimestampHead
from framescope.train import driver, grounder_head
from framescope.train.checkpoint import (
    find_checkpoint,
    load_checkpoint,
)
from framescope.train.config import GrounderHeadConfig, TrainConfig
from framescope.train.driver import TrainResult
from framescope.train.export import agent_settings, export_for
from framescope.train.model import (
    Trainable,
    forward_inputs,
    load_trainable,
    role_budget,
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

HEAD_PARTS = ("focal", "l1", "contrastive")


def video_settings(cfg: TrainConfig, trainable: Trainable) -> VideoSettings:
    """How sequences sample video: DynFrame with the backend's budget (the loop's), roles with
    the agent's role budget."""
    backend = trainable.backend
    budget = role_budget(cfg, backend) if trainable.roles is not None else backend.pixel_budget()
    return VideoSettings(
        fps=cfg.video.fps,
        max_frames=cfg.video.max_frames,
        budget=budget,
        max_length=cfg.data.max_length,
        retrieval_fps=cfg.video.retrieval_fps,
    )


class SFTModule(nn.Module):
    """The trained model (and the grounder's head): ``forward(batch)`` returns loss *sums*
    (normalised by the caller over the global batch)."""

    def __init__(
        self,
        model: nn.Module,
        head: TimestampHead | None = None,
        head_cfg: GrounderHeadConfig | None = None,
        ids: tuple[int, int, int] = (0, 2, 0),  # video token, merge size, <|reg|>
    ) -> None:
        super().__init__()
        self.model = model
        self.head = head
        self.head_cfg = head_cfg
        self.ids = ids

    def forward(self, batch: Batch, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        device = next(self.model.parameters()).device
        dtype = next(p for p in self.model.parameters() if p.is_floating_point()).dtype
        labels = batch.labels.to(device)
        keep = (labels[:, 1:] != IGNORE).any(0).nonzero()[:, 0]  # positions whose next token learns
        kwargs = forward_inputs(batch, device, dtype)
        capture = PreNormCapture(self.model)  # the head reads the pre-norm states
        with capture if self.head is not None else contextlib.nullcontext():
            out = self.model(**kwargs, logits_to_keep=keep)
        logits = out.logits.float()  # (B, P, V)
        targets = labels[:, keep + 1]  # (B, P)
        sums = {
            "lm": F.cross_entropy(
                logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE, reduction="sum"
            )
        }
        rows = [i for i, spans in enumerate(batch.spans) if spans]  # grounder rows
        if self.head is not None and rows:
            assert self.head_cfg is not None and generator is not None
            video, mask, query = grounder_head.head_features(
                capture.states[-1], kwargs["input_ids"], batch, self.ids, rows
            )
            parts = grounder_head.head_loss_sums(
                self.head,
                video,
                mask,
                query,
                [batch.spans[i] for i in rows],
                self.head_cfg,
                generator,
            )
            sums.update(focal=parts.focal, l1=parts.l1, contrastive=parts.contrastive)
        return sums


def build_module(
    cfg: TrainConfig, run: Run, stack: contextlib.ExitStack
) -> tuple[SFTModule, Trainable]:
    """The model (and head) a recipe trains, as configured and seeded; a role's adapter is
    switched on (and trainable) until ``stack`` closes."""
    trainable = load_trainable(cfg, run)
    if trainable.roles is not None:
        stack.enter_context(trainable.roles.use(trainable.role))
    head = None
    if cfg.recipe == "grounder":
        assert cfg.grounder is not None
        head = grounder_head.build_head(cfg.grounder, trainable.backend, cfg.seed)
    backend = trainable.backend
    reg = grounder_head.token_ids(backend).reg if head is not None else 0
    ids = (backend.video_token_id, backend.merge, reg)
    return SFTModule(trainable.model, head, cfg.grounder, ids), trainable


@dataclass
class _SFTLoop:
    """Everything one optimiser step needs."""

    cfg: TrainConfig
    run: Run
    plan: StepPlan
    trainable: Trainable
    settings: VideoSettings
    records: Records
    module: nn.Module  # wrapped by accelerate (DDP/FSDP) when there are several processes
    optimizer: torch.optim.Optimizer
    scheduler: Any
    params: list[nn.Parameter]

    def batch(self, indices: list[int]) -> Batch:
        examples = []
        for i in indices:
            record = self.records.items[i]
            # a shared adapter's run mixes grounder and verifier records
            make = EXAMPLES[
                "verifier" if isinstance(record, VerifierRecord) else self.cfg.data.format
            ]
            try:
                examples.append(make(self.trainable.backend, record, self.settings))
            except RecordError as e:
                path, line = self.records.where[i]
                raise RecordError(str(e), path, line) from None
        return collate(self.trainable.backend, examples)

    def step(self, step: int) -> dict[str, float]:
        """One optimiser step on this rank's share of the global batch; global metrics."""
        run, o = self.run, self.cfg.optim
        batches = [self.batch(m) for m in self.plan.rank_micro_batches(step, run.rank)]
        tokens, samples = run.all_sum([sum(b.learned for b in batches), o.global_batch_size])
        if tokens == 0:
            raise FramescopeError(
                f"step {step + 1}: no token of the global batch learns (data.max_length too small?)"
            )
        # undo the wrapper's gradient averaging (DeepSpeed also divides by its accumulation)
        scale = run.world * (len(batches) if run.deepspeed else 1)
        generator = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + step)
        totals = dict.fromkeys(("lm", *HEAD_PARTS), 0.0)
        for k, batch in enumerate(batches):
            with run.no_sync(self.module, sync=k == len(batches) - 1), run.accelerator.autocast():
                sums = self.module(batch, generator)
                loss = sums["lm"] / tokens
                for name in HEAD_PARTS:
                    if name in sums:
                        loss = loss + sums[name] / samples
                run.accelerator.backward(loss * scale)
            for name, value in sums.items():
                totals[name] += float(value.detach())
        tail = driver.optimizer_step(
            run, self.params, self.optimizer, self.scheduler, o.max_grad_norm
        )
        lm, *head = run.all_sum([totals[k] for k in ("lm", *HEAD_PARTS)])
        values = {"loss": lm / tokens, "lm_loss": lm / tokens}
        if self.cfg.recipe == "grounder":
            parts = {name: v / samples for name, v in zip(HEAD_PARTS, head)}
            values.update(parts, head_loss=sum(parts.values()))
            values["loss"] += values["head_loss"]
        values.update(tail, tokens=tokens)
        if not math.isfinite(values["loss"]):
            raise FramescopeError(
                f"step {step + 1}: the loss is not finite ({values}); lower optim.lr?"
            )
        return values


def train_sft(
    cfg: TrainConfig,
    resume: str | Path | None = None,
    stop_after: int | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Run an SFT recipe (``sft``, ``grounder``, ``verifier``, ``planner``); see the module
    docstring. ``resume``: a checkpoint folder, or an output folder (its latest checkpoint);
    ``stop_after``: stop after that step (the schedule still spans the whole run), e.g. to split
    a run into jobs that each resume the last; ``overwrite``: replace what a non-empty
    ``output_dir`` holds (:func:`~framescope.train.driver.prepare_output`)."""
    if cfg.recipe == "grpo":
        raise ConfigError("recipe grpo is trained by `framescope train grpo`")
    driver.prepare_output(cfg, resume, overwrite, stop_after)
    records = load_records(cfg)
    o = cfg.optim
    seed_everything(cfg.seed)
    run = Run(
        cfg,
        grad_accum=max(1, o.global_batch_size // o.per_device_batch_size),
        unused=cfg.recipe == "grounder",
    )
    driver.clear_output(run, cfg, resume, overwrite)
    plan = StepPlan(
        len(records.items), o.global_batch_size, o.per_device_batch_size, run.world, cfg.seed
    )
    steps = total_steps(cfg, len(records.items), o.global_batch_size)
    driver.report_skipped(run, records)
    with contextlib.ExitStack() as stack:
        module, trainable = build_module(cfg, run, stack)
        module.train()
        params = [p for _, p in trainable_parameters(module)]
        optimizer, scheduler = make_optimizer(cfg, params, steps)
        start = 0
        if resume is not None:
            start = load_checkpoint(find_checkpoint(resume), run, module, optimizer, scheduler)
        if run.is_main:
            cfg.save_resolved(run.out / "config.yaml")
        wrapped, optimizer = run.accelerator.prepare(module, optimizer)
        loop = _SFTLoop(
            cfg,
            run,
            plan,
            trainable,
            video_settings(cfg, trainable),
            records,
            wrapped,
            optimizer,
            scheduler,
            params,
        )
        export = export_for(
            trainable,
            module.head,
            shared=bool(cfg.data.verifier_files),
            agent=agent_settings(cfg, trainable),
        )
        end, last, saved = driver.drive(
            cfg, run, loop.step, start, steps, stop_after, wrapped, optimizer, scheduler, export
        )
    return TrainResult(run.out, steps, start, end, last, saved, module, trainable)
