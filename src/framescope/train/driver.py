"""The training driver every recipe shares (torchtune's split: components here, one readable
recipe per method in ``sft.py`` and ``grpo/trainer.py``, neither importing the other).

- :func:`prepare_output`: a fresh run never writes into an output folder that holds another
  run's metrics and checkpoints (a later ``--resume`` would pick up that run's state): a
  non-empty ``output_dir`` is refused unless the run resumes or ``overwrite`` clears it.
- :func:`drive`: steps ``start…`` to the end of the schedule (or ``stop_after``), metrics logged,
  checkpoints saved every ``save_steps`` and at the last step.
- :func:`optimizer_step`: the tail of every step — clip the gradients, step the optimiser and
  the schedule, clear the gradients.
- :func:`report_skipped`: the rows the readers skipped, on the main process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from framescope.errors import ConfigError
from framescope.fileio import check_output_folder, output_folder
from framescope.train.checkpoint import Export, save_checkpoint
from framescope.train.config import TrainConfig
from framescope.train.model import Trainable
from framescope.train.records import Records
from framescope.train.runtime import Metrics, Run, grad_norm


@dataclass
class TrainResult:
    """Where the run wrote its checkpoints and metrics, the steps it ran now (``start`` +1 …
    ``end``) of the schedule's ``steps``, and its last step's metrics."""

    output_dir: Path
    steps: int  # the schedule's length
    start: int  # steps done before this call (a resumed run)
    end: int  # steps done after it (< steps when stopped early)
    last: dict[str, float]
    checkpoint: Path | None
    module: nn.Module  # the trained module (unwrapped): ``.model`` (and ``.head``)
    trainable: Trainable  # its backend (and roles: ``roles.use(role)`` to run the adapter)

    @property
    def ran(self) -> int:
        return self.end - self.start


def prepare_output(
    cfg: TrainConfig, resume: str | Path | None, overwrite: bool, stop_after: int | None = None
) -> None:
    """Check ``cfg.output_dir`` (see the module docstring) and ``stop_after`` before anything
    is loaded; every process checks, so all fail alike (:func:`clear_output` clears later)."""
    check_stop_after(stop_after)
    if resume is not None and overwrite:
        raise ConfigError("--resume continues a run; --overwrite starts one afresh: pick one")
    if resume is None:
        check_output_folder(cfg.output_dir, overwrite)


def clear_output(run: Run, cfg: TrainConfig, resume: str | Path | None, overwrite: bool) -> None:
    """The main process empties ``output_dir`` for an ``overwrite`` run (after the check)."""
    if run.is_main and resume is None and overwrite:
        output_folder(cfg.output_dir, overwrite=True)
    run.barrier()


def check_stop_after(stop_after: int | None) -> None:
    if stop_after is not None and stop_after < 1:
        raise ConfigError(f"stop_after must be a step >= 1, got {stop_after}")


def drive(
    cfg: TrainConfig,
    run: Run,
    step_fn: Callable[[int], dict[str, float]],
    start: int,
    steps: int,
    stop_after: int | None,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    export: Export,
) -> tuple[int, dict[str, float], Path | None]:
    """Run steps ``start…`` to the end (or ``stop_after``), logging metrics and saving
    checkpoints every ``save_steps`` and at the last step; returns the steps done, the last
    metrics and checkpoint."""
    check_stop_after(stop_after)
    end = min(steps, stop_after or steps)
    if end <= start:
        raise ConfigError(
            f"nothing to run: {start} of {steps} steps are done and the run stops after {end}"
        )
    metrics = Metrics(run, steps, start, end)
    last: dict[str, float] = {}
    saved = None
    try:
        for step in range(start, end):
            last = step_fn(step)
            done = step + 1
            metrics.log(done, last, write=done % cfg.logging_steps == 0 or done == end)
            if done % cfg.save_steps == 0 or done == end:
                saved = save_checkpoint(run, cfg, module, optimizer, scheduler, done, export)
    finally:
        metrics.close()
    return end, last, saved


def optimizer_step(
    run: Run,
    params: list[nn.Parameter],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    max_grad_norm: float,
) -> dict[str, float]:
    """Clip, step the optimiser and the schedule, clear the gradients; the step's ``lr`` and
    ``grad_norm`` (before clipping)."""
    norm = run.accelerator.clip_grad_norm_(params, max_grad_norm)
    lr = scheduler.get_last_lr()[0]
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return {"lr": lr, "grad_norm": grad_norm(norm)}


def report_skipped(run: Run, records: Records) -> None:
    """Print the rows the readers skipped (``data.skip_bad_rows``), on the main process."""
    if run.is_main:
        for report in records.skipped:
            print(report, file=sys.stderr)
