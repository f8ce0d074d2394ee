"""What every training recipe shares: processes, seeds, the step plan, optimiser and schedule,
metrics.

**Processes.** One process, or several launched by ``torchrun`` / ``accelerate launch`` (gloo on
CPU, NCCL on GPUs): :class:`Run` wraps ``accelerate.Accelerator``, which wraps the trained module
in DDP (or FSDP / DeepSpeed when launched with a config from ``configs/accelerate/``). Data is
sharded by rank; gradients are all-reduced by the wrapper.

**The global batch decides the loss, not the process count.** A step takes
``optim.global_batch_size`` items (sequences for SFT, rollouts for GRPO) in a fixed order
(:class:`StepPlan`); rank ``r`` of ``W`` takes the ``r``-th contiguous share and feeds it in
micro-batches of ``optim.per_device_batch_size``. Each recipe normalises its loss by counts over
the *global* batch (all-reduced before the backward passes) and multiplies by ``W`` to undo the
wrapper's gradient averaging, so the summed gradient is the one a single process computes on the
whole batch (tested with 2 processes against 1).

**Determinism.** The item order of epoch ``e`` is a permutation seeded by ``(seed, e)``, so the
data position is the step number; per-rank RNG states (python, numpy, torch) are saved with each
checkpoint, and resuming continues bit-identically on CPU (tested).

**Schedule.** Linear warm-up over ``ceil(warmup_ratio · steps)`` steps — the first step already
uses ``lr / warmup`` (transformers' schedule starts at 0, wasting a step) — then cosine to 0,
linear to 0, or constant.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from framescope.errors import ConfigError
from framescope.fileio import atomic_write_text
from framescope.train.config import TrainConfig

PRECISIONS = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}


class Run:
    """The processes of one training run: rank, world size, the accelerate wrapper, output dir."""

    def __init__(self, cfg: TrainConfig, grad_accum: int = 1, unused: bool = False) -> None:
        """``unused``: some trainable parameters may get no gradient in a step (the timestamp
        head's coarse pyramid levels on short videos), which DDP must be told."""
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs, DistributedType

        cpu = not torch.cuda.is_available()
        try:
            self.accelerator = Accelerator(
                cpu=cpu,
                mixed_precision=PRECISIONS[cfg.optim.precision],
                gradient_accumulation_steps=grad_accum,  # read by DeepSpeed only
                kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=unused)],
            )
        except ValueError as e:  # e.g. fp16 on a CPU
            raise ConfigError(f"optim.precision {cfg.optim.precision}: {e}") from None
        acc = self.accelerator
        self.rank, self.world = acc.process_index, acc.num_processes
        self.is_main = acc.is_main_process
        self.device = acc.device
        kind = acc.distributed_type
        self.sharded = kind in (DistributedType.FSDP, DistributedType.DEEPSPEED)
        self.deepspeed = kind == DistributedType.DEEPSPEED
        self.out = Path(cfg.output_dir)
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.barrier()

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()

    def all_sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sum over processes (float64: counts stay exact)."""
        t = torch.tensor(list(values), dtype=torch.float64, device=self.device)
        if self.world > 1:
            torch.distributed.all_reduce(t)
        return t.cpu().tolist()

    def all_gather_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Concatenate every process's ``(n, K)`` rows in rank order (equal ``n`` per rank)."""
        if self.world == 1:
            return rows
        parts = [torch.empty_like(rows) for _ in range(self.world)]
        torch.distributed.all_gather(parts, rows.contiguous())
        return torch.cat(parts)

    @contextmanager
    def no_sync(self, module: torch.nn.Module, sync: bool) -> Iterator[None]:
        """Skip the gradient all-reduce on micro-batches before the last of a step."""
        with nullcontext() if sync or self.world == 1 else self.accelerator.no_sync(module):
            yield


def grad_norm(norm: Any) -> float:
    """The clipped gradient's norm as a float (DeepSpeed may not report it: NaN)."""
    return float("nan") if norm is None else float(norm)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """This process's python, numpy and torch (CPU, CUDA) RNG states."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------- the step plan


@dataclass(frozen=True)
class StepPlan:
    """Which items each step and rank trains on (see the module docstring).

    ``items``: records (SFT) or prompts (GRPO); ``per_step``: items per optimiser step over all
    ranks; ``per_micro``: items per forward pass on one rank."""

    items: int
    per_step: int
    per_micro: int
    world: int
    seed: int

    def __post_init__(self) -> None:
        if self.items < 1:
            raise ConfigError("no training records")
        if self.per_step % (self.per_micro * self.world):
            raise ConfigError(
                f"{self.per_step} items per step do not split into micro-batches of "
                f"{self.per_micro} on {self.world} process(es)"
            )

    @property
    def accumulation(self) -> int:
        """Micro-batches per rank per step."""
        return self.per_step // (self.per_micro * self.world)

    def order(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.items, generator=g).tolist()

    def step_items(self, step: int) -> list[int]:
        """The global batch of ``step`` (epochs wrap; a batch may span two of them)."""
        start = step * self.per_step
        out: list[int] = []
        for k in range(start, start + self.per_step):
            epoch, pos = divmod(k, self.items)
            if pos == 0 or not out:
                order = self.order(epoch)
            out.append(order[pos])
        return out

    def rank_micro_batches(self, step: int, rank: int) -> list[list[int]]:
        share = self.per_step // self.world
        mine = self.step_items(step)[rank * share : (rank + 1) * share]
        return [mine[k : k + self.per_micro] for k in range(0, share, self.per_micro)]


def total_steps(cfg: TrainConfig, items: int, per_step: int) -> int:
    if cfg.optim.max_steps is not None:
        return cfg.optim.max_steps
    return max(1, math.ceil(cfg.optim.epochs * items / per_step))


# ---------------------------------------------------------------------------- optimiser


def make_optimizer(
    cfg: TrainConfig, params: Sequence[torch.nn.Parameter], steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over ``params`` and its warm-up + decay schedule (one scheduler step per step)."""
    if not params:
        raise ConfigError("nothing to train: every parameter is frozen")
    o = cfg.optim
    optimizer = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    warmup = math.ceil(o.warmup_ratio * steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        if o.scheduler == "cosine":
            return max(0.0, 0.5 * (1 + math.cos(math.pi * progress)))
        if o.scheduler == "linear":
            return max(0.0, 1 - progress)
        return 1.0

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# ---------------------------------------------------------------------------- metrics


class Metrics:
    """Metrics of each step to ``metrics.jsonl`` (and TensorBoard when it is installed) on the main
    process, with a progress bar on a terminal — off one (a log file, a job), a line on stderr
    at the first step, every ``PROGRESS_SECONDS`` and at the last step logged. On resume, lines
    past the resumed step are dropped first."""

    PROGRESS_SECONDS = 30.0

    def __init__(self, run: Run, total: int, start: int, end: int | None = None) -> None:
        """Steps ``start`` (done already) to ``end`` (default: ``total``) of a ``total``-step
        schedule."""
        self.path = run.out / "metrics.jsonl"
        self.enabled = run.is_main
        self.total, self.end = total, end or total
        self.lines = not sys.stderr.isatty()
        self.said = -math.inf
        self.writer: Any = None
        self.bar: Any = None
        if not self.enabled:
            return
        if self.path.exists():
            keep = [
                line
                for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] <= start
            ]
            atomic_write_text(self.path, "".join(k + "\n" for k in keep))
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run.out / "tensorboard"))
        except ImportError:  # tensorboard is optional
            self.writer = None
        from tqdm.auto import tqdm

        self.bar = tqdm(  # only on a terminal: logs get metrics.jsonl
            total=total, initial=start, desc="train", unit="step", file=sys.stderr, disable=None
        )
        self.t0 = time.perf_counter()

    def log(self, step: int, values: dict[str, float], write: bool) -> None:
        """Record ``values`` of ``step`` (1-based: steps done); ``write`` false only ticks the bar."""
        if not self.enabled:
            return
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{values.get('loss', float('nan')):.4g}")
        if not write:
            return
        row = {"step": step, **{k: _plain(v) for k, v in values.items()}}
        row["elapsed"] = round(time.perf_counter() - self.t0, 3)
        if self.lines and (row["elapsed"] - self.said >= self.PROGRESS_SECONDS or step == self.end):
            self.said = row["elapsed"]
            shown = ", ".join(
                f"{k} {v:.4g}" for k, v in values.items() if "loss" in k or k == "reward"
            )
            print(
                f"train: step {step}/{self.total}, {row['elapsed']:.0f} s, {shown}", file=sys.stderr
            )
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(k, v, step)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()


def _plain(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def read_metrics(out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a run's ``metrics.jsonl``."""
    text = (Path(out_dir) / "metrics.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
